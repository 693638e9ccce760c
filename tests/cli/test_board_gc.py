"""``hetq board run`` and ``hetq board compare`` on a board with a GC layer (protocol version
2), served by the device model over a socket: the fold of ``hetq run`` (connectivity, --train,
the clamp, DATA) with its keys, dtypes and shapes, checked against FixedNetwork; a tampered
result caught; the options that do not apply refused."""

import json

import numpy as np
import pytest

from hetq.cli import main
from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.golden.fixed.mc_array import MCArrayConfig
from hetq.golden.fixed.network import FixedNetwork
from hetq.golden.fixed.quantizer import QuantizerConfig
from hetq.golden.fixed.system import DeviceModel, SystemConfig
from hetq.sim.board.model_port import serve_model

GC = GCLayerConfig(mcs=8, gcs=32, synapses=64, hold=50, rinse=50)
CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                      array=MCArrayConfig(mcs=8, hold=50, rinse=50), gc=GC)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("boardgc")
    rng = np.random.default_rng(0)
    for name, n in (("data", 14), ("train", 8)):
        x = rng.random((n, 2)) * rng.choice([1e-2, 1.0], (n, 1))
        np.save(d / f"{name}.npy", x)
    assert main(["calibrate", str(d / "data.npy"), "--mode", "uniform", "-D", "4",
                 "-o", str(d / "w.npz")]) == 0
    return d


@pytest.fixture
def url():
    with serve_model(DeviceModel(CONFIG)) as u:
        yield u


def err_of(capsys):
    return capsys.readouterr().err


def test_run_and_compare_the_fold(files, url, capsys, tmp_path):
    d = files
    out = tmp_path / "board.npz"
    assert main(["board", "run", str(d / "data.npy"), "--port", url, "--weights",
                 str(d / "w.npz"), "--train", str(d / "train.npy"), "-q", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "14 samples, 8 MCs from the board" in text and "32 GCs" in text
    assert "after 8 training samples" in text
    res = np.load(out)
    # the keys, dtypes and shapes of `hetq run` with the same options
    assert main(["run", str(d / "data.npy"), "--weights", str(d / "w.npz"), "--train",
                 str(d / "train.npy"), "--gc", "32", "--steps", "50", "-q",
                 "-o", str(tmp_path / "run.npz")]) == 0
    capsys.readouterr()
    run = np.load(tmp_path / "run.npz")
    for key in ("et", "mc_phase", "gc_phase", "mc_gc_weights", "connectivity"):
        assert (res[key].dtype, res[key].shape) == (run[key].dtype, run[key].shape), key
    np.testing.assert_equal(res["connectivity"], run["connectivity"])   # drawn alike
    # independently of `board compare`: the fixed-point network on the same fold
    with np.load(d / "w.npz") as w:
        net = FixedNetwork(w["weights"], n_gc=32, connectivity=res["connectivity"])
    net.fit(np.load(d / "train.npy"), duration=50, rinse=50)
    ref = net.process(np.load(d / "data.npy"), duration=50, rinse=50)
    np.testing.assert_equal(res["gc_phase"], ref.gc_phase)
    np.testing.assert_equal(res["mc_phase"], ref.mc_phase)
    np.testing.assert_equal(res["et"], ref.et)
    np.testing.assert_equal(res["mc_gc_weights"], net.mc_gc_weights)
    assert np.count_nonzero(res["gc_phase"]) and (res["mc_gc_weights"] == 30).any()
    from hetq.boards.client import sensor_codes
    np.testing.assert_equal(res["train_sensor_codes"],
                            sensor_codes(np.load(d / "train.npy"), CONFIG.quantizer.fmt))
    params = json.loads(str(res["params"]))
    assert (params["train_samples"], params["connectivity"], params["prop"],
            params["seed"]) == (8, "random", 0.25, 0)

    compare = ["board", "compare", str(out), "--data", str(d / "data.npy"), "--weights",
               str(d / "w.npz")]
    assert main(compare + ["--train", str(d / "train.npy")]) == 0
    text = capsys.readouterr().out
    assert "448 GC phases: 0 differ; MC->GC weights: 0 differ; connectivity: 0 differ" in text
    assert text.rstrip().endswith("mismatches: 0")

    assert main(compare) == 1
    assert "was trained on 8 samples: give them with --train" in err_of(capsys)
    assert main(compare + ["--train", str(d / "data.npy")]) == 1
    assert "14 samples, the board was trained on 8" in err_of(capsys)

    # tampered results are caught, key by key
    for key, change in (("gc_phase", lambda a: a.__setitem__((3, 5), a[3, 5] + 1)),
                        ("mc_gc_weights", lambda a: a.__setitem__((0, 0), 1.5)),
                        ("connectivity", lambda a: a.__setitem__((1, 1), ~a[1, 1])),
                        ("train_sensor_codes", lambda a: a.__setitem__((2, 0), a[2, 0] + 1))):
        bad = dict(res)
        bad[key] = res[key].copy()
        change(bad[key])
        np.savez(tmp_path / "bad.npz", **bad)
        bad_compare = ["board", "compare", str(tmp_path / "bad.npz")] + compare[3:]
        assert main(bad_compare + ["--train", str(d / "train.npy")]) == 1
        assert "results differ from the fixed-point model" in err_of(capsys)


def test_a_connectivity_file(files, url, capsys, tmp_path):
    d = files
    rng = np.random.default_rng(5)
    mask = np.zeros((32, 8), dtype=np.int64)
    for m in range(8):
        mask[rng.permutation(32)[:6], m] = 1
    np.save(tmp_path / "mask.npy", mask)
    out = tmp_path / "board.npz"
    assert main(["board", "run", str(d / "data.npy"), "--port", url, "--weights",
                 str(d / "w.npz"), "--connectivity", str(tmp_path / "mask.npy"), "-q",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    res = np.load(out)
    np.testing.assert_equal(res["connectivity"], mask.astype(bool))
    np.testing.assert_equal(res["mc_gc_weights"][mask.astype(bool)], 25.0)   # no training
    compare = ["board", "compare", str(out), "--data", str(d / "data.npy"), "--weights",
               str(d / "w.npz")]
    assert main(compare) == 1
    assert "ran with a connectivity file" in err_of(capsys)
    assert main(compare + ["--connectivity", str(tmp_path / "mask.npy")]) == 0
    assert capsys.readouterr().out.rstrip().endswith("mismatches: 0")
    assert main(compare + ["--connectivity", str(tmp_path / "mask.npy"), "--train",
                           str(d / "train.npy")]) == 1
    assert "was not trained" in err_of(capsys)


@pytest.mark.parametrize("extra, text", [
    (["--gc", "16"], "--gc 16: the board has 32 GCs"),
    (["--connectivity", "MASK", "--prop", "0.5"], "--prop applies to a random connectivity"),
    (["--connectivity", "MASK", "--seed", "3"], "--seed seeds the random connectivity"),
    (["--connectivity", "WIDE"], "the connectivity has 16 GC rows, the board has 32 GCs"),
    (["--prop", "0.01"], "connects each MC to round(0.32) = 0 GCs"),
    (["--prop", "0.5"], "the connectivity has 128 connections, the board holds 64 synapses"),
])
def test_options_that_do_not_apply_are_refused(files, url, capsys, tmp_path, extra, text):
    np.save(tmp_path / "mask.npy", np.ones((32, 8), dtype=np.int64))
    np.save(tmp_path / "wide.npy", np.ones((16, 8), dtype=np.int64))
    extra = [{"MASK": str(tmp_path / "mask.npy"), "WIDE": str(tmp_path / "wide.npy")}.get(a, a)
             for a in extra]
    assert main(["board", "run", str(files / "data.npy"), "--port", url, "-q",
                 "-o", str(tmp_path / "o.npz")] + extra) == 1
    err = err_of(capsys)
    assert text in err and err.count("\n") == 1
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("option", ["--train", "--connectivity", "--gc", "--prop", "--seed"])
def test_gc_options_on_a_board_without_gc_layer(files, capsys, tmp_path, option):
    value = {"--train": str(files / "train.npy"), "--connectivity": str(tmp_path / "m.npy"),
             "--gc": "32", "--prop": "0.25", "--seed": "1"}[option]
    np.save(tmp_path / "m.npy", np.ones((32, 8), dtype=np.int64))
    with serve_model(DeviceModel(CONFIG.replace(gc=None))) as url:
        assert main(["board", "run", str(files / "data.npy"), "--port", url, "-q",
                     "-o", str(tmp_path / "o.npz")] + [option, value]) == 1
    err = err_of(capsys)
    assert (f"{option} needs a board with a GC layer; this one has none (protocol version 1)"
            in err)


def test_info_names_the_gc_layer(url, capsys):
    assert main(["board", "info", "--port", url]) == 0
    out = capsys.readouterr().out
    assert "hetq link v2: 2 sensors x D = 4 (8 MCs)" in out
    assert "GC layer: 32 GCs, 64 synapses, 32-bit stamps, GC->MC path not built" in out


@pytest.mark.parametrize("argv, text", [
    (["--windows", "2"], "--windows times the GC system's windows: give --gc"),
    (["-D", "4", "--gc", "32", "--samples", "10"], "--samples counts the link's samples of a "
                                                   "system without a GC layer"),
    (["-D", "4", "--gc", "32", "--board-samples", "5"], "--board-samples counts the link's"),
    (["-D", "4", "--gc", "32", "--windows", "0"], "--windows must be at least 1"),
])
def test_bench_refuses_options_that_do_not_apply(argv, text, capsys, tmp_path):
    """Refused before anything is built (``tests/sim/test_board_gc.py`` times the windows)."""
    assert main(["board", "bench", "--build-dir", str(tmp_path), *argv]) == 1
    assert text in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# -- the GC->MC path: `hetq board run --iic W` -------------------------------------------------

IIC_CONFIG = SystemConfig(quantizer=QuantizerConfig(sensors=2, duplication=4),
                          array=MCArrayConfig(mcs=8, hold=100, rinse=50, inhibition=True),
                          gc=GCLayerConfig(mcs=8, gcs=32, synapses=64, hold=100, rinse=50,
                                           iic=True))


@pytest.fixture
def iic_url():
    with serve_model(DeviceModel(IIC_CONFIG)) as u:
        yield u


def test_run_with_the_gc_mc_weight_as_hetq_run_and_compare(files, iic_url, capsys, tmp_path):
    """``--iic -5`` after ``--train``: the keys and the recorded ``iic`` of ``hetq run --iic
    -5``, the phases of FixedNetwork with that weight (which differ from weight 0), and
    ``board compare`` checks the weight and catches a wrong one."""
    d = files
    base = ["board", "run", str(d / "data.npy"), "--port", iic_url, "--weights",
            str(d / "w.npz"), "--train", str(d / "train.npy"), "-q"]
    out, zero_out = tmp_path / "board.npz", tmp_path / "zero.npz"
    assert main(base + ["--iic", "-5", "-o", str(out)]) == 0
    assert "GC->MC weight -5 mV" in capsys.readouterr().out
    assert main(base + ["-o", str(zero_out)]) == 0           # the weight back to 0
    capsys.readouterr()
    res, zero = np.load(out), np.load(zero_out)
    params = json.loads(str(res["params"]))
    assert (params["iic"], params["iic_code"]) == (-5.0, -5 << 16)
    assert json.loads(str(zero["params"]))["iic_code"] == 0
    assert main(["run", str(d / "data.npy"), "--weights", str(d / "w.npz"), "--train",
                 str(d / "train.npy"), "--gc", "32", "--steps", "100", "--iic", "-5", "-q",
                 "-o", str(tmp_path / "run.npz")]) == 0
    capsys.readouterr()
    run = np.load(tmp_path / "run.npz")
    for key in ("et", "mc_phase", "gc_phase", "mc_gc_weights", "connectivity"):
        assert (res[key].dtype, res[key].shape) == (run[key].dtype, run[key].shape), key
    np.testing.assert_equal(res["connectivity"], run["connectivity"])
    assert json.loads(str(run["params"]))["iic"] == params["iic"]
    with np.load(d / "w.npz") as w:
        net = FixedNetwork(w["weights"], n_gc=32, connectivity=res["connectivity"],
                           iic_weight=-5.0)
    net.fit(np.load(d / "train.npy"), duration=100, rinse=50)
    ref = net.process(np.load(d / "data.npy"), duration=100, rinse=50)
    np.testing.assert_equal(res["gc_phase"], ref.gc_phase)
    np.testing.assert_equal(res["mc_phase"], ref.mc_phase)
    np.testing.assert_equal(res["mc_gc_weights"], net.mc_gc_weights)
    assert (res["mc_phase"] != zero["mc_phase"]).any()
    assert (res["gc_phase"] != zero["gc_phase"]).any()

    compare = ["board", "compare", str(out), "--data", str(d / "data.npy"), "--weights",
               str(d / "w.npz"), "--train", str(d / "train.npy")]
    assert main(compare) == 0
    text = capsys.readouterr().out
    assert "GC->MC weight -5 mV: the board's weight code agrees" in text
    assert text.rstrip().endswith("mismatches: 0")
    # the result of weight 0 labelled -5 mV: the phases and the weight code differ
    bad = dict(zero)
    bad["params"] = np.str_(json.dumps({**json.loads(str(zero["params"])), "iic": -5.0}))
    np.savez(tmp_path / "bad.npz", **bad)
    assert main(["board", "compare", str(tmp_path / "bad.npz")] + compare[3:]) == 1
    text = capsys.readouterr()
    assert "the board's weight code differs" in text.out
    assert "results differ from the fixed-point model" in text.err


@pytest.mark.parametrize("extra, text", [
    (["--iic", "2"], "--iic 2: the GC->MC weight is inhibitory and must be <= 0"),
    (["--iic", "-5", "--no-train"], "--iic acts only after training"),
    (["--iic", "-5", "--plain"], "--iic -5: the board has no GC->MC path (its INFO says "
                                 "iic = 0); build it with `hetq build system --gc N --iic`"),
    # (--train is named first: --iic comes with it)
    (["--iic", "-5", "--v1"], "needs a board with a GC layer; this one has none (protocol "
                              "version 1)"),
])
def test_the_gc_mc_weight_refused(files, capsys, tmp_path, extra, text):
    config = {"--plain": CONFIG, "--v1": CONFIG.replace(gc=None)}.get(extra[-1], IIC_CONFIG)
    train = [] if "--no-train" in extra else ["--train", str(files / "train.npy")]
    extra = [a for a in extra if a not in ("--plain", "--v1", "--no-train")]
    with serve_model(DeviceModel(config)) as url:
        assert main(["board", "run", str(files / "data.npy"), "--port", url, "-q",
                     "-o", str(tmp_path / "o.npz")] + train + extra) == 1
    err = err_of(capsys)
    assert text in err and err.count("\n") == 1
    assert not (tmp_path / "o.npz").exists()


def test_info_names_the_gc_mc_path(iic_url, capsys):
    assert main(["board", "info", "--port", iic_url]) == 0
    assert "GC->MC path built" in capsys.readouterr().out
