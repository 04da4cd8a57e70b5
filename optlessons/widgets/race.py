"""Racing optimizers on a landscape: the playground (``playground``) and 06's adaptive methods (``adaptive_experiment``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import ipywidgets as W

from ..functions import LANDSCAPES, quadratic
from ..optim import (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax, Rprop, ASGD, Adafactor,
                     Lion, ScheduleFreeSGD, ScheduleFreeAdamW, LBFGS)
from ..plots import ContourPanel, LossPanel, style
from ..train import Trajectory, minimize
from .base import (
    WIDE_LABEL, LogSlider, log_slider, float_slider, int_slider, set_range, slider_text, escape_html, swatch,
    TEXT_COLOURS,
    set_loss_ylabel, note, Experiment)
from .timeline import Timeline

@dataclass(frozen=True)
class Hyper:
    """One hyperparameter control: keyword argument, kind, default and range."""
    name: str
    kind: str                 # "log" (log slider, lo/hi exponents), "float", "int", "bool"
    default: float
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.01
    label: str | None = None


@dataclass(frozen=True)
class OptimizerSpec:
    cls: type
    hypers: tuple
    fixed: dict = field(default_factory=dict)

    def make(self, values, **extra):
        """The optimizer from control values (betas assembled from beta1/beta2); ``extra``: more keywords."""
        kw = dict(self.fixed)
        for h in self.hypers:
            kw[h.name] = values[h.name]
        kw.update(extra)
        if "beta1" in kw:
            kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
        return self.cls(**kw)


def lr_hyper(default, lo=-5, hi=1):
    """A learning-rate control: a log slider from 10**lo to 10**hi."""
    return Hyper("lr", "log", default, lo, hi, label="lr")


BETA1 = Hyper("beta1", "float", 0.9, 0.0, 0.99, 0.01, "β₁")
BETA2 = Hyper("beta2", "float", 0.999, 0.0, 0.9999, 0.0001, "β₂")

#: The optimizers the playground can race, with the controls each gets.
OPTIMIZERS = {
    "GD": OptimizerSpec(SGD, (lr_hyper(1e-3),)),
    "Momentum": OptimizerSpec(SGD, (lr_hyper(1e-3), Hyper("momentum", "float", 0.9, 0.0, 0.99, 0.01, "momentum β"),
                                    Hyper("nesterov", "bool", False, label="Nesterov"))),
    "Adagrad": OptimizerSpec(Adagrad, (lr_hyper(0.5, -4, 1),)),
    "RMSprop": OptimizerSpec(RMSprop, (lr_hyper(0.01, -4, 1), Hyper("alpha", "float", 0.99, 0.0, 0.999, 0.001, "α (smoothing)"),
                                       Hyper("momentum", "float", 0.0, 0.0, 0.99, 0.01, "momentum"))),
    "Adadelta": OptimizerSpec(Adadelta, (lr_hyper(1.0, -3, 2), Hyper("rho", "float", 0.9, 0.0, 0.999, 0.001, "ρ"))),
    "Adam": OptimizerSpec(Adam, (lr_hyper(0.05, -4, 1), BETA1, BETA2,
                                 Hyper("amsgrad", "bool", False, label="AMSGrad"))),
    "AdamW": OptimizerSpec(AdamW, (lr_hyper(0.05, -4, 1), BETA1, BETA2,
                                   Hyper("weight_decay", "float", 0.01, 0.0, 0.5, 0.005, "weight decay ω"))),
    "NAdam": OptimizerSpec(NAdam, (lr_hyper(0.05, -4, 1), BETA1, BETA2,
                                   Hyper("momentum_decay", "float", 4e-3, 0.0, 0.05, 0.001, "momentum_decay"))),
    "RAdam": OptimizerSpec(RAdam, (lr_hyper(0.05, -4, 1), BETA1, BETA2)),
    "Adamax": OptimizerSpec(Adamax, (lr_hyper(0.05, -4, 1), BETA1, BETA2)),
    "Rprop": OptimizerSpec(Rprop, (lr_hyper(0.01, -4, 0),)),
    "ASGD": OptimizerSpec(ASGD, (lr_hyper(1e-3), Hyper("t0", "float", 50.0, 0.0, 500.0, 10.0, "t₀ (average from)"))),
    "Adafactor": OptimizerSpec(Adafactor, (lr_hyper(0.05, -4, 0),)),
    "Lion": OptimizerSpec(Lion, (lr_hyper(0.01, -4, 0), BETA1, Hyper("beta2", "float", 0.99, 0.0, 0.9999, 0.0001, "β₂"))),
    "ScheduleFreeSGD": OptimizerSpec(ScheduleFreeSGD, (lr_hyper(1e-3), Hyper("momentum", "float", 0.9, 0.05, 0.99,
                                                                              0.01, "β (where y sits)"))),
    "ScheduleFreeAdamW": OptimizerSpec(ScheduleFreeAdamW, (lr_hyper(0.05, -4, 1), BETA1, BETA2)),
    # One race step is one LBFGS call with max_iter=1: one quasi-Newton iteration, whose line
    # search may evaluate f and ∇f several times (the race counts iterations, not evaluations).
    "LBFGS": OptimizerSpec(LBFGS, (lr_hyper(1.0, -3, 1), Hyper("history_size", "int", 10, 1, 50, 1, "history")),
                           fixed={"max_iter": 1, "line_search_fn": "strong_wolfe"}),
}
# Muon is not here: it orthogonalizes a weight *matrix*, and a point on these landscapes is a vector.

#: Colour, marker and line style of each optimizer the playground races: every colour, marker and
#: line style its own, so colour is never the only cue. The first eight keep the course's
#: Okabe–Ito order (GD blue, Momentum vermillion, …); the others are dark colours from Paul Tol's
#: colour-blind-safe "muted" scheme (and a brown and a magenta), none as light as the yellow
#: NAdam had (hard to see on the grey contours).
RACE_STYLES = {name: style(i) for i, name in enumerate(("GD", "Momentum", "Adagrad", "RMSprop", "Adadelta",
                                                        "Adam", "AdamW"))}
RACE_STYLES.update({
    name: {"color": colour, "marker": marker, "linestyle": linestyle}
    for name, colour, marker, linestyle in (
        ("NAdam", "#332288", "*", (0, (4, 1, 1, 1))),              # indigo
        ("RAdam", "#117733", "h", (0, (1, 1))),                    # green
        ("Adamax", "#882255", "<", (0, (8, 2, 1, 2))),             # wine
        ("Rprop", "#CC6677", "p", (0, (10, 3))),                   # rose
        ("ASGD", "#44AA99", ">", (0, (6, 2, 2, 2, 2, 2))),         # teal
        ("Adafactor", "#999933", "d", (0, (2, 2))),                # olive
        ("Lion", "#AA4499", "H", (0, (12, 2, 2, 2))),              # purple
        ("ScheduleFreeSGD", "#8C510A", "8", (0, (3, 3))),          # brown
        ("ScheduleFreeAdamW", "#EE3377", "2", (0, (1, 2, 4, 2))),  # magenta
        ("LBFGS", "#666666", "1", (0, (6, 1, 1, 1, 1, 1, 1, 1))),  # dark grey
    )})
RACE_STYLES["AdamW"] = {**RACE_STYLES["AdamW"], "linestyle": (0, (5, 2, 1, 2))}   # style(6)'s "-" is GD's

#: Learning rates that make a good first race on each landscape (set when the landscape changes).
#: The lesson-11 optimizers' (Rprop to LBFGS) are the best of 1e-4, 3e-4, …, 1 at ending near a
#: minimum in 200 steps from the landscape's start (any moderate one on the saddle).
#: RAdam's are smaller than Adam's on the steep landscapes: its first steps, before the variance
#: estimate is trusted, are un-normalised momentum steps of size lr·m̂, which blow up on Rosenbrock at 0.1.
SUGGESTED_LR = {
    "quadratic": {"GD": 0.1, "Momentum": 0.01, "Adagrad": 1.0, "RMSprop": 0.1, "Adadelta": 1.0,
                  "Adam": 0.3, "AdamW": 0.3, "NAdam": 0.3, "RAdam": 0.3, "Adamax": 0.3,
                  "Rprop": 0.001, "ASGD": 0.1, "Adafactor": 1.0,
                  "Lion": 1.0, "ScheduleFreeSGD": 0.3, "ScheduleFreeAdamW": 1.0, "LBFGS": 1.0},
    "rosenbrock": {"GD": 1e-3, "Momentum": 1e-3, "Adagrad": 1.0, "RMSprop": 0.1, "Adadelta": 1.0,
                   "Adam": 0.1, "AdamW": 0.1, "NAdam": 0.1, "RAdam": 0.01, "Adamax": 0.1,
                   "Rprop": 0.1, "ASGD": 0.001, "Adafactor": 1.0,
                   "Lion": 0.1, "ScheduleFreeSGD": 0.01, "ScheduleFreeAdamW": 1.0, "LBFGS": 0.1},
    "beale": {"GD": 0.03, "Momentum": 0.003, "Adagrad": 1.0, "RMSprop": 0.1, "Adadelta": 1.0,
              "Adam": 0.3, "AdamW": 0.3, "NAdam": 0.3, "RAdam": 0.01, "Adamax": 0.3,
              "Rprop": 0.0003, "ASGD": 0.03, "Adafactor": 1.0,
              "Lion": 0.1, "ScheduleFreeSGD": 0.01, "ScheduleFreeAdamW": 1.0, "LBFGS": 1.0},
    "himmelblau": {"GD": 0.01, "Momentum": 0.003, "Adagrad": 0.3, "RMSprop": 0.03, "Adadelta": 1.0,
                   "Adam": 0.1, "AdamW": 0.1, "NAdam": 0.1, "RAdam": 0.02, "Adamax": 0.1,
                   "Rprop": 0.0001, "ASGD": 0.003, "Adafactor": 0.1,
                   "Lion": 0.1, "ScheduleFreeSGD": 0.1, "ScheduleFreeAdamW": 1.0, "LBFGS": 0.03},
    "saddle": {"GD": 0.01, "Momentum": 0.003, "Adagrad": 0.1, "RMSprop": 0.01, "Adadelta": 1.0,
               "Adam": 0.05, "AdamW": 0.05, "NAdam": 0.05, "RAdam": 0.05, "Adamax": 0.05,
               "Rprop": 0.01, "ASGD": 0.01, "Adafactor": 0.05,
               "Lion": 0.01, "ScheduleFreeSGD": 0.01, "ScheduleFreeAdamW": 0.05, "LBFGS": 1.0},
    "six_hump_camel": {"GD": 0.03, "Momentum": 0.01, "Adagrad": 0.3, "RMSprop": 0.03, "Adadelta": 1.0,
                       "Adam": 0.03, "AdamW": 0.03, "NAdam": 0.01, "RAdam": 0.01, "Adamax": 0.03,
                       "Rprop": 0.0003, "ASGD": 0.1, "Adafactor": 0.01,
                       "Lion": 0.03, "ScheduleFreeSGD": 0.3, "ScheduleFreeAdamW": 0.3, "LBFGS": 1.0},
}


def _hyper_control(h, prefix):
    label = h.label or h.name
    if h.kind == "log":
        c = log_slider(label, h.default, h.lo, h.hi)
    elif h.kind == "bool":
        c = W.Checkbox(value=bool(h.default), description=label, indent=False)
    elif h.kind == "int":
        c = int_slider(label, int(h.default), int(h.lo), int(h.hi), int(h.step))
    else:
        c = float_slider(label, h.default, h.lo, h.hi, h.step)
    c.add_class(f"optlessons-{prefix}-{h.name}".lower())
    return c


@dataclass(frozen=True)
class SummaryRow:
    """How one run ended: where, at what value, and when it got close (or blew up).

    ``escaped``: it left the picture on a landscape without a minimum while its loss kept
    falling (leaving a saddle, the expected outcome — not a divergence to fix). ``oscillating``:
    it ended farther than ``tol`` from every minimum while its loss still rose at a quarter or
    more of its last steps. ``settings``: the optimizer's hyperparameters, e.g. "lr 0.001, β 0.9".
    """
    name: str
    end: tuple | None
    value: float | None
    steps_to_tol: int | None
    diverged_at: int | None
    status: str
    escaped: bool = False
    oscillating: bool = False
    settings: str = ""


#: A run "oscillates" when its loss rose at this share (or more) of its last steps.
OSCILLATION_SHARE = 0.25


def _rising_share(values):
    """The share of the last max(10, min(50, n/4)) steps at which the loss went up."""
    v = np.asarray(values, dtype=float)
    k = max(10, min(50, (len(v) - 1) // 4))
    tail = v[-(k + 1):]
    return float(np.mean(np.diff(tail) > 0)) if len(tail) > 1 else 0.0


def summarize(name, trajectory, tol):
    """The ``SummaryRow`` of one trajectory (tolerance ``tol`` = distance to the nearest minimum)."""
    if not isinstance(trajectory, Trajectory):
        return SummaryRow(name, None, None, None, None, str(trajectory))
    end = tuple(float(v) for v in trajectory.points[-1])
    value = float(trajectory.values[-1])
    has_minima = len(trajectory.minima) > 0
    reached = trajectory.steps_to(tol) if has_minima else None
    near_at_end = has_minima and float(np.min(np.hypot(*(trajectory.minima - trajectory.points[-1]).T))) <= tol
    diverged_at, escaped, oscillating = None, False, False
    if trajectory.diverged:
        diverged_at = trajectory.diverged_at
        finite = trajectory.values[np.isfinite(trajectory.values)]
        escaped = not has_minima and len(finite) > 1 and finite[-1] < finite[0]
        if escaped:
            status = (f"escaped the saddle: left the picture at step {diverged_at}, the loss still falling "
                      "(expected: this surface has no minimum)")
        else:
            status = f"diverged at step {diverged_at}"
    elif has_minima and not near_at_end and _rising_share(trajectory.values) >= OSCILLATION_SHARE:
        oscillating = True
        status = "oscillating, not converging"
        if reached is not None:
            status += f" (passed within {tol:g} of a minimum at step {reached}, then left)"
    elif reached is not None:
        status = f"within {tol:g} of a minimum after {reached} steps"
    elif not has_minima:
        status = "no minimum to reach"
    else:
        status = f"not within {tol:g} of a minimum after {trajectory.n_steps} steps"
    return SummaryRow(name, end, value, reached, diverged_at, status, escaped, oscillating)


@dataclass
class RaceResult:
    """What a race computed: the landscape, the start, one Trajectory per optimizer, a summary."""
    landscape: object
    start: np.ndarray
    trajectories: dict            # name -> Trajectory
    errors: dict                  # name -> message, for optimizers that could not be built
    rows: list                    # SummaryRow per optimizer raced (and per error)
    steps: int
    tol: float
    optimizers: dict = field(default_factory=dict)   # name -> the optimizer object each run used
    outcomes: dict = field(default_factory=dict)     # name -> Outcome (filled by CurvatureRace)

    @property
    def diverged(self):
        """The optimizers that blew up (leaving a saddle's picture with a falling loss is not one)."""
        escaped = {r.name for r in self.rows if r.escaped}
        return [name for name, t in self.trajectories.items() if t.diverged and name not in escaped]

    @property
    def escaped(self):
        return [r.name for r in self.rows if r.escaped]


class Race(Experiment):
    """Several optimizers from one start point on one landscape: paths and loss curves.

    The base of the playground and of ``adaptive_experiment``. Subclasses give
    ``current_landscape()``, the optimizer names on offer and which start on.
    """

    names = tuple(OPTIMIZERS)
    specs = OPTIMIZERS            # name -> OptimizerSpec: the optimizers this race can build
    styles = None                 # name -> line style (colour, marker, dashes); None: by position
    timeline = None               # a Timeline replays the race step by step (the playground's)
    drawn_in_browser = True       # the paths and loss curves drawn in the browser (``canvas.BrowserFigure``)

    def __init__(self, names, enabled, *, steps=200, tol=1e-2, width=10.5, height=4.5):
        super().__init__(width, height)
        self.names = tuple(names)
        self._figure_landscape = None
        # race toggles and hyperparameters
        self.toggles = {}
        pages = []
        for i, name in enumerate(self.names):
            spec = self.specs[name]
            toggle = W.Checkbox(value=name in enabled, description=name, indent=False,
                                layout=W.Layout(width="auto", margin="0 14px 0 0"))
            toggle.add_class(f"optlessons-toggle-{name}".lower())
            self.toggles[name] = self.controls[f"{name}.on"] = toggle
            widgets = []
            for h in spec.hypers:
                c = _hyper_control(h, name)
                self.controls[f"{name}.{h.name}"] = c
                widgets.append(c)
            pages.append(W.HBox([W.VBox(widgets[:2]), W.VBox(widgets[2:])]))
        self.tabs = W.Tab(children=pages)
        self.tabs.titles = tuple(self.names)
        self.controls["steps"] = int_slider("steps", steps, 10, 1000, 10)
        self.controls["tol"] = W.FloatLogSlider(value=tol, base=10, min=-4, max=0, step=0.5,
                                                description="tolerance", readout_format=".0e",
                                                style=WIDE_LABEL,
                                                layout=W.Layout(width="260px"))
        self.summary = W.HTML()
        self.summary.add_class("optlessons-summary")
        # the figure: contours left, loss curves right
        ax_path = self.figure.add_subplot(1, 2, 1)
        ax_loss = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.06, right=0.98, bottom=0.21, top=0.93, wspace=0.2)
        self.ax_path, self.ax_loss = ax_path, ax_loss
        self.markers = []          # extra static markers on the contour panel, listed in the legend
        self._legend = None
        self._legend_key = None

    def _toggle_row(self):
        return W.HBox([W.HTML("race:&nbsp;")] + list(self.toggles.values()),
                      layout=W.Layout(flex_flow="row wrap"))

    def _make_panels(self, landscape):
        if not hasattr(self, "paths"):
            self.paths = ContourPanel(self.ax_path, landscape, self.names, legend=False, animated=True,
                                      styles=self.styles)
            self.losses = LossPanel(self.ax_loss, self.names, f_star=landscape.f_star,
                                    animated=True, styles=self.styles)
        elif landscape is not self._figure_landscape:
            self.paths.set_landscape(landscape)
            self.losses.set_f_star(landscape.f_star)
            self.renderer.invalidate()
        set_loss_ylabel(self.losses)
        self._figure_landscape = landscape

    def _figure_legend(self, names, landscape):
        """One legend under both panels (optimizers, start, minimum): outside the data, so the
        paths never cross it and it can stay in the cached background (see ``static_key``)."""
        minima = [a for a in self.paths._background if getattr(a, "get_label", lambda: "")() == "minimum"]
        key = (tuple(names), bool(minima))
        if key == self._legend_key:
            return
        if self._legend is not None:
            self._legend.remove()
        handles = [self.paths.lines[n] for n in names] + [self.paths.start] + minima + self.markers
        self._legend = self.figure.legend(handles=handles, loc="lower center", ncol=len(handles),
                                          fontsize="small", frameon=False, bbox_to_anchor=(0.5, 0.0))
        self._legend_key = key

    def static_key(self):
        return super().static_key() + (self._legend_key,)

    # -- to fill in
    def current_landscape(self):
        raise NotImplementedError

    def current_start(self, landscape):
        return landscape.start

    # -- the cycle
    def optimizer(self, name):
        """A fresh optimizer ``name`` built from the controls (may raise ValueError)."""
        spec = self.specs[name]
        values = {h.name: self.controls[f"{name}.{h.name}"].value for h in spec.hypers}
        return spec.make(values, **self.shared_hypers(name))

    def shared_hypers(self, name):
        """Keywords set by controls shared by several optimizers (none here; see ``AdaptiveExperiment``)."""
        return {}

    def run_landscape(self, landscape):
        """The landscape one optimizer's run sees (the same one here; ``CurvatureRace`` adds noise)."""
        return landscape

    def compute(self):
        landscape = self.current_landscape()
        start = np.asarray(self.current_start(landscape), dtype=float)
        steps, tol = int(self.controls["steps"].value), float(self.controls["tol"].value)
        trajectories, errors, rows, optimizers = {}, {}, [], {}
        for name in self.names:
            if not self.toggles[name].value:
                continue
            try:
                opt = self.optimizer(name)
            except ValueError as err:
                errors[name] = f"not run: {err}"
                rows.append(summarize(name, errors[name], tol))
                continue
            # the optimizer and its run, rerun only when a control it depends on moved
            optimizers[name], trajectories[name] = self.remembered(self.run_key(name), lambda: (
                opt, minimize(self.run_landscape(landscape), opt, start=start, steps=steps)))
            rows.append(replace(summarize(name, trajectories[name], tol), settings=self.settings(name)))
        return RaceResult(landscape, start, trajectories, errors, rows, steps, tol, optimizers)

    def run_key(self, name):
        """What optimizer ``name``'s run depends on: every control but the other optimizers' own."""
        others = tuple(f"{n}." for n in self.names if n != name)
        return (name,) + tuple((k, v) for k, v in self.values().items() if not k.startswith(others))

    def settings(self, name):
        """The raced optimizer's key settings as the table shows them, e.g. "lr 0.001, momentum β 0.9"."""
        parts = []
        for h in self.specs[name].hypers:
            control = self.controls[f"{name}.{h.name}"]
            label = h.label or h.name
            if h.kind == "bool":
                if control.value:
                    parts.append(label)
            else:
                parts.append(f"{label} {slider_text(control)}")       # as its slider shows it
        parts += [f"{k} {v:.3g}" for k, v in self.shared_hypers(name).items()]
        return ", ".join(parts)

    def draw(self, result):
        self._make_panels(result.landscape)
        upto = None if self.timeline is None else self.timeline.step_for(result, result.steps)
        self.paths.update(result.trajectories, start=result.start, upto=upto)
        # the shorter a path, the higher it is drawn: a slow optimizer's short path is not hidden
        # under a fast one's long path over the same ground (GD under Adam on Rosenbrock)
        lengths = {n: float(np.sum(np.hypot(*np.diff(self.paths.lines[n].get_xydata(), axis=0).T)))
                   for n in result.trajectories}
        for rank, n in enumerate(sorted(lengths, key=lengths.get, reverse=True)):
            self.paths.lines[n].set_zorder(4 + 0.01 * rank)
            self.paths.ends[n].set_zorder(5 + 0.01 * rank)
        self.losses.update(result.trajectories, upto=upto)
        self._figure_legend([n for n in self.names if n in result.trajectories], result.landscape)
        self.summary.value = self.summary_html(result)

    def summary_html(self, result):
        if not result.rows:
            return "<i>Tick at least one optimizer to race.</i>"
        head = ("<tr><th align=left>optimizer</th><th align=left>settings</th><th align=left>ended at (x, y)</th>"
                "<th align=right>L</th><th align=left>&nbsp;outcome</th></tr>")
        body = []
        for row in result.rows:
            i = self.names.index(row.name) if self.styles is None else self.styles[row.name]["color"]
            end = "—" if row.end is None else f"({row.end[0]:.4g}, {row.end[1]:.4g})"
            val = "—" if row.value is None else f"{row.value:.4g}"
            bad = (row.diverged_at is not None and not row.escaped) or row.end is None or row.oscillating
            kind = "warn" if bad else ("ok" if row.steps_to_tol is not None else "info")
            body.append(f"<tr><td>{swatch(i)} {escape_html(row.name)}</td><td>{escape_html(row.settings)}</td><td>{end}</td>"
                        f"<td align=right>{val}</td><td style='color:{TEXT_COLOURS[kind]}'>&nbsp;{escape_html(row.status)}</td></tr>")
        return f"<table style='font-size:90%'>{head}{''.join(body)}</table>"

    def summary_text(self):
        rows = [f"{row.name} ({row.settings}): {row.status}"
                + ("" if row.value is None else f", L = {row.value:.4g} at ({row.end[0]:.4g}, {row.end[1]:.4g})")
                + "." for row in (self.result.rows if self.result else [])]
        return " ".join([super().summary_text()] + rows)

    def describe(self, result):
        if result.diverged:
            names = ", ".join(result.diverged)
            return note(f"⚠ {names} diverged — the path is drawn up to where it left the picture; "
                         "try a smaller learning rate.", "warn")
        if result.escaped:
            names = ", ".join(result.escaped)
            return note(f"{names} escaped the saddle and left the picture, the loss still falling: on a surface "
                         "with no minimum that is the expected outcome, not a divergence. The path is drawn up to "
                         "where it left the picture.")
        if result.errors:
            return note("; ".join(f"{n}: {e}" for n, e in result.errors.items()), "warn")
        if not result.trajectories:
            return note("Tick at least one optimizer to race.", "warn")
        return note(f"{len(result.trajectories)} optimizer(s), {result.steps} steps each "
                     f"from ({result.start[0]:.3g}, {result.start[1]:.3g}).")


class Playground(Race):
    """The optimizer playground: any landscape, any start, several optimizers racing."""

    styles = RACE_STYLES

    title = "Optimizer playground"
    shows = ("The optimizers' paths over the landscape's contour map from the start (circle) towards the "
             "minimum (star), left, and their losses per step, right.")
    help = ("pick a landscape and a start point, tick the optimizers to race, "
            "and set their hyperparameters in the tabs.")

    def __init__(self, landscape="rosenbrock", optimizers=("GD", "Momentum", "Adam"), steps=200,
                 tol=1e-2):
        if landscape not in LANDSCAPES:
            raise ValueError(f"landscape must be one of {sorted(LANDSCAPES)}, got {landscape!r}")
        unknown = [o for o in optimizers if o not in OPTIMIZERS]
        if unknown:
            raise ValueError(f"unknown optimizer(s) {unknown}; choose from {list(OPTIMIZERS)}")
        super().__init__(tuple(OPTIMIZERS), set(optimizers), steps=steps, tol=tol)
        self._landscapes = {}
        self.controls["landscape"] = W.Dropdown(options=[(LANDSCAPES[k]().name, k) for k in LANDSCAPES],
                                                value=landscape, description="landscape", style=WIDE_LABEL)
        f = self.landscape(landscape)
        (x0, x1), (y0, y1) = f.window
        self.controls["x0"] = float_slider("start x", float(f.start[0]), x0, x1, (x1 - x0) / 200)
        self.controls["y0"] = float_slider("start y", float(f.start[1]), y0, y1, (y1 - y0) / 200)
        self._suggest_lrs(landscape)
        self.controls["landscape"].observe(self._landscape_changed, names="value")
        rows = [
            W.HBox([self.controls["landscape"], self.controls["steps"], self.controls["tol"]]),
            W.HBox([self.controls["x0"], self.controls["y0"]]),
            self._toggle_row(),
            self.tabs,
        ]
        self.timeline = Timeline(self, steps)
        rows.append(self.timeline.widget)
        self.image.add_class("optlessons-playground")
        self._start(rows)
        self.widget.children = tuple(self.widget.children) + (self.summary,)

    def landscape(self, key):
        if key not in self._landscapes:
            self._landscapes[key] = LANDSCAPES[key]()
        return self._landscapes[key]

    def current_landscape(self):
        return self.landscape(self.controls["landscape"].value)

    def current_start(self, landscape):
        return np.array([self.controls["x0"].value, self.controls["y0"].value])

    def _suggest_lrs(self, key):
        for name, lr in SUGGESTED_LR.get(key, {}).items():
            if f"{name}.lr" in self.controls:
                self.controls[f"{name}.lr"].value = lr

    def _landscape_changed(self, change):
        """New landscape: move the start-point sliders to its window and suggest learning rates."""
        f = self.landscape(change["new"])
        (x0, x1), (y0, y1) = f.window
        with self.hold():
            set_range(self.controls["x0"], x0, x1, float(f.start[0]))
            set_range(self.controls["y0"], y0, y1, float(f.start[1]))
            self.controls["x0"].step = (x1 - x0) / 200
            self.controls["y0"].step = (y1 - y0) / 200
            self._suggest_lrs(change["new"])

    def _on_change(self, change):
        if change["owner"] is self.controls["landscape"]:
            return          # handled (with one refresh) by _landscape_changed
        super()._on_change(change)

    @staticmethod
    def stability_limits(result):
        """GD's stability limit 2/λ_max (λ_max the Hessian's largest eigenvalue) where it exists.

        A list of (where, point, 2/λ_max): at the start, and at the known minimum nearest to where
        the first raced optimizer ended. A point whose largest curvature is not positive is left out.
        """
        f = result.landscape
        places = [("at the start", np.asarray(result.start, dtype=float))]
        if len(f.minima):
            ends = [t.points[-1] for t in result.trajectories.values() if np.all(np.isfinite(t.points[-1]))]
            near = ends[0] if ends else result.start
            places.append(("at the minimum", f.minima[np.argmin(np.hypot(*(f.minima - near).T))]))
        out = []
        for where, p in places:
            lam_max = float(np.linalg.eigvalsh(f.hessian(p))[-1])
            if lam_max > 0:
                out.append((where, p, 2 / lam_max))
        return out

    def describe(self, result):
        base = note(self.timeline.caption(result.trajectories)) + "<br>" + super().describe(result)
        limits = self.stability_limits(result)
        if not limits:
            return base
        parts = [f"{lr:.3g} {where} ({p[0]:.3g}, {p[1]:.3g})" for where, p, lr in limits]
        return base + note("<br>GD's stability limit 2/λ<sub>max</sub> (λ<sub>max</sub>: the largest curvature, "
                            "the Hessian's largest eigenvalue): " + "; ".join(parts) +
                            ". Above that lr, GD overshoots along the steepest direction there: near a minimum "
                            "it oscillates or diverges instead of settling.")


def playground(landscape="rosenbrock", optimizers=("GD", "Momentum", "Adam"), steps=200, tol=1e-2):
    """The optimizer playground: race optimizers on a landscape, see paths, losses and a summary.

    ``landscape``: a key of ``optlessons.functions.LANDSCAPES``; ``optimizers``:
    names from ``OPTIMIZERS`` ticked at the start (the others can be ticked in
    the widget). LBFGS races with ``max_iter=1`` and the strong-Wolfe line search:
    one race step is one quasi-Newton iteration, whose line search may evaluate f
    several times. Muon is not offered: it orthogonalizes weight matrices, and a
    point here is a vector. Each optimizer keeps its colour, marker and dash
    pattern (``RACE_STYLES``). Returns a :class:`Playground`; its ``result`` is a
    ``RaceResult`` (``trajectories``, ``rows`` — one ``SummaryRow`` each, with the optimizer's
    ``settings`` and whether it ``oscillating`` or ``escaped`` a saddle). The status line gives
    GD's stability limit 2/λ_max at the start and at the minimum the race heads for
    (``Playground.stability_limits``).
    """
    return Playground(landscape, optimizers, steps, tol)


# ============================================================================ adaptive methods

class AdaptiveExperiment(Race):
    """Adagrad, RMSprop and Adadelta against GD on a badly scaled bowl."""

    title = "Adaptive step sizes"
    shows = ("The paths of gradient descent and the per-coordinate methods over the elongated bowl's "
             "contours, left, and their loss gaps L − L* per step on a log scale, right.")
    help = ("a bowl κ times steeper across than along; rotate it and watch the per-coordinate "
            "methods lose their edge.")

    #: the methods with an ε (PyTorch's defaults: Adagrad 1e-10, RMSprop 1e-8, Adadelta 1e-6)
    EPS_METHODS = ("Adagrad", "RMSprop", "Adadelta")

    def __init__(self, condition_number=50.0, angle_degrees=0.0, steps=150, eps=1e-6):
        names = ("GD", "Adagrad", "RMSprop", "Adadelta")
        super().__init__(names, set(names), steps=steps, tol=1e-2)
        self.controls["kappa"] = LogSlider(value=condition_number, base=10, min=0, max=3, step=0.1,
                                           description="condition number κ", readout_format=".3~g",
                                           style=WIDE_LABEL)
        self.controls["angle"] = float_slider("rotation (degrees)", angle_degrees, 0.0, 90.0, 5.0)
        # one ε for Adagrad, RMSprop and Adadelta, so moving it shows where it starts to matter
        self.controls["eps"] = W.FloatLogSlider(value=eps, base=10, min=-10, max=-1, step=0.25,
                                                description="ε (Adagrad, RMSprop, Adadelta)", readout_format=".1e",
                                                style=WIDE_LABEL,
                                                layout=W.Layout(width="380px"))
        self.controls["eps"].add_class("optlessons-eps")
        defaults = {"GD": 0.019, "Adagrad": 1.0, "RMSprop": 0.05, "Adadelta": 1.0}
        for name, lr in defaults.items():
            self.controls[f"{name}.lr"].value = lr
        self._cache = {}
        rows = [W.HBox([self.controls["kappa"], self.controls["angle"], self.controls["steps"]]),
                W.HBox([self.controls["eps"]]), self._toggle_row(), self.tabs]
        self._start(rows)
        self.widget.children = tuple(self.widget.children) + (self.summary,)

    def current_landscape(self):
        key = (float(self.controls["kappa"].value), float(self.controls["angle"].value))
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = quadratic(condition_number=key[0], angle=np.deg2rad(key[1]))
        return self._cache[key]

    def shared_hypers(self, name):
        return {"eps": float(self.controls["eps"].value)} if name in self.EPS_METHODS else {}

    @staticmethod
    def kappa_after_diagonal_scaling(landscape):
        """κ of D^(-1/2) A D^(-1/2) with D = diag(A) (A the Hessian): what a diagonal preconditioner can reach."""
        A = landscape.hessian(landscape.minima[0])
        d = 1 / np.sqrt(np.diag(A))
        eig = np.linalg.eigvalsh(A * np.outer(d, d))
        return float(eig[-1] / eig[0])

    def describe(self, result):
        f = result.landscape
        base = super().describe(result)
        return base + note(f"<br>GD is stable only for lr &lt; 2/λ<sub>max</sub> = {2 / f.L:.3g} "
                            f"(λ<sub>max</sub> = {f.L:.3g}, the steepest curvature). "
                            f"κ = {f.L / f.mu:.3g}; after the best diagonal rescaling (what the per-coordinate "
                            f"methods can reach) κ = {self.kappa_after_diagonal_scaling(f):.3g}. "
                            f"ε = {self.controls['eps'].value:.1e} for Adagrad, RMSprop and Adadelta "
                            "(PyTorch's defaults: 1e-10, 1e-8, 1e-6).")


def adaptive_experiment(condition_number=50.0, angle_degrees=0.0, steps=150, eps=1e-6):
    """Adagrad, RMSprop and Adadelta vs GD on an elongated quadratic bowl (condition number κ).

    Controls: ``kappa`` (κ), ``angle`` (rotation in degrees), ``steps``, ``eps`` (one ε
    for Adagrad, RMSprop and Adadelta, log slider 1e-10 … 1e-1; starts at ``eps``, Adadelta's
    default, which on this bowl leaves Adagrad and RMSprop as with their own smaller defaults),
    and each method's ``<name>.lr`` (and ``RMSprop.alpha``, ``Adadelta.rho``…). Axis-aligned,
    the per-coordinate methods rescale the steep and the flat direction separately;
    rotated by 45°, the coordinates mix and that advantage goes. Raise ε towards the gradients'
    size and the adaptive methods turn into gradient descent with learning rate lr/ε.
    """
    return AdaptiveExperiment(condition_number, angle_degrees, steps, eps)
