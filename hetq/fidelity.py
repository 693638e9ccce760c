"""Fidelity of the fixed-point model to the float model (``hetq fidelity``): the MC phases of the
bit-exact twins against ``Network.process`` for every weight condition, D and session, and the
GC layer's (test-set GC phases and trained MC->GC weights) over the folds of the paper grid.
"""

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .golden.fixed.formats import DEFAULT_FORMAT, FixedFormat
from .golden.fixed.quantizer import fixed_mc_phases
from .golden.network.model import Network
from .golden.network.synth import SESSIONS, SynthConfig, synthesize
from .golden.network.weights import HOMOGENEOUS_GAINS, WeightSpec, data_blind_weights
from .pipeline import calibrate_weights

__all__ = ["FIDELITY_MODES", "FidelityRow", "phase_level", "fidelity", "pool_rows", "csv_rows",
           "write_fidelity", "GCFidelityRow", "gc_fidelity", "write_gc_fidelity"]

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
    (:func:`~hetq.golden.fixed.quantizer.fixed_mc_phases`) equals the float model
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


def csv_rows(rows):
    """The rows of ``fidelity.csv``: the printed table's order (:func:`pool_rows`), each
    pooled homogeneous row preceded by its per-gain rows, so that the pooled rows alone are
    the default table and the per-gain rows alone the ``--per-gain`` table."""
    out = []
    for p in pool_rows(rows):
        if p.mode == "homogeneous" and p.gain is None:
            out.extend(r for r in rows if r.gain is not None and
                       (r.session, r.mode, r.duplication) == (p.session, p.mode, p.duplication))
        out.append(p)
    return out


def write_fidelity(rows, directory):
    """Write ``fidelity.csv`` (every row, homogeneous per gain and pooled; :func:`csv_rows`) and
    ``fidelity.png`` (equal fraction against D, one panel per session) into ``directory``;
    returns the two paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = csv_rows(rows)
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


@dataclass
class GCFidelityRow:
    """One (session, condition, D) of the paper grid over ``folds`` folds (Homogeneous: its
    ten gains pooled): ``gc_equal`` of ``gc_total`` test-set GC phase readouts and
    ``w_equal`` of ``w_total`` trained weights (connected pairs) equal between the fixed-point
    network and the float model; ``gc_active`` readouts are non-zero in the float model."""

    session: str
    condition: str
    duplication: int
    folds: int
    gc_total: int = 0
    gc_equal: int = 0
    gc_active: int = 0
    w_total: int = 0
    w_equal: int = 0

    @property
    def gc_fraction(self):
        return self.gc_equal / self.gc_total if self.gc_total else float("nan")

    @property
    def w_fraction(self):
        return self.w_equal / self.w_total if self.w_total else float("nan")


def _gc_job(args):
    from .experiment import fold_network
    job, session, config = args
    (ref_net, ref), (fix_net, fix) = (fold_network(job, session, replace(config, model=m))
                                      for m in ("float", "fixed"))
    conn = ref_net.stdp.mask
    w_ref, w_fix = ref_net.mc_gc_weights[conn], fix_net.mc_gc_weights[conn]
    return (job, int(ref.gc_phase.size), int(np.count_nonzero(ref.gc_phase == fix.gc_phase)),
            int(np.count_nonzero(ref.gc_phase)), int(conn.sum()),
            int(np.count_nonzero(w_ref == w_fix)))


def gc_fidelity(*, sessions=SESSIONS, duplications=(4, 8, 16, 32), conditions=None, folds=8,
                noise="config", jobs=None, progress=None):
    """The GC layer of the fixed-point network against the float model over the paper grid:
    every job of ``hetq experiment`` (the folds ``0 .. folds-1`` of each session, condition,
    D and gain) is built twice, calibrated by the float model, then fitted and run by the float
    model and by :class:`~.golden.fixed.network.FixedNetwork`. Returns one
    :class:`GCFidelityRow` per (session, condition, D); ``progress(1)`` after every job."""
    from .experiment import CONDITIONS, ExperimentConfig, paper_sessions, plan

    conditions = tuple(CONDITIONS) if conditions is None else tuple(conditions)
    config = ExperimentConfig(conditions=conditions, duplications=tuple(duplications))
    if not 1 <= folds <= config.folds:
        raise ValueError(f"folds must be in 1..{config.folds}, not {folds}")
    data = {s.name: s for s in paper_sessions(list(sessions), noise=noise)}
    todo = [j for j in plan(list(data.values()), config)
            if j.condition != "et" and j.fold < folds]
    rows = {}
    for s in sessions:
        for c in conditions:
            for d in duplications:
                rows[(s, c, int(d))] = GCFidelityRow(s, c, int(d), folds)
    work = [(j, data[j.session], config) for j in todo]
    if (jobs or 1) > 1:
        import multiprocessing as mp
        pool = mp.get_context("fork").Pool(min(jobs, len(work)))
        results = pool.imap_unordered(_gc_job, work, chunksize=1)
    else:
        pool, results = None, map(_gc_job, work)
    try:
        for job, total, equal, active, w_total, w_equal in results:
            r = rows[(job.session, job.condition, job.duplication)]
            r.gc_total += total
            r.gc_equal += equal
            r.gc_active += active
            r.w_total += w_total
            r.w_equal += w_equal
            if progress is not None:
                progress(1)
    finally:
        if pool is not None:
            pool.terminate()
    return list(rows.values())


def gc_job_count(*, sessions=SESSIONS, duplications=(4, 8, 16, 32), conditions=None, folds=8):
    """How many jobs :func:`gc_fidelity` runs (for a progress bar)."""
    from .experiment import CONDITIONS
    conditions = tuple(CONDITIONS) if conditions is None else tuple(conditions)
    per = sum(len(CONDITIONS[c].specs(int(d))) for c in conditions for d in duplications)
    return per * folds * len(sessions)


def write_gc_fidelity(rows, directory):
    """Write ``gc_fidelity.csv`` and ``gc_fidelity.png`` (equal GC phases and weights against
    D, one panel per session) into ``directory``; returns the two paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gc_fidelity.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["session", "condition", "duplication", "folds", "gc_phases", "gc_equal",
                    "gc_equal_fraction", "gc_active", "weights", "weights_equal",
                    "weights_equal_fraction"])
        for r in rows:
            w.writerow([r.session, r.condition, r.duplication, r.folds, r.gc_total, r.gc_equal,
                        f"{r.gc_fraction:.6f}", r.gc_active, r.w_total, r.w_equal,
                        f"{r.w_fraction:.6f}"])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = sorted({r.session for r in rows}, key=list(SESSIONS).index)
    fig, axes = plt.subplots(1, len(sessions), figsize=(5.5 * len(sessions), 4), squeeze=False,
                             sharey=True)
    for ax, session in zip(axes[0], sessions):
        for cond in dict.fromkeys(r.condition for r in rows):
            mine = sorted((r for r in rows if r.session == session and r.condition == cond),
                          key=lambda r: r.duplication)
            if mine:
                line, = ax.plot([r.duplication for r in mine],
                                [100 * r.gc_fraction for r in mine], marker="o",
                                label=f"{cond} GC phases")
                ax.plot([r.duplication for r in mine], [100 * r.w_fraction for r in mine],
                        marker="x", ls=":", color=line.get_color(), label=f"{cond} weights")
        ax.axhline(99.9, color="k", lw=0.8, ls="--", label="target 99.9 %")
        ax.set_xscale("log", base=2)
        ticks = sorted({r.duplication for r in rows})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("duplication D")
        ax.set_title(f"{session} session")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("equal to the float model (%)")
    lo = min([100 * min(r.gc_fraction, r.w_fraction) for r in rows] + [99.85])
    axes[0][0].set_ylim(lo - 0.02, 100.005)
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    png = directory / "gc_fidelity.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return path, png
