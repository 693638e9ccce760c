"""Seeded stimulus for the quantizer benches: samples, table writes and their timing.

Every bench (Amaranth simulator, cocotb, the file-driven Icarus bench) takes a
:class:`Stimulus`, drives samples and table writes on separate streams with seeded random
gaps, records the cycle at which each was accepted, and hands back the output records; the
golden model then replays the accepted events in that order (:func:`expected_records`).
"""

from dataclasses import dataclass, field

import numpy as np

from ..golden.fixed.formats import DEFAULT_FORMAT
from ..golden.fixed.neuron import phase_thresholds
from ..golden.fixed.quantizer import weight_table
from ..golden.fixed.quantizer import QuantizerModel
from ..golden.network.weights import WeightSpec, data_blind_weights

__all__ = ["Write", "Stimulus", "edge_samples", "random_samples", "make_stimulus",
           "initial_weights", "expected_records", "merge_order", "same_cycle_rule",
           "save_stimulus",
           "load_stimulus"]


@dataclass(frozen=True)
class Write:
    """A table write: ``kind`` "weight" or "threshold", entry, code, and the idle cycles the
    write driver waits before offering it."""

    kind: str
    addr: int
    code: int
    delay: int = 0


@dataclass
class Stimulus:
    """What a bench drives: the initial weight codes, samples (raw sensor codes, or
    normalised codes for the bare quantizer) and writes."""

    sensors: int
    duplication: int
    weights: np.ndarray
    samples: np.ndarray
    writes: list = field(default_factory=list)
    fmt: object = DEFAULT_FORMAT
    normalised: bool = False

    @property
    def outputs(self):
        """Number of output records the samples produce."""
        return len(self.samples) * self.sensors * self.duplication


def edge_samples(sensors, fmt=DEFAULT_FORMAT):
    """Edge cases: zero vector, one-hot at full scale, all equal (full scale and 1), all
    maximal, the smallest non-zero sum, one large sensor with ones elsewhere, and a ramp."""
    top = (1 << fmt.sensor_bits) - 1
    rows = [np.zeros(sensors, dtype=np.int64)]
    for k in range(sensors):
        one = np.zeros(sensors, dtype=np.int64)
        one[k] = top
        rows.append(one)
    rows.append(np.full(sensors, top))
    rows.append(np.ones(sensors, dtype=np.int64))
    smallest = np.zeros(sensors, dtype=np.int64)
    smallest[-1] = 1
    rows.append(smallest)
    big = np.ones(sensors, dtype=np.int64)
    big[0] = top
    rows.append(big)
    rows.append(np.minimum(np.arange(sensors, dtype=np.int64) * max(top // sensors, 1), top))
    return np.stack(rows)


def random_samples(rng, n, sensors, fmt=DEFAULT_FORMAT):
    """``n`` random samples from a mixture: full-scale uniform, sparse, per-sample scaled
    down by a random power of two (small sums), and near-zero values."""
    top = (1 << fmt.sensor_bits) - 1
    kind = rng.integers(0, 4, n)
    s = rng.integers(0, top + 1, (n, sensors))
    sparse = rng.random((n, sensors)) < 0.5
    s = np.where((kind == 1)[:, None] & sparse, 0, s)
    shift = rng.integers(0, fmt.sensor_bits + 1, n)
    s = np.where((kind == 2)[:, None], s >> shift[:, None], s)
    s = np.where((kind == 3)[:, None], rng.integers(0, 4, (n, sensors)), s)
    return s.astype(np.int64)


def initial_weights(sensors, duplication, fmt=DEFAULT_FORMAT, rng=None):
    """A realistic initial table: the uniform (1/x) weights, with, when ``rng`` is given,
    a few entries replaced by 0, the largest code (saturating weights) and random codes."""
    codes = weight_table(data_blind_weights(WeightSpec("uniform", duplication), sensors), fmt)
    if rng is not None:
        n = codes.size
        pick = rng.permutation(n)[:max(3, n // 8)]
        choices = [0, fmt.weight_max, *rng.integers(0, fmt.weight_max + 1, 4)]
        codes[pick] = rng.choice(np.array(choices, dtype=np.int64), pick.size)
    return codes


def make_stimulus(seed, n, *, sensors=8, duplication=4, fmt=DEFAULT_FORMAT, writes=True,
                  normalised=False, edges=True, weights=None):
    """A seeded :class:`Stimulus` of ``n`` samples (edge cases first when ``edges``) and, with
    ``writes``, about one table write per 16 samples, offered at random moments spread over
    the run: weights (random entries, zero and saturating codes) and thresholds (nudged by a
    few codes, or moved far, which may make the table non-monotone). ``normalised`` makes
    samples of UQ1.Fx codes for the bare quantizer (via the golden normaliser). ``seed`` is
    anything :func:`numpy.random.default_rng` takes; ``weights`` fixes the initial table
    (default :func:`initial_weights` with random replacements)."""
    from ..golden.fixed.normaliser import normalise

    rng = np.random.default_rng(seed)
    parts = [edge_samples(sensors, fmt)] if edges else []
    parts.append(random_samples(rng, n, sensors, fmt))
    samples = np.concatenate(parts)[:n]
    if normalised:
        samples = normalise(samples, fmt)
    wlist = []
    if writes and n > 1:
        mcs = sensors * duplication
        per_sample = max(mcs, sensors + fmt.x_bits + 2)
        levels = phase_thresholds(fmt).levels
        thresholds = phase_thresholds(fmt).thresholds
        count = max(2, n // 16)
        spacing = max(1, 2 * n * per_sample // count)  # spread over the whole run
        for _ in range(count):
            delay = int(rng.integers(0, spacing))
            if rng.random() < 0.6:
                pick = int(rng.integers(0, fmt.weight_max + 1))
                code = int(rng.choice([0, fmt.weight_max, pick]))
                wlist.append(Write("weight", int(rng.integers(0, mcs)), code, delay))
            else:
                j = int(rng.integers(0, levels))
                if rng.random() < 0.7:
                    code = int(np.clip(thresholds[j] + rng.integers(-64, 65), 0, fmt.drive_max))
                else:
                    code = int(rng.integers(0, fmt.drive_max + 1))
                wlist.append(Write("threshold", j, code, delay))
    if weights is None:
        weights = initial_weights(sensors, duplication, fmt, rng)
    return Stimulus(sensors=sensors, duplication=duplication,
                    weights=np.asarray(weights, dtype=np.int64), samples=samples,
                    writes=wlist, fmt=fmt, normalised=normalised)


def merge_order(sample_cycles, write_cycles, same_cycle="error"):
    """Acceptance order from the cycles at which samples and writes were taken.

    Returns a list of ("sample", index) / ("write", index). For a sample and a write taken in
    the same cycle, ``same_cycle="sample-first"`` puts the sample first (the rule of
    :class:`~hetq.hdl.quantizer.SensorQuantizer`); ``"error"`` raises RuntimeError (the bare
    :class:`~hetq.hdl.quantizer.PhaseQuantizer` must never take both)."""
    if same_cycle not in ("error", "sample-first"):
        raise ValueError(f"same_cycle must be 'error' or 'sample-first', not {same_cycle!r}")
    taken = {}
    for i, c in enumerate(sample_cycles):
        taken.setdefault(int(c), []).append(("sample", i))
    for i, c in enumerate(write_cycles):
        taken.setdefault(int(c), []).append(("write", i))
    order = []
    for c in sorted(taken):
        group = taken[c]
        if (same_cycle == "error" and any(k == "sample" for k, _ in group)
                and any(k == "write" for k, _ in group)):
            raise RuntimeError(f"a sample and a table write were both accepted in cycle {c}")
        order.extend(sorted(group, key=lambda e: e[0] != "sample"))
    return order


def same_cycle_rule(stim):
    """How a bench orders a sample and a write taken in the same cycle (see
    :func:`merge_order`)."""
    return "error" if stim.normalised else "sample-first"


def expected_records(stim, order):
    """The golden output records for the events of ``stim`` applied in ``order``."""
    model = QuantizerModel(sensors=stim.sensors, duplication=stim.duplication, fmt=stim.fmt,
                           weights=stim.weights)
    events = []
    for kind, i in order:
        if kind == "sample":
            events.append(("sample", stim.samples[i]))
        else:
            w = stim.writes[i]
            events.append((w.kind, w.addr, w.code))
    return model.run(events, normalised=stim.normalised)


_KINDS = ("weight", "threshold")


def save_stimulus(path, stim, *, seed=0, stall=0.0, **extra):
    """Write a stimulus and the bench settings (seed of the valid/ready patterns, stall
    probability) to an .npz that a bench in another process can load."""
    fmt = stim.fmt
    np.savez(
        path, sensors=stim.sensors, duplication=stim.duplication, weights=stim.weights,
        samples=stim.samples, normalised=stim.normalised, seed=seed, stall=stall,
        fmt=np.array([fmt.sensor_bits, fmt.x_frac, fmt.weight_int, fmt.weight_frac,
                      fmt.drive_int, fmt.drive_frac, fmt.current_int]),
        write_kind=np.array([_KINDS.index(w.kind) for w in stim.writes], dtype=np.int64),
        write_addr=np.array([w.addr for w in stim.writes], dtype=np.int64),
        write_code=np.array([w.code for w in stim.writes], dtype=np.int64),
        write_delay=np.array([w.delay for w in stim.writes], dtype=np.int64),
        **extra)


def load_stimulus(path):
    """Read what :func:`save_stimulus` wrote: ``(stim, seed, stall, extra)``."""
    from ..golden.fixed.formats import FixedFormat

    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    fmt = FixedFormat(*(int(v) for v in d.pop("fmt")))
    writes = [Write(_KINDS[int(k)], int(a), int(c), int(t)) for k, a, c, t in
              zip(d.pop("write_kind"), d.pop("write_addr"), d.pop("write_code"),
                  d.pop("write_delay"))]
    stim = Stimulus(sensors=int(d.pop("sensors")), duplication=int(d.pop("duplication")),
                    weights=d.pop("weights"), samples=d.pop("samples"), writes=writes, fmt=fmt,
                    normalised=bool(d.pop("normalised")))
    return stim, int(d.pop("seed")), float(d.pop("stall")), d
