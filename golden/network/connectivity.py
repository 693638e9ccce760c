"""MC->GC connectivity (MODEL.md section 1): every MC projects to exactly round(prop*N_GC) GCs."""

import numpy as np

__all__ = ["random_connectivity", "validate_connectivity", "default_prop"]


def default_prop(duplication):
    """The forward connection probability of the paper's grid (section 13): 1/D."""
    return 1.0 / duplication


def random_connectivity(n_gc, n_mc, prop, rng):
    """A (n_gc, n_mc) bool mask: for each MC column a fresh permutation of the GCs, of which the
    first ``round(prop*n_gc)`` are connected. ``rng`` is a ``numpy.random.Generator`` or a seed."""
    if not 0 <= prop <= 1:
        raise ValueError(f"connection probability must be in [0, 1], not {prop!r}")
    rng = np.random.default_rng(rng)
    k = int(round(prop * n_gc))
    mask = np.zeros((n_gc, n_mc), dtype=bool)
    for m in range(n_mc):
        mask[rng.permutation(n_gc)[:k], m] = True
    return mask


def validate_connectivity(mask, n_mc, n_gc=None):
    """Check a user-supplied MC->GC mask: 2-D, (n_gc, n_mc), only 0 and 1. Returns it as bool."""
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
    return mask.astype(bool)
