"""Notebook 09's race beyond the bowl: first-order methods and Newton's method at a saddle."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import ipywidgets as W

from ..curvature import Newton, critical_point_kind
from ..functions import NoisyGradient, double_well
from ..optim import SGD, Adam
from .race import BETA1, BETA2, Hyper, OptimizerSpec, Race, lr_hyper
from .base import WIDE_LABEL, LogSlider, log_slider, float_slider, int_slider, escape_html, note

#: The racers of notebook 09: three first-order methods and Newton's method.
CURVATURE_OPTIMIZERS = {
    "GD": OptimizerSpec(SGD, (lr_hyper(0.1, -4, 0),)),
    "Momentum": OptimizerSpec(SGD, (lr_hyper(0.02, -4, 0), Hyper("momentum", "float", 0.9, 0.0, 0.99, 0.01,
                                                             "momentum β"))),
    "Adam": OptimizerSpec(Adam, (lr_hyper(0.05, -4, 0), BETA1, BETA2)),
    "Newton": OptimizerSpec(Newton, (Hyper("lr", "float", 1.0, 0.05, 1.0, 0.05, "lr η"),
                                     Hyper("damping", "float", 0.0, 0.0, 5.0, 0.05, "damping δ"),
                                     Hyper("saddle_free", "bool", False, label="saddle-free |H|"))),
}

#: How far below the saddle's height a run must get to count as having left it.
ESCAPE_MARGIN = 0.05


@dataclass(frozen=True)
class Outcome:
    """Where one run of the curvature race ended, in words and numbers."""
    name: str
    kind: str                  # "minimum", "saddle", "moving" (neither), "diverged", "singular"
    escaped_at: int | None     # first step with L < L(saddle) − ESCAPE_MARGIN (None: never)
    text: str                  # one plain sentence for the status line


def outcome(name, trajectory, landscape, saddle, optimizer=None, near=0.05):
    """The :class:`Outcome` of one run on a landscape with a saddle at ``saddle``.

    A run that ends within ``near`` of a known minimum or of the saddle is said to be
    there (with gradient noise it hovers rather than stops); the saddle is named by the
    signs of the Hessian's eigenvalues there (``optlessons.curvature.critical_point_kind``).
    """
    saddle = np.asarray(saddle, dtype=float)
    level = float(landscape.value(saddle)) - ESCAPE_MARGIN
    below = np.flatnonzero(trajectory.values < level)
    escaped_at = int(below[0]) if below.size else None
    end = trajectory.points[-1]
    where = f"({end[0]:.3g}, {end[1]:.3g})"
    if getattr(optimizer, "failure", None) is not None:
        return Outcome(name, "singular", escaped_at,
                       f"{name} stopped at step {trajectory.diverged_at}: the Hessian at {where} is singular, "
                       "so Newton's step is undefined there — raise the damping δ above 0.")
    if trajectory.diverged:
        why = ("Newton's step (H + δI)⁻¹∇L grew without bound where H + δI is close to singular; "
               "raise the damping δ" if isinstance(optimizer, Newton)
               else "its learning rate is too large for the valley's curvature")
        return Outcome(name, "diverged", escaped_at,
                       f"{name} diverged at step {trajectory.diverged_at} (the path is drawn up to where it "
                       f"left the picture): {why}.")
    minima = np.asarray(landscape.minima, dtype=float).reshape(-1, 2)
    if len(minima) and np.min(np.linalg.norm(minima - end, axis=1)) <= near:
        m = minima[np.argmin(np.linalg.norm(minima - end, axis=1))]
        return Outcome(name, "minimum", escaped_at, f"{name} reached the minimum ({m[0]:g}, {m[1]:g}).")
    if np.linalg.norm(end - saddle) <= near:
        H = landscape.hessian(saddle)
        curv = " and ".join(f"{v:.3g}" for v in np.linalg.eigvalsh(H))
        return Outcome(name, "saddle", escaped_at,
                       f"{name} is at the {critical_point_kind(H)} ({saddle[0]:g}, {saddle[1]:g}) "
                       f"after {trajectory.n_steps} steps (curvatures there {curv}: one of each sign).")
    grad_norm = float(np.linalg.norm(landscape.gradient(end)))
    return Outcome(name, "moving", escaped_at,
                   f"{name} is still on its way after {trajectory.n_steps} steps, at {where} "
                   f"(‖∇L‖ = {grad_norm:.2g}).")


class CurvatureRace(Race):
    """GD, momentum, Adam and Newton on the double well: a saddle between two valleys."""

    title = "A saddle between two valleys"
    help = ("start near the ridge and watch who lingers at the saddle, who escapes, and where Newton's "
            "method goes; add gradient noise to kick the runs off the ridge.")
    specs = CURVATURE_OPTIMIZERS
    saddle = (0.0, 0.0)            # the double well's saddle point

    def __init__(self, curvature=8.0, x0=1e-3, y0=1.2, noise=0.0, seed=0, steps=200):
        names = tuple(CURVATURE_OPTIMIZERS)
        super().__init__(names, set(names), steps=steps, tol=1e-2)
        self.controls["curvature"] = LogSlider(value=curvature, base=10, min=0, max=2, step=0.05,
                                               description="valley curvature c", readout_format=".3~g",
                                               style=WIDE_LABEL)
        self.controls["x0"] = log_slider("start x₀ (distance from the ridge)", x0, -8, 0, readout_format=".1e")
        self.controls["y0"] = float_slider("start y₀", y0, -1.4, 1.4, 0.05)
        self.controls["noise"] = float_slider("gradient noise σ", noise, 0.0, 0.5, 0.005)
        self.controls["seed"] = int_slider("noise seed", seed, 0, 9)
        for key in ("curvature", "x0", "y0", "noise", "seed"):
            self.controls[key].add_class(f"optlessons-{key}")
        for key in ("curvature", "x0"):             # long labels: room for the slider itself
            self.controls[key].layout = W.Layout(width="440px")
        self.markers = self.ax_path.plot([self.saddle[0]], [self.saddle[1]], linestyle="none", marker="X",
                                         markersize=10, color="white", markeredgecolor="black", zorder=3,
                                         label="saddle")
        self._cache = {}
        rows = [W.HBox([self.controls["curvature"], self.controls["steps"]]),
                W.HBox([self.controls["x0"], self.controls["y0"]]),
                W.HBox([self.controls["noise"], self.controls["seed"]]),
                self._toggle_row(), self.tabs]
        self._start(rows)
        self.widget.children = tuple(self.widget.children) + (self.summary,)

    def current_landscape(self):
        c = float(self.controls["curvature"].value)
        if c not in self._cache:
            self._cache.clear()
            self._cache[c] = double_well(curvature=c)
        return self._cache[c]

    def current_start(self, landscape):
        return np.array([self.controls["x0"].value, self.controls["y0"].value])

    def optimizer(self, name):
        """As ``Race.optimizer``; Newton also gets the landscape's Hessian (a function, not a control)."""
        if name != "Newton":
            return super().optimizer(name)
        spec = self.specs[name]
        values = {h.name: self.controls[f"{name}.{h.name}"].value for h in spec.hypers}
        return spec.make(values, hessian=self.current_landscape().hessian)

    def run_landscape(self, landscape):
        """Every run sees the same noise sequence (one seed), so the optimizers are compared fairly."""
        sigma = float(self.controls["noise"].value)
        if sigma == 0:
            return landscape
        return NoisyGradient(landscape, sigma, np.random.default_rng(int(self.controls["seed"].value)))

    def compute(self):
        result = super().compute()
        result.outcomes = {name: outcome(name, traj, result.landscape, self.saddle, result.optimizers[name])
                           for name, traj in result.trajectories.items()}
        # a Newton run stopped by a singular Hessian did not diverge: say so in the table too
        result.rows = [replace(row, status=f"stopped at step {row.diverged_at}: singular Hessian")
                       if row.name in result.outcomes and result.outcomes[row.name].kind == "singular" else row
                       for row in result.rows]
        return result

    def describe(self, result):
        if result.errors:
            return note("; ".join(f"{n}: {escape_html(e)}" for n, e in result.errors.items()), "warn")
        if not result.trajectories:
            return note("Tick at least one optimizer to race.", "warn")
        escaped = [f"{n} at step {o.escaped_at}" for n, o in result.outcomes.items() if o.escaped_at is not None]
        lines = [("Fell below the saddle's height: " + ", ".join(escaped) + ".") if escaped
                 else "No run fell below the saddle's height."]
        lines += [o.text for o in result.outcomes.values() if o.kind != "minimum"]
        sigma = float(self.controls["noise"].value)
        if sigma:
            lines.append(f"Every gradient carries noise of σ = {sigma:g} (seed {self.controls['seed'].value}).")
        bad = any(o.kind in ("diverged", "singular") for o in result.outcomes.values())
        return note("<br>".join(escape_html(line) for line in lines), "warn" if bad else "info")


def curvature_race(curvature=8.0, x0=1e-3, y0=1.2, noise=0.0, seed=0, steps=200):
    """GD, momentum, Adam and Newton racing on ``double_well(curvature)``: ¼(x² − 1)² + (c/2) y².

    Controls: ``curvature`` (c, the valleys' steepness across), ``x0`` (the start's
    distance from the ridge x = 0, log slider), ``y0``, ``noise`` (σ of Gaussian noise added
    to every gradient), ``seed``, ``steps``, each optimizer's ``<name>.lr`` and
    ``Momentum.momentum``, ``Adam.beta1/beta2``, ``Newton.damping``, ``Newton.saddle_free``.
    The result (a ``RaceResult``) also holds ``outcomes``: name -> :class:`Outcome`
    (where the run ended — a minimum, the saddle, still moving, diverged — and the
    step at which it fell below the saddle's height).
    """
    return CurvatureRace(curvature, x0, y0, noise, seed, steps)
