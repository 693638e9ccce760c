"""docs/protocol.md against the code that defines the link (golden/fixed/link.py,
golden/fixed/system.py): its tables (commands, statuses, counters, INFO fields, constants, CRC,
code widths, refused requests, faults, repeats), its worked examples byte for byte, and its
client sketch, run over an in-memory port on the device model."""

import ast
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from cobs import cobs
from hetq.golden.fixed.link import (
    COUNTERS,
    CRC_INIT,
    CRC_XOROUT,
    EVENTS_PER_FRAME,
    GC_COMMANDS,
    GC_PHASES_PER_FRAME,
    GC_VERSION,
    MAX_FRAME,
    MIN_REQUEST,
    VERSION,
    Cmd,
    GcTable,
    Status,
    code_bytes,
    crc16,
    decode_frame,
    encode_frame,
    pack_bits,
    pack_codes,
    reply,
    request,
    split_frames,
    unpack_bits,
    unpack_codes,
)
from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.golden.fixed.quantizer import QuantizerConfig
from hetq.golden.fixed.system import (
    INFO_FIELDS,
    INFO_FORMAT,
    INFO_GC_FIELDS,
    INFO_GC_FORMAT,
    DeviceModel,
    SystemConfig,
    gc_table_bits,
    gc_table_size,
    gc_tables,
    iic_field,
    info_fields,
)
from hetq.golden.fixed.network import iic_code
from hetq.sim.board.model_port import ModelPort

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()
#: The build every number of the document is for.
CONFIG = SystemConfig(quantizer=QuantizerConfig())
FMT = CONFIG.quantizer.fmt
#: The build of section 11's examples (version 2).
GC_CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                         gc=GCLayerConfig(mcs=8, gcs=4, synapses=8))
#: That build with the GC->MC path (section 11's table 3).
IIC_CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                          gc=GCLayerConfig(mcs=8, gcs=4, synapses=8, iic=True))
#: What the INFO table's types mean in struct terms.
STRUCT_TYPES = {"u8": "B", "u16": "H", "u32": "I", "char[4]": "4s"}


# -- reading the document -------------------------------------------------------------------

def section(number):
    """The text of section ``number`` (from its ``## N.`` heading to the next)."""
    m = re.search(rf"^## {number}\. .*?(?=^## \d+\. |\Z)", DOC, re.MULTILINE | re.DOTALL)
    assert m, f"no section {number}"
    return m.group(0)


def cell(text):
    return text.strip().replace("`", "").replace("**", "")


def tables(text=DOC):
    """Every markdown table of ``text`` as (header, rows), cells without backticks."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell(c) for c in line.strip().strip("|").split("|")])
            continue
        if block:
            assert set("".join(block[1])) <= set("-: "), block[1]
            out.append((block[0], block[2:]))
            block = []
    return out


def table(*header, text=DOC):
    """The rows (dicts) of the one table whose header starts with ``header``."""
    found = [(h, rows) for h, rows in tables(text) if tuple(h[:len(header)]) == header]
    assert len(found) == 1, f"{len(found)} tables with the header {header}"
    h, rows = found[0]
    for r in rows:
        assert len(r) == len(h), r
    return [dict(zip(h, r)) for r in rows]


HEX_LINE = r"(?:[0-9a-f]{2})(?: [0-9a-f]{2})*"


def examples():
    """{label: bytes} of every ``label: hex`` line (with its continuation lines) in the
    document's text blocks."""
    out, label = {}, None
    for block in re.findall(r"^```text\n(.*?)^```", DOC, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            m = re.fullmatch(rf"(\S[^:]*): ({HEX_LINE})\s*", line)
            if m:
                label = m.group(1)
                assert label not in out, f"example {label!r} given twice"
                out[label] = bytes.fromhex(m.group(2))
                continue
            m = re.fullmatch(rf"\s+({HEX_LINE})\s*", line)
            assert m and label, f"unreadable example line {line!r}"
            out[label] += bytes.fromhex(m.group(1))
    return out


def hexbytes(text):
    return b"" if text == "none" else bytes.fromhex(text)


def sketch_source():
    blocks = re.findall(r"^```python\n(.*?)^```", section(10), re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


# -- the tables -----------------------------------------------------------------------------

def test_sections_1_to_11_in_order():
    numbers = [int(n) for n in re.findall(r"^## (\d+)\. ", DOC, re.MULTILINE)]
    assert numbers == list(range(1, 12))


def test_command_table_is_cmd():
    rows = table("code", "command")
    assert {int(r["code"], 16): r["command"] for r in rows} == {c.value: c.name for c in Cmd}
    assert len(rows) == len(Cmd)


def test_status_table_is_status():
    rows = table("code", "status")
    assert {int(r["code"]): r["status"] for r in rows} == {s.value: s.name for s in Status}
    assert len(rows) == len(Status)


def test_counter_table_is_counters():
    rows = table("index", "offset", "counter")
    assert tuple(r["counter"] for r in rows) == COUNTERS
    assert [int(r["index"]) for r in rows] == list(range(len(COUNTERS)))
    assert [int(r["offset"]) for r in rows] == [4 * k for k in range(len(COUNTERS))]
    assert f"{len(COUNTERS) * 4} bytes" in section(4)


def test_info_table_is_info_format():
    rows = table("offset", "type", "field", "default")
    assert tuple(r["field"] for r in rows) == ("magic",) + INFO_FIELDS
    assert "<" + "".join(STRUCT_TYPES[r["type"]] for r in rows[1:]) == INFO_FORMAT
    assert f"`{INFO_FORMAT}`" in DOC
    offset = 0
    for r in rows:
        assert int(r["offset"]) == offset, r
        offset += struct.calcsize("<" + STRUCT_TYPES[r["type"]])
    assert offset == 4 + struct.calcsize(INFO_FORMAT)
    assert f"{offset} bytes" in section(6) and f"{offset} bytes" in section(4)


def test_info_defaults_are_the_default_device():
    rows = table("offset", "type", "field", "default")
    payload = DeviceModel(CONFIG).execute(1, Cmd.INFO, b"")[0][4:-2]
    fields = info_fields(payload)
    assert rows[0]["default"] == payload[:4].decode()
    assert {r["field"]: int(r["default"]) for r in rows[1:]} == fields
    assert fields["version"] == VERSION and fields["max_frame"] == MAX_FRAME
    assert fields["events_per_frame"] == EVENTS_PER_FRAME


def test_constants():
    rows = {r["constant"]: int(r["value"]) for r in table("constant", "value")}
    assert rows == {"MAX_FRAME": MAX_FRAME, "MIN_REQUEST": MIN_REQUEST, "shortest reply": 6,
                    "EVENTS_PER_FRAME": EVENTS_PER_FRAME, "VERSION": VERSION,
                    "GC_VERSION": GC_VERSION, "GC_PHASES_PER_FRAME": GC_PHASES_PER_FRAME}
    assert len(request(0, Cmd.INFO)) == MIN_REQUEST and len(reply(0, Cmd.INFO, 0)) == 6
    framing = {r["item"]: r["value"] for r in table("item", "value", text=section(2))}
    assert framing["longest decoded frame"].startswith(f"{MAX_FRAME} bytes")
    longest = len(cobs.encode(b"\x01" * MAX_FRAME))
    assert framing["longest encoded frame"].startswith(f"{longest} bytes")
    assert f"{longest + 1} with the delimiter" in framing["longest encoded frame"]
    assert f"{longest + 1} bytes on the wire" in section(2)
    line = {r["item"]: r["value"] for r in table("item", "value", text=section(1))}
    assert f"({CONFIG.baud} baud) by default" in line["rate"]
    assert f"{CONFIG.uart.divisor} clocks per bit" in line["rate"]
    assert f"slots = {CONFIG.slots} by default" in line["flow control"]
    m = re.search(r"about (\d+) SAMPLE requests per second", line["link-limited rate"])
    assert int(m.group(1)) == int(CONFIG.link_samples_per_s())
    assert f"each reply is {CONFIG.sample_reply_bytes} decoded bytes" in line["link-limited rate"]


def test_crc_parameters_are_the_link_crc():
    from hetq.hdl.link import CRC_PARAMETERS

    rows = {r["parameter"]: r["value"] for r in table("parameter", "value")}
    algo = CRC_PARAMETERS.algorithm
    assert int(rows["width"]) == algo.crc_width == 16
    assert int(rows["polynomial"].split()[0], 16) == algo.polynomial
    assert int(rows["initial value"], 16) == algo.initial_crc == CRC_INIT
    assert rows["reflect input / output"].startswith("no / no")
    assert not algo.reflect_input and not algo.reflect_output
    assert int(rows["final XOR"], 16) == algo.xor_output
    check = int(rows["check value (the CRC of ASCII 123456789)"], 16)
    assert check == crc16(b"123456789") == CRC_PARAMETERS.compute(b"123456789")
    assert rows["in Python"] == (f"binascii.crc_hqx(data, 0x{CRC_INIT:04X}) "
                                 f"^ 0x{CRC_XOROUT:04X}")
    m = re.search(r"the register ends at the algorithm's residue, 0x([0-9A-F]{4})", DOC)
    assert int(m.group(1), 16) == CRC_PARAMETERS.residue()


def test_crc_init_argument():
    """Section 3: a lost delimiter joins two frames into A, 0x00, B; with an initial value of 0
    the joined frame would pass, with 0xFFFF it fails; leading zeros are invisible to 0."""
    import binascii

    def frame(init, body):
        return body + binascii.crc_hqx(body, init).to_bytes(2, "big")

    ex = examples()
    for init, passes in ((0, True), (CRC_INIT, False)):
        a = frame(init, ex["INFO request"][:-2])
        b = frame(init, ex["SAMPLE request"][:-2])
        joined = cobs.decode(cobs.encode(a) + cobs.encode(b))
        assert joined == a + b"\x00" + b
        assert (binascii.crc_hqx(joined, init) == 0) == passes
        assert (binascii.crc_hqx(b"\x00" + a, init) == 0) == passes


def test_code_width_table():
    widths = {"sensor code": FMT.sensor_bits, "normalised input": FMT.x_bits,
              "weight": FMT.weight_bits, "threshold": FMT.drive_bits}
    rows = table("code", "width (INFO fields)")
    assert {r["code"] for r in rows} == set(widths)
    for r in rows:
        assert int(r["default bits"]) == widths[r["code"]]
        assert int(r["bytes"]) == code_bytes(widths[r["code"]])
    codes = np.random.default_rng(7).integers(0, 1 << FMT.weight_bits, 50)
    data = pack_codes(codes, FMT.weight_bits)
    assert data == b"".join(int(c).to_bytes(3, "little") for c in codes)


def test_phase_packing_rule():
    """Section 8's bit rule, against pack_bits, on random phases."""
    bits, mcs = CONFIG.quantizer.phase_bits, CONFIG.quantizer.mcs
    phases = np.random.default_rng(3).integers(0, 1 << bits, mcs)
    packed = pack_bits(phases, bits)
    assert len(packed) == -(-mcs * bits // 8) == 160
    for m in range(mcs):
        for k in range(bits):
            n = m * bits + k
            assert (packed[n // 8] >> (n % 8)) & 1 == (phases[m] >> k) & 1
    example = [int(b, 2) for b in re.findall(r"binary (\d{5}), (\d{5}), (\d{5}), (\d{5})",
                                              DOC)[0]]
    assert example == [15, 11, 7, 3]
    rows = table("byte", "bits 7..0")
    got = bytes(int(r["bits 7..0"].replace(" ", ""), 2) for r in rows)
    assert got == pack_bits(example + [0] * (mcs - 4), bits)[:3]


# -- the worked examples --------------------------------------------------------------------

SENSORS = [1000] + [0] * 7                  # the SAMPLE and RASTER examples' sensor codes
WEIGHTS = [8 * 2048, 12 * 2048, 20 * 2048, 40 * 2048]


def test_worked_examples_byte_for_byte():
    """The examples of sections 3-7 are one session on one device: each request is what the
    code builds from the parameters the text gives, and each reply is what the device sends."""
    ex = examples()
    device = DeviceModel(CONFIG)
    sensors = pack_codes(SENSORS, FMT.sensor_bits)
    session = [
        ("INFO", 1, Cmd.INFO, b""),
        ("WRITE_WEIGHTS", 2, Cmd.WRITE_WEIGHTS,
         (0).to_bytes(2, "little") + bytes([4]) + pack_codes(WEIGHTS, FMT.weight_bits)),
        ("SAMPLE", 3, Cmd.SAMPLE, sensors),
        ("RASTER", 4, Cmd.RASTER, sensors),
        ("unknown command", 5, 0x7F, b""),
        ("STATUS", 6, Cmd.STATUS, b""),
    ]
    replies = {}
    for name, seq, cmd, payload in session:
        decoded = request(seq, cmd, payload)
        assert ex[f"{name} request"] == decoded, name
        if f"{name} request, wire" in ex:
            assert ex[f"{name} request, wire"] == b"\x00" + encode_frame(decoded)
        out = device.receive(b"\x00" + encode_frame(ex[f"{name} request"]))
        frames, rest = split_frames(out)
        assert rest == b"" and len(frames) == 1, name
        replies[name] = cobs.decode(frames[0])
        if f"{name} reply, wire" in ex:
            assert ex[f"{name} reply, wire"] == out
    for name in ("INFO", "WRITE_WEIGHTS", "RASTER", "unknown command", "STATUS"):
        assert ex[f"{name} reply"] == replies[name], name
    assert f"its CRC 0x{crc16(ex['INFO request'][:3]):04X} appended" in section(3)
    assert "`seq` `01 00`, `cmd` `01`, `status` `00`" in section(3)

    sample = replies["SAMPLE"]
    shown = (ex["SAMPLE reply, header"] + ex["SAMPLE reply, inputs"]
             + ex["SAMPLE reply, phases"])
    fill = CONFIG.sample_reply_bytes - len(shown) - 2
    assert sample == shown + bytes(fill) + ex["SAMPLE reply, crc"]
    m = re.search(r"the first (\d+) of the (\d+); the other (\d+) are 0", DOC)
    first, total, other = map(int, m.groups())
    assert (first, first + other) == (len(ex["SAMPLE reply, phases"]), total)
    xb = CONFIG.quantizer.sensors * code_bytes(FMT.x_bits)
    assert len(sample) - 6 - xb == total
    phases = unpack_bits(sample[4 + xb:-2], CONFIG.quantizer.phase_bits, CONFIG.quantizer.mcs)
    np.testing.assert_equal(phases[:4], [15, 11, 7, 3])
    np.testing.assert_equal(phases[4:], 0)
    assert "phases 15, 11, 7 and 3" in DOC

    raster = replies["RASTER"][4:-2]
    assert struct.unpack("<HB", raster[:3]) == (0, 1)
    events = list(struct.iter_unpack("<HH", raster[3:]))
    assert len(events) == 20 and "one frame with 20 events" in DOC
    assert [t for t, mc in events if mc == 0] == [14, 64, 114, 164, 214]

    status = dict(zip(COUNTERS, struct.unpack("<9I", replies["STATUS"][4:-2])))
    assert status == dict.fromkeys(COUNTERS, 0) | {"good_frames": 6, "unknown_commands": 1}


def test_refused_requests():
    rows = table("command", "request payload", "status")
    assert len(rows) >= 10
    for r in rows:
        device = DeviceModel(CONFIG)
        before = device.execute(0, Cmd.INFO, b"")
        frames = device.execute(9, Cmd[r["command"]], hexbytes(r["request payload"]))
        assert len(frames) == 1
        _, cmd, status, payload = decode_frame(cobs.encode(frames[0]), is_reply=True)
        assert (cmd, Status(status).name, payload) == (Cmd[r["command"]], r["status"], b""), r
        assert device.execute(0, Cmd.INFO, b"") == before          # it changed nothing
        assert device.counters["bad_requests"] == 1


def test_frame_limits_of_table_commands():
    """Section 4: 82 codes per write and per read are the most that fit a frame."""
    text = section(4)
    write = int(re.search(r"at most (\d+) codes per\s+write", text).group(1))
    read = int(re.search(r"(\d+) per read", text).group(1))
    wb = code_bytes(FMT.weight_bits)
    assert len(request(0, Cmd.WRITE_WEIGHTS, bytes(3 + wb * write))) <= MAX_FRAME
    with pytest.raises(ValueError, match="longer than"):
        request(0, Cmd.WRITE_WEIGHTS, bytes(3 + wb * (write + 1)))
    device = DeviceModel(CONFIG)
    frame = device.execute(0, Cmd.READ_WEIGHTS, bytes([0, 0, read]))[0]
    assert frame[3] == Status.OK and len(frame) <= MAX_FRAME < len(frame) + wb
    assert f"5 + 3 + 3 x {write} = {5 + 3 + 3 * write} bytes" in text
    assert f"6 + 3 + 3 x {read} = {len(frame)} bytes" in text
    # one more is refused, as the text says
    assert "A larger `count`\nis refused with `BAD_LENGTH`" in text
    [refused] = device.execute(1, Cmd.READ_WEIGHTS, bytes([0, 0, read + 1]))
    assert refused[3] == Status.BAD_LENGTH and len(refused) == 6


def test_table_hash_as_documented():
    """Section 6: CRC-32 (zlib) of the weight codes, then the threshold codes, as READ
    replies give them."""
    rng = np.random.default_rng(11)
    device = DeviceModel(CONFIG)
    q = CONFIG.quantizer
    weights = rng.integers(0, 1 << FMT.weight_bits, q.mcs)
    thresholds = np.sort(rng.integers(0, 1 << FMT.drive_bits, q.levels))
    for lo in range(0, q.mcs, 64):
        device.execute(0, Cmd.WRITE_WEIGHTS, lo.to_bytes(2, "little") + bytes([64])
                       + pack_codes(weights[lo:lo + 64], FMT.weight_bits))
    device.execute(0, Cmd.WRITE_THRESHOLDS, bytes([0, q.levels])
                   + pack_codes(thresholds, FMT.drive_bits))
    read = b"".join(device.execute(0, Cmd.READ_WEIGHTS, lo.to_bytes(2, "little")
                                   + bytes([64]))[0][7:-2] for lo in range(0, q.mcs, 64))
    read += device.execute(0, Cmd.READ_THRESHOLDS, bytes([0, q.levels]))[0][6:-2]
    np.testing.assert_equal(unpack_codes(read[:3 * q.mcs], FMT.weight_bits, q.mcs), weights)
    fields = info_fields(device.execute(0, Cmd.INFO, b"")[0][4:-2])
    assert fields["table_hash"] == zlib.crc32(read)
    assert "`zlib.crc32`" in section(6)


def test_raster_parts_as_documented():
    """Section 8: 60 events per frame, a last frame always, at most 1280 events in 22 frames
    (5362 bytes on the wire), steps p - 1 + 50 k from the SAMPLE phases."""
    q = CONFIG.quantizer
    device = DeviceModel(CONFIG)
    empty = device.execute(0, Cmd.RASTER, bytes(2 * q.sensors))
    assert [f[4:-2] for f in empty] == [hexbytes("00 00 01")]
    assert "(payload `00 00 01`)" in section(8)
    for lo in range(0, q.mcs, 64):
        device.execute(0, Cmd.WRITE_WEIGHTS, lo.to_bytes(2, "little") + bytes([64])
                       + pack_codes([FMT.weight_max] * 64, FMT.weight_bits))
    rng = np.random.default_rng(5)
    for sensors in ([1] * q.sensors, rng.integers(0, 1 << 16, q.sensors)):
        payload = pack_codes(sensors, FMT.sensor_bits)
        phases = unpack_bits(device.execute(1, Cmd.SAMPLE, payload)[0][4 + 24:-2],
                             q.phase_bits, q.mcs)
        wire = device.receive(encode_frame(request(2, Cmd.RASTER, payload)))
        frames = [decode_frame(f, is_reply=True) for f in split_frames(wire)[0]]
        events = []
        for k, (seq, cmd, status, part) in enumerate(frames):
            assert (seq, cmd, status) == (2, Cmd.RASTER, Status.OK)
            last = k == len(frames) - 1
            assert struct.unpack("<HB", part[:3]) == (k, int(last))
            assert len(part) - 3 == 4 * EVENTS_PER_FRAME or (last and len(part) - 3 <= 240)
            events += struct.iter_unpack("<HH", part[3:])
        cycles = CONFIG.array.hold // 50
        assert events == sorted((50 * k + int(p) - 1, m) for m, p in enumerate(phases) if p
                                for k in range(cycles))
    assert len(events) == q.mcs * cycles == 1280 and len(frames) == 22
    assert len(wire) == 5362
    assert "1280 events in 22 frames, is 5362 bytes on the wire" in section(9)


# -- error handling -------------------------------------------------------------------------

def _counted(device, before):
    return {k for k in COUNTERS if device.counters[k] != before[k]}


def _stimuli():
    """A way to cause each fault of section 9's table on the device model: a function of a
    device that returns the bytes it answered."""
    good = encode_frame(request(1, Cmd.INFO))

    def inside(kind):
        def run(d):
            out = d.receive(good[:3])
            d.line_error(kind)
            return out + d.receive(good[3:])
        return run

    def between(kind):
        def run(d):
            d.line_error(kind)
            return d.receive(good)
        return run

    bad_crc = bytearray(request(1, Cmd.INFO))
    bad_crc[-1] ^= 0x40
    return {
        "an empty frame": [lambda d: d.receive(b"\x00\x00")],
        "inside a frame": [inside("framing"), inside("break")],
        "between frames": [between("framing"), between("break")],
        "malformed COBS": [lambda d: d.receive(b"\x05\x01\x02\x00")],
        "under 5 or over 256": [lambda d: d.receive(encode_frame(request(1, Cmd.INFO)[:4])),
                                lambda d: d.receive(encode_frame(bytes(range(1, 256)) * 2))],
        "wrong CRC": [lambda d: d.receive(encode_frame(bad_crc))],
        "unknown cmd": [lambda d: d.receive(encode_frame(request(1, 0x33)))],
        "bad length, range or value": [
            lambda d: d.receive(encode_frame(request(1, Cmd.STATUS, b"\x00"))),
            lambda d: d.receive(encode_frame(request(1, Cmd.READ_THRESHOLDS, b"\x10\x01")))],
    }


#: Faults that need time (bytes arriving faster than taken), which the model has not.
TIMED = ("receive overrun", "slots are full")


def test_fault_table_against_the_model():
    rows = table("fault", "reply", "counted in")
    stimuli = _stimuli()
    for r in rows:
        keys = [k for k in (*stimuli, *TIMED) if k in r["fault"]]
        assert len(keys) == 1, r["fault"]
        if keys[0] in TIMED:
            assert any(k in r["counted in"] for k in ("rx_overruns", "slot_overruns"))
            continue
        named = set(re.findall(r"[a-z_]+", r["counted in"])) & set(COUNTERS)
        for run in stimuli[keys[0]]:
            device = DeviceModel(CONFIG)
            before = dict(device.counters)
            out = run(device)
            counted = _counted(device, before)
            assert counted <= named, (r["fault"], counted)
            if r["counted in"] == "nothing":
                assert not counted
            if r["reply"].startswith("none"):
                assert out == b"", r["fault"]
            else:
                status = decode_frame(split_frames(out)[0][0], is_reply=True)[2]
                assert Status(status).name in r["reply"], r["fault"]
    assert len(rows) == len(stimuli) + len(TIMED)


def test_leading_delimiter_absorbs_an_error_between_frames():
    device = DeviceModel(CONFIG)
    device.line_error("framing")
    out = device.receive(b"\x00" + encode_frame(request(1, Cmd.INFO)))
    assert decode_frame(split_frames(out)[0][0], is_reply=True)[2] == Status.OK
    assert device.counters["dropped_frames"] == 1
    assert "a lone 0x00 sent first absorbs it" in section(9)


def test_status_after_clear_counts_itself():
    device = DeviceModel(CONFIG)
    device.receive(encode_frame(request(1, Cmd.INFO)) + b"\x05\x00")
    assert device.counters["good_frames"] == 1 and device.counters["dropped_frames"] == 1
    device.receive(encode_frame(request(2, Cmd.CLEAR)))
    out = device.receive(encode_frame(request(3, Cmd.STATUS)))
    payload = decode_frame(split_frames(out)[0][0], is_reply=True)[3]
    assert struct.unpack("<9I", payload) == (1,) + (0,) * 8
    assert "reports `good_frames` = 1 (itself)" in section(4)


REPEATS = {"the same reply": "reply", "the same reply and the same tables": "tables",
           "the same reply, and the window runs once": "once",
           "a newer snapshot": "newer", "the counters zeroed again": "cleared"}


def _gc_state(device):
    layer = device.layer
    return (tuple(v.tobytes() for v in device.gc_memory.values()), device.connected,
            layer.t, layer.mask.tobytes(), tuple(a.tobytes() for a in layer.state.arrays()))


def _connected_gc_device():
    """The example build with section 11's connectivity and weights."""
    device = DeviceModel(GC_CONFIG)
    device.execute(0, Cmd.WRITE_WEIGHTS, bytes([0, 0, 8])
                   + pack_codes([x * 2048 for x in (16, 24, 40, 80) * 2], 24))
    device.execute(0, Cmd.WRITE_GC, bytes([1, 0, 0, 9]) + pack_codes(GC_POINTERS, 16))
    device.execute(0, Cmd.WRITE_GC, bytes([2, 0, 0, 7]) + pack_codes(GC_TARGETS, 16))
    assert device.execute(0, Cmd.CONNECT, b"")[0][3] == Status.OK
    return device


def test_repeated_requests_as_documented():
    rows = table("command", "executed twice gives")
    seen = set()
    sensors = pack_codes(np.random.default_rng(2).integers(0, 1 << 16, 8), FMT.sensor_bits)
    payloads = {Cmd.INFO: b"", Cmd.READ_WEIGHTS: bytes([0, 0, 64]),
                Cmd.READ_THRESHOLDS: bytes([0, 16]), Cmd.SAMPLE: sensors,
                Cmd.RASTER: sensors, Cmd.STATUS: b"", Cmd.CLEAR: b"",
                Cmd.WRITE_WEIGHTS: bytes([5, 0, 2]) + pack_codes([70000, 9000], 24),
                Cmd.WRITE_THRESHOLDS: bytes([3, 1]) + pack_codes([500000], 22)}
    gc_payloads = {Cmd.READ_GC: bytes([0, 0, 0, 8]), Cmd.CONNECT: b"", Cmd.CLAMP: b"",
                   Cmd.WRITE_GC: bytes([0, 2, 0, 2]) + pack_codes([7 << 16, 30 << 16], 24),
                   Cmd.TRAIN: pack_codes([1000, 1000], 16),
                   Cmd.SAMPLE: pack_codes([1000, 1000], 16)}
    for r in rows:
        kind = [v for k, v in REPEATS.items() if re.split(r" ?[:(]", r["executed twice gives"])[0] == k]
        assert len(kind) == 1, r
        version = 2 if r["command"].endswith(" (version 2)") else 1
        for name in r["command"].removesuffix(" (version 2)").split(", "):
            cmd = Cmd[name]
            seen.add((cmd, version))
            if version == 1:
                device = DeviceModel(CONFIG)
                device.execute(0, Cmd.WRITE_WEIGHTS, bytes([0, 0, 64])
                               + pack_codes(np.arange(64) * 2000, 24))
                payload = payloads[cmd]
            else:
                device = _connected_gc_device()
                device.execute(0, Cmd.TRAIN, gc_payloads[Cmd.TRAIN])   # weights at 30 and 25
                payload = gc_payloads[cmd]
            frame = encode_frame(request(1, cmd, payload))
            first = device.receive(frame)
            tables_after = device.execute(0, Cmd.INFO, b"")
            state = _gc_state(device) if version == 2 else None
            if kind[0] == "once":                      # the repeat must come right after
                first = device.receive(frame)
                state = _gc_state(device)
            second = device.receive(frame)
            frames = split_frames(first)[0]
            assert frames and all(decode_frame(f, is_reply=True)[2] == Status.OK
                                  for f in frames), name
            if kind[0] in ("reply", "tables", "once"):
                assert first == second, name
            if kind[0] == "tables":
                assert device.execute(0, Cmd.INFO, b"") == tables_after
            if version == 2 and kind[0] in ("tables", "once"):
                assert _gc_state(device) == state, name
            if kind[0] == "newer":
                counts = [decode_frame(split_frames(r)[0][0], is_reply=True)[3][:4]
                          for r in (first, second)]
                assert [int.from_bytes(c, "little") for c in counts] == [1, 2]
            if kind[0] == "cleared":
                assert all(v == 0 for v in device.counters.values())
    assert seen == ({(c, 1) for c in Cmd if c not in GC_COMMANDS}
                    | {(c, 2) for c in GC_COMMANDS | {Cmd.SAMPLE}})


def test_client_rules_match_our_client():
    """Section 9's description of boards/client.py: defaults, the leading 0x00, window 1 for
    writes and the same frame (same seq) on each retry."""
    import inspect

    from hetq.boards import client

    text = section(9)
    params = inspect.signature(client.Board).parameters
    assert f"a timeout of {params['timeout'].default} s per attempt" in text
    assert f"after {params['retries'].default} attempts" in text
    assert f"our client waits {params['timeout'].default} s" in text
    assert f"moves {client.WRITE_CHUNK} codes per\nrequest" in section(4)

    class Dropping(ModelPort):
        """Swallows the first reply, so the client has to retry."""

        def __init__(self, model):
            super().__init__(model)
            self.frames = []

        def write(self, data):
            self.frames.append(bytes(data))
            n = super().write(data)
            if len(self.frames) == 1:
                self.read(1 << 20)
            return n

    port = Dropping(DeviceModel(CONFIG))
    board = client.Board(port, timeout=0.01, retries=3)
    board.info()
    assert len(port.frames) == 2 and port.frames[0] == port.frames[1]
    assert port.frames[0].startswith(b"\x00" + cobs.encode(request(0, Cmd.INFO)))
    assert port.model.counters["good_frames"] == 2          # executed twice


# -- the client sketch ----------------------------------------------------------------------

def sketch():
    """The sketch's functions, loaded as a module would be (its ``__main__`` part not run)."""
    namespace = {"__name__": "protocol_sketch"}
    code = compile(sketch_source(), "docs/protocol.md (section 10)", "exec")
    exec(code, namespace)  # noqa: S102 (the document's own code, which is what is tested)
    return namespace


class Port:
    """A pyserial-like port over the device model; ``mangle(k, data)`` gives the bytes the
    host reads back after its k-th write (default: the device's reply as it is)."""

    def __init__(self, mangle=lambda k, data: data):
        self.model = DeviceModel(CONFIG)
        self._device = ModelPort(self.model)
        self._mangle = mangle
        self._in = bytearray()
        self.writes = 0

    def write(self, data):
        self._device.write(data)
        self._in += self._mangle(self.writes, self._device.read(1 << 20))
        self.writes += 1
        return len(data)

    def read(self, n=1):
        data = bytes(self._in[:n])
        del self._in[:n]
        return data


def test_sketch_uses_only_the_named_modules():
    tree = ast.parse(sketch_source())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add(node.module.split(".")[0])
    assert modules == {"binascii", "cobs", "serial"}
    body = [n for n in tree.body if not isinstance(n, ast.If)]
    lines = sum(n.end_lineno - n.lineno + 1 for n in body)
    assert lines <= 30


def test_sketch_gets_an_info_reply():
    port = Port()
    status, payload = sketch()["call"](port, 1, Cmd.INFO)
    assert status == Status.OK
    assert info_fields(payload) == info_fields(DeviceModel(CONFIG).execute(1, Cmd.INFO, b"")
                                               [0][4:-2])
    assert port.writes == 1


def test_sketch_sample_and_error_status():
    call = sketch()["call"]
    port = Port()
    sensors = pack_codes([5, 900, 3, 0, 77, 1, 0, 40000], FMT.sensor_bits)
    status, payload = call(port, 7, Cmd.SAMPLE, sensors)
    assert status == Status.OK
    assert payload == DeviceModel(CONFIG).execute(7, Cmd.SAMPLE, sensors)[0][4:-2]
    assert call(port, 8, 0x7F) == (Status.UNKNOWN_COMMAND, b"")
    assert call(port, 9, Cmd.INFO, b"\x00") == (Status.BAD_LENGTH, b"")


def test_sketch_skips_garbage_and_stale_replies():
    """Before the real reply: noise, a reply to another seq, one to another command with the
    same seq, the request echoed (too short for a reply), a reply whose CRC fails (a changed
    payload byte), bytes that are not valid COBS."""
    def noisy(k, data):
        good = cobs.decode(split_frames(data)[0][0])
        corrupted = bytearray(good)
        corrupted[7] ^= 0x01                                    # "HETQ" -> "HETP"
        return (b"\x13\x37\x00" + encode_frame(reply(99, Cmd.INFO, Status.OK, good[4:-2]))
                + encode_frame(reply(1, Cmd.STATUS, Status.OK, bytes(36)))
                + encode_frame(request(1, Cmd.INFO))
                + encode_frame(corrupted) + b"\xff\x02\x00" + data)

    port = Port(noisy)
    status, payload = sketch()["call"](port, 1, Cmd.INFO)
    assert status == Status.OK and port.writes == 1
    assert payload == DeviceModel(CONFIG).execute(1, Cmd.INFO, b"")[0][4:-2]


def test_sketch_retries_then_times_out():
    call = sketch()["call"]
    port = Port(lambda k, data: b"" if k == 0 else data)        # the first reply is lost
    assert call(port, 1, Cmd.STATUS)[0] == Status.OK
    assert port.writes == 2 and port.model.counters["good_frames"] == 2
    dead = Port(lambda k, data: b"")
    with pytest.raises(TimeoutError, match="seq 4 after 3 attempts"):
        call(dead, 4, Cmd.INFO)
    assert dead.writes == 3 and dead.model.counters["good_frames"] == 3


def test_sketch_flushes_a_partial_frame_first():
    """A partial frame left on the line (a client that died mid-frame) does not cost the
    sketch's request an attempt: its leading 0x00 ends it."""
    port = Port()
    port.model.receive(encode_frame(request(7, Cmd.STATUS))[:4])
    assert sketch()["call"](port, 1, Cmd.INFO)[0] == Status.OK
    assert port.writes == 1 and port.model.counters["dropped_frames"] == 1


# -- section 11: version 2 ------------------------------------------------------------------

GC_POINTERS = [0, 1, 2, 3, 4, 5, 6, 6, 7]
GC_TARGETS = [0, 1, 3, 2, 0, 1, 2]


def test_gc_info_table_is_info_gc_format():
    rows = table("offset", "type", "field", "example")
    assert tuple(r["field"] for r in rows) == INFO_GC_FIELDS
    assert "<" + "".join(STRUCT_TYPES[r["type"]] for r in rows) == INFO_GC_FORMAT
    assert f"`{INFO_GC_FORMAT}`" in section(11)
    offset = 4 + struct.calcsize(INFO_FORMAT)
    for r in rows:
        assert int(r["offset"]) == offset, r
        offset += struct.calcsize("<" + STRUCT_TYPES[r["type"]])
    assert f"{offset} bytes in all" in section(11)
    payload = DeviceModel(GC_CONFIG).execute(1, Cmd.INFO, b"")[0][4:-2]
    assert len(payload) == offset
    fields = info_fields(payload)
    assert fields["version"] == GC_VERSION
    assert {r["field"]: int(r["example"]) for r in rows} == {k: fields[k]
                                                            for k in INFO_GC_FIELDS}


def test_gc_tables_table():
    rows = table("table", "selector", "entries")
    assert {int(r["selector"]) for r in rows} == {t.value for t in GcTable}
    assert gc_tables(GC_CONFIG) == tuple(GcTable)[:3] and gc_tables(IIC_CONFIG) == tuple(GcTable)
    for r in rows:
        t = GcTable(int(r["selector"]))
        assert int(r["bytes"]) == code_bytes(gc_table_bits(IIC_CONFIG, t))
        size = {"S": GC_CONFIG.gc.synapses, "M + 1": GC_CONFIG.gc.mcs + 1, "1": 1}
        entries = r["entries"].split(":")[0].split(",")[0].split(" (")[0]
        assert size[entries] == gc_table_size(IIC_CONFIG, t)
    weights = [r for r in rows if r["table"] == "weights"][0]
    assert f"(0 .. {GC_CONFIG.gc.params['w_max']})" in weights["values"]
    iic = [r for r in rows if r["selector"] == str(int(GcTable.IIC))][0]
    fmt = IIC_CONFIG.gc.fmt
    low = fmt.current_min
    assert f"{low / (1 << fmt.drive_frac):g} .. 0 mV ({low} .. 0" in iic["values"]
    assert f"SQ{fmt.current_int}.{fmt.drive_frac}" in iic["code"]
    lo_bytes = iic_field(low, fmt).to_bytes(3, "little").hex(" ")
    assert f"{lo_bytes} .. ff ff ff and 00 00 00" in iic["values"]


def test_gc_mc_weight_requests_as_documented():
    """The table of WRITE_GC and READ_GC requests of the GC->MC weight: each on a fresh
    device with the path, its status (a refused one changes nothing); the write of -5 mV
    and the read of a fresh device's weight as the text says."""
    rows = table("command", "request payload (example build with the GC->MC path)", "status")
    assert {r["status"] for r in rows} == {"OK", "BAD_LENGTH", "BAD_ADDRESS", "BAD_VALUE"}
    for r in rows:
        device = DeviceModel(IIC_CONFIG)
        payload = hexbytes(r["request payload (example build with the GC->MC path)"])
        [frame] = device.execute(9, Cmd[r["command"]], payload)
        _, _, status, answer = decode_frame(cobs.encode(frame), is_reply=True)
        assert Status(status).name == r["status"], r
        if r["status"] != "OK":
            assert device.layer.iic_weight == 0 and answer == b""
        elif Cmd[r["command"]] == Cmd.WRITE_GC:
            assert device.layer.iic_weight == iic_code(-5) == -327680
            assert "-5 mV (code -327680" in section(11)
        else:
            assert f"answers `{answer.hex(' ')}`" in " ".join(section(11).split())
    # a device without the path: BAD_ADDRESS, as the refused-requests table has it
    [frame] = DeviceModel(GC_CONFIG).execute(9, Cmd.READ_GC, bytes([3, 0, 0, 1]))
    assert frame[3] == Status.BAD_ADDRESS
    assert f"({GC_CONFIG.gc.params['clamp']})" in section(11)


def test_gc_refused_requests():
    rows = table("command", "request payload (example build)", "status")
    assert {Cmd[r["command"]] for r in rows} == GC_COMMANDS | {Cmd.SAMPLE}
    assert {r["status"] for r in rows} == {"BAD_LENGTH", "BAD_ADDRESS", "BAD_VALUE"}
    for r in rows:
        device = DeviceModel(GC_CONFIG)
        before = _gc_state(device)
        frames = device.execute(9, Cmd[r["command"]],
                                hexbytes(r["request payload (example build)"]))
        assert len(frames) == 1
        _, cmd, status, payload = decode_frame(cobs.encode(frames[0]), is_reply=True)
        assert (cmd, Status(status).name, payload) == (Cmd[r["command"]], r["status"], b""), r
        assert _gc_state(device) == before
        assert device.counters["bad_requests"] == 1


def test_gc_not_connected_as_documented():
    device = _connected_gc_device()
    assert device.execute(1, Cmd.WRITE_GC, bytes([1, 1, 0, 1]) + pack_codes([2], 16))[0][3] == 0
    for cmd in (Cmd.TRAIN, Cmd.SAMPLE):
        [frame] = device.execute(2, cmd, pack_codes([1000, 1000], 16))
        assert frame[3] == Status.NOT_CONNECTED
    # ptr = 0, 2, 2, 3, ...: MC 0's GCs 0, 1 ascend, so it is a connectivity again
    assert device.execute(3, Cmd.CONNECT, b"")[0][3] == Status.OK
    assert device.execute(4, Cmd.WRITE_GC, bytes([1, 1, 0, 1]) + pack_codes([7], 16))[0][3] == 0
    assert device.execute(5, Cmd.CONNECT, b"")[0][3] == Status.BAD_VALUE     # decreasing
    assert not device.connected
    assert "answers `NOT_CONNECTED`" in section(11)


def test_gc_worked_session_byte_for_byte():
    ex = examples()
    device = DeviceModel(GC_CONFIG)
    sample = pack_codes([1000, 1000], FMT.sensor_bits)
    session = [
        ("v2 INFO", 1, Cmd.INFO, b""),
        ("v2 WRITE_WEIGHTS", 2, Cmd.WRITE_WEIGHTS, struct.pack("<HB", 0, 8)
         + pack_codes([x * 2048 for x in (16, 24, 40, 80) * 2], FMT.weight_bits)),
        ("v2 WRITE_GC pointers", 3, Cmd.WRITE_GC, struct.pack("<BHB", GcTable.POINTERS, 0, 9)
         + pack_codes(GC_POINTERS, 16)),
        ("v2 WRITE_GC GC indices", 4, Cmd.WRITE_GC, struct.pack("<BHB", GcTable.TARGETS, 0, 7)
         + pack_codes(GC_TARGETS, 16)),
        ("v2 CONNECT", 5, Cmd.CONNECT, b""),
        ("v2 TRAIN", 6, Cmd.TRAIN, sample),
        ("v2 CLAMP", 7, Cmd.CLAMP, b""),
        ("v2 READ_GC", 8, Cmd.READ_GC, struct.pack("<BHB", GcTable.WEIGHTS, 0, 8)),
        ("v2 SAMPLE", 9, Cmd.SAMPLE, sample),
    ]
    for name, seq, cmd, payload in session:
        assert ex[f"{name} request"] == request(seq, cmd, payload), name
        frames = [cobs.decode(f) for f in split_frames(
            device.receive(b"\x00" + encode_frame(ex[f"{name} request"])))[0]]
        if len(frames) == 1:
            assert ex[f"{name} reply"] == frames[0], name
        else:
            assert [ex[f"{name} reply, part {k}"] for k in range(len(frames))] == frames
    text = section(11)
    assert "pointers are 0, 1, 2, 3, 4, 5, 6, 6, 7" in text
    assert "synapses 0, 1, 3, 2, 0, 1, 2" in text
    from hetq.golden.fixed.gc_layer import fanout_lists
    mask = np.zeros((4, 8), dtype=bool)
    for gc, mcs in ((0, (0, 4)), (1, (1, 5)), (2, (3, 7)), (3, (2,))):
        mask[gc, list(mcs)] = True
    np.testing.assert_equal(fanout_lists(mask)[0], GC_POINTERS)
    np.testing.assert_equal(fanout_lists(mask)[1], GC_TARGETS)
    w = unpack_codes(ex["v2 READ_GC reply"][8:-2], 24, 8)
    np.testing.assert_equal(w, [30 << 16, 30 << 16, 0, 30 << 16, 30 << 16, 30 << 16,
                                30 << 16, 0])
    assert "(code 0x1E0000)" in text
    part0, part1 = ex["v2 SAMPLE reply, part 0"], ex["v2 SAMPLE reply, part 1"]
    assert struct.unpack("<HB", part0[4:7]) == (0, 0)
    assert struct.unpack("<HB", part1[4:7]) == (1, 1)
    np.testing.assert_equal(unpack_codes(part0[7:13], 21, 2), [1 << 19] * 2)
    np.testing.assert_equal(unpack_bits(part0[13:-2], 5, 8), [15, 11, 7, 3] * 2)
    np.testing.assert_equal(unpack_bits(part1[7:-2], 6, 4), [41, 37, 29, 0])
    assert "the GC phases 41, 37, 29, 0 (6 bits each: `69 d9 01`)" in text
    assert "MC phases 15, 11, 7, 3, 15, 11, 7, 3" in text
    info = ex["v2 INFO reply"][4:-2]
    assert info[4] == GC_VERSION and len(info) == 57


def test_gc_frame_limits():
    text = section(11)
    big = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                       gc=GCLayerConfig(mcs=8, gcs=32, synapses=200))
    device = DeviceModel(big)
    for t, n, nbytes in ((GcTable.WEIGHTS, 82, 3), (GcTable.TARGETS, 123, 2)):
        [frame] = device.execute(0, Cmd.READ_GC, bytes([t, 0, 0, n]))
        assert frame[3] == Status.OK and len(frame) == 6 + 4 + nbytes * n <= MAX_FRAME
        assert f"6 + 4 + {nbytes} x {n} = {len(frame)} bytes" in text
        [frame] = device.execute(0, Cmd.READ_GC, bytes([t, 0, 0, n + 1]))
        assert frame[3] == Status.BAD_LENGTH
        assert len(request(0, Cmd.WRITE_GC, bytes(4 + nbytes * n))) <= MAX_FRAME
    assert "320 GCs (240 bytes) per part" in text
    assert GC_PHASES_PER_FRAME * 6 // 8 == 240
