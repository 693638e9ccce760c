"""``hetq experiment``: the paper's grid of conditions, evaluated fold by fold (docs/model.md 12-13).

One *job* is one fold of one (session, condition, D[, gain]): a new network is built from the
fold's seed, calibrated and fitted on the 16 training samples and run on the rest; the job
returns the per-sample utilisation of MC and GC and the SVM separability of both layers. The ET
layer does not depend on the condition, so its separability is one job per (session, fold).
Jobs run in a local process pool or on a Dask cluster (:func:`run_experiment`); results are
aggregated per fold (Homogeneous: the mean over its ten gain levels) and then over folds.
A :class:`JobLog` appends every finished job to ``jobs.csv`` (every number at full precision,
so records read back are the records written) and lets a later run resume an interrupted one
with the same parameters.
"""

import csv
import hashlib
import io
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .golden.network.connectivity import random_connectivity
from .golden.network.model import Network
from .golden.network.synth import SESSIONS, SynthConfig, synthesize
from .golden.network.weights import HOMOGENEOUS_GAINS, WeightSpec
from .protocol import SOLVERS, evaluate, folds, utilisation

__all__ = ["CONDITIONS", "DUPLICATIONS", "Condition", "Session", "ExperimentConfig", "Job",
           "gc_count", "plan", "run_job", "run_experiment", "summarise", "fold_table",
           "paper_sessions", "MODELS", "QUICK", "METRICS", "job_key",
           "run_parameters", "JOB_COLUMNS", "JobLog", "parse_scheduler", "read_summary",
           "compare_runs"]


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


#: Network models: the float model of the paper, or the hardware's fixed-point network (the
#: float calibration, then normaliser, drive, MC array and GC layer in integer arithmetic).
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
    #: SVM solver of the separability (docs/model.md section 12): both give the same results.
    solver: str = "libsvm"

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, not {self.solver!r}")
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
    """Build, calibrate and fit the job's network; return (network, readout of the test set).

    With ``config.model == "fixed"`` the calibration is the float model's (it runs in Python
    on the host) and everything after it is the hardware's fixed-point network
    (:class:`~.golden.fixed.network.FixedNetwork`: normaliser, drive, MC array, GC layer with
    the integer STDP rule), built with the same connectivity and the calibrated weights."""
    x = session.samples
    d = job.duplication
    spec = dict(CONDITIONS[job.condition].specs(d))[job.gain]
    n_mc = x.shape[1] * d
    n_gc = gc_count(job.condition, session.name, n_mc)
    rng = np.random.default_rng((config.seed, job.fold, d))
    mask = random_connectivity(n_gc, n_mc, 1.0 / d, rng)
    net = Network(np.zeros((n_mc, x.shape[1]), dtype=np.float32), n_gc=n_gc, connectivity=mask)
    net.calibrate(x[job.train], spec)
    if config.model == "fixed":
        from .golden.fixed.network import FixedNetwork
        net = FixedNetwork(net.weights, n_gc=n_gc, connectivity=mask, t0=net.t)
    net.fit(x[job.train], duration=config.steps, rinse=config.rinse)
    return net, net.process(x[job.test], duration=config.steps, rinse=config.rinse,
                            raster=raster)


def run_job(job, session, config):
    """Run one job; returns a flat record (dict) with per-sample utilisations attached and,
    per layer, the accuracy and the C and gamma the grid search chose."""
    y = session.labels[job.test]
    rec = {"session": job.session, "condition": job.condition, "duplication": job.duplication,
           "gain": None if job.gain is None else float(job.gain), "fold": job.fold}
    if job.condition == "et":
        net = Network(np.zeros((session.samples.shape[1],) * 2, dtype=np.float32))
        et = net.process(session.samples[job.test], duration=config.steps,
                         rinse=config.rinse).et
        _separability(rec, "et", et, y, config, scale=True)
        return rec
    _, out = fold_network(job, session, config)
    for layer in ("mc", "gc"):
        phase = getattr(out, f"{layer}_phase")
        u = utilisation(phase)
        rec[f"{layer}_util"] = u
        rec[f"{layer}_util_mean"] = float(u.mean())
        rec[f"{layer}_util_sd"] = float(u.std(ddof=1))
        _separability(rec, layer, phase, y, config)
    return rec


def _separability(rec, layer, responses, labels, config, scale=False):
    result = evaluate(responses, labels, scale=scale, seed=config.seed, solver=config.solver)
    rec[f"{layer}_acc"] = result.accuracy
    rec[f"{layer}_c"] = result.c
    rec[f"{layer}_gamma"] = result.gamma


_WORKER = {}


def _init_worker(sessions, config):
    _WORKER["sessions"] = {s.name: s for s in sessions}
    _WORKER["config"] = config


def _run(job):
    return run_job(job, _WORKER["sessions"][job.session], _WORKER["config"])


def job_key(item):
    """(session, condition, D, gain, fold) of a :class:`Job` or a record: what identifies a job."""
    get = item.get if isinstance(item, dict) else lambda k: getattr(item, k)
    gain = get("gain")
    return (get("session"), get("condition"), int(get("duplication")),
            None if gain is None else float(gain), int(get("fold")))


def _order(key):
    return key[:3] + (-1.0 if key[3] is None else key[3], key[4])


def run_experiment(sessions, config, jobs=None, progress=None, *, scheduler=None, done=(),
                   on_record=None):
    """Run every job and return the records, sorted by :func:`job_key`.

    ``jobs`` worker processes on this machine (1 = in this process), or, with ``scheduler``,
    a Dask cluster: ``"local:N"`` starts a LocalCluster of N worker processes, any other value
    is the address of a running scheduler (``tcp://host:8786``). Records in ``done`` (e.g. read
    back from an interrupted run's jobs.csv) are kept and their jobs not run again. As each
    job finishes, ``on_record(record)`` and ``progress(1)`` are called.
    """
    todo = plan(sessions, config)
    wanted = {job_key(j) for j in todo}
    records = []
    for rec in done:
        if job_key(rec) not in wanted:
            raise ValueError(f"a finished job {job_key(rec)} is not part of this experiment")
        records.append(rec)
    finished = {job_key(r) for r in records}
    todo = [j for j in todo if job_key(j) not in finished]
    if scheduler is not None:
        if jobs is not None:
            raise ValueError("jobs (local worker processes) do not apply with a Dask scheduler")
        results = _dask_results(todo, sessions, config, scheduler)
    else:
        results = _pool_results(todo, sessions, config, jobs or os.cpu_count() or 1)
    try:
        for rec in results:
            records.append(rec)
            if on_record:
                on_record(rec)
            if progress:
                progress(1)
    finally:
        results.close()  # stop the pool or the cluster at once, also on Ctrl-C
    return sorted(records, key=lambda r: _order(job_key(r)))


def _pool_results(todo, sessions, config, jobs):
    if not todo:
        return
    if jobs == 1:
        _init_worker(sessions, config)
        for job in todo:
            yield _run(job)
        return
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    with ctx.Pool(min(jobs, len(todo)), initializer=_init_worker,
                  initargs=(sessions, config)) as pool:
        yield from pool.imap_unordered(_run, todo, chunksize=1)


def parse_scheduler(text):
    """("local", N) for ``local:N``, or ("address", text) for a scheduler address such as
    ``tcp://host:8786``. Raises ValueError for anything else."""
    if text.startswith("local:"):
        n = text[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"scheduler {text!r}: local:N needs a worker count N >= 1")
        return "local", int(n)
    if "://" not in text or text.endswith("://"):
        raise ValueError(f"scheduler {text!r} is neither local:N nor an address such as "
                         f"tcp://host:8786")
    return "address", text


def _dask_results(todo, sessions, config, scheduler):
    """Run ``todo`` on a Dask cluster, yielding records as they complete. Dask reruns the
    jobs of a lost worker elsewhere; a job that fails raises here."""
    kind, value = parse_scheduler(scheduler)
    if not todo:
        return
    from distributed import Client, LocalCluster, as_completed
    cluster = None
    try:
        if kind == "local":
            cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(value, timeout="20s")
            except (OSError, TimeoutError) as e:
                raise OSError(f"cannot reach the Dask scheduler at {value}: {e}") from None
        run = uuid.uuid4().hex[:8]
        try:
            data = client.scatter({s.name: s for s in sessions}, broadcast=True)
            futures = [client.submit(run_job, job, data[job.session], config, pure=False,
                                     priority=job.cost,
                                     key=f"hetq-{run}-{'-'.join(map(str, job_key(job)))}")
                       for job in todo]
            for future in as_completed(futures):
                yield future.result()
                future.release()
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


METRICS = ("mc_acc", "gc_acc", "mc_util_sd", "mc_util_mean", "gc_util_sd", "gc_util_mean")

#: The columns of jobs.csv: the job, then every number of its record (per-sample utilisations
#: as space-separated lists). Numbers are written at full precision (``repr``).
JOB_COLUMNS = ("session", "condition", "duplication", "gain", "fold",
               "mc_acc", "mc_c", "mc_gamma", "gc_acc", "gc_c", "gc_gamma",
               "mc_util_sd", "mc_util_mean", "gc_util_sd", "gc_util_mean",
               "et_acc", "et_c", "et_gamma", "mc_util", "gc_util")
_INT_COLUMNS = ("duplication", "fold")
_ARRAY_COLUMNS = ("mc_util", "gc_util")


def run_parameters(sessions, config):
    """What makes two runs the same experiment: the configuration (the solver aside: both
    solvers give the same results) and a digest of every session's samples and labels."""
    cfg = asdict(config)
    cfg.pop("solver")
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
    data = [{"name": s.name, "shape": list(s.samples.shape),
             "sha256": hashlib.sha256(np.ascontiguousarray(s.samples).tobytes()
                                      + np.ascontiguousarray(s.labels).tobytes()).hexdigest()}
            for s in sessions]
    return {"config": cfg, "sessions": data}


def _format_value(column, value):
    if value is None:
        return ""
    if column in _ARRAY_COLUMNS:
        return " ".join(repr(float(v)) for v in value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _parse_row(row, where):
    if len(row) != len(JOB_COLUMNS):
        raise ValueError(f"{where}: {len(row)} fields, expected {len(JOB_COLUMNS)}")
    rec = {}
    try:
        for column, text in zip(JOB_COLUMNS, row):
            if column in ("session", "condition"):
                rec[column] = text
            elif text == "":
                if column == "gain":
                    rec[column] = None
                continue
            elif column in _INT_COLUMNS:
                rec[column] = int(text)
            elif column in _ARRAY_COLUMNS:
                rec[column] = np.array([float(v) for v in text.split()])
            else:
                rec[column] = float(text)
    except ValueError as e:
        raise ValueError(f"{where}: column {column}: {e}") from None
    if rec["condition"] != "et" and rec["condition"] not in CONDITIONS:
        raise ValueError(f"{where}: unknown condition {rec['condition']!r}")
    return rec


class JobLog:
    """``jobs.csv`` of an experiment, written one job at a time, and its parameters
    (``jobs.json``, see :func:`run_parameters`).

    A new log writes the file (header, then one line per job) from its first job on. With
    ``resume``, an existing log is read back
    (:attr:`records`) and appended to; it must belong to a run with the same parameters,
    otherwise ValueError names what differs. A last line cut short by a killed run is
    dropped; any other malformed line is refused.

    Members
    -------
    records : list of dict
        The finished jobs read back on resume (empty for a new log).
    """

    def __init__(self, directory, parameters, resume=False):
        self.path = Path(directory) / "jobs.csv"
        self.parameters_path = Path(directory) / "jobs.json"
        self.parameters = parameters
        self.records = []
        self._file = None
        if resume and self.path.exists():
            self._check_parameters(parameters)
            self.records = self._read()
            self._file = open(self.path, "a", newline="")

    def _open(self):
        """Start a new log (at its first job, so that a run that fails before any job
        finished leaves an earlier log in place)."""
        self.parameters_path.write_text(json.dumps(self.parameters, indent=1) + "\n")
        self._file = open(self.path, "w", newline="")
        self._write(JOB_COLUMNS)

    def _check_parameters(self, parameters):
        if not self.parameters_path.exists():
            raise ValueError(f"cannot resume: {self.path} has no {self.parameters_path.name} "
                             f"with the parameters of its run")
        try:
            old = json.loads(self.parameters_path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"cannot resume: {self.parameters_path} is not valid JSON ({e})") \
                from None
        if old == parameters:
            return
        diffs = []
        for k in sorted(set(old.get("config", {})) | set(parameters["config"])):
            a, b = old.get("config", {}).get(k), parameters["config"].get(k)
            if a != b:
                diffs.append(f"{k} {a} there, {b} here")
        if old.get("sessions") != parameters["sessions"]:
            names = [s["name"] for s in old.get("sessions", [])]
            diffs.append(f"sessions/data {', '.join(names)} there, other data here "
                         f"({', '.join(s['name'] for s in parameters['sessions'])})")
        raise ValueError(f"cannot resume {self.path}: it belongs to a run with other "
                         f"parameters ({'; '.join(diffs)}); use another output directory or "
                         f"drop --resume to start again")

    def _read(self):
        text = self.path.read_text()
        if text and not text.endswith("\n"):
            cut = text.rfind("\n") + 1  # a line cut short by a killed run
            text = text[:cut]
            with open(self.path, "r+") as f:
                f.truncate(len(text.encode()))
        lines = text.splitlines()
        if not lines or next(csv.reader([lines[0]])) != list(JOB_COLUMNS):
            raise ValueError(f"cannot resume: {self.path} does not start with the jobs.csv "
                             f"header ({','.join(JOB_COLUMNS[:3])},...)")
        records, seen = [], set()
        for n, row in enumerate(csv.reader(lines[1:]), start=2):
            rec = _parse_row(row, f"{self.path}, line {n}")
            if job_key(rec) in seen:
                raise ValueError(f"{self.path}, line {n}: job {job_key(rec)} appears twice")
            seen.add(job_key(rec))
            records.append(rec)
        return records

    def _write(self, row):
        self._file.write(_csv_line(row))
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, rec):
        """Add one finished job (flushed to disk at once)."""
        if self._file is None:
            self._open()
        self._write([_format_value(c, rec.get(c)) for c in JOB_COLUMNS])

    def close(self, records=None):
        """Close the file; with ``records`` (the whole run), rewrite it in job order."""
        if self._file is None and records is not None:
            self._open()
        if self._file is not None:
            self._file.close()
        if records is not None:
            tmp = self.path.with_suffix(".csv.tmp")
            with open(tmp, "w", newline="") as f:
                f.write(_csv_line(JOB_COLUMNS))
                for r in sorted(records, key=lambda r: _order(job_key(r))):
                    f.write(_csv_line([_format_value(c, r.get(c)) for c in JOB_COLUMNS]))
            os.replace(tmp, self.path)


def _csv_line(fields):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


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


def read_summary(path):
    """The rows of a ``summary.csv`` written by :func:`write_csv` (numbers as floats, D as int).
    ValueError names a missing file or column."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (a summary.csv of an earlier hetq experiment)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"session", "condition", "duplication"} | set(METRICS) | {f"{m}_sd" for m in METRICS}
    if not rows or not need <= set(rows[0]):
        missing = sorted(need - set(rows[0] if rows else ()))
        raise ValueError(f"{path} is not a hetq experiment summary (missing columns: "
                         f"{', '.join(missing) or 'all rows'})")
    out = []
    for r in rows:
        row = {"session": r["session"], "condition": r["condition"],
               "duplication": int(r["duplication"])}
        for m in METRICS:
            row[m], row[f"{m}_sd"] = float(r[m]), float(r[f"{m}_sd"])
        out.append(row)
    return out


def compare_runs(summary, reference):
    """Cell by cell, this run's summary against a reference run's (e.g. the fixed-point network
    against the float model): one dict per (session, condition, D, metric) with both means and
    fold SDs and ``within`` = ``|ours - reference| <= reference SD``. ValueError when the
    runs do not cover the same rows."""
    key = lambda r: (r["session"], r["condition"], int(r["duplication"]))  # noqa: E731
    ref = {key(r): r for r in reference}
    mine = {key(r): r for r in summary}
    if set(ref) != set(mine):
        only = sorted(set(mine) ^ set(ref))
        raise ValueError(f"the two runs cover different rows (session, condition, D), e.g. "
                         f"{only[0]}")
    cells = []
    for k in (key(r) for r in summary):
        a, b = mine[k], ref[k]
        for m in METRICS:
            diff = a[m] - b[m]
            cells.append({"session": k[0], "condition": k[1], "duplication": k[2],
                          "metric": m, "ours": a[m], "ours_sd": a[f"{m}_sd"],
                          "reference": b[m], "reference_sd": b[f"{m}_sd"], "difference": diff,
                          "within": bool(abs(diff) <= b[f"{m}_sd"] + 1e-9)})
    return cells


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
