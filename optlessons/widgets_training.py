"""The experiment of notebook 10 (training in practice): pick a learning-rate schedule, see lr(t)
and what it does to a network trained on digits with noisy labels.

    lab = schedule_experiment()           # displays itself when it is the last thing in a cell
    lab.controls["schedule"].value = "one-cycle"
    lab.result.test_accuracy_best         # a plain result object (ScheduleResult)

It is an :class:`optlessons.widgets.Experiment`: ``controls``, ``compute()``, ``draw(result)``,
a one-line ``message``; a bad setting (a warm-up longer than the run, a learning rate that
blows up) is a sentence in ``message``, never a traceback.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import ipywidgets as W

from . import data, models, optim, plots, schedules, train, validation
from .widgets import TEXT_COLOURS, Experiment, int_slider, log_slider

__all__ = ["SCHEDULE_NAMES", "build_schedule", "ScheduleResult", "ScheduleExperiment", "schedule_experiment",
           "noisy_digits"]

SCHEDULE_NAMES = ("constant", "step decay", "cosine", "warm-up + cosine", "one-cycle", "warm restarts")
OPTIMIZERS = {"SGD, momentum 0.9": lambda lr: optim.SGD(lr=lr, momentum=0.9), "Adam": lambda lr: optim.Adam(lr=lr)}


def _status(text, kind="info"):
    """The status line: ``text`` escaped, in widgets.TEXT_COLOURS[kind] (the words carry the meaning too)."""
    return f'<span style="color:{TEXT_COLOURS[kind]}">{html.escape(text)}</span>'


def noisy_digits(fraction=0.3, seed=0):
    """The digits (split seed 0) with ``fraction`` of the training and validation labels flipped
    (``data.with_label_noise`` with ``seed``); test labels clean. The task of notebook 10."""
    return data.with_label_noise(data.load_digits(0), fraction, seed)


def build_schedule(name, lr, total_steps, warmup_steps):
    """The schedule ``name`` (one of ``SCHEDULE_NAMES``) peaking at ``lr`` over ``total_steps`` updates.

    constant: lr · step decay: lr × 0.1 after each third of the run · cosine: lr to 0 over
    the run · warm-up + cosine: a linear warm-up from lr/100 over ``warmup_steps``, then a
    cosine to 0 over the rest (``sequential``) · one-cycle: up over ``warmup_steps`` (its
    pct_start), then down · warm restarts: a cosine restarted 4 times (T_0 = a quarter of the run).
    Raises ValueError with a sentence for a name it does not know or a warm-up that does not fit.
    """
    if name not in SCHEDULE_NAMES:
        raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULE_NAMES)}")
    warmup_steps, total_steps = int(warmup_steps), int(total_steps)
    if name in ("warm-up + cosine", "one-cycle") and not 1 <= warmup_steps < total_steps:
        raise ValueError(f"the warm-up must last from 1 to {total_steps - 1} updates (the run has "
                         f"{total_steps}), got {warmup_steps}: shorten the warm-up or add epochs")
    if name == "constant":
        return schedules.constant(lr)
    if name == "step decay":
        return schedules.step_decay(lr, step_size=max(total_steps // 3, 1), gamma=0.1)
    if name == "cosine":
        return schedules.cosine(lr, total_steps)
    if name == "warm-up + cosine":
        return schedules.sequential([schedules.linear(lr, start_factor=0.01, total_steps=warmup_steps),
                                     schedules.cosine(lr, total_steps - warmup_steps)], [warmup_steps])
    if name == "one-cycle":
        return schedules.one_cycle(lr, total_steps, pct_start=warmup_steps / total_steps)
    return schedules.cosine_warm_restarts(lr, T_0=max(total_steps // 4, 1))


@dataclass
class ScheduleResult:
    name: str
    optimizer: str
    lrs: np.ndarray                 # lr(t) for every planned update t
    history: train.History
    best_epoch: int                 # the epoch with the lowest validation loss
    test_accuracy_end: float        # clean test accuracy of the last weights
    test_accuracy_best: float       # ... of the weights at best_epoch (early stopping)

    @property
    def diverged(self):
        return self.history.diverged


class ScheduleExperiment(Experiment):
    title = "Learning-rate schedules on noisy digits"
    help = ("left: the learning rate at every update; right: training and validation loss per epoch "
            "(30 % of their labels are wrong); the diamond marks the best validation epoch.")

    BATCH = 64

    def __init__(self, schedule="cosine", optimizer="SGD, momentum 0.9", lr=0.03, epochs=20, warmup_steps=40,
                 seed=0, task=None):
        super().__init__(10.0, 3.8)
        self.task = noisy_digits() if task is None else task
        self.model = models.MLP(self.task.n_features, (64,), self.task.n_classes)
        self.controls["schedule"] = W.Dropdown(options=list(SCHEDULE_NAMES), value=schedule, description="schedule",
                                               style={"description_width": "initial"})
        self.controls["optimizer"] = W.Dropdown(options=list(OPTIMIZERS), value=optimizer, description="optimizer",
                                                style={"description_width": "initial"})
        self.controls["lr"] = log_slider("peak learning rate", lr, -4, 0.5, readout_format=".3g")
        self.controls["epochs"] = int_slider("epochs", epochs, 2, 40)
        self.controls["warmup_steps"] = int_slider("warm-up updates", warmup_steps, 0, 400, 10)
        self.controls["seed"] = W.IntText(value=seed, description="seed", style={"description_width": "initial"},
                                          layout=W.Layout(width="140px"))
        self.ax_lr, self.ax_loss = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.8, wspace=0.28)
        (self.lr_line,) = self.ax_lr.plot([], [], color=plots.PALETTE[0], linewidth=2, animated=True)
        self.ax_lr.set_title("Learning rate lr(t)")
        self.ax_lr.set_xlabel("update t")
        self.ax_lr.set_ylabel("learning rate")
        self.lines = {}
        for i, (split, label) in enumerate((("train", "training loss"), ("val", "validation loss"))):
            st = plots.style(i)
            (self.lines[split],) = self.ax_loss.plot([], [], color=st["color"], linestyle=st["linestyle"],
                                                     marker=st["marker"], markersize=3, linewidth=1.8,
                                                     label=label, animated=True)
        (self.best_marker,) = self.ax_loss.plot([], [], marker="D", markersize=9, markerfacecolor="white",
                                                markeredgecolor="black", linestyle="none", animated=True,
                                                label="best validation epoch")
        self.ax_loss.set_title("Loss per epoch (noisy labels)")
        self.ax_loss.set_xlabel("epoch")
        self.ax_loss.set_ylabel("cross-entropy")
        for ax in (self.ax_lr, self.ax_loss):
            ax.grid(True, alpha=0.3)
        self.figure.legend(list(self.lines.values()) + [self.best_marker],
                           ["training loss", "validation loss", "best validation epoch"],
                           loc="upper center", ncol=3, frameon=False)
        self._start([W.HBox([self.controls["schedule"], self.controls["optimizer"], self.controls["seed"]]),
                     W.HBox([self.controls["lr"], self.controls["epochs"]]),
                     W.HBox([self.controls["warmup_steps"]])])

    def compute(self):
        v = self.values()
        n = len(self.task.y_train)
        steps_per_epoch = -(-n // self.BATCH)
        total = steps_per_epoch * int(v["epochs"])
        schedule = build_schedule(v["schedule"], float(v["lr"]), total, int(v["warmup_steps"]))
        rng = np.random.default_rng(validation.integer(v["seed"], "the seed", 0))
        params = self.model.init(rng)
        snapshots = train.EpochSnapshots(steps_per_epoch, initial=params)
        history = train.fit(self.model, params, OPTIMIZERS[v["optimizer"]](float(v["lr"])), self.task,
                            epochs=int(v["epochs"]), batch_size=self.BATCH, rng=rng, schedule=schedule,
                            callback=snapshots)
        best = int(np.nanargmin(history.val_loss))
        accuracy = lambda p: float(self.model.accuracy(p, self.task.X_test, self.task.y_test))
        end = math.nan if history.diverged else accuracy(history.params)
        return ScheduleResult(v["schedule"], v["optimizer"], schedule(np.arange(total)), history, best, end,
                              accuracy(snapshots.params[best]))

    def draw(self, result):
        self.lr_line.set_data(np.arange(len(result.lrs)), result.lrs)
        self.ax_lr.set_xlim(0, max(len(result.lrs) - 1, 1))
        self.ax_lr.set_ylim(0, 1.08 * max(float(np.max(result.lrs)), 1e-12))
        h = result.history
        self.lines["train"].set_data(h.epoch, h.train_loss)
        self.lines["val"].set_data(h.epoch, h.val_loss)
        self.best_marker.set_data([result.best_epoch], [h.val_loss[result.best_epoch]])
        self.ax_loss.set_xlim(0, max(int(self.controls["epochs"].value), 1))
        self.ax_loss.set_ylim(0, 4.0)

    def static_key(self):
        return (self.ax_lr.get_xlim(), self.ax_lr.get_ylim(), self.ax_loss.get_xlim())

    def describe(self, result):
        h = result.history
        if result.diverged:
            return _status(f"{result.name} with {result.optimizer}: the run {h.message}. The best epoch "
                           f"before that, {result.best_epoch}, had a clean test accuracy of "
                           f"{result.test_accuracy_best:.1%}.", "warn")
        if not h.val_loss[-1] < h.val_loss[0]:
            return _status(f"{result.name} with {result.optimizer}: the validation loss ended at "
                           f"{h.val_loss[-1]:.3g}, worse than the untrained network's {h.val_loss[0]:.3g}: the "
                           f"learning rate is too large for this schedule; try one ten times smaller.", "warn")
        return _status(
            f"{result.name} with {result.optimizer}, {h.n_steps} updates: validation loss {h.val_loss[-1]:.3f} "
            f"at the end, {h.val_loss[result.best_epoch]:.3f} at its best (epoch {result.best_epoch}); "
            f"clean test accuracy {result.test_accuracy_end:.1%} at the end, "
            f"{result.test_accuracy_best:.1%} at the best epoch (early stopping).")


def schedule_experiment(schedule="cosine", optimizer="SGD, momentum 0.9", lr=0.03, epochs=20, warmup_steps=40,
                        seed=0):
    """A schedule and its peak learning rate -> lr(t) and the training curves on noisy digits.

    Controls ``schedule`` (``SCHEDULE_NAMES``), ``optimizer``, ``lr`` (the peak), ``epochs``,
    ``warmup_steps`` (for warm-up + cosine and one-cycle) and ``seed``. An MLP 64→64→10 is
    trained in batches of 64 on the digits with 30 % of the training and validation labels
    flipped; the result (``ScheduleResult``) holds lr(t), the History, the best validation
    epoch and the clean test accuracy at the end and at that epoch.
    """
    return ScheduleExperiment(schedule, optimizer, lr, epochs, warmup_steps, seed)
