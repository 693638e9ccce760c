"""The UART in Amaranth's simulator against its cycle-exact model (every output, every cycle)
and against what the line carried: random lines with idle gaps, glitches, far ends 2 % fast
and slow, framing errors, long breaks and back-pressure; garbage lines; the transmitter's
waveform; a loopback through both halves."""

import numpy as np
import pytest

from hetq.golden.fixed.uart import ByteSource, UARTConfig, receive, transmit
from hetq.hdl.uart import UART, UARTReceiver, UARTTransmitter, error_layout
from hetq.sim.kit.amaranth_sim import simulate
from hetq.sim.uart.amaranth_bench import run_loopback, run_receiver, run_transmitter
from hetq.sim.uart.stimulus import (UNITS, Frame, LineScript, garbage_script, random_bytes,
                                    random_delays, random_script, ready_pattern)


def config(divisor):
    return UARTConfig(clock_hz=divisor * 1_000_000, baud=1_000_000)


def assert_rx_equal(rtl, model):
    for name in ("valid", "payload", "errors", "taken"):
        np.testing.assert_equal(getattr(rtl, name), getattr(model, name), err_msg=name)


def assert_tx_equal(rtl, model):
    for name in ("tx", "ready", "valid", "taken"):
        np.testing.assert_equal(getattr(rtl, name), getattr(model, name), err_msg=name)


def is_subsequence(part, whole):
    it = iter(whole)
    return all(any(b == w for w in it) for b in part)


@pytest.mark.parametrize("divisor, frames, seed", [(2, 90, 11), (3, 80, 12), (4, 70, 1),
                                                   (5, 50, 2), (7, 36, 3), (16, 16, 7)])
def test_receiver_on_random_lines(divisor, frames, seed):
    """Every cycle equals the model; the bytes are the good frames' (a ready low 30 % of the
    time never overruns), one framing pulse per bad frame, one break pulse per break."""
    cfg = config(divisor)
    rng = np.random.default_rng(seed)
    # far ends within the receiver's tolerance (none faster at divisor 2), glitches shorter
    # than half a bit where there are any
    fast, _ = cfg.rx_tolerance
    skews = tuple(s for s in (-0.02, 0.0, 0.02) if s >= fast)
    script = random_script(rng, cfg, frames, skews=skews, glitch=0.08 if cfg.half >= 2 else 0,
                           framing=0.1, brk=0.08)
    rx = script.render(phase=int(rng.integers(0, 50)), tail=cfg.rx_latency)
    ready = ready_pattern(rng, len(rx), stall=0.3)
    rtl = run_receiver(cfg, rx, ready)
    assert_rx_equal(rtl, receive(cfg, rx, ready))
    assert rtl.data == script.good_bytes
    assert (rtl.count("framing"), rtl.count("brk"), rtl.count("overrun")) == (
        script.framing, script.breaks, 0)
    assert script.framing and script.breaks


def test_receiver_overruns_under_back_pressure():
    """Ready held low for up to three frames at a time: every good frame is either delivered,
    in order, or counted as an overrun."""
    cfg = config(4)
    rng = np.random.default_rng(11)
    script = random_script(rng, cfg, 80, glitch=0.0, framing=0.0, brk=0.0)
    rx = script.render(phase=13, tail=cfg.rx_latency)
    ready = ready_pattern(rng, len(rx), stall=0.2, hold=0.01, hold_cycles=(40, 120))
    rtl = run_receiver(cfg, rx, ready)
    assert_rx_equal(rtl, receive(cfg, rx, ready))
    overruns = rtl.count("overrun")
    assert overruns > 3 and len(rtl.data) + overruns == len(script.good_bytes)
    assert is_subsequence(rtl.data, script.good_bytes)


def test_a_byte_taken_in_the_stop_bit_cycle_makes_room():
    """The held byte taken in the very cycle the next stop bit is sampled: no overrun, the new
    byte is delivered; a cycle later is too late."""
    cfg = config(8)
    script = LineScript(cfg, [Frame(0x12, 8 * UNITS), Frame(0x34, 8 * UNITS)])
    rx = script.render(phase=20, tail=30)
    never = np.zeros(len(rx), dtype=np.int64)
    stop = int(np.argmax(receive(cfg, rx, never).errors[:, 2])) - 1   # the stop-sample cycle
    for late, data, overruns in ((0, [0x12, 0x34], 0), (1, [0x12], 1)):
        ready = never.copy()
        ready[stop + late:] = 1
        rtl = run_receiver(cfg, rx, ready)
        assert_rx_equal(rtl, receive(cfg, rx, ready))
        assert rtl.data == data and rtl.count("overrun") == overruns


@pytest.mark.parametrize("divisor, seed", [(2, 13), (3, 14), (4, 5), (9, 6)])
def test_receiver_on_garbage_lines(divisor, seed):
    """Random levels of random lengths (no outcome to expect but the model's)."""
    cfg = config(divisor)
    rng = np.random.default_rng(seed)
    rx = garbage_script(rng, cfg, 2400 // divisor).render(phase=3, tail=cfg.rx_latency)
    ready = ready_pattern(rng, len(rx), stall=0.5, hold=0.04 / divisor,
                          hold_cycles=(10 * divisor, 40 * divisor))
    rtl = run_receiver(cfg, rx, ready)
    assert_rx_equal(rtl, receive(cfg, rx, ready))
    assert rtl.count("framing") > 5 and rtl.count("overrun") > 1 and len(rtl.taken) > 5


def test_receiver_latency_and_signature():
    cfg = config(6)
    rx = np.ones(120, dtype=np.int64)
    rx[5:11] = 0                                    # a start bit, then 0xFF and the stop bit
    dut = UARTReceiver(cfg)
    rtl = run_receiver(cfg, rx, dut=dut)
    assert int(np.argmax(rtl.valid)) - 5 == cfg.rx_latency and rtl.data == [0xFF]
    assert dut.signature.members["rx"].init == 1
    assert dut.signature.members["errors"].shape == error_layout
    assert [n for n, _ in error_layout] == ["framing", "brk", "overrun"]


@pytest.mark.parametrize("divisor, n, seed", [(2, 50, 15), (3, 40, 16), (4, 40, 7),
                                               (7, 24, 8)])
def test_transmitter_matches_model(divisor, n, seed):
    cfg = config(divisor)
    rng = np.random.default_rng(seed)
    source = ByteSource(random_bytes(rng, n), random_delays(rng, n, longest=3 * divisor * 10))
    cycles = n * cfg.frame_cycles + sum(source.delays) + 20
    rtl = run_transmitter(cfg, source.copy(), cycles)
    assert_tx_equal(rtl, transmit(cfg, source.copy(), cycles))
    assert len(rtl.taken) == n and receive(cfg, rtl.tx).data == source.data
    assert rtl.tx[0] == 1 and rtl.tx[-1] == 1


def test_loopback_through_both_halves():
    cfg = config(5)
    rng = np.random.default_rng(9)
    n = 30
    source = ByteSource(random_bytes(rng, n), random_delays(rng, n))
    cycles = n * cfg.frame_cycles + sum(source.delays) + cfg.rx_latency + 10
    ready = ready_pattern(rng, cycles, stall=0.4)
    tx, rx = run_loopback(cfg, source.copy(), cycles, ready)
    model_tx = transmit(cfg, source.copy(), cycles)
    assert_tx_equal(tx, model_tx)
    assert_rx_equal(rx, receive(cfg, model_tx.tx, ready))
    assert rx.data == source.data and not rx.errors.any()


@pytest.mark.parametrize("cls", [UARTReceiver, UARTTransmitter, UART])
def test_components_take_a_uart_config(cls):
    with pytest.raises(TypeError, match="config must be a UARTConfig, not dict"):
        cls({"clock_hz": 48_000_000})
    dut = cls(UARTConfig())
    assert dut.config == UARTConfig()
    simulate(dut, [])
