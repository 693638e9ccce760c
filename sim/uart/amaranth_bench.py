"""The UART in Amaranth's simulator, one testbench step per clock cycle, recording every cycle's
outputs in the form of the cycle-exact model's traces (:mod:`hetq.golden.fixed.uart`)."""

import numpy as np

from ...golden.fixed.uart import RxTrace, TxTrace
from ...hdl.uart import UART, UARTReceiver, UARTTransmitter
from ..kit.amaranth_sim import simulate

__all__ = ["run_receiver", "run_transmitter", "run_loopback"]


def _run(dut, cycles, *, rx=None, ready=None, source=None, loopback=False):
    """Step ``dut`` for ``cycles`` cycles: ``rx`` levels (or, with ``loopback``, the ``tx`` of
    the cycle) and ``ready`` into the receiving half, the bytes of ``source`` into the sending
    half; returns the recorded ``(RxTrace or None, TxTrace or None)``."""
    receiving = rx is not None or loopback
    ready = [1] * cycles if ready is None else [int(v) for v in ready]
    rec = {k: [] for k in ("valid", "payload", "errors", "tx", "t_ready", "t_valid")}
    watch = ([dut.o.valid, dut.o.payload, dut.errors.as_value()] if receiving else []) + (
        [dut.i.ready, dut.tx] if source is not None else [])

    async def bench(ctx):
        last = {}

        def put(signal, name, value):              # a set costs more than a cycle's logic
            if last.get(name) != value:
                ctx.set(signal, value)
                last[name] = value

        for c in range(cycles):
            if source is not None:
                v, p = source.offer(c)
                put(dut.i.valid, "valid", v)
                put(dut.i.payload, "payload", p)
            if receiving:
                put(dut.rx, "rx", ctx.get(dut.tx) if loopback else int(rx[c]))
                put(dut.o.ready, "ready", ready[c])
            seen = (await ctx.tick().sample(*watch))[2:]
            if receiving:
                for name, value in zip(("valid", "payload", "errors"), seen[:3]):
                    rec[name].append(value)
                seen = seen[3:]
            if source is not None:
                rec["t_ready"].append(seen[0])
                rec["tx"].append(seen[1])
                rec["t_valid"].append(v)
                if v and seen[0]:
                    source.take(c)

    simulate(dut, [bench])
    rx_trace = tx_trace = None
    if receiving:
        valid, payload = (np.array(rec[k], dtype=np.int64) for k in ("valid", "payload"))
        errors = (np.array(rec["errors"], dtype=np.int64)[:, None] >> np.arange(3)) & 1
        taken = np.flatnonzero(valid & np.array(ready, dtype=np.int64))
        rx_trace = RxTrace(valid, payload, errors.reshape(-1, 3),
                           np.stack([taken, payload[taken]], axis=1).reshape(-1, 2))
    if source is not None:
        tx_trace = TxTrace(*(np.array(rec[k], dtype=np.int64) for k in
                             ("tx", "t_ready", "t_valid")), np.array(source.taken, dtype=np.int64))
    return rx_trace, tx_trace


def run_receiver(config, rx, ready=None, *, dut=None):
    """Drive ``rx`` (the pin level sampled by each clock edge) and ``ready`` (per cycle,
    default always 1) into :class:`~hetq.hdl.uart.UARTReceiver`; returns its
    :class:`~hetq.golden.fixed.uart.RxTrace`."""
    dut = UARTReceiver(config) if dut is None else dut
    return _run(dut, len(rx), rx=rx, ready=ready)[0]


def run_transmitter(config, source, cycles, *, dut=None):
    """Offer the bytes of ``source`` (a :class:`~hetq.golden.fixed.uart.ByteSource`,
    consumed) to :class:`~hetq.hdl.uart.UARTTransmitter` for ``cycles`` cycles; returns its
    :class:`~hetq.golden.fixed.uart.TxTrace`."""
    dut = UARTTransmitter(config) if dut is None else dut
    return _run(dut, cycles, source=source)[1]


def run_loopback(config, source, cycles, ready=None):
    """:class:`~hetq.hdl.uart.UART` with ``tx`` wired to ``rx``: the bytes of ``source`` go out
    and come back; ``ready`` is the consumer's per cycle (default always 1). Returns the
    ``(TxTrace, RxTrace)``."""
    rx_trace, tx_trace = _run(UART(config), cycles, ready=ready, source=source, loopback=True)
    return tx_trace, rx_trace
