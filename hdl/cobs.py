"""Consistent Overhead Byte Stuffing with a 0x00 frame delimiter (the host link's framing).

Twins: :mod:`hetq.golden.fixed.cobs` (the encoding is the ``cobs`` package's; the decoder's
streaming behaviour, statuses and aborts are :class:`~hetq.golden.fixed.cobs.
COBSDecoderModel`).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.checks import check_int
from ..golden.fixed.cobs import MAX_BLOCK, MAX_LENGTH, STATUS_ABORT, STATUS_OVERSIZE
from .kit import CheckedComponent

__all__ = ["COBSEncoder", "COBSDecoder", "frame_layout", "decoded_layout"]

#: The encoder's input: a byte of a frame, ``last`` on the frame's final byte.
frame_layout = data.StructLayout({"data": 8, "last": 1})
#: The decoder's output: a decoded byte (``end = 0``) or a frame's end marker (``end = 1``,
#: ``data = 0``, ``status`` one of :data:`~hetq.golden.fixed.cobs.STATUS_NAMES`).
decoded_layout = data.StructLayout({"data": 8, "end": 1, "status": 2})


class COBSEncoder(wiring.Component):
    """A streaming COBS encoder: for each frame taken on ``i``, ``cobs.cobs.encode(frame)``
    and one 0x00 delimiter on ``o``.

    The non-zero bytes of a block are kept in a buffer of :data:`~hetq.golden.fixed.cobs.
    MAX_BLOCK` bytes (block RAM). A block is complete at a zero byte (the zero itself is
    implied by the code byte and not stored), at the 254th non-zero byte, or at the frame's
    last byte; the encoder then sends the block's code byte (its length plus one; 0xFF for
    254 bytes) and the block's bytes, and goes back to taking bytes. After a frame whose last
    byte is zero comes one more code byte, 0x01 (the empty block that carries the zero); after
    every frame the delimiter. ``i.ready`` is high while a block is being collected and low
    while it is sent, so a block of ``n`` bytes takes ``n`` cycles in and ``n + 1`` out (one
    more for a trailing 0x01, one for the delimiter). ``o.payload`` is the buffer's registered
    read port or a register; the read port's enable is ``o.ready``.

    Members
    -------
    i : ``In(stream.Signature(frame_layout))``
        The bytes of the frames (``data``, unsigned 8 bits), ``last`` high on each frame's
        final byte; a frame has at least one byte.
    o : ``Out(stream.Signature(8))``
        The encoded frames, each followed by one 0x00.
    """

    def __init__(self):
        super().__init__({"i": In(stream.Signature(frame_layout)),
                          "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buf = Memory(shape=8, depth=MAX_BLOCK, init=[])
        wr = buf.write_port()
        rd = buf.read_port()
        count = Signal(range(MAX_BLOCK))                # non-zero bytes collected
        almost = Signal()                               # count == MAX_BLOCK - 1
        left = Signal(range(MAX_BLOCK + 1))             # bytes of the block still to send
        plus = Signal()                                 # the completing byte is in the block
        rp = Signal(range(MAX_BLOCK + 1))               # read address
        fetched = Signal(8, reset_less=True)            # the register after the buffer
        head = Signal(8)                                # the code byte, 0x01 or 0x00 to send
        end = Signal()                                  # the block ends the frame
        trail = Signal()                                # ... with a zero: a 0x01 follows
        # the input buffer: a byte, its flags, taken while it is empty or being collected
        full = Signal()
        byte = Signal(8, reset_less=True)
        last, zero = Signal(), Signal()
        collect = Signal(init=1)                        # the "collect" state, as a flip-flop
        prime = Signal()
        m.d.comb += [
            self.i.ready.eq(~full | collect),
            wr.addr.eq(count), wr.data.eq(byte),
            rd.addr.eq(rp), rd.en.eq(self.o.ready | prime),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [full.eq(1), byte.eq(self.i.payload.data),
                         last.eq(self.i.payload.last), zero.eq(self.i.payload.data == 0)]
        with m.Elif(collect):
            m.d.sync += full.eq(0)
        with m.If(self.o.ready):
            m.d.sync += fetched.eq(rd.data)

        def block_sent():
            with m.If(~end):
                m.d.sync += collect.eq(1)
                m.next = "collect"
            with m.Elif(trail):
                m.d.sync += head.eq(0x01)
                m.next = "trail"
            with m.Else():
                m.d.sync += head.eq(0x00)
                m.next = "delimiter"

        with m.FSM():
            with m.State("collect"):
                with m.If(full):
                    # what the block needs is taken from every byte, so that only the state
                    # and the counter depend on whether this one completes the block
                    m.d.comb += wr.en.eq(~zero)
                    m.d.sync += [left.eq(count), plus.eq(~zero), end.eq(last),
                                 trail.eq(zero & last)]
                    with m.If(zero | last | almost):
                        m.d.sync += [count.eq(0), almost.eq(0), collect.eq(0)]
                        m.next = "prime"
                    with m.Else():
                        m.d.sync += [count.eq(count + 1), almost.eq(count == MAX_BLOCK - 2)]
            with m.State("prime"):                     # the first byte into the read port
                m.d.comb += [prime.eq(1), rd.addr.eq(0)]
                m.d.sync += [rp.eq(1), head.eq(left + 1 + plus), left.eq(left + plus)]
                m.next = "code"
            with m.State("code"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(head)]
                with m.If(self.o.ready):
                    m.d.sync += rp.eq(rp + 1)
                    with m.If(left != 0):
                        m.next = "data"
                    with m.Else():
                        block_sent()
            with m.State("data"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(fetched)]
                with m.If(self.o.ready):
                    m.d.sync += [rp.eq(rp + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        block_sent()
            with m.State("trail"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(head)]
                with m.If(self.o.ready):
                    m.d.sync += head.eq(0x00)
                    m.next = "delimiter"
            with m.State("delimiter"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(head)]
                with m.If(self.o.ready):
                    m.d.sync += collect.eq(1)
                    m.next = "collect"
        return m


class COBSDecoder(CheckedComponent):
    """A streaming COBS decoder of 0x00-delimited frames, with error statuses and aborts.

    A byte taken on ``i`` goes into a one-byte input buffer (with its "is 0x00" and "is 0xFF"
    flags, so that no comparator sits between ``i`` and the decoding) and is decoded from there
    when the output register is free; it gives at most one output record, on ``o`` (a
    register) in the cycle after. ``i.ready = ~full | ~o.valid | o.ready``, so the decoder
    takes a byte per cycle while ``o`` is taken. An abort pulse is kept in order with the
    bytes: one in the cycle a byte is taken, or while a byte waits in the buffer, comes after
    that byte.

    - a delimiter (0x00) ends the frame with an end marker (``end = 1``, ``data = 0``) and
      clears every error, so the decoder resynchronises at each delimiter. An empty frame (a
      delimiter right after another, or first) gives nothing, unless an abort came since the
      delimiter before;
    - a code byte (the first byte of a frame, and the byte after each block) gives the 0x00
      implied by the block before it (none after a 0xFF block, and none at the end of a
      frame), then the block's ``code - 1`` data bytes give themselves.

    The end marker's ``status``: 3 (abort) when ``abort`` pulsed during the frame (nothing of
    the frame is given after the pulse), else 2 (oversize) when the frame had more than
    ``max_length`` decoded bytes (those beyond were not given), else 1 (structure) when the
    delimiter arrived inside a block, else 0: the bytes given are then
    ``cobs.cobs.decode(frame)``. An abort in the cycle of a delimiter's transfer belongs to
    the frame that the delimiter starts; an abort between frames makes the next frame abort.

    Parameters
    ----------
    max_length : int
        The most decoded bytes a frame may have, 1..:data:`~hetq.golden.fixed.cobs.MAX_LENGTH`.

    Members
    -------
    i : ``In(stream.Signature(8))``
        Raw received bytes; 0x00 is the delimiter.
    abort : ``In(1)``
        A pulse (one cycle per event): the frame being received is corrupt (a UART framing
        error or break, say).
    o : ``Out(stream.Signature(decoded_layout))``
        Decoded bytes (``end = 0``, ``status = 0``) and one end marker per frame.

    Raises
    ------
    TypeError, ValueError
        A ``max_length`` that is not an integer in range.
    """

    @classmethod
    def check(cls, max_length):
        return check_int("max_length", max_length, 1, MAX_LENGTH)

    def __init__(self, max_length):
        self._max_length = self.check(max_length)
        super().__init__({
            "i": In(stream.Signature(8)),
            "abort": In(1),
            "o": Out(stream.Signature(decoded_layout)),
        })

    @property
    def max_length(self):
        return self._max_length

    def elaborate(self, platform):
        m = Module()
        n = self._max_length
        # -- the input buffer: the byte, its flags, and an abort that came after it ---------
        full = Signal()
        byte = Signal(8, reset_less=True)
        is_zero, is_ff, then_abort = Signal(), Signal(), Signal()
        advance = Signal()                              # the output register is free
        process = Signal()                              # the buffered byte is decoded now
        take = Signal()
        direct = Signal()                               # an abort after every byte taken
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            process.eq(full & advance),
            self.i.ready.eq(~full | advance),
            take.eq(self.i.valid & self.i.ready),
            direct.eq(self.abort & ~take & ~(full & ~process)),
        ]
        with m.If(take):
            m.d.sync += [full.eq(1), byte.eq(self.i.payload), is_zero.eq(self.i.payload == 0),
                         is_ff.eq(self.i.payload == 0xFF), then_abort.eq(self.abort)]
        with m.Elif(process):
            m.d.sync += [full.eq(0), then_abort.eq(0)]
        with m.Elif(full):
            m.d.sync += then_abort.eq(then_abort | self.abort)

        # -- decoding, one buffered byte at a time ------------------------------------------
        left = Signal(range(-1, MAX_BLOCK), init=-1)    # data bytes left in the block, minus
        code = left[-1]                                 # one; negative: a code byte is next
        zero = Signal()                                 # the block before implies a zero
        started = Signal()                              # a byte since the last delimiter
        aborted = Signal()
        oversize = Signal()
        room = Signal(range(-1, n), init=n - 1)         # decoded bytes allowed, minus one
        late = Signal()                                 # an abort after the byte decoded now
        out = self.o.payload
        give = Signal()
        value = Signal(8)
        status = Signal(2)
        m.d.comb += [
            late.eq((process & then_abort) | direct),
            status.eq(Mux(aborted, STATUS_ABORT, Mux(oversize, STATUS_OVERSIZE, ~code))),
        ]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(late):
            m.d.sync += aborted.eq(1)
        with m.If(process):
            with m.If(is_zero):
                with m.If(started | aborted):
                    m.d.sync += [self.o.valid.eq(1), out.data.eq(0), out.end.eq(1),
                                 out.status.eq(status)]
                m.d.sync += [left.eq(-1), zero.eq(0), started.eq(0), oversize.eq(0),
                             room.eq(n - 1), aborted.eq(late)]
            with m.Else():
                m.d.sync += started.eq(1)
                with m.If(code):
                    m.d.comb += [give.eq(zero), value.eq(0)]
                    m.d.sync += [left.eq(byte - 2), zero.eq(~is_ff)]
                with m.Else():
                    m.d.comb += [give.eq(1), value.eq(byte)]
                    m.d.sync += left.eq(left - 1)
                with m.If(give & ~aborted & ~oversize):
                    with m.If(room[-1]):
                        m.d.sync += oversize.eq(1)
                    with m.Else():
                        m.d.sync += [self.o.valid.eq(1), out.data.eq(value), out.end.eq(0),
                                     out.status.eq(0), room.eq(room - 1)]
        return m
