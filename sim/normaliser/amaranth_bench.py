"""The normaliser in Amaranth's simulator: samples offered with seeded random idle cycles,
results taken with a seeded random ``ready``."""

import numpy as np

from ...hdl.normaliser import Normaliser
from ..kit.amaranth_sim import simulate, stream_sink, stream_source
from ..kit.events import cycle_budget

__all__ = ["run_normaliser_amaranth"]


def run_normaliser_amaranth(config, samples, *, seed=0, stall=0.0, dut=None):
    """Run raw sensor codes ``samples`` through :class:`~hetq.hdl.normaliser.Normaliser` of
    ``config``; returns ``(taken, outputs)``: the cycle of every input transfer and
    ``(cycle, codes)`` of every result (codes a list of UQ1.Fx ints)."""
    dut = Normaliser(config) if dut is None else dut
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    taken, outputs = [], []
    rows = [[int(v) for v in r] for r in samples]
    timeout = cycle_budget(config.period, len(rows), stall=stall)

    async def source(ctx):
        await stream_source(ctx, dut.i, rows, rng_in, stall, taken)

    async def sink(ctx):
        await stream_sink(ctx, dut.o, len(rows), rng_out, stall,
                          lambda p: [int(v) for v in p], outputs, timeout)

    simulate(dut, [source, sink])
    return taken, outputs
