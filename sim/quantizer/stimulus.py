"""Seeded stimulus for the quantizer benches (samples, table writes and their timing), the
design a stimulus is for, and the golden outputs it is checked against.

Every bench (Amaranth simulator, cocotb, the file-driven Verilog bench) takes a
:class:`Stimulus`, drives samples and table writes on separate streams with seeded random
gaps, records the cycle at which each was accepted, and hands back a :class:`BenchResult`; the
golden model then replays the accepted events in that order (:func:`expected_records`).
"""

import json
from dataclasses import dataclass, field

import numpy as np

from ...golden.fixed.normaliser import normalise
from ...golden.fixed.quantizer import QuantizerConfig, QuantizerModel, weight_table
from ...golden.network.weights import WeightSpec, data_blind_weights
from ..normaliser.stimulus import edge_samples, random_samples

__all__ = ["Write", "Stimulus", "BenchResult", "make_stimulus", "initial_weights",
           "expected_records", "same_cycle_rule", "build_dut", "toplevel", "save_stimulus",
           "load_stimulus"]

_KINDS = ("weight", "threshold")


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
    """What a bench drives: the design's configuration, the initial weight codes, samples (raw
    sensor codes, or normalised codes for the bare quantizer) and table writes."""

    config: QuantizerConfig
    weights: np.ndarray
    samples: np.ndarray
    writes: list = field(default_factory=list)
    normalised: bool = False

    @property
    def outputs(self):
        """Number of output records the samples produce."""
        return len(self.samples) * self.config.mcs

    @property
    def period(self):
        """The design's cycles per sample back to back: the sensor quantizer's period, or the
        bare quantizer's (:attr:`~hetq.golden.fixed.quantizer.QuantizerConfig.core_period`)."""
        return self.config.core_period if self.normalised else self.config.period


@dataclass
class BenchResult:
    """What a quantizer bench run returns.

    Members
    -------
    records : int64 array (outputs, 4)
        Output transfers (mc, drive, phase, last) in order.
    order : list
        Acceptance order of the events (see :func:`~hetq.sim.kit.events.merge_order`).
    first_in, last_out : int
        Clock edge of the first sample transfer and of the last output transfer.
    samples : int
    """

    records: np.ndarray
    order: list
    first_in: int
    last_out: int
    samples: int

    @property
    def cycles_per_sample(self):
        return (self.last_out - self.first_in + 1) / max(self.samples, 1)


def initial_weights(config, rng=None):
    """A realistic initial table for ``config``: the uniform (1/x) weights, with, when ``rng``
    is given, a few entries replaced by 0, the largest code (saturating weights) and random
    codes."""
    fmt = config.fmt
    codes = weight_table(data_blind_weights(WeightSpec("uniform", config.duplication),
                                            config.sensors), fmt)
    if rng is not None:
        n = codes.size
        pick = rng.permutation(n)[:max(3, n // 8)]
        choices = [0, fmt.weight_max, *rng.integers(0, fmt.weight_max + 1, 4)]
        codes[pick] = rng.choice(np.array(choices, dtype=np.int64), pick.size)
    return codes


def _random_writes(rng, config, n, period):
    """About one write per 16 samples, offered at random moments spread over the run: weights
    (random entries, zero and saturating codes, now and then an address beyond the table when
    the port can carry one) and thresholds (nudged by a few codes, or moved far, which may make
    the table non-monotone)."""
    fmt, mcs = config.fmt, config.mcs
    table = config.table
    weight_space = 1 << config.weight_addr_bits
    count = max(2, n // 16)
    spacing = max(1, 2 * n * period // count)
    writes = []
    for _ in range(count):
        delay = int(rng.integers(0, spacing))
        if rng.random() < 0.6:
            pick = int(rng.integers(0, fmt.weight_max + 1))
            code = int(rng.choice([0, fmt.weight_max, pick]))
            addr = int(rng.integers(0, mcs))
            if weight_space > mcs and rng.random() < 0.1:
                addr = int(rng.integers(mcs, weight_space))          # dropped
            writes.append(Write("weight", addr, code, delay))
        else:
            j = int(rng.integers(0, table.levels))
            if rng.random() < 0.7:
                code = int(np.clip(table.thresholds[j] + rng.integers(-64, 65), 0,
                                   fmt.drive_max))
            else:
                code = int(rng.integers(0, fmt.drive_max + 1))
            writes.append(Write("threshold", j, code, delay))
    return writes


def make_stimulus(seed, n, config, *, writes=True, normalised=False, edges=True,
                  weights=None):
    """A seeded :class:`Stimulus` of ``n`` samples for ``config`` (edge cases first when
    ``edges``) and, with ``writes``, about one table write per 16 samples spread over the run
    (see :func:`_random_writes`). ``normalised`` makes samples of UQ1.Fx codes for the bare
    quantizer (via the golden normaliser). ``seed`` is anything
    :func:`numpy.random.default_rng` takes; ``weights`` fixes the initial table (default
    :func:`initial_weights` with random replacements)."""
    if not isinstance(config, QuantizerConfig):
        raise TypeError(f"config must be a QuantizerConfig, not {type(config).__name__}")
    rng = np.random.default_rng(seed)
    fmt, sensors = config.fmt, config.sensors
    parts = [edge_samples(sensors, fmt)] if edges else []
    parts.append(random_samples(rng, n, sensors, fmt))
    samples = np.concatenate(parts)[:n]
    if normalised:
        samples = normalise(samples, fmt)
    stim = Stimulus(config=config, weights=np.zeros(config.mcs, dtype=np.int64),
                    samples=samples, normalised=normalised)
    if writes and n > 1:
        stim.writes = _random_writes(rng, config, n, stim.period)
    stim.weights = np.asarray(initial_weights(config, rng) if weights is None else weights,
                              dtype=np.int64)
    return stim


def same_cycle_rule(stim):
    """How a bench orders a sample and a write taken in the same cycle (see
    :func:`~hetq.sim.kit.events.merge_order`)."""
    return "error" if stim.normalised else "sample-first"


def expected_records(stim, order):
    """The golden output records for the events of ``stim`` applied in ``order``."""
    model = QuantizerModel(stim.config, weights=stim.weights)
    events = []
    for kind, i in order:
        if kind == "sample":
            events.append(("sample", stim.samples[i]))
        else:
            w = stim.writes[i]
            events.append((w.kind, w.addr, w.code))
    return model.run(events, normalised=stim.normalised)


def build_dut(stim):
    """The design a stimulus is meant for: :class:`~hetq.hdl.quantizer.PhaseQuantizer` for
    normalised samples, :class:`~hetq.hdl.quantizer.SensorQuantizer` for raw sensor codes."""
    from ...hdl.quantizer import PhaseQuantizer, SensorQuantizer

    cls = PhaseQuantizer if stim.normalised else SensorQuantizer
    return cls(stim.config, weights=np.asarray(stim.weights, dtype=np.int64))


def toplevel(stim):
    """The Verilog module name of :func:`build_dut`."""
    return "phase_quantizer" if stim.normalised else "sensor_quantizer"


def save_stimulus(path, stim, *, seed=0, stall=0.0, **extra):
    """Write a stimulus and the bench settings (seed of the valid/ready patterns, stall
    probability) to an .npz that a bench in another process can load."""
    np.savez(
        path, config=np.str_(stim.config.to_json()), weights=stim.weights,
        samples=stim.samples, normalised=stim.normalised, seed=seed, stall=stall,
        write_kind=np.array([_KINDS.index(w.kind) for w in stim.writes], dtype=np.int64),
        write_addr=np.array([w.addr for w in stim.writes], dtype=np.int64),
        write_code=np.array([w.code for w in stim.writes], dtype=np.int64),
        write_delay=np.array([w.delay for w in stim.writes], dtype=np.int64),
        **extra)


def load_stimulus(path):
    """Read what :func:`save_stimulus` wrote: ``(stim, seed, stall, extra)``."""
    with np.load(path) as z:
        d = {k: z[k] for k in z.files}
    config = QuantizerConfig.from_dict(json.loads(str(d.pop("config"))))
    writes = [Write(_KINDS[int(k)], int(a), int(c), int(t)) for k, a, c, t in
              zip(d.pop("write_kind"), d.pop("write_addr"), d.pop("write_code"),
                  d.pop("write_delay"))]
    stim = Stimulus(config=config, weights=d.pop("weights"), samples=d.pop("samples"),
                    writes=writes, normalised=bool(d.pop("normalised")))
    return stim, int(d.pop("seed")), float(d.pop("stall")), d
