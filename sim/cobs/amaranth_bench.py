"""The COBS encoder and decoder in Amaranth's simulator, driven cycle by cycle by the drivers of
:mod:`.stimulus` (seeded random valid and ready)."""

import numpy as np

from ...hdl.cobs import COBSDecoder, COBSEncoder
from ..kit.amaranth_sim import simulate
from .stimulus import DecoderDriver, EncoderDriver

__all__ = ["run_encoder", "run_decoder"]


class _Setter:
    """``ctx.set`` of named inputs, only when a value changes (a set costs more than a cycle of
    these designs)."""

    def __init__(self, ctx, **signals):
        self.ctx, self.signals, self.last = ctx, signals, {}

    def __call__(self, **values):
        for name, value in values.items():
            if self.last.get(name) != value:
                self.ctx.set(self.signals[name], value)
                self.last[name] = value


def run_encoder(frames, *, seed=0, stall=0.0, timeout=None):
    """Feed ``frames`` to :class:`~hetq.hdl.cobs.COBSEncoder`; returns ``(output bytes,
    cycles)``. RuntimeError after ``timeout`` cycles (default four per output byte plus
    slack for the stalls)."""
    dut = COBSEncoder()
    drv = EncoderDriver(frames, np.random.default_rng(seed), stall)
    limit = timeout or int((4 * drv.expected + 100) / (1 - stall) ** 2)
    cycles = []

    async def bench(ctx):
        put = _Setter(ctx, valid=dut.i.valid, data=dut.i.payload.data,
                      last=dut.i.payload.last, ready=dut.o.ready)
        c = 0
        while not drv.done:
            valid, data, last, ready = drv.drive()
            put(valid=valid, data=data, last=last, ready=ready)
            _, _, i_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            drv.observe(valid, i_ready, ready, o_valid, o_payload)
            c += 1
            if c > limit:
                raise RuntimeError(f"encoder: {len(drv.out)} of {drv.expected} bytes after "
                                   f"{c} cycles")
        cycles.append(c)

    simulate(dut, [bench])
    return bytes(drv.out), cycles[0]


def run_decoder(stream, max_length, *, seed=0, stall=0.0, timeout=None):
    """Feed a :class:`~.stimulus.DecoderStream` to :class:`~hetq.hdl.cobs.COBSDecoder` of
    ``max_length``; returns the :class:`~.stimulus.DecoderDriver` (its ``events``: bytes and
    aborts in the order taken; ``out``: the output records)."""
    dut = COBSDecoder(max_length)
    drv = DecoderDriver(stream, np.random.default_rng(seed), stall)
    limit = timeout or int((4 * len(stream.data) + 100) / (1 - stall) ** 2)

    async def bench(ctx):
        put = _Setter(ctx, valid=dut.i.valid, byte=dut.i.payload, abort=dut.abort,
                      ready=dut.o.ready)
        c = 0
        while not drv.done:
            valid, byte, pulse, ready = drv.drive()
            put(valid=valid, byte=byte, abort=pulse, ready=ready)
            _, _, i_ready, o_valid, data, end, status = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload.data, dut.o.payload.end,
                dut.o.payload.status)
            drv.observe(valid, byte, pulse, i_ready, ready, o_valid, (data, end, status))
            c += 1
            if c > limit:
                raise RuntimeError(f"decoder: {drv.index} of {len(stream.data)} bytes taken "
                                   f"after {c} cycles")

    simulate(dut, [bench])
    return drv
