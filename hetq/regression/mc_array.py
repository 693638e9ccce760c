"""``hetq compare mc-array``: the MC array's RTL (with the normaliser and quantizer feeding it)
against its golden model."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..golden.fixed.mc_array import SensorMCArrayConfig
from . import MAX_EXAMPLES, check_run, exclusive, require_simulator

__all__ = ["ArrayCompareReport", "compare_mc_array"]


@dataclass
class ArrayCompareReport:
    """Outcome of :func:`compare_mc_array`.

    Members
    -------
    spikes : int
        Spike events the RTL sent.
    event_mismatches : int
        Expected events that are missing plus events that should not be there; when the
        events are the right ones in the wrong order, the positions that differ.
    states, state_mismatches : int
        MC states (one per MC and step) compared one by one, and those that differ (benches
        that return every write-back).
    windows, hash_mismatches : int
        Sample windows whose state hash (:func:`~hetq.sim.mc_array.stimulus.state_hash`)
        was compared, and those that differ (benches that hash the write-backs).
    writebacks : int
        State write-backs (group updates) checked, by state or by hash.
    phases, phase_mismatches : int
        Without inhibition: first-spike phases of every MC in every gamma cycle (from the
        RTL's events, :func:`~hetq.golden.fixed.mc_array.cycle_phases`) checked against the golden
        quantizer (the phase of the sample's drive under the format's threshold table in every
        hold cycle, silence in every rinse cycle), and those that differ; 0 and 0 with
        inhibition.
    cycles_per_sample : float
        Clock cycles from the first sample transfer to the last write-back or spike, per
        sample (measured).
    cycles_per_step : float
        ``cycles_per_sample`` per step of the window (measured).
    nominal_cycles_per_step, nominal_cycles_per_cycle, nominal_cycles_per_sample : int
        The array's figures with nothing stalling (:class:`~hetq.hdl.mc_array.MCArray`).
    examples : list
        Up to ten mismatches as (chunk, kind, index, got, expected).
    first_events, first_phases : arrays
        The RTL's spike events of the first chunk's first (at most 8) windows and the golden
        quantizer's phases of those samples under the format's threshold table (for
        :func:`~hetq.plots.plot_array_raster`).
    """

    config: SensorMCArrayConfig
    simulator: str
    stall: float
    samples: int
    writes: int
    spikes: int
    event_mismatches: int
    states: int
    state_mismatches: int
    windows: int
    hash_mismatches: int
    writebacks: int
    phases: int
    phase_mismatches: int
    cycles_per_sample: float
    cycles_per_step: float
    nominal_cycles_per_step: int
    nominal_cycles_per_cycle: int
    nominal_cycles_per_sample: int
    seconds: float
    examples: list = field(default_factory=list)
    first_events: np.ndarray | None = None
    first_phases: np.ndarray | None = None

    sensors = property(lambda self: self.config.quantizer.sensors)
    duplication = property(lambda self: self.config.quantizer.duplication)
    mcs = property(lambda self: self.config.array.mcs)
    lanes = property(lambda self: self.config.array.lanes)
    hold = property(lambda self: self.config.array.hold)
    rinse = property(lambda self: self.config.array.rinse)
    inhibition = property(lambda self: self.config.array.inhibition)

    @property
    def mismatches(self):
        """All mismatches: events, states, window hashes and phases."""
        return (self.event_mismatches + self.state_mismatches + self.hash_mismatches
                + self.phase_mismatches)


def _array_chunk_size(simulator, window, groups, sensors, inhibition):
    """Samples per simulation: about 2**22 group updates for Verilator (2**21 with
    inhibition: one extra-current word per update goes through a file), 2**19 for Icarus and
    2**15 for the simulators with Python in the clock loop; at least the edge cases."""
    budget = {"verilator": 1 << (21 if inhibition else 22),
              "icarus": 1 << 19}.get(simulator, 1 << 15)
    return max(sensors + 5, budget // (window * groups))


def compare_mc_array(vectors, seed, config=SensorMCArrayConfig(), *, simulator="icarus",
                     stall=0.0, writes=True, build_dir="build/compare", chunk=None,
                     progress=None):
    """Drive ``vectors`` random sensor samples (edge cases first) with table writes mid-stream
    and, with inhibition, random extra currents into the RTL of
    :class:`~hetq.hdl.mc_array.SensorMCArray` of ``config`` and compare every spike event and
    every state write-back with the golden models
    (:func:`~hetq.sim.mc_array.stimulus.expected_array`). Without inhibition, the phases of
    the RTL's spikes are also checked against the golden quantizer (see
    :class:`ArrayCompareReport`).

    Parameters
    ----------
    vectors : int
        Samples (windows of ``hold + rinse`` steps).
    seed : int
        Seed of the stimulus and of the benches' valid/ready patterns.
    config : SensorMCArrayConfig
        The design: the quantizer (sensors, D, format, normaliser lanes) and the array (lanes,
        hold, rinse, step width, inhibition).
    simulator : {"amaranth", "cocotb", "icarus", "verilator"}
        Amaranth's simulator, cocotb + Icarus, or the file-driven Verilog bench
        (:func:`~hetq.sim.mc_array.file_bench.run_array_file_bench`; states are compared one
        by one on small runs and by per-window hashes on large ones).
    stall : float
        Probability of an idle cycle of each source and of a low ``o.ready``, in [0, 1).
    writes : bool
        Table writes mid-stream.
    build_dir : path
        Bench folders go to ``<build_dir>/mc_array_<simulator>_<design>``.
    chunk : int, optional
        Samples per simulation (each a fresh run from the initial tables; default about
        2**22 group updates for Verilator (2**21 with inhibition), 2**19 for Icarus, 2**15
        otherwise).
    progress : callable, optional
        Called with the samples finished after each chunk.

    Returns
    -------
    ArrayCompareReport

    Raises
    ------
    TypeError, ValueError
        For bad arguments. RuntimeError when a simulator is missing or a bench fails on its
        own (timeout, a cocotb or Amaranth bench's internal check).
    """
    from ..sim.quantizer.stimulus import initial_weights

    if not isinstance(config, SensorMCArrayConfig):
        raise TypeError(f"config must be a SensorMCArrayConfig, not {type(config).__name__}")
    check_run(vectors=vectors, seed=seed, simulator=simulator, stall=stall, writes=writes,
              chunk=chunk)
    require_simulator(simulator)
    q, array = config.quantizer, config.array
    size = chunk or _array_chunk_size(simulator, array.window, array.groups, q.sensors,
                                      array.inhibition)
    weights = initial_weights(q, np.random.default_rng([seed, 0]))
    name = (f"mc_array_{simulator}_{q.sensors}x{q.duplication}_n{q.norm_lanes}"
            f"_l{array.lanes}_h{array.hold}_r{array.rinse}{'_inh' if array.inhibition else ''}"
            f"{'_compact' if array.compact else ''}")
    build_dir = Path(build_dir) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(build_dir):
        return _compare_array_chunks(vectors, seed, simulator, config, stall, writes,
                                     build_dir, size, weights, progress)


def _run_array(simulator, stim, seed, stall, build_dir, size):
    """One chunk under ``simulator``: an ArrayBenchResult (the file benches are sized for
    ``size`` samples, so that every chunk uses one compiled bench)."""
    if simulator == "amaranth":
        from ..sim.mc_array.amaranth_bench import run_array_amaranth
        try:
            return run_array_amaranth(stim, seed=seed, stall=stall)
        except AssertionError as e:
            raise RuntimeError(f"Amaranth bench: {e}") from None
    if simulator == "cocotb":
        from ..sim.kit.cocotb_sim import BenchFailure
        from ..sim.mc_array.cocotb_bench import run_cocotb_array
        try:
            return run_cocotb_array(stim, seed=seed, stall=stall, build_dir=build_dir)
        except BenchFailure as e:
            raise RuntimeError(str(e)) from None
    from ..sim.mc_array.file_bench import run_array_file_bench
    return run_array_file_bench(stim, simulator=simulator, seed=seed, stall=stall,
                                build_dir=build_dir, capacity=size)


def _event_mismatches(got, expected):
    """Mismatch count and examples (kind, index, got, expected) of two event arrays."""
    got = np.asarray(got, dtype=np.int64).reshape(-1, 2)
    expected = np.asarray(expected, dtype=np.int64).reshape(-1, 2)
    if got.shape == expected.shape and np.array_equal(got, expected):
        return 0, []
    have = {tuple(r) for r in got.tolist()}
    want = {tuple(r) for r in expected.tolist()}
    examples = [("missing event", i, None, tuple(r)) for i, r in enumerate(expected.tolist())
                if tuple(r) not in have]
    examples += [("extra event", i, tuple(r), None) for i, r in enumerate(got.tolist())
                 if tuple(r) not in want]
    if examples:
        return len(examples), examples[:MAX_EXAMPLES]
    common = min(len(got), len(expected))            # the same events, misplaced or repeated
    bad = np.nonzero(np.any(got[:common] != expected[:common], axis=1))[0]
    examples = [("event", int(i), tuple(got[i].tolist()), tuple(expected[i].tolist()))
                for i in bad[:MAX_EXAMPLES]]
    return len(bad) + abs(len(got) - len(expected)), examples


def _state_mismatches(res, exp, fmt):
    """Differing MC states (one per step and MC) with examples ((step, mc), got, expected)."""
    want_v, want_r = exp.array.voltage, exp.array.refractory
    if res.voltage.shape != want_v.shape or res.refractory.shape != want_r.shape:
        return want_v.size, [("states", 0, f"shape {res.voltage.shape}",
                              f"shape {want_v.shape}")]
    bad = np.argwhere((res.voltage != want_v) | (res.refractory != want_r))
    examples = [("state", (int(s), int(m)), (int(res.voltage[s, m]), bool(res.refractory[s, m])),
                 (int(want_v[s, m]), bool(want_r[s, m]))) for s, m in bad[:MAX_EXAMPLES]]
    return len(bad), examples


def _hash_mismatches(res, exp, stim):
    """Differing window hashes with examples (window, got, expected)."""
    from ..sim.mc_array.stimulus import state_hash, state_words

    words = state_words(exp.array.voltage, exp.array.refractory, stim.fmt)
    words = words.reshape(len(stim.samples), -1)
    want = [state_hash(w) for w in words]
    got = [int(h) for h in res.hashes]
    if len(got) != len(want):
        return len(want), [("window hashes", 0, f"{len(got)} windows", f"{len(want)} windows")]
    bad = [k for k, (g, w) in enumerate(zip(got, want)) if g != w]
    return len(bad), [("window hash", k, f"{got[k]:016x}", f"{want[k]:016x}")
                      for k in bad[:MAX_EXAMPLES]]


def _phase_mismatches(events, exp, stim):
    """First-spike phases of every MC in every gamma cycle of the RTL's events against the
    golden quantizer: in each hold cycle the phase the quantizer gives the sample's drive with
    the format's threshold table (:func:`~hetq.golden.fixed.neuron.phase_thresholds`, the table the
    array's dynamics embody; threshold writes mid-stream change the quantizer's phases but not
    the array's, so the records' phases are not the reference), 0 in each rinse cycle. Events
    outside the windows are left out (they are counted as extra events). Returns (checked,
    mismatches, examples ((sample, cycle, mc), got, expected))."""
    from ..golden.fixed.formats import CYCLE
    from ..golden.fixed.neuron import phase_from_thresholds, phase_thresholds
    from ..golden.fixed.mc_array import cycle_phases

    n, mcs = len(stim.samples), stim.mcs
    ev = np.asarray(events, dtype=np.int64).reshape(-1, 2)
    inside = (ev[:, 0] >= 0) & (ev[:, 0] < n * stim.window) & (ev[:, 1] >= 0) & (ev[:, 1] < mcs)
    got = cycle_phases(ev[inside], samples=n, mcs=mcs, hold=stim.hold, rinse=stim.rinse)
    want = np.zeros_like(got)
    want[:, :stim.hold // CYCLE] = phase_from_thresholds(exp.drives,
                                                         phase_thresholds(stim.fmt))[:, None, :]
    bad = np.argwhere(got != want)
    examples = [("phase", (int(k), int(c), int(m)), int(got[k, c, m]), int(want[k, c, m]))
                for k, c, m in bad[:MAX_EXAMPLES]]
    return got.size, len(bad), examples


def _compare_array_chunks(vectors, seed, simulator, config, stall, writes, build_dir, size,
                          weights, progress):
    from ..sim.mc_array.stimulus import expected_array, make_array_stimulus

    array, fmt = config.array, config.array.fmt
    start = time.perf_counter()
    totals = dict.fromkeys(("samples", "writes", "spikes", "event_mismatches", "states",
                            "state_mismatches", "windows", "hash_mismatches", "writebacks",
                            "phases", "phase_mismatches", "cycles"), 0)
    examples = []
    first = {}

    def keep(k, found):
        examples.extend((k, *e) for e in found[:max(0, MAX_EXAMPLES - len(examples))])

    k = 0
    while totals["samples"] < vectors:
        n = min(size, vectors - totals["samples"])
        stim = make_array_stimulus([seed, 1, k], n, config, writes=writes, edges=(k == 0),
                                   weights=weights)
        bench_seed = int(np.random.default_rng([seed, 2, k]).integers(1, 2**31 - 1))
        res = _run_array(simulator, stim, bench_seed, stall, build_dir, size)
        exp = expected_array(stim, res.order)
        if k == 0:
            shown = min(n, 8)
            ev = np.asarray(res.events, dtype=np.int64).reshape(-1, 2)
            from ..golden.fixed.neuron import phase_from_thresholds, phase_thresholds
            first = {"first_events": ev[ev[:, 0] < shown * array.window],
                     "first_phases": phase_from_thresholds(exp.drives[:shown],
                                                           phase_thresholds(fmt))}
        count, found = _event_mismatches(res.events, exp.array.events)
        totals["event_mismatches"] += count
        keep(k, found)
        if res.voltage is not None:
            count, found = _state_mismatches(res, exp, fmt)
            totals["state_mismatches"] += count
            totals["states"] += exp.array.voltage.size
            keep(k, found)
        if res.hashes is not None:
            count, found = _hash_mismatches(res, exp, stim)
            totals["hash_mismatches"] += count
            totals["windows"] += n
            keep(k, found)
        if not array.inhibition:
            checked, count, found = _phase_mismatches(res.events, exp, stim)
            totals["phases"] += checked
            totals["phase_mismatches"] += count
            keep(k, found)
        totals["samples"] += n
        totals["writes"] += len(stim.writes)
        totals["spikes"] += len(res.events)
        totals["writebacks"] += n * array.window * array.groups
        totals["cycles"] += res.last_out - res.first_in + 1
        k += 1
        if progress is not None:
            progress(n)
    cycles = totals.pop("cycles")
    per_sample = cycles / totals["samples"]
    return ArrayCompareReport(
        config=config, simulator=simulator, stall=stall, **totals,
        cycles_per_sample=per_sample, cycles_per_step=per_sample / array.window,
        nominal_cycles_per_step=array.cycles_per_step,
        nominal_cycles_per_cycle=array.cycles_per_cycle,
        nominal_cycles_per_sample=array.cycles_per_sample,
        seconds=time.perf_counter() - start, examples=examples, **first)
