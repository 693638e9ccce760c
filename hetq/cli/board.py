"""``hetq board ...``: talking to a board (or the simulated board) over the host link, and
running the simulated board."""

import argparse
import json
import time

import numpy as np

from ..golden.network.model import validate_samples
from ..io import InputError, check_output, load_samples, save_npz
from .common import (CommandError, add_gc_options, add_text_options, check_iic, finite_float,
                     non_negative_int, positive_int, progress, say, seed_int, text_options)

__all__ = ["add_commands"]


def _board(args):
    from ..boards.client import Board, LinkError

    try:
        return Board(args.port, baud=args.baud, timeout=args.timeout, retries=args.retries)
    except LinkError as e:
        raise CommandError(str(e)) from None


def _link(fn):
    """Run ``fn`` and turn a failed link into a one-line error."""
    from ..boards.client import LinkError

    try:
        return fn()
    except LinkError as e:
        raise CommandError(str(e)) from None


def _text(args):
    """The text options, checked against every input file of the command."""
    inputs = [(name, getattr(args, key, None)) for name, key in
              (("DATA", "data"), ("--train", "train"), ("--connectivity", "connectivity"))]
    return text_options(args, inputs)


def _samples(path, args):
    text = _text(args)
    data, _ = load_samples(path, text=text, report=lambda line: say(f"read {line}"))
    if np.issubdtype(np.asarray(data).dtype, np.integer):
        return np.asarray(data)                  # sensor codes, sent as they are
    try:
        return validate_samples(data, name=str(path))
    except ValueError as e:
        raise InputError(str(e)) from None


def cmd_info(args):
    with _board(args) as b:
        info = _link(b.info)
    f = info.fields
    print(f"design: {info.config}")
    print(f"hetq link v{f['version']}: {f['sensors']} sensors x D = {f['duplication']} "
          f"({f['mcs']} MCs), clock {f['clock_hz'] / 1e6:g} MHz, {f['baud']} baud, "
          f"{f['slots']} request slots; table hash {f['table_hash']:08x}")
    if info.config.gc is not None:
        print(f"GC layer: {f['gcs']} GCs, {f['synapses']} synapses, {f['stamp_bits']}-bit "
              f"stamps, GC->MC path {'built' if f['iic'] else 'not built'}")


def cmd_status(args):
    with _board(args) as b:
        counters = _link(b.status)
        if args.clear:
            _link(b.clear)
    width = max(map(len, counters))
    for name, value in counters.items():
        print(f"{name:<{width}}  {value}")
    if args.clear:
        print("(cleared)")


def cmd_load(args):
    from ..boards.operations import read_tables

    with _board(args) as b:
        config = _link(lambda: b.config)
        _, codes, table, _, _ = read_tables(args.weights, config)
        _link(lambda: b.load_weights(codes, None if table is None else table.thresholds))
        hash_ = _link(b.table_hash)
    print(f"loaded and read back {len(codes)} weights"
          f"{' and the thresholds' if table is not None else ''} from {args.weights}; "
          f"table hash {hash_:08x}")


def cmd_readback(args):
    if args.output:
        check_output(args.output, ".npz")
    with _board(args) as b:
        weights = _link(lambda: b.read_table("weights"))
        thresholds = _link(lambda: b.read_table("thresholds"))
        fmt = b.config.quantizer.fmt
    print(f"{len(weights)} weight codes (UQ{fmt.weight_int}.{fmt.weight_frac}): range "
          f"[{weights.min()}, {weights.max()}]; {len(thresholds)} thresholds")
    if args.output:
        save_npz(args.output, weight_codes=weights, thresholds=thresholds,
                 weights=(weights / float(1 << fmt.weight_frac)))
        print(f"-> {args.output}")


def _mask(path, args):
    from ..io import load_array

    text = _text(args)
    return load_array(path, "connectivity", text=text, report=lambda line: say(f"read {line}"))


def cmd_run(args):
    from ..boards.operations import read_tables, run_network_on_board
    from ..golden.network.connectivity import silent_gc_warning

    check_output(args.output, ".npz", inputs=[("DATA", args.data), ("--weights", args.weights),
                                              ("--train", args.train),
                                              ("--connectivity", args.connectivity)])
    if args.prop is not None and args.connectivity is not None:
        raise ValueError("--prop applies to a random connectivity, not to --connectivity")
    if args.seed is not None and args.connectivity is not None:
        raise ValueError("--seed seeds the random connectivity, not --connectivity")
    check_iic(args.iic, args.train)
    x = _samples(args.data, args)
    train = None if args.train is None else _samples(args.train, args)
    mask = None if args.connectivity is None else _mask(args.connectivity, args)
    with _board(args) as b:
        config = _link(lambda: b.config)
        for name, path, data in (("DATA", args.data, x), ("--train", args.train, train)):
            if data is not None and data.shape[1] != config.quantizer.sensors:
                raise InputError(f"{path}: {data.shape[1]} sensors, the board has "
                                 f"{config.quantizer.sensors}")
        if args.weights is not None:
            _, codes, table, _, _ = read_tables(args.weights, config)
            _link(lambda: b.load_weights(codes,
                                         None if table is None else table.thresholds))
        n_train = 0 if train is None else len(train)
        t0 = time.perf_counter()
        with progress(n_train + len(x), "board run", args.quiet) as update:
            res, details = _link(lambda: run_network_on_board(
                b, x, train=train, connectivity=mask, n_gc=args.gc, prop=args.prop,
                seed=args.seed, iic=args.iic, progress=update))
        elapsed = time.perf_counter() - t0
        stats = b.stats
    gc = "gc_phase" in res
    if gc and (warning := silent_gc_warning(res["connectivity"])):
        say(f"hetq board run: warning: {warning}")
    res["params"] = np.str_(json.dumps({
        "port": args.port, "weights": args.weights, "data": str(args.data),
        "train": None if args.train is None else str(args.train), "train_samples": n_train,
        "gc": int(res["gc_phase"].shape[1]) if gc else 0,
        "connectivity": ("file" if args.connectivity is not None else
                         "random" if gc else None),
        "connectivity_file": None if args.connectivity is None else str(args.connectivity),
        "prop": details["prop"], "seed": details.get("seed"),
        "iic": 0.0 if args.iic is None else args.iic, "iic_code": details.get("iic_code")}))
    save_npz(args.output, **res)
    util = 100 * np.count_nonzero(res["mc_phase"], axis=1) / res["mc_phase"].shape[1]
    line = (f"{len(x)} samples, {res['mc_phase'].shape[1]} MCs from the board: utilisation "
            f"{util.mean():.1f}%")
    if gc:
        g = 100 * np.count_nonzero(res["gc_phase"], axis=1) / res["gc_phase"].shape[1]
        line += f"; {res['gc_phase'].shape[1]} GCs: {g.mean():.1f}%"
        if n_train:
            line += f" after {n_train} training samples"
        if args.iic:
            line += f", GC->MC weight {args.iic:g} mV"
    print(f"{line}; {elapsed:.2f} s ({(n_train + len(x)) / max(elapsed, 1e-9):.1f} samples/s, "
          f"{stats.retries} retries) -> {args.output}")


def cmd_raster(args):
    from ..plots import plot_array_raster

    x = _samples(args.data, args)
    if not 0 <= args.sample < len(x):
        raise InputError(f"--sample {args.sample}: {args.data} has samples 0..{len(x) - 1}")
    check_output(args.output, ".png", inputs=[("DATA", args.data)])
    with _board(args) as b:
        config = _link(lambda: b.config)
        events = _link(lambda: b.raster(x[args.sample]))
    a = config.array
    print(f"sample {args.sample}: {len(events)} spikes of {a.mcs} MCs in {a.hold} + {a.rinse} "
          f"steps")
    plot_array_raster(events, samples=1, mcs=a.mcs, hold=a.hold, rinse=a.rinse,
                      path=args.output, windows=1, title=f"board raster, sample {args.sample}")
    print(f"-> {args.output}")


def _result_params(result):
    try:
        return json.loads(str(result["params"]))
    except (KeyError, ValueError):
        return {}


def _fold_of(result, args, config):
    """``(train, connectivity)`` the board's fold had, from the result's parameters and the
    options; InputError when an option is missing or does not apply."""
    params = _result_params(result)
    if "gc_phase" not in result:
        for flag, value in (("--train", args.train), ("--connectivity", args.connectivity)):
            if value is not None:
                raise InputError(f"{flag}: {args.result} has no GC layer (a board without "
                                 f"one)")
        return None, None
    trained = params.get("train_samples", 0)
    if trained and args.train is None:
        raise InputError(f"{args.result} was trained on {trained} samples: give them with "
                         f"--train")
    train = None
    if args.train is not None:
        if not trained:
            raise InputError(f"--train: {args.result} was not trained")
        train = _samples(args.train, args)
        if len(train) != trained:
            raise InputError(f"--train {args.train}: {len(train)} samples, the board was "
                             f"trained on {trained}")
    if params.get("connectivity") == "file":
        if args.connectivity is None:
            raise InputError(f"{args.result} ran with a connectivity file "
                             f"({params.get('connectivity_file')}): give it with "
                             f"--connectivity")
        mask = _mask(args.connectivity, args)
    else:
        from ..boards.operations import board_connectivity

        if args.connectivity is not None:
            raise InputError(f"--connectivity: {args.result} ran with a random connectivity "
                             f"(--prop {params.get('prop')}, --seed {params.get('seed')}), "
                             f"drawn again here")
        mask, _ = board_connectivity(config, prop=params.get("prop"),
                                     seed=params.get("seed") or 0)
    return train, mask


def cmd_compare(args):
    from ..boards.operations import compare_results, read_tables

    try:
        with np.load(args.result, allow_pickle=False) as z:
            result = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InputError(f"{args.result}: cannot read ({e})") from None
    x = _samples(args.data, args)
    from ..boards.client import config_from_info

    config = config_from_info(json.loads(str(result["board_info"])))
    weights, codes, table, _, _ = read_tables(args.weights, config)
    train, mask = _fold_of(result, args, config)
    iic = _result_params(result).get("iic") or 0.0
    rep = compare_results(result, x, codes, table, weights=weights, train=train,
                          connectivity=mask, iic=iic)
    print(f"{rep.samples} samples, {rep.phases} MC phases: {rep.phase_mismatches} differ from "
          f"the fixed-point model; normalised inputs: {rep.et_mismatches} differ; sensor codes: "
          f"{rep.code_mismatches} differ")
    if "gc_phase" in result:
        print(f"{rep.gc_phases} GC phases: {rep.gc_phase_mismatches} differ; MC->GC weights: "
              f"{rep.weight_mismatches} differ; connectivity: {rep.connectivity_mismatches} "
              f"differ")
        if config.gc.iic:
            print(f"GC->MC weight {rep.iic:g} mV: the board's weight code "
                  f"{'differs' if rep.iic_mismatches else 'agrees'}")
    for s, mc, got, want in rep.examples:
        print(f"  sample {s} MC {mc}: board {got}, model {want}")
    if not rep.same_tables:
        print(f"note: the board's tables (hash {rep.hash_board:08x}) are not those of "
              f"{args.weights} ({rep.hash_file:08x})")
    print(f"mismatches: {rep.mismatches}")
    if rep.mismatches:
        raise CommandError(f"{rep.mismatches} results differ from the fixed-point model")


def cmd_sim(args):
    from ..sim.board.verilator import SimulatedBoard, build_sim_board, sim_config
    from .common import system_design

    config, weights, table = system_design(args)
    sim = sim_config(config, args.divisor)
    print(f"design: {config}")
    print(f"simulated with the UART at divisor {sim.uart.divisor} (the board's is "
          f"{config.uart.divisor}): baud {sim.baud}", flush=True)
    try:
        exe = build_sim_board(sim, args.build_dir, weights=weights, table=table)
        board = SimulatedBoard(exe, port=args.port).start()
    except RuntimeError as e:
        raise CommandError(str(e)) from None
    print(board.url, flush=True)
    try:
        while board.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()


def cmd_bench(args):
    from ..sim.board.bench import bench_link
    from ..sim.board.verilator import SIM_DIVISOR
    from .common import system_design

    config, _, _ = system_design(args)
    if config.gc is not None:
        return _bench_network(args, config)
    if args.windows is not None:
        raise ValueError("--windows times the GC system's windows: give --gc")
    print(f"design: {config}", flush=True)
    runs = [(SIM_DIVISOR, 400 if args.samples is None else args.samples),
            (config.uart.divisor, 100 if args.board_samples is None else args.board_samples)]
    rows = []
    for divisor, n in runs:
        if n == 0:
            continue
        try:
            with progress(n, f"divisor {divisor}", args.quiet) as update:
                rows.append(bench_link(config, args.build_dir, samples=n, divisor=divisor,
                                       progress=update))
        except RuntimeError as e:
            raise CommandError(str(e)) from None
    print(f"{'divisor':>7} {'samples':>7} {'sim samples/s':>13} {'cycles/sample':>13} "
          f"{'bound':>8} {'link use':>8}   latency, cycles (min-max of each request alone)")
    for r in rows:
        lat = ", ".join(f"{name} {min(t)}-{max(t)}" for name, t in r.latency.items())
        print(f"{r.divisor:>7} {r.samples:>7} {r.samples_per_s:>13.1f} "
              f"{r.cycles_per_sample:>13.0f} {r.bound_cycles:>8.0f} {100 * r.efficiency:>7.1f}%"
              f"   {lat}")
    for r in rows:
        if r.divisor == config.uart.divisor:
            print(f"on the board ({config.clock_hz / 1e6:g} MHz, {config.baud} baud): "
                  f"{r.board_samples_per_s:,.0f} samples/s of the link's "
                  f"{config.link_samples_per_s():,.0f} ({100 * r.efficiency:.1f}%), with a host "
                  f"that keeps {config.slots} requests in flight")


def _bench_network(args, config):
    from ..sim.board.bench import NETWORK_REQUESTS, bench_network

    for flag in ("--samples", "--board-samples"):
        if getattr(args, flag[2:].replace("-", "_")) is not None:
            raise ValueError(f"{flag} counts the link's samples of a system without a GC "
                             "layer; with --gc the bench times --windows")
    repeats = 3 if args.windows is None else args.windows
    if repeats < 1:
        raise ValueError("--windows must be at least 1")
    print(f"design: {config}", flush=True)
    try:
        with progress(repeats * len(NETWORK_REQUESTS), "windows", args.quiet) as update:
            fig = bench_network(config, args.build_dir, repeats=repeats, prop=args.prop,
                                progress=update)
    except RuntimeError as e:
        raise CommandError(str(e)) from None
    mhz = config.clock_hz / 1e6
    work = fig.synapses_used + fig.gcs
    print(f"{fig.steps} steps per window; a random connectivity of {fig.synapses_used} "
          f"synapses (synapses in use + GCs = {work:,}); cycles from the last request byte to "
          f"the first reply bit, each request alone, {repeats} times")
    print(f"{'request':<8} {'cycles (min-max)':>21} {'per step':>9} {f'ms at {mhz:g} MHz':>14} "
          f"{'windows/s':>9}")
    for name in NETWORK_REQUESTS:
        t = fig.latency[name]
        print(f"{name:<8} {f'{min(t):,}-{max(t):,}':>21} {fig.per_step(name):>9,.1f} "
              f"{1e3 * min(t) / config.clock_hz:>14.2f} {fig.windows_per_s(name):>9.1f}")


def _link_options(p):
    p.add_argument("--port", required=True, metavar="URL",
                   help="a serial device (/dev/ttyUSB1), socket://HOST:PORT (the simulated "
                        "board) or loop://")
    p.add_argument("--baud", type=positive_int, default=3_000_000,
                   help="serial line rate (default 3000000; sockets ignore it)")
    p.add_argument("--timeout", type=float, default=1.0,
                   help="seconds before a request without a good reply is sent again "
                        "(default 1)")
    p.add_argument("--retries", type=positive_int, default=8,
                   help="attempts per request before giving up (default 8)")


def add_commands(subparsers):
    """Register ``board`` and its subcommands."""
    from ..sim.board.verilator import SIM_DIVISOR
    from ..golden.fixed.quantizer import DATAPATHS

    board = subparsers.add_parser("board", help="talk to a board (or the simulated board)")
    sub = board.add_subparsers(dest="board_command", required=True, metavar="COMMAND")

    s = sub.add_parser("sim", help="run the simulated board (Verilator) on a TCP socket")
    s.add_argument("--board", choices=["icebreaker", "ulx3s"], default="ulx3s",
                   help="whose system to simulate (default ulx3s: the whole system, rasters "
                        "included; the iCEBreaker's has no RASTER, and an MC array only "
                        "with --gc)")
    s.add_argument("--weights", metavar="W.npz", default=None, help="initial tables")
    s.add_argument("--duplication", "-D", type=positive_int, default=None, metavar="D")
    s.add_argument("--datapath", choices=DATAPATHS, default=None,
                   help="the quantizer's datapath (default: the board's, as `hetq build system`)")
    s.add_argument("--baud", type=positive_int, default=None,
                   help="the board's baud rate (default 3000000); the simulation runs the UART "
                        "at --divisor instead")
    s.add_argument("--clock", type=float, default=None, metavar="MHZ")
    s.add_argument("--rasters", action=argparse.BooleanOptionalAction, default=None,
                   help="with the MC array (default: the board's, as `hetq build system`)")
    add_gc_options(s)
    s.add_argument("--spram", action="store_true", default=None,
                   help="with --gc, iCEBreaker: the GC layer's weights and synapse GCs in the "
                        "SPRAM (as `hetq build system --spram`; simulated by the cell's twin)")
    s.add_argument("--divisor", type=positive_int, default=SIM_DIVISOR,
                   help=f"UART clock cycles per bit in simulation (default {SIM_DIVISOR})")
    s.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    s.add_argument("--build-dir", default="build/board-sim", metavar="DIR")
    s.set_defaults(func=cmd_sim)

    p = sub.add_parser("bench", help="link figures on the simulated board: its speed, the "
                                     "link's use and the reply latency; with --gc the "
                                     "cycles of the network's windows")
    p.add_argument("--board", choices=["icebreaker", "ulx3s"], default="ulx3s",
                   help="whose system (default ulx3s)")
    p.add_argument("--duplication", "-D", type=positive_int, default=None, metavar="D")
    p.add_argument("--baud", type=positive_int, default=None)
    p.add_argument("--clock", type=float, default=None, metavar="MHZ")
    p.add_argument("--samples", type=non_negative_int, default=None,
                   help=f"samples at the simulation's divisor ({SIM_DIVISOR}; default 400)")
    p.add_argument("--board-samples", type=non_negative_int, default=None,
                   help="samples with the UART at the board's own divisor (default 100)")
    add_gc_options(p)
    p.add_argument("--windows", type=non_negative_int, default=None, metavar="K",
                   help="with --gc: time TRAIN and SAMPLE windows, each K times "
                        "(default 3), on a random connectivity of probability --prop")
    p.add_argument("--build-dir", default="build/board-sim", metavar="DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench, weights=None,          # random tables are loaded
                   datapath=None, rasters=None)           # the board's

    for name, helptext, func in (("info", "the board's design and table hash", cmd_info),
                                 ("status", "the link's counters", cmd_status)):
        p = sub.add_parser(name, help=helptext)
        _link_options(p)
        if name == "status":
            p.add_argument("--clear", action="store_true", help="zero the counters after")
        p.set_defaults(func=func)

    p = sub.add_parser("load", help="write a weights file's tables into the board, read back")
    p.add_argument("weights", metavar="W.npz")
    _link_options(p)
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("readback", help="read the board's tables")
    _link_options(p)
    p.add_argument("-o", "--output", metavar="TABLES.npz", default=None)
    p.set_defaults(func=cmd_readback)

    p = sub.add_parser("run", help="samples through the board: phases, as `hetq run` writes")
    p.add_argument("data", metavar="DATA")
    _link_options(p)
    p.add_argument("--weights", metavar="W.npz", default=None, help="load these tables first")
    p.add_argument("--train", metavar="TRAIN", default=None,
                   help="a board with a GC layer: fit it on TRAIN first (learning on, then "
                        "the clamp of every weight <= 29 mV), as `hetq run --train`")
    p.add_argument("--connectivity", metavar="MASK", default=None,
                   help="a board with a GC layer: the (GCs x MCs) 0/1 MC->GC mask (.npy, "
                        "text, or .npz with 'connectivity'; default: drawn at random as "
                        "`hetq run` draws it)")
    p.add_argument("--gc", type=positive_int, default=None, metavar="N",
                   help="a board with a GC layer: its number of GCs (checked; default the "
                        "board's)")
    p.add_argument("--prop", type=float, default=None, metavar="P",
                   help="random mask only: every MC projects to round(P*N) GCs (default 1/D)")
    p.add_argument("--seed", type=seed_int, default=None,
                   help="random mask only: seed of numpy.random.default_rng (default 0)")
    p.add_argument("--iic", type=finite_float, default=None, metavar="W",
                   help="with --train, a board built with the GC->MC path: its inhibitory "
                        "weight in mV, <= 0, set after the training and the clamp, as `hetq "
                        "run --iic` (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    add_text_options(p, "samples")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("raster", help="one sample through the board's MC array: its spikes")
    p.add_argument("data", metavar="DATA")
    _link_options(p)
    p.add_argument("--sample", type=int, default=0, help="which sample (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="RASTER.png")
    add_text_options(p, "samples")
    p.set_defaults(func=cmd_raster)

    p = sub.add_parser("compare", help="a board result against the fixed-point model")
    p.add_argument("result", metavar="BOARD.npz")
    p.add_argument("--data", required=True, metavar="DATA")
    p.add_argument("--weights", required=True, metavar="W.npz")
    p.add_argument("--train", metavar="TRAIN", default=None,
                   help="the training samples of a trained result (`board run --train`)")
    p.add_argument("--connectivity", metavar="MASK", default=None,
                   help="the mask file of a result run with `--connectivity` (a random mask "
                        "is drawn again from the result's --prop and --seed)")
    add_text_options(p, "samples")
    p.set_defaults(func=cmd_compare)
