import numpy as np

from hetq.golden.network.shunt import ShuntNormaliser, l1_normalise


def test_rows_sum_to_one_and_match_exact_division():
    rng = np.random.default_rng(5)
    x = (rng.exponential(size=(500, 8)) * 10).astype(np.float32)
    et = ShuntNormaliser(8, batch=500)
    for _ in range(5):  # the shunt state jitters the result by float rounding only
        y = et.step(x)
        np.testing.assert_allclose(y.sum(axis=1), 1, rtol=3e-7 * 8)
        np.testing.assert_allclose(y, l1_normalise(x), rtol=1e-6, atol=1e-12)


def test_zero_input_gives_zero_and_resets_shunt():
    et = ShuntNormaliser(3, batch=2)
    x = np.array([[1, 2, 5], [0, 0, 0]], dtype=np.float32)
    y = et.step(x)
    np.testing.assert_equal(y[1], 0)
    np.testing.assert_equal(et.shunt[:, 0], [np.float32(1 / 8), 1])
    y = et.step(np.zeros((2, 3), dtype=np.float32))
    assert np.all(np.isfinite(y)) and not y.any()
    np.testing.assert_equal(et.shunt, 1)


def test_first_step_divides_raw_input():
    et = ShuntNormaliser(2)
    y = et.step(np.array([[3.0, 1.0]], dtype=np.float32))
    np.testing.assert_equal(y, [[np.float32(3) * np.float32(0.25), np.float32(0.25)]])


def test_l1_normalise_zero_row():
    np.testing.assert_equal(l1_normalise([[0, 0], [1, 3]]), [[0, 0], [0.25, 0.75]])
