"""The experiments that train a network on the digits: 08's optimizer experiment and 10's schedules.

    lab = training_experiment()           # 08: an optimizer, its learning rate, the batch size, epochs
    lab.controls["optimizer"].value = "SGD"
    lab.result.history                    # a plain result object (TrainingResult)

    lab = schedule_experiment()           # 10: a learning-rate schedule on noisy digits
    lab.controls["schedule"].value = "one-cycle"     # a label of schedules.REGISTRY
    lab.result.test_accuracy_best         # a plain result object (ScheduleResult)

Both are :class:`optlessons.widgets.Experiment` objects: ``controls``, ``compute()``, ``draw(result)``,
a one-line ``message``; a bad setting (a warm-up longer than the run, a learning rate that
blows up) is a sentence in ``message``, never a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import ipywidgets as W

from .. import argcheck, data, models, optim, plots, schedules, train
from .base import WIDE_LABEL, LR_FORMAT, Experiment, escape_html, int_slider, log_slider, note, readout

__all__ = ["ScheduleResult", "ScheduleExperiment", "schedule_experiment",
           "noisy_digits", "TrainingResult", "TrainingExperiment", "training_experiment"]

# ============================================================================ optimizers on the digits (08)

#: The optimizers ``training_experiment`` offers by default: torch.optim's classes, each starting at its default lr.
TRAINING_OPTIMIZERS = {cls.__name__: cls for cls in (optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adadelta,
                                                    optim.Adam, optim.AdamW, optim.NAdam, optim.RAdam, optim.Adamax)}
LR_RANGE = (-4, 1.5)          # the learning-rate slider's range, powers of ten: 1e-4 .. 31.6
LOSS_CLIP = 10.0              # the loss panel's top: a blown-up run is drawn at this height


@dataclass
class TrainingResult:
    optimizer: str
    lr: float
    history: train.History
    reference: train.History | None     # the run drawn grey for comparison (None: none given)


class TrainingExperiment(Experiment):
    title = "Train the MLP on the digits"
    shows = ("The training (solid) and validation (dashed) loss, log scale, left, and accuracy, right, per "
             "epoch.")
    help = "training (solid) and validation (dashed) curves."

    BATCH_SIZES = (16, 32, 64, 128, 256)      # and the whole training set (full batch)

    def __init__(self, task=None, model=None, optimizers=None, start_lr=None, reference=None,
                 reference_label="reference run", optimizer="Adam", batch_size=64, epochs=6, seed=0):
        super().__init__(width=10.0, height=3.7)
        self.task = data.load_digits(0) if task is None else task
        self.model = models.MLP(self.task.n_features, (32,), self.task.n_classes) if model is None else model
        self.optimizers = dict(TRAINING_OPTIMIZERS if optimizers is None else optimizers)
        self.start_lr = _start_lrs(self.optimizers, start_lr)
        self.reference = dict(reference or {})
        self.seed = seed
        n_train = len(self.task.y_train)
        _check_choice("optimizer", optimizer, self.optimizers)
        unknown = sorted(set(self.reference) - set(self.optimizers))
        if unknown:
            raise ValueError(f"reference must name offered optimizers ({', '.join(self.optimizers)}); "
                             f"got {', '.join(unknown)}")
        _check_choice("batch_size", batch_size, self.BATCH_SIZES + (n_train,))
        if not (isinstance(epochs, (int, np.integer)) and 1 <= epochs <= 16):
            raise ValueError(f"epochs must be an integer in [1, 16], got {epochs!r}")
        if self.reference:
            self.shows = self.shows[:-1] + f", with {reference_label} as grey dotted lines."
            self.help = f"training (solid) and validation (dashed) curves; grey dotted: {reference_label}."
        wide = dict(style=WIDE_LABEL, layout=W.Layout(width="340px"))
        self.controls["optimizer"] = W.Dropdown(options=list(self.optimizers), value=optimizer,
                                                description="optimizer", **wide)
        self.controls["lr"] = log_slider("learning rate", self.start_lr[optimizer], *LR_RANGE)
        self.controls["batch_size"] = W.Dropdown(options=[*self.BATCH_SIZES, n_train], value=batch_size,
                                                 description="batch size", **wide)
        self.controls["epochs"] = int_slider("epochs", epochs, 1, 16)
        self.ax_loss, self.ax_acc = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.8, wspace=0.25)
        self.lines = {}
        for ax, what in ((self.ax_loss, "loss"), (self.ax_acc, "accuracy")):
            for split, colour, dash in (("train", plots.PALETTE[0], "-"), ("val", plots.PALETTE[1], "--")):
                (self.lines[split, what],) = ax.plot([], [], color=colour, linestyle=dash, marker="o",
                                                     markersize=3, linewidth=2, animated=True)
                (self.lines["ref " + split, what],) = ax.plot([], [], color="0.55", linestyle=":", linewidth=1.5,
                                                              animated=True)
            ax.grid(True, alpha=0.3)
            ax.set_xlabel("epoch")
        handles = [self.lines["train", "loss"], self.lines["val", "loss"]]
        labels = ["training", "validation"]
        if self.reference:
            handles.append(self.lines["ref train", "loss"])
            labels.append(f"{reference_label} (grey)")
        self.figure.legend(handles, labels, loc="upper center", ncol=3, fontsize="small", frameon=False)
        self.ax_loss.set_yscale("log")
        self.ax_loss.set_ylim(1e-3, LOSS_CLIP)
        self.ax_loss.set_ylabel("cross-entropy (log scale)")
        self.ax_loss.set_title(f"Loss (clipped at {LOSS_CLIP:g})")
        self.ax_acc.set_ylim(0, 101)
        self.ax_acc.set_ylabel("accuracy (%)")
        self.ax_acc.set_title("Accuracy")
        self._start([W.HBox([self.controls["optimizer"], self.controls["lr"]]),
                     W.HBox([self.controls["batch_size"], self.controls["epochs"]])])

    def _on_change(self, change):
        if change["owner"] is self.controls["optimizer"]:      # a new optimizer starts at its own lr
            with self.hold():
                self.controls["lr"].value = self.start_lr[change["new"]]
            return
        super()._on_change(change)

    def compute(self):
        v = self.values()
        rng = np.random.default_rng(self.seed)             # the same initial weights and batches every time
        history = train.fit(self.model, self.model.init(rng), self.optimizers[v["optimizer"]](lr=v["lr"]),
                            self.task, epochs=int(v["epochs"]), batch_size=int(v["batch_size"]), rng=rng)
        return TrainingResult(v["optimizer"], float(v["lr"]), history, self.reference.get(v["optimizer"]))

    def static_key(self):
        return self.controls["epochs"].value

    def draw(self, result):
        h, ref = result.history, result.reference
        for split in ("train", "val"):
            for what, scale in (("loss", 1), ("accuracy", 100)):
                y = getattr(h, f"{split}_{what}") * scale
                self.lines[split, what].set_data(h.epoch, np.minimum(y, LOSS_CLIP) if what == "loss" else y)
                grey = ([], []) if ref is None else (ref.epoch, getattr(ref, f"{split}_{what}") * scale)
                self.lines["ref " + split, what].set_data(*grey)
        for ax in (self.ax_loss, self.ax_acc):
            ax.set_xlim(0, max(self.controls["epochs"].value, 1))

    def describe(self, result):
        h = result.history
        head = f"{result.optimizer}, lr {readout(result.lr, LR_FORMAT)}, batch {h.batch_size}: {h.n_steps} updates"
        if h.diverged or h.train_loss[-1] > LOSS_CLIP:
            what = (h.message if h.diverged else
                    f"the training loss grew to {h.train_loss[-1]:.3g}; try a smaller learning rate")
            return note(escape_html(f"{head}; {what}."), "warn")
        return note(escape_html(
            f"{head}; after epoch {h.n_epochs}: training loss {h.train_loss[-1]:.4f}, validation loss "
            f"{h.val_loss[-1]:.4f}, validation accuracy {100 * h.val_accuracy[-1]:.1f} %"))


def _check_choice(name, value, choices):
    """ValueError naming ``name`` and the choices unless ``value`` is None or one of ``choices``."""
    if value is not None and value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _start_lrs(optimizers, start_lr):
    """name -> the learning rate the slider moves to when that optimizer is picked (default: its own default)."""
    lrs = {}
    for name, make in optimizers.items():
        if start_lr is not None and name in start_lr:
            lrs[name] = float(start_lr[name])
        else:
            try:
                lrs[name] = float(make().defaults["lr"])
            except TypeError:
                raise ValueError(f"start_lr must give a learning rate for {name!r}: its optimizer "
                                 f"needs one to be built") from None
        lo, hi = 10.0 ** LR_RANGE[0], 10.0 ** LR_RANGE[1]
        if not lo <= lrs[name] <= hi:
            raise ValueError(f"start_lr for {name!r} must be a number in [{lo:g}, {hi:.3g}], got {lrs[name]!r}")
    return lrs


def training_experiment(task=None, model=None, optimizers=None, start_lr=None, reference=None,
                        reference_label="reference run", optimizer="Adam", batch_size=64, epochs=6, seed=0):
    """An optimizer, its learning rate, the batch size and the epochs -> the network's training curves.

    ``task``: a ``data.Splits`` (default: the digits, ``data.load_digits(0)``); ``model``: default
    an MLP with 32 hidden units; ``optimizers``: name -> ``lr -> optimizer`` (default: the classes of
    ``optim``, by name); ``start_lr``: name -> the learning rate the slider moves to when that
    optimizer is picked (default: the optimizer's own default; notebook 08 passes its tuned rates);
    ``reference``: name -> a ``train.History`` drawn grey and dotted for comparison, described by
    ``reference_label``. Every run starts from the same weights and batch order (``seed``).
    Controls ``optimizer``, ``lr``, ``batch_size``, ``epochs``; result ``TrainingResult``.
    """
    return TrainingExperiment(task, model, optimizers, start_lr, reference, reference_label, optimizer,
                              batch_size, epochs, seed)


# ============================================================================ schedules on noisy digits (10)

_RUN_LABELS = {schedules.REGISTRY[name].label: name for name in schedules.RUN_SCHEDULES}   # label -> name
SCHEDULE_OPTIMIZERS = {"SGD, momentum 0.9": lambda lr: optim.SGD(lr=lr, momentum=0.9),
                       "Adam": lambda lr: optim.Adam(lr=lr)}


def noisy_digits(fraction=0.3, seed=0):
    """The digits (split seed 0) with ``fraction`` of the training and validation labels flipped
    (``data.with_label_noise`` with ``seed``); test labels clean. The task of notebook 10."""
    return data.with_label_noise(data.load_digits(0), fraction, seed)


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
        # the registry's labels ("warm-up + cosine"); a registry name ("warmup_cosine") is accepted too
        self.controls["schedule"] = W.Dropdown(options=list(_RUN_LABELS),
                                               value=schedules.REGISTRY[schedule].label
                                               if schedule in schedules.REGISTRY else schedule,
                                               description="schedule", style=WIDE_LABEL)
        self.controls["optimizer"] = W.Dropdown(options=list(SCHEDULE_OPTIMIZERS), value=optimizer,
                                                description="optimizer", style=WIDE_LABEL)
        self.controls["lr"] = log_slider("peak learning rate", lr, -4, 0.5)
        self.controls["epochs"] = int_slider("epochs", epochs, 2, 40)
        self.controls["warmup_steps"] = int_slider("warm-up updates", warmup_steps, 0, 400, 10)
        self.controls["seed"] = W.IntText(value=seed, description="seed", style=WIDE_LABEL,
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
        schedule = schedules.for_run(_RUN_LABELS[v["schedule"]], float(v["lr"]), total, int(v["warmup_steps"]))
        rng = np.random.default_rng(argcheck.integer(v["seed"], "the seed", 0))
        params = self.model.init(rng)
        snapshots = train.EpochSnapshots(steps_per_epoch, initial=params)
        history = train.fit(self.model, params, SCHEDULE_OPTIMIZERS[v["optimizer"]](float(v["lr"])), self.task,
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
            return note(escape_html(f"{result.name} with {result.optimizer}: the run {h.message}. The best epoch "
                                    f"before that, {result.best_epoch}, had a clean test accuracy of "
                                    f"{result.test_accuracy_best:.1%}."), "warn")
        if not h.val_loss[-1] < h.val_loss[0]:
            return note(escape_html(f"{result.name} with {result.optimizer}: the validation loss ended at "
                                    f"{h.val_loss[-1]:.3g}, worse than the untrained network's {h.val_loss[0]:.3g}: "
                                    f"the learning rate is too large for this schedule; try one ten times "
                                    f"smaller."), "warn")
        return note(escape_html(
            f"{result.name} with {result.optimizer}, {h.n_steps} updates: validation loss {h.val_loss[-1]:.3f} "
            f"at the end, {h.val_loss[result.best_epoch]:.3f} at its best (epoch {result.best_epoch}); "
            f"clean test accuracy {result.test_accuracy_end:.1%} at the end, "
            f"{result.test_accuracy_best:.1%} at the best epoch (early stopping)."))

def schedule_experiment(schedule="cosine", optimizer="SGD, momentum 0.9", lr=0.03, epochs=20, warmup_steps=40,
                        seed=0):
    """A schedule and its peak learning rate -> lr(t) and the training curves on noisy digits.

    Controls ``schedule`` (the label, or the name, of one of ``schedules.RUN_SCHEDULES``,
    built by ``schedules.for_run``),
    ``optimizer``, ``lr`` (the peak), ``epochs``, ``warmup_steps`` (for the schedules with a
    warm-up: warm-up + cosine, warm-up-stable-decay and one-cycle) and ``seed``. An MLP 64→64→10 is
    trained in batches of 64 on the digits with 30 % of the training and validation labels
    flipped; the result (``ScheduleResult``) holds lr(t), the History, the best validation
    epoch and the clean test accuracy at the end and at that epoch.
    """
    return ScheduleExperiment(schedule, optimizer, lr, epochs, warmup_steps, seed)
