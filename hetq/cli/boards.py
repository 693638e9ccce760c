"""``hetq build`` and ``hetq report``: bitstreams of the blocks on the boards, and their
timing and utilisation."""

from pathlib import Path

from ..io import InputError
from .common import (CommandError, add_mc_array_options, add_quantizer_options,
                     mc_array_config, non_negative_int, only_for, quantizer_config)

__all__ = ["add_commands"]


#: Options of ``hetq build`` that belong to one block: block -> flags.
BUILD_OPTIONS = {
    "quantizer": ("--sensors", "--duplication", "--norm-lanes", "--sensor-bits"),
    "mc-array": ("--mcs", "--lanes", "--hold", "--rinse", "--inhibition"),
}


def cmd_build(args):
    from ..boards.flow import build

    for block, flags in BUILD_OPTIONS.items():
        if block != args.block:
            only_for(args, block, flags)
    if args.block == "quantizer":
        config = quantizer_config(args)
        out = Path(args.output) / args.board
    else:
        config = mc_array_config(args)
        out = Path(args.output) / "mc-array" / args.board
    print(f"design: {config}", flush=True)
    try:
        rep = build(args.board, out, config, seed=args.seed)
    except RuntimeError as e:                # a missing tool, a failed build
        raise CommandError(str(e)) from None
    lanes = f"lanes {config.norm_lanes}, " if args.block == "quantizer" else ""
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
    add_quantizer_options(b.add_argument_group("quantizer"))
    add_mc_array_options(b.add_argument_group("mc-array"), mcs=True)
    b.add_argument("--seed", type=non_negative_int, default=1,
                   help="nextpnr placement seed (default 1)")
    b.add_argument("-o", "--output", default="build/boards", metavar="DIR",
                   help="builds go to DIR/<board> (quantizer) and DIR/mc-array/<board> "
                        "(default build/boards)")
    b.set_defaults(func=cmd_build)

    r = subparsers.add_parser("report", help="Fmax and utilisation of finished builds")
    r.add_argument("dirs", nargs="*", metavar="DIR", help="build folders (default: all under "
                                                          "--root)")
    r.add_argument("--root", default="build/boards", metavar="DIR")
    r.set_defaults(func=cmd_report)
