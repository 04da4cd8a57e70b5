"""The figure drawn in the browser: matplotlib's background once per view, the moving lines as numbers.

While a slider is dragged, :class:`BrowserFigure` sends the browser only what moves — each
*animated* ``Line2D`` of the figure as its data (x, y) with its colour, width, dashes and markers —
and ``canvas.js`` draws it over a background PNG that matplotlib renders once per view (whenever
``Experiment.static_key()`` or the layers' keys change: a new landscape, new loss-axis limits).
With the background go, for each axes, its box in pixels and its data limits, so the browser maps
data to pixels exactly as matplotlib's ``transData`` does; markers are small images matplotlib
renders once per style (sprites), placed to the nearest pixel.

A frame costs the kernel the experiment's ``compute()`` and ``draw()`` and a few kB of arrays,
instead of a render and a PNG (``benchmarks/bench_workshop.py`` measures both). What a notebook
saves, the static image and its alt text, is still matplotlib's render of the same artists
(``png``), so the two agree where it matters: ``tests/test_widgets_canvas.py`` checks that the
browser puts every point where matplotlib does.
"""

from __future__ import annotations

import io
import pathlib

import anywidget
import matplotlib.colors
import numpy as np
import traitlets
from matplotlib.figure import Figure
from matplotlib.lines import Line2D


#: The browser's half: draws a frame from the traits of :class:`BrowserFigure` (plain JavaScript, no build).
SCRIPT = pathlib.Path(__file__).with_name("canvas.js")
#: Marker sprites, rendered once per style and dpi: key -> (png bytes, centre in pixels).
_SPRITES: dict = {}


def moving_lines(figure):
    """The figure's animated artists, in the order a full draw paints them (z-order, then as added).

    Each must be a ``Line2D``: the browser draws lines and markers only (a ``TypeError`` names any other)."""
    artists = []
    for ax in figure.axes:
        artists += [a for a in ax.get_children() if a.get_animated()]
    artists += [a for a in figure.get_children() if a.get_animated() and a not in figure.axes]
    others = [type(a).__name__ for a in artists if not isinstance(a, Line2D)]
    if others:
        raise TypeError(f"the browser draws only animated Line2D artists; this figure also animates {others}")
    return sorted(artists, key=lambda a: a.get_zorder())


def view(figure):
    """The figure's size in pixels and, per axes, its box (display pixels, origin at the bottom
    left, as matplotlib's) and data limits: what the browser needs to map data to pixels."""
    axes = []
    for ax in figure.axes:
        if ax.get_xscale() != "linear" or ax.get_yscale() != "linear":
            raise ValueError(f"the browser maps linear axes only; an axes has scales "
                             f"{ax.get_xscale()!r}, {ax.get_yscale()!r} (draw log10 data on a linear axis)")
        axes.append({"bbox": [float(v) for v in ax.bbox.extents],
                     "xlim": [float(v) for v in ax.get_xlim()], "ylim": [float(v) for v in ax.get_ylim()]})
    width, height = figure.canvas.get_width_height()
    return {"size": [int(width), int(height)], "axes": axes}


def marker_sprite(line):
    """(key, png, centre): an image of ``line``'s marker as matplotlib draws it, centred on pixel
    corner (centre, centre), transparent around; None when the line has no marker."""
    marker = line.get_marker()
    if marker in (None, "None", "none", "", " "):
        return None
    dpi = line.figure.dpi
    face, edge = line.get_markerfacecolor(), line.get_markeredgecolor()
    size, edge_width = line.get_markersize(), line.get_markeredgewidth()
    key = repr((marker, size, matplotlib.colors.to_hex(face, keep_alpha=True) if face != "none" else "none",
                matplotlib.colors.to_hex(edge, keep_alpha=True) if edge != "none" else "none",
                edge_width, line.get_fillstyle(), dpi))
    if key not in _SPRITES:
        centre = int(np.ceil((size + edge_width) * dpi / 72 / 2)) + 2
        fig = Figure(figsize=(2 * centre / dpi, 2 * centre / dpi), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(0, 2 * centre)
        ax.set_ylim(0, 2 * centre)
        ax.plot([centre], [centre], linestyle="none", marker=marker, markersize=size, markerfacecolor=face,
                markeredgecolor=edge, markeredgewidth=edge_width, fillstyle=line.get_fillstyle())
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, transparent=True)
        _SPRITES[key] = (buf.getvalue(), centre)
    png, centre = _SPRITES[key]
    return key, png, centre


def marks(line, n):
    """The indices of the points of ``line`` (n of them) that carry a marker (its ``markevery``:
    None for all, an int k for every k-th from the first, or a list of indices)."""
    every = line.get_markevery()
    if every is None:
        return list(range(n))
    if isinstance(every, (int, np.integer)):
        return list(range(0, n, max(1, int(every))))
    if isinstance(every, (list, tuple, np.ndarray)) and all(isinstance(i, (int, np.integer)) for i in every):
        return [int(i) for i in every if -n <= i < n]
    raise ValueError(f"markevery must be None, an int or a list of ints for the browser, got {every!r}")


def line_state(line, axes_index):
    """What the browser draws of one line: data as float64 bytes, style in pixels, markers."""
    xy = np.ascontiguousarray(line.get_xydata(), dtype="<f8")
    px = line.figure.dpi / 72                                         # points -> pixels
    drawn = line.get_linestyle() not in ("None", "none", "", " ")
    offset, pattern = line._dash_pattern                             # already scaled by the line width
    sprite = marker_sprite(line)
    return {"axes": axes_index, "xy": xy.tobytes(),
            "color": matplotlib.colors.to_hex(line.get_color()),
            "alpha": 1.0 if line.get_alpha() is None else float(line.get_alpha()),
            "width": float(line.get_linewidth()) * px if drawn else 0.0,
            "dashes": {"offset": float(offset or 0) * px, "pattern": [float(d) * px for d in (pattern or ())]},
            "marker": sprite and sprite[0], "marks": marks(line, len(xy)) if sprite else []}


class BrowserFigure(anywidget.AnyWidget):
    """An experiment's figure drawn in the browser (``canvas.js``) and shown as an ``<img>``
    (class ``optlessons-figure``) whose title and alt are ``tooltip``, the figure's alt text.

    ``show(experiment)`` sends one message per frame: the moving lines, and — only when the
    view changed — the background PNG and the axes' boxes and limits; ``frame`` counts them.
    """

    _esm = SCRIPT
    background = traitlets.Bytes(b"").tag(sync=True)      # PNG: the figure without its moving lines
    view = traitlets.Dict().tag(sync=True)                # {"size": [w, h], "axes": [{bbox, xlim, ylim}]}
    sprites = traitlets.Dict().tag(sync=True)             # key -> {"png", "center"}
    lines = traitlets.List().tag(sync=True)               # line_state of each moving line, in drawing order
    frame = traitlets.Int(0).tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)        # the alt text: the <img>'s title and alt
    width = traitlets.Unicode("").tag(sync=True)          # CSS width of the <img>
    # ipywidgets 8.1's DOMWidgetView reads description.length when a tooltip is set (see TitledImage)
    description = traitlets.Unicode("").tag(sync=True)

    def __init__(self, figure, renderer, width=""):
        super().__init__(width=width)
        self.figure, self.renderer = figure, renderer
        self._view_key = None

    def _background(self, key, layers):
        """PNG of the figure with its moving lines hidden (the renderer's cached background)."""
        hidden = [a for a in moving_lines(self.figure) if a.get_visible()]
        for artist in hidden:
            artist.set_visible(False)
        try:
            return self.renderer.render(key, layers)
        finally:
            for artist in hidden:
                artist.set_visible(True)

    def frame_state(self, experiment):
        """The traits that show ``experiment``'s figure as drawn now (its artists' data set)."""
        key, layers = experiment.static_key(), experiment.layers()
        axes_index = {ax: i for i, ax in enumerate(self.figure.axes)}
        state = {}
        current = view(self.figure)
        view_key = (key, tuple(layers.values()), repr(current))
        if view_key != self._view_key:
            state.update(background=self._background(key, layers), view=current)
            self._view_key = view_key
        lines, sprites = [], dict(self.sprites)
        for line in moving_lines(self.figure):
            if line.get_visible() and len(line.get_xdata()):
                lines.append(line_state(line, axes_index[line.axes]))
                sprite = marker_sprite(line)
                if sprite and sprite[0] not in sprites:
                    sprites[sprite[0]] = {"png": sprite[1], "center": sprite[2]}
        if sprites != self.sprites:
            state["sprites"] = sprites
        state.update(lines=lines, frame=self.frame + 1)
        return state

    def png(self, experiment):
        """matplotlib's render of the figure as drawn now: the static image a notebook saves."""
        return experiment.render()

