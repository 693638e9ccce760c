"""cocotb bench of the GC layer (:class:`hetq.hdl.gc_layer.GCLayer`) on its generated
Verilog.

The stimulus comes from the .npz named by ``HETQ_BENCH`` (see
:func:`hetq.sim.gc_layer.stimulus.save_gc_stimulus`). As the Amaranth bench: the fan-out
lists are written through the ports, CONNECT, the weights loaded (if any); per sample the
MC raster of the golden model is fed with seeded random idle cycles, the bench waits for
``idle``, gives CLAMP/RESET when asked, reads every weight back through the port and the GC
state and stamp memories through the simulator; the GC spikes (and, with the GC->MC path,
the emitted currents) are taken with a seeded random ``ready``. A layer in lanes (``lanes``
of the stimulus's configuration) is written and read lane by lane
(:func:`hetq.sim.gc_layer.stimulus.host_tables`), its state memories read from every lane.
Events, weights, states and currents are compared with the golden model
(``np.testing.assert_equal``); events and weights are saved to ``<HETQ_BENCH>.result.npz``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from hetq.hdl.gc_lanes import gc_layer
from hetq.hdl.gc_layer import GCLayer, gc_spike_layout, mc_spike_layout
from hetq.sim.gc_layer.stimulus import expected_gc, host_tables, load_gc_stimulus
from hetq.sim.kit.verilog import pack_struct, unpack_struct

__all__ = ["run_gc_layer"]


def _idle(rng, stall):
    n = 0
    while stall and rng.random() < stall:
        n += 1
    return n


def _signed(value, bits):
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


async def _send(dut, name, word):
    getattr(dut, f"{name}__payload").value = int(word)
    getattr(dut, f"{name}__valid").value = 1
    while True:
        await RisingEdge(dut.clk)
        if getattr(dut, f"{name}__ready").value == 1:
            break
    getattr(dut, f"{name}__valid").value = 0


async def run_gc_layer(dut, path):
    stim, seed, stall = load_gc_stimulus(path)
    c = stim.config
    exp = expected_gc(stim)
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    inputs = ("i", "ptr_w", "gc_w", "cmd", "weight_w", "weight_rq", "cycle_w")
    for name in inputs + (("iic_w",) if c.iic else ()):
        getattr(dut, f"{name}__valid").value = 0
    dut.o__ready.value = 0
    if c.iic:
        dut.iic__ready.value = 0
    dut.weight_rs__ready.value = 0
    dut.learn.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0

    probe = gc_layer(c)
    tables = host_tables(stim, getattr(probe, "lane_capacity", None))
    n_syn = len(tables.read)
    lay = {name: probe.signature.members[name].signature.members["payload"].shape
           for name in ("ptr_w", "gc_w", "weight_w", "weight_rq")}
    # the memories of every lane (a layer in lanes: submodules lane0, lane1, ...) and where
    # GC g lives
    lanes = [dut] if c.lanes == 1 else [getattr(dut, f"lane{j}") for j in range(c.lanes)]
    gc_at = [(lanes[g % c.lanes], g // c.lanes) for g in range(c.gcs)]
    rq_word = (lambda r: r) if c.lanes == 1 else \
        (lambda r: pack_struct(lay["weight_rq"], **r))
    spikes, ins = gc_spike_layout(c), mc_spike_layout(c)
    events, weights = [], []
    gc_v, gc_r, pre, post = [], [], [], []
    vbits = 8 + c.fmt.drive_frac
    state = {"done": False, "cycles": 0, "setup": False}
    iic, ebits = [], c.fmt.current_bits

    async def wait_idle():
        await ClockCycles(dut.clk, 4)
        while dut.idle.value != 1:
            await RisingEdge(dut.clk)

    async def sink():
        while not state["done"]:
            ready = int(rng_out.random() >= stall)
            dut.o__ready.value = ready
            await RisingEdge(dut.clk)
            state["cycles"] += 1
            if ready and dut.o__valid.value == 1:
                ev = unpack_struct(spikes, dut.o__payload.value.to_unsigned())
                events.append((ev["step"], ev["gc"]))
        dut.o__ready.value = 0

    async def iic_sink():
        while not state["done"]:
            ready = int(state["setup"] and rng_out.random() >= stall)
            dut.iic__ready.value = ready
            await RisingEdge(dut.clk)
            if ready and dut.iic__valid.value == 1:
                iic.append(_signed(dut.iic__payload.value.to_unsigned(), ebits))
        dut.iic__ready.value = 0

    async def drain(rows):
        while len(iic) < rows * c.mcs:
            await RisingEdge(dut.clk)

    task = cocotb.start_soon(sink())
    if c.iic:
        iic_task = cocotb.start_soon(iic_sink())
    for port, payload in tables.writes:
        await _send(dut, port, pack_struct(lay[port], **payload))
    await _send(dut, "cmd", GCLayer.CONNECT)
    if stim.weights is not None:
        for k, w in enumerate(stim.weights):
            await _send(dut, "weight_w", pack_struct(lay["weight_w"], **tables.weight(k, w)))
    if stim.cycle0:
        await _send(dut, "cycle_w", stim.cycle0 % (1 << c.stamp_bits))
    if c.iic:
        await _send(dut, "iic_w", stim.iic_weight & ((1 << ebits) - 1))
    await wait_idle()
    state["setup"] = True
    rows = 1
    for i, raster in enumerate(exp.mc_raster):
        dut.learn.value = int(stim.learn[i])
        for row in raster:
            for mc in list(np.flatnonzero(row)) + [None]:
                n = _idle(rng_in, stall)
                if n:
                    await ClockCycles(dut.clk, n)
                word = pack_struct(ins, mc=0 if mc is None else int(mc), end=int(mc is None))
                await _send(dut, "i", word)
        await wait_idle()
        rows += c.window
        if c.iic:
            await drain(rows)
        if i == stim.clamp_after:
            await _send(dut, "cmd", GCLayer.CLAMP)
            await wait_idle()
        if i == stim.reset_after:
            await _send(dut, "cmd", GCLayer.RESET)
            await wait_idle()
            rows += 1
            if c.iic:
                await drain(rows)
        row = []
        dut.weight_rs__ready.value = 1
        for k in range(n_syn):
            await _send(dut, "weight_rq", rq_word(tables.read[k]))
            while True:
                await RisingEdge(dut.clk)
                if dut.weight_rs__valid.value == 1:
                    row.append(dut.weight_rs__payload.value.to_unsigned())
                    break
        dut.weight_rs__ready.value = 0
        weights.append(row)
        # the state memories, read through the simulator (idle: nothing writes them)
        words = [int(lane.gc_mem[i].value) for lane, i in gc_at]
        gc_v.append([_signed(w, vbits) for w in words])
        gc_r.append([bool(w >> vbits) for w in words])
        pre.append([[int(lane.pre_mem[k].value) for k in range(c.mcs)] for lane in lanes])
        post.append([int(lane.post_mem[i].value) for lane, i in gc_at])
    error = int(dut.error.value)
    state["done"] = True
    await task
    if c.iic:
        await iic_task
        np.testing.assert_equal(np.array(iic, dtype=np.int64).reshape(-1, c.mcs), exp.iic)
    ev = np.array(events, dtype=np.int64).reshape(-1, 2)
    w = np.array(weights, dtype=np.int64).reshape(len(stim.drives), n_syn)
    np.savez(f"{path}.result.npz", events=ev, weights=w, cycles=state["cycles"], error=error)
    np.testing.assert_equal(ev, exp.events)
    np.testing.assert_equal(w, exp.weights)
    np.testing.assert_equal(np.array(gc_v, dtype=np.int64), exp.gc_v)
    np.testing.assert_equal(np.array(gc_r, dtype=bool), exp.gc_r)
    pre = np.array(pre, dtype=np.int64)                # (samples, lanes, mcs)
    np.testing.assert_equal(pre, np.broadcast_to(exp.pre[:, None, :], pre.shape))
    np.testing.assert_equal(np.array(post, dtype=np.int64), exp.post)
    assert error == 0


@cocotb.test()
async def gc_layer_matches_golden_model(dut):
    await run_gc_layer(dut, os.environ["HETQ_BENCH"])
