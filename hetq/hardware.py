"""Library functions behind ``hetq fidelity`` and ``hetq compare`` (the CLI only parses and
prints): fidelity of the fixed-point model to the float model, and RTL-versus-model runs of
any size (the phase quantizer, the MC array) under the Amaranth simulator, cocotb + Icarus,
or the file-driven Icarus/Verilator benches.
"""

import csv
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .golden.fixed import DEFAULT_FORMAT, FixedFormat
from .golden.network import Network
from .golden.quantizer import fixed_mc_phases
from .golden.synth import SESSIONS, SynthConfig, synthesize
from .golden.weights import HOMOGENEOUS_GAINS, WeightSpec, data_blind_weights
from .pipeline import calibrate_weights

__all__ = [
    "FIDELITY_MODES", "FidelityRow", "phase_level", "fidelity", "pool_rows", "write_fidelity",
    "SIMULATORS", "CompareReport", "compare_quantizer", "ArrayCompareReport", "compare_mc_array",
]

#: (label, mode, smoothing) of the conditions the fidelity table covers.
FIDELITY_MODES = (
    ("homogeneous", "homogeneous", None),
    ("uniform", "uniform", None),
    ("linear", "linear", None),
    ("adaptive-0.25", "adaptive", 0.25),
    ("adaptive-0.5", "adaptive", 0.5),
)


def phase_level(phase):
    """Phase readouts as ordered levels: 2..17 unchanged, silent (0) as 18, so that silent
    is one step from 17 (the next later phase)."""
    phase = np.asarray(phase, dtype=np.int64)
    return np.where(phase == 0, 18, phase)


@dataclass
class FidelityRow:
    """One condition: ``equal`` of ``total`` MC phase readouts agree; ``max_step`` is the
    largest difference in levels (see :func:`phase_level`)."""

    session: str
    mode: str
    duplication: int
    gain: float | None
    total: int
    equal: int
    max_step: int

    @property
    def fraction(self):
        return self.equal / self.total if self.total else float("nan")


def _compare(session, mode, d, gain, ref, fixed):
    steps = np.abs(phase_level(ref) - phase_level(fixed))
    return FidelityRow(session=session, mode=mode, duplication=d, gain=gain, total=int(ref.size),
                       equal=int(np.count_nonzero(steps == 0)),
                       max_step=int(steps.max()) if steps.size else 0)


def fidelity(*, sessions=SESSIONS, duplications=(4, 8, 16, 32), modes=FIDELITY_MODES,
             fmt=DEFAULT_FORMAT, noise="config", progress=None):
    """Fraction of MC phase readouts on which the fixed-point front end
    (:func:`~hetq.golden.quantizer.fixed_mc_phases`) equals the float model
    (``Network(weights).process(samples).mc_phase``, MC-only, 250-step windows), for the
    synthetic sessions, every D and every weight condition. Adaptive weights are calibrated
    on the whole session. Homogeneous rows come per gain (see :func:`pool_rows`).

    Returns a list of :class:`FidelityRow`; ``progress(text)`` is called per condition.
    """
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"fmt must be a FixedFormat, not {type(fmt).__name__}")
    known = {label for label, _, _ in FIDELITY_MODES}
    for label, _, _ in modes:
        if label not in known:
            raise ValueError(f"unknown fidelity mode {label!r}")
    for session in sessions:
        if session not in SESSIONS:
            raise ValueError(f"session must be one of {', '.join(SESSIONS)}, not {session!r}")
    for d in duplications:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"duplication must be an integer >= 1, not {d!r}")
    rows = []
    for session in sessions:
        x, _, _ = synthesize(SynthConfig(session=session, noise=noise))
        for d in duplications:
            for label, mode, smoothing in modes:
                if mode == "homogeneous":
                    specs = [(g, WeightSpec("homogeneous", int(d), gain=float(g)))
                             for g in HOMOGENEOUS_GAINS]
                elif mode == "adaptive":
                    specs = [(None, WeightSpec("adaptive", int(d), smoothing=smoothing))]
                else:
                    specs = [(None, WeightSpec(mode, int(d)))]
                for gain, spec in specs:
                    if mode == "adaptive":
                        w, _ = calibrate_weights(x, spec)
                    else:
                        w = data_blind_weights(spec, x.shape[1])
                    ref = Network(w).process(x).mc_phase
                    fixed = fixed_mc_phases(x, w, fmt=fmt)
                    rows.append(_compare(session, label, int(d), gain, ref, fixed))
                if progress is not None:
                    progress(f"{session} {label} D={d}")
    return rows


def pool_rows(rows):
    """Pool the per-gain homogeneous rows of each (session, D) into one row (gain None)."""
    out, pooled = [], {}
    for r in rows:
        if r.gain is None:
            out.append(r)
            continue
        key = (r.session, r.mode, r.duplication)
        if key not in pooled:
            pooled[key] = FidelityRow(r.session, r.mode, r.duplication, None, 0, 0, 0)
            out.append(pooled[key])
        p = pooled[key]
        p.total += r.total
        p.equal += r.equal
        p.max_step = max(p.max_step, r.max_step)
    return out


def write_fidelity(rows, directory):
    """Write ``fidelity.csv`` (every row, homogeneous per gain and pooled) and
    ``fidelity.png`` (equal fraction against D, one panel per session) into ``directory``;
    returns the two paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = rows + [r for r in pool_rows(rows) if r.mode == "homogeneous"]
    csv_path = directory / "fidelity.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["session", "mode", "duplication", "gain", "mc_phases", "equal",
                    "equal_fraction", "max_step"])
        for r in table:
            w.writerow([r.session, r.mode, r.duplication, "pooled" if r.gain is None and
                        r.mode == "homogeneous" else (r.gain if r.gain is not None else ""),
                        r.total, r.equal, f"{r.fraction:.6f}", r.max_step])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pooled = pool_rows(rows)
    sessions = sorted({r.session for r in pooled}, key=list(SESSIONS).index)
    fig, axes = plt.subplots(1, len(sessions), figsize=(5.5 * len(sessions), 4), squeeze=False,
                             sharey=True)
    for ax, session in zip(axes[0], sessions):
        for mode in dict.fromkeys(r.mode for r in pooled):
            pts = sorted((r.duplication, 100 * r.fraction) for r in pooled
                         if r.session == session and r.mode == mode)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=mode)
        ax.axhline(99.9, color="k", lw=0.8, ls="--", label="target 99.9 %")
        ax.set_xscale("log", base=2)
        ticks = sorted({r.duplication for r in pooled})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("duplication D")
        ax.set_title(f"{session} session")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("MC phases equal to the float model (%)")
    lo = min([100 * r.fraction for r in pooled] + [99.85])
    axes[0][0].set_ylim(lo - 0.02, 100.005)
    axes[0][-1].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    png_path = directory / "fidelity.png"
    fig.savefig(png_path, dpi=120)
    plt.close(fig)
    return csv_path, png_path


# -- RTL against the fixed-point model --------------------------------------------------------

#: Simulators of :func:`compare_quantizer`.
SIMULATORS = ("amaranth", "cocotb", "icarus", "verilator")


@dataclass
class CompareReport:
    """Outcome of :func:`compare_quantizer`.

    Members
    -------
    mismatches : int
        Output records (mc, drive, phase, last) that differ from the model, plus any missing
        or extra ones.
    examples : list
        Up to ten mismatches as (chunk, record index, got, expected).
    cycles_per_sample : float
        Clock cycles from the first sample transfer to the last output, per sample.
    """

    simulator: str
    sensors: int
    duplication: int
    samples: int
    outputs: int
    writes: int
    mismatches: int
    cycles_per_sample: float
    seconds: float
    stall: float
    examples: list = field(default_factory=list)


def _chunk_size(simulator, mcs):
    if simulator in ("icarus", "verilator"):
        return max(64, (1 << 21) // mcs)
    return 2000


def compare_quantizer(vectors, seed, *, simulator="icarus", sensors=8, duplication=32,
                      fmt=DEFAULT_FORMAT, stall=0.0, writes=True, build_dir="build/compare",
                      chunk=None, progress=None):
    """Drive ``vectors`` random samples (edge cases first) with table writes mid-stream into
    the RTL of :class:`~hetq.hdl.quantizer.SensorQuantizer` and compare every output with
    :class:`~hetq.golden.quantizer.QuantizerModel`.

    The run is cut into chunks (each a fresh simulation from the initial tables; the initial
    weight table is the same for all chunks, so a compiled bench is reused); ``stall`` is
    the probability of an idle source cycle and of a low ``o.ready``. ``progress(n)`` is
    called with the samples finished after each chunk. Returns a :class:`CompareReport`.
    Raises ValueError for bad arguments, RuntimeError when a simulator is missing.
    """
    from .sim.stimulus import initial_weights

    if isinstance(vectors, bool) or not isinstance(vectors, (int, np.integer)) or vectors < 1:
        raise ValueError(f"vectors must be an integer >= 1, not {vectors!r}")
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if not 0 <= stall < 1:
        raise ValueError(f"stall must be in [0, 1), not {stall}")
    for name, value in (("sensors", sensors), ("duplication", duplication)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
    mcs = sensors * duplication
    size = chunk or _chunk_size(simulator, mcs)
    weights = initial_weights(sensors, duplication, fmt, np.random.default_rng([seed, 0]))
    build_dir = Path(build_dir) / f"{simulator}_{sensors}x{duplication}"
    build_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(build_dir):
        return _compare_chunks(vectors, seed, simulator, sensors, duplication, fmt, stall,
                               writes, build_dir, size, weights, progress)


@contextmanager
def _exclusive(directory):
    """Hold an exclusive lock on ``directory`` (two runs in one bench folder would overwrite
    each other's files); ValueError if another process holds it."""
    import fcntl

    with open(Path(directory) / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"another run is using {directory}; give it another "
                             "--build-dir") from None
        yield


def _compare_chunks(vectors, seed, simulator, sensors, duplication, fmt, stall, writes,
                    build_dir, size, weights, progress):
    from .sim.stimulus import expected_records, make_stimulus

    start = time.perf_counter()
    done = outputs = nwrites = mismatches = cycles = 0
    examples = []
    k = 0
    while done < vectors:
        n = min(size, vectors - done)
        stim = make_stimulus([seed, 1, k], n, sensors=sensors, duplication=duplication,
                             fmt=fmt, writes=writes, edges=(k == 0), weights=weights)
        bench_seed = int(np.random.default_rng([seed, 2, k]).integers(1, 2**31 - 1))
        if simulator == "amaranth":
            from .sim.amaranth_bench import run_amaranth
            res = run_amaranth(stim, seed=bench_seed, stall=stall)
        elif simulator == "cocotb":
            from .sim.cocotb_runner import BenchFailure, run_cocotb
            try:
                res = run_cocotb(stim, seed=bench_seed, stall=stall, build_dir=build_dir)
            except BenchFailure as e:
                raise RuntimeError(str(e)) from None
        else:
            from .sim.file_bench import run_file_bench
            res = run_file_bench(stim, simulator=simulator, seed=bench_seed, stall=stall,
                                 build_dir=build_dir)
        expected = expected_records(stim, res.order)
        got = res.records
        common = min(len(got), len(expected))
        bad = np.nonzero(np.any(got[:common] != expected[:common], axis=1))[0]
        mismatches += len(bad) + abs(len(got) - len(expected))
        for i in bad[:max(0, 10 - len(examples))]:
            examples.append((k, int(i), got[i].tolist(), expected[i].tolist()))
        outputs += len(got)
        nwrites += len(stim.writes)
        cycles += res.last_out - res.first_in + 1
        done += n
        k += 1
        if progress is not None:
            progress(n)
    return CompareReport(simulator=simulator, sensors=sensors, duplication=duplication,
                         samples=done, outputs=outputs, writes=nwrites, mismatches=mismatches,
                         cycles_per_sample=cycles / done, seconds=time.perf_counter() - start,
                         stall=stall, examples=examples)


# -- the MC array against the golden model ----------------------------------------------------

#: Examples kept by :func:`compare_mc_array`.
MAX_EXAMPLES = 10


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
        Sample windows whose state hash (:func:`~hetq.sim.mc_array_stimulus.state_hash`)
        was compared, and those that differ (benches that hash the write-backs).
    writebacks : int
        State write-backs (group updates) checked, by state or by hash.
    phases, phase_mismatches : int
        Without inhibition: first-spike phases of every MC in every gamma cycle (from the
        RTL's events, :func:`~hetq.golden.mc_array.cycle_phases`) checked against the golden
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

    simulator: str
    sensors: int
    duplication: int
    lanes: int
    hold: int
    rinse: int
    inhibition: bool
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

    @property
    def mcs(self):
        return self.sensors * self.duplication

    @property
    def mismatches(self):
        """All mismatches: events, states, window hashes and phases."""
        return (self.event_mismatches + self.state_mismatches + self.hash_mismatches
                + self.phase_mismatches)


@dataclass(frozen=True)
class _ArrayFigures:
    lanes: int
    hold: int
    rinse: int
    inhibition: bool
    window: int
    groups: int
    cycles_per_step: int
    cycles_per_cycle: int
    cycles_per_sample: int


def _array_figures(*, sensors, duplication, fmt, lanes, hold, rinse, inhibition):
    """Validate a :class:`~hetq.hdl.mc_array.SensorMCArray` design (ValueError / TypeError as
    its constructor raises them) and return the array's sizes and nominal cycle figures."""
    from .golden.fixed import CYCLE
    from .hdl.mc_array import MCArray, cycles_per_sample, cycles_per_step
    from .hdl.normaliser import Normaliser
    from .hdl.quantizer import PhaseQuantizer

    PhaseQuantizer._validate(sensors=sensors, duplication=duplication, fmt=fmt)
    Normaliser._validate(sensors=sensors, fmt=fmt)
    mcs = sensors * duplication
    MCArray._validate(mcs=mcs, lanes=lanes, hold=hold, rinse=rinse, fmt=fmt,
                      inhibition=inhibition)
    groups, window = mcs // lanes, hold + rinse
    figures = _ArrayFigures(
        lanes=lanes, hold=hold, rinse=rinse, inhibition=inhibition, window=window,
        groups=groups, cycles_per_step=cycles_per_step(groups),
        cycles_per_cycle=CYCLE * cycles_per_step(groups),
        cycles_per_sample=cycles_per_sample(groups, window))
    return figures


def _array_chunk_size(simulator, window, groups, sensors, inhibition):
    """Samples per simulation: about 2**22 group updates for Verilator (2**21 with
    inhibition: one extra-current word per update goes through a file), 2**19 for Icarus and
    2**15 for the simulators with Python in the clock loop; at least the edge cases."""
    budget = {"verilator": 1 << (21 if inhibition else 22),
              "icarus": 1 << 19}.get(simulator, 1 << 15)
    return max(sensors + 5, budget // (window * groups))


def compare_mc_array(vectors, seed, *, simulator="icarus", sensors=8, duplication=4, lanes=1,
                     hold=50, rinse=50, inhibition=False, fmt=DEFAULT_FORMAT, stall=0.0,
                     writes=True, build_dir="build/compare", chunk=None, progress=None):
    """Drive ``vectors`` random sensor samples (edge cases first) with table writes mid-stream
    and, with ``inhibition``, random extra currents into the RTL of
    :class:`~hetq.hdl.mc_array.SensorMCArray` and compare every spike event and every state
    write-back with the golden models (:func:`~hetq.sim.mc_array_stimulus.expected_array`).
    Without inhibition, the phases of the RTL's spikes are also checked against the golden
    quantizer (see :class:`ArrayCompareReport`).

    Parameters
    ----------
    vectors : int
        Samples (windows of ``hold + rinse`` steps).
    seed : int
        Seed of the stimulus and of the benches' valid/ready patterns.
    simulator : {"amaranth", "cocotb", "icarus", "verilator"}
        Amaranth's simulator, cocotb + Icarus, or the file-driven Verilog bench
        (:func:`~hetq.sim.mc_array_file_bench.run_array_file_bench`; states are compared one
        by one on small runs and by per-window hashes on large ones).
    sensors, duplication, lanes, hold, rinse, inhibition, fmt
        The design (see :class:`~hetq.hdl.mc_array.SensorMCArray`).
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
    ValueError
        For bad arguments. RuntimeError when a simulator is missing or a bench fails on its
        own (timeout, a cocotb or Amaranth bench's internal check).
    """
    from .sim.stimulus import initial_weights

    if isinstance(vectors, bool) or not isinstance(vectors, (int, np.integer)) or vectors < 1:
        raise ValueError(f"vectors must be an integer >= 1, not {vectors!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}")
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if isinstance(stall, bool) or not isinstance(stall, (int, float)) or not 0 <= stall < 1:
        raise ValueError(f"stall must be in [0, 1), not {stall!r}")
    for name, value in (("sensors", sensors), ("duplication", duplication), ("lanes", lanes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
    for name, value in (("inhibition", inhibition), ("writes", writes)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be a bool, not {value!r}")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer))
                              or chunk < 1):
        raise ValueError(f"chunk must be an integer >= 1, not {chunk!r}")
    array = _array_figures(sensors=sensors, duplication=duplication, fmt=fmt, lanes=lanes,
                           hold=hold, rinse=rinse, inhibition=inhibition)
    size = chunk or _array_chunk_size(simulator, array.window, array.groups, sensors,
                                      inhibition)
    weights = initial_weights(sensors, duplication, fmt, np.random.default_rng([seed, 0]))
    name = (f"mc_array_{simulator}_{sensors}x{duplication}_l{lanes}_h{hold}_r{rinse}"
            f"{'_inh' if inhibition else ''}")
    build_dir = Path(build_dir) / name
    build_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(build_dir):
        return _compare_array_chunks(vectors, seed, simulator, array, sensors, duplication,
                                     fmt, stall, writes, build_dir, size, weights, progress)


def _run_array(simulator, stim, seed, stall, build_dir, size):
    """One chunk under ``simulator``: an ArrayBenchResult (the file benches are sized for
    ``size`` samples, so that every chunk uses one compiled bench)."""
    if simulator == "amaranth":
        from .sim.mc_array_bench import run_array_amaranth
        try:
            return run_array_amaranth(stim, seed=seed, stall=stall)
        except AssertionError as e:
            raise RuntimeError(f"Amaranth bench: {e}") from None
    if simulator == "cocotb":
        from .sim.cocotb_runner import BenchFailure, run_cocotb_array
        try:
            return run_cocotb_array(stim, seed=seed, stall=stall, build_dir=build_dir)
        except BenchFailure as e:
            raise RuntimeError(str(e)) from None
    from .sim.mc_array_file_bench import run_array_file_bench
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
    from .sim.mc_array_stimulus import state_hash, state_words

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
    the format's threshold table (:func:`~hetq.golden.fixed.phase_thresholds`, the table the
    array's dynamics embody; threshold writes mid-stream change the quantizer's phases but not
    the array's, so the records' phases are not the reference), 0 in each rinse cycle. Events
    outside the windows are left out (they are counted as extra events). Returns (checked,
    mismatches, examples ((sample, cycle, mc), got, expected))."""
    from .golden.fixed import CYCLE, phase_from_thresholds, phase_thresholds
    from .golden.mc_array import cycle_phases

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


def _compare_array_chunks(vectors, seed, simulator, array, sensors, duplication, fmt, stall,
                          writes, build_dir, size, weights, progress):
    from .sim.mc_array_stimulus import expected_array, make_array_stimulus

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
        stim = make_array_stimulus([seed, 1, k], n, sensors=sensors, duplication=duplication,
                                   lanes=array.lanes, hold=array.hold, rinse=array.rinse,
                                   fmt=fmt, writes=writes, edges=(k == 0),
                                   inhibition=array.inhibition, weights=weights)
        bench_seed = int(np.random.default_rng([seed, 2, k]).integers(1, 2**31 - 1))
        res = _run_array(simulator, stim, bench_seed, stall, build_dir, size)
        exp = expected_array(stim, res.order)
        if k == 0:
            shown = min(n, 8)
            ev = np.asarray(res.events, dtype=np.int64).reshape(-1, 2)
            from .golden.fixed import phase_from_thresholds, phase_thresholds
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
        simulator=simulator, sensors=sensors, duplication=duplication, lanes=array.lanes,
        hold=array.hold, rinse=array.rinse, inhibition=array.inhibition, stall=stall,
        **totals, cycles_per_sample=per_sample, cycles_per_step=per_sample / array.window,
        nominal_cycles_per_step=array.cycles_per_step,
        nominal_cycles_per_cycle=array.cycles_per_cycle,
        nominal_cycles_per_sample=array.cycles_per_sample,
        seconds=time.perf_counter() - start, examples=examples, **first)
