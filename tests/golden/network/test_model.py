import numpy as np
import pytest

from hetq.golden.network.connectivity import random_connectivity
from hetq.golden.network.lif import CYCLE
from hetq.golden.network.model import Network, validate_samples, validate_schedule
from hetq.golden.network.synth import SynthConfig, synthesize
from hetq.golden.network.weights import WeightSpec, data_blind_weights

D, N_GC = 4, 64


@pytest.fixture(scope="module")
def data():
    x, y, _ = synthesize(SynthConfig(session="concentration"))
    rng = np.random.default_rng(0)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), 2, replace=False) for c in range(1, 9)])
    test = np.setdiff1d(np.arange(len(y)), train)[::4]
    return x[train], x[test]


def make(iic=0.0, seed=3):
    w = data_blind_weights(WeightSpec("uniform", D), 8)
    mask = random_connectivity(N_GC, 8 * D, 0.25, seed)
    return Network(w, n_gc=N_GC, connectivity=mask, iic_weight=iic)


def assert_readouts_equal(a, b):
    for name in ("et", "mc_phase", "gc_phase", "mc_raster", "gc_raster"):
        np.testing.assert_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("rinse", [50, 0])
def test_parallel_equals_sequential(data, rinse):
    train, test = data
    nets = [make(), make()]
    for net in nets:
        net.fit(train[:4], rinse=rinse)
    par = nets[0].process(test, rinse=rinse, raster=True, batch_size=7)
    seq = nets[1].process(test, rinse=rinse, raster=True, parallel=False)
    assert_readouts_equal(par, seq)
    assert nets[0].t == nets[1].t == (4 + len(test)) * (250 + rinse)
    np.testing.assert_equal(nets[0]._rt.src_last, nets[1]._rt.src_last)
    assert par.gc_phase.any()


def test_gc_inhibition_changes_mcs_and_runs_sequentially(data):
    train, test = data
    off, on, on_seq = make(), make(-8.0), make(-8.0)
    for net in (off, on, on_seq):
        net.fit(train)
    assert on.iic.active and on.iic.blocking.any()
    np.testing.assert_equal(on.mc_gc_weights, off.mc_gc_weights)  # IIC output is 0 in fit
    a, b = off.process(test), on.process(test)
    assert (a.mc_phase != b.mc_phase).any()
    assert_readouts_equal(b, on_seq.process(test, parallel=False))


def test_calibration_fast_path_equals_full_simulation(data):
    train, test = data
    spec = WeightSpec("adaptive", D, smoothing=0.25)
    fast, full = make(), make()
    cf = fast.calibrate(train, spec)
    cs = full.calibrate(train, spec, simulate=True)
    np.testing.assert_equal(fast.weights, full.weights)
    assert cf.updates == cs.updates > 1 and fast.t == full.t == len(train) * 100
    for net in (fast, full):
        net.fit(train)
    np.testing.assert_equal(fast.mc_gc_weights, full.mc_gc_weights)
    assert_readouts_equal(fast.process(test), full.process(test))


def test_training_gives_almost_binary_weights(data):
    train, _ = data
    net = make()
    before = net.mc_gc_weights
    net.fit(train)
    w = net.mc_gc_weights
    assert not w[~net.stdp.mask].any()
    on = w[net.stdp.mask]
    assert set(np.unique(on[on < 29.5])) <= {0} and (on == 30).any() and (on == 0).any()
    assert (before[net.stdp.mask] == 25).all()


def test_every_lif_fires_at_most_once_per_cycle(data):
    train, test = data
    net = make()
    net.fit(train)
    out = net.process(test, raster=True)
    mc = out.mc_raster.reshape(len(test), -1, CYCLE, 8 * D).sum(2)
    gc = out.gc_raster[:, 25:275].reshape(len(test), -1, CYCLE, N_GC).sum(2)  # p 25..74
    assert mc.max() == 1 and gc.max() == 1
    assert not out.gc_raster[:, :25].any()  # nothing carried over from the previous sample


def test_zero_sample_is_silent_and_finite():
    net = make()
    out = net.process(np.zeros((2, 8)))
    assert not out.mc_phase.any() and not out.gc_phase.any()
    np.testing.assert_equal(out.et, 0)


def test_phase_readout_is_last_spike_of_final_cycle():
    w = np.array([[20.0]], dtype=np.float32)     # drive 20 -> phase 7 (docs/model.md section 6)
    out = Network(w).process(np.ones((1, 1)), duration=100, rinse=50, raster=True)
    assert out.mc_phase[0, 0] == 7
    np.testing.assert_equal(np.flatnonzero(out.mc_raster[0, :, 0]), [6, 56])
    np.testing.assert_equal(out.et, [[1.0]])


@pytest.mark.parametrize("samples, message", [
    (np.ones(8), "2-D array"),
    (np.ones((0, 8)), "empty"),
    (np.array([[1.0, np.nan]]), "NaN or infinite values .first at row 0, column 1"),
    (np.array([[1.0, -2.0]]), "negative values"),
    (np.array([["a", "b"]]), "real numbers"),
    (np.ones((2, 3)), "has 3 sensors but the weights are for 8"),
    (np.full((1, 8), 1e38), r"row 0 sums to 8e\+38 .* in \[2\^-126, 2\^126\]"),
])
def test_validate_samples_rejects(samples, message):
    with pytest.raises(ValueError, match=message):
        validate_samples(samples, sensors=8)


@pytest.mark.parametrize("duration, rinse", [(0, 50), (120, 50), (250, 30), (250, -50)])
def test_schedule_must_align_with_cycles(duration, rinse):
    with pytest.raises(ValueError, match="multiple of 50"):
        validate_schedule(duration, rinse)


def test_network_argument_errors():
    w = data_blind_weights(WeightSpec("uniform", 2), 2)
    with pytest.raises(ValueError, match="needs an MC->GC connectivity"):
        Network(w, n_gc=4)
    with pytest.raises(ValueError, match="connectivity has 3 MC columns"):
        Network(w, n_gc=4, connectivity=np.ones((4, 3)))
    with pytest.raises(ValueError, match="t0 must be a multiple"):
        Network(w, t0=7)
    with pytest.raises(ValueError, match="fit needs a GC layer"):
        Network(w).fit(np.ones((1, 2)))
