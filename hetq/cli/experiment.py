"""``hetq experiment`` and ``hetq bench``: the paper's evaluation grid and speed figures."""

import os
import time
from pathlib import Path

import numpy as np

from ..golden.network.model import validate_samples
from ..golden.network.synth import NOISE_VARIANTS, SESSIONS
from ..protocol import SOLVERS
from .common import CommandError, positive_int, progress

__all__ = ["add_commands"]


def cmd_experiment(args):
    from .. import experiment as ex
    from ..plots import plot_accuracy, plot_raster, plot_sd_utilisation, plot_utilisation

    _check_run_options(args)
    grid = dict(ex.QUICK) if args.quick else {}
    grid["solver"] = args.solver
    if args.duplication:
        grid["duplications"] = tuple(args.duplication)
    if args.folds:
        grid["folds"] = args.folds
    if args.conditions:
        grid["conditions"] = tuple(args.conditions)
    config = ex.ExperimentConfig(seed=args.seed, model=args.model, **grid)
    if args.data:
        sessions = [_data_session(args, config)]
    else:
        names = ex.SESSIONS if args.session == "all" else (args.session,)
        sessions = ex.paper_sessions(names, seed=args.seed, noise=args.noise)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    jobs = ex.plan(sessions, config)
    print(f"{len(jobs)} jobs: sessions {', '.join(s.name for s in sessions)}; conditions "
          f"{', '.join(config.conditions)}; D {', '.join(map(str, config.duplications))}; "
          f"{config.folds} folds; seed {config.seed}; {config.model} MC model", flush=True)
    records, elapsed, resumed = _run_jobs(args, sessions, config, out, len(jobs))
    summary = ex.summarise(records, config)
    print()
    for line in ex.format_summary(summary):
        print(line)
    ex.write_csv(summary, out / "summary.csv")
    ex.write_csv(ex.fold_table(records), out / "folds.csv")
    plot_accuracy(summary, out / "accuracy.png")
    plot_sd_utilisation(summary, out / "sd_utilisation.png")
    d_show = config.duplications[0]
    plot_utilisation(records, out / "utilisation.png", d_show)
    examples, labels = ex.example_readouts(sessions[0], config, d_show)
    plot_raster(examples, labels, out / "raster.png")
    written = ["summary.csv", "folds.csv", "jobs.csv", "accuracy.png", "sd_utilisation.png",
               "utilisation.png", "raster.png"]
    if not args.data:
        written += _paper_comparison(summary, config, args, out)
    where = (f"on the Dask cluster {args.scheduler}" if args.scheduler else
             f"with {args.jobs or os.cpu_count()} processes")
    ran = f"{len(jobs) - resumed} jobs" + (f" ({resumed} more resumed from jobs.csv)"
                                           if resumed else "")
    print(f"\n{ran} in {elapsed:.1f} s {where}; wrote {', '.join(written)} to {out}")


def _check_run_options(args):
    """Options of where and how the jobs run (--scheduler, --jobs, --resume)."""
    from ..experiment import parse_scheduler
    if args.scheduler is not None:
        parse_scheduler(args.scheduler)
        if args.jobs is not None:
            raise ValueError("--jobs sets the local process pool; with --scheduler the "
                             "cluster's workers run the jobs (local:N sets their number)")


def _run_jobs(args, sessions, config, out, total):
    """Run the experiment's jobs, appending each to OUT/jobs.csv as it finishes (resuming an
    earlier run's jobs.csv with --resume). Returns (records, seconds, jobs resumed)."""
    from .. import experiment as ex
    log = ex.JobLog(out, ex.run_parameters(sessions, config), resume=args.resume)
    resumed = len(log.records)
    if args.resume:
        print(f"resuming: {resumed} of {total} jobs already in {log.path}" if log.records else
              f"--resume: no earlier jobs in {out}, starting from the first", flush=True)
    elif log.path.exists():
        print(f"{log.path} of an earlier run will be replaced (--resume would continue it)",
              flush=True)
    t0 = time.perf_counter()
    try:
        with progress(total - resumed, "experiment", args.quiet, unit="job") as step:
            records = ex.run_experiment(sessions, config, jobs=args.jobs, progress=step,
                                        scheduler=args.scheduler, done=log.records,
                                        on_record=log.append)
    except KeyboardInterrupt:
        log.close()
        raise CommandError(f"interrupted; the finished jobs are in {log.path}: run the same "
                           f"command with --resume to continue") from None
    except BaseException:
        log.close()
        raise
    log.close(records)
    return records, time.perf_counter() - t0, resumed


def _paper_comparison(summary, config, args, out):
    """Print ours next to the published tables, write paper.csv and paper.png."""
    from ..paper import compare, format_comparison, write_comparison
    from ..plots import plot_paper
    cells = compare(summary)
    settings = {"seed": (config.seed, 314), "noise": (args.noise, "config"),
                "folds": (config.folds, 8), "model": (config.model, "float")}
    other = [f"{k} {a} (paper: {b})" for k, (a, b) in settings.items() if a != b]
    print("\nSide by side with the published tables (Moyal et al. 2025; ours, then the "
          "paper's mean ± fold SD)" + (f"; this run differs from the paper's settings: "
                                        f"{', '.join(other)}" if other else ""))
    for line in format_comparison(cells):
        print(line)
    if not cells:
        return []
    write_comparison(cells, out / "paper.csv")
    plot_paper(cells, out / "paper.png")
    return ["paper.csv", "paper.png"]


def _data_session(args, config):
    from ..datasets import load_drift, load_labelled, resample
    from ..experiment import Session
    path = Path(args.data)
    if path.is_dir() or path.suffix == ".dat":
        sensors = tuple(int(s) for s in args.sensors.split(",")) if args.sensors else tuple(range(8))
        x, y, _ = load_drift(path, sensors=sensors, feature=args.feature)
        what = f"drift data, sensors {sensors}, feature {args.feature}"
    else:
        x, y = load_labelled(path, label_column=args.label_column)
        what = "labelled data"
    x, y, shift = resample(x, y, args.shots * config.folds, seed=config.seed)
    validate_samples(x, name=str(path))
    note = f"{what}: {len(np.unique(y))} classes x {args.shots * config.folds} samples"
    if shift:
        note += f", shifted by {shift:g}"
    print(f"{path}: {note}")
    return Session(path.stem, x, y, note=note)


def cmd_bench(args):
    from ..bench import bench_golden
    if args.solvers and not args.grid:
        raise ValueError("--solvers applies to --grid")
    print("one Concentration fold: calibrate + fit 16 samples, process 112, 300 steps each")
    bench_golden(tuple(args.duplication), repeats=args.repeats, numpy_engine=not args.no_numpy)
    if args.grid:
        from ..bench import bench_grid
        print()
        bench_grid(tuple(args.solvers or SOLVERS), jobs=args.jobs,
                   progress=lambda total, desc: progress(total, desc, False, unit="job"))


def add_commands(sub):
    """Register ``experiment`` and ``bench``."""
    e = sub.add_parser("experiment", help="the paper's evaluation grid: tables, CSV and PNG")
    e.add_argument("--session", choices=SESSIONS + ("all",), default="all")
    e.add_argument("--conditions", nargs="+", choices=("homogeneous", "uniform", "scaled",
                                                       "adaptive"), metavar="COND",
                   help="homogeneous uniform scaled adaptive (default: all)")
    e.add_argument("--duplication", "-D", nargs="+", type=positive_int, metavar="D",
                   help="default 4 8 16 32")
    e.add_argument("--folds", type=positive_int, help="default 8")
    e.add_argument("--jobs", "-j", type=positive_int, help="worker processes (default: cores)")
    e.add_argument("--quick", action="store_true", help="a reduced grid: D 4 and 8 only")
    e.add_argument("--model", choices=("float", "fixed"), default="float",
                   help="MC layer: the float model, or the hardware's fixed-point quantizer")
    e.add_argument("--seed", type=int, default=314)
    e.add_argument("--noise", choices=NOISE_VARIANTS, default="config")
    e.add_argument("--data", metavar="PATH",
                   help="labelled data instead of the synthetic sessions: a drift-dataset "
                        "batch*.dat file or folder, .csv/.npy with a label column, or .npz")
    e.add_argument("--sensors", help="drift data: comma-separated sensors (default 0-7)")
    e.add_argument("--feature", type=int, default=0, help="drift data: feature 0-7 (default 0)")
    e.add_argument("--label-column", type=int, default=-1,
                   help=".csv/.npy data: the label column (default: last)")
    e.add_argument("--shots", type=positive_int, default=2,
                   help="training samples per class and fold (default 2)")
    e.add_argument("-q", "--quiet", action="store_true")
    e.add_argument("-o", "--output", required=True, metavar="DIR")
    e.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the jobs on Dask: tcp://HOST:8786 (a running scheduler) or "
                        "local:N (a local cluster of N worker processes); see docs/cluster.md")
    e.add_argument("--resume", action="store_true",
                   help="keep the jobs already in DIR/jobs.csv (an interrupted run with the "
                        "same parameters) and run only the others")
    e.add_argument("--solver", choices=SOLVERS, default="libsvm",
                   help="SVM solver: libsvm (default) or sklearn (the reference, one SVC per "
                        "fit, slower); both give the same results")
    e.set_defaults(func=cmd_experiment)

    b = sub.add_parser("bench", help="speed figures")
    b.add_argument("target", choices=("golden",))
    b.add_argument("--duplication", "-D", nargs="+", type=positive_int, default=[4, 32],
                   metavar="D")
    b.add_argument("--repeats", type=positive_int, default=5)
    b.add_argument("--no-numpy", action="store_true", help="skip the NumPy-engine comparison")
    b.add_argument("--grid", action="store_true",
                   help="also time the full experiment grid with each solver, side by side, "
                        "and check that they give the same records")
    b.add_argument("--solvers", nargs="+", choices=SOLVERS, metavar="SOLVER",
                   help="--grid: the solvers to time (default: libsvm sklearn)")
    b.add_argument("--jobs", "-j", type=positive_int)
    b.set_defaults(func=cmd_bench)

