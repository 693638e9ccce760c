"""What every command group of ``hetq`` shares: argument types, the one-line error, the
progress bar. Command groups import this module and the library, never each other."""

import argparse
import sys
from contextlib import contextmanager

__all__ = ["CommandError", "progress", "int_at_least", "positive_int", "non_negative_int",
           "fraction", "sensor_format", "only_for"]


class CommandError(Exception):
    """An error to report as one line and a non-zero exit."""


@contextmanager
def progress(total, desc, quiet, unit="sample"):
    """A tqdm bar on stderr (none with ``quiet``); yields its ``update``."""
    from tqdm import tqdm
    bar = tqdm(total=total, desc=desc, unit=unit, disable=quiet, file=sys.stderr, leave=False)
    try:
        yield bar.update
    finally:
        bar.close()


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
