"""Learning-rate schedules: ``lr = schedule(t)`` for update number t = 0, 1, 2, ...

Each function builds a ``Schedule``, a callable that also accepts an array of
steps (handy for plotting ``schedule(np.arange(1000))``):

    constant(lr)                                   lr
    step_decay(lr, step_size, gamma=0.1)           lr * gamma ** (t // step_size)         (PyTorch StepLR)
    exponential(lr, gamma)                         lr * gamma ** t                         (PyTorch ExponentialLR)
    inverse_time(lr, decay_rate, decay_steps=1)    lr / (1 + decay_rate * t / decay_steps)  ("1/t" decay)
    cosine(lr, total_steps, lr_min=0.0)            lr_min + (lr - lr_min) * (1 + cos(pi * t / total_steps)) / 2,
                                                   then lr_min after total_steps           (PyTorch CosineAnnealingLR)
    warmup(after, warmup_steps)                    after(0) * (t + 1) / warmup_steps for t < warmup_steps,
                                                   then after(t - warmup_steps)

``get(name, **kwargs)`` builds one by name ("constant", "step_decay" (or
"step"), "exponential", "inverse_time", "cosine", "warmup"); ``SCHEDULES``
maps names to the functions.

Step t counts updates from 0: the first update uses ``schedule(0)``, which is
``lr`` for every schedule except ``warmup``. ``optlessons.train.fit`` sets
``optimizer.lr = schedule(t)`` before update t.
"""

import inspect
import math

import numpy as np

__all__ = ["Schedule", "constant", "step_decay", "exponential", "inverse_time", "cosine",
           "warmup", "get", "SCHEDULES"]


class Schedule:
    """A learning-rate schedule: ``schedule(t)`` is the learning rate for update t (t >= 0).

    ``t`` may be an int (returns a float) or an array of ints (returns an array).
    ``name`` and ``kwargs`` record how it was built; ``repr`` shows them.
    """

    def __init__(self, name, fn, **kwargs):
        self.name = name
        self.kwargs = kwargs
        self._fn = fn

    def __call__(self, t):
        t_arr = np.asarray(t)
        if not (np.issubdtype(t_arr.dtype, np.integer) or
                (np.issubdtype(t_arr.dtype, np.floating) and np.all(t_arr == np.floor(t_arr)))):
            raise TypeError(f"the step must be an integer (or an array of them), got {t!r}")
        if np.any(t_arr < 0):
            raise ValueError(f"the step must be >= 0, got {t!r}")
        lr = self._fn(t_arr.astype(np.int64))
        return float(lr) if np.ndim(lr) == 0 else np.asarray(lr, dtype=float)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.name}({args})"


def _check_lr(lr, name="lr"):
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not (lr >= 0 and math.isfinite(lr)):
        raise ValueError(f"{name} must be a finite number >= 0, got {lr!r}")
    return float(lr)


def _check_steps(n, name):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return int(n)


def constant(lr):
    """The same learning rate at every step."""
    lr = _check_lr(lr)
    return Schedule("constant", lambda t: np.full(t.shape, lr)[()], lr=lr)


def step_decay(lr, step_size, gamma=0.1):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps (PyTorch ``StepLR``).

    lr_t = lr * gamma ** floor(t / step_size), with 0 < gamma <= 1.
    """
    lr = _check_lr(lr)
    step_size = _check_steps(step_size, "step_size")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    return Schedule("step_decay", lambda t: lr * gamma ** (t // step_size),
                    lr=lr, step_size=step_size, gamma=gamma)


def exponential(lr, gamma):
    """Multiply the learning rate by ``gamma`` every step (PyTorch ``ExponentialLR``).

    lr_t = lr * gamma ** t, with 0 < gamma <= 1.
    """
    lr = _check_lr(lr)
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    return Schedule("exponential", lambda t: lr * gamma ** t, lr=lr, gamma=gamma)


def inverse_time(lr, decay_rate, decay_steps=1):
    """"1/t" decay, the Robbins-Monro kind of schedule: lr_t = lr / (1 + decay_rate * t / decay_steps).

    Its sum diverges while the sum of its squares converges, which is what
    SGD's convergence proofs ask of a step size.
    """
    lr = _check_lr(lr)
    if not (decay_rate >= 0 and math.isfinite(decay_rate)):
        raise ValueError(f"decay_rate must be a finite number >= 0, got {decay_rate!r}")
    decay_steps = _check_steps(decay_steps, "decay_steps")
    return Schedule("inverse_time", lambda t: lr / (1 + decay_rate * t / decay_steps),
                    lr=lr, decay_rate=decay_rate, decay_steps=decay_steps)


def cosine(lr, total_steps, lr_min=0.0):
    """Cosine annealing from ``lr`` down to ``lr_min`` over ``total_steps`` (PyTorch ``CosineAnnealingLR``).

    lr_t = lr_min + (lr - lr_min) * (1 + cos(pi * t / total_steps)) / 2 for t <= total_steps,
    and lr_min afterwards (no restart).
    """
    lr = _check_lr(lr)
    total_steps = _check_steps(total_steps, "total_steps")
    lr_min = _check_lr(lr_min, "lr_min")
    if lr_min > lr:
        raise ValueError(f"lr_min must be <= lr, got lr_min={lr_min} > lr={lr}")

    def fn(t):
        progress = np.minimum(t, total_steps) / total_steps
        return lr_min + (lr - lr_min) * (1 + np.cos(np.pi * progress)) / 2

    return Schedule("cosine", fn, lr=lr, total_steps=total_steps, lr_min=lr_min)


def warmup(after, warmup_steps):
    """Linear warm-up, then another schedule.

    For t < warmup_steps: lr_t = after(0) * (t + 1) / warmup_steps (rising
    linearly, never exactly 0); from then on lr_t = after(t - warmup_steps), so
    the wrapped schedule starts its own clock when warm-up ends. ``after`` is a
    schedule (any callable of the step) or a number (a constant rate).
    """
    if isinstance(after, (int, float, np.number)) and not isinstance(after, bool):
        after = constant(after)
    if not callable(after):
        raise TypeError(f"after must be a schedule (callable of the step) or a number, got {after!r}")
    warmup_steps = _check_steps(warmup_steps, "warmup_steps")
    peak = float(after(0))

    def fn(t):
        t = np.asarray(t)
        rising = peak * (t + 1) / warmup_steps
        later = np.vectorize(lambda s: float(after(int(s))), otypes=[float])(np.maximum(t - warmup_steps, 0))
        return np.where(t < warmup_steps, rising, later)[()]

    return Schedule("warmup", fn, after=after, warmup_steps=warmup_steps)


SCHEDULES = {
    "constant": constant,
    "step_decay": step_decay,
    "exponential": exponential,
    "inverse_time": inverse_time,
    "cosine": cosine,
    "warmup": warmup,
}
_ALIASES = {"step": "step_decay"}


def get(name, **kwargs):
    """Build a schedule by name: ``get("cosine", lr=0.1, total_steps=1000)``.

    An unknown name raises ``ValueError`` listing the known ones; missing or
    unexpected keyword arguments raise ``TypeError`` naming the signature.
    """
    if isinstance(name, Schedule):
        return name
    key = _ALIASES.get(name, name) if isinstance(name, str) else None
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known schedules: {', '.join(SCHEDULES)}")
    fn = SCHEDULES[key]
    try:
        inspect.signature(fn).bind(**kwargs)
    except TypeError as err:
        raise TypeError(f"schedule {key!r} takes {key}{inspect.signature(fn)}: {err}") from None
    return fn(**kwargs)
