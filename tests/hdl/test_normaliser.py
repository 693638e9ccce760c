"""The Normaliser in Amaranth's simulator against golden.fixed.normaliser.normalise."""

import numpy as np
import pytest

from hetq.golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from hetq.golden.fixed.normaliser import NormaliserConfig, normalise
from hetq.hdl.normaliser import Normaliser
from hetq.sim.normaliser.amaranth_bench import run_normaliser_amaranth
from hetq.sim.normaliser.stimulus import edge_samples, random_samples


@pytest.mark.parametrize("sensors, lanes, bits", [(8, 8, 16), (8, 2, 16), (3, 1, 8), (1, 1, 16)])
def test_matches_golden_with_random_flow_control(sensors, lanes, bits):
    fmt = FixedFormat(sensor_bits=bits)
    rng = np.random.default_rng(sensors * 100 + lanes)
    s = np.concatenate([edge_samples(sensors, fmt), random_samples(rng, 24, sensors, fmt)])
    config = NormaliserConfig(sensors=sensors, fmt=fmt, lanes=lanes)
    _, out = run_normaliser_amaranth(config, s, seed=lanes, stall=0.3)
    np.testing.assert_equal(np.array([o for _, o in out]), normalise(s, fmt))


def test_declared_latency_and_period():
    config = NormaliserConfig(sensors=8, lanes=2)
    dut = Normaliser(config)
    s = random_samples(np.random.default_rng(0), 5, 8, DEFAULT_FORMAT)
    taken, out = run_normaliser_amaranth(config, s, seed=0, stall=0.0, dut=dut)
    assert out[0][0] - taken[0] == dut.latency == config.latency
    assert out[1][0] - out[0][0] == dut.period == config.period
    assert dut.latency == 8 + 2 + 4 * 2 * 21


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"sensors": 0}, ValueError, "sensors must be in [1, 64], not 0"),
    ({"sensors": "8"}, TypeError, "sensors must be an integer, not '8'"),
    ({"sensors": 8, "lanes": 3}, ValueError, "lanes must divide sensors (8), not 3"),
    ({"sensors": 8, "lanes": 2.0}, TypeError, "lanes must be an integer"),
    ({"sensors": 8, "fmt": (16, 20)}, TypeError, "fmt must be a FixedFormat, not tuple"),
])
def test_parameter_errors(kwargs, exc, text):
    with pytest.raises(exc) as e:
        NormaliserConfig(**kwargs)
    assert text in str(e.value)
    with pytest.raises(TypeError, match="config must be a NormaliserConfig, not dict"):
        Normaliser(kwargs)
