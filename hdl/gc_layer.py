"""The granule-cell (GC) layer: the 25-step delay line of MC spikes, the MC->GC synapses with
integer DecaySTDP, and the GC neurons, one synapse or one GC per clock.

Bit-exact twin: :class:`hetq.golden.fixed.gc_layer.GCLayerModel` (configuration:
:class:`~hetq.golden.fixed.gc_layer.GCLayerConfig`); its module docstring states every format
and the order of a step, which this block follows. The MCs are not part of this block: their
spikes come in on ``i`` (from :class:`~.mc_array.MCArray`, or from the model's raster in the
benches).

One step ``t`` (phase ``p = t mod 50``), once the end marker of step ``t`` has arrived:

1. The step ``t - 26`` (delivered in ``t - 1``), when the delay line holds it, is read and
   freed: its MCs' "delivered now" bits are cleared and, with learning on, their ``pre``
   stamps become ``t``.
2. With learning on: the ``post`` stamps of the GCs that fired in step ``t - 1`` become ``t``.
3. With learning on, the MCs of step ``t - 25`` get their "delivered now" bit, then the STDP
   sweep walks every synapse in fan-out order, one per clock: prune, increment from the ROMs,
   penalty, clamp, write-back, and, for a delivered MC, the new weight added (saturating) to
   its GC's current. With learning off, only the fan-out lists of the MCs of step ``t - 25``
   are walked (event-driven delivery).
4. The GC pass updates every GC (one per clock, integer LIF, release at the end of
   ``p = 24``), clears its current and emits ``(step, gc)`` for every spike.

``learn`` is sampled at the first step of every window of ``hold + rinse`` steps (the window
counter starts at 0 with the reset and with :attr:`GCLayer.CONNECT`).
"""

from amaranth import Array, Cat, Const, Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import CYCLE, LEAK_NUM, LEAK_SHIFT
from ..golden.fixed.gc_layer import (BLOCK_MAX, CURRENT_INT, DELAY, GC_RELEASE_PHASE,
                                     PENALTY_DELTA, TABLE_SIZE, WEIGHT_INT, GCLayerConfig,
                                     stdp_tables)
from .kit import CheckedComponent, RegisteredRead, index_bits, write_layout

__all__ = ["GCLayer", "MCGCLayer", "CurrentPacker", "mc_spike_layout", "gc_spike_layout",
           "command_layout", "gc_state_layout", "delay_depth"]


def _csd_digits(n):
    """The canonical signed digits of ``n > 0``: ``[(sign, shift), ...]`` with
    ``n == sum(sign << shift)`` and no two adjacent non-zero digits."""
    out, shift = [], 0
    while n:
        if n & 1:
            d = 2 - (n & 3)                            # +1 or -1
            out.append((d, shift))
            n -= d
        n >>= 1
        shift += 1
    return out


def mc_spike_layout(config):
    """Payload of the MC spike stream: ``end = 0``: MC ``mc`` fired in the current step;
    ``end = 1``: the current step is complete (``mc`` is ignored)."""
    return data.StructLayout({"mc": unsigned(index_bits(config.mcs)), "end": unsigned(1)})


def gc_spike_layout(config):
    """Payload of the GC spike stream: the step (modulo ``2**stamp_bits``) and the GC."""
    return data.StructLayout({"step": unsigned(config.stamp_bits),
                              "gc": unsigned(index_bits(config.gcs))})


def command_layout():
    """Payload of the command stream: one of :attr:`GCLayer.RESET`, ``CONNECT``, ``CLAMP``."""
    return unsigned(2)


def gc_state_layout(config):
    """A word of the GC state memory: the voltage (SQ7.Fc) and the refractory bit."""
    return data.StructLayout({"voltage": signed(8 + config.fmt.drive_frac), "refractory": 1})


def delay_depth(config):
    """Entries of the delay-line ring: room for 27 steps of spikes and end markers. The MCs of
    the MC array fire at most once per gamma cycle, so 27 steps (two cycles at most) hold at
    most ``2 * mcs`` spikes; the ring is the next power of two above ``2 * mcs + 64``."""
    return 1 << (2 * config.mcs + 64 - 1).bit_length()


class GCLayer(CheckedComponent):
    """The GC layer of :class:`~hetq.golden.fixed.gc_layer.GCLayerConfig` (one lane).

    Memories (block RAM): the delay ring (``(mc, end)`` entries, :func:`delay_depth`), the
    fan-out pointers (``mcs + 1`` entries), the GC index and the weight code of every synapse,
    the ``pre`` stamps and a "delivered now" bit per MC, the ``post`` stamps, the input
    current and the state (voltage, refractory bit) per GC, and the list of the GCs that fired
    in the last step. Stamps are ``stamp_bits`` wide with a valid bit (compared as signed
    differences modulo ``2**stamp_bits``).

    Cycles per step (measured in tests/hdl/test_gc_layer.py, with the MC side ahead):
    learning on, ``synapses + (MCs with an empty fan-out list) + gcs`` plus the spikes of
    steps ``t - 26`` and ``t - 25`` and the GC spikes of ``t - 1`` plus 30 (26 before the
    ring is read, the first 25 steps after a reset); learning off, about
    ``gcs + sum over delivered MCs of (fan-out + 2)`` plus 10 to 26 (the pipelines' drains;
    the event walk reads the ring at two clocks per MC while the walker walks the lists
    fetched before). The GC pass waits for room in the output FIFO. Every block-RAM read
    is registered before any logic beyond a LUT, so the block reaches 115 MHz on the ECP5
    (see docs/gc-layer-rtl.md).

    Parameters
    ----------
    config : GCLayerConfig
        ``lanes`` must be 1 (more: :class:`~.gc_lanes.LanedGCLayer`). With ``iic`` the GC->MC
        path (docs/gc-layer-rtl.md): the ``iic`` and ``iic_w`` ports, the ``dst``, ``src``,
        ``blk`` and ``cnt`` memories, and the MC side in lockstep (``i.ready`` only while
        the engine waits and no complete step is waiting). With ``spram`` (not with
        ``iic``: the two are not verified together) the weights and synapse GCs are in the
        iCE40UP's SPRAM (:class:`~.spram.SynapseSPRAM`, at most 32,768 synapses, same
        behaviour and cycles) and the layer starts in CONNECT's walk, which fills the
        weights (``idle`` low for about ``max(mcs, gcs, synapses)`` clocks after the reset).
        With ``compact`` (not with ``iic``) the synapse pipeline has four register stages
        instead of ten and the GC pass four instead of six, with reset-less data registers,
        for small FPGAs at a low clock (the iCE40UP5K at 30 MHz): the same behaviour, fewer
        cycles per step (docs/gc-layer-rtl.md, "The compact pipelines").

    Members
    -------
    i : ``In(stream.Signature(mc_spike_layout(config)))``
        The MC spikes of each step (any order), then an end marker; the MC side may run up to
        the ring's capacity ahead. ``mc >= mcs`` is dropped and sets ``error``. ``ready`` is
        low while the ring is full or one entry from full and during a command.
    o : ``Out(stream.Signature(gc_spike_layout(config)))``
        One transfer per GC spike, ordered by step, then GC; ``step`` is the step of the
        spike (the fire test). Back-pressure stalls the GC pass once the FIFO is nearly full.
    learn : ``In(1)``
        Learning (STDP) on; sampled at the first step of every window.
    weight_w : ``In(stream.Signature(write_layout(kbits, wbits)))``
        Host write of weight code ``data`` to synapse ``addr`` (between steps). A code above
        30 mV or an address ``>= synapses`` is dropped and sets ``error``.
    weight_rq, weight_rs : ``In(stream.Signature(kbits))``, ``Out(stream.Signature(wbits))``
        Host read: a synapse index in, its weight code out (one read at a time).
    ptr_w : ``In(stream.Signature(write_layout(pbits, kbits + 1)))``
        ``ptr[addr] = data`` for ``addr`` in ``0 .. mcs`` (``ptr[0]`` must be 0, the list
        non-decreasing up to at most ``synapses``, as :func:`~hetq.golden.fixed.gc_layer.fanout_lists`
        gives it; a value above ``synapses`` or an address above ``mcs`` sets ``error``).
    gc_w : ``In(stream.Signature(write_layout(kbits, gbits)))``
        The GC of synapse ``addr`` (``data >= gcs`` sets ``error``).
    cmd : ``In(stream.Signature(command_layout()))``
        :attr:`RESET` (as ``reset_neurons``: GC voltages and refractory bits, the delay line,
        the delivered bits and the last GC spikes cleared; weights, stamps and the step stay),
        :attr:`CONNECT` (as ``set_connectivity`` once the lists are written: RESET, every
        weight 25 mV, every stamp invalid, step and window counters 0), :attr:`CLAMP` (every
        weight code ``<= 29 mV`` to 0). Taken between steps; the delay line loses the steps
        received and not yet run, so give commands while ``idle``.
    idle : ``Out(1)``
        No step is running or waiting, no command, no GC spike in the FIFO.
    error : ``Out(1)``
        Sticky: a malformed transfer was dropped (cleared by the reset only).
    step : ``Out(stamp_bits)``
        The step counter (the next step to run), for hosts and benches.
    cycle_w : ``In(stream.Signature(stamp_bits))``
        Host write of the step counter as a gamma cycle: ``t = 50 * payload`` (modulo
        ``2**stamp_bits``), phase and window counter 0 (the model's ``t`` setter, which takes
        multiples of 50). Taken between steps.
    iic : ``Out(stream.Signature(signed(fmt.current_bits)))``, with ``iic``
        After every step (and after RESET and CONNECT, zeros): the GC->MC current of MC
        0 .. mcs - 1 for the next step, ``iic_w * (on - rebound)`` saturated, 0 while
        learning and in the model's step 0. The next step starts once it is issued.
    iic_w : ``In(stream.Signature(signed(fmt.current_bits)))``, with ``iic``
        The GC->MC weight code (reset 0), taken between steps; a code above 0 is dropped and
        sets ``error``. The currents of a step are made with the weight of that step (a
        weight taken while they are still owed does not change them), as the model's.
    """

    RESET, CONNECT, CLAMP = 0, 1, 2
    FIFO_DEPTH = 16
    WALK_QUEUE = 4

    @classmethod
    def check(cls, config):
        if not isinstance(config, GCLayerConfig):
            raise TypeError(f"config must be a GCLayerConfig, not {type(config).__name__}")
        if config.lanes != 1:
            raise ValueError(f"GCLayer has one lane (lanes=1), not {config.lanes}: more "
                             f"lanes are hetq.hdl.gc_lanes.LanedGCLayer (or gc_layer(config))")
        if config.compact and config.iic:
            raise ValueError("the compact pipelines (compact) are not built with the GC->MC "
                             "path (iic): build the layer with one of them")
        if config.spram and config.iic:
            raise ValueError("the SPRAM synapse tables (spram) and the GC->MC path (iic) are "
                             "not verified together: build the layer with one of them")
        if config.spram:
            from .spram import SPRAM_SYNAPSES
            if config.synapses > SPRAM_SYNAPSES:
                raise ValueError(f"with spram the synapse table holds at most "
                                 f"{SPRAM_SYNAPSES} synapses, not {config.synapses}")
        return config

    def __init__(self, config):
        self._config = c = self.check(config)
        p = c.params
        self._kbits = kbits = index_bits(c.synapses)
        self._gbits = gbits = index_bits(c.gcs)
        self._wbits = wbits = p["w_max"].bit_length()
        pbits = index_bits(c.mcs + 1)
        super().__init__({
            "i": In(stream.Signature(mc_spike_layout(c))),
            "o": Out(stream.Signature(gc_spike_layout(c))),
            "learn": In(1),
            "weight_w": In(stream.Signature(write_layout(kbits, wbits))),
            "weight_rq": In(stream.Signature(unsigned(kbits))),
            "weight_rs": Out(stream.Signature(unsigned(wbits))),
            "ptr_w": In(stream.Signature(write_layout(pbits, kbits + 1))),
            "gc_w": In(stream.Signature(write_layout(kbits, gbits))),
            "cmd": In(stream.Signature(command_layout())),
            "idle": Out(1),
            "error": Out(1),
            "step": Out(c.stamp_bits),
            "cycle_w": In(stream.Signature(unsigned(c.stamp_bits))),
            **({"iic": Out(stream.Signature(signed(c.fmt.current_bits))),
                "iic_w": In(stream.Signature(signed(c.fmt.current_bits)))} if c.iic else {}),
        })
        sbits, vbits = c.stamp_bits, 8 + c.fmt.drive_frac
        rest_word = p["rest"] & ((1 << vbits) - 1)
        self._mem = {
            "ring": Memory(shape=unsigned(index_bits(c.mcs) + 1), depth=delay_depth(c),
                           init=[]),
            # written by the host between steps only, read by the walk's fetches only during
            # steps: no read-during-write to emulate (see RegisteredRead)
            "ptr": Memory(shape=unsigned(kbits + 1), depth=c.mcs + 1, init=[],
                          attrs={"no_rw_check": 1}),
            **({} if c.spram else {"fan": Memory(shape=unsigned(gbits), depth=c.synapses,
                                                 init=[])}),
            **({} if c.spram else {"w": Memory(shape=unsigned(wbits), depth=c.synapses,
                                               init=[p["w_init"]] * c.synapses)}),
            "pre": Memory(shape=unsigned(sbits + 1), depth=c.mcs, init=[]),
            "dlv": Memory(shape=unsigned(1), depth=c.mcs, init=[]),
            "post": Memory(shape=unsigned(sbits + 1), depth=c.gcs, init=[]),
            "acc": Memory(shape=unsigned(CURRENT_INT + c.fmt.drive_frac), depth=c.gcs,
                          init=[]),
            "gc": Memory(shape=unsigned(vbits + 1), depth=c.gcs, init=[rest_word] * c.gcs),
            "spk": Memory(shape=unsigned(gbits), depth=c.gcs, init=[]),
        }
        if c.iic:
            # GC->MC: last-spike words (stamp, valid bit, phase) of the MCs and the GCs, the
            # blocking duration and its frozen bit per GC, the count of an MC's GCs
            xbits = sbits + 1 + (CYCLE - 1).bit_length()
            self._mem.update({
                "dst": Memory(shape=unsigned(xbits), depth=c.mcs, init=[]),
                "src": Memory(shape=unsigned(xbits), depth=c.gcs, init=[]),
                "blk": Memory(shape=unsigned(BLOCK_MAX.bit_length() + 1), depth=c.gcs,
                              init=[]),
                "cnt": Memory(shape=unsigned(self.count_bits(c)), depth=c.mcs, init=[]),
            })
        self._wr = {name: mem.write_port() for name, mem in self._mem.items()}
        self._rd = {name: mem.read_port(transparent_for=(self._wr[name],) if name == "acc"
                                        else ()) for name, mem in self._mem.items()
                    if name != "ptr"}
        # the fan-out pointers are read in pairs (ptr[m], ptr[m + 1]), through asynchronous
        # ports and registers (RegisteredRead, in elaborate)
        self._ptr_ports = [self._mem["ptr"].read_port(domain="comb") for _ in range(2)]
        # with spram: the weights and synapse GCs in the SPRAM (hdl/spram.py), behind ports
        # like the memories'; the table is filled by a CONNECT walk at power-up
        self._syn = None
        if c.spram:
            from .spram import SynapseSPRAM
            self._syn = SynapseSPRAM(c.synapses, wbits, gbits, late_check=c.compact)
            self._rd.update(self._syn.rd)
            self._wr.update(self._syn.wr)

    config = property(lambda self: self._config)

    @staticmethod
    def count_bits(config):
        """Width of an MC's GC->MC count (signed): GC ``g`` belongs to MC ``g % mcs``, so an
        MC has at most ``ceil(gcs / mcs)`` GCs, each counting -1, 0 or +1."""
        return (-(-config.gcs // config.mcs)).bit_length() + 1

    @property
    def memories(self):
        """The memories by name (for simulator benches): ``w`` (weight codes by synapse),
        ``pre``/``post`` (stamp in the low ``stamp_bits``, valid bit above), ``gc``
        (:func:`gc_state_layout` words), ``acc``, ``dlv``, ``ptr``, ``fan``, ``ring``,
        ``spk`` (without ``w`` and ``fan`` with ``spram``: see :attr:`synapse_spram`); with
        ``iic`` also ``dst``/``src`` (stamp, valid bit, phase), ``blk`` (blocking duration,
        frozen bit above) and ``cnt``."""
        return dict(self._mem)

    @property
    def synapse_spram(self):
        """The :class:`~.spram.SynapseSPRAM` of a layer built with ``spram`` (else None)."""
        return self._syn

    def elaborate(self, platform):
        m = Module()
        c = self._config
        p = c.params
        mem, rd, wr = self._mem, dict(self._rd), self._wr
        for name, port in zip(("ptr", "ptr1"), self._ptr_ports):
            rd[name] = RegisteredRead(m, mem["ptr"], f"{name}_rd", en=1, port=port)
        for name, memory in mem.items():
            m.submodules[f"{name}_mem"] = memory
        if self._syn is not None:
            m.submodules.synapse_spram = self._syn
        kbits, gbits, wbits = self._kbits, self._gbits, self._wbits
        sbits, vbits = c.stamp_bits, 8 + c.fmt.drive_frac
        mbits = index_bits(c.mcs)
        ibits = CURRENT_INT + c.fmt.drive_frac
        ring_depth = delay_depth(c)
        rbits = (ring_depth - 1).bit_length()
        w_max, prune, i_max = p["w_max"], p["prune"], p["current_max"]
        g_rest, g_thr = p["rest"], p["threshold"]
        assert WEIGHT_INT == 5 and w_max < (1 << wbits) and i_max == (1 << ibits) - 1

        error = Signal()
        m.d.comb += self.error.eq(error)

        # -- the delay ring: the MC side writes, the step engine reads and frees -------------
        wp = Signal(rbits + 1)                         # write pointer (one extra bit)
        tail = Signal(rbits + 1)                       # oldest entry kept
        ahead = Signal(range(ring_depth + 1))          # complete steps not yet run
        frozen = Signal(init=c.spram)                  # a command runs: no input
        count = Signal(rbits + 1)
        m.d.comb += count.eq(wp - tail)
        # room registered: the entries of the last cycle left room for two (one write a
        # clock, so the ring never takes more than ring_depth - 1)
        room_in = Signal()
        m.d.sync += room_in.eq(count < ring_depth - 1)
        engine_idle = Signal()                         # the step engine waits in IDLE
        if c.iic:
            # lockstep: the MCs of step t + 1 need the GC->MC current of step t, so the MC
            # side is never ahead; its spikes are taken only for the next step to run
            # (their stamps are written as they arrive)
            m.d.comb += self.i.ready.eq(~frozen & room_in & engine_idle & (ahead == 0))
        else:
            m.d.comb += self.i.ready.eq(~frozen & room_in)
        take = self.i.valid & self.i.ready
        bad_mc = ~self.i.payload.end & (self.i.payload.mc >= c.mcs)
        keep = take & ~bad_mc
        m.d.comb += [wr["ring"].addr.eq(wp[:rbits]), wr["ring"].data.eq(self.i.payload),
                     wr["ring"].en.eq(keep)]
        with m.If(keep):
            m.d.sync += wp.eq(wp + 1)
        with m.If(take & bad_mc):
            m.d.sync += error.eq(1)
        marker_in = keep & self.i.payload.end
        step_start = Signal()
        m.d.sync += ahead.eq(ahead + marker_in - step_start)

        # -- counters ------------------------------------------------------------------------
        t = Signal(sbits)
        phase = Signal(range(CYCLE))
        wstep = Signal(range(c.window))
        learn = Signal()
        held = Signal(range(DELAY + 2))                # steps in the ring already run (<= 26)
        m.d.comb += self.step.eq(t)

        # -- GC->MC state: the model's "t > 0" (t_fresh: the step to run is the first since t
        # was set to 0), the weight, the emission of the currents the MCs take next ----------
        if c.iic:
            ebits = c.fmt.current_bits
            t_fresh = Signal(init=1)
            iic_w = Signal(signed(ebits))
            e_w = Signal(signed(ebits))                # the weight of the step emitted
            e_pend = Signal(init=1)                    # an emission of mcs codes is owed
            e_zero = Signal(init=1)                    # ... and its codes are all 0
            e_flush = Signal()                         # a command drops the emission
            any_lc = Signal()                          # an MC fired in the last 50 steps
            al_m = Signal(range(c.mcs + 1))            # the ANYLC pass's MC
            last_word = Cat(t, Const(1, 1), phase)     # a last-spike word of this step
            # the MC spikes of the step to run (lockstep: see i.ready) stamp their MCs
            with m.If(keep & ~self.i.payload.end):
                m.d.comb += [wr["dst"].addr.eq(self.i.payload.mc), wr["dst"].data.eq(last_word),
                             wr["dst"].en.eq(1)]
            # the ANYLC pass reads every dst word (state ANYLC), registers the difference,
            # then compares
            al1_v, al2_v, al3_v = Signal(), Signal(), Signal()
            al2_w = Signal(len(last_word))
            al3_ok, al3_d = Signal(), Signal(signed(sbits))
            m.d.sync += [al1_v.eq(0), al2_v.eq(al1_v), al2_w.eq(rd["dst"].data),
                         al3_v.eq(al2_v), al3_ok.eq(al2_w[sbits]),
                         al3_d.eq((t - al2_w[:sbits])[:sbits])]
            with m.If(al3_v & al3_ok & (al3_d < CYCLE)):
                m.d.sync += any_lc.eq(1)

        # registers whose next value also addresses a memory (read data = mem[value])
        def addressed(name, shape):
            cur = Signal(shape, name=name)
            nxt = Signal(shape, name=name + "_next")
            m.d.comb += nxt.eq(cur)
            m.d.sync += cur.eq(nxt)
            return cur, nxt

        rp, rp_n = addressed("rp", rbits + 1)          # ring cursor
        si, si_n = addressed("si", gbits + 1)          # GC spike list cursor
        m.d.comb += [rd["ring"].addr.eq(rp_n[:rbits]), rd["spk"].addr.eq(si_n)]
        ring_mc = rd["ring"].data[:mbits]
        ring_end = rd["ring"].data[mbits]
        n_spk = Signal(gbits + 1)                      # GCs in the spike list

        # -- synapse pipeline, a register after every block-RAM read and every carry chain:
        # S0 issue (weight, GC, pre, delivered bit); S1 their outputs; S2 the post read;
        # S3 its output; S4 delta and the flags; S5 the ROM increments; S6 the new weight;
        # S7 the weight write and the current's read (transparent); S8 its output; S9 the
        # saturating sum and its write, forwarded from the previous cycle's write (the one
        # the read could not see): one synapse per clock without stalls. ------------------
        iss = Signal()
        iss_ev = Signal()                              # event-driven delivery (no learning)
        iss_k = Signal(kbits + 1)

        # -- the fan-out walk. A fetch reads (ptr[m], ptr[m + 1]) of the next MC to visit
        # (the sweep: 0 .. mcs - 1; the event walk: the MCs of the ring) straight into a
        # small queue; credits count the fetches in flight and queued, so the queue never
        # overflows and the fetch needs no signal of the cycle. The walker holds its MC's
        # (mc, k, end) in registers: one synapse per clock, an MC with an empty list costs
        # one clock, and no block-RAM output reaches an address through logic. ----------
        f_iss = Signal()                               # a fetch this cycle ...
        f_addr = Signal(mbits + 1)                     # ... of the pointers of MC f_addr
        m.d.comb += [rd["ptr"].addr.eq(f_addr), rd["ptr1"].addr.eq(f_addr + 1)]
        fa_v, fa_mc = Signal(), Signal(mbits)
        m.d.sync += [fa_v.eq(f_iss), fa_mc.eq(f_addr)]
        if c.compact:
            # the list's tests (a synapse to issue, the last) taken before the queue and
            # queued with the pointers: no comparison behind the queue's read multiplexer
            qw = mbits + 2 * (kbits + 1) + 2
            fb_v, fb_entry = Signal(), Signal(qw)
            p0, p1 = rd["ptr"].data, rd["ptr1"].data
            m.d.sync += [fb_v.eq(fa_v), fb_entry.eq(Cat(fa_mc, p0, p1, p0 < p1, p0 + 1 >= p1))]
            m.submodules.walk_q = walk_q = SyncFIFO(width=qw, depth=self.WALK_QUEUE)
        else:
            fb_v, fb_entry = Signal(), Signal(mbits + 2 * (kbits + 1))   # the pointers registered
            m.d.sync += [fb_v.eq(fa_v), fb_entry.eq(Cat(fa_mc, rd["ptr"].data, rd["ptr1"].data))]
            m.submodules.walk_q = walk_q = SyncFIFO(width=mbits + 2 * (kbits + 1),
                                                    depth=self.WALK_QUEUE)
        m.d.comb += [walk_q.w_en.eq(fb_v), walk_q.w_data.eq(fb_entry)]
        credits = Signal(range(self.WALK_QUEUE + 1), init=self.WALK_QUEUE)
        w_v, w_mc = Signal(), Signal(mbits)            # the walker: MC, next synapse, end
        w_k, w_end = Signal(kbits + 1), Signal(kbits + 1)
        w_take = Signal()
        # registered with w_k: w_k < w_end (a synapse to issue) and w_k + 1 >= w_end (the
        # list's last), so no comparison sits between the walker and the memories' ports
        w_has, w_last = Signal(), Signal(init=1)
        m.d.comb += [w_take.eq(walk_q.r_rdy & (~w_v | w_last)), walk_q.r_en.eq(w_take)]
        m.d.sync += credits.eq(credits - f_iss + w_take)
        q_mc, q_k, q_end = (Signal(mbits), Signal(kbits + 1), Signal(kbits + 1))
        if c.compact:
            q_has, q_last = Signal(), Signal()
            m.d.comb += Cat(q_mc, q_k, q_end, q_has, q_last).eq(walk_q.r_data)
        else:
            m.d.comb += Cat(q_mc, q_k, q_end).eq(walk_q.r_data)
            q_has, q_last = q_k < q_end, q_k + 1 >= q_end
        with m.If(w_take):
            m.d.sync += [w_v.eq(1), w_mc.eq(q_mc), w_k.eq(q_k), w_end.eq(q_end),
                         w_has.eq(q_has), w_last.eq(q_last)]
        with m.Elif(w_last):
            m.d.sync += w_v.eq(0)
        with m.Else():
            m.d.sync += [w_k.eq(w_k + 1), w_has.eq(w_k + 1 < w_end),
                         w_last.eq(w_k + 2 >= w_end)]
        can_fetch = Signal()
        walk_idle = Signal()                           # nothing fetched, queued or walked
        m.d.comb += [can_fetch.eq(credits != 0),
                     walk_idle.eq((credits == self.WALK_QUEUE) & ~w_v),
                     iss.eq(w_v & w_has), iss_ev.eq(~learn), iss_k.eq(w_k)]

        # the STDP rule of both synapse pipelines: the kind of change, then the new weight
        ltp, ltd = stdp_tables(c.fmt)
        ltp_rom = Array(Const(int(v), wbits) for v in ltp)
        ltd_rom = Array(Const(int(v), wbits) for v in ltd)
        assert TABLE_SIZE == 64 and PENALTY_DELTA < TABLE_SIZE

        def change_kind(ev, pruned, active, delta):
            """How the weight changes: 0 none (an event pass, or neither pruned nor active),
            3 to zero (pruned, or the non-causation penalty), 1 up (delta < 0), 2 down
            (0 < delta < TABLE_SIZE)."""
            kind = Signal(2)
            with m.If(ev | (~pruned & ~active)):
                m.d.comb += kind.eq(0)
            with m.Elif(pruned | (delta < -PENALTY_DELTA)):
                m.d.comb += kind.eq(3)
            with m.Elif(delta < 0):
                m.d.comb += kind.eq(1)
            with m.Elif((delta > 0) & (delta < TABLE_SIZE)):
                m.d.comb += kind.eq(2)
            return kind

        def new_weight(w, kind, inc, dec):
            """The weight after a change of ``kind``: up by ``inc`` clamped to w_max, down by
            ``dec`` clamped to 0, or 0."""
            up = Signal(wbits + 1)
            down = Signal(signed(wbits + 2))
            m.d.comb += [up.eq(w + inc), down.eq(w - dec)]
            wn = Signal(wbits)
            with m.Switch(kind):
                with m.Case(0):
                    m.d.comb += wn.eq(w)
                with m.Case(1):
                    m.d.comb += wn.eq(Mux(up > w_max, w_max, up))
                with m.Case(2):
                    m.d.comb += wn.eq(Mux(down < 0, 0, down))
                with m.Case(3):
                    m.d.comb += wn.eq(0)
            return wn

        if c.compact:
            # -- compact synapse pipeline (30 MHz class FPGAs): C0 issues the weight and GC
            # reads; C1 reads pre and the delivered bit (at the registered MC) and post (at
            # the GC straight out of its table); C2 takes delta and the kind of change from
            # the memories' outputs; C3 the ROM increment and the new weight, and reads the
            # current (transparent for C4's write); C4 writes the weight and the current's
            # saturating sum. The current's port sees the write of the synapse one ahead, so
            # no forwarding is needed. Data registers are reset-less (the valid bits gate
            # them). --------------------------------------------------------------------------
            def cstage(n, valid, **values):
                """Valid bits ``valid`` (reset) and reset-less data registers ``values``."""
                regs = {}
                for name, value in {**valid, **values}.items():
                    r = Signal(value.shape(), name=f"c{name}{n}",
                               reset_less=name not in valid)
                    m.d.sync += r.eq(value)
                    regs[name] = r
                return regs

            m.d.comb += [rd["w"].addr.eq(iss_k), rd["fan"].addr.eq(iss_k)]
            s1 = cstage(1, {"v": iss, "ev": iss_ev}, k=iss_k, mc=w_mc)
            m.d.comb += [rd["pre"].addr.eq(s1["mc"]), rd["dlv"].addr.eq(s1["mc"]),
                         rd["post"].addr.eq(rd["fan"].data)]
            s2 = cstage(2, {"v": s1["v"], "ev": s1["ev"]}, k=s1["k"], w=rd["w"].data,
                        g=rd["fan"].data)
            c_pre, c_post = rd["pre"].data, rd["post"].data
            delta = Signal(signed(sbits))
            m.d.comb += delta.eq((c_pre[:sbits] - c_post[:sbits])[:sbits])
            w2 = s2["w"]
            pruned = w2 < prune
            active = c_pre[sbits] & c_post[sbits] & (w2 != w_max)
            kind = change_kind(s2["ev"], pruned, active, delta)
            # the ROMs' index: -delta (up) or delta (down), modulo 64
            idx = Signal(6)
            m.d.comb += idx.eq(Mux(kind == 1, (-delta[:6])[:6], delta[:6]))
            s3 = cstage(3, {"v": s2["v"], "ev": s2["ev"]}, k=s2["k"],
                        dl=s2["ev"] | rd["dlv"].data[0], w=w2, g=s2["g"], kind=kind, idx=idx)
            wn = new_weight(s3["w"], s3["kind"], ltp_rom[s3["idx"]], ltd_rom[s3["idx"]])
            s4 = cstage(4, {"v": s3["v"], "wv": s3["v"] & ~s3["ev"], "av": s3["v"] & s3["dl"]},
                        k=s3["k"], g=s3["g"], w=wn)
            acc_sum = Signal(ibits + 1)
            acc_sat = Signal(ibits)
            m.d.comb += [acc_sum.eq(rd["acc"].data + s4["w"]),
                         acc_sat.eq(Mux(acc_sum[ibits], i_max, acc_sum[:ibits]))]  # the carry
            pipe_busy = Cat(s1["v"], s2["v"], s3["v"], s4["v"]).any()
        else:
            m.d.comb += [rd["w"].addr.eq(iss_k), rd["fan"].addr.eq(iss_k),
                         rd["pre"].addr.eq(w_mc), rd["dlv"].addr.eq(w_mc)]

            def stage(n, **values):
                """Registers ``<name><n>`` that take ``values`` every cycle."""
                regs = {}
                for name, value in values.items():
                    r = Signal.like(value, name=f"{name}{n}") if isinstance(value, Signal) else \
                        Signal(value.shape(), name=f"{name}{n}")
                    m.d.sync += r.eq(value)
                    regs[name] = r
                return regs

            s1 = stage(1, v=iss, ev=iss_ev, k=iss_k)
            s2 = stage(2, v=s1["v"], ev=s1["ev"], k=s1["k"], dl=s1["ev"] | rd["dlv"].data[0],
                       w=rd["w"].data, g=rd["fan"].data, pre=rd["pre"].data)
            m.d.comb += rd["post"].addr.eq(s2["g"])
            s3 = stage(3, **s2)
            s4 = stage(4, **s3, post=rd["post"].data)
            delta = Signal(signed(sbits))
            m.d.comb += delta.eq((s4["pre"][:sbits] - s4["post"][:sbits])[:sbits])
            w4 = s4["w"]
            s5 = stage(5, v=s4["v"], ev=s4["ev"], k=s4["k"], dl=s4["dl"], w=w4, g=s4["g"],
                       delta=delta, pruned=w4 < prune,
                       active=s4["pre"][sbits] & s4["post"][sbits] & (w4 != w_max))
            d5 = s5["delta"]
            kind = change_kind(s5["ev"], s5["pruned"], s5["active"], d5)
            s6 = stage(6, v=s5["v"], ev=s5["ev"], k=s5["k"], dl=s5["dl"], w=s5["w"], g=s5["g"],
                       kind=kind, inc=ltp_rom[(-d5)[:6]], dec=ltd_rom[d5[:6]])
            wn = new_weight(s6["w"], s6["kind"], s6["inc"], s6["dec"])
            s7 = stage(7, v=s6["v"], ev=s6["ev"], k=s6["k"], dl=s6["dl"], g=s6["g"], w=wn)
            s8 = stage(8, v=s7["v"] & s7["dl"], any=s7["v"], g=s7["g"], w=s7["w"])
            # S9 adds, S10 writes. The read (in S7) saw the write of three synapses ahead (the
            # transparent port); the two writes after it are forwarded: fwd, the synapse one
            # ahead (now in S10), fwd2, two ahead (written last cycle), both of the same GC
            # (compared in S8)
            acc_sat = Signal(ibits)
            fwd8, fwd8b = Signal(), Signal()
            s9 = stage(9, v=s8["v"], any=s8["any"], g=s8["g"], w=s8["w"], acc=rd["acc"].data,
                       fwd=fwd8, fwd2=fwd8b)
            s10 = stage(10, v=s9["v"], any=s9["any"], g=s9["g"], acc=acc_sat)
            fw2_acc = Signal(ibits)
            m.d.sync += fw2_acc.eq(s10["acc"])
            m.d.comb += [fwd8.eq(s9["v"] & (s9["g"] == s8["g"])),
                         fwd8b.eq(s10["v"] & (s10["g"] == s8["g"]))]
            acc_base = Signal(ibits)
            m.d.comb += acc_base.eq(Mux(s9["fwd"], s10["acc"], Mux(s9["fwd2"], fw2_acc, s9["acc"])))
            acc_sum = Signal(ibits + 1)
            m.d.comb += [acc_sum.eq(acc_base + s9["w"]),
                         acc_sat.eq(Mux(acc_sum[ibits], i_max, acc_sum[:ibits]))]  # the carry
            pipe_busy = Cat(s1["v"], s2["v"], s3["v"], s4["v"], s5["v"], s6["v"], s7["v"],
                            s8["any"], s9["any"], s10["any"]).any()

        if c.compact:
            # -- compact GC pipeline: L0 issues (state, current); L1 the fire test, the reset
            # and the difference from the memories' outputs (the current cleared); L2 the
            # leak product, every signed digit in one sum (and the spike out); L3 the new
            # voltage; L4 the clamps and the write-back. ----------------------------------
            lif = Signal()
            lif_g, lif_g_n = addressed("lif_g", gbits + 1)
            l1_v, l1_g = Signal(), Signal(gbits, reset_less=True)
            m.d.sync += [l1_v.eq(lif), l1_g.eq(lif_g)]
            release = Signal()
            m.d.comb += release.eq(phase == GC_RELEASE_PHASE - 1)
            st1 = Signal(gc_state_layout(c))
            acc1 = Signal(ibits)
            m.d.comb += [st1.eq(rd["gc"].data), acc1.eq(rd["acc"].data)]
            fire = Signal()
            m.d.comb += fire.eq(st1.voltage >= g_thr)
            l2_v = Signal()
            l2_g, l2_fire, l2_r = (Signal(gbits, reset_less=True), Signal(reset_less=True),
                                   Signal(reset_less=True))
            l2_v0 = Signal(signed(vbits), reset_less=True)
            l2_diff = Signal(signed(vbits + 2), reset_less=True)
            # g_rest + acc - v0, with v0 = g_rest when the GC fires: acc, so the subtraction
            # runs beside the fire test
            m.d.sync += [l2_v.eq(l1_v), l2_g.eq(l1_g), l2_fire.eq(fire),
                         l2_r.eq(st1.refractory | fire),
                         l2_v0.eq(Mux(fire, g_rest, st1.voltage)),
                         l2_diff.eq(Mux(fire, acc1, g_rest + acc1 - st1.voltage))]
            digits = _csd_digits(LEAK_NUM)
            terms = [(l2_diff << shift) if sign > 0 else -(l2_diff << shift)
                     for sign, shift in digits]
            while len(terms) > 1:                      # a balanced tree of sums
                terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                         for i in range(0, len(terms), 2)]
            l3_v = Signal()
            l3_g, l3_r = Signal(gbits, reset_less=True), Signal(reset_less=True)
            l3_v0 = Signal(signed(vbits), reset_less=True)
            l3_x = Signal(signed(vbits + 2), reset_less=True)
            m.d.sync += [l3_v.eq(l2_v), l3_g.eq(l2_g), l3_r.eq(l2_r), l3_v0.eq(l2_v0),
                         l3_x.eq(terms[0] >> LEAK_SHIFT)]
            l4_v = Signal()
            l4_g, l4_r = Signal(gbits, reset_less=True), Signal(reset_less=True)
            vn = Signal(signed(vbits + 1), reset_less=True)
            m.d.sync += [l4_v.eq(l3_v), l4_g.eq(l3_g), l4_r.eq(l3_r), vn.eq(l3_v0 + l3_x)]
            v_new = Signal(signed(vbits))
            with m.If(release | (l4_r & (vn > g_rest))):
                m.d.comb += v_new.eq(g_rest)
            with m.Elif(vn > g_thr):
                m.d.comb += v_new.eq(g_thr)
            with m.Else():
                m.d.comb += v_new.eq(vn)
            lif_busy = l1_v | l2_v | l3_v | l4_v
        else:
            # -- GC pipeline: L0 issue (state, current); L1 the block-RAM outputs registered (the
            # current cleared); L2 fire test, reset, difference; L3 the leak product's partial
            # sums (and the spike out); L4 the product; L4b the new voltage; L5 the clamps and
            # the write-back. Every GC is written once per pass, so the stages need no
            # forwarding. ------------------------------------------------------------------------
            lif = Signal()
            lif_g, lif_g_n = addressed("lif_g", gbits + 1)
            l1_v, l1_g = Signal(), Signal(gbits)
            m.d.sync += [l1_v.eq(lif), l1_g.eq(lif_g)]
            release = Signal()
            m.d.comb += release.eq(phase == GC_RELEASE_PHASE - 1)
            l2_v, l2_g = Signal(), Signal(gbits)
            l2_st = Signal(gc_state_layout(c))
            l2_acc = Signal(ibits)
            m.d.sync += [l2_v.eq(l1_v), l2_g.eq(l1_g), l2_st.eq(rd["gc"].data),
                         l2_acc.eq(rd["acc"].data)]
            fire = Signal()
            m.d.comb += fire.eq(l2_st.voltage >= g_thr)
            v0 = Signal(signed(vbits))
            m.d.comb += v0.eq(Mux(fire, g_rest, l2_st.voltage))
            l3_v, l3_g, l3_fire, l3_r = Signal(), Signal(gbits), Signal(), Signal()
            l3_v0 = Signal(signed(vbits))
            l3_diff = Signal(signed(vbits + 2))
            m.d.sync += [l3_v.eq(l2_v), l3_g.eq(l2_g), l3_fire.eq(fire),
                         l3_r.eq(l2_st.refractory | fire), l3_v0.eq(v0),
                         l3_diff.eq(g_rest + l2_acc - v0)]
            # the leak product l3_diff * LEAK_NUM in two stages, by the canonical signed digits
            # of LEAK_NUM: L4 the pairs' sums, L4b their sum, shifted
            digits = _csd_digits(LEAK_NUM)
            assert len(digits) <= 4
            pairs = [digits[i:i + 2] for i in range(0, len(digits), 2)]
            l4_v, l4_g, l4_r = Signal(), Signal(gbits), Signal()
            l4_v0 = Signal(signed(vbits))
            l4_p = [Signal(signed(vbits + 2 + LEAK_NUM.bit_length() + 2), name=f"l4_p{i}")
                    for i in range(len(pairs))]
            m.d.sync += [l4_v.eq(l3_v), l4_g.eq(l3_g), l4_r.eq(l3_r), l4_v0.eq(l3_v0)]
            for part, pair in zip(l4_p, pairs):
                terms = [(l3_diff << shift) if sign > 0 else -(l3_diff << shift)
                         for sign, shift in pair]
                m.d.sync += part.eq(terms[0] if len(terms) == 1 else terms[0] + terms[1])
            l4b_v, l4b_g, l4b_r = Signal(), Signal(gbits), Signal()
            l4b_v0 = Signal(signed(vbits))
            l4_x = Signal(signed(vbits + 2))
            total = l4_p[0] if len(l4_p) == 1 else l4_p[0] + l4_p[1]
            m.d.sync += [l4b_v.eq(l4_v), l4b_g.eq(l4_g), l4b_r.eq(l4_r), l4b_v0.eq(l4_v0),
                         l4_x.eq(total >> LEAK_SHIFT)]
            l5_v, l5_g, l5_r = Signal(), Signal(gbits), Signal()
            vn = Signal(signed(vbits + 1))
            m.d.sync += [l5_v.eq(l4b_v), l5_g.eq(l4b_g), l5_r.eq(l4b_r), vn.eq(l4b_v0 + l4_x)]
            v_new = Signal(signed(vbits))
            with m.If(release | (l5_r & (vn > g_rest))):
                m.d.comb += v_new.eq(g_rest)
            with m.Elif(vn > g_thr):
                m.d.comb += v_new.eq(g_thr)
            with m.Else():
                m.d.comb += v_new.eq(vn)
            lif_busy = l1_v | l2_v | l3_v | l4_v | l4b_v | l5_v

        if c.iic:
            # -- GC->MC alongside the GC pipeline (model step 6), GC g counting for MC
            # gm = g % mcs: L0 reads src[g], blk[g], dst[gm]; L2 the GC's new last spike (its
            # fire test); L3 writes it and takes the stamp differences and B + 50 - ph; L4
            # the last-cycle compares and the status; L4b (Q5) the new blocking duration
            # (written with learning at p = 49), the GC's +1 / -1 / 0 and the count's read;
            # Q6 registers the read; Q7 adds and writes (the first GC of an MC writes its own
            # value: no clearing pass), the two writes after the read forwarded, so GCs of
            # one MC in consecutive clocks (mcs <= 2) never stall. ------------------------
            gm = Signal(range(c.mcs))
            with m.If(lif):
                with m.If((gm == c.mcs - 1) | (lif_g == c.gcs - 1)):
                    m.d.sync += gm.eq(0)
                with m.Else():
                    m.d.sync += gm.eq(gm + 1)
                m.d.comb += [rd["src"].addr.eq(lif_g), rd["blk"].addr.eq(lif_g),
                             rd["dst"].addr.eq(gm)]
            xw = len(last_word)
            q1_gm, q1_first = Signal.like(gm), Signal()
            m.d.sync += [q1_gm.eq(gm), q1_first.eq(lif_g < c.mcs)]
            q2_gm, q2_first = Signal.like(gm), Signal()
            q2_src, q2_dst = Signal(xw), Signal(xw)
            q2_blk = Signal(BLOCK_MAX.bit_length() + 1)
            m.d.sync += [q2_gm.eq(q1_gm), q2_first.eq(q1_first), q2_src.eq(rd["src"].data),
                         q2_dst.eq(rd["dst"].data), q2_blk.eq(rd["blk"].data)]
            q3_gm, q3_first = Signal.like(gm), Signal()
            q3_src, q3_dst, q3_blk = Signal(xw), Signal(xw), Signal.like(q2_blk)
            m.d.sync += [q3_gm.eq(q2_gm), q3_first.eq(q2_first), q3_dst.eq(q2_dst),
                         q3_blk.eq(q2_blk), q3_src.eq(Mux(fire, last_word, q2_src))]
            with m.If(l3_v):
                m.d.comb += [wr["src"].addr.eq(l3_g), wr["src"].data.eq(q3_src),
                             wr["src"].en.eq(1)]
            # L3 -> L4: the stamp differences and B + (50 - ph), each one carry chain
            q4_gm, q4_first = Signal.like(gm), Signal()
            q4_src_ok, q4_dst_ok = Signal(), Signal()
            q4_dst_ph, q4_blk = Signal(range(CYCLE)), Signal.like(q2_blk)
            q4_el, q4_dl = Signal(signed(sbits)), Signal(signed(sbits))
            q4_base = Signal(signed(BLOCK_MAX.bit_length() + 2))
            m.d.sync += [q4_gm.eq(q3_gm), q4_first.eq(q3_first), q4_src_ok.eq(q3_src[sbits]),
                         q4_dst_ok.eq(q3_dst[sbits]), q4_dst_ph.eq(q3_dst[sbits + 1:]),
                         q4_blk.eq(q3_blk),
                         q4_el.eq((t - q3_src[:sbits])[:sbits]),
                         q4_dl.eq((t - q3_dst[:sbits])[:sbits]),
                         q4_base.eq(q3_blk[:-1] + CYCLE - q3_src[sbits + 1:])]
            # L4 -> L4b (Q5): the last-cycle flags (a compare each) and the status (one
            # subtraction)
            q5_gm, q5_first = Signal.like(gm), Signal()
            q5_src_lc, q5_dst_lc = Signal(), Signal()
            q5_dst_ph, q5_blk = Signal(range(CYCLE)), Signal.like(q2_blk)
            q5_status = Signal(signed(sbits + 2))
            m.d.sync += [q5_gm.eq(q4_gm), q5_first.eq(q4_first), q5_blk.eq(q4_blk),
                         q5_dst_ph.eq(q4_dst_ph),
                         q5_src_lc.eq(q4_src_ok & (q4_el < CYCLE)),
                         q5_dst_lc.eq(q4_dst_ok & (q4_dl < CYCLE)),
                         q5_status.eq(q4_base - q4_el)]
            # Q5: the new blocking duration (learning, p = 49) and the GC's +1 / -1 / 0
            block5 = q5_blk[:-1]
            new5 = Signal(range(2 * BLOCK_MAX))
            new5c = Signal(range(BLOCK_MAX + 1))
            m.d.comb += [new5.eq(q5_dst_ph + Mux(q5_src_lc & ~q5_dst_lc, BLOCK_MAX, 0)),
                         new5c.eq(Mux(new5 > BLOCK_MAX, BLOCK_MAX, new5))]
            do_block = Signal()
            m.d.comb += do_block.eq(learn & (phase == CYCLE - 1) & any_lc)
            with m.If(l4b_v & do_block & ~q5_blk[-1] & (new5c != block5)):
                m.d.comb += [wr["blk"].addr.eq(l4b_g), wr["blk"].data.eq(Cat(new5c, Const(1, 1))),
                             wr["blk"].en.eq(1)]
            incl5 = (block5 != 0) & q5_src_lc
            nonzero5 = q5_status.any()
            act5 = Signal(signed(2))
            with m.If(incl5 & nonzero5 & ~q5_status[-1]):
                m.d.comb += act5.eq(1)
            with m.Elif(incl5 & ~nonzero5):
                m.d.comb += act5.eq(-1)
            # the count's read-modify-write: Q5 reads, Q6 registers the read (and compares
            # the MC with the two counts written after the read: Q7's now, Q8's last cycle),
            # Q7 adds the forwarded or read count and writes
            cbits = self.count_bits(c)
            e_m = Signal(range(c.mcs))                 # the emitter's next MC
            q6_v, q6_gm, q6_first = Signal(), Signal.like(gm), Signal()
            q6_act = Signal(signed(2))
            m.d.sync += [q6_v.eq(l4b_v), q6_gm.eq(q5_gm), q6_first.eq(q5_first),
                         q6_act.eq(act5)]
            # the count's read address from registers only (the emitter uses the port
            # between passes: a step starts once its emission is issued)
            m.d.comb += rd["cnt"].addr.eq(Mux(l4b_v, q5_gm, e_m))
            q7_v, q7_gm, q7_first = Signal(), Signal.like(gm), Signal()
            q7_act, q7_rd = Signal(signed(2)), Signal(signed(cbits))
            q7_f1, q7_f2 = Signal(), Signal()
            q8_v, q8_gm, q8_sum = Signal(), Signal.like(gm), Signal(signed(cbits))
            q9_sum = Signal(signed(cbits))
            m.d.sync += [q7_v.eq(q6_v), q7_gm.eq(q6_gm), q7_first.eq(q6_first),
                         q7_act.eq(q6_act), q7_rd.eq(rd["cnt"].data.as_signed()),
                         q7_f1.eq(q7_v & (q7_gm == q6_gm)), q7_f2.eq(q8_v & (q8_gm == q6_gm))]
            base7 = Mux(q7_first, 0, Mux(q7_f1, q8_sum, Mux(q7_f2, q9_sum, q7_rd)))
            sum7 = Signal(signed(cbits))
            m.d.comb += sum7.eq(base7 + q7_act)
            m.d.sync += [q8_v.eq(q7_v), q8_gm.eq(q7_gm), q8_sum.eq(sum7), q9_sum.eq(q8_sum)]
            with m.If(q7_v):
                m.d.comb += [wr["cnt"].addr.eq(q7_gm), wr["cnt"].en.eq(1),
                             wr["cnt"].data.eq(sum7)]
            lif_busy = lif_busy | q6_v | q7_v

            # -- the emission: after a step (and after RESET or CONNECT), the current of
            # MC 0 .. mcs - 1, iic_w * count saturated to SQ(Ie.Fc), or 0 while learning and
            # in the model's step t = 0. Read, count registered, product, clamp: a pipeline
            # under credits into a FIFO that RESET and CONNECT empty. -------------------------
            EF = 4
            credits_e = Signal(range(EF + 1), init=EF)
            e_iss = Signal()
            m.submodules.iic_fifo = iic_fifo = ResetInserter(e_flush)(
                SyncFIFOBuffered(width=ebits, depth=EF))
            m.d.comb += e_iss.eq(e_pend & (credits_e != 0) & ~e_flush)
            with m.If(e_iss):
                with m.If(e_m == c.mcs - 1):
                    m.d.sync += [e_m.eq(0), e_pend.eq(0)]
                with m.Else():
                    m.d.sync += e_m.eq(e_m + 1)
            e1_v, e1_z = Signal(), Signal()
            e2_v, e2_c = Signal(), Signal(signed(cbits))
            e3_v, e3_p = Signal(), Signal(signed(ebits + cbits))
            m.d.sync += [e1_v.eq(e_iss & ~e_flush), e1_z.eq(e_zero | (e_m >= c.gcs)),
                         e2_v.eq(e1_v & ~e_flush),
                         e2_c.eq(Mux(e1_z, 0, rd["cnt"].data.as_signed())),
                         e3_v.eq(e2_v & ~e_flush), e3_p.eq(e2_c * e_w)]
            e2_p = e3_p
            e_val = Signal(signed(ebits))
            fmt = c.fmt
            m.d.comb += e_val.eq(Mux(e2_p < fmt.current_min, fmt.current_min,
                                     Mux(e2_p > fmt.current_max, fmt.current_max, e2_p)))
            e_pop = Signal()
            m.d.comb += [iic_fifo.w_en.eq(e3_v), iic_fifo.w_data.eq(e_val),
                         self.iic.valid.eq(iic_fifo.r_rdy), self.iic.payload.eq(iic_fifo.r_data),
                         e_pop.eq(iic_fifo.r_rdy & self.iic.ready), iic_fifo.r_en.eq(self.iic.ready)]
            with m.If(e_flush):
                m.d.sync += [credits_e.eq(EF), e_pend.eq(0), e_m.eq(0)]
            with m.Else():
                m.d.sync += credits_e.eq(credits_e - e_iss + e_pop)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=sbits + gbits, depth=self.FIFO_DEPTH)
        room = Signal()                                # L0 .. L2 may still push three,
        m.d.sync += room.eq(fifo.level < self.FIFO_DEPTH - 5)   # registered: one more
        if c.compact:
            m.d.comb += [fifo.w_data.eq(Cat(t, l2_g)), fifo.w_en.eq(l2_v & l2_fire),
                         self.o.valid.eq(fifo.r_rdy), self.o.payload.eq(fifo.r_data),
                         fifo.r_en.eq(self.o.ready)]
        else:
            m.d.comb += [fifo.w_data.eq(Cat(t, l3_g)), fifo.w_en.eq(l3_v & l3_fire),
                         self.o.valid.eq(fifo.r_rdy), self.o.payload.eq(fifo.r_data),
                         fifo.r_en.eq(self.o.ready)]

        # -- host read response --------------------------------------------------------------
        rs_valid = Signal()
        rs_data = Signal(wbits)
        rq_k = Signal(kbits, reset_less=True) if c.compact else None   # the host read
        # compact: the states CMD and READ0 as flags of their own, so the read address's
        # multiplexer is selected by flip-flops, not by the FSM's state decode
        in_cmd = Signal(init=c.spram, name="in_cmd") if c.compact else None
        in_rd0 = Signal(name="in_rd0") if c.compact else None
        m.d.comb += [self.weight_rs.valid.eq(rs_valid), self.weight_rs.payload.eq(rs_data)]
        with m.If(self.weight_rs.ready & rs_valid):
            m.d.sync += rs_valid.eq(0)

        # -- commands: one walk over every memory index ---------------------------------------
        op = Signal(2, init=self.CONNECT if c.spram else 0)   # spram: CONNECT at power-up
        n = Signal(range(max(c.mcs, c.gcs, c.synapses) + 2))
        n1, n2 = Signal(kbits + 1), Signal(kbits + 1)
        n1_v, n2_v = Signal(), Signal()
        walk_end = max(c.mcs, c.gcs, c.synapses)
        cmd_done = Signal()                            # registered: n == walk_end + 1
        # registered too, for the command's walk: n < gcs, n < mcs, n < synapses
        n_gcs, n_mcs, n_syn = (Signal(init=1, name=f"n_lt_{k}") for k in ("gcs", "mcs", "syn"))

        # -- the step engine ---------------------------------------------------------------------
        f_src = Signal(mbits + 1)                      # the sweep's next MC to fetch
        m.d.comb += f_addr.eq(f_src)
        ev_mc, ev_end = Signal(mbits), Signal()        # the ring's entry, registered
        ring_rd, rg_v, rg_mc, rg_end = Signal(), Signal(), Signal(mbits), Signal()
        rg_next = Signal(rbits + 1)                    # the address after the entry
        m.d.sync += [rg_v.eq(ring_rd), rg_mc.eq(ring_mc), rg_end.eq(ring_end),
                     rg_next.eq(rp + 1)]
        # held's tests registered (held changes in END and CMD only, two clocks or more
        # before BEGIN)
        delivers, frees = Signal(), Signal()
        m.d.sync += [delivers.eq(held >= DELAY), frees.eq(held == DELAY + 1)]
        spk_rd, sp_v, sp_g = Signal(), Signal(), Signal(gbits)
        m.d.sync += [sp_v.eq(spk_rd), sp_g.eq(rd["spk"].data)]
        stamp_word = Cat(t, Const(1, 1))

        def after_post(oldest):
            """The state after the stamps: deliver (and sweep) or go to the GC pass; the
            delivery reads the ring from ``oldest`` (the step t - 25)."""
            with m.If(delivers):
                m.d.comb += rp_n.eq(oldest)
                m.next = "MARK"
                with m.If(~learn):
                    m.next = "EVENT"
            with m.Elif(learn):
                m.next = "SWEEP"
            with m.Else():
                m.next = "LIF"

        with m.FSM(init="CMD" if c.spram else "IDLE") as fsm:
            with m.State("IDLE"):
                with m.If(self.cmd.valid):
                    m.d.comb += self.cmd.ready.eq(1)
                    m.d.sync += [op.eq(self.cmd.payload), n.eq(0), n1_v.eq(0), n2_v.eq(0),
                                 cmd_done.eq(0), frozen.eq(1), n_gcs.eq(1), n_mcs.eq(1),
                                 n_syn.eq(1)]
                    if c.iic:                          # RESET and CONNECT drop the emission
                        with m.If((self.cmd.payload == self.RESET)
                                  | (self.cmd.payload == self.CONNECT)):
                            m.d.comb += e_flush.eq(1)
                    with m.If(self.cmd.payload == 3):
                        m.d.sync += [error.eq(1), frozen.eq(0)]
                    with m.Else():
                        m.next = "CMD"
                        if c.compact:
                            m.d.sync += in_cmd.eq(1)
                # host table writes: (port, memory, address bound, data bound), checked
                for port, name, n_addr, n_data in (
                        (self.weight_w, "w", c.synapses, w_max + 1),
                        (self.ptr_w, "ptr", c.mcs + 1, c.synapses + 1),
                        (self.gc_w, "fan", c.synapses, c.gcs)):
                    with m.Elif(port.valid):
                        pl = port.payload
                        ok = (pl.addr < n_addr) & (pl.data < n_data)
                        m.d.comb += [port.ready.eq(1), wr[name].addr.eq(pl.addr),
                                     wr[name].data.eq(pl.data), wr[name].en.eq(ok)]
                        with m.If(~ok):
                            m.d.sync += error.eq(1)
                with m.Elif(self.cycle_w.valid):
                    m.d.comb += self.cycle_w.ready.eq(1)
                    x = self.cycle_w.payload
                    m.d.sync += [t.eq((x << 5) + (x << 4) + (x << 1)), phase.eq(0),
                                 wstep.eq(0)]
                    if c.iic:
                        m.d.sync += t_fresh.eq(x == 0)
                with m.Elif(self.weight_rq.valid & ~rs_valid):
                    if c.compact:                      # the read issued from a register
                        m.d.comb += self.weight_rq.ready.eq(1)
                        m.d.sync += [rq_k.eq(self.weight_rq.payload), in_rd0.eq(1)]
                        m.next = "READ0"
                    else:
                        m.d.comb += [self.weight_rq.ready.eq(1),
                                     iss_k.eq(self.weight_rq.payload)]
                        m.next = "READ"
                if c.iic:
                    with m.Elif(self.iic_w.valid):
                        m.d.comb += self.iic_w.ready.eq(1)
                        with m.If(self.iic_w.payload <= 0):
                            m.d.sync += iic_w.eq(self.iic_w.payload)
                        with m.Else():
                            m.d.sync += error.eq(1)
                with m.Elif((ahead != 0) & (~e_pend if c.iic else 1)):
                    m.d.comb += step_start.eq(1)
                    m.d.sync += learn.eq(Mux(wstep == 0, self.learn, learn))
                    m.next = "BEGIN"

            if c.compact:                              # the host's read, from rq_k
                with m.State("READ0"):
                    m.d.comb += iss_k.eq(rq_k)
                    m.d.sync += in_rd0.eq(0)
                    m.next = "READ"

            # the weight read registered in S2 (its only reader: CLAMP uses it too)
            with m.State("READ"):
                m.next = "READ_W"

            with m.State("READ_W"):
                m.d.sync += [rs_valid.eq(1), rs_data.eq(s2["w"])]
                m.next = "IDLE"

            with m.State("BEGIN"):
                m.d.comb += [rp_n.eq(tail), si_n.eq(0)]
                m.d.sync += f_src.eq(0)
                with m.If(frees):
                    m.next = "FREE"
                with m.Elif(learn):
                    m.next = "POST"
                with m.Else():
                    after_post(tail)

            # 1. the step t - 26: delivered bits cleared, pre stamps (learning), freed
            # (FREE and MARK work on the ring's entry registered: rg_v is low in their
            # first cycle, and the entry read while the marker is seen is dropped)
            with m.State("FREE"):
                m.d.comb += [rp_n.eq(rp + 1), ring_rd.eq(1)]
                with m.If(rg_v & rg_end):
                    m.d.comb += ring_rd.eq(0)
                    m.d.sync += tail.eq(rg_next)
                    with m.If(learn):
                        m.next = "POST"
                    with m.Else():
                        after_post(rg_next)
                with m.Elif(rg_v):
                    m.d.comb += [wr["dlv"].addr.eq(rg_mc), wr["dlv"].data.eq(0),
                                 wr["dlv"].en.eq(1),
                                 wr["pre"].addr.eq(rg_mc), wr["pre"].data.eq(stamp_word),
                                 wr["pre"].en.eq(learn)]

            # 2. post stamps of the GCs that fired in step t - 1 (learning), from the
            # spike list's output registered
            with m.State("POST"):
                with m.If(sp_v):
                    m.d.comb += [wr["post"].addr.eq(sp_g), wr["post"].data.eq(stamp_word),
                                 wr["post"].en.eq(1)]
                with m.If(si == n_spk):
                    after_post(tail)
                with m.Else():
                    m.d.comb += [si_n.eq(si + 1), spk_rd.eq(1)]

            # 3a. learning: the delivered bits of step t - 25
            with m.State("MARK"):
                m.d.comb += [rp_n.eq(rp + 1), ring_rd.eq(1)]
                with m.If(rg_v & rg_end):
                    m.d.comb += ring_rd.eq(0)
                    m.next = "SWEEP"
                with m.Elif(rg_v):
                    m.d.comb += [wr["dlv"].addr.eq(rg_mc), wr["dlv"].data.eq(1),
                                 wr["dlv"].en.eq(1)]

            # 3b. the STDP sweep over every synapse, MC by MC
            with m.State("SWEEP"):
                with m.If(can_fetch & (f_src != c.mcs)):
                    m.d.comb += f_iss.eq(1)
                    m.d.sync += f_src.eq(f_src + 1)
                with m.If((f_src == c.mcs) & walk_idle):
                    m.next = "DRAIN"

            # 3c. learning off: the fan-out lists of the MCs of step t - 25, the ring's
            # output registered before it addresses the pointers (two clocks per MC, while
            # the walker walks the lists fetched before)
            with m.State("EVENT"):
                m.d.comb += rp_n.eq(rp + 1)
                m.d.sync += [ev_mc.eq(ring_mc), ev_end.eq(ring_end)]
                m.next = "EVENT_MC"

            with m.State("EVENT_MC"):
                with m.If(ev_end):
                    m.next = "EVENT_WAIT"
                with m.Elif(can_fetch):
                    m.d.comb += [f_iss.eq(1), f_addr.eq(ev_mc)]
                    m.next = "EVENT"

            with m.State("EVENT_WAIT"):
                with m.If(walk_idle):
                    m.next = "DRAIN"

            with m.State("DRAIN"):
                with m.If(~pipe_busy):
                    m.next = "LIF"
                    if c.iic:
                        with m.If(learn & (phase == CYCLE - 1)):
                            m.d.sync += [any_lc.eq(0), al_m.eq(0)]
                            m.next = "ANYLC"

            if c.iic:
                # 3d. learning, p = 49: did any MC fire in the last 50 steps
                with m.State("ANYLC"):
                    with m.If(al_m == c.mcs):
                        with m.If(~al1_v & ~al2_v & ~al3_v):
                            m.next = "LIF"
                    with m.Else():
                        m.d.comb += rd["dst"].addr.eq(al_m)
                        m.d.sync += [al_m.eq(al_m + 1), al1_v.eq(1)]

            # 4. the GC pass
            with m.State("LIF"):
                with m.If(lif_g == 0):
                    m.d.sync += n_spk.eq(0)
                with m.If(room):
                    m.d.comb += [lif.eq(1), lif_g_n.eq(lif_g + 1)]
                    with m.If(lif_g == c.gcs - 1):
                        m.d.comb += lif_g_n.eq(0)
                        m.next = "LIF_DRAIN"

            with m.State("LIF_DRAIN"):
                with m.If(~lif_busy):
                    m.next = "END"

            with m.State("END"):
                if c.iic:                              # the currents of this step are owed
                    m.d.sync += [e_pend.eq(1), e_zero.eq(learn | t_fresh), t_fresh.eq(0),
                                 e_w.eq(iic_w)]
                m.d.sync += [
                    t.eq(t + 1),
                    phase.eq(Mux(phase == CYCLE - 1, 0, phase + 1)),
                    wstep.eq(Mux(wstep == c.window - 1, 0, wstep + 1)),
                    held.eq(Mux(held == DELAY + 1, held, held + 1)),
                ]
                m.next = "IDLE"

            with m.State("CMD"):
                m.d.comb += iss_k.eq(n)                # the weight read of CLAMP
                m.d.sync += [n.eq(n + 1), n1.eq(n), n1_v.eq(n_syn), n2.eq(n1),
                             n2_v.eq(n1_v), cmd_done.eq(n == walk_end),
                             n_gcs.eq(n + 1 < c.gcs), n_mcs.eq(n + 1 < c.mcs),
                             n_syn.eq(n + 1 < c.synapses)]
                neurons = (op == self.RESET) | (op == self.CONNECT)
                connect = op == self.CONNECT
                with m.If(neurons):
                    with m.If(n_gcs):
                        m.d.comb += [wr["gc"].addr.eq(n), wr["gc"].data.eq(Cat(Const(g_rest, signed(vbits)), Const(0, 1))),
                                     wr["gc"].en.eq(1), wr["acc"].addr.eq(n),
                                     wr["acc"].data.eq(0), wr["acc"].en.eq(1),
                                     wr["post"].addr.eq(n), wr["post"].data.eq(0),
                                     wr["post"].en.eq(connect)]
                    with m.If(n_mcs):
                        m.d.comb += [wr["dlv"].addr.eq(n), wr["dlv"].data.eq(0),
                                     wr["dlv"].en.eq(1), wr["pre"].addr.eq(n),
                                     wr["pre"].data.eq(0), wr["pre"].en.eq(connect)]
                    with m.If(n_syn):
                        m.d.comb += [wr["w"].addr.eq(n), wr["w"].data.eq(p["w_init"]),
                                     wr["w"].en.eq(connect)]
                    if c.iic:                          # the last spikes (and with CONNECT
                        with m.If(n_gcs):          # the blocking durations) cleared
                            m.d.comb += [wr["src"].addr.eq(n), wr["src"].data.eq(0),
                                         wr["src"].en.eq(1), wr["blk"].addr.eq(n),
                                         wr["blk"].data.eq(0), wr["blk"].en.eq(connect)]
                        with m.If(n_mcs):
                            m.d.comb += [wr["dst"].addr.eq(n), wr["dst"].data.eq(0),
                                         wr["dst"].en.eq(1)]
                with m.Else():                         # CLAMP: read n (in S2), write n - 2
                    m.d.comb += [wr["w"].addr.eq(n2), wr["w"].data.eq(0),
                                 wr["w"].en.eq(n2_v & (s2["w"] <= p["clamp"]))]
                with m.If(cmd_done):                   # n == walk_end + 1
                    with m.If(neurons):
                        m.d.sync += [tail.eq(wp), ahead.eq(0), held.eq(0), n_spk.eq(0)]
                    with m.If(connect):
                        m.d.sync += [t.eq(0), phase.eq(0), wstep.eq(0)]
                    if c.iic:
                        with m.If(neurons):            # the MCs take zero currents next
                            m.d.sync += [e_pend.eq(1), e_zero.eq(1)]
                        with m.If(connect):
                            m.d.sync += t_fresh.eq(1)
                    m.d.sync += frozen.eq(0)
                    if c.compact:
                        m.d.sync += in_cmd.eq(0)
                    m.next = "IDLE"

        def write_backs(w, acc, acc_read, gc, spike, clear):
            """The pipelines' memory ports, each ``(valid, address, data)`` at the stage that
            writes it (``gc``'s data the refractory bit beside ``v_new``; ``spike`` the valid
            and the GC): the weight, the current, the current's read address (the GC pass's
            when it reads), the current cleared by the GC pass (``clear``: valid and GC), the GC
            state, the spike list. (Arguments, not closures: Amaranth names a signal after the
            variable it is created in, which a closure's cell hides.)"""
            with m.If(w[0]):
                m.d.comb += [wr["w"].addr.eq(w[1]), wr["w"].data.eq(w[2]), wr["w"].en.eq(1)]
            with m.If(acc[0]):
                m.d.comb += [wr["acc"].addr.eq(acc[1]), wr["acc"].data.eq(acc[2]),
                             wr["acc"].en.eq(1)]
            with m.If(lif):
                m.d.comb += [rd["gc"].addr.eq(lif_g), rd["acc"].addr.eq(lif_g)]
            with m.Else():
                m.d.comb += rd["acc"].addr.eq(acc_read)
            with m.If(clear[0]):
                m.d.comb += [wr["acc"].addr.eq(clear[1]), wr["acc"].data.eq(0),
                             wr["acc"].en.eq(1)]
            with m.If(gc[0]):
                m.d.comb += [wr["gc"].addr.eq(gc[1]),
                             wr["gc"].data.eq(Cat(v_new, gc[2] & ~release)), wr["gc"].en.eq(1)]
            with m.If(spike[0]):
                m.d.comb += [wr["spk"].addr.eq(n_spk), wr["spk"].data.eq(spike[1]),
                             wr["spk"].en.eq(1)]
                m.d.sync += n_spk.eq(n_spk + 1)

        # pipeline write-backs (after the engine's assignments, which they override; the
        # engine never writes these memories while the pipelines run)
        if c.compact:
            # the read address as the FSM sets it (READ0: rq_k, CMD: n, else the walker's),
            # selected by the state flags (overrides the FSM's assignments)
            m.d.comb += iss_k.eq(Mux(in_rd0, rq_k, Mux(in_cmd, n, w_k)))
            # the pointers' fetch address: the sweep's MC with learning, else the event walk's
            # (a fetch is issued in SWEEP or EVENT_MC only; the pointers read at other clocks
            # are not used), selected by a register instead of the FSM's state decode
            m.d.comb += f_addr.eq(Mux(learn, f_src, ev_mc))
            write_backs(w=(s4["wv"], s4["k"], s4["w"]), acc=(s4["av"], s4["g"], acc_sat),
                        acc_read=s3["g"], gc=(l4_v, l4_g, l4_r), spike=(l2_v & l2_fire, l2_g),
                        clear=(l1_v, l1_g))
        else:
            write_backs(w=(s7["v"] & ~s7["ev"], s7["k"], s7["w"]),
                        acc=(s10["v"], s10["g"], s10["acc"]), acc_read=s7["g"],
                        gc=(l5_v, l5_g, l5_r), spike=(l3_v & l3_fire, l3_g),
                        clear=(l1_v, l1_g))
        if self._syn is not None:                      # the reads whose data is used
            if c.compact:
                m.d.comb += self._syn.rd_need.eq(iss | in_rd0 | (in_cmd & (op == self.CLAMP)))
            else:
                m.d.comb += self._syn.rd_need.eq(iss | self.weight_rq.ready
                                                 | (fsm.ongoing("CMD") & (op == self.CLAMP)))
            with m.If(self._syn.overflow):
                m.d.sync += error.eq(1)
        busy_any = Signal()
        m.d.comb += [busy_any.eq(pipe_busy | lif_busy), engine_idle.eq(fsm.ongoing("IDLE"))]
        m.d.comb += self.idle.eq(fsm.ongoing("IDLE") & (ahead == 0) & ~busy_any & ~fifo.r_rdy
                                 & ~frozen)
        return m


class MCGCLayer(CheckedComponent):
    """An :class:`~.mc_array.MCArray` (with its end-of-step markers) feeding a
    :class:`GCLayer`: drives in, GC spikes out (the network of the paper after the
    quantizer; the MC neurons are the model's, so the pair is bit-exact with
    :meth:`GCLayerModel.run <hetq.golden.fixed.gc_layer.GCLayerModel.run>` on the drives).
    With ``layer.iic`` the layer's GC->MC currents go into the array's ``extra`` port (packed
    ``array.lanes`` to a transfer, zero for the padding MCs of the last group): the MCs of
    step ``t + 1`` wait for the GCs of step ``t``.

    Parameters
    ----------
    array : MCArrayConfig
        ``inhibition`` exactly when ``layer.iic``; the same ``mcs``, ``hold``, ``rinse`` and
        format as ``layer``.
    layer : GCLayerConfig

    Members
    -------
    i : the array's drive stream; ``o``, ``learn``, ``weight_w``, ``weight_rq``,
    ``weight_rs``, ``ptr_w``, ``gc_w``, ``cmd``, ``cycle_w``, ``error``, ``step`` (and with
    ``iic`` ``iic_w``): the layer's; ``idle``: the array and the layer are both idle.
    """

    @classmethod
    def check(cls, array, layer):
        from ..golden.fixed.mc_array import MCArrayConfig
        if not isinstance(array, MCArrayConfig):
            raise TypeError(f"array must be an MCArrayConfig, not {type(array).__name__}")
        GCLayer.check(layer)
        if array.inhibition != layer.iic:
            raise ValueError("the MC array has the extra-current port (inhibition) exactly "
                             f"when the GC layer has the GC->MC path (iic): inhibition="
                             f"{array.inhibition}, iic={layer.iic}")
        for name in ("mcs", "hold", "rinse", "fmt"):
            if getattr(array, name) != getattr(layer, name):
                raise ValueError(f"the MC array and the GC layer differ in {name}: "
                                 f"{getattr(array, name)} and {getattr(layer, name)}")
        return array, layer

    def __init__(self, array, layer):
        from .mc_array import MCArray
        self.check(array, layer)
        self._array = array
        self._mc = MCArray(array, ends=True)
        self._layer = GCLayer(layer)
        g = self._layer.signature.members
        members = {"i": self._mc.signature.members["i"], "idle": Out(1)}
        for name in ("o", "learn", "weight_w", "weight_rq", "weight_rs", "ptr_w", "gc_w",
                     "cmd", "cycle_w", "error", "step") + (("iic_w",) if layer.iic else ()):
            members[name] = g[name]
        super().__init__(members)

    array = property(lambda self: self._mc)
    layer = property(lambda self: self._layer)

    def elaborate(self, platform):
        from amaranth.lib import wiring
        m = Module()
        m.submodules.array = mc = self._mc
        m.submodules.layer = gl = self._layer
        wiring.connect(m, wiring.flipped(self.i), mc.i)
        m.d.comb += [gl.i.valid.eq(mc.o.valid), gl.i.payload.mc.eq(mc.o.payload.mc),
                     gl.i.payload.end.eq(mc.o.payload.end), mc.o.ready.eq(gl.i.ready)]
        names = ("weight_w", "weight_rq", "ptr_w", "gc_w", "cmd", "cycle_w")
        if self._layer.config.iic:
            names += ("iic_w",)
            self._pack(m, gl, mc)
        for name in ("o", "weight_rs"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(gl, name))
        for name in names:
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(gl, name))
        m.d.comb += [gl.learn.eq(self.learn), self.error.eq(gl.error), self.step.eq(gl.step),
                     self.idle.eq(mc.idle & gl.idle)]
        return m

    def _pack(self, m, gl, mc):
        """The layer's currents into the array's extra port, the packer restarted with the
        layer's emission by RESET and CONNECT."""
        from amaranth.lib import wiring
        m.submodules.packer = packer = CurrentPacker(self._array)
        wiring.connect(m, gl.iic, packer.i)
        wiring.connect(m, packer.o, mc.extra)
        m.d.comb += packer.restart.eq(CurrentPacker.restarts(self.cmd))


class CurrentPacker(CheckedComponent):
    """The GC layer's GC->MC currents (:attr:`GCLayer.iic`: one code per MC, MC 0 ..
    ``mcs - 1`` after every step) into the transfers of an :class:`~.mc_array.MCArray`'s
    ``extra`` port: ``array.lanes`` codes a transfer, zero for the padding MCs of the last
    group (with one lane, wires only). Used by :class:`MCGCLayer` and the board system.

    Parameters
    ----------
    array : MCArrayConfig
        With ``inhibition`` (the ``extra`` port).

    Members
    -------
    i : ``In(stream.Signature(signed(fmt.current_bits)))``
        The layer's ``iic`` stream.
    o : ``Out(stream.Signature(mc_array.extra_layout(array)))``
        To the array's ``extra``.
    restart : ``In(1)``
        The next code is MC 0's (RESET and CONNECT restart the layer's emission).
    """

    @staticmethod
    def restarts(cmd):
        """Whether a transfer on a :class:`GCLayer`'s command stream ``cmd`` restarts its
        emission at MC 0 (RESET and CONNECT): what ``restart`` takes."""
        return cmd.valid & cmd.ready & ((cmd.payload == GCLayer.RESET)
                                        | (cmd.payload == GCLayer.CONNECT))

    @classmethod
    def check(cls, array):
        from ..golden.fixed.mc_array import MCArrayConfig
        if not isinstance(array, MCArrayConfig):
            raise TypeError(f"array must be an MCArrayConfig, not {type(array).__name__}")
        if not array.inhibition:
            raise ValueError("the MC array has no extra-current port (inhibition=False)")
        return array

    def __init__(self, array):
        from .mc_array import extra_layout
        self._array = self.check(array)
        super().__init__({"i": In(stream.Signature(signed(array.fmt.current_bits))),
                          "o": Out(stream.Signature(extra_layout(array))),
                          "restart": In(1)})

    def elaborate(self, platform):
        m = Module()
        lanes, mcs = self._array.lanes, self._array.mcs
        i, o = self.i, self.o
        if lanes == 1:
            m.d.comb += [o.valid.eq(i.valid), o.payload[0].eq(i.payload),
                         i.ready.eq(o.ready)]
            return m
        held = [Signal(signed(self._array.fmt.current_bits), name=f"held{n}")
                for n in range(lanes - 1)]
        pos = Signal(range(lanes))                     # the lane of the next code
        mc_n = Signal(range(mcs))                      # its MC
        last = Signal()
        m.d.comb += last.eq((pos == lanes - 1) | (mc_n == mcs - 1))
        for n in range(lanes):                         # lanes above pos: padding, 0
            with m.If(pos == n):
                m.d.comb += o.payload[n].eq(i.payload)
            with m.Elif(pos > n):
                m.d.comb += o.payload[n].eq(held[min(n, lanes - 2)])
        with m.If(last):
            m.d.comb += [o.valid.eq(i.valid), i.ready.eq(o.ready)]
        with m.Else():
            m.d.comb += i.ready.eq(1)
        take = i.valid & i.ready
        with m.If(self.restart):
            m.d.sync += [pos.eq(0), mc_n.eq(0)]
        with m.Elif(take):
            with m.If(last):
                m.d.sync += pos.eq(0)
            with m.Else():
                m.d.sync += [pos.eq(pos + 1), Array(held)[pos].eq(i.payload)]
            m.d.sync += mc_n.eq(Mux(mc_n == mcs - 1, 0, mc_n + 1))
        return m
