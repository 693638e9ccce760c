"""Compiled (numba) kernels of the float model: the same float32 arithmetic, in loops.

:class:`~.network.Network` uses these for ``fit``, ``process`` and ``calibrate`` unless asked for
``engine="numpy"``; the NumPy step in ``network.py`` remains the readable definition and the tests
hold both to bit-identical outputs (phases, rasters, ET means, trained weights, final state).

Every float constant is a ``np.float32`` so that numba computes in float32 throughout, with the
same operation order as the NumPy code: RK4 stages, ``w*x + gamma``, GC input summed over the
delivered MCs in ascending index order, the sequential ET sum. ``exp`` of the STDP rule comes
from a table computed by NumPy for every integer spike-time difference.
"""

import numba as nb
import numpy as np

__all__ = ["et_calibration", "fit_kernel", "lif_run", "new_extremes", "process_kernel",
           "stdp_table", "lif_params", "DELTA_RANGE"]

F32 = np.float32
HALF = F32(0.5)
TWO = F32(2)
SIXTH = F32(1 / 6)
ONE = F32(1)
ZERO = F32(0)
#: Spike-time differences beyond +-DELTA_RANGE give exp() == 0 in float32.
DELTA_RANGE = 1024


def lif_params(params):
    """A :class:`~.lif.LIFParams` as the kernels take it."""
    if params.g_l != 1:
        raise ValueError("the compiled engine supports g_L = 1 only")
    return (F32(params.thr), F32(params.rest), F32(params.tau), np.int32(round(params.tau_ref)),
            params.release_phase % 50)


def stdp_table(params):
    """dW for every integer delta in [-DELTA_RANGE, DELTA_RANGE], as the NumPy rule computes it."""
    delta = np.arange(-DELTA_RANGE, DELTA_RANGE + 1).astype(F32)
    dw = np.zeros(delta.shape, dtype=F32)
    ltp, ltd = delta < 0, delta > 0
    dw[ltp] = F32(params.alpha_plus) * np.exp(delta[ltp] / F32(params.tau_plus))
    dw[ltd] = -F32(params.alpha_minus) * np.exp(-delta[ltd] / F32(params.tau_minus))
    if dw[0] != 0 or dw[-1] != 0:
        raise ValueError("STDP time constants too long for the exp table")
    return dw


@nb.njit(cache=True, error_model="numpy", inline="always")
def _lif(v, r, spiked, drive, t, thr, rest, tau, ref, release):
    for i in range(v.size):
        vi = v[i]
        fire = vi >= thr
        if fire:
            vi = rest
            r[i] += ref
        spiked[i] = fire
        d = drive[i]
        k1 = (-(vi - rest) + d) / tau
        k2 = (-((vi + HALF * k1) - rest) + d) / tau
        k3 = (-((vi + HALF * k2) - rest) + d) / tau
        k4 = (-((vi + k3) - rest) + d) / tau
        vi = vi + SIXTH * (k1 + TWO * k2 + TWO * k3 + k4)
        if vi > thr:
            vi = thr
        if r[i] > 0:
            if vi > rest:
                vi = rest
            r[i] -= 1
        v[i] = vi
    if (t + 1) % 50 == release:
        for i in range(v.size):
            v[i] = rest
            r[i] = 0


@nb.njit(cache=True, error_model="numpy")
def lif_run(v, r, drives, t0, params):
    """Run one LIF layer (state ``v``, ``r`` updated in place) for ``len(drives)`` steps from
    global step ``t0``; returns the spikes (steps, n)."""
    thr, rest, tau, ref, release = params
    out = np.zeros(drives.shape, dtype=np.bool_)
    for k in range(drives.shape[0]):
        _lif(v, r, out[k], drives[k], t0 + k, thr, rest, tau, ref, release)
    return out


@nb.njit(cache=True, error_model="numpy", inline="always")
def _normalise(x, shunt, et):
    """One ET step: ``et = (x*shunt) / sum``; returns the new shunt factor."""
    s = x[0] * shunt
    et[0] = s
    for k in range(1, x.size):
        et[k] = x[k] * shunt
        s = s + et[k]
    new = ONE / s
    if new == np.inf:
        new = ONE
    for k in range(x.size):
        et[k] = et[k] * new
    return new


@nb.njit(cache=True, error_model="numpy")
def et_calibration(x, duration, rinse, shunt):
    """ET vectors of every calibration step (exposure and rinse) and the final shunt factor."""
    n, s = x.shape
    steps = duration + rinse
    log = np.zeros((n * steps, s), dtype=np.float32)
    zero = np.zeros(s, dtype=np.float32)
    for i in range(n):
        for step in range(steps):
            row = log[i * steps + step]
            shunt = _normalise(x[i] if step < duration else zero, shunt, row)
    return log, shunt


@nb.njit(cache=True, error_model="numpy")
def new_extremes(log):
    """Per log row: True where some feature saw a new non-zero running minimum or maximum."""
    n, s = log.shape
    lo = np.full(s, np.finfo(np.float32).max, dtype=np.float32)
    hi = np.full(s, -np.finfo(np.float32).max, dtype=np.float32)
    flags = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        for k in range(s):
            v = log[i, k]
            if v != 0:
                if v < lo[k]:
                    lo[k] = v
                    flags[i] = True
                if v > hi[k]:
                    hi[k] = v
                    flags[i] = True
    return flags


@nb.njit(cache=True, error_model="numpy", inline="always")
def _deliver(buf, pos, spikes, delivered, ptr, gcs, pair, w, o):
    """Push this step's MC spikes into the delay line (ring buffer ``buf`` at ``pos``), take out
    the spikes of ``len(buf)`` steps ago into ``delivered`` and sum their weights into the GC
    input ``o`` in ascending MC order. Returns the next position."""
    for g in range(o.size):
        o[g] = ZERO
    for m in range(delivered.size):
        delivered[m] = buf[pos, m]
        buf[pos, m] = spikes[m]
        if delivered[m]:
            for k in range(ptr[m], ptr[m + 1]):
                o[gcs[k]] += w[pair[k]]
    return (pos + 1) % buf.shape[0]


@nb.njit(cache=True, error_model="numpy", inline="always")
def _mc_step(phases, i, step, duration, et, w_mc, col, gamma, t, drive, v, r, spk, mc_p):
    """The MC layer's step: simulated, or from given phases (row i) when ``phases`` has rows."""
    if phases.shape[0]:
        for m in range(spk.size):
            spk[m] = step < duration and phases[i, m] == step % 50 + 1
        return
    thr, rest, tau, ref, release = mc_p
    g = gamma[t % 50]
    for m in range(spk.size):
        drive[m] = w_mc[m] * et[col[m]] + g
    _lif(v, r, spk, drive, t, thr, rest, tau, ref, release)


@nb.njit(cache=True, error_model="numpy")
def process_kernel(x, phases, w_mc, col, gamma, duration, rinse, t0, mc_p, gc_p, n_gc,
                   ptr, gcs, pair, w, delay, src_last, dst_last,
                   et_sum, mc_last, mc_inwin, gc_last, gc_inwin, mc_raster, gc_raster):
    """Every sample from the resting state, one after another, with learning off and no
    GC->MC current. Fills the readout arrays and updates the stamps; returns False (leaving the
    readouts incomplete) as soon as a window does not end at rest."""
    n, s = x.shape
    n_mc = w_mc.size
    steps = duration + rinse
    lo = duration - 50
    raster = mc_raster.shape[0] > 0
    mc_thr, mc_rest, mc_tau, mc_ref, mc_rel = mc_p
    gc_thr, gc_rest, gc_tau, gc_ref, gc_rel = gc_p
    et = np.zeros(s, dtype=np.float32)
    zero = np.zeros(s, dtype=np.float32)
    drive = np.zeros(n_mc, dtype=np.float32)
    v = np.full(n_mc, mc_rest, dtype=np.float32)
    r = np.zeros(n_mc, dtype=np.int32)
    spk = np.zeros(n_mc, dtype=np.bool_)
    gv = np.full(n_gc, gc_rest, dtype=np.float32)
    gr = np.zeros(n_gc, dtype=np.int32)
    gspk = np.zeros(n_gc, dtype=np.bool_)
    o = np.zeros(n_gc, dtype=np.float32)
    buf = np.zeros((max(delay, 1), n_mc), dtype=np.bool_)
    d = np.zeros(n_mc, dtype=np.bool_)
    for i in range(n):
        shunt = ONE
        pos = 0
        for step in range(steps):
            t = t0 + i * steps + step
            shunt = _normalise(x[i] if step < duration else zero, shunt, et)
            _mc_step(phases, i, step, duration, et, w_mc, col, gamma, t, drive, v, r, spk, mc_p)
            inwin = lo <= step < duration
            if inwin:
                for k in range(s):
                    et_sum[i, k] += et[k]
            for m in range(n_mc):
                if spk[m]:
                    mc_last[i, m] = step
                    if inwin:
                        mc_inwin[i, m] = True
                    if raster:
                        mc_raster[i, step, m] = True
            if n_gc:
                pos = _deliver(buf, pos, spk, d, ptr, gcs, pair, w, o)
                _lif(gv, gr, gspk, o, t, gc_thr, gc_rest, gc_tau, gc_ref, gc_rel)
                for q in range(n_gc):
                    if gspk[q]:
                        src_last[q] = t
                        gc_last[i, q] = step
                        if inwin:
                            gc_inwin[i, q] = True
                        if raster:
                            gc_raster[i, step, q] = True
                for m in range(n_mc):
                    if spk[m]:
                        dst_last[m] = t
        # the window must end where the next one starts: the resting state
        if shunt != ONE:
            return False
        for m in range(n_mc):
            if v[m] != mc_rest or r[m] != 0 or spk[m] or d[m]:
                return False
        if n_gc:
            for q in range(n_gc):
                if gv[q] != gc_rest or gr[q] != 0 or gspk[q]:
                    return False
            for k in range(buf.shape[0]):
                for m in range(n_mc):
                    if buf[k, m]:
                        return False
    return True


@nb.njit(cache=True, error_model="numpy", inline="always")
def _enter(k, w, w_max, live, n_live, n_both, n_both_max):
    """Pair k now has both stamps: count it, and list it if its weight can still change."""
    n_both += 1
    if w[k] == w_max:
        n_both_max += 1
    elif w[k] != ZERO:
        live[n_live] = k
        n_live += 1
    return n_live, n_both, n_both_max


@nb.njit(cache=True, error_model="numpy")
def fit_kernel(x, phases, w_mc, col, gamma, duration, rinse, t, mc_p, gc_p,
               shunt_a, v, r, spk, gv, gr, gspk, buf, pos_a, delivered, src_last, dst_last,
               ptr, gcs, pair, g_idx, m_idx, w, pre, post, dw_table, stdp_p,
               target, blocking, frozen):
    """Sequential training windows with STDP and IIC learning, updating every state array in
    place (the network's own, batch 1). Returns the step counter after the last window."""
    n, s = x.shape
    n_mc, n_gc = w_mc.size, gv.size
    steps = duration + rinse
    mc_thr, mc_rest, mc_tau, mc_ref, mc_rel = mc_p
    gc_thr, gc_rest, gc_tau, gc_ref, gc_rel = gc_p
    w_max, w_min, prune, penalty, cycle = stdp_p
    half_range = (dw_table.size - 1) // 2
    et = np.zeros(s, dtype=np.float32)
    zero = np.zeros(s, dtype=np.float32)
    drive = np.zeros(n_mc, dtype=np.float32)
    o = np.zeros(n_gc, dtype=np.float32)
    d = np.zeros(n_mc, dtype=np.bool_)
    shunt = shunt_a[0]
    pos = pos_a[0]
    gptr = np.zeros(n_gc + 1, dtype=np.int64)
    for k in range(g_idx.size):
        gptr[g_idx[k] + 1] += 1
    for q in range(n_gc):
        gptr[q + 1] += gptr[q]
    n_am = 0
    for m in range(n_mc):
        if pre[m] != 0:
            n_am += 1
    n_ag = 0
    for q in range(n_gc):
        if post[q] != 0:
            n_ag += 1
    live = np.zeros(w.size, dtype=np.int64)
    n_live = n_both = n_both_max = 0
    for k in range(w.size):
        if pre[m_idx[k]] != 0 and post[g_idx[k]] != 0:
            n_live, n_both, n_both_max = _enter(k, w, w_max, live, n_live, n_both, n_both_max)
    new_m = np.zeros(n_mc, dtype=np.int64)
    is_new_m = np.zeros(n_mc, dtype=np.bool_)
    new_g = np.zeros(n_gc, dtype=np.int64)
    for i in range(n):
        for step in range(steps):
            shunt = _normalise(x[i] if step < duration else zero, shunt, et)
            _mc_step(phases, i, step, duration, et, w_mc, col, gamma, t, drive, v, r, spk, mc_p)
            # STDP from the previous step's delivered MC spikes and GC spikes. Only pairs with
            # both stamps and 0 < w < w_max can change; they are kept in the list ``live``.
            n_new_m = 0
            for m in range(n_mc):
                if delivered[m]:
                    if pre[m] == 0:
                        new_m[n_new_m] = m
                        is_new_m[m] = True
                        n_new_m += 1
                        n_am += 1
                    pre[m] = t
            n_new_g = 0
            for q in range(n_gc):
                if gspk[q]:
                    if post[q] == 0:
                        new_g[n_new_g] = q
                        n_new_g += 1
                        n_ag += 1
                    post[q] = t
            for i_ in range(n_new_m):
                m = new_m[i_]
                for k in range(ptr[m], ptr[m + 1]):
                    if post[gcs[k]] != 0:
                        n_live, n_both, n_both_max = _enter(pair[k], w, w_max, live, n_live,
                                                            n_both, n_both_max)
            for i_ in range(n_new_g):
                q = new_g[i_]
                for k in range(gptr[q], gptr[q + 1]):
                    m = m_idx[k]
                    if pre[m] != 0 and not is_new_m[m]:
                        n_live, n_both, n_both_max = _enter(k, w, w_max, live, n_live,
                                                            n_both, n_both_max)
            for i_ in range(n_new_m):
                is_new_m[new_m[i_]] = False
            if n_am * n_ag and (n_both != n_both_max or n_am * n_ag != n_both):
                i_ = 0
                while i_ < n_live:
                    k = live[i_]
                    wk = w[k]
                    pruned = abs(wk) < prune
                    delta = pre[m_idx[k]] - post[g_idx[k]]
                    if -half_range <= delta <= half_range:
                        wk = wk + dw_table[delta + half_range]
                    else:
                        wk = wk + ZERO
                    if delta < -cycle:
                        wk = wk - penalty
                    if pruned:
                        wk = ZERO
                    if wk < w_min:
                        wk = w_min
                    elif wk > w_max:
                        wk = w_max
                    w[k] = wk
                    if wk == w_max or wk == ZERO:
                        if wk == w_max:
                            n_both_max += 1
                        n_live -= 1
                        live[i_] = live[n_live]
                    else:
                        i_ += 1
            # delay line and GCs
            pos = _deliver(buf, pos, spk, d, ptr, gcs, pair, w, o)
            _lif(gv, gr, gspk, o, t, gc_thr, gc_rest, gc_tau, gc_ref, gc_rel)
            for q in range(n_gc):
                if gspk[q]:
                    src_last[q] = t
            for m in range(n_mc):
                if spk[m]:
                    dst_last[m] = t
                delivered[m] = d[m]
            # IIC blocking durations, at the last step of every MC cycle
            if t % cycle == cycle - 1:
                any_lc = False
                for m in range(n_mc):
                    if dst_last[m] != 0 and t - dst_last[m] < cycle:
                        any_lc = True
                if any_lc:
                    for q in range(n_gc):
                        mi = target[q]
                        src_lc = src_last[q] != 0 and t - src_last[q] < cycle
                        dst_lc = dst_last[mi] != 0 and t - dst_last[mi] < cycle
                        new = dst_last[mi] % cycle
                        if src_lc and not dst_lc:
                            new += cycle
                        new = min(max(new, 0), cycle)
                        if not frozen[q] and new != blocking[q]:
                            blocking[q] = new
                            frozen[q] = True
            t += 1
    shunt_a[0] = shunt
    pos_a[0] = pos
    return t
