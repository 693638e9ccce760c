"""The GC layer RTL with its synapse tables in SPRAM (``GCLayerConfig(spram=True)``: the
twin of SB_SPRAM256KA, hetq.hdl.spram) in Amaranth's simulator against the golden model:
every GC spike, every weight after every sample (read back through the port), the GC state
and stamp memories, with learning on, off and toggled, weights loaded through the port,
CLAMP (which reads and writes one bank in every clock), input stalls and output
back-pressure; the weights a power-up gives without CONNECT; the cycles of every step equal
to the block-RAM layer's. Each case runs on the default and on the compact pipelines
(``compact=True``)."""

import numpy as np
import pytest

from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.hdl.gc_layer import GCLayer
from hetq.sim.gc_layer.amaranth_bench import check_gc, run_and_check, run_gc_amaranth
from hetq.sim.gc_layer.stimulus import expected_gc, make_gc_stimulus


def small(**kwargs):
    args = dict(mcs=8, gcs=16, synapses=64, hold=50, rinse=50, spram=True)
    args.update(kwargs)
    return GCLayerConfig(**args)


run = run_and_check


@pytest.mark.parametrize("compact", [False, True])
def test_learning_clamp_and_back_pressure_against_the_model(compact):
    """Edge and random weights loaded after CONNECT, learning on, on, off, CLAMP after the
    second sample, random input stalls and output back-pressure."""
    c = small(compact=compact)
    stim = make_gc_stimulus(41, c, 3, learn=[True, True, False])
    n = int(stim.mask.sum())
    p = c.params
    edges = np.array([0, p["w_max"], p["prune"] - 1, p["prune"], p["clamp"], p["clamp"] + 1,
                      p["w_max"] - 1, 1, p["w_init"]], dtype=np.int64)
    rng = np.random.default_rng(41)
    stim.weights = np.concatenate([edges, rng.integers(0, p["w_max"] + 1, n - len(edges))])
    stim.clamp_after = 1
    exp, res = run(stim, seed=41, stall=0.1, out_stall=0.3)
    assert len(exp.events) > 3 and (np.diff(exp.weights, axis=0) != 0).any()


@pytest.mark.parametrize("compact", [False, True])
def test_the_sweep_takes_the_cycles_of_the_block_ram_layer(compact):
    """One training window without stalls: every step takes as many clocks as with the
    tables in block RAM (one synapse per clock; the writes that wait for their bank cost
    nothing), and both are bit-exact."""
    c = small(rinse=0, compact=compact)
    stim = make_gc_stimulus(42, c, 1, learn=True)
    exp = expected_gc(stim)
    spram = run_gc_amaranth(stim, exp=exp)
    check_gc(stim, spram, exp)
    bram = run_gc_amaranth(type(stim)(**{**vars(stim), "config": c.replace(spram=False)}),
                           exp=exp)
    check_gc(stim, bram, exp)
    assert len(spram.step_ends) == c.window
    np.testing.assert_equal(np.diff(spram.step_ends), np.diff(bram.step_ends))


@pytest.mark.parametrize("compact", [False, True])
def test_power_up_fills_the_weights_without_connect(compact):
    """The SPRAM's contents are undefined at power-up (the twin's are random): the layer
    walks CONNECT's weight write by itself, so every weight reads back as 25 mV."""
    from hetq.sim.gc_layer.amaranth_bench import read_weights
    from hetq.sim.kit.amaranth_sim import simulate

    c = small(synapses=40, compact=compact)
    dut = GCLayer(c)
    got = []

    async def bench(ctx):
        assert not ctx.get(dut.idle)
        for _ in range(c.synapses + 8):
            await ctx.tick()
        assert ctx.get(dut.idle)
        got.extend(await read_weights(ctx, dut, range(c.synapses)))
        assert not ctx.get(dut.error)

    simulate(dut, [bench])
    np.testing.assert_equal(got, [c.params["w_init"]] * c.synapses)


@pytest.mark.slow
def test_mid_size_layer_with_spram():
    """More than 256 GCs: the GC index's high bits in block RAM beside the SPRAM."""
    c = GCLayerConfig(mcs=16, gcs=300, synapses=600, hold=50, rinse=50, spram=True)
    assert GCLayer(c).synapse_spram.layout == (6, 8, 1)
    stim = make_gc_stimulus(6, c, 2, learn=[True, False], density=0.15)
    exp, res = run(stim, seed=6, stall=0.1, out_stall=0.2)
    assert len(exp.events) > 20
