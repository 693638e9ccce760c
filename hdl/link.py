"""The host link's frame handling in hardware, between the COBS decoder/encoder and the command
executor (``hdl/system.py``): request slots with the CRC check, the reply framer that appends
the CRC, and the counters. Protocol: :mod:`hetq.golden.fixed.link` (docs/protocol.md).
"""

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import crc, data, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.checks import check_int
from ..golden.fixed.link import COUNTERS, MAX_FRAME, MIN_REQUEST
from .kit import CheckedComponent

__all__ = ["RequestStore", "ReplyFramer", "Counters", "decoded_layout", "reply_layout",
           "CRC_PARAMETERS"]

#: The link's CRC (CRC-16/GENIBUS), for bytes; a received frame is good when the register
#: holds the algorithm's residue after it (``match_detected``).
CRC_PARAMETERS = crc.catalog.CRC16_GENIBUS(data_width=8)


def decoded_layout():
    """What the COBS decoder emits: a frame's bytes (``end`` 0), then an end marker (``end``
    1) with the frame's ``status`` (0 good, 1 malformed, 2 too long, 3 aborted)."""
    return data.StructLayout({"data": 8, "end": 1, "status": 2})


def reply_layout():
    """A reply byte: ``last`` on the final byte of a frame."""
    return data.StructLayout({"data": 8, "last": 1})


class RequestStore(CheckedComponent):
    """Request frames into ``slots`` slots of :data:`~hetq.golden.fixed.link.MAX_FRAME` bytes
    (block RAM), each checked as it arrives; the oldest good one is offered to the executor.

    A frame goes into the next free slot, its CRC computed on the way; at its end marker it
    is committed if it is good (decoder status 0, at least 5 bytes, the CRC's residue) and
    dropped otherwise (an end marker with no bytes, as the decoder gives for ``01 00`` or an
    abort between frames, is a frame too short); a frame that starts while every slot is full
    is dropped whole. Each end marker pulses one of ``events``.

    Members
    -------
    i : ``In(stream.Signature(decoded_layout()))``
        The decoded frames (always ready).
    req : ``Out(StructLayout({"valid": 1, "length": 9}))``
        The oldest committed frame and its decoded length (CRC included).
    addr : ``In(8)``, ``rdata`` : ``Out(8)``
        Byte ``addr`` of that frame, ``rdata`` one cycle later.
    done : ``In(1)``
        A pulse: the executor is done with the oldest frame (its slot is free again).
    events : ``Out(StructLayout({"good": 1, "crc": 1, "dropped": 1, "overrun": 1}))``
        One-cycle pulses: a frame committed, dropped for its CRC, dropped as too short, too
        long, malformed or aborted, dropped for want of a slot.
    """

    @classmethod
    def check(cls, slots):
        return check_int("slots", slots, 1, 16)

    def __init__(self, slots):
        self._slots = self.check(slots)
        super().__init__({
            "i": In(stream.Signature(decoded_layout())),
            "req": Out(data.StructLayout({"valid": 1, "length": 9})),
            "addr": In(8),
            "rdata": Out(8),
            "done": In(1),
            "events": Out(data.StructLayout({"good": 1, "crc": 1, "dropped": 1,
                                             "overrun": 1})),
        })

    def elaborate(self, platform):
        m = Module()
        slots = self._slots
        m.submodules.ram = ram = Memory(shape=unsigned(8), depth=slots * MAX_FRAME, init=[])
        wr, rd = ram.write_port(), ram.read_port()
        m.submodules.crc = check = crc.Processor(CRC_PARAMETERS)
        lengths = [Signal(9, name=f"length{k}") for k in range(slots)]

        wslot = Signal(range(slots))                   # the slot being filled
        rslot = Signal(range(slots))                   # the oldest committed slot
        used = Signal(range(slots + 1))                # committed slots
        count = Signal(9)                              # bytes of the frame so far
        started = Signal()                             # a frame is being received
        dropping = Signal()                            # ... with no slot for it
        commit = Signal()
        m.d.comb += self.i.ready.eq(1)
        beat = self.i.valid & ~self.i.payload.end
        ended = self.i.valid & self.i.payload.end
        full_now = used == slots

        m.d.comb += [
            wr.addr.eq(Cat(count[:8], wslot) if slots > 1 else count[:8]),
            wr.data.eq(self.i.payload.data),
            wr.en.eq(beat & ~dropping & ~(~started & full_now) & (count < MAX_FRAME)),
            check.data.eq(self.i.payload.data),
            check.valid.eq(beat),
            check.start.eq(ended),
        ]
        with m.If(beat):
            with m.If(~started):
                m.d.sync += [started.eq(1), dropping.eq(full_now)]
            with m.If(count < MAX_FRAME):
                m.d.sync += count.eq(count + 1)
        good = Signal()
        m.d.comb += good.eq(ended & ~dropping & (self.i.payload.status == 0)
                            & (count >= MIN_REQUEST) & check.match_detected)
        with m.If(ended):
            m.d.sync += [started.eq(0), dropping.eq(0), count.eq(0)]
            m.d.comb += [
                self.events.good.eq(good),
                self.events.overrun.eq(started & dropping),
                self.events.dropped.eq(~(started & dropping)
                                       & ((self.i.payload.status != 0) | (count < MIN_REQUEST))),
                self.events.crc.eq(~(started & dropping) & (self.i.payload.status == 0)
                                   & (count >= MIN_REQUEST) & ~check.match_detected),
                commit.eq(good),
            ]
        with m.If(commit):
            for k in range(slots):
                with m.If(wslot == k):
                    m.d.sync += lengths[k].eq(count)
            m.d.sync += wslot.eq(Mux(wslot == slots - 1, 0, wslot + 1))
        with m.If(self.done):
            m.d.sync += rslot.eq(Mux(rslot == slots - 1, 0, rslot + 1))
        m.d.sync += used.eq(used + commit - self.done)

        m.d.comb += [
            rd.addr.eq(Cat(self.addr, rslot) if slots > 1 else self.addr),
            self.rdata.eq(rd.data),
            self.req.valid.eq(used != 0),
            self.req.length.eq(Mux(rslot == 0, lengths[0], 0)),
        ]
        for k in range(1, slots):
            with m.If(rslot == k):
                m.d.comb += self.req.length.eq(lengths[k])
        return m


class ReplyFramer(CheckedComponent):
    """Reply bytes in, the same bytes with their CRC-16/GENIBUS (big endian) after the
    frame's last byte out (``last`` then marks the CRC's second byte).

    Members
    -------
    i : ``In(stream.Signature(reply_layout()))``
    o : ``Out(stream.Signature(reply_layout()))``
    """

    @classmethod
    def check(cls):
        return None

    def __init__(self):
        super().__init__({"i": In(stream.Signature(reply_layout())),
                          "o": Out(stream.Signature(reply_layout()))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = gen = crc.Processor(CRC_PARAMETERS)
        first = Signal(init=1)                         # the next byte starts a frame
        m.d.comb += [gen.data.eq(self.i.payload.data), gen.start.eq(first)]
        with m.FSM():
            with m.State("DATA"):
                m.d.comb += [self.o.valid.eq(self.i.valid),
                             self.o.payload.data.eq(self.i.payload.data),
                             self.i.ready.eq(self.o.ready),
                             gen.valid.eq(self.i.valid & self.o.ready)]
                with m.If(self.i.valid & self.o.ready):
                    m.d.sync += first.eq(0)
                    with m.If(self.i.payload.last):
                        m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(gen.crc[8:])]
                with m.If(self.o.ready):
                    m.next = "CRC_LO"
            with m.State("CRC_LO"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.data.eq(gen.crc[:8]),
                             self.o.payload.last.eq(1)]
                with m.If(self.o.ready):
                    m.d.sync += first.eq(1)
                    m.next = "DATA"
        return m


class Counters(CheckedComponent):
    """The link's counters (:data:`~hetq.golden.fixed.link.COUNTERS`): 32-bit, wrapping, kept
    in block RAM. A pulse on a bit of ``inc`` marks its counter pending; a sequencer adds the
    pending ones, one every three cycles. A pulse on a counter that is still pending is
    lost, so pulses of one counter ``3 * len(COUNTERS)`` (27) cycles apart are always counted;
    the link's come at most one per UART byte (40 cycles or more) or one per executed frame
    (more than 20 cycles apart, with at most three counters pending at once);
    ``clear`` zeroes them all (over one cycle per counter; pending events older than the clear
    are dropped with it). ``raddr``/``rdata`` read a counter (``rdata`` two cycles later: the
    RAM's output is registered); a read has priority over the sequencer.

    Parameters
    ----------
    width : int
        Bits per counter (32 on the link; smaller in tests of the wrap-around).

    Members
    -------
    inc : ``In(len(COUNTERS))``
    clear : ``In(1)``
    raddr : ``In(range(len(COUNTERS)))``
    rread : ``In(1)``
        ``raddr`` is read in this cycle.
    rdata : ``Out(width)``
    busy : ``Out(1)``
        Counts or a clear are still being applied.
    """

    @classmethod
    def check(cls, width=32):
        return check_int("width", width, 1, 32)

    def __init__(self, width=32):
        self._width = self.check(width)
        n = len(COUNTERS)
        super().__init__({"inc": In(n), "clear": In(1), "raddr": In(range(n)), "rread": In(1),
                          "rdata": Out(width), "busy": Out(1)})

    @staticmethod
    def index(name):
        """The bit of ``inc`` (and the address) of counter ``name``."""
        return COUNTERS.index(name)

    def elaborate(self, platform):
        m = Module()
        n = len(COUNTERS)
        m.submodules.ram = ram = Memory(shape=unsigned(self._width), depth=n, init=[0] * n)
        rd, wr = ram.read_port(), ram.write_port()
        pending = Signal(n)
        clearing = Signal()
        caddr = Signal(range(n))
        pick = Signal(range(n))
        # the RAM's output goes through a register (``word``) before the adder or the
        # reader: an update is take (address) -> fetched -> latched -> written
        word = Signal(self._width)
        fetched, latched = Signal(), Signal()
        waddr1, waddr2 = Signal(range(n)), Signal(range(n))
        with m.If(~self.clear):
            for j in reversed(range(n)):
                with m.If(pending[j]):
                    m.d.comb += pick.eq(j)
        take = Signal()
        m.d.comb += [
            take.eq((pending != 0) & ~clearing & ~self.rread & ~fetched & ~latched
                    & ~self.clear),
            rd.addr.eq(Mux(self.rread, self.raddr, pick)),
            self.rdata.eq(word),
            self.busy.eq((pending != 0) | clearing | fetched | latched),
        ]
        m.d.sync += word.eq(rd.data)
        done = Signal(n)
        with m.If(take):
            m.d.comb += done.eq(1 << pick)
        m.d.sync += [fetched.eq(take), waddr1.eq(pick), latched.eq(fetched),
                     waddr2.eq(waddr1)]
        with m.If(clearing):
            m.d.comb += [wr.addr.eq(caddr), wr.data.eq(0), wr.en.eq(1)]
            m.d.sync += caddr.eq(caddr + 1)
            with m.If(caddr == n - 1):
                m.d.sync += clearing.eq(0)
        with m.Elif(latched):
            m.d.comb += [wr.addr.eq(waddr2), wr.data.eq(word + 1), wr.en.eq(1)]
        with m.If(self.clear):
            m.d.sync += [clearing.eq(1), caddr.eq(0), pending.eq(self.inc)]
        with m.Else():
            m.d.sync += pending.eq((pending & ~done) | self.inc)
        return m
