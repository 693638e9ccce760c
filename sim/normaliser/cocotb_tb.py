"""cocotb bench of the :class:`~hetq.hdl.normaliser.Normaliser` on its generated Verilog.

Settings come from the .npz named by ``HETQ_BENCH`` (``samples``, ``config`` as JSON,
``seed``, ``stall``): samples are offered with seeded random idle cycles, ``o.ready`` follows
a seeded random pattern, and every result is compared with
:func:`hetq.golden.fixed.normaliser.normalise`.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from hetq.golden.fixed.normaliser import NormaliserConfig, normalise
from hetq.sim.kit.cocotb_sim import StreamSink, StreamSource
from hetq.sim.kit.events import cycle_budget
from hetq.sim.kit.verilog import pack_array, unpack_array

__all__ = ["run_normaliser"]


async def run_normaliser(dut, path):
    with np.load(path) as z:
        samples = z["samples"]
        config = NormaliserConfig.from_dict(json.loads(str(z["config"])))
        seed, stall = int(z["seed"]), float(z["stall"])
    fmt, sensors = config.fmt, config.sensors
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    words = [pack_array(row, fmt.sensor_bits) for row in samples]
    taken, outputs = [], []
    timeout = cycle_budget(config.period, len(words), stall=stall)
    send = cocotb.start_soon(source.send(words, rng_in, stall, [0] * len(words), taken))
    await sink.receive(len(words), rng_out, stall, outputs, timeout)
    await send
    got = np.array([unpack_array(word, fmt.x_bits, sensors) for _, word in outputs],
                   dtype=np.int64).reshape(-1, sensors)
    np.testing.assert_equal(got, normalise(samples, fmt))


@cocotb.test()
async def normaliser_matches_golden_model(dut):
    await run_normaliser(dut, os.environ["HETQ_BENCH"])
