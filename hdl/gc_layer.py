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
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import CYCLE, LEAK_NUM, LEAK_SHIFT
from ..golden.fixed.gc_layer import (CURRENT_INT, DELAY, GC_RELEASE_PHASE, PENALTY_DELTA,
                                     TABLE_SIZE, WEIGHT_INT, GCLayerConfig, stdp_tables)
from .kit import CheckedComponent, index_bits, write_layout

__all__ = ["GCLayer", "mc_spike_layout", "gc_spike_layout", "command_layout", "gc_state_layout",
           "delay_depth"]


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

    Cycles per step (measured in tests/hdl/test_gc_layer.py): learning on,
    ``synapses + (MCs with an empty fan-out list) + gcs`` plus the spikes of steps ``t - 26``
    and ``t - 25`` and the GC spikes of ``t - 1`` plus about 12; learning off,
    ``gcs + sum over delivered MCs of (fan-out + 2)`` plus about 10. The GC pass waits for
    room in the output FIFO.

    Parameters
    ----------
    config : GCLayerConfig
        ``lanes`` must be 1 and ``iic`` False (neither is built yet: refused).

    Members
    -------
    i : ``In(stream.Signature(mc_spike_layout(config)))``
        The MC spikes of each step (any order), then an end marker; the MC side may run up to
        the ring's capacity ahead. ``mc >= mcs`` is dropped and sets ``error``. ``ready`` is
        low while the ring is full and during a command.
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
    """

    RESET, CONNECT, CLAMP = 0, 1, 2
    FIFO_DEPTH = 16

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
        })
        sbits, vbits = c.stamp_bits, 8 + c.fmt.drive_frac
        rest_word = p["rest"] & ((1 << vbits) - 1)
        self._mem = {
            "ring": Memory(shape=unsigned(index_bits(c.mcs) + 1), depth=delay_depth(c),
                           init=[]),
            "ptr": Memory(shape=unsigned(kbits + 1), depth=c.mcs + 1, init=[]),
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
                                        else ()) for name, mem in self._mem.items()}
        # the fan-out pointers are read in pairs (ptr[m], ptr[m + 1])
        self._rd["ptr1"] = self._mem["ptr"].read_port()

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
        mem, rd, wr = self._mem, self._rd, self._wr
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
        assert WEIGHT_INT == 5 and w_max < (1 << wbits)

        error = Signal()
        m.d.comb += self.error.eq(error)

        # -- the delay ring: the MC side writes, the step engine reads and frees -------------
        wp = Signal(rbits + 1)                         # write pointer (one extra bit)
        tail = Signal(rbits + 1)                       # oldest entry kept
        ahead = Signal(range(ring_depth + 1))          # complete steps not yet run
        frozen = Signal()                              # a command runs: no input
        count = Signal(rbits + 1)
        m.d.comb += count.eq(wp - tail)
        m.d.comb += self.i.ready.eq(~frozen & (count != ring_depth))
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
        mc, mc_n = addressed("mc", mbits + 1)          # MC of the fan-out walk
        m.d.comb += [rd["ring"].addr.eq(rp_n[:rbits]), rd["spk"].addr.eq(si_n),
                     rd["ptr"].addr.eq(mc_n), rd["ptr1"].addr.eq(mc_n + 1)]
        ring_mc = rd["ring"].data[:mbits]
        ring_end = rd["ring"].data[mbits]
        n_spk = Signal(gbits + 1)                      # GCs in the spike list

        # -- synapse pipeline: S0 issue, S1 weight/GC/pre/delivered, S2 post, STDP, weight
        # write, S3 the current's read-modify-write (transparent read: one per clock) ------
        iss = Signal()
        iss_ev = Signal()                              # event-driven delivery (no learning)
        iss_k = Signal(kbits + 1)
        m.d.comb += [rd["w"].addr.eq(iss_k), rd["fan"].addr.eq(iss_k),
                     rd["pre"].addr.eq(mc), rd["dlv"].addr.eq(mc)]
        s1_v, s1_ev, s1_k = Signal(), Signal(), Signal(kbits + 1)
        m.d.sync += [s1_v.eq(iss), s1_ev.eq(iss_ev), s1_k.eq(iss_k)]
        m.d.comb += rd["post"].addr.eq(rd["fan"].data)
        s2_v, s2_ev, s2_dl = Signal(), Signal(), Signal()
        s2_k = Signal(kbits + 1)
        s2_w, s2_g = Signal(wbits), Signal(gbits)
        s2_pre = Signal(sbits + 1)
        m.d.sync += [s2_v.eq(s1_v), s2_ev.eq(s1_ev), s2_dl.eq(s1_ev | rd["dlv"].data[0]),
                     s2_k.eq(s1_k), s2_w.eq(rd["w"].data), s2_g.eq(rd["fan"].data),
                     s2_pre.eq(rd["pre"].data)]
        post2 = rd["post"].data
        delta = Signal(signed(sbits))
        m.d.comb += delta.eq((s2_pre[:sbits] - post2[:sbits])[:sbits])
        ltp, ltd = stdp_tables(c.fmt)
        ltp_rom = Array(Const(int(v), wbits) for v in ltp)
        ltd_rom = Array(Const(int(v), wbits) for v in ltd)
        idx_n = Signal(6)
        idx_p = Signal(6)
        m.d.comb += [idx_n.eq((-delta)[:6]), idx_p.eq(delta[:6])]
        assert TABLE_SIZE == 64 and PENALTY_DELTA < TABLE_SIZE
        up = Signal(wbits + 1)
        down = Signal(signed(wbits + 2))
        m.d.comb += [up.eq(s2_w + ltp_rom[idx_n]), down.eq(s2_w - ltd_rom[idx_p])]
        active = s2_pre[sbits] & post2[sbits] & (s2_w != w_max)
        wn = Signal(wbits)
        with m.If(s2_ev):
            m.d.comb += wn.eq(s2_w)
        with m.Elif(s2_w < prune):
            m.d.comb += wn.eq(0)
        with m.Elif(~active):
            m.d.comb += wn.eq(s2_w)
        with m.Elif(delta < -PENALTY_DELTA):
            m.d.comb += wn.eq(0)
        with m.Elif(delta < 0):
            m.d.comb += wn.eq(Mux(up > w_max, w_max, up))
        with m.Elif((delta > 0) & (delta < TABLE_SIZE)):
            m.d.comb += wn.eq(Mux(down < 0, 0, down))
        with m.Else():
            m.d.comb += wn.eq(s2_w)
        s3_v, s3_any, s3_g, s3_w = Signal(), Signal(), Signal(gbits), Signal(wbits)
        m.d.sync += [s3_v.eq(s2_v & s2_dl), s3_any.eq(s2_v), s3_g.eq(s2_g), s3_w.eq(wn)]
        acc_sum = Signal(ibits + 1)
        m.d.comb += acc_sum.eq(rd["acc"].data + s3_w)
        pipe_busy = s1_v | s2_v | s3_any

        # -- GC pipeline: L0 issue (state, current), L1 LIF, write-back, spike ---------------
        lif = Signal()
        lif_g, lif_g_n = addressed("lif_g", gbits + 1)
        l1_v = Signal()
        l1_g = Signal(gbits)
        m.d.sync += [l1_v.eq(lif), l1_g.eq(lif_g)]
        release = Signal()
        m.d.comb += release.eq(phase == GC_RELEASE_PHASE - 1)
        st = data.View(gc_state_layout(c), rd["gc"].data)
        v_in = st.voltage
        fire = Signal()
        m.d.comb += fire.eq(v_in >= g_thr)
        v0 = Signal(signed(vbits))
        r0 = Signal()
        m.d.comb += [v0.eq(Mux(fire, g_rest, v_in)), r0.eq(st.refractory | fire)]
        diff = Signal(signed(vbits + 2))
        m.d.comb += diff.eq(g_rest + rd["acc"].data - v0)
        vn = Signal(signed(vbits + 1))
        m.d.comb += vn.eq(v0 + ((diff * LEAK_NUM) >> LEAK_SHIFT))
        v_new = Signal(signed(vbits))
        with m.If(release | (r0 & (vn > g_rest))):
            m.d.comb += v_new.eq(g_rest)
        with m.Elif(vn > g_thr):
            m.d.comb += v_new.eq(g_thr)
        with m.Else():
            m.d.comb += v_new.eq(vn)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=sbits + gbits, depth=self.FIFO_DEPTH)
        room = Signal()
        m.d.comb += room.eq(fifo.level < self.FIFO_DEPTH - 2)
        m.d.comb += [fifo.w_data.eq(Cat(t, l1_g)), fifo.w_en.eq(l1_v & fire),
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
        n1 = Signal(kbits + 1)
        n1_v = Signal()
        walk_end = max(c.mcs, c.gcs, c.synapses)

        # -- the step engine ---------------------------------------------------------------------
        ks = Signal(kbits + 1)                         # next synapse of the current MC
        entering = Signal()                            # first cycle of an MC: start = ptr[mc]
        start, end = rd["ptr"].data, rd["ptr1"].data
        k_eff = Signal(kbits + 1)
        m.d.comb += k_eff.eq(Mux(entering, start, ks))
        mc_done = Signal()
        m.d.comb += mc_done.eq(k_eff + 1 >= end)
        stamp_word = Cat(t, Const(1, 1))

        def after_post(oldest):
            """The state after the stamps: deliver (and sweep) or go to the GC pass; the
            delivery reads the ring from ``oldest`` (the step t - 25)."""
            with m.If(held >= DELAY):
                m.d.comb += rp_n.eq(oldest)
                m.next = "MARK"
                with m.If(~learn):
                    m.next = "EVENT"
            with m.Elif(learn):
                m.next = "SWEEP_INIT"
            with m.Else():
                m.next = "LIF"

        def walk_step(ev, done_state):
            """One cycle of a fan-out walk of MC ``mc`` (``entering`` on its first cycle)."""
            with m.If(k_eff < end):
                m.d.comb += [iss.eq(1), iss_ev.eq(ev), iss_k.eq(k_eff)]
            with m.If(mc_done):
                m.d.sync += entering.eq(1)
                done_state()
            with m.Else():
                m.d.sync += [ks.eq(k_eff + 1), entering.eq(0)]

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.cmd.valid):
                    m.d.comb += self.cmd.ready.eq(1)
                    m.d.sync += [op.eq(self.cmd.payload), n.eq(0), n1_v.eq(0), frozen.eq(1)]
                    with m.If(self.cmd.payload == 3):
                        m.d.sync += [error.eq(1), frozen.eq(0)]
                    with m.Else():
                        m.next = "CMD"
                with m.Elif(self.weight_w.valid):
                    m.d.comb += self.weight_w.ready.eq(1)
                    pl = self.weight_w.payload
                    ok = (pl.addr < c.synapses) & (pl.data <= w_max)
                    m.d.comb += [wr["w"].addr.eq(pl.addr), wr["w"].data.eq(pl.data),
                                 wr["w"].en.eq(ok)]
                    with m.If(~ok):
                        m.d.sync += error.eq(1)
                with m.Elif(self.ptr_w.valid):
                    m.d.comb += self.ptr_w.ready.eq(1)
                    pl = self.ptr_w.payload
                    ok = (pl.addr <= c.mcs) & (pl.data <= c.synapses)
                    m.d.comb += [wr["ptr"].addr.eq(pl.addr), wr["ptr"].data.eq(pl.data),
                                 wr["ptr"].en.eq(ok)]
                    with m.If(~ok):
                        m.d.sync += error.eq(1)
                with m.Elif(self.gc_w.valid):
                    m.d.comb += self.gc_w.ready.eq(1)
                    pl = self.gc_w.payload
                    ok = (pl.addr < c.synapses) & (pl.data < c.gcs)
                    m.d.comb += [wr["fan"].addr.eq(pl.addr), wr["fan"].data.eq(pl.data),
                                 wr["fan"].en.eq(ok)]
                    with m.If(~ok):
                        m.d.sync += error.eq(1)
                with m.Elif(self.weight_rq.valid & ~rs_valid):
                    m.d.comb += [self.weight_rq.ready.eq(1), iss_k.eq(self.weight_rq.payload)]
                    m.next = "READ"
                with m.Elif(ahead != 0):
                    m.d.comb += step_start.eq(1)
                    m.d.sync += learn.eq(Mux(wstep == 0, self.learn, learn))
                    m.next = "BEGIN"

            with m.State("READ"):
                m.d.sync += [rs_valid.eq(1), rs_data.eq(rd["w"].data)]
                m.next = "IDLE"

            with m.State("BEGIN"):
                m.d.comb += [rp_n.eq(tail), si_n.eq(0)]
                with m.If(held == DELAY + 1):
                    m.next = "FREE"
                with m.Elif(learn):
                    m.next = "POST"
                with m.Else():
                    after_post(tail)

            # 1. the step t - 26: delivered bits cleared, pre stamps (learning), freed
            with m.State("FREE"):
                m.d.comb += rp_n.eq(rp + 1)
                with m.If(ring_end):
                    m.d.sync += tail.eq(rp + 1)
                    with m.If(learn):
                        m.next = "POST"
                    with m.Else():
                        after_post(rp + 1)
                with m.Else():
                    m.d.comb += [wr["dlv"].addr.eq(ring_mc), wr["dlv"].data.eq(0),
                                 wr["dlv"].en.eq(1),
                                 wr["pre"].addr.eq(ring_mc), wr["pre"].data.eq(stamp_word),
                                 wr["pre"].en.eq(learn)]

            # 2. post stamps of the GCs that fired in step t - 1 (learning)
            with m.State("POST"):
                with m.If(si == n_spk):
                    after_post(tail)
                with m.Else():
                    m.d.comb += [si_n.eq(si + 1), wr["post"].addr.eq(rd["spk"].data),
                                 wr["post"].data.eq(stamp_word), wr["post"].en.eq(1)]

            # 3a. learning: the delivered bits of step t - 25
            with m.State("MARK"):
                m.d.comb += rp_n.eq(rp + 1)
                with m.If(ring_end):
                    m.next = "SWEEP_INIT"
                with m.Else():
                    m.d.comb += [wr["dlv"].addr.eq(ring_mc), wr["dlv"].data.eq(1),
                                 wr["dlv"].en.eq(1)]

            with m.State("SWEEP_INIT"):
                m.d.comb += mc_n.eq(0)
                m.d.sync += entering.eq(1)
                m.next = "SWEEP"

            # 3b. the STDP sweep over every synapse, MC by MC
            with m.State("SWEEP"):
                def sweep_next():
                    with m.If(mc == c.mcs - 1):
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.comb += mc_n.eq(mc + 1)
                walk_step(0, sweep_next)

            # 3c. learning off: the fan-out lists of the MCs of step t - 25
            with m.State("EVENT"):
                with m.If(ring_end):
                    m.next = "DRAIN"
                with m.Else():
                    m.d.comb += [rp_n.eq(rp + 1), mc_n.eq(ring_mc)]
                    m.d.sync += entering.eq(1)
                    m.next = "EVENT_WALK"

            with m.State("EVENT_WALK"):
                def event_next():
                    m.next = "EVENT"
                walk_step(1, event_next)

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
                m.d.sync += [n.eq(n + 1), n1.eq(n), n1_v.eq(n < c.synapses)]
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
                with m.Else():                         # CLAMP: read n, write n - 1
                    m.d.comb += [wr["w"].addr.eq(n1), wr["w"].data.eq(0),
                                 wr["w"].en.eq(n1_v & (rd["w"].data <= p["clamp"]))]
                with m.If(n == walk_end):
                    with m.If(neurons):
                        m.d.sync += [tail.eq(wp), ahead.eq(0), held.eq(0), n_spk.eq(0)]
                    with m.If(connect):
                        m.d.sync += [t.eq(0), phase.eq(0), wstep.eq(0)]
                    m.d.sync += frozen.eq(0)
                    m.next = "IDLE"

        # pipeline write-backs (after the engine's assignments, which they override; the
        # engine never writes these memories while the pipelines run)
        with m.If(s2_v & ~s2_ev):
            m.d.comb += [wr["w"].addr.eq(s2_k), wr["w"].data.eq(wn), wr["w"].en.eq(1)]
        with m.If(s3_v):
            m.d.comb += [wr["acc"].addr.eq(s3_g),
                         wr["acc"].data.eq(Mux(acc_sum > i_max, i_max, acc_sum)),
                         wr["acc"].en.eq(1)]
        with m.If(lif):
            m.d.comb += [rd["gc"].addr.eq(lif_g), rd["acc"].addr.eq(lif_g)]
        with m.Else():
            m.d.comb += rd["acc"].addr.eq(s2_g)
        with m.If(l1_v):
            m.d.comb += [wr["gc"].addr.eq(l1_g), wr["gc"].data.eq(Cat(v_new, r0 & ~release)),
                         wr["gc"].en.eq(1), wr["acc"].addr.eq(l1_g), wr["acc"].data.eq(0),
                         wr["acc"].en.eq(1)]
            with m.If(fire):
                m.d.comb += [wr["spk"].addr.eq(n_spk), wr["spk"].data.eq(l1_g),
                             wr["spk"].en.eq(1)]
                m.d.sync += n_spk.eq(n_spk + 1)
        busy_any = Signal()
        m.d.comb += busy_any.eq(pipe_busy | l1_v)
        m.d.comb += self.idle.eq(fsm.ongoing("IDLE") & (ahead == 0) & ~busy_any & ~fifo.r_rdy
                                 & ~frozen)
        return m
