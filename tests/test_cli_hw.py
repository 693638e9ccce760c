"""The hardware subcommands (hetq.cli_hw): happy paths and one-line errors."""

import argparse
import csv
import json
import re
import subprocess
import sys

import pytest

from hetq.cli_hw import add_commands
from hetq.io import InputError
from hetq.sim.cocotb_runner import icarus_available


def parse(*argv):
    p = argparse.ArgumentParser(prog="hetq")
    sub = p.add_subparsers(dest="command", required=True)
    add_commands(sub)
    return p.parse_args([str(a) for a in argv])


def run(*argv):
    args = parse(*argv)
    args.func(args)


def test_fidelity_one_session(tmp_path, capsys):
    run("fidelity", "--session", "saturation", "-D", 4, "-o", tmp_path, "-q")
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


def test_compare_amaranth(tmp_path, capsys):
    run("compare", "quantizer", "--vectors", 25, "--seed", 3, "--sim", "amaranth", "-D", 4,
        "--stall", 0.2, "--build-dir", tmp_path)
    out = capsys.readouterr().out
    assert "mismatches: 0" in out and "25 samples, 800 MC outputs" in out
    assert "cycles per sample:" in out


@pytest.mark.skipif(not icarus_available(), reason="Icarus Verilog is not installed")
def test_compare_mc_array_icarus(tmp_path, capsys):
    run("compare", "mc-array", "--vectors", 4, "--seed", 2, "--sim", "icarus", "-D", 2,
        "--lanes", 2, "--stall", 0.1, "--build-dir", tmp_path)
    out = capsys.readouterr().out
    assert "MC array 8 sensors x D = 2 (16 MCs, 2 lanes), hold 50 + rinse 50 steps, " \
           "inhibition off, under icarus: 4 samples" in out
    assert "mismatches: 0" in out and "spikes: " in out
    assert "state write-backs: 3200 (6400 MC states compared, 0 differ; 4 window hashes " \
           "compared, 0 differ)" in out
    assert "quantizer equivalence: 128 gamma-cycle phases" in out and "0 differ" in out
    assert "(nominal 1800); per step" in out and "(nominal 18); per gamma cycle" in out
    assert (tmp_path / "mc_array_icarus_8x2_l2_h50_r50").is_dir()
    png = tmp_path / "mc_array_icarus_raster.png"
    assert f"-> {png}" in out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_mc_array_mismatch_is_a_one_line_error(monkeypatch, capsys):
    import hetq.hardware
    from hetq.cli import CommandError
    from hetq.hardware import ArrayCompareReport

    def fake(vectors, seed, **kwargs):
        return ArrayCompareReport(
            simulator=kwargs["simulator"], sensors=8, duplication=4, lanes=1, hold=50,
            rinse=50, inhibition=True, stall=0.0, samples=vectors, writes=0, spikes=10,
            event_mismatches=1, states=0, state_mismatches=0, windows=2, hash_mismatches=1,
            writebacks=6400, phases=0, phase_mismatches=0, cycles_per_sample=1601.0,
            cycles_per_step=16.01, nominal_cycles_per_step=16, nominal_cycles_per_cycle=800,
            nominal_cycles_per_sample=1601, seconds=0.1,
            examples=[(0, "missing event", 3, None, (7, 2)),
                      (1, "window hash", 0, "00000000000000aa", "00000000000000ab")])

    monkeypatch.setattr(hetq.hardware, "compare_mc_array", fake)
    with pytest.raises(CommandError, match="^2 mismatches against the golden model "
                                           r"\(events 1, states 0, window hashes 1, "):
        run("compare", "mc-array", "--vectors", 2, "--inhibition", "-q")
    out = capsys.readouterr().out
    assert "quantizer equivalence: not checked" in out
    assert "  chunk 0 missing event 3: got None, expected (7, 2)" in out
    assert "  chunk 1 window hash 0: got 00000000000000aa, expected 00000000000000ab" in out


def test_report_reads_builds(tmp_path, capsys):
    d = tmp_path / "icebreaker"
    d.mkdir()
    (d / "top.report.json").write_text(json.dumps({
        "fmax": {"clk": {"achieved": 62.5, "constraint": 60.0}},
        "utilization": {"ICESTORM_LC": {"used": 3000, "available": 5280}}}))
    (d / "hetq_build.json").write_text(json.dumps({"board": "icebreaker", "sensors": 8,
                                                   "duplication": 32}))
    run("report", "--root", tmp_path)
    out = capsys.readouterr().out
    assert "8 sensors x D = 32" in out and "Fmax 62.5 MHz" in out


def test_report_without_builds(tmp_path):
    with pytest.raises(InputError, match="no build reports under"):
        run("report", "--root", tmp_path)


def test_report_shows_mc_array_rates(tmp_path, capsys):
    d = tmp_path / "mc-array" / "ulx3s"                 # as `hetq build mc-array` makes
    d.mkdir(parents=True)
    (d / "top.report.json").write_text(json.dumps({
        "fmax": {"clk": {"achieved": 140.8, "constraint": 130.0}},
        "utilization": {"DP16KD": {"used": 2, "available": 208}}}))
    (d / "hetq_build.json").write_text(json.dumps({
        "board": "ulx3s", "block": "mc-array", "mcs": 256, "lanes": 2, "hold": 250,
        "rinse": 50, "inhibition": True, "cycles_per_step": 128, "cycles_per_cycle": 6400,
        "cycles_per_sample": 38401}))
    run("report", "--root", tmp_path)
    out = capsys.readouterr().out
    assert "MC array 256 MCs, 2 lanes, hold 250, rinse 50, inhibition" in out
    assert "cycles per step 128, per 50-step gamma cycle 6400, per sample 38401" in out
    assert "1,100,000 steps/s, 22,000 gamma cycles/s" in out and "1,100x real time" in out


@pytest.mark.parametrize("argv, message", [
    (["--lanes", 3], "lanes must be a power of two that divides mcs (256), not 3"),
    (["--mcs", 96, "--lanes", 64], "lanes must be a power of two that divides mcs (96), not 64"),
    (["--hold", 60], "hold must be a multiple of 50 steps, not 60"),
    (["--mcs", 70000], "mcs must be in [1, 65536], not 70000"),
    (["-D", 4], "--duplication applies to quantizer, not mc-array"),
])
def test_build_mc_array_bad_sizes(tmp_path, argv, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run("build", "mc-array", "--board", "icebreaker", "-o", tmp_path, *argv)
    assert not any(tmp_path.iterdir())


def test_build_quantizer_rejects_mc_array_options(tmp_path):
    with pytest.raises(ValueError, match="--inhibition applies to mc-array, not quantizer"):
        run("build", "quantizer", "--board", "ulx3s", "--inhibition", "-o", tmp_path)


def test_build_error_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "hetq", "build", "mc-array", "--board",
                        "icebreaker", "--lanes", "3", "-o", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("hetq build: error: lanes must be a power of two that divides mcs "
                        "(256), not 3\n")


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
    with pytest.raises(ValueError, match="--lanes applies to mc-array, not quantizer"):
        run("compare", "quantizer", "--lanes", 2, "--vectors", 2)
    with pytest.raises(ValueError, match="--inhibition applies to mc-array, not quantizer"):
        run("compare", "quantizer", "--inhibition", "--vectors", 2)
    with pytest.raises(ValueError, match="hold must be a multiple of 50 steps, not 60"):
        run("compare", "mc-array", "--hold", 60, "--vectors", 2, "--build-dir", tmp_path)
    with pytest.raises(ValueError, match="lanes must be a power of two that divides mcs"):
        run("compare", "mc-array", "--lanes", 3, "--vectors", 2, "--build-dir", tmp_path)


def test_wired_into_the_hetq_command(tmp_path):
    """`hetq` itself knows the commands (hetq/cli.py calls add_commands)."""
    r = subprocess.run([sys.executable, "-m", "hetq", "report", "--root", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("hetq report: error: no build reports under")


def test_compare_refuses_a_busy_build_dir(tmp_path):
    from hetq.hardware import _exclusive, compare_quantizer
    busy = tmp_path / "amaranth_8x4"
    busy.mkdir()
    with _exclusive(busy):
        with pytest.raises(ValueError, match="another run is using"):
            compare_quantizer(2, 0, simulator="amaranth", sensors=8, duplication=4,
                              build_dir=tmp_path)
