"""Running the quantizer's cocotb bench (:mod:`.cocotb_tb`) under Icarus Verilog.

One build folder per run (the Verilog carries the initial tables, so it differs between
stimuli); the simulator log goes to ``<build_dir>/sim.log``.
"""

import numpy as np

from ..kit.cocotb_sim import BenchFailure, run_result_bench, saved_order
from .stimulus import BenchResult, build_dut, save_stimulus, toplevel

__all__ = ["run_cocotb"]


def run_cocotb(stim, *, seed=0, stall=0.0, build_dir, waves=False):
    """Run ``stim`` through :mod:`hetq.sim.quantizer.cocotb_tb` (raises
    :class:`~hetq.sim.kit.cocotb_sim.BenchFailure` on any mismatch) and return its
    :class:`~.stimulus.BenchResult`."""
    result, failure = run_result_bench(
        build_dut(stim), toplevel(stim), "hetq.sim.quantizer.cocotb_tb", build_dir,
        lambda path: save_stimulus(path, stim, seed=seed, stall=stall), waves=waves)
    with np.load(result) as z:
        res = BenchResult(records=z["records"], order=saved_order(z),
                          first_in=int(z["first_in"]), last_out=int(z["last_out"]),
                          samples=int(z["samples"]))
        mismatches = int(z["mismatches"])
    if failure is not None:
        raise BenchFailure(f"{mismatches} mismatching outputs; {failure}")
    return res
