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
from .kit import CheckedComponent, RegisterSlice, index_bits, register, write_layout
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
        m.d.comb += rd.addr.eq(row)

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
                                & (self.weight_w.valid | self.threshold_w.valid))
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
    o, weight_w, threshold_w
        As for :class:`PhaseQuantizer`.
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
            "weight_w": q["weight_w"],
            "threshold_w": q["threshold_w"],
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

        # A write sits in its slice until the normaliser is empty (and the quantizer takes it
        # only when free), i.e. after every sample taken before it or in the same cycle; no
        # sample is taken while a slice is full.
        full = []
        for port in ("weight_w", "threshold_w"):
            outer, inner = getattr(self, port), getattr(quant, port)
            m.submodules[f"{port}_slice"] = slot = RegisterSlice(outer.payload.shape())
            wiring.connect(m, wiring.flipped(outer), slot.i)
            m.d.comb += [inner.payload.eq(slot.o.payload),
                         inner.valid.eq(slot.o.valid & ~norm.busy),
                         slot.o.ready.eq(inner.ready & ~norm.busy)]
            full.append(slot.o.valid)
        hold = Signal()
        m.d.comb += [
            hold.eq(full[0] | full[1]),
            norm.i.payload.eq(self.i.payload),
            norm.i.valid.eq(self.i.valid & ~hold),
            self.i.ready.eq(norm.i.ready & ~hold),
        ]
        return m
