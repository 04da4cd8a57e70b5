"""Panels for widgets: ``ContourPanel`` and ``LossPanel`` create their artists once, and ``update``
only sets new data on them, so moving a slider never builds a new figure; log axes with 1-2-5 ticks."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from .drawing import draw_landscape, loss_gap, mark_last, visible_path
from .figures import MINIMUM_STYLE, START_STYLE, style

def _upto_slice(upto):
    """The slice end that keeps entries 0 … ``upto`` of a per-step array (None: all)."""
    if upto is None:
        return None
    if int(upto) != upto or upto < 0:
        raise ValueError(f"upto must be a whole number of steps >= 0, got {upto!r}")
    return int(upto) + 1


class ContourPanel:
    """A landscape's contours with one path per label; ``update`` only moves existing lines.

    >>> panel = ContourPanel(ax, rosenbrock(), ["SGD", "Adam"])
    >>> panel.update({"SGD": traj1, "Adam": traj2})     # labels missing from the dict are hidden

    ``set_landscape`` redraws the contours (only when the landscape changes).
    ``legend``: True (paths, start and minimum), ``"markers"`` (a static legend
    of start and minimum only — when another panel names the paths), or False.
    ``animated=True`` marks the changing artists for ``FigureRenderer``.
    ``styles``: None (the i-th label gets ``style(i)``) or a dict label -> style dict
    (``color``, ``marker``, ``linestyle``), for a widget whose lines keep their look by name.
    ``lines[label]`` is the path's ``Line2D``, ``ends[label]`` the marker at its last point, ``minima``
    the minima's stars outlined above them.
    """

    def __init__(self, ax, landscape, labels, *, window=None, title=None, resolution=160,
                 levels=20, legend=True, legend_loc="best", markevery=None, animated=False, styles=None):
        self.ax = ax
        self.legend_loc = legend_loc
        self.animated = animated
        self.labels = list(labels)
        self.resolution = resolution
        self.levels = levels
        self.legend_on = legend
        self._background = []
        self.lines = {}
        self.ends = {}
        for i, label in enumerate(self.labels):
            st = style(i) if styles is None else styles[label]
            (self.lines[label],) = ax.plot([], [], color=st["color"], linestyle=st["linestyle"],
                                           linewidth=1.8, marker=st["marker"], markersize=3.5,
                                           markevery=markevery, label=label, zorder=4)
            (self.ends[label],) = ax.plot([], [], color=st["color"], marker=st["marker"],
                                          markersize=8, markeredgecolor="black", linestyle="none",
                                          zorder=5)
        (self.start,) = ax.plot([], [], label="start", **START_STYLE)
        # the minima's stars again, as outlines above the end markers: a run that ends at a minimum
        # would otherwise hide its star (the background's star is drawn under the moving markers).
        # The end markers' z-order, added after them: drawn above them, under the start and the legend.
        (self.minima,) = ax.plot([], [], **dict(MINIMUM_STYLE, markerfacecolor="none", zorder=5))
        for artist in self.dynamic_artists():
            artist.set_animated(animated)
        self.set_landscape(landscape, window=window, title=title)

    def dynamic_artists(self):
        """The artists ``update`` changes (paths, end markers, start, legend)."""
        out = list(self.lines.values()) + list(self.ends.values()) + [self.start, self.minima]
        if self.ax.get_legend() is not None:
            out.append(self.ax.get_legend())
        return out

    def set_landscape(self, landscape, window=None, title=None):
        """Draw a new landscape's contours and minima (removing the old ones)."""
        for artist in self._background:
            artist.remove()
        self.landscape = landscape
        self.window = tuple(tuple(w) for w in (window or landscape.window))
        self._background = draw_landscape(self.ax, landscape, self.window,
                                          resolution=self.resolution, levels=self.levels)
        self.ax.set_title(title or getattr(landscape, "name", ""))
        mins = np.asarray(getattr(landscape, "minima", np.empty((0, 2))), dtype=float).reshape(-1, 2)
        self.minima.set_data(mins[:, 0], mins[:, 1])
        if self.legend_on == "markers":       # a static legend: start and minimum only
            handles = [self.start] + [h for h in self._background
                                      if isinstance(h, Line2D) and h.get_label() == "minimum"]
            legend = self.ax.legend(handles=handles, loc=self.legend_loc, fontsize="small",
                                    framealpha=0.85)
            legend.set_animated(self.animated)      # drawn above the paths, as in a full draw
        self.start.set_data([], [])
        for label in self.labels:
            self.lines[label].set_data([], [])
            self.ends[label].set_data([], [])

    def update(self, trajectories, start=None, upto=None):
        """Set each label's path from ``trajectories`` (label -> Trajectory or points); hide the rest.

        ``upto``: draw each path only up to step ``upto`` (points 0 … upto), its end marker
        there — where each optimizer is at that step; None draws the whole path.
        """
        for label in self.labels:
            traj = trajectories.get(label)
            if traj is None:
                self.lines[label].set_visible(False)
                self.ends[label].set_visible(False)
                continue
            pts = visible_path(traj, self.window, cut_at_exit=bool(getattr(traj, "diverged", False)))
            # markers on every point are noise for long runs; about 25 along each (whole) path,
            # at the same points whatever the step shown
            self.lines[label].set_markevery(max(1, len(pts) // 25))
            pts = pts[:_upto_slice(upto)]
            self.lines[label].set_data(pts[:, 0], pts[:, 1])
            self.ends[label].set_data(pts[-1:, 0], pts[-1:, 1])
            self.lines[label].set_visible(True)
            self.ends[label].set_visible(True)
            if start is None and len(pts):
                start = pts[0]
        if start is not None:
            self.start.set_data([start[0]], [start[1]])
        if self.legend_on is True:
            self.legend()

    def legend(self, **kw):
        handles = [self.lines[l] for l in self.labels if self.lines[l].get_visible()
                   and len(self.lines[l].get_xdata())]
        handles += [h for h in self.ax.get_lines() if h.get_label() in ("start", "minimum")
                    and h.get_visible() and len(h.get_xdata())]
        kw.setdefault("loc", self.legend_loc)
        kw.setdefault("fontsize", "small")
        kw.setdefault("framealpha", 0.85)
        legend = self.ax.legend(handles=handles, **kw)
        legend.set_animated(self.animated)
        return legend


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(v, _pos=None):
    """Tick label ``10³`` for the value 3 (a log10) — plain unicode, cheaper to draw than mathtext."""
    k = int(round(v))
    return "1" if k == 0 else "10" + str(k).translate(_SUPERSCRIPT)


def log10_axis(ax, lo, hi, *, axis="y", max_ticks=6, pad=0.2):
    """Make a linear axis holding log10 data read as a log axis: ticks ``10ᵏ`` at whole k.

    ``lo``/``hi`` are the data limits in log10 units (widened by ``pad``).
    Cheaper to draw than ``set_yscale("log")`` (no minor-tick machinery).
    """
    import matplotlib.ticker as mticker
    lo, hi = float(lo) - pad, float(hi) + pad
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = -1.0, 1.0
    if hi - lo < 1:
        mid = (hi + lo) / 2
        lo, hi = mid - 0.5, mid + 0.5
    step = max(1, int(np.ceil((hi - lo) / max_ticks)))
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(mticker.MultipleLocator(step))
    target.set_major_formatter(mticker.FuncFormatter(_power_of_ten))
    (ax.set_ylim if axis == "y" else ax.set_xlim)(lo, hi)


def _nice_limits(lo, hi):
    """(lo, hi) widened outwards to whole multiples of a power of ten below the range."""
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        span = max(abs(lo), 1.0)
    step = 10.0 ** np.floor(np.log10(span))
    return np.floor(lo / step) * step, np.ceil(hi / step) * step


def one_two_five(x):
    """The smallest of 1, 2, 5 x 10^k that is >= x (x > 0): coarse, round axis limits."""
    x = float(x)
    if not np.isfinite(x) or x <= 0:
        return 1.0
    k = np.floor(np.log10(x))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10 ** k >= x * (1 - 1e-12):
            return m * 10 ** k
    return 10 ** (k + 1)


class LossPanel:
    """Loss curves, one line per label; ``update`` sets data and rescales the axes.

    With ``f_star`` (the minimum value) it plots the gap ``f - f*`` on a log
    scale — the way convergence is usually judged; without it (e.g. a saddle,
    unbounded below) the raw ``f`` on a linear axis. A run that diverged ends
    at its last finite value with an ``x``; the y-axis is capped at 1000 x the
    largest starting gap so one exploding run does not flatten the others.

    The log scale is drawn as ``log10(f - f*)`` on a linear axis with ticks
    labelled ``10ᵏ``: it looks the same as matplotlib's log axis and renders
    several times faster (no minor-tick machinery), which matters in a widget.
    So with ``f_star`` given, ``lines[label].get_ydata()`` holds ``log10(f - f*)``.

    For widgets (``animated=True``): the axis limits snap to whole decades (log)
    or round numbers (linear), so the axes, ticks and legend form a *static*
    background that ``FigureRenderer`` caches under ``static_key()``; only the
    curves are redrawn when a slider moves.
    """

    def __init__(self, ax, labels, *, f_star=None, title="Loss", ylabel=None, xlabel="step",
                 animated=False, legend=False, styles=None):
        self.ax = ax
        self.animated = animated
        self.legend_on = legend
        self.labels = list(labels)
        self.lines = {}
        self.blowups = {}
        self._legend_labels = None
        for i, label in enumerate(self.labels):
            st = style(i) if styles is None else styles[label]
            (self.lines[label],) = ax.plot([], [], color=st["color"], linestyle=st["linestyle"],
                                           linewidth=1.8, label=label, animated=animated)
            (self.blowups[label],) = ax.plot([], [], color=st["color"], marker="x", markersize=10,
                                             markeredgewidth=2.5, linestyle="none", animated=animated)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(True, which="major", alpha=0.3)
        self._ylabel = ylabel
        self.set_f_star(f_star)

    @property
    def log(self):
        return self.f_star is not None

    def set_f_star(self, f_star):
        """Switch between the gap ``f - f*`` on a log scale (f* given) and raw ``f`` (None)."""
        self.f_star = f_star
        import matplotlib.ticker as mticker
        if self.log:
            self.ax.yaxis.set_major_formatter(mticker.FuncFormatter(_power_of_ten))
            self.ax.set_ylabel(self._ylabel or "f(x) − f(x*)   (log scale)")
        else:
            self.ax.yaxis.set_major_locator(mticker.AutoLocator())
            self.ax.yaxis.set_major_formatter(mticker.ScalarFormatter())
            self.ax.set_ylabel(self._ylabel or "f(x)")

    def curve(self, values):
        """The y data drawn for one run's values: log10(f - f*) (floored at 1e-16), or f."""
        y = loss_gap(values, self.f_star)
        return np.log10(y) if self.log else y

    def static_key(self):
        """What the cached background depends on: limits, scale and legend entries."""
        return (self.ax.get_xlim(), self.ax.get_ylim(), self.log, self._legend_labels)

    def set_legend(self, labels, **kw):
        """A legend naming ``labels`` (rebuilt only when they change; part of the static background)."""
        labels = tuple(labels)
        if labels == self._legend_labels:
            return self.ax.get_legend()
        self._legend_labels = labels
        kw.setdefault("loc", "upper right")
        kw.setdefault("fontsize", "small")
        kw.setdefault("framealpha", 0.85)
        legend = self.ax.legend(handles=[self.lines[l] for l in labels], **kw)
        legend.set_animated(self.animated)          # drawn above the curves, as in a full draw
        return legend

    def update(self, trajectories, upto=None):
        """Set each label's curve from ``trajectories`` (label -> Trajectory or values); hide the rest.

        ``upto``: draw each curve only up to step ``upto`` (values 0 … upto), its last point
        marked; the axes keep the whole runs' limits, so the curves grow into a fixed frame.
        None draws everything.
        """
        ymins, ymaxs, starts, nmax = [], [], [], 1
        shown = []
        for label in self.labels:
            traj = trajectories.get(label)
            line, blow = self.lines[label], self.blowups[label]
            if traj is None:
                line.set_visible(False)
                blow.set_visible(False)
                continue
            shown.append(label)
            raw = np.asarray(getattr(traj, "values", traj), dtype=float)
            y = self.curve(raw)
            steps = np.arange(len(y))
            part = slice(_upto_slice(upto))
            line.set_data(steps[part], y[part])
            cut = upto is not None and upto < len(y) - 1
            mark_last(line, style(self.labels.index(label))["marker"] if cut else None)
            line.set_visible(True)
            diverged = bool(getattr(traj, "diverged", False)) or len(y) < len(raw)
            if diverged and len(y) and (upto is None or upto >= len(y) - 1):
                blow.set_data(steps[-1:], y[-1:])
                blow.set_visible(True)
            else:
                blow.set_visible(False)
            nmax = max(nmax, len(raw) - 1)
            if len(y):
                starts.append(y[0])
                ymins.append(np.min(y))
                ymaxs.append(np.max(y))
        self.ax.set_xlim(0, nmax)
        if ymins:
            lo, hi, cap = min(ymins), max(ymaxs), max(starts)
            if self.log:
                hi = min(hi, cap + 3)                   # at most 1000 x the worst start
                if self.animated:                        # whole decades: few distinct backgrounds
                    lo, hi = np.floor(lo - 0.2), np.ceil(hi + 0.2)
                    log10_axis(self.ax, lo, hi, pad=0.0)
                else:
                    log10_axis(self.ax, lo, hi)
            else:
                spread = max(abs(cap), 1.0) * 1e3
                hi = min(hi, cap + spread)
                lo = max(lo, cap - spread)
                pad = 0.05 * (hi - lo or 1.0)
                lo, hi = lo - pad, hi + pad
                if self.animated:
                    lo, hi = _nice_limits(lo, hi)
                self.ax.set_ylim(lo, hi)
        if self.legend_on:
            self.set_legend(shown)
        return self
