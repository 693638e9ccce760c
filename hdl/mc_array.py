"""The time-stepped MC (mitral cell) array: one neuron update per clock per lane.

Bit-exact twin: :class:`hetq.golden.fixed.mc_array.MCArrayModel` (configuration:
:class:`~hetq.golden.fixed.mc_array.MCArrayConfig`); the neuron arithmetic is
:func:`hetq.golden.fixed.neuron.lif_step` (docs/model.md sections 2, 4, 10 and 17).
"""

from amaranth import Array, Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..golden.checks import check_bool
from ..golden.fixed.formats import CYCLE, LEAK_NUM, LEAK_SHIFT, gamma_rom
from ..golden.fixed.mc_array import MCArrayConfig, SensorMCArrayConfig
from .fifo import OutputFIFO
from .kit import CheckedComponent, RegisteredRead, index_bits, register
from .quantizer import SensorQuantizer

__all__ = ["MCArray", "SensorMCArray", "drive_layout", "spike_layout", "extra_layout",
           "monitor_layout", "state_layout"]


#: The leak multiply without a multiplier: 453 d = (7 d << 6) + 5 d with 7 d = 4 d + (2 d + d)
#: and 5 d = 4 d + d; floor(453 d / 2**11) = floor((7 d + floor(5 d / 2**6)) / 2**5).
LEAK_SPLIT = 6
if LEAK_NUM != (7 << LEAK_SPLIT) + 5 or LEAK_SHIFT < LEAK_SPLIT:
    raise ImportError(f"the leak multiplier expects 453 / 2**11, not {LEAK_NUM} / 2**{LEAK_SHIFT}")


def drive_layout(config):
    """Payload of the drive stream: an MC row, its drive code (UQ(Ic.Fc)), ``last`` closes a
    sample (the quantizer's output without the phase)."""
    return data.StructLayout({"mc": unsigned(index_bits(config.mcs)),
                              "drive": unsigned(config.fmt.drive_bits), "last": unsigned(1)})


def spike_layout(config, ends=False):
    """Payload of the spike stream: the step (wrapping at ``2**step_bits``) and the MC; with
    ``ends`` also ``end``: 1 marks the end of step ``step`` (``mc`` is then 0)."""
    fields = {"step": unsigned(config.step_bits), "mc": unsigned(index_bits(config.mcs))}
    if ends:
        fields["end"] = unsigned(1)
    return data.StructLayout(fields)


def extra_layout(config):
    """Payload of the extra-current stream: one SQ(Ie.Fc) code per lane."""
    return data.ArrayLayout(signed(config.fmt.current_bits), config.lanes)


def monitor_layout(config):
    """The state written back for a group (one MC per lane): for benches."""
    return data.StructLayout({
        "valid": unsigned(1),
        "group": unsigned(index_bits(config.groups)),
        "voltage": data.ArrayLayout(signed(config.fmt.state_bits), config.lanes),
        "refractory": unsigned(config.lanes),
    })


def state_layout(config):
    """A word of a lane's state memory: the voltage (SQ(Iv.Fc)), the refractory bit and the
    "at threshold" bit."""
    return data.StructLayout({"voltage": signed(config.fmt.state_bits), "refractory": 1,
                              "at_threshold": 1})


def _meta_chain(m, meta0, stages, busy):
    """``[meta0, meta1, ..., meta<stages>]``: ``meta0`` through ``stages`` registers, one a
    stage; ``busy`` is high while a valid group is in one of them."""
    metas = [meta0]
    for k in range(1, stages + 1):
        meta = Signal(meta0.shape(), name=f"meta{k}")
        m.d.sync += meta.eq(metas[-1])
        metas.append(meta)
    m.d.comb += busy.eq(Cat(mt.valid for mt in metas[1:]).any())
    return metas


class MCArray(CheckedComponent):
    """``mcs`` integer LIF neurons updated one step at a time, ``lanes`` updates per clock.

    The MCs are split into groups of ``lanes`` (MC ``n`` is lane ``n % lanes`` of group
    ``n // lanes``); each lane keeps its neurons' state (voltage SQ(Iv.Fc), refractory bit and
    an "at threshold" bit) and its drives in block RAM. A step issues the groups in order,
    one per clock; every group runs through the ``write_stage``-stage update and its state is
    written back. The default pipeline (``WRITE_STAGE`` = 10, timed for 100 MHz on the ECP5):
    a register after each block-RAM read; the fire test and drive plus gamma and rest; plus
    the extra current; minus the voltage, the difference; 453 * difference >> 11 by shifts and
    adds in three stages; the new voltage and its threshold and rest comparisons; the clamps;
    no stage has more than one carry chain about as long as the voltage in a row. With
    ``config.compact`` (``COMPACT_WRITE_STAGE`` = 3, area first, for the iCE40UP5K at 30 MHz):
    on the block-RAM outputs the fire test and the difference (drive + gamma + rest + extra -
    voltage); the leak product and the new voltage; the comparisons and the clamps into the
    write port; spikes go to the FIFO from stage 2, and no step number travels with the
    groups. Steps follow each other without a gap when there are at least
    ``write_stage + 1`` groups; with fewer, a step waits for the previous one's write-back.

    Samples: drives arrive on ``i`` and fill one of two drive banks (sample ``k`` in bank
    ``k % 2``), so the next sample loads while the current one runs. A sample is held for
    ``hold`` steps, then ``rinse`` steps run with zero drive; the next window starts right
    after (or as soon as its drives are complete). The step counter advances only while a
    window runs, and every window starts at phase 0.

    The cycle figures (:attr:`~hetq.golden.fixed.mc_array.MCArrayConfig.cycles_per_step`,
    ``cycles_per_cycle``, ``cycles_per_sample``) and ``write_stage`` are the configuration's.

    Parameters
    ----------
    config : MCArrayConfig
        Size, lanes, window, format, step width, whether the ``extra`` port exists, and the
        pipeline (``compact``).
    monitor : bool
        Add the bench-only ``monitor`` port (default False).
    ends : bool
        End-of-step markers on ``o`` (default False): after the spikes of every step (hold
        and rinse) one transfer with ``end = 1``, the stream a
        :class:`~.gc_layer.GCLayer` takes.

    Members
    -------
    i : ``In(stream.Signature(drive_layout(config)))``
        Drive transfers ``(mc, drive, last)``: ``drive`` (UQ(Ic.Fc)) goes to entry ``mc`` of
        the bank being loaded (``mc >= mcs`` is dropped), ``last`` closes the sample. Entries a
        sample does not write keep the bank's earlier value (both banks start at zero).
        ``ready`` is low while both banks hold samples that have not finished.
    o : ``Out(stream.Signature(spike_layout(config, ends)))``
        One transfer per spike (and, with ``ends``, a marker after each step): ``step`` (mod ``2**step_bits``) is the step of the fire test
        (the step after the threshold crossing), ordered by step, then MC. Back-pressure
        stalls the issue of new groups once the spike FIFO is nearly full.
    extra : ``In(stream.Signature(extra_layout(config)))``, with ``config.inhibition``
        One transfer per group update, in issue order (step by step, groups ascending, also
        during the rinse): the extra current of each lane's MC, SQ(Ie.Fc). An update waits
        for it.
    idle : ``Out(1)``
        No sample is held or running and no spike is waiting: high again once the last
        spike of a window has left ``o``.
    monitor : ``Out(monitor_layout(config))``, with ``monitor``
        The state written back in this cycle (``valid``, ``group``, per lane ``voltage`` and
        ``refractory``): every state the array stores, for benches.

    The per-lane state memories (:attr:`state_memories`) are made with the component, so
    that a simulator bench can read them; the logic is made by ``elaborate``.
    """

    FIFO_BITS = 5                                      # 32 RAM entries + the output register
    #: Stage of the compact pipeline whose groups go to the spike FIFO (the default's is 3).
    COMPACT_PUSH_STAGE = 2

    @classmethod
    def check(cls, config, *, monitor=False, ends=False):
        if not isinstance(config, MCArrayConfig):
            raise TypeError(f"config must be an MCArrayConfig, not {type(config).__name__}")
        return config, check_bool("monitor", monitor), check_bool("ends", ends)

    def __init__(self, config, *, monitor=False, ends=False):
        self._config, self._monitor, self._ends = self.check(config, monitor=monitor,
                                                             ends=ends)
        members = {
            "i": In(stream.Signature(drive_layout(config))),
            "o": Out(stream.Signature(spike_layout(config, ends))),
            "idle": Out(1),
        }
        if monitor:
            members["monitor"] = Out(monitor_layout(config))
        if config.inhibition:
            members["extra"] = In(stream.Signature(extra_layout(config)))
        super().__init__(members)
        fmt, groups = config.fmt, config.groups
        rest_word = fmt.rest & ((1 << fmt.state_bits) - 1)
        self._state = []
        for _ in range(config.lanes):
            if config.compact:
                # read through RegisteredRead (an asynchronous port and a register that Yosys
                # merges into the block RAM): a group's state is never read in the cycle it
                # is written with the data used (the hazard rule), so no bypass is needed
                mem = Memory(shape=unsigned(fmt.state_bits + 2), depth=groups,
                             init=[rest_word] * groups, attrs={"no_rw_check": 1})
                self._state.append((mem, mem.read_port(domain="comb"), mem.write_port()))
            else:
                mem = Memory(shape=unsigned(fmt.state_bits + 2), depth=groups,
                             init=[rest_word] * groups)
                self._state.append((mem, mem.read_port(), mem.write_port()))

    config = property(lambda self: self._config)

    @property
    def state_memories(self):
        """The per-lane state memories: entry ``g`` of lane ``l`` holds MC ``g * lanes + l``
        as a :func:`state_layout` word (voltage, refractory bit, "at threshold" bit)."""
        return [mem for mem, _, _ in self._state]

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        fmt, lanes, groups = cfg.fmt, cfg.lanes, cfg.groups
        write_stage = cfg.write_stage
        gbits = index_bits(groups)
        lbits = (lanes - 1).bit_length()
        vbits = fmt.state_bits
        rest, thr = fmt.rest, fmt.threshold

        def reg(name, value, shape=None):
            return register(m, name, value, shape)

        # -- loading: two drive banks per lane ----------------------------------------------
        load_bank = Signal()
        full = Signal(2)                               # bank holds a sample not yet finished
        w_en = Signal()
        w_last = Signal()
        w_req = Signal.like(self.i.payload, reset_less=True)
        w_bank = Signal(reset_less=True)
        m.d.comb += self.i.ready.eq(~full.bit_select(load_bank, 1))
        taken = self.i.valid & self.i.ready
        m.d.sync += [w_en.eq(taken), w_last.eq(taken & self.i.payload.last)]
        with m.If(taken):
            m.d.sync += [w_req.eq(self.i.payload), w_bank.eq(load_bank)]
            with m.If(self.i.payload.last):
                m.d.sync += load_bank.eq(~load_bank)
        filled = Signal(2)                             # bank closed by the registered last
        m.d.comb += filled.eq(Mux(w_last, Mux(w_bank, 0b10, 0b01), 0))
        w_group = Signal(gbits)
        m.d.comb += w_group.eq(w_req.mc[lbits:])

        # -- the step sequencer -------------------------------------------------------------
        running = Signal()
        run_bank = Signal()
        group = Signal(gbits)
        phase = Signal(range(CYCLE))
        wstep = Signal(range(cfg.window))
        rinse = Signal()
        # the step counter in two halves; the high half adds the registered "low half all
        # ones", which is up to date because steps are at least write_stage + 1 cycles apart
        step_lo = Signal(cfg.step_bits // 2)
        step_hi = Signal(cfg.step_bits - len(step_lo))
        lo_full = Signal()
        step = Cat(step_lo, step_hi)
        m.d.sync += lo_full.eq(step_lo.all())
        credit = Signal(init=1)
        issue = Signal()
        ready = Signal()                               # may issue, save for `extra`
        busy = Signal()                                # an update between issue and write
        drain = groups <= write_stage                  # a step must wait for the write-back
        m.d.comb += ready.eq(running & credit & ~(busy & (group == 0) if drain else 0))
        if cfg.inhibition:
            m.d.comb += [self.extra.ready.eq(ready), issue.eq(ready & self.extra.valid)]
        else:
            m.d.comb += issue.eq(ready)
        # registered flags, updated with their counters (short paths to the issue logic)
        last_group = Signal(init=groups == 1)          # group == groups - 1
        last_step = Signal()                           # wstep == window - 1 (window >= 50)
        last_phase = Signal()                          # phase == CYCLE - 1
        done = issue & last_group & last_step          # the window's final update

        with m.If(~running & full.bit_select(run_bank, 1)):
            m.d.sync += running.eq(1)
        with m.If(issue):
            with m.If(last_group):
                m.d.sync += [group.eq(0), last_group.eq(groups == 1)]
                if not cfg.compact:                # (compact: at the push stage, below)
                    m.d.sync += [step_lo.eq(step_lo + 1), step_hi.eq(step_hi + lo_full)]
                m.d.sync += [phase.eq(Mux(last_phase, 0, phase + 1)),
                             last_phase.eq(phase == CYCLE - 2)]
                with m.If(last_step):
                    m.d.sync += [wstep.eq(0), last_step.eq(0), rinse.eq(0), running.eq(0),
                                 run_bank.eq(~run_bank)]
                with m.Else():
                    m.d.sync += [wstep.eq(wstep + 1), last_step.eq(wstep == cfg.window - 2),
                                 rinse.eq(rinse | (wstep == cfg.hold - 1))]
            with m.Else():
                m.d.sync += [group.eq(group + 1), last_group.eq(group == groups - 2)]
        freed = Signal(2)
        m.d.comb += freed.eq(Mux(done, Mux(run_bank, 0b10, 0b01), 0))
        m.d.sync += full.eq((full | filled) & ~freed)

        # -- the update pipeline ------------------------------------------------------------
        if cfg.compact:
            # the area-first pipeline (write stage 3, for the iCE40UP5K at 30 MHz): every
            # stage has a few chained carry chains; no step number travels with the groups
            # (the step counter follows the push stage instead, below)
            meta_layout = data.StructLayout({"valid": 1, "group": gbits, "rinse": 1,
                                             "release": 1, "last": 1})
            meta0 = Signal(meta_layout)
            m.d.comb += [meta0.valid.eq(issue), meta0.group.eq(group), meta0.rinse.eq(rinse),
                         meta0.release.eq(last_phase), meta0.last.eq(last_group)]
            metas = _meta_chain(m, meta0, write_stage, busy)
            push_stage = self.COMPACT_PUSH_STAGE
            # the step of the group at the push stage: the counter advances when the last
            # group of a step passes it (steps pass it at least two cycles apart, so the
            # registered "low half all ones" is up to date)
            with m.If(metas[push_stage].valid & metas[push_stage].last):
                m.d.sync += [step_lo.eq(step_lo + 1), step_hi.eq(step_hi + lo_full)]
            push_step = step

            # gamma + rest by the phase of the issue: a block-RAM ROM read with the state and
            # the drive (as logic, a 50-entry ROM of 24 bits is over a hundred LUTs and, as
            # Yosys maps it, ten levels deep)
            g_values = [int(v) + rest for v in gamma_rom(fmt)]
            g_shape = Shape.cast(range(min(g_values), max(g_values) + 1))
            m.submodules.gamma = g_mem = Memory(shape=g_shape, depth=CYCLE, init=g_values,
                                                attrs={"ram_style": "block"})
            g_rd = g_mem.read_port()
            m.d.comb += g_rd.addr.eq(phase)
            gamma1 = g_rd.data
            e_shape = signed(fmt.current_bits)
            fires, writes = [], []
            for lane, (smem, s_port, s_wr) in enumerate(self._state):
                n = f"_{lane}"
                m.submodules[f"state{lane}"] = smem
                # the drive bank being loaded is never the one read for an update (a bank is
                # loaded only once its window has issued its last update)
                m.submodules[f"drives{lane}"] = dmem = Memory(
                    shape=unsigned(fmt.drive_bits), depth=2 << gbits, init=[],
                    attrs={"no_rw_check": 1})
                s_rd = RegisteredRead(m, smem, "state_rd" + n, en=1, port=s_port)
                d_rd = RegisteredRead(m, dmem, "drive_rd" + n, en=1)
                d_wr = dmem.write_port()
                m.d.comb += [s_rd.addr.eq(group), d_rd.addr.eq(Cat(group, run_bank))]
                mc_lane = w_req.mc[:lbits] if lbits else Const(0, 1)
                m.d.comb += [d_wr.addr.eq(Cat(w_group, w_bank)),
                             d_wr.data.eq(w_req.drive),
                             d_wr.en.eq(w_en & (mc_lane == lane) & (w_req.mc < cfg.mcs))]
                extra1 = (reg("extra1" + n, self.extra.payload[lane]) if cfg.inhibition
                          else Const(0, e_shape))

                # stage 1, on the block-RAM outputs: the fire test (the voltage at threshold:
                # the step starts from rest), the difference d = drive (zero in the rinse)
                # + (gamma + rest) + extra - start voltage (modulo 2**vbits: no value of the
                # step overflows)
                v1 = s_rd.data[:vbits].as_signed()
                refr1, fire1 = s_rd.data[vbits], s_rd.data[vbits + 1]
                start = Mux(fire1, rest, v1)
                drive1 = Mux(metas[1].rinse, 0, d_rd.data)
                d2 = reg("d2" + n, drive1 + gamma1 + extra1 - start, signed(vbits))
                v2 = reg("v2" + n, start, signed(vbits))
                r2 = reg("r2" + n, refr1 | fire1)
                fires.append(reg("fire2" + n, fire1 & metas[1].valid))

                # stage 2: the leak term x = floor(453 d / 2**11)
                # = floor((7 d + floor(5 d / 2**6)) / 2**5), by shifts and adds
                x3 = reg("x3" + n, (((d2 << 3) - d2) + (((d2 << 2) + d2) >> LEAK_SPLIT))
                         >> (LEAK_SHIFT - LEAK_SPLIT), signed(vbits))
                v3, r3 = reg("v3" + n, v2), reg("r3" + n, r2)

                # stage 3: the new voltage vn = v + x, its comparisons, the clamps and the
                # release into the write port (vn >= threshold implies vn > rest)
                vn3 = Signal(signed(vbits), name="vn3" + n)
                m.d.comb += vn3.eq(v3 + x3)
                release = metas[write_stage].release
                above = vn3 > rest
                at_thr = vn3 >= thr
                v_new = Signal(signed(vbits), name="v_new" + n)
                r_new = Signal(name="r_new" + n)
                m.d.comb += [v_new.eq(Mux(release | (r3 & above), rest,
                                          Mux(at_thr, thr, vn3))),
                             r_new.eq(r3 & ~release),
                             s_wr.addr.eq(metas[write_stage].group),
                             s_wr.data.eq(Cat(v_new, r_new, at_thr & ~r3 & ~release)),
                             s_wr.en.eq(metas[write_stage].valid)]
                writes.append((v_new, r_new))
        else:
            meta_layout = data.StructLayout({"valid": 1, "group": gbits, "step": cfg.step_bits,
                                             "rinse": 1, "release": 1, "last": 1})
            meta0 = Signal(meta_layout)
            m.d.comb += [meta0.valid.eq(issue), meta0.group.eq(group), meta0.step.eq(step),
                         meta0.rinse.eq(rinse), meta0.release.eq(last_phase),
                         meta0.last.eq(last_group)]
            metas = _meta_chain(m, meta0, write_stage, busy)

            # the gamma ROM in two registered levels (a 6-input ROM is too deep for one clock on
            # iCE40): stage 1 looks up 16-entry slices by phase[:4], stage 2 picks one by phase[4:]
            # (the ROM holds gamma + rest)
            g_values = [int(v) + rest for v in gamma_rom(fmt)]
            g_shape = Shape.cast(range(min(g_values), max(g_values) + 1))
            slices = []
            for k in range(0, CYCLE, 16):
                table = Array(Const(v, g_shape) for v in g_values[k:k + 16])
                slices.append(reg(f"gamma1_{k // 16}", table[phase[:4]], g_shape))
            gamma2 = reg("gamma2", Array(slices)[reg("phase1_hi", phase[4:])], g_shape)

            e_shape = signed(fmt.current_bits)
            extra1 = [reg(f"extra1_{lane}", self.extra.payload[lane]) if cfg.inhibition
                      else Const(0, e_shape) for lane in range(lanes)]

            fires3, writes = [], []
            for lane, (smem, s_rd, s_wr) in enumerate(self._state):
                n = f"_{lane}"
                m.submodules[f"state{lane}"] = smem
                m.submodules[f"drives{lane}"] = dmem = Memory(
                    shape=unsigned(fmt.drive_bits), depth=2 << gbits, init=[])
                d_rd, d_wr = dmem.read_port(), dmem.write_port()
                m.d.comb += [s_rd.addr.eq(group), d_rd.addr.eq(Cat(group, run_bank))]
                mc_lane = w_req.mc[:lbits] if lbits else Const(0, 1)
                m.d.comb += [d_wr.addr.eq(Cat(w_group, w_bank)),
                             d_wr.data.eq(w_req.drive),
                             d_wr.en.eq(w_en & (mc_lane == lane) & (w_req.mc < cfg.mcs))]

                # stage 2: a register after each block-RAM read (the drive zeroed during the
                # rinse by the register's synchronous reset; no other logic, as ECP5 block RAM
                # outputs are slow and already pass a bypass multiplexer)
                state2 = reg("state2" + n, s_rd.data)
                drive2 = reg("drive2" + n, Mux(metas[1].rinse, 0, d_rd.data),
                             unsigned(fmt.drive_bits))
                extra2 = reg("extra2" + n, extra1[lane]) if cfg.inhibition else extra1[lane]
                v2 = state2[:vbits].as_signed()
                refr2, fire2 = state2[vbits], state2[vbits + 1]

                # stage 3: fire test (the voltage at threshold: the step starts from rest), the
                # start voltage negated, drive + (gamma + rest)
                fire3 = reg("fire3" + n, fire2 & metas[2].valid)
                v3 = reg("v3" + n, Mux(fire2, rest, v2), signed(vbits))
                nv3 = reg("nv3" + n, ~Mux(fire2, rest, v2), signed(vbits))
                r3 = reg("r3" + n, refr2 | fire2)
                cg3 = reg("cg3" + n, drive2 + gamma2, signed(vbits))
                extra3 = reg("extra3" + n, extra2) if cfg.inhibition else extra2
                fires3.append(fire3)

                # stage 4: drive + gamma + rest + extra; stage 5: minus the voltage, the difference
                # d (modulo 2**vbits: no value of the step overflows)
                cge4 = reg("cge4" + n, cg3 + extra3, signed(vbits))
                nv4, v4, r4 = reg("nv4" + n, nv3), reg("v4" + n, v3), reg("r4" + n, r3)
                d5 = reg("d5" + n, cge4 + nv4 + 1, signed(vbits))
                v5, r5 = reg("v5" + n, v4), reg("r5" + n, r4)

                # stages 6-8: x = floor(453 d / 2**11) = floor((7 d + floor(5 d / 2**6)) / 2**5)
                # by shifts and adds, every long carry chain about as long as d: 3 d, 5 d and
                # 7 d mod 2**5; 7 d >> 5, floor(5 d / 2**11) and the carry out of the five low
                # bits of 7 d + floor(5 d / 2**6); their sum
                low = LEAK_SHIFT - LEAK_SPLIT
                d3x6 = reg("d3x6" + n, (d5 << 1) + d5)
                d5x6 = reg("d5x6" + n, (d5 << 2) + d5)
                d7lo6 = reg("d7lo6" + n, ((d5 << 3) - d5)[:low])
                d6, v6, r6 = reg("d6" + n, d5), reg("v6" + n, v5), reg("r6" + n, r5)
                hi7 = reg("hi7" + n, ((d6 << 2) + d3x6) >> low)
                lo7 = reg("lo7" + n, d5x6 >> LEAK_SHIFT)
                carry7 = reg("carry7" + n, (d7lo6 + d5x6[LEAK_SPLIT:LEAK_SHIFT])[low])
                v7, r7 = reg("v7" + n, v6), reg("r7" + n, r6)
                # the carry as the low bit: (2 hi + 1 + 2 lo + carry) >> 1 = hi + lo + carry
                x8 = reg("x8" + n, (Cat(Const(1, 1), hi7).as_signed()
                                    + Cat(carry7, lo7).as_signed()) >> 1, signed(vbits))
                # offsets for the comparisons: vn >= thr <=> (v - thr) + x >= 0 and
                # vn > rest <=> (v - rest - 1) + x >= 0 with x = vn - v
                ot8 = reg("ot8" + n, v7 - thr, signed(vbits + 1))
                or8 = reg("or8" + n, v7 - (rest + 1), signed(vbits + 1))
                v8, r8 = reg("v8" + n, v7), reg("r8" + n, r7)

                # stage 9: the new voltage and its comparisons; stage 10: the clamps and the
                # release, the write-back
                vn9 = reg("vn9" + n, v8 + x8, signed(vbits))
                ge9 = reg("ge9" + n, ~(ot8 + x8)[-1])
                gt9 = reg("gt9" + n, ~(or8 + x8)[-1])
                r9 = reg("r9" + n, r8)
                release = metas[9].release
                v10 = Signal(signed(vbits), name="v10" + n, reset_less=True)
                with m.If(release | (r9 & (ge9 | gt9))):
                    m.d.sync += v10.eq(rest)
                with m.Elif(ge9):
                    m.d.sync += v10.eq(thr)
                with m.Else():
                    m.d.sync += v10.eq(vn9)
                r10 = reg("r10" + n, r9 & ~release)
                at10 = reg("at10" + n, ge9 & ~r9 & ~release)
                m.d.comb += [s_wr.addr.eq(metas[write_stage].group),
                             s_wr.data.eq(Cat(v10, r10, at10)),
                             s_wr.en.eq(metas[write_stage].valid)]
                writes.append((v10, r10))
            fires, push_stage, push_step = fires3, 3, metas[3].step

        if self._monitor:
            m.d.comb += [self.monitor.valid.eq(metas[write_stage].valid),
                         self.monitor.group.eq(metas[write_stage].group)]
            for lane, (v10, r10) in enumerate(writes):
                m.d.comb += [self.monitor.voltage[lane].eq(v10),
                             self.monitor.refractory[lane].eq(r10)]

        # -- spikes: groups with a fire go to the FIFO, a serializer emits one per cycle (with
        # ``ends`` the last group of every step goes too, marked, and gives a marker after its
        # spikes) ------------------------------------------------------------------------------
        entry = data.StructLayout({"step": cfg.step_bits, "group": gbits, "mask": lanes,
                                   **({"end": 1} if self._ends else {})})
        m.submodules.fifo = fifo = OutputFIFO(entry.size, self.FIFO_BITS)
        mask3 = Cat(fires)
        push = Signal()
        drop = Signal()
        at_push = metas[push_stage]
        end3 = at_push.last if self._ends else Const(0, 1)
        m.d.comb += [push.eq(at_push.valid & (mask3.any() | end3)),
                     drop.eq(at_push.valid & ~(mask3.any() | end3))]
        pushed = Signal(entry)
        m.d.comb += [pushed.step.eq(push_step), pushed.group.eq(at_push.group),
                     pushed.mask.eq(mask3), fifo.w.payload.eq(pushed), fifo.w.valid.eq(push)]
        if self._ends:
            m.d.comb += pushed.end.eq(end3)

        head = Signal(entry, reset_less=True)
        have = Signal()
        low = Signal(lanes)
        lane_index = Signal(max(lbits, 1))
        remaining = Signal(lanes)
        finish = Signal()
        m.d.comb += [low.eq(head.mask & -head.mask), remaining.eq(head.mask & ~low)]
        for lane in range(lanes):
            with m.If(low[lane]):
                m.d.comb += lane_index.eq(lane)
        mc_out = Cat(lane_index[:lbits], head.group) if lbits else head.group
        if self._ends:
            spike = head.mask.any()                    # else the marker of a step's end
            m.d.comb += [self.o.payload.mc.eq(Mux(spike, mc_out, 0)),
                         self.o.payload.end.eq(~spike),
                         finish.eq(self.o.ready & (~spike | ((remaining == 0) & ~head.end)))]
        else:
            m.d.comb += [self.o.payload.mc.eq(mc_out),
                         finish.eq(self.o.ready & (remaining == 0))]
        m.d.comb += [
            self.o.valid.eq(have),
            self.o.payload.step.eq(head.step),
            fifo.r.ready.eq(~have | finish),
        ]
        pop = fifo.r.valid & fifo.r.ready
        with m.If(pop):
            m.d.sync += [head.eq(fifo.r.payload), have.eq(1)]
        with m.Elif(finish):
            m.d.sync += have.eq(0)
        with m.Elif(self.o.ready & have):
            m.d.sync += head.mask.eq(remaining)

        # credits: groups issued and neither dropped (no fire) nor popped into the head,
        # counted from registered events; the registered credit then trails the issues by
        # three cycles, so the limit leaves room for three more
        depth = fifo.capacity
        in_use = Signal(range(depth + 1))
        issued, dropped, popped = Signal(), Signal(), Signal()
        m.d.sync += [issued.eq(issue), dropped.eq(drop), popped.eq(pop),
                     in_use.eq(in_use + issued - dropped - popped),
                     credit.eq(in_use < depth - 3)]
        m.d.comb += self.idle.eq(~w_last & ~full.any() & ~running & ~busy & ~have & fifo.empty)
        return m


class SensorMCArray(CheckedComponent):
    """Raw sensor codes in, MC spikes out: a :class:`~.quantizer.SensorQuantizer` (normaliser,
    drive ``c = w*x`` and phase) feeding an :class:`MCArray` with the drives.

    Parameters
    ----------
    config : SensorMCArrayConfig
        The quantizer's and the array's configurations.
    weights, table
        Initial tables, as for :class:`~.quantizer.SensorQuantizer`.
    monitor : bool
        The array's bench-only ``monitor`` port (default False).

    Members
    -------
    i, weight_w, threshold_w
        As for :class:`~.quantizer.SensorQuantizer` (table writes are taken between samples
        and apply to the drives of later samples).
    o, extra, monitor
        As for :class:`MCArray`.
    """

    @classmethod
    def check(cls, config, *, weights=None, table=None, monitor=False):
        if not isinstance(config, SensorMCArrayConfig):
            raise TypeError(f"config must be a SensorMCArrayConfig, not "
                            f"{type(config).__name__}")
        SensorQuantizer.check(config.quantizer, weights=weights, table=table)
        MCArray.check(config.array, monitor=monitor)
        return config

    def __init__(self, config, *, weights=None, table=None, monitor=False):
        self._config = self.check(config, weights=weights, table=table, monitor=monitor)
        self._quantizer = SensorQuantizer(config.quantizer, weights=weights, table=table)
        self._array = MCArray(config.array, monitor=monitor)
        q, a = self._quantizer.signature.members, self._array.signature.members
        members = {"i": q["i"], "weight_w": q["weight_w"], "threshold_w": q["threshold_w"],
                   "o": a["o"], "idle": a["idle"]}
        for name in ("monitor", "extra"):
            if name in a:
                members[name] = a[name]
        super().__init__(members)

    config = property(lambda self: self._config)
    quantizer = property(lambda self: self._quantizer)
    array = property(lambda self: self._array)
    weights = property(lambda self: self._quantizer.weights)
    table = property(lambda self: self._quantizer.table)

    def elaborate(self, platform):
        m = Module()
        m.submodules.quantizer = quant = self._quantizer
        m.submodules.array = array = self._array
        m.d.comb += [array.i.payload.mc.eq(quant.o.payload.mc),
                     array.i.payload.drive.eq(quant.o.payload.drive),
                     array.i.payload.last.eq(quant.o.payload.last),
                     array.i.valid.eq(quant.o.valid), quant.o.ready.eq(array.i.ready)]
        for name in ("i", "weight_w", "threshold_w"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(quant, name))
        wiring.connect(m, wiring.flipped(self.o), array.o)
        m.d.comb += self.idle.eq(array.idle)
        if "monitor" in self.signature.members:
            m.d.comb += self.monitor.eq(array.monitor)
        if "extra" in self.signature.members:
            wiring.connect(m, wiring.flipped(self.extra), array.extra)
        return m
