"""A minimal board top around the quantizer, for synthesis and timing only.

Nothing of the block may be constant, or the tools would fold it away: a 64-bit LFSR feeds a
shift register whose bits are the sensor samples and the table-write payloads, the write
ports are offered now and then, ``o.ready`` follows an LFSR bit, and every output bit is
registered and folded (XOR) into a register that drives an LED. The clock is the board's
default clock; the build flow constrains it at the target frequency so that nextpnr reports
the reachable Fmax.
"""

from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.lib import io

from ..golden.fixed import DEFAULT_FORMAT
from ..hdl.quantizer import SensorQuantizer, lanes_for

__all__ = ["QuantizerHarness"]


class QuantizerHarness(Elaboratable):
    """Board top: pseudo-random samples and table writes into a :class:`SensorQuantizer`,
    outputs folded into an LED.

    Parameters
    ----------
    sensors, duplication, fmt, weights
        As for :class:`~hetq.hdl.quantizer.SensorQuantizer`.
    lanes : int, optional
        Normaliser dividers; default :func:`~hetq.hdl.quantizer.lanes_for` (the fewest that
        keep up with the quantizer).
    """

    def __init__(self, *, sensors=8, duplication=32, fmt=DEFAULT_FORMAT, weights=None,
                 lanes=None):
        if lanes is None:
            lanes = lanes_for(sensors, duplication, fmt)
        self.dut = SensorQuantizer(sensors=sensors, duplication=duplication, fmt=fmt,
                                   weights=weights, lanes=lanes)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut

        lfsr = Signal(64, init=1)
        # x^64 + x^63 + x^61 + x^60 + 1 (maximal length), Fibonacci form
        feedback = lfsr[63] ^ lfsr[62] ^ lfsr[60] ^ lfsr[59]
        m.d.sync += lfsr.eq(Cat(feedback, lfsr[:-1]))

        i_bits = len(dut.i.payload.as_value())
        w_bits = len(dut.weight_w.payload.as_value())
        t_bits = len(dut.threshold_w.payload.as_value())
        noise = Signal(i_bits + w_bits + t_bits)
        m.d.sync += noise.eq(Cat(lfsr[0] ^ lfsr[31], noise[:-1]))

        with m.If(~dut.i.valid | dut.i.ready):
            m.d.sync += [dut.i.valid.eq(lfsr[5] | lfsr[9]),
                         dut.i.payload.eq(noise[:i_bits])]
        with m.If(~dut.weight_w.valid | dut.weight_w.ready):
            m.d.sync += [dut.weight_w.valid.eq(lfsr[10:18] == 0),
                         dut.weight_w.payload.eq(noise[i_bits:i_bits + w_bits])]
        with m.If(~dut.threshold_w.valid | dut.threshold_w.ready):
            m.d.sync += [dut.threshold_w.valid.eq(lfsr[20:29] == 0),
                         dut.threshold_w.payload.eq(noise[i_bits + w_bits:])]
        m.d.sync += dut.o.ready.eq(lfsr[40] | lfsr[47])

        taken = Signal.like(dut.o.payload.as_value())
        got = Signal()
        m.d.sync += [taken.eq(dut.o.payload.as_value()), got.eq(dut.o.valid & dut.o.ready)]
        fold = Signal()
        with m.If(got):
            m.d.sync += fold.eq(fold ^ taken.xor())

        if platform is not None:
            led = io.Buffer("o", platform.request("led", 0, dir="-"))
            m.submodules.led = led
            m.d.comb += led.o.eq(fold)
        return m
