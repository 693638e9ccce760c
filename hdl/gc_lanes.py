"""The GC layer in lanes: ``lanes`` copies of the one-lane :class:`~.gc_layer.GCLayer`, each
owning a share of the GCs and the synapses onto them, fed the same MC spikes; their GC spikes
are merged back into the one-lane layer's order.

Lane ``j`` holds the GCs ``g`` with ``g % lanes == j`` (its local GC ``g // lanes``) and the
synapses onto them, in the global fan-out order
(:func:`~hetq.golden.fixed.gc_layer.lane_fanout_lists` gives each lane's lists and where every
synapse of :func:`~hetq.golden.fixed.gc_layer.fanout_lists` went). A lane is a complete
one-lane layer of ``ceil`` or ``floor(gcs / lanes)`` GCs: its own delay ring, fan-out lists,
weights, ``pre`` stamps and delivered bits (a copy per lane: the MC side is the same in every
lane), ``post`` stamps, currents and GC states. Each lane's STDP sweep and GC pass run one
synapse or one GC per clock, so a step costs about ``(synapses + gcs) / lanes`` cycles plus
the one-lane layer's constant (the slowest lane sets the pace; the delay rings let a lane
run up to 27 steps ahead of another).

The behaviour is the one-lane layer's (and the model's) at any lane count: every GC spike in
the same ``(step, gc)`` order, every weight the same.
"""

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from ..golden.fixed.gc_layer import GCLayerConfig
from .gc_layer import GCLayer, command_layout, gc_spike_layout, mc_spike_layout
from .kit import CheckedComponent, index_bits

__all__ = ["LanedGCLayer", "gc_layer", "check_gc_layer", "lane_configs", "lane_layout"]


def lane_configs(config, lane_synapses=None):
    """The :class:`GCLayerConfig` of every lane of ``config``: ``len(range(j, gcs, lanes))``
    GCs, ``min(lane_synapses or synapses, mcs * gcs of the lane)`` synapses, one lane."""
    cap = config.synapses if lane_synapses is None else lane_synapses
    out = []
    for j in range(config.lanes):
        n = len(range(j, config.gcs, config.lanes))
        out.append(config.replace(gcs=n, synapses=min(cap, config.mcs * n), lanes=1))
    return out


def lane_layout(lane_bits, **fields):
    """A host port's payload: the lane, then ``fields`` (name -> bits)."""
    return data.StructLayout({"lane": unsigned(lane_bits),
                              **{k: unsigned(v) for k, v in fields.items()}})


def gc_layer(config, **kwargs):
    """The GC layer RTL of ``config``: :class:`~.gc_layer.GCLayer` for one lane, else a
    :class:`LanedGCLayer` (``kwargs``: its ``lane_synapses``)."""
    if isinstance(config, GCLayerConfig) and config.lanes > 1:
        return LanedGCLayer(config, **kwargs)
    if kwargs:
        raise ValueError(f"{', '.join(kwargs)} applies to more than one lane only")
    return GCLayer(config)


def check_gc_layer(config, **kwargs):
    """Raise as :func:`gc_layer` would for ``config`` (TypeError / ValueError)."""
    if isinstance(config, GCLayerConfig) and config.lanes > 1:
        return LanedGCLayer.check(config, **kwargs)
    if kwargs:
        raise ValueError(f"{', '.join(kwargs)} applies to more than one lane only")
    return GCLayer.check(config)


def _signed_less(m, a, b, bits, name):
    """``a < b`` for step numbers modulo ``2**bits`` (their difference read as signed)."""
    d = Signal(bits, name=name)
    m.d.comb += d.eq(a - b)
    return d[bits - 1]


class LanedGCLayer(CheckedComponent):
    """The GC layer of a :class:`~hetq.golden.fixed.gc_layer.GCLayerConfig` with ``lanes > 1``
    (see the module docstring), bit-exact with
    :class:`~hetq.golden.fixed.gc_layer.GCLayerModel`.

    Parameters
    ----------
    config : GCLayerConfig
        ``iic`` False (the GC->MC path is built for one lane only: refused).
    lane_synapses : int, optional
        Synapses each lane's weight and fan-out memories hold (default ``synapses``, so that
        every mask the one-lane layer takes fits any lane; a balanced mask needs about
        ``synapses / lanes``). The host refuses a mask with more in a lane
        (:func:`~hetq.golden.fixed.gc_layer.lane_fanout_lists`' ``capacity``).

    Members
    -------
    i, o, learn, cmd, cycle_w, idle, error
        As :class:`~.gc_layer.GCLayer`'s: ``i``, ``learn``, ``cmd`` and ``cycle_w`` go to
        every lane (a transfer is copied into a register per lane, the next taken when every
        lane has taken its copy: one per two clocks at most); ``o``
        carries the global GC (``local * lanes + lane``), by step and then GC; ``idle`` is
        every lane idle, no spike or weight read waiting; ``error`` any lane's or a bad lane
        or address here.
    step : ``Out(stamp_bits)``
        The slowest lane's step counter (every lane has run the steps before it).
    weight_w, ptr_w, gc_w : ``In(stream.Signature(lane_layout(lbits, addr=..., data=...)))``
        As the one-lane layer's, to lane ``lane`` and in its numbering: ``ptr_w`` and
        ``gc_w`` write its lists (``data`` of ``gc_w`` is the local GC), ``weight_w`` its
        synapse ``addr``. A lane ``>= lanes``, an address or a value out of that lane's range
        sets ``error`` and is dropped.
    weight_rq : ``In(stream.Signature(lane_layout(lbits, addr=kbits)))``
        Read synapse ``addr`` of lane ``lane``; one request at a time (the next is taken
        after ``weight_rs`` has delivered). The host ports are registered (with their
        checks) before they reach a lane, so a write is taken every other clock. A bad lane or address sets ``error`` and is
        answered with lane 0's synapse 0.
    weight_rs : ``Out(stream.Signature(wbits))``
    """

    @classmethod
    def check(cls, config, lane_synapses=None):
        if not isinstance(config, GCLayerConfig):
            raise TypeError(f"config must be a GCLayerConfig, not {type(config).__name__}")
        if config.lanes < 2:
            raise ValueError("LanedGCLayer needs lanes >= 2 (GCLayer is the one-lane layer)")
        if config.iic:
            raise ValueError("the GC->MC path (iic) is built for one lane only: in lanes each "
                             "lane's GCs would count for MCs g % mcs of their global index and "
                             "the lanes' per-MC counts be summed (not built)")
        if lane_synapses is not None:
            if isinstance(lane_synapses, bool) or not isinstance(lane_synapses, int) \
                    or not 1 <= lane_synapses <= config.synapses:
                raise ValueError(f"lane_synapses must be an int in [1, {config.synapses}] "
                                 f"(synapses), not {lane_synapses!r}")
        lanes = lane_configs(config, lane_synapses)
        for lc in lanes:
            GCLayer.check(lc)
        return lanes

    def __init__(self, config, lane_synapses=None):
        self._lane_cfgs = lcs = self.check(config, lane_synapses)
        self._config = c = config
        self._lanes = [GCLayer(lc) for lc in lcs]
        p = c.params
        self._lbits = lbits = index_bits(c.lanes)
        self._kbits = kbits = index_bits(max(lc.synapses for lc in lcs))
        self._gbits = gbits = index_bits(max(lc.gcs for lc in lcs))
        self._wbits = wbits = p["w_max"].bit_length()
        pbits = index_bits(c.mcs + 1)
        super().__init__({
            "i": In(stream.Signature(mc_spike_layout(c))),
            "o": Out(stream.Signature(gc_spike_layout(c))),
            "learn": In(1),
            "weight_w": In(stream.Signature(lane_layout(lbits, addr=kbits, data=wbits))),
            "weight_rq": In(stream.Signature(lane_layout(lbits, addr=kbits))),
            "weight_rs": Out(stream.Signature(unsigned(wbits))),
            "ptr_w": In(stream.Signature(lane_layout(lbits, addr=pbits, data=kbits + 1))),
            "gc_w": In(stream.Signature(lane_layout(lbits, addr=kbits, data=gbits))),
            "cmd": In(stream.Signature(command_layout())),
            "idle": Out(1),
            "error": Out(1),
            "step": Out(c.stamp_bits),
            "cycle_w": In(stream.Signature(unsigned(c.stamp_bits))),
        })

    config = property(lambda self: self._config)
    #: The lanes (:class:`~.gc_layer.GCLayer`), lane ``j`` holding the GCs ``g % lanes == j``.
    lanes = property(lambda self: list(self._lanes))
    #: Each lane's configuration (:func:`lane_configs`).
    lane_configs = property(lambda self: list(self._lane_cfgs))

    @property
    def lane_capacity(self):
        """The synapses each lane holds."""
        return [lc.synapses for lc in self._lane_cfgs]

    def elaborate(self, platform):
        m = Module()
        c = self._config
        n_lanes = c.lanes
        sbits = c.stamp_bits
        lanes = self._lanes
        for j, lane in enumerate(lanes):
            m.submodules[f"lane{j}"] = lane
        error = Signal()
        m.d.comb += self.error.eq(error | Cat(lane.error for lane in lanes).any())

        # -- streams every lane takes: a transfer is copied into a register per lane (so
        # that every lane sees its own flip-flops, not one register fanned out over the
        # die) and each lane takes its copy; the next transfer is taken once every copy is
        # gone (one transfer per two clocks at most) ------------------------------------------
        def broadcast(src, name):
            dsts = [getattr(lane, name) for lane in lanes]
            full = Signal(n_lanes, name=f"{name}_full")
            m.d.comb += src.ready.eq(~full.any())
            for j, d in enumerate(dsts):
                copy = Signal.like(src.payload, name=f"{name}_copy{j}")
                m.d.comb += [d.valid.eq(full[j]), d.payload.eq(copy)]
                with m.If(src.valid & src.ready):
                    m.d.sync += [full[j].eq(1), copy.eq(src.payload)]
                with m.Elif(d.ready):
                    m.d.sync += full[j].eq(0)
            return full

        pending = [broadcast(self.i, "i"), broadcast(self.cmd, "cmd"),
                   broadcast(self.cycle_w, "cycle_w")]
        m.d.comb += [lane.learn.eq(self.learn) for lane in lanes]

        # -- host writes to one lane, checked against that lane's sizes. A transfer is
        # taken, with its checks, into a valid flag and a payload register per lane and
        # offered to its lane from there, so each lane sees its own flip-flops and no
        # comparison sits in front of its write logic (one write per two clocks at most:
        # host writes are rare). A transfer no lane may take sets ``error`` ------------------
        p = c.params
        host_held = []
        for name, bound in (("weight_w", lambda lc: (lc.synapses, p["w_max"] + 1)),
                            ("ptr_w", lambda lc: (lc.mcs + 1, lc.synapses + 1)),
                            ("gc_w", lambda lc: (lc.synapses, lc.gcs))):
            src = getattr(self, name)
            pl = src.payload
            held = Signal(n_lanes, name=f"{name}_held")
            bad = Signal(name=f"{name}_bad")
            host_held += [held, bad]
            m.d.comb += src.ready.eq(~held.any() & ~bad)
            ok = Cat((pl.lane == j) & (pl.addr < bound(lc)[0]) & (pl.data < bound(lc)[1])
                     for j, lc in enumerate(self._lane_cfgs))
            with m.If(src.valid & src.ready):
                m.d.sync += [held.eq(ok), bad.eq(~ok.any())]
            with m.If(bad):
                m.d.sync += [bad.eq(0), error.eq(1)]
            for j, lane in enumerate(lanes):
                dst = getattr(lane, name)
                copy = Signal.like(pl, name=f"{name}_pl{j}")
                with m.If(src.valid & src.ready):
                    m.d.sync += copy.eq(pl)
                m.d.comb += [dst.valid.eq(held[j]), dst.payload.addr.eq(copy.addr),
                             dst.payload.data.eq(copy.data)]
                with m.If(dst.valid & dst.ready):
                    m.d.sync += held[j].eq(0)

        # -- weight reads: one at a time, the request taken with its checks into a flag and
        # an address register per lane (as the writes), answered by the lane asked ----------
        rq, rs = self.weight_rq, self.weight_rs
        rq_pending = Signal()                          # from the request to the answer
        rq_held = Signal(n_lanes)
        m.d.comb += rq.ready.eq(~rq_pending)
        ok = Cat((rq.payload.lane == j) & (rq.payload.addr < lc.synapses)
                 for j, lc in enumerate(self._lane_cfgs))
        with m.If(rq.valid & ~rq_pending):
            m.d.sync += rq_pending.eq(1)
            with m.If(ok.any()):
                m.d.sync += rq_held.eq(ok)
            with m.Else():                             # answered by lane 0, synapse 0
                m.d.sync += [rq_held.eq(1), error.eq(1)]
        for j, lane in enumerate(lanes):
            rq_addr = Signal.like(rq.payload.addr, name=f"rq_addr{j}")
            with m.If(rq.valid & ~rq_pending):
                m.d.sync += rq_addr.eq(Mux(ok.any(), rq.payload.addr, 0))
            m.d.comb += [lane.weight_rq.valid.eq(rq_held[j]),
                         lane.weight_rq.payload.eq(rq_addr)]
            with m.If(lane.weight_rq.valid & lane.weight_rq.ready):
                m.d.sync += rq_held[j].eq(0)
        for j, lane in enumerate(lanes):
            with m.If(lane.weight_rs.valid):
                m.d.comb += [rs.valid.eq(1), rs.payload.eq(lane.weight_rs.payload),
                             lane.weight_rs.ready.eq(rs.ready)]
        with m.If(rs.valid & rs.ready):
            m.d.sync += rq_pending.eq(0)

        none_held = ~Cat(*host_held).any()

        # -- the GC spikes merged: lane j's next spike (s, i) is GC i * lanes + j of step s.
        # It goes out when it is the first, in (step, GC) order, of every lane's next spike,
        # and no lane without a spike waiting can still send an earlier one: such a lane's
        # step counter has passed s. The counter moves at least four cycles after the FIFO
        # shows the GC pass's last spike of the step; it is registered twice more (a late
        # counter only holds a spike back). --------------------------------------------------
        heads = [lane.o for lane in lanes]
        t_late = []
        for j, lane in enumerate(lanes):
            t1 = Signal(sbits, name=f"t{j}_d1")
            t2 = Signal(sbits, name=f"t{j}_d2")
            m.d.sync += [t1.eq(lane.step), t2.eq(t1)]
            t_late.append(t2)
        win = Signal(n_lanes)
        for j, hj in enumerate(heads):
            beats = [hj.valid]
            for k, hk in enumerate(heads):
                if k == j:
                    continue
                sj, ij = hj.payload.step, hj.payload.gc
                sk, ik = hk.payload.step, hk.payload.gc
                earlier = _signed_less(m, sj, sk, sbits, f"d{j}_{k}")
                same = (sj == sk) & ((ij < ik) | ((ij == ik) if j < k else 0))
                before = _signed_less(m, sj, t_late[k], sbits, f"e{j}_{k}")
                beats.append(Mux(hk.valid, earlier | same, before))
            m.d.comb += win[j].eq(Cat(*beats).all())
        out_v = Signal()
        out = Signal(gc_spike_layout(c))
        take = Signal()
        m.d.comb += [take.eq(win.any() & (~out_v | self.o.ready)),
                     self.o.valid.eq(out_v), self.o.payload.eq(out)]
        for j, hj in enumerate(heads):
            m.d.comb += hj.ready.eq(take & win[j])
            with m.If(take & win[j]):
                m.d.sync += [out.step.eq(hj.payload.step),
                             out.gc.eq(hj.payload.gc * n_lanes + j)]
        with m.If(take):
            m.d.sync += out_v.eq(1)
        with m.Elif(self.o.ready):
            m.d.sync += out_v.eq(0)

        # -- the GC->MC path (not built): each lane would count, per MC, its GCs g that are
        # on or rebounding (GC g's MC is g % mcs, i.e. (local * lanes + j) % mcs); the
        # per-MC counts of the lanes are summed here before the weight product and the
        # saturation to the MC array's extra-current format. ---------------------------------

        # -- the step counter: the slowest lane's (modular minimum) ------------------------
        slow = lanes[0].step
        for j, lane in enumerate(lanes[1:], 1):
            nxt = Signal(sbits, name=f"slow{j}")
            m.d.comb += nxt.eq(Mux(_signed_less(m, lane.step, slow, sbits, f"s{j}"),
                                   lane.step, slow))
            slow = nxt
        step = Signal(sbits)
        m.d.sync += step.eq(slow)
        m.d.comb += self.step.eq(step)

        m.d.comb += self.idle.eq(Cat(lane.idle for lane in lanes).all() & ~out_v & ~rq_pending
                                 & ~Cat(*pending).any() & none_held)
        return m
