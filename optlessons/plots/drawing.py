"""Drawing helpers shared by the panels and the one-shot figures: a trajectory's finite points, the
path inside a window, the loss gap on a log axis, contour levels and a landscape's contours."""

from __future__ import annotations

import numpy as np
import matplotlib.colors

from ..functions import escaped
from .figures import CONTOUR_CMAP, MINIMUM_STYLE

def _points(trajectory):
    pts = getattr(trajectory, "points", trajectory)
    pts = np.asarray(pts, dtype=float)
    if pts.ndim == 1:
        pts = pts.reshape(1, -1)
    return pts


def _finite_prefix(a):
    """Length of the leading run of rows of ``a`` that are all finite."""
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a) if a.ndim == 1 else np.isfinite(a).all(axis=-1)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else len(a)


def mark_last(line, marker=None):
    """Mark the last point ``line`` draws with ``marker`` — where a run is at the step shown
    when its curve is cut there; None takes the mark away."""
    n = len(line.get_xdata())
    line.set_marker(marker if marker and n else "None")
    line.set_markevery([n - 1] if marker and n else None)
    line.set_markersize(7)


def visible_path(points, window, *, cut_at_exit=False):
    """The part of a path worth drawing: finite points, up to where it leaves the picture.

    Drops everything from the first non-finite point on. With ``cut_at_exit``
    (a run that diverged) the path stops at the first point outside ``window``
    — that point is kept, so the line visibly runs off the edge. In any case the
    path stops at the first point that escaped (:func:`optlessons.functions.escaped`,
    the rule ``train.minimize`` stops a run by), kept for the same reason.
    """
    pts = _points(points)
    pts = pts[:_finite_prefix(pts)]
    if window is None or len(pts) == 0:
        return pts
    stop = escaped(pts, window)
    if cut_at_exit:
        (x0, x1), (y0, y1) = window
        stop |= (pts[:, 0] < x0) | (pts[:, 0] > x1) | (pts[:, 1] < y0) | (pts[:, 1] > y1)
    idx = np.flatnonzero(stop)
    return pts[: idx[0] + 1] if idx.size else pts


def loss_gap(values, f_star=None, floor=1e-16):
    """What a loss curve shows: ``f - f*`` floored at ``floor`` (for a log axis), or ``f`` if f* is None.

    Stops at the first non-finite value (a diverged run).
    """
    v = np.asarray(values, dtype=float)
    v = v[:_finite_prefix(v)]
    if f_star is None:
        return v
    return np.maximum(v - f_star, floor)


def contour_levels(z, n=20):
    """Contour levels for the values ``z``: log-spaced above the minimum when the range is large.

    Rosenbrock on its window spans 0 to ~2500 with the interesting valley
    below 1: evenly spaced levels would put them all on the walls. When the
    median of ``z - min`` is less than a tenth of its maximum, levels are
    ``min + geomspace(...)``, so each level is a constant factor above the
    last; otherwise they are evenly spaced.
    """
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    lo, hi = float(z.min()), float(z.max())
    span = hi - lo
    if span <= 0:
        return np.array([lo, lo + 1.0])
    rel = z - lo
    if np.median(rel) < 0.1 * span:
        smallest = max(float(np.quantile(rel, 0.002)), span * 1e-6)
        return lo + np.geomspace(smallest, span, n)
    return np.linspace(lo, hi, n + 2)[1:-1]


def _grid(landscape, window, resolution):
    (x0, x1), (y0, y1) = window
    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y0, y1, resolution)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        Z = landscape.value(np.stack([X, Y], axis=-1))
    return X, Y, np.asarray(Z, dtype=float)


def draw_landscape(ax, landscape, window=None, *, resolution=160, levels=20, minima=True,
                   colorbar=False):
    """Filled contours of ``landscape`` over ``window`` on ``ax``; minima marked with white stars.

    Returns a list of the artists made (so a widget can remove them when the landscape changes).
    """
    window = window or landscape.window
    X, Y, Z = _grid(landscape, window, resolution)
    lv = contour_levels(Z, levels) if np.isscalar(levels) else np.asarray(levels)
    Zc = np.where(np.isfinite(Z), Z, np.nanmax(Z))     # an overflow far out becomes the top level
    norm = matplotlib.colors.BoundaryNorm(lv, 256, extend="both")
    filled = ax.contourf(X, Y, Zc, levels=lv, cmap=CONTOUR_CMAP, norm=norm,
                         extend="both", zorder=0)
    lines = ax.contour(X, Y, Zc, levels=lv, colors="0.55", linewidths=0.5, zorder=1,
                       negative_linestyles="solid")     # not dashed below 0: a level is a level
    artists = [filled, lines]
    if minima:
        mins = np.asarray(getattr(landscape, "minima", np.empty((0, 2))), dtype=float).reshape(-1, 2)
        if len(mins):
            (m,) = ax.plot(mins[:, 0], mins[:, 1], label="minimum", **MINIMUM_STYLE)
            artists.append(m)
    if colorbar:
        artists.append(ax.figure.colorbar(filled, ax=ax, label="f(x, y)"))
    ax.set_xlim(*window[0])
    ax.set_ylim(*window[1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return artists
