"""The phase quantizer in hardware: one MC drive and spike phase per clock (MODEL.md 5, 6, 17).

Bit-exact twin: :mod:`hetq.golden.fixed.quantizer` (:class:`~hetq.golden.fixed.quantizer.QuantizerModel`).
"""

import numpy as np
from amaranth import Cat, Const, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import DEFAULT_FORMAT
from ..golden.fixed.neuron import PhaseTable, phase_thresholds
from ..golden.checks import check_int
from .fifo import OutputFIFO
from .normaliser import Normaliser, check_format, check_sensors, normaliser_latency

__all__ = ["PhaseQuantizer", "SensorQuantizer", "output_layout", "lanes_for", "MAX_OPERAND_BITS"]

#: The multiplier is built from 16 x 16 partial products; each operand may have two chunks.
CHUNK = 16
MAX_OPERAND_BITS = 2 * CHUNK
#: Threshold comparisons are made in pieces of at most this many bits, one stage each.
COMPARE_PIECE = 6


def _pieces(width):
    return list(range(0, width, COMPARE_PIECE)) + [width]


def _bits(n):
    """Bits of an index in range(n) (at least 1)."""
    return max(1, (n - 1).bit_length())


def output_layout(sensors, duplication, fmt, top_phase):
    """The payload of the quantizer's output stream (one transfer per MC)."""
    return data.StructLayout({
        "mc": unsigned(_bits(sensors * duplication)),
        "drive": unsigned(fmt.drive_bits),
        "phase": unsigned(int(top_phase).bit_length()),
        "last": unsigned(1),
    })


def _write_layout(addr_bits, data_bits):
    return data.StructLayout({"addr": unsigned(addr_bits), "data": unsigned(data_bits)})


def _chunks(value, width):
    return [(lo, value[lo:min(lo + CHUNK, width)]) for lo in range(0, width, CHUNK)]


def _tree_sum(terms):
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


def lanes_for(sensors, duplication, fmt=DEFAULT_FORMAT):
    """The fewest normaliser lanes (a divisor of ``sensors``) whose period does not exceed the
    ``sensors * duplication`` cycles the quantizer spends on a sample (all lanes if none)."""
    for lanes in range(1, sensors + 1):
        if sensors % lanes == 0:
            if normaliser_latency(sensors, fmt, lanes) + 1 <= sensors * duplication:
                return lanes
    return sensors


class PhaseQuantizer(wiring.Component):
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
    sensors : int
        S, sensors per sample (1..64).
    duplication : int
        D, MCs per sensor (1..1024).
    fmt : FixedFormat
        Widths (``x_frac``, ``weight_*``, ``drive_*``); weight and input codes must each fit
        32 bits.
    weights : array of int, optional
        Initial weight table codes (length S*D, UQ(Iw.Fw)); all zero by default.
    table : PhaseTable, optional
        Initial thresholds; by default :func:`~hetq.golden.fixed.neuron.phase_thresholds` of ``fmt``.

    Members
    -------
    i : ``In(stream.Signature(ArrayLayout(unsigned(Fx + 1), S)))``
        Normalised inputs, UQ1.Fx each (as the :class:`~.normaliser.Normaliser` produces).
    o : ``Out(stream.Signature(StructLayout({"mc", "drive", "phase", "last"})))``
        One transfer per MC: ``mc`` the row index D*i + k, ``drive`` the drive code
        UQ(Ic.Fc), ``phase`` 0 (silent) or the spike phase 2..17, ``last`` high on the
        final MC of a sample.
    weight_w : ``In(stream.Signature(StructLayout({"addr": mc bits, "data": Iw + Fw})))``
        Weight table writes.
    threshold_w : ``In(stream.Signature(StructLayout({"addr": level bits, "data": Ic + Fc})))``
        Threshold writes; entry j is the smallest drive of phase ``top_phase - j`` or earlier.

    Raises
    ------
    TypeError, ValueError
        Bad parameters, or tables that do not fit the formats.
    """

    #: Output FIFO depth (the issue credits): enough for II = 1 with a ready sink; its block
    #: RAM part then has 32 entries, a power of two (no pointer wrap logic).
    FIFO_DEPTH = 33

    def __new__(cls, **kwargs):
        cls._validate(**kwargs)        # before the object exists: a bad call leaves nothing
        return super().__new__(cls, src_loc_at=1)

    @staticmethod
    def _validate(*, sensors=8, duplication=4, fmt=DEFAULT_FORMAT, weights=None, table=None):
        check_sensors(sensors)
        check_int("duplication", duplication, 1, 1024)
        check_format(fmt)
        for name, bits in (("weight", fmt.weight_bits), ("input", fmt.x_bits)):
            if bits > MAX_OPERAND_BITS:
                raise ValueError(f"{name} codes of {bits} bits do not fit the multiplier "
                                 f"(at most {MAX_OPERAND_BITS} bits)")
        n = sensors * duplication
        w = np.zeros(n, dtype=np.int64) if weights is None else np.asarray(weights)
        if w.shape != (n,) or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"weights must be {n} integer codes (sensors * duplication), "
                             f"got shape {w.shape} and dtype {w.dtype}")
        if w.min() < 0 or w.max() > fmt.weight_max:
            raise ValueError(f"weight codes must lie in [0, {fmt.weight_max}] "
                             f"({fmt.weight_bits} bits), got range [{w.min()}, {w.max()}]")
        if table is None:
            table = phase_thresholds(fmt)
        if not isinstance(table, PhaseTable):
            raise TypeError(f"table must be a PhaseTable, not {type(table).__name__}")
        t = np.asarray(table.thresholds)
        if t.ndim != 1 or t.size < 1 or t.min() < 0 or t.max() > fmt.drive_max:
            raise ValueError(f"thresholds must be 1 or more codes in [0, {fmt.drive_max}]")
        if not table.levels <= table.top_phase < 64:
            raise ValueError(f"top_phase {table.top_phase} must be in [levels, 63]")
        return [int(v) for v in w], PhaseTable(t.astype(np.int64).copy(), int(table.top_phase))

    def __init__(self, *, sensors=8, duplication=4, fmt=DEFAULT_FORMAT, weights=None,
                 table=None):
        self._weights, self._table = self._validate(sensors=sensors, duplication=duplication,
                                                    fmt=fmt, weights=weights, table=table)
        self._sensors, self._duplication, self._fmt = sensors, duplication, fmt
        n = self.mcs
        table = self._table
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(unsigned(fmt.x_bits), sensors))),
            "o": Out(stream.Signature(output_layout(sensors, duplication, fmt,
                                                    table.top_phase))),
            "weight_w": In(stream.Signature(_write_layout(_bits(n), fmt.weight_bits))),
            "threshold_w": In(stream.Signature(_write_layout(_bits(self._table.levels),
                                                             fmt.drive_bits))),
        })

    @property
    def sensors(self):
        return self._sensors

    @property
    def duplication(self):
        return self._duplication

    @property
    def mcs(self):
        return self._sensors * self._duplication

    @property
    def fmt(self):
        return self._fmt

    @property
    def table(self):
        """The initial :class:`~hetq.golden.fixed.neuron.PhaseTable`."""
        return PhaseTable(self._table.thresholds.copy(), self._table.top_phase)

    @property
    def weights(self):
        """The initial weight codes."""
        return np.array(self._weights, dtype=np.int64)

    @property
    def stages(self):
        """Register stages from issue to the output FIFO: RAM, RAM register, multiplier
        inputs, products, products in the fabric, two adders, drive, one stage per compare
        piece (:data:`COMPARE_PIECE` bits), and the counts."""
        return 8 + (len(_pieces(self._fmt.drive_bits)) - 1) + 1

    @property
    def latency(self):
        """Cycles from the transfer of a sample on ``i`` (everything idle) to the cycle its
        first MC is valid on ``o``: buffer, issue, the stages, and two through the FIFO."""
        return 2 + self.stages + 2

    def elaborate(self, platform):
        m = Module()
        fmt, n, nsens, dup = self._fmt, self.mcs, self._sensors, self._duplication
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
        in_use = Signal(range(self.FIFO_DEPTH + 1))
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
        meta_layout = data.StructLayout({"mc": unsigned(_bits(n)), "last": unsigned(1)})

        def stage(name, prev_valid, prev_meta):
            valid = Signal(name=f"{name}_valid")
            meta = Signal(meta_layout, name=f"{name}_meta", reset_less=True)
            m.d.sync += [valid.eq(prev_valid), meta.eq(prev_meta)]
            return valid, meta

        def reg(name, value, width=None):
            r = Signal(len(value) if width is None else width, name=name, reset_less=True)
            m.d.sync += r.eq(value)
            return r

        m.submodules.weights = wmem = Memory(shape=unsigned(fmt.weight_bits), depth=n,
                                             init=self._weights)
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
        m.submodules.fifo = fifo = OutputFIFO(Shape.cast(out_layout).width,
                                               (self.FIFO_DEPTH - 1).bit_length() - 1)
        pop = Signal()
        m.d.comb += [
            fifo.w_data.eq(result),
            fifo.w_en.eq(v11),
            self.o.valid.eq(fifo.r_rdy),
            self.o.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.o.ready),
            pop.eq(fifo.r_rdy & self.o.ready),
        ]
        with m.If(issue & ~pop):
            m.d.sync += in_use.eq(in_use + 1)
        with m.Elif(pop & ~issue):
            m.d.sync += in_use.eq(in_use - 1)
        m.d.sync += credit.eq(in_use < self.FIFO_DEPTH - 2)

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
                     wr.en.eq(w_en & (w_req.addr < n))]
        with m.If(t_en):
            with m.Switch(t_req.addr):
                for j, t in enumerate(thresholds):
                    with m.Case(j):
                        m.d.sync += t.eq(~t_req.data)
        return m


class SensorQuantizer(wiring.Component):
    """Raw sensor codes in, one MC drive and phase per clock out: a :class:`~.normaliser.\
Normaliser` feeding a :class:`PhaseQuantizer`.

    Each write port has a one-entry register slice. While a write waits there, no new sample
    is accepted; it reaches the quantizer's tables once every sample taken before it (or in
    the same cycle) has passed the comparators. So the golden model applies the transfers on
    ``i``, ``weight_w`` and ``threshold_w`` in the order they were taken, a sample before a
    write taken in the same cycle.

    Parameters
    ----------
    sensors, duplication, fmt, weights, table
        As for :class:`PhaseQuantizer` (``fmt.sensor_bits`` sets the input width).
    lanes : int, optional
        Dividers of the :class:`~.normaliser.Normaliser` (default: one per sensor). The
        normaliser keeps up with the quantizer while its :attr:`~.normaliser.Normaliser.period`
        is at most ``sensors * duplication`` cycles; :func:`lanes_for` picks the fewest lanes
        that do.

    Members
    -------
    i : ``In(stream.Signature(ArrayLayout(unsigned(B), S)))``
        Raw sensor codes, UQ(B.0) each, one sample per transfer.
    o, weight_w, threshold_w
        As for :class:`PhaseQuantizer`.
    """

    def __new__(cls, *, lanes=None, **kwargs):
        Normaliser._validate(sensors=kwargs.get("sensors", 8),
                             fmt=kwargs.get("fmt", DEFAULT_FORMAT), lanes=lanes)
        PhaseQuantizer._validate(**kwargs)
        return super().__new__(cls, src_loc_at=1)

    def __init__(self, *, sensors=8, duplication=4, fmt=DEFAULT_FORMAT, weights=None,
                 table=None, lanes=None):
        self._normaliser = Normaliser(sensors=sensors, fmt=fmt, lanes=lanes)
        self._quantizer = PhaseQuantizer(sensors=sensors, duplication=duplication, fmt=fmt,
                                         weights=weights, table=table)
        q = self._quantizer.signature.members
        super().__init__({
            "i": self._normaliser.signature.members["i"],
            "o": q["o"],
            "weight_w": q["weight_w"],
            "threshold_w": q["threshold_w"],
        })

    @property
    def normaliser(self):
        return self._normaliser

    sensors = property(lambda self: self._quantizer.sensors)
    duplication = property(lambda self: self._quantizer.duplication)
    mcs = property(lambda self: self._quantizer.mcs)
    fmt = property(lambda self: self._quantizer.fmt)
    table = property(lambda self: self._quantizer.table)
    weights = property(lambda self: self._quantizer.weights)

    @property
    def quantizer(self):
        return self._quantizer

    @property
    def latency(self):
        """Cycles from a sample's transfer on ``i`` (everything idle) to its first MC on
        ``o``."""
        return self._normaliser.latency + self._quantizer.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.normaliser = norm = self._normaliser
        m.submodules.quantizer = quant = self._quantizer
        wiring.connect(m, norm.o, quant.i)
        wiring.connect(m, wiring.flipped(self.o), quant.o)

        # Each write port has a one-entry register slice (its `ready` is a flip-flop). While a
        # write sits in a slice no new sample is accepted; it goes to the quantizer once the
        # normaliser is empty and the quantizer is free, i.e. after every sample taken before
        # it or in the same cycle.
        slots = []
        for port in ("weight_w", "threshold_w"):
            outer, inner = getattr(self, port), getattr(quant, port)
            full = Signal(name=f"{port}_full")
            held = Signal.like(outer.payload, name=f"{port}_held", reset_less=True)
            m.d.comb += outer.ready.eq(~full)
            with m.If(~full):
                m.d.sync += held.eq(outer.payload)
            m.d.comb += [inner.payload.eq(held), inner.valid.eq(full & ~norm.busy)]
            # one 4-input function: filled when empty and offered, emptied when taken
            m.d.sync += full.eq(Mux(full, ~(inner.valid & inner.ready), outer.valid))
            slots.append(full)
        hold = Signal()
        m.d.comb += [
            hold.eq(slots[0] | slots[1]),
            norm.i.payload.eq(self.i.payload),
            norm.i.valid.eq(self.i.valid & ~hold),
            self.i.ready.eq(norm.i.ready & ~hold),
        ]
        return m
