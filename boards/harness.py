"""Minimal board tops around the quantizer, the MC array and the GC layer, for synthesis and
timing only.

Nothing of a block may be constant, or the tools would fold it away: a 64-bit LFSR feeds a
shift register whose bits are the inputs (sensor samples and table writes for the
quantizer; drive codes and extra currents for the MC array), inputs are offered now and
then, ``o.ready`` follows an LFSR bit, and every output bit is registered and folded (XOR)
into a register that drives an LED. The clock is the board's default clock; the build flow
constrains it at the target frequency so that nextpnr reports the reachable Fmax.
"""

from amaranth import Cat, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import io

from ..hdl.gc_lanes import check_gc_layer, gc_layer
from ..hdl.mc_array import MCArray
from ..hdl.quantizer import SensorQuantizer

__all__ = ["QuantizerHarness", "MCArrayHarness", "GCLayerHarness"]


def _lfsr(m):
    """A free-running 64-bit maximal-length LFSR (x^64 + x^63 + x^61 + x^60 + 1, Fibonacci
    form), seeded with 1."""
    lfsr = Signal(64, init=1)
    feedback = lfsr[63] ^ lfsr[62] ^ lfsr[60] ^ lfsr[59]
    m.d.sync += lfsr.eq(Cat(feedback, lfsr[:-1]))
    return lfsr


def _noise(m, lfsr, width):
    """A ``width``-bit shift register filled from two LFSR taps (pseudo-random payloads)."""
    noise = Signal(width)
    m.d.sync += noise.eq(Cat(lfsr[0] ^ lfsr[31], noise[:-1]))
    return noise


def _fold_into_led(m, platform, stream):
    """Register every payload bit of ``stream``'s transfers and fold it (XOR) into one bit
    that drives the board's first LED (when there is a platform)."""
    taken = Signal.like(stream.payload.as_value())
    got = Signal()
    m.d.sync += [taken.eq(stream.payload.as_value()), got.eq(stream.valid & stream.ready)]
    fold = Signal()
    with m.If(got):
        m.d.sync += fold.eq(fold ^ taken.xor())
    if platform is not None:
        led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.submodules.led = led
        m.d.comb += led.o.eq(fold)
    return fold


class QuantizerHarness(Elaboratable):
    """Board top: pseudo-random samples and table writes into a :class:`SensorQuantizer`,
    outputs folded into an LED.

    Parameters
    ----------
    config : QuantizerConfig
        The design (normaliser lanes included).
    weights : array, optional
        Initial weight codes (as for :class:`~hetq.hdl.quantizer.SensorQuantizer`).
    """

    def __new__(cls, config, *, weights=None):
        # check first: a harness that fails in __init__ would be reported as unused
        SensorQuantizer.check(config, weights=weights)
        return super().__new__(cls)

    def __init__(self, config, *, weights=None):
        self.config = config
        self.dut = SensorQuantizer(config, weights=weights)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut

        lfsr = _lfsr(m)
        i_bits = len(dut.i.payload.as_value())
        w_bits = len(dut.weight_w.payload.as_value())
        t_bits = len(dut.threshold_w.payload.as_value())
        noise = _noise(m, lfsr, i_bits + w_bits + t_bits)

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
        _fold_into_led(m, platform, dut.o)
        return m


class MCArrayHarness(Elaboratable):
    """Board top: pseudo-random drives (and extra currents) into an :class:`MCArray`, spikes
    folded into an LED.

    The drive stream counts ``mc`` through 0..mcs-1 with ``last`` on the final MC, so every
    sample loads a whole drive vector of pseudo-random codes; it is offered in most cycles.
    With inhibition the ``extra`` stream carries pseudo-random currents (it is offered in most
    cycles, so it also throttles the issue). ``o.ready`` follows an LFSR bit.

    Parameters
    ----------
    config : MCArrayConfig
    """

    def __new__(cls, config):
        MCArray.check(config)
        return super().__new__(cls)

    def __init__(self, config):
        self.config = config
        self.dut = MCArray(config)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        lfsr = _lfsr(m)

        drive_bits = len(dut.i.payload.drive)
        inhibition = self.config.inhibition
        extra_bits = len(dut.extra.payload.as_value()) if inhibition else 0
        noise = _noise(m, lfsr, drive_bits + extra_bits)

        mc = Signal.like(dut.i.payload.mc)
        with m.If(dut.i.valid & dut.i.ready):
            m.d.sync += mc.eq(Mux(mc == self.config.mcs - 1, 0, mc + 1))
        with m.If(~dut.i.valid | dut.i.ready):
            m.d.sync += [dut.i.valid.eq(lfsr[5] | lfsr[9]),
                         dut.i.payload.drive.eq(noise[:drive_bits])]
        m.d.comb += [dut.i.payload.mc.eq(mc), dut.i.payload.last.eq(mc == self.config.mcs - 1)]

        if inhibition:
            with m.If(~dut.extra.valid | dut.extra.ready):
                m.d.sync += [dut.extra.valid.eq(lfsr[12] | lfsr[17] | lfsr[23]),
                             dut.extra.payload.eq(noise[drive_bits:])]
        m.d.sync += dut.o.ready.eq(lfsr[40] | lfsr[47])
        _fold_into_led(m, platform, dut.o)
        return m


class GCLayerHarness(Elaboratable):
    """Board top: pseudo-random MC spikes (with an end-of-step marker now and then), learning
    switched by an LFSR bit, rare host writes of weights, fan-out pointers and synapse GCs,
    rare weight reads and commands into a :class:`~hetq.hdl.gc_layer.GCLayer` (with
    ``lanes > 1`` a :class:`~hetq.hdl.gc_lanes.LanedGCLayer`, its host writes addressed to
    random lanes; with the GC->MC path, rare GC->MC weights, and its currents taken in most
    cycles); the GC spikes, the weights read back (and the currents) are folded into an LED.

    Parameters
    ----------
    config : GCLayerConfig
    """

    def __new__(cls, config):
        check_gc_layer(config)
        return super().__new__(cls)

    def __init__(self, config):
        self.config = config
        self.dut = gc_layer(config)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        lfsr = _lfsr(m)
        ports = [dut.i, dut.weight_w, dut.ptr_w, dut.gc_w, dut.weight_rq, dut.cmd]
        if self.config.iic:
            ports.append(dut.iic_w)
        widths = [len(Value.cast(p.payload)) for p in ports]
        noise = _noise(m, lfsr, sum(widths))
        offers = [lfsr[5] | lfsr[9],            # MC spikes and end markers in most cycles
                  lfsr[10:20] == 0, lfsr[20:30] == 0, lfsr[30:40] == 0, lfsr[12:22] == 0,
                  lfsr[24:40] == 0, lfsr[26:42] == 0]
        at = 0
        for port, width, offer in zip(ports, widths, offers):
            with m.If(~port.valid | port.ready):
                m.d.sync += [port.valid.eq(offer), port.payload.eq(noise[at:at + width])]
            at += width
        m.d.sync += [dut.o.ready.eq(lfsr[40] | lfsr[47]), dut.weight_rs.ready.eq(1),
                     dut.learn.eq(lfsr[50])]
        fold = _fold_into_led(m, platform, dut.o)
        taken = Signal(len(Value.cast(dut.weight_rs.payload)))
        with m.If(dut.weight_rs.valid):
            m.d.sync += taken.eq(taken ^ Value.cast(dut.weight_rs.payload))
        status = Signal()
        if self.config.iic:
            m.d.sync += dut.iic.ready.eq(lfsr[41] | lfsr[44])
            with m.If(dut.iic.valid & dut.iic.ready):
                m.d.sync += taken.eq(taken ^ dut.iic.payload[:len(taken)])
        m.d.sync += status.eq(taken.xor() ^ dut.error ^ dut.idle ^ fold)
        if platform is not None:
            led = io.Buffer("o", platform.request("led", 1, dir="-"))
            m.submodules.led1 = led
            m.d.comb += led.o.eq(status)
        return m
