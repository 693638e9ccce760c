"""Fixed-point arithmetic of the hardware front end, written once (MODEL.md sections 3-6, 17).

Every width, rounding and saturation rule of the normaliser, the phase quantizer and the
time-stepped MC neuron is defined here, in plain NumPy integer arithmetic; the HDL follows
these functions bit for bit and the tests hold it to that.

=================  ===========  ==============================================================
quantity           format       rule
=================  ===========  ==============================================================
sensor ``s``       UQ(B.0)      raw input, B = ``sensor_bits`` (default 16)
sum ``S``          UQ(B+ceil(log2 n).0)  exact sum of the n sensors of a sample
input ``x``        UQ1.Fx       ``floor(s * 2**Fx / S)``; 0 for every sensor when ``S == 0``
weight ``w``       UQ(Iw.Fw)    ``round_half_even(w_float * 2**Fw)``; a weight above the largest
                                code is an error, never clipped
drive ``c``        UQ(Ic.Fc)    ``min(floor(w * x / 2**(Fw + Fx - Fc)), 2**(Ic + Fc) - 1)``
                                (saturates; every phase boundary lies below the saturation)
voltage ``v``      SQ8.Fc       membrane voltage in mV; rest -60, threshold -55 (exact codes)
gamma ``g[p]``     SQ7.Fc       ``round_half_even(-20 * (1 - sin(2 pi p / 50)) * 2**Fc)``
leak               453/2048     ``v += (453 * (rest + c + g[p] - v)) >> 11`` (floor, i.e.
                                arithmetic shift right); exact RK4 factor of section 17
threshold ``T``    UQ(Ic.Fc)    smallest drive code whose MC fires at or before a phase
extra current      SQ(Ie.Fc)    per-MC extra input of the MC array (GC->MC), any code
``e``                           (``current_int`` = Ie, default 7: [-64, 64) mV)
array voltage      SQ(Iv.Fc)    the MC array's stored voltage; Iv (``state_int``, 9 by
                                default) is derived from the bounds so that no intermediate of
                                the step can overflow for any drive, gamma and extra current
=================  ===========  ==============================================================

The MC recursion (:func:`lif_phase`) is the arithmetic of the time-stepped neuron array; the
phase thresholds (:func:`phase_thresholds`) are found by running exactly that recursion, so a
quantizer comparing drives against them and the neuron array agree for every drive code.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CYCLE", "check_int", "LEAK_NUM", "LEAK_SHIFT", "REST_MV", "THRESHOLD_MV", "GAMMA_AMPLITUDE",
    "V_INT", "GAMMA_INT", "FixedFormat", "DEFAULT_FORMAT", "to_sensor_ints", "check_sensor_ints",
    "normalise", "weight_table", "drive", "gamma_rom", "lif_step", "lif_phase",
    "PhaseTable", "phase_thresholds", "phase_from_thresholds",
]

#: Steps per gamma cycle (20 Hz at dt = 1 ms).
CYCLE = 50
#: RK4 leak factor a = 0.22119140625 = LEAK_NUM / 2**LEAK_SHIFT (MODEL.md section 17).
LEAK_NUM = 453
LEAK_SHIFT = 11
REST_MV = -60
THRESHOLD_MV = -55
GAMMA_AMPLITUDE = 20
#: Integer bits (sign included) of the voltage and of the gamma ROM.
V_INT = 8
GAMMA_INT = 7

_MAX_BITS = 62  # every intermediate must fit an int64


def check_int(name, value, lo, hi=None):
    """Raise TypeError unless ``value`` is an integer, ValueError unless lo <= value (<= hi)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {bound}, not {value}")


@dataclass(frozen=True)
class FixedFormat:
    """The widths of the hardware front end (see the module docstring for the rules).

    Parameters
    ----------
    sensor_bits : int
        B, bits of an unsigned sensor value (1..32; default 16).
    x_frac : int
        Fx, fraction bits of the normalised input ``x`` (UQ1.Fx; default 20).
    weight_int, weight_frac : int
        Iw and Fw of the weight tables (UQ13.11 by default: 0 .. 8191.9995).
    drive_int, drive_frac : int
        Ic and Fc of the drive ``c = w*x`` (UQ6.16 by default: 0 .. 63.99998, saturating);
        Fc is also the fraction of the voltage and gamma codes.

    Raises
    ------
    TypeError
        A width is not an integer.
    ValueError
        A width is out of range, the product ``w*x`` has fewer fraction bits than the drive,
        or an intermediate would not fit 62 bits.
    """

    sensor_bits: int = 16
    x_frac: int = 20
    weight_int: int = 13
    weight_frac: int = 11
    drive_int: int = 6
    drive_frac: int = 16
    current_int: int = 7

    def __post_init__(self):
        check_int("sensor_bits", self.sensor_bits, 1, 32)
        check_int("x_frac", self.x_frac, 1, 40)
        check_int("weight_int", self.weight_int, 0, 40)
        check_int("weight_frac", self.weight_frac, 0, 40)
        check_int("drive_int", self.drive_int, 1, 16)
        check_int("drive_frac", self.drive_frac, 0, 32)
        check_int("current_int", self.current_int, 1, 16)
        if self.weight_bits < 1:
            raise ValueError("the weight format needs at least one bit "
                             f"(weight_int + weight_frac = {self.weight_bits})")
        if self.product_shift < 0:
            raise ValueError(f"drive_frac ({self.drive_frac}) must not exceed weight_frac + x_frac "
                             f"({self.weight_frac + self.x_frac})")
        if self.product_bits > _MAX_BITS or self.sensor_bits + self.x_frac > _MAX_BITS:
            raise ValueError(f"weight_bits + x_bits = {self.product_bits} exceeds {_MAX_BITS} bits")
        if V_INT + self.drive_frac + 12 > _MAX_BITS:
            raise ValueError(f"drive_frac ({self.drive_frac}) too large for the voltage arithmetic")

    # -- derived widths ---------------------------------------------------------------------

    @property
    def x_bits(self):
        """Width of a normalised input code (UQ1.Fx: 1.0 is representable)."""
        return self.x_frac + 1

    @property
    def weight_bits(self):
        return self.weight_int + self.weight_frac

    @property
    def weight_max(self):
        """The largest weight code, ``2**weight_bits - 1``."""
        return (1 << self.weight_bits) - 1

    @property
    def drive_bits(self):
        return self.drive_int + self.drive_frac

    @property
    def drive_max(self):
        """The saturation code of the drive, ``2**drive_bits - 1``."""
        return (1 << self.drive_bits) - 1

    @property
    def product_bits(self):
        """Width of the unsigned product ``w * x``."""
        return self.weight_bits + self.x_bits

    @property
    def product_shift(self):
        """Bits dropped (floor) from ``w * x`` to get the drive: Fw + Fx - Fc."""
        return self.weight_frac + self.x_frac - self.drive_frac

    @property
    def voltage_bits(self):
        return V_INT + self.drive_frac

    def sum_bits(self, sensors):
        """Width of the exact sum of ``sensors`` sensor values."""
        return self.sensor_bits + max(int(sensors) - 1, 0).bit_length()

    @property
    def current_bits(self):
        """Width of a signed extra-current code (SQ(Ie.Fc))."""
        return self.current_int + self.drive_frac

    @property
    def current_min(self):
        return -(1 << (self.current_bits - 1))

    @property
    def current_max(self):
        return (1 << (self.current_bits - 1)) - 1

    def state_bounds(self):
        """Bounds of the MC array's integer step with any drive and extra current:
        ``(v_min, v_max, diff_min, diff_max)`` for the voltage and for ``rest + c + g + e - v``.

        The voltage only moves toward the target ``T = rest + c + g + e`` (by a fraction
        453/2048 of the distance, rounded down), so it stays within ``[min(rest, T_min) - 1,
        threshold]`` (the clamp caps it at the threshold, a release or fire sets it to rest).
        """
        g = gamma_rom(self)
        t_min = self.rest + int(g.min()) + self.current_min
        t_max = self.rest + self.drive_max + int(g.max()) + self.current_max
        v_min = min(self.rest, t_min) - 1
        v_max = self.threshold
        return v_min, v_max, t_min - v_max, t_max - v_min

    @property
    def state_int(self):
        """Integer bits (sign included) of the MC array's voltage and step difference: the
        fewest that hold every value of :meth:`state_bounds`."""
        bits = max(_signed_bits(b) for b in self.state_bounds())
        return bits - self.drive_frac

    @property
    def state_bits(self):
        """Width of the MC array's signed voltage (SQ(Iv.Fc))."""
        return self.state_int + self.drive_frac

    @property
    def rest(self):
        """Resting voltage code (-60 mV)."""
        return REST_MV << self.drive_frac

    @property
    def threshold(self):
        """Firing threshold code (-55 mV)."""
        return THRESHOLD_MV << self.drive_frac

    def describe(self):
        """One line per format, for documentation and reports."""
        return {
            "sensor": f"UQ{self.sensor_bits}.0",
            "x": f"UQ1.{self.x_frac}",
            "weight": f"UQ{self.weight_int}.{self.weight_frac}",
            "drive": f"UQ{self.drive_int}.{self.drive_frac} (saturating)",
            "voltage": f"SQ{V_INT}.{self.drive_frac}",
            "gamma": f"SQ{GAMMA_INT}.{self.drive_frac}",
            "current": f"SQ{self.current_int}.{self.drive_frac}",
            "array voltage": f"SQ{self.state_int}.{self.drive_frac}",
        }


def _signed_bits(value):
    """Width of the two's-complement code that holds ``value``."""
    value = int(value)
    return (value if value >= 0 else ~value).bit_length() + 1


DEFAULT_FORMAT = FixedFormat()


def _as_format(fmt):
    if fmt is None:
        return DEFAULT_FORMAT
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"fmt must be a FixedFormat, not {type(fmt).__name__}")
    return fmt


# -- input ----------------------------------------------------------------------------------


def to_sensor_ints(samples, sensor_bits=16):
    """The host's conversion of float samples to sensor integers: one scale per sample.

    ``s = round_half_even(x * (2**B - 1) / max(x))`` row by row, so the largest sensor of each
    sample becomes ``2**B - 1``; all-zero rows stay zero. The normalisation makes the result
    independent of the scale. Raises ValueError for non-finite or negative values.
    """
    check_int("sensor_bits", sensor_bits, 1, 32)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"samples must be 2-D (samples x sensors), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or infinite values")
    if (x < 0).any():
        raise ValueError(f"samples must be >= 0, got a minimum of {x.min():g}")
    top = x.max(axis=1, keepdims=True)
    scale = np.divide((1 << sensor_bits) - 1, top, out=np.zeros_like(top), where=top > 0)
    return np.rint(x * scale).astype(np.int64)


def check_sensor_ints(samples, fmt=None, sensors=None):
    """Validate raw sensor codes (2-D, integer, within UQ(B.0)); returns them as int64."""
    fmt = _as_format(fmt)
    s = np.asarray(samples)
    if s.ndim != 2:
        raise ValueError(f"sensor codes must be 2-D (samples x sensors), got shape {s.shape}")
    if sensors is not None and s.shape[1] != sensors:
        raise ValueError(f"sensor codes have {s.shape[1]} sensors, expected {sensors}")
    if s.size and not np.issubdtype(s.dtype, np.integer):
        if not np.array_equal(s, np.floor(s)):
            raise ValueError("sensor codes must be integers")
    s = s.astype(np.int64)
    top = (1 << fmt.sensor_bits) - 1
    if s.size and (s.min() < 0 or s.max() > top):
        raise ValueError(f"sensor codes must lie in [0, {top}] ({fmt.sensor_bits} bits), got "
                         f"range [{s.min()}, {s.max()}]")
    return s


def normalise(samples, fmt=None):
    """L1 normalisation of sensor codes: ``x = floor(s * 2**Fx / sum(s))`` per sample.

    Exact integer division (the hardware runs a restoring divider per sensor). A sample whose
    sum is zero gives ``x = 0`` everywhere, hence zero drive and no spike. Returns int64 codes
    in UQ1.Fx, shape (samples, sensors).
    """
    fmt = _as_format(fmt)
    s = check_sensor_ints(samples, fmt)
    total = s.sum(axis=1, keepdims=True)
    safe = np.where(total == 0, 1, total)
    return np.where(total == 0, 0, (s << fmt.x_frac) // safe)


# -- weights and drive -----------------------------------------------------------------------


def weight_table(weights, fmt=None):
    """Quantise weights to table codes: ``round_half_even(w * 2**Fw)`` in UQ(Iw.Fw).

    ``weights`` is either the per-MC vector (length sensors*D) or the (sensors*D, sensors)
    ET->MC matrix with the column block structure (its on-block entries are taken).
    Raises ValueError naming the first weight that is negative, not finite, or above the
    largest code (tables are never clipped silently).
    """
    fmt = _as_format(fmt)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        from .weights import column_weights
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
    fmt = _as_format(fmt)
    w = np.asarray(weight_codes, dtype=np.int64)
    x = np.asarray(x_codes, dtype=np.int64)
    return np.minimum((w * x) >> fmt.product_shift, fmt.drive_max)


# -- the MC neuron ---------------------------------------------------------------------------


def gamma_rom(fmt=None):
    """The 50 gamma drive codes ``round_half_even(-20 * (1 - sin(2 pi p / 50)) * 2**Fc)``
    (SQ7.Fc: 0 at p = 12.5, -40 mV at p = 37.5); int64 array of length :data:`CYCLE`."""
    fmt = _as_format(fmt)
    p = np.arange(CYCLE)
    g = -GAMMA_AMPLITUDE * (1.0 - np.sin(2 * np.pi * p / CYCLE))
    return np.rint(g * float(1 << fmt.drive_frac)).astype(np.int64)


def lif_step(v, refractory, c, g, fmt=None, extra=0):
    """One step of the fixed-point MC neuron; returns ``(v, refractory, fire)``.

    1. ``fire = v >= threshold`` (the voltage left by the previous step); firing units go to
       rest and become refractory.
    2. ``v += (453 * (rest + c + g + extra - v)) >> 11`` (floor); ``extra`` is the MC array's
       extra input current (GC->MC), 0 for the quantizer.
    3. ``v = min(v, threshold)``; refractory units above rest are set to rest.

    The release at the end of the cycle (p = 49) is left to the caller.
    """
    fmt = _as_format(fmt)
    rest, thr = fmt.rest, fmt.threshold
    fire = v >= thr
    v = np.where(fire, rest, v)
    refractory = refractory | fire
    v = v + ((LEAK_NUM * (rest + c + g + extra - v)) >> LEAK_SHIFT)
    v = np.minimum(v, thr)
    v = np.where(refractory & (v > rest), rest, v)
    return v, refractory, fire


def lif_phase(drive_codes, fmt=None):
    """Spike phase of MCs with constant drive codes over one cycle, by running the recursion.

    Every cycle starts at rest (GC->MC off); the phase is ``p + 1`` for the first step p whose
    fire test succeeds, 0 if none (a crossing in the last step p = 49 is lost to the release).
    This is what the time-stepped neuron array computes. Returns int16 codes.
    """
    fmt = _as_format(fmt)
    c = np.asarray(drive_codes, dtype=np.int64)
    if c.size and (c.min() < 0 or c.max() > fmt.drive_max):
        raise ValueError(f"drive codes must lie in [0, {fmt.drive_max}]")
    g = gamma_rom(fmt)
    v = np.full(c.shape, fmt.rest, dtype=np.int64)
    refractory = np.zeros(c.shape, dtype=bool)
    phase = np.zeros(c.shape, dtype=np.int16)
    for p in range(CYCLE):
        v, refractory, fire = lif_step(v, refractory, c, g[p], fmt)
        phase[fire & (phase == 0)] = p + 1
    return phase


@dataclass(frozen=True)
class PhaseTable:
    """The phase thresholds of a format.

    Members
    -------
    thresholds : int64 array (levels,)
        Ascending drive codes; ``thresholds[j]`` is the smallest drive whose MC fires at phase
        ``top_phase - j`` or earlier. ``thresholds[0]`` is the rheobase.
    top_phase : int
        The latest phase that occurs (17): phase = ``top_phase + 1 - count`` where ``count``
        is the number of thresholds <= drive, and 0 (silent) when ``count == 0``.
    """

    thresholds: np.ndarray
    top_phase: int

    @property
    def levels(self):
        return len(self.thresholds)


def _first_drive(pred, fmt):
    """Smallest drive code c in [0, drive_max] with pred(lif_phase(c)) true, for each of the
    predicates (monotone in c); vectorised bisection. Returns drive_max + 1 where none."""
    lo = np.zeros(len(pred), dtype=np.int64)
    hi = np.full(len(pred), fmt.drive_max + 1, dtype=np.int64)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        ph = lif_phase(np.minimum(mid, fmt.drive_max), fmt)
        ok = np.array([f(p) for f, p in zip(pred, ph)]) & (mid <= fmt.drive_max)
        hi = np.where(ok & (lo < hi), mid, hi)
        lo = np.where(~ok & (lo < hi), mid + 1, lo)
    return lo


def phase_thresholds(fmt=None):
    """Derive the :class:`PhaseTable` of a format by bisection over the drive code with the
    exact recursion of :func:`lif_phase` (its phase is monotone in the drive).

    Raises ValueError when the saturated drive does not reach the earliest phase or some
    phase between the earliest and the latest never occurs (the quantizer's count-to-phase
    mapping needs a contiguous range).
    """
    fmt = _as_format(fmt)
    return _phase_table_cached(fmt)


_TABLES = {}


def _phase_table_cached(fmt):
    if fmt not in _TABLES:
        _TABLES[fmt] = _derive_phase_table(fmt)
    t = _TABLES[fmt]
    return PhaseTable(t.thresholds.copy(), t.top_phase)


def _derive_phase_table(fmt):
    earliest = int(lif_phase(fmt.drive_max, fmt))
    if earliest == 0:
        raise ValueError(f"drive format UQ{fmt.drive_int}.{fmt.drive_frac} cannot make an MC fire")
    rheo = int(_first_drive([lambda p: p > 0], fmt)[0])
    top = int(lif_phase(rheo, fmt))
    phases = list(range(top, earliest - 1, -1))
    preds = [lambda p, q=q: 0 < p <= q for q in phases]
    thr = _first_drive(preds, fmt)
    if thr[0] != rheo or np.any(np.diff(thr) <= 0):
        raise ValueError(f"phases {earliest}..{top} are not all reachable with drive format "
                         f"UQ{fmt.drive_int}.{fmt.drive_frac}")
    # the earliest phase must be reached below saturation with room to spare: phase is then
    # the same for every drive above the saturation code
    return PhaseTable(thr.astype(np.int64), top)


def phase_from_thresholds(drive_codes, table):
    """Phase of drive codes from a :class:`PhaseTable` (what the quantizer computes):
    ``count = #{j : thresholds[j] <= c}``, phase ``top_phase + 1 - count``, or 0 when
    ``count == 0``. Defined for any table (the count does not need an ascending table)."""
    c = np.asarray(drive_codes, dtype=np.int64)
    t = np.asarray(table.thresholds, dtype=np.int64)
    count = (c[..., None] >= t).sum(axis=-1)
    return np.where(count == 0, 0, table.top_phase + 1 - count).astype(np.int16)
