"""Reading user files and writing results, with one-line errors that name the problem.

Text data (``.csv``, ``.tsv``, ``.txt``) is read by :func:`read_text`, built on the standard
library's :mod:`csv` reader, which splits fields and removes quotes exactly (``"0.5"`` is the
number 0.5, a quoted field may contain the delimiter) and hands every row over as its list of
fields, so that an error can name the line, the column and the field. The delimiter and the
header are decided by the stated rules below rather than by :class:`csv.Sniffer` (which guesses
from character frequencies: on ``0,59471;0,52493`` it picks the comma, and it gives up on a
one-column file) or by NumPy's loaders (``loadtxt`` has no header detection and reports
failures in NumPy's words; ``genfromtxt`` turns what it cannot parse into NaN and can drop rows).

Rules, applied to the lines that are neither blank nor comments (``#`` first):

1. **Delimiter**: of tab, ``;`` and ``,`` the one found on the most lines, ties in that order;
   none of them on any line: runs of spaces and tabs. With ``decimal=","`` the comma is the
   decimal mark and never a delimiter.
2. **Numbers** are plain decimal numbers (``-1``, ``0.5``, ``.5``, ``2e-3``, and ``nan`` /
   ``inf``, which the sample checks then refuse). A field like ``0,59471`` (a decimal comma)
   is refused with a message that says so, unless ``decimal=","`` is given.
3. **Header**: the first row is a header when none of its fields is a number, and data when
   all of them are; anything else is an error naming the field. A first row written exactly
   ``0,1,...,n-1`` or ``1,2,...,n`` (plain integers) above rows that are not all integers is
   refused as ambiguous (numbered column names or a sample?) unless ``header="yes"`` or
   ``header="no"`` says which.
4. Every later row must be all numbers, with as many columns as the first; a header must have
   one name per column. A delimiter at the end of every data row (an empty last column) is
   dropped and reported; any other empty field is an error.

Nothing else is skipped or invented: the rows returned are the file's data rows, in order.
"""

import csv
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["InputError", "TextOptions", "TextRead", "TEXT_SUFFIXES", "read_text", "is_text",
           "load_array", "load_samples", "load_weights", "check_output", "check_output_dir",
           "save_npz"]

#: File suffixes read as delimited text.
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
_DELIMITERS = ("\t", ";", ",")
_DELIMITER_NAMES = {"\t": "tab", ";": "';'", ",": "','", None: "whitespace"}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
                     r"|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")


class InputError(ValueError):
    """A user-supplied file or value is unusable; the message names the file and the problem."""


@dataclass(frozen=True)
class TextOptions:
    """How to read delimited text.

    Parameters
    ----------
    decimal : {".", ","}
        The decimal mark. With ``","`` the delimiter is tab, ``;`` or whitespace.
    header : {"auto", "yes", "no"}
        "auto": the first row is a header when it has no numeric field (module docstring);
        "yes": the first row is a header whatever it holds; "no": every row is data.
    """

    decimal: str = "."
    header: str = "auto"

    def __post_init__(self):
        if self.decimal not in (".", ","):
            raise ValueError(f"decimal mark must be '.' or ',', not {self.decimal!r}")
        if self.header not in ("auto", "yes", "no"):
            raise ValueError(f"header must be 'auto', 'yes' or 'no', not {self.header!r}")


@dataclass(frozen=True)
class TextRead:
    """What :func:`read_text` read: ``rows`` x ``columns`` numbers, the delimiter (None for
    whitespace), the header line's number (None without a header), the decimal mark and
    whether a trailing delimiter was dropped."""

    path: str
    rows: int
    columns: int
    delimiter: str | None
    header_line: int | None
    decimal: str = "."
    trailing: bool = False

    def describe(self):
        """One line, e.g. ``data.csv: 16 rows x 8 columns, ',' separated, header: line 1``."""
        text = (f"{self.path}: {self.rows} rows x {self.columns} columns, "
                f"{_DELIMITER_NAMES[self.delimiter]} separated")
        if self.decimal == ",":
            text += ", decimal comma"
        if self.trailing:
            text += f", trailing {_DELIMITER_NAMES[self.delimiter]} dropped"
        header = "no" if self.header_line is None else f"line {self.header_line}"
        return f"{text}, header: {header}"


def is_text(path):
    """True when ``path`` is read as delimited text (by its suffix)."""
    return Path(path).suffix.lower() in TEXT_SUFFIXES


def _lines(path):
    try:
        with open(path, encoding="utf-8-sig", errors="strict", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8 or "
                         f"plain ASCII") from None
    if "\0" in text:
        raise InputError(f"{path}: not a text file (it contains NUL bytes)")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")]


def _delimiter(lines, decimal):
    candidates = [d for d in _DELIMITERS if not (d == "," and decimal == ",")]
    counts = [sum(d in line for _, line in lines) for d in candidates]
    if max(counts) == 0:
        return None
    return candidates[counts.index(max(counts))]


def _split(path, n, line, delimiter):
    if delimiter is None:
        line, delimiter = " ".join(line.split()), " "
    try:
        return [f.strip() for f in next(csv.reader([line], delimiter=delimiter, strict=True,
                                                   skipinitialspace=True))]
    except csv.Error as e:
        raise InputError(f"{path}: line {n}: {e}") from None


def _is_number(field, decimal):
    if decimal == ",":
        if "." in field:
            return False
        field = field.replace(",", ".")
    return _NUMBER.fullmatch(field) is not None


def _field_error(path, n, c, field, decimal, delimiter):
    where = f"{path}: line {n}, column {c + 1}"
    if field == "":
        return InputError(f"{where}: empty field")
    if decimal == "." and _DECIMAL_COMMA.fullmatch(field):
        return InputError(f"{where}: {field!r} uses a decimal comma; give --decimal , to read "
                          f"decimal commas (the delimiter must then be ';', tab or spaces)")
    if decimal == "," and "." in field and _NUMBER.fullmatch(field):
        return InputError(f"{where}: {field!r} has a decimal point but the decimal mark was "
                          f"set to ','")
    return InputError(f"{where}: {field!r} is not a number")


def read_text(path, options=None):
    """Read a delimited text file of numbers by the rules of the module docstring.

    Returns ``(array, info)``: a float64 array (rows, columns) and a :class:`TextRead`.
    Raises :class:`InputError` naming the line, column and field of anything it cannot read.
    """
    options = TextOptions() if options is None else options
    decimal = options.decimal
    lines = _lines(path)
    if not lines:
        raise InputError(f"{path}: no data rows")
    delimiter = _delimiter(lines, decimal)
    rows = [(n, _split(path, n, line, delimiter)) for n, line in lines]
    header = None
    first_n, first = rows[0]
    numeric = [_is_number(f, decimal) for f in first]
    if options.header == "yes":
        header = rows.pop(0)
    elif options.header == "auto" and not any(numeric) and not any(
            _DECIMAL_COMMA.fullmatch(f) for f in first if decimal == "."):
        header = rows.pop(0)
    if not rows:
        raise InputError(f"{path}: no data rows (only the header, line {header[0]})")
    trailing = delimiter is not None and all(len(f) > 1 and f[-1] == "" for _, f in rows)
    if trailing:
        rows = [(n, f[:-1]) for n, f in rows]
        if header is not None and len(header[1]) > 1 and header[1][-1] == "":
            header = (header[0], header[1][:-1])
    width_n, width = rows[0][0], len(rows[0][1])
    data = np.empty((len(rows), width), dtype=np.float64)
    for i, (n, fields) in enumerate(rows):
        if len(fields) != width:
            raise InputError(f"{path}: line {n} has {len(fields)} columns but line {width_n} "
                             f"has {width} ({_DELIMITER_NAMES[delimiter]} separated)")
        for c, field in enumerate(fields):
            if not _is_number(field, decimal):
                e = _field_error(path, n, c, field, decimal, delimiter)
                if i == 0 and header is None and options.header == "auto":
                    e = InputError(f"{e} (the first row is not a header: a header has no "
                                   f"numeric field)")
                raise e
            data[i, c] = float(field.replace(",", ".") if decimal == "," else field)
    if header is not None and len(header[1]) != width:
        raise InputError(f"{path}: the header (line {header[0]}) has {len(header[1])} names "
                         f"but the rows have {width} columns")
    if (options.header == "auto" and header is None and len(rows) > 1 and width > 1
            and all(f.isdigit() for f in rows[0][1])
            and list(data[0]) in (list(range(width)), list(range(1, width + 1)))
            and not all(_INTEGER.fullmatch(f) for _, fields in rows[1:] for f in fields)):
        raise InputError(f"{path}: line {first_n} is {', '.join(first)}: numbered column "
                         f"names or a sample? Give --header yes to skip it or --header no "
                         f"to read it as data")
    info = TextRead(str(path), len(rows), width, delimiter,
                    None if header is None else header[0], decimal, trailing)
    return data, info


def _check_file(path):
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    return path


def _object_error(path, what=""):
    return InputError(f"{path}: {what}holds Python objects (a pickled array); hetq reads only "
                      f"numeric arrays, so save it with a numeric dtype")


def _load(path, text=None, report=None):
    path = _check_file(path)
    suffix = path.suffix.lower()
    magic = {".npy": (b"\x93NUMPY", "a NumPy .npy file"), ".npz": (b"PK", "an .npz (zip) file")}
    if suffix in magic:
        with open(path, "rb") as f:
            head = f.read(6)
        if not head.startswith(magic[suffix][0]):
            raise InputError(f"{path}: cannot read (not {magic[suffix][1]})")
    try:
        if suffix == ".npy":
            try:
                return np.load(path, allow_pickle=False)
            except ValueError as e:
                if "Object arrays" in str(e):
                    raise _object_error(path) from None
                raise
        if suffix == ".npz":
            out = {}
            with np.load(path, allow_pickle=False) as z:
                for k in z.files:
                    try:
                        out[k] = z[k]
                    except ValueError as e:
                        if "Object arrays" in str(e):
                            raise _object_error(path, f"array {k!r} ") from None
                        raise
            return out
        if suffix in TEXT_SUFFIXES:
            data, info = read_text(path, text)
            if report is not None:
                report(info.describe())
            return data
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    raise InputError(f"{path}: unknown file type {suffix!r} (expected .npy, .npz, "
                     f"{', '.join(TEXT_SUFFIXES)})")


def load_array(path, key=None, *, text=None, report=None):
    """Load one array from .npy or text, or the array ``key`` (or the only one) of an .npz.

    ``text`` (:class:`TextOptions`) sets how text files are read; ``report(line)`` is called
    with :meth:`TextRead.describe` for a text file."""
    data = _load(path, text, report)
    if isinstance(data, dict):
        if key is not None and key in data:
            return data[key]
        if len(data) == 1:
            return next(iter(data.values()))
        raise InputError(f"{path}: .npz has no {key!r} array (has {', '.join(sorted(data))})")
    return data


def load_samples(path, *, text=None, report=None):
    """Load a (samples x sensors) data file: .npy, text, or an .npz with ``samples`` (and
    optionally ``labels``, as written by ``hetq synth``). Returns (samples, labels or None);
    shape and value checks are left to :func:`hetq.golden.network.model.validate_samples`.
    ``text`` and ``report`` as for :func:`load_array`."""
    data = _load(path, text, report)
    labels = None
    if isinstance(data, dict):
        if "samples" not in data:
            raise InputError(f"{path}: .npz has no 'samples' array (has {', '.join(sorted(data))})")
        labels = data.get("labels")
        data = data["samples"]
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


def _same(a, b):
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(path, suffix=None, inputs=(), option="-o"):
    """Refuse an output path before any work is done: wrong suffix, missing folder, an
    existing folder in its place, the same file as one of ``inputs`` (``(option name, path)``
    pairs; None paths are skipped), or a folder where no file can be created (tried with a
    probe file, removed at once). Returns the path."""
    path = Path(path)
    if suffix is not None and path.suffix != suffix:
        raise InputError(f"{path}: output file must end in {suffix}")
    if path.is_dir():
        raise InputError(f"{path}: {option} names a directory, expected a file")
    directory = path.parent
    if not directory.is_dir():
        raise InputError(f"{path}: directory {directory} does not exist")
    for name, other in inputs:
        if other is not None and _same(path, other):
            raise InputError(f"{path}: {option} is the same file as {name}; refusing to "
                             f"overwrite an input")
    probe = directory / f".{path.name}.{secrets.token_hex(4)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"{path}: cannot write there ({e.strerror})") from None
    return path


def save_npz(path, **arrays):
    """Write an .npz atomically: either the whole file appears or nothing does.

    The file gets the permissions the umask gives a new file (as ``open(path, "w")`` would):
    the temporary file beside it is created with mode 0o666 and the umask applied."""
    path = check_output(path, ".npz")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise InputError(f"{path}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({e.strerror})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output_dir(path, option="-o"):
    """Refuse an output folder before any work: an existing file in its place, or a parent
    that is a file, unwritable or missing beyond what can be created. Creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: {option} must be a folder, and this is an existing file")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{path}: cannot create this folder, {parent} is a file")
    if not path.exists() and not _writable(parent):
        raise InputError(f"{path}: cannot create this folder, {parent} is not writable")
    if path.exists() and not _writable(path):
        raise InputError(f"{path}: folder is not writable")
    return path


def _writable(folder):
    return os.access(folder, os.W_OK | os.X_OK)
