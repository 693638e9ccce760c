"""Running a :class:`~.stimulus.GCStimulus` on the GC layer in Amaranth's simulator.

One host testbench writes the fan-out lists through the ports, gives CONNECT, loads the
weights (if any), then per sample sets ``learn``, feeds the MC raster (events then an end
marker per step, seeded random idle cycles), waits for ``idle``, gives CLAMP if asked, reads
every weight back through ``weight_rq``/``weight_rs`` and reads the GC state and stamp
memories directly. A sink takes the GC spikes with a seeded random ``ready``; a monitor
records the cycle at which every step ends.
"""

from dataclasses import dataclass

import numpy as np

from ...hdl.gc_lanes import gc_layer
from ...hdl.gc_layer import GCLayer
from ..kit.amaranth_sim import idle_cycles, simulate
from .stimulus import expected_gc, host_tables

__all__ = ["GCBenchResult", "run_gc_amaranth", "run_and_check", "send", "read_weights"]


@dataclass
class GCBenchResult:
    events: np.ndarray               # (n, 2) (step, gc) as taken from o
    weights: np.ndarray              # (samples, synapses) read through the port
    gc_v: np.ndarray
    gc_r: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    pre_lanes: np.ndarray            # (samples, lanes, mcs): every lane's copy of pre
    step_ends: np.ndarray            # cycle at which each step's counter advanced
    error: bool
    iic: np.ndarray | None = None    # (emissions, mcs) taken from the iic port (GC layer alone)


async def send(ctx, port, payload):
    """Offer one transfer and wait until it is taken; returns the number of clock edges."""
    ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)
    n = 0
    while True:
        _, _, ready = await ctx.tick().sample(port.ready)
        n += 1
        if ready:
            break
    ctx.set(port.valid, 0)
    return n


async def read_weights(ctx, dut, requests):
    """Read one weight per request (a synapse index, or a lane's request) through
    ``weight_rq``/``weight_rs``; returns the codes."""
    ws = []
    ctx.set(dut.weight_rs.ready, 1)
    for rq in requests:
        await send(ctx, dut.weight_rq, rq)
        while True:
            _, _, valid, w = await ctx.tick().sample(dut.weight_rs.valid, dut.weight_rs.payload)
            if valid:
                ws.append(int(w))
                break
    ctx.set(dut.weight_rs.ready, 0)
    return ws


def _signed(x, bits):
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def run_gc_amaranth(stim, *, seed=0, stall=0.0, out_stall=0.0, exp=None, timeout=2_000_000,
                    array=None, dut=None):
    """Run ``stim``; ``stall`` is the probability of an idle cycle before each input
    transfer, ``out_stall`` of a low ``o.ready``. With ``array`` (an MCArrayConfig) the
    design is :class:`~hetq.hdl.gc_layer.MCGCLayer` and the bench feeds it the drives, not
    the MC raster. More than one lane (``stim.config.lanes``) runs a
    :class:`~hetq.hdl.gc_lanes.LanedGCLayer`, its GC state read from the lanes. Returns a
    :class:`GCBenchResult`. ``dut`` is the layer to run (default ``gc_layer(stim.config)``;
    not with ``array``)."""
    c = stim.config
    exp = expected_gc(stim) if exp is None else exp
    if array is None:
        dut = gc_layer(c) if dut is None else dut
    else:
        from ...golden.fixed.mc_array import drive_transfers
        from ...hdl.gc_layer import MCGCLayer
        dut = MCGCLayer(array, c)
    layer = dut if array is None else dut.layer
    # (memories, local index) of GC g and the memories of every lane
    lanes = getattr(layer, "lanes", [layer])
    n_lanes = len(lanes)
    lane_mems = [lane.memories for lane in lanes]
    gc_at = [(lane_mems[g % n_lanes], g // n_lanes) for g in range(c.gcs)]
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    tables = host_tables(stim, getattr(layer, "lane_capacity", None))
    n_syn = len(tables.read)
    vbits = 8 + c.fmt.drive_frac
    res = {"events": [], "weights": [], "gc_v": [], "gc_r": [], "pre": [], "post": [],
           "ends": [], "pre_lanes": [], "iic": []}
    done = {"host": False, "setup": False}
    # the GC layer alone emits its GC->MC currents to a sink (an MC array takes them)
    iic_sink = c.iic and array is None

    async def drain_iic(ctx, n_rows):
        """Wait until ``n_rows`` emissions have been taken."""
        for _ in range(timeout):
            if len(res["iic"]) >= n_rows * c.mcs:
                return
            await ctx.tick()
        raise RuntimeError("the GC layer did not emit its GC->MC currents")

    async def wait_idle(ctx):
        for _ in range(4):
            await ctx.tick()
        for _ in range(timeout):
            _, _, idle = await ctx.tick().sample(dut.idle)
            if idle:
                return
        raise RuntimeError("the GC layer did not become idle")

    async def host(ctx):
        for port, payload in tables.writes:
            await send(ctx, getattr(dut, port), payload)
        await send(ctx, dut.cmd, GCLayer.CONNECT)
        if stim.weights is not None:
            for k, w in enumerate(stim.weights):
                await send(ctx, dut.weight_w, tables.weight(k, w))
        if stim.cycle0:
            await send(ctx, dut.cycle_w, stim.cycle0 % (1 << c.stamp_bits))
        if c.iic:
            await send(ctx, dut.iic_w, int(stim.iic_weight))
        await wait_idle(ctx)
        done["setup"] = True
        rows = 1                                       # emissions owed so far
        for i, raster in enumerate(exp.mc_raster):
            ctx.set(dut.learn, int(stim.learn[i]))
            if array is not None:
                for mc, d, last in drive_transfers(stim.drives[i:i + 1]):
                    for _ in range(idle_cycles(rng_in, stall)):
                        await ctx.tick()
                    await send(ctx, dut.i, {"mc": int(mc), "drive": int(d), "last": int(last)})
                raster = []
            for row in raster:
                for mc in list(np.flatnonzero(row)) + [None]:
                    for _ in range(idle_cycles(rng_in, stall)):
                        await ctx.tick()
                    await send(ctx, dut.i, {"mc": 0 if mc is None else int(mc),
                                            "end": int(mc is None)})
            await wait_idle(ctx)
            rows += c.window
            if iic_sink:
                await drain_iic(ctx, rows)
            if i == stim.clamp_after:
                await send(ctx, dut.cmd, GCLayer.CLAMP)
                await wait_idle(ctx)
            if i == stim.reset_after:
                await send(ctx, dut.cmd, GCLayer.RESET)
                await wait_idle(ctx)
                rows += 1
                if iic_sink:
                    await drain_iic(ctx, rows)
            res["weights"].append(await read_weights(ctx, dut, tables.read))
            words = [ctx.get(mems["gc"].data[i]) for mems, i in gc_at]
            res["gc_v"].append([_signed(int(x), vbits) for x in words])
            res["gc_r"].append([bool(int(x) >> vbits) for x in words])
            res["pre_lanes"].append([[int(ctx.get(mems["pre"].data[k])) for k in range(c.mcs)]
                                     for mems in lane_mems])
            res["pre"].append(res["pre_lanes"][-1][0])
            res["post"].append([int(ctx.get(mems["post"].data[i])) for mems, i in gc_at])
        res["error"] = bool(ctx.get(dut.error))
        done["host"] = True

    async def sink(ctx):
        while not done["host"]:
            ctx.set(dut.o.ready, int(rng_out.random() >= out_stall))
            _, _, valid, ready, pl = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                             dut.o.payload)
            if valid and ready:
                res["events"].append((int(pl.step), int(pl.gc)))

    async def iic_taker(ctx):
        while not done["host"]:
            if not done["setup"]:
                await ctx.tick()
                continue
            ctx.set(dut.iic.ready, int(rng_out.random() >= out_stall))
            _, _, valid, ready, pl = await ctx.tick().sample(dut.iic.valid, dut.iic.ready,
                                                             dut.iic.payload)
            if valid and ready:
                res["iic"].append(int(pl))

    async def monitor(ctx):
        cycle, last = 0, 0
        while not done["host"]:
            _, _, step = await ctx.tick().sample(dut.step)
            cycle += 1
            if int(step) != last:
                res["ends"].append(cycle)
                last = int(step)

    simulate(dut, [host, sink, monitor] + ([iic_taker] if iic_sink else []))
    return GCBenchResult(
        events=np.array(res["events"], dtype=np.int64).reshape(-1, 2),
        weights=np.array(res["weights"], dtype=np.int64).reshape(len(stim.drives), n_syn),
        gc_v=np.array(res["gc_v"], dtype=np.int64), gc_r=np.array(res["gc_r"], dtype=bool),
        pre=np.array(res["pre"], dtype=np.int64), post=np.array(res["post"], dtype=np.int64),
        pre_lanes=np.array(res["pre_lanes"], dtype=np.int64).reshape(-1, n_lanes, c.mcs),
        step_ends=np.array(res["ends"], dtype=np.int64), error=res["error"],
        iic=np.array(res["iic"], dtype=np.int64).reshape(-1, c.mcs) if iic_sink else None)


def check_gc(stim, res, exp):
    """Every output equal to the model (np.testing.assert_equal)."""
    np.testing.assert_equal(res.events, exp.events)
    np.testing.assert_equal(res.weights, exp.weights)
    np.testing.assert_equal(res.gc_v, exp.gc_v)
    np.testing.assert_equal(res.gc_r, exp.gc_r)
    np.testing.assert_equal(res.pre, exp.pre)
    np.testing.assert_equal(res.post, exp.post)
    np.testing.assert_equal(res.pre_lanes,
                            np.broadcast_to(exp.pre[:, None, :], res.pre_lanes.shape))
    if res.iic is not None:
        np.testing.assert_equal(res.iic, exp.iic)
    assert not res.error


def run_and_check(stim, **kwargs):
    """:func:`run_gc_amaranth` (``kwargs``) then :func:`check_gc` against the model; returns
    ``(expectation, result)``."""
    exp = expected_gc(stim)
    res = run_gc_amaranth(stim, exp=exp, **kwargs)
    check_gc(stim, res, exp)
    return exp, res
