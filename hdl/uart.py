"""An 8N1 UART: receiver, transmitter, and both behind one component.

Cycle-exact twin and configuration: :mod:`hetq.golden.fixed.uart` (:class:`~hetq.golden.
fixed.uart.UARTConfig`: the clock, the baud rate and the divisor between them, refused when
the baud rate cannot be met within 2 %). Both directions time their bits with a down counter
whose sign bit is the "bit time over" flag, so that no comparator sits in the bit-timing path.
"""

from amaranth import C, Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from ..golden.checks import check_instance
from ..golden.fixed.uart import UARTConfig
from .kit import CheckedComponent

__all__ = ["UARTReceiver", "UARTTransmitter", "UART", "error_layout"]

#: The receiver's error pulses (each high for one cycle per event).
error_layout = data.StructLayout({"framing": 1, "brk": 1, "overrun": 1})


class _BitTimer:
    """The cycles left in a bit, minus one, counting down to -1, whose sign bit is the tick.

    Only the sign bit is reset (to 1: no wait running); the value bits, don't-care while the
    tick is high, are reset-less, so that every one of them has the same controls and the
    decrement stays one carry chain (a reset beside the loads split it on the iCE40)."""

    def __init__(self, m, divisor):
        self._m = m
        self.value = Signal((divisor - 2).bit_length(), reset_less=True)
        self.tick = Signal(init=1)
        with m.If(~self.tick):
            m.d.sync += Cat(self.value, self.tick).eq(Cat(self.value, C(0, 1)) - 1)

    def wait(self, cycles):
        """Tick ``cycles`` (>= 1) cycles from now."""
        if cycles == 1:                                # the tick stays (or goes) high
            self._m.d.sync += self.tick.eq(1)
        else:
            self._m.d.sync += [self.value.eq(cycles - 2), self.tick.eq(0)]


class _UARTPart(CheckedComponent):
    @classmethod
    def check(cls, config):
        check_instance("config", config, UARTConfig)

    def __init__(self, config, members):
        self.check(config)
        self._config = config
        super().__init__(members)

    @property
    def config(self):
        return self._config


class UARTReceiver(_UARTPart):
    """The receiving half of an 8N1 UART.

    The pin goes through a two-flop synchroniser (:class:`amaranth.lib.cdc.FFSynchronizer`).
    A start bit is a falling edge of the synchronised line; ``half = divisor // 2`` cycles
    later the line must still be low (else it was a glitch, and the receiver looks for the next
    falling edge). The 8 data bits (LSB first) and the stop bit are then sampled ``divisor``
    cycles apart, in the middle of each bit. On the stop bit:

    - high: the byte is delivered on ``o`` (from the next cycle), or, if the byte before it
      is still held and not taken in this cycle, the new byte is dropped and
      ``errors.overrun`` pulses; the receiver looks for the next falling edge right away, so
      a next start bit may follow the stop bit immediately;
    - low, with all data bits low: a break; ``errors.brk`` pulses once, and the receiver waits
      for the line to be high before it looks for a start bit (however long the break lasts);
    - low, with a data bit high: a framing error; ``errors.framing`` pulses, the byte is
      dropped, and the receiver waits for the line to be high.

    Timing (:class:`~hetq.golden.fixed.uart.UARTConfig`): a byte is valid on ``o``
    :attr:`~hetq.golden.fixed.uart.UARTConfig.rx_latency` cycles after the first clock edge
    that samples its start bit low; the error pulses come in that same cycle. A far-end bit
    length within :attr:`~hetq.golden.fixed.uart.UARTConfig.rx_tolerance` of ``divisor``
    cycles is decoded at any phase.

    Parameters
    ----------
    config : UARTConfig

    Members
    -------
    rx : ``In(1, init=1)``
        The pin: asynchronous to the clock, idle high.
    o : ``Out(stream.Signature(8))``
        Received bytes (unsigned 8 bits), held (``valid`` high, registered) until taken.
    errors : ``Out(error_layout)``
        ``framing``, ``brk``, ``overrun``: registered one-cycle pulses, one per event.

    Raises
    ------
    TypeError
        A config that is not a UARTConfig.
    """

    def __init__(self, config):
        super().__init__(config, {
            "rx": In(1, init=1),
            "o": Out(stream.Signature(8)),
            "errors": Out(error_layout),
        })

    def elaborate(self, platform):
        m = Module()
        d, h = self._config.divisor, self._config.half
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        prev = Signal(init=1)
        timer = _BitTimer(m, d)
        tick = timer.tick
        bits = Signal(range(9))                         # data bits still to sample
        shreg = Signal(8, reset_less=True)
        seen_one = Signal()                             # a data bit of this frame was high
        m.d.sync += [prev.eq(line), self.errors.eq(0)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(prev & ~line):
                    timer.wait(h)
                    m.next = "start"
            with m.State("start"):
                with m.If(tick):
                    with m.If(line):
                        m.next = "idle"                 # a glitch
                    with m.Else():
                        timer.wait(d)
                        m.d.sync += [bits.eq(8), seen_one.eq(0)]
                        m.next = "data"
            with m.State("data"):
                with m.If(tick):
                    timer.wait(d)
                    with m.If(bits != 0):
                        m.d.sync += [shreg.eq(Cat(shreg[1:], line)), seen_one.eq(seen_one | line),
                                     bits.eq(bits - 1)]
                    with m.Elif(line):
                        m.next = "idle"
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.sync += self.errors.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(shreg)]
                    with m.Else():
                        m.next = "wait"
                        with m.If(seen_one):
                            m.d.sync += self.errors.framing.eq(1)
                        with m.Else():
                            m.d.sync += self.errors.brk.eq(1)
            with m.State("wait"):
                with m.If(line):
                    m.next = "idle"
        return m


class UARTTransmitter(_UARTPart):
    """The sending half of an 8N1 UART.

    A byte taken from ``i`` is sent from the next cycle: a start bit (low), the 8 data bits LSB
    first and a stop bit (high), ``divisor`` cycles each. ``i.ready`` (two flip-flops ANDed) is
    high while no frame is being sent and in the last cycle of a stop bit, so back-to-back
    bytes follow each other with no idle time: one frame every
    :attr:`~hetq.golden.fixed.uart.UARTConfig.frame_cycles` cycles.

    Parameters
    ----------
    config : UARTConfig

    Members
    -------
    i : ``In(stream.Signature(8))``
        Bytes to send (unsigned 8 bits).
    tx : ``Out(1, init=1)``
        The pin, registered; idle high.

    Raises
    ------
    TypeError
        A config that is not a UARTConfig.
    """

    def __init__(self, config):
        super().__init__(config, {"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        d = self._config.divisor
        timer = _BitTimer(m, d)
        tick = timer.tick
        bits = Signal(range(10))                        # bits to send after this one
        last = Signal(init=1)                           # bits == 0
        shreg = Signal(9, reset_less=True)
        m.d.comb += self.i.ready.eq(tick & last)
        with m.If(self.i.valid & self.i.ready):
            timer.wait(d)
            m.d.sync += [self.tx.eq(0), shreg.eq(Cat(self.i.payload, C(1, 1))), bits.eq(9),
                         last.eq(0)]
        with m.Elif(tick & ~last):
            timer.wait(d)
            m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(shreg[1:]), bits.eq(bits - 1),
                         last.eq(bits == 1)]
        return m


class UART(_UARTPart):
    """An 8N1 UART: a :class:`UARTReceiver` and a :class:`UARTTransmitter` of one
    configuration.

    Parameters
    ----------
    config : UARTConfig

    Members
    -------
    rx : ``In(1, init=1)``
        The receive pin (asynchronous, idle high).
    tx : ``Out(1, init=1)``
        The transmit pin (registered, idle high).
    o : ``Out(stream.Signature(8))``
        Received bytes, as :class:`UARTReceiver`.
    i : ``In(stream.Signature(8))``
        Bytes to send, as :class:`UARTTransmitter`.
    errors : ``Out(error_layout)``
        The receiver's error pulses.

    Raises
    ------
    TypeError
        A config that is not a UARTConfig.
    """

    def __init__(self, config):
        self._receiver, self._transmitter = UARTReceiver(config), UARTTransmitter(config)
        rx, tx = self._receiver.signature.members, self._transmitter.signature.members
        super().__init__(config, {"rx": rx["rx"], "tx": tx["tx"], "o": rx["o"], "i": tx["i"],
                                  "errors": rx["errors"]})

    receiver = property(lambda self: self._receiver)
    transmitter = property(lambda self: self._transmitter)

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = rx = self._receiver
        m.submodules.transmitter = tx = self._transmitter
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), self.errors.eq(rx.errors)]
        wiring.connect(m, wiring.flipped(self.o), rx.o)
        wiring.connect(m, wiring.flipped(self.i), tx.i)
        return m
