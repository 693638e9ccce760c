"""Bit-exact model of the granule-cell layer (``hetq.hdl.gc_layer``): the 25-step delay line of MC
spikes, the sparse MC->GC synapses with DecaySTDP as an integer rule, the GC neurons and the
GC->MC inhibition (docs/model.md sections 3, 4, 7 and 8; docs/gc-layer.md states every rule).

=================  ===========  ==============================================================
quantity           format       rule
=================  ===========  ==============================================================
MC->GC weight      UQ5.Fc       codes 0 .. 30 * 2**Fc; initial 25, trained values 0 and 30
                                exact; the post-training clamp zeroes every code <= 29 * 2**Fc
STDP increment     UQ0.Fc       ``round_half_even(0.3125 * exp(-k/4) * 2**Fc)`` for
                                ``delta = -k < 0`` (pre before post), minus
                                ``round_half_even(1.25 * exp(-k/4) * 2**Fc)`` for
                                ``delta = k > 0``; each within half a code of the exact value,
                                0 from ``|delta| = 43`` (LTP) and 49 (LTD) on (64-entry ROMs)
GC current         UQ6.Fc       the delivered weights summed, saturating at 2**(6 + Fc) - 1
                                (any current above 45.3 mV fires a GC from any state, so the
                                saturation never changes a spike)
GC voltage         SQ7.Fc       rest -60, threshold -50; ``v += (453 * (rest + I - v)) >> 11``
stamps             stamp_bits   step numbers modulo 2**stamp_bits with a valid bit (the float
                                model's 0 = never); differences are read as signed
GC->MC current     SQ(Ie.Fc)    ``iic_weight * (n_on - n_rebound)`` over the GCs of an MC,
                                saturating to the MC array's extra-current format
=================  ===========  ==============================================================

Step ``t`` (phase ``p = t mod 50``) in the order of docs/model.md section 3:

1. MCs: :func:`.neuron.lif_step` with drive ``c`` (0 in the rinse), gamma ``g[p]`` and the
   GC->MC current of step ``t - 1``; release at the end of ``p = 49``.
2. With learning on: ``pre[m] <- t`` for the MCs delivered in step ``t - 1`` and
   ``post[g] <- t`` for the GCs that fired in step ``t - 1``; then for every connected pair,
   in fan-out order: a weight below the prune bound (0.03) becomes 0; otherwise, when both
   stamps are valid and the weight is below 30: ``delta = pre - post``; ``delta < -50`` sets
   the weight to 0 (the penalty of 50 exceeds any weight), else the increment of ``delta``
   is added and the result clamped to [0, 30].
3. The delay line: ``d(t)`` = the MC spikes of step ``t - 25``.
4. GC currents: per GC the sum of the (updated) weights of its delivered MCs, saturated.
5. GCs: the integer LIF of the MCs with threshold -50; release at the end of ``p = 24``.
6. GC->MC: last-spike stamps of GCs and MCs (and their phases); with learning on, at
   ``p = 49``, the blocking durations (each written once); with learning off, the current the
   MCs take in step ``t + 1``.

The float model skips a learning step whose inclusion mask is empty, pruning included; here
pruning runs at every learning step. The two differ only for a weight in (0, 0.03) that has
no stamps yet, which the STDP rule itself never makes (docs/gc-layer.md).
"""

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from ..checks import check_bool, check_instance, check_int
from .config import BlockConfig
from .formats import CYCLE, DEFAULT_FORMAT, LEAK_NUM, LEAK_SHIFT, REST_MV, FixedFormat, gamma_rom

__all__ = ["GCLayerConfig", "GCLayerModel", "GC_THRESHOLD_MV", "GC_RELEASE_PHASE", "DELAY",
           "WEIGHT_INT", "W_MAX_MV", "W_INIT_MV", "CLAMP_MV", "CURRENT_INT", "TABLE_SIZE",
           "stdp_tables", "fanout_lists", "lane_fanout_lists", "check_connectivity", "gc_params", "GCState"]

GC_THRESHOLD_MV = -50
#: A GC cycle is p = 25 .. 74: every GC is released at the end of the step with p = 24.
GC_RELEASE_PHASE = 25
#: MC spikes reach the GCs this many steps later.
DELAY = 25
WEIGHT_INT = 5
W_MAX_MV = 30
W_INIT_MV = 25
#: After training every weight <= 29 is set to 0.
CLAMP_MV = 29
#: Integer bits of the (unsigned, saturating) GC input current.
CURRENT_INT = 6
#: Entries of each STDP increment ROM (index |delta|).
TABLE_SIZE = 64
ALPHA_PLUS, ALPHA_MINUS, TAU = 0.3125, 1.25, 4.0
PENALTY_DELTA = 50
PRUNE_FRACTION = 0.001
#: Blocking durations are in [0, 50].
BLOCK_MAX = CYCLE


def stdp_tables(fmt=DEFAULT_FORMAT):
    """The increment ROMs ``(ltp, ltd)``: int64 arrays of :data:`TABLE_SIZE` codes, ``ltp[k]``
    added for ``delta = -k`` and ``ltd[k]`` subtracted for ``delta = k`` (entry 0 is 0).
    ValueError when an increment is still non-zero at the end of the ROM."""
    k = np.arange(TABLE_SIZE, dtype=np.float64)
    scale = float(1 << fmt.drive_frac)
    ltp = np.rint(ALPHA_PLUS * np.exp(-k / TAU) * scale).astype(np.int64)
    ltd = np.rint(ALPHA_MINUS * np.exp(-k / TAU) * scale).astype(np.int64)
    ltp[0] = ltd[0] = 0
    if ltp[-1] or ltd[-1]:
        raise ValueError(f"drive_frac {fmt.drive_frac}: the STDP increments do not fit "
                         f"{TABLE_SIZE}-entry ROMs")
    return ltp, ltd


def gc_params(fmt=DEFAULT_FORMAT):
    """The integer constants of the layer for a format, as a dict of codes."""
    f = fmt.drive_frac
    return {
        "rest": REST_MV << f, "threshold": GC_THRESHOLD_MV << f,
        "w_max": W_MAX_MV << f, "w_init": W_INIT_MV << f, "clamp": CLAMP_MV << f,
        # the smallest code that is not pruned: codes below 0.03 are
        "prune": math.ceil(PRUNE_FRACTION * W_MAX_MV * (1 << f)),
        "current_max": (1 << (CURRENT_INT + f)) - 1,
    }


def check_connectivity(mask, mcs, gcs):
    """A (gcs, mcs) MC->GC mask as bool; ValueError names a wrong shape or value."""
    m = np.asarray(mask)
    if m.shape != (gcs, mcs):
        raise ValueError(f"connectivity must have shape ({gcs}, {mcs}) (GCs x MCs), got {m.shape}")
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number) or not np.all(np.isin(m, (0, 1))):
            raise ValueError("connectivity must contain only 0 and 1")
    return m.astype(bool)


def fanout_lists(mask):
    """The per-MC fan-out lists of a (gcs, mcs) mask: ``(ptr, gc)`` with MC ``m``'s GCs, in
    ascending order, at ``gc[ptr[m]:ptr[m + 1]]``. The synapses (weights) are numbered in this
    order."""
    mask = np.asarray(mask, dtype=bool)
    gcs, mcs = mask.shape
    cols = [np.flatnonzero(mask[:, m]) for m in range(mcs)]
    ptr = np.zeros(mcs + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(c) for c in cols])
    gc = np.concatenate(cols).astype(np.int64) if mcs else np.zeros(0, dtype=np.int64)
    return ptr, gc


def lane_fanout_lists(mask, lanes, capacity=None):
    """The fan-out lists of a (gcs, mcs) mask split over ``lanes`` lanes: lane ``j`` holds
    the GCs ``g`` with ``g % lanes == j`` (its local GC ``g // lanes``) and the synapses onto
    them. Returns ``(lists, lane, local)``: ``lists[j] = (ptr, gc)`` are lane ``j``'s lists
    (:func:`fanout_lists` of ``mask[j::lanes]``, local GC indices), and synapse ``k`` of
    :func:`fanout_lists` of the whole mask is synapse ``local[k]`` of lane ``lane[k]`` (a
    lane keeps the synapses in the global fan-out order, so ``local`` counts up per lane).
    ``capacity`` (an int, or one per lane) bounds each lane's synapses: ValueError names the
    first lane with more."""
    mask = np.asarray(mask, dtype=bool)
    lanes = int(lanes)
    if lanes < 1 or lanes > max(mask.shape[0], 1):
        raise ValueError(f"lanes must lie in 1 .. gcs ({mask.shape[0]}), not {lanes}")
    _, gc = fanout_lists(mask)
    lane = gc % lanes
    local = np.zeros_like(gc)
    lists = []
    for j in range(lanes):
        on = lane == j
        local[on] = np.arange(int(on.sum()))
        lists.append(fanout_lists(mask[j::lanes]))
    if capacity is not None:
        caps = np.broadcast_to(np.asarray(capacity, dtype=np.int64), (lanes,))
        for j, (ptr, _) in enumerate(lists):
            if ptr[-1] > caps[j]:
                raise ValueError(f"lane {j} of {lanes} gets {int(ptr[-1])} synapses of the "
                                 f"connectivity but holds {int(caps[j])}")
    return lists, lane, local


@dataclass(frozen=True)
class GCLayerConfig(BlockConfig):
    """The GC layer: ``gcs`` integer LIF neurons fed by the spikes of ``mcs`` MCs over at most
    ``synapses`` MC->GC synapses.

    Parameters
    ----------
    mcs, gcs : int
        MCs (1..65536) and GCs (1..65536); default 256 and 1024 (8 sensors x D = 32, 4 GCs per
        MC: the paper's largest network).
    synapses : int, optional
        Capacity of the weight and fan-out memories; default 8 per GC (the paper's grid).
    lanes : int
        GC updates per clock (1..64, at most ``gcs``; default 1): lane ``j`` holds the GCs
        ``j, j + lanes, ...`` and the synapses onto them (:func:`lane_fanout_lists`).
    hold, rinse : int
        The sample window (as the MC array's).
    fmt : FixedFormat
        ``drive_frac`` is the fraction of weights, currents and voltages.
    stamp_bits : int
        Width of the last-spike stamps (16..48; default 32).
    iic : bool
        The GC->MC path exists (its weight is a register, 0 by default).
    spram : bool
        RTL only (the model's behaviour does not depend on it): the weights and the synapse
        GCs in the iCE40UP's SPRAM instead of block RAM (``hetq.hdl.spram``; at most 32,768
        synapses; a build for another FPGA refuses it).
    compact : bool
        RTL only (the behaviour does not depend on it): shallower synapse and GC pipelines
        with fewer and narrower registers, for small FPGAs at a low clock (the iCE40UP5K at
        30 MHz; docs/gc-layer-rtl.md). Not built with ``iic``.
    """

    mcs: int = 256
    gcs: int = 1024
    synapses: int | None = None
    lanes: int = 1
    hold: int = 250
    rinse: int = 50
    fmt: FixedFormat = DEFAULT_FORMAT
    stamp_bits: int = 32
    iic: bool = False
    spram: bool = False
    compact: bool = False

    def __post_init__(self):
        self._resolve("mcs", check_int("mcs", self.mcs, 1, 1 << 16))
        self._resolve("gcs", check_int("gcs", self.gcs, 1, 1 << 16))
        syn = 8 * self.gcs if self.synapses is None else self.synapses
        self._resolve("synapses", check_int("synapses", syn, 1, self.mcs * self.gcs))
        self._resolve("lanes", check_int("lanes", self.lanes, 1, min(64, self.gcs)))
        from .mc_array import check_window
        check_window(self.hold, self.rinse)
        self._resolve("hold", int(self.hold))
        self._resolve("rinse", int(self.rinse))
        check_instance("fmt", self.fmt, FixedFormat)
        self._resolve("stamp_bits", check_int("stamp_bits", self.stamp_bits, 16, 48))
        self._resolve("iic", check_bool("iic", self.iic))
        self._resolve("spram", check_bool("spram", self.spram))
        self._resolve("compact", check_bool("compact", self.compact))
        stdp_tables(self.fmt)

    @property
    def window(self):
        return self.hold + self.rinse

    @property
    def params(self):
        return gc_params(self.fmt)


class GCState:
    """Every run-time register and memory of the layer (int64 and bool NumPy arrays)."""

    NAMES = ("mc_v", "mc_r", "gc_v", "gc_r", "gc_spk", "delay", "delivered", "w",
             "pre", "pre_ok", "post", "post_ok", "src", "src_ph", "src_ok", "dst", "dst_ph",
             "dst_ok", "block", "frozen", "o_gm", "misc")

    def __init__(self, config, synapses):
        c, p = config, config.params
        self.mc_v = np.full(c.mcs, c.fmt.rest, dtype=np.int64)
        self.mc_r = np.zeros(c.mcs, dtype=np.bool_)
        self.gc_v = np.full(c.gcs, p["rest"], dtype=np.int64)
        self.gc_r = np.zeros(c.gcs, dtype=np.bool_)
        self.gc_spk = np.zeros(c.gcs, dtype=np.bool_)
        self.delay = np.zeros((DELAY, c.mcs), dtype=np.bool_)
        self.delivered = np.zeros(c.mcs, dtype=np.bool_)
        self.w = np.full(synapses, p["w_init"], dtype=np.int64)
        self.pre = np.zeros(c.mcs, dtype=np.int64)
        self.pre_ok = np.zeros(c.mcs, dtype=np.bool_)
        self.post = np.zeros(c.gcs, dtype=np.int64)
        self.post_ok = np.zeros(c.gcs, dtype=np.bool_)
        self.src = np.zeros(c.gcs, dtype=np.int64)
        self.src_ph = np.zeros(c.gcs, dtype=np.int64)
        self.src_ok = np.zeros(c.gcs, dtype=np.bool_)
        self.dst = np.zeros(c.mcs, dtype=np.int64)
        self.dst_ph = np.zeros(c.mcs, dtype=np.int64)
        self.dst_ok = np.zeros(c.mcs, dtype=np.bool_)
        self.block = np.zeros(c.gcs, dtype=np.int64)
        self.frozen = np.zeros(c.gcs, dtype=np.bool_)
        self.o_gm = np.zeros(c.mcs, dtype=np.int64)
        #: t (unwrapped step number) and the delay line's position
        self.misc = np.zeros(2, dtype=np.int64)

    def copy(self):
        new = object.__new__(GCState)
        for name in self.NAMES:
            setattr(new, name, getattr(self, name).copy())
        return new

    def arrays(self):
        return tuple(getattr(self, name) for name in self.NAMES)


class GCLayerModel:
    """The GC layer with the MC array in front of it, stepped in integer arithmetic.

    Parameters
    ----------
    config : GCLayerConfig
    connectivity : bool array (gcs, mcs)
        The MC->GC mask; at most ``config.synapses`` connections.
    iic_weight : int
        The GC->MC weight code (SQ(Ie.Fc), <= 0; 0 = the paper's feed-forward network). Only
        with ``config.iic``.

    Members
    -------
    state : GCState
    ptr, fan_gc : int64 arrays
        The fan-out lists (:func:`fanout_lists`); synapse ``k`` connects MC ``syn_mc[k]`` to
        GC ``fan_gc[k]`` with weight ``state.w[k]``.
    """

    def __init__(self, config, connectivity, iic_weight=0):
        if not isinstance(config, GCLayerConfig):
            raise TypeError(f"config must be a GCLayerConfig, not {type(config).__name__}")
        self.config = config
        self.set_connectivity(connectivity)
        self.set_iic_weight(iic_weight)

    def set_connectivity(self, connectivity):
        """Load a mask: new fan-out lists, every weight back to 25, the state reset."""
        c = self.config
        mask = check_connectivity(connectivity, c.mcs, c.gcs)
        n = int(mask.sum())
        if n > c.synapses:
            raise ValueError(f"connectivity has {n} connections but the layer holds "
                             f"{c.synapses} synapses")
        self.mask = mask
        self.ptr, self.fan_gc = fanout_lists(mask)
        self.syn_mc = np.repeat(np.arange(c.mcs), np.diff(self.ptr)).astype(np.int64)
        self.state = GCState(c, n)

    def set_iic_weight(self, code):
        c = self.config
        code = check_int("iic_weight", code, c.fmt.current_min, 0)
        if code and not c.iic:
            raise ValueError("a GC->MC weight needs a layer built with the GC->MC path "
                             "(GCLayerConfig(iic=True))")
        self.iic_weight = int(code)

    @property
    def weights(self):
        """The weight codes of the synapses, in fan-out order (a copy)."""
        return self.state.w.copy()

    @weights.setter
    def weights(self, codes):
        codes = np.asarray(codes)
        if codes.shape != self.state.w.shape or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"weights must be {self.state.w.size} integer codes")
        w_max = self.config.params["w_max"]
        if codes.size and (codes.min() < 0 or codes.max() > w_max):
            raise ValueError(f"weight codes must lie in [0, {w_max}] (0 .. 30 mV)")
        self.state.w[...] = codes

    def matrix(self):
        """The weights as a (gcs, mcs) int64 array (0 where not connected)."""
        m = np.zeros((self.config.gcs, self.config.mcs), dtype=np.int64)
        m[self.fan_gc, self.syn_mc] = self.state.w
        return m

    def clamp(self):
        """The post-training clamp: every weight code <= 29 mV becomes 0."""
        w = self.state.w
        w[w <= self.config.params["clamp"]] = 0

    def reset_neurons(self):
        """Voltages to rest, refractory flags, pending spikes, the delay line and the GC->MC
        stamps cleared (what the end of a calibration does); weights and STDP stamps stay."""
        s, c, p = self.state, self.config, self.config.params
        s.mc_v[...] = c.fmt.rest
        s.gc_v[...] = p["rest"]
        for a in (s.mc_r, s.gc_r, s.gc_spk, s.delay, s.delivered, s.src_ok, s.dst_ok):
            a[...] = False
        s.src[...] = s.src_ph[...] = s.dst[...] = s.dst_ph[...] = s.o_gm[...] = 0
        s.misc[1] = 0

    @property
    def t(self):
        return int(self.state.misc[0])

    @t.setter
    def t(self, value):
        if value % CYCLE:
            raise ValueError(f"the step must be a multiple of {CYCLE}, not {value}")
        self.state.misc[0] = value

    def run(self, drives, learn=False, raster=False, weight_log=False, hold=None, rinse=None,
            iic_log=False):
        """Run one window per row of ``drives`` (int64 (samples, mcs) MC drive codes); returns
        a dict: ``mc_last``/``gc_last`` (step in the window of each unit's last spike, -1 if
        none), ``mc_inwin``/``gc_inwin`` (spiked in the last cycle of the hold), with
        ``raster`` the bool ``mc_raster``/``gc_raster`` (samples, window, units), with
        ``weight_log`` the weights after every sample (samples, synapses), with ``iic_log`` the
        GC->MC current after every step, i.e. what the MCs take in the next step (``iic``,
        int64 (samples, window, mcs))."""
        c = self.config
        if hold is not None or rinse is not None:
            c = c.replace(hold=c.hold if hold is None else hold,
                          rinse=c.rinse if rinse is None else rinse)
        d = np.asarray(drives, dtype=np.int64)
        if d.ndim != 2 or d.shape[1] != c.mcs:
            raise ValueError(f"drives must have shape (samples, {c.mcs}), got {d.shape}")
        if d.size and (d.min() < 0 or d.max() > c.fmt.drive_max):
            raise ValueError(f"drive codes must lie in [0, {c.fmt.drive_max}]")
        n = len(d)
        out = {
            "mc_last": np.full((n, c.mcs), -1, dtype=np.int64),
            "gc_last": np.full((n, c.gcs), -1, dtype=np.int64),
            "mc_inwin": np.zeros((n, c.mcs), dtype=np.bool_),
            "gc_inwin": np.zeros((n, c.gcs), dtype=np.bool_),
        }
        shape = (n, c.window) if raster else (0, 0)
        mc_raster = np.zeros(shape + (c.mcs,), dtype=np.bool_)
        gc_raster = np.zeros(shape + (c.gcs,), dtype=np.bool_)
        wlog = np.zeros((n if weight_log else 0, self.state.w.size), dtype=np.int64)
        ilog = np.zeros((n, c.window, c.mcs) if iic_log else (0, 0, 0), dtype=np.int64)
        p = c.params
        ltp, ltd = stdp_tables(c.fmt)
        consts = np.array([c.fmt.rest, c.fmt.threshold, p["rest"], p["threshold"], p["w_max"],
                           p["prune"], p["current_max"], c.fmt.current_min, c.fmt.current_max,
                           self.iic_weight, c.stamp_bits, c.hold, c.rinse], dtype=np.int64)
        _run_windows(d, bool(learn), consts, gamma_rom(c.fmt), ltp, ltd, self.ptr, self.fan_gc,
                     self.syn_mc, *self.state.arrays(), out["mc_last"], out["gc_last"],
                     out["mc_inwin"], out["gc_inwin"], mc_raster, gc_raster, wlog, ilog)
        if raster:
            out["mc_raster"], out["gc_raster"] = mc_raster, gc_raster
        if weight_log:
            out["weights"] = wlog
        if iic_log:
            out["iic"] = ilog
        return out


@nb.njit(cache=True, inline="always")
def _signed(x, bits):
    """``x`` modulo 2**bits read as a signed number."""
    m = np.int64(1) << bits
    h = np.int64(1) << (bits - 1)
    return ((x + h) % m + m) % m - h


@nb.njit(cache=True)
def _run_windows(drives, learn, consts, gamma, ltp, ltd, ptr, fan_gc, syn_mc,
                 mc_v, mc_r, gc_v, gc_r, gc_spk, delay, delivered, w, pre, pre_ok, post,
                 post_ok, src, src_ph, src_ok, dst, dst_ph, dst_ok, block, frozen, o_gm, misc,
                 mc_last, gc_last, mc_inwin, gc_inwin, mc_raster, gc_raster, wlog, iic_log):
    rest, thr, g_rest, g_thr, w_max, prune, i_max, e_min, e_max, iic_w, bits, hold, rinse = (
        consts[0], consts[1], consts[2], consts[3], consts[4], consts[5], consts[6], consts[7],
        consts[8], consts[9], consts[10], consts[11], consts[12])
    n_mc, n_gc, n_syn = mc_v.size, gc_v.size, w.size
    mask = (np.int64(1) << bits) - 1
    window = hold + rinse
    raster = mc_raster.shape[0] > 0
    fire = np.zeros(n_mc, dtype=np.bool_)
    d = np.zeros(n_mc, dtype=np.bool_)
    acc = np.zeros(n_gc, dtype=np.int64)
    count = np.zeros(n_mc, dtype=np.int64)
    t = misc[0]
    pos = misc[1]
    for i in range(drives.shape[0]):
        for s in range(window):
            ph = t % CYCLE
            stamp = t & mask
            # 1. MCs, with the GC->MC current of the previous step
            for m in range(n_mc):
                v = mc_v[m]
                f = v >= thr
                if f:
                    v = rest
                    mc_r[m] = True
                c = drives[i, m] if s < hold else 0
                v = v + ((LEAK_NUM * (rest + c + gamma[ph] + o_gm[m] - v)) >> LEAK_SHIFT)
                if v > thr:
                    v = thr
                if mc_r[m] and v > rest:
                    v = rest
                if ph == CYCLE - 1:
                    v = rest
                    mc_r[m] = False
                mc_v[m] = v
                fire[m] = f
            # 2. STDP from the previous step's delivered MC spikes and GC spikes
            if learn:
                for m in range(n_mc):
                    if delivered[m]:
                        pre[m] = stamp
                        pre_ok[m] = True
                for g in range(n_gc):
                    if gc_spk[g]:
                        post[g] = stamp
                        post_ok[g] = True
                for k in range(n_syn):
                    wk = w[k]
                    if wk < prune:
                        w[k] = 0
                        continue
                    m = syn_mc[k]
                    g = fan_gc[k]
                    if not (pre_ok[m] and post_ok[g]) or wk == w_max:
                        continue
                    delta = _signed(pre[m] - post[g], bits)
                    if delta < -PENALTY_DELTA:
                        wk = 0
                    elif delta < 0:
                        if -delta < TABLE_SIZE:
                            wk += ltp[-delta]
                    elif delta > 0:
                        if delta < TABLE_SIZE:
                            wk -= ltd[delta]
                    if wk < 0:
                        wk = 0
                    elif wk > w_max:
                        wk = w_max
                    w[k] = wk
            # 3. the delay line
            for m in range(n_mc):
                d[m] = delay[pos, m]
                delay[pos, m] = fire[m]
            pos = (pos + 1) % DELAY
            # 4. GC currents from the delivered spikes
            for g in range(n_gc):
                acc[g] = 0
            for m in range(n_mc):
                if d[m]:
                    for k in range(ptr[m], ptr[m + 1]):
                        g = fan_gc[k]
                        a = acc[g] + w[k]
                        acc[g] = a if a < i_max else i_max
            # 5. GCs
            for g in range(n_gc):
                v = gc_v[g]
                f = v >= g_thr
                if f:
                    v = g_rest
                    gc_r[g] = True
                v = v + ((LEAK_NUM * (g_rest + acc[g] - v)) >> LEAK_SHIFT)
                if v > g_thr:
                    v = g_thr
                if gc_r[g] and v > g_rest:
                    v = g_rest
                if (t + 1) % CYCLE == GC_RELEASE_PHASE:
                    v = g_rest
                    gc_r[g] = False
                gc_v[g] = v
                gc_spk[g] = f
            # 6. GC->MC: stamps, blocking durations (learning) or the current (testing)
            for g in range(n_gc):
                if gc_spk[g]:
                    src[g] = stamp
                    src_ph[g] = ph
                    src_ok[g] = True
            for m in range(n_mc):
                if fire[m]:
                    dst[m] = stamp
                    dst_ph[m] = ph
                    dst_ok[m] = True
                delivered[m] = d[m]
            for m in range(n_mc):
                o_gm[m] = 0
            if learn:
                if ph == CYCLE - 1:
                    any_lc = False
                    for m in range(n_mc):
                        if dst_ok[m] and _signed(stamp - dst[m], bits) < CYCLE:
                            any_lc = True
                    if any_lc:
                        for g in range(n_gc):
                            m = g % n_mc
                            src_lc = src_ok[g] and _signed(stamp - src[g], bits) < CYCLE
                            dst_lc = dst_ok[m] and _signed(stamp - dst[m], bits) < CYCLE
                            new = dst_ph[m] + (BLOCK_MAX if src_lc and not dst_lc else 0)
                            if new > BLOCK_MAX:
                                new = BLOCK_MAX
                            if not frozen[g] and new != block[g]:
                                block[g] = new
                                frozen[g] = True
            elif iic_w != 0 and t > 0:
                for m in range(n_mc):
                    count[m] = 0
                for g in range(n_gc):
                    if block[g] > 0 and src_ok[g]:
                        elapsed = _signed(stamp - src[g], bits)
                        if elapsed < CYCLE:
                            status = block[g] + (CYCLE - src_ph[g]) - elapsed
                            if status > 0:
                                count[g % n_mc] += 1
                            elif status == 0:
                                count[g % n_mc] -= 1
                for m in range(n_mc):
                    e = iic_w * count[m]
                    o_gm[m] = e_min if e < e_min else (e_max if e > e_max else e)
            if iic_log.shape[0]:
                for m in range(n_mc):
                    iic_log[i, s, m] = o_gm[m]
            # readout
            inwin = hold - CYCLE <= s < hold
            for m in range(n_mc):
                if fire[m]:
                    mc_last[i, m] = s
                    if inwin:
                        mc_inwin[i, m] = True
                    if raster:
                        mc_raster[i, s, m] = True
            for g in range(n_gc):
                if gc_spk[g]:
                    gc_last[i, g] = s
                    if inwin:
                        gc_inwin[i, g] = True
                    if raster:
                        gc_raster[i, s, g] = True
            t += 1
        if wlog.shape[0]:
            for k in range(n_syn):
                wlog[i, k] = w[k]
    misc[0] = t
    misc[1] = pos
