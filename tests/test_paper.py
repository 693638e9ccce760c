import numpy as np
import pytest

from hetq import paper


def summary_row(session, condition, d, **values):
    row = {"session": session, "condition": condition, "duplication": d, "et_acc": np.nan,
           "et_acc_sd": 0.0}
    for m in ("mc_acc", "gc_acc", "mc_util_sd", "gc_util_sd"):
        row[m], row[m + "_sd"] = values.get(m, (0.0, 0.0))
    row.update({k: v for k, v in values.items() if k.startswith("et_")})
    return row


def test_published_table_is_packaged_and_complete():
    table = paper.published()
    assert len(table) == 2 * 4 * 4 + 2
    assert table[("concentration", "Uniform", 8)]["mc_acc"] == 95.24
    assert table[("saturation", "Adaptive", 32)]["gc_util_sd_sd"] == 2.68
    assert table[("concentration", "ET", None)] == {"et_acc": 84.08, "et_acc_sd": 9.43}
    assert table[("saturation", "ET", None)] == {"et_acc": 72.17, "et_acc_sd": 16.98}


def test_compare_flags_cells_beyond_one_published_fold_sd():
    rows = [summary_row("concentration", "Uniform", 8,
                        mc_acc=(95.24 + 2.11, 0.5),    # at the published SD: agrees
                        gc_acc=(95.54 - 3.0, 4.0),     # beyond the paper's 2.97, within ours
                        mc_util_sd=(0.96, 0.1), gc_util_sd=(9.0, 0.1),  # far off
                        et_acc=94.8, et_acc_sd=3.2),  # the old ET protocol's value
            summary_row("concentration", "Uniform", 64)]  # not in the paper: no cells
    cells = paper.compare(rows)
    by = {c.metric: c for c in cells}
    assert len(cells) == 5 and [c.duplication for c in cells] == [8, 8, 8, 8, None]
    assert by["mc_acc"].agrees and by["mc_util_sd"].agrees
    assert not by["gc_acc"].agrees and by["gc_acc"].agrees_either
    assert not by["gc_util_sd"].agrees_either
    assert by["et_acc"].paper == 84.08 and not by["et_acc"].agrees
    assert paper.agreement(cells) == (2, 3, 5)
    lines = paper.format_comparison(cells)
    assert lines[-1].startswith("agreement: 2 of 5 cells within one published fold SD")
    assert "3 of 5 within the larger" in lines[-1]
    row = next(ln for ln in lines if ln.startswith("concentration  Uniform"))
    assert row.count("*") == 2
    assert "further apart than the paper's SD" in lines[-2]


def test_write_comparison(tmp_path):
    cells = paper.compare([summary_row("saturation", "Scaled", 4, mc_acc=(95.4, 2.2))])
    paper.write_comparison(cells, tmp_path / "paper.csv")
    head, first = (tmp_path / "paper.csv").read_text().splitlines()[:2]
    assert head.startswith("session,condition,duplication,metric,ours,ours_sd,paper,paper_sd")
    assert first == "saturation,Scaled,4,mc_acc,95.4000,2.2000,95.31,2.35,0.0900,yes,yes"


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("session,condition", "sess,condition"), "expected the header"),
    (lambda t: t.replace("83.76,0.91", "83.76"), "has 12 fields"),
    (lambda t: t.replace("83.76,0.91", "x,0.91"), "could not convert"),
    (lambda t: t.replace("84.08,9.43", "84.08,"), "must give exactly et_acc, et_acc_sd"),
    (lambda t: t + t.splitlines()[-1] + "\n", "repeats"),
])
def test_malformed_table_is_refused(tmp_path, edit, message):
    from importlib import resources
    text = resources.files("hetq").joinpath("data/paper_tables.csv").read_text()
    (tmp_path / "t.csv").write_text(edit(text))
    with pytest.raises(ValueError, match=message):
        paper.published(tmp_path / "t.csv")
