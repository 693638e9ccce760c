"""``hetq experiment`` and ``hetq bench``: the paper's evaluation grid and speed figures."""

import os
import time
from pathlib import Path

import numpy as np

from ..golden.network.model import validate_samples
from ..golden.network.synth import NOISE_VARIANTS, SESSIONS
from ..protocol import SOLVERS
from ..io import check_output_dir
from .common import CommandError, add_text_options, positive_int, progress, seed_int

__all__ = ["add_commands"]


#: Files ``hetq experiment`` writes into its output folder.
EXPERIMENT_OUTPUTS = ("summary.csv", "folds.csv", "jobs.csv", "jobs.json", "accuracy.png",
                      "sd_utilisation.png", "utilisation.png", "raster.png", "paper.csv",
                      "paper.png", "against.csv")
#: Samples per class of the synthetic sessions (2 shots x 8 folds, docs/model.md section 11).
SYNTH_PER_CLASS = 16
#: Test samples per class the separability needs (2 halves x 4 folds, docs/model.md section 12).
TEST_PER_CLASS = 8


def _data_kind(path):
    """"drift" (a batch*.dat file or folder), "npz" or "table" (.csv/.npy with a label column)."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".dat":
        return "drift"
    return "npz" if path.suffix == ".npz" else "table"


def check_experiment_args(args):
    """Refuse options that do not apply or cannot work, before anything is read or created;
    fill in the defaults of the options left out. Sets ``args.sensor_list``."""
    from ..datasets import DRIFT_FEATURES, DRIFT_SENSORS
    from .common import text_options

    kind = None if args.data is None else _data_kind(args.data)
    applies = {
        "--session": (args.session, kind is None, "the synthetic sessions (no --data)"),
        "--noise": (args.noise, kind is None, "the synthetic sessions (no --data)"),
        "--shots": (args.shots, kind is not None, "--data"),
        "--sensors": (args.sensors, kind == "drift", "drift data (--data with batch*.dat)"),
        "--feature": (args.feature, kind == "drift", "drift data (--data with batch*.dat)"),
        "--label-column": (args.label_column, kind == "table",
                           "--data with a .csv/.tsv/.txt/.npy file"),
    }
    for option, (value, ok, owner) in applies.items():
        if value is not None and not ok:
            given = f"--data {args.data}" if args.data is not None else "no --data"
            raise ValueError(f"{option} applies to {owner}, not with {given}")
    if args.quick and args.duplication:
        raise ValueError("--quick sets the duplications (4 and 8); give either --quick or "
                         "--duplication")
    args.text = text_options(args, [("--data", args.data)])
    args.session = args.session or "all"
    args.noise = args.noise or "config"
    args.shots = 2 if args.shots is None else args.shots
    args.feature = 0 if args.feature is None else args.feature
    args.label_column = -1 if args.label_column is None else args.label_column
    args.sensor_list = tuple(range(8))
    if args.sensors is not None:
        items = [t.strip() for t in args.sensors.split(",")]
        if not all(t.isdigit() for t in items):
            bad = next(t for t in items if not t.isdigit())
            raise ValueError(f"--sensors {args.sensors}: {bad!r} is not a sensor number "
                             f"(expected e.g. 0,1,2 with sensors 0..{DRIFT_SENSORS - 1})")
        args.sensor_list = tuple(int(t) for t in items)
        if max(args.sensor_list) >= DRIFT_SENSORS:
            raise ValueError(f"--sensors {args.sensors}: the drift data has sensors "
                             f"0..{DRIFT_SENSORS - 1}")
        if len(set(args.sensor_list)) != len(args.sensor_list):
            raise ValueError(f"--sensors {args.sensors}: a sensor is listed twice")
    if not 0 <= args.feature < DRIFT_FEATURES:
        raise ValueError(f"--feature {args.feature}: the drift data has features "
                         f"0..{DRIFT_FEATURES - 1} per sensor")
    folds = 8 if args.folds is None else args.folds
    if folds < 2:
        raise ValueError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if kind is None and folds > SYNTH_PER_CLASS:
        raise ValueError(f"--folds {folds}: the synthetic sessions have {SYNTH_PER_CLASS} "
                         f"samples per class, so at most {SYNTH_PER_CLASS} folds")
    if kind is not None and args.shots * (folds - 1) < TEST_PER_CLASS:
        raise ValueError(f"--shots {args.shots} with --folds {folds} leaves "
                         f"{args.shots * (folds - 1)} test samples per class (shots x "
                         f"(folds - 1)); the separability needs at least {TEST_PER_CLASS}")
    out = check_output_dir(args.output)
    if args.data is not None:
        data = Path(args.data).resolve()
        if data == out.resolve():
            raise ValueError(f"-o {out} is the --data folder; choose another output folder")
        if any(data == (out / name).resolve() for name in EXPERIMENT_OUTPUTS):
            raise ValueError(f"--data {args.data} would be overwritten by the results written "
                             f"to -o {out}")


def cmd_experiment(args):
    check_experiment_args(args)
    from .. import experiment as ex
    from ..plots import plot_accuracy, plot_raster, plot_sd_utilisation, plot_utilisation

    _check_run_options(args)
    against = None if args.against is None else ex.read_summary(Path(args.against) /
                                                                 "summary.csv")
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
          f"{config.folds} folds; seed {config.seed}; {config.model} network", flush=True)
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
    if against is not None:
        written += _against(summary, against, args.against, out)
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


def _against(summary, reference, where, out):
    """Print this run cell by cell next to an earlier run's summary; write against.csv."""
    from ..experiment import compare_runs, write_csv
    cells = compare_runs(summary, reference)
    print(f"\nThis run next to {where} (each cell: ours, the other run's mean ± fold SD; * = "
          f"further apart than that SD)")
    print(f"{'session':<14}{'condition':<13}{'D':>3} {'metric':<13}{'ours':>9}"
          f"{'other':>10}{'± SD':>8}{'diff':>8}")
    for c in cells:
        print(f"{c['session']:<14}{c['condition']:<13}{c['duplication']:>3} {c['metric']:<13}"
              f"{c['ours']:>9.2f}{c['reference']:>10.2f}{c['reference_sd']:>8.2f}"
              f"{c['difference']:>8.2f}{'' if c['within'] else ' *'}")
    n_in = sum(c["within"] for c in cells)
    print(f"{n_in} of {len(cells)} cells within the other run's fold SD")
    write_csv(cells, out / "against.csv")
    return ["against.csv"]


def _data_session(args, config):
    from ..datasets import load_drift, load_labelled, resample
    from ..experiment import Session
    path = Path(args.data)
    read = []
    if _data_kind(path) == "drift":
        sensors = args.sensor_list
        x, y, _ = load_drift(path, sensors=sensors, feature=args.feature)
        what = f"drift data, sensors {sensors}, feature {args.feature}"
    else:
        x, y = load_labelled(path, label_column=args.label_column, text=args.text,
                             report=read.append)
        what = "labelled data" + "".join(f" ({line.split(': ', 1)[1]})" for line in read)
    _, counts = np.unique(y, return_counts=True)
    x, y, shift = resample(x, y, args.shots * config.folds, seed=config.seed)
    validate_samples(x, name=str(path))
    note = (f"{what}: {len(counts)} classes x {args.shots * config.folds} samples (drawn "
            f"with replacement from {counts.min()} to {counts.max()} per class)")
    if shift:
        note += f", shifted by {shift:g}"
    print(f"{path}: {note}")
    return Session(path.stem, x, y, note=note)


def check_bench_args(args):
    """Refuse ``--jobs`` and ``--solvers`` without ``--grid`` (only the grid runs in worker
    processes and fits SVMs)."""
    if args.jobs is not None and not args.grid:
        raise ValueError("--jobs sets the worker processes of --grid; give --grid or leave "
                         "--jobs out")
    if args.solvers is not None and not args.grid:
        raise ValueError("--solvers sets the SVM solvers --grid times; give --grid or leave "
                         "--solvers out")


def cmd_bench(args):
    check_bench_args(args)
    from ..bench import bench_golden
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
    e.add_argument("--session", choices=SESSIONS + ("all",), default=None,
                   help="synthetic session(s) to run (default all)")
    e.add_argument("--conditions", nargs="+", choices=("homogeneous", "uniform", "scaled",
                                                       "adaptive"), metavar="COND",
                   help="homogeneous uniform scaled adaptive (default: all)")
    e.add_argument("--duplication", "-D", nargs="+", type=positive_int, metavar="D",
                   help="default 4 8 16 32")
    e.add_argument("--folds", type=positive_int,
                   help="cross-validation folds, >= 2 (default 8; synthetic sessions: at "
                        "most 16)")
    e.add_argument("--jobs", "-j", type=positive_int, help="worker processes (default: cores)")
    e.add_argument("--quick", action="store_true", help="a reduced grid: D 4 and 8 only")
    e.add_argument("--model", choices=("float", "fixed"), default="float",
                   help="the float model, or the hardware's fixed-point network after the float "
                        "calibration (normaliser, drive, MC array, GC layer with STDP)")
    e.add_argument("--against", metavar="DIR", default=None,
                   help="print every cell next to DIR/summary.csv, an earlier run of the same "
                        "grid (e.g. the float model's), and write against.csv")
    e.add_argument("--seed", type=seed_int, default=314,
                   help="seed of the data, folds and masks, 0 .. 2**32-1 (default 314)")
    e.add_argument("--noise", choices=NOISE_VARIANTS, default=None,
                   help="synthetic sessions: config (default), the sigma list of the "
                        "paper's files; flat, 0.01 on every sensor")
    e.add_argument("--data", metavar="PATH",
                   help="labelled data instead of the synthetic sessions: a drift-dataset "
                        "batch*.dat file or folder, .csv/.npy with a label column, or .npz")
    e.add_argument("--sensors", help="drift data: comma-separated sensors 0-15 (default "
                                     "0,1,2,3,4,5,6,7)")
    e.add_argument("--feature", type=int, default=None,
                   help="drift data: feature 0-7 of every sensor (default 0, the steady-state "
                        "resistance change)")
    e.add_argument("--label-column", type=int, default=None, metavar="C",
                   help=".csv/.npy data: the label column, counting from 0; negative counts "
                        "from the end (default -1, the last)")
    e.add_argument("--shots", type=positive_int, default=None,
                   help="--data: training samples per class and fold (default 2); "
                        "shots x folds samples per class are drawn with replacement")
    add_text_options(e, "--data samples")
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
                   help="with --grid: the solvers to time (default: libsvm sklearn)")
    b.add_argument("--jobs", "-j", type=positive_int,
                   help="with --grid: worker processes (default: cores)")
    b.set_defaults(func=cmd_bench)

