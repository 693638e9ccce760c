"""The GC layer's cocotb bench on its generated Verilog under Icarus: every GC spike, the
weights and the GC state and stamp memories after every sample against the golden model
(with RESET and CLAMP between samples)."""

import numpy as np
import pytest

from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.sim.gc_layer.cocotb_bench import run_cocotb_gc
from hetq.sim.gc_layer.stimulus import expected_gc, make_gc_stimulus, save_gc_stimulus
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available, run_cocotb_module

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


@pytest.mark.parametrize("lanes", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_cocotb_gc_layer(tmp_path, lanes):
    """With lanes 3 (slow: about a minute) the bench writes and reads lane by lane and checks
    the state memories of every lane."""
    c = GCLayerConfig(mcs=8, gcs=16, synapses=64, hold=50, rinse=50, lanes=lanes)
    stim = make_gc_stimulus(11, c, 3, learn=[True, False, True])
    stim.clamp_after = 1
    stim.reset_after = 0
    out = run_cocotb_gc(stim, seed=3, stall=0.2, build_dir=tmp_path)
    exp = expected_gc(stim)
    np.testing.assert_equal(out["events"], exp.events)
    np.testing.assert_equal(out["weights"], exp.weights)
    assert len(exp.events) > 10 and int(out["error"]) == 0


def test_cocotb_gc_layer_with_iic(tmp_path):
    """The GC->MC path: every emitted current (after training, RESET, then a testing sample
    in which a -40 mV weight acts) equal to the model's."""
    c = GCLayerConfig(mcs=8, gcs=16, synapses=64, hold=100, rinse=50, iic=True)
    stim = make_gc_stimulus(13, c, 2, learn=[True, False])
    stim.iic_weight = -(40 << c.fmt.drive_frac)
    stim.reset_after = 0
    out = run_cocotb_gc(stim, seed=4, stall=0.2, build_dir=tmp_path)
    exp = expected_gc(stim)
    np.testing.assert_equal(out["events"], exp.events)
    assert (exp.iic != 0).sum() > 10 and int(out["error"]) == 0


def test_a_wrong_expectation_fails_the_gc_bench(tmp_path):
    """The design's window is 100 steps, the stimulus's 50: the design samples ``learn`` at
    the first step of its windows only, keeps learning through the second sample, and the
    bench must fail."""
    from hetq.hdl.gc_layer import GCLayer

    c = GCLayerConfig(mcs=8, gcs=16, synapses=64, hold=50, rinse=0)
    stim = make_gc_stimulus(12, c, 2, learn=[True, False])
    save_gc_stimulus(tmp_path / "bench.npz", stim)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(GCLayer(c.replace(hold=100)), "gc_layer",
                          "hetq.sim.gc_layer.cocotb_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})
