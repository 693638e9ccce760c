"""``hetq bench golden``: speed of the float model on one paper fold, and (``--grid``) of the
full experiment grid with each SVM solver side by side, printed as figures.

One fold of the Concentration session (16 training samples calibrated and fitted, 112 test
samples processed, 300 steps each, Uniform weights, 4 GCs per MC) at each D, timed for the
compiled engine (best of ``repeats``) and, side by side in the same run, once for the NumPy
step engine. The authors' reference takes about 60 s per fold at D = 4 and 200 s at D = 32 on
this machine (issue figures); their ratio to our time is printed too.
"""

import os
import time

import numpy as np

from .golden.network.connectivity import random_connectivity
from .golden.network.model import Network
from .golden.network.weights import WeightSpec
from .experiment import ExperimentConfig, paper_sessions, plan, run_experiment
from .protocol import SOLVERS, folds

__all__ = ["REFERENCE_FOLD_SECONDS", "time_fold", "bench_golden", "bench_grid", "same_records"]

#: Seconds per fold of the authors' implementation on this machine (from the issue).
REFERENCE_FOLD_SECONDS = {4: 60.0, 32: 200.0}


def time_fold(x, train, test, duplication, engine="numba", seed=0):
    """Seconds for calibrate, fit and process of one fold (network construction included)."""
    n_mc = x.shape[1] * duplication
    t = [time.perf_counter()]
    mask = random_connectivity(4 * n_mc, n_mc, 1 / duplication, seed)
    net = Network(np.zeros((n_mc, x.shape[1]), dtype=np.float32), n_gc=4 * n_mc,
                  connectivity=mask, engine=engine)
    net.calibrate(x[train], WeightSpec("uniform", duplication))
    t.append(time.perf_counter())
    net.fit(x[train])
    t.append(time.perf_counter())
    net.process(x[test])
    t.append(time.perf_counter())
    return np.diff(t)


def bench_golden(duplications=(4, 32), repeats=5, numpy_engine=True, out=print):
    """Print and return per-D figures: seconds per phase of a fold, samples/s, ratios."""
    session = paper_sessions(["concentration"])[0]
    train, test = next(folds(session.labels))
    x = session.samples
    time_fold(x, train[:2], test[:2], 4)  # compile / load the kernels
    rows = []
    out(f"{'D':>3} {'MCs':>4} {'GCs':>5} {'calib s':>8} {'fit s':>7} {'process s':>9} "
        f"{'fold s':>7} {'test samples/s':>14} {'numpy fold s':>12} {'vs numpy':>8} "
        f"{'vs reference':>12}")
    for d in duplications:
        best = min((time_fold(x, train, test, d) for _ in range(repeats)), key=sum)
        fold = float(best.sum())
        ref_np = float(time_fold(x, train, test, d, engine="numpy").sum()) if numpy_engine else None
        ref = REFERENCE_FOLD_SECONDS.get(d)
        row = {"duplication": d, "mcs": 8 * d, "gcs": 32 * d, "calibrate_s": float(best[0]),
               "fit_s": float(best[1]), "process_s": float(best[2]), "fold_s": fold,
               "samples_per_s": len(test) / float(best[2]), "numpy_fold_s": ref_np,
               "reference_ratio": None if ref is None else ref / fold}
        rows.append(row)
        out(f"{d:>3} {8 * d:>4} {32 * d:>5} {best[0]:>8.4f} {best[1]:>7.4f} {best[2]:>9.4f} "
            f"{fold:>7.4f} {row['samples_per_s']:>14.0f} "
            f"{'-' if ref_np is None else f'{ref_np:.2f}':>12} "
            f"{'-' if ref_np is None else f'{ref_np / fold:.0f}x':>8} "
            f"{'-' if ref is None else f'{ref / fold:.0f}x':>12}")
    return rows


def same_records(a, b):
    """True when two experiment records hold the same keys and the same values (arrays
    element for element)."""
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


def bench_grid(solvers=SOLVERS, jobs=None, progress=None, out=print):
    """Time the full grid (``hetq experiment``'s jobs, SVMs included) once per solver, side
    by side in this run, and check that every solver gives the first one's records (every
    chosen C and gamma, every accuracy and utilisation). Wall and CPU seconds (this process
    and its finished worker processes) are printed: on a shared machine the CPU time is the
    steadier figure. ``progress(total, desc)`` is a context manager yielding an ``update``.
    Returns {solver: wall seconds} and the number of records that differ from the first
    solver's."""
    sessions = paper_sessions()
    seconds, cpu, records = {}, {}, {}
    n = len(plan(sessions, ExperimentConfig()))
    for solver in solvers:
        config = ExperimentConfig(solver=solver)
        c0 = _cpu_seconds()
        t0 = time.perf_counter()
        if progress is None:
            records[solver] = run_experiment(sessions, config, jobs=jobs)
        else:
            with progress(n, f"full grid, {solver}") as step:
                records[solver] = run_experiment(sessions, config, jobs=jobs, progress=step)
        seconds[solver] = time.perf_counter() - t0
        cpu[solver] = _cpu_seconds() - c0
    first = solvers[0]
    differ = 0
    out(f"full grid ({n} jobs: 2 sessions x 4 conditions (Homogeneous x 10 gains) x D 4-32 x "
        f"8 folds, plus ET; SVMs included) with {jobs or os.cpu_count()} processes:")
    for solver in solvers:
        line = f"  {solver:<8} {seconds[solver]:7.1f} s wall, {cpu[solver]:7.1f} s CPU"
        if solver != first:
            bad = sum(not same_records(a, b) for a, b in zip(records[first], records[solver]))
            differ += bad
            line += (f"; {seconds[solver] / seconds[first]:.2f}x the {first} wall time, "
                     f"{cpu[solver] / cpu[first]:.2f}x its CPU time; records "
                     f"{'identical' if not bad else 'DIFFERENT'} to {first}'s "
                     f"({len(records[solver]) - bad} of {len(records[solver])} the same)")
        out(line)
    return seconds, differ


def _cpu_seconds():
    """User + system CPU seconds of this process and of its waited-for children."""
    import resource
    return sum(getattr(resource.getrusage(who), f) for who in
               (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
