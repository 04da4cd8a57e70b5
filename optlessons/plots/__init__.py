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

The modules, each on the ones before it: ``figures`` (palette, styles, PNG, alt text),
``drawing`` (paths, loss gaps, contours), ``panels``, ``oneshot``; ``optlessons.plots`` re-exports
their public names.
"""

from .drawing import contour_levels, draw_landscape, loss_gap, mark_last, visible_path
from .figures import (CONTOUR_CMAP, LINESTYLES, MARKERS, MINIMUM_STYLE, OKABE_ITO, PALETTE, START_STYLE, WIDGET_DPI,
                      FigureRenderer, figure_bundle, figure_to_png, new_figure, png_bytes, show, style)
from .oneshot import plot_ema_weights, plot_losses, plot_moments, plot_race, plot_step_sizes, plot_trajectories
from .panels import ContourPanel, LossPanel, log10_axis, one_two_five

__all__ = [
    "OKABE_ITO", "PALETTE", "MARKERS", "LINESTYLES", "style", "new_figure", "figure_to_png",
    "figure_bundle", "show",
    "contour_levels", "visible_path", "loss_gap", "one_two_five", "draw_landscape", "log10_axis",
    "ContourPanel", "LossPanel", "FigureRenderer",
    "plot_trajectories", "plot_losses", "plot_race",
    "plot_ema_weights", "plot_step_sizes", "plot_moments",
]
