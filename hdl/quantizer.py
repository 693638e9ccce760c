"""The phase quantizer in hardware: one MC drive and spike phase per clock (docs/model.md 5, 6, 17).

Bit-exact twin: :class:`hetq.golden.fixed.quantizer.QuantizerModel`; configuration:
:class:`hetq.golden.fixed.quantizer.QuantizerConfig` (sizes, formats, normaliser lanes, the
pipeline's stages and latency).
"""

from amaranth import Cat, Const, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.neuron import PhaseTable
from ..golden.fixed.quantizer import COMPARE_PIECE, QuantizerConfig
from .fifo import OutputFIFO
from .kit import (CheckedComponent, RegisteredRead, RegisterSlice, index_bits, register,
                  write_layout)
from .normaliser import Normaliser
from .normaliser import output_layout as normalised_layout

__all__ = ["PhaseQuantizer", "SensorQuantizer", "output_layout", "weight_write_layout",
           "threshold_write_layout"]

#: The multiplier is built from 16 x 16 partial products.
CHUNK = 16


def _pieces(width):
    return list(range(0, width, COMPARE_PIECE)) + [width]


def output_layout(config):
    """The payload of the quantizer's output stream (one transfer per MC)."""
    return data.StructLayout({
        "mc": unsigned(index_bits(config.mcs)),
        "drive": unsigned(config.fmt.drive_bits),
        "phase": unsigned(config.phase_bits),
        "last": unsigned(1),
    })


def weight_write_layout(config):
    """A weight table write: ``addr`` an MC row, ``data`` its code (UQ(Iw.Fw))."""
    return write_layout(config.weight_addr_bits, config.fmt.weight_bits)


def threshold_write_layout(config):
    """A threshold write: ``addr`` the threshold index, ``data`` its drive code (UQ(Ic.Fc))."""
    return write_layout(config.threshold_addr_bits, config.fmt.drive_bits)


def _chunks(value, width):
    return [(lo, value[lo:min(lo + CHUNK, width)]) for lo in range(0, width, CHUNK)]


def _tree_sum(terms):
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


def _check(config, weights, table):
    if not isinstance(config, QuantizerConfig):
        raise TypeError(f"config must be a QuantizerConfig, not {type(config).__name__}")
    return config.check_weights(weights), config.check_table(table)


class PhaseQuantizer(CheckedComponent):
    """Drive ``c = w*x`` and spike phase of every MC of a sample, one MC per clock.

    A normalised sample goes into a one-sample input buffer (``i.ready`` is high while it is
    empty and no write window is open, see below) and from there to the issue stage, which walks the MC rows ``r = D*i + k`` in
    ascending order, one per cycle (II = 1); the buffered next sample starts right after the
    last MC of the current one, so back-to-back samples take ``sensors * duplication`` cycles
    each.

    The pipeline has no clock enables: every MC issued runs through all :attr:`stages`
    stages into an output FIFO (block RAM), and an MC is issued only when a FIFO place is
    reserved for it (credits), so back-pressure on ``o`` stops the issue stage and nothing
    else. Stages: weight table read (block RAM) and input select, a register after the RAM,
    multiplier input registers, 16 x 16 partial products (DSP blocks), the products in the
    fabric, two adder stages, floor shift and saturation to the drive format, comparison with
    every threshold (in pieces of 6 bits, low piece first, one stage each), and the count of
    thresholds reached (in two steps) to the phase.

    Weights and thresholds are run-time tables: ``weight_w`` writes one entry of the weight
    RAM, ``threshold_w`` one threshold register; a write takes effect one cycle after its
    transfer. A write is taken only between samples, in a write window: a cycle after one in
    which the write was offered and no sample was offered, buffered or being processed (every
    MC already past the comparators); ``i.ready`` is low during the window. Samples have
    priority: a write waits for a gap in the sample stream. Samples taken before a write use
    the old table, samples taken after it the new one. Writes to addresses beyond a table are
    taken and dropped.

    Parameters
    ----------
    config : QuantizerConfig
        Sizes and formats (the normaliser lanes are not used by the bare quantizer).
    weights : array of int, optional
        Initial weight table codes (length S*D, UQ(Iw.Fw)); all zero by default.
    table : PhaseTable, optional
        Initial thresholds; by default the format's
        (:func:`~hetq.golden.fixed.neuron.phase_thresholds`).

    Members
    -------
    i : ``In(stream.Signature(normaliser.output_layout(config)))``
        Normalised inputs, UQ1.Fx each (as the :class:`~.normaliser.Normaliser` produces).
    o : ``Out(stream.Signature(output_layout(config)))``
        One transfer per MC: ``mc`` the row index D*i + k, ``drive`` the drive code
        UQ(Ic.Fc), ``phase`` 0 (silent) or the spike phase 2..17, ``last`` high on the
        final MC of a sample.
    weight_w : ``In(stream.Signature(weight_write_layout(config)))``
        Weight table writes; an address beyond the table is taken and dropped.
    threshold_w : ``In(stream.Signature(threshold_write_layout(config)))``
        Threshold writes; entry j is the smallest drive of phase ``top_phase - j`` or earlier.
    weight_r, weight_d : ``In(stream.Signature(unsigned(weight_addr_bits)))``, ``Out(...(Iw + Fw))``
        Weight table reads: an address in, its code out (0 beyond the table). Served, like
        writes, in a window between samples, after every write offered before them.
    threshold_r, threshold_d
        Threshold reads likewise (codes UQ(Ic.Fc)).

    Raises
    ------
    TypeError, ValueError
        A config that is not a QuantizerConfig, or tables that do not fit the formats.
    """

    @classmethod
    def check(cls, config, *, weights=None, table=None):
        return _check(config, weights, table)

    def __init__(self, config, *, weights=None, table=None):
        self._weights, self._table = self.check(config, weights=weights, table=table)
        self._config = config
        super().__init__({
            "i": In(stream.Signature(normalised_layout(config.normaliser))),
            "o": Out(stream.Signature(output_layout(config))),
            "weight_w": In(stream.Signature(weight_write_layout(config))),
            "threshold_w": In(stream.Signature(threshold_write_layout(config))),
            "weight_r": In(stream.Signature(unsigned(config.weight_addr_bits))),
            "weight_d": Out(stream.Signature(unsigned(config.fmt.weight_bits))),
            "threshold_r": In(stream.Signature(unsigned(config.threshold_addr_bits))),
            "threshold_d": Out(stream.Signature(unsigned(config.fmt.drive_bits))),
        })

    @property
    def config(self):
        return self._config

    @property
    def table(self):
        """The initial :class:`~hetq.golden.fixed.neuron.PhaseTable`."""
        return PhaseTable(self._table.thresholds.copy(), self._table.top_phase)

    @property
    def weights(self):
        """The initial weight codes."""
        return self._weights.copy()

    @property
    def latency(self):
        """Cycles from the transfer of a sample on ``i`` (everything idle) to the cycle its
        first MC is valid on ``o`` (:attr:`~hetq.golden.fixed.quantizer.QuantizerConfig.\
latency`)."""
        return self._config.latency

    def elaborate(self, platform):
        if self._config.datapath == "serial":
            return self._elaborate_serial()
        return self._elaborate_pipelined()

    def _elaborate_pipelined(self):
        m = Module()
        cfg = self._config
        fmt, n, nsens, dup = cfg.fmt, cfg.mcs, cfg.sensors, cfg.duplication
        levels = self._table.levels

        # -- issue: a one-sample input buffer, the current sample, the MC row counters -------
        pending = Signal(data.ArrayLayout(unsigned(fmt.x_bits), nsens), reset_less=True)
        buffered = Signal()                            # `pending` holds a sample
        active = Signal()
        xs = Signal(data.ArrayLayout(unsigned(fmt.x_bits), nsens), reset_less=True)
        row = Signal(range(n))
        sensor = Signal(range(nsens))
        dup_k = Signal(range(dup))
        final = Signal(init=int(n == 1))               # `row` is the last MC of the sample
        # credits: `in_use` counts MCs issued and not yet taken from the FIFO; `credit` is
        # computed from the registered count, so it lags a cycle (a place is kept in reserve)
        in_use = Signal(range(cfg.FIFO_DEPTH + 1))
        credit = Signal(init=1)
        issue = Signal()
        start = Signal()
        writable = Signal()
        m.d.comb += [
            self.i.ready.eq(~buffered & ~writable),
            issue.eq(active & credit),
            start.eq(buffered & (~active | (issue & final))),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [pending.eq(self.i.payload), buffered.eq(1)]
        with m.If(issue):
            with m.If(final):
                m.d.sync += [active.eq(0), row.eq(0), sensor.eq(0), dup_k.eq(0),
                             final.eq(n == 1)]
            with m.Else():
                m.d.sync += [row.eq(row + 1), final.eq(row == n - 2)]
                with m.If(dup_k == dup - 1):
                    m.d.sync += [dup_k.eq(0), sensor.eq(sensor + 1)]
                with m.Else():
                    m.d.sync += dup_k.eq(dup_k + 1)
        with m.If(start):
            m.d.sync += [xs.eq(pending), active.eq(1), buffered.eq(0)]

        # -- pipeline: no clock enables -----------------------------------------------------
        meta_layout = data.StructLayout({"mc": unsigned(index_bits(n)), "last": unsigned(1)})
        stages = []

        def stage(name, prev_valid, prev_meta):
            valid = Signal(name=f"{name}_valid")
            meta = Signal(meta_layout, name=f"{name}_meta", reset_less=True)
            m.d.sync += [valid.eq(prev_valid), meta.eq(prev_meta)]
            stages.append(valid)
            return valid, meta

        def reg(name, value, shape=None):
            return register(m, name, value, shape)

        m.submodules.weights = wmem = Memory(shape=unsigned(fmt.weight_bits), depth=n,
                                             init=[int(w) for w in self._weights])
        rd = wmem.read_port()
        wr = wmem.write_port()

        meta0 = Signal(meta_layout)
        m.d.comb += [meta0.mc.eq(row), meta0.last.eq(final)]
        v1, meta1 = stage("s1", issue, meta0)          # weight RAM read, input select
        x1 = reg("x1", xs[sensor])
        v2, meta2 = stage("s2", v1, meta1)             # a register after the RAM
        w2, x2 = reg("w2", rd.data), reg("x2", x1)

        v3, meta3 = stage("s3", v2, meta2)             # multiplier input registers
        v4, meta4 = stage("s4", v3, meta3)             # 16 x 16 partial products
        products = {}
        for wlo, wc in _chunks(w2, fmt.weight_bits):
            for xlo, xc in _chunks(x2, fmt.x_bits):
                a = reg(f"a_{wlo}_{xlo}", wc)          # one copy per product, so that the
                b = reg(f"b_{wlo}_{xlo}", xc)          # DSP blocks can absorb them
                products.setdefault(wlo + xlo, []).append(reg(f"pp_{wlo}_{xlo}", a * b))

        v5, meta5 = stage("s5", v4, meta4)             # the products in the fabric
        products = {shift: [reg(f"{t.name}_f", t) for t in terms]
                    for shift, terms in products.items()}
        v6, meta6 = stage("s6", v5, meta5)             # add products of equal weight
        sums = {shift: reg(f"sum_{shift}", terms[0] if len(terms) == 1 else terms[0] + terms[1])
                for shift, terms in sorted(products.items())}

        v7, meta7 = stage("s7", v6, meta6)             # the whole product
        base = sums[0]
        if 2 * CHUNK in sums:
            base = Cat(sums[0], sums[2 * CHUNK])       # sums[0] is exactly 32 bits wide
        whole = Cat(base[:CHUNK], base[CHUNK:] + sums[CHUNK]) if CHUNK in sums else base
        product = reg("product", whole, fmt.product_bits)

        v8, meta8 = stage("s8", v7, meta7)             # floor shift and saturation
        lo = fmt.product_shift
        hi = lo + fmt.drive_bits
        over = product[hi:].any() if len(product) > hi else Const(0)
        drive = reg("drive", Mux(over, fmt.drive_max, product[lo:hi]), fmt.drive_bits)

        # Thresholds are kept inverted (~T), so that c >= T is the carry out of c + ~T + 1
        # with no inverter in front of the carry chain.
        mask = (1 << fmt.drive_bits) - 1
        thresholds = [Signal(fmt.drive_bits, init=mask ^ int(t), name=f"threshold{j}_n")
                      for j, t in enumerate(self._table.thresholds)]

        # c >= T piecewise, low piece first, so that no carry chain is longer than a piece:
        # with g = (c_lo >= T_lo),  c >= T  <=>  2*c_hi + g >= 2*T_hi + 1  (repeatedly)
        cuts = _pieces(fmt.drive_bits)
        one, nil = Const(1, 1), Const(0, 1)
        ge, cmp_drive, cmp_valid, cmp_meta = None, drive, v8, meta8
        feeding = [v8]                                 # stages whose next step reads thresholds
        for p, (lo_p, hi_p) in enumerate(zip(cuts[:-1], cuts[1:])):
            width = hi_p - lo_p
            cmp_valid, cmp_meta = stage(f"cmp{p}", cmp_valid, cmp_meta)
            if ge is None:
                terms = [(Cat(one, cmp_drive[lo_p:hi_p]) + Cat(one, t[lo_p:hi_p]))[width + 1]
                         for t in thresholds]
            else:
                terms = [(Cat(one, ge[j], cmp_drive[lo_p:hi_p])
                          + Cat(one, nil, t[lo_p:hi_p]))[width + 2]
                         for j, t in enumerate(thresholds)]
            ge = reg(f"ge{p}", Cat(terms))
            cmp_drive = reg(f"drive_c{p}", cmp_drive)
            feeding.append(cmp_valid)
        feeding.pop()
        above, drive10, v10, meta10 = ge, cmp_drive, cmp_valid, cmp_meta

        # phase = top + 1 - count(above) = offset + count(not above); 0 when none is above
        v11, meta11 = stage("counts", v10, meta10)     # counts of 4 thresholds each
        offset = self._table.top_phase + 1 - levels
        partial = []
        for g, lo4 in enumerate(range(0, levels, 4)):
            bits = [~above[j] for j in range(lo4, min(lo4 + 4, levels))]
            partial.append(reg(f"zeros{g}", sum(bits, start=Const(offset if g == 0 else 0, 6))))
        silent = reg("silent", above == 0)
        drive11 = reg("drive11", drive10)

        # -- output FIFO, with credits --------------------------------------------------------
        out_layout = self.o.payload.shape()
        result = Signal(out_layout)
        m.d.comb += [
            result.mc.eq(meta11.mc),
            result.last.eq(meta11.last),
            result.drive.eq(drive11),
            result.phase.eq(Mux(silent, 0, _tree_sum(partial))),
        ]
        if len(stages) != cfg.stages:
            raise RuntimeError(f"the pipeline has {len(stages)} stages, its configuration "
                               f"declares {cfg.stages}")
        m.submodules.fifo = fifo = OutputFIFO(Shape.cast(out_layout).width,
                                               (cfg.FIFO_DEPTH - 1).bit_length() - 1)
        pop = Signal()
        m.d.comb += [
            fifo.w.payload.eq(result),
            fifo.w.valid.eq(v11),
            self.o.valid.eq(fifo.r.valid),
            self.o.payload.eq(fifo.r.payload),
            fifo.r.ready.eq(self.o.ready),
            pop.eq(fifo.r.valid & self.o.ready),
        ]
        with m.If(issue & ~pop):
            m.d.sync += in_use.eq(in_use + 1)
        with m.Elif(pop & ~issue):
            m.d.sync += in_use.eq(in_use - 1)
        m.d.sync += credit.eq(in_use < cfg.FIFO_DEPTH - 2)

        # -- table writes, between samples; applied one cycle after the transfer ------------
        # A write window opens (registered) in the cycle after one in which a write was
        # offered, nothing was in flight and no sample was offered; `i.ready` is low while it
        # is open, so nothing is in flight during the window and a sample and a write are
        # never taken together.
        busy = Signal()
        m.d.comb += busy.eq(Cat(buffered, active, v1, v2, v3, v4, v5, v6, v7, *feeding).any())
        m.d.sync += writable.eq(~busy & ~self.i.valid
                                & (self.weight_w.valid | self.threshold_w.valid
                                   | self.weight_r.valid | self.threshold_r.valid))
        m.d.comb += [self.weight_w.ready.eq(writable), self.threshold_w.ready.eq(writable)]
        w_en, t_en = Signal(), Signal()
        w_req = Signal.like(self.weight_w.payload, reset_less=True)
        t_req = Signal.like(self.threshold_w.payload, reset_less=True)
        m.d.sync += [w_en.eq(self.weight_w.valid & writable),
                     t_en.eq(self.threshold_w.valid & writable)]
        with m.If(writable):
            m.d.sync += [w_req.eq(self.weight_w.payload), t_req.eq(self.threshold_w.payload)]
        m.d.comb += [wr.addr.eq(w_req.addr), wr.data.eq(w_req.data),
                     wr.en.eq(w_en & (w_req.addr < n))]          # beyond the table: dropped
        with m.If(t_en):
            with m.Switch(t_req.addr):                   # beyond the table: dropped
                for j, t in enumerate(thresholds):
                    with m.Case(j):
                        m.d.sync += t.eq(~t_req.data)

        # -- table reads, in the same window: after every write offered or just applied, one
        # at a time (a weight read drives the RAM's address for a cycle); beyond a table: 0
        wd_full, td_full = Signal(), Signal()
        # whether a read may be taken is registered (`read_clear`: in the cycle before, no
        # write offered or applied, no read taken, none in flight or held), so that the read
        # ports' handshake sees a register and the window, not the read state's logic
        read_ok, read_clear, w_read = Signal(), Signal(), Signal()
        m.d.sync += read_clear.eq(~self.weight_w.valid & ~self.threshold_w.valid & ~w_en
                                  & ~t_en & ~wd_full & ~td_full & ~w_read
                                  & ~(self.weight_r.valid & read_ok)
                                  & ~(self.threshold_r.valid & self.threshold_r.ready))
        m.d.comb += [
            read_ok.eq(writable & read_clear & ~self.weight_w.valid & ~self.threshold_w.valid),
            self.weight_r.ready.eq(read_ok),
            self.threshold_r.ready.eq(read_ok & ~self.weight_r.valid),
            self.weight_d.valid.eq(wd_full),
            self.threshold_d.valid.eq(td_full),
        ]
        w_in_range = Signal()
        m.d.sync += [w_read.eq(self.weight_r.valid & read_ok),
                     w_in_range.eq(self.weight_r.payload < n)]
        # while the window is open nothing is in flight, so the RAM's address may follow the
        # read port whether or not a read is taken (``writable`` is a register: the address
        # multiplexer sees no read-acceptance logic); the data is taken a cycle after a read is
        m.d.comb += rd.addr.eq(Mux(writable, self.weight_r.payload, row))
        wd = Signal(fmt.weight_bits, reset_less=True)
        td = Signal(fmt.drive_bits, reset_less=True)
        m.d.comb += [self.weight_d.payload.eq(wd), self.threshold_d.payload.eq(td)]
        with m.If(w_read):
            m.d.sync += [wd.eq(Mux(w_in_range, rd.data, 0)), wd_full.eq(1)]
        with m.Elif(self.weight_d.ready):
            m.d.sync += wd_full.eq(0)
        with m.If(self.threshold_r.valid & self.threshold_r.ready):
            m.d.sync += [td.eq(0), td_full.eq(1)]
            with m.Switch(self.threshold_r.payload):
                for j, t in enumerate(thresholds):
                    with m.Case(j):
                        m.d.sync += td.eq(~t)
        with m.Elif(self.threshold_d.ready):
            m.d.sync += td_full.eq(0)
        return m

    def _elaborate_serial(self):
        m = Module()
        cfg = self._config
        fmt, n, nsens, dup = cfg.fmt, cfg.mcs, cfg.sensors, cfg.duplication
        table = self._table
        levels = table.levels
        xb, wb, db = fmt.x_bits, fmt.weight_bits, fmt.drive_bits

        # -- the tables: weights and thresholds in block RAM ---------------------------------
        # Each read port is an asynchronous read and a register (with enable), which Yosys
        # merges into the block RAM's synchronous read. A table is never read and written in
        # the same cycle with the read data used (writes happen in a window in which only
        # the table reads run, and a read is taken only in a cycle without a write), so
        # `no_rw_check` spares the emulation of read-during-write (a delayed write and a
        # bypass) that Yosys would add otherwise.
        attrs = {"no_rw_check": 1}
        m.submodules.weights = wmem = Memory(shape=unsigned(wb), depth=n, attrs=attrs,
                                             init=[int(w) for w in self._weights])
        m.submodules.thresholds = tmem = Memory(shape=unsigned(db), depth=levels, attrs=attrs,
                                                init=[int(t) for t in table.thresholds])
        w_rd, w_wr = RegisteredRead(m, wmem, "w_rd"), wmem.write_port()
        t_rd, t_wr = RegisteredRead(m, tmem, "t_rd"), tmem.write_port()

        # -- the sample: one register, shifted down by one sensor after its D MCs ------------
        xs = Signal(nsens * xb, reset_less=True)
        loaded = Signal()                              # `xs` holds MCs still to be started
        row = Signal(range(n))                         # the next MC to start
        dup_k = Signal(range(dup))
        final = Signal(init=int(n == 1))               # `row` is the last MC of the sample

        # -- the multiplier: P = (accumulator, multiplier bits), one shift-add step a cycle --
        # The weight of the next MC is fetched from the RAM (its output is then held) while
        # the last step of the current one runs. A start loads P with (0, x); each step adds
        # `wm` (the weight masked by the lowest bit of P, registered a cycle ahead) to the
        # accumulator and shifts P right by one; after x_bits steps P = w * x exactly.
        P = Signal(xb + wb, reset_less=True)
        wm = Signal(wb, reset_less=True)
        step = Signal(range(xb))
        mul = Signal()                                 # a multiply is running
        last_step = Signal()                           # ... and this is its last step
        fetched = Signal()                             # the RAM output holds the next weight
        pfull = Signal()                               # P holds an MC's product
        rmode = Signal()                               # the fetch / multiply / P is a read

        # -- the compare: the drive against every threshold, one a cycle; the output ---------
        d = Signal(db, reset_less=True)                # the drive (also the threshold read)
        scan = Signal()                                # reading thresholds 1..levels-1
        ta = Signal(range(max(levels, 2)))             # threshold address read this cycle
        rvalid, rlast = Signal(), Signal()             # the RAM output holds a threshold
        tq_n = Signal(db, reset_less=True)             # the threshold, registered inverted
        cvalid, clast = Signal(), Signal()             # `tq` holds a threshold to compare
        reached, glast = Signal(), Signal()            # the compare's result, registered
        ph = Signal(range(table.top_phase + 2), reset_less=True)
        hit = Signal(reset_less=True)                  # some threshold was reached
        ovalid = Signal()
        cfree = Signal(init=1)                         # the compare and the output are idle
        o_mc = Signal(range(n))
        r_req = Signal()                               # a weight read to fetch
        r_addr = Signal.like(self.weight_r.payload, reset_less=True)
        t_pend = Signal(3)                             # a threshold read: address, data, tq_n
        td_full = Signal()
        t_in_range = Signal()

        writable = Signal()
        reading = Signal()
        fetch, r_issue, start, t_issue, handoff = (Signal(name=k) for k in (
            "fetch", "r_issue", "start", "t_issue", "handoff"))
        # The control is one or two LUTs deep from flip-flops: `fetched` implies no multiply
        # is running, the compare side's idleness is registered (a hand-over waits a cycle
        # after the output was taken), the sensor shift of `xs` follows the start a cycle
        # later (a sample taken in that cycle has priority: the shift is then not needed).
        m.d.comb += [
            reading.eq(rmode | t_pend.any() | td_full),
            self.i.ready.eq(~loaded & ~writable & ~reading),
            fetch.eq(loaded & ~fetched & (~mul | last_step)),
            handoff.eq(pfull & cfree),
            start.eq(fetched & (rmode | ~pfull | cfree)),
        ]

        # the sample and the MC counters (advanced when an MC starts)
        take, shift = Signal(), Signal()
        m.d.comb += take.eq(self.i.valid & self.i.ready)
        m.d.sync += shift.eq(start & ~rmode & (dup_k == dup - 1))
        with m.If(take | shift):                       # one 2:1 choice per bit, with enable
            m.d.sync += xs.eq(Mux(take, self.i.payload, xs >> xb))
        with m.If(take):
            m.d.sync += loaded.eq(1)
        with m.If(start & ~rmode):
            with m.If(final):
                m.d.sync += [loaded.eq(0), row.eq(0), dup_k.eq(0), final.eq(n == 1)]
            with m.Else():
                m.d.sync += [row.eq(row + 1), final.eq(row == n - 2)]
                with m.If(dup_k == dup - 1):
                    m.d.sync += dup_k.eq(0)
                with m.Else():
                    m.d.sync += dup_k.eq(dup_k + 1)

        # fetch, start, steps
        m.d.comb += [
            w_rd.en.eq(fetch | r_req),
            w_rd.addr.eq(Mux(r_req, r_addr, row)),
        ]
        with m.If(fetch | r_req):
            m.d.sync += fetched.eq(1)
        with m.Elif(start):
            m.d.sync += fetched.eq(0)
        w_in_range = Signal(reset_less=True)
        m.d.sync += r_req.eq(r_issue)
        with m.If(r_issue):
            m.d.sync += [r_addr.eq(self.weight_r.payload), rmode.eq(1),
                         w_in_range.eq(self.weight_r.payload < n)]
        with m.Elif(self.weight_d.valid & self.weight_d.ready):
            m.d.sync += rmode.eq(0)
        # a weight read multiplies by 1 (0 beyond the table): P = w, read out of P
        first = Mux(rmode, w_in_range, xs[:xb])
        with m.If(start):
            m.d.sync += [P.eq(first), wm.eq(Mux(first[0], w_rd.data, 0)), mul.eq(1),
                         step.eq(0), last_step.eq(xb == 1)]
        with m.Elif(mul):
            m.d.sync += [P.eq(Cat(P[1:xb], P[xb:] + wm)), wm.eq(Mux(P[1], w_rd.data, 0)),
                         step.eq(step + 1), last_step.eq(step == xb - 2)]
            with m.If(last_step):
                m.d.sync += [mul.eq(0), last_step.eq(0)]
                with m.If(~rmode):
                    m.d.sync += pfull.eq(1)
        with m.If(handoff):
            m.d.sync += pfull.eq(0)

        # hand-over: the saturated drive into `d`, then the thresholds, one a cycle: read,
        # registered, compared
        lo, hi = fmt.product_shift, fmt.product_shift + db
        over = P[hi:].any() if len(P) > hi else Const(0)
        m.d.comb += [t_rd.en.eq(1), t_rd.addr.eq(ta)]
        m.d.sync += [rvalid.eq(handoff | scan),
                     rlast.eq(Mux(handoff, levels == 1, scan & (ta == levels - 1))),
                     tq_n.eq(~t_rd.data), cvalid.eq(rvalid), clast.eq(rlast)]
        with m.If(handoff):
            m.d.sync += [d.eq(Mux(over, fmt.drive_max, P[lo:hi])), ph.eq(table.top_phase + 1),
                         hit.eq(0)]
            if levels > 1:
                m.d.sync += [scan.eq(1), ta.eq(1)]
        with m.Elif(t_pend[2]):
            m.d.sync += d.eq(Mux(t_in_range, ~tq_n, 0))
        with m.If(scan):
            with m.If(ta == levels - 1):
                m.d.sync += [scan.eq(0), ta.eq(0)]
            with m.Else():
                m.d.sync += ta.eq(ta + 1)
        with m.Elif(t_issue):                          # a threshold read: its address
            m.d.sync += ta.eq(self.threshold_r.payload)
        with m.Elif(t_pend[0]):
            m.d.sync += ta.eq(0)
        # d >= T is the carry out of d + ~T + 1: no inverter in front of the carry chain
        ge = (Cat(Const(1, 1), d) + Cat(Const(1, 1), tq_n))[db + 1]
        # the result is registered before it counts (the carry chain alone nearly fills a
        # cycle at 48 MHz on the iCE40)
        m.d.sync += [reached.eq(cvalid & ge), glast.eq(cvalid & clast)]
        with m.If(reached):
            m.d.sync += [ph.eq(ph - 1), hit.eq(1)]
        with m.If(glast):
            m.d.sync += ovalid.eq(1)
        with m.Elif(self.o.ready):
            m.d.sync += ovalid.eq(0)
        with m.If(ovalid & self.o.ready):
            m.d.sync += o_mc.eq(Mux(o_mc == n - 1, 0, o_mc + 1))
        # idle next cycle: no hand-over now, no threshold read or compare left, the output
        # not waiting (or taken now)
        m.d.sync += cfree.eq(~handoff & ~scan & ~rvalid & ~(cvalid & clast) & ~glast
                             & ~(ovalid & ~self.o.ready))
        m.d.comb += [
            self.o.valid.eq(ovalid),
            self.o.payload.mc.eq(o_mc),
            self.o.payload.drive.eq(d),
            self.o.payload.phase.eq(Mux(hit, ph, 0)),
            self.o.payload.last.eq(o_mc == n - 1),
        ]

        # -- table writes, between samples: straight into the RAMs --------------------------
        # The window opens (registered) in the cycle after one in which a write or read was
        # offered, nothing was in flight or waiting on `o`, and no sample was offered.
        busy = Signal()
        m.d.comb += busy.eq(loaded | mul | pfull | ~cfree)
        m.d.sync += writable.eq(~busy & ~self.i.valid
                                & (self.weight_w.valid | self.threshold_w.valid
                                   | self.weight_r.valid | self.threshold_r.valid))
        # No write is taken while a read is in flight: its RAM read may come a cycle or two
        # after it was taken, and a write to the address in that cycle would be a collision
        # (undefined with `no_rw_check`); the write waits for the read's data to be taken.
        write_ok = Signal()
        m.d.comb += [
            write_ok.eq(writable & ~reading),
            self.weight_w.ready.eq(write_ok), self.threshold_w.ready.eq(write_ok),
            w_wr.addr.eq(self.weight_w.payload.addr), w_wr.data.eq(self.weight_w.payload.data),
            w_wr.en.eq(self.weight_w.valid & write_ok & (self.weight_w.payload.addr < n)),
            t_wr.addr.eq(self.threshold_w.payload.addr),
            t_wr.data.eq(self.threshold_w.payload.data),
            t_wr.en.eq(self.threshold_w.valid & write_ok
                       & (self.threshold_w.payload.addr < levels)),
        ]

        # -- table reads, in the same window, after every write offered, one at a time: a
        # weight read runs the multiplier (w * 1, out of P), a threshold read goes through
        # `tq_n` and `d`; the request is registered, the RAM read a cycle later. Whether a
        # read may be taken is registered (`read_clear`: in the cycle before, no write was
        # offered, no read taken or in flight), so that the request ports see two gates to
        # the read's registers, not the read state's logic. A write first offered in the
        # cycle a read is taken goes in with it; the read, a cycle later, sees it.
        read_ok, read_clear = Signal(), Signal()
        m.d.sync += read_clear.eq(~self.weight_w.valid & ~self.threshold_w.valid & ~mul
                                  & ~reading & ~r_issue & ~t_issue)
        m.d.comb += [
            read_ok.eq(writable & read_clear),
            self.weight_r.ready.eq(read_ok),
            self.threshold_r.ready.eq(read_ok & ~self.weight_r.valid),
            r_issue.eq(self.weight_r.valid & read_ok),
            t_issue.eq(self.threshold_r.valid & self.threshold_r.ready),
            self.weight_d.valid.eq(rmode & ~r_req & ~fetched & ~mul),
            self.weight_d.payload.eq(P[:wb]),
            self.threshold_d.valid.eq(td_full),
            self.threshold_d.payload.eq(d),
        ]
        m.d.sync += t_pend.eq(Cat(t_issue, t_pend[:2]))
        if levels < 1 << cfg.threshold_addr_bits:
            with m.If(t_issue):
                m.d.sync += t_in_range.eq(self.threshold_r.payload < levels)
        else:
            m.d.comb += t_in_range.eq(1)               # the port carries no address beyond
        with m.If(t_pend[2]):
            m.d.sync += td_full.eq(1)
        with m.Elif(self.threshold_d.ready):
            m.d.sync += td_full.eq(0)
        return m


class SensorQuantizer(CheckedComponent):
    """Raw sensor codes in, one MC drive and phase per clock out: a :class:`~.normaliser.\
Normaliser` feeding a :class:`PhaseQuantizer`.

    Each write port has a one-entry :class:`~.kit.RegisterSlice`. While a write waits there,
    no new sample is accepted; it reaches the quantizer's tables once every sample taken
    before it (or in the same cycle) has passed the comparators. So the golden model applies
    the transfers on ``i``, ``weight_w`` and ``threshold_w`` in the order they were taken, a
    sample before a write taken in the same cycle. Back to back, a sample takes
    :attr:`~hetq.golden.fixed.quantizer.QuantizerConfig.period` cycles.

    Parameters
    ----------
    config : QuantizerConfig
        Sizes, formats (``fmt.sensor_bits`` sets the input width) and the normaliser's lanes.
    weights, table
        As for :class:`PhaseQuantizer`.

    Members
    -------
    i : ``In(stream.Signature(normaliser.input_layout(config.normaliser)))``
        Raw sensor codes, UQ(B.0) each, one sample per transfer.
    o, weight_w, threshold_w, weight_r, weight_d, threshold_r, threshold_d
        As for :class:`PhaseQuantizer` (reads pass a register slice as writes do).
    x : ``Out(StructLayout({"valid": 1, "data": normaliser.output_layout(config.normaliser)}))``
        The normalised inputs of each sample (UQ1.Fx), with ``valid`` high in the cycle they
        enter the quantizer (no back-pressure); ``data`` keeps them until the next sample is
        taken on ``i`` (the normaliser's result holds), so a consumer needs no copy.
    """

    @classmethod
    def check(cls, config, *, weights=None, table=None):
        return _check(config, weights, table)

    def __init__(self, config, *, weights=None, table=None):
        self.check(config, weights=weights, table=table)
        self._config = config
        self._normaliser = Normaliser(config.normaliser)
        self._quantizer = PhaseQuantizer(config, weights=weights, table=table)
        q = self._quantizer.signature.members
        super().__init__({
            "i": self._normaliser.signature.members["i"],
            "o": q["o"],
            **{name: q[name] for name in ("weight_w", "threshold_w", "weight_r", "weight_d",
                                          "threshold_r", "threshold_d")},
            "x": Out(data.StructLayout({"valid": 1,
                                        "data": normalised_layout(config.normaliser)})),
        })

    config = property(lambda self: self._config)
    normaliser = property(lambda self: self._normaliser)
    quantizer = property(lambda self: self._quantizer)
    table = property(lambda self: self._quantizer.table)
    weights = property(lambda self: self._quantizer.weights)

    @property
    def latency(self):
        """Cycles from a sample's transfer on ``i`` (everything idle) to its first MC on ``o``
        (:attr:`~hetq.golden.fixed.quantizer.QuantizerConfig.sensor_latency`)."""
        return self._config.sensor_latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.normaliser = norm = self._normaliser
        m.submodules.quantizer = quant = self._quantizer
        wiring.connect(m, norm.o, quant.i)
        wiring.connect(m, wiring.flipped(self.o), quant.o)

        # A write (or read) sits in its slice until the normaliser is empty (and the quantizer
        # takes it only when free), i.e. after every sample taken before it or in the same
        # cycle; no sample is taken while a slice is full.
        m.d.comb += [self.x.data.eq(norm.o.payload),
                     self.x.valid.eq(norm.o.valid & norm.o.ready)]
        for port in ("weight_d", "threshold_d"):
            wiring.connect(m, wiring.flipped(getattr(self, port)), getattr(quant, port))
        full = []
        for port in ("weight_w", "threshold_w", "weight_r", "threshold_r"):
            outer, inner = getattr(self, port), getattr(quant, port)
            m.submodules[f"{port}_slice"] = slot = RegisterSlice(outer.payload.shape())
            wiring.connect(m, wiring.flipped(outer), slot.i)
            m.d.comb += [inner.payload.eq(slot.o.payload),
                         inner.valid.eq(slot.o.valid & ~norm.busy),
                         slot.o.ready.eq(inner.ready & ~norm.busy)]
            full.append(slot.o.valid)
            full.append(outer.valid)
        # registered (the 128-bit input register's enable sees one flip-flop, not the slices'
        # handshakes): high in the cycle after a write or read was offered or a slice was
        # full, which covers every cycle a slice is full, and one more after it empties
        hold = Signal()
        m.d.sync += hold.eq(Cat(full).any())
        m.d.comb += [
            norm.i.payload.eq(self.i.payload),
            norm.i.valid.eq(self.i.valid & ~hold),
            self.i.ready.eq(norm.i.ready & ~hold),
        ]
        return m
