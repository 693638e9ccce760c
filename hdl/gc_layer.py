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

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import CYCLE, LEAK_NUM, LEAK_SHIFT
from ..golden.fixed.gc_layer import (CURRENT_INT, DELAY, GC_RELEASE_PHASE, PENALTY_DELTA,
                                     TABLE_SIZE, WEIGHT_INT, GCLayerConfig, stdp_tables)
from .kit import CheckedComponent, RegisteredRead, index_bits, write_layout

__all__ = ["GCLayer", "StepMarker", "MCGCLayer", "mc_spike_layout", "gc_spike_layout",
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
        ``lanes`` must be 1 and ``iic`` False (neither is built yet: refused).

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
    """

    RESET, CONNECT, CLAMP = 0, 1, 2
    FIFO_DEPTH = 16
    WALK_QUEUE = 4

    @classmethod
    def check(cls, config):
        if not isinstance(config, GCLayerConfig):
            raise TypeError(f"config must be a GCLayerConfig, not {type(config).__name__}")
        if config.lanes != 1:
            raise ValueError(f"the GC layer RTL has one lane (lanes=1), not {config.lanes}: "
                             f"more lanes are not built")
        if config.iic:
            raise ValueError("the GC layer RTL has no GC->MC path (iic=True is not built)")
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
            "fan": Memory(shape=unsigned(gbits), depth=c.synapses, init=[]),
            "w": Memory(shape=unsigned(wbits), depth=c.synapses,
                        init=[p["w_init"]] * c.synapses),
            "pre": Memory(shape=unsigned(sbits + 1), depth=c.mcs, init=[]),
            "dlv": Memory(shape=unsigned(1), depth=c.mcs, init=[]),
            "post": Memory(shape=unsigned(sbits + 1), depth=c.gcs, init=[]),
            "acc": Memory(shape=unsigned(CURRENT_INT + c.fmt.drive_frac), depth=c.gcs,
                          init=[]),
            "gc": Memory(shape=unsigned(vbits + 1), depth=c.gcs, init=[rest_word] * c.gcs),
            "spk": Memory(shape=unsigned(gbits), depth=c.gcs, init=[]),
        }
        self._wr = {name: mem.write_port() for name, mem in self._mem.items()}
        self._rd = {name: mem.read_port(transparent_for=(self._wr[name],) if name == "acc"
                                        else ()) for name, mem in self._mem.items()
                    if name != "ptr"}
        # the fan-out pointers are read in pairs (ptr[m], ptr[m + 1]), through asynchronous
        # ports and registers (RegisteredRead, in elaborate)
        self._ptr_ports = [self._mem["ptr"].read_port(domain="comb") for _ in range(2)]

    config = property(lambda self: self._config)

    @property
    def memories(self):
        """The memories by name (for simulator benches): ``w`` (weight codes by synapse),
        ``pre``/``post`` (stamp in the low ``stamp_bits``, valid bit above), ``gc``
        (:func:`gc_state_layout` words), ``acc``, ``dlv``, ``ptr``, ``fan``, ``ring``,
        ``spk``."""
        return dict(self._mem)

    def elaborate(self, platform):
        m = Module()
        c = self._config
        p = c.params
        mem, rd, wr = self._mem, dict(self._rd), self._wr
        for name, port in zip(("ptr", "ptr1"), self._ptr_ports):
            rd[name] = RegisteredRead(m, mem["ptr"], f"{name}_rd", en=1, port=port)
        for name, memory in mem.items():
            m.submodules[f"{name}_mem"] = memory
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
        frozen = Signal()                              # a command runs: no input
        count = Signal(rbits + 1)
        m.d.comb += count.eq(wp - tail)
        # room registered: the entries of the last cycle left room for two (one write a
        # clock, so the ring never takes more than ring_depth - 1)
        room_in = Signal()
        m.d.sync += room_in.eq(count < ring_depth - 1)
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
        fb_v, fb_entry = Signal(), Signal(mbits + 2 * (kbits + 1))   # the pointers registered
        m.d.sync += [fb_v.eq(fa_v), fb_entry.eq(Cat(fa_mc, rd["ptr"].data, rd["ptr1"].data))]
        m.submodules.walk_q = walk_q = SyncFIFO(width=mbits + 2 * (kbits + 1),
                                                depth=self.WALK_QUEUE)
        m.d.comb += [walk_q.w_en.eq(fb_v), walk_q.w_data.eq(fb_entry)]
        credits = Signal(range(self.WALK_QUEUE + 1), init=self.WALK_QUEUE)
        w_v, w_mc = Signal(), Signal(mbits)            # the walker: MC, next synapse, end
        w_k, w_end = Signal(kbits + 1), Signal(kbits + 1)
        w_last, w_take = Signal(), Signal()
        m.d.comb += [w_last.eq(w_k + 1 >= w_end),
                     w_take.eq(walk_q.r_rdy & (~w_v | w_last)), walk_q.r_en.eq(w_take)]
        m.d.sync += credits.eq(credits - f_iss + w_take)
        with m.If(w_take):
            m.d.sync += [w_v.eq(1), Cat(w_mc, w_k, w_end).eq(walk_q.r_data)]
        with m.Elif(w_last):
            m.d.sync += w_v.eq(0)
        with m.Else():
            m.d.sync += w_k.eq(w_k + 1)
        can_fetch = Signal()
        walk_idle = Signal()                           # nothing fetched, queued or walked
        m.d.comb += [can_fetch.eq(credits != 0),
                     walk_idle.eq((credits == self.WALK_QUEUE) & ~w_v),
                     iss.eq(w_v & (w_k < w_end)), iss_ev.eq(~learn), iss_k.eq(w_k)]
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
        ltp, ltd = stdp_tables(c.fmt)
        ltp_rom = Array(Const(int(v), wbits) for v in ltp)
        ltd_rom = Array(Const(int(v), wbits) for v in ltd)
        assert TABLE_SIZE == 64 and PENALTY_DELTA < TABLE_SIZE
        d5 = s5["delta"]
        # how the weight changes: 0 none, 1 up, 2 down, 3 to zero (prune or penalty)
        kind = Signal(2)
        with m.If(s5["ev"] | (~s5["pruned"] & ~s5["active"])):
            m.d.comb += kind.eq(0)
        with m.Elif(s5["pruned"] | (d5 < -PENALTY_DELTA)):
            m.d.comb += kind.eq(3)
        with m.Elif(d5 < 0):
            m.d.comb += kind.eq(1)
        with m.Elif((d5 > 0) & (d5 < TABLE_SIZE)):
            m.d.comb += kind.eq(2)
        s6 = stage(6, v=s5["v"], ev=s5["ev"], k=s5["k"], dl=s5["dl"], w=s5["w"], g=s5["g"],
                   kind=kind, inc=ltp_rom[(-d5)[:6]], dec=ltd_rom[d5[:6]])
        up = Signal(wbits + 1)
        down = Signal(signed(wbits + 2))
        m.d.comb += [up.eq(s6["w"] + s6["inc"]), down.eq(s6["w"] - s6["dec"])]
        wn = Signal(wbits)
        with m.Switch(s6["kind"]):
            with m.Case(0):
                m.d.comb += wn.eq(s6["w"])
            with m.Case(1):
                m.d.comb += wn.eq(Mux(up > w_max, w_max, up))
            with m.Case(2):
                m.d.comb += wn.eq(Mux(down < 0, 0, down))
            with m.Case(3):
                m.d.comb += wn.eq(0)
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
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=sbits + gbits, depth=self.FIFO_DEPTH)
        room = Signal()                                # L0 .. L2 may still push three,
        m.d.sync += room.eq(fifo.level < self.FIFO_DEPTH - 5)   # registered: one more
        m.d.comb += [fifo.w_data.eq(Cat(t, l3_g)), fifo.w_en.eq(l3_v & l3_fire),
                     self.o.valid.eq(fifo.r_rdy), self.o.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.o.ready)]

        # -- host read response --------------------------------------------------------------
        rs_valid = Signal()
        rs_data = Signal(wbits)
        m.d.comb += [self.weight_rs.valid.eq(rs_valid), self.weight_rs.payload.eq(rs_data)]
        with m.If(self.weight_rs.ready & rs_valid):
            m.d.sync += rs_valid.eq(0)

        # -- commands: one walk over every memory index ---------------------------------------
        op = Signal(2)
        n = Signal(range(max(c.mcs, c.gcs, c.synapses) + 2))
        n1, n2 = Signal(kbits + 1), Signal(kbits + 1)
        n1_v, n2_v = Signal(), Signal()
        walk_end = max(c.mcs, c.gcs, c.synapses)
        cmd_done = Signal()                            # registered: n == walk_end + 1

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

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.cmd.valid):
                    m.d.comb += self.cmd.ready.eq(1)
                    m.d.sync += [op.eq(self.cmd.payload), n.eq(0), n1_v.eq(0), n2_v.eq(0),
                                 cmd_done.eq(0), frozen.eq(1)]
                    with m.If(self.cmd.payload == 3):
                        m.d.sync += [error.eq(1), frozen.eq(0)]
                    with m.Else():
                        m.next = "CMD"
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
                with m.Elif(self.weight_rq.valid & ~rs_valid):
                    m.d.comb += [self.weight_rq.ready.eq(1), iss_k.eq(self.weight_rq.payload)]
                    m.next = "READ"
                with m.Elif(ahead != 0):
                    m.d.comb += step_start.eq(1)
                    m.d.sync += learn.eq(Mux(wstep == 0, self.learn, learn))
                    m.next = "BEGIN"

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
                m.d.sync += [
                    t.eq(t + 1),
                    phase.eq(Mux(phase == CYCLE - 1, 0, phase + 1)),
                    wstep.eq(Mux(wstep == c.window - 1, 0, wstep + 1)),
                    held.eq(Mux(held == DELAY + 1, held, held + 1)),
                ]
                m.next = "IDLE"

            with m.State("CMD"):
                m.d.comb += iss_k.eq(n)                # the weight read of CLAMP
                m.d.sync += [n.eq(n + 1), n1.eq(n), n1_v.eq(n < c.synapses), n2.eq(n1),
                             n2_v.eq(n1_v), cmd_done.eq(n == walk_end)]
                neurons = (op == self.RESET) | (op == self.CONNECT)
                connect = op == self.CONNECT
                with m.If(neurons):
                    with m.If(n < c.gcs):
                        m.d.comb += [wr["gc"].addr.eq(n), wr["gc"].data.eq(Cat(Const(g_rest, signed(vbits)), Const(0, 1))),
                                     wr["gc"].en.eq(1), wr["acc"].addr.eq(n),
                                     wr["acc"].data.eq(0), wr["acc"].en.eq(1),
                                     wr["post"].addr.eq(n), wr["post"].data.eq(0),
                                     wr["post"].en.eq(connect)]
                    with m.If(n < c.mcs):
                        m.d.comb += [wr["dlv"].addr.eq(n), wr["dlv"].data.eq(0),
                                     wr["dlv"].en.eq(1), wr["pre"].addr.eq(n),
                                     wr["pre"].data.eq(0), wr["pre"].en.eq(connect)]
                    with m.If(n < c.synapses):
                        m.d.comb += [wr["w"].addr.eq(n), wr["w"].data.eq(p["w_init"]),
                                     wr["w"].en.eq(connect)]
                with m.Else():                         # CLAMP: read n (in S2), write n - 2
                    m.d.comb += [wr["w"].addr.eq(n2), wr["w"].data.eq(0),
                                 wr["w"].en.eq(n2_v & (s2["w"] <= p["clamp"]))]
                with m.If(cmd_done):                   # n == walk_end + 1
                    with m.If(neurons):
                        m.d.sync += [tail.eq(wp), ahead.eq(0), held.eq(0), n_spk.eq(0)]
                    with m.If(connect):
                        m.d.sync += [t.eq(0), phase.eq(0), wstep.eq(0)]
                    m.d.sync += frozen.eq(0)
                    m.next = "IDLE"

        # pipeline write-backs (after the engine's assignments, which they override; the
        # engine never writes these memories while the pipelines run)
        with m.If(s7["v"] & ~s7["ev"]):
            m.d.comb += [wr["w"].addr.eq(s7["k"]), wr["w"].data.eq(s7["w"]), wr["w"].en.eq(1)]
        with m.If(s10["v"]):
            m.d.comb += [wr["acc"].addr.eq(s10["g"]), wr["acc"].data.eq(s10["acc"]),
                         wr["acc"].en.eq(1)]
        with m.If(lif):
            m.d.comb += [rd["gc"].addr.eq(lif_g), rd["acc"].addr.eq(lif_g)]
        with m.Else():
            m.d.comb += rd["acc"].addr.eq(s7["g"])
        with m.If(l1_v):
            m.d.comb += [wr["acc"].addr.eq(l1_g), wr["acc"].data.eq(0), wr["acc"].en.eq(1)]
        with m.If(l5_v):
            m.d.comb += [wr["gc"].addr.eq(l5_g), wr["gc"].data.eq(Cat(v_new, l5_r & ~release)),
                         wr["gc"].en.eq(1)]
        with m.If(l3_v & l3_fire):
            m.d.comb += [wr["spk"].addr.eq(n_spk), wr["spk"].data.eq(l3_g), wr["spk"].en.eq(1)]
            m.d.sync += n_spk.eq(n_spk + 1)
        busy_any = Signal()
        m.d.comb += busy_any.eq(pipe_busy | lif_busy)
        m.d.comb += self.idle.eq(fsm.ongoing("IDLE") & (ahead == 0) & ~busy_any & ~fifo.r_rdy
                                 & ~frozen)
        return m


class StepMarker(CheckedComponent):
    """The MC array's spike stream (``(step, mc)``, ordered by step) as the GC layer's input
    (spikes and an end marker per step).

    The marker of step ``s`` is sent when a spike of a later step arrives, or, for the last
    steps of a window, when the MC array is ``idle`` (all its spikes have left): the GC layer
    then trails the MC array by up to a gamma cycle.

    Parameters
    ----------
    array : MCArrayConfig
        The MC array's configuration (step width, window).

    Members
    -------
    i : ``In(stream.Signature(mc_array.spike_layout(array)))``
    array_idle : ``In(1)``
        The MC array's ``idle``.
    o : ``Out(stream.Signature(mc_spike_layout(...)))``
        For a GC layer of ``array.mcs`` MCs.
    done : ``Out(1)``
        No spike is waiting and every window seen is closed.
    """

    @classmethod
    def check(cls, array):
        from ..golden.fixed.mc_array import MCArrayConfig
        if not isinstance(array, MCArrayConfig):
            raise TypeError(f"array must be an MCArrayConfig, not {type(array).__name__}")
        return array

    def __init__(self, array):
        from .mc_array import spike_layout
        self._array = self.check(array)
        self._out = data.StructLayout({"mc": unsigned(index_bits(array.mcs)),
                                       "end": unsigned(1)})
        super().__init__({"i": In(stream.Signature(spike_layout(array))),
                          "array_idle": In(1),
                          "o": Out(stream.Signature(self._out)),
                          "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        a = self._array
        nxt = Signal(a.step_bits)                      # the step whose marker is next
        wpos = Signal(range(a.window))                 # position of nxt in its window
        marker = Signal()
        with m.If(self.i.valid):
            with m.If(self.i.payload.step == nxt):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.mc.eq(self.i.payload.mc),
                             self.i.ready.eq(self.o.ready)]
            with m.Else():
                m.d.comb += [self.o.valid.eq(1), marker.eq(1)]
        with m.Elif(self.array_idle & (wpos != 0)):
            m.d.comb += [self.o.valid.eq(1), marker.eq(1)]
        m.d.comb += self.o.payload.end.eq(marker)
        with m.If(marker & self.o.ready):
            m.d.sync += [nxt.eq(nxt + 1), wpos.eq(Mux(wpos == a.window - 1, 0, wpos + 1))]
        m.d.comb += self.done.eq(~self.i.valid & (wpos == 0))
        return m


class MCGCLayer(CheckedComponent):
    """An :class:`~.mc_array.MCArray` feeding a :class:`GCLayer` through a
    :class:`StepMarker`: drives in, GC spikes out (the feed-forward network of the paper
    after the quantizer; the MC neurons are the model's, so the pair is bit-exact with
    :meth:`GCLayerModel.run <hetq.golden.fixed.gc_layer.GCLayerModel.run>` on the drives).

    Parameters
    ----------
    array : MCArrayConfig
        Without ``inhibition`` (no GC->MC path yet), of the same ``mcs``, ``hold``, ``rinse``
        and format as ``layer``.
    layer : GCLayerConfig

    Members
    -------
    i : the array's drive stream; ``o``, ``learn``, ``weight_w``, ``weight_rq``,
    ``weight_rs``, ``ptr_w``, ``gc_w``, ``cmd``, ``cycle_w``, ``error``, ``step``: the
    layer's; ``idle``: the array, the marker and the layer are all idle.
    """

    @classmethod
    def check(cls, array, layer):
        StepMarker.check(array)
        GCLayer.check(layer)
        if array.inhibition:
            raise ValueError("the MC array must be built without inhibition (the GC layer "
                             "has no GC->MC path)")
        for name in ("mcs", "hold", "rinse", "fmt"):
            if getattr(array, name) != getattr(layer, name):
                raise ValueError(f"the MC array and the GC layer differ in {name}: "
                                 f"{getattr(array, name)} and {getattr(layer, name)}")
        return array, layer

    def __init__(self, array, layer):
        from .mc_array import MCArray
        self.check(array, layer)
        self._mc = MCArray(array)
        self._marker = StepMarker(array)
        self._layer = GCLayer(layer)
        g = self._layer.signature.members
        members = {"i": self._mc.signature.members["i"], "idle": Out(1)}
        for name in ("o", "learn", "weight_w", "weight_rq", "weight_rs", "ptr_w", "gc_w",
                     "cmd", "cycle_w", "error", "step"):
            members[name] = g[name]
        super().__init__(members)

    array = property(lambda self: self._mc)
    layer = property(lambda self: self._layer)

    def elaborate(self, platform):
        from amaranth.lib import wiring
        m = Module()
        m.submodules.array = mc = self._mc
        m.submodules.marker = mk = self._marker
        m.submodules.layer = gl = self._layer
        wiring.connect(m, wiring.flipped(self.i), mc.i)
        wiring.connect(m, mc.o, mk.i)
        m.d.comb += mk.array_idle.eq(mc.idle)
        wiring.connect(m, mk.o, gl.i)
        for name in ("o", "weight_rs"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(gl, name))
        for name in ("weight_w", "weight_rq", "ptr_w", "gc_w", "cmd", "cycle_w"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(gl, name))
        m.d.comb += [gl.learn.eq(self.learn), self.error.eq(gl.error), self.step.eq(gl.step),
                     self.idle.eq(mc.idle & mk.done & gl.idle)]
        return m
