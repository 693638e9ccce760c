"""Labelled data sets for ``hetq experiment --data``.

- The UCI "Gas sensor array drift" files (``batch1.dat`` .. ``batch10.dat``): one sample per line,
  ``class;concentration idx:value ...`` with 128 features, 8 per sensor for 16 sensors. By
  default the first feature (the steady-state resistance change) of sensors 0-7 is used, as the
  reference did; any sensors and feature can be asked for.
- Plain ``.csv``/``.tsv``/``.txt`` (read by the rules of :mod:`hetq.io`) or ``.npy`` with one
  label column, or an ``.npz`` with ``samples`` and ``labels``.

:func:`resample` draws the protocol's samples per class (with replacement, as the synthetic
sessions are drawn) and shifts everything by the global minimum if some value is negative.
"""

import re
from pathlib import Path

import numpy as np

from .io import InputError, load_array, load_samples

__all__ = ["load_drift", "load_labelled", "resample", "DRIFT_SENSORS", "DRIFT_FEATURES"]

DRIFT_SENSORS = 16
DRIFT_FEATURES = 8


def _drift_files(path):
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("batch*.dat"),
                       key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
        if not files:
            raise InputError(f"{path}: no batch*.dat files in this directory")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file")
    return [path]


def load_drift(path, sensors=tuple(range(8)), feature=0):
    """Read drift-dataset files (a file or a directory of ``batch*.dat``).

    Returns ``(samples, labels, concentrations)``: samples (n, len(sensors)) of the chosen
    feature of each chosen sensor, class labels (int), gas concentrations (float).
    """
    sensors = tuple(int(s) for s in sensors)
    if not sensors or min(sensors) < 0 or max(sensors) >= DRIFT_SENSORS:
        raise ValueError(f"sensors must be in 0..{DRIFT_SENSORS - 1}, got {sensors}")
    if not 0 <= feature < DRIFT_FEATURES:
        raise ValueError(f"feature must be in 0..{DRIFT_FEATURES - 1}, got {feature}")
    want = {s * DRIFT_FEATURES + feature + 1: k for k, s in enumerate(sensors)}
    rows, labels, conc = [], [], []
    for f in _drift_files(path):
        with open(f, encoding="ascii", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                head, *fields = line.split()
                try:
                    cls, c = head.split(";")
                    labels.append(int(cls))
                    conc.append(float(c))
                    row = np.full(len(sensors), np.nan)
                    for item in fields:
                        idx, value = item.split(":")
                        k = want.get(int(idx))
                        if k is not None:
                            row[k] = float(value)
                except ValueError:
                    raise InputError(f"{f}: line {n} is not 'class;concentration idx:value ...': "
                                     f"{line[:60]!r}") from None
                if np.isnan(row).any():
                    missing = [sensors[k] * DRIFT_FEATURES + feature + 1
                               for k in np.flatnonzero(np.isnan(row))]
                    raise InputError(f"{f}: line {n} lacks feature index {missing[0]}")
                rows.append(row)
    if not rows:
        raise InputError(f"{path}: no samples")
    return np.array(rows), np.array(labels), np.array(conc)


def load_labelled(path, label_column=-1, *, text=None, report=None):
    """Samples and labels from an .npz (``samples``, ``labels``) or a .csv/.tsv/.txt/.npy
    whose column ``label_column`` (counting from 0; negative from the end) holds the class
    labels. ``text`` and ``report`` as for :func:`hetq.io.load_array` (text files are read by
    the rules of :mod:`hetq.io`)."""
    if str(path).endswith(".npz"):
        data, labels = load_samples(path)
        if labels is None:
            raise InputError(f"{path}: .npz has no 'labels' array (labelled data needs "
                             f"'samples' and 'labels')")
    else:
        data, labels = load_array(path, text=text, report=report), None
    if labels is None:
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] < 2:
            raise InputError(f"{path}: expected a 2-D array with a label column, got shape "
                             f"{data.shape}")
        n = data.shape[1]
        if not -n <= label_column < n:
            raise InputError(f"{path}: no column {label_column}: columns count from 0, so this "
                             f"file's {n} columns are 0..{n - 1} (or -{n}..-1 from the end)")
        labels = data[:, label_column]
        data = np.delete(data, label_column % n, axis=1)
        where = f"column {label_column}, row"
    else:
        where = "label"
    labels = np.asarray(labels)
    if labels.shape != (len(data),):
        raise InputError(f"{path}: {labels.shape[0] if labels.ndim else 0} labels for "
                         f"{len(data)} samples")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            bad = int(np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))[0])
            raise InputError(f"{path}: labels must be integers ({where} {bad}: "
                             f"{labels[bad]:g})")
        labels = labels.astype(int)
    elif not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"{path}: labels must be integers, got dtype {labels.dtype}")
    return np.asarray(data), labels


def resample(samples, labels, per_class, seed=314):
    """Draw ``per_class`` samples of every class with replacement (one RandomState, classes in
    ascending order), then shift by the global minimum if it is negative.
    Returns (samples, labels, shift)."""
    samples = np.asarray(samples, dtype=np.float64)
    labels = np.asarray(labels)
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or infinite values")
    rs = np.random.RandomState(seed)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"need at least two classes, found {len(classes)}")
    idx = np.concatenate([rs.choice(np.flatnonzero(labels == c), per_class, replace=True)
                          for c in classes])
    x, y = samples[idx], labels[idx]
    shift = min(float(x.min()), 0.0)
    return x - shift, y, -shift
