"""Bit-exact twin of ``hdl/quantizer.py`` (the phase quantizer) and its configuration.

Raw sensor codes in, per MC a drive code and a spike phase out (docs/model.md sections 5, 6, 17):

1. ``x = normalise(s)`` (:func:`.normaliser.normalise`, UQ1.Fx);
2. ``c = drive(w, x)`` for MC row ``D*i + k`` with the weight table entry of that row and
   the input of sensor ``i`` (UQ(Ic.Fc), saturating);
3. ``phase = count(c >= T) -> top_phase + 1 - count`` (0 when no threshold is reached).

:class:`QuantizerConfig` is the block's configuration (sizes, formats, normaliser lanes, the
pipeline's timing); :class:`QuantizerModel` holds the two run-time tables (weights,
thresholds) and applies table writes between samples, in acceptance order, as the hardware
does. :func:`fixed_mc_phases` is the drop-in for the float model's ``mc_phase`` readout.

Table writes carry an address of :attr:`QuantizerConfig.weight_addr_bits` (or
:attr:`~QuantizerConfig.threshold_addr_bits`) bits and a code of the table's width; a write
to an address beyond the table that the port can still carry (``mcs <= addr <
2**weight_addr_bits``) is dropped, by the hardware and by the model alike.
"""

import math
from dataclasses import dataclass, replace

import numpy as np

from ..checks import check_instance, check_int
from .config import BlockConfig
from .formats import DEFAULT_FORMAT, FixedFormat, check_format, index_bits
from .neuron import PhaseTable, phase_from_thresholds, phase_thresholds
from .normaliser import (MAX_SENSORS, NormaliserConfig, check_sensor_ints, normalise,
                         to_sensor_ints)

__all__ = ["QuantizerConfig", "MAX_DUPLICATION", "MAX_OPERAND_BITS", "COMPARE_PIECE",
           "DATAPATHS", "mc_cycles", "lanes_for", "weight_table", "drive", "QuantizerModel", "Output", "quantize",
           "quantize_normalised", "fixed_mc_phases", "stream_records"]

#: The largest duplication factor D.
MAX_DUPLICATION = 1024
#: The multiplier is built from 16 x 16 partial products; each operand may have two chunks.
MAX_OPERAND_BITS = 32
#: Threshold comparisons are made in pieces of at most this many bits, one stage each.
COMPARE_PIECE = 6
#: The quantizer's datapaths: ``"pipelined"`` (one MC per clock) and ``"serial"`` (a shift-add
#: multiplier and a threshold scan, one MC per :func:`mc_cycles` clocks, for small FPGAs).
DATAPATHS = ("pipelined", "serial")


def _check_datapath(datapath):
    if not isinstance(datapath, str):
        raise TypeError(f"datapath must be a string, one of {', '.join(DATAPATHS)}, not "
                        f"{datapath!r}")
    if datapath not in DATAPATHS:
        raise ValueError(f"datapath must be one of {', '.join(DATAPATHS)}, not {datapath!r}")
    return datapath


def mc_cycles(fmt=DEFAULT_FORMAT, datapath="pipelined"):
    """Clock cycles per MC of a datapath with nothing stalling: 1 for the pipelined one; for
    the serial one ``max(x_bits + 1, levels + 4)`` (22 with the default format), the longer of
    its two overlapped halves: the multiplier (a start cycle and ``x_bits`` shift-add steps,
    one per input bit; the next weight is fetched during the last step) and the compare (the
    hand-over of the drive, ``levels`` threshold reads one a cycle, each registered, compared
    and its result registered, the output taken, a cycle to see the compare idle again)."""
    fmt = check_format(fmt)
    if _check_datapath(datapath) == "pipelined":
        return 1
    return max(fmt.x_bits + 1, phase_thresholds(fmt).levels + 4)


def lanes_for(sensors, duplication, fmt=DEFAULT_FORMAT, datapath="pipelined"):
    """The fewest normaliser lanes (a divisor of ``sensors``) whose period does not exceed the
    ``sensors * duplication * mc_cycles(fmt, datapath)`` cycles the quantizer spends on a
    sample (all lanes if none): 2 at 8 x 32 with the pipelined datapath, 1 with the serial."""
    budget = sensors * duplication * mc_cycles(fmt, datapath)
    for lanes in range(1, sensors + 1):
        if sensors % lanes == 0:
            if NormaliserConfig(sensors, fmt, lanes).period <= budget:
                return lanes
    return sensors


def weight_table(weights, fmt=None):
    """Quantise weights to table codes: ``round_half_even(w * 2**Fw)`` in UQ(Iw.Fw).

    ``weights`` is either the per-MC vector (length sensors*D) or the (sensors*D, sensors)
    ET->MC matrix with the column block structure (its on-block entries are taken).
    Raises ValueError naming the first weight that is negative, not finite, or above the
    largest code (tables are never clipped silently).
    """
    fmt = check_format(fmt)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        from ..network.weights import column_weights
        _, w = column_weights(w)
        w = np.asarray(w, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a per-MC vector or a block matrix, got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        r = int(np.argmax(bad))
        raise ValueError(f"weight of MC {r} is {float(w[r]):g}; weights must be finite and >= 0")
    q = np.rint(w * float(1 << fmt.weight_frac))
    over = q > fmt.weight_max
    if over.any():
        r = int(np.argmax(over))
        limit = fmt.weight_max / (1 << fmt.weight_frac)
        raise ValueError(f"weight of MC {r} ({w[r]:.6g}) does not fit the weight table format "
                         f"UQ{fmt.weight_int}.{fmt.weight_frac} (largest weight {limit:.10g})")
    return q.astype(np.int64)


def drive(weight_codes, x_codes, fmt=None):
    """Drive codes ``min(floor(w * x / 2**(Fw + Fx - Fc)), 2**(Ic + Fc) - 1)`` (UQ(Ic.Fc)).

    Broadcasts like ``*``; the product is exact (at most ``product_bits`` wide)."""
    fmt = check_format(fmt)
    w = np.asarray(weight_codes, dtype=np.int64)
    x = np.asarray(x_codes, dtype=np.int64)
    return np.minimum((w * x) >> fmt.product_shift, fmt.drive_max)


@dataclass(frozen=True)
class QuantizerConfig(BlockConfig):
    """The phase quantizer: ``sensors * duplication`` MCs, their drive ``c = w*x`` and spike
    phase, one MC per clock (or per :attr:`mc_cycles` clocks with the serial datapath),
    behind a normaliser of ``norm_lanes`` dividers.

    Parameters
    ----------
    sensors : int
        S, sensors per sample (1..64; default 8).
    duplication : int
        D, MCs per sensor (1..1024; default 32, the paper's largest).
    fmt : FixedFormat
        Widths (``x_frac``, ``weight_*``, ``drive_*``; weight and input codes must each fit
        32 bits, the multiplier's operands).
    norm_lanes : int, optional
        Dividers of the normaliser, a divisor of ``sensors``; default the fewest whose period
        keeps up with the cycles a sample spends in the quantizer (:func:`lanes_for`: 2 at
        8 x 32 with the pipelined datapath, 1 with the serial one).
    datapath : str
        ``"pipelined"`` (default): one MC per clock, thresholds in registers compared in
        parallel, a pipelined multiplier, an output FIFO. ``"serial"``: for small FPGAs, one
        MC per :attr:`mc_cycles` clocks (22 with the default format), a shift-add multiplier
        and the thresholds in a block RAM scanned one per clock. Same ports, same results.
        Shown in the printed form only when it is not the default.

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong kind or out of range.
    """

    sensors: int = 8
    duplication: int = 32
    fmt: FixedFormat = DEFAULT_FORMAT
    norm_lanes: int | None = None
    datapath: str = "pipelined"

    #: Output FIFO depth of the pipelined quantizer (the issue credits): enough for II = 1
    #: with a ready sink; its block RAM part then has 32 entries. The serial datapath has none.
    FIFO_DEPTH = 33

    def __post_init__(self):
        self._resolve("sensors", check_int("sensors", self.sensors, 1, MAX_SENSORS))
        self._resolve("duplication", check_int("duplication", self.duplication, 1,
                                               MAX_DUPLICATION))
        fmt = check_instance("fmt", self.fmt, FixedFormat)
        self._resolve("fmt", fmt)
        for name, bits in (("weight", fmt.weight_bits), ("input", fmt.x_bits)):
            if bits > MAX_OPERAND_BITS:
                raise ValueError(f"{name} codes of {bits} bits do not fit the multiplier "
                                 f"(at most {MAX_OPERAND_BITS} bits)")
        datapath = _check_datapath(self.datapath)
        lanes = self.norm_lanes
        if lanes is None:
            lanes = lanes_for(self.sensors, self.duplication, fmt, datapath)
        self._resolve("norm_lanes", NormaliserConfig(self.sensors, fmt, lanes).lanes)

    def __str__(self):
        text = super().__str__()
        default = ", datapath=pipelined)"             # the last field: not shown when default
        return text[:-len(default)] + ")" if text.endswith(default) else text

    @property
    def mcs(self):
        """MCs: ``sensors * duplication``; MC row ``D*i + k`` belongs to sensor ``i``."""
        return self.sensors * self.duplication

    @property
    def normaliser(self):
        """The :class:`~.normaliser.NormaliserConfig` in front of the quantizer."""
        return NormaliserConfig(self.sensors, self.fmt, self.norm_lanes)

    @property
    def table(self):
        """The format's :class:`~.neuron.PhaseTable` (the initial thresholds)."""
        return phase_thresholds(self.fmt)

    @property
    def levels(self):
        """Threshold registers (16 with the default format)."""
        return self.table.levels

    @property
    def weight_addr_bits(self):
        return index_bits(self.mcs)

    @property
    def threshold_addr_bits(self):
        return index_bits(self.levels)

    @property
    def phase_bits(self):
        return int(self.table.top_phase).bit_length()

    @property
    def mc_cycles(self):
        """Clock cycles per MC with nothing stalling (:func:`mc_cycles`): 1 pipelined; serial
        ``max(x_bits + 1, levels + 4)``, 22 with the default format."""
        return mc_cycles(self.fmt, self.datapath)

    @property
    def stages(self):
        """Pipelined: register stages from issue to the output FIFO: the weight RAM, a register
        after it, the multiplier inputs, the 16 x 16 products, the products in the fabric, two
        adders, the drive, one stage per compare piece of :data:`COMPARE_PIECE` bits, the
        counts (13 with the default format). Serial: cycles an MC spends from the fetch of
        its weight to its result on the output (everything idle): the fetch, the start (the
        input into the multiplier), ``x_bits`` shift-add steps, the hand-over of the drive
        to the compare, the first threshold read and its register, ``levels`` compares, the
        last result's register (42 with the default format)."""
        fmt = self.fmt
        if self.datapath == "serial":
            return 5 + fmt.x_bits + self.levels
        return 8 + math.ceil(fmt.drive_bits / COMPARE_PIECE) + 1

    @property
    def latency(self):
        """Cycles of the bare quantizer from a sample's transfer (everything idle) to its first
        MC on the output. Pipelined: the input buffer, the issue, :attr:`stages`, two through
        the FIFO (17). Serial: the input register, then :attr:`stages` (43)."""
        if self.datapath == "serial":
            return 1 + self.stages
        return 2 + self.stages + 2

    @property
    def sensor_latency(self):
        """The same with the normaliser in front (raw sensor codes in)."""
        return self.normaliser.latency + self.latency

    @property
    def core_period(self):
        """Cycles per sample of the bare quantizer, normalised samples back to back, nothing
        stalling: ``mcs * mc_cycles`` (256 pipelined, 5632 serial at 8 x 32)."""
        return self.mcs * self.mc_cycles

    @property
    def period(self):
        """Cycles per sample, raw sensor codes back to back, nothing stalling: the MCs
        (:attr:`core_period`) or the normaliser's period, whichever is longer."""
        return max(self.core_period, self.normaliser.period)

    def check_weights(self, weights):
        """Initial weight table codes (length ``mcs``, integers in UQ(Iw.Fw)) as int64; all
        zero for None (the table before calibration)."""
        n, fmt = self.mcs, self.fmt
        if weights is None:
            return np.zeros(n, dtype=np.int64)
        w = np.asarray(weights)
        if w.shape != (n,) or not (np.issubdtype(w.dtype, np.integer) or w.size == 0):
            raise ValueError(f"weights must be {n} integer codes (sensors * duplication), "
                             f"got shape {w.shape} and dtype {w.dtype}")
        if w.min() < 0 or w.max() > fmt.weight_max:
            raise ValueError(f"weight codes must lie in [0, {fmt.weight_max}] "
                             f"({fmt.weight_bits} bits), got range [{w.min()}, {w.max()}]")
        return w.astype(np.int64)

    def check_table(self, table):
        """Initial thresholds as a :class:`~.neuron.PhaseTable` (a copy); the format's for
        None. Any codes in the drive range are accepted (the count semantics hold for any
        table), but the number of levels is the format's (the register count, which sizes
        the threshold port and the serial datapath's scan)."""
        if table is None:
            return self.table
        if not isinstance(table, PhaseTable):
            raise TypeError(f"table must be a PhaseTable, not {type(table).__name__}")
        t = np.asarray(table.thresholds)
        if t.ndim != 1 or t.size < 1 or t.min() < 0 or t.max() > self.fmt.drive_max:
            raise ValueError(f"thresholds must be 1 or more codes in [0, {self.fmt.drive_max}]")
        if t.size != self.levels:
            raise ValueError(f"the table has {t.size} thresholds; the format has {self.levels} "
                             "levels (one register each)")
        if not table.levels <= table.top_phase < 64:
            raise ValueError(f"top_phase {table.top_phase} must be in [levels, 63]")
        return PhaseTable(t.astype(np.int64).copy(), int(table.top_phase))


@dataclass
class Output:
    """Per sample and MC (row ``D*i + k``): int64 ``drive`` codes and int16 ``phase``."""

    drive: np.ndarray
    phase: np.ndarray


def quantize(sensor_codes, weight_codes, table, duplication, fmt=DEFAULT_FORMAT):
    """Drive and phase of every MC for a batch of sensor codes (samples x sensors).

    ``weight_codes`` is the per-MC table (length sensors*D, UQ(Iw.Fw) codes) and ``table`` a
    :class:`~.neuron.PhaseTable`."""
    s = check_sensor_ints(sensor_codes, fmt)
    return quantize_normalised(normalise(s, fmt), weight_codes, table, duplication, fmt)


def quantize_normalised(x_codes, weight_codes, table, duplication, fmt=DEFAULT_FORMAT):
    """As :func:`quantize`, from normalised input codes (UQ1.Fx, samples x sensors): the
    model of the bare phase quantizer."""
    x = np.asarray(x_codes, dtype=np.int64)
    if x.ndim != 2:
        raise ValueError(f"input codes must be 2-D (samples x sensors), got shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() > 1 << fmt.x_frac):
        raise ValueError(f"normalised codes must lie in [0, {1 << fmt.x_frac}]")
    w = np.asarray(weight_codes, dtype=np.int64)
    if w.shape != (x.shape[1] * duplication,):
        raise ValueError(f"weight table has shape {w.shape}, "
                         f"expected ({x.shape[1] * duplication},)")
    c = drive(w[None, :], np.repeat(x, duplication, axis=1), fmt)
    return Output(drive=c, phase=phase_from_thresholds(c, table))


class QuantizerModel:
    """The quantizer's state: its weight table and phase thresholds, with table writes.

    Parameters
    ----------
    config : QuantizerConfig
        The block (the weight table has ``config.mcs`` entries).
    weights : array, optional
        Initial weight *codes* (default all zero, as the hardware's table before calibration).
    table : PhaseTable, optional
        Initial thresholds (default the format's).
    """

    def __init__(self, config, *, weights=None, table=None):
        if not isinstance(config, QuantizerConfig):
            raise TypeError(f"config must be a QuantizerConfig, not {type(config).__name__}")
        self.config = config
        self.weights = config.check_weights(weights).copy()
        self.table = config.check_table(table)

    sensors = property(lambda self: self.config.sensors)
    duplication = property(lambda self: self.config.duplication)
    fmt = property(lambda self: self.config.fmt)
    mcs = property(lambda self: self.config.mcs)

    def write_weight(self, addr, code):
        """Set weight table entry ``addr`` (an MC row) to ``code``; returns False (and changes
        nothing) for an address beyond the table that the port can carry, as the hardware
        drops it. ValueError for an address or a code that does not fit the port."""
        if not 0 <= addr < 1 << self.config.weight_addr_bits:
            raise ValueError(f"weight address {addr} out of range "
                             f"[0, {1 << self.config.weight_addr_bits})")
        if not 0 <= code <= self.fmt.weight_max:
            raise ValueError(f"weight code {code} out of range [0, {self.fmt.weight_max}]")
        if addr >= self.mcs:
            return False
        self.weights[addr] = code
        return True

    def write_threshold(self, index, code):
        """Set threshold ``index`` (0 = the rheobase, the latest phase) to ``code``; an index
        beyond the table that the port can carry is dropped (returns False), as for
        :meth:`write_weight`."""
        if not 0 <= index < 1 << self.config.threshold_addr_bits:
            raise ValueError(f"threshold index {index} out of range "
                             f"[0, {1 << self.config.threshold_addr_bits})")
        if not 0 <= code <= self.fmt.drive_max:
            raise ValueError(f"threshold code {code} out of range [0, {self.fmt.drive_max}]")
        if index >= self.table.levels:
            return False
        self.table.thresholds[index] = code
        return True

    def read_weight(self, addr):
        """Weight table entry ``addr``; 0 for an address beyond the table that the port can
        carry (ValueError beyond that)."""
        if not 0 <= addr < 1 << self.config.weight_addr_bits:
            raise ValueError(f"weight address {addr} out of range "
                             f"[0, {1 << self.config.weight_addr_bits})")
        return int(self.weights[addr]) if addr < self.mcs else 0

    def read_threshold(self, index):
        """Threshold ``index``; 0 beyond the table (as :meth:`read_weight`)."""
        if not 0 <= index < 1 << self.config.threshold_addr_bits:
            raise ValueError(f"threshold index {index} out of range "
                             f"[0, {1 << self.config.threshold_addr_bits})")
        return int(self.table.thresholds[index]) if index < self.table.levels else 0

    def process(self, sensor_codes, normalised=False):
        """:class:`Output` for a batch of samples with the current tables; ``normalised``:
        the samples are UQ1.Fx input codes rather than raw sensor codes."""
        if normalised:
            x = np.asarray(sensor_codes, dtype=np.int64)
            if x.ndim != 2 or x.shape[1] != self.sensors:
                raise ValueError(f"input codes must have shape (n, {self.sensors}), got {x.shape}")
            return quantize_normalised(x, self.weights, self.table, self.duplication, self.fmt)
        s = check_sensor_ints(sensor_codes, self.fmt, self.sensors)
        return quantize(s, self.weights, self.table, self.duplication, self.fmt)

    def run(self, events, normalised=False):
        """Apply a sequence of events in order and return the output records of the samples.

        Events are ``("sample", codes)``, ``("weight", addr, code)`` or
        ``("threshold", index, code)``; the result is :func:`stream_records` of the samples,
        concatenated in order (an int64 array of (mc, drive, phase, last) rows).
        ``normalised`` as for :meth:`process`.
        """
        out, batch = [], []

        def flush():
            if batch:
                out.append(stream_records(self.process(np.stack(batch), normalised)))
                batch.clear()

        for ev in events:
            kind = ev[0]
            if kind == "sample":
                batch.append(np.asarray(ev[1]).reshape(self.sensors))
                continue
            flush()
            if kind == "weight":
                self.write_weight(int(ev[1]), int(ev[2]))
            elif kind == "threshold":
                self.write_threshold(int(ev[1]), int(ev[2]))
            else:
                raise ValueError(f"unknown event kind {kind!r}")
        flush()
        if not out:
            return np.zeros((0, 4), dtype=np.int64)
        return np.concatenate(out)


def stream_records(output):
    """The quantizer's output stream for an :class:`Output`: one row (mc, drive, phase, last)
    per MC, sample after sample, MC rows in ascending order; ``last`` marks the final MC of a
    sample."""
    n, mcs = output.phase.shape
    mc = np.tile(np.arange(mcs), n)
    last = (mc == mcs - 1).astype(np.int64)
    return np.stack([mc, output.drive.reshape(-1), output.phase.reshape(-1).astype(np.int64),
                     last], axis=1)


def fixed_mc_phases(samples, weights, *, sensor_bits=None, fmt=None, table=None):
    """MC phases of the fixed-point front end for float samples and float weights.

    The drop-in for the float model's ``Network.process(samples).mc_phase`` (MC-only network,
    GC->MC off): the host scales every sample to ``sensor_bits``-bit integers
    (:func:`~.normaliser.to_sensor_ints`), the weights are quantised to the table format
    (:func:`weight_table`), and the phases come from the hardware arithmetic.

    Parameters
    ----------
    samples : array (samples, sensors)
        Raw non-negative sensor values.
    weights : array (sensors*D, sensors)
        The ET->MC matrix (column block structure), e.g. from calibration.
    sensor_bits : int, optional
        Overrides ``fmt.sensor_bits``.
    fmt : FixedFormat, optional
    table : PhaseTable, optional
        Default: the thresholds derived from ``fmt``.

    Returns
    -------
    int16 array (samples, sensors*D): 0 = silent, else the phase (2..17).
    """
    fmt = DEFAULT_FORMAT if fmt is None else fmt
    if sensor_bits is not None:
        fmt = replace(fmt, sensor_bits=sensor_bits)
    w = np.asarray(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be a (sensors*D, sensors) matrix, got shape {w.shape}")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"samples of shape {x.shape} do not match weights for "
                         f"{w.shape[1]} sensors")
    codes = weight_table(w, fmt)
    s = to_sensor_ints(x, fmt.sensor_bits)
    table = phase_thresholds(fmt) if table is None else table
    return quantize(s, codes, table, w.shape[0] // w.shape[1], fmt).phase
