"""The integer MC neuron (docs/model.md sections 4, 6 and 17) and the phase thresholds it implies.

:func:`lif_step` is the arithmetic of the time-stepped MC array (``hdl/mc_array.py``); the
phase thresholds of the quantizer (``hdl/quantizer.py``) are found by running exactly that
recursion (:func:`phase_thresholds`), so a quantizer comparing drives against them and the
neuron array agree for every drive code.
"""

from dataclasses import dataclass

import numpy as np

from .formats import CYCLE, LEAK_NUM, LEAK_SHIFT, check_format, gamma_rom

__all__ = ["lif_step", "lif_phase", "PhaseTable", "phase_thresholds", "phase_from_thresholds"]


def lif_step(v, refractory, c, g, fmt=None, extra=0):
    """One step of the fixed-point MC neuron; returns ``(v, refractory, fire)``.

    1. ``fire = v >= threshold`` (the voltage left by the previous step); firing units go to
       rest and become refractory.
    2. ``v += (453 * (rest + c + g + extra - v)) >> 11`` (floor); ``extra`` is the MC array's
       extra input current (GC->MC), 0 for the quantizer.
    3. ``v = min(v, threshold)``; refractory units above rest are set to rest.

    The release at the end of the cycle (p = 49) is left to the caller.
    """
    fmt = check_format(fmt)
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
    fmt = check_format(fmt)
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
    fmt = check_format(fmt)
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
