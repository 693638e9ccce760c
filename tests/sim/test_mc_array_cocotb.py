"""The MC array's cocotb bench on the generated Verilog under Icarus: every spike, every
state write-back and the state memories at cycle ends against the golden model."""

import numpy as np
import pytest

from hetq.golden.fixed.mc_array import cycle_phases
from hetq.sim.cocotb_runner import (BenchFailure, icarus_available, run_cocotb_array,
                                    run_cocotb_module)
from hetq.sim.mc_array_stimulus import (build_array_dut, expected_array, make_array_stimulus,
                                        save_array_stimulus)

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


@pytest.mark.parametrize("sensors, duplication, lanes, inhibition, n, stall", [
    (8, 4, 1, False, 16, 0.0),
    (8, 4, 4, True, 8, 0.25),
    (3, 4, 2, True, 8, 0.1),
    (2, 2, 4, False, 6, 0.3),
])
def test_cocotb_mc_array(tmp_path, sensors, duplication, lanes, inhibition, n, stall):
    stim = make_array_stimulus(300 + lanes, n, sensors=sensors, duplication=duplication,
                               lanes=lanes, hold=100, rinse=50, inhibition=inhibition,
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
    stim = make_array_stimulus(9, 4, sensors=2, duplication=2, hold=50, rinse=0,
                               inhibition=True, writes=False)
    design = build_array_dut(stim)
    stim.quant.weights = stim.quant.weights[::-1].copy()
    assert not np.array_equal(stim.quant.weights, design.weights)
    save_array_stimulus(tmp_path / "bench.npz", stim)
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(design, "sensor_mc_array", "hetq.sim.mc_array_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})
