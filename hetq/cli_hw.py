"""Hardware subcommands of ``hetq``: fidelity, compare (quantizer, mc-array), build, report.

Registered by :func:`add_commands` (``hetq.cli.build_parser`` calls it). Each command only
parses, calls the library (:mod:`hetq.hardware`, :mod:`hetq.boards.flow`) and prints; user
errors are raised as ValueError / :class:`hetq.io.InputError`.
"""

import argparse
import sys
from pathlib import Path

__all__ = ["add_commands"]


def _int_at_least(lo):
    """An argparse type: an integer >= ``lo``."""
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    return convert


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def _format(sensor_bits):
    from .golden.fixed import FixedFormat
    return FixedFormat(sensor_bits=sensor_bits)


def cmd_fidelity(args):
    from .golden.synth import SESSIONS
    from .hardware import FIDELITY_MODES, fidelity, pool_rows, write_fidelity

    sessions = SESSIONS if args.session is None else (args.session,)
    fmt = _format(args.sensor_bits)
    say = (lambda text: None) if args.quiet else (lambda text: print(f"  {text}",
                                                                     file=sys.stderr))
    rows = fidelity(sessions=sessions, duplications=tuple(args.duplication),
                    modes=FIDELITY_MODES, fmt=fmt, noise=args.noise, progress=say)
    shown = rows if args.per_gain else pool_rows(rows)
    print(f"MC phases of the fixed-point model equal to the float model "
          f"({args.sensor_bits}-bit sensors, noise {args.noise}):")
    print(f"{'session':<14}{'mode':<16}{'D':>3}  {'gain':>6}{'phases':>9}{'equal %':>10}"
          f"{'differ':>8}{'max step':>10}")
    for r in shown:
        gain = "" if r.gain is None else f"{r.gain:g}"
        if r.mode == "homogeneous" and r.gain is None:
            gain = "pooled"
        print(f"{r.session:<14}{r.mode:<16}{r.duplication:>3}  {gain:>6}{r.total:>9}"
              f"{100 * r.fraction:>10.4f}{r.total - r.equal:>8}{r.max_step:>10}")
    pooled = pool_rows(rows)
    worst = min(pooled, key=lambda r: r.fraction)
    total = sum(r.total for r in pooled)
    equal = sum(r.equal for r in pooled)
    print(f"overall {100 * equal / total:.4f} % equal of {total} phases; lowest "
          f"{100 * worst.fraction:.4f} % ({worst.session} {worst.mode} D={worst.duplication}); "
          f"largest difference {max(r.max_step for r in pooled)} step(s)")
    csv_path, png_path = write_fidelity(rows, args.output)
    print(f"-> {csv_path}, {png_path}")


def _only_for(args, block, names):
    """ValueError when an option of ``block`` was given for another block."""
    for name in names:
        if getattr(args, name.lstrip("-").replace("-", "_")) not in (None, False):
            raise ValueError(f"{name} applies to {block}, not {args.block}")


def cmd_compare(args):
    if args.block == "mc-array":
        return cmd_compare_array(args)
    from .cli import _progress
    from .hardware import compare_quantizer

    _only_for(args, "mc-array", ("--lanes", "--hold", "--rinse", "--inhibition"))
    fmt = _format(args.sensor_bits)
    duplication = 32 if args.duplication is None else args.duplication
    with _progress(args.vectors, "compare", args.quiet) as step:
        rep = compare_quantizer(args.vectors, args.seed, simulator=args.sim,
                                sensors=args.sensors, duplication=duplication, fmt=fmt,
                                stall=args.stall, writes=not args.no_writes,
                                build_dir=args.build_dir, progress=step)
    print(f"quantizer {rep.sensors} sensors x D = {rep.duplication} under {rep.simulator}: "
          f"{rep.samples} samples, {rep.outputs} MC outputs, {rep.writes} table writes "
          f"mid-stream, stall {rep.stall:g}")
    print(f"mismatches: {rep.mismatches}")
    for chunk, index, got, expected in rep.examples:
        print(f"  chunk {chunk} output {index}: got (mc, drive, phase, last) = {tuple(got)}, "
              f"expected {tuple(expected)}")
    print(f"cycles per sample: {rep.cycles_per_sample:.2f} "
          f"({rep.sensors * rep.duplication} MCs per sample); wall time {rep.seconds:.1f} s")
    if rep.mismatches:
        from .cli import CommandError
        raise CommandError(f"{rep.mismatches} outputs differ from the fixed-point model")


def cmd_compare_array(args):
    from .cli import CommandError, _progress
    from .hardware import compare_mc_array

    fmt = _format(args.sensor_bits)
    try:
        with _progress(args.vectors, "compare", args.quiet) as step:
            rep = compare_mc_array(
                args.vectors, args.seed, simulator=args.sim, sensors=args.sensors,
                duplication=4 if args.duplication is None else args.duplication,
                lanes=1 if args.lanes is None else args.lanes,
                hold=50 if args.hold is None else args.hold,
                rinse=50 if args.rinse is None else args.rinse, inhibition=args.inhibition,
                fmt=fmt, stall=args.stall, writes=not args.no_writes,
                build_dir=args.build_dir, progress=step)
    except RuntimeError as e:              # a missing simulator, a bench that failed itself
        raise CommandError(str(e)) from None
    lanes = f"{rep.lanes} lane{'s' if rep.lanes > 1 else ''}"
    print(f"MC array {rep.sensors} sensors x D = {rep.duplication} ({rep.mcs} MCs, {lanes}), "
          f"hold {rep.hold} + rinse {rep.rinse} steps, inhibition "
          f"{'on' if rep.inhibition else 'off'}, under {rep.simulator}: {rep.samples} samples, "
          f"{rep.writes} table writes mid-stream, stall {rep.stall:g}")
    print(f"spikes: {rep.spikes} events, {rep.event_mismatches} mismatches")
    checks = []
    if rep.states:
        checks.append(f"{rep.states} MC states compared, {rep.state_mismatches} differ")
    if rep.windows:
        checks.append(f"{rep.windows} window hashes compared, {rep.hash_mismatches} differ")
    print(f"state write-backs: {rep.writebacks} ({'; '.join(checks)})")
    if rep.inhibition:
        print("quantizer equivalence: not checked (inhibition adds extra currents)")
    else:
        print(f"quantizer equivalence: {rep.phases} gamma-cycle phases (quantizer phase in "
              f"every hold cycle, silent rinse), {rep.phase_mismatches} differ")
    print(f"mismatches: {rep.mismatches}")
    for chunk, kind, index, got, expected in rep.examples:
        print(f"  chunk {chunk} {kind} {index}: got {got}, expected {expected}")
    print(f"cycles per sample: {rep.cycles_per_sample:.2f} (nominal "
          f"{rep.nominal_cycles_per_sample}); per step {rep.cycles_per_step:.3f} (nominal "
          f"{rep.nominal_cycles_per_step}); per gamma cycle {50 * rep.cycles_per_step:.1f} "
          f"(nominal {rep.nominal_cycles_per_cycle}); wall time {rep.seconds:.1f} s")
    if rep.first_events is not None:
        from .plots import plot_array_raster

        png = Path(args.build_dir) / f"mc_array_{rep.simulator}_raster.png"
        plot_array_raster(rep.first_events, samples=len(rep.first_phases), mcs=rep.mcs,
                          hold=rep.hold, rinse=rep.rinse, path=png,
                          quantizer_phases=None if rep.inhibition else rep.first_phases,
                          windows=len(rep.first_phases), title=f"MC array RTL ({rep.simulator})")
        print(f"-> {png} (spikes of the first {len(rep.first_phases)} windows, phase histogram)")
    if rep.mismatches:
        raise CommandError(
            f"{rep.mismatches} mismatches against the golden model (events "
            f"{rep.event_mismatches}, states {rep.state_mismatches}, window hashes "
            f"{rep.hash_mismatches}, quantizer phases {rep.phase_mismatches})")


#: Options of ``hetq build`` that belong to one block: block -> (dest, flag) pairs.
BUILD_OPTIONS = {
    "quantizer": (("sensors", "--sensors"), ("duplication", "--duplication"),
                  ("sensor_bits", "--sensor-bits")),
    "mc-array": (("mcs", "--mcs"), ("hold", "--hold"), ("rinse", "--rinse"),
                 ("inhibition", "--inhibition")),
}

#: Defaults of the block options (None on the command line means "not given").
BUILD_DEFAULTS = {"sensors": 8, "duplication": 32, "sensor_bits": 16, "mcs": 256, "hold": 250,
                  "rinse": 50, "inhibition": False}


def cmd_build(args):
    from .boards.flow import build

    for block, options in BUILD_OPTIONS.items():
        if block == args.block:
            continue
        for dest, flag in options:
            if getattr(args, dest) not in (None, False):
                raise ValueError(f"{flag} applies to {block}, not {args.block}")
    given = {dest: getattr(args, dest) for dest, _ in BUILD_OPTIONS[args.block]}
    opts = {k: BUILD_DEFAULTS[k] if v is None else v for k, v in given.items()}
    if args.block == "quantizer":
        out = Path(args.output) / args.board
        rep = build(args.board, out, block="quantizer", sensors=opts["sensors"],
                    duplication=opts["duplication"], fmt=_format(opts["sensor_bits"]),
                    lanes=args.lanes, seed=args.seed)
    else:
        out = Path(args.output) / "mc-array" / args.board
        rep = build(args.board, out, block="mc-array", mcs=opts["mcs"], lanes=args.lanes,
                    hold=opts["hold"], rinse=opts["rinse"], inhibition=opts["inhibition"],
                    seed=args.seed)
    lanes = "" if args.block == "mc-array" else f"lanes {rep.params.get('lanes')}, "
    print(f"{rep.summary} ({lanes}nextpnr seed {args.seed}), built in {rep.seconds:.0f} s "
          f"-> {out}")
    print("\n".join(rep.lines()))


def cmd_report(args):
    from .boards.flow import read_report
    from .io import InputError

    dirs = []
    for d in map(Path, args.dirs or [args.root]):
        # a build folder, or a folder of build folders at any depth (`hetq build -o DIR`
        # makes DIR/<board> and DIR/mc-array/<board>)
        if (d / "top.report.json").exists():
            dirs.append(d)
            continue
        found = sorted(p.parent for p in d.rglob("top.report.json"))
        if not found:
            raise InputError(f"no build reports under {d} (run `hetq build` first)")
        dirs += found
    for d in dirs:
        try:
            rep = read_report(d)
        except FileNotFoundError as e:
            raise InputError(str(e)) from None
        print(f"{d} - {rep.summary}" if rep.summary else str(d))
        print("\n".join("  " + line for line in rep.lines()))


def add_commands(subparsers):
    """Register ``fidelity``, ``compare``, ``build`` and ``report`` on an argparse
    subparsers object."""
    from .golden.synth import NOISE_VARIANTS, SESSIONS
    from .hardware import SIMULATORS

    f = subparsers.add_parser("fidelity",
                              help="fixed-point vs float model: equal MC phases per condition")
    f.add_argument("-o", "--output", default="build/fidelity", metavar="DIR",
                   help="where fidelity.csv and fidelity.png go (default build/fidelity)")
    f.add_argument("--session", choices=SESSIONS, default=None, help="one session (default both)")
    f.add_argument("--duplication", "-D", type=_positive_int, nargs="+", default=[4, 8, 16, 32],
                   metavar="D")
    f.add_argument("--sensor-bits", type=_positive_int, default=16,
                   help="bits per sensor code of the hardware input (default 16)")
    f.add_argument("--noise", choices=NOISE_VARIANTS, default="config")
    f.add_argument("--per-gain", action="store_true",
                   help="one row per homogeneous gain instead of the pooled row")
    f.add_argument("-q", "--quiet", action="store_true")
    f.set_defaults(func=cmd_fidelity)

    c = subparsers.add_parser("compare", help="RTL against the fixed-point model")
    c.add_argument("block", choices=["quantizer", "mc-array"],
                   help="quantizer: SensorQuantizer; mc-array: SensorMCArray (normaliser, "
                        "quantizer and the time-stepped MC array)")
    c.add_argument("--vectors", type=_positive_int, default=1000, metavar="N",
                   help="random samples (edge cases first; default 1000)")
    c.add_argument("--seed", type=int, default=0, metavar="S")
    c.add_argument("--sim", choices=SIMULATORS, default="icarus",
                   help="amaranth: Amaranth simulator; cocotb: cocotb + Icarus; icarus / "
                        "verilator: file-driven Verilog bench (verilator for long runs)")
    c.add_argument("--sensors", type=_positive_int, default=8)
    c.add_argument("--duplication", "-D", type=_positive_int, default=None, metavar="D",
                   help="default 32 (quantizer), 4 (mc-array)")
    c.add_argument("--sensor-bits", type=_positive_int, default=16)
    c.add_argument("--stall", type=_fraction, default=0.0,
                   help="probability of an idle input cycle and of o.ready low (default 0)")
    c.add_argument("--no-writes", action="store_true", help="no table writes mid-stream")
    c.add_argument("--build-dir", default="build/compare", metavar="DIR")
    ca = c.add_argument_group("mc-array")
    ca.add_argument("--lanes", type=_positive_int, default=None,
                    help="MC updates per clock (default 1)")
    ca.add_argument("--hold", type=_positive_int, default=None,
                    help="steps a sample is held (multiple of 50, default 50)")
    ca.add_argument("--rinse", type=_non_negative_int, default=None,
                    help="steps of zero drive after it (multiple of 50, default 50)")
    ca.add_argument("--inhibition", action="store_true",
                    help="random extra (GC->MC) currents on the extra port")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_compare)

    b = subparsers.add_parser("build", help="bitstream of a block in a board harness (YoWASP)")
    b.add_argument("block", choices=list(BUILD_OPTIONS))
    b.add_argument("--board", choices=["icebreaker", "ulx3s"], required=True)
    b.add_argument("--lanes", type=_positive_int, default=None,
                   help="quantizer: normaliser dividers (default: the fewest that keep up); "
                        "mc-array: updates per clock, a power of two dividing --mcs (default 1)")
    q = b.add_argument_group("quantizer")
    q.add_argument("--sensors", type=_positive_int, default=None, help="default 8")
    q.add_argument("--duplication", "-D", type=_positive_int, default=None, metavar="D",
                   help="default 32")
    q.add_argument("--sensor-bits", type=_positive_int, default=None, help="default 16")
    a = b.add_argument_group("mc-array")
    a.add_argument("--mcs", type=_positive_int, default=None, help="MCs (default 256)")
    a.add_argument("--hold", type=_positive_int, default=None,
                   help="steps per sample with its drives (multiple of 50; default 250)")
    a.add_argument("--rinse", type=int, default=None,
                   help="steps of zero drive after each sample (multiple of 50; default 50)")
    a.add_argument("--inhibition", action="store_true", default=None,
                   help="with the extra-current (GC->MC) port, fed pseudo-random currents")
    b.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    b.add_argument("-o", "--output", default="build/boards", metavar="DIR",
                   help="builds go to DIR/<board> (quantizer) and DIR/mc-array/<board> "
                        "(default build/boards)")
    b.set_defaults(func=cmd_build)

    r = subparsers.add_parser("report", help="Fmax and utilisation of finished builds")
    r.add_argument("dirs", nargs="*", metavar="DIR", help="build folders (default: all under "
                                                          "--root)")
    r.add_argument("--root", default="build/boards", metavar="DIR")
    r.set_defaults(func=cmd_report)
