"""GC->MC inhibition (IIC synapse, docs/model.md section 8).

GC j projects to MC ``j mod n_mc`` only, so every per-pair quantity is stored per GC. The weight
is 0 in the paper's (feed-forward) configuration; any weight <= 0 is supported.
"""

import numpy as np

__all__ = ["IICSynapse", "iic_mask"]

F32 = np.float32


def iic_mask(n_mc, n_gc):
    """The GC->MC connectivity (n_mc, n_gc): ``C[i, j] = (j mod n_mc == i)``."""
    return (np.arange(n_gc)[None, :] % n_mc) == np.arange(n_mc)[:, None]


class IICSynapse:
    """Blocking durations B (learned once per pair), last-spike stamps and the inhibitory output.

    Parameters
    ----------
    n_mc, n_gc : int
    weight : float
        The GC->MC weight of every connected pair (<= 0).

    The last-spike stamps (``src_last`` per GC, ``dst_last`` per MC, 0 = never) belong to the
    network's run-time state and are passed in; B only changes while learning.
    """

    def __init__(self, n_mc, n_gc, weight=0.0, cycle=50, rate=1):
        if not np.isfinite(weight) or weight > 0:
            raise ValueError(f"GC->MC weight must be a finite value <= 0, not {weight!r}")
        self.n_mc, self.n_gc = n_mc, n_gc
        self.weight = F32(weight)
        self.cycle = cycle
        self.rate = rate
        self.target = np.arange(n_gc) % n_mc
        self.blocking = np.zeros(n_gc, dtype=np.int64)
        self.frozen = np.zeros(n_gc, dtype=bool)
        self._scatter = iic_mask(n_mc, n_gc).T.astype(F32)

    @property
    def active(self):
        """False when the output is identically zero (weight 0 or nothing learned)."""
        return self.weight != 0 and bool(self.blocking.any())

    def learn(self, t, src, dst):
        """The blocking-duration update from the stamps ``src`` (n_gc,) and ``dst`` (n_mc,),
        applied at steps with ``t % cycle == cycle - 1``."""
        if t % self.cycle != self.cycle - 1:
            return
        src_lc = (src != 0) & (t - src < self.cycle)
        dst_lc = (dst != 0) & (t - dst < self.cycle)
        if not dst_lc.any():
            return
        new = self.rate * (dst[self.target] % self.cycle) + self.cycle * (src_lc & ~dst_lc[self.target])
        new = np.clip(new, 0, self.cycle)
        changed = ~self.frozen & (new != self.blocking)
        self.blocking[changed] = new[changed]
        self.frozen |= changed

    def output(self, t, src):
        """The GC->MC current at step ``t`` from the GC stamps ``src`` (batch, n_gc): float32
        (batch, n_mc), used by the MCs at step t + 1."""
        if t == 0 or not self.active:
            return F32(0)
        elapsed = t - src
        incl = (self.blocking > 0) & (elapsed < self.cycle)
        status = self.blocking + (self.cycle - src % self.cycle) - elapsed
        act = np.where(status > 0, 1, np.where(status == 0, -1, 0)) * incl
        return (self.weight * act.astype(F32)) @ self._scatter
