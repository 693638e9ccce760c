"""Leaky integrate-and-fire layers and the gamma oscillation (docs/model.md sections 2 and 4).

All arithmetic is float32, in the operation order of the reference (PyTorch float32 on the CPU),
so that spike times near a phase boundary come out the same way.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CYCLE", "LIFParams", "MC_PARAMS", "GC_PARAMS", "LIFLayer",
    "gamma_drive_table", "rk4_leak_factor",
]

F32 = np.float32

#: Steps per gamma cycle: 20 Hz sampled at dt = 1 ms.
CYCLE = 50


@dataclass(frozen=True)
class LIFParams:
    """Parameters of a LIF layer (voltages in mV, times in steps of dt = 1 ms).

    ``release_phase`` is the cycle position p at whose *start* every unit is released: the
    release happens at the end of the step with ``(t + 1) % CYCLE == release_phase``.
    """

    thr: float
    release_phase: int
    rest: float = -60.0
    tau: float = 4.0
    g_l: float = 1.0
    tau_ref: int = 50


#: Mitral cells: threshold -55 mV, cycle p = 0..49.
MC_PARAMS = LIFParams(thr=-55.0, release_phase=0)
#: Granule cells: threshold -50 mV, cycle p = 25..74 (half a cycle after the MCs).
GC_PARAMS = LIFParams(thr=-50.0, release_phase=25)


def rk4_leak_factor(h=0.25):
    """The factor ``a`` with which one RK4 step of ``dv/dt = (rest + I - v)/tau`` equals
    ``v + a*(rest + I - v)``, for ``h = dt/tau``. For tau = 4, dt = 1 it is 453/2048 exactly."""
    return h - h**2 / 2 + h**3 / 6 - h**4 / 24


def gamma_drive_table(amplitude=20.0):
    """The oscillatory MC input of every cycle position, ``-amplitude*(1 - sin(2*pi*p/50))``.

    Returns a float32 array of length :data:`CYCLE`: 0 at p = 12.5 (least inhibition) and
    ``-2*amplitude`` at p = 37.5. The sine is evaluated in float64 on the exact phase and rounded
    once, which is what an exact 50-entry ROM holds (docs/model.md section 2).
    """
    p = np.arange(CYCLE)
    osc = (1.0 - np.sin(2 * np.pi * p / CYCLE)).astype(F32)
    return F32(-amplitude) * osc


class LIFLayer:
    """State and exact step of a batch of LIF layers (docs/model.md section 4).

    Parameters
    ----------
    n : int
        Units per layer.
    params : LIFParams
    batch : int
        Independent copies of the layer (one per sample processed in parallel).

    Members
    -------
    v : float32 array (batch, n)
        Membrane voltage.
    r : int32 array (batch, n)
        Refractory counter.
    spiked : bool array (batch, n)
        The spike output of the last step.
    """

    def __init__(self, n, params, batch=1):
        self.n = n
        self.params = params
        self.batch = batch
        self._rest = F32(params.rest)
        self._thr = F32(params.thr)
        self._tau = F32(params.tau)
        self._g_l = F32(params.g_l)
        self._ref = np.int32(round(params.tau_ref))
        self.reset()

    def reset(self):
        """All units at rest, refractory counters cleared, no spike pending."""
        self.v = np.full((self.batch, self.n), self._rest, dtype=F32)
        self.r = np.zeros((self.batch, self.n), dtype=np.int32)
        self.spiked = np.zeros((self.batch, self.n), dtype=bool)

    def _f(self, x, drive):
        # (-(x - rest) + I/g_L) / tau, in this order, in float32.
        return (-(x - self._rest) + drive) / self._tau

    def step(self, current, t):
        """Advance one step at global step ``t`` with input ``current`` (float32, broadcastable
        to (batch, n)). Returns the step's spike output (also kept in :attr:`spiked`)."""
        rest, thr = self._rest, self._thr
        v, r = self.v, self.r
        fire = v >= thr
        v[fire] = rest
        r += fire * self._ref
        drive = current if self._g_l == 1 else current / self._g_l
        k1 = self._f(v, drive)
        k2 = self._f(v + F32(0.5) * k1, drive)
        k3 = self._f(v + F32(0.5) * k2, drive)
        k4 = self._f(v + k3, drive)
        v += F32(1 / 6) * (k1 + F32(2) * k2 + F32(2) * k3 + k4)
        np.minimum(v, thr, out=v)
        v[(r > 0) & (v > rest)] = rest
        r -= r > 0
        if (t + 1) % CYCLE == self.params.release_phase % CYCLE:
            v[...] = rest
            r[...] = 0
        self.spiked = fire
        return fire
