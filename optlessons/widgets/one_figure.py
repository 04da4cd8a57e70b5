"""The one-figure experiments: learning rate (03), line fit (01) and batch size (04)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ipywidgets as W

from .. import argcheck, plots
from ..functions import LANDSCAPES, escaped
from ..models import LinearRegression
from ..optim import SGD
from ..plots import ContourPanel, LossPanel
from ..train import Trajectory, fit, minimize
from .base import (WIDE_LABEL, LR_FORMAT, log_slider, float_slider, int_slider, escape_html, note, readout,
                   Experiment)
from .timeline import Timeline

# ============================================================================ learning rate

@dataclass
class LearningRateResult:
    landscape: object
    lr: float
    start: np.ndarray
    trajectory: Trajectory
    stability_limit: float | None      # 2 / (largest curvature at the minimum nearest the end), GD's limit there


def _stability_limit(landscape, near=None):
    """GD's limit 2/λmax at the known minimum nearest `near` (at the sharpest minimum if `near` is None)."""
    mins = np.asarray(landscape.minima).reshape(-1, 2)
    if not len(mins) or not hasattr(landscape, "hessian"):
        return None
    if near is not None and np.all(np.isfinite(near)):
        mins = mins[[np.argmin(np.linalg.norm(mins - near, axis=1))]]
    lmax = max(float(np.max(np.linalg.eigvalsh(landscape.hessian(m)))) for m in mins)
    return 2.0 / lmax if lmax > 0 else None


class LearningRateExperiment(Experiment):
    title = "Learning rate"
    shows = ("Gradient descent's path over the landscape's contour map, left, and its loss per step, right.")
    help = "move the learning rate and the start point; watch gradient descent crawl, zig-zag or blow up."

    def __init__(self, landscape="quadratic", lr=None, steps=50):
        super().__init__(10.0, 4.0)
        self.landscape = LANDSCAPES[landscape]() if isinstance(landscape, str) else landscape
        limit = _stability_limit(self.landscape)
        if lr is None:
            lr = 0.4 * limit if limit else 1e-3
        (x0, x1), (y0, y1) = self.landscape.window
        self.controls["lr"] = log_slider("learning rate η", lr, -4, 0.5)      # LR_FORMAT: 0.1995, not 0.2
        self.controls["lr"].add_class("optlessons-lr")
        self.controls["x0"] = float_slider("start θ₁", float(self.landscape.start[0]), x0, x1, (x1 - x0) / 100)
        self.controls["y0"] = float_slider("start θ₂", float(self.landscape.start[1]), y0, y1, (y1 - y0) / 100)
        self.controls["steps"] = int_slider("steps", steps, 10, 300, 10)      # 29 key presses end to end
        ax1 = self.figure.add_subplot(1, 2, 1)
        ax2 = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.22)
        self.paths = ContourPanel(ax1, self.landscape, ["gradient descent"], legend=True,
                                  legend_loc="best", animated=True)      # where no marker is
        self.losses = LossPanel(ax2, ["gradient descent"], f_star=self.landscape.f_star,
                                ylabel="L(θ) − L(θ*)   (log scale)", animated=True)
        ax1.set(xlabel="θ₁", ylabel="θ₂")
        self.floor_note = ax2.text(0.98, 0.96, "", transform=ax2.transAxes, ha="right", va="top", fontsize=9,
                                   color="0.25", animated=True,      # says so when the curve sits on the plot's floor
                                   bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.9))
        self.timeline = Timeline(self, steps)
        self._start([W.HBox([self.controls["lr"], self.controls["steps"]]),
                     W.HBox([self.controls["x0"], self.controls["y0"]]), self.timeline.widget])

    def compute(self):
        lr = float(self.controls["lr"].value)
        start = np.array([self.controls["x0"].value, self.controls["y0"].value])
        traj = minimize(self.landscape, SGD(lr=lr), start=start, steps=int(self.controls["steps"].value))
        return LearningRateResult(self.landscape, lr, start, traj, _stability_limit(self.landscape, traj.points[-1]))

    PLOT_FLOOR = 1e-16    # the loss panel draws a gap L − L* below this at this value (a log axis cannot show 0)

    def gap_below_plot_floor(self, result):
        """The gap L − L* at the step shown when it is below what the loss panel can draw, else None."""
        f_star = result.landscape.f_star
        t = result.trajectory
        gap = t.values[min(self.timeline.t, t.n_steps)] - (f_star or 0.0)
        if f_star is None or t.diverged or not gap < self.PLOT_FLOOR:
            return None
        return float(gap)

    def draw(self, result):
        upto = self.timeline.step_for(result, int(self.controls["steps"].value))
        self.paths.update({"gradient descent": result.trajectory}, start=result.start, upto=upto)
        self.losses.update({"gradient descent": result.trajectory}, upto=upto)
        gap = self.gap_below_plot_floor(result)
        self.floor_note.set_text("" if gap is None else
                                 f"flat line = the plot's floor 1e-16;\nthe loss gap itself is {gap:.1e}")

    def describe(self, result):
        t = result.trajectory
        limit = ""
        if result.stability_limit:
            ratio = result.lr / result.stability_limit
            limit = (f" η = {readout(result.lr, LR_FORMAT)} is {ratio:.3f} × the stability limit "
                     f"2/λ<sub>max</sub> = "
                     f"{result.stability_limit:.4g} (λ<sub>max</sub>: the largest curvature, the Hessian's largest "
                     f"eigenvalue, at the nearest minimum; gradient descent diverges above 2/λ<sub>max</sub>).")
        floor = ""
        gap = self.gap_below_plot_floor(result)
        if gap is not None:
            floor = (f" The loss gap is {gap:.1e}: the loss plot is drawn flat at 1e-16, "
                     f"the lowest it shows; the run has not stalled.")
        kind = "warn" if t.diverged else "info"
        step = self.timeline.caption({"gradient descent": t}) + "<br>"
        return note(step + escape_html(t.message) + "." + limit + floor, kind)


def learning_rate_experiment(landscape="quadratic", lr=None, steps=50):
    """Gradient descent with a learning-rate slider: path on the contours and the loss curve.

    ``landscape``: a key of ``LANDSCAPES`` or a Landscape. Controls ``lr``, ``x0``,
    ``y0``, ``steps``; the result (``LearningRateResult``) holds the ``trajectory``
    and GD's ``stability_limit`` 2/λmax near the minimum.
    """
    return LearningRateExperiment(landscape, lr, steps)


# ============================================================================ line fit

@dataclass
class LineFitResult:
    slope: float
    intercept: float
    residuals: np.ndarray          # r = ŷ − y = (slope x + intercept) − y, prediction minus target
    loss: float                    # mean squared residual
    best_slope: float
    best_intercept: float
    best_loss: float


def _line_data(seed=0, n=20):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 2.0, n))
    y = 1.5 * x + 0.5 + rng.normal(0.0, 0.6, n)
    return x, y


class _MSELandscape:
    """Mean squared error of a line (w, b) over data, as a landscape over (w, b)."""

    def __init__(self, x, y, window=None, name="MSE over (slope, intercept)"):
        self.x, self.y, self.name = np.asarray(x, float), np.asarray(y, float), name
        A = np.stack([self.x, np.ones_like(self.x)], axis=1)
        best = np.linalg.lstsq(A, self.y, rcond=None)[0]
        self.minima = best.reshape(1, 2)
        self.window = window or ((best[0] - 3, best[0] + 3), (best[1] - 3, best[1] + 3))
        self.start = np.array([best[0] - 2.5, best[1] + 2.0])

    @property
    def f_star(self):
        """L* = L(w*, b*), the least-squares fit's loss."""
        return float(self.value(self.minima[0]))

    def residuals(self, p):
        """r = ŷ − y for the line p = (w, b) (or an array of lines, shape (..., 2))."""
        p = np.asarray(p, dtype=float)
        return p[..., 0, None] * self.x + p[..., 1, None] - self.y

    def value(self, p):
        """L(w, b) = mean of r²."""
        return np.mean(self.residuals(p) ** 2, axis=-1)

    def gradient(self, p):
        """∇L = (2 mean(r x), 2 mean(r))."""
        r = self.residuals(p)
        return np.stack([2 * np.mean(r * self.x, axis=-1), 2 * np.mean(r, axis=-1)], axis=-1)


class LineFit(Experiment):
    title = "Fit a line by hand"
    shows = ("The data points with your line and its residuals, left, and where your slope and intercept sit "
             "on the loss's contour map, right.")
    help = "move slope and intercept to make the orange-red residuals small; the right panel shows where you are on the loss."

    def __init__(self, x=None, y=None, seed=0):
        super().__init__(10.0, 4.0)
        if x is None or y is None:
            x, y = _line_data(seed)
        self.x, self.y = np.asarray(x, float), np.asarray(y, float)
        self.loss_landscape = _MSELandscape(self.x, self.y)
        self.controls["slope"] = float_slider("slope w", 0.0, -2.0, 5.0, 0.05, continuous_update=True)
        self.controls["intercept"] = float_slider("intercept b", 0.0, -3.0, 3.0, 0.05, continuous_update=True)
        self.controls["slope"].add_class("optlessons-slope")
        ax1 = self.figure.add_subplot(1, 2, 1)
        ax2 = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.22)
        from matplotlib.collections import LineCollection
        ax1.scatter(self.x, self.y, s=22, color=plots.PALETTE[0], zorder=3, label="data")
        pad = 0.3
        self.xs = np.array([self.x.min() - pad, self.x.max() + pad])
        self.fit_line, = ax1.plot([], [], color="black", linewidth=2, label="your line ŷ = w x + b")
        self.residual_lines = LineCollection([], colors=plots.OKABE_ITO["vermillion"], linewidths=1.5,
                                             label="residuals r = ŷ − y")
        ax1.add_collection(self.residual_lines)
        ax1.set_xlim(self.xs)
        span = self.y.max() - self.y.min()
        ax1.set_ylim(self.y.min() - 0.6 * span, self.y.max() + 0.6 * span)
        ax1.set_xlabel("x")
        ax1.set_ylabel("y")
        ax1.legend(loc="upper left", fontsize="small")
        self.title_text = ax1.set_title("")
        for a in (self.fit_line, self.residual_lines, self.title_text):
            a.set_animated(True)
        self.loss_panel = ContourPanel(ax2, self.loss_landscape, ["you"], legend=True, legend_loc="upper right",
                                       window=((-2.0, 5.0), (-3.0, 3.0)),
                                       title="Mean squared error over (w, b)", animated=True)
        self.loss_panel.start.set_visible(False)     # the only point is "you"
        ax2.set_xlabel("slope w")
        ax2.set_ylabel("intercept b")
        self._start([W.HBox([self.controls["slope"], self.controls["intercept"]])])

    def compute(self):
        w, b = float(self.controls["slope"].value), float(self.controls["intercept"].value)
        r = self.loss_landscape.residuals([w, b])
        bw, bb = self.loss_landscape.minima[0]
        best = self.loss_landscape.f_star
        return LineFitResult(w, b, r, float(np.mean(r ** 2)), float(bw), float(bb), best)

    def draw(self, result):
        w, b = result.slope, result.intercept
        self.fit_line.set_data(self.xs, w * self.xs + b)
        pred = w * self.x + b
        self.residual_lines.set_segments([[(xi, yi), (xi, pi)] for xi, yi, pi in zip(self.x, self.y, pred)])
        self.title_text.set_text(f"MSE = {result.loss:.3f}   (best possible {result.best_loss:.3f})")
        self.loss_panel.update({"you": np.array([[w, b]])}, start=None)

    def describe(self, result):
        gap = result.loss - result.best_loss
        if gap < 0.01:
            return note(f"Spot on: MSE {result.loss:.3f}, the least-squares line is "
                         f"w = {result.best_slope:.2f}, b = {result.best_intercept:.2f}.", "ok")
        return note(f"MSE {result.loss:.3f}: {gap:.3f} above the best possible line.")


def line_fit(x=None, y=None, seed=0):
    """Fit a line by hand: slope and intercept sliders, the residuals, and the MSE over (w, b).

    Without data, 20 points around y = 1.5 x + 0.5 (noise 0.6, ``seed``).
    Controls ``slope``, ``intercept``; result ``LineFitResult`` (``residuals``, ``loss``, the best line).
    """
    return LineFit(x, y, seed)


# ============================================================================ batch size

@dataclass
class BatchSizeResult:
    batch_size: int
    lr: float
    points: np.ndarray            # (steps + 1, 2): (w, b) after each update of mini-batch SGD
    losses: np.ndarray            # full-data MSE at each point
    full_batch: np.ndarray        # the same number of full-batch GD steps, for comparison
    full_batch_losses: np.ndarray
    diverged: bool
    message: str


@dataclass
class _Path:
    """A path drawn like a Trajectory (points, values, diverged)."""
    points: np.ndarray
    values: np.ndarray
    diverged: bool = False


def _regression_data(seed=0, n=128):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n)
    y = 2.0 * x - 1.0 + rng.normal(0.0, 1.0, n)
    return x, y


class BatchSizeExperiment(Experiment):
    title = "Mini-batch size"
    shows = ("The paths of mini-batch SGD and of full-batch gradient descent over the loss's contour map, "
             "left, and their losses per step, right.")
    help = ("each step uses a random mini-batch of the data: smaller batches give cheaper, noisier steps. "
            "The dashed grey path is full-batch gradient descent.")

    BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128)

    def __init__(self, batch_size=4, lr=0.05, steps=100, seed=0):
        super().__init__(10.0, 4.0)
        self.x, self.y = _regression_data(seed)
        self.seed = seed
        self.loss_landscape = _MSELandscape(self.x, self.y, name="Full-data MSE over (w, b)")
        self.loss_landscape.start = np.array([-1.0, 1.5])
        best = self.loss_landscape.minima[0]
        self.loss_landscape.window = ((best[0] - 3.5, best[0] + 1.5), (best[1] - 1.5, best[1] + 3.5))
        self.controls["batch_size"] = W.SelectionSlider(options=list(self.BATCH_SIZES), value=batch_size,
                                                        description="batch size",
                                                        style=WIDE_LABEL)
        self.controls["lr"] = log_slider("learning rate η", lr, -3, 0.3)
        self.controls["steps"] = int_slider("steps", steps, 20, 500, 20)    # 24 key presses end to end
        self.controls["seed"] = W.IntText(value=seed, description="sampling seed", style=WIDE_LABEL,
                                          layout=W.Layout(width="160px"))
        ax1 = self.figure.add_subplot(1, 2, 1)
        ax2 = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.22)
        labels = ["mini-batch SGD", "full batch"]
        self.paths = ContourPanel(ax1, self.loss_landscape, labels, legend=True, legend_loc="best",
                                  animated=True)                  # the legend goes where no marker is
        self.losses = LossPanel(ax2, labels, f_star=self.loss_landscape.f_star,
                                title="Full-data loss", ylabel="L(θ) − L(θ*)   (log scale)", animated=True)
        for panel in (self.paths.lines, self.paths.ends, self.losses.lines):
            panel["full batch"].set_color("0.35")
            panel["full batch"].set_linestyle("--")
        ax1.set_xlabel("slope w")
        ax1.set_ylabel("intercept b")
        self._start([W.HBox([self.controls["batch_size"], self.controls["lr"]]),
                     W.HBox([self.controls["steps"], self.controls["seed"]])])

    def _run(self, batch_size, lr, steps, rng):
        """``steps`` updates of ``train.fit`` (SGD, MSE, reshuffled every epoch by ``rng``) from the start:
        (points, full-data losses, diverged). A point that escapes (``functions.escaped``) ends the run."""
        f = self.loss_landscape
        w0, b0 = f.start
        points = [f.start]

        def record(t, loss, params):            # after update t: keep (w, b); stop at `steps` or on escape
            points.append((float(params["w"][0]), float(params["b"])))
            return t + 1 == steps or escaped(points[-1], f.window)

        per_epoch = -(-len(self.x) // batch_size)             # updates per pass, the last batch maybe smaller
        epochs = max(1, -(-steps // per_epoch))                # enough passes for `steps` updates
        history = fit(LinearRegression(1), {"w": np.array([w0]), "b": np.array(b0)}, SGD(lr=lr),
                      self.x[:, None], self.y, epochs=epochs, batch_size=batch_size, rng=rng, callback=record)
        pts = np.array(points, dtype=float)
        return pts, f.value(pts), bool(history.diverged or escaped(pts[-1], f.window))

    def compute(self):
        bs, lr = int(self.controls["batch_size"].value), float(self.controls["lr"].value)
        steps = int(self.controls["steps"].value)
        rng = np.random.default_rng(argcheck.integer(self.controls["seed"].value, "the sampling seed", 0))
        pts, losses, diverged = self._run(bs, lr, steps, rng)
        full = minimize(self.loss_landscape, SGD(lr=lr), steps=steps)     # full batch: GD on the full-data loss
        if diverged:
            message = f"diverged at step {len(pts) - 1}: the steps grew without bound; try a smaller learning rate"
        else:
            epochs = steps * bs / len(self.x)
            message = (f"{steps} steps of batch {bs} = {epochs:.3g} passes over the {len(self.x)} points; "
                       f"final full-data MSE {losses[-1]:.4g} (best {self.loss_landscape.f_star:.4g})")
        return BatchSizeResult(bs, lr, pts, losses, full.points, full.values, diverged, message)

    def draw(self, result):
        paths = {"mini-batch SGD": _Path(result.points, result.losses, result.diverged),
                 "full batch": _Path(result.full_batch, result.full_batch_losses)}
        self.paths.update(paths, start=self.loss_landscape.start)
        self.losses.update(paths)

    def describe(self, result):
        return note(escape_html(result.message) + ".", "warn" if result.diverged else "info")


def batch_size_experiment(batch_size=4, lr=0.05, steps=100, seed=0):
    """Mini-batch SGD on a 2-parameter linear regression (128 seeded points, y ≈ 2x − 1).

    Controls ``batch_size``, ``lr``, ``steps``, ``seed`` (the sampling seed).
    Left: the noisy (w, b) path over the full-data loss contours, with full-batch GD
    dashed; right: the full-data loss per step. Result: ``BatchSizeResult``.
    """
    return BatchSizeExperiment(batch_size, lr, steps, seed)
