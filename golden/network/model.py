"""The float golden model of the whole network and its procedures (docs/model.md sections 3
and 10).

One :class:`Network` is one network object of the reference: its global step counter ``t``
starts at ``t0`` and never resets; :meth:`Network.calibrate`, :meth:`Network.fit` and
:meth:`Network.process` run samples in "sample and hold" windows (``duration`` steps of the
sample, then ``rinse`` steps of zeros). Step order: OSN, OSC, ET, MC, GC (section 16.1).

Test samples are independent of each other whenever each window leaves the network in its
resting state (learning off, GC->MC inhibition inactive, a rinse of at least one cycle):
:meth:`Network.process` then runs all samples as one NumPy batch, checks that every window did
end at rest, and otherwise (or when the inhibition is active) runs them one after another.
Both ways give the same numbers; a test holds them to that.
"""

from dataclasses import dataclass

import numpy as np

from .connectivity import validate_connectivity
from .iic import IICSynapse
from .lif import CYCLE, GC_PARAMS, MC_PARAMS, LIFLayer, gamma_drive_table
from .shunt import ShuntNormaliser
from .stdp import DecaySTDP, DelayLine, STDPParams
from . import engine
from .weights import Calibrator, adaptive_weights, column_weights, data_blind_weights

__all__ = ["ENGINES", "SUM_MIN", "SUM_MAX", "Calibration", "Network", "Readout",
           "validate_samples", "validate_schedule"]

F32 = np.float32
ENGINES = ("numba", "numpy")
#: The per-sample sums the float32 ET layer normalises exactly (docs/model.md section 3): the
#: smallest normal float32 and its reciprocal. Below, the sum and its elements are subnormal and
#: at 2**-128 the shunt's reciprocal overflows (the ET output is then not normalised at all);
#: above, the reciprocal is subnormal. A sum of 0 (a zero vector) is valid.
SUM_MIN = 2.0 ** -126
SUM_MAX = 2.0 ** 126


def validate_samples(samples, sensors=None, name="samples"):
    """Check a (samples x sensors) input: 2-D, finite, non-negative, the right sensor count,
    every row sum 0 or within [SUM_MIN, SUM_MAX]. Returns it as float32. Raises ValueError
    naming the problem (rows and columns count from 0)."""
    x = np.asarray(samples)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples x sensors), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if not (np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating)):
        raise ValueError(f"{name} must be real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} contains NaN or infinite values (first at row {r}, column {c})")
    if (x < 0).any():
        r, c = np.argwhere(x < 0)[0]
        raise ValueError(f"{name} contains negative values (first at row {r}, column {c}: "
                         f"{x[r, c]:g}); sensor values must be >= 0")
    if sensors is not None and x.shape[1] != sensors:
        raise ValueError(f"{name} has {x.shape[1]} sensors but the weights are for {sensors}")
    sums = x.sum(axis=1)
    bad = ((sums > 0) & (sums < SUM_MIN)) | (sums > SUM_MAX)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} row {r} sums to {sums[r]:.3g} ({int(bad.sum())} rows outside "
                         f"the range): the float32 model normalises a sample exactly only when "
                         f"its sum is 0 or in [2^-126, 2^126] = [{SUM_MIN:.3g}, {SUM_MAX:.3g}] "
                         f"(docs/model.md section 3); rescale the data, only x/sum(x) matters")
    return x.astype(F32)


def validate_schedule(duration, rinse):
    """Windows start at cycle position 0: duration >= 50 and rinse >= 0, both multiples of 50."""
    if duration < CYCLE or duration % CYCLE:
        raise ValueError(f"steps per sample must be a positive multiple of {CYCLE}, not {duration}")
    if rinse < 0 or rinse % CYCLE:
        raise ValueError(f"rinse must be a non-negative multiple of {CYCLE}, not {rinse}")


@dataclass
class Readout:
    """What :meth:`Network.process` returns.

    Members
    -------
    et : float32 (samples, sensors)
        Mean normalised input over the last cycle of the exposure.
    mc_phase, gc_phase : int16 (samples, units)
        Phase readout: ``(last spike step in the window) % 50 + 1`` for units with a spike in
        the last exposure cycle, else 0. ``gc_phase`` is None without a GC layer.
    mc_raster, gc_raster : bool (samples, steps, units) or None
        Every spike of every step, when asked for.
    """

    et: np.ndarray
    mc_phase: np.ndarray
    gc_phase: np.ndarray | None = None
    mc_raster: np.ndarray | None = None
    gc_raster: np.ndarray | None = None


class _Runtime:
    """The per-sample dynamic state of the network for a batch of independent copies."""

    def __init__(self, net, batch):
        self.batch = batch
        self.et = ShuntNormaliser(net.sensors, batch)
        self.mc = LIFLayer(net.n_mc, MC_PARAMS, batch)
        self.o_gm = F32(0)
        if net.n_gc:
            self.gc = LIFLayer(net.n_gc, GC_PARAMS, batch)
            self.delay = DelayLine(net.stdp.params.delay, net.n_mc, batch)
            self.delivered = np.zeros((batch, net.n_mc), dtype=bool)
            self.src_last = np.zeros((batch, net.n_gc), dtype=np.int64)
            self.dst_last = np.zeros((batch, net.n_mc), dtype=np.int64)
            self.zero_gc = np.zeros((batch, net.n_gc), dtype=F32)
        else:
            self.gc = None

    def at_rest(self):
        """Per copy: True where the state is the one a fresh network starts from (stamps apart)."""
        rest = (self.et.shunt[:, 0] == 1)
        for layer in (self.mc, self.gc):
            if layer is not None:
                rest &= ((layer.v == F32(layer.params.rest)).all(1) & (layer.r == 0).all(1)
                         & ~layer.spiked.any(1))
        if self.gc is not None:
            rest &= ~self.delivered.any(1) & ~self.delay._buf.any(axis=(0, 2))
        if not np.isscalar(self.o_gm):
            rest &= ~self.o_gm.any(1)
        return rest

    def reset_neurons(self):
        self.mc.reset()
        if self.gc is not None:
            self.gc.reset()
            self.src_last[...] = 0
            self.dst_last[...] = 0
        self.o_gm = F32(0)


class _Recorder:
    """Take-final readouts of one window for a batch (section 10)."""

    def __init__(self, net, batch, steps, lo, hi, raster):
        self.lo, self.hi = lo, hi
        self.et_sum = np.zeros((batch, net.sensors), dtype=np.float64)
        self.layers = [("mc", net.n_mc)] + ([("gc", net.n_gc)] if net.n_gc else [])
        self.last = {k: np.full((batch, n), -1, dtype=np.int32) for k, n in self.layers}
        self.inwin = {k: np.zeros((batch, n), dtype=bool) for k, n in self.layers}
        self.raster = ({k: np.zeros((batch, steps, n), dtype=bool) for k, n in self.layers}
                       if raster else None)

    def record(self, step, et, spikes):
        if self.lo <= step < self.hi:
            self.et_sum += et
        for k, _ in self.layers:
            s = spikes[k]
            if self.raster is not None:
                self.raster[k][:, step] = s
            if s.any():
                np.copyto(self.last[k], step, where=s)
                if self.lo <= step < self.hi:
                    self.inwin[k] |= s

    def readout(self):
        phase = {k: np.where(self.inwin[k], self.last[k] % CYCLE + 1, 0).astype(np.int16)
                 for k, _ in self.layers}
        raster = self.raster or {}
        return Readout(et=(self.et_sum / (self.hi - self.lo)).astype(F32),
                       mc_phase=phase["mc"], gc_phase=phase.get("gc"),
                       mc_raster=raster.get("mc"), gc_raster=raster.get("gc"))


class Network:
    """The float model of the network (docs/model.md sections 1-10).

    Parameters
    ----------
    weights : array (sensors*D, sensors)
        ET->MC weights with the column block structure; may be all zero before calibration.
    n_gc : int
        Granule cells; 0 for an MC-only network.
    connectivity : bool array (n_gc, n_mc)
        The MC->GC mask (required with ``n_gc``; see :mod:`.connectivity`).
    iic_weight : float
        GC->MC weight of every connected pair (<= 0; 0 as in the paper).
    stdp : STDPParams
    t0 : int
        The global step counter at creation (a multiple of 50).
    mc_model : callable, optional
        Replaces the simulated MCs (e.g. by the fixed-point phase quantizer):
        ``mc_model(samples, weights)`` returns integer phases (samples, n_mc), 0 = silent,
        and each MC then spikes at step ``phase - 1`` of every exposure cycle, never in the
        rinse. The float model itself does exactly that when its MC phases are the same in
        every cycle.
    engine : {"numba", "numpy"}
        "numba" runs calibrate, fit and process through the compiled kernels of
        :mod:`.engine` (bit-identical results); "numpy" steps the NumPy definition.
    """

    def __init__(self, weights, *, n_gc=0, connectivity=None, iic_weight=0.0,
                 stdp=STDPParams(), t0=0, mc_model=None, engine="numba"):
        weights = np.asarray(weights)
        self.duplication, _ = column_weights(weights)
        self.sensors = weights.shape[1]
        self.n_mc = weights.shape[0]
        self.set_weights(weights)
        self._col = np.repeat(np.arange(self.sensors), self.duplication)
        self._gamma = gamma_drive_table()
        if n_gc < 0:
            raise ValueError(f"number of GCs must be >= 0, not {n_gc}")
        self.n_gc = int(n_gc)
        if self.n_gc:
            if connectivity is None:
                raise ValueError("a GC layer needs an MC->GC connectivity mask")
            mask = validate_connectivity(connectivity, self.n_mc, self.n_gc)
            self.stdp = DecaySTDP(mask, stdp)
            self.iic = IICSynapse(self.n_mc, self.n_gc, iic_weight)
        else:
            self.stdp = self.iic = None
        if t0 % CYCLE:
            raise ValueError(f"t0 must be a multiple of {CYCLE} so that windows start at p = 0")
        self.t = int(t0)
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        self.engine = engine
        self.mc_model = mc_model
        self._csr_cache = self._dw_cache = None
        self._rt = _Runtime(self, 1)

    # -- parameters ---------------------------------------------------------------------------

    @property
    def weights(self):
        """The ET->MC matrix (float32, (sensors*D, sensors))."""
        w = np.zeros((self.n_mc, self.sensors), dtype=F32)
        w[np.arange(self.n_mc), np.arange(self.n_mc) // self.duplication] = self._w_mc
        return w

    def set_weights(self, weights):
        d, self._w_mc = column_weights(weights)
        if d != self.duplication or np.shape(weights)[1] != self.sensors:
            raise ValueError(f"weights of shape {np.shape(weights)} do not fit this network")

    @property
    def mc_gc_weights(self):
        """The effective MC->GC weights W*C (float32, (n_gc, n_mc)), or None without GCs."""
        return None if self.stdp is None else self.stdp.matrix

    # -- one step -----------------------------------------------------------------------------

    def _step(self, rt, x, learn=False, calibrator=None, mc_spikes=None):
        t = self.t
        et = rt.et.step(x)
        if calibrator is not None and calibrator.observe(et[0]):
            self.set_weights(calibrator.weights)
        if mc_spikes is None:
            i_mc = self._w_mc * et[:, self._col] + self._gamma[t % CYCLE]
            if not np.isscalar(rt.o_gm):
                i_mc += rt.o_gm
            mc = rt.mc.step(i_mc, t)
        else:
            mc = rt.mc.spiked = mc_spikes
        gc = None
        if rt.gc is not None:
            if learn:
                self.stdp.update(t, rt.delivered[0], rt.gc.spiked[0])
            d = rt.delay.push(mc)
            o_mg = self._gc_input(d) if d.any() else rt.zero_gc
            gc = rt.gc.step(o_mg, t)
            rt.src_last[gc] = t
            rt.dst_last[mc] = t
            if learn:
                self.iic.learn(t, rt.src_last[0], rt.dst_last[0])
                rt.o_gm = F32(0)
            else:
                rt.o_gm = self.iic.output(t, rt.src_last)
            rt.delivered = d
        self.t = t + 1
        return et, mc, gc

    def _gc_input(self, delivered):
        """``delivered @ (W*C).T`` summed in ascending MC order (a fixed float32 rounding)."""
        wt = self.stdp.transposed()
        o = np.zeros((delivered.shape[0], self.n_gc), dtype=F32)
        for m in np.flatnonzero(delivered.any(axis=0)):
            o += delivered[:, m:m + 1] * wt[m]
        return o

    def _window(self, rt, x, duration, rinse, learn=False, calibrator=None, recorder=None):
        zeros = np.zeros_like(x)
        phases = None if self.mc_model is None or calibrator else self._mc_phases(x)
        for step in range(duration + rinse):
            spikes = None
            if phases is not None:
                spikes = (phases == step % CYCLE + 1) & (step < duration)
            et, mc, gc = self._step(rt, x if step < duration else zeros, learn, calibrator,
                                    spikes)
            if recorder is not None:
                recorder.record(step, et, {"mc": mc, "gc": gc})

    def _mc_phases(self, x):
        """MC phases of the samples ``x`` from :attr:`mc_model`, checked."""
        phases = np.asarray(self.mc_model(x, self.weights))
        if phases.shape != (len(x), self.n_mc) or not np.issubdtype(phases.dtype, np.integer):
            raise ValueError(f"mc_model must return integer phases of shape {(len(x), self.n_mc)},"
                             f" got {phases.dtype} {phases.shape}")
        if phases.min() < 0 or phases.max() > CYCLE:
            raise ValueError(f"mc_model phases must lie in 0..{CYCLE}")
        return phases.astype(np.int16)

    # -- procedures ---------------------------------------------------------------------------

    def calibrate(self, samples, spec, duration=CYCLE, rinse=CYCLE, simulate=False):
        """The calibration pass (section 10): ET->MC weights from ``samples`` per ``spec``.

        Only the ET layer and the calibration bookkeeping affect what follows (learning is off
        everywhere else and the neurons are reset at the end), so by default only they are run
        and ``t`` advanced; ``simulate=True`` steps the whole network, as the reference does.
        Returns the :class:`~.weights.Calibrator` (its log and update count).
        """
        x = validate_samples(samples, self.sensors)
        validate_schedule(duration, rinse)
        if spec.duplication != self.duplication:
            raise ValueError(f"spec duplication {spec.duplication} != network's {self.duplication}")
        rt = self._rt
        if not simulate and self.engine == "numba":
            log, shunt = engine.et_calibration(x, duration, rinse, rt.et.shunt[0, 0])
            rt.et.shunt[0, 0] = shunt
            log = np.concatenate([np.zeros((1, self.sensors), dtype=F32), log])
            flags = engine.new_extremes(log)
            weights = self.weights
            if flags.any():
                last = int(np.flatnonzero(flags)[-1])
                weights = (adaptive_weights(log[:last + 1], spec) if spec.mode == "adaptive"
                           else data_blind_weights(spec, self.sensors))
            result = Calibration(weights, int(flags.sum()), log)
            self.t += len(x) * (duration + rinse)
        else:
            cal = Calibrator(spec, self.sensors, self.weights)
            if simulate:
                for row in x:
                    self._window(rt, row[None], duration, rinse, calibrator=cal)
            else:
                zeros = np.zeros((1, self.sensors), dtype=F32)
                for row in x:
                    for step in range(duration + rinse):
                        et = rt.et.step(row[None] if step < duration else zeros)
                        cal.observe(et[0])
                self.t += len(x) * (duration + rinse)
            result = Calibration(cal.weights, cal.updates, cal.log)
        self.set_weights(result.weights)
        rt.reset_neurons()
        return result

    def fit(self, samples, duration=250, rinse=CYCLE, progress=None):
        """Train the MC->GC weights (STDP and IIC learning on), then zero weights <= 29.

        ``progress`` is called with 1 after every training sample."""
        x = validate_samples(samples, self.sensors)
        validate_schedule(duration, rinse)
        if not self.n_gc:
            raise ValueError("fit needs a GC layer (n_gc > 0)")
        p = self.stdp.params
        if (self.engine == "numba" and np.isscalar(self._rt.o_gm) and p.w_min == 0
                and p.prune_fraction * p.w_max <= p.w_init <= p.w_max and self.iic.rate == 1):
            if progress is None:
                self._fit_compiled(x, duration, rinse)
            else:
                for row in x:
                    self._fit_compiled(row[None], duration, rinse)
                    progress(1)
        else:
            for row in x:
                self._window(self._rt, row[None], duration, rinse, learn=True)
                if progress is not None:
                    progress(1)
        self.stdp.clamp_after_training()

    def process(self, samples, duration=250, rinse=CYCLE, raster=False, batch_size=128,
                parallel=True, progress=None):
        """Run test samples with learning off and return their :class:`Readout`.

        With ``parallel`` (default) up to ``batch_size`` samples run as one batch when that is
        exact (see the module docstring); ``parallel=False`` always runs them one by one.
        ``progress`` is called with the number of samples finished after every batch.
        """
        x = validate_samples(samples, self.sensors)
        validate_schedule(duration, rinse)
        steps = duration + rinse
        lo, hi = duration - CYCLE, duration
        parts = []
        start = 0
        while start < len(x):
            chunk = x[start:start + batch_size]
            part = None
            if (parallel and not (self.iic is not None and self.iic.active)
                    and self._rt.at_rest()[0]):
                run = self._process_compiled if self.engine == "numba" else self._process_batch
                part = run(chunk, duration, rinse, lo, hi, raster)
            if part is None:
                rec = _Recorder(self, len(chunk), steps, lo, hi, raster)
                for i, row in enumerate(chunk):
                    one = _Recorder(self, 1, steps, lo, hi, raster)
                    self._window(self._rt, row[None], duration, rinse, recorder=one)
                    _merge(rec, one, i)
                part = rec.readout()
            parts.append(part)
            start += len(chunk)
            if progress is not None:
                progress(len(chunk))
        return _concat(parts)

    def _process_batch(self, x, duration, rinse, lo, hi, raster):
        """All of ``x`` in parallel from the current (resting) state; None if some window did
        not end at rest, in which case nothing has changed."""
        n, steps = len(x), duration + rinse
        rt = _Runtime(self, n)
        if rt.gc is not None:
            rt.src_last[...] = self._rt.src_last
            rt.dst_last[...] = self._rt.dst_last
        t0 = self.t
        rec = _Recorder(self, n, steps, lo, hi, raster)
        self._window(rt, x, duration, rinse, recorder=rec)
        if not rt.at_rest().all():
            self.t = t0
            return None
        self.t = t0 + n * steps
        if rt.gc is not None:
            # Each copy ran at t0..t0+steps-1; sample i really ran i*steps later.
            shift = (np.arange(n) * steps)[:, None]
            for name in ("src_last", "dst_last"):
                stamps = getattr(rt, name)
                stamps = np.where(stamps >= t0, stamps + shift, stamps)
                getattr(self._rt, name)[...] = stamps.max(axis=0)
        return rec.readout()


    # -- compiled engine ----------------------------------------------------------------------

    def _lif_params(self, layer):
        return engine.lif_params(layer.params)

    def _csr(self):
        """The MC->GC pairs grouped by MC (ascending GC within): pointers, GCs, pair indices."""
        if self._csr_cache is None:
            order = np.lexsort((self.stdp.g_idx, self.stdp.m_idx))
            ptr = np.zeros(self.n_mc + 1, dtype=np.int64)
            ptr[1:] = np.cumsum(np.bincount(self.stdp.m_idx, minlength=self.n_mc))
            self._csr_cache = (ptr, self.stdp.g_idx[order].astype(np.int64), order.astype(np.int64))
        return self._csr_cache

    def _process_compiled(self, x, duration, rinse, lo, hi, raster):
        n, steps = len(x), duration + rinse
        rt = self._rt
        rec = _Recorder(self, n, steps, lo, hi, raster)
        empty = np.zeros((0, 0, 0), dtype=bool)
        if self.n_gc:
            ptr, gcs, pair = self._csr()
            w, delay = self.stdp.w, self.stdp.params.delay
            src, dst = rt.src_last[0].copy(), rt.dst_last[0].copy()
            gc_p = self._lif_params(rt.gc)
            gc_last, gc_inwin = rec.last["gc"], rec.inwin["gc"]
            gc_raster = rec.raster["gc"] if raster else empty
        else:
            ptr = gcs = pair = np.zeros(1, dtype=np.int64)
            w, delay = np.zeros(1, dtype=F32), 1
            src = dst = np.zeros(1, dtype=np.int64)
            gc_p = self._lif_params(rt.mc)
            gc_last = np.zeros((n, 0), dtype=np.int32)
            gc_inwin = np.zeros((n, 0), dtype=bool)
            gc_raster = empty
        ok = engine.process_kernel(
            x, self._kernel_phases(x), self._w_mc, self._col, self._gamma, duration, rinse, self.t,
            self._lif_params(rt.mc), gc_p, self.n_gc, ptr, gcs, pair, w, delay, src, dst,
            rec.et_sum, rec.last["mc"], rec.inwin["mc"], gc_last, gc_inwin,
            rec.raster["mc"] if raster else empty, gc_raster)
        if not ok:
            return None
        if self.n_gc:
            rt.src_last[0], rt.dst_last[0] = src, dst
        self.t += n * steps
        return rec.readout()

    def _fit_compiled(self, x, duration, rinse):
        rt, stdp, iic = self._rt, self.stdp, self.iic
        p = stdp.params
        ptr, gcs, pair = self._csr()
        pos = np.array([rt.delay._pos], dtype=np.int64)
        shunt = rt.et.shunt.reshape(1)
        self.t = engine.fit_kernel(
            x, self._kernel_phases(x), self._w_mc, self._col, self._gamma, duration, rinse, self.t,
            self._lif_params(rt.mc), self._lif_params(rt.gc),
            shunt, rt.mc.v[0], rt.mc.r[0], rt.mc.spiked[0], rt.gc.v[0], rt.gc.r[0],
            rt.gc.spiked[0], rt.delay._buf[:, 0, :], pos, rt.delivered[0],
            rt.src_last[0], rt.dst_last[0], ptr, gcs, pair, stdp.g_idx, stdp.m_idx, stdp.w,
            stdp.pre, stdp.post, self._dw_table(),
            (F32(p.w_max), F32(p.w_min), F32(p.prune_fraction * p.w_max), F32(p.penalty),
             p.cycle),
            iic.target, iic.blocking, iic.frozen)
        rt.delay._pos = int(pos[0])
        stdp._wt = None

    def _kernel_phases(self, x):
        if self.mc_model is None:
            return np.zeros((0, self.n_mc), dtype=np.int16)
        return self._mc_phases(x)

    def _dw_table(self):
        if self._dw_cache is None:
            self._dw_cache = engine.stdp_table(self.stdp.params)
        return self._dw_cache


@dataclass
class Calibration:
    """Result of :meth:`Network.calibrate`: the weights, the number of steps that recomputed
    them, and the observation log (initial zero row, then one row per step)."""

    weights: np.ndarray
    updates: int
    log: np.ndarray


def _merge(rec, one, i):
    rec.et_sum[i] = one.et_sum[0]
    for k, _ in rec.layers:
        rec.last[k][i] = one.last[k][0]
        rec.inwin[k][i] = one.inwin[k][0]
        if rec.raster is not None:
            rec.raster[k][i] = one.raster[k][0]


def _concat(parts):
    def cat(name):
        arrays = [getattr(p, name) for p in parts]
        return None if arrays[0] is None else np.concatenate(arrays)
    return Readout(**{name: cat(name) for name in
                      ("et", "mc_phase", "gc_phase", "mc_raster", "gc_raster")})
