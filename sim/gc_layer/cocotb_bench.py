"""Running the GC layer's cocotb bench (:mod:`.cocotb_tb`) under Icarus Verilog."""

import numpy as np

from ...hdl.gc_lanes import gc_layer
from ..kit.cocotb_sim import run_result_bench
from .stimulus import save_gc_stimulus

__all__ = ["run_cocotb_gc"]


def run_cocotb_gc(stim, *, seed=0, stall=0.0, build_dir, waves=False, dut=None):
    """Run a :class:`~.stimulus.GCStimulus` through :mod:`hetq.sim.gc_layer.cocotb_tb`
    (raises :class:`~hetq.sim.kit.cocotb_sim.BenchFailure` on any mismatch); returns the
    saved events, weights and cycle count as a dict."""
    dut = gc_layer(stim.config) if dut is None else dut
    result, failure = run_result_bench(
        dut, "gc_layer", "hetq.sim.gc_layer.cocotb_tb", build_dir,
        lambda path: save_gc_stimulus(path, stim, seed=seed, stall=stall), waves=waves)
    if failure is not None:
        raise failure
    with np.load(result) as z:
        return {k: z[k] for k in z.files}
