"""The quantizer's file-driven Verilog bench for long runs (no Python in the clock loop).

The quantizer's generated Verilog is wrapped in a small Verilog testbench (the sources of
:mod:`hetq.sim.kit.filebench`) that reads the samples and table writes from ``$readmemh``
files, drives them with ``$random`` idle cycles (seeded), applies a ``$random`` back-pressure
on ``o.ready``, and writes every output transfer as one fixed-width hex line, plus one line
per table write telling how many samples were accepted before it. Python then checks the
outputs against the golden model (:func:`~.stimulus.expected_records`).
"""

from pathlib import Path

import numpy as np
from amaranth import Shape

from ...hdl.quantizer import output_layout
from ..kit.events import cycle_budget
from ..kit.filebench import (CLOCK, SOURCES_DECL, SOURCES_INIT, SOURCES_PORTS, SOURCES_STEP,
                             alloc, check_simulator, compile_bench, meta_lines,
                             read_hex_records, run_compiled, source_widths, write_order,
                             write_sources)
from ..kit.verilog import write_verilog
from .stimulus import BenchResult, build_dut, toplevel

__all__ = ["run_file_bench"]

_TB = CLOCK + SOURCES_DECL + """  wire [{ow}-1:0] o_payload;
  wire o_valid;
  reg o_ready = 1'b0;
  integer outs, expected, last_out;

  {top} dut (
    .clk(clk), .rst(rst),
""" + SOURCES_PORTS + """    .o__payload(o_payload), .o__valid(o_valid), .o__ready(o_ready),
    // the table read ports are idle (not floating: an X there would stop the design)
    .weight_r__payload({{{rw}{{1'b0}}}}), .weight_r__valid(1'b0), .weight_d__ready(1'b0),
    .threshold_r__payload({{{trw}{{1'b0}}}}), .threshold_r__valid(1'b0),
    .threshold_d__ready(1'b0)
  );

  initial begin
""" + SOURCES_INIT + """    fd = $fopen("outputs.txt", "w");
    outs = 0; expected = n * {mcs}; last_out = 0;
    repeat (2) @(posedge clk);
    rst <= 1'b0;
  end

  always @(posedge clk) if (!rst) begin
    cycle = cycle + 1;
""" + SOURCES_STEP + """    // outputs
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


def run_file_bench(stim, *, simulator="icarus", seed=1, stall=0.0, build_dir,
                   timeout_cycles=None, capacity=None):
    """Run ``stim`` through the file-driven bench; returns a :class:`~.stimulus.BenchResult`
    (no comparison: see :func:`~.stimulus.expected_records`).

    The bench's ``$random`` patterns are seeded with ``seed``; ``stall`` is the probability of
    an idle source cycle and of a low ``ready``. The compiled bench is kept in ``build_dir``
    and reused while the design (including its initial tables) and the memory sizes are
    unchanged; ``capacity`` (default the stimulus's size) sizes the memories for up to that
    many samples and table writes, so that the chunks of a long run share one bench."""
    check_simulator(simulator)
    n, nw = len(stim.samples), len(stim.writes)
    capacity = n if capacity is None else capacity
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or \
            capacity < max(n, nw):
        raise ValueError(f"capacity must be an integer >= the samples ({n}) and writes ({nw}),"
                         f" not {capacity!r}")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    config = stim.config
    top = toplevel(stim)
    dut_v = write_verilog(build_dut(stim), top, build_dir / f"{top}.v")
    widths = source_widths(config, stim.normalised)
    o_layout = output_layout(config)
    tb = _TB.format(module="hetq_file_bench", top=top, ow=Shape.cast(o_layout).width,
                    n_alloc=alloc(capacity), nw_alloc=alloc(capacity), mcs=config.mcs,
                    rw=config.weight_addr_bits, trw=config.threshold_addr_bits,
                    **widths)
    cmd = compile_bench(dut_v, tb, build_dir, simulator, module="hetq_file_bench",
                        prefix="file_bench")
    write_sources(stim, widths, build_dir)
    limit = timeout_cycles or cycle_budget(stim.period, n, stall=stall,
                                           extra=sum(w.delay for w in stim.writes))
    out = build_dir / "outputs.txt"
    if out.exists():
        out.unlink()
    run_compiled(cmd, build_dir, n=n, nw=nw, seed=int(seed), stall=round(stall * 1024),
                 limit=min(limit, 2**31 - 1))
    records, meta = read_hex_records(out, o_layout)
    (first_in, last_out), wlines = meta_lines(meta)
    return BenchResult(records=records, order=write_order(n, wlines, stim.normalised),
                       first_in=first_in, last_out=last_out, samples=n)
