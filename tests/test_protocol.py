import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

from hetq.protocol import folds, grid_search, separability, utilisation


def test_folds_swap_roles_and_cover_everything():
    y = np.repeat(np.arange(1, 9), 16)
    seen = []
    for train, test in folds(y, 8, seed=314):
        assert len(train) == 16 and len(test) == 112
        np.testing.assert_equal(np.bincount(y[train])[1:], 2)
        assert not set(train) & set(test) and len(set(train) | set(test)) == 128
        assert not np.array_equal(test, np.sort(test))  # shuffled
        seen.extend(train)
    assert sorted(seen) == list(range(128))
    again = list(folds(y, 8, seed=314))
    for (a, b), (c, d) in zip(folds(y, 8, seed=314), again):
        np.testing.assert_equal(a, c) and np.testing.assert_equal(b, d)
    other = next(folds(y, 8, seed=1))[0]
    assert not np.array_equal(np.sort(other), np.sort(again[0][0]))


def test_folds_need_enough_samples_per_class():
    with pytest.raises(ValueError, match="at least 8 samples for 8 folds; the smallest has 3"):
        list(folds(np.array([0] * 10 + [1] * 3), 8))


def test_utilisation():
    np.testing.assert_equal(utilisation([[0, 3, 0, 17], [2, 2, 2, 2], [0, 0, 0, 0]]),
                            [50, 100, 0])


def test_grid_search_matches_gridsearchcv():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), 10)
    x = rng.normal(size=(40, 5)) + y[:, None] * 0.6
    cs, gammas = 10.0 ** np.arange(-2, 4), 10.0 ** np.arange(-3, 3)
    c, g, mean = grid_search(x, y, cs=cs, gammas=gammas)
    ref = GridSearchCV(SVC(kernel="rbf", class_weight="balanced"), {"C": cs, "gamma": gammas},
                       cv=StratifiedKFold(4, shuffle=True, random_state=314), refit=False).fit(x, y)
    np.testing.assert_allclose(mean.ravel(), ref.cv_results_["mean_test_score"], atol=1e-12)
    assert (c, g) == (ref.best_params_["C"], ref.best_params_["gamma"])


def test_separable_data_scores_100():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(8), 14)
    x = np.eye(8)[y] * 10 + rng.normal(0, 0.1, size=(112, 8))
    assert separability(x, y) == 100.0


def test_random_labels_score_near_chance():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 14)
    x = rng.normal(size=(56, 6))
    assert separability(x, y) < 50  # chance is 25 %


def test_scaled_responses_are_scale_invariant_per_feature():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 12)
    x = rng.random((48, 3)) + y[:, None] * [0.3, 0.8, 0.0]
    a = separability(x, y, scale=True)
    b = separability(x * [1e3, 1e-2, 7.0], y, scale=True)
    assert a == b and a > 25  # chance is 25 %
    assert separability(x * [1e3, 1e-2, 7.0], y) != a  # raw responses are not rescaled


def test_separability_needs_samples():
    with pytest.raises(ValueError, match="at least 8 samples per class"):
        separability(np.zeros((10, 2)), np.repeat([0, 1], 5))
    with pytest.raises(ValueError, match="two classes"):
        separability(np.zeros((10, 2)), np.zeros(10))
