"""Checks of arguments, with one wording for the whole package (numpy only).

Each check returns the value in its plain form (an ``int``, a ``float``, a numpy
``Generator``) or raises ``ValueError`` with one sentence naming the argument,
the rule and what it got::

    lr must be a finite number >= 0, got -1
    betas[1] must be a number in [0, 1), got 1.0
    batch_size must be an integer from 1 to 128, got 0

A number is an ``int``, ``float`` or numpy scalar, never a ``bool``; an integer
is an ``int`` or numpy integer (not ``3.0``). The one ``TypeError`` is
:func:`generator`'s, as numpy's ``default_rng`` raises it for what is not a seed.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["is_number", "is_integer", "number_rule", "number", "positive", "integer", "generator"]


def is_number(value) -> bool:
    """Whether ``value`` is a real number (int, float or numpy scalar; not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value) -> bool:
    """Whether ``value`` is an integer (int or numpy integer; not a bool, not 3.0)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _bound(x) -> str:
    return "∞" if x == math.inf else f"{x:g}" if isinstance(x, float) else str(x)


def number_rule(low=None, high=None, *, low_open=False, high_open=False, finite=True) -> str:
    """The rule in words: "a number in [0, 1)", "a finite number > 0", "a number <= 1" …"""
    if low is not None and high is not None:
        return (f"a number in {'(' if low_open else '['}{_bound(low)}, "
                f"{_bound(high)}{')' if high_open else ']'}")
    kind = "a finite number" if finite else "a number"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {_bound(low)}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {_bound(high)}"
    return kind


def number(value, name, low=None, high=None, *, low_open=False, high_open=False, finite=True) -> float:
    """``value`` as a float, if it is a number in the range low … high (an end that is None is open
    to infinity; ``low_open``/``high_open`` exclude that end) and, with ``finite``, not ±inf or NaN;
    else ValueError "name must be <rule>, got value"."""
    rule = number_rule(low, high, low_open=low_open, high_open=high_open, finite=finite)
    ok = is_number(value) and not math.isnan(value) and (math.isfinite(value) or not finite)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return float(value)


def positive(value, name) -> float:
    """``value`` as a float if it is a finite number > 0, else ValueError."""
    return number(value, name, 0, low_open=True)


def integer(value, name, minimum=None, maximum=None) -> int:
    """``value`` as an int if it is an integer with minimum <= value <= maximum (None: no bound),
    else ValueError "name must be an integer >= 1, got 0" (or "from 1 to 128")."""
    if minimum is not None and maximum is not None:
        rule = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        rule = f"an integer >= {minimum}"
    elif maximum is not None:
        rule = f"an integer <= {maximum}"
    else:
        rule = "an integer"
    if not (is_integer(value) and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return int(value)


def generator(rng, name="rng") -> np.random.Generator:
    """``rng`` itself if it is a numpy Generator, ``np.random.default_rng(rng)`` if it is an int
    seed >= 0; anything else raises TypeError (a negative seed ValueError), as numpy does."""
    if isinstance(rng, np.random.Generator):
        return rng
    rule = f"{name} must be a numpy.random.Generator or an int seed >= 0, e.g. np.random.default_rng(0)"
    if not is_integer(rng):
        raise TypeError(f"{rule}; got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{rule}; got {rng!r}")
    return np.random.default_rng(int(rng))
