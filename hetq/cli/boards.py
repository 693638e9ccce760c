"""``hetq build``, ``hetq program`` and ``hetq report``: bitstreams of the system and of the
blocks on the boards, loading one into a board, and the builds' timing and utilisation."""

from pathlib import Path

from ..io import InputError
from .common import (CommandError, add_gc_layer_options, add_gc_options, add_mc_array_options,
                     add_quantizer_options, add_system_options, gc_layer_config,
                     mc_array_config, non_negative_int, only_for, quantizer_config,
                     system_design)

__all__ = ["add_commands"]


#: Options of ``hetq build`` and the blocks they belong to.
BUILD_OPTIONS = {
    "--sensors": ("quantizer",), "--duplication": ("quantizer", "system"),
    "--norm-lanes": ("quantizer",), "--sensor-bits": ("quantizer",),
    "--datapath": ("quantizer", "system"), "--mcs": ("mc-array", "gc-layer"),
    "--lanes": ("mc-array", "gc-layer"), "--hold": ("mc-array", "gc-layer"),
    "--rinse": ("mc-array", "gc-layer"), "--inhibition": ("mc-array", "gc-layer"),
    "--gcs": ("gc-layer",), "--synapses": ("gc-layer",), "--weights": ("system",),
    "--baud": ("system",), "--clock": ("system",), "--rasters": ("system",),
    "--gc": ("system",), "--prop": ("system",), "--iic": ("system",),
    "--spram": ("gc-layer", "system"), "--compact": ("mc-array", "gc-layer"),
}
BLOCKS = ("quantizer", "mc-array", "gc-layer", "system")


def cmd_build(args):
    from ..boards.flow import build

    for flag, owners in BUILD_OPTIONS.items():
        if args.block not in owners:
            only_for(args, " and ".join(owners), [flag])
    weights = table = None
    if args.block == "quantizer":
        config = quantizer_config(args)
        out = Path(args.output) / args.board
    elif args.block == "mc-array":
        config = mc_array_config(args)
        out = Path(args.output) / "mc-array" / args.board
    elif args.block == "gc-layer":
        config = gc_layer_config(args)
        if args.inhibition:                    # the GC->MC path, the GC side of the port
            config = config.replace(iic=True)
        from ..hdl.gc_lanes import check_gc_layer
        check_gc_layer(config)                 # refused combinations, before any tool runs
        out = Path(args.output) / "gc-layer" / args.board
    else:
        config, weights, table = system_design(args)
        out = Path(args.output) / "system" / args.board
    print(f"design: {config}", flush=True)
    note = None
    if args.block == "system" and not config.rasters:
        from ..boards.operations import BOARD_DEFAULTS

        note = BOARD_DEFAULTS[args.board].get("gc_note" if config.gc is not None else "note")
    try:
        rep = build(args.board, out, config, seed=args.seed, weights=weights, table=table,
                    note=note)
    except RuntimeError as e:                # a missing tool, a failed build, timing missed
        raise CommandError(str(e)) from None
    lanes = f"lanes {config.norm_lanes}, " if args.block == "quantizer" else ""
    print(f"{rep.summary} ({lanes}nextpnr seed {args.seed}), built in {rep.seconds:.0f} s "
          f"-> {out}")
    print("\n".join(rep.lines()))
    if args.block == "system":
        print(f"bitstream: {out / ('top.bin' if args.board == 'icebreaker' else 'top.bit')}")


def cmd_program(args):
    from ..boards.program import program, program_command

    if args.dry_run:
        print(" ".join(program_command(args.bitstream, args.board, flash=args.flash)))
        return
    try:
        out = program(args.bitstream, args.board, flash=args.flash)
    except RuntimeError as e:
        raise CommandError(str(e)) from None
    print(out.splitlines()[-1] if out else f"programmed the {args.board}")


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
    b = subparsers.add_parser("build", help="bitstream of the system, or of a block in a "
                                            "synthesis harness (YoWASP)")
    b.add_argument("block", choices=BLOCKS,
                   help="system: the board system (host link, quantizer, MC array) on the "
                        "board's PLL clock; quantizer, mc-array, gc-layer: a block in a "
                        "harness")
    b.add_argument("--board", choices=["icebreaker", "ulx3s"], required=True)
    system = b.add_argument_group("system")
    add_system_options(system)
    add_gc_options(system)
    add_quantizer_options(b.add_argument_group("quantizer"))
    mc = b.add_argument_group("mc-array and gc-layer")
    add_mc_array_options(mc, mcs=True)
    add_gc_layer_options(b.add_argument_group("gc-layer"))
    b.add_argument("--spram", action="store_true", default=None,
                   help="gc-layer, or system with --gc: the GC layer's weights and synapse GCs "
                        "in the SPRAM (iCEBreaker only; docs/gc-layer-rtl.md)")
    b.add_argument("--compact", action="store_true", default=None,
                   help="mc-array, gc-layer: the area-first pipelines (fewer stages and "
                        "registers, for the iCE40UP5K at 30 MHz; the MC array's write stage 3, "
                        "docs/mc_array.md; the GC layer's not with --inhibition, "
                        "docs/gc-layer-rtl.md); the iCEBreaker's system has them")
    b.add_argument("--seed", type=non_negative_int, default=1,
                   help="nextpnr placement seed (default 1)")
    b.add_argument("-o", "--output", default="build/boards", metavar="DIR",
                   help="builds go to DIR/<board> (quantizer), DIR/mc-array/<board>, "
                        "DIR/gc-layer/<board> and DIR/system/<board> (default build/boards)")
    b.set_defaults(func=cmd_build)

    p = subparsers.add_parser("program", help="load a bitstream into a board (openFPGALoader)")
    p.add_argument("bitstream", metavar="BITSTREAM",
                   help="top.bin (iCEBreaker) or top.bit (ULX3S) of `hetq build system`")
    p.add_argument("--board", choices=["icebreaker", "ulx3s"], required=True)
    p.add_argument("--flash", action="store_true",
                   help="write the board's flash (kept over power cycles) instead of its SRAM")
    p.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    p.set_defaults(func=cmd_program)

    r = subparsers.add_parser("report", help="Fmax, utilisation and rates of finished builds")
    r.add_argument("dirs", nargs="*", metavar="DIR", help="build folders (default: all under "
                                                          "--root)")
    r.add_argument("--root", default="build/boards", metavar="DIR")
    r.set_defaults(func=cmd_report)
