"""Bit-exact model of the time-stepped MC array (``hetq.hdl.mc_array``).

The array runs the integer MC neuron of :func:`.neuron.lif_step` for every MC, one step after
another (docs/model.md sections 2, 4 and 10, with the arithmetic of section 17):

* Drives arrive as a stream of transfers ``(mc, drive, last)`` (what the phase quantizer
  emits); they fill one of two drive banks, and ``last`` closes a sample. Sample ``k`` uses
  bank ``k % 2``; an entry a sample does not write keeps the bank's earlier value (the banks
  start at zero), a transfer with ``mc >= mcs`` is dropped.
* Each sample is held for ``hold`` steps and followed by ``rinse`` steps of zero drive (both
  multiples of 50, so every window starts at phase 0). Windows follow each other without gaps
  in step numbering: the step counter only advances while a window runs.
* Per step ``t`` (phase ``p = t mod 50``) and MC ``n``: the fire test on the voltage of the
  previous step, then ``v += (453 * (rest + c + g[p] + e - v)) >> 11``, the threshold clamp and
  the refractory clamp (:func:`.neuron.lif_step`); at the end of a step with ``p = 49`` every MC
  is released (voltage to rest, refractory cleared). ``e`` is the extra input current
  (SQ(Ie.Fc) codes, GC->MC inhibition; zero unless given).
* A fire in step ``t`` is the spike event ``(t mod 2**step_bits, n)``; events come ordered by
  step, then MC.

The refractory counter of the float model (50 at a fire, minus one per step, cleared at the
release) is positive exactly from a fire to the next release, because a release comes at most
50 steps later; the array stores it as one bit.
"""

from dataclasses import dataclass

import numpy as np

from ..checks import check_bool, check_instance, check_int, check_power_of_two
from .config import BlockConfig
from .formats import CYCLE, DEFAULT_FORMAT, FixedFormat, gamma_rom
from .neuron import lif_step
from .quantizer import QuantizerConfig

__all__ = ["MCArrayConfig", "SensorMCArrayConfig", "MCArrayModel", "ArrayOutput",
           "drive_transfers", "window_phases", "cycle_phases", "check_window", "STEP_BITS",
           "MAX_MCS"]

#: Default width of the step counter (wraps after 2**32 steps, 50 days at 1 kHz).
STEP_BITS = 32
#: The most MCs an array may have.
MAX_MCS = 1 << 16


def check_window(hold, rinse):
    """Validate a sample window: ``hold`` >= 50 and ``rinse`` >= 0 steps, multiples of 50."""
    check_int("hold", hold, CYCLE, 1 << 20)
    check_int("rinse", rinse, 0, 1 << 20)
    for name, value in (("hold", hold), ("rinse", rinse)):
        if value % CYCLE:
            raise ValueError(f"{name} must be a multiple of {CYCLE} steps, not {value}")


@dataclass(frozen=True)
class MCArrayConfig(BlockConfig):
    """The time-stepped MC array: ``mcs`` integer LIF neurons, ``lanes`` updates per clock.

    Parameters
    ----------
    mcs : int
        Number of MCs (1..65536; default 256 = 8 sensors x D = 32).
    lanes : int
        Updates per clock: a power of two dividing ``mcs`` (default 1).
    hold, rinse : int
        Steps per sample with its drives, then with zero drive (multiples of 50, hold >= 50;
        default 250 and 50 as in docs/model.md section 10).
    fmt : FixedFormat
    step_bits : int
        Width of the step number of spike events (8..48, default 32; it wraps).
    inhibition : bool
        The ``extra`` port (GC->MC current) exists; without it the extra current is zero.
    compact : bool
        The area-first update pipeline (``hetq.hdl.mc_array``): the same neuron update in
        :attr:`COMPACT_WRITE_STAGE` stages instead of :attr:`WRITE_STAGE`, with a few wide
        carry chains per stage, for small devices at low clocks (the iCEBreaker's iCE40UP5K at
        30 MHz); default False, the pipeline timed for 100 MHz on the ECP5. Spikes and states
        are the same; only the cycle counts differ (:attr:`write_stage`).

    Raises
    ------
    TypeError, ValueError
        A parameter of the wrong kind or out of range.
    """

    mcs: int = 256
    lanes: int = 1
    hold: int = 250
    rinse: int = 50
    fmt: FixedFormat = DEFAULT_FORMAT
    step_bits: int = STEP_BITS
    inhibition: bool = False
    compact: bool = False

    #: Cycles from the issue of a group (state RAM address) to the write of its new state in
    #: the default pipeline (a configuration's own figure is :attr:`write_stage`).
    WRITE_STAGE = 10
    #: The same in the compact pipeline (``compact=True``).
    COMPACT_WRITE_STAGE = 3

    def __post_init__(self):
        self._resolve("mcs", check_int("mcs", self.mcs, 1, MAX_MCS))
        check_int("lanes", self.lanes, 1, 64)
        try:
            self._resolve("lanes", check_power_of_two("lanes", self.lanes, divides=self.mcs))
        except ValueError:
            raise ValueError(f"lanes must be a power of two that divides mcs ({self.mcs}), "
                             f"not {self.lanes}") from None
        check_window(self.hold, self.rinse)
        self._resolve("hold", int(self.hold))
        self._resolve("rinse", int(self.rinse))
        check_instance("fmt", self.fmt, FixedFormat)
        self._resolve("step_bits", check_int("step_bits", self.step_bits, 8, 48))
        self._resolve("inhibition", check_bool("inhibition", self.inhibition))
        self._resolve("compact", check_bool("compact", self.compact))

    @property
    def write_stage(self):
        """Cycles from the issue of a group (state RAM address) to the write of its new state:
        :attr:`WRITE_STAGE` (10), or :attr:`COMPACT_WRITE_STAGE` (3) with ``compact``."""
        return self.COMPACT_WRITE_STAGE if self.compact else self.WRITE_STAGE

    def to_dict(self):
        """As every configuration's, without ``compact`` when it is False (so that the default
        array serialises, and prints, as before the compact pipeline existed)."""
        d = super().to_dict()
        if not d["compact"]:
            del d["compact"]
        return d

    def __str__(self):
        text = super().__str__()
        return text if self.compact else text.replace(", compact=False)", ")")

    @property
    def groups(self):
        """Groups per step: ``mcs / lanes`` (MC ``n`` is lane ``n % lanes`` of group
        ``n // lanes``)."""
        return self.mcs // self.lanes

    @property
    def window(self):
        """Steps per sample: hold + rinse."""
        return self.hold + self.rinse

    @property
    def cycles_per_step(self):
        """Clock cycles per step with nothing stalling: the groups, or, with fewer than
        ``write_stage + 1``, the groups plus the wait for the write-back."""
        g, w = self.groups, self.write_stage
        return g if g > w else g + w

    @property
    def cycles_per_cycle(self):
        """Clock cycles per 50-step gamma cycle with nothing stalling."""
        return CYCLE * self.cycles_per_step

    @property
    def cycles_per_sample(self):
        """Clock cycles per sample window back to back (drives loaded during the previous
        window): the steps and one cycle between windows (hidden in the wait for the
        write-back when there are few groups)."""
        return self.window * self.cycles_per_step + (1 if self.groups > self.write_stage else 0)


@dataclass(frozen=True)
class SensorMCArrayConfig(BlockConfig):
    """Raw sensor codes in, MC spikes out: a quantizer (normaliser, drive, phase) feeding an MC
    array with the drives.

    Parameters
    ----------
    quantizer : QuantizerConfig
    array : MCArrayConfig, optional
        Must have ``quantizer.mcs`` MCs and the quantizer's format; default the array's
        defaults at that size and format.

    :meth:`make` builds one from flat keyword arguments (the fields of both).
    """

    quantizer: QuantizerConfig = QuantizerConfig()
    array: MCArrayConfig | None = None

    def __post_init__(self):
        if not isinstance(self.quantizer, QuantizerConfig):
            raise TypeError(f"quantizer must be a QuantizerConfig, not "
                            f"{type(self.quantizer).__name__}")
        q = self.quantizer
        array = MCArrayConfig(mcs=q.mcs, fmt=q.fmt) if self.array is None else self.array
        if not isinstance(array, MCArrayConfig):
            raise TypeError(f"array must be an MCArrayConfig, not {type(array).__name__}")
        if array.mcs != q.mcs:
            raise ValueError(f"the array has {array.mcs} MCs, the quantizer {q.mcs}")
        if array.fmt != q.fmt:
            raise ValueError("the array and the quantizer must use the same format")
        self._resolve("array", array)

    @classmethod
    def _field_types(cls):
        return {"quantizer": QuantizerConfig, "array": MCArrayConfig}

    @classmethod
    def make(cls, **kwargs):
        """The configuration from the fields of :class:`QuantizerConfig` (``sensors``,
        ``duplication``, ``fmt``, ``norm_lanes``, ``datapath``) and of :class:`MCArrayConfig` (``lanes``,
        ``hold``, ``rinse``, ``step_bits``, ``inhibition``, ``compact``; its ``mcs`` and ``fmt``
        are the quantizer's). TypeError names an unknown argument."""
        qkeys = {"sensors", "duplication", "fmt", "norm_lanes", "datapath"}
        akeys = {"lanes", "hold", "rinse", "step_bits", "inhibition", "compact"}
        unknown = sorted(set(kwargs) - qkeys - akeys)
        if unknown:
            raise TypeError(f"unknown argument(s) {', '.join(unknown)}")
        q = QuantizerConfig(**{k: v for k, v in kwargs.items() if k in qkeys})
        a = MCArrayConfig(mcs=q.mcs, fmt=q.fmt,
                          **{k: v for k, v in kwargs.items() if k in akeys})
        return cls(q, a)


@dataclass
class ArrayOutput:
    """What the array did over a run of samples.

    Members
    -------
    events : int64 array (spikes, 2)
        ``(step, mc)`` of every spike, ordered by step then MC.
    voltage, refractory : arrays (steps, mcs)
        The state written back after every step (int64 voltage codes, bool flags); row
        ``t - first_step``. After a step with phase 49 this is (rest, False) everywhere.
    first_step : int
        Step number (unwrapped) of the first row.
    samples : int
        Windows run.
    """

    events: np.ndarray
    voltage: np.ndarray
    refractory: np.ndarray
    first_step: int
    samples: int


def drive_transfers(drives):
    """The transfer stream ``(mc, drive, last)`` that loads whole drive vectors, MCs in
    ascending order (as the quantizer emits them): int64 array (samples * mcs, 3)."""
    d = np.asarray(drives, dtype=np.int64)
    if d.ndim != 2:
        raise ValueError(f"drives must be 2-D (samples x MCs), got shape {d.shape}")
    n, mcs = d.shape
    mc = np.tile(np.arange(mcs, dtype=np.int64), n)
    last = (mc == mcs - 1).astype(np.int64)
    return np.stack([mc, d.reshape(-1), last], axis=1)


class MCArrayModel:
    """The MC array's state between windows: the two drive banks and the step (voltages and
    refractory flags are at rest there, since every window ends with a release).

    Parameters
    ----------
    config : MCArrayConfig
    """

    def __init__(self, config):
        if not isinstance(config, MCArrayConfig):
            raise TypeError(f"config must be an MCArrayConfig, not {type(config).__name__}")
        self.config = config
        self.mcs, self.hold, self.rinse = config.mcs, config.hold, config.rinse
        self.fmt, self.step_bits = config.fmt, config.step_bits
        self.gamma = gamma_rom(self.fmt)
        self.banks = np.zeros((2, self.mcs), dtype=np.int64)
        self.step = 0
        self.loaded = 0                                # samples completed on the drive stream

    @property
    def window(self):
        """Steps per sample: hold + rinse."""
        return self.hold + self.rinse

    def load(self, transfers):
        """Apply drive transfers ``(mc, drive, last)``; returns the drive vectors of the
        samples they close (int64 (k, mcs)). A trailing partial sample stays in its bank."""
        t = np.asarray(transfers, dtype=np.int64).reshape(-1, 3)
        if t.size and (t[:, 1].min() < 0 or t[:, 1].max() > self.fmt.drive_max):
            raise ValueError(f"drive codes must lie in [0, {self.fmt.drive_max}]")
        closed = []
        for mc, code, last in t:
            bank = self.banks[self.loaded % 2]
            if 0 <= mc < self.mcs:
                bank[mc] = code
            if last:
                closed.append(bank.copy())
                self.loaded += 1
        return np.array(closed, dtype=np.int64).reshape(-1, self.mcs)

    def run(self, drives, extra=None):
        """Run one window per row of ``drives`` (int64 (samples, mcs) drive codes) with the
        extra currents ``extra`` (int (samples, hold + rinse, mcs) SQ(Ie.Fc) codes, or None
        for zero); returns an :class:`ArrayOutput`. Samples are independent (every window
        starts at phase 0 and every cycle ends with a release), so they run side by side."""
        d = np.asarray(drives, dtype=np.int64)
        if d.ndim != 2 or d.shape[1] != self.mcs:
            raise ValueError(f"drives must have shape (samples, {self.mcs}), got {d.shape}")
        if d.size and (d.min() < 0 or d.max() > self.fmt.drive_max):
            raise ValueError(f"drive codes must lie in [0, {self.fmt.drive_max}]")
        n = d.shape[0]
        if extra is not None:
            e = np.asarray(extra, dtype=np.int64)
            if e.shape != (n, self.window, self.mcs):
                raise ValueError(f"extra currents must have shape ({n}, {self.window}, "
                                 f"{self.mcs}), got {e.shape}")
            if e.size and (e.min() < self.fmt.current_min or e.max() > self.fmt.current_max):
                raise ValueError(f"extra current codes must lie in [{self.fmt.current_min}, "
                                 f"{self.fmt.current_max}] (SQ{self.fmt.current_int}."
                                 f"{self.fmt.drive_frac})")
        fmt = self.fmt
        v = np.full((n, self.mcs), fmt.rest, dtype=np.int64)   # every window starts at rest
        r = np.zeros((n, self.mcs), dtype=bool)
        volts = np.empty((n, self.window, self.mcs), dtype=np.int64)
        refr = np.empty((n, self.window, self.mcs), dtype=bool)
        fires = np.empty((n, self.window, self.mcs), dtype=bool)
        zero = np.zeros_like(d)
        v_min, v_max, _, _ = fmt.state_bounds()
        for s in range(self.window):
            c = d if s < self.hold else zero
            v, r, fire = lif_step(v, r, c, self.gamma[s % CYCLE], fmt,
                                  0 if extra is None else e[:, s])
            if s % CYCLE == CYCLE - 1:                 # release at the end of phase 49
                v = np.full_like(v, fmt.rest)
                r = np.zeros_like(r)
            if v.size and (v.min() < v_min or v.max() > v_max):
                raise AssertionError("voltage outside the bounds of FixedFormat.state_bounds")
            volts[:, s], refr[:, s], fires[:, s] = v, r, fire
        first = self.step
        self.step += n * self.window
        k, s, mc = np.nonzero(fires)
        steps = (first + k * self.window + s) & ((1 << self.step_bits) - 1)
        events = np.stack([steps, mc], axis=1).astype(np.int64)
        return ArrayOutput(events=events, voltage=volts.reshape(-1, self.mcs),
                           refractory=refr.reshape(-1, self.mcs), first_step=first, samples=n)

    def run_transfers(self, transfers, extra=None):
        """:meth:`load` the transfers, then :meth:`run` the samples they close."""
        return self.run(self.load(transfers), extra)



def _fire_grid(events, samples, window, mcs, first_step=0, step_bits=STEP_BITS):
    ev = np.asarray(events, dtype=np.int64).reshape(-1, 2)
    span = samples * window
    rel = (ev[:, 0] - first_step) & ((1 << step_bits) - 1)
    if ev.size and (rel.max() >= span or ev[:, 1].min() < 0 or ev[:, 1].max() >= mcs):
        raise ValueError("events outside the windows of the given samples")
    grid = np.zeros((samples, window, mcs), dtype=bool)
    grid[rel // window, rel % window, ev[:, 1]] = True
    return grid


def window_phases(events, *, samples, mcs, hold=250, rinse=50, first_step=0,
                  step_bits=STEP_BITS):
    """docs/model.md section 10's readout from spike events: per sample and MC, ``(row of the last
    spike in the window) mod 50 + 1`` when the MC spiked in the last cycle of the hold, else
    0. Returns int16 (samples, mcs)."""
    window = hold + rinse
    grid = _fire_grid(events, samples, window, mcs, first_step, step_bits)
    rows = np.arange(window)[None, :, None]
    last = np.where(grid, rows, -1).max(axis=1)
    spiked = grid[:, hold - CYCLE:hold].any(axis=1)
    return np.where(spiked, last % CYCLE + 1, 0).astype(np.int16)


def cycle_phases(events, *, samples, mcs, hold=250, rinse=50, first_step=0,
                 step_bits=STEP_BITS):
    """Phase of the first spike of every MC in every gamma cycle of every window (0 when
    silent): int16 (samples, (hold + rinse) / 50, mcs)."""
    window = hold + rinse
    grid = _fire_grid(events, samples, window, mcs, first_step, step_bits)
    grid = grid.reshape(samples, window // CYCLE, CYCLE, mcs)
    first = np.argmax(grid, axis=2)
    return np.where(grid.any(axis=2), first + 1, 0).astype(np.int16)
