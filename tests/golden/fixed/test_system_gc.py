"""The device model with a GC layer (protocol version 2, golden/fixed/system.py): INFO, the
GC tables, CONNECT, TRAIN, CLAMP and the network's SAMPLE against GCLayerModel, every error
status, repeats, and a system without a GC layer left as it was."""

import struct

import numpy as np
import pytest

from hetq.golden.fixed.gc_layer import GCLayerConfig, GCLayerModel, fanout_lists
from hetq.golden.fixed.link import (GC_PHASES_PER_FRAME, GC_VERSION, VERSION, Cmd, GcTable,
                                    Status, decode_frame, encode_frame, pack_bits, pack_codes,
                                    request, split_frames, unpack_bits, unpack_codes)
from hetq.golden.fixed.mc_array import MCArrayConfig
from hetq.golden.fixed.normaliser import normalise
from hetq.golden.fixed.quantizer import QuantizerConfig, QuantizerModel
from hetq.golden.fixed.system import (MAX_SYNAPSES, DeviceModel, SystemConfig, info_fields,
                                      info_payload)

F = 16                                  # drive_frac of the default format
GC = GCLayerConfig(mcs=8, gcs=32, synapses=64, hold=50, rinse=50)
CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                      array=MCArrayConfig(mcs=8, hold=50, rinse=50), gc=GC)


def ask(model, seq, cmd, payload=b""):
    out = model.receive(encode_frame(request(seq, cmd, payload)))
    frames, rest = split_frames(out)
    assert rest == b""
    return [decode_frame(f, is_reply=True) for f in frames]


def ok(model, seq, cmd, payload=b""):
    frames = ask(model, seq, cmd, payload)
    assert all(st == Status.OK for _, _, st, _ in frames), frames
    return [p for *_, p in frames]


def write_gc(model, table, codes, start=0, seq=0):
    bits = 24 if table == GcTable.WEIGHTS else 16
    return ask(model, seq, Cmd.WRITE_GC, struct.pack("<BHB", table, start, len(codes))
               + pack_codes(codes, bits))[0][2]


def connect(model, mask):
    ptr, gc = fanout_lists(mask)
    for table, codes in ((GcTable.POINTERS, ptr), (GcTable.TARGETS, gc)):
        for lo in range(0, len(codes), 64):
            assert write_gc(model, table, codes[lo:lo + 64], lo) == Status.OK
    ok(model, 1, Cmd.CONNECT)


def random_mask(rng, n=40):
    mask = np.zeros((GC.gcs, GC.mcs), dtype=bool)
    mask.flat[rng.choice(mask.size, n, replace=False)] = True
    return mask


def weights(rng):
    # MCs fire early and often together: the GCs fire and learn
    return rng.integers(20 << 11, 60 << 11, CONFIG.quantizer.mcs)


def sensors(rng, n):
    return rng.integers(1, 1 << 16, (n, CONFIG.quantizer.sensors))


def test_config_of_a_gc_system():
    assert CONFIG.version == GC_VERSION and SystemConfig().version == VERSION
    assert SystemConfig.from_dict(CONFIG.to_dict()) == CONFIG
    assert "gc" not in SystemConfig().to_dict() and "gc=" not in str(SystemConfig())
    assert CONFIG.sample_reply_frames == [4 + 3 + 6 + 5 + 2, 4 + 3 + 24 + 2]
    big = SystemConfig(gc=GCLayerConfig(gcs=1024))
    assert big.sample_reply_frames == [193] + [249] * 3 + [4 + 3 + 48 + 2]


@pytest.mark.parametrize("kwargs, text", [
    ({"gc": GCLayerConfig(mcs=128)}, "the GC layer's MCs (128) must be the MC array's (256)"),
    ({"gc": GCLayerConfig(hold=100)}, "the GC layer's hold (100) must be the MC array's (250)"),
    ({"gc": GCLayerConfig(rinse=0)}, "the GC layer's rinse (0) must be the MC array's (50)"),
    ({"gc": GCLayerConfig(gcs=1 << 16)}, "65536 GCs do not fit the link's u16 GC index"),
    ({"gc": GCLayerConfig(gcs=8192, synapses=MAX_SYNAPSES + 1)},
     "65536 synapses do not fit the link's u16 fan-out pointers (at most 65535)"),
    ({"gc": GCLayerConfig(iic=True), "array": MCArrayConfig(step_bits=16)},
     "exactly when the GC layer has the GC->MC path (iic), which drives it: "
     "inhibition=False, iic=True"),
    ({"gc": GCLayerConfig(), "array": MCArrayConfig(step_bits=16, inhibition=True)},
     "inhibition=True, iic=False"),
    ({"array": MCArrayConfig(step_bits=16, inhibition=True)},
     "the system has no GC layer to drive the array's inhibition"),
])
def test_gc_config_errors(kwargs, text):
    with pytest.raises(ValueError) as e:
        SystemConfig(**kwargs)
    assert text in str(e.value)
    with pytest.raises(TypeError, match="gc"):
        SystemConfig(gc=3)


def test_info_of_version_2_appends_the_gc_fields():
    m = DeviceModel(CONFIG)
    [payload] = ok(m, 1, Cmd.INFO)
    base = info_payload(CONFIG.replace(gc=None), 0)
    assert len(payload) == len(base) + 11 and payload[4] == GC_VERSION
    f = info_fields(payload)
    assert {k: f[k] for k in ("gcs", "synapses", "gc_lanes", "stamp_bits", "iic",
                              "gc_weight_int", "gc_phase_bits", "gc_phases_per_frame")} == {
        "gcs": 32, "synapses": 64, "gc_lanes": 1, "stamp_bits": 32, "iic": 0,
        "gc_weight_int": 5, "gc_phase_bits": 6, "gc_phases_per_frame": GC_PHASES_PER_FRAME}
    v1 = DeviceModel(CONFIG.replace(gc=None))
    [p1] = ok(v1, 1, Cmd.INFO)
    assert info_fields(p1)["version"] == VERSION and len(p1) == 46
    from hetq.golden.fixed.link import FrameError
    with pytest.raises(FrameError, match="56 bytes, expected 57 for version 2"):
        info_fields(payload[:-1])
    with pytest.raises(FrameError, match="version 3; this client knows 1 and 2"):
        info_fields(payload[:4] + b"\x03" + payload[5:])


def test_a_system_without_gc_layer_knows_no_gc_command():
    m = DeviceModel(CONFIG.replace(gc=None))
    for cmd in (Cmd.WRITE_GC, Cmd.READ_GC, Cmd.CONNECT, Cmd.TRAIN, Cmd.CLAMP):
        assert ask(m, 3, cmd, b"")[0][2] == Status.UNKNOWN_COMMAND
    assert m.counters["unknown_commands"] == 5


def test_gc_tables_at_power_on_and_written_and_read_back():
    m = DeviceModel(CONFIG)
    [p] = ok(m, 0, Cmd.READ_GC, struct.pack("<BHB", GcTable.WEIGHTS, 0, 64))
    assert p[:4] == struct.pack("<BHB", 0, 0, 64)
    np.testing.assert_equal(unpack_codes(p[4:], 24, 64), 25 << F)
    rng = np.random.default_rng(1)
    for table, hi, bits in ((GcTable.WEIGHTS, 30 << F, 24), (GcTable.POINTERS, 64, 16),
                            (GcTable.TARGETS, 31, 16)):
        size = 9 if table == GcTable.POINTERS else 64
        codes = rng.integers(0, hi + 1, size - 2)
        codes[0] = hi
        assert write_gc(m, table, codes, start=2) == Status.OK
        [p] = ok(m, 1, Cmd.READ_GC, struct.pack("<BHB", table, 1, size - 1))
        np.testing.assert_equal(unpack_codes(p[4:], bits, size - 1)[1:], codes)
        np.testing.assert_equal(m.gc_memory[table][2:], codes)
    assert not m.connected


def _gc_errors():
    head = struct.pack
    return [
        (Cmd.WRITE_GC, head("<BH", 0, 0), Status.BAD_LENGTH),                  # no count
        (Cmd.WRITE_GC, head("<BHB", 3, 0, 1) + bytes(3), Status.BAD_ADDRESS),  # no table 3
        (Cmd.WRITE_GC, head("<BHB", 0, 0, 0), Status.BAD_LENGTH),              # count 0
        (Cmd.WRITE_GC, head("<BHB", 0, 0, 2) + bytes(5), Status.BAD_LENGTH),
        (Cmd.WRITE_GC, head("<BHB", 1, 0, 2) + bytes(6), Status.BAD_LENGTH),   # u16 codes
        (Cmd.WRITE_GC, head("<BHB", 0, 0, 83) + bytes(6), Status.BAD_LENGTH),   # over 82
        (Cmd.WRITE_GC, head("<BHB", 0, 63, 2) + bytes(6), Status.BAD_ADDRESS),
        (Cmd.WRITE_GC, head("<BHB", 1, 8, 2) + bytes(4), Status.BAD_ADDRESS),  # 9 pointers
        (Cmd.WRITE_GC, head("<BHB", 0, 0, 1) + pack_codes([(30 << F) + 1], 24),
         Status.BAD_VALUE),                                                   # over 30 mV
        (Cmd.WRITE_GC, head("<BHB", 1, 0, 1) + pack_codes([65], 16), Status.BAD_VALUE),
        (Cmd.WRITE_GC, head("<BHB", 2, 0, 1) + pack_codes([32], 16), Status.BAD_VALUE),
        (Cmd.READ_GC, head("<BHB", 0, 0, 1) + b"\x00", Status.BAD_LENGTH),
        (Cmd.READ_GC, head("<BHB", 2, 0, 124), Status.BAD_LENGTH),            # 123 fit
        (Cmd.READ_GC, head("<BHB", 9, 0, 1), Status.BAD_ADDRESS),
        (Cmd.READ_GC, head("<BHB", 2, 60, 5), Status.BAD_ADDRESS),
        (Cmd.CONNECT, b"\x00", Status.BAD_LENGTH),
        (Cmd.CLAMP, b"\x00", Status.BAD_LENGTH),
        (Cmd.TRAIN, bytes(3), Status.BAD_LENGTH),
        (Cmd.SAMPLE, bytes(5), Status.BAD_LENGTH),
    ]


@pytest.mark.parametrize("cmd, payload, status", _gc_errors())
def test_gc_errors_change_nothing(cmd, payload, status):
    m = DeviceModel(CONFIG)
    before = {k: v.copy() for k, v in m.gc_memory.items()}
    t = m.layer.t
    [(seq, got_cmd, got, p)] = ask(m, 5, cmd, payload)
    assert (seq, got_cmd, got, p) == (5, cmd, status, b"")
    for k, v in before.items():
        np.testing.assert_equal(m.gc_memory[k], v)
    assert m.connected and m.layer.t == t and m.counters["bad_requests"] == 1


def test_the_largest_gc_reads_fill_one_frame():
    m = DeviceModel(CONFIG.replace(gc=GC.replace(synapses=200)))
    for table, n in ((GcTable.WEIGHTS, 82), (GcTable.TARGETS, 123)):
        [frame] = m.execute(0, Cmd.READ_GC, struct.pack("<BHB", table, 0, n))
        assert frame[3] == Status.OK and len(frame) in (256, 255)


@pytest.mark.parametrize("ptr, targets", [
    ([1, 1, 1, 1, 1, 1, 1, 1, 1], []),                         # ptr[0] != 0
    ([0, 2, 1, 3, 3, 3, 3, 3, 3], [0, 1, 2]),                   # a pointer decreases
    ([0, 2, 2, 2, 2, 2, 2, 2, 2], [3, 3]),                      # the same GC twice
    ([0, 2, 2, 2, 2, 2, 2, 2, 2], [4, 3]),                      # not ascending
])
def test_connect_refuses_tables_that_are_no_connectivity(ptr, targets):
    m = DeviceModel(CONFIG)
    assert write_gc(m, GcTable.POINTERS, ptr) == Status.OK
    if targets:
        assert write_gc(m, GcTable.TARGETS, targets) == Status.OK
    layer = m.layer
    [(_, _, st, _)] = ask(m, 2, Cmd.CONNECT)
    assert st == Status.BAD_VALUE and not m.connected and m.layer is layer
    for cmd in (Cmd.TRAIN, Cmd.SAMPLE):
        [(_, _, st, p)] = ask(m, 3, cmd, bytes(4))
        assert (st, p) == (Status.NOT_CONNECTED, b"")
    assert m.counters["bad_requests"] == 3
    ok(m, 4, Cmd.CLAMP)                                          # weights only: allowed


def test_pointers_past_synapses_cannot_be_written_and_the_last_may_equal_them():
    m = DeviceModel(CONFIG)
    assert write_gc(m, GcTable.POINTERS, [0] + [64] * 8) == Status.OK
    # 64 synapses on MC 0 with GCs 0..31 twice is not ascending: refused
    assert write_gc(m, GcTable.TARGETS, list(range(32)) * 2) == Status.OK
    assert ask(m, 2, Cmd.CONNECT)[0][2] == Status.BAD_VALUE
    assert write_gc(m, GcTable.POINTERS, [0] + [32] * 4 + [64] * 4) == Status.OK
    ok(m, 3, Cmd.CONNECT)
    assert m.connected and m.layer.state.w.size == 64 and m.layer.mask.sum() == 64


def test_the_fold_through_the_device_equals_the_gc_layer_model():
    """Connect a random mask, train, clamp, sample: the device's replies and tables are the
    GCLayerModel's, run on the quantizer's drives."""
    rng = np.random.default_rng(4)
    w = weights(rng)
    m = DeviceModel(CONFIG, weights=w)
    mask = random_mask(rng)
    connect(m, mask)
    q = QuantizerModel(CONFIG.quantizer, weights=w)
    ref = GCLayerModel(GC, mask)
    np.testing.assert_equal(m.gc_memory[GcTable.WEIGHTS], 25 << F)
    train, test = sensors(rng, 6), sensors(rng, 5)
    for k, s in enumerate(train):
        assert ok(m, 10 + k, Cmd.TRAIN, pack_codes(s, 16)) == [b""]
        ref.run(q.process(s[None]).drive, learn=True)
    n = int(mask.sum())
    np.testing.assert_equal(m.gc_memory[GcTable.WEIGHTS][:n], ref.weights)
    assert np.any(ref.weights != 25 << F)                        # it learned something
    ok(m, 20, Cmd.CLAMP)
    ref.clamp()
    np.testing.assert_equal(m.gc_memory[GcTable.WEIGHTS][:n], ref.weights)
    np.testing.assert_equal(m.gc_memory[GcTable.WEIGHTS][n:], 0)   # 25 -> 0, unused
    fired = 0
    for k, s in enumerate(test):
        parts = ok(m, 30 + k, Cmd.SAMPLE, pack_codes(s, 16))
        out = ref.run(q.process(s[None]).drive)
        mc = np.where(out["mc_inwin"][0], out["mc_last"][0] % 50 + 1, 0)
        gc = np.where(out["gc_inwin"][0], out["gc_last"][0] % 50 + 1, 0)
        assert [struct.unpack("<HB", p[:3]) for p in parts] == [(0, 0), (1, 1)]
        np.testing.assert_equal(unpack_codes(parts[0][3:9], 21, 2), normalise(s[None])[0])
        np.testing.assert_equal(unpack_bits(parts[0][9:], 5, 8), mc)
        np.testing.assert_equal(unpack_bits(parts[1][3:], 6, 32), gc)
        # with the GC->MC path off the MC phases are the quantizer's
        np.testing.assert_equal(mc, q.process(s[None]).phase[0])
        fired += np.count_nonzero(gc)
    assert fired
    assert m.layer.t == ref.t == 100 * (len(train) + len(test))


def test_connect_resets_the_layer():
    rng = np.random.default_rng(8)
    m = DeviceModel(CONFIG, weights=weights(rng))
    mask = random_mask(rng)
    connect(m, mask)
    for k, s in enumerate(sensors(rng, 3)):
        ok(m, 10 + k, Cmd.TRAIN, pack_codes(s, 16))
    assert write_gc(m, GcTable.WEIGHTS, [7] * 4, start=60) == Status.OK
    ok(m, 20, Cmd.CONNECT)
    np.testing.assert_equal(m.gc_memory[GcTable.WEIGHTS], 25 << F)
    assert m.layer.t == 0 and not m.layer.state.pre_ok.any()
    np.testing.assert_equal(m.layer.mask, mask)


def test_loaded_weights_are_the_ones_the_layer_runs_with():
    rng = np.random.default_rng(9)
    w = weights(rng)
    m = DeviceModel(CONFIG, weights=w)
    mask = random_mask(rng)
    connect(m, mask)
    n = int(mask.sum())
    codes = rng.choice([0, 1967, 29 << F, 30 << F], n)
    assert write_gc(m, GcTable.WEIGHTS, codes) == Status.OK
    ref = GCLayerModel(GC, mask)
    ref.weights = codes
    q = QuantizerModel(CONFIG.quantizer, weights=w)
    for k, s in enumerate(sensors(rng, 3)):
        ok(m, 10 + k, Cmd.TRAIN, pack_codes(s, 16))
        ref.run(q.process(s[None]).drive, learn=True)
    np.testing.assert_equal(m.gc_memory[GcTable.WEIGHTS][:n], ref.weights)


def test_a_repeated_train_or_sample_runs_once():
    rng = np.random.default_rng(5)
    m = DeviceModel(CONFIG, weights=weights(rng))
    connect(m, random_mask(rng))
    s = pack_codes(sensors(rng, 1)[0], 16)
    first = m.receive(encode_frame(request(40, Cmd.TRAIN, s)))
    t = m.layer.t
    assert m.receive(encode_frame(request(40, Cmd.TRAIN, s))) == first and m.layer.t == t
    m.receive(encode_frame(request(41, Cmd.TRAIN, s)))          # a new seq: a new window
    assert m.layer.t == t + 100
    one = m.receive(encode_frame(request(42, Cmd.SAMPLE, s)))
    assert m.receive(encode_frame(request(42, Cmd.SAMPLE, s))) == one
    assert m.layer.t == t + 200 and len(split_frames(one)[0]) == 2
    # a request in between: the same seq is executed again
    m.receive(encode_frame(request(43, Cmd.STATUS)))
    m.receive(encode_frame(request(42, Cmd.SAMPLE, s)))
    assert m.layer.t == t + 300
    # a refused request is no repeat's reference
    m.receive(encode_frame(request(44, Cmd.TRAIN, b"\x00")))
    m.receive(encode_frame(request(44, Cmd.TRAIN, s)))
    assert m.layer.t == t + 400


def test_many_gcs_come_in_parts_of_320():
    g = GCLayerConfig(mcs=8, gcs=700, synapses=64, hold=50, rinse=50)
    c = CONFIG.replace(gc=g)
    m = DeviceModel(c)
    parts = ok(m, 0, Cmd.SAMPLE, pack_codes([5, 9], 16))
    assert [struct.unpack("<HB", p[:3]) for p in parts] == [(0, 0), (1, 0), (2, 0), (3, 1)]
    assert [len(p) - 3 for p in parts] == [11, 240, 240, 45]
    assert b"".join(p[3:] for p in parts[1:]) == pack_bits(np.zeros(700, int), 6)
    assert [len(f) for f in m.execute(1, Cmd.SAMPLE, pack_codes([5, 9], 16))] == \
        c.sample_reply_frames


def test_raster_on_a_gc_system_leaves_the_layer_alone():
    rng = np.random.default_rng(6)
    w = weights(rng)
    m = DeviceModel(CONFIG, weights=w)
    connect(m, random_mask(rng))
    s = pack_codes(sensors(rng, 1)[0], 16)
    frames = ok(m, 3, Cmd.RASTER, s)
    assert m.layer.t == 0
    v1 = DeviceModel(CONFIG.replace(gc=None), weights=w)
    assert frames == ok(v1, 3, Cmd.RASTER, s)


# -- the GC->MC path (GC table IIC) -----------------------------------------------------------

IIC_GC = GCLayerConfig(mcs=8, gcs=32, synapses=64, hold=100, rinse=50, iic=True)
IIC_CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                          array=MCArrayConfig(mcs=8, hold=100, rinse=50, inhibition=True),
                          gc=IIC_GC)


def iic_request(code, start=0, count=1):
    field = int(code) & 0xFFFFFF                      # two's complement, 3 bytes
    return struct.pack("<BHB", GcTable.IIC, start, count) + field.to_bytes(3, "little") * count


def test_the_path_builds_the_array_with_its_input_and_says_so():
    c = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                     gc=GCLayerConfig(mcs=8, gcs=32, iic=True))
    assert c.array.inhibition and not CONFIG.array.inhibition
    assert info_fields(info_payload(c, 0))["iic"] == 1
    assert info_fields(info_payload(CONFIG, 0))["iic"] == 0


def test_the_weight_at_power_on_written_read_back_and_refused():
    m = DeviceModel(IIC_CONFIG)
    head = struct.pack("<BHB", GcTable.IIC, 0, 1)
    assert ok(m, 1, Cmd.READ_GC, head) == [head + b"\x00\x00\x00"]      # 0 at power-on
    for code in (-5 << F, -1, -(64 << F), 0):
        assert ask(m, 2, Cmd.WRITE_GC, iic_request(code))[0][2] == Status.OK
        assert m.layer.iic_weight == code
        assert ok(m, 3, Cmd.READ_GC, head) == [head + (code & 0xFFFFFF).to_bytes(3, "little")]
    ok(m, 4, Cmd.WRITE_GC, iic_request(-7 << F))
    for payload, status in ((iic_request(1), Status.BAD_VALUE),
                            (iic_request(5 << F), Status.BAD_VALUE),
                            (iic_request(-(64 << F) - 1), Status.BAD_VALUE),
                            (iic_request(0, start=1), Status.BAD_ADDRESS),
                            (iic_request(0, count=2), Status.BAD_ADDRESS),
                            (iic_request(0)[:-1], Status.BAD_LENGTH),
                            (struct.pack("<BHB", 4, 0, 1) + b"\x00" * 3, Status.BAD_ADDRESS)):
        assert ask(m, 5, Cmd.WRITE_GC, payload)[0][2] == status, payload.hex()
        assert m.layer.iic_weight == -7 << F                       # unchanged
    mask = random_mask(np.random.default_rng(1))
    connect(m, mask)
    assert m.layer.iic_weight == -7 << F                           # CONNECT keeps it
    # a system without the path has no such table
    plain = DeviceModel(CONFIG)
    assert ask(plain, 6, Cmd.WRITE_GC, iic_request(0))[0][2] == Status.BAD_ADDRESS
    assert ask(plain, 7, Cmd.READ_GC, head)[0][2] == Status.BAD_ADDRESS


def test_the_fold_with_the_path_equals_the_gc_layer_model_with_its_weight():
    """Train, clamp, set the weight, sample (the weight changed once more between windows):
    the MC and GC phases are those of GCLayerModel with the same weights (its own coupling),
    and differ from those of weight 0."""
    rng = np.random.default_rng(4)
    w = weights(rng)
    q = QuantizerModel(IIC_CONFIG.quantizer, weights=w)
    mask = random_mask(rng)
    train, test = sensors(rng, 4), sensors(rng, 6)

    def fold(codes):
        m = DeviceModel(IIC_CONFIG, weights=w)
        connect(m, mask)
        for k, s in enumerate(train):
            ok(m, 10 + k, Cmd.TRAIN, pack_codes(s, 16))
        ok(m, 20, Cmd.CLAMP)
        out = []
        for k, s in enumerate(test):
            if k in codes:
                ok(m, 25 + k, Cmd.WRITE_GC, iic_request(codes[k]))
            parts = ok(m, 30 + k, Cmd.SAMPLE, pack_codes(s, 16))
            out.append((unpack_bits(parts[0][9:], 5, 8), unpack_bits(parts[1][3:], 6, 32)))
        return out

    codes = {0: -20 << F, 3: -40 << F}
    got = fold(codes)
    ref = GCLayerModel(IIC_GC, mask)
    for s in train:
        ref.run(q.process(s[None]).drive, learn=True)
    ref.clamp()
    for k, s in enumerate(test):
        if k in codes:
            ref.set_iic_weight(codes[k])
        out = ref.run(q.process(s[None]).drive)
        np.testing.assert_equal(got[k][0], np.where(out["mc_inwin"][0],
                                                    out["mc_last"][0] % 50 + 1, 0))
        np.testing.assert_equal(got[k][1], np.where(out["gc_inwin"][0],
                                                    out["gc_last"][0] % 50 + 1, 0))
    zero = fold({0: 0})
    assert sum((a[0] != b[0]).any() for a, b in zip(got, zero)) >= 3   # MCs inhibited
    assert sum((a[1] != b[1]).any() for a, b in zip(got, zero)) >= 3
