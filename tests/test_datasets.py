import numpy as np
import pytest

from hetq.datasets import load_drift, load_labelled, resample
from hetq.io import InputError


def drift_line(cls, conc, rng):
    values = rng.uniform(1, 100, size=128)
    return f"{cls};{conc:.6f} " + " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(values)), values


def write_batches(path, n=(5, 4), seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for b, count in enumerate(n, 1):
        lines = []
        for k in range(count):
            line, values = drift_line(k % 3 + 1, 10.0 * (k + 1), rng)
            lines.append(line)
            rows.append((k % 3 + 1, values))
        (path / f"batch{b}.dat").write_text("\n".join(lines) + "\n")
    return rows


def test_drift_directory_default_selection(tmp_path):
    rows = write_batches(tmp_path)
    x, y, conc = load_drift(tmp_path)
    assert x.shape == (9, 8)
    np.testing.assert_equal(y, [r[0] for r in rows])
    expect = np.array([r[1][0:128:8][:8] for r in rows])   # feature 0 of sensors 0..7
    np.testing.assert_allclose(x, expect, rtol=1e-6)
    assert conc[0] == 10.0


def test_drift_chosen_sensors_and_feature(tmp_path):
    rows = write_batches(tmp_path, n=(3,))
    x, _, _ = load_drift(tmp_path / "batch1.dat", sensors=(15, 2), feature=5)
    np.testing.assert_allclose(x, [[r[1][15 * 8 + 5], r[1][2 * 8 + 5]] for r in rows], rtol=1e-6)


@pytest.mark.parametrize("content, message", [
    ("1;10.0 1:2.0 x\n", "line 1 is not 'class;concentration"),
    ("abc 1:2\n", "line 1 is not"),
    ("1;10.0 2:3.0\n", "lacks feature index 1"),
])
def test_drift_errors(tmp_path, content, message):
    (tmp_path / "batch1.dat").write_text(content)
    with pytest.raises(InputError, match=message):
        load_drift(tmp_path / "batch1.dat", sensors=(0,))


def test_drift_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="no batch"):
        load_drift(tmp_path)
    with pytest.raises(ValueError, match="sensors must be in 0..15"):
        load_drift(tmp_path, sensors=(16,))
    with pytest.raises(ValueError, match="feature must be in 0..7"):
        load_drift(tmp_path, feature=8)


def test_labelled_csv_and_npz(tmp_path):
    data = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 1.0], [7.0, 8.0, 2.0]])
    np.savetxt(tmp_path / "d.csv", data, delimiter=",")
    x, y = load_labelled(tmp_path / "d.csv")
    np.testing.assert_equal(x, data[:, :2]) and np.testing.assert_equal(y, [3, 1, 2])
    x, y = load_labelled(tmp_path / "d.csv", label_column=0)
    np.testing.assert_equal(x, data[:, 1:]) and np.testing.assert_equal(y, [1, 4, 7])
    np.savez(tmp_path / "d.npz", samples=data, labels=[0, 1, 1])
    x, y = load_labelled(tmp_path / "d.npz")
    np.testing.assert_equal(y, [0, 1, 1])
    np.savetxt(tmp_path / "bad.csv", data + 0.5, delimiter=",")
    with pytest.raises(InputError, match="labels must be integers"):
        load_labelled(tmp_path / "bad.csv")


def test_resample_per_class_with_shift():
    x = np.array([[-1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    y = np.array([0, 0, 1, 1])
    xs, ys, shift = resample(x, y, 5, seed=1)
    np.testing.assert_equal(ys, [0] * 5 + [1] * 5)
    assert shift == 1.0 and xs.min() >= 0
    again = resample(x, y, 5, seed=1)[0]
    np.testing.assert_equal(xs, again)


def test_label_column_error_says_columns_count_from_zero(tmp_path):
    np.savetxt(tmp_path / "d.csv", np.ones((3, 9)), delimiter=",")
    with pytest.raises(InputError, match=r"no column 9: columns count from 0, so this file's 9 "
                                         r"columns are 0\.\.8 \(or -9\.\.-1 from the end\)"):
        load_labelled(tmp_path / "d.csv", label_column=9)


def test_labelled_text_follows_the_loader_rules(tmp_path):
    """Same rules as for unlabelled data: a decimal-comma file is refused unless asked for,
    a header is reported, a typo is an error naming line, column and field."""
    from hetq.io import TextOptions
    p = tmp_path / "d.csv"
    p.write_text("0,5;1,5;1\n2,25;0,75;2\n")
    with pytest.raises(InputError, match="'0,5' uses a decimal comma"):
        load_labelled(p)
    seen = []
    x, y = load_labelled(p, text=TextOptions(decimal=","), report=seen.append)
    np.testing.assert_equal(x, [[0.5, 1.5], [2.25, 0.75]])
    np.testing.assert_equal(y, [1, 2])
    assert seen == [f"{p}: 2 rows x 3 columns, ';' separated, decimal comma, header: no"]
    p.write_text("a,b,label\n0.5,O.5,1\n")
    with pytest.raises(InputError, match=r"line 2, column 2: 'O.5' is not a number"):
        load_labelled(p)


def test_labelled_npz_needs_labels(tmp_path):
    np.savez(tmp_path / "d.npz", samples=np.ones((3, 4)))
    with pytest.raises(InputError, match="has no 'labels' array"):
        load_labelled(tmp_path / "d.npz")
