"""Running an optimizer on a 2-D function: ``minimize`` from a start point -> ``Trajectory``.

``minimize(landscape, optimizer)`` is the loop every notebook and widget runs::

    p = start
    for t = 1, 2, ..., steps:
        g = ∇f(p)
        p = optimizer.step(p, g)

and records the path it took as a :class:`Trajectory`. It needs only numpy:
the landscape is anything with ``value(p)`` and ``gradient(p)`` (an
:class:`optlessons.functions.Landscape`, or your own object), the optimizer
anything with ``step(params, grads) -> new_params`` (an :mod:`optlessons.optim`
class, or your own).

A run that blows up does not spoil a plot: it stops at the first step whose
point, value or gradient is not finite, or whose point has left the plotting
window far behind (``functions.escaped``), keeps the points up to there, and
says so in ``Trajectory.message`` (the step in ``Trajectory.diverged_at``).
No numpy warning is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import argcheck
from ..functions import escape_box

__all__ = ["Trajectory", "minimize", "optimizer_path", "readonly"]


def readonly(a: np.ndarray) -> np.ndarray:
    """``a``, made read-only (what a run returns is a record, not a buffer to write into)."""
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The path an optimizer took on a 2-D function.

    Attributes
    ----------
    points : ndarray, shape (n + 1, 2)
        ``points[0]`` is the start, ``points[t]`` the point after step ``t``.
    values : ndarray, shape (n + 1,)
        ``f(points[t])``.
    grad_norms : ndarray, shape (n + 1,)
        ``‖∇f(points[t])‖``.
    diverged : bool
        True when the run stopped early because it blew up.
    message : str
        One line saying how the run ended, e.g. ``"diverged at step 37: the
        point left the plotting window; try a smaller learning rate"``.
    minima : ndarray, shape (k, 2)
        The landscape's known minima (empty when it has none, or none is
        known); :meth:`steps_to` measures distances to them.
    diverged_at : int or None
        The step that blew up (its point is not kept, so it is ``n + 1``), or
        None for a run that did not diverge.

    ``n`` is the number of steps actually made: ``steps`` for a run that went
    to the end, fewer for one that diverged. The arrays are read-only and are
    copies, never the optimizer's own arrays.
    """

    points: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    diverged: bool
    message: str
    minima: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    diverged_at: int | None = None

    @property
    def n_steps(self) -> int:
        """Number of steps made (``len(points) - 1``)."""
        return len(self.points) - 1

    @property
    def final(self) -> np.ndarray:
        """The last point reached (a copy)."""
        return self.points[-1].copy()

    def distances(self, minimum=None) -> np.ndarray:
        """Distance of every point to ``minimum`` (default: the nearest known minimum)."""
        if minimum is None:
            if len(self.minima) == 0:
                raise ValueError("this trajectory has no known minima: pass `minimum=` explicitly")
            diff = self.points[:, None, :] - self.minima[None, :, :]
            return np.sqrt((diff**2).sum(axis=-1)).min(axis=1)
        minimum = np.asarray(minimum, dtype=float)
        if minimum.shape != (2,):
            raise ValueError(f"minimum has shape {minimum.shape} but must have shape (2,)")
        return np.sqrt(((self.points - minimum) ** 2).sum(axis=-1))

    def steps_to(self, tol: float = 1e-3, minimum=None) -> int | None:
        """First step ``t`` at which ``points[t]`` lies within ``tol`` of a minimum.

        The distance is Euclidean, to ``minimum`` if given, else to the nearest
        of the landscape's known minima. Returns ``None`` when the run never
        got that close.
        """
        close = np.flatnonzero(self.distances(minimum) <= tol)
        return int(close[0]) if close.size else None


def _as_point(p, what: str) -> np.ndarray:
    p = np.array(p, dtype=float)  # always a copy: never alias the optimizer's arrays
    if p.shape != (2,):
        raise ValueError(f"{what} has shape {p.shape} but a point of a 2-D function must have shape (2,)")
    return p


def minimize(landscape, optimizer, start=None, steps: int = 100, callback=None) -> Trajectory:
    """Run ``optimizer`` on ``landscape`` from ``start`` for ``steps`` steps.

    Parameters
    ----------
    landscape : object with ``value(p)`` and ``gradient(p)``
        ``value`` maps a point of shape (2,) to a number, ``gradient`` to an
        array of shape (2,). Optional attributes: ``start`` (used when
        ``start`` is None), ``window`` (``((xmin, xmax), (ymin, ymax))``, used
        to detect a run that flies away) and ``minima`` (copied into the
        trajectory for :meth:`Trajectory.steps_to`).
    optimizer : object with ``step(params, grads) -> new_params``
        For example ``optlessons.optim.Adam(lr=0.1)``. It keeps its own state,
        so pass a fresh optimizer to each run. ``LBFGS`` (``takes_closure``) gets
        ``step(point, closure)`` with ``closure(q) = (f(q), ∇f(q))``: one step is one
        call (up to its ``max_iter`` iterations, each with its line search's evaluations).
    start : array-like of shape (2,), optional
        Defaults to ``landscape.start``.
    steps : int
        Number of updates to make (the trajectory then has ``steps + 1`` points).
    callback : None, or ``callback(t, value, point)``
        Called once the point of step t (t = 1, 2, …) is recorded, with
        ``f(point)``; it may read the optimizer's state. A true return ends
        the run there (not a divergence).

    Returns
    -------
    Trajectory
        ``diverged`` is True when the run stopped early because a value,
        gradient or point was not finite, the point escaped
        (:func:`optlessons.functions.escaped`: further than ``ESCAPE_FACTOR``
        window sizes from the window's centre), or the optimizer raised
        ``FloatingPointError``; ``diverged_at`` is then that step. The points
        kept are those up to the last good one.
    """
    steps = argcheck.integer(steps, "steps", 0)
    if start is None:
        start = getattr(landscape, "start", None)
        if start is None:
            raise ValueError("no start point: pass `start=` or give the landscape a `start` attribute")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(t, value, point), got {callback!r}")
    p = _as_point(start, "start")
    window = getattr(landscape, "window", None)
    bounds = None if window is None else escape_box(window)
    if bounds is not None:
        (cx, cy), (ax, ay) = bounds
    minima = getattr(landscape, "minima", None)
    minima = np.empty((0, 2)) if minima is None else np.array(minima, dtype=float).reshape(-1, 2)

    # The path is recorded as Python floats: fast, and never shared with the
    # optimizer (which may even write into the array it is given).
    points, values, grad_norms = [], [], []
    problem = None  # why the run stopped early, if it did
    stopped = False  # whether the callback ended it
    step = 0
    px, py = p.tolist()
    with np.errstate(all="ignore"):
        while True:
            value = float(landscape.value(p))
            grad = np.asarray(landscape.gradient(p), dtype=float)
            if grad.shape != (2,):
                raise ValueError(f"landscape.gradient returned shape {grad.shape}, expected (2,)")
            gx, gy = grad.tolist()
            if not math.isfinite(value):
                problem = "the value is not finite"
                break
            if not (math.isfinite(gx) and math.isfinite(gy)):
                problem = "the gradient is not finite"
                break
            points.append((px, py))
            values.append(value)
            grad_norms.append(math.hypot(gx, gy))
            if step > 0 and callback is not None and callback(step, value, p):
                stopped = step < steps
                break
            if step == steps:
                break
            step += 1
            try:
                if getattr(optimizer, "takes_closure", False):     # LBFGS: f and ∇f wherever it looks
                    new_p = optimizer.step(p, lambda q: (landscape.value(q), landscape.gradient(q)))
                else:
                    new_p = optimizer.step(p, grad)
            except FloatingPointError as err:
                problem = f"the optimizer reported {err}"
                break
            p = _as_point(new_p, "optimizer.step(...)")  # a copy, never the optimizer's array
            px, py = p.tolist()
            if not (math.isfinite(px) and math.isfinite(py)):
                problem = "the point is not finite"
                break
            if bounds is not None and (abs(px - cx) > ax or abs(py - cy) > ay):
                problem = "the point left the plotting window"
                break

    trajectory_minima = readonly(minima)
    if problem is not None:
        if len(minima) == 0 and hasattr(landscape, "minima"):
            advice = "this function has no minimum to converge to"
        else:
            advice = "try a smaller learning rate"
        message = f"diverged at step {step}: {problem}; {advice}"
    else:
        last = points[-1]
        ran = "stopped by the callback after" if stopped else "ran"
        message = (
            f"{ran} {step} steps: L = {values[-1]:.4g} at ({last[0]:.4g}, {last[1]:.4g}), "
            f"gradient norm {grad_norms[-1]:.2g}"
        )
    return Trajectory(
        points=readonly(np.array(points, dtype=float).reshape(-1, 2)),
        values=readonly(np.array(values, dtype=float)),
        grad_norms=readonly(np.array(grad_norms, dtype=float)),
        diverged=problem is not None,
        message=message,
        minima=trajectory_minima,
        diverged_at=None if problem is None else step,
    )


def optimizer_path(optimizer, gradient, start, steps) -> np.ndarray:
    """The points θ_0 … θ_steps of ``optimizer`` from ``start`` -> array of shape (steps + 1, *start.shape)::

        θ_0 = start;    θ_t = optimizer.step(θ_{t−1}, gradient(θ_{t−1}))

    The plain loop, with no divergence check and no landscape: what a notebook compares its
    from-scratch version of a method with (``minimize`` is the loop with the checks). The points
    are copies: an optimizer that writes into the array it is given cannot change the path."""
    steps = argcheck.integer(steps, "steps", 0)
    theta = np.array(start, dtype=float)
    path = [theta]
    for _ in range(steps):
        theta = np.array(optimizer.step(theta.copy(), gradient(theta)), dtype=float)   # the path's points are its own
        path.append(theta)
    return np.array(path)
