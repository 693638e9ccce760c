"""A first-word-fall-through FIFO in block RAM for credit-based pipelines (quantizer, MC
array): the writer reserves places before it issues work, so the FIFO has no full flag."""

from amaranth import Elaboratable, Module, Signal, unsigned
from amaranth.lib.memory import Memory

__all__ = ["OutputFIFO"]


class OutputFIFO(Elaboratable):
    """First-word-fall-through FIFO: a block RAM of ``2**bits`` entries and an output
    register, with registered flags so that every enable is a few LUTs from a flip-flop.
    There is no full flag: the writer must reserve places (the quantizer's credits); it
    holds ``2**bits + 1`` entries in all.

    ``w_data``/``w_en`` write; ``r_data``/``r_rdy`` are the output, ``r_en`` takes it.
    """

    def __init__(self, width, bits):
        self.width, self.bits = width, bits
        self.w_data = Signal(width)
        self.w_en = Signal()
        self.r_data = Signal(width)
        self.r_rdy = Signal()
        self.r_en = Signal()

    def elaborate(self, platform):
        m = Module()
        depth = 1 << self.bits
        m.submodules.storage = storage = Memory(shape=unsigned(self.width), depth=depth,
                                                init=[])
        wr = storage.write_port()
        rd = storage.read_port()
        wp = Signal(self.bits)
        rp = Signal(self.bits)
        count = Signal(range(depth + 1))               # entries in the RAM
        some = Signal()                                # count != 0, registered
        fetch = Signal()
        m.d.comb += [
            wr.addr.eq(wp), wr.data.eq(self.w_data), wr.en.eq(self.w_en),
            fetch.eq(some & (~self.r_rdy | self.r_en)),
            rd.addr.eq(rp), rd.en.eq(fetch), self.r_data.eq(rd.data),
        ]
        with m.If(self.w_en):
            m.d.sync += wp.eq(wp + 1)
        with m.If(fetch):
            m.d.sync += [rp.eq(rp + 1), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        with m.If(self.w_en & ~fetch):
            m.d.sync += count.eq(count + 1)
        with m.Elif(fetch & ~self.w_en):
            m.d.sync += count.eq(count - 1)
        m.d.sync += some.eq(self.w_en | (count >= 2) | (some & ~fetch))
        return m
