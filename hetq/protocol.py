"""The evaluation protocol of the paper (docs/model.md sections 11.7 and 12).

- :func:`folds`: stratified cross-validation with the roles swapped (the small fold trains),
  train and test orders shuffled by a seeded Python ``random.Random``.
- :func:`utilisation`: per-sample percentage of active units.
- :func:`evaluate` (and :func:`separability`, its accuracy alone): the SVM accuracy of a
  layer's responses: a stratified 2-way split into a validation and a final half, an RBF-SVM
  grid search over C and gamma on the validation half (ordinary stratified 4-fold), then
  stratified 4-fold scoring on the final half with the roles flipped (train on one quarter,
  test on three).

The grid search evaluates the RBF kernel once per gamma and split and fits a precomputed-kernel
SVM: the same models as ``GridSearchCV(SVC(kernel="rbf"))`` with ``class_weight="balanced"``
(tested), at a fraction of the cost. With ``scale=True`` (the ET layer) the final scoring
divides the responses by the per-feature maximum |value| of its training quarter while the
grid search runs on the raw responses, as the reference does (its ``grid_svm`` never scales,
only ``score_svm(scale=True)`` does); MC and GC phases are used raw in both steps.
``probability=True`` of the reference's final SVC changes no prediction and is left out.

Two solvers give the same models: ``"sklearn"``, the reference implementation, fits one
``SVC(kernel="precomputed")`` per grid point; ``"libsvm"`` (the default) calls the libsvm
routine that ``SVC.fit`` and ``SVC.predict`` call (``sklearn.svm._libsvm``) with the same
arguments but without the estimator's per-call input checks, which are about 90 % of a fit on
14-42 samples. That module is private to scikit-learn: :func:`libsvm_matches_sklearn` checks
on a small problem that it still gives what ``SVC`` gives, the first time the solver is used in
a process, and the solver falls back to ``"sklearn"`` with a warning if not. The grid search
of the default solver (:func:`best_parameters`) also skips fits whose outcome cannot change the
choice: a gamma whose kernels equal the previous gamma's to the last bit gives the same models;
a grid point that scores the highest accuracy each split allows wins outright; a point whose
accuracy, even with the highest accuracy on its remaining splits, stays below the best point's
cannot be chosen. :func:`grid_search` fits every point (the reference; tested to agree).
"""

import random
import warnings
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_class_weight

__all__ = ["C_GRID", "GAMMA_GRID", "SOLVERS", "folds", "utilisation", "grid_search",
           "best_parameters", "Separability", "evaluate", "separability",
           "libsvm_matches_sklearn"]

#: C in 10^-7 .. 10^9 and gamma in 10^-8 .. 10^10 (17 x 19 points).
C_GRID = 10.0 ** np.arange(-7, 10)
GAMMA_GRID = 10.0 ** np.arange(-8, 11)
#: "libsvm": scikit-learn's libsvm called directly; "sklearn": one SVC per fit (reference).
SOLVERS = ("libsvm", "sklearn")


def folds(labels, n_folds=8, seed=314):
    """Yield ``(train, test)`` index arrays for every fold.

    ``StratifiedKFold(n_folds, shuffle=True, random_state=seed)``; the held-out fold (e.g. 2
    samples per class) becomes the training set and the rest the test set. Both are then
    shuffled with one ``random.Random(seed)`` shared by all folds, in fold order.
    """
    labels = np.asarray(labels)
    _, counts = np.unique(labels, return_counts=True)
    if counts.min() < n_folds:
        raise ValueError(f"every class needs at least {n_folds} samples for {n_folds} folds; "
                         f"the smallest has {counts.min()}")
    rng = random.Random(seed)
    skf = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    for rest, held in skf.split(np.zeros(len(labels)), labels):
        train = np.array(rng.sample(list(held), len(held)))
        test = np.array(rng.sample(list(rest), len(rest)))
        yield train, test


def utilisation(phase):
    """Per sample: 100 * (units with a non-zero phase readout) / units."""
    phase = np.asarray(phase)
    return 100.0 * np.count_nonzero(phase, axis=1) / phase.shape[1]


def _maxabs(train, *others):
    scale = np.abs(train).max(axis=0)
    scale[scale == 0] = 1.0
    return [a / scale for a in (train, *others)]


def _exact_integers(a):
    """True when every squared distance between rows of ``a`` is an exact float64 integer
    whatever the order of the arithmetic (integer values, sums well below 2**53)."""
    return bool(a.size and np.all(a == np.rint(a))
                and np.abs(a).max() ** 2 * 4 * a.shape[1] < 2.0 ** 50)


def _sqdist(a, b):
    """Squared Euclidean distances (len(a), len(b)): the sum of squared differences. For
    integer-valued responses (MC and GC phases) every term is an exact integer, so the faster
    dot-product form gives the same bits."""
    if _exact_integers(np.concatenate([a, b])):
        return (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


class _Distances:
    """Squared distances between rows of ``x``, computed once for all parts of the data
    when they are exact integers (then any subset's distances are these entries, bit for bit),
    else per part."""

    def __init__(self, x):
        self.x = x
        self.full = _sqdist(x, x) if _exact_integers(x) else None

    def __call__(self, rows, cols):
        if self.full is not None:
            return self.full[np.ix_(rows, cols)]
        return _sqdist(self.x[rows], self.x[cols])


# -- the two solvers ------------------------------------------------------------------------

def _sklearn_fitter(y_train):
    """``fit_predict(k_train, k_test, c)`` with one ``SVC(kernel="precomputed")`` per call."""
    classes = np.unique(y_train)
    weights = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y_train)))

    def fit_predict(k_train, k_test, c):
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            svc = SVC(kernel="precomputed", C=c, class_weight=weights)
            svc.fit(k_train, y_train)
            return svc.predict(k_test)
    return fit_predict


def _libsvm_arguments():
    """The libsvm arguments ``SVC(kernel="precomputed").fit`` and ``.predict`` pass, read from
    the estimator itself: (arguments of both, arguments of fit only)."""
    s = SVC(kernel="precomputed")
    common = {"svm_type": 0, "kernel": "precomputed", "degree": s.degree, "coef0": s.coef0,
              "gamma": 0.0, "cache_size": s.cache_size}
    fit_only = {"nu": s.nu, "epsilon": s.epsilon, "shrinking": s.shrinking, "tol": s.tol,
                "max_iter": s.max_iter, "probability": False, "sample_weight": np.empty(0)}
    return common, fit_only


def _libsvm_fitter(y_train):
    """``fit_predict(k_train, k_test, c)`` calling the libsvm routine of ``SVC`` directly:
    labels encoded as SVC encodes them (sorted classes, float64 indices), the balanced class
    weights as SVC computes them, the estimator's default solver settings."""
    from sklearn.svm import _libsvm
    classes, encoded = np.unique(y_train, return_inverse=True)
    encoded = encoded.astype(np.float64)
    weights = compute_class_weight("balanced", classes=classes, y=y_train)
    common, fit_only = _libsvm_arguments()

    def fit_predict(k_train, k_test, c):
        _libsvm.set_verbosity_wrap(0)  # as SVC(verbose=False).fit does before every fit
        model = _libsvm.fit(np.ascontiguousarray(k_train, dtype=np.float64), encoded, C=c,
                            class_weight=weights, random_seed=0, **common, **fit_only)
        support, vectors, n_support, coef, intercept, prob_a, prob_b, _, _ = model
        index = _libsvm.predict(np.ascontiguousarray(k_test, dtype=np.float64), support,
                                vectors, n_support, coef, intercept, prob_a, prob_b, **common)
        return classes.take(np.asarray(index, dtype=np.intp))
    return fit_predict


_LIBSVM_OK = None


def libsvm_matches_sklearn():
    """True when the direct libsvm call predicts what ``SVC`` predicts on a small 3-class
    problem over a range of C and gamma (checked once per process; False if the private
    module is gone or its interface changed)."""
    global _LIBSVM_OK
    if _LIBSVM_OK is None:
        rng = np.random.default_rng(12)
        y = np.repeat([3, 5, 9], [5, 6, 4])
        x = rng.normal(size=(15, 3)) + y[:, None] * 0.3
        xt = rng.normal(size=(9, 3)) + np.repeat([3, 5, 9], 3)[:, None] * 0.3
        d, dt = _sqdist(x, x), _sqdist(xt, x)
        try:
            fast, ref = _libsvm_fitter(y), _sklearn_fitter(y)
            _LIBSVM_OK = all(np.array_equal(fast(np.exp(-g * d), np.exp(-g * dt), c),
                                            ref(np.exp(-g * d), np.exp(-g * dt), c))
                             for g in (1e-3, 0.1, 3.0) for c in (1e-3, 1.0, 1e3))
        except (ImportError, AttributeError, TypeError, ValueError):
            _LIBSVM_OK = False
    return _LIBSVM_OK


def _fitter(solver, y_train):
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, not {solver!r}")
    if solver == "libsvm":
        if libsvm_matches_sklearn():
            return _libsvm_fitter(y_train)
        warnings.warn("scikit-learn's libsvm module no longer matches SVC; using the SVC "
                      "solver (slower, same results)", RuntimeWarning, stacklevel=3)
    return _sklearn_fitter(y_train)


# -- grid search and scoring --------------------------------------------------------------

class _Split:
    """One (train, test) part of the data: squared distances, the kernels of each gamma, and
    the accuracy of every fitted (gamma, C), kept so that no model is fitted twice.

    With ``gammas``, each gamma whose kernels equal the previous gamma's bit for bit (all
    off-diagonal entries underflowed or rounded to 1) is mapped onto that gamma: the same
    kernels give the same models."""

    def __init__(self, x_train, y_train, x_test, y_test, solver, scale=False, gammas=(),
                 distances=None):
        if scale:
            x_train, x_test = _maxabs(x_train, x_test)
        if distances is None:
            self.d_train, self.d_test = _sqdist(x_train, x_train), _sqdist(x_test, x_train)
        else:
            self.d_train, self.d_test = distances
        self.y_test = y_test
        self.fit_predict = _fitter(solver, y_train)
        # Test samples with identical responses get the same prediction from any model, so
        # at most the most frequent label of each group of them can be right.
        groups = {}
        for row, label in zip(np.ascontiguousarray(x_test), y_test.tolist()):
            votes = groups.setdefault(row.tobytes(), {})
            votes[label] = votes.get(label, 0) + 1
        self.ceiling = sum(max(v.values()) for v in groups.values()) / len(y_test)
        self.kernels = {}
        self.same = {}
        previous = None
        for gamma in gammas:
            k = self.kernel(gamma)
            if previous is not None and all(np.array_equal(a, b)
                                            for a, b in zip(k, self.kernels[previous])):
                self.same[gamma] = self.same[previous]
            else:
                self.same[gamma] = gamma
            previous = gamma
        self.scores = {}
        self.fits = 0

    def kernel(self, gamma):
        if gamma not in self.kernels:
            self.kernels[gamma] = (np.exp(-gamma * self.d_train), np.exp(-gamma * self.d_test))
        return self.kernels[gamma]

    def accuracy(self, gamma, c):
        gamma = self.same.get(gamma, gamma)
        if (gamma, c) not in self.scores:
            k_train, k_test = self.kernel(gamma)
            self.fits += 1
            self.scores[gamma, c] = np.mean(self.fit_predict(k_train, k_test, c) == self.y_test)
        return self.scores[gamma, c]


def _splits(x, y, seed, n_splits, solver, gammas):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    dist = _Distances(x)
    return [_Split(x[tr], y[tr], x[te], y[te], solver, gammas=gammas,
                   distances=(dist(tr, tr), dist(te, tr))) for tr, te in cv.split(x, y)]


def grid_search(x, y, *, seed=314, n_splits=4, cs=C_GRID, gammas=GAMMA_GRID,
                solver="sklearn"):
    """Every grid point's mean accuracy over a stratified ``n_splits``-fold CV, and the best
    (C, gamma), ties going to the first in GridSearchCV's order (C outer, gamma inner).
    Returns (C, gamma, mean table (C, gamma)). The reference for :func:`best_parameters`."""
    splits = _splits(x, y, seed, n_splits, solver, gammas)
    total = np.zeros((len(gammas), len(cs)))
    for s in splits:
        total += [[s.accuracy(gamma, c) for c in cs] for gamma in gammas]
    mean = (total / n_splits).T  # (C, gamma)
    ci, gi = np.unravel_index(np.argmax(mean), mean.shape)
    return cs[ci], gammas[gi], mean


def best_parameters(x, y, *, seed=314, n_splits=4, cs=C_GRID, gammas=GAMMA_GRID,
                    solver="libsvm", stats=None):
    """The (C, gamma) of :func:`grid_search`, without the fits that cannot change it.

    A split allows at most 100 % accuracy, less when test samples with identical responses
    carry different labels (any model predicts one label for all of them): its *ceiling*.

    1. Grid points are visited in GridSearchCV's order (C outer, gamma inner), each split by
       split until one falls below its ceiling. The first point at the ceiling of every split
       wins outright: no point can score more, and a point scoring as much has the same
       accuracy in every split, hence the same float mean, and comes later.
    2. Otherwise the points are completed in order of their first-split accuracy, best first,
       and a point stops as soon as its accuracy sum plus the ceilings of its remaining splits
       falls below the best complete point's sum (by more than rounding): it can then neither
       beat nor tie the best. The winner is picked among the complete points as
       :func:`grid_search` picks it (the same float sums in split order, the first maximum).

    No model is fitted twice (each split keeps its accuracies), and a gamma whose kernels equal
    the previous gamma's repeats its models. ``stats``, a dict, receives the number of fits.
    """
    splits = _splits(x, y, seed, n_splits, solver, gammas)
    points = [(c, gamma) for c in cs for gamma in gammas]
    winner = None
    for point in points:
        if all(s.accuracy(point[1], point[0]) >= s.ceiling for s in splits):
            winner = point
            break
    if winner is None:
        rest = [sum(s.ceiling for s in splits[k:]) for k in range(1, n_splits + 1)]
        first = [splits[0].accuracy(gamma, c) for c, gamma in points]
        best = -np.inf
        means = {}
        for i in sorted(range(len(points)), key=lambda i: -first[i]):
            c, gamma = points[i]
            total = 0.0
            for k, s in enumerate(splits, 1):
                total += s.accuracy(gamma, c)
                if total + rest[k - 1] < best * n_splits - 1e-9:
                    break
            else:
                means[i] = total / n_splits
                best = max(best, means[i])
        winner = points[min(i for i, m in means.items() if m == best)]
    if stats is not None:
        stats["fits"] = stats.get("fits", 0) + sum(s.fits for s in splits)
    return winner


@dataclass(frozen=True)
class Separability:
    """What :func:`evaluate` returns.

    Members
    -------
    accuracy : float
        Mean accuracy (%) of the four flipped scoring folds.
    c, gamma : float
        The grid search's choice.
    fold_accuracy : tuple of float
        Accuracy (fraction) of each scoring fold.
    """

    accuracy: float
    c: float
    gamma: float
    fold_accuracy: tuple


def evaluate(responses, labels, scale=False, seed=314, solver="libsvm"):
    """The SVM separability of a layer's responses by the protocol of section 12.

    ``scale=True`` (the ET layer): the scoring step divides by the training quarter's
    per-feature max |value|; the grid search always runs on the raw responses.
    ``solver="sklearn"`` runs the reference implementation (every grid point fitted with an
    ``SVC``); the default gives the same choice and accuracy with far fewer, cheaper fits.
    """
    x = np.asarray(responses, dtype=np.float64)
    y = np.asarray(labels)
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise ValueError("separability needs at least two classes")
    if counts.min() < 8:
        raise ValueError(f"separability needs at least 8 samples per class (2 halves x 4 "
                         f"folds); the smallest class has {counts.min()}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, not {solver!r}")
    half = StratifiedKFold(2, shuffle=True, random_state=seed)
    val, fin = next(half.split(x, y))
    if solver == "sklearn":
        c, gamma, _ = grid_search(x[val], y[val], seed=seed, solver=solver)
    else:
        c, gamma = best_parameters(x[val], y[val], seed=seed, solver=solver)
    xf, yf = x[fin], y[fin]
    dist = None if scale else _Distances(xf)
    acc = []
    for big, small in StratifiedKFold(4, shuffle=True, random_state=seed).split(xf, yf):
        part = _Split(xf[small], yf[small], xf[big], yf[big], solver, scale=scale,
                      distances=None if dist is None else (dist(small, small),
                                                           dist(big, small)))
        acc.append(float(part.accuracy(gamma, c)))
    return Separability(100.0 * float(np.mean(acc)), float(c), float(gamma), tuple(acc))


def separability(responses, labels, scale=False, seed=314, solver="libsvm"):
    """Accuracy (%) of an RBF SVM on a layer's responses (see :func:`evaluate`)."""
    return evaluate(responses, labels, scale, seed, solver).accuracy
