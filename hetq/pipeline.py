"""Library functions behind ``hetq calibrate`` and ``hetq run`` (the CLI only parses and prints)."""

from dataclasses import dataclass

import numpy as np

from .golden.network.connectivity import (default_prop, random_connectivity, silent_gc_warning,
                                          validate_connectivity)
from .golden.network.model import Network, validate_samples
from .golden.network.weights import WeightSpec, column_weights

__all__ = ["calibrate_weights", "RunResult", "run_network", "weight_spec"]


def calibrate_weights(samples, spec, duration=50, rinse=50):
    """Run the calibration pass (docs/model.md section 10) of ``samples`` for ``spec``.

    Returns ``(weights, info)``: the float32 (sensors*D, sensors) matrix and a dict with the
    number of weight updates. Raises ValueError when the data never shows a non-zero value
    (the reference would leave every weight at zero).
    """
    x = validate_samples(samples)
    if not x.any():
        raise ValueError("calibration data has no non-zero value; the weights would stay zero")
    net = Network(np.zeros((x.shape[1] * spec.duplication, x.shape[1]), dtype=np.float32))
    cal = net.calibrate(x, spec, duration=duration, rinse=rinse)
    return net.weights, {"updates": cal.updates, "log_rows": len(cal.log)}


@dataclass
class RunResult:
    """Outputs of :func:`run_network` (the arrays are the keys of ``hetq run``'s OUT.npz).

    ``prop`` is the connection probability the random MC->GC mask was drawn with (None
    without GCs or with a given mask); ``warning`` a note about GCs that can never fire, or
    None (see :func:`~hetq.golden.network.connectivity.silent_gc_warning`)."""

    et: np.ndarray
    mc_phase: np.ndarray
    gc_phase: np.ndarray | None
    mc_gc_weights: np.ndarray | None
    connectivity: np.ndarray | None
    mc_raster: np.ndarray | None = None
    prop: float | None = None
    warning: str | None = None

    def arrays(self):
        out = {"et": self.et, "mc_phase": self.mc_phase}
        for name in ("gc_phase", "mc_gc_weights", "connectivity", "mc_raster"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def run_network(data, weights, *, train=None, connectivity=None, n_gc=None, prop=None,
                iic_weight=0.0, steps=250, rinse=50, seed=0, raster=False, progress=None):
    """Process ``data`` with a network built from ``weights`` (docs/model.md section 10).

    With ``train``, follow the reference fold: fit on ``train`` (STDP on), then process
    ``data``. A GC layer is built when ``n_gc`` or ``connectivity`` is given; without a mask,
    connectivity is drawn from ``numpy.random.default_rng(seed)`` with probability ``prop``
    (default 1/D, the paper's grid). ``progress(n)`` is called as samples finish.

    Parameters that would have no effect are refused (ValueError): ``prop`` with a given mask
    or without GCs, a non-zero ``iic_weight`` without ``train`` (the inhibition acts only
    through what the GC layer learns) or without GCs.
    """
    d, _ = column_weights(weights)
    sensors = np.shape(weights)[1]
    n_mc = sensors * d
    x = validate_samples(data, sensors, name="data")
    xt = None if train is None else validate_samples(train, sensors, name="train")
    if prop is not None and (connectivity is not None or not n_gc):
        raise ValueError("the connection probability (--prop) applies to a random connectivity "
                         "(--gc N without --connectivity)")
    if iic_weight and connectivity is None and not n_gc:
        raise ValueError("the GC->MC weight (--iic) needs a GC layer (--gc N or --connectivity)")
    if iic_weight and xt is None:
        raise ValueError("the GC->MC weight (--iic) acts only after training: without --train "
                         "no inhibition is learned and the weight has no effect")
    mask = None
    if connectivity is not None:
        mask = validate_connectivity(connectivity, n_mc, n_gc)
        n_gc = mask.shape[0]
    elif n_gc:
        prop = default_prop(d) if prop is None else prop
        mask = random_connectivity(n_gc, n_mc, prop, np.random.default_rng(seed))
    if xt is not None and not n_gc:
        raise ValueError("training (--train) needs a GC layer: give --gc N or --connectivity")
    net = Network(weights, n_gc=n_gc or 0, connectivity=mask, iic_weight=iic_weight)
    if xt is not None:
        net.fit(xt, duration=steps, rinse=rinse, progress=progress)
    out = net.process(x, duration=steps, rinse=rinse, raster=raster, progress=progress)
    return RunResult(et=out.et, mc_phase=out.mc_phase, gc_phase=out.gc_phase,
                     mc_gc_weights=net.mc_gc_weights, connectivity=mask,
                     mc_raster=out.mc_raster, prop=prop if connectivity is None else None,
                     warning=None if mask is None else silent_gc_warning(mask))


def weight_spec(mode, duplication, gain=25.0, smoothing=0.25, payload=25.0, limit=0.01):
    """A validated :class:`~hetq.golden.network.weights.WeightSpec` (convenience for the CLI)."""
    return WeightSpec(mode=mode, duplication=duplication, gain=gain, smoothing=smoothing,
                      payload=payload, limit=limit)
