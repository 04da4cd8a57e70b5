"""Checking a hand-written gradient against finite differences.

The central difference approximates each partial derivative::

    ∂f/∂xᵢ ≈ (f(x + h eᵢ) − f(x − h eᵢ)) / (2h)

with an error of order h² (plus rounding, of order ε·|f|/h). Comparing it
with the analytic gradient entry by entry, through the relative error

    |a − n| / max(|a|, |n|, floor)

tells whether backprop is right: around 1e-8 or less is right, 1e-2 or more
is a bug.

``x`` is an ndarray, or a dict of ndarrays (the parameters of a model:
``{"W1": ..., "b1": ...}``); the gradient has the same form. ``x`` itself is
never changed: the perturbations are made on a copy.

    result = check_gradient(f, grad_f, params)
    print(result)       # gradient check FAILED: ... worst entry W1[2, 3]: analytic ...
    assert result.ok, result
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import argcheck

__all__ = ["numerical_gradient", "relative_error", "check_gradient", "GradCheckResult", "WorstEntry"]


def _copy_params(x):
    """A float64 copy of an array or of a dict of arrays."""
    if isinstance(x, dict):
        return {k: np.array(v, dtype=float) for k, v in x.items()}
    return np.array(x, dtype=float)


def _items(x) -> list[tuple[str | None, np.ndarray]]:
    """(name, array) pairs: the dict's entries, or a single unnamed array."""
    if isinstance(x, dict):
        return list(x.items())
    return [(None, x)]


def _scalar(value) -> float:
    v = np.asarray(value, dtype=float)
    if v.size != 1:
        raise ValueError(f"f must return a single number (a loss), got an array of shape {v.shape}")
    return float(v.reshape(()))


def numerical_gradient(f: Callable[[Any], float], x, h: float = 1e-6):
    """The central-difference gradient of a scalar function ``f`` at ``x``.

    ``x`` is an ndarray (any shape) or a dict name -> ndarray; the result has
    the same form, shapes and names. Each entry costs two evaluations of ``f``:
    ``(f(x + h eᵢ) − f(x − h eᵢ)) / (2h)``. ``f`` is called on a perturbed
    copy of ``x``; ``x`` itself is not modified.
    """
    argcheck.positive(h, "h")
    work = _copy_params(x)
    grad = {name: np.zeros_like(a) for name, a in _items(work)}
    for name, a in _items(work):
        g = grad[name]
        for index in np.ndindex(a.shape):
            original = a[index]
            a[index] = original + h
            f_plus = _scalar(f(work))
            a[index] = original - h
            f_minus = _scalar(f(work))
            a[index] = original  # restore before moving on
            g[index] = (f_plus - f_minus) / (2 * h)
    return grad if isinstance(x, dict) else grad[None]


def _check_same_structure(analytic, numeric) -> None:
    if isinstance(numeric, dict):
        if not isinstance(analytic, dict):
            raise ValueError(f"x is a dict with keys {sorted(numeric)} but the gradient is not a dict")
        if set(analytic) != set(numeric):
            raise ValueError(
                f"the gradient has keys {sorted(analytic)} but x has keys {sorted(numeric)}: they must match"
            )
    for name, n in _items(numeric):
        a = analytic[name] if name is not None else analytic
        a = np.asarray(a)
        if a.shape != n.shape:
            label = "the gradient" if name is None else f"the gradient of {name}"
            where = "x" if name is None else name
            raise ValueError(f"{label} has shape {a.shape} but {where} has shape {n.shape}: they must match")


def _elementwise_relative_error(a, b, floor: float) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return np.where(np.isnan(err), np.inf, err)  # a NaN anywhere is as bad as it gets


def relative_error(a, b, floor: float = 1e-8) -> float:
    """The largest entrywise relative error ``|a − b| / max(|a|, |b|, floor)``.

    ``a`` and ``b`` are numbers, arrays of one shape, or dicts of arrays with the
    same keys. ``floor`` keeps entries that are both (nearly) zero from
    dividing by zero: below it, the error is an absolute one. A NaN counts as
    an infinite error.
    """
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            raise ValueError("a and b must both be dicts of arrays, or both arrays")
        if set(a) != set(b):
            raise ValueError(f"a has keys {sorted(a)} but b has keys {sorted(b)}: they must match")
        pairs = [(np.asarray(a[k], dtype=float), np.asarray(b[k], dtype=float), f"[{k!r}]") for k in a]
    else:
        pairs = [(np.asarray(a, dtype=float), np.asarray(b, dtype=float), "")]
    errors = []
    for a_arr, b_arr, key in pairs:
        if a_arr.shape != b_arr.shape:
            raise ValueError(f"a{key} has shape {a_arr.shape} but b{key} has shape {b_arr.shape}: they must match")
        errors.append(_elementwise_relative_error(a_arr, b_arr, floor))
    return max((float(e.max()) for e in errors if e.size), default=0.0)


@dataclass(frozen=True)
class WorstEntry:
    """Where the analytic and numerical gradients disagree most.

    ``name`` is the dict key (None for a plain array), ``index`` the position
    in that array, ``analytic`` and ``numeric`` the two values there.
    """

    name: str | None
    index: tuple[int, ...]
    analytic: float
    numeric: float
    relative_error: float

    @property
    def label(self) -> str:
        """E.g. ``"W1[2, 3]"``, ``"x[4]"`` or ``"x"`` (a 0-d array)."""
        base = "x" if self.name is None else str(self.name)
        return base + (f"[{', '.join(str(i) for i in self.index)}]" if self.index else "")

    def __str__(self) -> str:
        return (
            f"{self.label}: analytic {self.analytic:.6g}, numeric {self.numeric:.6g}, "
            f"relative error {self.relative_error:.1e}"
        )


@dataclass(frozen=True, eq=False)
class GradCheckResult:
    """The outcome of :func:`check_gradient`.

    Attributes: ``ok`` (every entry within ``tol``), ``max_relative_error``,
    ``worst`` (a :class:`WorstEntry`, None if there were no entries),
    ``n_failed`` and ``n_checked`` (entries over ``tol`` / in total), ``tol``,
    and the two gradients, ``analytic`` and ``numeric``.
    ``str(result)`` is a one- or two-line report.
    """

    ok: bool
    max_relative_error: float
    worst: WorstEntry | None
    n_failed: int
    n_checked: int
    tol: float
    analytic: Any
    numeric: Any

    def __str__(self) -> str:
        if self.worst is None:
            return "gradient check passed: nothing to check (no entries)"
        w = self.worst
        if self.ok:
            return (
                f"gradient check passed: max relative error {self.max_relative_error:.1e} <= tol {self.tol:g} "
                f"over {self.n_checked} entries (worst entry {w.label}: analytic {w.analytic:.6g}, "
                f"numeric {w.numeric:.6g})"
            )
        return (
            f"gradient check FAILED: {self.n_failed} of {self.n_checked} entries have relative error > tol {self.tol:g}\n"
            f"worst entry {w} > tol {self.tol:g}"
        )


def check_gradient(
    f: Callable[[Any], float],
    grad_f: Callable[[Any], Any],
    x,
    tol: float = 1e-6,
    h: float = 1e-6,
    floor: float = 1e-8,
) -> GradCheckResult:
    """Compare ``grad_f(x)`` with the central-difference gradient of ``f`` at ``x``.

    ``f(x)`` returns a number; ``grad_f(x)`` returns an array shaped like ``x``
    (or, for a dict ``x``, a dict with the same keys and shapes). An entry
    passes when its relative error ``|a − n| / max(|a|, |n|, floor)`` is at
    most ``tol``. Both functions get copies: ``x`` is never modified.

    Returns a :class:`GradCheckResult`; ``print`` it for a report such as
    ``worst entry W1[2, 3]: analytic 0.123, numeric 0.125, relative error 1.6e-02 > tol 1e-06``.
    """
    argcheck.number(tol, "tol", 0, low_open=True, finite=False)
    analytic = grad_f(_copy_params(x))
    numeric = numerical_gradient(f, x, h=h)
    _check_same_structure(analytic, numeric)

    worst = None
    n_failed = n_checked = 0
    for name, n in _items(numeric):
        a = np.asarray(analytic[name] if name is not None else analytic, dtype=float)
        err = _elementwise_relative_error(a, n, floor)
        n_checked += err.size
        n_failed += int(np.count_nonzero(err > tol))
        if err.size == 0:
            continue
        index = np.unravel_index(int(np.argmax(err)), err.shape)
        if worst is None or err[index] > worst.relative_error:
            worst = WorstEntry(
                name=name,
                index=tuple(int(i) for i in index),
                analytic=float(a[index]),
                numeric=float(n[index]),
                relative_error=float(err[index]),
            )
    max_err = 0.0 if worst is None else worst.relative_error
    return GradCheckResult(
        ok=n_failed == 0,
        max_relative_error=max_err,
        worst=worst,
        n_failed=n_failed,
        n_checked=n_checked,
        tol=float(tol),
        analytic=analytic,
        numeric=numeric,
    )
