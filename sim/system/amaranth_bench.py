"""The system core (:class:`~hetq.hdl.system.SystemCore`) in Amaranth's simulator on decoded
frames: request frames in (with seeded gaps), reply frames out (with a seeded random
``ready``)."""

import numpy as np

from ...golden.fixed.link import request
from ...hdl.system import SystemCore
from ..kit.amaranth_sim import simulate

__all__ = ["run_core_amaranth", "decoded_frames"]


def decoded_frames(requests, first_seq=0):
    """Request frames (CRC included) of ``requests`` ``(cmd, payload)`` as decoder output:
    a list of ``(bytes, status)`` with status 0."""
    return [(request((first_seq + k) & 0xFFFF, cmd, payload), 0)
            for k, (cmd, payload) in enumerate(requests)]


def run_core_amaranth(config, frames, *, weights=None, table=None, seed=0, stall=0.0,
                      gap=None, replies=None, timeout=None, per_request=None):
    """Drive ``frames`` (``(bytes, decoder status)``) into a SystemCore of ``config`` and
    collect its reply frames until ``replies`` frames have come (default: one per frame) and
    the output stays quiet. ``gap`` is the idle cycles before each frame (an int, or a list
    with one entry per frame; default: wait for a reply to every frame sent before, so no slot
    overflows; 0 floods; ``per_request``: the reply frames of each request, default one).
    Returns the reply frames (bytes, CRC included) in order."""
    dut = SystemCore(config, weights=weights, table=table)
    rng_in, rng_out = np.random.default_rng(seed).spawn(2)
    out, current = [], bytearray()
    state = {"sent": 0}
    expect = len(frames) if replies is None else replies
    timeout = timeout or (200_000 + 400_000 * len(frames))

    async def source(ctx):
        for k, (frame, status) in enumerate(frames):
            if gap is None:
                while len(out) < (state["sent"] if per_request is None
                                  else sum(per_request[:state["sent"]])):
                    await ctx.tick()
            else:
                for _ in range(gap[k] if isinstance(gap, (list, tuple)) else gap):
                    await ctx.tick()
            for b in frame:
                while stall and rng_in.random() < stall:
                    await ctx.tick()
                ctx.set(dut.rx.payload, {"data": b, "end": 0, "status": 0})
                ctx.set(dut.rx.valid, 1)
                await ctx.tick()
                ctx.set(dut.rx.valid, 0)
            ctx.set(dut.rx.payload, {"data": 0, "end": 1, "status": status})
            ctx.set(dut.rx.valid, 1)
            await ctx.tick()
            ctx.set(dut.rx.valid, 0)
            state["sent"] += 1

    async def sink(ctx):
        quiet = 0
        for cycle in range(timeout):
            ctx.set(dut.tx.ready, int(rng_out.random() >= stall))
            _, _, valid, ready, payload = await ctx.tick().sample(dut.tx.valid, dut.tx.ready,
                                                                  dut.tx.payload)
            if valid and ready:
                current.append(int(payload.data))
                quiet = 0
                if payload.last:
                    out.append(bytes(current))
                    current.clear()
            else:
                quiet += 1
            if (len(out) >= expect and state["sent"] == len(frames)) and quiet > 20000:
                return
        err = RuntimeError(f"{len(out)} of {expect} replies after {timeout} cycles")
        err.replies = list(out)                        # what came, for the test's report
        raise err

    simulate(dut, [source, sink])
    return out
