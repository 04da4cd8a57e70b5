"""The course's look and its figures as images: the colour-blind-safe palette, markers and line
styles, a figure for a widget, PNG bytes, and ``show`` (a figure with its alt text)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import matplotlib
import matplotlib.colors
import matplotlib.transforms
from matplotlib.figure import Figure

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
