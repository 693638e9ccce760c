"""Seeded sensor samples for the benches of every block that takes raw sensor codes: edge
cases and a random mixture."""

import numpy as np

from ...golden.fixed.formats import DEFAULT_FORMAT

__all__ = ["edge_samples", "random_samples"]


def edge_samples(sensors, fmt=DEFAULT_FORMAT):
    """Edge cases: zero vector, one-hot at full scale, all equal (full scale and 1), all
    maximal, the smallest non-zero sum, one large sensor with ones elsewhere, and a ramp."""
    top = (1 << fmt.sensor_bits) - 1
    rows = [np.zeros(sensors, dtype=np.int64)]
    for k in range(sensors):
        one = np.zeros(sensors, dtype=np.int64)
        one[k] = top
        rows.append(one)
    rows.append(np.full(sensors, top))
    rows.append(np.ones(sensors, dtype=np.int64))
    smallest = np.zeros(sensors, dtype=np.int64)
    smallest[-1] = 1
    rows.append(smallest)
    big = np.ones(sensors, dtype=np.int64)
    big[0] = top
    rows.append(big)
    rows.append(np.minimum(np.arange(sensors, dtype=np.int64) * max(top // sensors, 1), top))
    return np.stack(rows)


def random_samples(rng, n, sensors, fmt=DEFAULT_FORMAT):
    """``n`` random samples from a mixture: full-scale uniform, sparse, per-sample scaled
    down by a random power of two (small sums), and near-zero values."""
    top = (1 << fmt.sensor_bits) - 1
    kind = rng.integers(0, 4, n)
    s = rng.integers(0, top + 1, (n, sensors))
    sparse = rng.random((n, sensors)) < 0.5
    s = np.where((kind == 1)[:, None] & sparse, 0, s)
    shift = rng.integers(0, fmt.sensor_bits + 1, n)
    s = np.where((kind == 2)[:, None], s >> shift[:, None], s)
    s = np.where((kind == 3)[:, None], rng.integers(0, 4, (n, sensors)), s)
    return s.astype(np.int64)
