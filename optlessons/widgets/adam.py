"""Notebook 07's Adam experiment: the path and Adam's moments, step by step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ipywidgets as W

from .. import plots
from ..functions import LANDSCAPES
from ..optim import Adam
from ..plots import ContourPanel, style
from ..train import Trajectory, minimize
from .base import (WIDE_LABEL, LR_FORMAT, log_slider, float_slider, int_slider, escape_html, note, readout,
                   Experiment)
from .timeline import Timeline

#: β₂'s settings: 1 − β₂ on a 1-2-5 log scale, 0.5 down to 0.0001, so that every setting is a few key presses
#: from any other (a linear slider with 0.0001 steps needs hundreds of presses to get from 0.5 to 0.999).
BETA2_CHOICES = tuple(round(1 - gap, 4) for gap in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001,
                                                   0.0005, 0.0002, 0.0001))


def beta2_slider(value):
    """A slider over β₂ that moves in 1 − β₂ on a log scale (``BETA2_CHOICES``; ``value`` is added if missing).

    Its readout and its accessible value are β₂ itself, as shown ("0.999")."""
    value = float(value)
    if not 0 <= value < 1:
        raise ValueError(f"betas[1] (β₂) must be in [0, 1), got {value!r}")
    options = sorted(set(BETA2_CHOICES) | {value})
    return W.SelectionSlider(options=[(f"{b:g}", b) for b in options], value=value, description="β₂",
                             continuous_update=True, style=WIDE_LABEL, layout=W.Layout(width="320px"))


@dataclass
class AdamResult:
    landscape: object
    trajectory: Trajectory
    m: np.ndarray              # (n, 2) first moment after each step
    v: np.ndarray              # (n, 2) second moment after each step
    steps_taken: np.ndarray    # (n, 2) |θ_t − θ_{t−1}| per coordinate: the effective step size
    lr: float


class AdamExperiment(Experiment):
    title = "Adam's moments"
    shows = ("Adam's path over the landscape's contour map, left, and per coordinate its first moment m, "
             "second moment v and step size per step, right.")
    help = ("β₁ averages the gradient (m), β₂ its square (v); the step is lr · m̂ / (√v̂ + ε) per coordinate: "
            "its size is set by lr, not by the gradient's — usually about lr, but after a jump in the gradient "
            "up to lr (1 − β₁)/√(1 − β₂) (3.16 × lr with the defaults).")

    def __init__(self, landscape="rosenbrock", lr=0.05, betas=(0.9, 0.999), steps=200):
        super().__init__(11.0, 5.0)
        self.landscape = LANDSCAPES[landscape]() if isinstance(landscape, str) else landscape
        self.controls["lr"] = log_slider("learning rate", lr, -4, 0)
        self.controls["beta1"] = float_slider("β₁", betas[0], 0.0, 0.99, 0.01)
        self.controls["beta2"] = beta2_slider(betas[1])
        self.controls["steps"] = int_slider("steps", steps, 10, 500, 10)
        gs = self.figure.add_gridspec(3, 2, width_ratios=[1.1, 1])
        ax_path = self.figure.add_subplot(gs[:, 0])
        self.ax_m = self.figure.add_subplot(gs[0, 1])
        self.ax_v = self.figure.add_subplot(gs[1, 1], sharex=self.ax_m)
        self.ax_s = self.figure.add_subplot(gs[2, 1], sharex=self.ax_m)
        self.figure.subplots_adjust(left=0.06, right=0.98, bottom=0.1, top=0.93, wspace=0.2, hspace=0.45)
        self.paths = ContourPanel(ax_path, self.landscape, ["Adam"], legend=True, legend_loc="upper right",
                                  animated=True)
        self.trace = {}
        for ax, key, title in ((self.ax_m, "m", "first moment m (mean of g)"),
                               (self.ax_v, "v", "second moment v (mean of g²), log scale"),
                               (self.ax_s, "s", "step size |Δθ| per coordinate, log scale")):
            ax.set_title(title, fontsize="medium")
            ax.grid(True, alpha=0.3)
            for j, coord in enumerate(("x", "y")):
                st = style(j + 2)
                (self.trace[key, j],) = ax.plot([], [], color=st["color"], linestyle=st["linestyle"],
                                               linewidth=1.5, label=coord, animated=True)
        (self.lr_line,) = self.ax_s.plot([], [], color="black", linestyle=":", linewidth=1.2, label="lr",
                                         animated=True)
        # the three axes snap their limits to round numbers / whole decades, so their ticks are
        # part of a cached background (static_key) and only the curves are redrawn
        self.ax_m.legend(loc="upper right", fontsize="small", ncol=2).set_animated(True)
        self.ax_s.legend(loc="lower right", fontsize="small", ncol=3).set_animated(True)
        self.ax_s.set_xlabel("step t")
        self.timeline = Timeline(self, steps)
        self._start([W.HBox([self.controls["lr"], self.controls["steps"]]),
                     W.HBox([self.controls["beta1"], self.controls["beta2"]]), self.timeline.widget])

    def compute(self):
        lr = float(self.controls["lr"].value)
        hyper = dict(lr=lr, betas=(float(self.controls["beta1"].value), float(self.controls["beta2"].value)),
                     eps=1e-8)
        opt, m, v = Adam(**hyper), [], []

        def record(t, value, point):            # Adam's moments after step t
            m.append(opt.state.exp_avg)
            v.append(opt.state.exp_avg_sq)

        traj = minimize(self.landscape, opt, steps=int(self.controls["steps"].value), callback=record)
        as2 = lambda seq: np.array(seq, dtype=float).reshape(-1, 2)  # noqa: E731
        return AdamResult(self.landscape, traj, as2(m), as2(v), np.abs(np.diff(traj.points, axis=0)), lr)

    def draw(self, result):
        upto = self.timeline.step_for(result, int(self.controls["steps"].value))
        self.paths.update({"Adam": result.trajectory}, upto=upto)
        t = np.arange(1, len(result.m) + 1)
        n = max(len(t), 1)
        with np.errstate(divide="ignore"):
            series = {"m": result.m, "v": np.log10(result.v), "s": np.log10(result.steps_taken)}
        for key, data in series.items():
            for j in range(2):           # rows 0 … upto − 1 are steps 1 … upto
                self.trace[key, j].set_data(t[:upto], data[:upto, j] if len(data) else [])
                plots.mark_last(self.trace[key, j], style(j + 2)["marker"] if upto < len(t) else None)
        self.lr_line.set_data([1, n], [np.log10(result.lr)] * 2)
        self.ax_m.set_xlim(0, n)
        m = result.m[np.isfinite(result.m)]
        top = float(np.max(np.abs(m))) if m.size else 1.0
        top = plots.one_two_five(1.05 * top)
        self.ax_m.set_ylim(-top, top)
        for ax, key, extra in ((self.ax_v, "v", []), (self.ax_s, "s", [np.log10(result.lr)])):
            d = series[key][np.isfinite(series[key])]
            d = np.concatenate([d, extra]) if len(extra) else d
            if d.size:
                hi = float(np.max(d))
                lo = max(float(np.min(d)), hi - 12)                   # show at most 12 decades
                plots.log10_axis(ax, np.floor(lo - 0.1), np.ceil(hi + 0.1), max_ticks=4, pad=0.0)

    def layers(self):
        """The m, v and step-size panels, whose limits follow the run: one cached layer each."""
        return {ax: (ax.get_xlim(), ax.get_ylim()) for ax in (self.ax_m, self.ax_v, self.ax_s)}

    def describe(self, result):
        t = result.trajectory
        s = result.steps_taken
        big = float(np.max(s)) if s.size else 0.0
        b1, b2 = float(self.controls["beta1"].value), float(self.controls["beta2"].value)
        bound = (1 - b1) / np.sqrt(1 - b2)      # Kingma & Ba's step after a jump from zero gradients
        k = min(self.timeline.t, len(s))
        now = "" if k < 1 else (f", its step |Δθ| = ({s[k - 1, 0]:.3g}, {s[k - 1, 1]:.3g}) = "
                                f"({s[k - 1, 0] / result.lr:.2f}, {s[k - 1, 1] / result.lr:.2f}) × lr")
        step = self.timeline.caption({"Adam": t}, now)
        return note(f"{step}<br>{escape_html(t.message)}. Largest step in one coordinate: {big:.3g} = {big / result.lr:.2f} × lr "
                     f"(lr = {readout(result.lr, LR_FORMAT)}; a jump from zero gradients gives (1 − β₁)/√(1 − β₂) = "
                     f"{bound:.2f} × lr).", "warn" if t.diverged else "info")


def adam_experiment(landscape="rosenbrock", lr=0.05, betas=(0.9, 0.999), steps=200):
    """Adam with β₁, β₂ and lr sliders: the path, and beside it m, v and the step size per coordinate.

    Controls ``lr``, ``beta1``, ``beta2``, ``steps``; result ``AdamResult`` (``trajectory``,
    ``m``, ``v``, ``steps_taken`` — arrays (n, 2), one row per step).
    """
    return AdamExperiment(landscape, lr, betas, steps)
