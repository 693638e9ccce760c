"""A file-driven Verilog bench of the MC array (no Python in the clock loop).

The generated Verilog of :class:`~hetq.hdl.mc_array.SensorMCArray` is wrapped in a Verilog
testbench that reads the samples, the table writes (with their delays) and, with inhibition,
the extra currents from ``$readmemh`` files, drives them with seeded ``$random`` idle cycles
and a ``$random`` back-pressure on ``o.ready`` (the sources and ``o.ready`` of
:mod:`hetq.sim.kit.filebench`), and writes:

* ``spikes.txt``: every spike transfer ``(step, mc)``, one hex line each;
* ``bench.txt``: one ``W`` line per table write (how many samples came before it), per
  sample window an ``H`` line with the :func:`~.stimulus.state_hash` of its state
  write-backs and the cycles of its first and last write-back, and a summary ``S`` line
  (or ``TIMEOUT``);
* ``states.txt`` (optional): every state word of every write-back
  (:func:`~.stimulus.state_words`), one hex line per MC.

The bench counts write-backs whose group is not the next in issue order and reports them; it
ends once every window has been written back, all writes were taken and ``o.valid`` has been
low for :data:`DRAIN_CYCLES` cycles in a row (``o.valid`` stays high while a spike waits for
``o.ready``, so back-pressure cannot end the drain early).
"""

from pathlib import Path

import numpy as np
from amaranth import Shape

from ...hdl.mc_array import monitor_layout, spike_layout
from ..kit.filebench import (CLOCK, SOURCES_DECL, SOURCES_INIT, SOURCES_PORTS, SOURCES_STEP,
                             alloc, check_simulator, compile_bench, hex_rows, hex_words,
                             meta_lines, run_compiled, source_widths, split_fields,
                             stream_source_lines, write_order, write_sources)
from ..kit.verilog import write_verilog
from .stimulus import HASH_MULTIPLIER, ArrayBenchResult, array_cycle_budget, build_array_dut

__all__ = ["run_array_file_bench", "DRAIN_CYCLES", "DUMP_LIMIT"]

#: Cycles in a row with ``o.valid`` low after the last write-back that end a run.
DRAIN_CYCLES = 100

#: Runs with at most this many write-backs (group updates) dump every state by default.
DUMP_LIMIT = 200_000

_TB = CLOCK + SOURCES_DECL + """  wire [{ow}-1:0] o_payload;
  wire o_valid;
  reg o_ready = 1'b0;
  wire [{mw}-1:0] monitor;
{lane_words}{extra_decl}  integer fs, fe, dump, wb, total, wk, wfirst, egroup, bad_group, idle;
  integer last_out;
  reg [63:0] h, p;

  {top} dut (
    .clk(clk), .rst(rst),
""" + SOURCES_PORTS + """{extra_ports}\
    .o__payload(o_payload), .o__valid(o_valid), .o__ready(o_ready),
    .monitor(monitor)
  );

  initial begin
""" + SOURCES_INIT + """{extra_init}    if (!$value$plusargs("dump=%d", dump)) dump = 0;
    fd = $fopen("bench.txt", "w");
    fe = $fopen("spikes.txt", "w");
    if (dump) fs = $fopen("states.txt", "w");
    wb = 0; total = n * {per_window}; wk = 0; wfirst = 0; egroup = 0; bad_group = 0;
    idle = 0; last_out = 0; h = 64'd0; p = 64'd1;
    repeat (2) @(posedge clk);
    rst <= 1'b0;
  end

  task finish_bench;
    begin
      $fclose(fd);
      $fclose(fe);
      if (dump) $fclose(fs);
      $finish;
    end
  endtask

  always @(posedge clk) if (!rst) begin
    cycle = cycle + 1;
""" + SOURCES_STEP + """{extra_step}    // spikes
    if (o_valid && o_ready) begin
      $fwrite(fe, "%h\\n", o_payload);
      last_out = cycle;
    end
    o_ready <= (($random(seed) & 1023) >= stall);
    // state write-backs: hash per window (k from 0, words in write order), optional dump
    if (monitor[{valid}]) begin
      if (monitor[{go} +: {gb}] != egroup) bad_group = bad_group + 1;
      egroup = (egroup == {groups} - 1) ? 0 : egroup + 1;
      if (wk == 0) wfirst = cycle;
{lane_hash}      if (dump) $fwrite(fs, "{lane_fmt}", {lane_list});
      wk = wk + 1;
      wb = wb + 1;
      last_out = cycle;
      if (wk == {per_window}) begin
        $fwrite(fd, "H %h %0d %0d\\n", h, wfirst, cycle);
        h = 64'd0;
        p = 64'd1;
        wk = 0;
      end
    end
    // the end: every window written back, every write taken, the spike FIFO drained
    if (wb == total && si == n && wi == nw) begin
      if (o_valid) idle = 0;
      else idle = idle + 1;
      if (idle >= {drain}) begin
        $fwrite(fd, "S %0d %0d %0d\\n", first_in, last_out, bad_group);
        finish_bench;
      end
    end
    if (cycle > limit) begin
      $fwrite(fd, "TIMEOUT after %0d cycles: %0d of %0d write-backs, %0d of %0d samples, ",
              cycle, wb, total, si, n);
      $fwrite(fd, "%0d of %0d table writes\\n", wi, nw);
      finish_bench;
    end
  end
endmodule
"""

_EXTRA_DECL = """  reg [{ew}-1:0] x_payload = 0;
  reg x_valid = 1'b0;
  wire x_ready;
  reg [{ew}-1:0] extras [0:{ne_alloc}-1];
  integer ne, xi;
"""

_EXTRA_PORTS = """    .extra__payload(x_payload), .extra__valid(x_valid), .extra__ready(x_ready),
"""

_EXTRA_INIT = """    if (!$value$plusargs("ne=%d", ne)) ne = 0;
    if (ne > 0) $readmemh("extra.hex", extras);
    xi = 0;
"""


def _template_values(stim, capacity, nw, ne):
    """Everything :data:`_TB` needs besides the source widths."""
    fmt, lanes = stim.fmt, stim.lanes
    sb = fmt.state_bits
    o_layout = spike_layout(stim.array)
    m_layout = monitor_layout(stim.array)
    mon = {name: field for name, field in m_layout}
    vo, ro = mon["voltage"].offset, mon["refractory"].offset
    words = "".join(f"  wire [{sb}:0] word{k} = {{monitor[{ro + k}], "
                    f"monitor[{vo + k * sb} +: {sb}]}};\n" for k in range(lanes))
    lane_hash = "".join(f"      h = h + word{k} * p;\n"
                        f"      p = p * 64'h{HASH_MULTIPLIER:016x};\n" for k in range(lanes))
    values = {
        "top": "sensor_mc_array", "ow": Shape.cast(o_layout).width,
        "mw": Shape.cast(m_layout).width, "lane_words": words, "lane_hash": lane_hash,
        "lane_fmt": "%h\\n" * lanes, "lane_list": ", ".join(f"word{k}" for k in range(lanes)),
        "valid": mon["valid"].offset, "go": mon["group"].offset, "gb": mon["group"].width,
        "groups": stim.groups,
        "per_window": stim.window * stim.groups, "drain": DRAIN_CYCLES,
        "n_alloc": alloc(capacity), "nw_alloc": alloc(max(nw, capacity)),
        "extra_decl": "", "extra_ports": "", "extra_init": "", "extra_step": "",
    }
    if stim.extra is not None:
        values.update(
            extra_decl=_EXTRA_DECL.format(ew=lanes * fmt.current_bits,
                                          ne_alloc=alloc(max(ne, capacity * stim.window
                                                             * stim.groups))),
            extra_ports=_EXTRA_PORTS, extra_init=_EXTRA_INIT,
            extra_step="    // extra currents\n" + stream_source_lines("x", "xi", "ne", "extras"))
    return values, o_layout


def run_array_file_bench(stim, *, simulator="icarus", seed=1, stall=0.0, build_dir,
                         dump_states=None, timeout_cycles=None, capacity=None):
    """Run the :class:`~.stimulus.ArrayStimulus` ``stim`` on
    :class:`~hetq.hdl.mc_array.SensorMCArray` in the file-driven bench.

    Parameters
    ----------
    stim : ArrayStimulus
    simulator : {"icarus", "verilator"}
    seed : int
        Seed of the bench's ``$random`` patterns (0 .. 2**31 - 1).
    stall : float
        Probability of an idle cycle of each source (samples, extra currents) and of a low
        ``o.ready``, in [0, 1).
    build_dir : path
        Where the Verilog, the compiled bench (reused while the design, its initial tables
        and the memory sizes are unchanged) and the bench's files go.
    dump_states : bool, optional
        Also write every state word so that ``voltage`` and ``refractory`` of the result are
        filled; default: when the run has at most :data:`DUMP_LIMIT` write-backs.
    timeout_cycles : int, optional
        Cycle limit of the run (default :func:`~.stimulus.array_cycle_budget`).
    capacity : int, optional
        Samples the bench's memories are sized for (default: the stimulus's); runs of up to
        ``capacity`` samples (and as many table writes) share one compiled bench.

    Returns
    -------
    ArrayBenchResult
        Spike events in transfer order, the per-window ``hashes`` (uint64) and, with
        ``dump_states``, every written-back state; no comparison (see
        :func:`~.stimulus.expected_array`).

    Raises
    ------
    ValueError
        For bad arguments. RuntimeError when a simulator is missing, the run times out, or
        write-backs come out of group order.
    """
    check_simulator(simulator)
    if not 0 <= stall < 1:
        raise ValueError(f"stall must be in [0, 1), not {stall}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or \
            not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2**31), not {seed!r}")
    if dump_states is not None and not isinstance(dump_states, bool):
        raise ValueError(f"dump_states must be a bool or None, not {dump_states!r}")
    n, nw = len(stim.samples), len(stim.writes)
    if capacity is None:
        capacity = n
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or \
            capacity < n:
        raise ValueError(f"capacity must be an integer >= the samples ({n}), not {capacity!r}")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    dut = build_array_dut(stim)
    extra = stim.extra_words()
    ne = 0 if extra is None else len(extra)
    writebacks = n * stim.window * stim.groups
    if writebacks >= 2**31:
        raise ValueError(f"{n} samples of {stim.window * stim.groups} write-backs are too many "
                         "for one bench run (32-bit counters): split the stimulus")
    if dump_states is None:
        dump_states = writebacks <= DUMP_LIMIT

    dut_v = write_verilog(dut, "sensor_mc_array", build_dir / "sensor_mc_array.v")
    widths = source_widths(stim.config.quantizer)
    values, o_layout = _template_values(stim, capacity, nw, ne)
    tb = _TB.format(module="hetq_array_file_bench", **values, **widths)
    cmd = compile_bench(dut_v, tb, build_dir, simulator, module="hetq_array_file_bench",
                        prefix="array_bench")
    write_sources(stim.quant, widths, build_dir)
    if extra is not None:
        (build_dir / "extra.hex").write_bytes(hex_rows(extra, stim.fmt.current_bits,
                                                       signed=True))
    for name in ("bench.txt", "spikes.txt", "states.txt"):
        if (build_dir / name).exists():
            (build_dir / name).unlink()
    limit = min(timeout_cycles or array_cycle_budget(stim, stall), 2**31 - 1)   # 32-bit cycle count
    run_compiled(cmd, build_dir, n=n, nw=nw, ne=ne, seed=int(seed), stall=round(stall * 1024),
                 limit=limit, dump=int(dump_states))

    meta = (build_dir / "bench.txt").read_text().splitlines()
    (first_in, last_out, bad_group), wlines = meta_lines(meta)
    if bad_group:
        raise RuntimeError(f"file bench: {bad_group} write-backs out of group order")
    hlines = [m.split() for m in meta if m.startswith("H ")]
    try:
        hashes = np.array([int(h[1], 16) for h in hlines], dtype=np.uint64)
    except ValueError:
        raise RuntimeError("file bench: a state hash holds undefined (x/z) bits") from None
    if len(hashes) != n:
        raise RuntimeError(f"file bench: {len(hashes)} window hashes for {n} samples")
    o_width = Shape.cast(o_layout).width
    spikes = build_dir / "spikes.txt"
    events = split_fields(hex_words(spikes.read_bytes().split(b"\n")[:-1], o_width, spikes),
                          o_layout)
    voltage = refractory = None
    if dump_states:
        sb = stim.fmt.state_bits
        states = build_dir / "states.txt"
        words = hex_words(states.read_bytes().split(b"\n")[:-1], sb + 1, states)
        if len(words) != writebacks * stim.lanes:
            raise RuntimeError(f"file bench: {len(words)} state words, expected "
                               f"{writebacks * stim.lanes}")
        v = (words & np.uint64((1 << sb) - 1)).astype(np.int64)
        voltage = np.where(v >> (sb - 1), v - (1 << sb), v).reshape(stim.steps, stim.mcs)
        refractory = ((words >> np.uint64(sb)) & np.uint64(1)).astype(bool)
        refractory = refractory.reshape(stim.steps, stim.mcs)
    return ArrayBenchResult(events=events, voltage=voltage, refractory=refractory,
                            order=write_order(n, wlines, False),
                            first_in=first_in, last_out=last_out, samples=n, hashes=hashes)
