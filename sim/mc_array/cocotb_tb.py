"""cocotb bench of the MC array (``SensorMCArray``: normaliser, quantizer, MC array) on its
generated Verilog.

The stimulus comes from the .npz named by ``HETQ_BENCH`` (see
:func:`hetq.sim.mc_array.stimulus.save_array_stimulus`). Samples, table writes and extra
currents are driven with seeded random idle cycles, ``o.ready`` follows a seeded random
pattern; every spike and every state write-back (``monitor``) is recorded, and at the end of
the last step of every gamma cycle (and of step 24 of every window) the bench reads the state
memories of the array through the simulator and checks them against the write-backs. The
outputs are then compared with the golden model replaying the accepted events in order; the
records go to ``<HETQ_BENCH>.result.npz``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from hetq.hdl.mc_array import monitor_layout, spike_layout
from hetq.hdl.quantizer import threshold_write_layout, weight_write_layout
from hetq.sim.kit.cocotb_sim import StreamSource, order_arrays, send_writes
from hetq.sim.kit.events import merge_order
from hetq.sim.kit.verilog import pack_array, unpack_struct
from hetq.sim.mc_array.stimulus import expected_array, load_array_stimulus
from hetq.sim.quantizer.stimulus import same_cycle_rule

__all__ = ["run_mc_array"]


def _signed(value, bits):
    return value - (1 << bits) if value >> (bits - 1) else value


async def run_mc_array(dut, path):
    stim, seed, stall = load_array_stimulus(path)
    fmt, lanes, groups, mcs, steps = stim.fmt, stim.lanes, stim.groups, stim.mcs, stim.steps
    vbits = fmt.state_bits
    rng_in, rng_w, rng_x, rng_out = np.random.default_rng(seed).spawn(4)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    samples = StreamSource(dut, "i")
    ports = {"weight": StreamSource(dut, "weight_w"),
             "threshold": StreamSource(dut, "threshold_w")}
    extra = StreamSource(dut, "extra") if stim.extra is not None else None
    dut.o__ready.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0

    qconfig = stim.config.quantizer
    layouts = {"weight": weight_write_layout(qconfig),
               "threshold": threshold_write_layout(qconfig)}
    spikes = spike_layout(stim.array)
    mon_layout = monitor_layout(stim.array)
    words = [pack_array(row, fmt.sensor_bits) for row in stim.samples]
    sample_cycles, write_cycles, events = [], [], []
    voltage = np.zeros((steps, mcs), dtype=np.int64)
    refractory = np.zeros((steps, mcs), dtype=bool)
    done = {"writes": 0, "last": 0, "peeks": 0}
    peek_steps = {s for s in range(steps) if s % 50 == 49 or s % stim.window == 24}
    memories = [getattr(dut.array, f"state{lane}") for lane in range(lanes)]

    async def writes():
        await send_writes(ports, layouts, stim.writes, rng_w, write_cycles)

    async def currents():
        if extra is None:
            return
        rows = [pack_array([v & ((1 << fmt.current_bits) - 1) for v in row], fmt.current_bits)
                for row in stim.extra_words()]
        await extra.send(rows, rng_x, stall, [0] * len(rows), [])

    async def peek(step):
        await FallingEdge(dut.clk)               # the write of this edge has landed
        for lane, mem in enumerate(memories):
            for g in range(groups):
                word = int(mem[g].value)
                mc = g * lanes + lane
                got = (_signed(word & ((1 << vbits) - 1), vbits), (word >> vbits) & 1,
                       (word >> (vbits + 1)) & 1)
                want = (int(voltage[step, mc]), int(refractory[step, mc]),
                        int(voltage[step, mc] == fmt.threshold))
                assert got == want, (f"state memory after step {step}, MC {mc}: "
                                     f"(v, refractory, at threshold) = {got}, written {want}")
        done["peeks"] += 1

    async def monitor():
        cycle = 0
        while done["writes"] < steps * groups:
            await RisingEdge(dut.clk)
            cycle += 1
            bits = str(dut.monitor.value)            # MSB first; `valid` is bit 0
            if bits[-1] != "1":
                continue
            mon = unpack_struct(mon_layout, int(bits, 2))
            step, g = divmod(done["writes"], groups)
            assert mon["group"] == g, f"write-back {done['writes']}: group {mon['group']}"
            for lane in range(lanes):
                v = (mon["voltage"] >> (lane * vbits)) & ((1 << vbits) - 1)
                voltage[step, g * lanes + lane] = _signed(v, vbits)
                refractory[step, g * lanes + lane] = bool((mon["refractory"] >> lane) & 1)
            done["writes"] += 1
            done["last"] = max(done["last"], cycle)
            if g == groups - 1 and step in peek_steps:
                await peek(step)

    async def sink():
        cycle, quiet = 0, 0
        while done["writes"] < steps * groups or quiet < 64:
            ready = int(rng_out.random() >= stall)
            dut.o__ready.value = ready
            await RisingEdge(dut.clk)
            cycle += 1
            valid = int(dut.o__valid.value)
            if ready and valid:
                ev = unpack_struct(spikes, int(dut.o__payload.value))
                events.append((ev["step"], ev["mc"]))
                done["last"] = max(done["last"], cycle)
            quiet = 0 if valid else quiet + 1
        dut.o__ready.value = 0

    tasks = [cocotb.start_soon(samples.send(words, rng_in, stall, [0] * len(words),
                                            sample_cycles)),
             cocotb.start_soon(writes()), cocotb.start_soon(currents()),
             cocotb.start_soon(monitor()), cocotb.start_soon(sink())]
    for task in tasks:
        await task

    order = merge_order(sample_cycles, write_cycles, same_cycle_rule(stim.quant))
    ev = np.array(events, dtype=np.int64).reshape(-1, 2)
    np.savez(f"{path}.result.npz", events=ev, voltage=voltage, refractory=refractory,
             first_in=sample_cycles[0] if sample_cycles else 0, last_out=done["last"],
             samples=len(words), peeks=done["peeks"], **order_arrays(order))
    expected = expected_array(stim, order).array
    np.testing.assert_equal(ev, expected.events)
    np.testing.assert_equal(voltage, expected.voltage)
    np.testing.assert_equal(refractory, expected.refractory)


@cocotb.test()
async def mc_array_matches_golden_model(dut):
    await run_mc_array(dut, os.environ["HETQ_BENCH"])
