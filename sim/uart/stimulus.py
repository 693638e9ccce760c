"""Seeded line stimulus for the UART benches: scripts of frames, idle gaps, glitches and breaks,
the waveform they draw on ``rx``, what a correct receiver makes of them, and ready patterns.

A :class:`LineScript` is a list of :class:`Frame` and :class:`Level` items whose lengths are
integer :data:`UNITS` (1/50 of a clock cycle), so that a far end 2 % fast or slow has a whole
number of units per bit at any divisor (``divisor * (50 +- 1)``). The Amaranth bench samples
the rendered waveform once per cycle (:meth:`LineScript.render`); the cocotb bench plays the
same script in simulated time (one unit = :data:`NS_PER_UNIT` ns, so one cycle is
:data:`CLOCK_NS` ns) through cocotbext-uart's ``UartSource`` and bit-banged framing errors,
glitches and breaks.
"""

from dataclasses import dataclass, field

import numpy as np

from ...golden.checks import check_instance, check_int
from ...golden.fixed.uart import UARTConfig, frame_bits

__all__ = ["UNITS", "NS_PER_UNIT", "CLOCK_NS", "Frame", "Level", "LineScript", "bit_units",
           "random_script", "garbage_script", "ready_pattern", "random_bytes", "random_delays"]

#: Script time units per clock cycle.
UNITS = 50
#: Nanoseconds of simulated time per unit in the cocotb bench (every script length is then an
#: even number of ns; the bench starts the script at an odd ns, so the line never changes at a
#: clock edge).
NS_PER_UNIT = 2
#: The cocotb bench's clock period in ns. Only the ratio of bit time to clock period matters
#: to the design, so one simulated "cycle" stands for one period of any ``clock_hz``.
CLOCK_NS = UNITS * NS_PER_UNIT


@dataclass(frozen=True)
class Frame:
    """One 8N1 frame of ``bit`` units per bit; ``stop=0`` sends a low stop bit (a framing
    error, or a break when the byte is 0)."""

    byte: int
    bit: int
    stop: int = 1


@dataclass(frozen=True)
class Level:
    """The line held at ``level`` for ``length`` units: an idle gap (1), a glitch or a break
    (0)."""

    level: int
    length: int


def bit_units(config, skew=0.0):
    """Units per bit of a far end whose bits are ``1 + skew`` times the receiver's
    ``divisor`` cycles long, to the nearest unit: ``skew = -0.02`` is a far end 2 % fast (bits
    2 % shorter; its baud rate is 2.04 % above the receiver's), ``+0.02`` one 2 % slow."""
    return int(round(config.divisor * UNITS * (1 + skew)))


@dataclass
class LineScript:
    """What a bench plays on ``rx``, with the outcome a correct receiver gives.

    Members
    -------
    config : UARTConfig
        The receiver it is meant for.
    items : list of Frame and Level
    """

    config: UARTConfig
    items: list = field(default_factory=list)

    @property
    def length(self):
        """Total units."""
        return sum(10 * it.bit if isinstance(it, Frame) else it.length for it in self.items)

    @property
    def good_bytes(self):
        """The bytes of the frames with a high stop bit, in order."""
        return [it.byte for it in self.items if isinstance(it, Frame) and it.stop]

    @property
    def framing(self):
        """Frames with a low stop bit and a data bit high: one ``errors.framing`` each."""
        return sum(isinstance(it, Frame) and not it.stop and it.byte != 0 for it in self.items)

    @property
    def breaks(self):
        """Breaks (lows of a frame's length or more) and frames of byte 0 with a low stop bit:
        one ``errors.brk`` each."""
        frame = 10 * self.config.divisor * UNITS
        return sum((isinstance(it, Frame) and not it.stop and it.byte == 0)
                   or (isinstance(it, Level) and not it.level and it.length >= frame)
                   for it in self.items)

    def to_array(self):
        """The items as an int64 array of rows ``(kind, a, b, c)``: a frame ``(0, byte, bit,
        stop)``, a level ``(1, level, length, 0)`` (for an .npz)."""
        rows = [(0, it.byte, it.bit, it.stop) if isinstance(it, Frame) else
                (1, it.level, it.length, 0) for it in self.items]
        return np.array(rows, dtype=np.int64).reshape(-1, 4)

    @classmethod
    def from_array(cls, config, rows):
        """The script of :meth:`to_array` rows."""
        return cls(config, [Frame(int(a), int(b), int(c)) if k == 0 else Level(int(a), int(b))
                            for k, a, b, c in np.asarray(rows).reshape(-1, 4)])

    def segments(self):
        """The waveform as ``(level, units)`` runs (adjacent equal levels not merged)."""
        for it in self.items:
            if isinstance(it, Frame):
                for level in frame_bits(it.byte, it.stop):
                    yield level, it.bit
            else:
                yield it.level, it.length

    def render(self, phase=1, tail=0):
        """The level sampled by each clock edge: edge ``c`` (ending cycle ``c``) samples the
        line at unit ``c * UNITS + phase`` after the script's start (``phase`` may be a
        fraction: the cocotb bench samples half-way between units); the line is high before
        and after it; a level starts at its first unit. ``tail`` cycles of idle line follow
        the script. Returns uint8 levels."""
        runs = list(self.segments())
        levels = np.array([lv for lv, _ in runs] + [1], dtype=np.uint8)
        ends = np.cumsum([n for _, n in runs], dtype=np.int64)
        cycles = -(-self.length // UNITS) + tail
        t = np.arange(cycles, dtype=np.int64) * UNITS + phase
        return levels[np.searchsorted(ends, t, side="right")]


def random_bytes(rng, n):
    """``n`` bytes: mostly uniform, with 0x00, 0xFF, 0x55, 0xAA and one-hot bytes mixed in."""
    edges = np.array([0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80, 0x7F, 0xFE], dtype=np.int64)
    b = rng.integers(0, 256, n)
    pick = rng.random(n) < 0.25
    b[pick] = rng.choice(edges, int(pick.sum()))
    return [int(v) for v in b]


def random_script(rng, config, frames, *, skews=(-0.02, 0.0, 0.02), gap=0.5,
                  glitch=0.08, framing=0.08, brk=0.05):
    """A seeded well-formed :class:`LineScript` of about ``frames`` events.

    The far end's bit length changes every six events among ``1 + skews`` times the
    receiver's (see :func:`bit_units`). Each event is a good frame, or with the given
    probabilities a glitch (a low of at most ``half - 1`` cycles, so at most ``half`` samples,
    which the receiver must ignore), a frame with a low stop bit (a framing error, or a break
    for byte 0) or a break of 1 to 4 frames' length. Good
    frames follow each other back to back or, with probability ``gap``, after an idle gap of
    up to three bits; glitches, framing errors and breaks are followed by an idle line long
    enough for the receiver to be looking for a start bit again."""
    check_instance("config", config, UARTConfig)
    d, h = config.divisor, config.half
    if glitch and h < 2:
        raise ValueError(f"no glitch is shorter than half a bit at divisor {d}: "
                         "pass glitch=0")
    items, bit = [], bit_units(config)
    recover = (h + 3) * UNITS
    for k in range(check_int("frames", frames, 0)):
        if k % 6 == 0:
            bit = bit_units(config, float(rng.choice(skews)))
        u = rng.random()
        if u < glitch:
            items.append(Level(1, int(rng.integers(UNITS, 3 * bit))))
            items.append(Level(0, int(rng.integers(1, (h - 1) * UNITS + 1))))
            items.append(Level(1, recover + int(rng.integers(0, bit))))
        elif u < glitch + framing:
            byte = int(rng.integers(0, 256)) if rng.random() < 0.8 else 0
            items.append(Frame(byte, bit, stop=0))
            items.append(Level(1, recover + int(rng.integers(0, 2 * bit))))
        elif u < glitch + framing + brk:
            items.append(Level(0, int(rng.integers(10 * d * UNITS, 40 * d * UNITS))))
            items.append(Level(1, recover + int(rng.integers(0, 2 * bit))))
        else:
            if rng.random() < gap:
                items.append(Level(1, int(rng.integers(1, 3 * bit))))
            items.append(Frame(random_bytes(rng, 1)[0], bit))
    return LineScript(config, items)


def garbage_script(rng, config, runs):
    """A :class:`LineScript` of ``runs`` random levels of random lengths (a unit to three bits):
    no expected outcome, only the cycle-exact model to compare with."""
    d = config.divisor
    return LineScript(config, [Level(int(rng.integers(0, 2)),
                                     int(rng.integers(1, 3 * d * UNITS)))
                               for _ in range(check_int("runs", runs, 0))])


def ready_pattern(rng, cycles, *, stall=0.3, hold=0.0, hold_cycles=(1, 2)):
    """A consumer's ``ready`` per cycle: low with probability ``stall`` in a cycle, and with
    probability ``hold`` per cycle the start of a stretch of low ready of
    ``hold_cycles[0] .. hold_cycles[1]`` cycles (long enough to overrun the receiver)."""
    ready = (rng.random(cycles) >= stall).astype(np.int64)
    if hold:
        starts = np.flatnonzero(rng.random(cycles) < hold)
        for s in starts:
            ready[s:s + int(rng.integers(*hold_cycles))] = 0
    return ready


def random_delays(rng, n, *, idle=0.5, longest=30):
    """Idle cycles before each of ``n`` bytes: 0 with probability ``1 - idle``, else up to
    ``longest``."""
    delays = rng.integers(1, longest + 1, n)
    delays[rng.random(n) >= idle] = 0
    return [int(t) for t in delays]
