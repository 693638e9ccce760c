"""fidelity.csv lists its rows in the printed table's order."""

import csv

from hetq.fidelity import FidelityRow, csv_rows, pool_rows, write_fidelity


def rows():
    out = []
    for session in ("concentration", "saturation"):
        for d in (4, 8):
            for mode in ("homogeneous", "uniform", "adaptive-0.25"):
                gains = (25.0, 45.0, 2500.0) if mode == "homogeneous" else (None,)
                for g in gains:
                    out.append(FidelityRow(session, mode, d, g, 100, 99 + (g == 45.0), 1))
    return out


def key(r):
    gain = "" if r.gain is None else f"{r.gain:g}"
    if r.mode == "homogeneous" and r.gain is None:
        gain = "pooled"
    return (r.session, r.mode, str(r.duplication), gain)


def test_csv_order_is_the_printed_order(tmp_path):
    table = rows()
    write_fidelity(table, tmp_path)
    with open(tmp_path / "fidelity.csv") as f:
        written = [(r["session"], r["mode"], r["duplication"], r["gain"].replace(".0", ""))
                   for r in csv.DictReader(f)]
    assert written == [key(r) for r in csv_rows(table)]
    pooled = [w for w in written if w[1] != "homogeneous" or w[3] == "pooled"]
    per_gain = [w for w in written if w[3] != "pooled"]
    assert pooled == [key(r) for r in pool_rows(table)]           # the default table
    assert per_gain == [key(r) for r in table]                    # the --per-gain table
    assert written[:4] == [("concentration", "homogeneous", "4", g)
                           for g in ("25", "45", "2500", "pooled")]
    homogeneous = [w for w in written if w[1] == "homogeneous" and w[3] == "pooled"]
    assert len(homogeneous) == 4 and written.index(homogeneous[1]) < written.index(
        ("concentration", "uniform", "8", ""))
