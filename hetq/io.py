"""Reading user files and writing results, with one-line errors that name the problem."""

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["InputError", "load_array", "load_samples", "load_weights", "save_npz"]


class InputError(ValueError):
    """A user-supplied file or value is unusable; the message names the file and the problem."""


def _load(path):
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        if suffix in (".csv", ".txt"):
            return _load_csv(path)
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    raise InputError(f"{path}: unknown file type {suffix!r} (expected .npy, .npz or .csv)")


def _load_csv(path):
    with open(path, encoding="utf-8", errors="strict") as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: no data rows")
    rows = []
    for n, line in enumerate(lines):
        fields = [x.strip() for x in line.replace(";", ",").split(",")]
        try:
            rows.append([float(x) for x in fields])
        except ValueError:
            if n == 0:
                continue  # a header line
            raise InputError(f"{path}: row {n + 1} is not numeric: {line[:60]!r}") from None
    if not rows:
        raise InputError(f"{path}: no numeric data rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InputError(f"{path}: rows have different numbers of columns {sorted(widths)}")
    return np.array(rows, dtype=np.float64)


def load_array(path, key=None):
    """Load one array from .npy/.csv, or the array ``key`` (or the only one) of an .npz."""
    data = _load(path)
    if isinstance(data, dict):
        if key is not None and key in data:
            return data[key]
        if len(data) == 1:
            return next(iter(data.values()))
        raise InputError(f"{path}: .npz has no {key!r} array (has {', '.join(sorted(data))})")
    return data


def load_samples(path):
    """Load a (samples x sensors) data file: .npy, .csv, or an .npz with ``samples`` (and
    optionally ``labels``, as written by ``hetq synth``). Returns (samples, labels or None);
    shape and value checks are left to :func:`hetq.golden.network.model.validate_samples`."""
    data = _load(path)
    labels = None
    if isinstance(data, dict):
        if "samples" not in data:
            raise InputError(f"{path}: .npz has no 'samples' array (has {', '.join(sorted(data))})")
        labels = data.get("labels")
        data = data["samples"]
    if data.dtype == object:
        raise InputError(f"{path}: object arrays are not supported")
    return data, labels


def load_weights(path):
    """Load WEIGHTS.npz (as written by ``hetq calibrate``): returns (weights, params dict)."""
    data = _load(path)
    if not isinstance(data, dict) or "weights" not in data:
        raise InputError(f"{path}: expected an .npz with a 'weights' array")
    from .golden.network.weights import column_weights
    try:
        column_weights(data["weights"])
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    params = {k: data[k].item() for k in data if k != "weights" and data[k].ndim == 0}
    return data["weights"], params


def save_npz(path, **arrays):
    """Write an .npz atomically: either the whole file appears or nothing does."""
    path = Path(path)
    if path.suffix != ".npz":
        raise InputError(f"{path}: output file must end in .npz")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
