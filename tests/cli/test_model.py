"""The ``hetq`` command line: happy paths and one-line errors that write nothing."""

import subprocess
import sys

import numpy as np
import pytest

from hetq.cli import main
from hetq.golden.network.weights import WeightSpec, data_blind_weights


def run(*args):
    return subprocess.run([sys.executable, "-m", "hetq", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert main(["synth", "--session", "saturation", "-o", str(d / "data.npz")]) == 0
    with np.load(d / "data.npz") as z:
        x, y = z["samples"], z["labels"]
    np.save(d / "train.npy", x[::8])
    np.savetxt(d / "test.csv", x[1::8], delimiter=",", header="s0,s1,s2,s3,s4,s5,s6,s7")
    return d, x, y


def test_synth_output(files):
    d, x, y = files
    assert x.shape == (128, 8) and y.shape == (128,)


@pytest.mark.parametrize("mode", ["homogeneous", "uniform", "linear", "adaptive"])
def test_calibrate_modes(files, mode):
    d, x, _ = files
    out = d / f"w_{mode}.npz"
    assert main(["calibrate", str(d / "train.npy"), "--mode", mode, "-D", "4", "-o", str(out)]) == 0
    with np.load(out) as z:
        w = z["weights"]
        assert w.shape == (32, 8) and str(z["mode"]) == mode and int(z["duplication"]) == 4
    if mode != "adaptive":
        np.testing.assert_equal(w, data_blind_weights(WeightSpec(mode, 4), 8))


def test_run_mc_only_and_with_training(files, capsys):
    d, x, _ = files
    main(["calibrate", str(d / "train.npy"), "--mode", "uniform", "-D", "4", "-o", str(d / "w.npz")])
    assert main(["run", str(d / "test.csv"), "--weights", str(d / "w.npz"), "-q",
                 "-o", str(d / "mc.npz")]) == 0
    with np.load(d / "mc.npz") as z:
        assert set(z.files) >= {"et", "mc_phase"} and "gc_phase" not in z.files
        assert z["mc_phase"].shape == (16, 32) and z["et"].shape == (16, 8)
        np.testing.assert_allclose(z["et"].sum(1), 1, rtol=1e-5)
    mask = np.zeros((128, 32), dtype=np.int8)
    mask[np.random.default_rng(1).random((128, 32)) < 0.25] = 1
    np.save(d / "mask.npy", mask)
    assert main(["run", str(d / "test.csv"), "--weights", str(d / "w.npz"), "--train",
                 str(d / "train.npy"), "--connectivity", str(d / "mask.npy"), "-q",
                 "-o", str(d / "gc.npz")]) == 0
    with np.load(d / "gc.npz") as z:
        assert z["gc_phase"].shape == (16, 128)
        w = z["mc_gc_weights"]
        assert w.shape == (128, 32) and not w[mask == 0].any()
        assert set(np.unique(w)) <= {0.0, 30.0} or (w[(w > 0) & (w < 30)] > 29).all()
    assert "samples/s" in capsys.readouterr().out


def test_run_random_connectivity_is_seeded(files):
    d, _, _ = files
    main(["calibrate", str(d / "train.npy"), "--mode", "uniform", "-D", "4", "-o", str(d / "w.npz")])
    outs = []
    for seed, name in ((5, "a"), (5, "b"), (6, "c")):
        assert main(["run", str(d / "train.npy"), "--weights", str(d / "w.npz"), "--gc", "64",
                     "--seed", str(seed), "-q", "-o", str(d / f"{name}.npz")]) == 0
        with np.load(d / f"{name}.npz") as z:
            outs.append(z["connectivity"])
            assert (z["connectivity"].sum(0) == 16).all()   # prop 1/D of 64 GCs per MC
    np.testing.assert_equal(outs[0], outs[1])
    assert (outs[0] != outs[2]).any()


def write(d, name, content):
    p = d / name
    if isinstance(content, np.ndarray):
        np.save(p, content)
    else:
        p.write_text(content)
    return p


@pytest.mark.parametrize("setup, message", [
    (lambda d: d / "missing.npy", "no such file"),
    (lambda d: write(d, "empty.csv", ""), "file is empty"),
    (lambda d: write(d, "blank.csv", "\n\n"), "no data rows"),
    (lambda d: write(d, "ragged.csv", "1,2,3\n4,5\n"), "line 2 has 2 columns but line 1 has 3"),
    (lambda d: write(d, "text.csv", "1,2\nfoo,bar\n"), "line 2, column 1: 'foo' is not a number"),
    (lambda d: write(d, "junk.npy", "not numpy"), "cannot read"),
    (lambda d: write(d, "data.json", "{}"), "unknown file type"),
    (lambda d: write(d, "nan.npy", np.array([[1.0, np.nan]])), "NaN"),
    (lambda d: write(d, "neg.npy", np.array([[1.0, -1.0]])), "negative"),
    (lambda d: write(d, "flat.npy", np.ones(4)), "2-D array"),
])
def test_calibrate_bad_data(tmp_path, setup, message):
    path = setup(tmp_path)
    r = run("calibrate", path, "--mode", "uniform", "-D", "4", "-o", tmp_path / "w.npz")
    assert r.returncode != 0
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "w.npz").exists()


def test_calibrate_all_zero_data(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((3, 8)))
    r = run("calibrate", tmp_path / "z.npy", "--mode", "adaptive", "-D", "4", "-o", tmp_path / "w.npz")
    assert r.returncode == 1 and "no non-zero value" in r.stderr
    assert not (tmp_path / "w.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["--mode", "uniform", "-D", "0"], "must be >= 1"),
    (["--mode", "bogus", "-D", "4"], "invalid choice"),
    (["--mode", "homogeneous", "-D", "4", "--gain", "-3"], "gain must be in"),
    (["--mode", "adaptive", "-D", "4", "--limit", "2"], "limit must be in"),
])
def test_calibrate_bad_options(files, tmp_path, args, message):
    d, _, _ = files
    r = run("calibrate", d / "train.npy", *args, "-o", tmp_path / "w.npz")
    assert r.returncode != 0 and message in r.stderr
    assert not (tmp_path / "w.npz").exists()


def test_run_errors(files, tmp_path):
    d, _, _ = files
    main(["calibrate", str(d / "train.npy"), "--mode", "uniform", "-D", "4", "-o", str(d / "w.npz")])
    np.save(tmp_path / "six.npy", np.ones((3, 6)))
    bad_w = data_blind_weights(WeightSpec("uniform", 4), 8)
    bad_w[0, 0] = -1
    np.savez(tmp_path / "badw.npz", weights=bad_w)
    np.save(tmp_path / "badmask.npy", np.full((16, 32), 2))
    np.save(tmp_path / "mask31.npy", np.ones((16, 31)))
    cases = [
        ([tmp_path / "six.npy", "--weights", d / "w.npz"], "has 6 sensors but the weights are for 8"),
        ([d / "train.npy", "--weights", tmp_path / "badw.npz"], "weights must lie in [0"),
        ([d / "train.npy", "--weights", d / "train.npy"], "expected an .npz with a 'weights' array"),
        ([d / "train.npy", "--weights", d / "w.npz", "--connectivity", tmp_path / "badmask.npy"],
         "only 0 and 1"),
        ([d / "train.npy", "--weights", d / "w.npz", "--connectivity", tmp_path / "mask31.npy"],
         "31 MC columns"),
        ([d / "train.npy", "--weights", d / "w.npz", "--train", d / "train.npy"], "needs a GC layer"),
        ([d / "train.npy", "--weights", d / "w.npz", "--steps", "120"], "multiple of 50"),
        ([d / "train.npy", "--weights", d / "w.npz", "--gc", "8", "--iic", "3"], "GC->MC weight"),
        ([d / "train.npy", "--weights", d / "w.npz", "--gc", "8", "--prop", "1.5"],
         "connection probability"),
    ]
    for args, message in cases:
        r = run("run", *args, "-q", "-o", tmp_path / "out.npz")
        assert r.returncode != 0, args
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert not (tmp_path / "out.npz").exists()


def test_output_must_be_npz(files, tmp_path):
    d, _, _ = files
    r = run("synth", "--session", "concentration", "-o", tmp_path / "data.txt")
    assert r.returncode == 1 and "must end in .npz" in r.stderr
