"""Fixed-point arithmetic of the hardware front end, written once (docs/model.md sections 3-6, 17).

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

from dataclasses import asdict, dataclass, fields

import numpy as np

from ..checks import check_int

__all__ = [
    "CYCLE", "LEAK_NUM", "LEAK_SHIFT", "REST_MV", "THRESHOLD_MV", "GAMMA_AMPLITUDE", "V_INT",
    "GAMMA_INT", "FixedFormat", "DEFAULT_FORMAT", "check_format", "gamma_rom", "index_bits",
]

#: Steps per gamma cycle (20 Hz at dt = 1 ms).
CYCLE = 50
#: RK4 leak factor a = 0.22119140625 = LEAK_NUM / 2**LEAK_SHIFT (docs/model.md section 17).
LEAK_NUM = 453
LEAK_SHIFT = 11
REST_MV = -60
THRESHOLD_MV = -55
GAMMA_AMPLITUDE = 20
#: Integer bits (sign included) of the voltage and of the gamma ROM.
V_INT = 8
GAMMA_INT = 7

_MAX_BITS = 62  # every intermediate must fit an int64


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

    def to_dict(self):
        """The widths by name (JSON-ready); :meth:`from_dict` reads them back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        """The format of a :meth:`to_dict` mapping; ValueError names a missing or unknown key."""
        if not isinstance(d, dict):
            raise TypeError(f"a format must be a mapping, not {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown format field(s): {', '.join(unknown)}")
        missing = sorted(names - set(d))
        if missing:
            raise ValueError(f"format field(s) missing: {', '.join(missing)}")
        return cls(**{k: d[k] for k in names})

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


def index_bits(n):
    """Bits of an index in range(n) (at least 1)."""
    return max(1, (int(n) - 1).bit_length())


def check_format(fmt, name="fmt"):
    """``fmt``, or :data:`DEFAULT_FORMAT` for None; TypeError unless it is a FixedFormat."""
    if fmt is None:
        return DEFAULT_FORMAT
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"{name} must be a FixedFormat, not {type(fmt).__name__}")
    return fmt


def gamma_rom(fmt=None):
    """The 50 gamma drive codes ``round_half_even(-20 * (1 - sin(2 pi p / 50)) * 2**Fc)``
    (SQ7.Fc: 0 at p = 12.5, -40 mV at p = 37.5); int64 array of length :data:`CYCLE`."""
    fmt = check_format(fmt)
    p = np.arange(CYCLE)
    g = -GAMMA_AMPLITUDE * (1.0 - np.sin(2 * np.pi * p / CYCLE))
    return np.rint(g * float(1 << fmt.drive_frac)).astype(np.int64)
