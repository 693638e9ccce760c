"""The link's counters in Amaranth's simulator against a counting reference: random pulses
(within the sequencer's rate), clears, reads at any time, and the wrap-around at their width."""

import numpy as np
import pytest

from hetq.golden.fixed.link import COUNTERS
from hetq.hdl.link import Counters
from hetq.sim.kit.amaranth_sim import simulate

N = len(COUNTERS)


def run_counters(width, cycles, seed, *, clear_rate=0.002, read_rate=0.05):
    """Drive :class:`Counters` for ``cycles`` cycles with random pulses (each counter at most
    once per ``3 * N`` cycles, the documented rate), clears and reads. Returns
    ``(reads, final, wrapped)``: every read as ``(got, the reference's value when it was
    issued, whether the counters were idle then)``, the final values read when idle with the
    reference's, and whether a counter wrapped around."""
    rng = np.random.default_rng(seed)
    dut = Counters(width)
    mask = (1 << width) - 1
    ref = [0] * N
    last = [-3 * N] * N
    reads, final = [], []
    wrapped = [False]

    async def bench(ctx):
        issued = {}                           # cycle -> (expected value, idle)
        for cycle in range(cycles + 2):
            drive = cycle < cycles
            inc = 0
            for j in range(N):
                if drive and cycle - last[j] >= 3 * N and rng.random() < 0.04:
                    inc |= 1 << j
                    last[j] = cycle
            clear = drive and rng.random() < clear_rate
            read = drive and not clear and rng.random() < read_rate
            addr = int(rng.integers(0, N))
            ctx.set(dut.inc, inc)
            ctx.set(dut.clear, int(clear))
            ctx.set(dut.rread, int(read))
            ctx.set(dut.raddr, addr)
            if read:
                # idle: no count or clear in flight, so the RAM holds the reference
                issued[cycle] = (ref[addr], not ctx.get(dut.busy))
            # the reference: a clear zeroes everything but this cycle's pulses
            for j in range(N):
                if clear:
                    ref[j] = (inc >> j) & 1
                elif (inc >> j) & 1:
                    wrapped[0] |= ref[j] == mask
                    ref[j] = (ref[j] + 1) & mask
            await ctx.tick()
            # a read issued in cycle c is on rdata in cycle c + 2 (now is cycle + 1)
            if cycle - 1 in issued:
                want, idle = issued.pop(cycle - 1)
                reads.append((ctx.get(dut.rdata), want, idle))
        ctx.set(dut.inc, 0)
        ctx.set(dut.clear, 0)
        while ctx.get(dut.busy):
            await ctx.tick()
        for a in range(N):
            ctx.set(dut.raddr, a)
            ctx.set(dut.rread, 1)
            await ctx.tick()
            ctx.set(dut.rread, 0)
            await ctx.tick()
            final.append((ctx.get(dut.rdata), ref[a]))

    simulate(dut, [bench])
    return reads, final, wrapped[0]


@pytest.mark.parametrize("width, cycles, seed", [(32, 4000, 1), (4, 3000, 2), (1, 1500, 3)])
def test_counts_clears_and_wraps(width, cycles, seed):
    reads, final, wrapped = run_counters(width, cycles, seed)
    assert wrapped == (width < 32)           # the small widths went round
    got, want = zip(*final)
    np.testing.assert_equal(got, want)
    assert any(w != 0 for w in want)
    # a read issued while idle (no count or clear in flight) sees exactly the reference
    idle = [(g, w) for g, w, i in reads if i]
    assert len(idle) > 10
    np.testing.assert_equal(*zip(*idle))


def test_a_bad_width_is_refused():
    with pytest.raises(ValueError, match="width"):
        Counters(0)
