"""The ET layer in hardware: L1 normalisation of raw sensor codes (docs/model.md section 3).

Bit-exact twin: :func:`hetq.golden.fixed.normaliser.normalise`; configuration:
:class:`hetq.golden.fixed.normaliser.NormaliserConfig`.
"""

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..golden.fixed.normaliser import NormaliserConfig
from .kit import CheckedComponent

__all__ = ["Normaliser", "input_layout", "output_layout"]


def input_layout(config):
    """Raw sensor codes of a sample: ``sensors`` x UQ(B.0)."""
    return data.ArrayLayout(unsigned(config.fmt.sensor_bits), config.sensors)


def output_layout(config):
    """Normalised inputs of a sample: ``sensors`` x UQ1.Fx."""
    return data.ArrayLayout(unsigned(config.fmt.x_bits), config.sensors)


class Normaliser(CheckedComponent):
    """L1 normalisation ``x_i = floor(s_i * 2**Fx / sum(s))`` of one sample per transfer.

    The sum is accumulated over ``sensors + 1`` cycles; then ``lanes`` restoring dividers
    produce the quotients of a group of ``lanes`` sensors, one bit every two cycles (the
    difference ``remainder - sum`` is registered, then selected, so that no cycle holds more
    than one carry chain). The datapath is driven by a registered control word that a
    sequencer computes one cycle ahead. A zero sum gives ``x = 0`` for every sensor. One
    sample is held at a time: the next is accepted once the result has been taken, so a
    sample takes :attr:`~hetq.golden.fixed.normaliser.NormaliserConfig.period` cycles when
    the output is never stalled. The output payload keeps the result after its transfer
    until the next sample is accepted (:class:`~.quantizer.SensorQuantizer`'s ``x`` tap relies
    on it). Fewer lanes save logic (about 80 iCE40 cells each) at
    ``sensors/lanes`` times the division time.

    Parameters
    ----------
    config : NormaliserConfig

    Members
    -------
    i : ``In(stream.Signature(input_layout(config)))``
        Raw sensor codes, UQ(B.0) each.
    o : ``Out(stream.Signature(output_layout(config)))``
        Normalised inputs, UQ1.Fx each (1.0 is ``2**Fx``); their sum is at most 1.
    busy : ``Out(1)``
        High while a sample is held (from its acceptance until its result is taken).

    Raises
    ------
    TypeError
        ``config`` is not a NormaliserConfig.
    """

    @classmethod
    def check(cls, config):
        if not isinstance(config, NormaliserConfig):
            raise TypeError(f"config must be a NormaliserConfig, not {type(config).__name__}")
        return config

    def __init__(self, config):
        self._config = self.check(config)
        super().__init__({
            "i": In(stream.Signature(input_layout(config))),
            "o": Out(stream.Signature(output_layout(config))),
            "busy": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def latency(self):
        """Cycles from the input transfer to the cycle the result is valid."""
        return self._config.latency

    @property
    def period(self):
        """Cycles per sample when the source and the sink never stall."""
        return self._config.period

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        n, fmt, lanes, groups = cfg.sensors, cfg.fmt, cfg.lanes, cfg.groups
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
