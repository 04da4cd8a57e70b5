"""The gradient explorer of notebook 02: a point p, a direction u, and D_u L = ∇L(p)·u.

    ex = gradient_explorer()              # Himmelblau's function; displays itself in a cell
    ex.controls["psi"].value = 295        # turn u (degrees)
    ex.result.directional_derivative      # ∇L(p)·u, a plain result object (GradientResult)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ipywidgets as W
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from .. import plots
from ..functions import LANDSCAPES
from .base import Experiment, escape_html, float_slider, int_slider, note

BLUE, VERMILLION, GREEN = plots.PALETTE[:3]      # ∇L, u, the contour through p

#: u within half a notch (the ψ slider moves in 5° steps) of ∇L, −∇L or the contour counts as "along" it
ALIGNED_DEGREES = 2.5
#: below this |∇L(p)| the point counts as stationary (slider values carry round-off: 3.0000000000000004)
STATIONARY = 1e-6


@dataclass
class GradientResult:
    point: np.ndarray                  # p = (θ₁, θ₂)
    value: float                       # L(p): the level of the contour through p
    gradient: np.ndarray               # ∇L(p)
    psi_deg: float                     # the direction's angle ψ, degrees
    direction: np.ndarray              # u = (cos ψ, sin ψ)
    directional_derivative: float      # D_u L = ∇L(p)·u

    @property
    def norm(self):
        """|∇L(p)|: the largest directional derivative, reached along u = ∇L/|∇L|."""
        return float(np.linalg.norm(self.gradient))

    @property
    def stationary(self):
        """Whether ∇L(p) vanishes (|∇L(p)| below ``STATIONARY``): a minimum, a maximum or a saddle."""
        return self.norm < STATIONARY

    @property
    def gradient_angle(self):
        """The gradient's direction, degrees in [0, 360)."""
        return float(np.degrees(np.arctan2(self.gradient[1], self.gradient[0])) % 360)

    @property
    def phi(self):
        """φ, the angle between u and ∇L(p) in degrees, from D_u L = |∇L| cos φ (NaN where ∇L vanishes)."""
        if self.stationary:
            return float("nan")
        return float(np.degrees(np.arccos(np.clip(self.directional_derivative / self.norm, -1.0, 1.0))))


class GradientExplorer(Experiment):
    title = "The gradient at a point"
    shows = ("The contour map of the {landscape} function with the point p (black dot), the gradient ∇L(p) (solid blue arrow, "
             "scaled to a fixed length), the unit direction u (dashed vermillion arrow) and the contour "
             "through p (green).")      # {landscape}: its name, filled in for each explorer
    help = ("move the point p = (θ₁, θ₂) and turn the direction u by its angle ψ; the title gives "
            "D<sub>u</sub>L = ∇L·u.")

    ARROW = 0.15        # both arrows are drawn this fraction of the window's width long

    def __init__(self, landscape="himmelblau", t1=-1.0, t2=2.0, psi_deg=0):
        super().__init__(6.4, 6.0)
        if isinstance(landscape, str):
            if landscape not in LANDSCAPES:
                raise ValueError(f"landscape must be one of {sorted(LANDSCAPES)}, got {landscape!r}")
            landscape = LANDSCAPES[landscape]()
        self.landscape = landscape
        self.shows = type(self).shows.format(landscape=landscape.name)
        (x0, x1), (y0, y1) = landscape.window
        for name, v, lo, hi in (("t1", t1, x0, x1), ("t2", t2, y0, y1), ("psi_deg", psi_deg, 0, 355)):
            if not lo <= v <= hi:
                raise ValueError(f"{name} must be a number in [{lo:g}, {hi:g}], got {v!r}")
        self.controls["t1"] = float_slider("θ₁", t1, x0, x1, (x1 - x0) / 100, continuous_update=True)
        self.controls["t2"] = float_slider("θ₂", t2, y0, y1, (y1 - y0) / 100, continuous_update=True)
        self.controls["psi"] = int_slider("ψ (degrees)", psi_deg, 0, 355, 5, continuous_update=True)  # 72 notches
        self.arrow_length = self.ARROW * (x1 - x0)
        self.ax = self.figure.add_subplot()
        self.figure.subplots_adjust(left=0.12, right=0.96, bottom=0.2, top=0.93)
        plots.draw_landscape(self.ax, landscape, levels=18, resolution=120)
        self.ax.set_aspect("equal")
        self.ax.set(xlabel=r"$\theta_1$", ylabel=r"$\theta_2$")
        self.grid = landscape.grid(120)
        self.level = None                                   # the contour through p, drawn anew each time
        arrow_style = dict(arrowstyle="-|>", mutation_scale=18, linewidth=2.5, shrinkA=0, shrinkB=0, zorder=6,
                           animated=True)                    # from p exactly to p + length × direction
        self.gradient_arrow = FancyArrowPatch((0, 0), (0, 0), color=BLUE, **arrow_style)
        self.direction_arrow = FancyArrowPatch((0, 0), (0, 0), color=VERMILLION, linestyle="--", **arrow_style)
        for arrow in (self.gradient_arrow, self.direction_arrow):
            self.ax.add_patch(arrow)
        (self.point,) = self.ax.plot([], [], "o", color="black", zorder=7, animated=True)
        self.title_text = self.ax.set_title("", fontsize=11)
        self.title_text.set_animated(True)
        handles = [Line2D([], [], color=BLUE, lw=2.5), Line2D([], [], color=VERMILLION, lw=2.5, ls="--"),
                   Line2D([], [], color=GREEN, lw=2)]
        labels = [r"$\nabla L$ (scaled to fit)", "direction u", "contour through p"]
        minimum = [a for a in self.ax.lines if a.get_label() == "minimum"]
        self.ax.legend(minimum + handles, [a.get_label() for a in minimum] + labels, loc="upper center",
                       bbox_to_anchor=(0.5, -0.1), ncols=2, fontsize=9)     # below the map: hides nothing
        self._start([W.HBox([self.controls["t1"], self.controls["t2"]]), W.HBox([self.controls["psi"]])])

    def compute(self):
        p = np.array([self.controls["t1"].value, self.controls["t2"].value], dtype=float)
        psi = float(self.controls["psi"].value)
        u = np.array([np.cos(np.radians(psi)), np.sin(np.radians(psi))])
        g = np.asarray(self.landscape.gradient(p), dtype=float)
        if not np.all(np.isfinite(g)):
            raise ValueError(f"the gradient at p = ({p[0]:.2f}, {p[1]:.2f}) is not finite")
        return GradientResult(p, float(self.landscape.value(p)), g, psi, u, float(g @ u))

    def draw(self, result):
        p, g = result.point, result.gradient
        if self.level is not None:
            self.level.remove()
        self.level = self.ax.contour(*self.grid, levels=[result.value], colors=[GREEN], linewidths=2,
                                     zorder=5)
        self.level.set_animated(True)
        scale = 0.0 if result.stationary else self.arrow_length / result.norm
        self.gradient_arrow.set_positions(tuple(p), tuple(p + scale * g))
        self.gradient_arrow.set_visible(not result.stationary)
        self.direction_arrow.set_positions(tuple(p), tuple(p + self.arrow_length * result.direction))
        self.point.set_data([p[0]], [p[1]])
        self.title_text.set_text(rf"$|\nabla L(p)|$ = {result.norm:.2f},   $D_u L = \nabla L\cdot u$ = "
                                 f"{result.directional_derivative:.2f}")

    def describe(self, result):
        p, g = result.point, result.gradient
        head = (f"At p = ({p[0]:.1f}, {p[1]:.1f}) the gradient is ∇L(p) = ({g[0]:.2f}, {g[1]:.2f}), "
                f"|∇L(p)| = {result.norm:.2f}")
        if result.stationary:
            return note(escape_html(f"{head}: p is a stationary point, and every direction is flat to first "
                                    f"order (D_u L = 0 for all u)."), "ok")
        text = (f"{head}, pointing at {result.gradient_angle:.1f}°. Along u at ψ = {result.psi_deg:g}°: "
                f"D_u L = ∇L·u = {result.directional_derivative:.2f} = |∇L| cos φ, with φ = {result.phi:.1f}° "
                f"between u and ∇L.")
        if result.phi <= ALIGNED_DEGREES:
            text += " u points along the gradient: the steepest ascent."
        elif result.phi >= 180 - ALIGNED_DEGREES:
            text += " u points against the gradient: the steepest descent, where gradient descent steps."
        elif abs(result.phi - 90) <= ALIGNED_DEGREES:
            text += " u runs along the contour through p: L hardly changes that way."
        return note(escape_html(text))


def gradient_explorer(landscape="himmelblau", t1=-1.0, t2=2.0, psi_deg=0):
    """Sliders for a point p = (θ₁, θ₂) and an angle ψ; the figure shows ∇L(p), u = (cos ψ, sin ψ),
    the contour through p, and D_u L = ∇L(p)·u = |∇L(p)| cos φ.

    ``landscape``: a key of ``functions.LANDSCAPES`` or a Landscape; ``t1``, ``t2`` inside its window,
    ``psi_deg`` in [0, 355] (the slider moves in 5° notches). Controls ``t1``, ``t2``, ``psi``;
    result ``GradientResult`` (``gradient``, ``directional_derivative``, ``norm``, ``phi``).
    """
    return GradientExplorer(landscape, t1, t2, psi_deg)
