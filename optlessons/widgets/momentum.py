"""Notebook 05's momentum experiment: a path, its loss, and the (lr, β) rate map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ipywidgets as W

from ..functions import LANDSCAPES, quadratic
from ..optim import SGD
from ..plots import ContourPanel, LossPanel
from ..convergence import RateMap, measured_rate, momentum_rate_map
from ..train import Trajectory, minimize
from .base import (
    WIDE_LABEL, log_slider, float_slider, int_slider, escape_html, set_loss_ylabel, note, Experiment)
from .timeline import Timeline

@dataclass
class MomentumResult:
    landscape: object
    lr: float
    momentum: float
    trajectory: Trajectory             # SGD with momentum (Nesterov's if `nesterov`)
    plain: Trajectory                  # SGD without momentum, same lr
    rate_map: "RateMap"
    nesterov: bool = False
    rate: float = float("nan")         # measured_rate of `trajectory` (NaN if it diverged)


def _rate_to_colour(rate):
    """The heat map's colour coordinate: −log10(1 − ρ), so 0.9, 0.99, 0.999 are equally apart."""
    return -np.log10(np.clip(1.0 - np.asarray(rate, dtype=float), 1e-12, None))


def _colour_to_rate(x):
    return 1.0 - 10.0 ** (-np.asarray(x, dtype=float))


def _edges(centres, log=False):
    """Cell edges around grid centres (geometric midpoints on a log axis)."""
    c = np.log10(centres) if log else np.asarray(centres, dtype=float)
    mid = (c[1:] + c[:-1]) / 2
    e = np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])
    return 10 ** e if log else e


class MomentumExperiment(Experiment):
    title = "Momentum"
    shows = ("The paths with and without momentum over the bowl's contours, left, their loss gaps per step on "
             "a log scale, middle, and a heat map of the measured rate per step over learning rate and "
             "momentum with your setting circled, right.")
    help = ("set the learning rate η and the momentum β. The heat map shows, for every (η, β), the measured "
            "convergence rate per step (darker = faster; hatched grey = diverged); the ringed dot is you, "
            "the star the theoretical optimum.")

    CHOICES = {"ill-conditioned quadratic (κ = 50)": "quadratic50", "Rosenbrock": "rosenbrock"}
    RATE_TICKS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
    SLOWEST = 0.999           # the top of the colour scale
    DIVERGED = dict(facecolor="0.82", edgecolor="0.45", hatch="////", linewidth=0.0)

    def __init__(self, landscape="quadratic50", lr=0.01, momentum=0.9, steps=100, nesterov=False):
        super().__init__(11.4, 4.3)
        self._landscapes = {"quadratic50": quadratic(condition_number=50.0, angle=np.deg2rad(30)),
                            "rosenbrock": LANDSCAPES["rosenbrock"]()}
        self.controls["landscape"] = W.Dropdown(options=list(self.CHOICES.items()), value=landscape,
                                                description="landscape", style=WIDE_LABEL)
        self.controls["lr"] = log_slider("learning rate η", lr, -4, 0)
        self.controls["momentum"] = float_slider("momentum β", momentum, 0.0, 0.99, 0.01)
        self.controls["steps"] = int_slider("steps", steps, 10, 300, 10)
        self.controls["nesterov"] = W.Checkbox(value=bool(nesterov), description="Nesterov", indent=False,
                                               layout=W.Layout(width="auto"))
        self.controls["nesterov"].add_class("optlessons-momentum-nesterov")
        gs = self.figure.add_gridspec(1, 3, width_ratios=[1, 1, 1.1])
        self.ax_path = self.figure.add_subplot(gs[0])
        self.ax_loss = self.figure.add_subplot(gs[1])
        self.ax_map = self.figure.add_subplot(gs[2])
        self.figure.subplots_adjust(left=0.05, right=0.95, bottom=0.27, top=0.92, wspace=0.3)
        self.labels = ["momentum", "no momentum (β = 0)"]
        self._shown = None
        self._map_key = None
        self._mesh = None
        self._colorbar = None
        self._map_legend = None
        from matplotlib.patches import Rectangle
        import matplotlib.patheffects as pe
        # diverged cells are left out of the mesh (NaN -> transparent) and show this hatched grey
        self.ax_map.add_patch(Rectangle((0, 0), 1, 1, transform=self.ax_map.transAxes, zorder=0,
                                        **self.DIVERGED))
        self.ax_map.set_xscale("log")
        (self.edge_line,) = self.ax_map.plot([], [], color="white", linestyle="--", linewidth=1.6, zorder=3,
                                             path_effects=[pe.withStroke(linewidth=3.2, foreground="black")])
        (self.optimum,) = self.ax_map.plot([], [], marker="*", markersize=15, color="white",
                                           markeredgecolor="black", markeredgewidth=1.2, linestyle="none",
                                           zorder=4)
        (self.here,) = self.ax_map.plot([], [], marker="o", markersize=12, markerfacecolor="none",
                                        markeredgecolor="white", markeredgewidth=2.5, linestyle="none",
                                        animated=True, zorder=5,
                                        path_effects=[pe.withStroke(linewidth=4.0, foreground="black")])
        (self.here_dot,) = self.ax_map.plot([], [], marker="o", markersize=4, color="black",
                                            linestyle="none", animated=True, zorder=6)
        self.timeline = Timeline(self, steps)
        self._start([W.HBox([self.controls["landscape"], self.controls["steps"], self.controls["nesterov"]]),
                     W.HBox([self.controls["lr"], self.controls["momentum"]]), self.timeline.widget])

    def compute(self):
        key = self.controls["landscape"].value
        f = self._landscapes[key]
        lr, beta = float(self.controls["lr"].value), float(self.controls["momentum"].value)
        steps = int(self.controls["steps"].value)
        nesterov = bool(self.controls["nesterov"].value)
        # β = 0 is plain gradient descent (Nesterov's look-ahead too); SGD rejects nesterov without momentum
        opt = SGD(lr=lr, momentum=beta, dampening=0.0, nesterov=nesterov) if beta > 0 else SGD(lr=lr)
        traj = minimize(f, opt, steps=steps)
        plain = minimize(f, SGD(lr=lr), steps=steps)
        rate = float("nan") if traj.diverged else measured_rate(traj.distances())
        return MomentumResult(f, lr, beta, traj, plain, momentum_rate_map(f, key, steps, nesterov=nesterov),
                              nesterov, rate)

    def _draw_static(self, result):
        f = result.landscape
        if self._shown is not f:
            if self._shown is None:
                self.paths = ContourPanel(self.ax_path, f, self.labels, legend=True, legend_loc="upper right",
                                          animated=True)
                self.losses = LossPanel(self.ax_loss, self.labels, f_star=f.f_star, animated=True)
                for d in (self.paths.lines, self.paths.ends, self.losses.lines, self.losses.blowups):
                    d[self.labels[1]].set_color("0.45")
            else:
                self.paths.set_landscape(f)
                self.losses.set_f_star(f.f_star)
            set_loss_ylabel(self.losses)
            self._shown = f
            self.renderer.invalidate()
        m = result.rate_map
        if self._map_key is not m:
            self._draw_map(m)
            self._map_key = m
            self.renderer.invalidate()

    def _draw_map(self, m):
        from matplotlib.patches import Patch
        if self._mesh is not None:
            self._mesh.remove()
        from matplotlib.colors import FuncNorm
        finite = m.rate[np.isfinite(m.rate)]
        # colours spread over 1 − ρ on a log scale (0.9, 0.99, 0.999 equally apart: 10× more steps
        # for the same progress each), from the best measured rate up to 0.999; anything slower,
        # including ρ ≥ 1 runs that had not yet left the window, takes the top colour
        top = self.SLOWEST
        best = float(np.min(finite)) if finite.size else 0.9
        low = max([t for t in self.RATE_TICKS if t <= min(best, 0.99)], default=0.0)
        norm = FuncNorm((_rate_to_colour, _colour_to_rate), vmin=low, vmax=top)
        self._mesh = self.ax_map.pcolormesh(_edges(m.lrs, log=True), _edges(m.betas), np.ma.masked_invalid(m.rate),
                                            cmap="viridis", norm=norm, shading="flat", zorder=1)
        if self._colorbar is None:
            self._colorbar = self.figure.colorbar(self._mesh, ax=self.ax_map, pad=0.02, extend="max")
            self._colorbar.set_label("rate per step (lower is faster)")
        else:
            self._colorbar.update_normal(self._mesh)
        ticks, span = [], float(_rate_to_colour(top) - _rate_to_colour(low))
        for t in (t for t in self.RATE_TICKS if low <= t <= top):    # no two labels on top of each other
            if not ticks or _rate_to_colour(t) - _rate_to_colour(ticks[-1]) > 0.09 * span:
                ticks.append(t)
        self._colorbar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
        self._colorbar.minorticks_off()
        self.ax_map.set_xlim(_edges(m.lrs, log=True)[[0, -1]])
        self.ax_map.set_ylim(_edges(m.betas)[[0, -1]])
        self.ax_map.set_xlabel("learning rate η")
        self.ax_map.set_ylabel("momentum β")
        kind = "Nesterov" if m.nesterov else "heavy ball"
        self.ax_map.set_title(f"Rate per step, {kind}, {m.steps} steps")
        from matplotlib.lines import Line2D
        handles = [(self.here, self.here_dot), Patch(**self.DIVERGED)]
        labels = ["you (η, β)", "diverged"]
        th = m.theory
        if th is not None:
            self.optimum.set_data([th.lr], [th.momentum])
            b = np.linspace(m.betas[0], m.betas[-1], 100)
            self.edge_line.set_data(th.edge_lr(b), b)
            # the edge in the legend: a plain dashed line (the outlined one reads as "=" that small)
            handles[1:1] = [self.optimum, Line2D([], [], color="black", linestyle="--", linewidth=1.4)]
            labels[1:1] = [f"optimum (η*, β*), rate {th.rate:.3f}", th.edge_label]
        for a in (self.optimum, self.edge_line):
            a.set_visible(th is not None)
        if self._map_legend is not None:
            self._map_legend.remove()
        # under the map, outside the data: the ring moves over it without being hidden
        self._map_legend = self.ax_map.legend(handles, labels, loc="upper center", ncol=2, fontsize="small",
                                              bbox_to_anchor=(0.5, -0.17), frameon=False,
                                              handlelength=2.2, columnspacing=1.0)

    def draw(self, result):
        self._draw_static(result)
        upto = self.timeline.step_for(result, int(self.controls["steps"].value))
        self.paths.update(self.runs(result), upto=upto)
        self.losses.update(self.runs(result), upto=upto)
        self.here.set_data([result.lr], [result.momentum])
        self.here_dot.set_data([result.lr], [result.momentum])

    def runs(self, result):
        """The two runs drawn, label -> Trajectory."""
        return {self.labels[0]: result.trajectory, self.labels[1]: result.plain}

    def describe(self, result):
        t, p = result.trajectory, result.plain
        name = "Nesterov momentum" if result.nesterov else "momentum"
        rate = "" if not np.isfinite(result.rate) else f"; rate per step {result.rate:.3f}"
        th = result.rate_map.theory
        best = ""
        if th is not None:
            best = (f"<br>Theory on this bowl: η* = {th.lr:.3g}, β* = {th.momentum:.3g} give "
                    f"{th.rate:.3f} per step; GD's best is {(th.L - th.mu) / (th.L + th.mu):.3f}.")
        kind = "warn" if t.diverged else "info"
        step = self.timeline.caption(self.runs(result))
        return note(f"{step}<br>{name}: {escape_html(t.message)}{rate}<br>without: {escape_html(p.message)}{best}",
                    kind)


def momentum_experiment(landscape="quadratic50", lr=0.01, momentum=0.9, steps=100, nesterov=False):
    """SGD with momentum (η, β) on an ill-conditioned quadratic (κ = 50) or Rosenbrock.

    Left: the path with momentum and the plain-GD path at the same η; middle: their
    losses; right: a heat map over (η, β) of the measured convergence rate per step,
    ρ = (‖θ_n − θ*‖/‖θ_0 − θ*‖)^(1/n) (``measured_rate``; lower is faster, hatched grey =
    diverged), computed once per landscape, step count and Nesterov setting
    (``momentum_rate_map``) and cached. On the quadratic the theoretical optimum
    (η*, β*) is starred and the stability edge drawn (``MomentumTheory``).
    Controls ``landscape`` ("quadratic50" or "rosenbrock"), ``lr``, ``momentum``, ``steps``,
    ``nesterov`` (``SGD(nesterov=True)``, dampening 0).
    """
    return MomentumExperiment(landscape, lr, momentum, steps, nesterov)
