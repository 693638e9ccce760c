"""Running the MC array's cocotb bench (:mod:`.cocotb_tb`) under Icarus Verilog."""

import numpy as np

from ..kit.cocotb_sim import run_result_bench, saved_order
from .stimulus import ArrayBenchResult, build_array_dut, save_array_stimulus

__all__ = ["run_cocotb_array"]


def run_cocotb_array(stim, *, seed=0, stall=0.0, build_dir, waves=False):
    """Run an :class:`~.stimulus.ArrayStimulus` through :mod:`hetq.sim.mc_array.cocotb_tb`
    (raises :class:`~hetq.sim.kit.cocotb_sim.BenchFailure` on any mismatch) and return its
    :class:`~.stimulus.ArrayBenchResult`."""
    result, failure = run_result_bench(
        build_array_dut(stim), "sensor_mc_array", "hetq.sim.mc_array.cocotb_tb", build_dir,
        lambda path: save_array_stimulus(path, stim, seed=seed, stall=stall), waves=waves)
    if failure is not None:
        raise failure
    with np.load(result) as z:
        return ArrayBenchResult(events=z["events"], voltage=z["voltage"],
                                refractory=z["refractory"], order=saved_order(z),
                                first_in=int(z["first_in"]), last_out=int(z["last_out"]),
                                samples=int(z["samples"]), peeks=int(z["peeks"]))
