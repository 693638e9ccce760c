"""The board system: the normaliser and quantizer (phases), the MC array (rasters) and, in
protocol version 2, the GC layer behind it, behind the host link, on one clock.

Bit-exact twin: :class:`hetq.golden.fixed.system.DeviceModel` (configuration:
:class:`~hetq.golden.fixed.system.SystemConfig`); protocol: :mod:`hetq.golden.fixed.link`.
:class:`SystemCore` works on decoded frames (what the COBS decoder emits, reply bytes to the
COBS encoder); :class:`System` adds the UART, the COBS codec, a transmit FIFO and the LEDs and
is what a board top (``boards/top.py``) or the simulated board instantiates.
"""

import struct

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import crc, data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import CYCLE
from ..golden.fixed.link import (COUNTERS, EVENTS_PER_FRAME, GC_PHASE_BITS,
                                 GC_PHASES_PER_FRAME, Cmd, GcTable, Status, code_bytes,
                                 max_codes)
from ..golden.fixed.system import (INFO_FORMAT, SystemConfig, gc_table_bits, gc_table_size,
                                   gc_tables, info_payload)
from .gc_layer import CurrentPacker, GCLayer
from .kit import CheckedComponent, RegisterSlice, index_bits
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


#: A readout word: the phase of the unit's last spike (RO_PHASE bits) and its in-window bit.
RO_PHASE = 6
RO_BITS = RO_PHASE + 1


def line_layout():
    """The UART receiver's error pulses."""
    return data.StructLayout({"framing": 1, "brk": 1, "overrun": 1})


def _check(config, weights, table):
    if not isinstance(config, SystemConfig):
        raise TypeError(f"config must be a SystemConfig, not {type(config).__name__}")
    SensorQuantizer.check(config.quantizer, weights=weights, table=table)
    MCArray.check(config.array)
    if config.gc is not None:
        if config.gc.lanes != 1:
            raise ValueError(f"the board system's GC layer has one lane, not {config.gc.lanes}: "
                             f"its host link addresses synapses, fan-out lists and GC state "
                             f"without a lane (LanedGCLayer is not wired into the system)")
        GCLayer.check(config.gc)
    return config


class SystemCore(CheckedComponent):
    """The link's frames and the command executor over the quantizer, the MC array and, with
    ``config.gc`` (protocol version 2), the GC layer.

    Requests are executed one after another, in the order they arrived; each gives one reply
    frame (a raster several), written as bytes to ``tx``. The executor checks a request
    completely (command, length, addresses, values) before it changes anything, and answers a
    bad one with an error status.

    With a GC layer the MC array sends end-of-step markers (:class:`~.mc_array.MCArray`
    ``ends``) and its stream feeds the :class:`~.gc_layer.GCLayer` during TRAIN and SAMPLE;
    the readout of a window (per MC and per GC the phase of its last spike and whether it
    spiked in the last gamma cycle of the hold) is kept in block RAM as the spikes pass, and
    the fan-out tables a second time for READ_GC and CONNECT's check (docs/board.md). With
    the GC->MC path (``config.gc.iic``) the layer's currents go into the array's extra-current
    input through a :class:`~.gc_layer.CurrentPacker`, as in :class:`~.gc_layer.MCGCLayer`,
    during TRAIN and SAMPLE (a RASTER gives the array zeros and leaves the layer's currents
    owed for its next window), and WRITE_GC sets their weight (GC table ``IIC``).

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
        gc = config.gc is not None
        # the MC array: for RASTER (``rasters``) and in front of a GC layer
        self._array = MCArray(config.array, ends=gc) if config.rasters or gc else None
        self._gc = GCLayer(config.gc) if gc else None
        super().__init__({
            "rx": In(stream.Signature(decoded_layout())),
            "line": In(line_layout()),
            "tx": Out(stream.Signature(reply_layout())),
            "error": Out(1),
        })

    config = property(lambda self: self._config)
    quantizer = property(lambda self: self._quant)
    array = property(lambda self: self._array)
    gc_layer = property(lambda self: self._gc)

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
        array = self._array                            # None: no rasters and no GC layer
        raster = cfg.rasters                           # RASTER served (the array is there)
        if array is not None:
            m.submodules.array = array
        gcl = self._gc                                 # None: protocol version 1
        if gcl is not None:
            m.submodules.gc_layer = gcl
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
        x_got = Signal()                               # the quantizer's x tap holds them
        acc_bits = max(pbits, GC_PHASE_BITS if cfg.gc is not None else 0) + 8
        acc = Signal(acc_bits)                         # phase bits not yet emitted
        nacc = Signal(range(acc_bits + 1))
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
        if raster:
            m.submodules.events = events = Memory(shape=unsigned(8),
                                                  depth=4 * EVENTS_PER_FRAME, init=[])
            ev_wr, ev_rd = events.write_port(), events.read_port()
        ev_word = Signal(32)
        to_net = Signal()                              # the array's spikes go to the GC layer

        if gcl is not None:
            g = cfg.gc
            gp = g.params
            # the fan-out tables as the link wrote them (the layer has write ports only): read
            # back by READ_GC and checked by CONNECT
            m.submodules.ptr_shadow = ptr_mem = Memory(
                shape=unsigned(index_bits(g.synapses + 1)), depth=g.mcs + 1, init=[])
            m.submodules.fan_shadow = fan_mem = Memory(
                shape=unsigned(index_bits(g.gcs)), depth=g.synapses, init=[])
            ptr_wr, ptr_rd = ptr_mem.write_port(), ptr_mem.read_port()
            fan_wr, fan_rd = fan_mem.write_port(), fan_mem.read_port()
            # the readout of a window (docs/model.md section 10): per unit the phase of its
            # last spike, (step mod 50) + 1, and whether it spiked in the last cycle of the hold:
            # one word per unit, the phase in bits 0-5 and the in-window bit in bit 6, written
            # bit by bit (a spike writes the phase and, in the window, the bit; a clear only
            # the bit): one block RAM per unit, not two
            ro = {}
            for unit, depth in (("mc", g.mcs), ("gc", g.gcs)):
                mem = Memory(shape=unsigned(RO_BITS), depth=depth, init=[])
                m.submodules[f"{unit}_ro"] = mem
                ro[unit] = (mem.write_port(granularity=1), mem.read_port())
            connected = Signal(init=1)
            learn = Signal()
            last_seq = Signal(16)
            last_cmd = Signal(8)
            last_ok = Signal()
            repeat = Signal()                          # replaying the last window's reply
            # GC table requests
            gtab = Signal(2)
            gcb = Signal(2)                            # bytes per code
            glimit = Signal(24)
            # the window's step trackers: MCs counted by the array's end markers, GCs by the
            # step of their spikes from the layer's step at the window's start
            m_rel, g_rel = Signal(16), Signal(16)
            m_mod, g_mod = Signal(range(CYCLE)), Signal(range(CYCLE))
            m_in, g_in = Signal(), Signal()
            g_base = Signal(16)
            hold = g.hold
            # readout packing
            ro_gc = Signal()                           # packing GC phases (else MC phases)
            units = max(g.mcs, g.gcs)                  # (the registers below: as wide
            ro_u = Signal(range(units + 1))            # as the tables need) the unit read
            ro_left = Signal(range(units + 1))         # units left in this part
            ro_ph, ro_in = Signal(RO_PHASE), Signal()
            units_done = Signal()
            clr = Signal(range(units))
            # CONNECT's check: ptr[k], ptr[k - 1], the synapse, the last GC index, the first
            c_pv, c_prev, c_kk = (Signal.like(ptr_rd.data, name=n)
                                  for n in ("c_pv", "c_prev", "c_kk"))
            c_last = Signal.like(fan_rd.data)
            c_first = Signal()
            # the GC->MC weight as the link last wrote it (the layer's copy has no read port)
            iic_reg = Signal(signed(fmt.current_bits)) if g.iic else None

        # the x tap: the normalised inputs of the sample, from the cycle they enter the
        # quantizer until it takes the next sample (after this request's reply: no register)
        with m.If(quant.x.valid):
            m.d.sync += x_got.eq(1)

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

        if gcl is not None:
            def in_window(rel):
                return (rel >= hold - CYCLE) & (rel < hold)

            # the network: the array's spikes and end markers into the layer, and the MC
            # readout from the same stream; with the GC->MC path the layer's currents into the
            # array (during a RASTER the array takes zeros and the layer's wait)
            # with the path the layer's input ready waits for its engine (the lockstep), late
            # in the clock: the spikes then go through a register slice
            net_i, net_held = gcl.i, Const(0)
            if g.iic:
                m.submodules.net_slice = net_slice = RegisterSlice(gcl.i.payload.shape())
                wiring.connect(m, net_slice.o, gcl.i)
                net_i, net_held = net_slice.i, net_slice.o.valid
                m.submodules.iic_packer = packer = CurrentPacker(a)
                wiring.connect(m, gcl.iic, packer.i)
                m.d.comb += [packer.restart.eq(CurrentPacker.restarts(gcl.cmd)),
                             array.extra.valid.eq(1)]
            mc_ro_w, gc_ro_w = ro["mc"][0], ro["gc"][0]
            ph_en = Const((1 << RO_PHASE) - 1, RO_PHASE)          # the phase bits' enables
            # an MC spike's readout write, a clock after the handshake (the layer's ready
            # is late in the clock): its MC, phase and in-window bit in registers
            mw_v, mw_in = Signal(), Signal()
            mw_mc = Signal.like(array.o.payload.mc)
            mw_ph = Signal(RO_PHASE)
            m.d.sync += mw_v.eq(0)
            with m.If(mw_v):
                m.d.comb += [mc_ro_w.addr.eq(mw_mc), mc_ro_w.data.eq(Cat(mw_ph, Const(1, 1))),
                             mc_ro_w.en.eq(Cat(ph_en, mw_in))]
            with m.If(to_net):
                m.d.comb += [net_i.valid.eq(array.o.valid), array.o.ready.eq(net_i.ready),
                             net_i.payload.mc.eq(array.o.payload.mc),
                             net_i.payload.end.eq(array.o.payload.end)]
                if g.iic:                          # the layer's currents into the MCs
                    wiring.connect(m, packer.o, array.extra)
                with m.If(array.o.valid & net_i.ready):
                    with m.If(array.o.payload.end):
                        m.d.sync += [m_rel.eq(m_rel + 1),
                                     m_mod.eq(Mux(m_mod == CYCLE - 1, 0, m_mod + 1)),
                                     m_in.eq(in_window(m_rel + 1))]
                    with m.Else():
                        m.d.sync += [mw_v.eq(1), mw_mc.eq(array.o.payload.mc),
                                     mw_ph.eq(m_mod + 1), mw_in.eq(m_in)]
            # the GC spikes: the tracker steps up to each spike's step, then takes it
            g_step = Signal(16)
            m.d.comb += g_step.eq(gcl.o.payload.step[:16] - g_base)
            m.d.comb += gcl.o.ready.eq(g_step == g_rel)
            with m.If(gcl.o.valid):
                with m.If(g_step != g_rel):
                    m.d.sync += [g_rel.eq(g_rel + 1),
                                 g_mod.eq(Mux(g_mod == CYCLE - 1, 0, g_mod + 1)),
                                 g_in.eq(in_window(g_rel + 1))]
                with m.Else():
                    m.d.comb += [gc_ro_w.addr.eq(gcl.o.payload.gc),
                                 gc_ro_w.data.eq(Cat((g_mod + 1)[:RO_PHASE], Const(1, 1))),
                                 gc_ro_w.en.eq(Cat(ph_en, g_in))]
            m.d.comb += gcl.learn.eq(learn)
            # the GC table writes (WRITE_GC): address and code from registers, whatever the
            # state (only the valid and enable signals come from the executor's state);
            # READ_GC's address (``gaddr``) is a register too
            gaddr = Signal(range(max(g.synapses, g.mcs + 1)))
            for payload in (gcl.weight_w.payload, gcl.ptr_w.payload, gcl.gc_w.payload, ptr_wr,
                            fan_wr):
                m.d.comb += [payload.addr.eq(gaddr), payload.data.eq(val)]
            for unit in ("mc", "gc"):
                m.d.comb += ro[unit][1].addr.eq(ro_u)
            # the readout's registers after the block RAM: each RAM's output into a register
            # of its own (ECP5 block RAM is slow clock-to-out), then the MC/GC choice
            raw = {}
            for unit, (_, rport) in ro.items():
                raw[unit] = Signal.like(rport.data, name=f"ro_{unit}_q")
                m.d.sync += raw[unit].eq(rport.data)
            m.d.sync += [ro_ph.eq(Mux(ro_gc, raw["gc"][:RO_PHASE], raw["mc"][:RO_PHASE])),
                         ro_in.eq(Mux(ro_gc, raw["gc"][RO_PHASE], raw["mc"][RO_PHASE]))]

        # the info reply's constant bytes (all but the table hash) in a ROM
        hash_at = 4 + struct.calcsize(INFO_FORMAT) - 4      # the table hash's offset
        info_rom = info_payload(cfg, 0)
        info_rom = info_rom[:hash_at] + info_rom[hash_at + 4:]
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
        if raster:
            m.d.comb += ev_rd.addr.eq(k)
            m.d.sync += ev_byte.eq(ev_rd.data)

        with m.FSM() as executor:
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
                if gcl is not None:
                    # a TRAIN or SAMPLE with the seq and cmd of the request executed just
                    # before it, which succeeded, is a repeat: its reply again, nothing run
                    is_repeat = (last_ok & (val[:16] == last_seq) & (val[16:24] == last_cmd)
                                 & ((val[16:24] == Cmd.TRAIN) | (val[16:24] == Cmd.SAMPLE)))
                    m.d.sync += repeat.eq(is_repeat)
                else:
                    is_repeat = Const(0)
                with m.If(is_repeat):
                    if gcl is not None:
                        m.d.sync += x_got.eq(1)
                        with m.If(val[16:24] == Cmd.TRAIN):
                            m.next = "ACK"
                        with m.Else():
                            m.next = "NET_HEAD"
                with m.Else():
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
                        with m.Case(*((Cmd.SAMPLE, Cmd.RASTER) if raster
                                      else (Cmd.SAMPLE,)),
                                    *((Cmd.TRAIN,) if gcl is not None else ())):
                            with m.If(plen != q.sensors * sb):
                                m.next = "BAD_LENGTH"
                            with m.Else():
                                m.next = "SENSOR"
                        if gcl is not None:
                            with m.Case(Cmd.WRITE_GC, Cmd.READ_GC):
                                with m.If(plen < 4):
                                    m.next = "BAD_LENGTH"
                                with m.Else():
                                    m.next = "GC_HEAD"
                            with m.Case(Cmd.CONNECT, Cmd.CLAMP):
                                with m.If(plen != 0):
                                    m.next = "BAD_LENGTH"
                                with m.Elif(val[16:24] == Cmd.CONNECT):
                                    m.d.sync += [k.eq(0), c_prev.eq(0)]
                                    m.next = "CONN_PTR"
                                with m.Else():
                                    m.next = "GC_CMD"
                        with m.Default():
                            m.d.comb += count("unknown_commands").eq(1)
                            m.d.sync += status.eq(Status.UNKNOWN_COMMAND)
                            m.next = "REPLY_ERROR"

            for st, code in (("BAD_LENGTH", Status.BAD_LENGTH),
                             ("BAD_ADDRESS", Status.BAD_ADDRESS),
                             ("BAD_VALUE", Status.BAD_VALUE),
                             ("NOT_CONNECTED", Status.NOT_CONNECTED)):
                with m.State(st):
                    m.d.comb += count("bad_requests").eq(1)
                    m.d.sync += status.eq(code)
                    m.next = "REPLY_ERROR"
            emit("REPLY_ERROR", header, 4, 1, "DONE")
            emit("ACK", header, 4, 1, "DONE")
            with m.State("DONE"):
                m.d.comb += store.done.eq(1)
                if gcl is not None:
                    m.d.sync += [last_seq.eq(seq), last_cmd.eq(cmd),
                                 last_ok.eq(status == Status.OK)]
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
            tail = len(info_rom) > hash_at
            with m.State("INFO_BYTE"):
                # the bytes before the hash, then (version 2) the GC fields after it
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(info_byte),
                             tx.payload.last.eq((k == len(info_rom) - 1) if tail else 0)]
                with m.If(tx.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == hash_at - 1):
                        m.next = "INFO_HASH"
                    with m.Elif(k == len(info_rom) - 1):
                        m.next = "DONE"
                    with m.Else():
                        m.next = "INFO_READ"
            emit("INFO_HASH", hasher.crc, 4, int(not tail), "INFO_READ" if tail else "DONE")

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
            rlen = Signal(range(3 + 255 * max(wb, db) + 1))  # a request's payload length
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
                    m.d.sync += [start.eq(first), cnt.eq(number), k.eq(0),
                                 rlen.eq(head + _times(number, cbytes))]
                    m.next = f"RANGE{width}_CHECK2"
                with m.State(f"RANGE{width}_CHECK2"):        # the sum compared from a register
                    m.d.sync += [
                        bad_length.eq((cnt == 0) | (cnt > max_codes(bits, head))
                                      | (writing & (plen != rlen))
                                      | (~writing & (plen != head))),
                        bad_address.eq(start + cnt > size),
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
                    net = (cmd != Cmd.RASTER) if gcl is not None else Const(0)
                    m.d.sync += [k.eq(0),
                                 to_array.eq((cmd == Cmd.RASTER if raster else Const(0))
                                             | net),
                                 to_net.eq(net), last_in.eq(0),
                                 acc.eq(0), nacc.eq(0), records_done.eq(0), part.eq(0),
                                 nev.eq(0)]
                    if gcl is not None:
                        m.d.sync += [learn.eq(cmd == Cmd.TRAIN), m_rel.eq(0), m_mod.eq(0),
                                     m_in.eq(hold == CYCLE), g_rel.eq(0), g_mod.eq(0),
                                     g_in.eq(hold == CYCLE), g_base.eq(gcl.step[:16]),
                                     clr.eq(0)]
                        with m.If(net & ~connected):
                            m.next = "NOT_CONNECTED"
                        with m.Elif(net & (cmd == Cmd.SAMPLE)):
                            m.next = "NET_CLEAR"
                        with m.Else():
                            m.next = "PUSH"
                    else:
                        m.next = "PUSH"
                with m.Else():
                    m.d.sync += k.eq(k + 1)
                    m.next = "SENSOR"
            with m.State("PUSH"):
                m.d.comb += [quant.i.payload.eq(sample), quant.i.valid.eq(1)]
                with m.If(quant.i.ready):
                    if gcl is not None:
                        with m.If(to_net):
                            m.next = "NET_WAIT"
                        if raster:
                            with m.Elif(to_array):
                                m.next = "EVENTS"
                        with m.Else():
                            m.next = "SAMPLE_HEAD"
                    elif raster:
                        with m.If(to_array):
                            m.next = "EVENTS"
                        with m.Else():
                            m.next = "SAMPLE_HEAD"
                    else:
                        m.next = "SAMPLE_HEAD"
            emit("SAMPLE_HEAD", header, 4, 0, "SAMPLE_X")
            with m.State("SAMPLE_X"):                     # the normalised inputs
                with m.If(x_got):
                    x_tap = quant.x.data.as_value()
                    m.d.sync += [emit_val.eq(x_tap.word_select(k[:6], fmt.x_bits)),
                                 emit_left.eq(xb), k.eq(k + 1)]
                    m.next = "SAMPLE_XE"
            with m.State("SAMPLE_XE"):
                m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(emit_val[:8])]
                with m.If(tx.ready):
                    m.d.sync += [emit_val.eq(emit_val >> 8), emit_left.eq(emit_left - 1)]
                    with m.If(emit_left == 1):
                        with m.If(k == q.sensors):
                            if gcl is not None:
                                m.d.sync += [ro_gc.eq(0), ro_u.eq(0), ro_left.eq(q.mcs),
                                             units_done.eq(0), acc.eq(0), nacc.eq(0)]
                                m.next = "RO_PACK"
                            else:
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

            if gcl is not None:
                # -- GC tables (version 2): table (u8), start (u16), count (u8), codes ----
                tables = list(gc_tables(cfg))
                sizes = {t: gc_table_size(cfg, t) for t in tables}
                # the GC->MC weight is checked apart (signed): its limit is not used
                limits = {GcTable.WEIGHTS: gp["w_max"], GcTable.POINTERS: g.synapses,
                          GcTable.TARGETS: g.gcs - 1, GcTable.IIC: 0}
                gc_writing = cmd == Cmd.WRITE_GC
                fetch("GC_HEAD", 4, "GC_CHECK")
                # the table's figures into registers first (the length a constant times the
                # count, plus 4), compared in the next state, decided in the one after
                glen = Signal(range(4 + 255 * 4 + 1))
                gmax = Signal(range(max(max_codes(gc_table_bits(cfg, t), 4) for t in tables)
                                    + 1))
                gsize = Signal(range(max(sizes.values()) + 1))
                with m.State("GC_CHECK"):
                    table, first, number = val[:8], val[8:24], val[24:32]
                    m.d.sync += [start.eq(first), cnt.eq(number), k.eq(0), gtab.eq(table[:2])]
                    with m.If(table > max(tables)):
                        m.next = "BAD_ADDRESS"
                    with m.Else():
                        with m.Switch(table[:2]):
                            for t in tables:
                                bits = gc_table_bits(cfg, t)
                                cb = code_bytes(bits)
                                with m.Case(t):
                                    m.d.sync += [gcb.eq(cb), glimit.eq(limits[t]),
                                                 glen.eq(4 + _times(number, cb)),
                                                 gmax.eq(max_codes(bits, 4)),
                                                 gsize.eq(sizes[t])]
                        m.next = "GC_CHECK2"
                with m.State("GC_CHECK2"):
                    m.d.sync += [
                        bad_length.eq((cnt == 0) | (cnt > gmax)
                                      | (gc_writing & (plen != glen))
                                      | (~gc_writing & (plen != 4))),
                        bad_address.eq(start + cnt > gsize)]
                    m.next = "GC_DECIDE"
                with m.State("GC_DECIDE"):
                    with m.If(bad_length):
                        m.next = "BAD_LENGTH"
                    with m.Elif(bad_address):
                        m.next = "BAD_ADDRESS"
                    with m.Elif(gc_writing):
                        m.next = "GC_VALUES"
                    with m.Else():
                        m.d.sync += gaddr.eq(start)           # the first code's address
                        m.next = "GCR_HEAD"
                # writes: every code checked against its table's limit, then written
                fetch("GC_VALUES", gcb, "GC_VALUES_CMP")
                over = Signal()                        # the code is above its limit
                with m.State("GC_VALUES_CMP"):         # the comparison into a register first
                    if g.iic:
                        # the GC->MC weight, two's complement in its field: 0, or negative
                        # and at least current_min (a comparison with a constant)
                        nb = 8 * code_bytes(fmt.current_bits)
                        iic_bad = (val != 0) & (~val[nb - 1] | (val[:nb] < (1 << nb)
                                                                + fmt.current_min))
                        m.d.sync += over.eq(Mux(gtab == GcTable.IIC, iic_bad, val > glimit))
                    else:
                        m.d.sync += over.eq(val > glimit)
                    m.next = "GC_VALUES_CHECK"
                with m.State("GC_VALUES_CHECK"):
                    with m.If(over):
                        m.next = "BAD_VALUE"
                    with m.Elif(k == cnt - 1):
                        m.d.sync += [k.eq(0), faddr.eq(3 + 4)]
                        m.next = "GC_WRITE"
                    with m.Else():
                        m.d.sync += k.eq(k + 1)
                        m.next = "GC_VALUES"
                fetch("GC_WRITE", gcb, "GC_ADDR")
                with m.State("GC_ADDR"):                      # the code's address
                    m.d.sync += gaddr.eq(start + k)
                    m.next = "GC_PUT"
                with m.State("GC_PUT"):                       # (addresses and data: above)
                    took = Signal()
                    with m.Switch(gtab):
                        with m.Case(GcTable.WEIGHTS):
                            m.d.comb += [gcl.weight_w.valid.eq(1),
                                         took.eq(gcl.weight_w.ready)]
                        with m.Case(GcTable.POINTERS):
                            m.d.comb += [gcl.ptr_w.valid.eq(1), took.eq(gcl.ptr_w.ready),
                                         ptr_wr.en.eq(gcl.ptr_w.ready)]
                        if g.iic:
                            with m.Case(GcTable.IIC):
                                code = val[:fmt.current_bits].as_signed()
                                m.d.comb += [gcl.iic_w.valid.eq(1), gcl.iic_w.payload.eq(code),
                                             took.eq(gcl.iic_w.ready)]
                                with m.If(gcl.iic_w.ready):
                                    m.d.sync += iic_reg.eq(code)
                        with m.Default():
                            m.d.comb += [gcl.gc_w.valid.eq(1), took.eq(gcl.gc_w.ready),
                                         fan_wr.en.eq(gcl.gc_w.ready)]
                    with m.If(took):
                        m.d.sync += k.eq(k + 1)
                        with m.If(k == cnt - 1):
                            fanout = gtab != GcTable.WEIGHTS          # pointers, GC indices
                            if g.iic:
                                fanout = fanout & (gtab != GcTable.IIC)
                            with m.If(fanout):
                                m.d.sync += connected.eq(0)    # until the next CONNECT
                            m.next = "ACK"
                        with m.Else():
                            m.next = "GC_WRITE"

                # reads: the header, the request's 4 bytes, the codes
                pa, fa = Signal.like(ptr_rd.addr), Signal.like(fan_rd.addr)  # shadow addresses
                m.d.comb += [ptr_rd.addr.eq(pa), fan_rd.addr.eq(fa)]
                # their outputs go into registers before any logic (ECP5 block RAM has a
                # clock-to-out of about 6 ns)
                ptr_q, fan_q = Signal.like(ptr_rd.data), Signal.like(fan_rd.data)
                m.d.sync += [ptr_q.eq(ptr_rd.data), fan_q.eq(fan_rd.data)]
                emit("GCR_HEAD", header, 4, 0, "GCR_ECHO")
                emit("GCR_ECHO", Cat(gtab, Const(0, 6), start, cnt[:8]), 4, 0, "GCR_REQ")
                with m.State("GCR_REQ"):
                    with m.If(gtab == GcTable.WEIGHTS):
                        m.d.comb += [gcl.weight_rq.valid.eq(1),
                                     gcl.weight_rq.payload.eq(gaddr)]
                        with m.If(gcl.weight_rq.ready):
                            m.next = "GCR_DATA"
                    if g.iic:
                        with m.Elif(gtab == GcTable.IIC):     # one code, sign-extended
                            m.d.sync += [emit_val.eq(iic_reg), emit_left.eq(gcb),
                                         emit_last.eq(1), k.eq(k + 1)]
                            m.next = "GCR_E"
                    with m.Else():
                        m.d.sync += [pa.eq(gaddr), fa.eq(gaddr)]
                        m.next = "GCR_S1"
                with m.State("GCR_S1"):                       # the address into the RAM
                    m.next = "GCR_S2"
                with m.State("GCR_S2"):                       # its code into ptr_q, fan_q
                    m.next = "GCR_S3"
                with m.State("GCR_S3"):
                    m.d.sync += [emit_val.eq(Mux(gtab == GcTable.POINTERS, ptr_q, fan_q)),
                                 emit_left.eq(gcb), emit_last.eq(k == cnt - 1), k.eq(k + 1)]
                    m.next = "GCR_E"
                with m.State("GCR_DATA"):
                    m.d.comb += gcl.weight_rs.ready.eq(1)
                    with m.If(gcl.weight_rs.valid):
                        m.d.sync += [emit_val.eq(gcl.weight_rs.payload), emit_left.eq(gcb),
                                     emit_last.eq(k == cnt - 1), k.eq(k + 1)]
                        m.next = "GCR_E"
                with m.State("GCR_E"):
                    m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(emit_val[:8]),
                                 tx.payload.last.eq(emit_last & (emit_left == 1))]
                    with m.If(tx.ready):
                        m.d.sync += [emit_val.eq(emit_val >> 8), emit_left.eq(emit_left - 1)]
                        with m.If(emit_left == 1):
                            with m.If(emit_last):
                                m.next = "DONE"
                            with m.Else():
                                # the next code's address in a register: no adder before
                                # the layer's read port
                                m.d.sync += gaddr.eq(start + k)
                                m.next = "GCR_REQ"

                # -- CONNECT: the fan-out tables checked (ptr[0] = 0, never decreasing,
                # ptr[M] <= S, each MC's GC indices rising), then the layer's CONNECT -----
                with m.State("CONN_PTR"):                     # k: the MC, ptr[k] read
                    m.d.sync += pa.eq(k)
                    m.next = "CONN_P1"
                with m.State("CONN_P1"):
                    m.next = "CONN_P2"
                with m.State("CONN_P2"):                      # ptr[k] into ptr_q
                    m.next = "CONN_P3"
                with m.State("CONN_P3"):
                    m.d.sync += c_pv.eq(ptr_q)
                    with m.If(((k == 0) & (ptr_q != 0)) | (ptr_q < c_prev)
                              | (ptr_q > g.synapses)):
                        m.next = "BAD_VALUE"
                    with m.Else():
                        m.d.sync += [c_kk.eq(c_prev), c_first.eq(1), fa.eq(c_prev)]
                        m.next = "CONN_FAN"
                # the fan-out RAM's address ``fa`` is set one state ahead (to the synapse
                # ``c_kk`` checked next), so that it is in the RAM during CONN_FAN; its output
                # is compared from the register ``fan_q`` (block RAM clock-to-out and a
                # compare into the next state did not fit 10 ns on ECP5)
                with m.State("CONN_FAN"):                     # the synapses of MC k - 1
                    with m.If(c_kk == c_pv):
                        m.d.sync += c_prev.eq(c_pv)
                        with m.If(k == g.mcs):
                            m.next = "CONN_OK"
                        with m.Else():
                            m.d.sync += k.eq(k + 1)
                            m.next = "CONN_PTR"
                    with m.Else():
                        m.next = "CONN_F1"
                with m.State("CONN_F1"):                      # GC index fa into fan_q
                    m.next = "CONN_F2"
                with m.State("CONN_F2"):
                    m.d.sync += c_last.eq(fan_q)
                    with m.If(~c_first & (fan_q <= c_last)):
                        m.next = "BAD_VALUE"
                    with m.Else():
                        m.d.sync += [c_first.eq(0), c_kk.eq(c_kk + 1), fa.eq(c_kk + 1)]
                        m.next = "CONN_FAN"
                with m.State("CONN_OK"):
                    m.d.comb += [gcl.cmd.valid.eq(1), gcl.cmd.payload.eq(GCLayer.CONNECT)]
                    with m.If(gcl.cmd.ready):
                        m.d.sync += connected.eq(1)
                        m.next = "GC_WAIT"
                # -- CLAMP --------------------------------------------------------------------
                with m.State("GC_CMD"):
                    m.d.comb += [gcl.cmd.valid.eq(1), gcl.cmd.payload.eq(GCLayer.CLAMP)]
                    with m.If(gcl.cmd.ready):
                        m.next = "GC_WAIT"
                with m.State("GC_WAIT"):                      # the layer takes the command
                    m.next = "GC_WAIT2"
                with m.State("GC_WAIT2"):
                    with m.If(gcl.idle):
                        m.next = "ACK"

                # -- TRAIN and SAMPLE: one window of the network -----------------------------
                with m.State("NET_CLEAR"):                    # the readout's in-window bits
                    no_ph = Const(0, RO_PHASE)
                    m.d.comb += [mc_ro_w.addr.eq(clr), mc_ro_w.data.eq(0),
                                 mc_ro_w.en.eq(Cat(no_ph, clr < g.mcs)), gc_ro_w.addr.eq(clr),
                                 gc_ro_w.data.eq(0), gc_ro_w.en.eq(Cat(no_ph, clr < g.gcs))]
                    m.d.sync += clr.eq(clr + 1)
                    with m.If(clr == max(g.mcs, g.gcs) - 1):
                        m.next = "PUSH"
                with m.State("NET_WAIT"):
                    with m.If(last_in & (settle == 0) & array.idle & ~net_held & gcl.idle):
                        m.next = "NET_WAIT2"
                    with m.Elif(settle != 0):
                        m.d.sync += settle.eq(settle - 1)
                with m.State("NET_WAIT2"):                    # still idle a cycle later
                    with m.If(array.idle & ~net_held & gcl.idle & ~gcl.o.valid):
                        m.d.sync += [base.eq(base + a.window), to_net.eq(0)]
                        with m.If(cmd == Cmd.TRAIN):
                            m.next = "ACK"
                        with m.Else():
                            m.next = "NET_HEAD"
                    with m.Else():
                        m.next = "NET_WAIT"
                # the reply: part 0 (x and the MC phases), then the GC parts
                emit("NET_HEAD", header, 4, 0, "NET_PART0")
                emit("NET_PART0", Const(0, 24), 3, 0, "SAMPLE_X")
                with m.State("RO_PACK"):
                    with m.If(nacc >= 8):
                        m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(acc[:8]),
                                     tx.payload.last.eq(units_done & (nacc == 8))]
                        with m.If(tx.ready):
                            m.d.sync += [acc.eq(acc >> 8), nacc.eq(nacc - 8)]
                            with m.If(units_done & (nacc == 8)):
                                m.next = "RO_NEXT"
                    with m.Elif(~units_done):
                        m.next = "RO_R1"                      # ro_u into the RAMs
                    with m.Elif(nacc != 0):                   # the rest, padded with zeros
                        m.d.comb += [tx.valid.eq(1), tx.payload.data.eq(acc[:8]),
                                     tx.payload.last.eq(1)]
                        with m.If(tx.ready):
                            m.d.sync += nacc.eq(0)
                            m.next = "RO_NEXT"
                    with m.Else():
                        m.next = "RO_NEXT"
                with m.State("RO_R1"):                        # the unit's RAM outputs ...
                    m.next = "RO_R2"
                with m.State("RO_R2"):                        # ... into ro_ph, ro_in
                    m.next = "RO_R3"
                with m.State("RO_R3"):
                    value = Mux(ro_in, ro_ph, 0)
                    m.d.sync += [acc.eq(acc | (Mux(ro_gc, value, value[:pbits]) << nacc)),
                                 nacc.eq(nacc + Mux(ro_gc, GC_PHASE_BITS, pbits)),
                                 ro_u.eq(ro_u + 1), ro_left.eq(ro_left - 1),
                                 units_done.eq(ro_left == 1)]
                    m.next = "RO_PACK"
                with m.State("RO_NEXT"):
                    with m.If(ro_gc & final):
                        m.next = "DONE"
                    with m.Else():
                        with m.If(~ro_gc):
                            m.d.sync += [ro_gc.eq(1), ro_u.eq(0), part.eq(1)]
                        with m.Else():
                            m.d.sync += part.eq(part + 1)
                        m.next = "GC_PART"
                with m.State("GC_PART"):
                    rest = Signal(16)
                    m.d.comb += rest.eq(g.gcs - ro_u)
                    m.d.sync += [final.eq(rest <= GC_PHASES_PER_FRAME),
                                 ro_left.eq(Mux(rest <= GC_PHASES_PER_FRAME, rest,
                                                GC_PHASES_PER_FRAME)),
                                 units_done.eq(0), acc.eq(0), nacc.eq(0)]
                    m.next = "GC_PART_H"
                emit("GC_PART_H", header, 4, 0, "GC_PART_N")
                emit("GC_PART_N", Cat(part, final), 3, 0, "RO_PACK")

            if raster:
                # raster: collect events in the buffer; a full buffer or the end of the window
                # sends a part (seq, cmd, status, part, last, events)
                with m.State("EVENTS"):
                    with m.If(nev == EVENTS_PER_FRAME):
                        m.next = "PART_HEAD"
                    with m.Elif(array.o.valid & (array.o.payload.end if gcl is not None
                                                 else 0)):
                        m.d.comb += array.o.ready.eq(1)        # an end marker: not an event
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
        # one flip-flop per state (Yosys leaves a state register with an initial value alone
        # unless told): the next-state logic of ~170 binary-coded states was the critical
        # path of the GC build on the ECP5. Yosys drops the initial value of a recoded state
        # register; the board top holds the domain in reset after configuration (until the
        # PLL locks, then POR_US more), so the executor starts in IDLE all the same
        executor.state.attrs["fsm_encoding"] = "one-hot"
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
