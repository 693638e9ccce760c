"""``compare_gc_layer`` and ``hetq compare gc-layer``: the GC layer's RTL under the file-driven
Verilog bench (Verilator and Icarus) against the golden model, its figures, and its checks
failing on wrong results."""

import pytest

from hetq.cli import main
from hetq.golden.fixed.gc_layer import GCLayerConfig
from hetq.regression.gc_layer import compare_gc_layer
from hetq.sim.kit.cocotb_sim import icarus_available
from hetq.sim.kit.filebench import verilator_root

SMALL = GCLayerConfig(mcs=16, gcs=48, synapses=192, hold=100, rinse=50)


@pytest.mark.skipif(verilator_root() is None, reason="Verilator is not installed")
def test_verilator_run_matches_and_measures(tmp_path):
    rep = compare_gc_layer(8, 3, SMALL, simulator="verilator", stall=0.1, build_dir=tmp_path,
                           chunk=4)
    assert rep.mismatches == 0 and rep.chunks == 2 and rep.samples == 8
    assert rep.spikes > 50 and rep.weights > 0
    assert rep.trained == 6
    # learning on: every synapse and every GC once per step, plus a bounded overhead
    used = rep.synapses_used + SMALL.gcs
    assert used <= rep.fit_cycles_per_step <= used + 64
    assert rep.process_cycles_per_step < rep.fit_cycles_per_step


@pytest.mark.skipif(not icarus_available(), reason="Icarus Verilog is not installed")
@pytest.mark.parametrize("lanes", [1, 3])
def test_icarus_run_matches(tmp_path, lanes):
    rep = compare_gc_layer(3, 5, GCLayerConfig(mcs=8, gcs=16, synapses=64, hold=50, rinse=50,
                                               lanes=lanes),
                           simulator="icarus", stall=0.2, build_dir=tmp_path)
    assert rep.mismatches == 0 and rep.spikes > 0


@pytest.mark.skipif(verilator_root() is None, reason="Verilator is not installed")
def test_verilator_run_with_the_gc_mc_path(tmp_path, monkeypatch):
    """With the GC->MC path at -40 mV: every current the layer emits equals the model's (and
    one tampered current is reported)."""
    config = GCLayerConfig(mcs=8, gcs=16, synapses=64, hold=100, rinse=50, iic=True)
    code = -(40 << config.fmt.drive_frac)
    rep = compare_gc_layer(4, 4, config, simulator="verilator", stall=0.1,
                           build_dir=tmp_path, iic_weight=code)
    assert rep.mismatches == 0 and rep.currents == (1 + 4 * config.window) * config.mcs
    from hetq.sim.gc_layer import stimulus
    real = stimulus.expected_gc

    def tampered(stim):
        exp = real(stim)
        exp.iic = exp.iic.copy()
        exp.iic[-5, 3] += 1
        return exp

    monkeypatch.setattr(stimulus, "expected_gc", tampered)
    rep = compare_gc_layer(4, 4, config, simulator="verilator", build_dir=tmp_path,
                           iic_weight=code)
    assert rep.current_mismatches == 1 and rep.event_mismatches == rep.weight_mismatches == 0
    with pytest.raises(ValueError, match="needs a layer with the GC->MC path"):
        compare_gc_layer(2, 0, config.replace(iic=False), build_dir=tmp_path,
                         iic_weight=code)


@pytest.mark.skipif(verilator_root() is None, reason="Verilator is not installed")
def test_a_wrong_expectation_is_reported(tmp_path, monkeypatch):
    """The comparison must see one GC spike moved and one weight changed in the model."""
    from hetq.sim.gc_layer import stimulus
    real = stimulus.expected_gc

    def tampered(stim):
        exp = real(stim)
        exp.events = exp.events.copy()
        exp.events[0, 0] += 1
        exp.weights = exp.weights.copy()
        exp.weights[-1, 0] ^= 1
        return exp

    monkeypatch.setattr(stimulus, "expected_gc", tampered)
    rep = compare_gc_layer(3, 3, SMALL, simulator="verilator", build_dir=tmp_path)
    assert rep.event_mismatches >= 1 and rep.weight_mismatches == 1
    kinds = {e[1] for e in rep.examples}
    assert "weight" in kinds and kinds & {"missing event", "extra event", "event"}


def test_refused_arguments(tmp_path):
    with pytest.raises(ValueError, match="run under amaranth, icarus, verilator"):
        compare_gc_layer(2, 0, SMALL, simulator="cocotb", build_dir=tmp_path)
    with pytest.raises(TypeError, match="GCLayerConfig"):
        compare_gc_layer(2, 0, object(), build_dir=tmp_path)
    with pytest.raises(ValueError, match="prop 0.5 connects 384 synapses but the layer "
                                         "holds 192"):
        compare_gc_layer(2, 0, SMALL, simulator="verilator", build_dir=tmp_path, prop=0.5)
    with pytest.raises(ValueError, match=r"the GC->MC path \(iic\) is built for one lane"):
        compare_gc_layer(2, 0, GCLayerConfig(gcs=64, lanes=2, mcs=8, synapses=64, iic=True),
                         simulator="verilator", build_dir=tmp_path)


@pytest.mark.skipif(verilator_root() is None, reason="Verilator is not installed")
@pytest.mark.parametrize("spram", [False, True])
def test_cli(tmp_path, capsys, spram):
    """Also with ``--spram``: the synapse tables in the SPRAM banks (the cell's twin), as
    ``hetq build gc-layer --spram`` builds them."""
    assert main(["compare", "gc-layer", "--vectors", "3", "--mcs", "8", "--gcs", "16",
                 "--synapses", "64", "--hold", "50", "--sim", "verilator", "--build-dir",
                 str(tmp_path), "-q", *(["--spram"] if spram else [])]) == 0
    out = capsys.readouterr().out
    assert "design: GCLayerConfig(mcs=8, gcs=16, synapses=64" in out
    assert f"spram={spram}, compact=False)" in out
    assert "mismatches: 0" in out and "cycles per step: learning on" in out


@pytest.mark.parametrize("argv, message", [
    (["-D", "4"], "--duplication applies to quantizer and mc-array, not gc-layer"),
    (["--inhibition"], "--inhibition applies to mc-array, not gc-layer"),
    (["--no-writes"], "--no-writes applies to quantizer and mc-array"),
    (["--iic", "5"], "--iic 5: the GC->MC weight is inhibitory, in [-64, 0] mV"),
    (["--spram", "--iic", "-1"], "(spram) and the GC->MC path (iic) are not verified "
                                 "together"),
])
def test_cli_refuses(argv, message, capsys):
    assert main(["compare", "gc-layer", *argv]) == 1
    assert message in capsys.readouterr().err


def test_cli_refuses_gc_options_for_other_blocks(capsys):
    assert main(["compare", "quantizer", "--gcs", "4"]) == 1
    assert "--gcs applies to gc-layer, not quantizer" in capsys.readouterr().err
    assert main(["compare", "mc-array", "--iic", "-1"]) == 1
    assert "--iic applies to gc-layer, not mc-array" in capsys.readouterr().err
    assert main(["compare", "mc-array", "--prop", "0.25"]) == 1
    assert "--prop applies to gc-layer, not mc-array" in capsys.readouterr().err
    assert main(["compare", "quantizer", "--spram"]) == 1
    assert "--spram applies to gc-layer, not quantizer" in capsys.readouterr().err


def test_prop_masks_are_the_papers_connectivity():
    from hetq.sim.gc_layer.stimulus import make_gc_stimulus

    stim = make_gc_stimulus(1, SMALL, 1, prop=0.25)
    assert (stim.mask.sum(axis=0) == 12).all() and stim.mask.sum() <= SMALL.synapses
