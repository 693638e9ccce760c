"""The normaliser's cocotb bench on its generated Verilog under Icarus."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import FixedFormat
from hetq.golden.fixed.normaliser import NormaliserConfig
from hetq.sim.kit.cocotb_sim import BenchFailure, icarus_available, run_cocotb_module
from hetq.sim.normaliser.cocotb_bench import run_cocotb_normaliser
from hetq.sim.normaliser.stimulus import edge_samples, random_samples

pytestmark = pytest.mark.skipif(not icarus_available(),
                                reason="Icarus Verilog is not installed (make iverilog)")


@pytest.mark.parametrize("sensors, lanes, bits", [(8, 2, 16), (5, 5, 8)])
def test_cocotb_normaliser(tmp_path, sensors, lanes, bits):
    fmt = FixedFormat(sensor_bits=bits)
    s = np.concatenate([edge_samples(sensors, fmt),
                        random_samples(np.random.default_rng(lanes), 24, sensors, fmt)])
    run_cocotb_normaliser(NormaliserConfig(sensors=sensors, fmt=fmt, lanes=lanes), s, seed=1,
                          stall=0.3, build_dir=tmp_path)


def test_a_wrong_design_fails_the_bench(tmp_path):
    """The bench compares: a design of 2 lanes checked against a bench file that claims 8-bit
    sensors (so its samples are packed differently) must fail."""
    from hetq.hdl.normaliser import Normaliser

    samples = random_samples(np.random.default_rng(0), 6, 4, FixedFormat(sensor_bits=8))
    claimed = NormaliserConfig(sensors=4, fmt=FixedFormat(sensor_bits=8), lanes=2)
    np.savez(tmp_path / "bench.npz", samples=samples, seed=0, stall=0.0,
             config=np.str_(claimed.to_json()))
    with pytest.raises(BenchFailure, match="1 of 1 tests failed"):
        run_cocotb_module(Normaliser(NormaliserConfig(sensors=4, lanes=2)), "normaliser",
                          "hetq.sim.normaliser.cocotb_tb", tmp_path,
                          {"HETQ_BENCH": str(tmp_path / "bench.npz")})
