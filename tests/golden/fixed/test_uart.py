"""The UART's configuration and cycle-exact model (golden/fixed/uart.py): divisors and the 2 %
rule with its messages, serialisation, and the model's behaviour on ideal line waveforms
(every phase, far ends off by the receiver's tolerance and just beyond it)."""

import json

import numpy as np
import pytest

from hetq.golden.fixed.uart import (ByteSource, UARTConfig, UARTReceiverModel, frame_bits,
                                    receive, transmit)
from hetq.sim.uart.stimulus import UNITS, Frame, LineScript, random_bytes


def test_defaults_are_the_boards_link():
    c = UARTConfig()
    assert (c.clock_hz, c.baud, c.divisor, c.actual_baud, c.error) == (48_000_000, 3_000_000,
                                                                     16, 3e6, 0.0)
    assert (c.half, c.frame_cycles, c.rx_latency) == (8, 160, 3 + 8 + 9 * 16)


@pytest.mark.parametrize("clock, baud, divisor, error", [
    (100_000_000, 3_000_000, 33, 100 / 99 - 1),
    (12_000_000, 3_000_000, 4, 0.0),
    (50_000_000, 3_000_000, 17, 50 / 51 - 1),
    (100_000_000, 25_000_000, 4, 0.0),
    (51_000_000, 2_000_000, 26, 51 / 52 - 1),       # 25.5: a tie rounds up (-1.92 %, not +2 %)
    (1_000_000, 9600, 104, 1e6 / 104 / 9600 - 1),
])
def test_divisor_is_the_nearest_integer(clock, baud, divisor, error):
    c = UARTConfig(clock_hz=clock, baud=baud)
    assert c.divisor == divisor and c.actual_baud == clock / divisor
    assert c.error == pytest.approx(error, abs=1e-15)


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"clock_hz": 25_000_000}, ValueError,
     "baud rate 3000000 cannot be met within 2 % from a 25000000 Hz clock: divisor 8 gives "
     "3125000 baud, 4.17 % off"),
    ({"clock_hz": 4_000_000}, ValueError,
     "baud rate 3000000 is too fast for a 4000000 Hz clock: the UART needs at least 2 clock "
     "cycles per bit, the clock gives 1.33"),
    ({"clock_hz": 48e6}, TypeError, "clock_hz must be an integer, not 48000000.0"),
    ({"baud": True}, TypeError, "baud must be an integer, not True"),
    ({"baud": 0}, ValueError, "baud must be >= 1, not 0"),
    ({"clock_hz": -1}, ValueError, "clock_hz must be >= 1, not -1"),
])
def test_validated_when_made(kwargs, exc, text):
    with pytest.raises(exc) as e:
        UARTConfig(**kwargs)
    assert str(e.value) == text


def test_the_two_percent_limit_is_inclusive_and_names_the_sign_free_error():
    assert UARTConfig(clock_hz=51_000_000, baud=2_000_000).error < -0.019   # 1.92 % slow
    with pytest.raises(ValueError, match=r"divisor 5 gives 2400000 baud, 4.35 % off"):
        UARTConfig(clock_hz=12_000_000, baud=2_300_000)


def test_round_trip_and_printing():
    c = UARTConfig(clock_hz=100_000_000, baud=3_000_000)
    again = UARTConfig.from_dict(json.loads(c.to_json()))
    assert again == c and hash(again) == hash(c)
    assert c.to_dict() == {"clock_hz": 100_000_000, "baud": 3_000_000}
    assert str(c) == "UARTConfig(clock_hz=100000000, baud=3000000)"
    with pytest.raises(ValueError, match="unknown UARTConfig field.*: divisor"):
        UARTConfig.from_dict({"divisor": 16})
    with pytest.raises(ValueError, match="4.17 % off"):
        UARTConfig.from_dict({"clock_hz": 25_000_000})


def test_frame_bits():
    assert frame_bits(0x35) == [0, 1, 0, 1, 0, 1, 1, 0, 0, 1]
    assert frame_bits(0, stop=0) == [0] * 10
    with pytest.raises(ValueError, match="byte must be in"):
        frame_bits(256)


def _decodes(config, bit, data, phases):
    """Whether the receiver model gives exactly ``data`` back, with no error, for frames of
    ``bit`` units back to back, at every phase in ``phases``."""
    script = LineScript(config, [Frame(b, bit) for b in data])
    for phase in phases:
        trace = receive(config, script.render(phase=phase, tail=4 * config.divisor))
        if trace.data != data or trace.errors.any():
            return False
    return True


@pytest.mark.parametrize("divisor", [4, 5, 7, 16, 33])
def test_model_decodes_back_to_back_frames_two_percent_off_at_every_phase(divisor):
    config = UARTConfig(clock_hz=divisor * 1_000_000, baud=1_000_000)
    data = random_bytes(np.random.default_rng(divisor), 24)
    for skew in (-0.02, 0.0, 0.02):
        bit = round(divisor * UNITS * (1 + skew))
        assert _decodes(config, bit, data, range(0, UNITS, 7))


@pytest.mark.parametrize("divisor", [4, 5, 16])
def test_rx_tolerance_is_the_edge(divisor):
    """Far-end bits within :attr:`rx_tolerance` decode at every phase (the unit grid has 50
    phases per cycle); one unit (1/50 cycle) beyond either end fails at some phase."""
    config = UARTConfig(clock_hz=divisor * 1_000_000, baud=1_000_000)
    fast, slow = config.rx_tolerance
    shortest = int(np.ceil(divisor * UNITS * (1 + fast) - 1e-9))
    longest = int(np.floor(divisor * UNITS * (1 + slow) + 1e-9))
    data = [0x00, 0xFF, 0x7F, 0x80, 0x55, 0xAA, 0x0F, 0xF0] * 2
    phases = range(UNITS)
    assert _decodes(config, shortest, data, phases) and _decodes(config, longest, data, phases)
    assert not _decodes(config, shortest - 1, data, phases)
    assert not _decodes(config, longest + 1, data, phases)


def test_tolerance_figures():
    fast, slow = UARTConfig(clock_hz=4_000_000, baud=1_000_000).rx_tolerance
    assert (round(fast * 100, 3), round(slow * 100, 3)) == (-2.5, 5.556)
    fast, slow = UARTConfig().rx_tolerance
    assert (round(fast * 100, 3), round(slow * 100, 3)) == (-4.375, 5.556)


def test_receiver_model_latency_and_hold():
    config = UARTConfig(clock_hz=8_000_000, baud=1_000_000)           # divisor 8
    rx = LineScript(config, [Frame(0xA5, 8 * UNITS)]).render(phase=1, tail=40)
    ready = np.zeros(len(rx), dtype=np.int64)
    trace = receive(config, rx, ready)
    first_low = int(np.argmax(rx == 0))
    valid_from = int(np.argmax(trace.valid))
    assert valid_from - first_low == config.rx_latency
    assert trace.valid[valid_from:].all() and (trace.payload[valid_from:] == 0xA5).all()
    assert len(trace.taken) == 0                       # never ready: held, not taken


def test_transmitter_model_waveform():
    """Every taken byte's frame starts the cycle after it is taken, bits of ``divisor``
    cycles; back-to-back bytes are a frame apart; the line is high otherwise."""
    config = UARTConfig(clock_hz=5_000_000, baud=1_000_000)
    d = config.divisor
    data = [0x00, 0xFF, 0x01, 0x80, 0x3C, 0x00]
    delays = [3, 0, 0, 57, 0, 1]
    trace = transmit(config, ByteSource(data, delays), 400)
    expected = np.ones(400, dtype=np.int64)
    for byte, c in zip(data, trace.taken):
        expected[c + 1:c + 1 + 10 * d] = np.repeat(frame_bits(byte), d)
    np.testing.assert_equal(trace.tx, expected)
    assert trace.taken[0] == 3 and trace.taken[1] - trace.taken[0] == config.frame_cycles
    assert trace.taken[3] - trace.taken[2] == 1 + 57                 # idle longer than a frame
    assert trace.taken[5] - trace.taken[4] == config.frame_cycles      # a delay within a frame
    assert (trace.ready[trace.taken] == 1).all()


def test_transmitter_model_into_receiver_model():
    config = UARTConfig()
    data = random_bytes(np.random.default_rng(5), 40)
    delays = list(np.random.default_rng(6).integers(0, 30, 40))
    tx = transmit(config, ByteSource(data, delays), 40 * 200).tx
    assert receive(config, tx).data == data


def test_byte_source_and_model_arguments():
    with pytest.raises(ValueError, match="2 delays for 3 bytes"):
        ByteSource([1, 2, 3], [0, 0])
    with pytest.raises(ValueError, match="byte must be in"):
        ByteSource([300])
    with pytest.raises(ValueError, match="delay must be >= 0"):
        ByteSource([1], [-1])
    with pytest.raises(TypeError, match="config must be a UARTConfig"):
        UARTReceiverModel({"baud": 3_000_000})
    with pytest.raises(ValueError, match="rx and ready must be 1-D of one length"):
        receive(UARTConfig(), np.ones(10), np.ones(9))
