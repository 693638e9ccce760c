"""``hetq experiment``: the paper's grid of conditions, evaluated fold by fold (docs/model.md 12-13).

One *job* is one fold of one (session, condition, D[, gain]): a new network is built from the
fold's seed, calibrated and fitted on the 16 training samples and run on the rest; the job
returns the per-sample utilisation of MC and GC and the SVM separability of both layers. The ET
layer does not depend on the condition, so its separability is one job per (session, fold).
Jobs run in a process pool; results are aggregated per fold (Homogeneous: the mean over its ten
gain levels) and then over folds.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from .golden.network.connectivity import random_connectivity
from .golden.network.model import Network
from .golden.network.synth import SESSIONS, SynthConfig, synthesize
from .golden.network.weights import HOMOGENEOUS_GAINS, WeightSpec
from .protocol import folds, separability, utilisation

__all__ = ["CONDITIONS", "DUPLICATIONS", "Condition", "Session", "ExperimentConfig", "Job",
           "gc_count", "plan", "run_job", "run_experiment", "summarise", "fold_table",
           "paper_sessions", "mc_model", "MODELS", "QUICK", "METRICS"]


@dataclass(frozen=True)
class Condition:
    """A weight condition of the paper."""

    name: str
    mode: str
    smoothing: float = 0.25
    gains: tuple = (25.0,)

    def specs(self, duplication):
        """(gain or None, WeightSpec) for every network this condition needs at D."""
        if self.mode == "homogeneous":
            return [(g, WeightSpec("homogeneous", duplication, gain=float(g))) for g in self.gains]
        return [(None, WeightSpec(self.mode, duplication, smoothing=self.smoothing))]


CONDITIONS = {
    "homogeneous": Condition("Homogeneous", "homogeneous", gains=HOMOGENEOUS_GAINS),
    "uniform": Condition("Uniform", "uniform"),
    "scaled": Condition("Scaled", "adaptive", smoothing=0.5),
    "adaptive": Condition("Adaptive", "adaptive", smoothing=0.25),
}
DUPLICATIONS = (4, 8, 16, 32)


def gc_count(condition, session, n_mc):
    """GCs per network (section 13): 4 per MC, but 2 per MC for the adaptive conditions of the
    Concentration session (as the reference's grid file specifies)."""
    if CONDITIONS[condition].mode == "adaptive" and session == "concentration":
        return 2 * n_mc
    return 4 * n_mc


@dataclass(frozen=True)
class Session:
    """A data set under evaluation: samples (n x sensors), class labels and a name."""

    name: str
    samples: np.ndarray
    labels: np.ndarray
    note: str = ""


#: MC models: the float model's LIF layer, or the hardware's fixed-point phase quantizer.
MODELS = ("float", "fixed")


@dataclass(frozen=True)
class ExperimentConfig:
    conditions: tuple = tuple(CONDITIONS)
    duplications: tuple = DUPLICATIONS
    folds: int = 8
    seed: int = 314
    steps: int = 250
    rinse: int = 50
    model: str = "float"

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}")
        for c in self.conditions:
            if c not in CONDITIONS:
                raise ValueError(f"unknown condition {c!r} (choose from {', '.join(CONDITIONS)})")
        for d in self.duplications:
            if not isinstance(d, (int, np.integer)) or d < 1:
                raise ValueError(f"duplication must be an integer >= 1, not {d!r}")
        if self.folds < 2:
            raise ValueError(f"folds must be >= 2, not {self.folds}")


#: The reduced grid of ``hetq experiment --quick``.
QUICK = {"duplications": (4, 8)}


@dataclass(frozen=True)
class Job:
    session: str
    condition: str  # a CONDITIONS key, or "et" for the ET layer
    duplication: int
    gain: float | None
    fold: int
    train: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)

    @property
    def cost(self):
        return 0 if self.condition == "et" else self.duplication


def plan(sessions, config):
    """Every job of the experiment, the most expensive first."""
    jobs = []
    for s in sessions:
        for k, (train, test) in enumerate(folds(s.labels, config.folds, config.seed)):
            jobs.append(Job(s.name, "et", 0, None, k, train, test))
            for c in config.conditions:
                for d in config.duplications:
                    for gain, _ in CONDITIONS[c].specs(d):
                        jobs.append(Job(s.name, c, d, gain, k, train, test))
    return sorted(jobs, key=lambda j: -j.cost)


def fold_network(job, session, config, raster=False):
    """Build, calibrate and fit the job's network; return (network, readout of the test set)."""
    x, y = session.samples, session.labels
    d = job.duplication
    spec = dict(CONDITIONS[job.condition].specs(d))[job.gain]
    n_mc = x.shape[1] * d
    n_gc = gc_count(job.condition, session.name, n_mc)
    rng = np.random.default_rng((config.seed, job.fold, d))
    mask = random_connectivity(n_gc, n_mc, 1.0 / d, rng)
    net = Network(np.zeros((n_mc, x.shape[1]), dtype=np.float32), n_gc=n_gc, connectivity=mask,
                  mc_model=mc_model(config.model))
    net.calibrate(x[job.train], spec)
    net.fit(x[job.train], duration=config.steps, rinse=config.rinse)
    return net, net.process(x[job.test], duration=config.steps, rinse=config.rinse,
                            raster=raster)


def mc_model(model):
    """The ``mc_model`` of :class:`~.golden.network.Network` for a model name: None (the float
    LIF layer) or the fixed-point phase quantizer of the hardware, whose MC phases then drive
    the (float) GC layer."""
    if model == "fixed":
        from .golden.fixed.quantizer import fixed_mc_phases
        return fixed_mc_phases
    return None


def run_job(job, session, config):
    """Run one job; returns a flat record (dict) with per-sample utilisations attached."""
    y = session.labels[job.test]
    rec = {"session": job.session, "condition": job.condition, "duplication": job.duplication,
           "gain": job.gain, "fold": job.fold}
    if job.condition == "et":
        net = Network(np.zeros((session.samples.shape[1],) * 2, dtype=np.float32))
        et = net.process(session.samples[job.test], duration=config.steps,
                         rinse=config.rinse).et
        rec["et_acc"] = separability(et, y, scale=True, seed=config.seed)
        return rec
    _, out = fold_network(job, session, config)
    for layer in ("mc", "gc"):
        phase = getattr(out, f"{layer}_phase")
        u = utilisation(phase)
        rec[f"{layer}_util"] = u
        rec[f"{layer}_util_mean"] = float(u.mean())
        rec[f"{layer}_util_sd"] = float(u.std(ddof=1))
        rec[f"{layer}_acc"] = separability(phase, y, seed=config.seed)
    return rec


_WORKER = {}


def _init_worker(sessions, config):
    _WORKER["sessions"] = {s.name: s for s in sessions}
    _WORKER["config"] = config


def _run(job):
    return run_job(job, _WORKER["sessions"][job.session], _WORKER["config"])


def run_experiment(sessions, config, jobs=None, progress=None):
    """Run every job (in ``jobs`` worker processes; 1 = in this process) and return the records.
    ``progress(n)`` is called as jobs finish."""
    todo = plan(sessions, config)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        _init_worker(sessions, config)
        records = []
        for job in todo:
            records.append(_run(job))
            if progress:
                progress(1)
        return records
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    with ctx.Pool(jobs, initializer=_init_worker, initargs=(sessions, config)) as pool:
        records = []
        for rec in pool.imap_unordered(_run, todo, chunksize=1):
            records.append(rec)
            if progress:
                progress(1)
    return records


METRICS = ("mc_acc", "gc_acc", "mc_util_sd", "mc_util_mean", "gc_util_sd", "gc_util_mean")


def fold_table(records):
    """Per (session, condition, D, fold): the metrics, Homogeneous averaged over its gains."""
    groups = {}
    for r in records:
        if r["condition"] == "et":
            continue
        key = (r["session"], r["condition"], r["duplication"], r["fold"])
        groups.setdefault(key, []).append(r)
    rows = []
    for key, recs in sorted(groups.items()):
        row = dict(zip(("session", "condition", "duplication", "fold"), key))
        row["networks"] = len(recs)
        for m in METRICS:
            row[m] = float(np.mean([r[m] for r in recs]))
        rows.append(row)
    return rows


def summarise(records, config):
    """Per (session, condition, D): mean and SD over folds of every metric, plus ET accuracy."""
    et = {}
    for r in records:
        if r["condition"] == "et":
            et.setdefault(r["session"], []).append(r["et_acc"])
    groups = {}
    for row in fold_table(records):
        groups.setdefault((row["session"], row["condition"], row["duplication"]), []).append(row)
    order = {c: i for i, c in enumerate(CONDITIONS)}
    out = []
    for (s, c, d), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], order[kv[0][1]],
                                                                   kv[0][2])):
        row = {"session": s, "condition": CONDITIONS[c].name, "duplication": d,
               "folds": len(rows)}
        for m in METRICS:
            v = np.array([r[m] for r in rows])
            row[m] = float(v.mean())
            row[m + "_sd"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        e = np.array(et.get(s, [np.nan]))
        row["et_acc"] = float(e.mean())
        row["et_acc_sd"] = float(e.std(ddof=1)) if len(e) > 1 else 0.0
        out.append(row)
    return out


def paper_sessions(names=SESSIONS, seed=314, noise="config"):
    """The synthetic Concentration and/or Saturation sessions."""
    out = []
    for name in names:
        x, y, _ = synthesize(SynthConfig(session=name, seed=seed, noise=noise))
        out.append(Session(name, x, y, note=f"synthetic, seed {seed}, noise {noise}"))
    return out


def example_readouts(session, config, duplication, fold=0):
    """Test-set readouts with MC rasters of one fold, per condition (Homogeneous at w = 45)."""
    train, test = list(folds(session.labels, config.folds, config.seed))[fold]
    out = {}
    for key in config.conditions:
        cond = CONDITIONS[key]
        gain = 45.0 if cond.mode == "homogeneous" and 45 in cond.gains else (
            float(cond.gains[0]) if cond.mode == "homogeneous" else None)
        job = Job(session.name, key, duplication, gain, fold, train, test)
        name = cond.name + (f" (w = {gain:g})" if gain is not None else "")
        out[name] = fold_network(job, session, config, raster=True)[1]
    return out, session.labels[test]


def write_csv(rows, path, columns=None):
    """Write dict rows as CSV (floats with 4 decimals); per-sample arrays are left out."""
    columns = columns or [k for k in rows[0] if not isinstance(rows[0][k], np.ndarray)]
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for r in rows:
            f.write(",".join("" if r.get(c) is None else
                             (f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]))
                             for c in columns) + "\n")


def format_summary(summary):
    """The summary as printable lines."""
    head = (f"{'session':<14} {'condition':<12} {'D':>3} {'MC acc %':>13} {'GC acc %':>13} "
            f"{'MC SDutil':>9} {'MC util':>7} {'GC SDutil':>9} {'GC util':>7} {'ET acc %':>13}")
    lines = [head, "-" * len(head)]
    for r in summary:
        lines.append(
            f"{r['session']:<14} {r['condition']:<12} {r['duplication']:>3} "
            f"{r['mc_acc']:>6.1f} ± {r['mc_acc_sd']:<4.1f} {r['gc_acc']:>6.1f} ± {r['gc_acc_sd']:<4.1f} "
            f"{r['mc_util_sd']:>9.2f} {r['mc_util_mean']:>7.1f} {r['gc_util_sd']:>9.2f} "
            f"{r['gc_util_mean']:>7.1f} {r['et_acc']:>6.1f} ± {r['et_acc_sd']:<4.1f}")
    return lines
