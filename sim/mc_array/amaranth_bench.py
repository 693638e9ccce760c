"""Running an :class:`~.stimulus.ArrayStimulus` on the MC array in Amaranth's simulator.

Testbenches share the clock: a sample driver, a table-write driver and an extra-current
driver (each with seeded random idle cycles), a spike sink with a seeded random ``ready``,
and a monitor that records every state write-back and, at the end of chosen steps, reads the
state memories directly and checks them against the write-backs seen so far.
"""

import numpy as np

from ..kit.amaranth_sim import simulate, stream_source, write_driver
from ..kit.events import merge_order
from ..quantizer.stimulus import same_cycle_rule
from .stimulus import ArrayBenchResult, array_cycle_budget, build_array_dut

__all__ = ["run_array_amaranth"]


def _unpack_state(word, fmt):
    bits = fmt.state_bits
    v = word & ((1 << bits) - 1)
    return v - (1 << bits) if v >> (bits - 1) else v, (word >> bits) & 1, (word >> (bits + 1)) & 1


def run_array_amaranth(stim, *, seed=0, stall=0.0, peek_steps=None, dut=None, vcd=None):
    """Run ``stim`` through :class:`~hetq.hdl.mc_array.SensorMCArray` in Amaranth's
    simulator; returns an :class:`~.stimulus.ArrayBenchResult` with every spike and
    every state write-back.

    ``stall`` is the probability of an idle cycle of each source and of a low ``o.ready``
    (``seed`` seeds the patterns). ``peek_steps`` (default: the last step of every gamma
    cycle and the step 24 of the first cycle of every window) are steps at whose end the
    bench reads the state memories and raises AssertionError unless they hold exactly the
    write-backs of that step (voltage, refractory bit, and the "at threshold" bit equal to
    ``voltage == threshold``). ``vcd`` names a waveform file (opt-in).
    """
    dut = build_array_dut(stim) if dut is None else dut
    fmt, lanes, groups, mcs = stim.fmt, stim.lanes, stim.groups, stim.mcs
    steps = stim.steps
    if peek_steps is None:
        peek_steps = {s for s in range(steps) if s % 50 == 49 or s % stim.window == 24}
    peek_steps = set(peek_steps)
    rng_in, rng_w, rng_x, rng_out = np.random.default_rng(seed).spawn(4)
    sample_cycles, write_cycles, events = [], [], []
    voltage = np.zeros((steps, mcs), dtype=np.int64)
    refractory = np.zeros((steps, mcs), dtype=bool)
    timeout = array_cycle_budget(stim, stall)
    state = {"writes": 0, "last": 0, "peeks": 0}
    samples = [[int(v) for v in row] for row in stim.samples]

    async def samples_tb(ctx):
        await stream_source(ctx, dut.i, samples, rng_in, stall, sample_cycles)

    async def writes_tb(ctx):
        await write_driver(ctx, {"weight": dut.weight_w, "threshold": dut.threshold_w},
                           stim.writes, rng_w, write_cycles)

    async def extra_tb(ctx):
        words = stim.extra_words()
        if words is None:
            return
        await stream_source(ctx, dut.extra, [[int(v) for v in row] for row in words], rng_x,
                            stall, [])

    def peek(ctx, step):
        for lane, mem in enumerate(dut.array.state_memories):
            for g in range(groups):
                v, r, at = _unpack_state(ctx.get(mem.data[g]), fmt)
                mc = g * lanes + lane
                got, want = (v, r, at), (int(voltage[step, mc]), int(refractory[step, mc]),
                                         int(voltage[step, mc] == fmt.threshold))
                if got != want:
                    raise AssertionError(f"state memory after step {step}, MC {mc}: "
                                         f"(v, refractory, at threshold) = {got}, written "
                                         f"{want}")
        state["peeks"] += 1

    async def monitor_tb(ctx):
        cycle, expected = 0, steps * groups
        while state["writes"] < expected:
            _, _, mon = await ctx.tick().sample(dut.monitor)
            cycle += 1
            if mon.valid:
                k = state["writes"]
                step, g = divmod(k, groups)
                if int(mon.group) != g:
                    raise AssertionError(f"write-back {k}: group {int(mon.group)}, expected {g}")
                for lane in range(lanes):
                    voltage[step, g * lanes + lane] = int(mon.voltage[lane])
                    refractory[step, g * lanes + lane] = bool((int(mon.refractory) >> lane) & 1)
                state["writes"] = k + 1
                state["last"] = max(state["last"], cycle)
                if g == groups - 1 and step in peek_steps:
                    peek(ctx, step)        # after this edge, before any write of the next step
            if cycle > timeout:
                raise RuntimeError(f"only {state['writes']} of {expected} write-backs after "
                                   f"{timeout} cycles")

    async def sink_tb(ctx):
        cycle, quiet = 0, 0
        expected = steps * groups
        while state["writes"] < expected or quiet < 64:
            ctx.set(dut.o.ready, int(rng_out.random() >= stall))
            _, _, valid, ready, payload = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                                  dut.o.payload)
            cycle += 1
            if valid and ready:
                events.append((int(payload.step), int(payload.mc)))
                state["last"] = max(state["last"], cycle)
            quiet = 0 if valid else quiet + 1
            if cycle > timeout:
                raise RuntimeError(f"spikes still pending after {timeout} cycles")
        ctx.set(dut.o.ready, 0)

    simulate(dut, [samples_tb, writes_tb, extra_tb, monitor_tb, sink_tb], vcd=vcd)
    ev = np.array(events, dtype=np.int64).reshape(-1, 2)
    order = merge_order(sample_cycles, write_cycles, same_cycle_rule(stim.quant))
    return ArrayBenchResult(events=ev, voltage=voltage, refractory=refractory, order=order,
                            first_in=sample_cycles[0] if sample_cycles else 0,
                            last_out=state["last"], samples=len(stim.samples),
                            peeks=state["peeks"])
