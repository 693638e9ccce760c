"""Argument checks shared by every layer (golden models, HDL components, benches, commands).

Each raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for one out of
range, with a message that names the argument, the limit and the value.
"""

import numpy as np

__all__ = ["check_int", "check_bool", "check_fraction", "check_instance", "check_power_of_two"]


def check_int(name, value, lo, hi=None):
    """``value`` as a Python int; TypeError unless it is an integer (not a bool),
    ValueError unless ``lo <= value`` (and ``value <= hi`` when ``hi`` is given)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {bound}, not {value}")
    return int(value)


def check_bool(name, value):
    """``value`` unchanged; TypeError unless it is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, not {value!r}")
    return bool(value)


def check_fraction(name, value):
    """``value`` as a float; TypeError unless it is a real number, ValueError unless it lies
    in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), not {value}")
    return float(value)


def check_instance(name, value, cls):
    """``value`` unchanged; TypeError unless it is an instance of ``cls``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, not {type(value).__name__}")
    return value


def check_power_of_two(name, value, divides=None):
    """``value`` as an int; ValueError unless it is a power of two (and divides ``divides``
    when given)."""
    value = check_int(name, value, 1)
    if value & (value - 1) or (divides is not None and divides % value):
        extra = f" that divides {divides}" if divides is not None else ""
        raise ValueError(f"{name} must be a power of two{extra}, not {value}")
    return value
