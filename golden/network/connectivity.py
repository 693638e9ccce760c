"""MC->GC connectivity (docs/model.md section 1): every MC projects to exactly round(prop*N_GC)
GCs."""

import numpy as np

__all__ = ["random_connectivity", "validate_connectivity", "default_prop", "connection_count",
           "check_prop", "silent_gc_warning"]


def default_prop(duplication):
    """The forward connection probability of the paper's grid (section 13): 1/D."""
    return 1.0 / duplication


def connection_count(n_gc, prop):
    """GCs each MC projects to: ``round(prop * n_gc)`` (Python's round, half to even)."""
    return int(round(prop * n_gc))


def check_prop(n_gc, prop):
    """``round(prop * n_gc)``; ValueError unless ``prop`` lies in [0, 1] and, with GCs present,
    connects each MC to at least one GC."""
    if not 0 <= prop <= 1:
        raise ValueError(f"connection probability must be in [0, 1], not {prop!r}")
    k = connection_count(n_gc, prop)
    if n_gc and k == 0:
        raise ValueError(f"connection probability {prop:g} with {n_gc} GCs connects each MC to "
                         f"round({prop * n_gc:g}) = 0 GCs: there would be no MC->GC connection; "
                         f"raise the probability above {0.5 / n_gc:.3g} or the number of GCs")
    return k


def random_connectivity(n_gc, n_mc, prop, rng):
    """A (n_gc, n_mc) bool mask: for each MC column a fresh permutation of the GCs, of which the
    first ``round(prop*n_gc)`` are connected. ``rng`` is a ``numpy.random.Generator`` or a seed.
    Raises ValueError when that count is 0 for GCs present (no MC->GC connection at all)."""
    k = check_prop(n_gc, prop) if n_mc else connection_count(n_gc, prop)
    rng = np.random.default_rng(rng)
    mask = np.zeros((n_gc, n_mc), dtype=bool)
    for m in range(n_mc):
        mask[rng.permutation(n_gc)[:k], m] = True
    return mask


def validate_connectivity(mask, n_mc, n_gc=None):
    """Check a user-supplied MC->GC mask: 2-D, (n_gc, n_mc), only 0 and 1, at least one
    connection. Returns it as bool."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"connectivity must be a 2-D (n_gc, n_mc) array, got shape {mask.shape}")
    if mask.shape[1] != n_mc:
        raise ValueError(f"connectivity has {mask.shape[1]} MC columns but the weights define "
                         f"{n_mc} MCs")
    if n_gc is not None and mask.shape[0] != n_gc:
        raise ValueError(f"connectivity has {mask.shape[0]} GC rows but {n_gc} GCs were asked for")
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.number) or not np.all(np.isin(mask, (0, 1))):
            raise ValueError("connectivity must contain only 0 and 1")
    mask = mask.astype(bool)
    if mask.size and not mask.any():
        raise ValueError(f"connectivity has no MC->GC connection (all {mask.size} entries are "
                         f"0): the GC layer would get no input")
    return mask


def silent_gc_warning(mask):
    """A warning (str) when some GCs have fewer than two MC inputs, else None.

    Such a GC can never fire: one MC spike, at the largest MC->GC weight of 30, lifts a GC by
    0.2212 * 30 = 6.6 mV of the 10 mV between rest and threshold, and an MC spikes at most once
    per cycle (docs/model.md sections 4 and 9)."""
    inputs = np.asarray(mask, dtype=bool).sum(axis=1)
    none, one = int(np.count_nonzero(inputs == 0)), int(np.count_nonzero(inputs == 1))
    if not none + one:
        return None
    return (f"{none + one} of {len(inputs)} GCs have fewer than two MC inputs ({none} none, "
            f"{one} one) and can never fire: a GC needs two coincident MC spikes")
