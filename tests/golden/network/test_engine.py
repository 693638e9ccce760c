"""The compiled engine against the NumPy definition: bit-identical results and state."""

import numpy as np
import pytest

from hetq.golden.network.connectivity import random_connectivity
from hetq.golden.network.engine import lif_params, lif_run
from hetq.golden.network.lif import GC_PARAMS, MC_PARAMS, LIFLayer
from hetq.golden.network.model import Network
from hetq.golden.network.stdp import STDPParams
from hetq.golden.network.synth import SynthConfig, synthesize
from hetq.golden.network.weights import MODES, WeightSpec


@pytest.fixture(scope="module")
def sessions():
    return {s: synthesize(SynthConfig(session=s))[0] for s in ("concentration", "saturation")}


def pair(d, n_gc, seed, iic=0.0, weights=None):
    w = np.zeros((8 * d, 8), dtype=np.float32) if weights is None else weights
    mask = random_connectivity(n_gc, 8 * d, 1 / d, seed) if n_gc else None
    return [Network(w, n_gc=n_gc, connectivity=mask, iic_weight=iic, engine=e)
            for e in ("numba", "numpy")]


def assert_same_state(a, b):
    assert a.t == b.t
    np.testing.assert_equal(a.weights, b.weights)
    ra, rb = a._rt, b._rt
    np.testing.assert_equal(ra.et.shunt, rb.et.shunt)
    for la, lb in ((ra.mc, rb.mc), (ra.gc, rb.gc)):
        if la is not None:
            for k in ("v", "r", "spiked"):
                np.testing.assert_equal(getattr(la, k), getattr(lb, k), err_msg=k)
    if a.n_gc:
        np.testing.assert_equal(a.mc_gc_weights, b.mc_gc_weights)
        for k in ("pre", "post"):
            np.testing.assert_equal(getattr(a.stdp, k), getattr(b.stdp, k), err_msg=k)
        for k in ("blocking", "frozen"):
            np.testing.assert_equal(getattr(a.iic, k), getattr(b.iic, k), err_msg=k)
        for k in ("src_last", "dst_last", "delivered"):
            np.testing.assert_equal(getattr(ra, k), getattr(rb, k), err_msg=k)
        np.testing.assert_equal(ra.delay._buf, rb.delay._buf)
        assert ra.delay._pos == rb.delay._pos


def assert_same_readout(a, b):
    for k in ("et", "mc_phase", "gc_phase", "mc_raster", "gc_raster"):
        np.testing.assert_equal(getattr(a, k), getattr(b, k), err_msg=k)


@pytest.mark.parametrize("mode, smoothing", [(m, 0.25) for m in MODES] + [("adaptive", 0.5),
                                                                        ("adaptive", 0.0)])
@pytest.mark.parametrize("session", ["concentration", "saturation"])
def test_calibration(sessions, session, mode, smoothing):
    x = sessions[session][::8]
    nets = pair(8, 0, 0)
    spec = WeightSpec(mode, 8, gain=37.0, smoothing=smoothing)
    ca, cb = (n.calibrate(x, spec) for n in nets)
    np.testing.assert_equal(ca.weights, cb.weights)
    np.testing.assert_equal(ca.log, cb.log)
    assert ca.updates == cb.updates > 0
    assert_same_state(*nets)


@pytest.mark.parametrize("d, session, seed", [(4, "concentration", 1), (8, "saturation", 2),
                                              (16, "concentration", 3)])
def test_fold(sessions, d, session, seed):
    x = sessions[session]
    rng = np.random.default_rng(seed)
    train, test = x[rng.choice(128, 16, replace=False)], x[rng.choice(128, 24, replace=False)]
    nets = pair(d, 4 * 8 * d, seed)
    for n in nets:
        n.calibrate(train, WeightSpec("adaptive", d, smoothing=0.25))
        n.fit(train)
    assert_same_state(*nets)
    assert nets[0].iic.blocking.any()
    outs = [n.process(test, raster=True) for n in nets]
    assert_same_readout(*outs)
    assert outs[0].gc_phase.any()
    assert_same_state(*nets)


def test_random_weights_and_short_windows():
    rng = np.random.default_rng(7)
    w = np.zeros((48, 8), dtype=np.float32)
    w[np.arange(48), np.arange(48) // 6] = rng.uniform(0, 400, 48)
    x = rng.exponential(size=(10, 8)) * (rng.random((10, 8)) < 0.8)
    nets = pair(6, 96, 4, weights=w)
    for n in nets:
        n.fit(x[:3], duration=100, rinse=50)
    outs = [n.process(x, duration=50, rinse=100, raster=True) for n in nets]
    assert_same_readout(*outs)
    assert_same_state(*nets)


def test_fallback_paths_agree(sessions):
    """rinse = 0 (windows do not end at rest) and an active GC->MC inhibition."""
    x = sessions["saturation"][::6]
    for iic, rinse in ((0.0, 0), (-6.0, 50)):
        nets = pair(4, 64, 5, iic=iic, weights=None)
        for n in nets:
            n.calibrate(x[:8], WeightSpec("uniform", 4))
            n.fit(x[:8], rinse=rinse)
        outs = [n.process(x, rinse=rinse, raster=True) for n in nets]
        assert_same_readout(*outs)
        assert_same_state(*nets)


def test_mc_only(sessions):
    x = sessions["concentration"]
    nets = pair(32, 0, 0)
    for n in nets:
        n.calibrate(x[::8], WeightSpec("uniform", 32))
    assert_same_readout(*(n.process(x[:40], raster=True) for n in nets))


def test_engine_name_checked():
    with pytest.raises(ValueError, match="engine must be one of numba, numpy"):
        Network(np.ones((1, 1)), engine="jax")


@pytest.mark.parametrize("params", [MC_PARAMS, GC_PARAMS])
def test_lif_voltage_traces(params):
    rng = np.random.default_rng(11)
    n, steps = 400, 150
    drives = rng.normal(0, 15, size=(steps, n)).astype(np.float32)
    drives[:, :100] += 40  # some units fire
    layer = LIFLayer(n, params)
    layer.v[...] = rng.uniform(-70, -50, size=(1, n)).astype(np.float32)
    v, r = layer.v[0].copy(), layer.r[0].copy()
    spikes = lif_run(v, r, drives, 30, lif_params(params))
    for k in range(steps):
        np.testing.assert_equal(spikes[k], layer.step(drives[k][None], 30 + k)[0])
        if k == steps - 1:
            np.testing.assert_equal(v, layer.v[0])
            np.testing.assert_equal(r, layer.r[0])
    assert spikes.any()


def boundary_drives():
    """Adjacent float32 drives on both sides of every phase boundary of the NumPy model."""
    lo = np.array([6.7, 7.0, 7.5, 8.2, 9.1, 10.3, 11.7, 13.2, 14.9, 16.7, 18.7, 20.9, 23.4,
                   26.5, 31.2, 42.5], dtype=np.float32)
    hi = lo + np.float32(0.2)

    def phases(c):
        net = Network(c[:, None].astype(np.float32), engine="numpy")
        return net.process(np.ones((1, 1)), duration=50, rinse=50).mc_phase[0]

    p_lo = phases(lo)
    assert (phases(hi) != p_lo).all()
    while True:
        gap = np.nextafter(lo, np.float32(np.inf)) < hi
        if not gap.any():
            return lo, hi
        mid = np.where(gap, ((lo.astype(np.float64) + hi) / 2).astype(np.float32), lo)
        same = phases(mid) == p_lo
        lo = np.where(gap & same, mid, lo)
        hi = np.where(gap & ~same, mid, hi)


def test_phase_boundaries_to_the_last_bit():
    lo, hi = boundary_drives()
    c = np.concatenate([lo, hi])[:, None]
    ref = Network(c, engine="numpy").process(np.ones((1, 1))).mc_phase[0]
    got = Network(c, engine="numba").process(np.ones((1, 1))).mc_phase[0]
    np.testing.assert_equal(got, ref)
    assert (ref[:16] != ref[16:]).all()


def test_subthreshold_gc_state_after_training(sessions):
    """GCs with a single MC input never fire: their voltage at the end of a window without
    rinse exposes every bit of the GC input sums and the GC arithmetic."""
    x = sessions["concentration"][::16]
    mask = np.zeros((64, 32), dtype=bool)
    mask[np.arange(32), np.arange(32)] = True
    mask[32:] = random_connectivity(32, 32, 0.5, 9)
    w = np.zeros((32, 8), dtype=np.float32)
    w[np.arange(32), np.arange(32) // 4] = np.tile([25, 37.3, 73.5, 2500], 8)
    nets = [Network(w, n_gc=64, connectivity=mask, engine=e) for e in ("numba", "numpy")]
    for n in nets:
        n.fit(x, duration=50, rinse=0)
    assert_same_state(*nets)
    v = nets[0]._rt.gc.v[0, :32]
    assert (v > -60).any() and (v < -50).all()


@pytest.mark.parametrize("params", [STDPParams(w_init=30.0), STDPParams(w_init=12.0),
                                    STDPParams(alpha_plus=1.0, penalty=5.0, tau_minus=2.0)])
def test_training_with_other_stdp_parameters(sessions, params):
    x = sessions["saturation"][::8]
    mask = random_connectivity(96, 24, 0.3, 8)
    w = np.zeros((24, 8), dtype=np.float32)
    w[np.arange(24), np.arange(24) // 3] = np.tile([30.0, 80.0, 2500.0], 8)
    nets = [Network(w, n_gc=96, connectivity=mask, stdp=params, engine=e)
            for e in ("numba", "numpy")]
    for n in nets:
        n.fit(x, duration=100)
    assert_same_state(*nets)
    assert_same_readout(*(n.process(x) for n in nets))


def test_first_mc_and_gc_stamps_in_the_same_step():
    """MCs 0 and 1 (phase 2) make the GC fire exactly when MC 2's first spike (phase 3) is
    delivered, so pair (GC, MC 2) gets both of its first stamps in one step; a second sample
    moves MC 2 to phase 6 so that pair learns (no post-training clamp, to see the weights)."""
    w = np.array([[100, 0], [100, 0], [0, 70], [0, 0]], dtype=np.float32)
    mask = np.ones((1, 4), dtype=bool)
    params = STDPParams(clamp_threshold=-1.0)
    nets = [Network(w, n_gc=1, connectivity=mask, stdp=params, engine=e)
            for e in ("numba", "numpy")]
    first = Network(w, n_gc=1, connectivity=mask, stdp=params, engine="numpy")
    first.fit(np.array([[1.0, 1.0]]), duration=50, rinse=0)
    np.testing.assert_equal(first.stdp.pre, [27, 27, 28, 0])  # stamps are one step late
    assert first.stdp.post[0] == 28
    for n in nets:  # one call: the compiled fit keeps its bookkeeping across both samples
        n.fit(np.array([[1.0, 1.0], [1.0, 0.5]]), duration=50, rinse=0)
    assert_same_state(*nets)
    assert 0 < nets[1].mc_gc_weights[0, 2] < 25


def float_mc_phases(x, weights):
    """The float model's own MC phases, as an ``mc_model``."""
    return Network(weights, engine="numpy").process(x).mc_phase


def test_mc_model_injection(sessions):
    x = sessions["concentration"]
    train, test = x[::8], x[3::5]
    runs = {}
    for name, kw in (("simulated", {}), ("numba", {"mc_model": float_mc_phases}),
                     ("numpy", {"mc_model": float_mc_phases, "engine": "numpy"})):
        mask = random_connectivity(128, 64, 1 / 8, 6)
        net = Network(np.zeros((64, 8), dtype=np.float32), n_gc=128, connectivity=mask, **kw)
        net.calibrate(train, WeightSpec("uniform", 8))
        net.fit(train)
        runs[name] = (net, net.process(test, raster=True))
    # the float MC phases are the same in every cycle here, so injecting them changes nothing
    for name in ("numba", "numpy"):
        np.testing.assert_equal(runs[name][0].mc_gc_weights, runs["simulated"][0].mc_gc_weights)
        assert_same_readout(runs[name][1], runs["simulated"][1])


def test_mc_model_output_checked():
    net = Network(np.ones((2, 1), dtype=np.float32), mc_model=lambda x, w: np.zeros((1, 3), int))
    with pytest.raises(ValueError, match=r"integer phases of shape \(1, 2\)"):
        net.process(np.ones((1, 1)))
    net.mc_model = lambda x, w: np.full((1, 2), 60)
    with pytest.raises(ValueError, match="phases must lie in 0..50"):
        net.process(np.ones((1, 1)))
