"""Cycle-exact twin of ``hdl/uart.py`` (the 8N1 UART) and its configuration.

:class:`UARTConfig` is the block's configuration: the clock and the baud rate, the divisor
(clock cycles per bit) they give, checked once against the 2 % rule, and the timing figures
that follow from it (the receiver's latency and the range of far-end baud rates it decodes).

:class:`UARTReceiverModel` and :class:`UARTTransmitterModel` step the hardware one clock cycle
at a time and give the same outputs in the same cycles as the RTL: given the level of the
``rx`` pin at every clock edge and the consumer's ``ready`` in every cycle, the receiver model
gives ``o.valid``, ``o.payload`` and the ``errors`` pulses of every cycle; given the bytes
offered on ``i`` (:class:`ByteSource`: each byte offered a given number of cycles after the
previous one was taken), the transmitter model gives the ``tx`` line of every cycle.
:func:`receive` and :func:`transmit` run them over whole waveforms.

Cycle ``c`` is the clock period that ends with clock edge ``c + 1`` (cycle 0 is the first
one after reset); ``rx[c]`` is the pin level that edge samples, outputs of cycle ``c`` are
the values the design drives during it, and a transfer in cycle ``c`` is one whose ``valid``
and ``ready`` are both high during it.
"""

from dataclasses import dataclass

import numpy as np

from ..checks import check_instance, check_int
from .config import BlockConfig

__all__ = ["UARTConfig", "MAX_BAUD_ERROR", "MIN_DIVISOR", "ERROR_FIELDS", "ByteSource",
           "UARTReceiverModel", "UARTTransmitterModel", "RxTrace", "TxTrace", "receive",
           "transmit", "frame_bits"]

#: The largest relative difference between the baud rate asked for and the one the divisor
#: gives.
MAX_BAUD_ERROR = 0.02
#: The UART needs at least this many clock cycles per bit. Its tolerance of a far end's baud
#: rate grows with the divisor (:attr:`UARTConfig.rx_tolerance`: none faster at divisor 2,
#: -2.5 % at 4); boards use 16 or more, the simulated board 2.
MIN_DIVISOR = 2
#: The fields of the receiver's ``errors`` port, least significant first.
ERROR_FIELDS = ("framing", "brk", "overrun")

_IDLE, _START, _DATA, _WAIT = range(4)


@dataclass(frozen=True)
class UARTConfig(BlockConfig):
    """The UART: 8 data bits, no parity, one stop bit, at ``baud`` from a ``clock_hz`` clock.

    Parameters
    ----------
    clock_hz : int
        The clock of the design in Hz (default 48 MHz).
    baud : int
        The baud rate asked for (default 3 Mbaud, what the boards' FTDI parts carry).

    Raises
    ------
    TypeError
        A parameter that is not an integer.
    ValueError
        A parameter that is not positive; a divisor below :data:`MIN_DIVISOR`; a divisor whose
        baud rate is more than :data:`MAX_BAUD_ERROR` away from ``baud`` (the message names
        the baud rate, the clock, the divisor, the rate it gives and how far off it is).
    """

    clock_hz: int = 48_000_000
    baud: int = 3_000_000

    def __post_init__(self):
        self._resolve("clock_hz", check_int("clock_hz", self.clock_hz, 1))
        self._resolve("baud", check_int("baud", self.baud, 1))
        ratio = self.clock_hz / self.baud
        if self.divisor < MIN_DIVISOR:
            raise ValueError(f"baud rate {self.baud} is too fast for a {self.clock_hz} Hz "
                             f"clock: the UART needs at least {MIN_DIVISOR} clock cycles per "
                             f"bit, the clock gives {ratio:.3g}")
        if abs(self.error) > MAX_BAUD_ERROR:
            raise ValueError(f"baud rate {self.baud} cannot be met within "
                             f"{MAX_BAUD_ERROR * 100:g} % from a {self.clock_hz} Hz clock: "
                             f"divisor {self.divisor} gives {self.actual_baud:.0f} baud, "
                             f"{abs(self.error) * 100:.2f} % off")

    @property
    def divisor(self):
        """Clock cycles per bit: ``clock_hz / baud`` to the nearest integer (a tie rounds up,
        which gives the smaller relative error of the two)."""
        return (2 * self.clock_hz + self.baud) // (2 * self.baud)

    @property
    def actual_baud(self):
        """The baud rate the divisor gives, ``clock_hz / divisor`` (a float)."""
        return self.clock_hz / self.divisor

    @property
    def error(self):
        """``actual_baud / baud - 1``: positive when the UART is faster than asked."""
        return self.actual_baud / self.baud - 1

    @property
    def half(self):
        """The receiver's wait from a start edge to the start-bit check: ``divisor // 2``."""
        return self.divisor // 2

    @property
    def frame_cycles(self):
        """Cycles of one frame (start, 8 data bits, stop): ``10 * divisor``; the transmitter
        sends back-to-back bytes exactly this far apart."""
        return 10 * self.divisor

    @property
    def rx_latency(self):
        """Cycles from the first clock edge that samples a start bit's low level on ``rx`` to
        the cycle its byte is valid on ``o``: two synchroniser stages, the edge, the half-bit
        wait, nine bits to the stop bit's middle, the output register."""
        return 3 + self.half + 9 * self.divisor

    @property
    def rx_tolerance(self):
        """``(fast, slow)``: the range of far-end bit lengths, relative to ``divisor`` clock
        cycles, that the receiver decodes back to back whatever the phase of the line against
        the clock (every bit, the stop bit included, sampled inside it). The stop bit, the
        tenth, is sampled ``half + 9 * divisor`` cycles (plus the phase, under one cycle)
        after the start edge, so a bit of ``B`` cycles works while ``9 B <= half + 9 divisor``
        and ``10 B >= half + 9 divisor + 1``. At divisor 2 that is 0 % / +5.6 % (only a far
        end as fast as the UART or slower), at 4 -2.5 % / +5.6 %, at 16
        -4.4 % / +5.6 %."""
        d, h = self.divisor, self.half
        return (9 * d + h + 1) / (10 * d) - 1, (9 * d + h) / (9 * d) - 1


def frame_bits(byte, stop=1):
    """The ten line levels of an 8N1 frame: the start bit (0), the data bits LSB first, the
    stop bit (``stop``; 0 makes a framing error)."""
    byte = check_int("byte", byte, 0, 255)
    return [0] + [(byte >> k) & 1 for k in range(8)] + [check_int("stop", stop, 0, 1)]


class UARTReceiverModel:
    """The receiver, one clock cycle per :meth:`step` (see :class:`~hetq.hdl.uart.
    UARTReceiver` for the behaviour).

    Parameters
    ----------
    config : UARTConfig
    """

    def __init__(self, config):
        self.config = check_instance("config", config, UARTConfig)
        self._d, self._h = config.divisor, config.half
        self.s1 = self.s2 = self.prev = 1           # the synchroniser and the edge detector
        self.state = _IDLE
        self.timer = -1                             # cycles to the next sample, minus one
        self.bits = 0                               # data bits still to sample
        self.shreg = 0
        self.seen_one = 0                           # a data bit of this frame was 1
        self.valid = 0
        self.payload = 0
        self.errors = 0                             # ERROR_FIELDS as bits, least first

    def step(self, rx, ready):
        """Advance one cycle: ``rx`` is the pin level at the clock edge that ends it, ``ready``
        the consumer's ready during it. Returns ``(valid, payload, errors, taken)``: the
        outputs during the cycle (``errors`` packed as :data:`ERROR_FIELDS`, bit 0 first) and
        whether a byte was taken in it."""
        valid, payload, errors = self.valid, self.payload, self.errors
        taken = bool(valid and ready)
        s2, edge, tick = self.s2, self.prev and not self.s2, self.timer < 0
        self.s1, self.s2, self.prev = int(rx), self.s1, s2
        self.errors = 0
        if taken:
            self.valid = 0
        if not tick:
            self.timer -= 1
        if self.state == _IDLE:
            if edge:
                self.state, self.timer = _START, self._h - 2
        elif self.state == _START:
            if tick:
                if s2:
                    self.state = _IDLE                  # a glitch
                else:
                    self.state, self.timer, self.bits, self.seen_one = _DATA, self._d - 2, 8, 0
        elif self.state == _DATA:
            if tick:
                self.timer = self._d - 2
                if self.bits:
                    self.shreg = (self.shreg >> 1) | (s2 << 7)
                    self.seen_one |= s2
                    self.bits -= 1
                elif s2:
                    self.state = _IDLE
                    if valid and not ready:
                        self.errors = 4                 # overrun: the byte is dropped
                    else:
                        self.valid, self.payload = 1, self.shreg
                else:
                    self.state = _WAIT
                    self.errors = 1 if self.seen_one else 2      # framing, break
        elif s2:                                        # _WAIT: for the line to be high
            self.state = _IDLE
        return valid, payload, errors, taken


class ByteSource:
    """The valid timing of a stream of bytes: byte ``k`` is offered ``delays[k]`` cycles after
    the cycle in which byte ``k - 1`` was taken (byte 0: from cycle ``delays[0]``) and stays
    offered until it is taken. Benches drive the RTL with it, :func:`transmit` the model.

    Parameters
    ----------
    data : sequence of int
        Bytes (0..255).
    delays : sequence of int, optional
        Idle cycles before each byte (>= 0; default none).
    """

    def __init__(self, data, delays=None):
        self.data = [check_int("byte", b, 0, 255) for b in data]
        delays = [0] * len(self.data) if delays is None else list(delays)
        if len(delays) != len(self.data):
            raise ValueError(f"{len(delays)} delays for {len(self.data)} bytes")
        self.delays = [check_int("delay", t, 0) for t in delays]
        self.index = 0
        self.taken = []
        self._from = self.delays[0] if self.delays else 0

    @property
    def done(self):
        return self.index == len(self.data)

    def copy(self):
        """A new source of the same bytes and delays, from its start (a run consumes one)."""
        return ByteSource(self.data, self.delays)

    def offer(self, cycle):
        """``(valid, payload)`` during ``cycle`` (payload 0 when not valid)."""
        if self.done or cycle < self._from:
            return 0, 0
        return 1, self.data[self.index]

    def take(self, cycle):
        """The byte offered during ``cycle`` was taken in it."""
        self.taken.append(cycle)
        self.index += 1
        if not self.done:
            self._from = cycle + 1 + self.delays[self.index]


class UARTTransmitterModel:
    """The transmitter, one clock cycle per :meth:`step` (see :class:`~hetq.hdl.uart.
    UARTTransmitter` for the behaviour).

    Parameters
    ----------
    config : UARTConfig
    """

    def __init__(self, config):
        self.config = check_instance("config", config, UARTConfig)
        self._d = config.divisor
        self.tx = 1
        self.timer = -1                             # cycles left of this bit, minus one
        self.bits = 0                               # bits still to send after this one
        self.shreg = 0

    @property
    def ready(self):
        """``i.ready``: no frame being sent, or the last cycle of a stop bit."""
        return int(self.timer < 0 and self.bits == 0)

    def step(self, valid, payload):
        """Advance one cycle with ``i.valid`` and ``i.payload`` during it. Returns ``(ready,
        tx, taken)``: the outputs during the cycle and whether the byte was taken."""
        ready, tx = self.ready, self.tx
        taken = bool(ready and valid)
        if taken:
            self.tx, self.shreg, self.bits, self.timer = 0, int(payload) | 0x100, 9, self._d - 2
        elif self.timer < 0 and self.bits:
            self.tx, self.shreg, self.bits = self.shreg & 1, self.shreg >> 1, self.bits - 1
            self.timer = self._d - 2
        elif self.timer >= 0:
            self.timer -= 1
        return ready, tx, taken


@dataclass
class RxTrace:
    """The receiver's outputs, one entry per cycle.

    Members
    -------
    valid, payload : int64 arrays (cycles,)
        ``o.valid`` and ``o.payload`` (the held byte register, also when not valid).
    errors : int64 array (cycles, 3)
        ``errors.framing``, ``errors.brk``, ``errors.overrun``.
    taken : int64 array (transfers, 2)
        ``(cycle, byte)`` of every byte taken from ``o``.
    """

    valid: np.ndarray
    payload: np.ndarray
    errors: np.ndarray
    taken: np.ndarray

    @property
    def data(self):
        """The bytes taken, in order."""
        return [int(b) for b in self.taken[:, 1]]

    def count(self, field):
        """Pulses of one :data:`ERROR_FIELDS` entry."""
        return int(self.errors[:, ERROR_FIELDS.index(field)].sum())


@dataclass
class TxTrace:
    """The transmitter's outputs, one entry per cycle: ``tx``, ``ready`` (``i.ready``) and
    ``valid`` (``i.valid``, from the source) as int64 arrays, and ``taken``, the cycles in which
    the bytes were taken."""

    tx: np.ndarray
    ready: np.ndarray
    valid: np.ndarray
    taken: np.ndarray


def receive(config, rx, ready=None):
    """Run :class:`UARTReceiverModel` over a waveform.

    Parameters
    ----------
    config : UARTConfig
    rx : array of 0/1 (cycles,)
        The pin level at the clock edge that ends every cycle.
    ready : array of 0/1 (cycles,), optional
        The consumer's ``o.ready`` per cycle (default always 1).

    Returns
    -------
    RxTrace
    """
    rx = np.asarray(rx)
    ready = np.ones(len(rx), dtype=np.int64) if ready is None else np.asarray(ready)
    if rx.ndim != 1 or ready.shape != rx.shape:
        raise ValueError(f"rx and ready must be 1-D of one length, got shapes {rx.shape} "
                         f"and {ready.shape}")
    model = UARTReceiverModel(config)
    n = len(rx)
    valid = np.zeros(n, dtype=np.int64)
    payload = np.zeros(n, dtype=np.int64)
    errors = np.zeros(n, dtype=np.int64)
    taken = []
    for c, (level, r) in enumerate(zip(rx.tolist(), ready.tolist())):
        valid[c], payload[c], errors[c], t = model.step(level, r)
        if t:
            taken.append((c, payload[c]))
    bits = (errors[:, None] >> np.arange(3)) & 1
    return RxTrace(valid, payload, bits, np.array(taken, dtype=np.int64).reshape(-1, 2))


def transmit(config, source, cycles):
    """Run :class:`UARTTransmitterModel` for ``cycles`` cycles with the bytes of ``source``
    (a :class:`ByteSource`, consumed).

    Returns
    -------
    TxTrace
    """
    check_instance("source", source, ByteSource)
    model = UARTTransmitterModel(config)
    out = np.zeros((3, check_int("cycles", cycles, 0)), dtype=np.int64)
    for c in range(cycles):
        valid, payload = source.offer(c)
        ready, tx, taken = model.step(valid, payload)
        out[:, c] = tx, ready, valid
        if taken:
            source.take(c)
    return TxTrace(out[0], out[1], out[2], np.array(source.taken, dtype=np.int64))
