import numpy as np
import pytest

from hetq.golden.network.weights import (
    Calibrator, WeightSpec, adaptive_weights, allocate_points, block_matrix, column_weights,
    data_blind_weights, density_from_breaks, jenks_classes, linear_space, lower_median,
    uniform_space,
)


def column(w, d):
    return w[np.arange(w.shape[0]), np.arange(w.shape[0]) // d]


def test_uniform_weights_d4():
    w = data_blind_weights(WeightSpec("uniform", 4), sensors=8)
    expect = [25, 2500 / 67, 2500 / 34, 2500]  # 25*100/v for v = 100, 67, 34, 1
    np.testing.assert_allclose(column(w, 4), np.tile(expect, 8), rtol=1e-7)


def test_uniform_weights_d8():
    w = data_blind_weights(WeightSpec("uniform", 8), sensors=2)
    expect = [25, 29.12, 34.86, 43.42, 57.57, 85.37, 165.09, 2500]  # docs/model.md section 5.2
    np.testing.assert_allclose(column(w, 8), np.tile(expect, 2), atol=0.005)
    # 1/space is evenly spaced on [0.01, 1]
    np.testing.assert_allclose(np.diff(25 / column(w, 8)[:8][::-1]), 0.99 / 7, rtol=1e-6)


def test_linear_and_homogeneous_weights():
    w = data_blind_weights(WeightSpec("linear", 4), sensors=1)
    np.testing.assert_allclose(column(w, 4), [25, 643.75, 1262.5, 1881.25], rtol=1e-7)
    w = data_blind_weights(WeightSpec("homogeneous", 3, gain=45), sensors=2)
    np.testing.assert_equal(column(w, 3), 45)
    np.testing.assert_equal(linear_space(1), [1]) and np.testing.assert_equal(uniform_space(1), [100])


def test_block_structure():
    w = block_matrix(np.array([[1.0, 2.0], [3.0, 4.0]]), gain=10)
    np.testing.assert_equal(w, [[10, 0], [30, 0], [0, 20], [0, 40]])
    assert column_weights(w)[0] == 2


@pytest.mark.parametrize("bad, message", [
    (np.ones(3), "shape"),
    (np.ones((5, 2)), "shape"),
    (np.array([[1.0, 0], [0, np.nan]]), "NaN"),
    (np.array([[-1.0, 0], [0, 1]]), "range"),
    (np.array([[2e7, 0], [0, 1]]), "range"),
    (np.array([[1.0, 1.0], [0, 1]]), r"W\[0, 1\] = 1 but MC row 0 belongs to sensor 0"),
])
def test_column_weights_rejects(bad, message):
    with pytest.raises(ValueError, match=message):
        column_weights(bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "cubic"}, "mode must be one of"),
    ({"duplication": 0}, "duplication must be an integer >= 1"),
    ({"gain": -1.0}, "gain must be in"),
    ({"payload": float("nan")}, "payload must be in"),
    ({"limit": 0.0}, "limit must be in"),
    ({"smoothing": -0.5}, r"smoothing must be in \[0, 1\]"),
    ({"smoothing": 1.01}, r"smoothing must be in \[0, 1\]"),
    ({"smoothing": 10.0}, r"smoothing must be in \[0, 1\]"),
])
def test_weight_spec_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WeightSpec(**kwargs)


@pytest.mark.parametrize("d, smoothing, k", [
    (4, 0.0, 4), (32, 0.0, 32), (4, 0.25, 4), (8, 0.25, 4), (16, 0.25, 4), (32, 0.25, 4),
    (4, 0.5, 2), (32, 0.5, 2), (4, 1.0, 2),
])
def test_jenks_class_count(d, smoothing, k):
    assert jenks_classes(d, smoothing, n_obs=10_000, n_unique=1000) == k


def test_jenks_class_count_caps():
    assert jenks_classes(8, 0.0, n_obs=10_000, n_unique=3) == 3
    assert jenks_classes(8, 0.0, n_obs=5, n_unique=5) == 5  # fewer observations than m


def test_allocation_narrowest_first():
    np.testing.assert_equal(allocate_points([0.5, 0.1, 0.3], 8), [2, 3, 3])
    np.testing.assert_equal(allocate_points([0.2, 0.2, 0.2], 4), [2, 1, 1])
    np.testing.assert_equal(allocate_points([0.9], 5), [5])


def test_lower_median():
    assert lower_median([4, 1, 3, 2]) == 2
    assert lower_median([[5, 1], [3, 9], [7, 2]]) == 3


HAND_LOG = np.array([0.0] + [0.2] * 5 + [0.21] * 3 + [0.0] * 3)


def test_density_from_breaks_hand_case():
    # unique {0.01, 0.2, 0.21, 1}: 2 Jenks classes -> edges [0.01, 0.21, 1]; the first is
    # dropped and 4 points cover (0.21, 1]: 0.4075, 0.605, 0.8025, 1.
    space = density_from_breaks(HAND_LOG, 4, smoothing=0.5)
    np.testing.assert_allclose(space, 1 / np.array([1.0, 0.8025, 0.605, 0.4075]), rtol=1e-12)


def test_adaptive_gain_correction_hand_case():
    w = adaptive_weights(HAND_LOG[:, None], WeightSpec("adaptive", 4, smoothing=0.5))
    # lower medians: of linspace(.01, 1, 4) -> 0.34; of 1/space -> 0.605
    gain = 25 / (0.34 / 0.605)
    np.testing.assert_allclose(column(w, 4), gain / np.array([1.0, 0.8025, 0.605, 0.4075]),
                               rtol=1e-6)


def test_calibrator_data_blind_written_at_first_nonzero_input():
    cal = Calibrator(WeightSpec("uniform", 4), sensors=2)
    assert not cal.observe([0, 0]) and not cal.weights.any()
    assert cal.observe([0.25, 0.75])
    np.testing.assert_equal(cal.weights, data_blind_weights(WeightSpec("uniform", 4), 2))
    assert not cal.observe([0.25, 0.75]) and cal.updates == 1


def test_calibrator_adaptive_uses_log_up_to_last_new_extreme():
    spec = WeightSpec("adaptive", 4, smoothing=0.25)
    cal = Calibrator(spec, sensors=2)
    assert cal.observe([0.3, 0.7])
    assert cal.observe([0.1, 0.9])
    snapshot = cal.log
    assert not cal.observe([0.2, 0.8])   # inside the running extremes: no recomputation
    assert not cal.observe([0.0, 0.0])   # zeros never count as a new minimum
    assert len(cal.log) == 5
    np.testing.assert_equal(cal.weights, adaptive_weights(snapshot, spec))
    assert not np.array_equal(cal.weights, adaptive_weights(cal.log, spec))
    assert cal.observe([0.05, 0.95])
    np.testing.assert_equal(cal.weights, adaptive_weights(cal.log, spec))
