"""A file-driven Verilog bench of the GC layer (no Python in the clock loop), for long runs under
Verilator or Icarus (``hetq compare gc-layer``).

The generated Verilog of :class:`~hetq.hdl.gc_layer.GCLayer` is wrapped in a testbench that
executes a program of host operations read with ``$readmemh`` from ``ops.hex``, one per line,
``{op[3:0], a[27:0], d[63:0]}``:

======  =====================================================================================
op      meaning
======  =====================================================================================
0       offer ``d`` on ``ptr_w`` until it is taken (a fan-out pointer write)
1       offer ``d`` on ``gc_w`` (the GC of a synapse)
2       offer ``d`` on ``weight_w`` (a weight code)
3       offer ``d`` on ``cmd`` (RESET, CONNECT, CLAMP)
4       wait 4 cycles, then until ``idle``; log ``I <cycle> <step>``
5       set ``learn`` to ``d[0]``; log ``L <cycle> <step>`` (a window starts)
6       offer ``d`` on ``i`` (an MC spike or an end-of-step marker), after a seeded random
        idle cycle with probability ``stall``/100
7       read the weights of synapses ``0 .. a-1`` through ``weight_rq``/``weight_rs`` into
        ``weights.txt``
8       offer ``d`` on ``weight_rq`` (a lane and a synapse) and write the weight returned to
        ``weights.txt`` (the reads of a layer in lanes)
9       (GC->MC path) offer ``d`` on ``iic_w``, then start taking the currents from ``iic``
        (``ready`` low with probability ``ostall``/100), one hex line each in ``iic.txt``
10      (GC->MC path) wait until ``a`` currents have been taken
15      end: log ``S <cycles> <error>``
======  =====================================================================================

Every GC spike taken from ``o`` (whose ``ready`` is low with probability ``ostall``/100) is a
hex line of ``spikes.txt``. A run longer than ``limit`` cycles logs ``TIMEOUT``.
"""

from pathlib import Path

import numpy as np
from amaranth import Shape

from ...hdl.gc_lanes import gc_layer
from ...hdl.gc_layer import GCLayer
from ..kit.filebench import CLOCK, alloc, check_simulator, compile_bench, run_compiled
from ..kit.verilog import pack_struct, write_verilog
from .stimulus import expected_gc, host_tables

__all__ = ["OPS", "gc_program", "run_gc_file_bench", "FileBenchResult"]

OPS = {"ptr": 0, "gc": 1, "weight": 2, "cmd": 3, "idle": 4, "learn": 5, "mc": 6, "read": 7,
       "read_one": 8, "iic_w": 9, "iic_wait": 10, "end": 15}

_TB = CLOCK + """  reg [95:0] ops [0:{n_alloc}-1];
  reg [{iw}-1:0] i_payload = 0;  reg i_valid = 1'b0;  wire i_ready;
  reg [{ww}-1:0] w_payload = 0;  reg w_valid = 1'b0;  wire w_ready;
  reg [{pw}-1:0] p_payload = 0;  reg p_valid = 1'b0;  wire p_ready;
  reg [{gw}-1:0] g_payload = 0;  reg g_valid = 1'b0;  wire g_ready;
  reg [1:0] c_payload = 0;       reg c_valid = 1'b0;  wire c_ready;
  reg [{kw}-1:0] q_payload = 0;  reg q_valid = 1'b0;  wire q_ready;
  wire [{rw}-1:0] r_payload;     wire r_valid;
  wire [{ow}-1:0] o_payload;     wire o_valid;        reg o_ready = 1'b0;
  reg learn = 1'b0;
  wire idle, error;
  reg [{ew}-1:0] x_payload = 0;  reg x_valid = 1'b0;  wire x_ready;
  wire [{ew}-1:0] e_payload;     wire e_valid;        reg e_ready = 1'b0;
  reg e_on = 1'b0;
  integer fe, taken;
  wire [{sw}-1:0] step;
  integer n, seed, stall, ostall, limit, fd, fs, fw, cycle, pc, state, waitc, k, count;
  reg [3:0] op;
  reg [27:0] a;
  reg [63:0] d;

  {top} dut (
    .clk(clk), .rst(rst),
    .i__payload(i_payload), .i__valid(i_valid), .i__ready(i_ready),
    .weight_w__payload(w_payload), .weight_w__valid(w_valid), .weight_w__ready(w_ready),
    .ptr_w__payload(p_payload), .ptr_w__valid(p_valid), .ptr_w__ready(p_ready),
    .gc_w__payload(g_payload), .gc_w__valid(g_valid), .gc_w__ready(g_ready),
    .cmd__payload(c_payload), .cmd__valid(c_valid), .cmd__ready(c_ready),
    .weight_rq__payload(q_payload), .weight_rq__valid(q_valid), .weight_rq__ready(q_ready),
    .weight_rs__payload(r_payload), .weight_rs__valid(r_valid), .weight_rs__ready(1'b1),
    .o__payload(o_payload), .o__valid(o_valid), .o__ready(o_ready),
    .cycle_w__payload({sw}'d0), .cycle_w__valid(1'b0),
    .learn(learn), .idle(idle), .error(error), .step(step){iic_ports}
  );

  initial begin
    if (!$value$plusargs("n=%d", n)) n = 0;
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    if (!$value$plusargs("stall=%d", stall)) stall = 0;
    if (!$value$plusargs("ostall=%d", ostall)) ostall = 0;
    if (!$value$plusargs("limit=%d", limit)) limit = 2000000000;
    $readmemh("ops.hex", ops);
    fd = $fopen("bench.txt", "w");
    fs = $fopen("spikes.txt", "w");
    fw = $fopen("weights.txt", "w");
    fe = $fopen("iic.txt", "w");
    taken = 0;
    cycle = 0; pc = 0; state = 0; waitc = 0; k = 0; count = 0;
    repeat (2) @(posedge clk);
    rst <= 1'b0;
  end

  always @(posedge clk) if (!rst) begin
    cycle = cycle + 1;
    if (o_valid && o_ready) $fwrite(fs, "%h\\n", o_payload);
    o_ready <= ($unsigned($random(seed)) % 100) >= ostall;
    if (e_valid && e_ready) begin $fwrite(fe, "%h\\n", e_payload); taken = taken + 1; end
    e_ready <= e_on && (($unsigned($random(seed)) % 100) >= ostall);
    if (r_valid) begin
      $fwrite(fw, "%h\\n", r_payload);
      k = k + 1;
      if (k == count) begin pc = pc + 1; state = 0; end
      else state = 7;
    end
    if (cycle > limit) begin
      $fwrite(fd, "TIMEOUT at op %0d\\n", pc);
      $fclose(fd); $fclose(fs); $fclose(fw); $fclose(fe);
      $finish;
    end
    case (state)
      0: begin
        op = ops[pc][95:92]; a = ops[pc][91:64]; d = ops[pc][63:0];
        case (op)
          4'd0: begin p_payload <= d; p_valid <= 1'b1; state = 10; end
          4'd1: begin g_payload <= d; g_valid <= 1'b1; state = 11; end
          4'd2: begin w_payload <= d; w_valid <= 1'b1; state = 12; end
          4'd3: begin c_payload <= d; c_valid <= 1'b1; state = 13; end
          4'd4: begin waitc = 4; state = 4; end
          4'd5: begin learn <= d[0]; pc = pc + 1; $fwrite(fd, "L %0d %0d\\n", cycle, step); end
          4'd6: if (stall == 0 || ($unsigned($random(seed)) % 100) >= stall) begin
                  i_payload <= d; i_valid <= 1'b1; state = 16;
                end
          4'd7: begin k = 0; count = a; if (a == 0) pc = pc + 1; else state = 7; end
          4'd8: begin k = 0; count = 1; q_payload <= d; q_valid <= 1'b1; state = 17; end
          4'd9: begin x_payload <= d; x_valid <= 1'b1; state = 19; end
          4'd10: if (taken >= a) pc = pc + 1;
          default: begin
            $fwrite(fd, "S %0d %0d\\n", cycle, error);
            $fclose(fd); $fclose(fs); $fclose(fw); $fclose(fe);
            $finish;
          end
        endcase
      end
      4: if (waitc > 0) waitc = waitc - 1;
         else if (idle) begin $fwrite(fd, "I %0d %0d\\n", cycle, step); pc = pc + 1; state = 0; end
      7: begin q_payload <= k; q_valid <= 1'b1; state = 17; end
      10: if (p_ready) begin p_valid <= 1'b0; pc = pc + 1; state = 0; end
      11: if (g_ready) begin g_valid <= 1'b0; pc = pc + 1; state = 0; end
      12: if (w_ready) begin w_valid <= 1'b0; pc = pc + 1; state = 0; end
      13: if (c_ready) begin c_valid <= 1'b0; pc = pc + 1; state = 0; end
      16: if (i_ready) begin i_valid <= 1'b0; pc = pc + 1; state = 0; end
      17: if (q_ready) begin q_valid <= 1'b0; state = 18; end
      19: if (x_ready) begin x_valid <= 1'b0; e_on <= 1'b1; pc = pc + 1; state = 0; end
      default: ;
    endcase
  end
endmodule
"""


def _widths(config):
    dut = gc_layer(config)
    w = lambda port: Shape.cast(port.payload.shape()).width  # noqa: E731
    ports = ("\n    , .iic__payload(e_payload), .iic__valid(e_valid), .iic__ready(e_ready)"
             "\n    , .iic_w__payload(x_payload), .iic_w__valid(x_valid), .iic_w__ready(x_ready)"
             if config.iic else "")
    return dut, {"iw": w(dut.i), "ww": w(dut.weight_w), "pw": w(dut.ptr_w), "gw": w(dut.gc_w),
                 "kw": w(dut.weight_rq), "rw": w(dut.weight_rs), "ow": w(dut.o),
                 "sw": config.stamp_bits, "ew": config.fmt.current_bits, "iic_ports": ports}


def gc_program(stim, exp, dut):
    """The host program (a list of ``(op, a, d)``) that runs ``stim`` as the Amaranth bench
    does: the lists, CONNECT, the preloaded weights, then per sample the learning flag, the
    MC raster step by step (spikes, then an end marker), a wait for idle, CLAMP where asked,
    and a read of every weight (in lanes: each lane's lists, and a read per synapse with its
    lane and local address, in the global fan-out order); with the GC->MC path the weight
    after CONNECT and, before each read, a wait for the sample's currents."""
    c = stim.config
    tables = host_tables(stim, getattr(dut, "lane_capacity", None))
    n_syn = len(tables.read)
    sig = lambda port: port.payload.shape()  # noqa: E731
    ops = [(OPS["ptr" if port == "ptr_w" else "gc"], 0, pack_struct(sig(getattr(dut, port)), **pl))
           for port, pl in tables.writes]
    ops.append((OPS["cmd"], 0, GCLayer.CONNECT))
    if stim.weights is not None:
        ops += [(OPS["weight"], 0, pack_struct(sig(dut.weight_w), **tables.weight(k, w)))
                for k, w in enumerate(stim.weights)]
    if c.iic:
        ebits = c.fmt.current_bits
        ops.append((OPS["iic_w"], 0, stim.iic_weight & ((1 << ebits) - 1)))
    if tables.lanes == 1:
        reads = [(OPS["read"], n_syn, 0)]
    else:
        reads = [(OPS["read_one"], 0, pack_struct(sig(dut.weight_rq), **r)) for r in tables.read]
    ops.append((OPS["idle"], 0, 0))
    layout = sig(dut.i)
    rows = 1
    end = pack_struct(layout, mc=0, end=1)
    spike = [pack_struct(layout, mc=m, end=0) for m in range(stim.config.mcs)]
    for i, raster in enumerate(exp.mc_raster):
        ops.append((OPS["learn"], 0, int(stim.learn[i])))
        for row in raster:
            ops += [(OPS["mc"], 0, spike[m]) for m in np.flatnonzero(row)]
            ops.append((OPS["mc"], 0, end))
        ops.append((OPS["idle"], 0, 0))
        rows += c.window
        if c.iic:
            ops.append((OPS["iic_wait"], rows * c.mcs, 0))
        if i == stim.clamp_after:
            ops += [(OPS["cmd"], 0, GCLayer.CLAMP), (OPS["idle"], 0, 0)]
        if i == stim.reset_after:
            ops += [(OPS["cmd"], 0, GCLayer.RESET), (OPS["idle"], 0, 0)]
            rows += 1
            if c.iic:
                ops.append((OPS["iic_wait"], rows * c.mcs, 0))
        ops += reads
    ops.append((OPS["end"], 0, 0))
    return ops


class FileBenchResult:
    """What the file bench returned: GC spike events ``(step, gc)``, the weights read after
    every sample (samples, synapses), the first and last cycle of every window (``idles``,
    (samples, 2): from its first MC transfer's program step to the end of the wait for idle
    after it), the cycles, the error flag and, with the GC->MC path, the currents taken
    (emissions, mcs)."""

    def __init__(self, events, weights, idles, cycles, error, iic=None):
        self.events, self.weights, self.idles = events, weights, idles
        self.cycles, self.error, self.iic = cycles, error, iic


def run_gc_file_bench(stim, build_dir, *, simulator="verilator", seed=1, stall=0.0,
                      out_stall=0.0, exp=None, limit=None):
    """Run ``stim`` on the GC layer's Verilog under ``simulator`` in ``build_dir``; returns a
    :class:`FileBenchResult` (and the expectation it used)."""
    check_simulator(simulator)
    c = stim.config
    exp = expected_gc(stim) if exp is None else exp
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    dut, widths = _widths(c)
    ops = gc_program(stim, exp, dut)
    dut_v = write_verilog(dut, "gc_layer_dut", build_dir / "gc_layer_dut.v")
    tb = _TB.format(module="gc_layer_tb", top="gc_layer_dut", n_alloc=alloc(len(ops)), **widths)
    cmd = compile_bench(dut_v, tb, build_dir, simulator, module="gc_layer_tb",
                        prefix="gc_layer_tb")
    (build_dir / "ops.hex").write_text("".join(
        f"{(op << 92) | (a << 64) | d:024x}\n" for op, a, d in ops))
    if limit is None:
        steps = len(stim.drives) * c.window
        limit = 200 + len(ops) * 4 + steps * (c.synapses + c.mcs + c.gcs + 64) * 4 \
            + len(stim.drives) * 4 * c.synapses
    run_compiled(cmd, build_dir, n=len(ops), seed=seed, stall=round(100 * stall),
                 ostall=round(100 * out_stall), limit=limit)
    lines = (build_dir / "bench.txt").read_text().splitlines()
    bad = [line for line in lines if line.startswith("TIMEOUT")]
    if bad:
        raise RuntimeError(f"GC layer file bench: {bad[0]}")
    summary = [line.split() for line in lines if line.startswith("S ")]
    if not summary:
        raise RuntimeError("GC layer file bench ended without its summary line")
    # (start, end) cycles of every window: from its L line to the next I line
    windows, start = [], None
    for line in lines:
        if line.startswith("L "):
            start = int(line.split()[1])
        elif line.startswith("I ") and start is not None:
            windows.append((start, int(line.split()[1])))
            start = None
    idles = np.array(windows, dtype=np.int64).reshape(-1, 2)
    words = [int(w, 16) for w in (build_dir / "spikes.txt").read_text().split()]
    sbits = c.stamp_bits
    events = np.array([(w & ((1 << sbits) - 1), w >> sbits) for w in words],
                      dtype=np.int64).reshape(-1, 2)
    weights = np.array([int(w, 16) for w in (build_dir / "weights.txt").read_text().split()],
                       dtype=np.int64).reshape(len(stim.drives), -1)
    iic = None
    if c.iic:
        ebits = c.fmt.current_bits
        codes = [int(w, 16) for w in (build_dir / "iic.txt").read_text().split()]
        codes = [x - (1 << ebits) if x >> (ebits - 1) else x for x in codes]
        if len(codes) % c.mcs:
            raise RuntimeError(f"GC layer file bench: {len(codes)} GC->MC currents, not a "
                               f"multiple of {c.mcs} MCs")
        iic = np.array(codes, dtype=np.int64).reshape(-1, c.mcs)
    return FileBenchResult(events, weights, idles, int(summary[0][1]),
                           bool(int(summary[0][2])), iic), exp
