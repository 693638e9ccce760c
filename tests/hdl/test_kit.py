"""The HDL kit: the register slice (order, flow control, a registered ready) and checked
construction."""

import numpy as np
import pytest
from amaranth import unsigned

from hetq.hdl.kit import CheckedComponent, RegisterSlice
from hetq.sim.kit.amaranth_sim import simulate, stream_sink, stream_source


@pytest.mark.parametrize("stall, seed", [(0.0, 1), (0.4, 2), (0.8, 3)])
def test_register_slice_passes_every_word_in_order(stall, seed):
    dut = RegisterSlice(unsigned(12))
    words = [int(w) for w in np.random.default_rng(seed).integers(0, 1 << 12, 200)]
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    taken, out = [], []

    async def source(ctx):
        await stream_source(ctx, dut.i, words, rng_in, stall, taken)

    async def sink(ctx):
        await stream_sink(ctx, dut.o, len(words), rng_out, stall, int, out, 20000)

    simulate(dut, [source, sink])
    assert [w for _, w in out] == words


def test_register_slice_ready_is_a_flip_flop():
    """i.ready does not follow o.ready within a cycle (no combinational path through the
    slice), and a full slice holds its word until it is taken."""
    dut = RegisterSlice(unsigned(8))
    seen = []

    async def bench(ctx):
        ctx.set(dut.i.payload, 7)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()                                  # taken: the slice is full
        ctx.set(dut.i.valid, 0)
        for ready in (0, 0, 1):
            ctx.set(dut.o.ready, ready)
            seen.append((ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)))
            await ctx.tick()
        seen.append((ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)))

    simulate(dut, [bench])
    assert seen[:3] == [(0, 1, 7)] * 3 and seen[3][:2] == (1, 0)


def test_checked_component_raises_before_the_object_exists():
    class Block(CheckedComponent):
        made = 0

        @classmethod
        def check(cls, size):
            if size < 1:
                raise ValueError(f"size must be >= 1, not {size}")
            return size

        def __init__(self, size):
            type(self).made += 1
            super().__init__({})

    with pytest.raises(ValueError, match="size must be >= 1, not 0"):
        Block(0)
    assert Block.made == 0
