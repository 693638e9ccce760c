"""Build the generated Verilog and run a cocotb bench under Icarus Verilog.

One build folder per run (the Verilog carries the initial tables, so it differs between
stimuli); the simulator log goes to ``<build_dir>/sim.log``.
"""

import shutil
from pathlib import Path

import numpy as np

from .amaranth_bench import BenchResult, build_dut
from .stimulus import save_stimulus
from .verilog import write_verilog

__all__ = ["BenchFailure", "icarus_available", "run_cocotb", "run_cocotb_array", "run_cocotb_module",
           "run_cocotb_normaliser"]


class BenchFailure(AssertionError):
    """A cocotb bench reported a failing test; the message points at its log."""


def icarus_available():
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def run_cocotb_module(component, toplevel, module, build_dir, env, waves=False):
    """Convert ``component`` to ``<build_dir>/<toplevel>.v``, build it with Icarus and run the
    cocotb tests of ``module`` with the extra environment ``env``. Raises BenchFailure when a
    test fails."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    if not icarus_available():
        raise RuntimeError("Icarus Verilog (iverilog, vvp) is not installed; "
                           "run `make iverilog` or install the Debian package iverilog")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = write_verilog(component, toplevel, build_dir / f"{toplevel}.v")
    runner = get_runner("icarus")
    log = build_dir / "sim.log"
    runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                 timescale=("1ns", "1ps"), always=True, waves=waves, log_file=log)
    xml = build_dir / "results.xml"
    if xml.exists():
        xml.unlink()
    try:
        runner.test(test_module=module, hdl_toplevel=toplevel, build_dir=build_dir,
                    extra_env=env, waves=waves, log_file=log, results_xml=str(xml))
    except SystemExit:              # under pytest the runner exits on a failed test
        pass
    if not xml.exists():
        raise BenchFailure(f"cocotb bench {module} wrote no results (log: {log})")
    total, failed = get_results(xml)
    if total == 0 or failed:
        raise BenchFailure(f"cocotb bench {module}: {failed} of {total} tests failed "
                           f"(log: {log})")


def _order(result):
    """The acceptance order a bench saved (``order_kind``: write or not, ``order_index``)."""
    return [("write" if k else "sample", int(i))
            for k, i in zip(result["order_kind"], result["order_index"])]


def _run_result_bench(component, toplevel, module, build_dir, waves, save):
    """Save a bench's stimulus with ``save(path)``, run ``module`` on ``component`` and return
    the path of the result file the bench wrote and the :class:`BenchFailure` it raised (or
    None). Raises BenchFailure when the bench wrote no result."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    bench = build_dir / "stimulus.npz"
    save(bench)
    result = Path(f"{bench}.result.npz")
    if result.exists():
        result.unlink()
    failure = None
    try:
        run_cocotb_module(component, toplevel, module, build_dir, {"HETQ_BENCH": str(bench)},
                          waves=waves)
    except BenchFailure as e:
        failure = e
    if not result.exists():
        raise failure or BenchFailure(f"the bench wrote no result (log: {build_dir / 'sim.log'})")
    return result, failure


def run_cocotb(stim, *, seed=0, stall=0.0, build_dir, waves=False):
    """Run ``stim`` through :mod:`hetq.sim.quantizer_tb` (raises :class:`BenchFailure` on any
    mismatch) and return its :class:`~.amaranth_bench.BenchResult`."""
    toplevel = "phase_quantizer" if stim.normalised else "sensor_quantizer"
    result, failure = _run_result_bench(
        build_dut(stim), toplevel, "hetq.sim.quantizer_tb", build_dir, waves,
        lambda path: save_stimulus(path, stim, seed=seed, stall=stall))
    with np.load(result) as z:
        order = _order(z)
        res = BenchResult(records=z["records"], order=order, first_in=int(z["first_in"]),
                          last_out=int(z["last_out"]), samples=int(z["samples"]))
        mismatches = int(z["mismatches"])
    if failure is not None:
        raise BenchFailure(f"{mismatches} mismatching outputs; {failure}")
    return res


def run_cocotb_normaliser(samples, *, sensors, fmt, lanes=None, seed=0, stall=0.0, build_dir,
                          waves=False):
    """Run :mod:`hetq.sim.normaliser_tb` on ``samples`` (raw sensor codes); raises
    :class:`BenchFailure` on any mismatch."""
    from ..hdl.normaliser import Normaliser

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    bench = build_dir / "normaliser.npz"
    np.savez(bench, samples=np.asarray(samples, dtype=np.int64), sensors=sensors, seed=seed,
             stall=stall, fmt=np.array([fmt.sensor_bits, fmt.x_frac, fmt.weight_int,
                                        fmt.weight_frac, fmt.drive_int, fmt.drive_frac]))
    run_cocotb_module(Normaliser(sensors=sensors, fmt=fmt, lanes=lanes), "normaliser",
                      "hetq.sim.normaliser_tb", build_dir, {"HETQ_BENCH": str(bench)},
                      waves=waves)


def run_cocotb_array(stim, *, seed=0, stall=0.0, build_dir, waves=False):
    """Run an :class:`~.mc_array_stimulus.ArrayStimulus` through :mod:`hetq.sim.mc_array_tb`
    (raises :class:`BenchFailure` on any mismatch) and return its
    :class:`~.mc_array_stimulus.ArrayBenchResult`."""
    from .mc_array_stimulus import ArrayBenchResult, build_array_dut, save_array_stimulus

    result, failure = _run_result_bench(
        build_array_dut(stim), "sensor_mc_array", "hetq.sim.mc_array_tb", build_dir, waves,
        lambda path: save_array_stimulus(path, stim, seed=seed, stall=stall))
    if failure is not None:
        raise failure
    with np.load(result) as z:
        order = _order(z)
        return ArrayBenchResult(events=z["events"], voltage=z["voltage"],
                                refractory=z["refractory"], order=order,
                                first_in=int(z["first_in"]), last_out=int(z["last_out"]),
                                samples=int(z["samples"]), peeks=int(z["peeks"]))
