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
    linear(lr, start_factor=1/3, end_factor=1.0, total_steps=5)
                                                   lr * (start_factor + (end_factor - start_factor)
                                                         * min(t, total_steps) / total_steps)  (PyTorch LinearLR)
    one_cycle(max_lr, total_steps, pct_start=0.3, ...)
                                                   up from max_lr / div_factor to max_lr, then down to
                                                   max_lr / div_factor / final_div_factor  (PyTorch OneCycleLR)
    cosine_warm_restarts(lr, T_0, T_mult=1, lr_min=0.0)
                                                   cosine from lr to lr_min over T_0 steps, restarting,
                                                   each cycle T_mult times longer
                                                   (PyTorch CosineAnnealingWarmRestarts)
    sequential(schedules, milestones)              schedules[i](t - milestones[i-1]) between milestones
                                                                                   (PyTorch SequentialLR)

and one that is not a function of t alone, because it reads the loss:

    ReduceLROnPlateau(lr, mode="min", factor=0.1, patience=10, ...)
                                                   lr * factor after `patience` epochs without
                                                   improvement; .step(metric) -> lr   (PyTorch ReduceLROnPlateau)

``get(name, **kwargs)`` builds one by name ("constant", "step_decay" (or
"step"), "exponential", "inverse_time", "cosine", "warmup", "linear",
"one_cycle", "cosine_warm_restarts", "sequential"); ``SCHEDULES`` maps names
to the functions.

Step t counts updates from 0: the first update uses ``schedule(0)``, which is
``lr`` for the decaying schedules (``warmup``, ``linear`` and ``one_cycle``
start lower). ``optlessons.train.fit`` sets ``optimizer.lr = schedule(t)``
before update t.

Against PyTorch: ``schedule(t)`` is the learning rate of the param group
before the (t + 1)-th ``optimizer.step()`` when ``scheduler.step()`` follows
every ``optimizer.step()``, i.e. after t calls of ``scheduler.step()``
(checked against recorded torch 2.13 runs in ``tests/test_schedules_torch.py``).
"""

import bisect
import inspect
import math

import numpy as np

__all__ = ["Schedule", "constant", "step_decay", "exponential", "inverse_time", "cosine",
           "warmup", "linear", "one_cycle", "cosine_warm_restarts", "sequential", "ReduceLROnPlateau",
           "get", "factory", "SCHEDULES", "ALIASES"]


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


def _check_factor(value, name, low_open):
    """A float in (0, 1] (``low_open``) or [0, 1], else ValueError naming `name` and the range."""
    ok = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)
    if low_open:
        ok = ok and 0 < value <= 1
        rule = "in (0, 1]"
    else:
        ok = ok and 0 <= value <= 1
        rule = "in [0, 1]"
    if not ok:
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return float(value)


def linear(lr, start_factor=1 / 3, end_factor=1.0, total_steps=5):
    """Linear change of the factor on ``lr`` over ``total_steps`` steps (PyTorch ``LinearLR``), the usual warm-up.

    lr_t = lr * (start_factor + (end_factor - start_factor) * min(t, total_steps) / total_steps),

    so lr_0 = lr * start_factor and lr_t = lr * end_factor from t = total_steps
    on. With the defaults: lr/3 at t = 0, rising to lr at t = 5. PyTorch calls
    ``total_steps`` ``total_iters``; its ranges: start_factor in (0, 1],
    end_factor in [0, 1]. A warm-up is ``linear(lr, start_factor, 1.0, n)``, a
    linear decay to zero ``linear(lr, 1.0, 0.0, n)``.
    """
    lr = _check_lr(lr)
    start_factor = _check_factor(start_factor, "start_factor", low_open=True)
    end_factor = _check_factor(end_factor, "end_factor", low_open=False)
    total_steps = _check_steps(total_steps, "total_steps")

    def fn(t):
        return lr * (start_factor + (end_factor - start_factor) * np.minimum(t, total_steps) / total_steps)

    return Schedule("linear", fn, lr=lr, start_factor=start_factor, end_factor=end_factor,
                    total_steps=total_steps)


def _anneal(start, end, pct, strategy):
    """From `start` (pct = 0) to `end` (pct = 1): half a cosine, or a straight line (OneCycleLR's two)."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1)
    return (end - start) * pct + start


def one_cycle(max_lr, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
              final_div_factor=1e4, three_phase=False):
    """The one-cycle policy (Smith & Topin 2018; PyTorch ``OneCycleLR``, its learning rate only).

    With lr₀ = max_lr / div_factor and lr_min = lr₀ / final_div_factor, and
    ``anneal`` half a cosine (``anneal_strategy="cos"``) or a straight line ("linear"):

        phase 1, t ≤ pct_start·T − 1:          anneal from lr₀ up to max_lr
        phase 2, up to t = T − 1:              anneal from max_lr down to lr_min
    or, with ``three_phase``:
        phase 1, t ≤ pct_start·T − 1:          lr₀ up to max_lr
        phase 2, t ≤ 2·pct_start·T − 2:        max_lr back down to lr₀
        phase 3, up to t = T − 1:              lr₀ down to lr_min

    where T = ``total_steps``, the number of updates of the cycle: schedule(0)
    is lr₀ and schedule(T − 1) is lr_min. Each phase's fraction done is
    (t − phase start) / (phase end − phase start), with PyTorch's phase ends
    (float, and the −1 and −2 exactly as above). As in PyTorch, t = T (the
    value after the last step) extends the last phase a little past lr_min
    (above it for "cos"; below it, even below 0, for "linear"), and t > T
    raises ValueError ("Tried to step ... times"). PyTorch also
    cycles the momentum (``cycle_momentum=True``); this is the learning rate
    alone. A phase of zero length (pct_start·T = 1), on which PyTorch divides
    by zero, is refused here.
    """
    max_lr = _check_lr(max_lr, "max_lr")
    total_steps = _check_steps(total_steps, "total_steps")
    if isinstance(pct_start, bool) or not isinstance(pct_start, (int, float, np.number)) or not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be a number in [0, 1], got {pct_start!r}")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
                value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, initial_lr, max_lr),
                  (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr),
                  (total_steps - 1, initial_lr, min_lr)]
    else:
        phases = [(float(pct_start * total_steps) - 1, initial_lr, max_lr),
                  (total_steps - 1, max_lr, min_lr)]
    phase_starts = [0.0] + [end for end, _, _ in phases[:-1]]
    for start, (end, _, _) in zip(phase_starts, phases):
        if end == start:
            raise ValueError(f"pct_start={pct_start!r} with total_steps={total_steps} gives a phase of zero "
                             f"length (it ends at step {end}, where it starts); change pct_start")

    def fn(t):
        if np.any(t > total_steps):
            raise ValueError(f"Tried to step {int(np.max(t))} times. The specified number of total steps "
                             f"is {total_steps}: one_cycle is defined for t <= total_steps")
        lr_t = np.empty(t.shape)
        done = np.zeros(t.shape, dtype=bool)
        for i, (start, (end, lr_from, lr_to)) in enumerate(zip(phase_starts, phases)):
            here = ~done & ((t <= end) | (i == len(phases) - 1))
            lr_t[here] = _anneal(lr_from, lr_to, (t[here] - start) / (end - start), anneal_strategy)
            done |= here
        return lr_t[()]

    return Schedule("one_cycle", fn, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start,
                    anneal_strategy=anneal_strategy, div_factor=div_factor, final_div_factor=final_div_factor,
                    three_phase=bool(three_phase))


def cosine_warm_restarts(lr, T_0, T_mult=1, lr_min=0.0):
    """Cosine annealing with warm restarts, SGDR (Loshchilov & Hutter 2017; PyTorch ``CosineAnnealingWarmRestarts``).

    lr_t = lr_min + (lr - lr_min) * (1 + cos(pi * T_cur / T_i)) / 2,

    where T_cur counts the steps since the last restart and T_i is the length
    of the current cycle: T_0 for the first, then T_mult times longer each time
    (T_0, T_0·T_mult, T_0·T_mult², …). At a restart (T_cur = 0) the rate jumps
    back to ``lr``; it never quite reaches ``lr_min`` (the last step of a cycle
    has T_cur = T_i − 1). PyTorch calls ``lr_min`` ``eta_min``.
    """
    lr = _check_lr(lr)
    T_0 = _check_steps(T_0, "T_0")
    T_mult = _check_steps(T_mult, "T_mult")
    lr_min = _check_lr(lr_min, "lr_min")

    def fn(t):
        T_cur, T_i = t.copy(), np.full(t.shape, T_0)
        restarted = T_cur >= T_i
        while np.any(restarted):                    # one pass per restart: T_i grows, so few passes
            T_cur[restarted] -= T_i[restarted]
            T_i[restarted] *= T_mult
            restarted = T_cur >= T_i
        return lr_min + (lr - lr_min) * (1 + np.cos(np.pi * T_cur / T_i)) / 2

    return Schedule("cosine_warm_restarts", fn, lr=lr, T_0=T_0, T_mult=T_mult, lr_min=lr_min)


def sequential(schedules, milestones):
    """One schedule after another (PyTorch ``SequentialLR``), e.g. a warm-up then a cosine::

        sequential([linear(0.1, 0.01, 1.0, total_steps=100), cosine(0.1, total_steps=900)], milestones=[100])

    ``schedules[i]`` runs from ``milestones[i - 1]`` (0 for the first) up to
    ``milestones[i]``, on its own clock that starts at 0 at its milestone:

        lr_t = schedules[i](t − milestones[i − 1])   for milestones[i − 1] <= t < milestones[i]

    PyTorch's behaviour, which this reproduces, and its quirks:

    * at a milestone the next schedule starts over at its own step 0 (torch
      calls its closed form at epoch 0): the previous schedule's value at the
      milestone is never used. A ``linear`` warm-up of ``total_steps=m`` with
      milestone m therefore ends at lr·(start_factor + (1 − start_factor)(m − 1)/m)
      and the next schedule starts at its own ``schedule(0)`` (lr for a cosine);
    * in torch every chained scheduler starts from the optimizer's initial lr
      (``base_lrs``), not from where the previous one stopped: give every
      schedule here the same lr to get torch's numbers (this function allows
      different ones);
    * a OneCycleLR anywhere in torch's chain overwrites the optimizer's
      initial lr with max_lr / div_factor when it is built, and SequentialLR
      restarts the first scheduler from that: a warm-up chained before a
      one-cycle runs in torch from max_lr / div_factor, whatever its own lr
      (to get torch's numbers here, give the first schedule that lr);
    * after its first step at a milestone torch continues with the scheduler's
      recursive ("chainable") formula; it equals the closed form used here up
      to rounding, except CosineAnnealingLR past its T_max, which in torch rises
      again (period 2·T_max) while ``cosine`` here stays at lr_min;
    * a milestone 0 means the schedule before it is never used, in torch
      2.13 as here (torch 2.12 and earlier started with the first scheduler's
      lr for one step, pytorch issue 185872);
    * milestones must be strictly increasing integers >= 0 here (torch bisects
      whatever it is given), and there is one fewer than schedules.
    """
    schedules = list(schedules)
    milestones = list(milestones)
    if not schedules:
        raise ValueError("schedules must hold at least one schedule")
    for i, schedule in enumerate(schedules):
        if not callable(schedule):
            raise TypeError(f"schedules[{i}] must be a schedule (a callable of the step), got {schedule!r}")
    if len(milestones) != len(schedules) - 1:
        raise ValueError(f"milestones must have one entry fewer than schedules: got {len(schedules)} schedules "
                         f"and {len(milestones)} milestones")
    for i, milestone in enumerate(milestones):
        if isinstance(milestone, bool) or not isinstance(milestone, (int, np.integer)) or milestone < 0:
            raise ValueError(f"milestones[{i}] must be an integer >= 0, got {milestone!r}")
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f"milestones must be strictly increasing, got {milestones}")
    starts = [0] + milestones

    def one(t):
        i = bisect.bisect_right(milestones, t)
        return float(schedules[i](int(t - starts[i])))

    def fn(t):
        return np.vectorize(one, otypes=[float])(t)[()]

    return Schedule("sequential", fn, schedules=schedules, milestones=milestones)


class ReduceLROnPlateau:
    """Divide the learning rate when a metric stops improving (PyTorch ``ReduceLROnPlateau``).

    Unlike the schedules above it reads the metric, so it is an object with a
    state: call ``step(metric)`` once per epoch (say, with the validation loss)
    and use ``.lr`` for the next epoch::

        plateau = ReduceLROnPlateau(0.1, patience=2)
        for epoch in ...:
            ... train an epoch with optimizer.lr = plateau.lr ...
            plateau.step(val_loss)

    The rule, PyTorch's exactly (mode "min"; "max" flips the comparisons):

        better  = metric < best · (1 − threshold)        threshold_mode "rel"
                  metric < best − threshold              threshold_mode "abs"
        if better:  best = metric; num_bad_epochs = 0     (best starts at +inf)
        else:       num_bad_epochs += 1
        if cooldown_counter > 0:  cooldown_counter −= 1; num_bad_epochs = 0
        if num_bad_epochs > patience:
            new = max(lr · factor, min_lr);  lr = new if lr − new > eps
            cooldown_counter = cooldown; num_bad_epochs = 0

    So with patience p the rate drops on the (p + 1)-th bad epoch in a row;
    during the ``cooldown`` epochs after a drop bad epochs are not counted; a
    NaN metric counts as a bad epoch; a change smaller than ``eps`` is skipped.
    In "rel" mode with "max", PyTorch compares with best · (1 + threshold),
    which for negative metrics asks for *less* than best: kept as in PyTorch.

    Attributes (PyTorch's names): ``lr``, ``best``, ``num_bad_epochs``,
    ``cooldown_counter``, ``last_epoch`` (the number of ``step`` calls).
    """

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr = _check_lr(lr)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if isinstance(factor, bool) or not isinstance(factor, (int, float, np.number)) or not 0 <= factor < 1:
            raise ValueError(f"factor must be in [0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        self.threshold = _check_lr(threshold, "threshold")
        self.min_lr = _check_lr(min_lr, "min_lr")
        self.eps = _check_lr(eps, "eps")
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.patience, self.cooldown = float(factor), int(patience), int(cooldown)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def is_better(self, metric, best):
        """Whether `metric` improves on `best` by more than the threshold (PyTorch's ``_is_better``)."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return metric < best * (1.0 - self.threshold)
        if self.mode == "min":
            return metric < best - self.threshold
        if self.threshold_mode == "rel":
            return metric > best * (self.threshold + 1.0)
        return metric > best + self.threshold

    def step(self, metric):
        """Record one epoch's `metric`; returns the learning rate for the next epoch."""
        current = float(metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0                  # bad epochs in the cooldown are not counted
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr

    def __repr__(self):
        return (f"ReduceLROnPlateau(lr={self.lr!r}, mode={self.mode!r}, factor={self.factor!r}, "
                f"patience={self.patience}, threshold={self.threshold!r}, threshold_mode={self.threshold_mode!r}, "
                f"cooldown={self.cooldown}, min_lr={self.min_lr!r}, eps={self.eps!r}; best={self.best!r}, "
                f"num_bad_epochs={self.num_bad_epochs})")


SCHEDULES = {
    "constant": constant,
    "step_decay": step_decay,
    "exponential": exponential,
    "inverse_time": inverse_time,
    "cosine": cosine,
    "warmup": warmup,
    "linear": linear,
    "one_cycle": one_cycle,
    "cosine_warm_restarts": cosine_warm_restarts,
    "sequential": sequential,
}
#: Other names accepted for a schedule: alias -> key of SCHEDULES.
ALIASES = {"step": "step_decay"}


def factory(name):
    """The schedule function registered under ``name`` (a key of SCHEDULES or of ALIASES);
    an unknown name raises ``ValueError`` listing the known ones."""
    key = ALIASES.get(name, name) if isinstance(name, str) else None
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known schedules: {', '.join(SCHEDULES)}")
    return SCHEDULES[key]


def get(name, **kwargs):
    """Build a schedule by name: ``get("cosine", lr=0.1, total_steps=1000)``.

    An unknown name raises ``ValueError`` listing the known ones; missing or
    unexpected keyword arguments raise ``TypeError`` naming the signature.
    """
    if isinstance(name, Schedule):
        return name
    fn = factory(name)
    key = fn.__name__
    try:
        inspect.signature(fn).bind(**kwargs)
    except TypeError as err:
        raise TypeError(f"schedule {key!r} takes {key}{inspect.signature(fn)}: {err}") from None
    return fn(**kwargs)
