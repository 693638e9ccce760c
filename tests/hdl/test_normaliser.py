"""The Normaliser in Amaranth's simulator against golden.fixed.normalise."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hetq.golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from hetq.golden.fixed.normaliser import normalise
from hetq.hdl.normaliser import Normaliser
from hetq.sim.amaranth_bench import stream_sink, stream_source
from hetq.sim.stimulus import edge_samples, random_samples


def run(dut, samples, seed, stall):
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    taken, outputs = [], []
    rows = [[int(v) for v in r] for r in samples]

    async def source(ctx):
        await stream_source(ctx, dut.i, rows, rng_in, stall, taken)

    async def sink(ctx):
        await stream_sink(ctx, dut.o, len(rows), rng_out, stall,
                          lambda p: [int(v) for v in p], outputs, 100 * dut.period * len(rows))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return taken, outputs


@pytest.mark.parametrize("sensors, lanes, bits", [(8, 8, 16), (8, 2, 16), (3, 1, 8), (1, 1, 16)])
def test_matches_golden_with_random_flow_control(sensors, lanes, bits):
    fmt = FixedFormat(sensor_bits=bits)
    rng = np.random.default_rng(sensors * 100 + lanes)
    s = np.concatenate([edge_samples(sensors, fmt), random_samples(rng, 24, sensors, fmt)])
    dut = Normaliser(sensors=sensors, fmt=fmt, lanes=lanes)
    _, out = run(dut, s, seed=lanes, stall=0.3)
    np.testing.assert_equal(np.array([o for _, o in out]), normalise(s, fmt))


def test_declared_latency_and_period():
    dut = Normaliser(sensors=8, lanes=2)
    s = random_samples(np.random.default_rng(0), 5, 8, DEFAULT_FORMAT)
    taken, out = run(dut, s, seed=0, stall=0.0)
    assert out[0][0] - taken[0] == dut.latency
    assert out[1][0] - out[0][0] == dut.period
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
        Normaliser(**kwargs)
    assert text in str(e.value)
