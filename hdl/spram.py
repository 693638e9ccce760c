"""The iCE40UP's single-port RAM and, on it, the GC layer's synapse table.

:class:`SPRAM` is one ``SB_SPRAM256KA`` (16,384 words of 16 bits, one port, a write mask per
nibble): the cell itself when elaborated for an iCE40UP platform, and an exact behavioural
twin in Amaranth's simulator (no platform). The twin follows the cell model of Yosys
(``share/ice40/cells_sim.v``, checked side by side under Icarus in
``tests/sim/test_spram.py``) for the inputs it is used with (``STANDBY`` and ``SLEEP`` low,
``POWEROFF`` high): with ``cs`` and not ``wren`` it reads ``data_out <= mem[addr]``; with
``cs`` and ``wren`` it writes the nibbles of ``mask_wren`` and its output is undefined;
without ``cs`` the output holds. Where the cell's output or contents are undefined (after a
write; the contents at power-up) the twin gives pseudo-random values, so a design that used
them fails its bit-exact tests instead of passing by luck.

:class:`SynapseSPRAM` holds the GC layer's weight code and GC index per synapse in four
SPRAMs: two banks (even and odd synapses) of two SPRAMs (a 32-bit word: the weight in the
low nibbles, then as many low bits of the GC index as fit; the rest of the index, for more
than 256 GCs at the default format, in a small block RAM). The STDP sweep reads synapse ``k``
and writes synapse ``k - 7`` (the weight write-back, seven stages behind) in the same clock.
Every write is registered first (the layer's write enables come out of deep logic) and
reaches its bank a clock later. A bank does one access per clock, so a write whose bank is
being read then waits in the bank's one-entry *pending* register and is written at the
bank's next clock without a read. A read takes the registered and the pending write of its
word from there (forwarded), so the table behaves exactly as a memory whose writes take
effect at once (a read in the clock of a write to the same word gives the old word, as the
block RAM's non-transparent port).

Why one pending entry per bank suffices (no write is ever delayed twice, so the sweep keeps
one synapse per clock): wherever the layer writes the table while it reads it (the STDP
sweep, CLAMP), two reads in consecutive clocks are of consecutive synapses, and so are two
writes. In the sweep the walker's next list starts where the last one ended (both are
``ptr[m + 1]``) and an empty list costs a clock of its own, whatever the pointers hold; the
writes are the reads seven clocks later; CLAMP reads ``n`` and writes ``n - 2``, ``n``
counting up. The event-driven walk (learning off) reads lists in any order but writes
nothing. So a bank is never read in two consecutive
clocks, and never gets new writes in two consecutive clocks. (The registered writes are the same stream a clock
later.) A write that waits at clock ``T`` (its bank read at ``T``) is written at ``T + 1``,
when its bank is not read; no new write for that bank arrives at ``T + 1``; so the pending
register is empty again at ``T + 2``, and a new write finding it full at the same time as
a read would need writes in consecutive clocks. Host writes (between steps) come without reads. ``overflow`` pulses if
the assumption is ever broken (a safety net: the GC layer's ports cannot make it happen);
the GC layer turns it into its sticky ``error``, which every bench checks.
"""

import random

from amaranth import Cat, ClockSignal, Const, Instance, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .kit import CheckedComponent

__all__ = ["SPRAM", "SynapseSPRAM", "SPRAM_DEPTH", "SPRAM_WIDTH", "spram_platform",
           "SPRAM_SYNAPSES"]

#: Words and bits of one SB_SPRAM256KA.
SPRAM_DEPTH, SPRAM_WIDTH = 16384, 16
#: The synapses :class:`SynapseSPRAM` holds (two banks of SPRAM_DEPTH words).
SPRAM_SYNAPSES = 2 * SPRAM_DEPTH


def spram_platform(platform):
    """True for an Amaranth platform of an iCE40UP (the devices with SPRAM)."""
    return (str(getattr(platform, "family", "")).lower() == "ice40"
            and str(getattr(platform, "device", "")).startswith("iCE40UP"))


class SPRAM(wiring.Component):
    """One SB_SPRAM256KA (the cell on an iCE40UP platform, the twin in simulation).

    Parameters
    ----------
    seed : int
        Seed of the twin's power-up contents and of its output after writes (pseudo-random:
        the cell's are undefined).

    Members
    -------
    addr : ``In(14)``; data_in : ``In(16)``; mask_wren : ``In(4)`` (a nibble each);
    wren : ``In(1)``; cs : ``In(1)``; data_out : ``Out(16)``
        The cell's ADDRESS, DATAIN, MASKWREN, WREN, CHIPSELECT and DATAOUT (STANDBY and SLEEP
        low, POWEROFF high, the clock the ``sync`` domain's).

    Raises
    ------
    ValueError
        At elaboration for a platform that is not an iCE40UP.
    """

    def __init__(self, *, seed=0):
        self._seed = int(seed)
        super().__init__({"addr": In(14), "data_in": In(SPRAM_WIDTH), "mask_wren": In(4),
                          "wren": In(1), "cs": In(1), "data_out": Out(SPRAM_WIDTH)})

    def elaborate(self, platform):
        if platform is not None and not spram_platform(platform):
            raise ValueError(f"SB_SPRAM256KA exists on the iCE40UP only, not on "
                             f"{getattr(platform, 'device', type(platform).__name__)} "
                             f"(build the GC layer without spram)")
        m = Module()
        if platform is not None:
            m.submodules.cell = Instance(
                "SB_SPRAM256KA", i_ADDRESS=self.addr, i_DATAIN=self.data_in,
                i_MASKWREN=self.mask_wren, i_WREN=self.wren, i_CHIPSELECT=self.cs,
                i_CLOCK=ClockSignal(), i_STANDBY=Const(0), i_SLEEP=Const(0),
                i_POWEROFF=Const(1), o_DATAOUT=self.data_out)
            return m
        rng = random.Random(self._seed)
        m.submodules.mem = mem = Memory(shape=unsigned(SPRAM_WIDTH), depth=SPRAM_DEPTH,
                                        init=[rng.getrandbits(SPRAM_WIDTH)
                                              for _ in range(SPRAM_DEPTH)])
        wp = mem.write_port(granularity=4)
        rp = mem.read_port()
        write = self.cs & self.wren
        m.d.comb += [wp.addr.eq(self.addr), wp.data.eq(self.data_in),
                     wp.en.eq(Mux(write, self.mask_wren, 0)),
                     rp.addr.eq(self.addr), rp.en.eq(self.cs & ~self.wren)]
        # after a write the cell's output is undefined: a 16-bit LFSR's value
        undefined = Signal()
        noise = Signal(SPRAM_WIDTH, init=rng.getrandbits(SPRAM_WIDTH) | 1)
        m.d.sync += noise.eq(Cat(noise[15] ^ noise[14] ^ noise[12] ^ noise[3], noise[:15]))
        with m.If(write):
            m.d.sync += undefined.eq(1)
        with m.Elif(self.cs):
            m.d.sync += undefined.eq(0)
        m.d.comb += self.data_out.eq(Mux(undefined, noise, rp.data))
        return m


class _Port:
    """The signals of a memory port (``addr``, ``data`` and, for writes, ``en``), for code
    written for :class:`amaranth.lib.memory.Memory` ports."""

    def __init__(self, name, abits, dbits, write):
        self.addr = Signal(abits, name=f"{name}_addr")
        self.data = Signal(dbits, name=f"{name}_data")
        if write:
            self.en = Signal(name=f"{name}_en")


class SynapseSPRAM(CheckedComponent):
    """The weight code and the GC index of ``depth`` synapses in four SPRAMs (two banks of
    two; see the module docstring), with the ports of two memories.

    Parameters
    ----------
    depth : int
        Synapses, at most :data:`SPRAM_SYNAPSES`.
    wbits, gbits : int
        Bits of a weight code (at most 28) and of a GC index.
    late_check : bool
        ``overflow`` from registered inputs (a clock later, two clocks after the lost
        write): no deep write-enable or read-request logic ends in its check (the compact
        GC layer's choice, for the iCE40UP's 30 MHz).

    Members
    -------
    rd : dict
        ``"w"`` and ``"fan"``: read ports (``addr``, ``data``; the data one clock after the
        address, as a synchronous block-RAM port). Both read the synapse at
        ``rd["w"].addr`` (the layer reads both at the same address; ``rd["fan"].addr`` is
        not used).
    wr : dict
        ``"w"`` and ``"fan"``: write ports (``addr``, ``data``, ``en``); at most one of them
        writes in a clock (or both the same synapse).
    rd_need : ``In(1)``
        The read's data is used (the bank is then not free for a write).
    overflow : ``Out(1)``
        A write was lost in the clock before: a third access for a bank in a clock (see the
        module docstring: the GC layer never makes one).
    """

    @classmethod
    def check(cls, depth, wbits, gbits, *, late_check=False):
        if not 1 <= depth <= SPRAM_SYNAPSES:
            raise ValueError(f"the SPRAM holds 1 to {SPRAM_SYNAPSES} synapses, not {depth}")
        if not 1 <= wbits <= 28:
            raise ValueError(f"a weight code in the SPRAM has 1 to 28 bits, not {wbits}")

    def __init__(self, depth, wbits, gbits, *, late_check=False):
        self._depth, self._wbits, self._gbits = depth, wbits, gbits
        self._late = bool(late_check)
        self._wnib = (wbits + 3) // 4                  # nibbles of the weight
        self._glo = min(gbits, 32 - 4 * self._wnib)    # GC bits in the SPRAM word
        self._kbits = kbits = max(1, (depth - 1).bit_length())
        super().__init__({"rd_need": In(1), "overflow": Out(1)})
        self.rd = {"w": _Port("syn_w_rd", kbits, wbits, False),
                   "fan": _Port("syn_fan_rd", kbits, gbits, False)}
        self.wr = {"w": _Port("syn_w_wr", kbits, wbits, True),
                   "fan": _Port("syn_fan_wr", kbits, gbits, True)}
        self.cells = [[SPRAM(seed=2 * b + h) for h in range(2)] for b in range(2)]
        self._fan_hi = None
        if gbits > self._glo:
            self._fan_hi = Memory(shape=unsigned(gbits - self._glo), depth=depth, init=[])

    @property
    def layout(self):
        """``(weight nibbles, GC bits in the SPRAM, GC bits in block RAM)``."""
        return self._wnib, self._glo, self._gbits - self._glo

    def elaborate(self, platform):
        m = Module()
        kbits, wnib, glo = self._kbits, self._wnib, self._glo
        rd, wr = self.rd, self.wr
        gat = 4 * wnib                                 # the GC field's first bit

        # the one write of the clock: a weight, a GC index, or both of one synapse
        w_en, f_en = wr["w"].en, wr["fan"].en
        n_en = w_en | f_en
        n_addr = Signal(kbits)
        n_data = Signal(32)
        n_mask = Signal(8)
        m.d.comb += [n_addr.eq(Mux(w_en, wr["w"].addr, wr["fan"].addr)),
                     n_data.eq(Cat(wr["w"].data, Const(0, gat - self._wbits),
                                   wr["fan"].data[:glo])),
                     n_mask.eq(Cat(Mux(w_en, (1 << wnib) - 1, 0)[:wnib],
                                   Mux(f_en, (1 << (8 - wnib)) - 1, 0)[:8 - wnib]))]
        clash = w_en & f_en & (wr["w"].addr != wr["fan"].addr)
        # the write registered (the engine's write enables come from deep logic): it reaches
        # its bank a clock later, and a read in that clock takes it from here
        q_v, q_addr, q_data, q_mask = Signal(), Signal(kbits), Signal(32), Signal(8)
        m.d.sync += [q_v.eq(n_en), q_addr.eq(n_addr), q_data.eq(n_data), q_mask.eq(n_mask)]

        r_addr = rd["w"].addr
        r_bank, r_word = r_addr[0], r_addr[1:]
        q_bank, q_word = q_addr[0], q_addr[1:]
        if self._late:                                 # both enables and the GC write's
            both_r = Signal()                          # address registered beside q (whose
            fan_addr_r = Signal(kbits)                 # address is the weight's then)
            m.d.sync += [both_r.eq(w_en & f_en), fan_addr_r.eq(wr["fan"].addr)]
            clash = both_r & (q_addr != fan_addr_r)
        over = [clash]
        fwd_data, fwd_mask = Signal(32), Signal(8)     # the writes a read must see
        fwd_data_r, fwd_mask_r = Signal(32), Signal(8)
        sel = Signal()
        m.d.sync += sel.eq(r_bank)
        outs = []
        for b in range(2):
            lo, hi = self.cells[b]
            m.submodules[f"bank{b}_lo"] = lo
            m.submodules[f"bank{b}_hi"] = hi
            p_v = Signal(name=f"pend{b}_v")
            p_word = Signal(max(1, kbits - 1), name=f"pend{b}_word")
            p_data = Signal(32, name=f"pend{b}_data")
            p_mask = Signal(8, name=f"pend{b}_mask")
            read = Signal(name=f"read{b}")
            new = Signal(name=f"new{b}")
            m.d.comb += [read.eq(self.rd_need & (r_bank == b)), new.eq(q_v & (q_bank == b))]
            if self._late:                             # the same test a clock later
                read_r, new_pend_r = Signal(name=f"read{b}_r"), Signal(name=f"newp{b}_r")
                m.d.sync += [read_r.eq(read), new_pend_r.eq(new & p_v)]
                over.append(read_r & new_pend_r)
            else:
                over.append(read & new & p_v)          # a third access: a write lost
            addr, data, mask, wren = Signal(14), Signal(32), Signal(8), Signal()
            with m.If(read):
                m.d.comb += addr.eq(r_word)
                with m.If(new):
                    m.d.sync += [p_v.eq(1), p_word.eq(q_word), p_data.eq(q_data),
                                 p_mask.eq(q_mask)]
                # the read sees the pending write, then the registered one (newer)
                p_hit = p_v & (p_word == r_word)
                q_hit = new & (q_word == r_word)
                pm = Mux(p_hit, p_mask, 0)
                qm = Mux(q_hit, q_mask, 0)
                qbits = Cat(*[qm[i].replicate(4) for i in range(8)])
                m.d.comb += [fwd_mask.eq(pm | qm),
                             fwd_data.eq((q_data & qbits) | (p_data & ~qbits))]
            with m.Elif(p_v):
                m.d.comb += [addr.eq(p_word), data.eq(p_data), mask.eq(p_mask), wren.eq(1)]
                with m.If(new):
                    m.d.sync += [p_word.eq(q_word), p_data.eq(q_data), p_mask.eq(q_mask)]
                with m.Else():
                    m.d.sync += p_v.eq(0)
            with m.Elif(new):
                m.d.comb += [addr.eq(q_word), data.eq(q_data), mask.eq(q_mask), wren.eq(1)]
            with m.Else():
                m.d.comb += addr.eq(r_word)
            for h, cell in enumerate((lo, hi)):
                m.d.comb += [cell.addr.eq(addr), cell.data_in.eq(data[16 * h:16 * h + 16]),
                             cell.mask_wren.eq(mask[4 * h:4 * h + 4]), cell.wren.eq(wren),
                             cell.cs.eq(1)]
            outs.append(Cat(lo.data_out, hi.data_out))
        m.d.sync += [fwd_data_r.eq(fwd_data), fwd_mask_r.eq(fwd_mask)]
        m.d.sync += self.overflow.eq(Cat(*over).any())      # registered (timing)
        word = Signal(32)
        bits = Cat(*[fwd_mask_r[i].replicate(4) for i in range(8)])
        m.d.comb += word.eq((fwd_data_r & bits) | (Mux(sel, outs[1], outs[0]) & ~bits))
        fan = word[gat:gat + glo]
        if self._fan_hi is not None:
            m.submodules.fan_hi = self._fan_hi
            fw, fr = self._fan_hi.write_port(), self._fan_hi.read_port()
            m.d.comb += [fw.addr.eq(wr["fan"].addr), fw.data.eq(wr["fan"].data[glo:]),
                         fw.en.eq(f_en), fr.addr.eq(r_addr)]
            fan = Cat(fan, fr.data)
        m.d.comb += [rd["w"].data.eq(word[:self._wbits]), rd["fan"].data.eq(fan)]
        return m
