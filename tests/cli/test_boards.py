"""The build and report commands (hetq.cli.boards): reports, option checks, one-line errors."""

import json
import re
import subprocess
import sys

import pytest

from hetq.cli import build_parser
from hetq.io import InputError


def parse(*argv):
    return build_parser().parse_args([str(a) for a in argv])


def run(*argv):
    args = parse(*argv)
    args.func(args)


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
    (["-D", 4], "--duplication applies to quantizer and system, not mc-array"),
    (["--datapath", "serial"], "--datapath applies to quantizer and system, not mc-array"),
])
def test_build_mc_array_bad_sizes(tmp_path, argv, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        run("build", "mc-array", "--board", "icebreaker", "-o", tmp_path, *argv)
    assert not any(tmp_path.iterdir())


def test_build_quantizer_rejects_mc_array_options(tmp_path):
    with pytest.raises(ValueError,
                       match="--inhibition applies to mc-array and gc-layer, not quantizer"):
        run("build", "quantizer", "--board", "ulx3s", "--inhibition", "-o", tmp_path)


def test_build_error_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "hetq", "build", "mc-array", "--board",
                        "icebreaker", "--lanes", "3", "-o", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("hetq build: error: lanes must be a power of two that divides mcs "
                        "(256), not 3\n")


def test_wired_into_the_hetq_command(tmp_path):
    """`hetq` itself knows the commands (hetq/cli registers every group)."""
    r = subprocess.run([sys.executable, "-m", "hetq", "report", "--root", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("hetq report: error: no build reports under")


def test_build_refuses_the_old_lanes_meaning(tmp_path):
    """Normaliser dividers are --norm-lanes; --lanes is the MC array's."""
    with pytest.raises(ValueError,
                       match="--lanes applies to mc-array and gc-layer, not quantizer"):
        run("build", "quantizer", "--board", "icebreaker", "--lanes", 2, "-o", tmp_path)
    with pytest.raises(ValueError, match="--norm-lanes applies to quantizer, not mc-array"):
        run("build", "mc-array", "--board", "icebreaker", "--norm-lanes", 2, "-o", tmp_path)
    with pytest.raises(ValueError, match="--gcs applies to gc-layer, not mc-array"):
        run("build", "mc-array", "--board", "icebreaker", "--gcs", 64, "-o", tmp_path)


def test_build_gc_options_belong_to_the_system(tmp_path):
    """--gc and --prop size the system's GC layer: refused for a block in a harness; on the
    system they reach its configuration (the GC layer's harness has --gcs)."""
    for block in ("quantizer", "mc-array", "gc-layer"):
        with pytest.raises(ValueError, match=f"--gc applies to system, not {block}"):
            run("build", block, "--board", "ulx3s", "--gc", 64, "-o", tmp_path)
        with pytest.raises(ValueError, match=f"--prop applies to system, not {block}"):
            run("build", block, "--board", "ulx3s", "--prop", 0.5, "-o", tmp_path)
    from hetq.cli.common import system_design

    config, _, _ = system_design(parse("build", "system", "--board", "ulx3s", "-D", 4,
                                       "--gc", 64, "--prop", 0.5))
    assert (config.gc.gcs, config.gc.synapses, config.gc.hold) == (64, 32 * 32, 250)
    config, _, _ = system_design(parse("build", "system", "--board", "ulx3s", "--gc"))
    assert config.gc.gcs == 4 * 256 and config.version == 2


def test_build_compact_applies_to_the_mc_array_and_the_gc_layer(tmp_path):
    """--compact (the area-first pipelines) selects the MC array's or the GC layer's; it is
    refused for the other blocks and for the GC layer with --inhibition, before any tool
    runs (the iCEBreaker's system has them by its board's choice)."""
    from hetq.cli.common import gc_layer_config, mc_array_config
    from hetq.golden.fixed.mc_array import MCArrayConfig

    args = parse("build", "mc-array", "--board", "icebreaker", "--mcs", 8, "--compact")
    assert mc_array_config(args) == MCArrayConfig(mcs=8, compact=True)
    assert not mc_array_config(parse("build", "mc-array", "--board", "icebreaker")).compact
    for block in ("quantizer", "system"):
        with pytest.raises(ValueError,
                           match=f"--compact applies to mc-array and gc-layer, not {block}"):
            run("build", block, "--board", "icebreaker", "--compact", "-o", tmp_path)
    with pytest.raises(ValueError, match="compact pipelines .* not built with the GC->MC"):
        run("build", "gc-layer", "--board", "ulx3s", "--compact", "--inhibition",
            "-o", tmp_path)
    args = parse("build", "gc-layer", "--board", "icebreaker", "--spram", "--compact")
    assert gc_layer_config(args).compact and gc_layer_config(args).spram
    assert not gc_layer_config(parse("build", "gc-layer", "--board", "icebreaker")).compact
    assert not list(tmp_path.iterdir())
