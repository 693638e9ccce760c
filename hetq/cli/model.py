"""``hetq synth``, ``calibrate``, ``run`` and ``demo``: the float network on user data.

Every option either takes effect or is refused with an error naming it; outputs are checked
(folder, suffix, not one of the inputs) before any work is done. Output keys: docs/cli.md.
"""

import json
import time

import numpy as np

from ..golden.network.connectivity import check_prop, default_prop
from ..golden.network.lif import CYCLE
from ..golden.network.model import validate_samples, validate_schedule
from ..golden.network.synth import NOISE_VARIANTS, SESSIONS, SynthConfig, synthesize
from ..golden.network.weights import LIMIT, MODES, PAYLOAD, SMOOTHING_MAX, jenks_classes
from ..io import (InputError, check_output, check_output_dir, load_array, load_samples,
                  load_weights, save_npz)
from ..pipeline import calibrate_weights, run_network, weight_spec
from ..protocol import utilisation
from .common import (add_text_options, check_iic, finite_float, non_negative_int, positive_int,
                     progress, say, seed_int, text_options)

__all__ = ["add_commands", "MODE_OPTIONS"]

#: The calibrate options each weight mode uses (the others are refused).
MODE_OPTIONS = {
    "homogeneous": ("gain",),
    "uniform": ("payload", "limit"),
    "linear": ("payload", "limit"),
    "adaptive": ("smoothing", "payload", "limit"),
}
_DEFAULTS = {"gain": 25.0, "smoothing": 0.25, "payload": PAYLOAD, "limit": LIMIT}


def _samples(path, text, name=None):
    data, labels = load_samples(path, text=text, report=lambda line: say(f"read {line}"))
    try:
        return validate_samples(data, name=name or f"{path}"), labels
    except ValueError as e:
        raise InputError(f"{path}: {e}" if name else str(e)) from None




def cmd_calibrate(args):
    used = MODE_OPTIONS[args.mode]
    for option in _DEFAULTS:
        if getattr(args, option) is not None and option not in used:
            modes = [m for m, opts in MODE_OPTIONS.items() if option in opts]
            raise ValueError(f"--{option} applies to --mode {' or '.join(modes)}, not "
                             f"{args.mode}")
    values = {k: (_DEFAULTS[k] if getattr(args, k) is None else getattr(args, k))
              for k in _DEFAULTS}
    spec = weight_spec(args.mode, args.duplication, **values)
    text = text_options(args, [("DATA", args.data)])
    check_output(args.output, ".npz", inputs=[("DATA", args.data)])
    x, _ = _samples(args.data, text)
    weights, info = calibrate_weights(x, spec)
    params = {k: np.float64(values[k]) for k in used}
    save_npz(args.output, weights=weights, sensors=np.int64(x.shape[1]),
             mode=np.str_(spec.mode), duplication=np.int64(spec.duplication), **params,
             calibration_samples=np.int64(len(x)), updates=np.int64(info["updates"]))
    col = weights[np.arange(weights.shape[0]), np.arange(weights.shape[0]) // spec.duplication]
    how = ", ".join(f"{k} {values[k]:g}" for k in used)
    if spec.mode == "adaptive":
        k = jenks_classes(spec.duplication, spec.smoothing, 10**9, 10**9)
        how = how.replace(", ", f" -> {k} Jenks classes, ", 1)
    print(f"{spec.mode} weights ({how}) for {x.shape[1]} sensors x D = {spec.duplication} "
          f"({weights.shape[0]} MCs) from {len(x)} samples, {info['updates']} updates; "
          f"range [{col.min():.6g}, {col.max():.6g}] -> {args.output}")


def _check_run_options(args):
    gc_layer = args.gc is not None or args.connectivity is not None
    random_mask = args.gc is not None and args.connectivity is None
    if args.prop is not None and not random_mask:
        raise ValueError("--prop applies to a random connectivity (--gc N without "
                         "--connectivity)" + (", not to --connectivity" if args.connectivity
                                              else ""))
    if args.seed is not None and not random_mask:
        raise ValueError("--seed seeds the random connectivity (--gc N without "
                         "--connectivity)" + (", not --connectivity" if args.connectivity
                                              else ""))
    if args.iic is not None and args.iic <= 0 and not gc_layer:
        raise ValueError("--iic (the GC->MC weight) needs a GC layer: give --gc N or "
                         "--connectivity")
    check_iic(args.iic, args.train)
    if args.train is not None and not gc_layer:
        raise ValueError("--train needs a GC layer: give --gc N or --connectivity")
    validate_schedule(args.steps, args.rinse)


def cmd_run(args):
    _check_run_options(args)
    inputs = [("DATA", args.data), ("--weights", args.weights), ("--train", args.train),
              ("--connectivity", args.connectivity)]
    text = text_options(args, [(n, p) for n, p in inputs if n != "--weights"])
    check_output(args.output, ".npz", inputs=inputs)
    weights, _ = load_weights(args.weights)
    if args.gc is not None and args.connectivity is None:
        duplication = weights.shape[0] // weights.shape[1]
        prop = default_prop(duplication) if args.prop is None else args.prop
        try:
            check_prop(args.gc, prop)
        except ValueError as e:
            given = f"--prop {args.prop:g}" if args.prop is not None else "the default 1/D"
            raise ValueError(f"--gc {args.gc} with {given}: {e}") from None
    x, _ = _samples(args.data, text)
    train = None if args.train is None else _samples(args.train, text)[0]
    mask = None
    if args.connectivity is not None:
        mask = load_array(args.connectivity, "connectivity", text=text,
                          report=lambda line: say(f"read {line}"))
    n_train = 0 if train is None else len(train)
    seed = 0 if args.seed is None else args.seed
    iic = 0.0 if args.iic is None else args.iic
    t0 = time.perf_counter()
    with progress(n_train + len(x), "run", args.quiet) as update:
        res = run_network(x, weights, train=train, connectivity=mask, n_gc=args.gc,
                          prop=args.prop, iic_weight=iic, steps=args.steps,
                          rinse=args.rinse, seed=seed, progress=update)
    elapsed = time.perf_counter() - t0
    if res.warning:
        say(f"hetq run: warning: {res.warning}")
    arrays = res.arrays()
    n_gc = 0 if res.gc_phase is None else res.gc_phase.shape[1]
    arrays["params"] = np.str_(json.dumps({
        "steps": args.steps, "rinse": args.rinse, "gc": n_gc,
        "connectivity": ("file" if args.connectivity is not None else
                         "random" if n_gc else None),
        "connectivity_file": None if args.connectivity is None else str(args.connectivity),
        "prop": res.prop, "seed": seed if res.prop is not None else None, "iic": iic,
        "train_samples": n_train, "weights": str(args.weights)}))
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
    check_output(args.output, ".npz")
    cfg = SynthConfig(session=args.session, seed=args.seed, noise=args.noise)
    samples, labels, info = synthesize(cfg)
    save_npz(args.output, samples=samples, labels=labels, a=info["a"],
             permutation=info["permutation"], sigma=info["sigma"],
             session=np.str_(cfg.session), seed=np.int64(cfg.seed), noise=np.str_(cfg.noise))
    print(f"{cfg.session} session, seed {cfg.seed}, noise {cfg.noise}: {samples.shape[0]} "
          f"samples x {samples.shape[1]} sensors, {len(np.unique(labels))} classes -> "
          f"{args.output}")


def cmd_demo(args):
    from ..demo import DEMO_CONDITIONS, run_demo
    check_output_dir(args.output)
    with progress(len(DEMO_CONDITIONS), "demo", args.quiet, unit="condition") as update:
        run_demo(args.output, out=print, progress=update)


def add_commands(sub):
    """Register ``calibrate``, ``run``, ``synth`` and ``demo``."""
    c = sub.add_parser(
        "calibrate", help="compute ET->MC weights from data",
        description="Run the calibration pass (50 steps per sample plus 50 of rinse) and write "
                    "the ET->MC weights with the parameters used (docs/cli.md).")
    c.add_argument("data", metavar="DATA",
                   help="samples x sensors: .npy, .csv/.tsv/.txt, or .npz with 'samples'")
    c.add_argument("--mode", choices=MODES, required=True,
                   help="homogeneous: every MC weight --gain; uniform: 1/x spacing; linear: "
                        "linear spacing; adaptive: Jenks breaks of the data (docs/model.md "
                        "section 5)")
    c.add_argument("--duplication", "-D", type=positive_int, required=True, metavar="D",
                   help="MCs per sensor (>= 1)")
    c.add_argument("--gain", type=finite_float, default=None, metavar="G",
                   help="homogeneous mode only: the weight of every MC, in (0, 1e7] "
                        "(default 25)")
    c.add_argument("--smoothing", type=finite_float, default=None, metavar="S",
                   help=f"adaptive mode only: the fraction of D per Jenks class, in "
                        f"[0, {SMOOTHING_MAX:g}]; 0.25 = the paper's Adaptive, 0.5 = Scaled "
                        f"(default 0.25)")
    c.add_argument("--payload", type=finite_float, default=None, metavar="P",
                   help="uniform, linear, adaptive: the gain of the weights, i.e. the weight "
                        "of the MC for the largest input, in (0, 1e7] (default 25)")
    c.add_argument("--limit", type=finite_float, default=None, metavar="L",
                   help="uniform, linear, adaptive: the smallest normalised input the column "
                        "is laid out to cover, in (0, 1]; the largest weight is payload/limit "
                        "(default 0.01)")
    add_text_options(c, "samples")
    c.add_argument("-o", "--output", required=True, metavar="WEIGHTS.npz")
    c.set_defaults(func=cmd_calibrate)

    r = sub.add_parser(
        "run", help="simulate the network on data",
        description="Hold every sample for --steps steps, then --rinse steps of zeros, and "
                    "write the ET, MC (and GC) readouts (keys: docs/cli.md).")
    r.add_argument("data", metavar="DATA",
                   help="samples x sensors: .npy, .csv/.tsv/.txt, or .npz with 'samples'")
    r.add_argument("--weights", required=True, metavar="WEIGHTS.npz",
                   help="as written by hetq calibrate")
    r.add_argument("--train", metavar="TRAIN",
                   help="fit the GC layer on TRAIN first (STDP on; needs --gc or "
                        "--connectivity)")
    r.add_argument("--connectivity", metavar="MASK",
                   help="(n_gc x n_mc) 0/1 MC->GC mask (.npy, text, or .npz with "
                        "'connectivity'); sets the number of GCs")
    r.add_argument("--gc", type=positive_int, default=None, metavar="N",
                   help="number of GCs; without --connectivity the mask is drawn at random")
    r.add_argument("--prop", type=finite_float, default=None, metavar="P",
                   help="random mask only: every MC projects to round(P*N) GCs, P in [0, 1] "
                        "(default 1/D)")
    r.add_argument("--iic", type=finite_float, default=None, metavar="W",
                   help="with --train: the GC->MC inhibitory weight, <= 0 (default 0, as in "
                        "the paper)")
    r.add_argument("--steps", type=positive_int, default=250,
                   help=f"steps (1 ms each) every sample is held, a multiple of {CYCLE} "
                        f"(one gamma cycle); the readout is the last cycle (default 250)")
    r.add_argument("--rinse", type=non_negative_int, default=50,
                   help=f"steps of zero input after every sample, a multiple of {CYCLE} "
                        f"(default 50)")
    r.add_argument("--seed", type=seed_int, default=None,
                   help="random mask only: seed of numpy.random.default_rng, 0 .. 2**32-1 "
                        "(default 0)")
    add_text_options(r, "DATA, TRAIN and MASK")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("synth", help="generate a synthetic session (docs/model.md section 11)")
    s.add_argument("--session", choices=SESSIONS, required=True)
    s.add_argument("--seed", type=seed_int, default=314,
                   help="seed of numpy.random.RandomState, 0 .. 2**32-1 (default 314)")
    s.add_argument("--noise", choices=NOISE_VARIANTS, default="config",
                   help="config (default): the sigma list of the paper's files; flat: 0.01 "
                        "on every sensor")
    s.add_argument("-o", "--output", required=True, metavar="DATA.npz")
    s.set_defaults(func=cmd_synth)

    d = sub.add_parser("demo", help="synthetic data -> calibrate -> run -> summary and PNG")
    d.add_argument("-o", "--output", default="build/demo", metavar="DIR",
                   help="folder for summary.csv and summary.png (default build/demo)")
    d.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_demo)
