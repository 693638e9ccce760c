"""The published tables of Moyal et al. (2025) and our results next to them.

``hetq/data/paper_tables.csv`` (package data) holds, per session x condition x D, the published
MC and GC accuracy and SD of utilisation, each with its SD over the 8 folds, and the ET accuracy
per session. :func:`compare` matches a :func:`~hetq.experiment.summarise` table against it,
cell by cell (one cell = one metric of one row).

A cell *agrees* when our mean lies within one published fold SD of the published mean. The
published SD is the yardstick because it is fixed: it does not grow when our own run happens
to be noisier, and it is the spread the paper itself reports for that number. Agreement
within the larger of the two fold SDs is counted as well, for the cells where our fold SD is
the wider one.
"""

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["METRICS", "COLUMNS", "Cell", "published", "compare", "agreement",
           "format_comparison", "write_comparison"]

#: The compared metrics and their labels.
METRICS = {"mc_acc": "MC accuracy %", "gc_acc": "GC accuracy %",
           "mc_util_sd": "MC SD-util", "gc_util_sd": "GC SD-util", "et_acc": "ET accuracy %"}
#: The columns of paper_tables.csv.
COLUMNS = ("session", "condition", "duplication", "mc_acc", "mc_acc_sd", "gc_acc", "gc_acc_sd",
           "mc_util_sd", "mc_util_sd_sd", "gc_util_sd", "gc_util_sd_sd", "et_acc", "et_acc_sd")
_ROW_METRICS = ("mc_acc", "gc_acc", "mc_util_sd", "gc_util_sd")


def published(path=None):
    """The published rows, keyed by (session, condition, D); the ET rows by
    (session, "ET", None). Reads the packaged table unless ``path`` is given; a file whose
    header or numbers are not as expected is refused with ValueError."""
    if path is None:
        text = resources.files("hetq").joinpath("data/paper_tables.csv").read_text()
        where = "hetq/data/paper_tables.csv"
    else:
        with open(path) as f:
            text = f.read()
        where = str(path)
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.reader(lines))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{where}: expected the header {','.join(COLUMNS)}")
    table = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS):
            raise ValueError(f"{where}: data row {n - 1} has {len(row)} fields, "
                             f"expected {len(COLUMNS)}")
        rec = dict(zip(COLUMNS, row))
        try:
            d = int(rec["duplication"]) if rec["duplication"] else None
            values = {k: float(v) for k, v in rec.items() if k in COLUMNS[3:] and v != ""}
        except ValueError as e:
            raise ValueError(f"{where}: data row {n - 1}: {e}") from None
        wanted = ("et_acc", "et_acc_sd") if rec["condition"] == "ET" else COLUMNS[3:11]
        if set(values) != set(wanted):
            raise ValueError(f"{where}: data row {n - 1} ({rec['session']} {rec['condition']}) "
                             f"must give exactly {', '.join(wanted)}")
        key = (rec["session"], rec["condition"], d)
        if key in table:
            raise ValueError(f"{where}: data row {n - 1} repeats {key}")
        table[key] = values
    return table


@dataclass(frozen=True)
class Cell:
    """One compared number: ours and the published one, each with its fold SD."""

    session: str
    condition: str
    duplication: int | None
    metric: str
    ours: float
    ours_sd: float
    paper: float
    paper_sd: float

    @property
    def difference(self):
        return self.ours - self.paper

    @property
    def agrees(self):
        """Within one published fold SD."""
        return abs(self.difference) <= self.paper_sd

    @property
    def agrees_either(self):
        """Within the larger of the published and our fold SD."""
        return abs(self.difference) <= max(self.paper_sd, self.ours_sd)


def compare(summary, table=None):
    """Cells for every (session, condition, D) of ``summary`` that the paper reports, in
    summary order, then the ET accuracy of each session."""
    table = published() if table is None else table
    cells = []
    sessions = []
    for r in summary:
        if r["session"] not in sessions:
            sessions.append(r["session"])
        p = table.get((r["session"], r["condition"], r["duplication"]))
        if p is None:
            continue
        for m in _ROW_METRICS:
            cells.append(Cell(r["session"], r["condition"], r["duplication"], m, r[m],
                              r[m + "_sd"], p[m], p[m + "_sd"]))
    for s in sessions:
        p = table.get((s, "ET", None))
        row = next(r for r in summary if r["session"] == s)
        if p is not None and np.isfinite(row["et_acc"]):
            cells.append(Cell(s, "ET", None, "et_acc", row["et_acc"], row["et_acc_sd"],
                              p["et_acc"], p["et_acc_sd"]))
    return cells


def agreement(cells):
    """(cells within one published fold SD, within the larger SD, all cells)."""
    return (sum(c.agrees for c in cells), sum(c.agrees_either for c in cells), len(cells))


def _pair(cell):
    flag = " " if cell.agrees else "*"
    return f"{cell.ours:>6.2f} {cell.paper:>6.2f} ± {cell.paper_sd:<5.2f}{flag} "


def format_comparison(cells):
    """Printable lines: ours next to the published value (± its fold SD) per cell, ``*``
    marking cells further apart than the published fold SD, and the agreement count."""
    if not cells:
        return ["no cell of this run is in the published tables"]
    head1 = f"{'':<32}" + "".join(f"{METRICS[m]:<23}" for m in _ROW_METRICS)
    head2 = (f"{'session':<14} {'condition':<11} {'D':>2}   "
             + "".join(f"{'ours':>6} {'paper ± SD':<16}" for _ in _ROW_METRICS))
    lines = [head1.rstrip(), head2.rstrip(), "-" * len(head2.rstrip())]
    rows = {}
    for c in cells:
        if c.condition != "ET":
            rows.setdefault((c.session, c.condition, c.duplication), {})[c.metric] = c
    for (s, cond, d), by_metric in rows.items():
        parts = [_pair(by_metric[m]) if m in by_metric else f"{'':23}" for m in _ROW_METRICS]
        lines.append((f"{s:<14} {cond:<11} {d:>2}   " + "".join(parts)).rstrip())
    for c in cells:
        if c.condition == "ET":
            lines.append(f"{c.session:<14} ET accuracy %: ours {c.ours:.2f} ± {c.ours_sd:.2f}, "
                         f"paper {c.paper:.2f} ± {c.paper_sd:.2f}"
                         + ("" if c.agrees else "   * further apart than the paper's SD"))
    n, n_either, total = agreement(cells)
    lines.append(f"agreement: {n} of {total} cells within one published fold SD "
                 f"(* marks the others); {n_either} of {total} within the larger of the "
                 f"published and our fold SD")
    return lines


def write_comparison(cells, path):
    """paper.csv: one row per cell."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["session", "condition", "duplication", "metric", "ours", "ours_sd", "paper",
                    "paper_sd", "difference", "within_paper_sd", "within_larger_sd"])
        for c in cells:
            w.writerow([c.session, c.condition, "" if c.duplication is None else c.duplication,
                        c.metric, f"{c.ours:.4f}", f"{c.ours_sd:.4f}", f"{c.paper:.2f}",
                        f"{c.paper_sd:.2f}", f"{c.difference:.4f}",
                        "yes" if c.agrees else "no", "yes" if c.agrees_either else "no"])
