"""``hetq experiment`` and ``hetq bench``: the paper's evaluation grid and speed figures."""

import os
import sys
import time
from pathlib import Path

import numpy as np

from ..golden.network.model import validate_samples
from ..golden.network.synth import NOISE_VARIANTS, SESSIONS
from .common import positive_int

__all__ = ["add_commands"]


def cmd_experiment(args):
    from .. import experiment as ex
    from ..plots import plot_accuracy, plot_raster, plot_sd_utilisation, plot_utilisation

    grid = dict(ex.QUICK) if args.quick else {}
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
    from tqdm import tqdm
    t0 = time.perf_counter()
    with tqdm(total=len(jobs), desc="experiment", unit="job", file=sys.stderr,
              disable=args.quiet) as bar:
        records = ex.run_experiment(sessions, config, jobs=args.jobs, progress=bar.update)
    elapsed = time.perf_counter() - t0
    summary = ex.summarise(records, config)
    print()
    for line in ex.format_summary(summary):
        print(line)
    ex.write_csv(summary, out / "summary.csv")
    ex.write_csv(ex.fold_table(records), out / "folds.csv")
    ex.write_csv(sorted(records, key=lambda r: (r["session"], r["condition"], r["duplication"],
                                                r["gain"] or 0, r["fold"])),
                 out / "jobs.csv", columns=["session", "condition", "duplication", "gain", "fold",
                                            *ex.METRICS, "et_acc"])
    plot_accuracy(summary, out / "accuracy.png")
    plot_sd_utilisation(summary, out / "sd_utilisation.png")
    d_show = config.duplications[0]
    plot_utilisation(records, out / "utilisation.png", d_show)
    examples, labels = ex.example_readouts(sessions[0], config, d_show)
    plot_raster(examples, labels, out / "raster.png")
    print(f"\n{len(jobs)} jobs in {elapsed:.1f} s with {args.jobs or os.cpu_count()} processes; "
          f"wrote summary.csv, folds.csv, jobs.csv, accuracy.png, sd_utilisation.png, "
          f"utilisation.png, raster.png to {out}")


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
    print("one Concentration fold: calibrate + fit 16 samples, process 112, 300 steps each")
    bench_golden(tuple(args.duplication), repeats=args.repeats, numpy_engine=not args.no_numpy)
    if args.grid:
        from tqdm import tqdm
        from .. import experiment as ex
        config = ex.ExperimentConfig()
        sessions = ex.paper_sessions()
        n = len(ex.plan(sessions, config))
        t0 = time.perf_counter()
        with tqdm(total=n, desc="full grid", unit="job", file=sys.stderr) as bar:
            ex.run_experiment(sessions, config, jobs=args.jobs, progress=bar.update)
        print(f"full grid ({n} jobs: 2 sessions x 4 conditions (Homogeneous x 10 gains) x "
              f"D 4-32 x 8 folds, SVMs included): {time.perf_counter() - t0:.1f} s with "
              f"{args.jobs or os.cpu_count()} processes")



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
    e.set_defaults(func=cmd_experiment)

    b = sub.add_parser("bench", help="speed figures")
    b.add_argument("target", choices=("golden",))
    b.add_argument("--duplication", "-D", nargs="+", type=positive_int, default=[4, 32],
                   metavar="D")
    b.add_argument("--repeats", type=positive_int, default=5)
    b.add_argument("--no-numpy", action="store_true", help="skip the NumPy-engine comparison")
    b.add_argument("--grid", action="store_true", help="also time the full experiment grid")
    b.add_argument("--jobs", "-j", type=positive_int)
    b.set_defaults(func=cmd_bench)

