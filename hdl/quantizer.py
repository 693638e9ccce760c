"""The phase quantizer in hardware: one MC drive and spike phase per clock (MODEL.md 5, 6, 17).

Bit-exact twin: :mod:`hetq.golden.quantizer` (:class:`~hetq.golden.quantizer.QuantizerModel`).
"""

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.fixed import DEFAULT_FORMAT, PhaseTable, phase_thresholds
from .normaliser import Normaliser, check_format, check_sensors

__all__ = ["PhaseQuantizer", "SensorQuantizer", "output_layout", "MAX_OPERAND_BITS"]

#: The multiplier is built from 16 x 16 partial products; each operand may have two chunks.
CHUNK = 16
MAX_OPERAND_BITS = 2 * CHUNK


def _check_duplication(duplication):
    if isinstance(duplication, bool) or not isinstance(duplication, int):
        raise TypeError(f"duplication must be an integer, not {duplication!r}")
    if not 1 <= duplication <= 1024:
        raise ValueError(f"duplication must be in [1, 1024], not {duplication}")
    return duplication


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


def _popcount(bits):
    terms = [b for b in bits]
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k]
                 for k in range(0, len(terms), 2)]
    return terms[0]


class PhaseQuantizer(wiring.Component):
    """Drive ``c = w*x`` and spike phase of every MC of a sample, one MC per clock.

    A normalised sample is accepted at once; then MC rows ``r = D*i + k`` are issued in
    ascending order, one per cycle (II = 1), and the next sample is accepted in the cycle the
    last MC is issued, so back-to-back samples take ``sensors * duplication`` cycles each.
    Every MC goes through a pipeline of :attr:`latency` - 1 stages: weight table read (block
    RAM, plus a register), 16 x 16 partial products, two adder stages, floor shift and
    saturation to the drive format, comparison with every phase threshold, and the count to
    phase. A stalled output (``o.ready`` low) stalls the whole pipeline.

    Weights and thresholds are run-time tables: ``weight_w`` writes one entry of the weight
    RAM, ``threshold_w`` one threshold register. A write is taken only between samples: when
    no sample is being processed (every MC already past the comparators) and none is offered
    on ``i``. Samples accepted before a write use the old table, samples accepted after it
    the new one. Writes to addresses beyond a table are taken and dropped.

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
        Initial thresholds; by default :func:`~hetq.golden.fixed.phase_thresholds` of ``fmt``.

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

    def __init__(self, *, sensors=8, duplication=4, fmt=DEFAULT_FORMAT, weights=None,
                 table=None):
        self._sensors = check_sensors(sensors)
        self._duplication = _check_duplication(duplication)
        self._fmt = check_format(fmt)
        for name, bits in (("weight", fmt.weight_bits), ("input", fmt.x_bits)):
            if bits > MAX_OPERAND_BITS:
                raise ValueError(f"{name} codes of {bits} bits do not fit the multiplier "
                                 f"(at most {MAX_OPERAND_BITS} bits)")
        n = self.mcs
        if weights is None:
            weights = np.zeros(n, dtype=np.int64)
        w = np.asarray(weights)
        if w.shape != (n,) or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"weights must be {n} integer codes (sensors * duplication), "
                             f"got shape {w.shape} and dtype {w.dtype}")
        if w.min() < 0 or w.max() > fmt.weight_max:
            raise ValueError(f"weight codes must lie in [0, {fmt.weight_max}] "
                             f"({fmt.weight_bits} bits), got range [{w.min()}, {w.max()}]")
        self._weights = [int(v) for v in w]
        if table is None:
            table = phase_thresholds(fmt)
        if not isinstance(table, PhaseTable):
            raise TypeError(f"table must be a PhaseTable, not {type(table).__name__}")
        t = np.asarray(table.thresholds)
        if t.ndim != 1 or t.size < 1 or t.min() < 0 or t.max() > fmt.drive_max:
            raise ValueError(f"thresholds must be 1 or more codes in [0, {fmt.drive_max}]")
        if not table.levels <= table.top_phase < 64:
            raise ValueError(f"top_phase {table.top_phase} must be in [levels, 63]")
        self._table = PhaseTable(t.astype(np.int64).copy(), int(table.top_phase))
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
        """The initial :class:`~hetq.golden.fixed.PhaseTable`."""
        return PhaseTable(self._table.thresholds.copy(), self._table.top_phase)

    @property
    def weights(self):
        """The initial weight codes."""
        return np.array(self._weights, dtype=np.int64)

    #: Register stages from issue to output: RAM, RAM register, products, 2 adders,
    #: drive, compare, phase.
    STAGES = 8

    @property
    def latency(self):
        """Cycles from the transfer of a sample on ``i`` (pipeline idle, no stall) to the
        cycle its first MC is valid on ``o``; later MCs follow one per cycle."""
        return 1 + self.STAGES

    def elaborate(self, platform):
        m = Module()
        fmt, n, nsens, dup = self._fmt, self.mcs, self._sensors, self._duplication
        levels = self._table.levels

        advance = Signal()
        m.d.comb += advance.eq(~self.o.valid | self.o.ready)

        # -- issue: hold the sample, walk the MC rows --------------------------------------
        active = Signal()
        xs = Signal(data.ArrayLayout(unsigned(fmt.x_bits), nsens))
        mc = Signal(range(n))
        sensor = Signal(range(nsens))
        k = Signal(range(dup))
        last = Signal()
        issue = Signal()
        m.d.comb += [last.eq(mc == n - 1), issue.eq(active & advance)]
        m.d.comb += self.i.ready.eq(advance & (~active | last))
        with m.If(issue):
            with m.If(last):
                m.d.sync += [active.eq(0), mc.eq(0), sensor.eq(0), k.eq(0)]
            with m.Else():
                m.d.sync += mc.eq(mc + 1)
                with m.If(k == dup - 1):
                    m.d.sync += [k.eq(0), sensor.eq(sensor + 1)]
                with m.Else():
                    m.d.sync += k.eq(k + 1)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [xs.eq(self.i.payload), active.eq(1)]

        # -- pipeline -----------------------------------------------------------------------
        meta_layout = data.StructLayout({"mc": unsigned(_bits(n)), "last": unsigned(1)})

        def stage(name, prev_valid, prev_meta):
            v = Signal(name=f"{name}_valid")
            meta = Signal(meta_layout, name=f"{name}_meta")
            with m.If(advance):
                m.d.sync += [v.eq(prev_valid), meta.eq(prev_meta)]
            return v, meta

        m.submodules.weights = wmem = Memory(shape=unsigned(fmt.weight_bits), depth=n,
                                             init=self._weights)
        rd = wmem.read_port()
        wr = wmem.write_port()
        m.d.comb += [rd.addr.eq(mc), rd.en.eq(advance)]

        meta0 = Signal(meta_layout)
        m.d.comb += [meta0.mc.eq(mc), meta0.last.eq(last)]
        v1, meta1 = stage("s1", issue, meta0)          # RAM read
        x1 = Signal(fmt.x_bits)
        with m.If(advance):
            m.d.sync += x1.eq(xs[sensor])
        v2, meta2 = stage("s2", v1, meta1)             # register after the RAM
        w2, x2 = Signal(fmt.weight_bits), Signal(fmt.x_bits)
        with m.If(advance):
            m.d.sync += [w2.eq(rd.data), x2.eq(x1)]

        v3, meta3 = stage("s3", v2, meta2)             # partial products
        groups = {}
        for wlo, wc in _chunks(w2, fmt.weight_bits):
            for xlo, xc in _chunks(x2, fmt.x_bits):
                pp = Signal(len(wc) + len(xc), name=f"pp_{wlo}_{xlo}")
                with m.If(advance):
                    m.d.sync += pp.eq(wc * xc)
                groups.setdefault(wlo + xlo, []).append(pp)

        v4, meta4 = stage("s4", v3, meta3)             # sum partial products of equal weight
        sums = {}
        for shift, terms in sorted(groups.items()):
            acc = terms[0] if len(terms) == 1 else terms[0] + terms[1]
            s = Signal(len(acc), name=f"sum_{shift}")
            with m.If(advance):
                m.d.sync += s.eq(acc)
            sums[shift] = s

        v5, meta5 = stage("s5", v4, meta4)             # the full product
        product = Signal(fmt.product_bits + 1)
        base = sums[0]
        if 2 * CHUNK in sums:
            base = Cat(sums[0], sums[2 * CHUNK])       # sums[0] is exactly 32 bits wide
        if CHUNK in sums:
            full = Cat(base[:CHUNK], base[CHUNK:] + sums[CHUNK])
        else:
            full = base
        with m.If(advance):
            m.d.sync += product.eq(full)

        v6, meta6 = stage("s6", v5, meta5)             # floor shift and saturation
        drive = Signal(fmt.drive_bits)
        lo = fmt.product_shift
        hi = lo + fmt.drive_bits
        over = product[hi:].any() if len(product) > hi else Const(0)
        with m.If(advance):
            m.d.sync += drive.eq(Mux(over, fmt.drive_max, product[lo:hi]))

        thresholds = [Signal(fmt.drive_bits, init=int(t), name=f"threshold{j}")
                      for j, t in enumerate(self._table.thresholds)]
        v7, meta7 = stage("s7", v6, meta6)             # compare with every threshold
        above = Signal(levels)
        drive7 = Signal(fmt.drive_bits)
        with m.If(advance):
            m.d.sync += [above.eq(Cat(drive >= t for t in thresholds)), drive7.eq(drive)]

        count = Signal(range(levels + 1))
        m.d.comb += count.eq(_popcount(above))
        with m.If(advance):                            # count to phase, output register
            m.d.sync += [
                self.o.valid.eq(v7),
                self.o.payload.mc.eq(meta7.mc),
                self.o.payload.last.eq(meta7.last),
                self.o.payload.drive.eq(drive7),
                self.o.payload.phase.eq(Mux(count == 0, 0,
                                            self._table.top_phase + 1 - count)),
            ]

        # -- table writes, between samples --------------------------------------------------
        busy = Signal()
        m.d.comb += busy.eq(active | v1 | v2 | v3 | v4 | v5 | v6)
        free = Signal()
        m.d.comb += free.eq(~busy & ~self.i.valid)
        m.d.comb += [self.weight_w.ready.eq(free), self.threshold_w.ready.eq(free)]
        m.d.comb += [
            wr.addr.eq(self.weight_w.payload.addr),
            wr.data.eq(self.weight_w.payload.data),
            wr.en.eq(self.weight_w.valid & free & (self.weight_w.payload.addr < n)),
        ]
        with m.If(self.threshold_w.valid & free):
            with m.Switch(self.threshold_w.payload.addr):
                for j, t in enumerate(thresholds):
                    with m.Case(j):
                        m.d.sync += t.eq(self.threshold_w.payload.data)
        return m


class SensorQuantizer(wiring.Component):
    """Raw sensor codes in, one MC drive and phase per clock out: a :class:`~.normaliser.\
Normaliser` feeding a :class:`PhaseQuantizer`.

    While a table write is offered, no new sample is accepted; the write is taken once every
    accepted sample has passed the comparators. So the order of transfers on ``i``,
    ``weight_w`` and ``threshold_w`` is the order in which the golden model applies them.

    Parameters
    ----------
    sensors, duplication, fmt, weights, table
        As for :class:`PhaseQuantizer` (``fmt.sensor_bits`` sets the input width).

    Members
    -------
    i : ``In(stream.Signature(ArrayLayout(unsigned(B), S)))``
        Raw sensor codes, UQ(B.0) each, one sample per transfer.
    o, weight_w, threshold_w
        As for :class:`PhaseQuantizer`.
    """

    def __init__(self, *, sensors=8, duplication=4, fmt=DEFAULT_FORMAT, weights=None,
                 table=None):
        self._normaliser = Normaliser(sensors=sensors, fmt=fmt)
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

        pending = Signal()
        m.d.comb += pending.eq(self.weight_w.valid | self.threshold_w.valid)
        m.d.comb += [
            norm.i.payload.eq(self.i.payload),
            norm.i.valid.eq(self.i.valid & ~pending),
            self.i.ready.eq(norm.i.ready & ~pending),
        ]
        for port in ("weight_w", "threshold_w"):
            outer, inner = getattr(self, port), getattr(quant, port)
            m.d.comb += [
                inner.payload.eq(outer.payload),
                inner.valid.eq(outer.valid & ~norm.busy),
                outer.ready.eq(inner.ready & ~norm.busy),
            ]
        return m
