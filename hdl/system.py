"""The board system: the normaliser and quantizer (phases) and the MC array (rasters) behind
the host link, on one clock.

Bit-exact twin: :class:`hetq.golden.fixed.system.DeviceModel` (configuration:
:class:`~hetq.golden.fixed.system.SystemConfig`); protocol: :mod:`hetq.golden.fixed.link`.
:class:`SystemCore` works on decoded frames (what the COBS decoder emits, reply bytes to the
COBS encoder); :class:`System` adds the UART, the COBS codec, a transmit FIFO and the LEDs and
is what a board top (``boards/top.py``) or the simulated board instantiates.
"""

from amaranth import Cat, Const, Module, Signal, unsigned
from amaranth.lib import crc, data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.link import (COUNTERS, EVENTS_PER_FRAME, Cmd, Status, code_bytes,
                                 max_codes)
from ..golden.fixed.system import SystemConfig, info_payload
from .kit import CheckedComponent, RegisterSlice
from .link import Counters, ReplyFramer, RequestStore, decoded_layout, reply_layout
from .mc_array import MCArray
from .quantizer import SensorQuantizer

__all__ = ["SystemCore", "System", "line_layout", "TX_FIFO_DEPTH"]

#: Bytes the transmit FIFO between the COBS encoder and the UART holds: more than a reply, so
#: that the next reply is built while this one is sent.
TX_FIFO_DEPTH = 512


def _times(value, factor):
    """``value * factor`` for a constant ``factor`` as shifts and adds (a multiplication would
    map to a DSP block with a long path through it)."""
    terms = [value << bit for bit in range(int(factor).bit_length()) if factor >> bit & 1]
    total = terms[0] if terms else Const(0)
    for t in terms[1:]:
        total = total + t
    return total


def line_layout():
    """The UART receiver's error pulses."""
    return data.StructLayout({"framing": 1, "brk": 1, "overrun": 1})


def _check(config, weights, table):
    if not isinstance(config, SystemConfig):
        raise TypeError(f"config must be a SystemConfig, not {type(config).__name__}")
    if config.gc is not None:
        raise ValueError("the RTL system has no GC layer yet (protocol version 2 is defined "
                         "by the device model, golden/fixed/system.py); build it with gc=None")
    SensorQuantizer.check(config.quantizer, weights=weights, table=table)
    MCArray.check(config.array)
    return config


class SystemCore(CheckedComponent):
    """The link's frames and the command executor over the quantizer and the MC array.

    Requests are executed one after another, in the order they arrived; each gives one reply
    frame (a raster several), written as bytes to ``tx``. The executor checks a request
    completely (command, length, addresses, values) before it changes anything, and answers a
    bad one with an error status.

    Parameters
    ----------
    config : SystemConfig
    weights, table
        The initial tables (memory init), as for :class:`~.quantizer.SensorQuantizer`.

    Members
    -------
    rx : ``In(stream.Signature(link.decoded_layout()))``
        Decoded request frames from the COBS decoder.
    line : ``In(line_layout())``
        The UART receiver's error pulses (counted).
    tx : ``Out(stream.Signature(link.reply_layout()))``
        Reply frames (CRC included), for the COBS encoder.
    error : ``Out(1)``
        A pulse for every counted fault (for an LED).
    """

    @classmethod
    def check(cls, config, *, weights=None, table=None):
        return _check(config, weights, table)

    def __init__(self, config, *, weights=None, table=None):
        self._config = self.check(config, weights=weights, table=table)
        self._quant = SensorQuantizer(config.quantizer, weights=weights, table=table)
        self._array = MCArray(config.array) if config.rasters else None
        super().__init__({
            "rx": In(stream.Signature(decoded_layout())),
            "line": In(line_layout()),
            "tx": Out(stream.Signature(reply_layout())),
            "error": Out(1),
        })

    config = property(lambda self: self._config)
    quantizer = property(lambda self: self._quant)
    array = property(lambda self: self._array)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        q, a, fmt = cfg.quantizer, cfg.array, cfg.quantizer.fmt
        m.submodules.store = store = RequestStore(cfg.slots)
        m.submodules.framer = framer = ReplyFramer()
        # a register between the executor and the framer: block RAM outputs (slow clock-to-out
        # on ECP5) reach no CRC logic in the same cycle (bytes leave at half the clock, far
        # above any baud rate)
        m.submodules.tx_slice = tx_slice = RegisterSlice(reply_layout())
        wiring.connect(m, tx_slice.o, framer.i)
        m.submodules.counters = counters = Counters()
        m.submodules.quantizer = quant = self._quant
        array = self._array                            # None: built without rasters
        if array is not None:
            m.submodules.array = array
        m.submodules.hash = hasher = crc.Processor(crc.catalog.CRC32_ISO_HDLC(data_width=1))
        wiring.connect(m, wiring.flipped(self.rx), store.i)
        wiring.connect(m, wiring.flipped(self.tx), framer.o)

        def count(name):
            return counters.inc[Counters.index(name)]

        m.d.comb += [
            count("crc_errors").eq(store.events.crc),
            count("dropped_frames").eq(store.events.dropped),
            count("slot_overruns").eq(store.events.overrun),
            count("framing_errors").eq(self.line.framing),
            count("breaks").eq(self.line.brk),
            count("rx_overruns").eq(self.line.overrun),
            self.error.eq(store.events.crc | store.events.dropped | store.events.overrun
                          | self.line.framing | self.line.brk | self.line.overrun),
        ]

        wb, db = code_bytes(fmt.weight_bits), code_bytes(fmt.drive_bits)
        sb, xb = code_bytes(fmt.sensor_bits), code_bytes(fmt.x_bits)
        pbits = q.phase_bits

        # -- registers of the executor ----------------------------------------------------
        seq = Signal(16)
        cmd = Signal(8)
        status = Signal(8)
        plen = Signal(9)                               # payload bytes
        start = Signal(16)
        cnt = Signal(9)
        k = Signal(16)                                 # loop index
        val = Signal(32)                               # bytes fetched, little endian
        faddr = Signal(8)                              # next byte to fetch
        fleft = Signal(3)
        hbits = Signal(range(33))                      # bits of `val` left to hash
        fbyte = Signal(2)                              # byte of ``val`` being fetched
        emit_val = Signal(32)                          # bytes to emit, little endian
        emit_left = Signal(3)
        emit_last = Signal()
        sample = Signal(q.sensors * fmt.sensor_bits)
        to_array = Signal()                            # quantizer output goes to the array
        x_held = Signal(q.sensors * fmt.x_bits)
        x_got = Signal()
        acc = Signal(pbits + 8)                        # phase bits not yet emitted
        nacc = Signal(range(pbits + 9))
        records_done = Signal()
        last_in = Signal()                             # the array got the sample's last drive
        settle = Signal(2)
        base = Signal(a.step_bits)                     # step of the current raster window
        part = Signal(16)
        nev = Signal(range(EVENTS_PER_FRAME + 1))
        ebyte = Signal(2)
        final = Signal()                               # this raster part is the last
        hashing = Signal()

        # the event buffer of a raster part: four bytes (step, mc; little endian) per event
        if array is not None:
            m.submodules.events = events = Memory(shape=unsigned(8),
                                                  depth=4 * EVENTS_PER_FRAME, init=[])
            ev_wr, ev_rd = events.write_port(), events.read_port()
        ev_word = Signal(32)

        # the x tap: the normalised inputs of the sample, as they enter the quantizer
        with m.If(quant.x.valid):
            m.d.sync += [x_held.eq(quant.x.data.as_value()), x_got.eq(1)]

        # quantizer output: to the phase packer, or as drives to the array
        if array is not None:
            m.d.comb += [
                array.i.payload.mc.eq(quant.o.payload.mc),
                array.i.payload.drive.eq(quant.o.payload.drive),
                array.i.payload.last.eq(quant.o.payload.last),
                array.i.valid.eq(quant.o.valid & to_array),
            ]
            with m.If(to_array):
                m.d.comb += quant.o.ready.eq(array.i.ready)
                with m.If(quant.o.valid & array.i.ready & quant.o.payload.last):
                    m.d.sync += [last_in.eq(1), settle.eq(3)]

        # the info reply's constant bytes (all but the table hash) in a ROM
        info_rom = info_payload(cfg, 0)[:-4]
        m.submodules.info = info_mem = Memory(shape=unsigned(8), depth=len(info_rom),
                                              init=list(info_rom))
        info_rd = info_mem.read_port()
        # the table hash one bit per cycle, LSB first (the reflected CRC-32 of the bytes)
        m.d.comb += [hasher.data.eq(val[0]), hasher.start.eq(~hashing)]

        tx = tx_slice.i

        def fetch(name, nbytes, then):
            """States ``name`` and ``name_A``, ``_B``, ``_W``: fetch the next ``nbytes`` request
            bytes (from ``faddr``, which then points past them) into ``val`` (little endian),
            then go to ``then``. The RAM address is the register ``faddr`` and its output goes
            through the register ``rbyte``: no logic on either side of the block RAM."""
            with m.State(name):
                m.d.sync += [val.eq(0), fleft.eq(nbytes), fbyte.eq(0)]
                m.next = name + "_A"
            with m.State(name + "_A"):                       # faddr into the RAM
                m.next = name + "_B"
            with m.State(name + "_B"):                       # its byte into rbyte
                m.next = name + "_W"
            with m.State(name + "_W"):
                # a write-enable per byte, not a shifter
                m.d.sync += [val.word_select(fbyte, 8).eq(rbyte), fbyte.eq(fbyte + 1),
                             fleft.eq(fleft - 1), faddr.eq(faddr + 1)]
                with m.If(fleft == 1):
                    m.next = then
                with m.Else():
                    m.next = name + "_A"

        def emit(name, value, nbytes, last, then):
            """States ``name`` and ``name_E``: emit ``nbytes`` bytes of ``value`` (little
            endian), ``last`` on the final one, then go to ``then``."""
            with m.State(name):
                m.d.sync += [emit_val.eq(value), emit_left.eq(nbytes), emit_last.eq(last)]
                m.next = name + "_E"
            with m.State(name + "_E"):
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(emit_val[:8]),
                             tx.payload.last.eq(emit_last & (emit_left == 1))]
                with m.If(tx.ready):
                    m.d.sync += [emit_val.eq(emit_val >> 8), emit_left.eq(emit_left - 1)]
                    with m.If(emit_left == 1):
                        m.next = then

        header = Cat(seq, cmd, status)
        writing = Signal()                             # the request writes a table
        bad_length, bad_address = Signal(), Signal()
        m.d.comb += writing.eq(cmd.matches(Cmd.WRITE_WEIGHTS, Cmd.WRITE_THRESHOLDS))

        # block RAM outputs go through a register before any logic (ECP5 block RAM has a slow
        # clock-to-out); the addresses are registers
        rbyte = Signal(8)
        ev_byte = Signal(8)
        info_byte = Signal(8)
        m.d.comb += [store.addr.eq(faddr), info_rd.addr.eq(k)]
        m.d.sync += [rbyte.eq(store.rdata), info_byte.eq(info_rd.data)]
        if array is not None:
            m.d.comb += ev_rd.addr.eq(k)
            m.d.sync += ev_byte.eq(ev_rd.data)

        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += [status.eq(Status.OK), k.eq(0), x_got.eq(0)]
                m.d.sync += faddr.eq(0)
                with m.If(store.req.valid):
                    # counted as it is taken, not as it arrives: a STATUS reply counts the
                    # frames answered before it and itself, however many more are queued
                    m.d.comb += count("good_frames").eq(1)
                    m.d.sync += plen.eq(store.req.length - 5)
                    m.next = "HEAD"
            fetch("HEAD", 3, "DISPATCH")
            with m.State("DISPATCH"):
                m.d.sync += [seq.eq(val[:16]), cmd.eq(val[16:24])]
                with m.Switch(val[16:24]):
                    with m.Case(Cmd.INFO, Cmd.STATUS, Cmd.CLEAR):
                        with m.If(plen != 0):
                            m.next = "BAD_LENGTH"
                        with m.Elif(val[16:24] == Cmd.INFO):
                            m.next = "HASH"
                        with m.Elif(val[16:24] == Cmd.STATUS):
                            m.next = "STATUS_HEAD"
                        with m.Else():
                            m.d.comb += counters.clear.eq(1)
                            m.next = "ACK"
                    with m.Case(Cmd.WRITE_WEIGHTS, Cmd.READ_WEIGHTS):
                        with m.If(plen < 3):
                            m.next = "BAD_LENGTH"
                        with m.Else():
                            m.next = "RANGE16"
                    with m.Case(Cmd.WRITE_THRESHOLDS, Cmd.READ_THRESHOLDS):
                        with m.If(plen < 2):
                            m.next = "BAD_LENGTH"
                        with m.Else():
                            m.next = "RANGE8"
                    with m.Case(*((Cmd.SAMPLE, Cmd.RASTER) if array is not None
                                  else (Cmd.SAMPLE,))):
                        with m.If(plen != q.sensors * sb):
                            m.next = "BAD_LENGTH"
                        with m.Else():
                            m.next = "SENSOR"
                    with m.Default():
                        m.d.comb += count("unknown_commands").eq(1)
                        m.d.sync += status.eq(Status.UNKNOWN_COMMAND)
                        m.next = "REPLY_ERROR"

            for st, code in (("BAD_LENGTH", Status.BAD_LENGTH),
                             ("BAD_ADDRESS", Status.BAD_ADDRESS),
                             ("BAD_VALUE", Status.BAD_VALUE)):
                with m.State(st):
                    m.d.comb += count("bad_requests").eq(1)
                    m.d.sync += status.eq(code)
                    m.next = "REPLY_ERROR"
            emit("REPLY_ERROR", header, 4, 1, "DONE")
            emit("ACK", header, 4, 1, "DONE")
            with m.State("DONE"):
                m.d.comb += store.done.eq(1)
                m.next = "IDLE"

            # -- info: the hash of the tables, then the constant fields ------------------
            with m.State("HASH"):
                m.d.sync += hashing.eq(0)
                m.next = "HASH_W"
            # each table's codes, read one by one, their bytes into the CRC bit by bit
            for t, rport, dport, nbytes, size, then in (
                    ("W", quant.weight_r, quant.weight_d, wb, q.mcs, "HASH_T"),
                    ("T", quant.threshold_r, quant.threshold_d, db, q.levels, "INFO_HEAD")):
                with m.State(f"HASH_{t}"):                    # read code k
                    m.d.comb += [rport.payload.eq(k), rport.valid.eq(1)]
                    with m.If(rport.ready):
                        m.next = f"HASH_{t}D"
                with m.State(f"HASH_{t}D"):
                    m.d.comb += dport.ready.eq(1)
                    with m.If(dport.valid):
                        m.d.sync += [val.eq(dport.payload), hbits.eq(8 * nbytes)]
                        m.next = f"HASH_{t}B"
                with m.State(f"HASH_{t}B"):                   # its bytes into the CRC
                    m.d.comb += hasher.valid.eq(1)
                    m.d.sync += [hashing.eq(1), val.eq(val >> 1), hbits.eq(hbits - 1)]
                    with m.If(hbits == 1):
                        m.d.sync += k.eq(k + 1)
                        with m.If(k == size - 1):
                            m.d.sync += k.eq(0)
                            m.next = then
                        with m.Else():
                            m.next = f"HASH_{t}"
            emit("INFO_HEAD", header, 4, 0, "INFO_READ")
            with m.State("INFO_READ"):                     # byte k of the ROM out ...
                m.next = "INFO_LATCH"
            with m.State("INFO_LATCH"):                    # ... into info_byte
                m.next = "INFO_BYTE"
            with m.State("INFO_BYTE"):
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(info_byte)]
                with m.If(tx.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == len(info_rom) - 1):
                        m.next = "INFO_HASH"
                    with m.Else():
                        m.next = "INFO_READ"
            emit("INFO_HASH", hasher.crc, 4, 1, "DONE")

            # -- status ----------------------------------------------------------------------
            emit("STATUS_HEAD", header, 4, 0, "STATUS_WAIT")
            with m.State("STATUS_WAIT"):                   # counts still being applied
                with m.If(~counters.busy):
                    m.next = "STATUS_NEXT"
            with m.State("STATUS_NEXT"):
                m.d.comb += [counters.raddr.eq(k), counters.rread.eq(1)]
                m.next = "STATUS_LATCH"
            with m.State("STATUS_LATCH"):                  # the counter into its register
                m.next = "STATUS_READ"
            with m.State("STATUS_READ"):
                m.d.sync += [emit_val.eq(counters.rdata), emit_left.eq(4),
                             emit_last.eq(k == len(COUNTERS) - 1), k.eq(k + 1)]
                m.next = "STATUS_E"
            with m.State("STATUS_E"):
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(emit_val[:8]),
                             tx.payload.last.eq(emit_last & (emit_left == 1))]
                with m.If(tx.ready):
                    m.d.sync += [emit_val.eq(emit_val >> 8), emit_left.eq(emit_left - 1)]
                    with m.If(emit_left == 1):
                        m.next = "STATUS_MORE"
            with m.State("STATUS_MORE"):
                with m.If(k == len(COUNTERS)):
                    m.next = "DONE"
                with m.Else():
                    m.next = "STATUS_NEXT"

            # -- tables ------------------------------------------------------------------------
            # weights: start (u16), count (u8); thresholds: start (u8), count (u8)
            fetch("RANGE16", 3, "RANGE16_CHECK")
            fetch("RANGE8", 2, "RANGE8_CHECK")
            for width, size, bits, cbytes in (("16", q.mcs, fmt.weight_bits, wb),
                                               ("8", q.levels, fmt.drive_bits, db)):
                head = 3 if width == "16" else 2
                with m.State(f"RANGE{width}_CHECK"):
                    # the checks into registers first (adders and comparisons of fetched
                    # bytes), decided in the next state
                    first = val[:16] if width == "16" else val[:8]
                    number = val[16:24] if width == "16" else val[8:16]
                    m.d.sync += [
                        start.eq(first), cnt.eq(number), k.eq(0),
                        bad_length.eq((number == 0) | (number > max_codes(bits, head))
                                      | (writing & (plen != head + _times(number, cbytes)))
                                      | (~writing & (plen != head))),
                        bad_address.eq(first + number > size),
                    ]
                    m.next = f"RANGE{width}_DECIDE"
                with m.State(f"RANGE{width}_DECIDE"):
                    with m.If(bad_length):
                        m.next = "BAD_LENGTH"
                    with m.Elif(bad_address):
                        m.next = "BAD_ADDRESS"
                    with m.Elif(writing):
                        m.next = f"VALUES{width}"
                    with m.Else():
                        m.next = f"READ{width}_HEAD"

            # writes: first every code's value is checked (codes wider than their field
            # must be zero above it), then the codes are written one by one
            for width, bits, cbytes, port in (("16", fmt.weight_bits, wb, quant.weight_w),
                                              ("8", fmt.drive_bits, db, quant.threshold_w)):
                head = 3 if width == "16" else 2
                fetch(f"VALUES{width}", cbytes, f"VALUES{width}_CHECK")
                with m.State(f"VALUES{width}_CHECK"):
                    with m.If((val >> bits) != 0):
                        m.next = "BAD_VALUE"
                    with m.Elif(k == cnt - 1):
                        m.d.sync += [k.eq(0), faddr.eq(3 + head)]     # the codes again
                        m.next = f"WRITE{width}"
                    with m.Else():
                        m.d.sync += k.eq(k + 1)
                        m.next = f"VALUES{width}"
                fetch(f"WRITE{width}", cbytes, f"WRITE{width}_PUT")
                with m.State(f"WRITE{width}_PUT"):
                    m.d.comb += [port.valid.eq(1), port.payload.addr.eq(start + k),
                                 port.payload.data.eq(val)]
                    with m.If(port.ready):
                        m.d.sync += k.eq(k + 1)
                        with m.If(k == cnt - 1):
                            m.next = "ACK"
                        with m.Else():
                            m.next = f"WRITE{width}"

            # reads: the header, the request's start and count, then the codes
            for width, cbytes, rport, dport in (("16", wb, quant.weight_r, quant.weight_d),
                                                ("8", db, quant.threshold_r,
                                                 quant.threshold_d)):
                nhead = 3 if width == "16" else 2
                emit(f"READ{width}_HEAD", header, 4, 0, f"READ{width}_ECHO")
                emit(f"READ{width}_ECHO", Cat(start[:8 * (nhead - 1)], cnt[:8]), nhead, 0,
                     f"READ{width}_REQ")
                with m.State(f"READ{width}_REQ"):
                    m.d.comb += [rport.payload.eq(start + k), rport.valid.eq(1)]
                    with m.If(rport.ready):
                        m.next = f"READ{width}_DATA"
                with m.State(f"READ{width}_DATA"):
                    m.d.comb += dport.ready.eq(1)
                    with m.If(dport.valid):
                        m.d.sync += [emit_val.eq(dport.payload), emit_left.eq(cbytes),
                                     emit_last.eq(k == cnt - 1), k.eq(k + 1)]
                        m.next = f"READ{width}_E"
                with m.State(f"READ{width}_E"):
                    m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(emit_val[:8]),
                                 tx.payload.last.eq(emit_last & (emit_left == 1))]
                    with m.If(tx.ready):
                        m.d.sync += [emit_val.eq(emit_val >> 8), emit_left.eq(emit_left - 1)]
                        with m.If(emit_left == 1):
                            with m.If(emit_last):
                                m.next = "DONE"
                            with m.Else():
                                m.next = f"READ{width}_REQ"

            # -- sample and raster: the sensor codes, checked, then into the quantizer ----
            fetch("SENSOR", sb, "SENSOR_CHECK")
            with m.State("SENSOR_CHECK"):
                m.d.sync += sample.eq(Cat(sample[fmt.sensor_bits:], val[:fmt.sensor_bits]))
                with m.If((val >> fmt.sensor_bits) != 0):
                    m.next = "BAD_VALUE"
                with m.Elif(k == q.sensors - 1):
                    m.d.sync += [k.eq(0), to_array.eq((cmd == Cmd.RASTER) & (array is not None)),
                                 last_in.eq(0),
                                 acc.eq(0), nacc.eq(0), records_done.eq(0), part.eq(0),
                                 nev.eq(0)]
                    m.next = "PUSH"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
                    m.next = "SENSOR"
            with m.State("PUSH"):
                m.d.comb += [quant.i.payload.eq(sample), quant.i.valid.eq(1)]
                with m.If(quant.i.ready):
                    if array is not None:
                        with m.If(to_array):
                            m.next = "EVENTS"
                        with m.Else():
                            m.next = "SAMPLE_HEAD"
                    else:
                        m.next = "SAMPLE_HEAD"
            emit("SAMPLE_HEAD", header, 4, 0, "SAMPLE_X")
            with m.State("SAMPLE_X"):                     # the normalised inputs
                with m.If(x_got):
                    m.d.sync += [emit_val.eq(x_held.word_select(k[:6], fmt.x_bits)),
                                 emit_left.eq(xb), k.eq(k + 1)]
                    m.next = "SAMPLE_XE"
            with m.State("SAMPLE_XE"):
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(emit_val[:8])]
                with m.If(tx.ready):
                    m.d.sync += [emit_val.eq(emit_val >> 8), emit_left.eq(emit_left - 1)]
                    with m.If(emit_left == 1):
                        with m.If(k == q.sensors):
                            m.next = "PHASES"
                        with m.Else():
                            m.next = "SAMPLE_X"
            with m.State("PHASES"):                       # phases, packed LSB first
                with m.If(nacc >= 8):
                    m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(acc[:8]),
                                 tx.payload.last.eq(records_done & (nacc == 8))]
                    with m.If(tx.ready):
                        m.d.sync += [acc.eq(acc >> 8), nacc.eq(nacc - 8)]
                        with m.If(records_done & (nacc == 8)):
                            m.next = "DONE"
                with m.Elif(~records_done):
                    m.d.comb += quant.o.ready.eq(1)
                    with m.If(quant.o.valid):
                        m.d.sync += [acc.eq(acc | (quant.o.payload.phase << nacc)),
                                     nacc.eq(nacc + pbits),
                                     records_done.eq(quant.o.payload.last)]
                with m.Else():                            # the rest, padded with zeros
                    m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(acc[:8]),
                                 tx.payload.last.eq(1)]
                    with m.If(tx.ready):
                        m.next = "DONE"

            if array is not None:
                # raster: collect events in the buffer; a full buffer or the end of the window
                # sends a part (seq, cmd, status, part, last, events)
                with m.State("EVENTS"):
                    with m.If(nev == EVENTS_PER_FRAME):
                        m.next = "PART_HEAD"
                    with m.Elif(array.o.valid):
                        # the step within the window, modulo the counter's 2**step_bits
                        rel = Signal(16)
                        m.d.comb += rel.eq((array.o.payload.step - base)[:min(16, a.step_bits)])
                        mc = array.o.payload.mc
                        m.d.sync += [ev_word.eq(Cat(rel, mc, Const(0, 16 - len(mc)))),
                                     ebyte.eq(0)]
                        m.d.comb += array.o.ready.eq(1)
                        m.next = "EVENT_STORE"
                    with m.Elif(last_in & (settle == 0) & array.idle):
                        m.next = "PART_HEAD"
                    with m.Elif(settle != 0):
                        m.d.sync += settle.eq(settle - 1)
                with m.State("EVENT_STORE"):
                    m.d.comb += [ev_wr.addr.eq(Cat(ebyte, nev)), ev_wr.data.eq(ev_word[:8]),
                                 ev_wr.en.eq(1)]
                    m.d.sync += [ev_word.eq(ev_word >> 8), ebyte.eq(ebyte + 1)]
                    with m.If(ebyte == 3):
                        m.d.sync += nev.eq(nev + 1)
                        m.next = "EVENTS"
                with m.State("PART_HEAD"):
                    m.d.sync += [final.eq(nev != EVENTS_PER_FRAME), k.eq(0)]
                    m.next = "PART_H"
                emit("PART_H", header, 4, 0, "PART_NUM")
                emit("PART_NUM", Cat(part, final), 3, nev == 0, "PART_BODY")
                with m.State("PART_BODY"):
                    with m.If(k == Cat(Const(0, 2), nev)):
                        m.d.sync += [part.eq(part + 1), nev.eq(0), k.eq(0)]
                        with m.If(final):
                            m.d.sync += base.eq(base + a.window)
                            m.next = "DONE"
                        with m.Else():
                            m.next = "EVENTS"
                    with m.Else():
                        m.next = "PART_READ"
                with m.State("PART_READ"):                     # byte k into ev_byte
                    m.d.sync += emit_last.eq(k + 1 == Cat(Const(0, 2), nev))
                    m.next = "PART_BYTE"
                with m.State("PART_BYTE"):
                    m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(ev_byte),
                                 tx.payload.last.eq(emit_last)]
                    with m.If(tx.ready):
                        m.d.sync += k.eq(k + 1)
                        m.next = "PART_BODY"
        return m


class System(CheckedComponent):
    """The board system on its pins: a UART, the COBS decoder and encoder, a transmit FIFO,
    :class:`SystemCore`, and two LEDs.

    Parameters
    ----------
    config : SystemConfig
    weights, table
        The initial tables (memory init).

    Members
    -------
    rx : ``In(1)``
        The UART receive pin (asynchronous, idle high).
    tx : ``Out(1)``
        The UART transmit pin.
    leds : ``Out(StructLayout({"heartbeat": 1, "error": 1}))``
        A heartbeat (2 to 4 Hz: the top bit of a counter of about half the clock's width) and
        an error LED, lit for 0.2 s (to 1 %) after every counted fault.
    """

    @classmethod
    def check(cls, config, *, weights=None, table=None):
        return _check(config, weights, table)

    def __init__(self, config, *, weights=None, table=None):
        self._config = self.check(config, weights=weights, table=table)
        self._core = SystemCore(config, weights=weights, table=table)
        super().__init__({
            "rx": In(1),
            "tx": Out(1, init=1),
            "leds": Out(data.StructLayout({"heartbeat": 1, "error": 1})),
        })

    config = property(lambda self: self._config)
    core = property(lambda self: self._core)

    def elaborate(self, platform):
        from ..golden.fixed.link import MAX_FRAME
        from .cobs import COBSDecoder, COBSEncoder
        from .uart import UART

        m = Module()
        cfg = self._config
        m.submodules.uart = uart = UART(cfg.uart)
        m.submodules.decoder = dec = COBSDecoder(MAX_FRAME)
        m.submodules.encoder = enc = COBSEncoder()
        m.submodules.tx_fifo = fifo = SyncFIFOBuffered(width=8, depth=TX_FIFO_DEPTH)
        m.submodules.core = core = self._core
        m.d.comb += [uart.rx.eq(self.rx), self.tx.eq(uart.tx)]
        wiring.connect(m, uart.o, dec.i)
        m.d.comb += [dec.abort.eq(uart.errors.framing | uart.errors.brk),
                     core.line.framing.eq(uart.errors.framing),
                     core.line.brk.eq(uart.errors.brk),
                     core.line.overrun.eq(uart.errors.overrun)]
        wiring.connect(m, dec.o, core.rx)
        m.submodules.enc_slice = enc_slice = RegisterSlice(reply_layout())
        wiring.connect(m, core.tx, enc_slice.i)
        wiring.connect(m, enc_slice.o, enc.i)
        m.d.comb += [fifo.w_data.eq(enc.o.payload), fifo.w_en.eq(enc.o.valid),
                     enc.o.ready.eq(fifo.w_rdy),
                     uart.i.payload.eq(fifo.r_data), uart.i.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(uart.i.ready)]

        # LEDs: a heartbeat from a free-running counter, the error LED held after each fault
        beat_bits = max(1, (cfg.clock_hz // 2).bit_length() - 1)
        beat = Signal(beat_bits)
        m.d.sync += beat.eq(beat + 1)
        # (counted in ticks of 1/128 of the hold or so, the rising edges of a bit of ``beat``:
        # a full-width down-counter and its zero test made a long carry path on the iCE40)
        tick_bit = min(beat_bits - 1, max(0, (cfg.clock_hz // 5 // 128).bit_length() - 1))
        ticks = max(1, (cfg.clock_hz // 5) >> (tick_bit + 1))
        prev, tick = Signal(), Signal()
        m.d.sync += [prev.eq(beat[tick_bit]), tick.eq(beat[tick_bit] & ~prev)]
        hold = Signal(range(ticks + 1))
        with m.If(core.error):
            m.d.sync += hold.eq(ticks)
        with m.Elif(tick & (hold != 0)):
            m.d.sync += hold.eq(hold - 1)
        m.d.comb += [self.leds.heartbeat.eq(beat[-1]), self.leds.error.eq(hold != 0)]
        return m
