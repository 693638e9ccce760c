"""MC->GC synapse: 25-step delay line and DecaySTDP learning (docs/model.md sections 3 and 7).

Weights are kept only for the connected (GC, MC) pairs; the unconnected entries of the
reference's matrix are multiplied by the mask before every use, so they never matter.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["STDPParams", "DecaySTDP", "DelayLine"]

F32 = np.float32


@dataclass(frozen=True)
class STDPParams:
    """DecaySTDP parameters (section 7)."""

    alpha_plus: float = 0.3125
    alpha_minus: float = 1.25
    tau_plus: float = 4.0
    tau_minus: float = 4.0
    w_max: float = 30.0
    w_min: float = 0.0
    w_init: float = 25.0
    penalty: float = 50.0
    cycle: int = 50
    prune_fraction: float = 0.001
    #: After training, every weight <= this is set to zero.
    clamp_threshold: float = 29.0
    delay: int = 25


class DelayLine:
    """A fixed delay of ``delay`` steps for a batch of spike vectors (zeros before filled)."""

    def __init__(self, delay, n, batch=1):
        self.delay = delay
        self._buf = np.zeros((max(delay, 1), batch, n), dtype=bool)
        self._pos = 0

    def reset(self):
        self._buf[...] = False
        self._pos = 0

    def push(self, spikes):
        """Insert this step's spikes; return the spikes of ``delay`` steps ago."""
        if self.delay == 0:
            return spikes
        out = self._buf[self._pos].copy()
        self._buf[self._pos] = spikes
        self._pos = (self._pos + 1) % self.delay
        return out

    def empty(self):
        return not self._buf.any()


class DecaySTDP:
    """The MC->GC weights and their spike-timing plasticity.

    Parameters
    ----------
    mask : bool array (n_gc, n_mc)
        Connectivity C.
    params : STDPParams

    Members
    -------
    pre, post : int64 arrays
        Last-spike stamps of the MCs (delivered spikes) and the GCs; 0 = never.
    """

    def __init__(self, mask, params=STDPParams()):
        mask = np.asarray(mask, dtype=bool)
        self.mask = mask
        self.params = params
        self.n_gc, self.n_mc = mask.shape
        self.g_idx, self.m_idx = np.nonzero(mask)
        self.w = np.full(self.g_idx.size, params.w_init, dtype=F32)
        self.pre = np.zeros(self.n_mc, dtype=np.int64)
        self.post = np.zeros(self.n_gc, dtype=np.int64)
        self._wt = None

    @property
    def matrix(self):
        """The effective weights W*C as a float32 (n_gc, n_mc) array."""
        m = np.zeros((self.n_gc, self.n_mc), dtype=F32)
        m[self.g_idx, self.m_idx] = self.w
        return m

    @matrix.setter
    def matrix(self, value):
        value = np.asarray(value, dtype=F32)
        self.w = value[self.g_idx, self.m_idx].copy()
        self._wt = None

    def transposed(self):
        """(n_mc, n_gc) float32 weights for ``spikes @ W.T``; cached until the weights change."""
        if self._wt is None:
            self._wt = np.ascontiguousarray(self.matrix.T)
        return self._wt

    def update(self, s, delivered_prev, gc_prev):
        """One learning step at synapse step ``s`` from the previous step's delivered MC spikes
        and GC spikes (1-D bool vectors)."""
        p = self.params
        self.pre[delivered_prev] = s
        self.post[gc_prev] = s
        active_m = self.pre != 0
        active_g = self.post != 0
        n_active = int(active_m.sum()) * int(active_g.sum())
        if n_active == 0:
            return
        pre = self.pre[self.m_idx]
        post = self.post[self.g_idx]
        both = (pre != 0) & (post != 0)
        w = self.w
        incl = both & (w != F32(p.w_max))
        # The reference skips the whole step when its mask is empty; unconnected active pairs
        # are in that mask too (their weight is never w_max).
        if not incl.any() and n_active == int(both.sum()):
            return
        pruned = np.abs(w) < F32(p.prune_fraction * p.w_max)
        delta = (pre[incl] - post[incl]).astype(F32)
        dw = np.zeros(delta.shape, dtype=F32)
        ltp = delta < 0
        ltd = delta > 0
        dw[ltp] = F32(p.alpha_plus) * np.exp(delta[ltp] / F32(p.tau_plus))
        dw[ltd] = -F32(p.alpha_minus) * np.exp(-delta[ltd] / F32(p.tau_minus))
        u = w[incl] + dw
        u[delta < -p.cycle] -= F32(p.penalty)
        w[incl] = u
        w[pruned] = 0
        np.clip(w, F32(p.w_min), F32(p.w_max), out=w)
        self._wt = None

    def clamp_after_training(self):
        """Zero every weight at or below the post-training threshold (29)."""
        self.w[self.w <= F32(self.params.clamp_threshold)] = 0
        self._wt = None
