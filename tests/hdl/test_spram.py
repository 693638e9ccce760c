"""The GC layer's synapse table in SPRAM (hetq.hdl.spram.SynapseSPRAM) in Amaranth's
simulator against a plain memory: a read stream of consecutive synapses with idle clocks
and the write-back of the same stream some clocks behind (as the STDP sweep and CLAMP),
so that reads and writes meet in one bank and the writes wait; host writes of each field
alone; the overflow flag when the reads are not consecutive; the refusals."""

import numpy as np
import pytest

from hetq.hdl.spram import SPRAM, SPRAM_SYNAPSES, SynapseSPRAM
from hetq.sim.kit.amaranth_sim import simulate


def _sweep(rng, depth, n, idle):
    """``n`` clocks of reads: consecutive synapses from a random start (wrapping), an idle
    clock with probability ``idle``."""
    k = int(rng.integers(depth))
    out = []
    for _ in range(n):
        if rng.random() < idle:
            out.append(None)
        else:
            out.append(k)
            k = (k + 1) % depth
    return out


@pytest.mark.parametrize("lag, idle, late", [(7, 0.15, False), (2, 0.3, False),
                                             (4, 0.15, True),    # the compact GC layer's
                                             pytest.param(1, 0.0, False, marks=pytest.mark.slow),
                                             pytest.param(10, 0.5, False, marks=pytest.mark.slow)])
def test_reads_and_lagging_writes_equal_a_memory(lag, idle, late):
    depth, wbits, gbits = 96, 21, 10
    rng = np.random.default_rng(lag)
    dut = SynapseSPRAM(depth, wbits, gbits, late_check=late)
    rd, wr = dut.rd, dut.wr
    ref_w = rng.integers(0, 1 << wbits, depth)
    ref_g = rng.integers(0, 1 << gbits, depth)
    reads = _sweep(rng, depth, 1500, idle)
    seen = {"checked": 0, "met": 0, "overflow": 0}

    async def bench(ctx):
        # fill the table by host writes (the weight and the GC of a synapse separately)
        for k in rng.permutation(depth):
            for port, data in ((wr["w"], ref_w[k]), (wr["fan"], ref_g[k])):
                ctx.set(port.addr, int(k))
                ctx.set(port.data, int(data))
                ctx.set(port.en, 1)
                await ctx.tick()
                ctx.set(port.en, 0)
        # the sweep: read k, write back the synapse read `lag` clocks before (a new weight)
        mem_w = ref_w.copy()
        for t, k in enumerate(reads + [None] * (lag + 1)):
            back = reads[t - lag] if t >= lag and t - lag < len(reads) else None
            ctx.set(dut.rd_need, k is not None)
            ctx.set(rd["w"].addr, 0 if k is None else k)
            new = int(rng.integers(0, 1 << wbits))
            ctx.set(wr["w"].en, back is not None)
            if back is not None:
                ctx.set(wr["w"].addr, back)
                ctx.set(wr["w"].data, new)
                seen["met"] += k is not None and k % 2 == back % 2
            read_now = None if k is None else (int(mem_w[k]), int(ref_g[k]))
            if back is not None:
                mem_w[back] = new                      # effective after this clock
            await ctx.tick()
            seen["overflow"] += int(ctx.get(dut.overflow))    # (registered: this clock's)
            if read_now is not None:
                assert (int(ctx.get(rd["w"].data)), int(ctx.get(rd["fan"].data))) == read_now
                seen["checked"] += 1
        ctx.set(wr["w"].en, 0)
        # every synapse read back (no writes)
        for k in range(depth):
            ctx.set(dut.rd_need, 1)
            ctx.set(rd["w"].addr, k)
            await ctx.tick()
            assert (int(ctx.get(rd["w"].data)), int(ctx.get(rd["fan"].data))) == \
                (int(mem_w[k]), int(ref_g[k])), k

    simulate(dut, [bench])
    assert seen["checked"] > 600
    assert seen["met"] > 50 or lag % 2 == 1 and idle == 0    # writes waited for their bank
    assert seen["overflow"] == 0


@pytest.mark.parametrize("late", [False, True])
def test_overflow_when_a_bank_is_read_in_consecutive_clocks(late):
    """Reads of synapses 0, 2, 4, ... (one bank, every clock) and writes into that bank every
    clock: the first write (registered, at the bank a clock later) waits, every later one
    finds the bank read and its pending entry full, and ``overflow`` says so (with
    ``late_check`` a clock later)."""
    dut = SynapseSPRAM(64, 21, 8, late_check=late)
    flags = []

    async def bench(ctx):
        for t in range(8):
            ctx.set(dut.rd_need, 1)
            ctx.set(dut.rd["w"].addr, 2 * t)
            ctx.set(dut.wr["w"].addr, 2 * t + 20)
            ctx.set(dut.wr["w"].data, t)
            ctx.set(dut.wr["w"].en, 1)
            await ctx.tick()
            flags.append(int(ctx.get(dut.overflow)))          # this clock's (registered)

    simulate(dut, [bench])
    first = 3 if late else 2
    assert flags[:first] == [0] * first and all(flags[first:])


def test_late_check_flags_a_clash_of_the_two_write_ports():
    """The weight and the GC of two different synapses written in one clock: ``overflow``
    the clock after (``late_check``: the clock after that)."""
    for late in (False, True):
        dut = SynapseSPRAM(64, 21, 8, late_check=late)
        flags = []

        async def bench(ctx):
            for t in range(4):
                for port, addr in ((dut.wr["w"], 3), (dut.wr["fan"], 5)):
                    ctx.set(port.addr, addr)
                    ctx.set(port.en, t == 0)
                await ctx.tick()
                flags.append(int(ctx.get(dut.overflow)))

        simulate(dut, [bench])
        assert flags == ([0, 1, 0, 0] if late else [1, 0, 0, 0]), (late, flags)


def test_refusals():
    with pytest.raises(ValueError, match=f"at most|1 to {SPRAM_SYNAPSES}"):
        SynapseSPRAM(SPRAM_SYNAPSES + 1, 21, 10)
    with pytest.raises(ValueError, match="1 to 28 bits"):
        SynapseSPRAM(64, 29, 10)
    from amaranth.back import rtlil
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    with pytest.raises(ValueError, match="iCE40UP only"):
        rtlil.convert(SPRAM(), platform=ULX3S_85F_Platform())


def test_the_gc_layer_refuses_more_synapses_than_the_spram_holds():
    from hetq.golden.fixed.gc_layer import GCLayerConfig
    from hetq.hdl.gc_layer import GCLayer

    with pytest.raises(ValueError, match="at most 32768 synapses"):
        GCLayer(GCLayerConfig(mcs=64, gcs=1024, synapses=SPRAM_SYNAPSES + 1, spram=True))
    with pytest.raises(ValueError, match=r"\(spram\) and the GC->MC path \(iic\) are not "
                                         r"verified together"):
        GCLayer(GCLayerConfig(mcs=8, gcs=16, synapses=64, spram=True, iic=True))


def test_spram_is_refused_where_it_does_not_apply(tmp_path, capsys):
    """Not on the ULX3S (block and system), not without a GC layer, not for other blocks."""
    from hetq.boards.flow import build
    from hetq.boards.operations import board_config
    from hetq.cli import main
    from hetq.golden.fixed.gc_layer import GCLayerConfig

    with pytest.raises(ValueError, match="iCE40UP5K only, not on the ulx3s"):
        build("ulx3s", tmp_path, GCLayerConfig(mcs=8, gcs=16, spram=True))
    with pytest.raises(ValueError, match="applies to the iCEBreaker"):
        board_config("ulx3s", gcs="auto", spram=True)
    with pytest.raises(ValueError, match="give --gc"):
        board_config("icebreaker", spram=True)
    assert board_config("icebreaker", duplication=2, gcs="auto", spram=True).gc.spram
    assert main(["build", "mc-array", "--board", "icebreaker", "--spram", "-o",
                 str(tmp_path)]) != 0
    assert "--spram applies to gc-layer and system, not mc-array" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
