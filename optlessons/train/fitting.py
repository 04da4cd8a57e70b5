"""Training a model on data in mini-batches: ``fit`` -> ``History``."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import argcheck, schedules
from .averaging import WeightEMA
from .clipping import clip_grad_norm as _clip_grad_norm   # fit's keyword argument clip_grad_norm hides the name
from .minimizing import readonly

__all__ = ["History", "fit"]


@dataclass(eq=False)
class History:
    """What happened while ``fit`` trained a model.

    Per update step t = 0 .. n_steps-1 (``loss`` is the mini-batch loss *before* update t):
        ``loss``, ``lr`` (the learning rate used for update t).
    Per epoch e = 0 .. n_epochs (entry 0 is before any training; the losses are
    means over the whole training / validation set with the parameters at the
    end of epoch e; accuracies are NaN for regression models, ``val_*`` NaN
    without validation data):
        ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``.
    ``params``: the parameters at the end (for a diverged run, the last ones
    whose loss was finite). ``wall_time`` in seconds; ``diverged`` and a
    one-line ``message`` saying how the run ended; ``stopped`` when the
    callback ended the run (the last per-epoch entry is then taken where it
    stopped, part-way through an epoch).
    With ``fit(..., clip_grad_norm=c)``: ``grad_norm`` per update step, the
    global gradient norm *before* clipping (None without clipping).
    With ``fit(..., ema_decay=d)``: ``ema_params``, the exponential moving
    average of the weights at the end, and per epoch ``ema_val_loss`` /
    ``ema_val_accuracy`` of those averaged weights (None without an average).
    """

    loss: np.ndarray
    lr: np.ndarray
    epoch: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    params: dict
    wall_time: float
    diverged: bool
    message: str
    batch_size: int
    steps_per_epoch: int
    stopped: bool = False
    grad_norm: np.ndarray | None = None
    ema_params: dict | None = None
    ema_val_loss: np.ndarray | None = None
    ema_val_accuracy: np.ndarray | None = None

    @property
    def n_steps(self) -> int:
        """Number of updates made."""
        return len(self.loss)

    @property
    def n_epochs(self) -> int:
        """Number of epochs completed."""
        return len(self.epoch) - 1

    def final(self) -> dict:
        """The last epoch's numbers as a dict (what a search table records)."""
        return {"train_loss": float(self.train_loss[-1]), "train_accuracy": float(self.train_accuracy[-1]),
                "val_loss": float(self.val_loss[-1]), "val_accuracy": float(self.val_accuracy[-1]),
                "diverged": self.diverged, "epochs": self.n_epochs, "steps": self.n_steps,
                "wall_time": self.wall_time}

    def __repr__(self):
        return f"History({self.message})"


def _all_finite(value, grads) -> bool:
    """Whether the loss and every entry of every gradient are finite.

    A NaN or an infinity makes ‖g‖² = g·g non-finite: one pass, no temporary array.
    Only an ‖g‖² that overflows (an entry beyond about 1e154) needs the closer look."""
    if not math.isfinite(value):
        return False
    items = grads.values() if isinstance(grads, dict) else [grads]
    return all(math.isfinite(np.vdot(g, g)) or np.isfinite(g).all() for g in items)


def _evaluate(model, params, X, y):
    """(mean loss, accuracy) on X, y; NaN accuracy for models without one, NaNs for no data."""
    if X is None or len(X) == 0:
        return math.nan, math.nan
    with np.errstate(all="ignore"):
        loss = float(model.loss(params, X, y))
        accuracy = float(model.accuracy(params, X, y)) if hasattr(model, "accuracy") else math.nan
    return loss, accuracy


def _check_xy(X, y, what):
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{what}: X and y must be arrays with one row per sample")
    if len(X) != len(y):
        raise ValueError(f"{what}: X and y have different lengths: {len(X)} and {len(y)}")
    return X, y


def _make_schedule(schedule, optimizer, total_steps):
    """A callable schedule from a callable, or from a name (``schedules.for_run`` with the optimizer's lr and the run's length)."""
    if schedule is None or callable(schedule):
        return schedule
    if not isinstance(schedule, str):
        raise TypeError(f"schedule must be a callable step -> lr, a schedule name or None, got {schedule!r}")
    return schedules.for_run(schedule, float(optimizer.lr), max(total_steps, 1))


def fit(model, params, optimizer, X, y=None, *, epochs=10, batch_size=None, rng=None,
        schedule=None, X_val=None, y_val=None, shuffle=True,
        clip_grad_norm=None, ema_decay=None, callback=None) -> History:
    """Train ``model`` from ``params`` with ``optimizer`` on (X, y) -> :class:`History`.

    The loop, for each epoch::

        shuffle the rows of X, y (with rng)           # unless full batch or shuffle=False
        for each mini-batch (X_b, y_b) of batch_size rows (the last may be smaller):
            optimizer.lr = schedule(t)                # if a schedule is given; t counts updates from 0
            loss, grads = model.backward(params, X_b, y_b)
            grads, _ = clip_grad_norm(grads, c)       # if clip_grad_norm=c is given
            params = optimizer.step(params, grads)
            ema.update(params)                        # if ema_decay is given
            if callback(t, loss, params): stop        # if a callback is given
        evaluate loss (and accuracy) on all of X, y and on X_val, y_val
        (and on X_val, y_val with the averaged weights)
        plateau.step(val_loss or train_loss)          # if schedule is a ReduceLROnPlateau

    Parameters
    ----------
    model : an :mod:`optlessons.models` model (anything with ``backward`` and ``loss``;
        ``accuracy`` is used when present).
    params : dict name -> ndarray, e.g. ``model.init(rng)``. Never written into.
    optimizer : an :mod:`optlessons.optim` optimizer (``step`` and a settable ``lr``).
        It keeps its state: pass a fresh one to each run. ``LBFGS`` (``takes_closure``)
        gets a closure on each mini-batch, ``p -> model.backward(p, X_b, y_b)``, and makes
        up to its ``max_iter`` iterations on that batch per step.
    X, y : training data, X of shape (n_samples, n_features). Or pass a
        :class:`optlessons.data.Splits` as X (and no y): its train and validation parts are used.
    epochs : number of passes over the data.
    batch_size : None (full batch: gradient descent), 1 (single-example SGD) or
        any size up to n_samples (mini-batch SGD).
    rng : numpy Generator (or int seed) used to reshuffle each epoch; required
        when batch_size < n_samples and shuffle is true.
    schedule : None (keep ``optimizer.lr``), a callable ``t -> lr`` (see
        :mod:`optlessons.schedules`), or a name such as ``"cosine"``, built by
        ``schedules.for_run`` from ``optimizer.lr`` (the peak) and the run's total
        number of steps (``schedules.RUN_SCHEDULES`` lists the names); or a ``schedules.ReduceLROnPlateau``, which sets the lr
        at the start and steps once per epoch with the validation loss (the
        training loss without validation data); it keeps its state, so pass
        a fresh one to each run, as with the optimizer.
    X_val, y_val : optional validation data, evaluated after each epoch.
    clip_grad_norm : None, or ``max_norm``: each step's gradients are clipped to
        that global 2-norm by :func:`clip_grad_norm` (``History.grad_norm``
        keeps the norms before clipping).
    ema_decay : None, or a decay in [0, 1]: keep a :class:`WeightEMA` of the
        weights, updated after every step (``History.ema_params``,
        ``History.ema_val_loss``).
    callback : None, or ``callback(t, loss, params)``, called after update t
        with the mini-batch loss before it and the new parameters; a true
        return value ends the run there (``History.stopped``).
        ``optlessons.progress.ProgressBar`` is one that shows the run in a kernel.

    A run whose loss or gradient stops being finite stops there (no numpy
    warning) with ``diverged=True`` and a message saying when and why.
    """
    if y is None and hasattr(X, "X_train"):
        splits = X
        X, y = splits.X_train, splits.y_train
        if X_val is None and len(splits.y_val):
            X_val, y_val = splits.X_val, splits.y_val
    if y is None:
        raise ValueError("fit needs targets: fit(model, params, optimizer, X, y, ...) or a data.Splits as X")
    X, y = _check_xy(X, y, "training data")
    n = len(X)
    if n == 0:
        raise ValueError("training data is empty")
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val, or neither")
    if X_val is not None:
        X_val, y_val = _check_xy(X_val, y_val, "validation data")
    epochs = argcheck.integer(epochs, "epochs", 1)
    batch_size = n if batch_size is None else argcheck.integer(batch_size, "batch_size (None: full batch)", 1, n)
    shuffling = shuffle and batch_size < n
    if shuffling:
        if rng is None:
            raise ValueError("mini-batches are reshuffled every epoch: pass rng=np.random.default_rng(seed) "
                             "(or shuffle=False)")
        rng = argcheck.generator(rng)
    if not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must have a step(params, grads) method, got {optimizer!r}")
    if clip_grad_norm is not None:
        argcheck.number(clip_grad_norm, "clip_grad_norm (None: no clipping)", 0, low_open=True, finite=False)
        if getattr(optimizer, "takes_closure", False):
            raise ValueError("clip_grad_norm cannot clip LBFGS's gradients: its line search evaluates them "
                             "itself; use clip_grad_norm=None with LBFGS")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(t, loss, params), got {callback!r}")
    ema = None if ema_decay is None else WeightEMA(ema_decay)
    steps_per_epoch = -(-n // batch_size)
    plateau = schedule if isinstance(schedule, schedules.ReduceLROnPlateau) else None
    if plateau is not None:
        optimizer.lr = plateau.lr
        schedule = None
    schedule = _make_schedule(schedule, optimizer, steps_per_epoch * epochs)

    start_time = time.perf_counter()
    step_losses, step_lrs, step_grad_norms = [], [], []
    per_epoch = {"train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": []}
    ema_per_epoch = {"val_loss": [], "val_accuracy": []}

    def record(p):
        tl, ta = _evaluate(model, p, X, y)
        vl, va = _evaluate(model, p, X_val, y_val)
        for key, value in zip(per_epoch, (tl, ta, vl, va)):
            per_epoch[key].append(value)
        if ema is not None:
            # Before the first update the average is the initial model (AveragedModel copies it).
            averaged = p if ema.params is None else ema.params
            for key, value in zip(ema_per_epoch, _evaluate(model, averaged, X_val, y_val)):
                ema_per_epoch[key].append(value)
        return tl, vl

    record(params)
    problem = None
    stopped = False
    t = 0
    epoch = 0
    for epoch in range(1, epochs + 1):
        if shuffling:
            order = rng.permutation(n)
            X_epoch, y_epoch = X[order], y[order]
        else:
            X_epoch, y_epoch = X, y
        for begin in range(0, n, batch_size):
            X_b, y_b = X_epoch[begin:begin + batch_size], y_epoch[begin:begin + batch_size]
            if schedule is not None:
                optimizer.lr = float(schedule(t))
            with np.errstate(all="ignore"):          # a run that diverges stops here, without numpy warnings
                loss, grads = model.backward(params, X_b, y_b)
                if not _all_finite(loss, grads):
                    what = "loss" if not math.isfinite(loss) else "gradient"
                    problem = f"at epoch {epoch}, step {t}: the {what} is not finite"
                    break
                step_losses.append(float(loss))
                step_lrs.append(float(optimizer.lr))
                if clip_grad_norm is not None:
                    grads, grad_norm = _clip_grad_norm(grads, clip_grad_norm)
                    step_grad_norms.append(grad_norm)
                try:
                    if getattr(optimizer, "takes_closure", False):   # LBFGS evaluates the batch's loss at points of its own
                        new_params = optimizer.step(params, lambda p: model.backward(p, X_b, y_b))
                    else:
                        new_params = optimizer.step(params, grads)
                except FloatingPointError as err:
                    problem = f"at epoch {epoch}, step {t}: the optimizer reported {err}"
                    break
            params = new_params
            if ema is not None:
                ema.update(params)
            t += 1
            if callback is not None and callback(t - 1, step_losses[-1], params):
                stopped = True
                break
        if problem is not None:
            break
        train_loss, val_loss = record(params)
        if not math.isfinite(train_loss):
            problem = f"at the end of epoch {epoch}: the training loss is not finite"
            for values in (*per_epoch.values(), *(ema_per_epoch.values() if ema is not None else ())):
                values.pop()
            break
        if stopped:
            break
        if plateau is not None:
            optimizer.lr = plateau.step(train_loss if X_val is None else val_loss)
    wall_time = time.perf_counter() - start_time

    n_epochs = len(per_epoch["train_loss"]) - 1
    if problem is not None:
        lr_now = step_lrs[-1] if step_lrs else float(optimizer.lr)
        message = f"diverged {problem} (lr={lr_now:.3g}); try a smaller learning rate"
    else:
        parts = [f"{n_epochs} epochs, {t} steps of batch {batch_size}",
                 *([f"stopped by the callback after step {t - 1}"] if stopped else []),
                 f"train loss {per_epoch['train_loss'][-1]:.4g}"]
        if not math.isnan(per_epoch["train_accuracy"][-1]):
            parts.append(f"train accuracy {per_epoch['train_accuracy'][-1]:.1%}")
        if not math.isnan(per_epoch["val_loss"][-1]):
            parts.append(f"val loss {per_epoch['val_loss'][-1]:.4g}")
        if not math.isnan(per_epoch["val_accuracy"][-1]):
            parts.append(f"val accuracy {per_epoch['val_accuracy'][-1]:.1%}")
        message = ", ".join(parts) + f" in {wall_time:.2f} s"
    return History(
        loss=readonly(np.array(step_losses, dtype=float)),
        lr=readonly(np.array(step_lrs, dtype=float)),
        epoch=readonly(np.arange(n_epochs + 1)),
        **{k: readonly(np.array(v, dtype=float)) for k, v in per_epoch.items()},
        params=params,
        wall_time=wall_time,
        diverged=problem is not None,
        message=message,
        batch_size=batch_size,
        steps_per_epoch=steps_per_epoch,
        stopped=stopped,
        grad_norm=None if clip_grad_norm is None else readonly(np.array(step_grad_norms, dtype=float)),
        ema_params=None if ema is None else (dict(params) if ema.params is None else ema.params),
        ema_val_loss=None if ema is None else readonly(np.array(ema_per_epoch["val_loss"], dtype=float)),
        ema_val_accuracy=None if ema is None else readonly(np.array(ema_per_epoch["val_accuracy"], dtype=float)),
    )
