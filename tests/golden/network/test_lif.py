import numpy as np
import pytest

from hetq.golden.network.lif import (
    CYCLE, GC_PARAMS, MC_PARAMS, LIFLayer, gamma_drive_table, rk4_leak_factor,
)
from hetq.golden.network.model import Network

# docs/model.md section 6: (c just inside the lower edge of a phase interval, expected phase).
PHASE_EDGES = [
    (6.78, 0), (6.79, 17), (7.02, 17), (7.03, 16), (7.50, 16), (7.51, 15), (8.23, 15),
    (8.24, 14), (9.19, 14), (9.20, 13), (10.35, 13), (10.36, 12), (11.71, 12), (11.72, 11),
    (13.23, 11), (13.245, 10), (14.92, 10), (14.93, 9), (16.75, 9), (16.76, 8), (18.74, 8),
    (18.75, 7), (20.93, 7), (20.95, 6), (23.44, 6), (23.45, 5), (26.57, 5), (26.58, 4),
    (31.29, 4), (31.30, 3), (42.60, 3), (42.61, 2), (100.0, 2), (10000.0, 2), (0.0, 0),
]


def test_rk4_leak_factor_is_453_over_2048():
    assert rk4_leak_factor(0.25) == 453 / 2048 == 0.22119140625


def test_gamma_table():
    g = gamma_drive_table()
    assert g.dtype == np.float32 and g.shape == (CYCLE,)
    assert g[0] == -20 and g[25] == pytest.approx(-20, abs=1e-5)
    assert g.max() == g[12] or g.max() == g[13]
    assert g.max() > -0.2 and g.min() < -39.8
    assert np.all(g <= 0)


def test_phase_table_single_mcs():
    # One sensor: the ET value is 1, so an MC's weight is its drive c.
    c = np.array([e[0] for e in PHASE_EDGES], dtype=np.float32)[:, None]
    out = Network(c).process(np.ones((1, 1)))
    np.testing.assert_equal(out.mc_phase[0], [e[1] for e in PHASE_EDGES])


def test_lif_step_matches_closed_form_leak():
    # Below threshold and without refractoriness, the RK4 step is v + a*(rest + I - v).
    rng = np.random.default_rng(1)
    layer = LIFLayer(1000, MC_PARAMS)
    layer.v[...] = rng.uniform(-80, -56, size=(1, 1000)).astype(np.float32)
    v0 = layer.v.astype(np.float64)
    drive = rng.uniform(-40, 0, size=(1, 1000)).astype(np.float32)
    layer.step(drive, t=3)
    expect = v0 + 453 / 2048 * (-60 + drive - v0)
    np.testing.assert_allclose(layer.v, np.minimum(expect, -55), rtol=0, atol=2e-5)


def test_spike_on_next_step_then_refractory_and_release():
    layer = LIFLayer(1, GC_PARAMS)
    spikes = [bool(layer.step(np.float32(200.0), 0)[0, 0])]
    assert layer.v[0, 0] == -50  # clamped at threshold, the spike comes next step
    for t in range(1, 100):
        spikes.append(bool(layer.step(np.float32(200.0), t)[0, 0]))
    # Crossing at step 0 is reported at step 1; refractory until the release at the end of
    # p = 24 (GC), then again one step after the next crossing.
    assert list(np.flatnonzero(spikes)) == [1, 26, 76]


def test_release_loses_a_crossing_in_the_last_step():
    layer = LIFLayer(1, MC_PARAMS)
    layer.v[...] = np.float32(-55.5)
    layer.step(np.float32(100.0), t=49)
    assert layer.v[0, 0] == -60 and layer.r[0, 0] == 0
    assert not layer.step(np.float32(-100.0), t=50).any()


@pytest.mark.parametrize("seed", [0, 1])
def test_mc_fires_at_most_once_per_cycle_and_only_phases_2_to_17(seed):
    rng = np.random.default_rng(seed)
    w = np.zeros((8 * 8, 8), dtype=np.float32)
    w[np.arange(64), np.arange(64) // 8] = rng.uniform(0, 3000, size=64)
    x = rng.exponential(size=(20, 8)) * (rng.random((20, 8)) < 0.7)
    out = Network(w).process(x, raster=True)
    per_cycle = out.mc_raster.reshape(20, 6, CYCLE, 64).sum(axis=2)
    assert per_cycle.max() == 1
    ph = out.mc_phase[out.mc_phase > 0]
    assert ph.min() >= 2 and ph.max() <= 17 and ph.size > 100
