"""The UART in Amaranth's simulator, one testbench step per clock cycle, recording every cycle's
outputs in the form of the cycle-exact model's traces (:mod:`hetq.golden.fixed.uart`)."""

import numpy as np

from ...golden.fixed.uart import ByteSource, RxTrace, TxTrace
from ...hdl.uart import UART, UARTReceiver, UARTTransmitter
from ..kit.amaranth_sim import simulate

__all__ = ["run_receiver", "run_transmitter", "run_loopback"]


def _rx_trace(valid, payload, errors, ready):
    valid, payload = np.array(valid, dtype=np.int64), np.array(payload, dtype=np.int64)
    errors = (np.array(errors, dtype=np.int64)[:, None] >> np.arange(3)) & 1
    taken = np.flatnonzero(valid & np.asarray(ready, dtype=np.int64))
    return RxTrace(valid, payload, errors.reshape(-1, 3),
                   np.stack([taken, payload[taken]], axis=1).reshape(-1, 2))


def _tx_trace(tx, ready, valid, source):
    arr = [np.array(v, dtype=np.int64) for v in (tx, ready, valid)]
    return TxTrace(*arr, np.array(source.taken, dtype=np.int64))


def run_receiver(config, rx, ready=None, *, dut=None):
    """Drive ``rx`` (the pin level sampled by each clock edge) and ``ready`` (per cycle,
    default always 1) into :class:`~hetq.hdl.uart.UARTReceiver`; returns its
    :class:`~hetq.golden.fixed.uart.RxTrace`."""
    dut = UARTReceiver(config) if dut is None else dut
    rx = [int(v) for v in rx]
    ready = [1] * len(rx) if ready is None else [int(v) for v in ready]
    valid, payload, errors = [], [], []

    async def bench(ctx):
        last = (None, None)
        for level, r in zip(rx, ready):
            if level != last[0]:                # setting costs more than a cycle's logic
                ctx.set(dut.rx, level)
            if r != last[1]:
                ctx.set(dut.o.ready, r)
            last = (level, r)
            _, _, v, p, e = await ctx.tick().sample(dut.o.valid, dut.o.payload,
                                                    dut.errors.as_value())
            valid.append(v)
            payload.append(p)
            errors.append(e)

    simulate(dut, [bench])
    return _rx_trace(valid, payload, errors, ready)


def run_transmitter(config, source, cycles, *, dut=None):
    """Offer the bytes of ``source`` (a :class:`~hetq.golden.fixed.uart.ByteSource`,
    consumed) to :class:`~hetq.hdl.uart.UARTTransmitter` for ``cycles`` cycles; returns its
    :class:`~hetq.golden.fixed.uart.TxTrace`."""
    dut = UARTTransmitter(config) if dut is None else dut
    tx, ready, valid = [], [], []

    async def bench(ctx):
        for c in range(cycles):
            v, p = source.offer(c)
            ctx.set(dut.i.valid, v)
            ctx.set(dut.i.payload, p)
            _, _, r, t = await ctx.tick().sample(dut.i.ready, dut.tx)
            tx.append(t)
            ready.append(r)
            valid.append(v)
            if v and r:
                source.take(c)

    simulate(dut, [bench])
    return _tx_trace(tx, ready, valid, source)


def run_loopback(config, source, cycles, ready=None):
    """:class:`~hetq.hdl.uart.UART` with ``tx`` wired to ``rx``: the bytes of ``source`` go out
    and come back; ``ready`` is the consumer's per cycle (default always 1). Returns the
    ``(TxTrace, RxTrace)``."""
    dut = UART(config)
    ready = [1] * cycles if ready is None else [int(v) for v in ready]
    tx, t_ready, t_valid, valid, payload, errors = [], [], [], [], [], []

    async def bench(ctx):
        for c in range(cycles):
            v, p = source.offer(c)
            ctx.set(dut.i.valid, v)
            ctx.set(dut.i.payload, p)
            ctx.set(dut.o.ready, ready[c])
            ctx.set(dut.rx, ctx.get(dut.tx))
            _, _, r, t, ov, op, e = await ctx.tick().sample(
                dut.i.ready, dut.tx, dut.o.valid, dut.o.payload, dut.errors.as_value())
            tx.append(t)
            t_ready.append(r)
            t_valid.append(v)
            valid.append(ov)
            payload.append(op)
            errors.append(e)
            if v and r:
                source.take(c)

    simulate(dut, [bench])
    return _tx_trace(tx, t_ready, t_valid, source), _rx_trace(valid, payload, errors, ready)

