"""The board system's configuration and the device model (golden/fixed/system.py): every
command, every error reply, every dropped frame and its counter."""

import struct

import numpy as np
import pytest
from cobs import cobs

from hetq.golden.fixed.link import (COUNTERS, EVENTS_PER_FRAME, MAX_FRAME, Cmd, Status,
                                    decode_frame, max_codes,
                                    encode_frame, pack_codes, request, split_frames,
                                    table_hash, unpack_bits, unpack_codes)
from hetq.golden.fixed.mc_array import MCArrayConfig, MCArrayModel
from hetq.golden.fixed.normaliser import normalise
from hetq.golden.fixed.quantizer import QuantizerConfig, QuantizerModel
from hetq.golden.fixed.system import DeviceModel, SystemConfig, info_fields


def small(**kw):
    q = QuantizerConfig(sensors=4, duplication=4)
    return SystemConfig(quantizer=q, array=MCArrayConfig(mcs=16, hold=50, rinse=50), **kw)


def ask(model, seq, cmd, payload=b""):
    out = model.receive(encode_frame(request(seq, cmd, payload)))
    frames, rest = split_frames(out)
    assert rest == b""
    return [decode_frame(f, is_reply=True) for f in frames]


def test_default_config_and_link_bound():
    c = SystemConfig()
    assert c.quantizer.mcs == 256 and c.array.hold == 250 and c.uart.divisor == 16
    assert c.sample_reply_bytes == 4 + 24 + 160 + 2
    assert c.link_samples_per_s() == pytest.approx(3e6 / (10 * 192))
    assert SystemConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("kwargs, text", [
    ({"array": MCArrayConfig(mcs=256, inhibition=True)}, "no GC layer"),
    ({"array": MCArrayConfig(mcs=128)}, "the array has 128 MCs, the quantizer 256"),
    ({"array": MCArrayConfig(hold=65500, rinse=50)}, "do not fit the 16-bit event step"),
    ({"quantizer": QuantizerConfig(sensors=16, duplication=32)}, "does not fit a frame"),
    ({"slots": 0}, "slots must be in [1, 16]"),
])
def test_config_errors(kwargs, text):
    with pytest.raises(ValueError) as e:
        SystemConfig(**kwargs)
    assert text in str(e.value)


def test_info_describes_the_build():
    m = DeviceModel(small())
    [(seq, cmd, status, payload)] = ask(m, 9, Cmd.INFO)
    assert (seq, cmd, status) == (9, Cmd.INFO, Status.OK)
    f = info_fields(payload)
    assert (f["sensors"], f["duplication"], f["mcs"], f["hold"], f["slots"]) == (4, 4, 16, 50, 4)
    assert f["table_hash"] == table_hash(np.zeros(16), 24, m.quantizer.table.thresholds, 22)
    assert f["datapath"] == 0


def test_info_names_the_datapath_and_the_client_reads_it_back():
    from hetq.boards.client import config_from_info
    from hetq.golden.fixed.link import FrameError

    for code, datapath in enumerate(("pipelined", "serial")):
        c = SystemConfig(quantizer=QuantizerConfig(sensors=4, duplication=4, datapath=datapath),
                         array=MCArrayConfig(mcs=16, hold=50))
        [(_, _, _, payload)] = ask(DeviceModel(c), 1, Cmd.INFO)
        f = info_fields(payload)
        assert f["datapath"] == code
        assert config_from_info(f) == c
    with pytest.raises(FrameError, match="info reply names datapath 2; this client knows "
                                         "0 \\(pipelined\\), 1 \\(serial\\)"):
        config_from_info({**f, "datapath": 2})


def test_sample_reply_is_the_quantizer():
    c = small()
    rng = np.random.default_rng(0)
    weights = rng.integers(0, 1 << 20, 16)
    m = DeviceModel(c, weights=weights)
    s = rng.integers(0, 1 << 16, (5, 4))
    ref = QuantizerModel(c.quantizer, weights=weights).process(s)
    for k, row in enumerate(s):
        [(_, _, status, payload)] = ask(m, k, Cmd.SAMPLE, pack_codes(row, 16))
        assert status == Status.OK and len(payload) == c.sample_reply_bytes - 6
        np.testing.assert_equal(unpack_codes(payload[:12], 21, 4), normalise(s[k:k + 1])[0])
        np.testing.assert_equal(unpack_bits(payload[12:], 5, 16), ref.phase[k])


def test_raster_parts_hold_every_event_relative_to_the_window():
    c = SystemConfig(quantizer=QuantizerConfig(sensors=4, duplication=8),
                     array=MCArrayConfig(mcs=32, hold=100, rinse=50))
    weights = np.full(32, 2000 << 11)             # every MC fires early in every cycle
    m = DeviceModel(c, weights=weights)
    ask(m, 0, Cmd.RASTER, pack_codes([1, 1, 1, 1], 16))       # a first window moves the step
    frames = ask(m, 1, Cmd.RASTER, pack_codes([1, 1, 1, 1], 16))
    events = []
    for k, (_, cmd, status, payload) in enumerate(frames):
        part, last = struct.unpack("<HB", payload[:3])
        assert (part, last, cmd, status) == (k, int(k == len(frames) - 1), Cmd.RASTER, 0)
        events += struct.iter_unpack("<HH", payload[3:])
    drives = QuantizerModel(c.quantizer, weights=weights).process([[1, 1, 1, 1]]).drive
    expected = MCArrayModel(c.array).run(drives).events
    np.testing.assert_equal(np.array(events), expected)
    assert len(events) == 2 * 32 and len(frames) == 2 and EVENTS_PER_FRAME == 60


def test_a_multiple_of_the_part_size_ends_with_an_empty_part():
    c = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=15),
                     array=MCArrayConfig(mcs=30, hold=100, rinse=0))
    m = DeviceModel(c, weights=np.full(30, 2000 << 11))
    frames = ask(m, 0, Cmd.RASTER, pack_codes([1, 1], 16))
    assert [len(p) for *_, p in frames] == [3 + 240, 3]          # 60 events, then none


def test_tables_write_and_read_back():
    m = DeviceModel(small())
    codes = np.arange(16) * 1000 + 7
    [(_, _, st, p)] = ask(m, 0, Cmd.WRITE_WEIGHTS, b"\x00\x00\x10" + pack_codes(codes, 24))
    assert st == Status.OK and p == b""
    [(_, _, st, p)] = ask(m, 1, Cmd.READ_WEIGHTS, b"\x04\x00\x03")
    assert st == Status.OK and p[:3] == b"\x04\x00\x03"
    np.testing.assert_equal(unpack_codes(p[3:], 24, 3), codes[4:7])
    [(_, _, st, _)] = ask(m, 2, Cmd.WRITE_THRESHOLDS, b"\x0f\x01" + pack_codes([5], 22))
    [(_, _, st, p)] = ask(m, 3, Cmd.READ_THRESHOLDS, b"\x0e\x02")
    assert st == Status.OK and list(unpack_codes(p[2:], 22, 2)) == [
        m.quantizer.table.thresholds[14], 5]


@pytest.mark.parametrize("cmd, payload, status", [
    (0x7F, b"", Status.UNKNOWN_COMMAND),
    (Cmd.INFO, b"\x00", Status.BAD_LENGTH),
    (Cmd.SAMPLE, bytes(7), Status.BAD_LENGTH),
    (Cmd.WRITE_WEIGHTS, b"\x00\x00\x02" + bytes(5), Status.BAD_LENGTH),
    (Cmd.WRITE_WEIGHTS, b"\x00\x00\x00", Status.BAD_LENGTH),
    (Cmd.WRITE_WEIGHTS, b"\x0f\x00\x02" + bytes(6), Status.BAD_ADDRESS),
    (Cmd.READ_WEIGHTS, b"\x10\x00\x01", Status.BAD_ADDRESS),
    (Cmd.READ_THRESHOLDS, b"\x10\x01", Status.BAD_ADDRESS),
    (Cmd.WRITE_THRESHOLDS, b"\x00\x01" + (1 << 22).to_bytes(3, "little"), Status.BAD_VALUE),
    (Cmd.READ_WEIGHTS, b"\x00\x00\x53", Status.BAD_LENGTH),     # 83 codes: no reply holds them
])
def test_error_replies_name_the_cause_and_change_nothing(cmd, payload, status):
    m = DeviceModel(small())
    before = (m.quantizer.weights.copy(), m.quantizer.table.thresholds.copy())
    [(seq, got_cmd, got, p)] = ask(m, 5, cmd, payload)
    assert (seq, got_cmd, got, p) == (5, cmd, status, b"")
    np.testing.assert_equal(m.quantizer.weights, before[0])
    np.testing.assert_equal(m.quantizer.table.thresholds, before[1])
    key = "unknown_commands" if status == Status.UNKNOWN_COMMAND else "bad_requests"
    assert m.counters[key] == 1 and m.counters["good_frames"] == 1


def test_sensor_codes_beyond_the_format_are_refused():
    from hetq.golden.fixed.formats import FixedFormat

    q = QuantizerConfig(sensors=2, duplication=4, fmt=FixedFormat(sensor_bits=8))
    m = DeviceModel(SystemConfig(quantizer=q, array=MCArrayConfig(mcs=8, hold=50, rinse=0,
                                                                  fmt=q.fmt)))
    [(_, _, st, _)] = ask(m, 0, Cmd.SAMPLE, b"\x00\x01")
    assert st == Status.OK
    m2 = DeviceModel(small())
    assert ask(m2, 0, Cmd.SAMPLE, bytes(8))[0][2] == Status.OK


def test_malformed_frames_are_dropped_and_counted():
    m = DeviceModel(small())
    req = request(1, Cmd.STATUS)
    good = encode_frame(req)
    stream = (b"\x00\x00" + b"garbage" + b"\x00"             # garbage: malformed COBS
              + cobs.encode(req[:-1] + bytes([req[-1] ^ 0x55])) + b"\x00"   # bad CRC
              + good[:-3] + b"\x00"                          # truncated: malformed COBS
              + cobs.encode(b"\x01\x02") + b"\x00"          # too short
              + cobs.encode(bytes(300)) + b"\x00"             # oversize
              + b"\x05\x01\x01\x00"                         # the delimiter inside a block
              + good)
    frames, _ = split_frames(m.receive(stream))
    assert len(frames) == 1                                 # only the good frame is answered
    seq, cmd, status, payload = decode_frame(frames[0], is_reply=True)
    counters = dict(zip(COUNTERS, struct.unpack("<9I", payload)))
    assert counters["good_frames"] == 1 and counters["crc_errors"] == 1
    assert counters["dropped_frames"] == 5


def test_line_errors_drop_the_frame_being_received():
    m = DeviceModel(small())
    good = encode_frame(request(1, Cmd.INFO))
    assert m.receive(good[:5]) == b""
    m.line_error("break")
    assert m.receive(good[5:]) == b""                       # the cut frame is dropped
    assert m.counters["breaks"] == 1 and m.counters["dropped_frames"] == 1
    assert len(split_frames(m.receive(good))[0]) == 1       # the next good frame is served
    m.line_error("framing")
    assert m.counters["framing_errors"] == 1
    with pytest.raises(ValueError, match="kind must be"):
        m.line_error("parity")


def test_clear_zeroes_the_counters():
    m = DeviceModel(small())
    m.receive(b"junk\x00")
    ask(m, 0, Cmd.CLEAR)
    [(_, _, _, payload)] = ask(m, 1, Cmd.STATUS)
    assert struct.unpack("<9I", payload)[:2] == (1, 0)      # the status request itself


def test_the_longest_table_read_fills_one_frame():
    """82 weight codes (3 bytes each) are the most a reply frame holds: asked for, they come
    back in one frame (255 bytes); one more is refused before anything is read."""
    m = DeviceModel(SystemConfig(quantizer=QuantizerConfig()))
    n = max_codes(24, 3)
    assert n == 82
    [(_, _, st, p)] = ask(m, 0, Cmd.READ_WEIGHTS, b"\x00\x00" + bytes([n]))
    assert st == Status.OK and len(p) == 3 + 3 * n
    assert 4 + len(p) + 2 <= MAX_FRAME < 4 + len(p) + 2 + 3     # one more code would not fit
    [(_, _, st, p)] = ask(m, 1, Cmd.READ_WEIGHTS, b"\x00\x00" + bytes([n + 1]))
    assert (st, p) == (Status.BAD_LENGTH, b"")


def test_a_system_without_rasters_says_so_and_refuses_them():
    from hetq.golden.fixed.link import decode_frame, pack_codes

    def run(dev, seq, cmd, payload=b""):
        (frame,) = dev.execute(seq, cmd, payload)
        return decode_frame(cobs.encode(frame), is_reply=True)

    with_array = SystemConfig(quantizer=QuantizerConfig(sensors=4, duplication=4))
    config = with_array.replace(rasters=False)
    for cfg, flag in ((with_array, 1), (config, 0)):
        _, _, status, payload = run(DeviceModel(cfg), 1, Cmd.INFO)
        assert status == Status.OK and info_fields(payload)["rasters"] == flag
    dev = DeviceModel(config)
    sensors = pack_codes([1, 2, 3, 4], 16)
    assert run(dev, 7, Cmd.RASTER, sensors) == (7, Cmd.RASTER, Status.UNKNOWN_COMMAND, b"")
    assert dev.counters["unknown_commands"] == 1 and dev.counters["bad_requests"] == 0
    assert run(dev, 8, Cmd.SAMPLE, sensors)[2] == Status.OK          # samples still work
    with pytest.raises(TypeError, match="rasters must be True or False, not 1"):
        SystemConfig(rasters=1)


def test_a_window_must_fit_the_step_counter():
    with pytest.raises(ValueError, match="raster windows of 300 steps do not fit the array's "
                                         "8-bit step counter"):
        SystemConfig(array=MCArrayConfig(mcs=256, step_bits=8))
    assert SystemConfig(array=MCArrayConfig(mcs=256, hold=200, rinse=50, step_bits=8))
