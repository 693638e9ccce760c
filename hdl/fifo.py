"""A first-word-fall-through FIFO in block RAM for credit-based pipelines (quantizer, MC
array): the writer reserves places before it issues work, so the FIFO has no full flag."""

from amaranth import Module, Signal, unsigned
from amaranth.lib import stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.checks import check_int
from .kit import CheckedComponent

__all__ = ["OutputFIFO"]


class OutputFIFO(CheckedComponent):
    """First-word-fall-through FIFO: a block RAM of ``2**bits`` entries and an output
    register, with registered flags so that every enable is a few LUTs from a flip-flop.

    It holds :attr:`capacity` = ``2**bits + 1`` entries and has no full flag: **the writer
    must reserve a place before it writes** (the quantizer and the MC array count credits),
    i.e. never write while ``capacity`` entries are stored; a write beyond that overwrites
    the oldest entry of the RAM. Entries leave in the order they were written.

    Parameters
    ----------
    width : int
        Bits per entry (1..1024).
    bits : int
        log2 of the block-RAM depth (1..16).

    Members
    -------
    w : ``In(stream.Signature(unsigned(width), always_ready=True))``
        Writes: ``w.valid`` writes ``w.payload`` in this cycle (there is no ``ready``).
    r : ``Out(stream.Signature(unsigned(width)))``
        The oldest entry; a transfer (``valid`` and ``ready``) takes it. An entry written
        into an empty FIFO is valid two cycles later.
    """

    @classmethod
    def check(cls, width, bits):
        return check_int("width", width, 1, 1024), check_int("bits", bits, 1, 16)

    def __init__(self, width, bits):
        self._width, self._bits = self.check(width, bits)
        super().__init__({
            "w": In(stream.Signature(unsigned(self._width), always_ready=True)),
            "r": Out(stream.Signature(unsigned(self._width))),
        })

    @property
    def capacity(self):
        """Entries the FIFO can hold: the RAM and the output register."""
        return (1 << self._bits) + 1

    def elaborate(self, platform):
        m = Module()
        depth = 1 << self._bits
        m.submodules.storage = storage = Memory(shape=unsigned(self._width), depth=depth,
                                                init=[])
        wr = storage.write_port()
        rd = storage.read_port()
        wp = Signal(self._bits)
        rp = Signal(self._bits)
        count = Signal(range(depth + 1))               # entries in the RAM
        some = Signal()                                # count != 0, registered
        fetch = Signal()
        m.d.comb += [
            wr.addr.eq(wp), wr.data.eq(self.w.payload), wr.en.eq(self.w.valid),
            fetch.eq(some & (~self.r.valid | self.r.ready)),
            rd.addr.eq(rp), rd.en.eq(fetch), self.r.payload.eq(rd.data),
        ]
        with m.If(self.w.valid):
            m.d.sync += wp.eq(wp + 1)
        with m.If(fetch):
            m.d.sync += [rp.eq(rp + 1), self.r.valid.eq(1)]
        with m.Elif(self.r.ready):
            m.d.sync += self.r.valid.eq(0)
        with m.If(self.w.valid & ~fetch):
            m.d.sync += count.eq(count + 1)
        with m.Elif(fetch & ~self.w.valid):
            m.d.sync += count.eq(count - 1)
        m.d.sync += some.eq(self.w.valid | (count >= 2) | (some & ~fetch))
        return m
