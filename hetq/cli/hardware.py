"""``hetq fidelity`` and ``hetq compare``: the fixed-point twins against the float model, and
the RTL against the twins."""

import sys
from pathlib import Path

from .common import (CommandError, add_gc_layer_options, add_mc_array_options,
                     add_quantizer_options, fraction, gc_layer_config, non_negative_int,
                     only_for, positive_int, progress, quantizer_config, sensor_format,
                     sensor_mc_array_config)

__all__ = ["add_commands"]


def cmd_fidelity(args):
    from ..golden.network.synth import SESSIONS
    from ..fidelity import FIDELITY_MODES, fidelity, pool_rows, write_fidelity

    sessions = SESSIONS if args.session is None else (args.session,)
    if args.gc_folds > 8:
        raise CommandError(f"--gc-folds must be in 0..8 (the paper grid has 8 folds), not "
                           f"{args.gc_folds}")
    if args.gc_folds and args.sensor_bits != 16:
        raise CommandError("--sensor-bits applies to the MC table only; the GC table runs the "
                           "network at the hardware's 16-bit sensors (add --gc-folds 0)")
    if args.jobs is not None and not args.gc_folds:
        raise CommandError("--jobs applies to the GC table, which --gc-folds 0 skips")
    fmt = sensor_format(args.sensor_bits)
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
    if args.gc_folds:
        _gc_fidelity(args, sessions)


def _gc_fidelity(args, sessions):
    from ..fidelity import gc_fidelity, gc_job_count, write_gc_fidelity

    kw = dict(sessions=sessions, duplications=tuple(args.duplication), folds=args.gc_folds)
    with progress(gc_job_count(**kw), "GC fidelity", args.quiet, unit="job") as step:
        rows = gc_fidelity(noise=args.noise, jobs=args.jobs, progress=step, **kw)
    print(f"\nGC layer of the fixed-point network against the float model (paper grid, "
          f"folds 0..{args.gc_folds - 1}: test-set GC phases, trained MC->GC weights):")
    print(f"{'session':<14}{'condition':<13}{'D':>3}{'GC phases':>11}{'equal %':>10}"
          f"{'differ':>8}{'weights':>9}{'equal %':>10}")
    for r in rows:
        print(f"{r.session:<14}{r.condition:<13}{r.duplication:>3}{r.gc_total:>11}"
              f"{100 * r.gc_fraction:>10.4f}{r.gc_total - r.gc_equal:>8}{r.w_total:>9}"
              f"{100 * r.w_fraction:>10.4f}")
    total, equal = sum(r.gc_total for r in rows), sum(r.gc_equal for r in rows)
    w_total, w_equal = sum(r.w_total for r in rows), sum(r.w_equal for r in rows)
    worst = min(rows, key=lambda r: r.gc_fraction)
    print(f"overall {100 * equal / total:.4f} % equal of {total} GC phases (lowest "
          f"{100 * worst.gc_fraction:.4f} %, {worst.session} {worst.condition} "
          f"D={worst.duplication}); weights {100 * w_equal / w_total:.4f} % equal of {w_total}")
    csv_path, png_path = write_gc_fidelity(rows, args.output)
    print(f"-> {csv_path}, {png_path}")


def cmd_compare(args):
    if args.block != "gc-layer":
        only_for(args, "gc-layer", ("--mcs", "--gcs", "--synapses", "--iic", "--prop",
                                    "--spram"))
    if args.block != "mc-array":
        only_for(args, "mc-array", ("--compact",))
    if args.block == "mc-array":
        return cmd_compare_array(args)
    if args.block == "gc-layer":
        return cmd_compare_gc(args)
    from ..regression.quantizer import compare_quantizer

    only_for(args, "mc-array and gc-layer", ("--lanes", "--hold", "--rinse"))
    only_for(args, "mc-array", ("--inhibition",))
    config = quantizer_config(args)
    vectors = 1000 if args.vectors is None else args.vectors
    print(f"design: {config}", flush=True)
    try:
        with progress(vectors, "compare", args.quiet) as step:
            rep = compare_quantizer(vectors, args.seed, config, simulator=args.sim,
                                    stall=args.stall, writes=not args.no_writes,
                                    build_dir=args.build_dir, progress=step)
    except RuntimeError as e:              # a missing simulator, a bench that failed itself
        raise CommandError(str(e)) from None
    print(f"quantizer {rep.sensors} sensors x D = {rep.duplication} under {rep.simulator}: "
          f"{rep.samples} samples, {rep.outputs} MC outputs, {rep.writes} table writes "
          f"mid-stream, stall {rep.stall:g}")
    print(f"mismatches: {rep.mismatches}")
    for chunk, index, got, expected in rep.examples:
        print(f"  chunk {chunk} output {index}: got (mc, drive, phase, last) = {tuple(got)}, "
              f"expected {tuple(expected)}")
    print(f"cycles per sample: {rep.cycles_per_sample:.2f} (nominal {config.period}; "
          f"{config.mcs} MCs per sample); wall time {rep.seconds:.1f} s")
    if rep.mismatches:
        raise CommandError(f"{rep.mismatches} outputs differ from the fixed-point model")


def cmd_compare_gc(args):
    from ..regression.gc_layer import compare_gc_layer

    only_for(args, "quantizer and mc-array", ("--sensors", "--duplication", "--norm-lanes",
                                              "--sensor-bits", "--datapath"))
    only_for(args, "mc-array", ("--inhibition",))
    only_for(args, "quantizer and mc-array (the GC layer has no tables mid-stream)",
             ("--no-writes",))
    config = gc_layer_config(args)
    code = 0
    if args.iic is not None:
        config = config.replace(iic=True)
        fmt = config.fmt
        code = round(args.iic * (1 << fmt.drive_frac))
        if not fmt.current_min <= code <= 0:
            raise ValueError(f"--iic {args.iic:g}: the GC->MC weight is inhibitory, in "
                             f"[{fmt.current_min / (1 << fmt.drive_frac):g}, 0] mV")
    vectors = 12 if args.vectors is None else args.vectors
    print(f"design: {config}", flush=True)
    try:
        with progress(vectors, "compare", args.quiet) as step:
            rep = compare_gc_layer(vectors, args.seed, config, simulator=args.sim,
                                   stall=args.stall, build_dir=args.build_dir, progress=step,
                                   iic_weight=code, prop=args.prop)
    except RuntimeError as e:              # a missing simulator, a bench that failed itself
        raise CommandError(str(e)) from None
    print(f"GC layer {config.gcs} GCs, {config.mcs} MCs, {config.synapses} synapses "
          f"(masks of {rep.synapses_used:.0f} connections on average), hold {config.hold} + "
          f"rinse {config.rinse} steps, under {rep.simulator}: {rep.samples} samples "
          f"({rep.trained} with learning on, then the clamp) in {rep.chunks} masks, stall "
          f"{rep.stall:g}")
    print(f"GC spikes: {rep.spikes} events, {rep.event_mismatches} mismatches; weights: "
          f"{rep.weights} compared (every synapse after every sample), "
          f"{rep.weight_mismatches} differ")
    if config.iic:
        print(f"GC->MC currents: {rep.currents} compared (every MC after every step, weight "
              f"{args.iic:g} mV), {rep.current_mismatches} differ")
    print(f"mismatches: {rep.mismatches}")
    for chunk, kind, index, got, expected in rep.examples:
        print(f"  mask {chunk} {kind} {index}: got {got}, expected {expected}")
    if rep.fit_cycles_per_step == rep.fit_cycles_per_step:      # not nan
        work = rep.synapses_used + config.gcs
        per_lane = (f", / {config.lanes} lanes = {work / config.lanes:,.0f}"
                    if config.lanes > 1 else "")
        print(f"cycles per step: learning on {rep.fit_cycles_per_step:,.1f} (synapses in use "
              f"+ GCs = {work:,.0f}{per_lane}), learning off "
              f"{rep.process_cycles_per_step:,.1f}; wall time {rep.seconds:.1f} s")
    else:
        print(f"wall time {rep.seconds:.1f} s")
    if rep.mismatches:
        raise CommandError(f"{rep.mismatches} mismatches against the golden model (GC spikes "
                           f"{rep.event_mismatches}, weights {rep.weight_mismatches})")


def cmd_compare_array(args):
    from ..regression.mc_array import compare_mc_array

    config = sensor_mc_array_config(args)
    vectors = 20 if args.vectors is None else args.vectors
    print(f"design: {config}", flush=True)
    try:
        with progress(vectors, "compare", args.quiet) as step:
            rep = compare_mc_array(vectors, args.seed, config, simulator=args.sim,
                                   stall=args.stall, writes=not args.no_writes,
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
        from ..plots import plot_array_raster

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


def add_commands(subparsers):
    """Register ``fidelity`` and ``compare``."""
    from ..golden.network.synth import NOISE_VARIANTS, SESSIONS
    from ..regression import SIMULATORS

    f = subparsers.add_parser("fidelity",
                              help="fixed-point vs float model: equal MC and GC phases and trained "
                                   "weights per condition")
    f.add_argument("-o", "--output", default="build/fidelity", metavar="DIR",
                   help="where fidelity.csv and fidelity.png go (default build/fidelity)")
    f.add_argument("--session", choices=SESSIONS, default=None, help="one session (default both)")
    f.add_argument("--duplication", "-D", type=positive_int, nargs="+", default=[4, 8, 16, 32],
                   metavar="D")
    f.add_argument("--sensor-bits", type=positive_int, default=16,
                   help="bits per sensor code of the hardware input (default 16)")
    f.add_argument("--noise", choices=NOISE_VARIANTS, default="config")
    f.add_argument("--per-gain", action="store_true",
                   help="one row per homogeneous gain instead of the pooled row")
    f.add_argument("--gc-folds", type=non_negative_int, default=8, metavar="K",
                   help="the GC table over folds 0..K-1 of the paper grid (1..8, default 8; "
                        "0 skips it)")
    f.add_argument("-j", "--jobs", type=positive_int, default=None,
                   help="worker processes for the GC table (default 1)")
    f.add_argument("-q", "--quiet", action="store_true")
    f.set_defaults(func=cmd_fidelity)

    c = subparsers.add_parser("compare", help="RTL against the fixed-point model")
    c.add_argument("block", choices=["quantizer", "mc-array", "gc-layer"],
                   help="quantizer: SensorQuantizer; mc-array: SensorMCArray (normaliser, "
                        "quantizer and the time-stepped MC array); gc-layer: GCLayer (delay "
                        "line, synapses with STDP, GC neurons)")
    c.add_argument("--vectors", type=positive_int, default=None, metavar="N",
                   help="random samples (edge cases first; default 1000 for quantizer, 20 "
                        "for mc-array, 12 for gc-layer)")
    c.add_argument("--seed", type=non_negative_int, default=0, metavar="S")
    c.add_argument("--sim", choices=SIMULATORS, default="icarus",
                   help="amaranth: Amaranth simulator; cocotb: cocotb + Icarus; icarus / "
                        "verilator: file-driven Verilog bench (verilator for long runs)")
    c.add_argument("--stall", type=fraction, default=0.0,
                   help="probability of an idle input cycle and of o.ready low (default 0)")
    c.add_argument("--no-writes", action="store_true", help="no table writes mid-stream")
    c.add_argument("--build-dir", default="build/compare", metavar="DIR")
    add_quantizer_options(c.add_argument_group("design (the defaults are what `hetq build` "
                                               "synthesises)"))
    mc = c.add_argument_group("mc-array and gc-layer")
    add_mc_array_options(mc)
    mc.add_argument("--compact", action="store_true", default=None,
                    help="mc-array: the area-first update pipeline, as `hetq build mc-array "
                         "--compact` builds it")
    g = c.add_argument_group("gc-layer")
    g.add_argument("--mcs", type=positive_int, default=None, help="MCs feeding the layer "
                   "(default 256)")
    add_gc_layer_options(g)
    g.add_argument("--iic", type=float, default=None, metavar="W",
                   help="build the layer with the GC->MC path, its weight W mV (<= 0), and "
                        "compare every current it emits (default: no path)")
    g.add_argument("--spram", action="store_true", default=None,
                   help="the synapse tables in the iCE40UP's SPRAM, as `hetq build gc-layer "
                        "--spram` builds them (simulated by the cell's twin)")
    g.add_argument("--prop", type=fraction, default=None, metavar="P",
                   help="masks of the paper's connectivity: each MC to round(P * GCs) random "
                        "GCs (default: random masks about 0.9 times as dense as the synapse "
                        "memory allows)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_compare)
