"""What every command group of ``hetq`` shares: argument types, the one-line error, the
progress bar. Command groups import this module and the library, never each other."""

import argparse
import sys
import time
from contextlib import contextmanager

__all__ = ["CommandError", "progress", "int_at_least", "positive_int", "non_negative_int",
           "fraction", "sensor_format", "only_for"]


class CommandError(Exception):
    """An error to report as one line and a non-zero exit."""


#: Seconds between two progress lines when stderr is not a terminal (a log file, a pipe).
LOG_INTERVAL = 10.0


@contextmanager
def progress(total, desc, quiet, unit="sample", *, stream=None, interval=LOG_INTERVAL):
    """Progress on stderr (or ``stream``); yields its ``update(n=1)``. Nothing with ``quiet``.

    On a terminal a tqdm bar; otherwise (a log file, a pipe, a batch job) one plain line at
    the start, at most one line per ``interval`` seconds, and one at the end."""
    stream = sys.stderr if stream is None else stream
    if quiet:
        yield lambda n=1: None
        return
    if _is_terminal(stream):
        from tqdm import tqdm
        bar = tqdm(total=total, desc=desc, unit=unit, file=stream, leave=False)
        try:
            yield bar.update
        finally:
            bar.close()
        return
    lines = _LineProgress(total, desc, unit, stream, interval)
    try:
        yield lines.update
    finally:
        lines.close()


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _LineProgress:
    """Progress as whole lines: ``desc: 120/848 jobs (14%), 35 s, about 3 min 20 s left``."""

    def __init__(self, total, desc, unit, stream, interval, clock=time.monotonic):
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.interval, self.clock = interval, clock
        self.n = 0
        self.start = self.last = clock()
        self._write()

    def update(self, n=1):
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._write()

    def close(self):
        if self.n != getattr(self, "_written", None):
            self._write()

    def _write(self):
        elapsed = self.clock() - self.start
        text = f"{self.desc}: {self.n}"
        if self.total:
            text += f"/{self.total} {self.unit}s ({100 * self.n / self.total:.0f}%)"
        else:
            text += f" {self.unit}s"
        text += f", {_duration(elapsed)}"
        if self.total and 0 < self.n < self.total:
            text += f", about {_duration(elapsed * (self.total - self.n) / self.n)} left"
        self.stream.write(text + "\n")
        self.stream.flush()
        self._written = self.n


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def int_at_least(minimum):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def fraction(text):
    """An argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {value}")
    return value


def sensor_format(sensor_bits):
    """The default fixed-point format with ``sensor_bits``-bit sensor codes."""
    from ..golden.fixed.formats import FixedFormat
    return FixedFormat(sensor_bits=sensor_bits)


def only_for(args, owner, flags):
    """ValueError when one of ``flags`` (options of ``owner``) was given although
    ``args.block`` is another block; an option that was not given is None or False."""
    for flag in flags:
        if getattr(args, flag.lstrip("-").replace("-", "_")) not in (None, False):
            raise ValueError(f"{flag} applies to {owner}, not {args.block}")
