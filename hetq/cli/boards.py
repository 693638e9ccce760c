"""``hetq build`` and ``hetq report``: bitstreams of the blocks on the boards, and their
timing and utilisation."""

from pathlib import Path

from ..io import InputError
from .common import positive_int, sensor_format

__all__ = ["add_commands"]


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
    from ..boards.flow import build

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
                    duplication=opts["duplication"], fmt=sensor_format(opts["sensor_bits"]),
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
    from ..boards.flow import read_report

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
    """Register ``build`` and ``report``."""
    b = subparsers.add_parser("build", help="bitstream of a block in a board harness (YoWASP)")
    b.add_argument("block", choices=list(BUILD_OPTIONS))
    b.add_argument("--board", choices=["icebreaker", "ulx3s"], required=True)
    b.add_argument("--lanes", type=positive_int, default=None,
                   help="quantizer: normaliser dividers (default: the fewest that keep up); "
                        "mc-array: updates per clock, a power of two dividing --mcs (default 1)")
    q = b.add_argument_group("quantizer")
    q.add_argument("--sensors", type=positive_int, default=None, help="default 8")
    q.add_argument("--duplication", "-D", type=positive_int, default=None, metavar="D",
                   help="default 32")
    q.add_argument("--sensor-bits", type=positive_int, default=None, help="default 16")
    a = b.add_argument_group("mc-array")
    a.add_argument("--mcs", type=positive_int, default=None, help="MCs (default 256)")
    a.add_argument("--hold", type=positive_int, default=None,
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
