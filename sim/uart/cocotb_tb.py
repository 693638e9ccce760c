"""cocotb bench of the :class:`~hetq.hdl.uart.UART` on its generated Verilog, with
cocotbext-uart.

Settings come from the .npz named by ``HETQ_BENCH`` (see
:func:`hetq.sim.uart.cocotb_bench.save_bench`). The clock period is
:data:`~hetq.sim.uart.stimulus.CLOCK_NS` ns. The line script is played on ``rx`` from an odd
ns after reset: its good frames through one ``UartSource`` per bit length (the bit times are
whole ns, as cocotbext-uart counts them), its framing errors, glitches, breaks and idle gaps
bit-banged. The transmitter gets the bytes of a :class:`~hetq.golden.fixed.uart.ByteSource`,
and a ``UartSink`` at the nominal baud rate reads ``tx``. A monitor records every cycle's
``rx``, ``tx``, ``o`` and ``errors`` and drives ``o.ready`` with a seeded random pattern.

The bench then checks, with exact equality: the recorded ``rx`` is the script's waveform; the
receiver's outputs in every cycle are the cycle-exact model's for that ``rx`` and ready; the
bytes received are the script's good frames, with one framing pulse per bad frame and one
break pulse per break; ``tx`` in every cycle is the transmitter model's; the sink read the
bytes sent. What it saw goes to ``<HETQ_BENCH>.result.npz``.
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotbext.uart import UartSink, UartSource

from hetq.golden.fixed.uart import frame_bits, receive, transmit
from hetq.sim.uart.cocotb_bench import load_bench
from hetq.sim.uart.stimulus import CLOCK_NS, NS_PER_UNIT, Frame

__all__ = ["run_uart"]


def _baud(bit_ns):
    """A baud rate whose bit time cocotbext-uart truncates to exactly ``bit_ns`` ns."""
    return 1e9 / (bit_ns + 0.25)


async def _play(dut, script, offset_ns):
    """Play ``script`` on ``rx``, starting ``offset_ns`` from now."""
    sources = {}
    for it in script.items:
        if isinstance(it, Frame) and it.stop and it.bit not in sources:
            sources[it.bit] = UartSource(dut.rx, baud=_baud(it.bit * NS_PER_UNIT))
    await Timer(offset_ns, unit="ns")
    items, k = script.items, 0
    while k < len(items):
        it = items[k]
        if isinstance(it, Frame) and it.stop:
            burst = []
            while k < len(items) and isinstance(items[k], Frame) and items[k].stop \
                    and items[k].bit == it.bit:
                burst.append(items[k].byte)
                k += 1
            source = sources[it.bit]
            source.write_nowait(burst)
            await source.wait()
            continue
        levels = frame_bits(it.byte, it.stop) if isinstance(it, Frame) else [it.level]
        length = it.bit if isinstance(it, Frame) else it.length
        for level in levels:
            dut.rx.value = level
            await Timer(length * NS_PER_UNIT, unit="ns")
        dut.rx.value = 1
        k += 1


async def run_uart(dut, path):
    bench = load_bench(path)
    cfg, script, source = bench["config"], bench["script"], bench["source"]
    cycles, offset = bench["cycles"], bench["offset_ns"]
    ready = np.asarray(bench["ready"], dtype=np.int64)
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    dut.rx.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    sink = UartSink(dut.tx, baud=_baud(cfg.divisor * CLOCK_NS))
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    player = cocotb.start_soon(_play(dut, script, offset))

    # per cycle: rx, tx, o.valid, o.payload, errors, i.ready
    seen = np.zeros((6, cycles), dtype=np.int64)
    tx_source = source.copy()
    for c in range(cycles):
        valid, payload = tx_source.offer(c)
        dut.i__valid.value = valid
        dut.i__payload.value = payload
        dut.o__ready.value = int(ready[c])
        await RisingEdge(dut.clk)
        seen[:, c] = (int(dut.rx.value), int(dut.tx.value), int(dut.o__valid.value),
                      dut.o__payload.value.to_unsigned(), dut.errors.value.to_unsigned(),
                      int(dut.i__ready.value))
        if valid and seen[5, c]:
            tx_source.take(c)
    await player
    received = list(sink.read_nowait())

    rx = seen[0]
    model_rx = receive(cfg, rx, ready)
    model_tx = transmit(cfg, source.copy(), cycles)
    errors = (seen[4][:, None] >> np.arange(3)) & 1
    taken = np.flatnonzero(seen[2] & ready)
    np.savez(f"{path}.result.npz", rx=rx, tx=seen[1], valid=seen[2], payload=seen[3],
             errors=errors, i_ready=seen[5], taken=np.array(tx_source.taken, dtype=np.int64),
             received=np.array(received, dtype=np.int64), data=seen[3][taken])
    np.testing.assert_equal(rx, script.render(phase=(CLOCK_NS - offset) / NS_PER_UNIT,
                                              tail=cycles)[:cycles], err_msg="rx line")
    for name, got in (("valid", seen[2]), ("payload", seen[3]), ("errors", errors)):
        np.testing.assert_equal(got, getattr(model_rx, name), err_msg=name)
    assert model_rx.data == script.good_bytes, "bytes received"
    assert (model_rx.count("framing"), model_rx.count("brk"), model_rx.count("overrun")) == (
        script.framing, script.breaks, 0), "error pulses"
    np.testing.assert_equal(seen[1], model_tx.tx, err_msg="tx line")
    np.testing.assert_equal(seen[5], model_tx.ready, err_msg="i.ready")
    assert received == source.data, "bytes read by the UartSink"


@cocotb.test()
async def uart_matches_the_models_and_cocotbext_uart(dut):
    await run_uart(dut, os.environ["HETQ_BENCH"])
