"""cocotb bench of the phase quantizer (``SensorQuantizer``, or ``PhaseQuantizer`` for
normalised stimulus) on its generated Verilog.

The stimulus and settings come from the .npz named by ``HETQ_BENCH`` (see
:func:`hetq.sim.quantizer.stimulus.save_stimulus`). Samples and table writes are driven on their
streams with seeded random idle cycles, ``o.ready`` follows a seeded random pattern, and the
outputs are compared with the golden model replaying the accepted events in order. The
mismatch count and the cycle figures go to ``<HETQ_BENCH>.result.npz``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from hetq.hdl.quantizer import output_layout, threshold_write_layout, weight_write_layout
from hetq.sim.kit.cocotb_sim import StreamSink, StreamSource, order_arrays, send_writes
from hetq.sim.kit.events import cycle_budget, merge_order
from hetq.sim.kit.verilog import pack_array
from hetq.sim.quantizer.stimulus import expected_records, load_stimulus, same_cycle_rule

__all__ = ["run_quantizer"]


async def run_quantizer(dut, path):
    stim, seed, stall, _ = load_stimulus(path)
    config = stim.config
    in_width = config.fmt.x_bits if stim.normalised else config.fmt.sensor_bits
    out_layout = output_layout(config)
    layouts = {"weight": weight_write_layout(config),
               "threshold": threshold_write_layout(config)}
    rng_in, rng_w, rng_out = np.random.default_rng(seed).spawn(3)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    samples = StreamSource(dut, "i")
    ports = {"weight": StreamSource(dut, "weight_w"),
             "threshold": StreamSource(dut, "threshold_w")}
    sink = StreamSink(dut, "o")
    # the table read ports are not exercised here (tests/hdl cover them): idle, not floating
    for name in ("weight_r", "threshold_r"):
        getattr(dut, f"{name}__valid").value = 0
    for name in ("weight_d", "threshold_d"):
        getattr(dut, f"{name}__ready").value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0

    sample_cycles, write_cycles, outputs = [], [], []
    words = [pack_array(row, in_width) for row in stim.samples]

    async def writes():
        await send_writes(ports, layouts, stim.writes, rng_w, write_cycles)

    timeout = cycle_budget(stim.period, len(words), stall=stall,
                           extra=sum(w.delay for w in stim.writes))
    tasks = [cocotb.start_soon(samples.send(words, rng_in, stall, [0] * len(words),
                                            sample_cycles)),
             cocotb.start_soon(writes()),
             cocotb.start_soon(sink.receive(stim.outputs, rng_out, stall, outputs, timeout))]
    for task in tasks:
        await task

    fields = [(f.offset, f.width) for _, f in out_layout]
    records = np.array([[(word >> off) & ((1 << width) - 1) for off, width in fields]
                        for _, word in outputs], dtype=np.int64).reshape(-1, 4)
    order = merge_order(sample_cycles, write_cycles, same_cycle_rule(stim))
    expected = expected_records(stim, order)
    mismatches = int(np.any(records != expected, axis=1).sum()) if len(records) == len(
        expected) else max(len(records), len(expected))
    np.savez(f"{path}.result.npz", records=records, mismatches=mismatches,
             first_in=sample_cycles[0] if sample_cycles else 0,
             last_out=outputs[-1][0] if outputs else 0, samples=len(words),
             **order_arrays(order))
    np.testing.assert_equal(records, expected)


@cocotb.test()
async def quantizer_matches_golden_model(dut):
    await run_quantizer(dut, os.environ["HETQ_BENCH"])
