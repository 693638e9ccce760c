"""The OutputFIFO's contract in Amaranth's simulator: first word fall through, order kept under
random pushes and pops, capacity 2**bits + 1, and the reserve-before-write rule."""

from collections import deque

import numpy as np
import pytest

from hetq.hdl.fifo import OutputFIFO
from hetq.sim.kit.amaranth_sim import simulate


def run(fifo, cycles, want_write, want_read):
    """Drive ``fifo`` for ``cycles`` cycles. A write happens when ``want_write(cycle, stored)``
    (``stored``: entries written and not yet taken, as a writer counting credits knows it);
    ``r.ready`` is ``want_read(cycle)``. Returns the words written and the words taken."""
    written, taken = [], []
    state = {"stored": 0}

    async def bench(ctx):
        word = 1
        for cycle in range(cycles):
            write = bool(want_write(cycle, state["stored"]))
            ctx.set(fifo.w.valid, int(write))
            ctx.set(fifo.w.payload, word)
            ctx.set(fifo.r.ready, int(want_read(cycle)))
            _, _, valid, ready, payload = await ctx.tick().sample(
                fifo.r.valid, fifo.r.ready, fifo.r.payload)
            if write:
                written.append(word)
                word += 1
                state["stored"] += 1
            if valid and ready:
                taken.append(int(payload))
                state["stored"] -= 1
        ctx.set(fifo.w.valid, 0)

    simulate(fifo, [bench])
    return written, taken


@pytest.mark.parametrize("bits, p_write, p_read, seed", [
    (2, 0.5, 0.5, 1), (3, 0.9, 0.3, 2), (5, 0.7, 0.7, 3), (5, 0.3, 0.95, 4), (1, 1.0, 0.5, 5),
])
def test_random_pushes_and_pops_keep_order(bits, p_write, p_read, seed):
    """A writer that reserves (writes only while fewer than `capacity` entries are stored)
    and a reader with random ready: every word comes out once, in order (a deque model)."""
    fifo = OutputFIFO(16, bits)
    rng_w, rng_r = np.random.default_rng(seed).spawn(2)
    written, taken = run(fifo, 1500,
                         lambda c, stored: stored < fifo.capacity and rng_w.random() < p_write,
                         lambda c: rng_r.random() < p_read)
    model = deque(written)
    expected = [model.popleft() for _ in taken]
    assert taken == expected and len(taken) > 200
    assert len(written) - len(taken) <= fifo.capacity


def test_capacity_is_the_ram_and_the_output_register():
    fifo = OutputFIFO(8, 3)
    assert fifo.capacity == 9
    # fill with the reader stalled, then drain: all nine words are kept
    written, taken = run(fifo, 60, lambda c, stored: c < 9, lambda c: c >= 30)
    assert written == list(range(1, 10)) and taken == written


def test_a_writer_that_does_not_reserve_loses_words():
    """The FIFO has no full flag: one write beyond the capacity overwrites an entry, which is
    why every writer counts credits."""
    fifo = OutputFIFO(8, 3)
    written, taken = run(fifo, 60, lambda c, stored: c < 10, lambda c: c >= 30)
    assert len(written) == 10 and taken != written


def test_first_word_falls_through_in_two_cycles():
    fifo = OutputFIFO(8, 2)
    seen = []

    async def bench(ctx):
        ctx.set(fifo.r.ready, 0)
        ctx.set(fifo.w.valid, 1)
        ctx.set(fifo.w.payload, 42)
        await ctx.tick()
        ctx.set(fifo.w.valid, 0)
        for _ in range(4):
            seen.append((ctx.get(fifo.r.valid), ctx.get(fifo.r.payload)))
            await ctx.tick()

    simulate(fifo, [bench])
    assert seen[0][0] == 0 and seen[1] == (1, 42) and seen[3] == (1, 42)


@pytest.mark.parametrize("args, text", [((0, 3), "width must be in"), ((8, 0), "bits must be in"),
                                        ((8, 2.0), "bits must be an integer")])
def test_parameter_errors(args, text):
    with pytest.raises((TypeError, ValueError), match=text):
        OutputFIFO(*args)
