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

Live dragging (issue 15), and why the figure stays a PNG. Every slider is live
(``continuous_update``): the figure follows while it is dragged or moved with the arrow keys.
There is no backlog: ipywidgets 8's frontend keeps at most one update per widget in flight —
until the kernel reports idle after handling it, later moves are merged into one pending
message, the latest value winning — and ``refresh()`` answers with one message for the image
and its title, then one per text widget that changed, so the kernel is never more than one
value behind and the last value the slider is left at is the last one drawn. Measured in
JupyterLab in headless Chromium on 2 shared cores (``python -m benchmarks browser_latency``,
playground, GD + Momentum + Adam, 200 steps on Rosenbrock), from a key press to the new figure
painted: at a load average of 1.2, 61 ms median (105 ms p95) and no frame during a drag before,
42 ms (77 ms p95) and 21 frames/s after; at a load average of 4, 70 ms (146 ms) and none
before, 53 ms (128 ms) and 15 frames/s after; the final frame always the kernel's render of the
final value. What it took: the learner's JupyterLab sends kernel messages with TCP_NODELAY
(:mod:`courseops.labserver`, about 30 ms less), races rerun only the optimizer whose control
moved (``Experiment.remembered``), a PNG encoder twice as fast as PIL's (``plots.png_bytes``),
and one message for the image and its alt text. A prototype of the other option, the paths
drawn in the browser on a canvas with the contours sent once
(``benchmarks/canvas_prototype.py``), measured 25 ms median and 31 frames/s at load 1.6, 26 ms
and 23 frames/s at load 4 — but it draws the contour panel only. We kept the PNG because one
renderer, matplotlib, then draws what every reader sees: the live figure, the static image of
the notebook's saved output and its alt text are the same pixels and the same numbers; the
canvas way needs a second renderer in JavaScript for every panel (log-scale loss curves with
changing limits, legends, 04's and 07's panels) that must agree with it. The PNG way meets the
targets (50 ms median, 80 ms p95, 20 frames/s) on a lightly loaded machine; under load it
misses the p95 (a new loss-axis range costs a full redraw) and the frame rate, and the canvas
way is the next step if they must hold there.

The package's modules: ``base`` (controls, status-line helpers, :class:`Experiment`),
``race`` (the playground and 06's adaptive race), ``simple`` (01's line fit, 03's learning
rate, 04's batch size), ``gradients`` (02's gradient explorer), ``momentum`` (05), ``adam``
(07), ``training`` (a network on the digits: 08's optimizers, 10's schedules), ``curvature``
(09). The maths they draw lives below them: rates of convergence in :mod:`optlessons.rates`,
paths in :mod:`optlessons.train`.

Public functions, each returning an :class:`Experiment`:
``playground``, ``line_fit``, ``gradient_explorer``, ``learning_rate_experiment``,
``batch_size_experiment``, ``momentum_experiment``, ``adam_experiment``,
``adaptive_experiment``, ``training_experiment``, ``curvature_race``, ``schedule_experiment``.
"""

from ..rates import RATE_FLOOR, MomentumTheory, RateMap, measured_rate, momentum_rate_map
from .adam import AdamExperiment, adam_experiment
from .base import (TEXT_COLOURS, ControlNames, Experiment, TitledImage, float_slider, int_slider, labelled,
                   log_slider, plain_text)
from .curvature import CURVATURE_OPTIMIZERS, CurvatureRace, Outcome, curvature_race, outcome
from .gradients import GradientExplorer, GradientResult, gradient_explorer
from .momentum import MomentumExperiment, momentum_experiment
from .race import (OPTIMIZERS, SUGGESTED_LR, AdaptiveExperiment, Hyper, OptimizerSpec, Playground, Race,
                   SummaryRow, adaptive_experiment, playground, summarize)
from .simple import (BatchSizeExperiment, LearningRateExperiment, LineFit, batch_size_experiment,
                     learning_rate_experiment, line_fit)
from .training import (ScheduleExperiment, TrainingExperiment, TrainingResult, schedule_experiment,
                       training_experiment)

__all__ = [
    "Experiment", "playground", "Playground", "line_fit", "learning_rate_experiment",
    "batch_size_experiment", "momentum_experiment", "adam_experiment", "adaptive_experiment",
    "OPTIMIZERS", "summarize", "SummaryRow", "measured_rate", "momentum_rate_map", "RateMap",
    "MomentumTheory", "curvature_race", "CurvatureRace", "CURVATURE_OPTIMIZERS", "Outcome", "outcome",
    "gradient_explorer", "GradientExplorer", "GradientResult", "training_experiment", "TrainingExperiment",
    "TrainingResult", "schedule_experiment", "ScheduleExperiment", "labelled",
]
