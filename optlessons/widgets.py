"""Widget experiments for the notebooks, and the optimizer playground.

Every experiment is an object with the same parts::

    pg = playground()            # displays itself when it is the last thing in a cell
    pg.controls                  # dict name -> ipywidget, e.g. pg.controls["Adam.lr"]
    pg.compute()                 # recompute from the controls' values -> a plain result object
    pg.result                    # the last result drawn
    pg.figure                    # the matplotlib Figure (one, reused for every change)
    pg.image                     # the ipywidgets.Image showing the figure as PNG
    pg.message                   # an ipywidgets.HTML under the figure: what it shows, in numbers
    pg.alt_text()                # the figure's alt text: what it shows (``shows``) and that summary

Changing a control's ``.value`` (in a browser or in a test) runs ``refresh()``:
``compute()``, then ``draw(result)`` — which only sets new data on the
figure's existing artists — then renders the PNG into ``image``. Nothing
prints; a bad setting (a diverging learning rate, an impossible combination)
becomes a short message in ``message`` and never a traceback or a blank figure.

How the figure reaches the browser, and why: the figure is a plain
``matplotlib.figure.Figure`` (not managed by pyplot, so it is never shown
twice) rendered to PNG by :class:`optlessons.plots.FigureRenderer`, which
caches the static part (contours, ticks, titles) and redraws only the paths
and the changing axes. The PNG goes into an ``ipywidgets.Image``. Measured on
2 cores (``python -m benchmarks widget_latency``): this path costs a few tens
of ms per change; displaying the same figure again into an ``Output`` widget
with the inline backend costs several times that (it redraws everything,
twice with ``bbox_inches="tight"``) and flickers; ipympl would need another
package and its HTML output breaks notebook tests. An Image widget also needs
no kernel-side Output capture, so tests can read ``image.value`` directly.

Public functions, each returning an :class:`Experiment`:
``playground``, ``line_fit``, ``learning_rate_experiment``,
``batch_size_experiment``, ``momentum_experiment``, ``adam_experiment``,
``adaptive_experiment``, ``curvature_race``.
"""

from __future__ import annotations

import contextlib
import html
import re
import warnings
from dataclasses import dataclass, field, replace

import anywidget
import numpy as np
import ipywidgets as W
import traitlets

from . import plots
from .curvature import Newton, critical_point_kind
from .functions import LANDSCAPES, NoisyGradient, double_well, quadratic
from .optim import SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax, AdamState, adam_update
from .plots import ContourPanel, FigureRenderer, LossPanel, new_figure, style
from .train import Trajectory, minimize

__all__ = [
    "Experiment", "playground", "Playground", "line_fit", "learning_rate_experiment",
    "batch_size_experiment", "momentum_experiment", "adam_experiment", "adaptive_experiment",
    "OPTIMIZERS", "summarize", "SummaryRow", "measured_rate", "momentum_rate_map", "RateMap",
    "MomentumTheory", "curvature_race", "CurvatureRace", "CURVATURE_OPTIMIZERS", "Outcome", "outcome",
]

_WIDE = {"description_width": "initial"}


# ============================================================================ controls

def log_slider(description, value, lo, hi, *, continuous_update=False, readout_format=".2g"):
    """A learning-rate slider: moves in powers of ten from 10**lo to 10**hi."""
    return W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=0.05, description=description,
                            readout_format=readout_format, continuous_update=continuous_update,
                            style=_WIDE, layout=W.Layout(width="320px"))


def float_slider(description, value, lo, hi, step, *, continuous_update=False, fmt=".3g"):
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                         readout_format=fmt, continuous_update=continuous_update, style=_WIDE,
                         layout=W.Layout(width="320px"))


def int_slider(description, value, lo, hi, step=1, *, continuous_update=False):
    return W.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                       continuous_update=continuous_update, style=_WIDE, layout=W.Layout(width="320px"))


def _set_range(slider, lo, hi, value):
    """Change a slider's bounds and value without tripping min <= value <= max on the way."""
    slider.min, slider.max = min(slider.min, lo), max(slider.max, hi)
    slider.value = value
    slider.min, slider.max = lo, hi


def _esc(text):
    return html.escape(str(text))


def _swatch(i):
    return f'<span style="color:{plots.style(i)["color"]};font-weight:bold">■</span>'


# Text colours: darker shades of the Okabe–Ito vermillion and bluish green, so that text
# keeps a contrast of at least 4.5:1 on white (WCAG AA; the figure colours are 3.4–3.9:1).
# The words say the same thing: colour is never the only cue.
TEXT_COLOURS = {"info": "#333333", "warn": "#B34D00", "ok": "#007A5A"}


def _loss_ylabel(panel):
    """The course's notation on a loss panel: the gap L − L* (log scale) or, with no minimum, L itself."""
    panel.ax.set_ylabel("L(θ) − L*   (log scale)" if panel.log else "L(θ)")


def _note(text, kind="info"):
    return f'<span style="color:{TEXT_COLOURS[kind]}">{text}</span>'


def plain_text(markup):
    """The words of a short HTML status line: tags dropped (a line break ends a sentence), entities decoded."""
    text = re.sub(r"<(?!br\b)[^>]*>|\s+(?=<br)", "", markup)          # λ<sub>max</sub> -> λmax
    text = re.sub(r"(?<![.!?:;])<br\s*/?>", ". ", text)             # a line break ends a sentence
    return " ".join(html.unescape(re.sub(r"<br\s*/?>", " ", text)).split())


class ControlNames(anywidget.AnyWidget):
    """Gives each slider of the experiment it sits in an accessible name: its visible label.

    ipywidgets 8.1 draws a slider's handle (ARIA role "slider") with noUiSlider and does not
    tie the visible description to it, so a screen reader announces a bare "slider" (axe:
    ``aria-input-field-name``, serious). This invisible widget sets ``aria-label`` on every
    handle from its slider's label, and again whenever a slider is redrawn.
    """
    _esm = """
    function nameHandles(root) {
      for (const slider of root.querySelectorAll('.widget-slider')) {
        const label = slider.querySelector('.widget-label');
        const text = label ? label.textContent.trim() : '';
        for (const handle of slider.querySelectorAll('.noUi-handle')) {
          if (text && handle.getAttribute('aria-label') !== text) handle.setAttribute('aria-label', text);
        }
      }
    }
    function render({ el }) {
      let observer = null;
      const attach = (tries) => {
        const root = el.closest('.optlessons-experiment');
        if (!root) { if (tries > 0) setTimeout(() => attach(tries - 1), 100); return; }
        nameHandles(root);
        observer = new MutationObserver(() => nameHandles(root));
        observer.observe(root, { childList: true, subtree: true });
      };
      attach(100);
      return () => { if (observer) observer.disconnect(); };
    }
    export default { render };
    """

    def __init__(self):
        super().__init__(layout=W.Layout(display="none"))


class TitledImage(W.Image):
    """An ``ipywidgets.Image`` whose ``tooltip`` becomes the image's title, its accessible name.

    ipywidgets 8.1's ImageView shows a tooltip only when the model has a ``description``
    (an Image has none, and setting a tooltip fails with "Cannot read properties of
    undefined (reading 'length')"): this Image syncs an empty one.
    """
    description = traitlets.Unicode("").tag(sync=True)


# ============================================================================ the base class

class Experiment:
    """A figure with controls: set a control's value and the figure follows.

    Subclasses build ``self.controls`` and the figure's panels in ``__init__``,
    then call ``self._start()``; they implement ``compute()`` (controls ->
    result, no drawing) and ``draw(result)`` (result -> artists' data).
    """

    title = ""
    help = ""
    shows = ""      # one sentence: what the figure's panels show (the start of its alt text)

    def __init__(self, width=10.0, height=4.2):
        self.controls: dict[str, W.Widget] = {}
        self.figure = new_figure(width, height)
        self.renderer = FigureRenderer(self.figure)
        self.image = TitledImage(format="png", layout=W.Layout(width=f"{int(width * plots.WIDGET_DPI)}px"))
        self.image.add_class("optlessons-figure")
        self.message = W.HTML()
        self.message.add_class("optlessons-message")
        self.result = None
        self.error = None           # the last exception a refresh caught (shown in `message`)
        self.refreshes = 0          # completed refreshes (tests and benchmarks read it)
        self._holding = 0
        self.widget = None

    # -- wiring
    def _start(self, layout_rows):
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        header = [W.HTML(f"<b>{_esc(self.title)}</b> — {self.help}")] if self.title else []
        self.widget = W.VBox(header + list(layout_rows) + [self.image, self.message, ControlNames()])
        self.widget.add_class("optlessons-experiment")
        self.refresh()

    @contextlib.contextmanager
    def hold(self):
        """Change several controls at once with a single refresh at the end."""
        self._holding += 1
        try:
            yield self
        finally:
            self._holding -= 1
        if not self._holding:
            self.refresh()

    def _on_change(self, change):
        if not self._holding:
            self.refresh()

    def values(self):
        """The controls' current values, name -> value."""
        return {name: c.value for name, c in self.controls.items()}

    # -- the cycle
    def compute(self):
        raise NotImplementedError

    def draw(self, result):
        raise NotImplementedError

    def describe(self, result):
        """The one-line status shown under the controls (HTML)."""
        return ""

    def static_key(self):
        """What the figure's cached background depends on besides the landscape: the loss panels'
        limits and legends (see ``LossPanel.static_key``)."""
        return tuple(v.static_key() for v in vars(self).values() if isinstance(v, LossPanel))

    def refresh(self):
        """compute -> draw -> render; a failure becomes a message, the last good figure stays."""
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = self.compute()
                self.draw(result)
                png = self.renderer.render(self.static_key())
        except Exception as err:     # noqa: BLE001 — a learner sees a sentence, not a traceback
            self.error = err
            self.message.value = _note(f"Could not draw this setting: {_esc(err)}", "warn")
            return None
        self.error = None
        self.result = result
        self.image.value = png
        self.message.value = self.describe(result)
        self.image.tooltip = self.alt_text()        # the live image's accessible name (its title)
        self.refreshes += 1
        return result

    def summary_text(self):
        """What the figure shows in numbers, as plain text: the status line (races add their table)."""
        return plain_text(self.message.value)

    def alt_text(self):
        """The figure's alt text: what it shows (``shows``, else the title), then the status line
        ``describe(result)`` as plain text — the numbers a sighted learner reads off the figure."""
        text = f"{self.shows or self.title + '.'} {self.summary_text()}".strip()
        return text if text.endswith((".", "!", "?")) else text + "."

    def png(self):
        """The PNG bytes currently shown."""
        return bytes(self.image.value)

    def save(self, path):
        """Write the figure as shown to ``path`` (PNG).

        Use this, not ``self.figure.savefig``: the moving artists are marked
        *animated* for the renderer, and a plain ``savefig`` leaves them out.
        """
        with open(path, "wb") as f:
            f.write(self.png())

    # -- display
    def _repr_mimebundle_(self, **kwargs):
        """The live widget, and the figure as it is now as a static image with its alt text.

        One output, several forms: JupyterLab with a live kernel shows the widget; where
        widgets cannot run (a notebook not yet run or not trusted, GitHub, nbviewer without
        widget state) the reader shows the image (``text/html`` or ``image/png``) instead.
        Never both: an output shows one form.
        """
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        data, metadata = plots.figure_bundle(self.png(), self.alt_text())
        data = dict(data, **bundle)
        data["text/plain"] = f"{self.title or type(self).__name__} (a widget: run the notebook to use it)"
        return data, metadata

    def __repr__(self):
        return f"<{type(self).__name__}: {len(self.controls)} controls>"


# ============================================================================ racing optimizers

@dataclass(frozen=True)
class Hyper:
    """One hyperparameter control: keyword argument, kind, default and range."""
    name: str
    kind: str                 # "log" (log slider, lo/hi exponents), "float", "bool"
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


_LR = lambda default, lo=-5, hi=1: Hyper("lr", "log", default, lo, hi, label="lr")  # noqa: E731
_BETA1 = Hyper("beta1", "float", 0.9, 0.0, 0.99, 0.01, "β₁")
_BETA2 = Hyper("beta2", "float", 0.999, 0.0, 0.9999, 0.0001, "β₂")

#: The optimizers the playground can race, with the controls each gets.
OPTIMIZERS = {
    "GD": OptimizerSpec(SGD, (_LR(1e-3),)),
    "Momentum": OptimizerSpec(SGD, (_LR(1e-3), Hyper("momentum", "float", 0.9, 0.0, 0.99, 0.01, "momentum β"),
                                    Hyper("nesterov", "bool", False, label="Nesterov"))),
    "Adagrad": OptimizerSpec(Adagrad, (_LR(0.5, -4, 1),)),
    "RMSprop": OptimizerSpec(RMSprop, (_LR(0.01, -4, 1), Hyper("alpha", "float", 0.99, 0.0, 0.999, 0.001, "α (smoothing)"),
                                       Hyper("momentum", "float", 0.0, 0.0, 0.99, 0.01, "momentum"))),
    "Adadelta": OptimizerSpec(Adadelta, (_LR(1.0, -3, 2), Hyper("rho", "float", 0.9, 0.0, 0.999, 0.001, "ρ"))),
    "Adam": OptimizerSpec(Adam, (_LR(0.05, -4, 1), _BETA1, _BETA2,
                                 Hyper("amsgrad", "bool", False, label="AMSGrad"))),
    "AdamW": OptimizerSpec(AdamW, (_LR(0.05, -4, 1), _BETA1, _BETA2,
                                   Hyper("weight_decay", "float", 0.01, 0.0, 0.5, 0.005, "weight decay ω"))),
    "NAdam": OptimizerSpec(NAdam, (_LR(0.05, -4, 1), _BETA1, _BETA2,
                                   Hyper("momentum_decay", "float", 4e-3, 0.0, 0.05, 0.001, "momentum_decay"))),
    "RAdam": OptimizerSpec(RAdam, (_LR(0.05, -4, 1), _BETA1, _BETA2)),
    "Adamax": OptimizerSpec(Adamax, (_LR(0.05, -4, 1), _BETA1, _BETA2)),
}

#: Learning rates that make a good first race on each landscape (set when the landscape changes).
#: RAdam's are smaller than Adam's on the steep landscapes: its first steps, before the variance
#: estimate is trusted, are un-normalised momentum steps of size lr·m̂, which blow up on Rosenbrock at 0.1.
SUGGESTED_LR = {
    "quadratic": {"GD": 0.1, "Momentum": 0.01, "Adagrad": 1.0, "RMSprop": 0.1, "Adadelta": 1.0,
                  "Adam": 0.3, "AdamW": 0.3, "NAdam": 0.3, "RAdam": 0.3, "Adamax": 0.3},
    "rosenbrock": {"GD": 1e-3, "Momentum": 1e-3, "Adagrad": 1.0, "RMSprop": 0.1, "Adadelta": 1.0,
                   "Adam": 0.1, "AdamW": 0.1, "NAdam": 0.1, "RAdam": 0.01, "Adamax": 0.1},
    "beale": {"GD": 0.03, "Momentum": 0.003, "Adagrad": 1.0, "RMSprop": 0.1, "Adadelta": 1.0,
              "Adam": 0.3, "AdamW": 0.3, "NAdam": 0.3, "RAdam": 0.01, "Adamax": 0.3},
    "himmelblau": {"GD": 0.01, "Momentum": 0.003, "Adagrad": 0.3, "RMSprop": 0.03, "Adadelta": 1.0,
                   "Adam": 0.1, "AdamW": 0.1, "NAdam": 0.1, "RAdam": 0.02, "Adamax": 0.1},
    "saddle": {"GD": 0.01, "Momentum": 0.003, "Adagrad": 0.1, "RMSprop": 0.01, "Adadelta": 1.0,
               "Adam": 0.05, "AdamW": 0.05, "NAdam": 0.05, "RAdam": 0.05, "Adamax": 0.05},
    "six_hump_camel": {"GD": 0.03, "Momentum": 0.01, "Adagrad": 0.3, "RMSprop": 0.03, "Adadelta": 1.0,
                       "Adam": 0.03, "AdamW": 0.03, "NAdam": 0.01, "RAdam": 0.01, "Adamax": 0.03},
}


def _hyper_control(h, prefix):
    label = h.label or h.name
    if h.kind == "log":
        c = log_slider(label, h.default, h.lo, h.hi)
    elif h.kind == "bool":
        c = W.Checkbox(value=bool(h.default), description=label, indent=False)
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
        m = re.search(r"diverged at step (\d+)", trajectory.message)
        diverged_at = int(m.group(1)) if m else trajectory.n_steps + 1
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
                                                continuous_update=False, style=_WIDE,
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
            self.paths = ContourPanel(self.ax_path, landscape, self.names, legend=False, animated=True)
            self.losses = LossPanel(self.ax_loss, self.names, f_star=plots._f_star(landscape),
                                    animated=True)
        elif landscape is not self._figure_landscape:
            self.paths.set_landscape(landscape)
            self.losses.set_f_star(plots._f_star(landscape))
            self.renderer.invalidate()
        _loss_ylabel(self.losses)
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
            optimizers[name] = opt
            trajectories[name] = minimize(self.run_landscape(landscape), opt, start=start, steps=steps)
            rows.append(replace(summarize(name, trajectories[name], tol), settings=self.settings(name)))
        return RaceResult(landscape, start, trajectories, errors, rows, steps, tol, optimizers)

    def settings(self, name):
        """The raced optimizer's key settings as the table shows them, e.g. "lr 0.001, momentum β 0.9"."""
        parts = []
        for h in self.specs[name].hypers:
            value = self.controls[f"{name}.{h.name}"].value
            label = h.label or h.name
            if h.kind == "bool":
                if value:
                    parts.append(label)
            else:
                parts.append(f"{label} {value:.3g}")
        parts += [f"{k} {v:.3g}" for k, v in self.shared_hypers(name).items()]
        return ", ".join(parts)

    def draw(self, result):
        self._make_panels(result.landscape)
        self.paths.update(result.trajectories, start=result.start)
        # the shorter a path, the higher it is drawn: a slow optimizer's short path is not hidden
        # under a fast one's long path over the same ground (GD under Adam on Rosenbrock)
        lengths = {n: float(np.sum(np.hypot(*np.diff(self.paths.lines[n].get_xydata(), axis=0).T)))
                   for n in result.trajectories}
        for rank, n in enumerate(sorted(lengths, key=lengths.get, reverse=True)):
            self.paths.lines[n].set_zorder(4 + 0.01 * rank)
            self.paths.ends[n].set_zorder(5 + 0.01 * rank)
        self.losses.update(result.trajectories)
        self._figure_legend([n for n in self.names if n in result.trajectories], result.landscape)
        self.summary.value = self.summary_html(result)

    def summary_html(self, result):
        if not result.rows:
            return "<i>Tick at least one optimizer to race.</i>"
        head = ("<tr><th align=left>optimizer</th><th align=left>settings</th><th align=left>ended at (x, y)</th>"
                "<th align=right>L</th><th align=left>&nbsp;outcome</th></tr>")
        body = []
        for row in result.rows:
            i = self.names.index(row.name)
            end = "—" if row.end is None else f"({row.end[0]:.4g}, {row.end[1]:.4g})"
            val = "—" if row.value is None else f"{row.value:.4g}"
            bad = (row.diverged_at is not None and not row.escaped) or row.end is None or row.oscillating
            kind = "warn" if bad else ("ok" if row.steps_to_tol is not None else "info")
            body.append(f"<tr><td>{_swatch(i)} {_esc(row.name)}</td><td>{_esc(row.settings)}</td><td>{end}</td>"
                        f"<td align=right>{val}</td><td style='color:{TEXT_COLOURS[kind]}'>&nbsp;{_esc(row.status)}</td></tr>")
        return f"<table style='font-size:90%'>{head}{''.join(body)}</table>"

    def summary_text(self):
        rows = [f"{row.name} ({row.settings}): {row.status}"
                + ("" if row.value is None else f", L = {row.value:.4g} at ({row.end[0]:.4g}, {row.end[1]:.4g})")
                + "." for row in (self.result.rows if self.result else [])]
        return " ".join([super().summary_text()] + rows)

    def describe(self, result):
        if result.diverged:
            names = ", ".join(result.diverged)
            return _note(f"⚠ {names} diverged — the path is drawn up to where it left the picture; "
                         "try a smaller learning rate.", "warn")
        if result.escaped:
            names = ", ".join(result.escaped)
            return _note(f"{names} escaped the saddle and left the picture, the loss still falling: on a surface "
                         "with no minimum that is the expected outcome, not a divergence. The path is drawn up to "
                         "where it left the picture.")
        if result.errors:
            return _note("; ".join(f"{n}: {e}" for n, e in result.errors.items()), "warn")
        if not result.trajectories:
            return _note("Tick at least one optimizer to race.", "warn")
        return _note(f"{len(result.trajectories)} optimizer(s), {result.steps} steps each "
                     f"from ({result.start[0]:.3g}, {result.start[1]:.3g}).")


class Playground(Race):
    """The optimizer playground: any landscape, any start, several optimizers racing."""

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
                                                value=landscape, description="landscape", style=_WIDE)
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
            _set_range(self.controls["x0"], x0, x1, float(f.start[0]))
            _set_range(self.controls["y0"], y0, y1, float(f.start[1]))
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
        base = super().describe(result)
        limits = self.stability_limits(result)
        if not limits:
            return base
        parts = [f"{lr:.3g} {where} ({p[0]:.3g}, {p[1]:.3g})" for where, p, lr in limits]
        return base + _note("<br>GD's stability limit 2/λ<sub>max</sub> (λ<sub>max</sub>: the largest curvature, "
                            "the Hessian's largest eigenvalue): " + "; ".join(parts) +
                            ". Above that lr, GD overshoots along the steepest direction there: near a minimum "
                            "it oscillates or diverges instead of settling.")


def playground(landscape="rosenbrock", optimizers=("GD", "Momentum", "Adam"), steps=200, tol=1e-2):
    """The optimizer playground: race optimizers on a landscape, see paths, losses and a summary.

    ``landscape``: a key of ``optlessons.functions.LANDSCAPES``; ``optimizers``:
    names from ``OPTIMIZERS`` ticked at the start (the others can be ticked in
    the widget). Returns a :class:`Playground`; its ``result`` is a
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
        self.controls["kappa"] = W.FloatLogSlider(value=condition_number, base=10, min=0, max=3, step=0.1,
                                                  description="condition number κ", readout_format=".3g",
                                                  continuous_update=False, style=_WIDE)
        self.controls["angle"] = float_slider("rotation (degrees)", angle_degrees, 0.0, 90.0, 5.0)
        # one ε for Adagrad, RMSprop and Adadelta, so moving it shows where it starts to matter
        self.controls["eps"] = W.FloatLogSlider(value=eps, base=10, min=-10, max=-1, step=0.25,
                                                description="ε (Adagrad, RMSprop, Adadelta)", readout_format=".1e",
                                                continuous_update=False, style=_WIDE,
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
        return base + _note(f"<br>GD is stable only for lr &lt; 2/λ<sub>max</sub> = {2 / f.L:.3g} "
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
        self.controls["lr"] = log_slider("learning rate η", lr, -4, 0.5, readout_format=".4g")   # 0.1995, not 0.2
        self.controls["lr"].add_class("optlessons-lr")
        self.controls["x0"] = float_slider("start θ₁", float(self.landscape.start[0]), x0, x1, (x1 - x0) / 100)
        self.controls["y0"] = float_slider("start θ₂", float(self.landscape.start[1]), y0, y1, (y1 - y0) / 100)
        self.controls["steps"] = int_slider("steps", steps, 10, 300, 10)      # 29 key presses end to end
        ax1 = self.figure.add_subplot(1, 2, 1)
        ax2 = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.22)
        self.paths = ContourPanel(ax1, self.landscape, ["gradient descent"], legend=True,
                                  legend_loc="upper right", animated=True)
        self.losses = LossPanel(ax2, ["gradient descent"], f_star=plots._f_star(self.landscape),
                                ylabel="L(θ) − L(θ*)   (log scale)", animated=True)
        ax1.set(xlabel="θ₁", ylabel="θ₂")
        self.floor_note = ax2.text(0.98, 0.96, "", transform=ax2.transAxes, ha="right", va="top", fontsize=9,
                                   color="0.25", animated=True,      # says so when the curve sits on the plot's floor
                                   bbox=dict(boxstyle="round", fc="white", ec="0.7", alpha=0.9))
        self._start([W.HBox([self.controls["lr"], self.controls["steps"]]),
                     W.HBox([self.controls["x0"], self.controls["y0"]])])

    def compute(self):
        lr = float(self.controls["lr"].value)
        start = np.array([self.controls["x0"].value, self.controls["y0"].value])
        traj = minimize(self.landscape, SGD(lr=lr), start=start, steps=int(self.controls["steps"].value))
        return LearningRateResult(self.landscape, lr, start, traj, _stability_limit(self.landscape, traj.points[-1]))

    PLOT_FLOOR = 1e-16    # the loss panel draws a gap L − L* below this at this value (a log axis cannot show 0)

    def gap_below_plot_floor(self, result):
        """The final gap L − L* when it is below what the loss panel can draw, else None."""
        f_star = plots._f_star(result.landscape)
        t = result.trajectory
        if f_star is None or t.diverged or not t.values[-1] - f_star < self.PLOT_FLOOR:
            return None
        return float(t.values[-1] - f_star)

    def draw(self, result):
        self.paths.update({"gradient descent": result.trajectory}, start=result.start)
        self.losses.update({"gradient descent": result.trajectory})
        gap = self.gap_below_plot_floor(result)
        self.floor_note.set_text("" if gap is None else
                                 f"flat line = the plot's floor 1e-16;\nthe loss gap itself is {gap:.1e}")

    def describe(self, result):
        t = result.trajectory
        limit = ""
        if result.stability_limit:
            ratio = result.lr / result.stability_limit
            limit = (f" η = {result.lr:.4g} is {ratio:.3f} × the stability limit 2/λ<sub>max</sub> = "
                     f"{result.stability_limit:.4g} (λ<sub>max</sub>: the largest curvature, the Hessian's largest "
                     f"eigenvalue, at the nearest minimum; gradient descent diverges above 2/λ<sub>max</sub>).")
        floor = ""
        gap = self.gap_below_plot_floor(result)
        if gap is not None:
            floor = (f" The loss gap is {gap:.1e}: the loss plot is drawn flat at 1e-16, "
                     f"the lowest it shows; the run has not stalled.")
        kind = "warn" if t.diverged else "info"
        return _note(_esc(t.message) + "." + limit + floor, kind)


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
        best = float(self.loss_landscape.value(self.loss_landscape.minima[0]))
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
            return _note(f"Spot on: MSE {result.loss:.3f}, the least-squares line is "
                         f"w = {result.best_slope:.2f}, b = {result.best_intercept:.2f}.", "ok")
        return _note(f"MSE {result.loss:.3f}: {gap:.3f} above the best possible line.")


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
                                                        description="batch size", continuous_update=False,
                                                        style=_WIDE)
        self.controls["lr"] = log_slider("learning rate η", lr, -3, 0.3, readout_format=".3g")
        self.controls["steps"] = int_slider("steps", steps, 20, 500, 20)    # 24 key presses end to end
        self.controls["seed"] = W.IntText(value=seed, description="sampling seed", style=_WIDE,
                                          layout=W.Layout(width="160px"))
        ax1 = self.figure.add_subplot(1, 2, 1)
        ax2 = self.figure.add_subplot(1, 2, 2)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.92, wspace=0.22)
        labels = ["mini-batch SGD", "full batch"]
        self.paths = ContourPanel(ax1, self.loss_landscape, labels, legend=True, legend_loc="upper right",
                                  animated=True)
        self.losses = LossPanel(ax2, labels, f_star=plots._f_star(self.loss_landscape),
                                title="Full-data loss", ylabel="L(θ) − L(θ*)   (log scale)", animated=True)
        for panel in (self.paths.lines, self.paths.ends, self.losses.lines):
            panel["full batch"].set_color("0.35")
            panel["full batch"].set_linestyle("--")
        ax1.set_xlabel("slope w")
        ax1.set_ylabel("intercept b")
        self._start([W.HBox([self.controls["batch_size"], self.controls["lr"]]),
                     W.HBox([self.controls["steps"], self.controls["seed"]])])

    def _run(self, batch_size, lr, steps, rng):
        f = self.loss_landscape
        n = len(self.x)
        opt = SGD(lr=lr)
        p = f.start.copy()
        points, order, pos = [p], rng.permutation(n), 0
        bounds = 10 * max(np.ptp(f.window[0]), np.ptp(f.window[1]))
        diverged = False
        for _ in range(steps):
            if pos + batch_size > n:            # a new epoch: reshuffle
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            xb, yb = self.x[idx], self.y[idx]
            r = yb - (p[0] * xb + p[1])
            g = np.array([-2 * np.mean(r * xb), -2 * np.mean(r)])
            if not np.all(np.isfinite(g)):
                diverged = True
                break
            p = opt.step(p, g)
            if not np.all(np.isfinite(p)) or np.max(np.abs(p - f.minima[0])) > bounds:
                points.append(p)
                diverged = True
                break
            points.append(p)
        pts = np.array(points)
        return pts, f.value(pts), diverged

    def compute(self):
        bs, lr = int(self.controls["batch_size"].value), float(self.controls["lr"].value)
        steps = int(self.controls["steps"].value)
        rng = np.random.default_rng(int(self.controls["seed"].value))
        pts, losses, diverged = self._run(bs, lr, steps, rng)
        full, full_losses, _ = self._run(len(self.x), lr, steps, np.random.default_rng(0))
        if diverged:
            message = f"diverged at step {len(pts) - 1}: the steps grew without bound; try a smaller learning rate"
        else:
            epochs = steps * bs / len(self.x)
            message = (f"{steps} steps of batch {bs} = {epochs:.3g} passes over the {len(self.x)} points; "
                       f"final full-data MSE {losses[-1]:.4g} (best {self.loss_landscape.value(self.loss_landscape.minima[0]):.4g})")
        return BatchSizeResult(bs, lr, pts, losses, full, full_losses, diverged, message)

    def draw(self, result):
        paths = {"mini-batch SGD": _Path(result.points, result.losses, result.diverged),
                 "full batch": _Path(result.full_batch, result.full_batch_losses)}
        self.paths.update(paths, start=self.loss_landscape.start)
        self.losses.update(paths)

    def describe(self, result):
        return _note(_esc(result.message) + ".", "warn" if result.diverged else "info")


def batch_size_experiment(batch_size=4, lr=0.05, steps=100, seed=0):
    """Mini-batch SGD on a 2-parameter linear regression (128 seeded points, y ≈ 2x − 1).

    Controls ``batch_size``, ``lr``, ``steps``, ``seed`` (the sampling seed).
    Left: the noisy (w, b) path over the full-data loss contours, with full-batch GD
    dashed; right: the full-data loss per step. Result: ``BatchSizeResult``.
    """
    return BatchSizeExperiment(batch_size, lr, steps, seed)


# ============================================================================ momentum

#: A run that gets this close to the minimum (relative to where it started) has converged to
#: rounding error; its rate is measured up to that step (later steps would only measure noise).
RATE_FLOOR = 1e-12


def measured_rate(distances, floor=RATE_FLOOR):
    """The average contraction per step, ρ = (‖θ_k − θ*‖ / ‖θ_0 − θ*‖)^(1/k).

    ``distances``: ‖θ_t − θ*‖ for t = 0 … n (``Trajectory.distances()``). k is n, or the first
    step at which the distance fell below ``floor`` × the first one. ρ < 1 converges (lower is
    faster: the error shrinks by a factor ρ per step on average), ρ ≥ 1 makes no progress.
    """
    d = np.asarray(distances, dtype=float)
    if len(d) < 2 or not d[0] > 0:
        return float("nan")
    below = np.flatnonzero(d[1:] <= floor * d[0])
    k = int(below[0]) + 1 if below.size else len(d) - 1
    return float((max(d[k], 1e-300) / d[0]) ** (1.0 / k))


@dataclass(frozen=True)
class MomentumTheory:
    """The optimal (η, β) and the stability edge of SGD with momentum on a quadratic.

    Heavy ball (PyTorch's ``SGD(momentum=β)``), curvatures λ_min ≤ λ ≤ λ_max, κ = λ_max/λ_min:
    η* = 4/(√λ_max + √λ_min)², β* = ((√κ − 1)/(√κ + 1))², rate √β* = (√κ − 1)/(√κ + 1); stable for
    every λ while η λ_max < 2 + 2β. Nesterov (``nesterov=True``): η* = 4/(3λ_max + λ_min),
    β* = (√(3κ + 1) − 2)/(√(3κ + 1) + 2), rate 1 − 2/√(3κ + 1) (Lessard, Recht & Packard 2016);
    stable while η λ_max < (2 + 2β)/(1 + 2β). (Fields ``mu`` and ``L`` hold λ_min and λ_max.)
    """
    lr: float           # η*
    momentum: float     # β*
    rate: float         # the best rate per step, at (η*, β*)
    mu: float           # λ_min
    L: float            # λ_max
    nesterov: bool

    @classmethod
    def of(cls, landscape, nesterov=False):
        """The theory for ``landscape`` if it is a quadratic (has ``mu`` and ``L``), else None."""
        mu, L = getattr(landscape, "mu", None), getattr(landscape, "L", None)
        if mu is None or L is None or not 0 < mu <= L:
            return None
        kappa = L / mu
        if nesterov:
            s = np.sqrt(3 * kappa + 1)
            return cls(4 / (3 * L + mu), (s - 2) / (s + 2), 1 - 2 / s, mu, L, True)
        r = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
        return cls(4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, r ** 2, r, mu, L, False)

    def edge_lr(self, beta):
        """The largest stable η for momentum β: (2 + 2β)/λ_max, or (2 + 2β)/((1 + 2β) λ_max) for Nesterov."""
        beta = np.asarray(beta, dtype=float)
        return (2 + 2 * beta) / ((1 + 2 * beta) * self.L if self.nesterov else self.L)

    @property
    def edge_label(self):
        return ("stability edge ηλ$_{max}$ = (2 + 2β)/(1 + 2β)" if self.nesterov
                else "stability edge ηλ$_{max}$ = 2 + 2β")


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


@dataclass(frozen=True)
class RateMap:
    """The measured rate per step of SGD with momentum over a grid of (lr, β) (see ``measured_rate``)."""
    lrs: np.ndarray
    betas: np.ndarray
    rate: np.ndarray          # (len(betas), len(lrs)): ρ per step; NaN where the run diverged
    diverged: np.ndarray      # (len(betas), len(lrs)) bool: the run left the window or blew up
    steps: int
    nesterov: bool = False
    theory: MomentumTheory | None = None    # on a quadratic: (η*, β*) and the stability edge

    @property
    def best(self):
        """(lr, β, rate) of the fastest cell."""
        i, j = np.unravel_index(np.nanargmin(self.rate), self.rate.shape)
        return float(self.lrs[j]), float(self.betas[i]), float(self.rate[i, j])


_RATE_MAPS: dict = {}


def momentum_rate_map(landscape, key, steps, lr_range=(-4, 0), n_lr=48, n_beta=40, nesterov=False):
    """The (lr, β) rate map for ``landscape``, computed once per (key, steps, nesterov) and cached.

    All grid points run at once (numpy over the grid) with PyTorch's SGD momentum, dampening 0:
    b = β b + g (b₁ = g), then θ = θ − lr b (heavy ball) or θ = θ − lr (g + β b) (Nesterov).
    A run diverges where ``minimize`` says so (not finite, or 10 window sizes from the window's
    centre). The rate is ``measured_rate`` of the distance to the landscape's nearest minimum.
    """
    cache_key = (key, steps, bool(nesterov), lr_range, n_lr, n_beta)
    if cache_key in _RATE_MAPS:
        return _RATE_MAPS[cache_key]
    from .train import _window_bounds
    minima = np.asarray(landscape.minima, dtype=float).reshape(-1, 2)
    if not len(minima):
        raise ValueError(f"{landscape.name} has no known minimum to measure a rate to")
    lrs = np.logspace(*lr_range, n_lr)
    betas = np.linspace(0.0, 0.99, n_beta)
    LR, B = np.meshgrid(lrs, betas)
    LR, B = LR[..., None], B[..., None]
    bounds = _window_bounds(landscape)

    def dist(p):
        return np.sqrt(((p[..., None, :] - minima) ** 2).sum(axis=-1)).min(axis=-1)

    p = np.broadcast_to(np.asarray(landscape.start, dtype=float), LR.shape[:2] + (2,)).copy()
    d0 = float(dist(p[0, 0]))
    d_at = np.full(LR.shape[:2], np.nan)               # distance when the rate is read
    k_at = np.full(LR.shape[:2], steps)                # ... and at which step
    done = np.zeros(LR.shape[:2], dtype=bool)          # reached the floor: rate fixed
    diverged = np.zeros(LR.shape[:2], dtype=bool)
    buf = None
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = landscape.gradient(p)
            diverged |= ~np.all(np.isfinite(g), axis=-1)
            buf = g.copy() if buf is None else B * buf + g
            p = p - LR * (g + B * buf if nesterov else buf)
            out = ~np.all(np.isfinite(p), axis=-1)
            if bounds is not None:
                (cx, cy), (ax, ay) = bounds
                out |= (np.abs(p[..., 0] - cx) > ax) | (np.abs(p[..., 1] - cy) > ay)
            diverged |= out
            d = dist(p)
            newly = ~done & ~diverged & (d <= RATE_FLOOR * d0)
            d_at[newly], k_at[newly] = d[newly], t
            done |= newly
            # a finished or diverged run sits at the start from now on: no overflow, no warnings
            frozen = (done | diverged)[..., None]
            p = np.where(frozen, landscape.start, p)
            buf = np.where(frozen, 0.0, buf)
        last = ~done & ~diverged
        d_at[last] = dist(p)[last]
        rate = np.where(diverged, np.nan, (np.maximum(d_at, 1e-300) / d0) ** (1.0 / k_at))
    _RATE_MAPS[cache_key] = RateMap(lrs, betas, rate, diverged, steps, bool(nesterov),
                                    MomentumTheory.of(landscape, nesterov))
    return _RATE_MAPS[cache_key]


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
                                                description="landscape", style=_WIDE)
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
        self._start([W.HBox([self.controls["landscape"], self.controls["steps"], self.controls["nesterov"]]),
                     W.HBox([self.controls["lr"], self.controls["momentum"]])])

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
                self.losses = LossPanel(self.ax_loss, self.labels, f_star=plots._f_star(f), animated=True)
                for d in (self.paths.lines, self.paths.ends, self.losses.lines, self.losses.blowups):
                    d[self.labels[1]].set_color("0.45")
            else:
                self.paths.set_landscape(f)
                self.losses.set_f_star(plots._f_star(f))
            _loss_ylabel(self.losses)
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
        trajs = {self.labels[0]: result.trajectory, self.labels[1]: result.plain}
        self.paths.update(trajs)
        self.losses.update(trajs)
        self.here.set_data([result.lr], [result.momentum])
        self.here_dot.set_data([result.lr], [result.momentum])

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
        return _note(f"{name}: {_esc(t.message)}{rate}<br>without: {_esc(p.message)}{best}", kind)


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


# ============================================================================ Adam

@dataclass
class AdamResult:
    landscape: object
    trajectory: Trajectory
    m: np.ndarray              # (n, 2) first moment after each step
    v: np.ndarray              # (n, 2) second moment after each step
    steps_taken: np.ndarray    # (n, 2) |θ_t − θ_{t−1}| per coordinate: the effective step size
    lr: float


class _AdamRecorder:
    """An optimizer object for ``minimize`` that records Adam's state after each step."""

    def __init__(self, **hyper):
        self.hyper = hyper
        self.state = None
        self.m, self.v, self.delta = [], [], []

    def step(self, param, grad):
        if self.state is None:
            self.state = AdamState.zeros_like(param)
        new, self.state = adam_update(param, grad, self.state, **self.hyper)
        self.m.append(self.state.exp_avg)
        self.v.append(self.state.exp_avg_sq)
        self.delta.append(np.abs(new - param))
        return new


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
        self.controls["beta2"] = float_slider("β₂", betas[1], 0.5, 0.9999, 0.0001, fmt=".4f")
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
        self._start([W.HBox([self.controls["lr"], self.controls["steps"]]),
                     W.HBox([self.controls["beta1"], self.controls["beta2"]])])

    def compute(self):
        lr = float(self.controls["lr"].value)
        hyper = dict(lr=lr, betas=(float(self.controls["beta1"].value), float(self.controls["beta2"].value)),
                     eps=1e-8)
        if not hyper["betas"][1] < 1:
            raise ValueError("β₂ must be below 1")
        rec = _AdamRecorder(**hyper)
        traj = minimize(self.landscape, rec, steps=int(self.controls["steps"].value))
        n = traj.n_steps
        as2 = lambda seq: np.array(seq[:n], dtype=float).reshape(-1, 2)  # noqa: E731
        return AdamResult(self.landscape, traj, as2(rec.m), as2(rec.v), as2(rec.delta), lr)

    def draw(self, result):
        self.paths.update({"Adam": result.trajectory})
        t = np.arange(1, len(result.m) + 1)
        n = max(len(t), 1)
        with np.errstate(divide="ignore"):
            series = {"m": result.m, "v": np.log10(result.v), "s": np.log10(result.steps_taken)}
        for key, data in series.items():
            for j in range(2):
                self.trace[key, j].set_data(t, data[:, j] if len(data) else [])
        self.lr_line.set_data([1, n], [np.log10(result.lr)] * 2)
        self.ax_m.set_xlim(0, n)
        m = result.m[np.isfinite(result.m)]
        top = float(np.max(np.abs(m))) if m.size else 1.0
        top = plots._one_two_five(1.05 * top)
        self.ax_m.set_ylim(-top, top)
        for ax, key, extra in ((self.ax_v, "v", []), (self.ax_s, "s", [np.log10(result.lr)])):
            d = series[key][np.isfinite(series[key])]
            d = np.concatenate([d, extra]) if len(extra) else d
            if d.size:
                hi = float(np.max(d))
                lo = max(float(np.min(d)), hi - 12)                   # show at most 12 decades
                plots.log10_axis(ax, np.floor(lo - 0.1), np.ceil(hi + 0.1), max_ticks=4, pad=0.0)

    def static_key(self):
        return tuple((ax.get_xlim(), ax.get_ylim()) for ax in (self.ax_m, self.ax_v, self.ax_s))

    def describe(self, result):
        t = result.trajectory
        s = result.steps_taken
        big = float(np.max(s)) if s.size else 0.0
        b1, b2 = float(self.controls["beta1"].value), float(self.controls["beta2"].value)
        bound = (1 - b1) / np.sqrt(1 - b2)      # Kingma & Ba's step after a jump from zero gradients
        return _note(f"{_esc(t.message)}. Largest step in one coordinate: {big:.3g} = {big / result.lr:.2f} × lr "
                     f"(lr = {result.lr:.3g}; a jump from zero gradients gives (1 − β₁)/√(1 − β₂) = "
                     f"{bound:.2f} × lr).", "warn" if t.diverged else "info")


def adam_experiment(landscape="rosenbrock", lr=0.05, betas=(0.9, 0.999), steps=200):
    """Adam with β₁, β₂ and lr sliders: the path, and beside it m, v and the step size per coordinate.

    Controls ``lr``, ``beta1``, ``beta2``, ``steps``; result ``AdamResult`` (``trajectory``,
    ``m``, ``v``, ``steps_taken`` — arrays (n, 2), one row per step).
    """
    return AdamExperiment(landscape, lr, betas, steps)


# ============================================================================ beyond the bowl (09)

#: The racers of notebook 09: three first-order methods and Newton's method.
CURVATURE_OPTIMIZERS = {
    "GD": OptimizerSpec(SGD, (_LR(0.1, -4, 0),)),
    "Momentum": OptimizerSpec(SGD, (_LR(0.02, -4, 0), Hyper("momentum", "float", 0.9, 0.0, 0.99, 0.01,
                                                             "momentum β"))),
    "Adam": OptimizerSpec(Adam, (_LR(0.05, -4, 0), _BETA1, _BETA2)),
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
                       f"{name} stopped at step {trajectory.n_steps + 1}: the Hessian at {where} is singular, "
                       "so Newton's step is undefined there — raise the damping δ above 0.")
    if trajectory.diverged:
        return Outcome(name, "diverged", escaped_at,
                       f"{name} diverged at step {trajectory.n_steps + 1} (the path is drawn up to where it "
                       "left the picture): its learning rate is too large for the valley's curvature.")
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
        self.controls["curvature"] = W.FloatLogSlider(value=curvature, base=10, min=0, max=2, step=0.05,
                                                      description="valley curvature c", readout_format=".3g",
                                                      continuous_update=False, style=_WIDE)
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
            return _note("; ".join(f"{n}: {_esc(e)}" for n, e in result.errors.items()), "warn")
        if not result.trajectories:
            return _note("Tick at least one optimizer to race.", "warn")
        escaped = [f"{n} at step {o.escaped_at}" for n, o in result.outcomes.items() if o.escaped_at is not None]
        lines = [("Fell below the saddle's height: " + ", ".join(escaped) + ".") if escaped
                 else "No run fell below the saddle's height."]
        lines += [o.text for o in result.outcomes.values() if o.kind != "minimum"]
        sigma = float(self.controls["noise"].value)
        if sigma:
            lines.append(f"Every gradient carries noise of σ = {sigma:g} (seed {self.controls['seed'].value}).")
        bad = any(o.kind in ("diverged", "singular") for o in result.outcomes.values())
        return _note("<br>".join(_esc(line) for line in lines), "warn" if bad else "info")


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
