"""What the HDL blocks share: checked construction, registers, registered memory reads,
table-write ports and a register slice."""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.fixed.formats import index_bits

__all__ = ["CheckedComponent", "register", "RegisteredRead", "write_layout", "RegisterSlice",
           "index_bits"]


class CheckedComponent(wiring.Component):
    """A component whose constructor arguments are checked (by the class method ``check``,
    with the constructor's arguments) before the object exists, so that a bad call raises and
    leaves no never-elaborated component behind."""

    def __new__(cls, *args, **kwargs):
        cls.check(*args, **kwargs)
        return super().__new__(cls, src_loc_at=1)

    @classmethod
    def check(cls, *args, **kwargs):
        """Raise TypeError / ValueError for bad arguments; returns what ``__init__`` needs."""
        raise NotImplementedError


def register(m, name, value, shape=None):
    """A reset-less register named ``name`` that takes ``value`` every cycle (of the shape of
    ``value`` unless ``shape`` is given); returns it."""
    r = Signal(value.shape() if shape is None else shape, name=name, reset_less=True)
    m.d.sync += r.eq(value)
    return r


class RegisteredRead:
    """A synchronous read of ``memory``: ``addr`` and ``en`` in; ``data`` the entry at the
    address of the last cycle with ``en``, held otherwise (with ``en`` always high: Amaranth's
    synchronous read port, read-before-write included). Made of an asynchronous read port
    and a data register, which Yosys merges into the block RAM's synchronous read honouring
    the memory's ``no_rw_check`` attribute (for Amaranth's own synchronous port it would
    emulate read-before-write: a delayed write, an address comparison and a bypass
    multiplexer after the RAM). With ``no_rw_check`` a read of the address written in the
    same cycle is undefined on the FPGA: the user of this read must never use such data.
    ``port``: an asynchronous read port of ``memory`` made before (for a memory whose ports
    are made at construction), else one is made; ``en``: a value driving ``en``."""

    def __init__(self, m, memory, name, *, en=None, port=None):
        if port is None:
            port = memory.read_port(domain="comb")
        elif port.domain != "comb":
            raise ValueError(f"{name}: the port must be an asynchronous read port")
        self.addr = port.addr
        self.en = Signal(name=f"{name}_en")
        self.data = Signal(memory.shape, name=f"{name}_data", reset_less=True)
        if en is not None:
            m.d.comb += self.en.eq(en)
        with m.If(self.en):
            m.d.sync += self.data.eq(port.data)


def write_layout(addr_bits, data_bits):
    """The payload of a table-write stream: ``addr`` and ``data``."""
    return data.StructLayout({"addr": addr_bits, "data": data_bits})


class RegisterSlice(wiring.Component):
    """A one-entry stream buffer whose ``i.ready`` is a flip-flop (``~full``): it takes a
    transfer when empty and holds it on ``o`` until ``o`` takes it; it then is empty for one
    cycle at least (half throughput, no combinational path from ``o.ready`` to ``i.ready``).

    Parameters
    ----------
    shape : shape-castable
        The payload.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``
        ``o.valid`` is the ``full`` flag.
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        full = Signal()
        held = Signal.like(self.i.payload, reset_less=True)
        m.d.comb += [self.i.ready.eq(~full), self.o.valid.eq(full), self.o.payload.eq(held)]
        with m.If(~full):
            m.d.sync += held.eq(self.i.payload)
        # filled when empty and offered, emptied when taken: one 3-input function of flops
        m.d.sync += full.eq(Mux(full, ~self.o.ready, self.i.valid))
        return m
