"""Seeded stimulus for the MC array benches and the golden outputs they are checked against.

A bench drives :class:`~hetq.hdl.mc_array.SensorMCArray` (normaliser, quantizer and MC array):
raw sensor samples and table writes as in the quantizer benches
(:mod:`hetq.sim.quantizer.stimulus`), plus,
with inhibition, one extra-current transfer per group update. It records the cycles at which
samples and writes were taken, every spike event and every state write-back (the ``monitor``
port); :func:`expected_array` replays the accepted events through
:class:`~hetq.golden.fixed.quantizer.QuantizerModel` and :class:`~hetq.golden.fixed.mc_array.MCArrayModel`.
"""

import json
from dataclasses import dataclass, replace

import numpy as np

from ...golden.fixed.formats import DEFAULT_FORMAT
from ...golden.fixed.mc_array import MCArrayModel, SensorMCArrayConfig
from ..quantizer.stimulus import (Stimulus, expected_records, load_stimulus, make_stimulus,
                                 save_stimulus)

__all__ = ["ArrayStimulus", "ArrayExpected", "ArrayBenchResult", "HASH_MULTIPLIER",
           "state_words", "state_hash", "extra_currents", "make_array_stimulus",
           "build_array_dut", "expected_array", "save_array_stimulus", "load_array_stimulus",
           "array_cycle_budget"]


@dataclass
class ArrayStimulus:
    """What an MC array bench drives.

    Members
    -------
    config : SensorMCArrayConfig
        The design (quantizer and array).
    quant : :class:`~hetq.sim.quantizer.stimulus.Stimulus`
        Sensor samples (raw codes), the initial weight table and the table writes (for
        ``config.quantizer``).
    extra : int64 array (samples, hold + rinse, mcs) or None
        Extra currents (SQ(Ie.Fc) codes) per sample, step of the window and MC; given exactly
        when ``config.array.inhibition``.
    """

    config: SensorMCArrayConfig
    quant: Stimulus
    extra: np.ndarray | None = None

    def __post_init__(self):
        if self.quant.config != self.config.quantizer:
            raise ValueError("the quantizer stimulus is for another quantizer configuration")
        if (self.extra is not None) != self.config.array.inhibition:
            raise ValueError("extra currents must be given exactly when the array has "
                             "inhibition")

    array = property(lambda self: self.config.array)
    fmt = property(lambda self: self.config.array.fmt)
    samples = property(lambda self: self.quant.samples)
    writes = property(lambda self: self.quant.writes)
    mcs = property(lambda self: self.config.array.mcs)
    lanes = property(lambda self: self.config.array.lanes)
    groups = property(lambda self: self.config.array.groups)
    hold = property(lambda self: self.config.array.hold)
    rinse = property(lambda self: self.config.array.rinse)
    window = property(lambda self: self.config.array.window)

    @property
    def steps(self):
        """Steps the whole run takes."""
        return len(self.quant.samples) * self.window

    def extra_words(self):
        """The extra currents in issue order, one row of ``lanes`` codes per group update:
        int64 (steps * groups, lanes)."""
        if self.extra is None:
            return None
        n = len(self.quant.samples)
        return self.extra.reshape(n * self.window * self.groups, self.lanes)


def array_cycle_budget(stim, stall):
    """A cycle budget for a run (see :func:`~hetq.sim.kit.events.cycle_budget`): every window
    at the array's rate plus the quantizer's time per sample, with room for stalls and the
    table writes' delays."""
    from ..kit.events import cycle_budget

    period = stim.array.cycles_per_sample + 4 * stim.config.quantizer.period
    return cycle_budget(period, len(stim.samples), stall=stall,
                        extra=sum(w.delay for w in stim.writes))


@dataclass
class ArrayBenchResult:
    """What an MC array bench returns (no comparison: see :func:`expected_array`).

    Members
    -------
    events : int64 array (spikes, 2)
        Spike transfers ``(step, mc)`` in the order they left ``o``.
    voltage, refractory : arrays (steps, mcs) or None
        Every state write-back seen on ``monitor``, as rows of steps (benches that only hash
        the states leave them None).
    hashes : uint64 array (samples,) or None
        :func:`state_hash` of each window's write-backs, when the bench hashes instead.
    order : list
        Acceptance order of samples and table writes (see :func:`~.stimulus.merge_order`).
    first_in, last_out : int
        Clock edge of the first sample transfer and of the last write-back or spike.
    samples : int
    peeks : int
        State-memory reads made by the bench (each compared by the bench itself).
    """

    events: np.ndarray
    voltage: np.ndarray | None
    refractory: np.ndarray | None
    order: list
    first_in: int
    last_out: int
    samples: int
    hashes: np.ndarray | None = None
    peeks: int = 0

    @property
    def cycles_per_sample(self):
        return (self.last_out - self.first_in + 1) / max(self.samples, 1)


#: Multiplier of :func:`state_hash` (odd, so that every word position matters).
HASH_MULTIPLIER = 0x9E3779B97F4A7C15


def state_words(voltage, refractory, fmt=DEFAULT_FORMAT):
    """State write-backs as the words of the ``monitor`` port's lanes:
    ``(v mod 2**(Iv+Fc)) | refractory << (Iv+Fc)``, uint64, same shape."""
    v = np.asarray(voltage, dtype=np.int64) & ((1 << fmt.state_bits) - 1)
    return (v | (np.asarray(refractory, dtype=np.int64) << fmt.state_bits)).astype(np.uint64)


def state_hash(words):
    """Polynomial hash of write-back words in write order (step by step, MCs ascending):
    ``sum(word[k] * M**k) mod 2**64`` with ``M`` = :data:`HASH_MULTIPLIER`, ``k`` from 0.
    Any single changed word changes it (M is odd). Returns a Python int."""
    w = np.asarray(words, dtype=np.uint64).reshape(-1)
    block = 1024
    step = [1]
    for _ in range(1, block):
        step.append(step[-1] * HASH_MULTIPLIER % 2**64)
    stride = np.uint64(step[-1] * HASH_MULTIPLIER % 2**64)
    step = np.array(step, dtype=np.uint64)
    powers = np.empty(w.size, dtype=np.uint64)
    p = np.uint64(1)
    with np.errstate(over="ignore"):
        for lo in range(0, w.size, block):
            hi = min(lo + block, w.size)
            powers[lo:hi] = step[:hi - lo] * p
            p = p * stride
        return int((w * powers).sum(dtype=np.uint64))


def extra_currents(rng, n, window, mcs, fmt=DEFAULT_FORMAT):
    """Extra currents for ``n`` windows: per window one of zero, uniform over the whole
    SQ(Ie.Fc) range, small noise (about +-2 mV), sparse inhibitory pulses (-5 to -30 mV for 1
    to 10 steps, like GC->MC inhibition), or a constant extreme (the smallest or the largest
    code for the whole window). int64 (n, window, mcs)."""
    lo, hi = fmt.current_min, fmt.current_max
    mv = 1 << fmt.drive_frac
    out = np.zeros((n, window, mcs), dtype=np.int64)
    kinds = rng.integers(0, 5, n)
    for k, kind in enumerate(kinds):
        if kind == 1:
            out[k] = rng.integers(lo, hi + 1, (window, mcs))
        elif kind == 2:
            out[k] = rng.integers(-2 * mv, 2 * mv + 1, (window, mcs))
        elif kind == 3:
            for _ in range(int(rng.integers(1, 4 * mcs + 2))):
                mc, start = int(rng.integers(0, mcs)), int(rng.integers(0, window))
                length = int(rng.integers(1, 11))
                out[k, start:start + length, mc] = -int(rng.integers(5 * mv, 30 * mv + 1))
        elif kind == 4:
            out[k] = lo if rng.random() < 0.5 else hi
    return out


def make_array_stimulus(seed, n, config, *, writes=True, threshold_writes=True, edges=True,
                        weights=None):
    """A seeded :class:`ArrayStimulus` of ``n`` samples for ``config``: the quantizer's
    stimulus (:func:`~hetq.sim.quantizer.stimulus.make_stimulus`: edge cases first, random
    samples, table writes mid-stream) and, with inhibition, :func:`extra_currents` (the first
    windows zero, the smallest and the largest constant current when ``edges``).

    A rewritten threshold table makes the quantizer's phase differ from the neuron's (the
    array integrates the drive whatever the thresholds say); ``threshold_writes=False``
    keeps the weight writes only, for checks of the equivalence with the quantizer."""
    if not isinstance(config, SensorMCArrayConfig):
        raise TypeError(f"config must be a SensorMCArrayConfig, not {type(config).__name__}")
    rng = np.random.default_rng(seed)
    quant = make_stimulus(rng.integers(0, 2**63), n, config.quantizer, writes=writes,
                          edges=edges, weights=weights)
    # the quantizer's stimulus spreads the writes over its own time per sample; the array
    # takes a window of steps per sample
    array = config.array
    scale = array.window * array.cycles_per_step / quant.period
    quant.writes = [replace(w, delay=int(w.delay * scale)) for w in quant.writes
                    if threshold_writes or w.kind != "threshold"]
    extra = None
    if array.inhibition:
        fmt = array.fmt
        extra = extra_currents(rng, n, array.window, array.mcs, fmt)
        if edges:
            fixed = [0, fmt.current_min, fmt.current_max]
            for k, value in enumerate(fixed[:n]):
                extra[k] = value
    return ArrayStimulus(config=config, quant=quant, extra=extra)


def build_array_dut(stim, monitor=True):
    """The :class:`~hetq.hdl.mc_array.SensorMCArray` a stimulus is meant for (with the
    bench-only ``monitor`` port unless ``monitor`` is False)."""
    from ...hdl.mc_array import SensorMCArray

    return SensorMCArray(stim.config, weights=np.asarray(stim.quant.weights, dtype=np.int64),
                         monitor=monitor)


@dataclass
class ArrayExpected:
    """The golden outputs for a run: ``records`` of the quantizer (mc, drive, phase, last),
    ``drives`` and ``phases`` per sample (samples, mcs), and the array's
    :class:`~hetq.golden.fixed.mc_array.ArrayOutput` (``events``, ``voltage``, ``refractory``)."""

    records: np.ndarray
    drives: np.ndarray
    phases: np.ndarray
    array: object


def expected_array(stim, order):
    """Golden outputs for ``stim`` with its samples and writes taken in ``order`` (see
    :func:`~.stimulus.merge_order`)."""
    records = expected_records(stim.quant, order)
    n, mcs = len(stim.quant.samples), stim.mcs
    drives = records[:, 1].reshape(n, mcs)
    phases = records[:, 2].reshape(n, mcs)
    model = MCArrayModel(stim.array)
    return ArrayExpected(records=records, drives=drives, phases=phases,
                         array=model.run(drives, stim.extra))


def save_array_stimulus(path, stim, *, seed=0, stall=0.0):
    """Write an :class:`ArrayStimulus` and the bench settings to an .npz (see
    :func:`~hetq.sim.quantizer.stimulus.save_stimulus`)."""
    extra = {"array_config": np.str_(stim.config.to_json())}
    if stim.extra is not None:
        extra["extra"] = stim.extra
    save_stimulus(path, stim.quant, seed=seed, stall=stall, **extra)


def load_array_stimulus(path):
    """Read what :func:`save_array_stimulus` wrote: ``(stim, seed, stall)``."""
    quant, seed, stall, d = load_stimulus(path)
    config = SensorMCArrayConfig.from_dict(json.loads(str(d["array_config"])))
    return ArrayStimulus(config=config, quant=quant, extra=d.get("extra")), seed, stall
