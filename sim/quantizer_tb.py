"""cocotb bench of the phase quantizer (``SensorQuantizer``, or ``PhaseQuantizer`` for
normalised stimulus) on its generated Verilog.

The stimulus and settings come from the .npz named by ``HETQ_BENCH`` (see
:func:`hetq.sim.stimulus.save_stimulus`). Samples and table writes are driven on their
streams with seeded random idle cycles, ``o.ready`` follows a seeded random pattern, and the
outputs are compared with the golden model replaying the accepted events in order. The
mismatch count and the cycle figures go to ``<HETQ_BENCH>.result.npz``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hetq.sim.amaranth_bench import build_dut
from hetq.sim.stimulus import expected_records, load_stimulus, merge_order, same_cycle_rule
from hetq.sim.verilog import pack_array, pack_struct

__all__ = ["StreamSource", "StreamSink", "send_writes", "run_quantizer"]


def _layout(component, member):
    return component.signature.members[member].signature.members["payload"].shape


def _idle(rng, stall):
    n = 0
    while stall and rng.random() < stall:
        n += 1
    return n


class _StreamPort:
    """The signals of a flattened stream port ``<name>__{payload,valid,ready}``."""

    def __init__(self, dut, name):
        self.clk = dut.clk
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")


class StreamSource(_StreamPort):
    """Drives a stream port's payload and valid."""

    def __init__(self, dut, name):
        super().__init__(dut, name)
        self.valid.value = 0

    async def send(self, words, rng, stall, delays, taken, start=0):
        cycle = start
        for k, word in enumerate(words):
            for _ in range(_idle(rng, stall) + delays[k]):
                await RisingEdge(self.clk)
                cycle += 1
            self.payload.value = word
            self.valid.value = 1
            while True:
                await RisingEdge(self.clk)
                cycle += 1
                if self.ready.value == 1:
                    break
            taken.append(cycle)
            self.valid.value = 0


class StreamSink(_StreamPort):
    """Drives a stream port's ready and collects its payloads."""

    def __init__(self, dut, name):
        super().__init__(dut, name)
        self.ready.value = 0

    async def receive(self, count, rng, stall, out, timeout):
        cycle = 0
        while len(out) < count:
            ready = int(rng.random() >= stall)
            self.ready.value = ready
            await RisingEdge(self.clk)
            cycle += 1
            if ready and self.valid.value == 1:
                out.append((cycle, self.payload.value.to_unsigned()))
            if cycle > timeout:
                raise TimeoutError(f"only {len(out)} of {count} outputs after {cycle} cycles")
        self.ready.value = 0


async def send_writes(ports, layouts, writes, rng, write_cycles):
    """Send each table write (:class:`~hetq.sim.stimulus.Write`) on its port
    (``ports[kind]``, a :class:`StreamSource`, payload ``layouts[kind]``) after its idle delay;
    append the cycle of every transfer to ``write_cycles``."""
    cycle = 0
    for w in writes:
        taken = []
        word = pack_struct(layouts[w.kind], addr=w.addr, data=w.code)
        await ports[w.kind].send([word], rng, 0.0, [w.delay], taken, start=cycle)
        cycle = taken[0]
        write_cycles.append(cycle)


async def run_quantizer(dut, path):
    stim, seed, stall, _ = load_stimulus(path)
    model = build_dut(stim)
    in_width = model.fmt.x_bits if stim.normalised else model.fmt.sensor_bits
    out_layout = _layout(model, "o")
    layouts = {"weight": _layout(model, "weight_w"), "threshold": _layout(model, "threshold_w")}
    rng_in, rng_w, rng_out = np.random.default_rng(seed).spawn(3)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    samples = StreamSource(dut, "i")
    ports = {"weight": StreamSource(dut, "weight_w"),
             "threshold": StreamSource(dut, "threshold_w")}
    sink = StreamSink(dut, "o")
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0

    sample_cycles, write_cycles, outputs = [], [], []
    words = [pack_array(row, in_width) for row in stim.samples]

    async def writes():
        await send_writes(ports, layouts, stim.writes, rng_w, write_cycles)

    per_sample = max(stim.sensors * stim.duplication, stim.sensors + stim.fmt.x_bits + 3)
    timeout = int((len(words) + 4) * per_sample * (1 + 8 * stall) * 2
                  + sum(w.delay for w in stim.writes) + 200)
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
             order_kind=np.array([k == "write" for k, _ in order], dtype=bool),
             order_index=np.array([i for _, i in order], dtype=np.int64))
    np.testing.assert_equal(records, expected)


@cocotb.test()
async def quantizer_matches_golden_model(dut):
    await run_quantizer(dut, os.environ["HETQ_BENCH"])
