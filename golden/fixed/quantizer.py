"""Bit-exact model of the hardware phase quantizer (``hetq.hdl.quantizer``).

Raw sensor codes in, per MC a drive code and a spike phase out (MODEL.md sections 5, 6, 17):

1. ``x = normalise(s)`` (:func:`.normaliser.normalise`, UQ1.Fx);
2. ``c = drive(w, x)`` for MC row ``D*i + k`` with the weight table entry of that row and
   the input of sensor ``i`` (UQ(Ic.Fc), saturating);
3. ``phase = count(c >= T) -> top_phase + 1 - count`` (0 when no threshold is reached).

:class:`QuantizerModel` holds the two run-time tables (weights, thresholds) and applies table
writes between samples, in acceptance order, as the hardware does. :func:`fixed_mc_phases` is
the drop-in for the float model's ``mc_phase`` readout.
"""

from dataclasses import dataclass, replace

import numpy as np

from .formats import DEFAULT_FORMAT, FixedFormat, check_format
from .neuron import PhaseTable, phase_from_thresholds, phase_thresholds
from .normaliser import check_sensor_ints, normalise, to_sensor_ints

__all__ = ["weight_table", "drive", "QuantizerModel", "Output", "quantize",
           "quantize_normalised", "fixed_mc_phases", "stream_records"]


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


@dataclass
class Output:
    """Per sample and MC (row ``D*i + k``): int64 ``drive`` codes and int16 ``phase``."""

    drive: np.ndarray
    phase: np.ndarray


def _check_shape_params(sensors, duplication):
    for name, value in (("sensors", sensors), ("duplication", duplication)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, not {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, not {value}")


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
    sensors, duplication : int
        S and D; the weight table has S*D entries (row ``D*i + k`` belongs to sensor i).
    fmt : FixedFormat
    weights : array, optional
        Initial weight *codes* (default all zero, as the hardware's table before calibration).
    table : PhaseTable, optional
        Initial thresholds (default :func:`~.neuron.phase_thresholds` of ``fmt``).
    """

    def __init__(self, *, sensors, duplication, fmt=DEFAULT_FORMAT, weights=None, table=None):
        _check_shape_params(sensors, duplication)
        if not isinstance(fmt, FixedFormat):
            raise TypeError(f"fmt must be a FixedFormat, not {type(fmt).__name__}")
        self.sensors, self.duplication, self.fmt = int(sensors), int(duplication), fmt
        n = self.sensors * self.duplication
        if weights is None:
            weights = np.zeros(n, dtype=np.int64)
        self.weights = np.array(weights, dtype=np.int64)
        if self.weights.shape != (n,):
            raise ValueError(f"weight codes have shape {self.weights.shape}, expected ({n},)")
        if self.weights.min() < 0 or self.weights.max() > fmt.weight_max:
            raise ValueError(f"weight codes must lie in [0, {fmt.weight_max}]")
        table = phase_thresholds(fmt) if table is None else table
        self.table = PhaseTable(np.array(table.thresholds, dtype=np.int64), table.top_phase)

    @property
    def mcs(self):
        return self.sensors * self.duplication

    def write_weight(self, addr, code):
        """Set weight table entry ``addr`` (an MC row) to ``code``."""
        if not 0 <= addr < self.mcs:
            raise ValueError(f"weight address {addr} out of range [0, {self.mcs})")
        if not 0 <= code <= self.fmt.weight_max:
            raise ValueError(f"weight code {code} out of range [0, {self.fmt.weight_max}]")
        self.weights[addr] = code

    def write_threshold(self, index, code):
        """Set threshold ``index`` (0 = the rheobase, the latest phase) to ``code``."""
        if not 0 <= index < self.table.levels:
            raise ValueError(f"threshold index {index} out of range [0, {self.table.levels})")
        if not 0 <= code <= self.fmt.drive_max:
            raise ValueError(f"threshold code {code} out of range [0, {self.fmt.drive_max}]")
        self.table.thresholds[index] = code

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
