"""The whole network in fixed point: normaliser, drive, MC array and GC layer, the arithmetic of the
hardware end to end (``hetq experiment --model fixed``, ``hetq fidelity``, ``hetq board``).

Calibration stays in Python (the float model's, docs/model.md section 5); its weights are
quantised to the weight-table format. Samples are scaled to sensor integers by the host's rule
(:func:`.normaliser.to_sensor_ints`), normalised and multiplied into MC drives by the bit-exact
twins of the normaliser and the quantizer, and the MCs and GCs are stepped by
:class:`.gc_layer.GCLayerModel`. :class:`FixedNetwork` has the interface of the float
:class:`~hetq.golden.network.model.Network` (``fit``, ``process``, ``mc_gc_weights``), so the
experiment and ``hetq run`` drive either.
"""

import numpy as np

from ..network.model import Readout, validate_samples, validate_schedule
from ..network.weights import column_weights
from .formats import CYCLE, DEFAULT_FORMAT, check_format
from .gc_layer import GCLayerConfig, GCLayerModel
from .normaliser import normalise, to_sensor_ints
from .quantizer import drive, weight_table

__all__ = ["FixedNetwork", "iic_code", "fixed_drives"]


def iic_code(weight, fmt=DEFAULT_FORMAT):
    """The GC->MC weight (mV, <= 0) as an SQ(Ie.Fc) code: ``round_half_even(w * 2**Fc)``.
    ValueError for a positive, non-finite or too negative weight."""
    w = float(weight)
    if not np.isfinite(w) or w > 0:
        raise ValueError(f"GC->MC weight must be a finite value <= 0, not {weight!r}")
    code = int(np.rint(w * (1 << fmt.drive_frac)))
    if code < fmt.current_min:
        raise ValueError(f"GC->MC weight {w:g} is below the current format's "
                         f"{fmt.current_min / (1 << fmt.drive_frac):g} mV")
    return code


def fixed_drives(samples, weight_codes, duplication, fmt=DEFAULT_FORMAT):
    """``(x_codes, drives)`` of float samples: sensor integers, normalised codes (UQ1.Fx,
    (samples, sensors)) and MC drive codes ((samples, sensors*D))."""
    s = to_sensor_ints(np.asarray(samples, dtype=np.float64), fmt.sensor_bits)
    x = normalise(s, fmt)
    c = drive(np.asarray(weight_codes, dtype=np.int64)[None, :],
              np.repeat(x, duplication, axis=1), fmt)
    return x, c


class FixedNetwork:
    """The fixed-point network.

    Parameters
    ----------
    weights : array (sensors*D, sensors)
        Float ET->MC weights (column block structure), quantised to UQ(Iw.Fw) codes.
    n_gc : int
        GCs (>= 1; the hardware has a GC layer).
    connectivity : bool array (n_gc, n_mc)
    iic_weight : float
        GC->MC weight in mV (<= 0; 0 as in the paper).
    fmt : FixedFormat
    t0 : int
        Step counter at creation (a multiple of 50; e.g. after the calibration windows).
    """

    def __init__(self, weights, *, n_gc, connectivity, iic_weight=0.0, fmt=None, t0=0):
        self.fmt = check_format(fmt)
        weights = np.asarray(weights)
        self.duplication, _ = column_weights(weights)
        self.sensors = weights.shape[1]
        self.n_mc = weights.shape[0]
        self.weight_codes = weight_table(weights, self.fmt)
        self.n_gc = int(n_gc)
        if self.n_gc < 1:
            raise ValueError(f"the fixed-point network needs a GC layer (n_gc >= 1), not {n_gc}")
        code = iic_code(iic_weight, self.fmt)
        mask = np.asarray(connectivity, dtype=bool)
        self.config = GCLayerConfig(mcs=self.n_mc, gcs=self.n_gc,
                                    synapses=max(int(mask.sum()), 1), fmt=self.fmt,
                                    iic=code != 0)
        self.layer = GCLayerModel(self.config, mask, code)
        self.layer.t = t0

    @property
    def t(self):
        return self.layer.t

    @property
    def mc_gc_weights(self):
        """The MC->GC weights W*C in mV (float32 (n_gc, n_mc)): codes / 2**Fc, exact."""
        return (self.layer.matrix() / float(1 << self.fmt.drive_frac)).astype(np.float32)

    def _drives(self, samples):
        x = validate_samples(samples, self.sensors)
        return fixed_drives(x, self.weight_codes, self.duplication, self.fmt)

    def fit(self, samples, duration=250, rinse=CYCLE, progress=None):
        """Train (STDP and GC->MC learning on), then zero every weight <= 29."""
        validate_schedule(duration, rinse)
        _, c = self._drives(samples)
        for row in c:
            self.layer.run(row[None], learn=True, hold=duration, rinse=rinse)
            if progress is not None:
                progress(1)
        self.layer.clamp()

    def process(self, samples, duration=250, rinse=CYCLE, raster=False, progress=None,
                batch_size=64):
        """Run test samples with learning off; returns a
        :class:`~hetq.golden.network.model.Readout` (``et`` is the normalised input)."""
        validate_schedule(duration, rinse)
        x, c = self._drives(samples)
        parts = []
        for start in range(0, len(c), batch_size):
            out = self.layer.run(c[start:start + batch_size], raster=raster, hold=duration,
                                 rinse=rinse)
            parts.append(out)
            if progress is not None:
                progress(len(c[start:start + batch_size]))
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        phase = {k: np.where(cat[f"{k}_inwin"], cat[f"{k}_last"] % CYCLE + 1, 0).astype(np.int16)
                 for k in ("mc", "gc")}
        et = (x / float(1 << self.fmt.x_frac)).astype(np.float32)
        return Readout(et=et, mc_phase=phase["mc"], gc_phase=phase["gc"],
                       mc_raster=cat.get("mc_raster"), gc_raster=cat.get("gc_raster"))
