"""Running optimizers: ``minimize`` a 2-D function from a start point.

``minimize(landscape, optimizer)`` is the loop every notebook and widget runs::

    p = start
    for t = 1, 2, ..., steps:
        g = ∇f(p)
        p = optimizer.step(p, g)

and records the path it took as a :class:`Trajectory`. It needs only numpy:
the landscape is anything with ``value(p)`` and ``gradient(p)`` (an
:class:`optlessons.functions.Landscape`, or your own object), the optimizer
anything with ``step(params, grads) -> new_params`` (an :mod:`optlessons.optim`
class, or your own).

A run that blows up does not spoil a plot: it stops at the first step whose
point, value or gradient is not finite, or whose point has left the plotting
window far behind (``functions.escaped``), keeps the points up to there, and
says so in ``Trajectory.message`` (the step in ``Trajectory.diverged_at``).
No numpy warning is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import validation
from .functions import escape_box

__all__ = ["Trajectory", "minimize"]



def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Trajectory:
    """The path an optimizer took on a 2-D function.

    Attributes
    ----------
    points : ndarray, shape (n + 1, 2)
        ``points[0]`` is the start, ``points[t]`` the point after step ``t``.
    values : ndarray, shape (n + 1,)
        ``f(points[t])``.
    grad_norms : ndarray, shape (n + 1,)
        ``‖∇f(points[t])‖``.
    diverged : bool
        True when the run stopped early because it blew up.
    message : str
        One line saying how the run ended, e.g. ``"diverged at step 37: the
        point left the plotting window; try a smaller learning rate"``.
    minima : ndarray, shape (k, 2)
        The landscape's known minima (empty when it has none, or none is
        known); :meth:`steps_to` measures distances to them.
    diverged_at : int or None
        The step that blew up (its point is not kept, so it is ``n + 1``), or
        None for a run that did not diverge.

    ``n`` is the number of steps actually made: ``steps`` for a run that went
    to the end, fewer for one that diverged. The arrays are read-only and are
    copies, never the optimizer's own arrays.
    """

    points: np.ndarray
    values: np.ndarray
    grad_norms: np.ndarray
    diverged: bool
    message: str
    minima: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    diverged_at: int | None = None

    @property
    def n_steps(self) -> int:
        """Number of steps made (``len(points) - 1``)."""
        return len(self.points) - 1

    @property
    def final(self) -> np.ndarray:
        """The last point reached (a copy)."""
        return self.points[-1].copy()

    def distances(self, minimum=None) -> np.ndarray:
        """Distance of every point to ``minimum`` (default: the nearest known minimum)."""
        if minimum is None:
            if len(self.minima) == 0:
                raise ValueError("this trajectory has no known minima: pass `minimum=` explicitly")
            diff = self.points[:, None, :] - self.minima[None, :, :]
            return np.sqrt((diff**2).sum(axis=-1)).min(axis=1)
        minimum = np.asarray(minimum, dtype=float)
        if minimum.shape != (2,):
            raise ValueError(f"minimum has shape {minimum.shape} but must have shape (2,)")
        return np.sqrt(((self.points - minimum) ** 2).sum(axis=-1))

    def steps_to(self, tol: float = 1e-3, minimum=None) -> int | None:
        """First step ``t`` at which ``points[t]`` lies within ``tol`` of a minimum.

        The distance is Euclidean, to ``minimum`` if given, else to the nearest
        of the landscape's known minima. Returns ``None`` when the run never
        got that close.
        """
        close = np.flatnonzero(self.distances(minimum) <= tol)
        return int(close[0]) if close.size else None


def _as_point(p, what: str) -> np.ndarray:
    p = np.array(p, dtype=float)  # always a copy: never alias the optimizer's arrays
    if p.shape != (2,):
        raise ValueError(f"{what} has shape {p.shape} but a point of a 2-D function must have shape (2,)")
    return p


def minimize(landscape, optimizer, start=None, steps: int = 100, callback=None) -> Trajectory:
    """Run ``optimizer`` on ``landscape`` from ``start`` for ``steps`` steps.

    Parameters
    ----------
    landscape : object with ``value(p)`` and ``gradient(p)``
        ``value`` maps a point of shape (2,) to a number, ``gradient`` to an
        array of shape (2,). Optional attributes: ``start`` (used when
        ``start`` is None), ``window`` (``((xmin, xmax), (ymin, ymax))``, used
        to detect a run that flies away) and ``minima`` (copied into the
        trajectory for :meth:`Trajectory.steps_to`).
    optimizer : object with ``step(params, grads) -> new_params``
        For example ``optlessons.optim.Adam(lr=0.1)``. It keeps its own state,
        so pass a fresh optimizer to each run. ``LBFGS`` (``takes_closure``) gets
        ``step(point, closure)`` with ``closure(q) = (f(q), ∇f(q))``: one step is one
        call (up to its ``max_iter`` iterations, each with its line search's evaluations).
    start : array-like of shape (2,), optional
        Defaults to ``landscape.start``.
    steps : int
        Number of updates to make (the trajectory then has ``steps + 1`` points).
    callback : None, or ``callback(t, value, point)``
        Called once the point of step t (t = 1, 2, …) is recorded, with
        ``f(point)``; it may read the optimizer's state. A true return ends
        the run there (not a divergence).

    Returns
    -------
    Trajectory
        ``diverged`` is True when the run stopped early because a value,
        gradient or point was not finite, the point escaped
        (:func:`optlessons.functions.escaped`: further than ``ESCAPE_FACTOR``
        window sizes from the window's centre), or the optimizer raised
        ``FloatingPointError``; ``diverged_at`` is then that step. The points
        kept are those up to the last good one.
    """
    steps = validation.integer(steps, "steps", 0)
    if start is None:
        start = getattr(landscape, "start", None)
        if start is None:
            raise ValueError("no start point: pass `start=` or give the landscape a `start` attribute")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(t, value, point), got {callback!r}")
    p = _as_point(start, "start")
    window = getattr(landscape, "window", None)
    bounds = None if window is None else escape_box(window)
    if bounds is not None:
        (cx, cy), (ax, ay) = bounds
    minima = getattr(landscape, "minima", None)
    minima = np.empty((0, 2)) if minima is None else np.array(minima, dtype=float).reshape(-1, 2)

    # The path is recorded as Python floats: fast, and never shared with the
    # optimizer (which may even write into the array it is given).
    points, values, grad_norms = [], [], []
    problem = None  # why the run stopped early, if it did
    stopped = False  # whether the callback ended it
    step = 0
    px, py = p.tolist()
    with np.errstate(all="ignore"):
        while True:
            value = float(landscape.value(p))
            grad = np.asarray(landscape.gradient(p), dtype=float)
            if grad.shape != (2,):
                raise ValueError(f"landscape.gradient returned shape {grad.shape}, expected (2,)")
            gx, gy = grad.tolist()
            if not math.isfinite(value):
                problem = "the value is not finite"
                break
            if not (math.isfinite(gx) and math.isfinite(gy)):
                problem = "the gradient is not finite"
                break
            points.append((px, py))
            values.append(value)
            grad_norms.append(math.hypot(gx, gy))
            if step > 0 and callback is not None and callback(step, value, p):
                stopped = step < steps
                break
            if step == steps:
                break
            step += 1
            try:
                if getattr(optimizer, "takes_closure", False):     # LBFGS: f and ∇f wherever it looks
                    new_p = optimizer.step(p, lambda q: (landscape.value(q), landscape.gradient(q)))
                else:
                    new_p = optimizer.step(p, grad)
            except FloatingPointError as err:
                problem = f"the optimizer reported {err}"
                break
            p = _as_point(new_p, "optimizer.step(...)")  # a copy, never the optimizer's array
            px, py = p.tolist()
            if not (math.isfinite(px) and math.isfinite(py)):
                problem = "the point is not finite"
                break
            if bounds is not None and (abs(px - cx) > ax or abs(py - cy) > ay):
                problem = "the point left the plotting window"
                break

    trajectory_minima = _readonly(minima)
    if problem is not None:
        if len(minima) == 0 and hasattr(landscape, "minima"):
            advice = "this function has no minimum to converge to"
        else:
            advice = "try a smaller learning rate"
        message = f"diverged at step {step}: {problem}; {advice}"
    else:
        last = points[-1]
        ran = "stopped by the callback after" if stopped else "ran"
        message = (
            f"{ran} {step} steps: L = {values[-1]:.4g} at ({last[0]:.4g}, {last[1]:.4g}), "
            f"gradient norm {grad_norms[-1]:.2g}"
        )
    return Trajectory(
        points=_readonly(np.array(points, dtype=float).reshape(-1, 2)),
        values=_readonly(np.array(values, dtype=float)),
        grad_norms=_readonly(np.array(grad_norms, dtype=float)),
        diverged=problem is not None,
        message=message,
        minima=trajectory_minima,
        diverged_at=None if problem is None else step,
    )


# =========================================================================== fit
# Training a model on data, in mini-batches -> History.

import time as _time

from optlessons import schedules as _schedules

__all__ += ["History", "fit", "clip_grad_norm", "vector_norm", "ema_update", "WeightEMA"]


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


class _ProgressBar:
    """An ipywidgets IntProgress shown only when asked for and only inside a Jupyter kernel."""

    def __init__(self, wanted, total):
        self.bar = None
        if not wanted:
            return
        try:
            from IPython import get_ipython
            shell = get_ipython()
            if shell is None or not hasattr(shell, "kernel"):
                return                       # a plain Python or terminal IPython: stay quiet
            import ipywidgets
            from IPython.display import display
        except ImportError:
            return
        self.bar = ipywidgets.IntProgress(value=0, min=0, max=total, description=f"epoch 0/{total}")
        display(self.bar)

    def update(self, epoch, total, val_loss):
        if self.bar is not None:
            self.bar.value = epoch
            extra = "" if math.isnan(val_loss) else f" val {val_loss:.3g}"
            self.bar.description = f"epoch {epoch}/{total}{extra}"

    def close(self, diverged):
        if self.bar is not None:
            self.bar.bar_style = "danger" if diverged else "success"


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
    return _schedules.for_run(schedule, float(optimizer.lr), max(total_steps, 1))


# ------------------------------------------------------------------ gradient clipping

def vector_norm(x, norm_type=2.0) -> float:
    """The p-norm of all the entries of `x`, p = `norm_type` (torch.linalg.vector_norm):
    (Σ |xᵢ|ᵖ)^(1/p), and max |xᵢ| for p = inf."""
    a = np.abs(np.ravel(np.asarray(x, dtype=float)))
    if norm_type == math.inf:
        return float(a.max()) if a.size else 0.0
    if norm_type == 2:
        return math.sqrt(np.vdot(a, a))
    return float(np.sum(a ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients down so that their global norm is at most `max_norm`
    (torch.nn.utils.clip_grad_norm_) -> (clipped_grads, total_norm).

    `grads` is an array or a dict name -> array (all of a model's gradients:
    the norm is taken over all of them together, never per array):

        total_norm = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p          the p-norm of every entry, p = norm_type
        c = min(max_norm / (total_norm + 1e-6), 1)
        gᵢ = c · gᵢ

    as PyTorch computes it: the 1e-6 keeps the division finite, so a gradient
    whose norm is at most max_norm − 1e-6 is multiplied by exactly 1 (left as
    it is) and a longer one ends a hair (a relative 1e-6 / total_norm) below
    `max_norm`. The direction of the whole gradient never changes. `norm_type`
    is any p > 0 or ``math.inf`` (the largest |entry|). Returns new arrays
    (the same kind of thing as `grads`, never written into) and `total_norm`
    before clipping, a float.

    A NaN or infinite gradient makes `total_norm` NaN or inf and, as in
    PyTorch, the clipped gradients NaN: with ``error_if_nonfinite=True`` it
    raises FloatingPointError instead.
    """
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"norm_type must be a number > 0 or math.inf, got {norm_type!r}") from None
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 (or math.inf), got {norm_type!r}")
    validation.number(max_norm, "max_norm", 0, finite=False)
    is_dict = isinstance(grads, dict)
    arrays = {k: np.asarray(g, dtype=float) for k, g in grads.items()} if is_dict else \
        {None: np.asarray(grads, dtype=float)}
    total_norm = vector_norm([vector_norm(g, norm_type) for g in arrays.values()], norm_type)
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise FloatingPointError(f"the total norm of order {norm_type} of the gradients is {total_norm}, "
                                 "so they cannot be clipped (error_if_nonfinite=True)")
    clip_coef = max_norm / (total_norm + 1e-6)
    clip_coef_clamped = float(np.minimum(clip_coef, 1.0))        # np.minimum keeps a NaN, as torch.clamp does
    clipped = {k: np.asarray(g * clip_coef_clamped) for k, g in arrays.items()}   # asarray: 0-d stays an array
    return (clipped if is_dict else clipped[None]), total_norm


_clip_grad_norm = clip_grad_norm      # fit's keyword argument of the same name hides the function inside fit


# ------------------------------------------------------------------ averaging the weights

def ema_update(ema_params, params, decay):
    """One step of the exponential moving average of the weights, a pure function:

        θ̄ = θ̄ + (1 − decay) (θ − θ̄)        (= decay · θ̄ + (1 − decay) · θ)

    for a dict name -> array (or one array). This is
    ``torch.optim.swa_utils.get_ema_multi_avg_fn(decay)``, which uses torch.lerp
    in that form. Returns new arrays; neither argument is written into."""
    if isinstance(params, dict):
        return {k: ema_params[k] + (1 - decay) * (params[k] - ema_params[k]) for k in params}
    return ema_params + (1 - decay) * (params - ema_params)


class WeightEMA:
    """An exponential moving average of the weights, updated after each step:
    ``torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``.

        ema = WeightEMA(decay=0.999)
        for each step:
            params = optimizer.step(params, grads)
            ema.update(params)
        ema.params          # the averaged weights, to evaluate the model with

    The first ``update`` copies the weights (torch's ``n_averaged == 0`` case);
    each later one is ``ema_update``: θ̄ = θ̄ + (1 − decay)(θ − θ̄). With decay
    d the average remembers about the last 1 / (1 − d) steps.

    Attributes: ``decay``, ``params`` (None before the first update) and
    ``n_averaged`` (torch's name: the number of updates so far).
    """

    def __init__(self, decay=0.999):
        self.decay = validation.number(decay, "decay", 0, 1)
        self.params = None
        self.n_averaged = 0

    def update(self, params):
        """Fold `params` (a dict name -> array, or an array) into the average; returns the average."""
        if self.n_averaged == 0:
            self.params = ({k: np.array(v, dtype=float) for k, v in params.items()} if isinstance(params, dict)
                           else np.array(params, dtype=float))
        else:
            self.params = ema_update(self.params, params, self.decay)
        self.n_averaged += 1
        return self.params

    def __repr__(self):
        return f"WeightEMA(decay={self.decay}, n_averaged={self.n_averaged})"


def fit(model, params, optimizer, X, y=None, *, epochs=10, batch_size=None, rng=None,
        schedule=None, X_val=None, y_val=None, shuffle=True, progress=False,
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
    progress : True shows a progress bar when running in a Jupyter kernel.
    clip_grad_norm : None, or ``max_norm``: each step's gradients are clipped to
        that global 2-norm by :func:`clip_grad_norm` (``History.grad_norm``
        keeps the norms before clipping).
    ema_decay : None, or a decay in [0, 1]: keep a :class:`WeightEMA` of the
        weights, updated after every step (``History.ema_params``,
        ``History.ema_val_loss``).
    callback : None, or ``callback(t, loss, params)``, called after update t
        with the mini-batch loss before it and the new parameters; a true
        return value ends the run there (``History.stopped``).

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
    epochs = validation.integer(epochs, "epochs", 1)
    batch_size = n if batch_size is None else validation.integer(batch_size, "batch_size (None: full batch)", 1, n)
    shuffling = shuffle and batch_size < n
    if shuffling:
        if rng is None:
            raise ValueError("mini-batches are reshuffled every epoch: pass rng=np.random.default_rng(seed) "
                             "(or shuffle=False)")
        rng = validation.generator(rng)
    if not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must have a step(params, grads) method, got {optimizer!r}")
    if clip_grad_norm is not None:
        validation.number(clip_grad_norm, "clip_grad_norm (None: no clipping)", 0, low_open=True, finite=False)
        if getattr(optimizer, "takes_closure", False):
            raise ValueError("clip_grad_norm cannot clip LBFGS's gradients: its line search evaluates them "
                             "itself; use clip_grad_norm=None with LBFGS")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(t, loss, params), got {callback!r}")
    ema = None if ema_decay is None else WeightEMA(ema_decay)
    steps_per_epoch = -(-n // batch_size)
    plateau = schedule if isinstance(schedule, _schedules.ReduceLROnPlateau) else None
    if plateau is not None:
        optimizer.lr = plateau.lr
        schedule = None
    schedule = _make_schedule(schedule, optimizer, steps_per_epoch * epochs)

    start_time = _time.perf_counter()
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
    bar = _ProgressBar(progress, epochs)
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
        bar.update(epoch, epochs, val_loss)
        if stopped:
            break
        if plateau is not None:
            optimizer.lr = plateau.step(train_loss if X_val is None else val_loss)
    bar.close(problem is not None)
    wall_time = _time.perf_counter() - start_time

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
        loss=_readonly(np.array(step_losses, dtype=float)),
        lr=_readonly(np.array(step_lrs, dtype=float)),
        epoch=_readonly(np.arange(n_epochs + 1)),
        **{k: _readonly(np.array(v, dtype=float)) for k, v in per_epoch.items()},
        params=params,
        wall_time=wall_time,
        diverged=problem is not None,
        message=message,
        batch_size=batch_size,
        steps_per_epoch=steps_per_epoch,
        stopped=stopped,
        grad_norm=None if clip_grad_norm is None else _readonly(np.array(step_grad_norms, dtype=float)),
        ema_params=None if ema is None else (dict(params) if ema.params is None else ema.params),
        ema_val_loss=None if ema is None else _readonly(np.array(ema_per_epoch["val_loss"], dtype=float)),
        ema_val_accuracy=None if ema is None else _readonly(np.array(ema_per_epoch["val_accuracy"], dtype=float)),
    )


# ------------------------------------------------------------------ early stopping

__all__ += ["EpochSnapshots", "early_stopping"]


class EpochSnapshots:
    """A ``fit`` callback that keeps the parameters at the end of every epoch.

        snap = EpochSnapshots(steps_per_epoch=-(-n_train // batch_size), initial=params)
        history = fit(..., callback=snap)
        snap.params[e]       # the parameters after epoch e (snap.params[0] = initial), as History's epochs

    It never stops the run (it returns False). Each snapshot is the dict ``fit``
    passed, which ``fit`` never writes into, so nothing is copied."""

    def __init__(self, steps_per_epoch, initial=None):
        self.steps_per_epoch = validation.integer(steps_per_epoch, "steps_per_epoch", 1)
        self.params = [] if initial is None else [initial]

    def __call__(self, t, loss, params):
        if (t + 1) % self.steps_per_epoch == 0:
            self.params.append(params)
        return False


def early_stopping(val_loss, patience=5, min_delta=0.0):
    """Where the patience rule stops on a validation curve -> ``(stopped_at, best)`` epochs.

    Walking through the epochs e = 1, 2, …: an epoch whose loss is below the best so far
    by more than ``min_delta`` becomes the best; once ``patience`` epochs have passed
    since the best, training stops at that epoch (``stopped_at``; None if it never
    happens) and the best epoch's weights are the ones to keep (Keras's EarlyStopping
    with ``restore_best_weights=True``). ``best`` is the best epoch up to the stop.
    """
    patience = validation.integer(patience, "patience", 1)
    min_delta = validation.number(min_delta, "min_delta", 0)
    val_loss = np.asarray(val_loss, dtype=float)
    best = 0
    for e in range(1, len(val_loss)):
        if val_loss[e] < val_loss[best] - min_delta:
            best = e
        elif e - best >= patience:
            return e, best
    return None, best
