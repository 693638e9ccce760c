"""Synthetic sensor data of the paper (docs/model.md section 11).

Random numbers come from one ``numpy.random.RandomState`` seeded like the reference's global
NumPy generator, consumed in the reference's order (exponential concentrations class by class,
then the noise permutation, the noise, and the sampling with replacement), so that the noise
permutation of seed 314 is the documented one.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SEED_VECTOR", "SESSIONS", "NOISE_VARIANTS", "SynthConfig", "hoyer", "sharpen",
    "tune_contrast", "affinity_matrix", "synthesize",
]

SEED_VECTOR = (1.0, 0.95, 0.8, 0.75, 0.4, 0.35, 0.2, 0.15)
SESSIONS = ("concentration", "saturation")
#: "config": the sigma list of the configuration files (default, section 16.5);
#: "flat": sigma 0.01 on every sensor (the data file shipped with the reference).
NOISE_VARIANTS = ("config", "flat")
CONC_LOC = (1, 2, 4, 8, 16, 32, 64, 128)
CONC_SCALE = (0.1, 0.1, 1, 1, 1, 1, 1, 1)


def hoyer(v):
    """Hoyer sparsity ``(sqrt(n) - |v|_1/|v|_2) / (sqrt(n) - 1)``."""
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    return (np.sqrt(n) - np.abs(v).sum() / np.linalg.norm(v)) / (np.sqrt(n) - 1)


def sharpen(v, exponent, shift=0.0):
    """``clip(v + shift, 0)**exponent``, L1-normalised."""
    u = np.clip(np.asarray(v, dtype=np.float64) + shift, 0, None) ** exponent
    return u / u.sum()


def tune_contrast(seed=SEED_VECTOR, target=0.4, tol=1e-4):
    """Sharpen ``seed`` to Hoyer sparsity ``target``: coarse steps of the exponent (0.1) until
    the side of the target flips, then fine steps of an additive constant (1e-5)."""
    def status(v):
        h = hoyer(v)
        return -1 if h < target - tol else (1 if h > target + tol else 0)

    seed = np.asarray(seed, dtype=np.float64)
    exponent = 2.0
    current = seed
    first = status(current)
    while first and status(current) == first and exponent > 1:
        exponent -= 0.1 * status(current)
        current = sharpen(seed, exponent)
    base, shift = current, 0.0
    first = status(current)
    while first and status(current) == first:
        shift += 1e-5 * status(current)
        current = sharpen(base, 1.0, shift)
    return current


def affinity_matrix(a):
    """``A[j, k] = a[j XOR k]``: sensor j responds most to source j (len(a) a power of two)."""
    n = len(a)
    idx = np.arange(n)
    return np.asarray(a)[idx[:, None] ^ idx[None, :]]


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic session (defaults: the paper's)."""

    session: str = "concentration"
    seed: int = 314
    noise: str = "config"
    per_class: int = 512
    shots: int = 2
    folds: int = 8
    contrast: float = 0.4

    def __post_init__(self):
        if self.session not in SESSIONS:
            raise ValueError(f"session must be one of {', '.join(SESSIONS)}, not {self.session!r}")
        if self.noise not in NOISE_VARIANTS:
            raise ValueError(f"noise must be one of {', '.join(NOISE_VARIANTS)}, not {self.noise!r}")
        for name in ("per_class", "shots", "folds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")

    @property
    def sigma(self):
        if self.session == "saturation":
            return np.full(8, 0.02)
        if self.noise == "flat":
            return np.full(8, 0.01)
        return np.array([0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.1])


def synthesize(config=SynthConfig()):
    """Generate a session: ``(samples, labels, info)``.

    ``samples`` is (8*shots*folds, 8) float64 ordered by class, ``labels`` the classes 1..8,
    ``info`` a dict with the seed vector ``a``, the affinity matrix and the noise permutation.
    """
    rs = np.random.RandomState(config.seed)
    a = tune_contrast(target=config.contrast)
    aff = affinity_matrix(a)
    n_src = len(a)
    n = config.per_class
    pools = []
    for c in range(n_src):
        conc = np.zeros((n, n_src))
        conc[:, c] = CONC_LOC[c] + CONC_SCALE[c] * rs.standard_exponential(n)
        if config.session == "concentration":
            resp = conc @ aff.T
        else:
            resp = (1.0 / (1.0 + np.exp(-8.0 * (conc[:, None, :] * aff[None] - 0.5)))).sum(-1)
        pools.append(resp)
    perm = rs.permutation(n_src)
    sigma = config.sigma
    for resp in pools:
        resp[:, perm] += rs.normal(0.0, sigma, size=resp.shape)
    k = config.shots * config.folds
    samples = np.concatenate([pool[rs.randint(0, n, size=k)] for pool in pools])
    labels = np.repeat(np.arange(1, n_src + 1), k)
    low = samples.min()
    if low < 0:
        samples = samples - low
    return samples, labels, {"a": a, "affinity": aff, "permutation": perm, "sigma": sigma}
