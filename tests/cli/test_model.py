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


# -- every option takes effect or is refused; data read exactly; outputs safe ---------------

def cli(capsys, *args):
    """``hetq ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:          # argparse errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, out_path, *args):
    """The command fails with one error line and writes nothing; returns the error line."""
    code, _, err = cli(capsys, *args)
    assert code != 0, err
    assert not out_path.exists()
    return err.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def weights(files):
    d, _, _ = files
    path = d / "w4.npz"
    assert main(["calibrate", str(d / "train.npy"), "--mode", "uniform", "-D", "4",
                 "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("mode, option, message", [
    ("uniform", ["--gain", "100"], "--gain applies to --mode homogeneous, not uniform"),
    ("linear", ["--gain", "100"], "--gain applies to --mode homogeneous, not linear"),
    ("adaptive", ["--gain", "3"], "--gain applies to --mode homogeneous, not adaptive"),
    ("homogeneous", ["--smoothing", "0.5"], "--smoothing applies to --mode adaptive, not "
                                            "homogeneous"),
    ("uniform", ["--smoothing", "0.5"], "--smoothing applies to --mode adaptive, not uniform"),
    ("homogeneous", ["--payload", "30"], "--payload applies to --mode uniform or linear or "
                                         "adaptive, not homogeneous"),
    ("homogeneous", ["--limit", "0.1"], "--limit applies to --mode uniform or linear or "
                                        "adaptive, not homogeneous"),
    ("adaptive", ["--smoothing", "10"], "smoothing must be in [0, 1]"),
    ("adaptive", ["--smoothing", "2"], "smoothing must be in [0, 1]"),
])
def test_calibrate_refuses_options_that_do_not_apply(files, tmp_path, capsys, mode, option,
                                                     message):
    d, _, _ = files
    out = tmp_path / "w.npz"
    line = refused(capsys, out, "calibrate", d / "train.npy", "--mode", mode, "-D", "4",
                   *option, "-o", out)
    assert message in line


@pytest.mark.parametrize("mode, extra, keys", [
    ("homogeneous", ["--gain", "45"], {"gain": 45.0}),
    ("uniform", [], {"payload": 25.0, "limit": 0.01}),
    ("adaptive", ["--smoothing", "0.5"], {"smoothing": 0.5, "payload": 25.0, "limit": 0.01}),
])
def test_calibrate_stores_the_parameters_it_used(files, tmp_path, mode, extra, keys):
    d, x, _ = files
    out = tmp_path / "w.npz"
    assert main(["calibrate", str(d / "train.npy"), "--mode", mode, "-D", "4", *extra,
                 "-o", str(out)]) == 0
    with np.load(out) as z:
        params = {k: z[k].item() for k in z.files if k in ("gain", "smoothing", "payload",
                                                             "limit")}
        assert params == keys
        assert int(z["calibration_samples"]) == len(x[::8]) and int(z["sensors"]) == 8


def test_calibrate_reports_the_jenks_classes(files, tmp_path, capsys):
    d, _, _ = files
    for s, k in (("0.25", 4), ("0.5", 2), ("1", 2)):
        code, out, _ = cli(capsys, "calibrate", d / "train.npy", "--mode", "adaptive", "-D",
                           "8", "--smoothing", s, "-o", tmp_path / "w.npz")
        assert code == 0 and f"smoothing {float(s):g} -> {k} Jenks classes" in out


@pytest.mark.parametrize("args, message", [
    (["--gc", "8", "--iic", "-5"], "--iic acts only after training"),
    (["--iic", "-5"], "--iic (the GC->MC weight) needs a GC layer"),
    (["--gc", "8", "--iic", "3", "--train", "TRAIN"], "--iic 3: the GC->MC weight is "
                                                      "inhibitory"),
    (["--prop", "0.3"], "--prop applies to a random connectivity"),
    (["--connectivity", "MASK", "--prop", "0.3"], "not to --connectivity"),
    (["--seed", "3"], "--seed seeds the random connectivity"),
    (["--connectivity", "MASK", "--seed", "3"], "--seed seeds the random connectivity"),
    (["--gc", "4", "--prop", "0.01"], "--gc 4 with --prop 0.01: connection probability 0.01 "
                                      "with 4 GCs connects each MC to round(0.04) = 0 GCs"),
    (["--gc", "1"], "--gc 1 with the default 1/D: connection probability 0.25"),
    (["--decimal", ","], "--decimal applies to .csv/.tsv/.txt input"),
])
def test_run_refuses_options_that_do_not_apply(files, weights, tmp_path, capsys, args,
                                               message):
    d, _, _ = files
    np.save(tmp_path / "mask.npy", np.ones((8, 32), dtype=np.int8))
    args = [{"TRAIN": d / "train.npy", "MASK": tmp_path / "mask.npy"}.get(a, a) for a in args]
    out = tmp_path / "out.npz"
    line = refused(capsys, out, "run", d / "train.npy", "--weights", weights, *args, "-q",
                   "-o", out)
    assert message in line


def test_run_warns_about_gcs_that_can_never_fire(files, weights, tmp_path, capsys):
    d, _, _ = files
    mask = np.zeros((8, 32), dtype=np.int8)
    mask[1, 0] = 1                  # GC 0: no input, GC 1: one input, GCs 2-7: three each
    mask[2:, 1:4] = 1
    np.save(tmp_path / "mask.npy", mask)
    code, _, err = cli(capsys, "run", d / "train.npy", "--weights", weights, "--connectivity",
                       tmp_path / "mask.npy", "-q", "-o", tmp_path / "out.npz")
    assert code == 0
    assert ("warning: 2 of 8 GCs have fewer than two MC inputs (1 none, 1 one) and can never "
            "fire") in err
    with np.load(tmp_path / "out.npz") as z:
        assert not z["gc_phase"][:, :2].any()


def test_run_params_record_what_was_used(files, weights, tmp_path):
    d, _, _ = files
    import json
    assert main(["run", str(d / "train.npy"), "--weights", str(weights), "--gc", "64", "-q",
                 "-o", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as z:
        params = json.loads(str(z["params"]))
    assert params["prop"] == 0.25 and params["seed"] == 0 and params["gc"] == 64
    assert params["connectivity"] == "random" and params["iic"] == 0.0


@pytest.mark.parametrize("target", ["DATA", "--weights", "--train"])
def test_run_refuses_to_overwrite_an_input(files, weights, tmp_path, capsys, target):
    d, x, y = files
    data = tmp_path / "data.npz"
    np.savez(data, samples=x[:4], labels=y[:4])
    before = {p: p.read_bytes() for p in (data, weights)}
    out = {"DATA": data, "--weights": weights, "--train": data}[target]
    args = ["--train", data, "--gc", "64"] if target == "--train" else []
    code, _, err = cli(capsys, "run", d / "train.npy" if target == "--train" else data,
                       "--weights", weights, *args, "-q", "-o", out)
    assert code == 1 and f"-o is the same file as {target}" in err
    assert {p: p.read_bytes() for p in before} == before


@pytest.mark.parametrize("scale", [1e-40, 1e-45, 1e38])
def test_run_refuses_samples_outside_the_float32_range(files, weights, tmp_path, capsys,
                                                       scale):
    d, x, _ = files
    np.save(tmp_path / "scaled.npy", x[:16] * scale)
    line = refused(capsys, tmp_path / "out.npz", "run", tmp_path / "scaled.npy", "--weights",
                   weights, "-q", "-o", tmp_path / "out.npz")
    assert "row 0 sums to" in line and "[2^-126, 2^126]" in line


@pytest.mark.parametrize("name, text, message", [
    ("semi.csv", "0,59471;0,52493;0,3;0,25\n0,1;0,2;0,3;0,4\n",
     "line 1, column 1: '0,59471' uses a decimal comma; give --decimal ,"),
    ("typo.csv", "0.5,0.4,O.3,0.2\n0.1,0.2,0.3,0.4\n", "line 1, column 3: 'O.3' is not a number"),
    ("numbered.csv", "0,1,2,3\n0.1,0.2,0.3,0.4\n", "numbered column names or a sample?"),
])
def test_calibrate_refuses_misreadable_csv(tmp_path, capsys, name, text, message):
    (tmp_path / name).write_text(text)
    line = refused(capsys, tmp_path / "w.npz", "calibrate", tmp_path / name, "--mode",
                   "uniform", "-D", "2", "-o", tmp_path / "w.npz")
    assert message in line


@pytest.mark.parametrize("name, text, options, report", [
    ("semi.csv", "0,59471;0,52493;0,3;0,25\n0,1;0,2;0,3;0,4\n", ["--decimal", ","],
     "2 rows x 4 columns, ';' separated, decimal comma, header: no"),
    ("numbered.csv", "0,1,2,3\n0.1,0.2,0.3,0.4\n", ["--header", "yes"],
     "1 rows x 4 columns, ',' separated, header: line 1"),
    ("trail.csv", "0.5,0.4,0.3,0.2,\n0.1,0.2,0.3,0.4,\n", [],
     "2 rows x 4 columns, ',' separated, trailing ',' dropped, header: no"),
    ("tabs.tsv", "s0\ts1\ts2\ts3\n0.5\t0.4\t0.3\t0.2\n", [],
     "1 rows x 4 columns, tab separated, header: line 1"),
    ("quoted.csv", '"0.5","0.4","0.3","0.2"\n', [], "1 rows x 4 columns, ',' separated"),
])
def test_csv_read_is_reported(tmp_path, capsys, name, text, options, report):
    (tmp_path / name).write_text(text)
    code, _, err = cli(capsys, "calibrate", tmp_path / name, "--mode", "uniform", "-D", "2",
                       *options, "-o", tmp_path / "w.npz")
    assert code == 0 and f"read {tmp_path / name}: {report}" in err
    with np.load(tmp_path / "w.npz") as z:
        assert int(z["sensors"]) == 4


def test_npz_outputs_get_the_umask_permissions(files, tmp_path):
    import os
    import stat
    d, _, _ = files
    old = os.umask(0o022)
    try:
        assert main(["calibrate", str(d / "train.npy"), "--mode", "uniform", "-D", "4",
                     "-o", str(tmp_path / "w.npz")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.npz").stat().st_mode) == 0o644


def test_unwritable_output_is_refused_before_the_run(files, weights, capsys):
    d, _, _ = files
    code, _, err = cli(capsys, "run", d / "train.npy", "--weights", weights, "-q",
                       "-o", "/proc/x.npz")
    assert code == 1 and err.startswith("hetq run: error: /proc/x.npz: cannot write")
    assert "tmp" not in err


@pytest.mark.parametrize("command", [
    ["run", "DATA", "--weights", "W", "--gc", "8", "--seed", "-1"],
    ["synth", "--session", "concentration", "--seed", "-1"],
    ["synth", "--session", "concentration", "--seed", str(2**32)],
    ["experiment", "--seed", "-1"],
])
def test_seed_errors_name_the_option(files, weights, tmp_path, capsys, command):
    d, _, _ = files
    command = [{"DATA": d / "train.npy", "W": weights}.get(a, a) for a in command]
    code, _, err = cli(capsys, *command, "-o", tmp_path / "out.npz")
    assert code == 2 and "argument --seed:" in err.splitlines()[-1]


def test_demo_output_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert "must be a folder, and this is an existing file" in refused(
        capsys, tmp_path / "none", "demo", "-o", f)
    assert "cannot create this folder" in refused(capsys, f / "sub", "demo", "-o", f / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("command, option, words", [
    ("run", "--steps", ["multiple of 50", "default 250"]),
    ("run", "--rinse", ["multiple of 50", "default 50"]),
    ("run", "--prop", ["round(P*N)", "default 1/D"]),
    ("run", "--iic", ["<= 0", "--train"]),
    ("calibrate", "--payload", ["weight of the MC for the largest input", "default 25"]),
    ("calibrate", "--limit", ["smallest normalised input", "default 0.01"]),
    ("calibrate", "--smoothing", ["[0, 1]", "default 0.25"]),
    ("calibrate", "--gain", ["homogeneous mode only", "default 25"]),
])
def test_help_gives_defaults_and_units(command, option, words):
    from hetq.cli import build_parser
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    action = next(a for a in sub._actions if option in a.option_strings)
    assert all(w in action.help for w in words), action.help
