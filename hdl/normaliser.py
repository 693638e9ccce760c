"""The ET layer in hardware: L1 normalisation of raw sensor codes (MODEL.md section 3).

Bit-exact twin: :func:`hetq.golden.fixed.normalise`.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.fixed import DEFAULT_FORMAT, FixedFormat

__all__ = ["Normaliser", "check_sensors"]


def check_sensors(sensors):
    """Validate a sensor count (an int >= 1); raises TypeError/ValueError."""
    if isinstance(sensors, bool) or not isinstance(sensors, int):
        raise TypeError(f"sensors must be an integer, not {sensors!r}")
    if not 1 <= sensors <= 64:
        raise ValueError(f"sensors must be in [1, 64], not {sensors}")
    return sensors


def check_format(fmt):
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"fmt must be a FixedFormat, not {type(fmt).__name__}")
    return fmt


class Normaliser(wiring.Component):
    """L1 normalisation ``x_i = floor(s_i * 2**Fx / sum(s))`` of one sample per transfer.

    The sum is accumulated over ``sensors`` cycles, then one restoring divider per sensor
    produces the Fx + 1 quotient bits, one per cycle. A zero sum gives ``x = 0`` for every
    sensor. One sample is held at a time: a new one is accepted once the result has been
    taken, so a sample takes ``sensors + Fx + 3`` cycles when the output is never stalled.

    Parameters
    ----------
    sensors : int
        S, sensors per sample (1..64).
    fmt : FixedFormat
        Uses ``sensor_bits`` (B) and ``x_frac`` (Fx).

    Members
    -------
    i : ``In(stream.Signature(ArrayLayout(unsigned(B), S)))``
        Raw sensor codes, UQ(B.0) each.
    o : ``Out(stream.Signature(ArrayLayout(unsigned(Fx + 1), S)))``
        Normalised inputs, UQ1.Fx each (1.0 is ``2**Fx``); their sum is at most 1.
    busy : ``Out(1)``
        High while a sample is held (from its acceptance until its result is taken).

    Raises
    ------
    TypeError, ValueError
        Bad ``sensors`` or ``fmt``.
    """

    def __init__(self, *, sensors=8, fmt=DEFAULT_FORMAT):
        self._sensors = check_sensors(sensors)
        self._fmt = check_format(fmt)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(fmt.sensor_bits), sensors))),
            "o": Out(stream.Signature(data.ArrayLayout(unsigned(fmt.x_bits), sensors))),
            "busy": Out(1),
        })

    @property
    def sensors(self):
        return self._sensors

    @property
    def fmt(self):
        return self._fmt

    @property
    def latency(self):
        """Cycles from the input transfer to the cycle the result is valid."""
        return self._sensors + self._fmt.x_bits + 1

    @property
    def period(self):
        """Cycles per sample when the source and the sink never stall."""
        return self.latency + 1

    def elaborate(self, platform):
        m = Module()
        n, fmt = self._sensors, self._fmt
        sum_bits = fmt.sum_bits(n)

        held = Signal(data.ArrayLayout(unsigned(fmt.sensor_bits), n))
        total = Signal(sum_bits)
        zero = Signal()
        rem = [Signal(sum_bits + 1, name=f"rem{k}") for k in range(n)]
        quo = [Signal(fmt.x_bits, name=f"quo{k}") for k in range(n)]
        count = Signal(range(max(n, fmt.x_bits)))

        for k in range(n):
            m.d.comb += self.o.payload[k].eq(Mux(zero, 0, quo[k]))

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [held.eq(self.i.payload), total.eq(0), count.eq(0)]
                    m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [total.eq(total + held[count]), count.eq(count + 1)]
                with m.If(count == n - 1):
                    m.d.sync += count.eq(0)
                    m.d.sync += [rem[k].eq(held[k]) for k in range(n)]
                    m.next = "DIVIDE"
            with m.State("DIVIDE"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [zero.eq(total == 0), count.eq(count + 1)]
                for k in range(n):
                    ge = rem[k] >= total
                    m.d.sync += [
                        rem[k].eq(Mux(ge, rem[k] - total, rem[k]) << 1),
                        quo[k].eq((quo[k] << 1) | ge),
                    ]
                with m.If(count == fmt.x_bits - 1):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += [self.busy.eq(1), self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    m.next = "IDLE"
        return m
