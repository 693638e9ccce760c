"""The ``hetq`` command: a thin layer over the library (argument parsing, progress, printing).

Subcommands and their options are a contract other tools rely on; see README.md.
"""

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager

import numpy as np

from . import __version__, cli_hw
from .golden.network import validate_samples
from .golden.synth import NOISE_VARIANTS, SESSIONS, SynthConfig, synthesize
from .golden.weights import MODES
from .io import InputError, load_array, load_samples, load_weights, save_npz
from .pipeline import calibrate_weights, run_network, weight_spec
from .protocol import utilisation


class CommandError(Exception):
    """An error to report as one line and a non-zero exit."""


@contextmanager
def _progress(total, desc, quiet):
    from tqdm import tqdm
    bar = tqdm(total=total, desc=desc, unit="sample", disable=quiet, file=sys.stderr,
               leave=False)
    try:
        yield bar.update
    finally:
        bar.close()


def _samples(path):
    data, labels = load_samples(path)
    try:
        return validate_samples(data, name=f"{path}"), labels
    except ValueError as e:
        raise InputError(str(e)) from None


def cmd_calibrate(args):
    spec = weight_spec(args.mode, args.duplication, gain=args.gain, smoothing=args.smoothing,
                       payload=args.payload, limit=args.limit)
    x, _ = _samples(args.data)
    weights, info = calibrate_weights(x, spec)
    save_npz(args.output, weights=weights, sensors=np.int64(x.shape[1]),
             mode=np.str_(spec.mode), duplication=np.int64(spec.duplication),
             gain=np.float64(spec.gain), smoothing=np.float64(spec.smoothing),
             payload=np.float64(spec.payload), limit=np.float64(spec.limit),
             calibration_samples=np.int64(len(x)), updates=np.int64(info["updates"]))
    col = weights[np.arange(weights.shape[0]), np.arange(weights.shape[0]) // spec.duplication]
    print(f"{spec.mode} weights for {x.shape[1]} sensors x D = {spec.duplication} "
          f"({weights.shape[0]} MCs) from {len(x)} samples, {info['updates']} updates; "
          f"range [{col.min():.6g}, {col.max():.6g}] -> {args.output}")


def cmd_run(args):
    weights, _ = load_weights(args.weights)
    x, _ = _samples(args.data)
    train = None if args.train is None else _samples(args.train)[0]
    mask = None if args.connectivity is None else load_array(args.connectivity, "connectivity")
    n_train = 0 if train is None else len(train)
    t0 = time.perf_counter()
    with _progress(n_train + len(x), "run", args.quiet) as update:
        res = run_network(x, weights, train=train, connectivity=mask, n_gc=args.gc,
                          prop=args.prop, iic_weight=args.iic, steps=args.steps,
                          rinse=args.rinse, seed=args.seed, progress=update)
    elapsed = time.perf_counter() - t0
    arrays = res.arrays()
    arrays["params"] = np.str_(json.dumps({
        "steps": args.steps, "rinse": args.rinse, "seed": args.seed, "iic": args.iic,
        "prop": args.prop, "train_samples": n_train, "weights": str(args.weights)}))
    save_npz(args.output, **arrays)
    mc = utilisation(res.mc_phase)
    line = (f"{len(x)} samples, {res.mc_phase.shape[1]} MCs: utilisation {mc.mean():.1f}% "
            f"(SD {mc.std(ddof=1) if len(mc) > 1 else 0:.1f})")
    if res.gc_phase is not None:
        gc = utilisation(res.gc_phase)
        line += (f"; {res.gc_phase.shape[1]} GCs: {gc.mean():.1f}% "
                 f"(SD {gc.std(ddof=1) if len(gc) > 1 else 0:.1f})")
    rate = (n_train + len(x)) / elapsed
    print(f"{line}; {elapsed:.2f} s ({rate:.1f} samples/s) -> {args.output}")


def cmd_synth(args):
    cfg = SynthConfig(session=args.session, seed=args.seed, noise=args.noise)
    samples, labels, info = synthesize(cfg)
    save_npz(args.output, samples=samples, labels=labels, a=info["a"],
             permutation=info["permutation"], sigma=info["sigma"],
             session=np.str_(cfg.session), seed=np.int64(cfg.seed), noise=np.str_(cfg.noise))
    print(f"{cfg.session} session, seed {cfg.seed}, noise {cfg.noise}: {samples.shape[0]} "
          f"samples x {samples.shape[1]} sensors, {len(np.unique(labels))} classes -> "
          f"{args.output}")


def cmd_experiment(args):
    from . import experiment as ex
    from .plots import plot_accuracy, plot_raster, plot_sd_utilisation, plot_utilisation
    from pathlib import Path

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
    from pathlib import Path
    from .datasets import load_drift, load_labelled, resample
    from .experiment import Session
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
    from .bench import bench_golden
    print("one Concentration fold: calibrate + fit 16 samples, process 112, 300 steps each")
    bench_golden(tuple(args.duplication), repeats=args.repeats, numpy_engine=not args.no_numpy)
    if args.grid:
        from tqdm import tqdm
        from . import experiment as ex
        config = ex.ExperimentConfig()
        sessions = ex.paper_sessions()
        n = len(ex.plan(sessions, config))
        t0 = time.perf_counter()
        with tqdm(total=n, desc="full grid", unit="job", file=sys.stderr) as bar:
            ex.run_experiment(sessions, config, jobs=args.jobs, progress=bar.update)
        print(f"full grid ({n} jobs: 2 sessions x 4 conditions (Homogeneous x 10 gains) x "
              f"D 4-32 x 8 folds, SVMs included): {time.perf_counter() - t0:.1f} s with "
              f"{args.jobs or os.cpu_count()} processes")


def cmd_demo(args):
    from .demo import run_demo
    run_demo(args.output, quiet=args.quiet, out=print)


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def build_parser():
    p = argparse.ArgumentParser(prog="hetq", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"hetq {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("calibrate", help="compute ET->MC weights from data")
    c.add_argument("data", metavar="DATA", help=".npy, .csv or .npz (samples x sensors)")
    c.add_argument("--mode", choices=MODES, required=True)
    c.add_argument("--duplication", "-D", type=_positive_int, required=True, metavar="D")
    c.add_argument("--gain", type=float, default=25.0,
                   help="homogeneous mode: the weight of every MC (default 25)")
    c.add_argument("--smoothing", type=float, default=0.25,
                   help="adaptive mode: 0.25 = Adaptive, 0.5 = Scaled (default 0.25)")
    c.add_argument("--payload", type=float, default=25.0)
    c.add_argument("--limit", type=float, default=0.01)
    c.add_argument("-o", "--output", required=True, metavar="WEIGHTS.npz")
    c.set_defaults(func=cmd_calibrate)

    r = sub.add_parser("run", help="simulate the network on data")
    r.add_argument("data", metavar="DATA")
    r.add_argument("--weights", required=True, metavar="WEIGHTS.npz")
    r.add_argument("--train", metavar="TRAIN", help="fit the GC layer on TRAIN first")
    r.add_argument("--connectivity", metavar="MASK.npy", help="(n_gc x n_mc) 0/1 MC->GC mask")
    r.add_argument("--gc", type=_nonneg_int, default=None, metavar="N", help="number of GCs")
    r.add_argument("--prop", type=float, default=None,
                   help="MC->GC connection probability for a random mask (default 1/D)")
    r.add_argument("--iic", type=float, default=0.0,
                   help="GC->MC inhibitory weight (<= 0; default 0 as in the paper)")
    r.add_argument("--steps", type=_positive_int, default=250, help="steps per sample")
    r.add_argument("--rinse", type=_nonneg_int, default=50)
    r.add_argument("--seed", type=int, default=0, help="seed of the random connectivity")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("synth", help="generate a synthetic session (MODEL.md section 11)")
    s.add_argument("--session", choices=SESSIONS, required=True)
    s.add_argument("--seed", type=int, default=314)
    s.add_argument("--noise", choices=NOISE_VARIANTS, default="config",
                   help="config: the sigma list of the paper's files; flat: 0.01 everywhere")
    s.add_argument("-o", "--output", required=True, metavar="DATA.npz")
    s.set_defaults(func=cmd_synth)

    e = sub.add_parser("experiment", help="the paper's evaluation grid: tables, CSV and PNG")
    e.add_argument("--session", choices=SESSIONS + ("all",), default="all")
    e.add_argument("--conditions", nargs="+", choices=("homogeneous", "uniform", "scaled",
                                                       "adaptive"), metavar="COND",
                   help="homogeneous uniform scaled adaptive (default: all)")
    e.add_argument("--duplication", "-D", nargs="+", type=_positive_int, metavar="D",
                   help="default 4 8 16 32")
    e.add_argument("--folds", type=_positive_int, help="default 8")
    e.add_argument("--jobs", "-j", type=_positive_int, help="worker processes (default: cores)")
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
    e.add_argument("--shots", type=_positive_int, default=2,
                   help="training samples per class and fold (default 2)")
    e.add_argument("-q", "--quiet", action="store_true")
    e.add_argument("-o", "--output", required=True, metavar="DIR")
    e.set_defaults(func=cmd_experiment)

    b = sub.add_parser("bench", help="speed figures")
    b.add_argument("target", choices=("golden",))
    b.add_argument("--duplication", "-D", nargs="+", type=_positive_int, default=[4, 32],
                   metavar="D")
    b.add_argument("--repeats", type=_positive_int, default=5)
    b.add_argument("--no-numpy", action="store_true", help="skip the NumPy-engine comparison")
    b.add_argument("--grid", action="store_true", help="also time the full experiment grid")
    b.add_argument("--jobs", "-j", type=_positive_int)
    b.set_defaults(func=cmd_bench)

    cli_hw.add_commands(sub)

    d = sub.add_parser("demo", help="synthetic data -> calibrate -> run -> summary and PNG")
    d.add_argument("-o", "--output", default="build/demo", metavar="DIR")
    d.add_argument("-q", "--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (InputError, ValueError, OSError, CommandError) as e:
        print(f"hetq {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0
