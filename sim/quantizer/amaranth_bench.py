"""Running a quantizer :class:`~.stimulus.Stimulus` in Amaranth's simulator.

Three testbenches share the clock: a sample driver and a table-write driver, each with seeded
random idle cycles, and an output monitor with a seeded random ``ready``.
"""

import numpy as np

from ..kit.amaranth_sim import simulate, stream_sink, stream_source, write_driver
from ..kit.events import cycle_budget, merge_order
from .stimulus import BenchResult, build_dut, same_cycle_rule

__all__ = ["run_amaranth"]


def _record(payload):
    return (int(payload.mc), int(payload.drive), int(payload.phase), int(payload.last))


def run_amaranth(stim, *, seed=0, stall=0.0, dut=None, vcd=None):
    """Run ``stim`` in Amaranth's simulator; returns a :class:`~.stimulus.BenchResult`.

    ``stall`` is the probability of an idle source cycle and of a low ``ready`` at the
    sink; ``seed`` seeds those patterns. ``vcd`` names a waveform file (opt-in)."""
    dut = build_dut(stim) if dut is None else dut
    rng_in, rng_w, rng_out = np.random.default_rng(seed).spawn(3)
    sample_cycles, write_cycles, outputs = [], [], []
    timeout = cycle_budget(stim.period, len(stim.samples), stall=stall,
                           extra=sum(w.delay for w in stim.writes))
    samples = [[int(v) for v in row] for row in stim.samples]
    ports = {"weight": dut.weight_w, "threshold": dut.threshold_w}

    async def samples_tb(ctx):
        await stream_source(ctx, dut.i, samples, rng_in, stall, sample_cycles)

    async def writes_tb(ctx):
        await write_driver(ctx, ports, stim.writes, rng_w, write_cycles)

    async def monitor_tb(ctx):
        await stream_sink(ctx, dut.o, stim.outputs, rng_out, stall, _record, outputs, timeout)

    simulate(dut, [samples_tb, writes_tb, monitor_tb], vcd=vcd)
    records = np.array([r for _, r in outputs], dtype=np.int64).reshape(-1, 4)
    return BenchResult(records=records, order=merge_order(sample_cycles, write_cycles,
                                                         same_cycle_rule(stim)),
                       first_in=sample_cycles[0] if sample_cycles else 0,
                       last_out=outputs[-1][0] if outputs else 0, samples=len(stim.samples))
