"""Bit-exact twin of ``hdl/normaliser.py``: L1 normalisation of raw sensor codes (docs/model.md
section 3), its configuration, and the host's conversion of float samples to sensor codes.
"""

from dataclasses import dataclass

import numpy as np

from ..checks import check_instance, check_int
from .config import BlockConfig
from .formats import DEFAULT_FORMAT, FixedFormat, check_format

__all__ = ["MAX_SENSORS", "NormaliserConfig", "to_sensor_ints", "check_sensor_ints", "normalise"]

#: The most sensors a sample may have.
MAX_SENSORS = 64


@dataclass(frozen=True)
class NormaliserConfig(BlockConfig):
    """The normaliser: ``sensors`` codes of ``fmt.sensor_bits`` bits in, their L1-normalised
    values (UQ1.Fx) out, with ``lanes`` restoring dividers.

    Parameters
    ----------
    sensors : int
        S, sensors per sample (1..64; default 8).
    fmt : FixedFormat
        Uses ``sensor_bits`` (B) and ``x_frac`` (Fx).
    lanes : int, optional
        Dividers working in parallel, a divisor of ``sensors``; default one per sensor.

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong kind or out of range.
    """

    sensors: int = 8
    fmt: FixedFormat = DEFAULT_FORMAT
    lanes: int | None = None

    def __post_init__(self):
        self._resolve("sensors", check_int("sensors", self.sensors, 1, MAX_SENSORS))
        check_instance("fmt", self.fmt, FixedFormat)
        lanes = self.sensors if self.lanes is None else self.lanes
        if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)):
            raise TypeError(f"lanes must be an integer, not {lanes!r}")
        if not 1 <= lanes <= self.sensors or self.sensors % lanes:
            raise ValueError(f"lanes must divide sensors ({self.sensors}), not {lanes}")
        self._resolve("lanes", int(lanes))

    @property
    def groups(self):
        """Sensors per divider: ``sensors / lanes`` divisions one after another."""
        return self.sensors // self.lanes

    @property
    def latency(self):
        """Cycles from a sample's transfer to the cycle its result is valid: the sum
        (``sensors + 2``), then two cycles per quotient bit for each group of ``lanes``."""
        return self.sensors + 2 + self.groups * 2 * self.fmt.x_bits

    @property
    def period(self):
        """Cycles per sample when the source and the sink never stall (one sample is held at a
        time, the next is taken the cycle after the result)."""
        return self.latency + 1


def to_sensor_ints(samples, sensor_bits=16):
    """The host's conversion of float samples to sensor integers: one scale per sample.

    ``s = round_half_even(x * (2**B - 1) / max(x))`` row by row, so the largest sensor of each
    sample becomes ``2**B - 1``; all-zero rows stay zero. The normalisation makes the result
    independent of the scale. Raises ValueError for non-finite or negative values and for a
    row whose largest value lies below ``2**(B - 1022)`` (the scale factor, at most
    ``2**1022``, stays finite, and every code is exact to far below half a step).
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
    small = (top > 0) & (top < 2.0 ** (sensor_bits - 1022))
    if small.any():
        r = int(np.flatnonzero(small)[0])
        raise ValueError(f"samples row {r} has a largest value of {top[r, 0]:.3g}, below "
                         f"2^{sensor_bits - 1022} = {2.0 ** (sensor_bits - 1022):.3g}: its scale "
                         f"to {sensor_bits}-bit codes would overflow float64")
    scale = np.divide((1 << sensor_bits) - 1, top, out=np.zeros_like(top), where=top > 0)
    return np.rint(x * scale).astype(np.int64)


def check_sensor_ints(samples, fmt=None, sensors=None):
    """Validate raw sensor codes (2-D, integer, within UQ(B.0)); returns them as int64."""
    fmt = check_format(fmt)
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
    fmt = check_format(fmt)
    s = check_sensor_ints(samples, fmt)
    total = s.sum(axis=1, keepdims=True)
    safe = np.where(total == 0, 1, total)
    return np.where(total == 0, 0, (s << fmt.x_frac) // safe)
