"""Figures for the course: landscapes with optimizer paths, loss curves, and small teaching plots.

matplotlib only (no ipywidgets). Two ways in:

* one-shot functions for a notebook cell — ``plot_trajectories``, ``plot_losses``,
  ``plot_race``, ``plot_ema_weights``, ``plot_step_sizes``, ``plot_moments`` —
  which draw into the axes you pass, or into a new pyplot figure;
* *panels* for widgets — ``ContourPanel``, ``LossPanel`` — which create their
  artists once and whose ``update(...)`` only sets new data on the existing
  ``Line2D`` objects, so moving a slider never builds a new figure.

Colours are the Okabe–Ito palette (distinguishable with the common forms of
colour blindness), and every optimizer also gets its own marker and line style,
so a figure still reads in grey scale.

A trajectory is anything with ``.points`` ((n+1, 2) array) and ``.values``
(``optlessons.train.Trajectory``), or a bare (n+1, 2) array of points.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Mapping

import numpy as np
import matplotlib
import matplotlib.ticker
import matplotlib.transforms
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .functions import escaped, lowest_minimum

__all__ = [
    "OKABE_ITO", "PALETTE", "MARKERS", "LINESTYLES", "style", "new_figure", "figure_to_png",
    "figure_bundle", "show",
    "contour_levels", "visible_path", "loss_gap", "one_two_five", "draw_landscape", "log10_axis",
    "ContourPanel", "LossPanel", "FigureRenderer",
    "plot_trajectories", "plot_losses", "plot_race",
    "plot_ema_weights", "plot_step_sizes", "plot_moments",
]

#: The Okabe–Ito colours (Okabe & Ito 2008, "Color Universal Design").
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}
#: Order in which lines get colours: strong colours first, sky blue (close to blue) late, yellow (weak on white) last.
PALETTE = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish green", "reddish purple",
                                  "orange", "black", "sky blue", "yellow")]
#: A marker and a line style per line. The first 8 go with the 8 colours; lines 9–11 reuse the
#: first three colours with a marker and a dash pattern of their own, so 11 lines stay distinct.
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", "p"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), "-", "--",
              (0, (1, 1)), (0, (8, 2, 1, 2)), (0, (10, 3))]

START_STYLE = dict(marker="o", markersize=9, markerfacecolor="white", markeredgecolor="black",
                   markeredgewidth=1.5, linestyle="none", zorder=6)
MINIMUM_STYLE = dict(marker="*", markersize=15, markerfacecolor="white", markeredgecolor="black",
                     markeredgewidth=1.2, linestyle="none", zorder=6)
# Light greys only (white valleys, pale grey walls): the coloured paths carry the information.
CONTOUR_CMAP = matplotlib.colors.LinearSegmentedColormap.from_list(
    "optlessons_contours", ["#ffffff", "#b8b8b8"])
WIDGET_DPI = 80             # pixels per inch of widget figures (a 10 x 4 in figure is 800 x 320 px)


def style(i):
    """Colour, marker and line style of the i-th line, cycling through 11 distinct combinations
    (the colour cycles through the 8 of ``PALETTE``; marker and line style through 11)."""
    i = int(i) % len(MARKERS)
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i], "linestyle": LINESTYLES[i]}


def new_figure(width=10.0, height=4.0, dpi=WIDGET_DPI):
    """A Figure that pyplot does not manage: never shown twice, never kept alive by pyplot.

    Widgets draw into such a figure and render it themselves (``figure_to_png``).
    """
    fig = Figure(figsize=(width, height), dpi=dpi)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig, dpi=None):
    """PNG bytes of ``fig`` (what a notebook displays), rendered with Agg."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi)
    return buf.getvalue()


def figure_bundle(png: bytes, alt: str) -> tuple[dict, dict]:
    """A display bundle ``(data, metadata)`` for a PNG that carries its alt text.

    Two forms of the same picture: ``text/html``, an ``<img>`` whose ``alt`` a screen
    reader reads (JupyterLab and the course site render it), and ``image/png`` with the
    alt text in its metadata, for readers that show only the image (GitHub, nbviewer).
    ``alt`` says what the figure shows and what to take from it, in sentences.
    """
    import base64
    import html

    alt = " ".join(str(alt).split())
    if len(alt.split()) < 6 or not alt.endswith((".", "!", "?")):
        raise ValueError(f"alt text must be at least one sentence of six words or more that "
                         f"says what the figure shows, ending with a full stop; got {alt!r}")
    b64 = base64.b64encode(png).decode("ascii")
    data = {"text/html": f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt)}"/>',
            "image/png": b64,
            "text/plain": f"<Figure: {alt}>"}
    return data, {"image/png": {"alt": alt}}


def show(alt: str, fig=None) -> None:
    """Display ``fig`` (default: pyplot's current figure) with its alt text, then close it.

    Use it instead of ``plt.show()`` in a notebook cell; the PNG is the one the inline
    backend would show (same size, dpi and tight bounding box).
    """
    from IPython.core.pylabtools import print_figure
    from IPython.display import display
    import matplotlib.pyplot as plt

    fig = plt.gcf() if fig is None else fig
    data, metadata = figure_bundle(print_figure(fig, "png", bbox_inches="tight"), alt)
    display(data, raw=True, metadata=metadata)
    plt.close(fig)


class FigureRenderer:
    """Renders a figure to PNG again and again, redrawing only what moves (blitting).

    Artists and axes marked *animated* (``artist.set_animated(True)``) are left
    out of the background; each ``render(key)`` restores the background cached
    under ``key`` (drawing and caching it on first use), draws the animated
    artists on top and encodes the pixels as PNG. ``key`` names whatever the
    static part depends on (e.g. the loss axes' limits), so moving back and
    forth between a few settings reuses a few backgrounds. Call
    ``invalidate()`` when something static changed outside the key (a new
    landscape's contours): the next ``render()`` redraws everything.

    Why: a full ``savefig`` of the playground figure costs well over 100 ms on
    one core, mostly tick labels and contours that never change; drawing only
    the paths and curves costs a few ms (``benchmarks/bench_widget_latency.py``).
    """

    def __init__(self, fig, compress_level=1, cache_size=32):
        self.fig = fig
        self.compress_level = compress_level
        self.cache_size = cache_size
        self._backgrounds = {}
        self.full_draws = 0      # how many times a background was drawn (tests read it)
        self.layer_draws = 0     # how many times the layer axes were drawn without the rest

    def invalidate(self):
        self._backgrounds.clear()

    def _animated(self):
        out = []
        for ax in self.fig.axes:
            if ax.get_animated():
                out.append(ax)
                continue
            out += [a for a in ax.get_children() if a.get_animated()]
        out += [a for a in self.fig.get_children() if a.get_animated() and a not in self.fig.axes]
        return out

    def _cached(self, key, make):
        if key not in self._backgrounds:
            if len(self._backgrounds) >= self.cache_size:
                self._backgrounds.pop(next(iter(self._backgrounds)))
            self._backgrounds[key] = make()
        return self._backgrounds[key]

    def _draw_background(self, hidden):
        """The whole figure but its animated artists and the ``hidden`` axes: a full draw."""
        shown = [ax for ax in hidden if ax.get_visible()]
        for ax in shown:
            ax.set_visible(False)
        try:
            self.fig.canvas.draw()       # animated artists are skipped by a full draw
        finally:
            for ax in shown:
                ax.set_visible(True)
        self.full_draws += 1
        return self.fig.canvas.copy_from_bbox(self.fig.bbox)

    def _draw_layers(self, axes, background):
        """The ``axes``' static parts (frames, ticks, labels) drawn over ``background``: the
        pixels of the smallest rectangle that holds them, labels included."""
        canvas = self.fig.canvas
        canvas.restore_region(background)
        renderer = canvas.get_renderer()
        boxes = []
        for ax in axes:
            ax.draw(renderer)            # an axes' draw skips its animated artists
            boxes.append(ax.get_tightbbox(renderer).padded(2))
        box = matplotlib.transforms.Bbox.union(boxes)
        box = matplotlib.transforms.Bbox.intersection(box, self.fig.bbox)
        self.layer_draws += 1
        return canvas.copy_from_bbox(box)

    def draw(self, key=None, layers=None):
        """Update the canvas's pixels (background from cache, animated artists on top).

        ``layers``: {axes: key} for axes whose own static part changes often (a loss panel's
        limits). They are cached apart from the background, under their keys, so a change
        redraws those axes alone rather than the whole figure; the background leaves them out.
        """
        canvas = self.fig.canvas
        size = canvas.get_width_height()
        layers = {ax: k for ax, k in (layers or {}).items() if ax.get_visible()}
        hidden = tuple(layers)
        background = self._cached((key, size, hidden), lambda: self._draw_background(hidden))
        canvas.restore_region(background)
        if layers:
            canvas.restore_region(self._cached((key, size, hidden, tuple(layers.values())),
                                               lambda: self._draw_layers(hidden, background)))
        renderer = canvas.get_renderer()
        for artist in sorted(self._animated(), key=lambda a: a.get_zorder()):
            if artist.get_visible():
                artist.draw(renderer)

    def rgba(self):
        """The current pixels, (height, width, 4) uint8 (after ``draw()``)."""
        return np.asarray(self.fig.canvas.buffer_rgba())

    def render(self, key=None, layers=None):
        """PNG bytes of the figure as it is now (``key``, ``layers``: see ``draw``)."""
        self.draw(key, layers)
        return png_bytes(self.rgba(), self.compress_level)


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(rgba, compress_level=1):
    """A PNG of the pixels ``rgba`` ((height, width, 4) uint8; alpha dropped), encoded for speed.

    PNG = signature, IHDR (width, height, 8-bit RGB), IDAT = zlib(each row prefixed by its filter
    byte), IEND. Every row uses filter 0 (none) and zlib runs at ``compress_level`` (1: fastest):
    on a figure's flat background that is as small as an adaptive encoder's output and twice as
    fast (about 4 ms against PIL's 7 ms for the playground's 840 × 360 pixels), which counts
    when the figure follows a slider being dragged.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"rgba must be a (height, width, 4) uint8 array, got {rgba.shape} {rgba.dtype}")
    height, width = rgba.shape[:2]
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)      # column 0: filter byte 0
    rows[:, 1:] = rgba[:, :, :3].reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)   # 8 bits, colour type 2 (RGB)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level)) + _png_chunk(b"IEND", b""))


def _pyplot_axes(ncols=1, figsize=None):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, ncols, figsize=figsize or (5.0 * ncols, 4.2), layout="constrained")
    return fig, axes


# ----------------------------------------------------------------------------- data helpers

def _points(trajectory):
    pts = getattr(trajectory, "points", trajectory)
    pts = np.asarray(pts, dtype=float)
    if pts.ndim == 1:
        pts = pts.reshape(1, -1)
    return pts


def _values(trajectory, landscape=None):
    vals = getattr(trajectory, "values", None)
    if vals is None:
        if landscape is None:
            raise ValueError("a bare array of points has no values: pass a Trajectory or the landscape")
        with np.errstate(all="ignore"):
            vals = landscape.value(_points(trajectory))
    return np.asarray(vals, dtype=float)


def _finite_prefix(a):
    """Length of the leading run of rows of ``a`` that are all finite."""
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a) if a.ndim == 1 else np.isfinite(a).all(axis=-1)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else len(a)


def _upto_slice(upto):
    """The slice end that keeps entries 0 … ``upto`` of a per-step array (None: all)."""
    if upto is None:
        return None
    if int(upto) != upto or upto < 0:
        raise ValueError(f"upto must be a whole number of steps >= 0, got {upto!r}")
    return int(upto) + 1


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


# ----------------------------------------------------------------------------- panels (widgets)

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


# ----------------------------------------------------------------------------- one-shot figures

def _as_mapping(trajectories):
    if isinstance(trajectories, Mapping):
        return dict(trajectories)
    if isinstance(trajectories, (list, tuple)):
        return {f"run {i + 1}": t for i, t in enumerate(trajectories)}
    return {"path": trajectories}


def plot_trajectories(landscape, trajectories, *, ax=None, window=None, title=None, start=None,
                      levels=20):
    """Contours of ``landscape`` with each trajectory's path; start and minima marked.

    ``trajectories``: a dict label -> Trajectory (or (n, 2) points), a list, or one trajectory.
    Returns the ``ContourPanel`` (its ``.ax.figure`` is the figure).
    """
    trajs = _as_mapping(trajectories)
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(5.6, 4.8))
    panel = ContourPanel(ax, landscape, list(trajs), window=window, title=title, levels=levels)
    panel.update(trajs, start=start)
    return panel


def plot_losses(trajectories, *, ax=None, f_star=None, landscape=None, title="Loss"):
    """Loss curves of each trajectory: ``f - f*`` on a log axis when f* is known, else ``f``.

    Pass ``f_star`` or a ``landscape`` (its known minima give f*). Returns the ``LossPanel``.
    """
    trajs = _as_mapping(trajectories)
    if f_star is None and landscape is not None:
        f_star = lowest_minimum(landscape)
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(5.6, 4.2))
    panel = LossPanel(ax, list(trajs), f_star=f_star, title=title)
    panel.update(trajs)
    ax.legend(fontsize="small")
    return panel


def plot_race(landscape, trajectories, *, title=None, axes=None):
    """Paths on the contours (left) and loss curves (right), side by side. Returns (fig, (panel, panel))."""
    trajs = _as_mapping(trajectories)
    if axes is None:
        fig, axes = _pyplot_axes(2, figsize=(11, 4.6))
    fig = axes[0].figure
    cp = plot_trajectories(landscape, trajs, ax=axes[0], title=title)
    lp = LossPanel(axes[1], list(trajs), f_star=lowest_minimum(landscape))
    lp.update(trajs)
    return fig, (cp, lp)


def plot_ema_weights(betas=(0.5, 0.9, 0.99), k=60, *, ax=None):
    """The weight ``(1 - β) β^k`` an exponential moving average gives the gradient from k steps ago.

    Each β is annotated with its effective window ``1 / (1 - β)`` (the number of
    recent steps that carry about 63 % of the weight).
    """
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(6.4, 4.0))
    ks = np.arange(k + 1)
    for i, beta in enumerate(betas):
        st = style(i)
        w = (1 - beta) * beta ** ks
        ax.plot(ks, w, color=st["color"], linestyle=st["linestyle"], marker=st["marker"],
                markersize=4, markevery=max(1, k // 12),
                label=f"β = {beta:g}  (window ≈ {1 / (1 - beta):.0f} steps)")
    ax.set_title("Exponential moving average: weight of a past gradient")
    ax.set_xlabel("k, steps into the past")
    ax.set_ylabel("weight (1 − β) β$^k$")
    ax.set_xlim(0, k)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_step_sizes(step_sizes, *, ax=None, title="Step size per step", log=True,
                    ylabel="step size |Δθ|"):
    """Step-size traces: ``step_sizes`` label -> array (n,) or (n, 2) (one line per coordinate)."""
    if ax is None:
        _, ax = _pyplot_axes(1, figsize=(6.4, 4.0))
    series = _as_mapping(step_sizes)
    i = 0
    for label, s in series.items():
        s = np.asarray(s, dtype=float)
        cols = [s] if s.ndim == 1 else [s[:, j] for j in range(s.shape[1])]
        names = [label] if s.ndim == 1 else [f"{label}, coordinate {j + 1}" for j in range(s.shape[1])]
        for col, name in zip(cols, names):
            st = style(i)
            i += 1
            y = np.abs(col) if log else col
            if log:
                y = np.where(y > 0, y, np.nan)
            ax.plot(np.arange(1, len(col) + 1), y, color=st["color"], linestyle=st["linestyle"],
                    linewidth=1.6, label=name)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_title(title)
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel + ("   (log scale)" if log else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_moments(m, v, *, axes=None, names=("x", "y"), title="Adam's moment estimates"):
    """Traces of the first moment m (left) and the second moment v (right, log), per coordinate.

    ``m`` and ``v``: arrays (n, d), the state after each of n steps.
    """
    m = np.asarray(m, dtype=float)
    v = np.asarray(v, dtype=float)
    if m.ndim == 1:
        m, v = m[:, None], v[:, None]
    if axes is None:
        fig, axes = _pyplot_axes(2, figsize=(10, 3.8))
        fig.suptitle(title)
    t = np.arange(1, len(m) + 1)
    for j in range(m.shape[1]):
        st = style(j)
        name = names[j] if j < len(names) else f"θ{j + 1}"
        axes[0].plot(t, m[:, j], color=st["color"], linestyle=st["linestyle"], label=f"m, {name}")
        axes[1].plot(t, np.where(v[:, j] > 0, v[:, j], np.nan), color=st["color"],
                     linestyle=st["linestyle"], label=f"v, {name}")
    axes[0].axhline(0, color="0.5", linewidth=0.8)
    axes[0].set_title("first moment m (mean of g)")
    axes[0].set_ylabel("m")
    axes[1].set_yscale("log")
    axes[1].yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())   # 10ᵏ labels only
    axes[1].set_title("second moment v (mean of g²)")
    axes[1].set_ylabel("v   (log scale)")
    for ax in axes:
        ax.set_xlabel("step t")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return axes
