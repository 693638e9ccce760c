"""What every command group of ``hetq`` shares: argument types, the one-line error, the
progress bar. Command groups import this module and the library, never each other."""

import argparse
import math
import sys
import time
from contextlib import contextmanager

__all__ = ["CommandError", "progress", "int_at_least", "positive_int", "non_negative_int",
           "fraction", "sensor_format", "only_for", "given", "quantizer_config",
           "sensor_mc_array_config", "mc_array_config", "add_quantizer_options",
           "add_mc_array_options", "add_system_options", "add_gc_options", "system_design",
           "int_in", "seed_int", "finite_float", "check_iic",
           "add_text_options", "text_options", "say"]


class CommandError(Exception):
    """An error to report as one line and a non-zero exit."""


#: Seconds between two progress lines when stderr is not a terminal (a log file, a pipe).
LOG_INTERVAL = 10.0


@contextmanager
def progress(total, desc, quiet, unit="sample", *, stream=None, interval=LOG_INTERVAL):
    """Progress on stderr (or ``stream``); yields its ``update(n=1)``. Nothing with ``quiet``.

    On a terminal a tqdm bar; otherwise (a log file, a pipe, a batch job) one plain line at
    the start, at most one line per ``interval`` seconds, and one at the end."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        yield lambda n=1: None
        return
    if _is_terminal(stream):
        from tqdm import tqdm
        bar = tqdm(total=total, desc=desc, unit=unit, file=stream, leave=False)
        try:
            yield bar.update
        finally:
            bar.close()
        return
    lines = _LineProgress(total, desc, unit, stream, interval)
    try:
        yield lines.update
    finally:
        lines.close()


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _LineProgress:
    """Progress as whole lines: ``desc: 120/848 jobs (14%), 35 s, about 3 min 20 s left``."""

    def __init__(self, total, desc, unit, stream, interval, clock=time.monotonic):
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.interval, self.clock = interval, clock
        self.n = 0
        self.start = self.last = clock()
        self._write()

    def update(self, n=1):
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._write()

    def close(self):
        if self.n != getattr(self, "_written", None):
            self._write()

    def _write(self):
        elapsed = self.clock() - self.start
        text = f"{self.desc}: {self.n}"
        if self.total:
            text += f"/{self.total} {self.unit}s ({100 * self.n / self.total:.0f}%)"
        else:
            text += f" {self.unit}s"
        text += f", {_duration(elapsed)}"
        if self.total and 0 < self.n < self.total:
            text += f", about {_duration(elapsed * (self.total - self.n) / self.n)} left"
        self.stream.write(text + "\n")
        self.stream.flush()
        self._written = self.n


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def int_at_least(minimum):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def fraction(text):
    """An argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def sensor_format(sensor_bits):
    """The default fixed-point format with ``sensor_bits``-bit sensor codes."""
    from ..golden.fixed.formats import FixedFormat
    return FixedFormat(sensor_bits=sensor_bits)


def only_for(args, owner, flags):
    """ValueError when one of ``flags`` (options of ``owner``) was given although
    ``args.block`` is another block; an option that was not given is None or False."""
    for flag in flags:
        if getattr(args, flag.lstrip("-").replace("-", "_")) not in (None, False):
            raise ValueError(f"{flag} applies to {owner}, not {args.block}")


def given(args, names):
    """The options among ``names`` (argparse destinations) that were given: an option that was
    not given is None, so that the configuration's own default applies."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def quantizer_config(args):
    """The :class:`~hetq.golden.fixed.quantizer.QuantizerConfig` of the options ``--sensors``,
    ``--duplication``, ``--norm-lanes``, ``--sensor-bits`` and ``--datapath`` (defaults: the
    config's)."""
    from ..golden.fixed.quantizer import QuantizerConfig

    kwargs = given(args, ("sensors", "duplication", "norm_lanes", "datapath"))
    if args.sensor_bits is not None:
        kwargs["fmt"] = sensor_format(args.sensor_bits)
    return QuantizerConfig(**kwargs)


def sensor_mc_array_config(args):
    """The :class:`~hetq.golden.fixed.mc_array.SensorMCArrayConfig` of the quantizer options
    (:func:`quantizer_config`) and ``--lanes``, ``--hold``, ``--rinse``, ``--inhibition`` (and
    ``--compact`` where the command has it)."""
    from ..golden.fixed.mc_array import MCArrayConfig, SensorMCArrayConfig

    q = quantizer_config(args)
    names = ("lanes", "hold", "rinse", "inhibition")
    if hasattr(args, "compact"):
        names += ("compact",)
    array = MCArrayConfig(mcs=q.mcs, fmt=q.fmt, **given(args, names))
    return SensorMCArrayConfig(q, array)


def mc_array_config(args):
    """The :class:`~hetq.golden.fixed.mc_array.MCArrayConfig` of ``--mcs``, ``--lanes``,
    ``--hold``, ``--rinse``, ``--inhibition`` (and ``--compact`` where the command has it)."""
    from ..golden.fixed.mc_array import MCArrayConfig

    names = ("mcs", "lanes", "hold", "rinse", "inhibition")
    if hasattr(args, "compact"):
        names += ("compact",)
    return MCArrayConfig(**given(args, names))


def add_gc_layer_options(parser):
    """``--gcs`` and ``--synapses`` (None unless given; the help shows the defaults)."""
    from ..golden.fixed.gc_layer import GCLayerConfig

    d = GCLayerConfig()
    parser.add_argument("--gcs", type=positive_int, default=None,
                        help=f"GCs (default {d.gcs})")
    parser.add_argument("--synapses", type=positive_int, default=None,
                        help="MC->GC synapses the weight and fan-out memories hold (default "
                             "8 per GC)")


def gc_layer_config(args):
    """The :class:`~hetq.golden.fixed.gc_layer.GCLayerConfig` of ``--mcs``, ``--gcs``,
    ``--synapses``, ``--lanes``, ``--hold``, ``--rinse`` (and ``--spram``, ``--compact``)."""
    from ..golden.fixed.gc_layer import GCLayerConfig

    kwargs = given(args, ("mcs", "gcs", "synapses", "lanes", "hold", "rinse"))
    for flag in ("spram", "compact"):        # (options of some commands only)
        if getattr(args, flag, None):
            kwargs[flag] = True
    return GCLayerConfig(**kwargs)


def add_quantizer_options(parser):
    """``--sensors``, ``--duplication``/``-D``, ``--norm-lanes``, ``--sensor-bits`` and
    ``--datapath`` (each None unless given; the help shows the configuration's default)."""
    from ..golden.fixed.quantizer import DATAPATHS, QuantizerConfig

    d = QuantizerConfig()
    parser.add_argument("--sensors", type=positive_int, default=None,
                        help=f"sensors per sample (default {d.sensors})")
    parser.add_argument("--duplication", "-D", type=positive_int, default=None, metavar="D",
                        help=f"MCs per sensor (default {d.duplication})")
    parser.add_argument("--norm-lanes", type=positive_int, default=None, metavar="N",
                        help="normaliser dividers, a divisor of --sensors (default: the fewest "
                             f"that keep up with the quantizer, {d.norm_lanes} at "
                             f"{d.sensors} x {d.duplication} pipelined, "
                             f"{QuantizerConfig(datapath='serial').norm_lanes} serial)")
    parser.add_argument("--sensor-bits", type=positive_int, default=None,
                        help=f"bits of a sensor code (default {d.fmt.sensor_bits})")
    serial = QuantizerConfig(datapath="serial")
    parser.add_argument("--datapath", choices=DATAPATHS, default=None,
                        help=f"the quantizer's datapath (default {d.datapath}): pipelined, one "
                             f"MC per clock; serial, {serial.mc_cycles} clocks per MC at the "
                             f"default format, for small FPGAs (about a fifth of the logic)")


def add_mc_array_options(parser, *, mcs=False):
    """``--lanes``, ``--hold``, ``--rinse``, ``--inhibition`` (and ``--mcs`` with ``mcs``),
    each None unless given; the help shows the configuration's default."""
    from ..golden.fixed.mc_array import MCArrayConfig

    d = MCArrayConfig()
    if mcs:
        parser.add_argument("--mcs", type=positive_int, default=None,
                            help=f"MCs (default {d.mcs})")
    parser.add_argument("--lanes", type=positive_int, default=None,
                        help=f"mc-array: MC updates per clock, a power of two dividing the "
                             f"MCs; gc-layer: GC lanes, 1 .. min(64, GCs) (default {d.lanes})")
    parser.add_argument("--hold", type=positive_int, default=None,
                        help=f"steps a sample is held (multiple of 50; default {d.hold})")
    parser.add_argument("--rinse", type=non_negative_int, default=None,
                        help=f"steps of zero drive after it (multiple of 50; default {d.rinse})")
    parser.add_argument("--inhibition", action="store_true", default=None,
                        help="with the GC->MC path: the MC array's extra-current port (for "
                             "`hetq build gc-layer`: the GC layer's GC->MC output)")


def int_in(minimum, maximum):
    """An argparse type: an integer in [``minimum``, ``maximum``]."""
    at_least = int_at_least(minimum)

    def parse(text):
        value = at_least(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum}, got {value}")
        return value
    return parse


#: An argparse type for random seeds: NumPy's RandomState and scikit-learn take 0 .. 2**32 - 1.
seed_int = int_in(0, 2**32 - 1)


def add_text_options(parser, what):
    """``--decimal`` and ``--header``: how text (.csv/.tsv/.txt) input is read (hetq.io)."""
    g = parser.add_argument_group("text input", f"how {what} in .csv/.tsv/.txt files are read")
    g.add_argument("--decimal", choices=(".", ","), default=None,
                   help="decimal mark (default '.'); with ',' the fields must be separated by "
                        "';', tabs or spaces")
    g.add_argument("--header", choices=("auto", "yes", "no"), default=None,
                   help="auto (default): the first row is a header when none of its fields is "
                        "a number; yes: skip the first row; no: every row is data")


def text_options(args, inputs):
    """The :class:`hetq.io.TextOptions` of ``--decimal``/``--header``; ValueError when they were
    given but none of ``inputs`` (``(name, path)`` pairs, None paths skipped) is a text file."""
    from ..io import TextOptions, is_text
    given = [f"--{k}" for k in ("decimal", "header") if getattr(args, k, None) is not None]
    if given and not any(p is not None and is_text(p) for _, p in inputs):
        names = ", ".join(f"{n} {p}" for n, p in inputs if p is not None)
        raise ValueError(f"{' and '.join(given)} applies to .csv/.tsv/.txt input, not to "
                         f"{names}")
    return TextOptions(decimal=args.decimal or ".", header=args.header or "auto")


def say(text):
    """A note for the user on stderr (what was read, warnings), one line."""
    print(text, file=sys.stderr, flush=True)


def add_system_options(parser):
    """``--weights``, ``--baud``, ``--clock`` of the board system (``--duplication`` comes
    with the quantizer's options)."""
    parser.add_argument("--weights", metavar="W.npz", default=None,
                        help="tables of `hetq calibrate` (weights, optional thresholds) as the "
                             "memory init; sets D (default: zero weights, D = 32)")
    parser.add_argument("--baud", type=positive_int, default=None,
                        help="UART baud rate (default 3000000)")
    parser.add_argument("--clock", type=float, default=None, metavar="MHZ",
                        help="system clock from the board's PLL (default 30 on the "
                             "iCEBreaker, 100 on the ULX3S; the nearest the PLL makes)")
    parser.add_argument("--rasters", action=argparse.BooleanOptionalAction, default=None,
                        help="with the MC array and the RASTER command (default: on the "
                             "ULX3S, not on the iCEBreaker, whose UP5K does not hold it)")


def finite_float(text):
    """An argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def check_iic(iic, train):
    """``--iic W`` (the GC->MC weight in mV, or None) with ``--train`` (None or not):
    ValueError for a positive weight, or a weight without training (of ``hetq run`` and
    ``hetq board run`` alike)."""
    if iic is None:
        return
    if iic > 0:
        raise ValueError(f"--iic {iic:g}: the GC->MC weight is inhibitory and must be <= 0")
    if train is None:
        raise ValueError("--iic acts only after training: without --train no GC->MC "
                         "inhibition is learned and the weight has no effect")


def gc_count(text):
    """An argparse type for ``--gc``: a number of GCs (1 .. 65535), or ``auto`` (its value
    when given alone: 4 per MC)."""
    return text if text == "auto" else int_in(1, (1 << 16) - 1)(text)


def add_gc_options(parser):
    """``--gc [N]`` (a GC layer of N GCs behind the MC array; ``--gc`` alone: 4 per MC; absent:
    none, protocol version 1), ``--prop`` (its connection probability, which sizes the
    synapse memory; default 1/D as ``hetq run``) and ``--iic`` (the GC->MC path built). For
    ``hetq build system`` and ``hetq board sim`` (:func:`system_design` reads them)."""
    parser.add_argument("--gc", type=gc_count, nargs="?", const="auto", default=None,
                        metavar="N", help="with a GC layer of N GCs (alone: 4 per MC)")
    parser.add_argument("--prop", type=float, default=None, metavar="P",
                        help="with --gc: the connection probability the synapse memory is "
                             "sized for, round(P*N) GCs per MC (default 1/D, as `hetq run`)")
    parser.add_argument("--iic", action="store_true", default=None,
                        help="with --gc: build the GC->MC path (the GCs inhibit the MCs with "
                             "a weight the host sets: `hetq board run --iic W`; 0 at "
                             "power-up)")


def system_design(args):
    """``(SystemConfig, weight codes or None, PhaseTable or None)`` of ``--board``,
    ``--duplication``, ``--datapath``, ``--weights``, ``--baud``, ``--clock`` (and, where the
    command has them, ``--rasters``, ``--gc``, ``--prop`` and ``--iic``:
    :func:`add_gc_options`)."""
    from ..boards.operations import board_config, read_tables

    gc = {"gcs": getattr(args, "gc", None), "prop": getattr(args, "prop", None),
          "spram": getattr(args, "spram", None) or None, "iic": getattr(args, "iic", None)}
    duplication = args.duplication
    weights = table = None
    if args.weights is not None:
        _, _, _, sensors, d = read_tables(args.weights)
        if duplication is not None and duplication != d:
            raise ValueError(f"--duplication {duplication} but {args.weights} holds weights for "
                             f"D = {d}")
        duplication = d
        config = board_config(args.board, duplication=d, sensors=sensors,
                              clock_mhz=args.clock, baud=args.baud, datapath=args.datapath,
                              rasters=getattr(args, "rasters", None), **gc)
        _, weights, table, _, _ = read_tables(args.weights, config)
    else:
        config = board_config(args.board, duplication=duplication, clock_mhz=args.clock,
                              baud=args.baud, datapath=args.datapath,
                              rasters=getattr(args, "rasters", None), **gc)
    return config, weights, table
