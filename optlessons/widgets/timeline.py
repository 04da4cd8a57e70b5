"""A Play button and a "step t" slider that replay an experiment's last run through time.

Moving through time never recomputes: the timeline redraws the experiment's last result
(``Experiment.refresh(result)``) with each path and loss curve cut at step t.
"""

from __future__ import annotations

import ipywidgets as W

from .base import WIDE_LABEL, escape_html

#: About this many frames play a whole run (at ``INTERVAL_MS`` each: about 6 s).
FRAMES = 60
INTERVAL_MS = 100


def play_step(steps):
    """How many steps one frame of the Play button advances: the divisor d of ``steps`` that
    makes the number of frames steps/d closest to ``FRAMES`` (so the last frame is the end)."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    steps = int(steps)
    divisors = [d for d in range(1, steps + 1) if steps % d == 0]
    return min(divisors, key=lambda d: (abs(steps / d - FRAMES), d))


def position(name, trajectory, t):
    """Where the run ``name`` is at step t, as the status line says it: "GD at (x, y), L = …".

    A run that diverged before step t says so first, then where it was last:
    "GD diverged at step k + 1; its last point, at step k: (x, y), L = …"."""
    k = min(t, trajectory.n_steps)
    x, y = trajectory.points[k]
    where = f"({x:.4g}, {y:.4g}), L = {trajectory.values[k]:.4g}"
    if k < t:
        return f"{escape_html(name)} diverged at step {k + 1}; its last point, at step {k}: {where}"
    return f"{escape_html(name)} at {where}"


class Timeline:
    """Play + "step t" slider for an experiment whose figure shows runs of ``steps`` steps.

    The two are linked in the browser (``jslink``), so playing does not wait for the kernel
    to move the slider; the slider also takes the arrow keys (one step) and Page Up/Down.
    Each new value of ``t`` redraws ``experiment.result`` up to step t, without computing.
    After a new run (a hyperparameter changed), ``step_for`` decides the step drawn: the end
    if the timeline stood at the end (the figure then behaves as without a timeline), else the
    same t — a learner who paused at step 40 compares settings at step 40.
    """

    def __init__(self, experiment, steps):
        stride = play_step(steps)                           # validates steps
        self.experiment = experiment
        self.play = W.Play(value=steps, min=0, max=steps, step=stride, interval=INTERVAL_MS,
                           show_repeat=False, description="play the run", tooltip="play the run step by step")
        self.slider = W.IntSlider(value=steps, min=0, max=steps, step=1, description="step t",
                                  continuous_update=True, style=WIDE_LABEL, layout=W.Layout(width="420px"))
        self.slider.add_class("optlessons-step")
        self.play.add_class("optlessons-play")
        self.link = W.jslink((self.play, "value"), (self.slider, "value"))    # in the browser
        self.widget = W.HBox([W.Label("replay the run:"), self.play, self.slider])
        self._result = None             # the result last drawn (a new one settles t)
        self._settling = False
        self.slider.observe(self._moved, names="value")

    @property
    def t(self):
        """The step shown."""
        return int(self.slider.value)

    @property
    def steps(self):
        """The last step of the runs: the slider's end."""
        return int(self.slider.max)

    def _set(self, steps, t):
        """Move both controls to (max ``steps``, value ``t``) without redrawing."""
        self._settling = True
        try:
            for w in (self.play, self.slider):
                w.min, w.max = 0, max(w.max, steps)        # never min <= value <= max broken on the way
                w.value = t
                w.max = steps
            self.play.step = play_step(steps)
        finally:
            self._settling = False

    def step_for(self, result, steps):
        """The step to draw ``result`` at; a result not drawn before settles the timeline on runs
        of ``steps`` steps: its end if it stood at the end, else the same t (at most ``steps``)."""
        if result is not self._result:
            at_end = self.t >= self.steps
            self._set(steps, steps if at_end else min(self.t, steps))
            self._result = result
        return self.t

    def _moved(self, change):
        if self._settling or self.experiment.result is None:
            return
        self.experiment.refresh(self.experiment.result)

    def caption(self, runs, extra=""):
        """The status line's first sentence, HTML: "Step t of n: GD at (…), L = …; Adam at …".

        "(the end)" marks the last step only when a run is still there; runs that diverged earlier say where."""
        where = "; ".join(position(name, traj, self.t) for name, traj in runs.items())
        running = any(traj.n_steps >= self.t for traj in runs.values())      # some run has a point at step t
        end = " (the end)" if self.t >= self.steps and running else ""
        return f"Step {self.t} of {self.steps}{end}" + (f": {where}{extra}." if where else ".")
