"""The phase quantizer in Amaranth's simulator against the golden model, both datapaths
(pipelined and serial): random and edge samples, table writes and reads mid-stream, random
valid/ready, several sizes; latency, cycles per MC and parameter checks. The serial datapath
runs 22 clocks per MC, so its runs are shorter (fewer samples, see :func:`short`)."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from hetq.golden.fixed.neuron import PhaseTable, phase_thresholds
from hetq.golden.fixed.normaliser import NormaliserConfig
from hetq.golden.fixed.quantizer import DATAPATHS, QuantizerConfig, lanes_for, mc_cycles
from hetq.hdl.quantizer import PhaseQuantizer, SensorQuantizer
from hetq.sim.kit.events import merge_order
from hetq.sim.quantizer.amaranth_bench import run_amaranth
from hetq.sim.quantizer.stimulus import Stimulus, Write, expected_records, make_stimulus


def config(sensors=8, duplication=4, **kwargs):
    return QuantizerConfig(sensors=sensors, duplication=duplication, **kwargs)


def short(n, datapath, factor=4):
    """Samples of a run: ``n`` pipelined, about ``n / factor`` (at least 3) serial."""
    return n if datapath == "pipelined" else max(3, n // factor)


datapaths = pytest.mark.parametrize("datapath", DATAPATHS)


@pytest.mark.parametrize("duplication, n, datapath", [
    (4, 48, "pipelined"), (8, 32, "pipelined"), (16, 24, "pipelined"), (32, 16, "pipelined"),
    (4, 12, "serial"), (8, 6, "serial"), (32, 3, "serial")])
def test_sensor_quantizer_matches_golden(duplication, n, datapath):
    stim = make_stimulus(duplication, n, config(8, duplication, datapath=datapath))
    res = run_amaranth(stim, seed=duplication + 1, stall=0.25)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert any(kind == "write" for kind, _ in res.order)


@datapaths
@pytest.mark.parametrize("sensors, duplication", [(8, 4), (3, 5), (1, 1)])
def test_phase_quantizer_matches_golden(sensors, duplication, datapath):
    n = 40 if sensors * duplication == 1 else short(40, datapath)
    stim = make_stimulus(sensors, n, config(sensors, duplication, datapath=datapath),
                         normalised=True)
    res = run_amaranth(stim, seed=7, stall=0.3)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


@datapaths
def test_eight_bit_sensors(datapath):
    fmt = FixedFormat(sensor_bits=8)
    stim = make_stimulus(4, short(40, datapath), config(fmt=fmt, datapath=datapath))
    res = run_amaranth(stim, seed=2, stall=0.2)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


@datapaths
def test_a_table_rewritten_mid_stream_changes_the_outputs(datapath):
    """Writes between samples take effect exactly there: replaying the same transfers with
    the writes left out gives different outputs, so the comparison above can fail."""
    n = short(40, datapath, 3)
    stim = make_stimulus(99, n, config(datapath=datapath), writes=False)
    mid = n // 3 * stim.period                 # offered while a sample mid-run is in flight
    stim.writes = [Write("weight", 0, 0, mid), Write("threshold", 0, 0, 0)]
    res = run_amaranth(stim, seed=3, stall=0.1)
    assert ("write", 0) in res.order[n // 8 + 1:-(n // 8 + 1)]
    expected = expected_records(stim, res.order)
    np.testing.assert_equal(res.records, expected)
    no_writes = [(k, i) for k, i in res.order if k == "sample"]
    assert np.any(expected_records(stim, no_writes) != expected)


@datapaths
def test_writes_of_every_kind_and_address_edge(datapath):
    """Weight writes to the first and last rows (0 and the saturating code), two writes beyond
    the table (24 MCs, so the 5-bit port carries addresses 24..31: taken and dropped, by the
    RTL and by the model), threshold writes to both ends of the table, back to back."""
    table = phase_thresholds()
    stim = make_stimulus(5, 12, config(8, 3, datapath=datapath), writes=False)
    top_w, top_c = DEFAULT_FORMAT.weight_max, DEFAULT_FORMAT.drive_max
    stim.writes = [Write("weight", 0, 0, 40), Write("weight", 23, top_w, 0),
                   Write("weight", 24, top_w, 30), Write("weight", 31, 0, 0),
                   Write("threshold", 0, int(table.thresholds[0]) + 4096, 0),
                   Write("threshold", 15, 0, 90), Write("threshold", 15, top_c, 0)]
    res = run_amaranth(stim, seed=4, stall=0.0)
    assert sum(kind == "write" for kind, _ in res.order) == len(stim.writes)   # all taken
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    # the samples after the dropped writes see the table as the in-range writes left it
    beyond = [i for i, w in enumerate(stim.writes) if w.addr >= 24 and w.kind == "weight"]
    kept = [(k, i) for k, i in res.order if not (k == "write" and i in beyond)]
    np.testing.assert_equal(expected_records(stim, kept), res.records)


def test_latency_and_one_mc_per_clock():
    stim = make_stimulus(1, 6, config(8, 32), writes=False)
    dut = SensorQuantizer(stim.config, weights=stim.weights)
    res = run_amaranth(stim, seed=0, stall=0.0, dut=dut)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert res.last_out - res.first_in + 1 == dut.latency + 6 * 256   # II = 1, no bubbles
    one = Stimulus(config=config(), weights=stim.weights[:32], samples=stim.samples[:1],
                   normalised=True)
    pq = PhaseQuantizer(one.config, weights=one.weights)
    r = run_amaranth(one, seed=0, stall=0.0, dut=pq)
    assert r.last_out - r.first_in - 31 == pq.latency


@pytest.mark.parametrize("fmt", [DEFAULT_FORMAT, FixedFormat(x_frac=10)])
@pytest.mark.parametrize("cls", [PhaseQuantizer, SensorQuantizer])
def test_serial_latency_and_cycles_per_mc(fmt, cls):
    """Nothing stalling, the serial datapath takes mc_cycles clocks per MC, and a sample's
    first MC comes out `latency` cycles after it went in; with 11-bit inputs the compare (16
    thresholds, 20 cycles) is the longer half, with the default's 21 bits the multiplier (22)."""
    cfg = config(2, 3, fmt=fmt, datapath="serial")
    assert cfg.mc_cycles == mc_cycles(fmt, "serial") == (22 if fmt == DEFAULT_FORMAT else 20)
    normalised = cls is PhaseQuantizer
    stim = make_stimulus(1, 5, cfg, writes=False, normalised=normalised)
    dut = cls(cfg, weights=stim.weights)
    res = run_amaranth(stim, seed=0, stall=0.0, dut=dut)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    one = Stimulus(config=cfg, weights=stim.weights, samples=stim.samples[:1],
                   normalised=normalised)
    r = run_amaranth(one, seed=0, stall=0.0, dut=cls(cfg, weights=stim.weights))
    assert r.last_out - r.first_in == dut.latency + (cfg.mcs - 1) * cfg.mc_cycles
    assert res.last_out - res.first_in == dut.latency + (
        5 * cfg.mcs - 1) * cfg.mc_cycles                     # back to back: no bubbles


def test_lanes_for_picks_the_fewest_dividers_that_keep_up():
    assert lanes_for(8, 32) == 2 and lanes_for(8, 64) == 1 and lanes_for(8, 4) == 8
    assert lanes_for(8, 32, datapath="serial") == 1 == lanes_for(8, 4, datapath="serial")
    serial = QuantizerConfig(datapath="serial")
    assert (serial.norm_lanes, serial.core_period, serial.period) == (1, 256 * 22, 256 * 22)
    assert NormaliserConfig(8, DEFAULT_FORMAT, 2).period <= 256 < NormaliserConfig(
        8, DEFAULT_FORMAT, 1).period
    stim = make_stimulus(8, 10, config(8, 32), writes=False)
    assert stim.config.norm_lanes == 2
    res = run_amaranth(stim, seed=1, stall=0.0)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert res.cycles_per_sample < 256 + 25                    # keeps up: about one per MC


def test_merge_order_rules():
    assert merge_order([3, 5], [5], "sample-first") == [("sample", 0), ("sample", 1),
                                                        ("write", 0)]
    with pytest.raises(RuntimeError, match="both accepted in cycle 5"):
        merge_order([3, 5], [5])


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"weights": np.zeros(31, dtype=int)}, ValueError, "weights must be 32 integer codes"),
    ({"weights": np.zeros(32)}, ValueError, "dtype float64"),
    ({"weights": np.full(32, 1 << 24)}, ValueError,
     "weight codes must lie in [0, 16777215] (24 bits), got range [16777216, 16777216]"),
    ({"table": [1, 2]}, TypeError, "table must be a PhaseTable, not list"),
    ({"table": PhaseTable(np.array([1, 1 << 22]), 17)}, ValueError,
     "thresholds must be 1 or more codes in [0, 4194303]"),
    ({"table": PhaseTable(np.arange(1, 17), 15)}, ValueError, "top_phase 15 must be in"),
    ({"table": PhaseTable(np.arange(1, 16), 17)}, ValueError,
     "the table has 15 thresholds; the format has 16 levels"),
])
@datapaths
@pytest.mark.parametrize("cls", [PhaseQuantizer, SensorQuantizer])
def test_parameter_errors(cls, datapath, kwargs, exc, text):
    with pytest.raises(exc) as e:
        cls(config(datapath=datapath), **kwargs)
    assert text in str(e.value)


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"duplication": 0}, ValueError, "duplication must be in [1, 1024], not 0"),
    ({"duplication": "4"}, TypeError, "duplication must be an integer, not '4'"),
    ({"sensors": 65}, ValueError, "sensors must be in [1, 64], not 65"),
    ({"fmt": FixedFormat(weight_int=20, weight_frac=13)}, ValueError,
     "weight codes of 33 bits do not fit the multiplier (at most 32 bits)"),
    ({"norm_lanes": 3}, ValueError, "lanes must divide sensors"),
    ({"datapath": "fast"}, ValueError, "datapath must be one of pipelined, serial, not 'fast'"),
    ({"datapath": None}, TypeError, "datapath must be a string, one of pipelined, serial, not "
                                    "None"),
])
def test_configuration_errors(kwargs, exc, text):
    with pytest.raises(exc) as e:
        QuantizerConfig(**{"sensors": 8, "duplication": 4, **kwargs})
    assert text in str(e.value)


def test_a_component_takes_only_its_configuration():
    with pytest.raises(TypeError, match="config must be a QuantizerConfig, not NormaliserConfig"):
        PhaseQuantizer(NormaliserConfig())


@datapaths
def test_table_reads_between_samples(datapath):
    """Reads of every weight address (those beyond the 24-entry table give 0) and of every
    threshold, interleaved with writes and samples: each read sees every write offered before
    it, samples before and after see the tables as the model says, and the x tap shows each
    sample's normalised inputs."""
    from hetq.golden.fixed.normaliser import normalise
    from hetq.golden.fixed.quantizer import QuantizerModel
    from hetq.sim.kit.amaranth_sim import simulate

    cfg = config(8, 3, datapath=datapath)
    stim = make_stimulus(21, 6, cfg, writes=False)
    dut = SensorQuantizer(cfg, weights=stim.weights)
    model = QuantizerModel(cfg, weights=stim.weights)
    script = [("sample", 0), ("weight", 5, 1234), ("threshold", 3, 777)]
    script += [("read_w", a) for a in range(32)] + [("read_t", j) for j in range(16)]
    script += [("sample", 1), ("weight", 23, 0), ("read_w", 23), ("sample", 2)]
    got, taps, records = [], [], []

    async def driver(ctx):
        for step in script:
            kind = step[0]
            if kind == "sample":
                port, payload = dut.i, [int(v) for v in stim.samples[step[1]]]
            elif kind in ("weight", "threshold"):
                port = dut.weight_w if kind == "weight" else dut.threshold_w
                payload = {"addr": step[1], "data": step[2]}
            else:
                port = dut.weight_r if kind == "read_w" else dut.threshold_r
                payload = step[1]
            ctx.set(port.payload, payload)
            ctx.set(port.valid, 1)
            await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)
            if kind.startswith("read"):
                data = dut.weight_d if kind == "read_w" else dut.threshold_d
                ctx.set(data.ready, 1)
                *_, value = await ctx.tick().sample(data.payload).until(data.valid)
                got.append(int(value))
                ctx.set(data.ready, 0)

    async def sink(ctx):
        ctx.set(dut.o.ready, 1)
        held = None                                # the tap's inputs while they must hold
        while len(records) < 3 * cfg.mcs:
            _, _, valid, payload, xv, xd, iv, ir = await ctx.tick().sample(
                dut.o.valid, dut.o.payload, dut.x.valid, dut.x.data, dut.i.valid, dut.i.ready)
            now = [int(v) for v in xd]
            if xv:
                taps.append(now)
                held = now
            elif held is not None:
                assert now == held, "x.data changed before the next sample was taken"
            if iv and ir:
                held = None
            if valid:
                records.append(int(payload.phase))

    simulate(dut, [driver, sink])
    want, phases = [], []
    for step in script:
        if step[0] == "sample":
            phases += list(model.process(stim.samples[step[1]:step[1] + 1]).phase[0])
        elif step[0] == "weight":
            model.write_weight(step[1], step[2])
        elif step[0] == "threshold":
            model.write_threshold(step[1], step[2])
        elif step[0] == "read_w":
            want.append(model.read_weight(step[1]))
        else:
            want.append(model.read_threshold(step[1]))
    assert got == want and want[5] == 1234 and want[24:32] == [0] * 8
    assert records == phases
    np.testing.assert_equal(np.array(taps), normalise(stim.samples[:3]))


@datapaths
@pytest.mark.parametrize("kind", ["weight", "threshold"])
@pytest.mark.parametrize("lag", [-1, 0, 1, 2, 3])
def test_a_write_offered_around_a_read_of_its_address(datapath, kind, lag):
    """A read and a write of the same entry offered ``lag`` cycles apart (the write first for
    -1): the read gives the old code if it was taken before the write, else the new one, and
    the write is applied either way (a second read sees it)."""
    from hetq.sim.kit.amaranth_sim import simulate

    cfg = config(2, 2, datapath=datapath)
    table = phase_thresholds()
    old, new, addr = (1234, 4321, 3) if kind == "weight" else (int(table.thresholds[5]), 99, 5)
    weights = np.full(cfg.mcs, old)
    dut = PhaseQuantizer(cfg, weights=weights)
    wport = dut.weight_w if kind == "weight" else dut.threshold_w
    rport, dport = ((dut.weight_r, dut.weight_d) if kind == "weight"
                    else (dut.threshold_r, dut.threshold_d))
    taken, reads = {}, []

    async def transfer(ctx, port, edge):
        """Hold ``port`` valid until it is taken; the clock edge count after it."""
        ctx.set(port.valid, 1)
        while True:
            *_, ready = await ctx.tick().sample(port.ready)      # as the edge saw it
            edge += 1
            if ready:
                ctx.set(port.valid, 0)
                return edge

    async def reader(ctx):
        edge = 0
        if lag < 0:
            await ctx.tick().repeat(-lag)
            edge -= lag
        for _ in range(2):
            ctx.set(rport.payload, addr)
            edge = await transfer(ctx, rport, edge)
            taken.setdefault("read", edge)
            ctx.set(dport.ready, 1)
            while True:
                *_, valid, value = await ctx.tick().sample(dport.valid, dport.payload)
                edge += 1
                if valid:
                    break
            ctx.set(dport.ready, 0)
            reads.append(int(value))
            await ctx.tick().repeat(3)
            edge += 3

    async def writer(ctx):
        edge = 0
        if lag > 0:
            await ctx.tick().repeat(lag)
            edge += lag
        ctx.set(wport.payload, {"addr": addr, "data": new})
        taken["write"] = await transfer(ctx, wport, edge)

    simulate(dut, [reader, writer])
    first = old if taken["read"] < taken["write"] else new
    assert reads == [first, new], (taken, reads)
