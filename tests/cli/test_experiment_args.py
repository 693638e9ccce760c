"""``hetq experiment``: options that do not apply or cannot work are refused before anything is
read or created (no empty output folder is left behind)."""

import numpy as np
import pytest

from hetq.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("expdata")
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 1, size=(24, 4))
    y = np.repeat([1, 2, 3], 8)
    np.savetxt(d / "lab.csv", np.column_stack([x, y]), delimiter=",")
    np.save(d / "lab.npy", np.column_stack([x, y]))
    (d / "batch1.dat").write_text("1;10.0 1:2.0\n")
    return d


@pytest.mark.parametrize("args, message", [
    (["--sensors", "0,1,x"], "--sensors applies to drift data (--data with batch*.dat), not "
                             "with no --data"),
    (["--data", "DIR/lab.csv", "--sensors", "0,1"], "--sensors applies to drift data"),
    (["--data", "DIR/batch1.dat", "--sensors", "0,1,x"], "--sensors 0,1,x: 'x' is not a "
                                                         "sensor number"),
    (["--data", "DIR/batch1.dat", "--sensors", "0,16"], "the drift data has sensors 0..15"),
    (["--data", "DIR/batch1.dat", "--sensors", "1,1"], "a sensor is listed twice"),
    (["--data", "DIR/batch1.dat", "--feature", "8"], "--feature 8: the drift data has "
                                                     "features 0..7"),
    (["--feature", "1"], "--feature applies to drift data"),
    (["--label-column", "0"], "--label-column applies to --data with a .csv"),
    (["--data", "DIR/batch1.dat", "--label-column", "0"], "--label-column applies to"),
    (["--shots", "3"], "--shots applies to --data, not with no --data"),
    (["--data", "DIR/lab.csv", "--noise", "flat"], "--noise applies to the synthetic sessions"),
    (["--data", "DIR/lab.csv", "--session", "saturation"], "--session applies to the synthetic"),
    (["--quick", "-D", "4"], "give either --quick or --duplication"),
    (["--folds", "200"], "--folds 200: the synthetic sessions have 16 samples per class, so "
                         "at most 16 folds"),
    (["--folds", "1"], "--folds 1: cross-validation needs at least 2 folds"),
    (["--data", "DIR/lab.csv", "--folds", "2"], "--shots 2 with --folds 2 leaves 2 test "
                                                "samples per class"),
    (["--data", "DIR/lab.csv", "--shots", "1", "--folds", "8"], "leaves 7 test samples"),
    (["--data", "DIR/lab.csv", "--label-column", "5"], "no column 5: columns count from 0"),
    (["--data", "DIR/lab.npy", "--decimal", ","], "--decimal applies to .csv/.tsv/.txt input"),
    (["--seed", "-1"], "argument --seed: must be >= 0"),
])
def test_refused_before_anything_is_created(data, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    args = [a.replace("DIR", str(data)) for a in args]
    try:
        code = main(["experiment", *args, "-q", "-o", str(out)])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code != 0 and message in err.strip().splitlines()[-1], err
    assert not out.exists()


def test_output_must_not_be_the_data(data, capsys):
    assert main(["experiment", "--data", str(data / "lab.csv"), "-q",
                 "-o", str(data / "lab.csv")]) == 1
    assert "must be a folder" in capsys.readouterr().err
    data_dir = data / "d2"
    data_dir.mkdir()
    (data_dir / "summary.csv").write_text("1,2,1\n3,4,2\n")
    assert main(["experiment", "--data", str(data_dir / "summary.csv"), "-q",
                 "-o", str(data_dir)]) == 1
    assert "would be overwritten by the results" in capsys.readouterr().err
    code = main(["experiment", "--data", str(data), "-q", "-o", str(data)])
    assert code == 1 and "is the --data folder" in capsys.readouterr().err


def test_output_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["experiment", "--quick", "-o", str(tmp_path / "f" / "out")]) == 1
    assert "cannot create this folder" in capsys.readouterr().err


def test_bench_jobs_need_the_grid(capsys):
    assert main(["bench", "golden", "-j", "2"]) == 1
    assert "--jobs sets the worker processes of --grid" in capsys.readouterr().err
