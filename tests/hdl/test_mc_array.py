"""The MC array RTL in Amaranth's simulator against the golden model: every spike, every
state write-back, the state memories read at cycle ends, the equivalence with the phase
quantizer, lanes, inhibition, back-pressure, throughput and parameter errors."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from hetq.golden.fixed.formats import CYCLE, DEFAULT_FORMAT
from hetq.golden.fixed.neuron import lif_phase
from hetq.golden.fixed.mc_array import (MCArrayConfig, MCArrayModel, SensorMCArrayConfig,
                                        cycle_phases, drive_transfers)
from hetq.hdl.mc_array import MCArray, SensorMCArray
from hetq.sim.kit.amaranth_sim import simulate
from hetq.sim.mc_array.amaranth_bench import run_array_amaranth
from hetq.sim.mc_array.stimulus import expected_array, make_array_stimulus
from hetq.sim.quantizer.stimulus import Write

F = DEFAULT_FORMAT


def design(sensors, duplication, **kwargs):
    return SensorMCArrayConfig.make(sensors=sensors, duplication=duplication, **kwargs)


def check(stim, res):
    exp = expected_array(stim, res.order)
    np.testing.assert_equal(res.events, exp.array.events)
    np.testing.assert_equal(res.voltage, exp.array.voltage)
    np.testing.assert_equal(res.refractory, exp.array.refractory)
    assert res.peeks >= len(stim.samples) * stim.window // CYCLE
    return exp


@pytest.mark.parametrize("sensors, duplication, lanes, n, stall, compact", [
    (8, 4, 1, 14, 0.0, False),   # 32 MCs, one lane: the edge cases and a few random samples
    (8, 4, 4, 8, 0.3, False),    # four lanes, random idle cycles and back-pressure
    (2, 4, 8, 6, 0.2, False),    # one group per step: every step waits for the write-back
    # the compact pipeline (write stage 3): 8 MCs in one lane (the iCEBreaker's D = 1), 4
    # groups (the fewest without a wait), 1 group (every step waits)
    (8, 1, 1, 12, 0.0, True),
    (4, 2, 2, 6, 0.3, True),
    (2, 4, 8, 4, 0.2, True),
])
def test_spike_phases_equal_the_quantizer(sensors, duplication, lanes, n, stall, compact):
    stim = make_array_stimulus(sensors * 10 + lanes, n,
                               design(sensors, duplication, lanes=lanes, hold=100, rinse=50,
                                      compact=compact),
                               threshold_writes=False)
    assert any(w.kind == "weight" for w in stim.writes)
    res = run_array_amaranth(stim, seed=lanes, stall=stall)
    exp = check(stim, res)
    phases = cycle_phases(res.events, samples=n, mcs=stim.mcs, hold=100, rinse=50)
    np.testing.assert_equal(phases[:, :2], np.repeat(exp.phases[:, None], 2, axis=1))
    np.testing.assert_equal(phases[:, 2], 0)
    assert len(res.events) > 0


def test_rewritten_thresholds_do_not_change_the_neurons():
    """The array integrates the drive: a threshold write changes the quantizer's phase, not
    the spike phase, which stays the neuron's (lif_phase of the drive)."""
    stim = make_array_stimulus(5, 20, design(2, 4, hold=50, rinse=0), writes=False)
    stim.quant.writes = [Write("threshold", 0, F.drive_max, delay=2000)]   # rheobase up
    res = run_array_amaranth(stim, seed=2)
    exp = check(stim, res)
    phases = cycle_phases(res.events, samples=20, mcs=8, hold=50, rinse=0)[:, 0]
    np.testing.assert_equal(phases, lif_phase(exp.drives))
    assert not np.array_equal(phases, exp.phases)
    assert ("write", 0) in res.order[:-4]


@pytest.mark.parametrize("sensors, duplication, lanes, stall, compact", [
    (3, 4, 2, 0.2, False),
    (1, 1, 1, 0.0, False),
    (4, 8, 1, 0.1, False),
    (3, 4, 2, 0.2, True),        # compact: 6 groups, stalls
    (1, 1, 1, 0.0, True),        # one MC: every step waits for the write-back
    (2, 2, 1, 0.1, True),        # 4 groups: write-back and the next read one cycle apart
])
def test_random_extra_currents(sensors, duplication, lanes, stall, compact):
    stim = make_array_stimulus(77 + lanes, 6, design(sensors, duplication, lanes=lanes,
                                                     hold=50, rinse=50, inhibition=True,
                                                     compact=compact))
    res = run_array_amaranth(stim, seed=5, stall=stall)
    check(stim, res)
    # the constant extreme currents of the edge windows really reach the array
    assert res.voltage[stim.window:2 * stim.window].min() < -120 * 65536


@pytest.mark.parametrize("compact", [False, True])
def test_a_wrong_expectation_is_caught(compact):
    stim = make_array_stimulus(4, 3, design(2, 4, hold=50, rinse=0, inhibition=True,
                                            compact=compact))
    res = run_array_amaranth(stim, seed=1)
    stim.extra[1, 10, 3] += 1 << 16                 # the bench drove other currents
    exp = expected_array(stim, res.order)
    assert not np.array_equal(res.voltage, exp.array.voltage)


def _bare_run(mcs, lanes, drives, hold=50, rinse=0, ready=None, ends=False, compact=False):
    """Drive a bare MCArray with preloaded drive vectors; returns the events and the cycle of
    every state write-back (with ``ends`` the events are ``(step, mc, end)``)."""
    config = MCArrayConfig(mcs=mcs, lanes=lanes, hold=hold, rinse=rinse, compact=compact)
    dut = MCArray(config, monitor=True, ends=ends)

    def event(payload):
        return (int(payload.step), int(payload.mc)) + ((int(payload.end),) if ends else ())
    transfers = drive_transfers(drives)
    writes, events = [], []
    n = len(drives)

    async def source(ctx):
        for mc, d, last in transfers:
            ctx.set(dut.i.payload, {"mc": int(mc), "drive": int(d), "last": int(last)})
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        cycle = 0
        while len(writes) < n * (hold + rinse) * (mcs // lanes):
            ctx.set(dut.o.ready, 1 if ready is None else ready(cycle))
            _, _, mon_valid, valid, rdy, payload = await ctx.tick().sample(
                dut.monitor.valid, dut.o.valid, dut.o.ready, dut.o.payload)
            cycle += 1
            if mon_valid:
                writes.append(cycle)
            if valid and rdy:
                events.append(event(payload))
        ctx.set(dut.o.ready, 1)
        for _ in range(100):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                events.append(event(payload))

    simulate(dut, [source, sink])
    return (config, np.array(events, dtype=np.int64).reshape(-1, 3 if ends else 2),
            np.array(writes))


@pytest.mark.parametrize("mcs, lanes, compact", [
    (32, 2, False), (8, 4, False), (1, 1, False),
    (32, 2, True), (8, 4, True), (1, 1, True), (4, 1, True), (12, 4, True)])
def test_cycles_per_step_and_per_sample(mcs, lanes, compact):
    drives = np.random.default_rng(mcs).integers(0, F.drive_max + 1, (3, mcs))
    dut, events, writes = _bare_run(mcs, lanes, drives, compact=compact)   # dut: the config
    write_stage = 3 if compact else 10
    assert dut.write_stage == write_stage
    groups = mcs // lanes
    per_step = writes.reshape(-1, groups)[:, 0]
    gaps = np.diff(per_step)
    window_ends = np.arange(1, 3) * 50
    inside = np.delete(gaps, window_ends - 1)
    assert (inside == dut.cycles_per_step).all()
    # one cycle between windows, hidden by the wait for the write-back when it is needed
    gap = 1 if groups > write_stage else 0
    assert (gaps[window_ends - 1] == dut.cycles_per_step + gap).all()
    assert per_step[100] - per_step[50] == dut.cycles_per_sample
    assert dut.cycles_per_step == (groups if groups > write_stage else groups + write_stage)
    assert dut.cycles_per_cycle == 50 * dut.cycles_per_step
    np.testing.assert_equal(events, MCArrayModel(MCArrayConfig(mcs=mcs, hold=50, rinse=0)).run(drives).events)


@pytest.mark.parametrize("compact", [False, True])
def test_held_back_spikes_are_not_lost(compact):
    """Every MC fires in the same step of every cycle; o.ready is low for 3000 cycles at a
    time, so the spike FIFO fills and the array waits."""
    mcs = 64
    drives = np.full((2, mcs), F.drive_max)
    _, events, writes = _bare_run(mcs, 1, drives, hold=100, rinse=50,
                                  ready=lambda c: int((c // 3000) % 2 == 1), compact=compact)
    expected = MCArrayModel(MCArrayConfig(mcs=mcs, hold=100, rinse=50)).run(drives).events
    assert len(expected) == 2 * 2 * mcs
    np.testing.assert_equal(events, expected)
    assert writes[-1] > 2 * 150 * mcs + 3000       # the array did wait


@pytest.mark.parametrize("mcs, lanes, hold, rinse, stall, compact", [
    (16, 1, 50, 50, False, False), (8, 4, 100, 0, True, False), (64, 2, 50, 50, True, False),
    (16, 1, 50, 50, True, True), (8, 4, 100, 0, True, True), (8, 2, 50, 0, False, True)])
def test_end_markers_close_every_step(mcs, lanes, hold, rinse, stall, compact):
    """With ``ends``: the spikes are the model's, and after the spikes of every step of every
    window (hold and rinse) comes one marker of that step (``mc`` 0), also when the output
    stalls; the first sample saturates every MC."""
    rng = np.random.default_rng(mcs + hold)
    drives = rng.integers(0, F.drive_max + 1, (3, mcs))
    drives[0] = F.drive_max
    ready = (lambda c: int(c % 7 < 3 or (c // 500) % 2 == 1)) if stall else None
    config, events, _ = _bare_run(mcs, lanes, drives, hold=hold, rinse=rinse, ready=ready,
                                  ends=True, compact=compact)
    marker = events[:, 2] == 1
    expected = MCArrayModel(config).run(drives).events
    np.testing.assert_equal(events[~marker, :2], expected)
    steps = 3 * (hold + rinse)
    np.testing.assert_equal(events[marker, :2], np.stack([np.arange(steps),
                                                          np.zeros(steps, int)], axis=1))
    # each spike comes before its step's marker and after the previous one's
    ends_before = np.cumsum(marker) - marker         # markers before each transfer
    np.testing.assert_equal(ends_before[~marker], events[~marker, 0])


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(mcs=0), ValueError, "mcs must be in"),
    (dict(mcs=12, lanes=8), ValueError, "lanes must be a power of two that divides mcs"),
    (dict(mcs=12, lanes=3), ValueError, "lanes must be a power of two"),
    (dict(mcs=8, hold=75), ValueError, "hold must be a multiple of 50"),
    (dict(mcs=8, step_bits=60), ValueError, "step_bits must be in"),
    (dict(mcs=8, inhibition=1), TypeError, "inhibition must be a bool"),
    (dict(mcs=8, compact="yes"), TypeError, "compact must be a bool"),
    (dict(mcs=8, fmt=None), TypeError, "fmt must be a FixedFormat"),
])
def test_parameter_errors(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        MCArrayConfig(**kwargs)


def test_sensor_mc_array_errors_and_ports():
    with pytest.raises(ValueError, match="lanes must be a power of two"):
        design(3, 4, lanes=8)
    with pytest.raises(ValueError, match="duplication must be in"):
        design(3, 0)
    with pytest.raises(TypeError, match="config must be a SensorMCArrayConfig"):
        SensorMCArray(MCArrayConfig())
    plain = SensorMCArray(design(2, 4))
    assert "extra" not in plain.signature.members and "monitor" not in plain.signature.members
    inhibited = SensorMCArray(design(2, 4, lanes=2, inhibition=True), monitor=True)
    assert inhibited.signature.members["extra"].signature.members["payload"].shape.length == 2
    assert "monitor" in inhibited.signature.members
    assert inhibited.config.array.cycles_per_step == 4 + MCArrayConfig.WRITE_STAGE
    compact = SensorMCArray(design(2, 4, lanes=2, inhibition=True, compact=True), monitor=True)
    assert compact.signature == inhibited.signature
    # 4 groups: more than the compact write stage (3), so no step waits for the write-back
    assert compact.config.array.cycles_per_step == 4 and compact.config.array.write_stage == 3
    for dut in (plain, inhibited, compact):
        Fragment.get(dut, None)                     # elaborates (and uses) the hierarchy


def test_elaboration_leaves_the_component_unchanged():
    """The state memories are made with the component: elaborating twice gives two designs
    of the same memories and adds nothing to the component."""
    dut = MCArray(MCArrayConfig(mcs=8, lanes=2, hold=50, rinse=0))

    def own():                      # the component's attributes, not Amaranth's bookkeeping
        return {k: v for k, v in vars(dut).items() if not k.startswith("_MustUse")}

    before = (dut.state_memories, own())
    Fragment.get(dut, None)
    Fragment.get(dut, None)
    assert dut.state_memories == before[0] and own() == before[1]


@pytest.mark.parametrize("compact", [False, True])
def test_idle_falls_with_a_sample_and_rises_after_its_last_spike(compact):
    config = MCArrayConfig(mcs=8, lanes=1, hold=50, rinse=50, compact=compact)
    dut = MCArray(config)
    drives = np.full((1, 8), F.drive_max)                  # every MC fires in the first cycle
    trace = []

    async def bench(ctx):
        assert ctx.get(dut.idle)
        for mc, d, last in drive_transfers(drives):
            ctx.set(dut.i.payload, {"mc": int(mc), "drive": int(d), "last": int(last)})
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        for cycle in range(3000):
            ctx.set(dut.o.ready, int(cycle % 7 == 0))      # slow sink: spikes wait
            _, _, idle, valid, ready = await ctx.tick().sample(dut.idle, dut.o.valid, dut.o.ready)
            trace.append((bool(idle), bool(valid and ready)))

    simulate(dut, [bench])
    idle = np.array([i for i, _ in trace])
    spikes = np.nonzero([s for _, s in trace])[0]
    assert len(spikes) == 8 and not idle[:3].any()
    first_idle = int(np.argmax(idle))
    assert first_idle > spikes[-1] and idle[first_idle:].all()
