"""Verilog for the benches, and packing stream payloads to and from port integers.

Amaranth flattens a component's ports to ``<member>__<field>`` (e.g. ``i__payload``,
``o__valid``); a payload port is the concatenation of its layout's fields, first field in
the least significant bits.
"""

import os
import re
from contextlib import contextmanager
from pathlib import Path

__all__ = ["builtin_yosys", "write_verilog", "kick_time_zero", "pack_array", "unpack_array",
           "pack_struct", "unpack_struct"]


@contextmanager
def builtin_yosys():
    """Make Amaranth convert with its bundled Yosys even when ``YOSYS`` points at YoWASP (which
    Amaranth would otherwise prefer, and which compiles slowly on its first call)."""
    old = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        yield
    finally:
        if old is None:
            del os.environ["AMARANTH_USE_YOSYS"]
        else:
            os.environ["AMARANTH_USE_YOSYS"] = old


_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;$",
                      re.MULTILINE)


def kick_time_zero(text):
    """Make every ``always @*`` block of Yosys's Verilog run once at time zero under Icarus.

    Yosys adds a dummy ``reg <trigger> = 0`` to each such block so that the block runs at
    time zero; Icarus applies that initialiser before the blocks wait on it, so a block whose
    inputs never change (a constant-state FSM output, say) would stay X for ever (see
    amaranth-lang/amaranth#594). An ``initial #0`` toggle after the blocks have started fixes
    that without touching the logic."""
    return _TRIGGER.sub(lambda m: f"{m[1]}reg {m[2]} = 0;\n{m[1]}initial #0 {m[2]} = 1'h1;", text)


def write_verilog(component, name, path):
    """Convert ``component`` to a Verilog module ``name`` in file ``path`` for simulation
    (no source locations, so the text does not depend on where the project lives; see
    :func:`kick_time_zero`). Returns the path."""
    from amaranth.back import verilog

    with builtin_yosys():
        text = kick_time_zero(verilog.convert(component, name=name, emit_src=False))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def pack_array(values, width):
    """Integers of ``width`` bits each into one port value (element 0 least significant)."""
    word = 0
    for k, v in enumerate(values):
        v = int(v)
        if not 0 <= v < (1 << width):
            raise ValueError(f"element {k} = {v} does not fit {width} bits")
        word |= v << (k * width)
    return word


def unpack_array(word, width, count):
    mask = (1 << width) - 1
    return [(int(word) >> (k * width)) & mask for k in range(count)]


def pack_struct(layout, **fields):
    """Field values into a port value following an Amaranth ``StructLayout``."""
    word = 0
    for name, field in layout:
        v = int(fields[name])
        width = field.width
        if not 0 <= v < (1 << width):
            raise ValueError(f"field {name} = {v} does not fit {width} bits")
        word |= v << field.offset
    return word


def unpack_struct(layout, word):
    """A port value into a dict of field values following a ``StructLayout``."""
    word = int(word)
    return {name: (word >> field.offset) & ((1 << field.width) - 1) for name, field in layout}
