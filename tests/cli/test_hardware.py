"""The fidelity and compare commands (hetq.cli.hardware): happy paths and one-line errors."""

import csv
import subprocess
import sys

import pytest

from hetq.cli import build_parser
from hetq.sim.kit.cocotb_sim import icarus_available


def parse(*argv):
    return build_parser().parse_args([str(a) for a in argv])


def run(*argv):
    args = parse(*argv)
    args.func(args)


def test_fidelity_one_session(tmp_path, capsys):
    run("fidelity", "--session", "saturation", "-D", 4, "-o", tmp_path, "-q", "--gc-folds", 1)
    out = capsys.readouterr().out
    assert "saturation    uniform           4" in out
    assert "overall" in out and "largest difference" in out
    with open(tmp_path / "fidelity.csv") as f:
        rows = list(csv.DictReader(f))
    modes = {r["mode"] for r in rows}
    assert modes == {"homogeneous", "uniform", "linear", "adaptive-0.25", "adaptive-0.5"}
    assert sum(r["mode"] == "homogeneous" for r in rows) == 11         # 10 gains + pooled
    assert all(float(r["equal_fraction"]) >= 0.999 for r in rows)
    assert (tmp_path / "fidelity.png").stat().st_size > 1000
    assert "GC layer of the fixed-point network" in out
    with open(tmp_path / "gc_fidelity.csv") as f:
        gc = list(csv.DictReader(f))
    assert {r["condition"] for r in gc} == {"homogeneous", "uniform", "scaled", "adaptive"}
    assert all(r["folds"] == "1" and r["duplication"] == "4" for r in gc)
    assert sum(int(r["gc_phases"]) for r in gc) == 14336 * 13     # 112 test samples x 128 GCs
    assert all(float(r["gc_equal_fraction"]) >= 0.999 and int(r["gc_active"]) > 0 for r in gc)
    assert all(float(r["weights_equal_fraction"]) >= 0.999 for r in gc)
    assert (tmp_path / "gc_fidelity.png").stat().st_size > 1000


@pytest.mark.parametrize("argv, message", [
    (("--gc-folds", 9), "--gc-folds must be in 0..8"),
    (("--sensor-bits", 12), "--sensor-bits applies to the MC table only"),
    (("--gc-folds", 0, "-j", 2), "--jobs applies to the GC table"),
])
def test_fidelity_refuses(tmp_path, argv, message):
    proc = subprocess.run([sys.executable, "-m", "hetq", "fidelity", "-o", str(tmp_path),
                           *map(str, argv)], capture_output=True, text=True)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "fidelity.csv").exists()


def test_compare_amaranth(tmp_path, capsys):
    run("compare", "quantizer", "--vectors", 25, "--seed", 3, "--sim", "amaranth", "-D", 4,
        "--stall", 0.2, "--build-dir", tmp_path)
    out = capsys.readouterr().out
    assert "mismatches: 0" in out and "25 samples, 800 MC outputs" in out
    assert "cycles per sample:" in out


@pytest.mark.skipif(not icarus_available(), reason="Icarus Verilog is not installed")
def test_compare_mc_array_icarus(tmp_path, capsys):
    run("compare", "mc-array", "--vectors", 4, "--seed", 2, "--sim", "icarus", "-D", 2,
        "--lanes", 2, "--hold", 50, "--rinse", 50, "--stall", 0.1, "--build-dir", tmp_path)
    out = capsys.readouterr().out
    assert out.startswith("design: SensorMCArrayConfig(quantizer=QuantizerConfig(sensors=8, "
                          "duplication=2, fmt=default, norm_lanes=8), array=MCArrayConfig(mcs=16, "
                          "lanes=2, hold=50, rinse=50, fmt=default, step_bits=32, "
                          "inhibition=False))\n")
    assert "MC array 8 sensors x D = 2 (16 MCs, 2 lanes), hold 50 + rinse 50 steps, " \
           "inhibition off, under icarus: 4 samples" in out
    assert "mismatches: 0" in out and "spikes: " in out
    assert "state write-backs: 3200 (6400 MC states compared, 0 differ; 4 window hashes " \
           "compared, 0 differ)" in out
    assert "quantizer equivalence: 128 gamma-cycle phases" in out and "0 differ" in out
    assert "(nominal 1800); per step" in out and "(nominal 18); per gamma cycle" in out
    assert (tmp_path / "mc_array_icarus_8x2_n8_l2_h50_r50").is_dir()
    png = tmp_path / "mc_array_icarus_raster.png"
    assert f"-> {png}" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_mc_array_compact(tmp_path, capsys):
    """--compact compares the compact pipeline (in its own bench folder); the quantizer and
    the GC layer refuse it."""
    run("compare", "mc-array", "--vectors", 3, "--seed", 4, "--sim", "amaranth", "-D", 1,
        "--hold", 50, "--rinse", 50, "--stall", 0.1, "--compact", "-q", "--build-dir", tmp_path)
    out = capsys.readouterr().out
    assert out.startswith("design: SensorMCArrayConfig(") and "compact=True))\n" in out
    assert "mismatches: 0" in out and "(nominal 801); per step" in out
    assert "(nominal 8); per gamma cycle" in out
    assert (tmp_path / "mc_array_amaranth_8x1_n8_l1_h50_r50_compact").is_dir()
    for block in ("quantizer", "gc-layer"):
        with pytest.raises(ValueError, match=f"--compact applies to mc-array, not {block}"):
            run("compare", block, "--vectors", 1, "--compact", "--build-dir", tmp_path)


def test_compare_mc_array_mismatch_is_a_one_line_error(monkeypatch, capsys):
    import hetq.regression.mc_array
    from hetq.cli.common import CommandError
    from hetq.regression.mc_array import ArrayCompareReport

    def fake(vectors, seed, config, **kwargs):
        return ArrayCompareReport(
            config=config, simulator=kwargs["simulator"], stall=0.0, samples=vectors, writes=0,
            spikes=10,
            event_mismatches=1, states=0, state_mismatches=0, windows=2, hash_mismatches=1,
            writebacks=6400, phases=0, phase_mismatches=0, cycles_per_sample=1601.0,
            cycles_per_step=16.01, nominal_cycles_per_step=16, nominal_cycles_per_cycle=800,
            nominal_cycles_per_sample=1601, seconds=0.1,
            examples=[(0, "missing event", 3, None, (7, 2)),
                      (1, "window hash", 0, "00000000000000aa", "00000000000000ab")])

    monkeypatch.setattr(hetq.regression.mc_array, "compare_mc_array", fake)
    with pytest.raises(CommandError, match="^2 mismatches against the golden model "
                                           r"\(events 1, states 0, window hashes 1, "):
        run("compare", "mc-array", "--vectors", 2, "--inhibition", "-q")
    out = capsys.readouterr().out
    assert "quantizer equivalence: not checked" in out
    assert "  chunk 0 missing event 3: got None, expected (7, 2)" in out
    assert "  chunk 1 window hash 0: got 00000000000000aa, expected 00000000000000ab" in out


@pytest.mark.parametrize("argv", [
    ["build", "mc-array", "--board", "icebreaker", "--mcs", "0"],
    ["build", "mc-array", "--board", "icebreaker", "--lanes", "two"],
    ["build", "mc-array"],
    ["build", "fifo", "--board", "ulx3s"],
    ["compare", "quantizer", "--vectors", "0"],
    ["compare", "quantizer", "--stall", "1.5"],
    ["compare", "quantizer", "--sim", "xsim"],
    ["compare", "mc-array", "--hold", "0"],
    ["compare", "mc-array", "--rinse", "-50"],
    ["compare", "mc-array", "--lanes", "two"],
    ["compare", "neurons"],
    ["build", "quantizer", "--board", "de0"],
    ["fidelity", "-D", "0"],
])
def test_argument_errors(argv):
    with pytest.raises(SystemExit) as e:
        parse(*argv)
    assert e.value.code == 2


def test_bad_sizes_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="duplication must be in \\[1, 1024\\], not 2000"):
        run("compare", "quantizer", "--vectors", 2, "--sim", "amaranth", "-D", 2000,
            "--build-dir", tmp_path)
    with pytest.raises(ValueError, match="sensor_bits must be in \\[1, 32\\], not 40"):
        run("compare", "quantizer", "--vectors", 2, "--sensor-bits", 40)


def test_mc_array_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="--lanes applies to mc-array and gc-layer, not "
                                         "quantizer"):
        run("compare", "quantizer", "--lanes", 2, "--vectors", 2)
    with pytest.raises(ValueError, match="--inhibition applies to mc-array, not quantizer"):
        run("compare", "quantizer", "--inhibition", "--vectors", 2)
    with pytest.raises(ValueError, match="hold must be a multiple of 50 steps, not 60"):
        run("compare", "mc-array", "--hold", 60, "--vectors", 2, "--build-dir", tmp_path)
    with pytest.raises(ValueError, match="lanes must be a power of two that divides mcs"):
        run("compare", "mc-array", "--lanes", 3, "--vectors", 2, "--build-dir", tmp_path)


def test_compare_refuses_a_busy_build_dir(tmp_path):
    from hetq.golden.fixed.quantizer import QuantizerConfig

    from hetq.regression import exclusive
    from hetq.regression.quantizer import compare_quantizer
    busy = tmp_path / "amaranth_8x4_n8"
    busy.mkdir()
    with exclusive(busy):
        with pytest.raises(ValueError, match="another run is using"):
            compare_quantizer(2, 0, QuantizerConfig(sensors=8, duplication=4),
                              simulator="amaranth", build_dir=tmp_path)


def test_compare_prints_the_design_it_verifies(tmp_path, capsys):
    run("compare", "quantizer", "--vectors", 3, "--sim", "amaranth", "-D", 4, "--norm-lanes", 4,
        "--build-dir", tmp_path, "-q")
    out = capsys.readouterr().out
    assert out.startswith("design: QuantizerConfig(sensors=8, duplication=4, fmt=default, "
                          "norm_lanes=4)\n")
    assert "mismatches: 0" in out


def test_compare_and_build_default_to_the_same_design():
    from hetq.golden.fixed.mc_array import SensorMCArrayConfig
    from hetq.golden.fixed.quantizer import QuantizerConfig

    from hetq.cli.common import quantizer_config, sensor_mc_array_config

    built = quantizer_config(parse("build", "quantizer", "--board", "icebreaker"))
    verified = quantizer_config(parse("compare", "quantizer"))
    assert built == verified == QuantizerConfig() and built.norm_lanes == 2
    array = sensor_mc_array_config(parse("compare", "mc-array"))
    assert array == SensorMCArrayConfig()


@pytest.mark.parametrize("sim, text", [
    ("icarus", "Icarus Verilog (iverilog, vvp) is not installed; run `make iverilog`"),
    ("cocotb", "Icarus Verilog (iverilog, vvp) is not installed; run `make iverilog`"),
])
def test_a_missing_simulator_is_a_one_line_error(tmp_path, sim, text):
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}        # no iverilog on this PATH
    r = subprocess.run([sys.executable, "-m", "hetq", "compare", "quantizer", "--vectors", "2",
                        "--sim", sim, "-D", "2", "--build-dir", str(tmp_path), "-q"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hetq compare: error: ") and text in lines[0]
