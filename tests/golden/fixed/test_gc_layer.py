"""The fixed-point GC layer: an independent dense transcription of docs/model.md sections 3, 4, 7
and 8 in integer codes (the float model's rule for the empty inclusion mask, refractory
counters, "0 = never" stamps) against the model, the MC part against the MC array model, the
ROMs, the current saturation, stamp wrap-around, and every error."""

import math
from collections import deque

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT, gamma_rom
from hetq.golden.fixed.gc_layer import (GCLayerConfig, GCLayerModel, fanout_lists, gc_params,
                                        stdp_tables)
from hetq.golden.fixed.mc_array import MCArrayConfig, MCArrayModel

F = DEFAULT_FORMAT
P = gc_params(F)
MV = 1 << F.drive_frac


def exact_tables():
    """The increments from the exponentials, computed here with math.exp, per |delta|."""
    ltp = [0] + [round(0.3125 * math.exp(-k / 4) * MV) for k in range(1, 64)]
    ltd = [0] + [round(1.25 * math.exp(-k / 4) * MV) for k in range(1, 64)]
    return np.array(ltp), np.array(ltd)


def reference(drives, mask, learn, hold, rinse, t0, iic_w=0, w0=None):
    """One step at a time, dense (GC x MC) matrices, the literal rules. Returns the MC and GC
    rasters (samples, window, units), the weight matrix after every sample and the final
    blocking durations."""
    n_gc, n_mc = mask.shape
    ltp, ltd = exact_tables()
    g = gamma_rom(F)
    w_max, prune = 30 * MV, 0.03 * 30 / 30 * MV  # w < 0.03 mV is pruned
    W = np.where(mask, 25 * MV if w0 is None else w0, 0).astype(np.int64)
    pre, post = np.zeros(n_mc, np.int64), np.zeros(n_gc, np.int64)
    mv, mr = np.full(n_mc, F.rest, np.int64), np.zeros(n_mc, np.int64)
    gv, gr = np.full(n_gc, -60 * MV, np.int64), np.zeros(n_gc, np.int64)
    line = deque([np.zeros(n_mc, bool)] * 25)
    d_prev, g_prev = np.zeros(n_mc, bool), np.zeros(n_gc, bool)
    src, dst = np.zeros(n_gc, np.int64), np.zeros(n_mc, np.int64)
    B, frozen = np.zeros(n_gc, np.int64), np.zeros(n_gc, bool)
    target = np.arange(n_gc) % n_mc
    o_gm = np.zeros(n_mc, np.int64)
    window = hold + rinse
    mc_r = np.zeros((len(drives), window, n_mc), bool)
    gc_r = np.zeros((len(drives), window, n_gc), bool)
    weights = []
    t = t0
    for k in range(len(drives)):
        on = learn[k]
        for s in range(window):
            c = drives[k] if s < hold else 0
            fire = mv >= F.threshold
            mv[fire] = F.rest
            mr += 50 * fire
            mv = mv + ((453 * (F.rest + c + g[t % 50] + o_gm - mv)) >> 11)
            mv = np.minimum(mv, F.threshold)
            mv[(mr > 0) & (mv > F.rest)] = F.rest
            mr = np.maximum(mr - 1, 0)
            if (t + 1) % 50 == 0:
                mv[:], mr[:] = F.rest, 0
            if on:
                pre[d_prev] = t
                post[g_prev] = t
                incl = (W != w_max) & (pre[None, :] != 0) & (post[:, None] != 0)
                if incl.any():
                    delta = pre[None, :] - post[:, None]
                    a = np.minimum(np.abs(delta), 63)
                    dw = np.where(delta < 0, ltp[a], np.where(delta > 0, -ltd[a], 0))
                    dw = np.where(np.abs(delta) > 63, 0, dw)
                    U = (W + incl * dw) * mask
                    pruned = W < prune
                    pen = 50 * MV * ((delta < -50) & incl)
                    W = np.clip(np.where(pruned, 0, U - pen), 0, w_max)
            d = line.popleft()
            line.append(fire.copy())
            cur = np.minimum((W * d[None, :]).sum(axis=1), P["current_max"])
            gfire = gv >= -50 * MV
            gv[gfire] = -60 * MV
            gr += 50 * gfire
            gv = gv + ((453 * (-60 * MV + cur - gv)) >> 11)
            gv = np.minimum(gv, -50 * MV)
            gv[(gr > 0) & (gv > -60 * MV)] = -60 * MV
            gr = np.maximum(gr - 1, 0)
            if (t + 1) % 50 == 25:
                gv[:], gr[:] = -60 * MV, 0
            src[gfire] = t
            dst[fire] = t
            o_gm = np.zeros(n_mc, np.int64)
            if on:
                if t % 50 == 49:
                    src_lc = (src != 0) & (t - src < 50)
                    dst_lc = (dst != 0) & (t - dst < 50)
                    if dst_lc.any():
                        new = np.clip(dst[target] % 50 + 50 * (src_lc & ~dst_lc[target]), 0, 50)
                        changed = ~frozen & (new != B)
                        B[changed] = new[changed]
                        frozen |= changed
            elif t > 0 and iic_w and B.any():
                elapsed = t - src
                inc = (B > 0) & (elapsed < 50)
                status = B + (50 - src % 50) - elapsed
                act = np.where(status > 0, 1, np.where(status == 0, -1, 0)) * inc
                count = np.bincount(target, weights=act, minlength=n_mc).astype(np.int64)
                o_gm = np.clip(iic_w * count, F.current_min, F.current_max)
            mc_r[k, s], gc_r[k, s] = fire, gfire
            d_prev, g_prev = d, gfire
            t += 1
        weights.append(W.copy())
    return mc_r, gc_r, np.array(weights), B


def random_case(rng, mcs, gcs, prop, samples, lo=5, hi=45):
    mask = rng.random((gcs, mcs)) < prop
    drives = rng.integers(lo * MV, hi * MV, size=(samples, mcs))
    drives[rng.random(drives.shape) < 0.2] = 0
    return mask, drives


def model_run(mask, drives, learn, hold, rinse, t0, iic_w=0, w0=None, stamp_bits=32):
    gcs, mcs = mask.shape
    cfg = GCLayerConfig(mcs=mcs, gcs=gcs, synapses=max(int(mask.sum()), 1), hold=hold,
                        rinse=rinse, iic=iic_w != 0, stamp_bits=stamp_bits)
    model = GCLayerModel(cfg, mask, iic_w)
    if w0 is not None:
        ptr, fan = fanout_lists(mask)
        mcs_of = np.repeat(np.arange(mcs), np.diff(ptr))
        model.weights = np.asarray(w0)[fan, mcs_of]
    model.t = t0
    mc, gc, ws = [], [], []
    for k, row in enumerate(drives):
        out = model.run(row[None], learn=learn[k], raster=True, weight_log=True)
        mc.append(out["mc_raster"][0])
        gc.append(out["gc_raster"][0])
        ws.append(model.matrix())
        np.testing.assert_equal(out["weights"][0], model.weights)
    return np.array(mc), np.array(gc), np.array(ws), model


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_learning_on_and_off(seed):
    rng = np.random.default_rng(seed)
    mcs, gcs = [(8, 16), (16, 32), (12, 48)][seed % 3]
    mask, drives = random_case(rng, mcs, gcs, 0.4, 5)
    learn = rng.random(5) < 0.6
    rinse = [50, 100, 0][seed % 3]
    want = reference(drives, mask, learn, 250, rinse, 100)
    got = model_run(mask, drives, learn, 250, rinse, 100)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_equal(a, b)
    assert want[1].any(), "the case must make GCs fire"
    if learn.any():
        assert (want[2][-1][mask] != 25 * MV).any(), "learning must change some weight"


@pytest.mark.parametrize("seed", range(3))
def test_matches_reference_with_gc_mc_inhibition(seed):
    rng = np.random.default_rng(100 + seed)
    mask, drives = random_case(rng, 8, 32, 0.5, 6)
    learn = np.array([True, True, True, False, False, False])
    iic_w = -int(rng.integers(1, 8)) * MV
    want = reference(drives, mask, learn, 100, 50, 50, iic_w)
    got = model_run(mask, drives, learn, 100, 50, 50, iic_w)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_equal(a, b)
    np.testing.assert_equal(got[3].state.block, want[3])
    # the inhibition acts: without it the MC spikes of the test samples differ
    plain = reference(drives, mask, learn, 100, 50, 50, 0)
    assert want[3].any()
    assert (plain[0][3:] != want[0][3:]).any()


def test_weights_at_the_edges_and_pruning():
    """Loaded weights 0, just below and at the prune bound, just below 30 and 30 (frozen)."""
    rng = np.random.default_rng(7)
    mask, drives = random_case(rng, 8, 24, 0.6, 3)
    choices = np.array([0, P["prune"] - 1, P["prune"], 30 * MV - 1, 30 * MV, 25 * MV, 12 * MV])
    w0 = np.where(mask, rng.choice(choices, size=mask.shape), 0)
    learn = np.array([True, True, False])
    want = reference(drives, mask, learn, 250, 50, 50, w0=w0)
    got = model_run(mask, drives, learn, 250, 50, 50, w0=w0)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_equal(a, b)
    final = got[2][-1]
    assert np.all(final[w0 == 30 * MV] == 30 * MV), "30 mV is frozen"
    assert np.all(final[mask & (w0 < P["prune"])] == 0), "below the prune bound goes to 0"


def test_every_mc_in_one_step_saturates_the_current():
    """All MCs fire at the same phase into GCs with every MC as input: the summed current
    (8 x 30 mV = 240 mV) saturates at 64 mV and the GCs fire as with the exact sum."""
    mcs, gcs = 8, 8
    mask = np.ones((gcs, mcs), bool)
    drives = np.full((2, mcs), 30 * MV)
    w0 = np.full(mask.shape, 30 * MV)
    learn = np.array([False, False])
    want = reference(drives, mask, learn, 100, 50, 50, w0=w0)
    got = model_run(mask, drives, learn, 100, 50, 50, w0=w0)
    np.testing.assert_equal(got[1], want[1])
    assert want[1].sum() >= 2 * gcs


def test_saturation_never_changes_a_spike():
    """From every GC voltage code between rest and threshold, 45.3 mV and the saturation code
    both take the voltage to the threshold in one step (so every larger current does too)."""
    v = np.arange(-60 * MV, -50 * MV + 1, dtype=np.int64)
    for cur in (int(45.3 * MV), P["current_max"]):
        nxt = np.minimum(v + ((453 * (-60 * MV + cur - v)) >> 11), -50 * MV)
        assert np.all(nxt == -50 * MV)


def test_increment_roms():
    ltp, ltd = stdp_tables(F)
    e_ltp, e_ltd = exact_tables()
    np.testing.assert_equal(ltp, e_ltp)
    np.testing.assert_equal(ltd, e_ltd)
    k = np.arange(1, 64)
    assert np.all(np.abs(ltp[1:] - 0.3125 * np.exp(-k / 4) * MV) <= 0.5)
    assert np.all(np.abs(ltd[1:] - 1.25 * np.exp(-k / 4) * MV) <= 0.5)
    assert ltp[42] > 0 and not ltp[43:].any()
    assert ltd[48] > 0 and not ltd[49:].any()


def test_mc_spikes_are_the_mc_arrays():
    rng = np.random.default_rng(3)
    mask, drives = random_case(rng, 16, 32, 0.3, 4, lo=0, hi=60)
    mc, _, _, _ = model_run(mask, drives, np.zeros(4, bool), 250, 50, 0)
    arr = MCArrayModel(MCArrayConfig(mcs=16))
    out = arr.run(drives)
    grid = np.zeros((4 * 300, 16), bool)
    grid[out.events[:, 0], out.events[:, 1]] = True
    np.testing.assert_equal(mc.reshape(-1, 16), grid)


def test_stamps_wrap():
    """The same samples near the wrap of 16-bit stamps and at step 50 give the same spikes and
    weights (differences are taken modulo 2**16)."""
    rng = np.random.default_rng(11)
    mask, drives = random_case(rng, 8, 24, 0.5, 4)
    learn = np.ones(4, bool)
    a = model_run(mask, drives, learn, 250, 50, 50, stamp_bits=16)
    b = model_run(mask, drives, learn, 250, 50, 50 * ((1 << 16) // 50) - 300, stamp_bits=16)
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_equal(x, y)


def test_clamp_and_reset():
    rng = np.random.default_rng(5)
    mask, drives = random_case(rng, 8, 16, 0.5, 2)
    _, _, _, model = model_run(mask, drives, np.ones(2, bool), 250, 50, 0)
    w = model.weights
    model.clamp()
    np.testing.assert_equal(model.weights, np.where(w <= 29 * MV, 0, w))
    model.reset_neurons()
    s = model.state
    assert not s.delay.any() and not s.gc_spk.any() and np.all(s.gc_v == -60 * MV)
    np.testing.assert_equal(model.weights, np.where(w <= 29 * MV, 0, w))


def test_errors():
    with pytest.raises(ValueError, match="lanes"):
        GCLayerConfig(gcs=24, lanes=25)
    with pytest.raises(ValueError, match="lanes"):
        GCLayerConfig(gcs=1024, lanes=65)
    assert GCLayerConfig(gcs=24, lanes=3).lanes == 3
    with pytest.raises(TypeError, match="compact must be a bool, not 1"):
        GCLayerConfig(compact=1)
    assert GCLayerConfig(compact=True).compact and not GCLayerConfig().compact
    with pytest.raises(ValueError, match="synapses"):
        GCLayerConfig(mcs=2, gcs=2, synapses=5)
    with pytest.raises(ValueError, match="multiple of 50"):
        GCLayerConfig(hold=120)
    cfg = GCLayerConfig(mcs=4, gcs=8, synapses=4)
    with pytest.raises(ValueError, match=r"shape \(8, 4\)"):
        GCLayerModel(cfg, np.ones((4, 8), bool))
    with pytest.raises(ValueError, match="only 0 and 1"):
        GCLayerModel(cfg, np.full((8, 4), 2))
    with pytest.raises(ValueError, match="holds 4 synapses"):
        GCLayerModel(cfg, np.ones((8, 4), bool))
    mask = np.zeros((8, 4), bool)
    mask[:2, :2] = True
    with pytest.raises(ValueError, match="GC->MC path"):
        GCLayerModel(cfg, mask, iic_weight=-MV)
    with pytest.raises(ValueError, match="iic_weight"):
        GCLayerModel(cfg.replace(iic=True), mask, iic_weight=MV)
    model = GCLayerModel(cfg, mask)
    with pytest.raises(ValueError, match=r"\[0, 1966080\]"):
        model.weights = np.array([0, 1, 2, 30 * MV + 1])
    with pytest.raises(ValueError, match="4 integer codes"):
        model.weights = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="drives must have shape"):
        model.run(np.zeros((1, 3), np.int64))
    with pytest.raises(ValueError, match="drive codes"):
        model.run(np.full((1, 4), -1))
    with pytest.raises(ValueError, match="multiple of 50"):
        model.t = 10


def test_penalty_starts_at_delta_minus_51():
    """MCs 0, 1, 2 fire together into GC 0 in the first window; in the next (back to back, no
    rinse) MC 1 is silent, so GC 0 fires exactly 51 steps after MC 1's stamp: the penalty
    prunes that synapse (loaded at 5 mV), while MCs 0 and 2 (delta -1) are potentiated."""
    mask = np.zeros((4, 3), bool)
    mask[0, :] = True
    mask[1, 0] = True
    drives = np.array([[30 * MV] * 3, [30 * MV, 0, 30 * MV]])
    learn = np.array([True, True])
    w0 = np.where(mask, 25 * MV, 0)
    w0[0, 1] = 5 * MV          # it would reach 30 (and freeze) before the penalty otherwise
    want = reference(drives, mask, learn, 50, 0, 50, w0=w0)
    got = model_run(mask, drives, learn, 50, 0, 50, w0=w0)
    for a, b in zip(got[:3], want[:3]):
        np.testing.assert_equal(a, b)
    first, second = got[2]
    assert first[0, 1] > 5 * MV and second[0, 1] == 0
    assert second[0, 0] > first[0, 0] and second[0, 2] > first[0, 2]


@pytest.mark.parametrize("lanes", [1, 2, 3, 5])
def test_lane_fanout_lists_split_the_synapses(lanes):
    """Lane j's lists hold the synapses onto the GCs g % lanes == j (local GC g // lanes),
    in the global fan-out order; every synapse is in exactly one lane."""
    from hetq.golden.fixed.gc_layer import fanout_lists, lane_fanout_lists

    rng = np.random.default_rng(lanes)
    mask = rng.random((13, 7)) < 0.4
    mask[:, 2] = False
    ptr, gc = fanout_lists(mask)
    mc = np.repeat(np.arange(7), np.diff(ptr))
    lists, lane, local = lane_fanout_lists(mask, lanes)
    assert len(lists) == lanes
    seen = np.zeros(len(gc), dtype=int)
    for j, (lp, lg) in enumerate(lists):
        lmc = np.repeat(np.arange(7), np.diff(lp))
        ks = np.flatnonzero(lane == j)
        np.testing.assert_equal(local[ks], np.arange(len(ks)))
        np.testing.assert_equal(lg * lanes + j, gc[ks])
        np.testing.assert_equal(lmc, mc[ks])
        seen[ks] += 1
    np.testing.assert_equal(seen, 1)
    sizes = [int(lp[-1]) for lp, _ in lists]
    with pytest.raises(ValueError, match=f"lane {int(np.argmax(sizes))} of {lanes} gets "
                                         f"{max(sizes)} synapses"):
        lane_fanout_lists(mask, lanes, capacity=max(sizes) - 1)
    lane_fanout_lists(mask, lanes, capacity=max(sizes))
    with pytest.raises(ValueError, match="lanes must lie in"):
        lane_fanout_lists(mask, 14)
