"""The evaluation protocol of the paper (docs/model.md sections 11.7 and 12).

- :func:`folds`: stratified cross-validation with the roles swapped (the small fold trains),
  train and test orders shuffled by a seeded Python ``random.Random``.
- :func:`utilisation`: per-sample percentage of active units.
- :func:`separability`: the SVM accuracy of a layer's responses: a stratified 2-way split into a
  validation and a final half, an RBF-SVM grid search over C and gamma on the validation half
  (ordinary stratified 4-fold), then stratified 4-fold scoring on the final half with the roles
  flipped (train on one quarter, test on three).

The grid search evaluates the RBF kernel once per gamma and split and fits
``SVC(kernel="precomputed")``: the same models as ``GridSearchCV(SVC(kernel="rbf"))`` with
``class_weight="balanced"`` (tested), at a fraction of the cost. ET responses are divided by the
per-feature maximum absolute value of each training part; MC and GC phases are used raw.
``probability=True`` of the reference's final SVC changes no prediction and is left out.
"""

import random

import numpy as np
import sklearn
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_class_weight

__all__ = ["C_GRID", "GAMMA_GRID", "folds", "utilisation", "grid_search", "separability"]

#: C in 10^-7 .. 10^9 and gamma in 10^-8 .. 10^10 (17 x 19 points).
C_GRID = 10.0 ** np.arange(-7, 10)
GAMMA_GRID = 10.0 ** np.arange(-8, 11)


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


def _sqdist(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def _scores(x_train, y_train, x_test, y_test, gammas, cs, scale):
    """Accuracy (len(gammas), len(cs)) of every (gamma, C) trained on one part, tested on one.

    A gamma whose kernels equal the previous gamma's to the last bit (all off-diagonal
    entries underflowed) gives the same models, so its row is copied rather than refitted.
    """
    if scale:
        x_train, x_test = _maxabs(x_train, x_test)
    d_train, d_test = _sqdist(x_train, x_train), _sqdist(x_test, x_train)
    classes = np.unique(y_train)
    weights = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y_train)))
    acc = np.zeros((len(gammas), len(cs)))
    previous = None
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for i, gamma in enumerate(gammas):
            k_train, k_test = np.exp(-gamma * d_train), np.exp(-gamma * d_test)
            if previous is not None and all(np.array_equal(a, b) for a, b in
                                            zip((k_train, k_test), previous)):
                acc[i] = acc[i - 1]
                continue
            previous = (k_train, k_test)
            for j, c in enumerate(cs):
                svc = SVC(kernel="precomputed", C=c, class_weight=weights)
                svc.fit(k_train, y_train)
                acc[i, j] = np.mean(svc.predict(k_test) == y_test)
    return acc


def grid_search(x, y, scale=False, seed=314, n_splits=4, cs=C_GRID, gammas=GAMMA_GRID):
    """Best (C, gamma) by mean accuracy over a stratified ``n_splits``-fold CV, ties going to
    the first in GridSearchCV's order (C outer, gamma inner). Returns (C, gamma, mean table)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    total = np.zeros((len(gammas), len(cs)))
    for tr, te in cv.split(x, y):
        total += _scores(x[tr], y[tr], x[te], y[te], gammas, cs, scale)
    mean = (total / n_splits).T  # (C, gamma)
    ci, gi = np.unravel_index(np.argmax(mean), mean.shape)
    return cs[ci], gammas[gi], mean


def separability(responses, labels, scale=False, seed=314):
    """Accuracy (%) of an RBF SVM on a layer's responses, by the protocol of section 12."""
    x = np.asarray(responses, dtype=np.float64)
    y = np.asarray(labels)
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2:
        raise ValueError("separability needs at least two classes")
    if counts.min() < 8:
        raise ValueError(f"separability needs at least 8 samples per class (2 halves x 4 "
                         f"folds); the smallest class has {counts.min()}")
    half = StratifiedKFold(2, shuffle=True, random_state=seed)
    val, fin = next(half.split(x, y))
    c, gamma, _ = grid_search(x[val], y[val], scale, seed)
    xf, yf = x[fin], y[fin]
    acc = []
    for big, small in StratifiedKFold(4, shuffle=True, random_state=seed).split(xf, yf):
        acc.append(_scores(xf[small], yf[small], xf[big], yf[big], [gamma], [c], scale)[0, 0])
    return 100.0 * float(np.mean(acc))
