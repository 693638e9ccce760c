"""ET->MC quantization weights: the data-blind modes and adaptive calibration (docs/model.md
section 5).

The weight matrix has shape (sensors*D, sensors) and is zero except for its column blocks:
``W[D*i + k, i] = gain * space[k, i]`` with ``space[:, i]`` sorted ascending.
"""

from dataclasses import dataclass, asdict

import jenkspy
import numpy as np

__all__ = [
    "MODES", "PAYLOAD", "LIMIT", "WEIGHT_MAX", "SMOOTHING_MAX", "HOMOGENEOUS_GAINS", "WeightSpec",
    "uniform_space", "linear_space", "block_matrix", "column_weights", "data_blind_weights",
    "jenks_classes", "allocate_points", "density_from_breaks", "adaptive_weights",
    "lower_median", "Calibrator",
]

F32 = np.float32
MODES = ("homogeneous", "uniform", "linear", "adaptive")
PAYLOAD = 25.0
LIMIT = 0.01
#: The ET->MC synapse clamps its weights to [0, WEIGHT_MAX].
WEIGHT_MAX = 1e7
#: The largest smoothing the calibration defines: s*D points per Jenks class, at most all D
#: of them (s = 1: two classes). Beyond 1 the reference's class count wraps round (s >= 2 at
#: any D gives as many classes as s = 0), so larger values are refused.
SMOOTHING_MAX = 1.0
#: The ten gain levels of the paper's Homogeneous condition (docs/model.md section 16.4).
HOMOGENEOUS_GAINS = (25, 28, 32, 37, 45, 56, 73, 109, 208, 2500)


@dataclass(frozen=True)
class WeightSpec:
    """How the ET->MC weights are made.

    Parameters
    ----------
    mode : {"homogeneous", "uniform", "linear", "adaptive"}
    duplication : int
        D, the MCs per ET unit (>= 1).
    gain : float
        The single weight of every MC in ``homogeneous`` mode (the "baseline" value).
    smoothing : float
        Adaptive mode, in [0, 1]: 0.25 is the paper's *Adaptive*, 0.5 its *Scaled* condition.
    payload, limit : float
        Gain and smallest covered input of the heterogeneous modes.
    """

    mode: str = "uniform"
    duplication: int = 4
    gain: float = 25.0
    smoothing: float = 0.25
    payload: float = PAYLOAD
    limit: float = LIMIT

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not isinstance(self.duplication, (int, np.integer)) or self.duplication < 1:
            raise ValueError(f"duplication must be an integer >= 1, not {self.duplication!r}")
        for name in ("gain", "payload"):
            value = getattr(self, name)
            if not np.isfinite(value) or not 0 < value <= WEIGHT_MAX:
                raise ValueError(f"{name} must be in (0, {WEIGHT_MAX:g}], not {value!r}")
        if not np.isfinite(self.limit) or not 0 < self.limit <= 1:
            raise ValueError(f"limit must be in (0, 1], not {self.limit!r}")
        if not np.isfinite(self.smoothing) or not 0 <= self.smoothing <= SMOOTHING_MAX:
            raise ValueError(f"smoothing must be in [0, {SMOOTHING_MAX:g}] (the fraction of D per "
                             f"Jenks class, docs/model.md section 5.4), not {self.smoothing!r}")

    def as_dict(self):
        return asdict(self)


def uniform_space(duplication, limit=LIMIT):
    """The 1/x spacing of section 5.2: ``(1/limit)/v_k`` for v = linspace(1, 1/limit, D), ascending."""
    v = np.linspace(1.0, 1.0 / limit, duplication)
    return np.sort((1.0 / limit) / v)


def linear_space(duplication, limit=LIMIT):
    """The linear spacing of section 5.3: linspace(1, 1/limit, D + 1) without its last point."""
    return np.linspace(1.0, 1.0 / limit, duplication + 1)[:-1]


def block_matrix(space, gain):
    """The (S*D, S) float32 matrix with ``W[D*i + k, i] = gain * space[k, i]``, clamped to
    [0, WEIGHT_MAX] as the synapse does. ``space`` has shape (D, S)."""
    space = np.asarray(space, dtype=np.float64)
    d, s = space.shape
    w = np.zeros((s * d, s), dtype=F32)
    col = np.repeat(np.arange(s), d)
    w[np.arange(s * d), col] = np.clip(gain * space.T.reshape(-1), 0, WEIGHT_MAX)
    return w


def column_weights(weights):
    """Validate the block structure of an ET->MC matrix and return its duplication D and the
    per-MC weight vector (``weights[r, r // D]``). Raises ValueError naming the problem."""
    w = np.asarray(weights)
    if w.ndim != 2 or w.shape[1] < 1 or w.shape[0] % w.shape[1]:
        raise ValueError(f"weights must have shape (sensors*D, sensors), got {w.shape}")
    if not np.issubdtype(w.dtype, np.floating) and not np.issubdtype(w.dtype, np.integer):
        raise ValueError(f"weights must be numeric, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or infinite values")
    if w.min() < 0 or w.max() > WEIGHT_MAX:
        raise ValueError(f"weights must lie in [0, {WEIGHT_MAX:g}], got range "
                         f"[{w.min():g}, {w.max():g}]")
    d = w.shape[0] // w.shape[1]
    rows = np.arange(w.shape[0])
    on_block = np.zeros(w.shape, dtype=bool)
    on_block[rows, rows // d] = True
    if np.any(w[~on_block] != 0):
        r, c = np.argwhere((w != 0) & ~on_block)[0]
        raise ValueError(f"weights break the column block structure: W[{r}, {c}] = {w[r, c]:g} "
                         f"but MC row {r} belongs to sensor {r // d} (D = {d})")
    return d, w[rows, rows // d].astype(F32)


def data_blind_weights(spec, sensors):
    """The weights of a data-independent mode (homogeneous, uniform, linear)."""
    d = spec.duplication
    if spec.mode == "homogeneous":
        space, gain = np.ones(d), spec.gain
    elif spec.mode == "uniform":
        space, gain = uniform_space(d, spec.limit), spec.payload
    elif spec.mode == "linear":
        space, gain = linear_space(d, spec.limit), spec.payload
    else:
        raise ValueError(f"mode {spec.mode!r} needs calibration data")
    return block_matrix(np.tile(space[:, None], (1, sensors)), gain)


def lower_median(values):
    """The lower median (PyTorch's ``median``): element ``(n - 1)//2`` of the sorted values."""
    values = np.sort(np.asarray(values).reshape(-1))
    return values[(values.size - 1) // 2]


def jenks_classes(duplication, smoothing, n_obs, n_unique):
    """Number K of Jenks classes for ``n_obs`` observations with ``n_unique`` distinct values
    (section 5.4 step 3): 4 for smoothing 0.25 and D >= 4, 2 for smoothing 0.5."""
    sc = int(max(smoothing * duplication, 1))
    m = duplication // sc
    if m == 1:
        k = 2
    elif n_obs < m or m < 1:
        k = min(n_obs, duplication)
    else:
        k = m
    return min(k, n_unique)


def allocate_points(widths, duplication):
    """Share D points among segments: ``D // n`` each, the remainder one at a time to the
    narrowest segments first (ties in segment order)."""
    widths = np.asarray(widths, dtype=np.float64)
    n = widths.size
    counts = np.full(n, duplication // n, dtype=int)
    order = np.argsort(widths, kind="stable")
    for i in range(duplication - counts.sum()):
        counts[order[i % n]] += 1
    return counts


def density_from_breaks(obs, duplication, smoothing, limit=LIMIT):
    """One column of ``space`` from the calibration log of one feature (section 5.4).

    ``obs`` is the log column (every normalised value seen, rinse zeros included). Returns D
    values sorted ascending: the reciprocals of the points that cover the Jenks segments.
    """
    obs = np.asarray(obs, dtype=np.float64).copy()
    obs[obs < limit] = limit
    obs = np.append(obs, 1.0)
    unique = np.unique(obs)
    if unique.size == 1:
        return np.sort(np.linspace(obs[0], limit, duplication))
    k = jenks_classes(duplication, smoothing, obs.size, unique.size)
    edges = np.asarray(jenkspy.jenks_breaks(unique.tolist(), n_classes=k), dtype=np.float64)[1:]
    counts = allocate_points(np.diff(edges), duplication)
    points = [np.linspace(lo, hi, n + 1)[1:] for lo, hi, n in zip(edges[:-1], edges[1:], counts)]
    return np.sort(1.0 / np.concatenate(points))


def adaptive_weights(log, spec):
    """The adaptive ET->MC matrix from a calibration log (rows = steps, columns = sensors),
    with the lower-median gain correction of section 5.4 step 7."""
    log = np.asarray(log)
    d = spec.duplication
    space = np.stack([density_from_breaks(log[:, i], d, spec.smoothing, spec.limit)
                      for i in range(log.shape[1])], axis=1)
    corr = lower_median(np.linspace(spec.limit, 1.0, d)) / lower_median(1.0 / space)
    return block_matrix(space, spec.payload / corr)


class Calibrator:
    """The calibration bookkeeping of the ET->MC synapse (section 5.4 steps 1-3).

    Feed it the normalised ET vector of every calibration step (exposure and rinse) with
    :meth:`observe`; it keeps the running extremes and the log and recomputes the weights
    whenever a feature sees a new non-zero extreme. Data-blind modes are written at those same
    steps, so before the first non-zero input the weights are all zero, as in the reference.
    """

    def __init__(self, spec, sensors, weights=None):
        self.spec = spec
        self.sensors = sensors
        self.running_min = np.full(sensors, np.finfo(F32).max, dtype=F32)
        self.running_max = np.full(sensors, -np.finfo(F32).max, dtype=F32)
        self._log = [np.zeros(sensors, dtype=F32)]
        self.updates = 0
        self.weights = (np.zeros((sensors * spec.duplication, sensors), dtype=F32)
                        if weights is None else weights)

    @property
    def log(self):
        """The observation log, one row per calibration step after an initial row of zeros."""
        return np.stack(self._log)

    def observe(self, et):
        """Record one step's ET vector; returns True when the weights were recomputed."""
        et = np.asarray(et, dtype=F32).reshape(self.sensors)
        self._log.append(et.copy())
        nonzero = et != 0
        new_min = (et < self.running_min) & nonzero
        new_max = (et > self.running_max) & nonzero
        self.running_min[new_min] = et[new_min]
        self.running_max[new_max] = et[new_max]
        if not (new_min.any() or new_max.any()):
            return False
        if self.spec.mode == "adaptive":
            self.weights = adaptive_weights(self.log, self.spec)
        else:
            self.weights = data_blind_weights(self.spec, self.sensors)
        self.updates += 1
        return True
