"""``hetq synth``, ``calibrate``, ``run`` and ``demo``: the float network on user data."""

import json
import time

import numpy as np

from ..golden.network.model import validate_samples
from ..golden.network.synth import NOISE_VARIANTS, SESSIONS, SynthConfig, synthesize
from ..golden.network.weights import MODES
from ..io import InputError, load_array, load_samples, load_weights, save_npz
from ..pipeline import calibrate_weights, run_network, weight_spec
from ..protocol import utilisation
from .common import non_negative_int, positive_int, progress

__all__ = ["add_commands"]


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
    with progress(n_train + len(x), "run", args.quiet) as update:
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


def cmd_demo(args):
    from ..demo import run_demo
    run_demo(args.output, quiet=args.quiet, out=print)



def add_commands(sub):
    """Register ``calibrate``, ``run``, ``synth`` and ``demo``."""
    c = sub.add_parser("calibrate", help="compute ET->MC weights from data")
    c.add_argument("data", metavar="DATA", help=".npy, .csv or .npz (samples x sensors)")
    c.add_argument("--mode", choices=MODES, required=True)
    c.add_argument("--duplication", "-D", type=positive_int, required=True, metavar="D")
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
    r.add_argument("--gc", type=non_negative_int, default=None, metavar="N", help="number of GCs")
    r.add_argument("--prop", type=float, default=None,
                   help="MC->GC connection probability for a random mask (default 1/D)")
    r.add_argument("--iic", type=float, default=0.0,
                   help="GC->MC inhibitory weight (<= 0; default 0 as in the paper)")
    r.add_argument("--steps", type=positive_int, default=250, help="steps per sample")
    r.add_argument("--rinse", type=non_negative_int, default=50)
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

    d = sub.add_parser("demo", help="synthetic data -> calibrate -> run -> summary and PNG")
    d.add_argument("-o", "--output", default="build/demo", metavar="DIR")
    d.add_argument("-q", "--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)
