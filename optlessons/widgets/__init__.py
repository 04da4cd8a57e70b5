"""Widget experiments for the notebooks, and the optimizer playground.

Every experiment is an object with the same parts::

    pg = playground()            # displays itself when it is the last thing in a cell
    pg.controls                  # dict name -> ipywidget, e.g. pg.controls["Adam.lr"]
    pg.compute()                 # recompute from the controls' values -> a plain result object
    pg.result                    # the last result drawn
    pg.figure                    # the matplotlib Figure (one, reused for every change)
    pg.image                     # the figure's widget: a PNG per frame, or drawn in the browser (races)
    pg.message                   # an ipywidgets.HTML under the figure: what it shows, in numbers
    pg.alt_text()                # the figure's alt text: what it shows (``shows``) and that summary

Changing a control's ``.value`` (in a browser or in a test) runs ``refresh()``:
``compute()``, then ``draw(result)`` — which only sets new data on the
figure's existing artists — then renders the PNG into ``image``. Nothing
prints; a bad setting (a diverging learning rate, an impossible combination)
becomes a short message in ``message`` and never a traceback or a blank figure.

How the figure reaches the browser: the races (the playground, 06, 09) send only their moving
lines as numbers, drawn in the browser over a background matplotlib renders once per view
(:class:`optlessons.widgets.canvas.BrowserFigure`, ``Experiment.drawn_in_browser``); the other
experiments send a PNG rendered by :class:`optlessons.plots.FigureRenderer` into an
``ipywidgets.Image``. Either way the saved static image and its alt text are matplotlib's.
How live dragging works and what was measured: ``docs/widget-rendering.md``,
``benchmarks/bench_workshop.py``.

The package's modules: ``base`` (controls, status-line helpers, :class:`Experiment`), ``canvas``
(the figure drawn in the browser),
``race`` (the playground and 06's adaptive race), ``one_figure`` (the one-figure
experiments: 01's line fit, 03's learning rate, 04's batch size), ``gradients`` (02's gradient explorer), ``momentum`` (05), ``adam``
(07), ``training`` (a network on the digits: 08's optimizers, 10's schedules), ``curvature``
(09). The maths they draw lives below them: rates of convergence in :mod:`optlessons.convergence`,
paths in :mod:`optlessons.train`.

Public functions, each returning an :class:`Experiment`:
``playground``, ``line_fit``, ``gradient_explorer``, ``learning_rate_experiment``,
``batch_size_experiment``, ``momentum_experiment``, ``adam_experiment``,
``adaptive_experiment``, ``training_experiment``, ``curvature_race``, ``schedule_experiment``.
"""

from ..convergence import RATE_FLOOR, MomentumTheory, RateMap, measured_rate, momentum_rate_map
from .adam import AdamExperiment, adam_experiment
from .base import (TEXT_COLOURS, ControlNames, Experiment, TitledImage, float_slider, int_slider, labelled,
                   log_slider, plain_text)
from .curvature import CURVATURE_OPTIMIZERS, CurvatureRace, Outcome, curvature_race, outcome
from .gradients import GradientExplorer, GradientResult, gradient_explorer
from .momentum import MomentumExperiment, momentum_experiment
from .one_figure import (BatchSizeExperiment, LearningRateExperiment, LineFit, batch_size_experiment,
                         learning_rate_experiment, line_fit)
from .race import (OPTIMIZERS, SUGGESTED_LR, AdaptiveExperiment, Hyper, OptimizerSpec, Playground, Race,
                   SummaryRow, adaptive_experiment, playground, summarize)
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
