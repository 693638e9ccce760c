"""The ET layer in hardware: L1 normalisation of raw sensor codes (MODEL.md section 3).

Bit-exact twin: :func:`hetq.golden.fixed.normaliser.normalise`.
"""

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from ..golden.checks import check_int

__all__ = ["Normaliser", "normaliser_latency", "check_sensors", "check_format"]


def check_sensors(sensors):
    """Validate a sensor count (an int in [1, 64]); raises TypeError/ValueError."""
    check_int("sensors", sensors, 1, 64)
    return sensors


def check_format(fmt):
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"fmt must be a FixedFormat, not {type(fmt).__name__}")
    return fmt


def normaliser_latency(sensors, fmt, lanes):
    """Cycles from a sample's transfer to its valid result: the sum (``sensors + 2``), then
    two cycles per quotient bit for each group of ``lanes`` sensors."""
    return sensors + 2 + (sensors // lanes) * 2 * fmt.x_bits


class Normaliser(wiring.Component):
    """L1 normalisation ``x_i = floor(s_i * 2**Fx / sum(s))`` of one sample per transfer.

    The sum is accumulated over ``sensors + 1`` cycles; then ``lanes`` restoring dividers
    produce the quotients of a group of ``lanes`` sensors, one bit every two cycles (the
    difference ``remainder - sum`` is registered, then selected, so that no cycle holds more
    than one carry chain). The datapath is driven by a registered control word that a
    sequencer computes one cycle ahead. A zero sum gives ``x = 0`` for every sensor. One
    sample is held at a time: the next is accepted once the result has been taken, so a
    sample takes :attr:`period` cycles when the output is never stalled.

    Parameters
    ----------
    sensors : int
        S, sensors per sample (1..64).
    fmt : FixedFormat
        Uses ``sensor_bits`` (B) and ``x_frac`` (Fx).
    lanes : int, optional
        Dividers working in parallel; must divide ``sensors``. Default ``sensors`` (fastest);
        fewer lanes save logic (about 80 iCE40 cells each) at ``sensors/lanes`` times the
        division time.

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
        Bad ``sensors``, ``fmt`` or ``lanes``.
    """

    def __new__(cls, **kwargs):
        cls._validate(**kwargs)        # before the object exists: a bad call leaves nothing
        return super().__new__(cls, src_loc_at=1)

    @staticmethod
    def _validate(*, sensors=8, fmt=DEFAULT_FORMAT, lanes=None):
        check_sensors(sensors)
        check_format(fmt)
        if lanes is None:
            lanes = sensors
        if isinstance(lanes, bool) or not isinstance(lanes, int):
            raise TypeError(f"lanes must be an integer, not {lanes!r}")
        if not 1 <= lanes <= sensors or sensors % lanes:
            raise ValueError(f"lanes must divide sensors ({sensors}), not {lanes}")
        return sensors, fmt, lanes

    def __init__(self, *, sensors=8, fmt=DEFAULT_FORMAT, lanes=None):
        self._sensors, self._fmt, self._lanes = self._validate(sensors=sensors, fmt=fmt,
                                                               lanes=lanes)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(fmt.sensor_bits), sensors))),
            "o": Out(stream.Signature(data.ArrayLayout(unsigned(fmt.x_bits), sensors))),
            "busy": Out(1),
        })

    @property
    def sensors(self):
        return self._sensors

    @property
    def lanes(self):
        return self._lanes

    @property
    def fmt(self):
        return self._fmt

    @property
    def latency(self):
        """Cycles from the input transfer to the cycle the result is valid."""
        return normaliser_latency(self._sensors, self._fmt, self._lanes)

    @property
    def period(self):
        """Cycles per sample when the source and the sink never stall."""
        return self.latency + 1

    def elaborate(self, platform):
        m = Module()
        n, fmt, lanes = self._sensors, self._fmt, self._lanes
        groups = n // lanes
        bits, sum_bits, xb = fmt.sensor_bits, fmt.sum_bits(n), fmt.x_bits

        # -- datapath, driven only by the registered control word below ---------------------
        held = Signal(n * bits, reset_less=True)        # the sample; rotates by a group
        sel = Signal(range(n + 1))
        pick = Signal(bits, reset_less=True)            # held[sel], registered
        total = Signal(sum_bits, reset_less=True)
        zero = Signal(reset_less=True)
        rem = [Signal(sum_bits + 1, name=f"rem{k}", reset_less=True) for k in range(lanes)]
        diff = [Signal(sum_bits + 2, name=f"diff{k}", reset_less=True) for k in range(lanes)]
        quo = [Signal(xb, name=f"quo{k}", reset_less=True) for k in range(lanes)]
        result = Signal(n * xb, reset_less=True)
        idle = Signal(init=1)
        done = Signal()

        c_pick, c_add, c_load, c_next = Signal(), Signal(), Signal(), Signal()
        c_diff, c_select, c_result, c_finish = Signal(), Signal(), Signal(), Signal()

        accept = Signal()
        m.d.comb += [self.i.ready.eq(idle), accept.eq(idle & self.i.valid),
                     self.o.valid.eq(done), self.busy.eq(~idle)]
        for k in range(n):
            m.d.comb += self.o.payload[k].eq(Mux(zero, 0, result[k * xb:(k + 1) * xb]))

        ge = [~d[-1] for d in diff]
        nxt = [Cat(ge[k], quo[k][:-1]) for k in range(lanes)]
        rotated = Cat(held[lanes * bits:], held[:lanes * bits])

        with m.If(accept):
            m.d.sync += [held.eq(self.i.payload), total.eq(0), sel.eq(0), idle.eq(0)]
        with m.If(c_pick):
            m.d.sync += [pick.eq(held.word_select(sel, bits)), sel.eq(sel + 1)]
        with m.If(c_add):
            m.d.sync += total.eq(total + pick)
        with m.If(c_diff):
            m.d.sync += [diff[k].eq(rem[k] - total) for k in range(lanes)]
            m.d.sync += zero.eq(total == 0)
        with m.If(c_select):
            m.d.sync += [quo[k].eq(nxt[k]) for k in range(lanes)]
        for k in range(lanes):
            with m.If(c_load):
                m.d.sync += rem[k].eq(held.word_select(k, bits))
            with m.Elif(c_next):
                m.d.sync += rem[k].eq(rotated.word_select(k, bits))
            with m.Elif(c_select):
                m.d.sync += rem[k].eq(Mux(ge[k], diff[k][:sum_bits + 1], rem[k]) << 1)
        with m.If(c_next):
            m.d.sync += held.eq(rotated)
        with m.If(c_result):
            m.d.sync += result.eq(Cat(result[lanes * xb:], *nxt))
        with m.If(c_finish):
            m.d.sync += done.eq(1)
        with m.If(done & self.o.ready):
            m.d.sync += [done.eq(0), idle.eq(1)]

        # -- sequencer, one cycle ahead: it registers the control word of the next cycle ----
        # per sample: n x (pick[, add]), add + load, then per group xb x (diff, select)
        summing, dividing = Signal(), Signal()
        j = Signal(range(n + 1))
        j_end = Signal()
        b = Signal(range(xb))
        b_end = Signal()
        g = Signal(range(groups))
        g_end = Signal()
        second = Signal()                                 # next divide word is a select

        m.d.sync += [c.eq(0) for c in (c_pick, c_add, c_load, c_next, c_diff, c_select,
                                        c_result, c_finish)]
        with m.If(accept):
            m.d.sync += [c_pick.eq(1), summing.eq(1), j.eq(1), j_end.eq(n == 1)]
        with m.If(summing):
            m.d.sync += c_add.eq(1)
            with m.If(j_end):
                m.d.sync += [c_load.eq(1), summing.eq(0), dividing.eq(1), second.eq(0),
                             b.eq(0), b_end.eq(xb == 1), g.eq(0), g_end.eq(groups == 1)]
            with m.Else():
                m.d.sync += [c_pick.eq(1), j.eq(j + 1), j_end.eq(j == n - 1)]
        with m.If(dividing):
            m.d.sync += second.eq(~second)
            with m.If(~second):
                m.d.sync += c_diff.eq(1)
            with m.Else():
                m.d.sync += c_select.eq(1)
                with m.If(b_end):
                    m.d.sync += [c_result.eq(1), b.eq(0), b_end.eq(xb == 1)]
                    with m.If(g_end):
                        m.d.sync += [c_finish.eq(1), dividing.eq(0)]
                    with m.Else():
                        m.d.sync += [c_next.eq(1), g.eq(g + 1), g_end.eq(g == groups - 2)]
                with m.Else():
                    m.d.sync += [b.eq(b + 1), b_end.eq(b == xb - 2)]
        return m
