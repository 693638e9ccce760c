"""Running a :class:`~.stimulus.Stimulus` on the quantizer in Amaranth's simulator.

Three testbenches share the clock: a sample driver and a table-write driver, each with seeded
random idle cycles, and an output monitor with a seeded random ``ready``. Each counts clock
edges from the start, so the cycle numbers they record are comparable.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from ..hdl.quantizer import PhaseQuantizer, SensorQuantizer
from .stimulus import merge_order, same_cycle_rule

__all__ = ["BenchResult", "build_dut", "stream_source", "stream_sink", "write_driver",
           "run_amaranth"]


@dataclass
class BenchResult:
    """What a bench run returns.

    Members
    -------
    records : int64 array (outputs, 4)
        Output transfers (mc, drive, phase, last) in order.
    order : list
        Acceptance order of the events (see :func:`~.stimulus.merge_order`).
    first_in, last_out : int
        Clock edge of the first sample transfer and of the last output transfer.
    """

    records: np.ndarray
    order: list
    first_in: int
    last_out: int
    samples: int

    @property
    def cycles_per_sample(self):
        return (self.last_out - self.first_in + 1) / max(self.samples, 1)


def build_dut(stim):
    """The design a stimulus is meant for: :class:`PhaseQuantizer` for normalised samples,
    :class:`SensorQuantizer` for raw sensor codes."""
    cls = PhaseQuantizer if stim.normalised else SensorQuantizer
    return cls(sensors=stim.sensors, duplication=stim.duplication, fmt=stim.fmt,
               weights=np.asarray(stim.weights, dtype=np.int64))


def _idle(rng, stall):
    n = 0
    while stall and rng.random() < stall:
        n += 1
    return n


async def stream_source(ctx, port, payloads, rng, stall, taken, delays=None):
    """Offer ``payloads`` on ``port`` one after another, with a random number of idle cycles
    (each with probability ``stall``) plus ``delays[k]`` before payload k; append the clock
    edge of every transfer to ``taken``."""
    cycle = 0
    for k, payload in enumerate(payloads):
        for _ in range(_idle(rng, stall) + (delays[k] if delays is not None else 0)):
            await ctx.tick()
            cycle += 1
        ctx.set(port.payload, payload)
        ctx.set(port.valid, 1)
        while True:
            _, _, ready = await ctx.tick().sample(port.ready)
            cycle += 1
            if ready:
                break
        taken.append(cycle)
        ctx.set(port.valid, 0)


async def write_driver(ctx, dut, writes, rng, write_cycles):
    """Offer each table write (:class:`~.stimulus.Write`) on ``dut.weight_w`` or
    ``dut.threshold_w`` after its idle delay; append the clock edge of every transfer to
    ``write_cycles``."""
    cycle = 0
    for w in writes:
        port = dut.weight_w if w.kind == "weight" else dut.threshold_w
        for _ in range(w.delay):
            await ctx.tick()
            cycle += 1
        taken = []
        await stream_source(ctx, port, [{"addr": w.addr, "data": w.code}], rng, 0.0, taken)
        cycle += taken[0]
        write_cycles.append(cycle)


async def stream_sink(ctx, port, count, rng, stall, convert, out, timeout):
    """Take ``count`` transfers from ``port`` with ``ready`` low with probability ``stall`` in
    every cycle; append ``(cycle, convert(payload))`` to ``out``. Raises RuntimeError after
    ``timeout`` cycles."""
    cycle = 0
    while len(out) < count:
        ctx.set(port.ready, int(rng.random() >= stall))
        _, _, valid, ready, payload = await ctx.tick().sample(port.valid, port.ready,
                                                              port.payload)
        cycle += 1
        if valid and ready:
            out.append((cycle, convert(payload)))
        if cycle > timeout:
            raise RuntimeError(f"only {len(out)} of {count} outputs after {timeout} cycles")
    ctx.set(port.ready, 0)


def _record(payload):
    return (int(payload.mc), int(payload.drive), int(payload.phase), int(payload.last))


def run_amaranth(stim, *, seed=0, stall=0.0, dut=None, vcd=None):
    """Run ``stim`` in Amaranth's simulator; returns a :class:`BenchResult`.

    ``stall`` is the probability of an idle source cycle and of a low ``ready`` at the
    sink; ``seed`` seeds those patterns. ``vcd`` names a waveform file (opt-in)."""
    dut = build_dut(stim) if dut is None else dut
    rng_in, rng_w, rng_out = np.random.default_rng(seed).spawn(3)
    sample_cycles, write_cycles, outputs = [], [], []
    per_sample = max(stim.sensors * stim.duplication, stim.sensors + stim.fmt.x_bits + 3)
    timeout = int((len(stim.samples) + 4) * per_sample * (1 + 8 * stall) * 2
                  + sum(w.delay for w in stim.writes) + 200)
    samples = [[int(v) for v in row] for row in stim.samples]

    async def samples_tb(ctx):
        await stream_source(ctx, dut.i, samples, rng_in, stall, sample_cycles)

    async def writes_tb(ctx):
        await write_driver(ctx, dut, stim.writes, rng_w, write_cycles)

    async def monitor_tb(ctx):
        await stream_sink(ctx, dut.o, stim.outputs, rng_out, stall, _record, outputs, timeout)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(samples_tb)
    sim.add_testbench(writes_tb)
    sim.add_testbench(monitor_tb)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    records = np.array([r for _, r in outputs], dtype=np.int64).reshape(-1, 4)
    return BenchResult(records=records, order=merge_order(sample_cycles, write_cycles,
                                                         same_cycle_rule(stim)),
                       first_in=sample_cycles[0] if sample_cycles else 0,
                       last_out=outputs[-1][0] if outputs else 0, samples=len(stim.samples))
