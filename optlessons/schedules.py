"""Learning-rate schedules: ``lr = schedule(t)`` for update number t = 0, 1, 2, ...

Each function builds a ``Schedule``, a callable that also accepts an array of
steps (handy for plotting ``schedule(np.arange(1000))``):

    constant(lr, factor=1.0, total_steps=0)        lr * factor for t < total_steps, then lr (PyTorch ConstantLR)
    step_decay(lr, step_size, gamma=0.1)           lr * gamma ** (t // step_size)         (PyTorch StepLR)
    multistep(lr, milestones, gamma=0.1)           lr * gamma ** (milestones passed)      (PyTorch MultiStepLR)
    polynomial(lr, total_steps=5, power=1.0)       lr * (1 - min(t, total_steps) / total_steps) ** power
                                                                                   (PyTorch PolynomialLR)
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
    cyclic(base_lr, max_lr, step_size_up=2000, ...)
                                                   triangles between base_lr and max_lr
                                                   (PyTorch CyclicLR, cycle_momentum=False)
    warmup_cosine(lr, total_steps, warmup_steps)   linear warm-up then cosine (linear + cosine, sequential)
    wsd(lr, total_steps, warmup_steps, decay_steps, lr_min=0.0, decay="linear")
                                                   warm-up, stable at lr, decay to lr_min at the end

and one that is not a function of t alone, because it reads the loss:

    ReduceLROnPlateau(lr, mode="min", factor=0.1, patience=10, ...)
                                                   lr * factor after `patience` epochs without
                                                   improvement; .step(metric) -> lr   (PyTorch ReduceLROnPlateau)

One registry, ``REGISTRY`` (name -> ``Entry``), names them all:
``get(name, **kwargs)`` builds one from its own arguments, and
``for_run(name, lr, total_steps, warmup_steps)`` builds one for a training run
from its peak lr, length and warm-up (``train.fit(schedule="cosine")`` and the
widgets use it; ``RUN_SCHEDULES`` lists the names it knows). There is one
warm-up: ``linear`` (LinearLR), which ``warmup``, ``warmup_cosine`` and ``wsd``
chain with ``sequential``.

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
from typing import Callable, NamedTuple, Optional

import numpy as np

from . import argcheck

__all__ = ["Schedule", "constant", "step_decay", "multistep", "exponential", "inverse_time", "polynomial",
           "cosine", "warmup", "linear", "warmup_cosine", "wsd", "one_cycle", "cosine_warm_restarts", "cyclic",
           "sequential", "ReduceLROnPlateau", "Entry", "REGISTRY", "SCHEDULES", "ALIASES", "RUN_SCHEDULES",
           "get", "factory", "for_run"]


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


def constant(lr, factor=1.0, total_steps=0):
    """A constant learning rate, lowered by ``factor`` for the first steps (PyTorch ``ConstantLR``).

    lr_t = lr · factor for t < total_steps, then lr. With the defaults here
    (factor 1) it is ``lr`` at every step; PyTorch's ConstantLR defaults to
    factor 1/3 and ``total_iters`` (``total_steps`` here) 5. factor in [0, 1].
    """
    lr = argcheck.number(lr, "lr", 0)
    factor = argcheck.number(factor, "factor", 0, 1)
    total_steps = argcheck.integer(total_steps, "total_steps", 0)
    return Schedule("constant", lambda t: np.where(t < total_steps, lr * factor, lr)[()],
                    lr=lr, factor=factor, total_steps=total_steps)


def multistep(lr, milestones, gamma=0.1):
    """Multiply the learning rate by ``gamma`` at each milestone (PyTorch ``MultiStepLR``).

    lr_t = lr · gamma ** (number of milestones <= t); a milestone listed twice counts twice,
    as in PyTorch. Milestones are integers >= 1 in increasing order (not necessarily strictly).
    """
    lr = argcheck.number(lr, "lr", 0)
    gamma = argcheck.number(gamma, "gamma", 0, 1, low_open=True)
    milestones = [argcheck.integer(m, f"milestones[{i}]", 1) for i, m in enumerate(milestones)]
    if milestones != sorted(milestones):
        raise ValueError(f"milestones must be in increasing order, got {milestones}")
    edges = np.array(milestones, dtype=np.int64)
    return Schedule("multistep", lambda t: lr * gamma ** np.searchsorted(edges, t, side="right"),
                    lr=lr, milestones=milestones, gamma=gamma)


def polynomial(lr, total_steps=5, power=1.0):
    """Polynomial decay to 0 over ``total_steps`` steps (PyTorch ``PolynomialLR``).

    lr_t = lr · (1 − min(t, total_steps) / total_steps) ** power: power 1 is a
    straight line to 0, power 2 a faster early fall. PyTorch calls ``total_steps``
    ``total_iters`` (default 5).
    """
    lr = argcheck.number(lr, "lr", 0)
    total_steps = argcheck.integer(total_steps, "total_steps", 1)
    power = argcheck.number(power, "power", 0)
    return Schedule("polynomial", lambda t: lr * (1.0 - np.minimum(t, total_steps) / total_steps) ** power,
                    lr=lr, total_steps=total_steps, power=power)


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def cyclic(base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular", gamma=1.0):
    """Cyclical learning rates (Smith 2017; PyTorch ``CyclicLR`` with ``cycle_momentum=False``).

    With U = ``step_size_up``, D = ``step_size_down`` (U if None), cycle c = ⌊1 + t / (U + D)⌋
    and x = 1 + t / (U + D) − c, the fraction of the cycle done:

        s = x / r              while x <= r = U / (U + D)     (rising)
        s = (x − 1) / (r − 1)  after                          (falling)
        lr_t = base_lr + (max_lr − base_lr) · s · scale

    with scale 1 ("triangular"), 1 / 2^(c − 1) ("triangular2": each cycle half
    as tall) or gamma^t ("exp_range"). Unlike PyTorch, which sets the
    optimizer's lr to base_lr when built, the learning rates are all here.
    """
    base_lr = argcheck.number(base_lr, "base_lr", 0)
    max_lr = argcheck.number(max_lr, "max_lr", 0)
    step_size_up = argcheck.integer(step_size_up, "step_size_up", 1)
    step_size_down = step_size_up if step_size_down is None else argcheck.integer(step_size_down, "step_size_down", 1)
    if mode not in _CYCLIC_MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _CYCLIC_MODES))}, got {mode!r}")
    gamma = argcheck.number(gamma, "gamma", 0, 1, low_open=True)
    total = float(step_size_up + step_size_down)
    ratio = step_size_up / total

    def fn(t):
        cycle = np.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        s = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1), "exp_range": gamma ** t}[mode]
        return base_lr + (max_lr - base_lr) * s * scale

    return Schedule("cyclic", fn, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up,
                    step_size_down=step_size_down, mode=mode, gamma=gamma)


def step_decay(lr, step_size, gamma=0.1):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps (PyTorch ``StepLR``).

    lr_t = lr * gamma ** floor(t / step_size), with 0 < gamma <= 1.
    """
    lr = argcheck.number(lr, "lr", 0)
    step_size = argcheck.integer(step_size, "step_size", 1)
    gamma = argcheck.number(gamma, "gamma", 0, 1, low_open=True)
    return Schedule("step_decay", lambda t: lr * gamma ** (t // step_size),
                    lr=lr, step_size=step_size, gamma=gamma)


def exponential(lr, gamma):
    """Multiply the learning rate by ``gamma`` every step (PyTorch ``ExponentialLR``).

    lr_t = lr * gamma ** t, with 0 < gamma <= 1.
    """
    lr = argcheck.number(lr, "lr", 0)
    gamma = argcheck.number(gamma, "gamma", 0, 1, low_open=True)
    return Schedule("exponential", lambda t: lr * gamma ** t, lr=lr, gamma=gamma)


def inverse_time(lr, decay_rate, decay_steps=1):
    """"1/t" decay, the Robbins-Monro kind of schedule: lr_t = lr / (1 + decay_rate * t / decay_steps).

    Its sum diverges while the sum of its squares converges, which is what
    SGD's convergence proofs ask of a step size.
    """
    lr = argcheck.number(lr, "lr", 0)
    decay_rate = argcheck.number(decay_rate, "decay_rate", 0)
    decay_steps = argcheck.integer(decay_steps, "decay_steps", 1)
    return Schedule("inverse_time", lambda t: lr / (1 + decay_rate * t / decay_steps),
                    lr=lr, decay_rate=decay_rate, decay_steps=decay_steps)


def cosine(lr, total_steps, lr_min=0.0):
    """Cosine annealing from ``lr`` down to ``lr_min`` over ``total_steps`` (PyTorch ``CosineAnnealingLR``).

    lr_t = lr_min + (lr - lr_min) * (1 + cos(pi * t / total_steps)) / 2 for t <= total_steps,
    and lr_min afterwards (no restart).
    """
    lr = argcheck.number(lr, "lr", 0)
    total_steps = argcheck.integer(total_steps, "total_steps", 1)
    lr_min = argcheck.number(lr_min, "lr_min", 0)
    if lr_min > lr:
        raise ValueError(f"lr_min must be <= lr, got lr_min={lr_min} > lr={lr}")

    def fn(t):
        progress = np.minimum(t, total_steps) / total_steps
        return lr_min + (lr - lr_min) * (1 + np.cos(np.pi * progress)) / 2

    return Schedule("cosine", fn, lr=lr, total_steps=total_steps, lr_min=lr_min)


def warmup(after, warmup_steps):
    """Linear warm-up, then another schedule: ``linear`` then ``after``, chained by ``sequential``.

    For t < warmup_steps: lr_t = after(0) * (t + 1) / warmup_steps (rising
    linearly, never exactly 0); from then on lr_t = after(t - warmup_steps), so
    the wrapped schedule starts its own clock when warm-up ends. ``after`` is a
    schedule (any callable of the step) or a number (a constant rate). It is

        sequential([linear(after(0), 1 / W, 1.0, W − 1), after], milestones=[W])     W = warmup_steps

    (the course's one warm-up: ``linear``, PyTorch's LinearLR, whose W − 1 steps
    reach after(0) at t = W − 1).
    """
    if isinstance(after, (int, float, np.number)) and not isinstance(after, bool):
        after = constant(after)
    if not callable(after):
        raise TypeError(f"after must be a schedule (callable of the step) or a number, got {after!r}")
    warmup_steps = argcheck.integer(warmup_steps, "warmup_steps", 1)
    chained = sequential([_ramp(float(after(0)), warmup_steps), after], [warmup_steps])
    return Schedule("warmup", chained, after=after, warmup_steps=warmup_steps)


def _ramp(lr, warmup_steps):
    """lr (t + 1) / W for t < W: ``linear`` from lr / W reaching lr at t = W − 1."""
    return linear(lr, 1 / warmup_steps, 1.0, max(warmup_steps - 1, 1))


_WSD_DECAYS = ("linear", "cosine", "1-sqrt")


def wsd(lr, total_steps, warmup_steps, decay_steps, lr_min=0.0, decay="linear"):
    """Warm-up, stable, decay (the "trapezoidal" schedule of recent LLM runs; Hägele et al. 2024).

    With W = ``warmup_steps``, D = ``decay_steps``, T = ``total_steps`` and
    p = (t − (T − D)) / D the fraction of the decay done:

        warm-up,  t < W:              lr (t + 1) / W             (as ``warmup``)
        stable,   W <= t < T − D:     lr
        decay,    T − D <= t < T:     lr_min + (lr − lr_min) · shape(p)
        after,    t >= T:             lr_min

    shape(p) = 1 − p ("linear"), (1 + cos π p) / 2 ("cosine") or 1 − √p
    ("1-sqrt"). The stable phase can be stopped anywhere and a short decay
    added, so one long run serves several budgets. W >= 0, D >= 1, W + D <= T.
    Built from ``linear``, ``constant`` and ``sequential``.
    """
    lr = argcheck.number(lr, "lr", 0, low_open=True)
    total_steps = argcheck.integer(total_steps, "total_steps", 1)
    warmup_steps = argcheck.integer(warmup_steps, "warmup_steps", 0)
    decay_steps = argcheck.integer(decay_steps, "decay_steps", 1)
    lr_min = argcheck.number(lr_min, "lr_min", 0)
    if lr_min > lr:
        raise ValueError(f"lr_min must be <= lr, got lr_min={lr_min} > lr={lr}")
    if decay not in _WSD_DECAYS:
        raise ValueError(f"decay must be one of {', '.join(map(repr, _WSD_DECAYS))}, got {decay!r}")
    if warmup_steps + decay_steps > total_steps:
        raise ValueError(f"warmup_steps + decay_steps must be <= total_steps: {warmup_steps} + {decay_steps} "
                         f"> {total_steps}")
    if decay == "linear":
        falling = linear(lr, 1.0, lr_min / lr, decay_steps)
    elif decay == "cosine":
        falling = cosine(lr, decay_steps, lr_min)
    else:
        falling = Schedule("1-sqrt", lambda t: lr_min + (lr - lr_min) * (1 - np.sqrt(np.minimum(t, decay_steps)
                                                                                      / decay_steps)))
    phases, starts = [constant(lr), falling], [total_steps - decay_steps]
    if warmup_steps:
        phases, starts = [_ramp(lr, warmup_steps)] + phases, [warmup_steps] + starts
    return Schedule("wsd", sequential(phases, starts), lr=lr, total_steps=total_steps, warmup_steps=warmup_steps,
                    decay_steps=decay_steps, lr_min=lr_min, decay=decay)


def linear(lr, start_factor=1 / 3, end_factor=1.0, total_steps=5):
    """Linear change of the factor on ``lr`` over ``total_steps`` steps (PyTorch ``LinearLR``), the usual warm-up.

    lr_t = lr * (start_factor + (end_factor - start_factor) * min(t, total_steps) / total_steps),

    so lr_0 = lr * start_factor and lr_t = lr * end_factor from t = total_steps
    on. With the defaults: lr/3 at t = 0, rising to lr at t = 5. PyTorch calls
    ``total_steps`` ``total_iters``; its ranges: start_factor in (0, 1],
    end_factor in [0, 1]. A warm-up is ``linear(lr, start_factor, 1.0, n)``, a
    linear decay to zero ``linear(lr, 1.0, 0.0, n)``.
    """
    lr = argcheck.number(lr, "lr", 0)
    start_factor = argcheck.number(start_factor, "start_factor", 0, 1, low_open=True)
    end_factor = argcheck.number(end_factor, "end_factor", 0, 1)
    total_steps = argcheck.integer(total_steps, "total_steps", 1)

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
    max_lr = argcheck.number(max_lr, "max_lr", 0)
    total_steps = argcheck.integer(total_steps, "total_steps", 1)
    pct_start = argcheck.number(pct_start, "pct_start", 0, 1)
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    div_factor = argcheck.positive(div_factor, "div_factor")
    final_div_factor = argcheck.positive(final_div_factor, "final_div_factor")
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
    lr = argcheck.number(lr, "lr", 0)
    T_0 = argcheck.integer(T_0, "T_0", 1)
    T_mult = argcheck.integer(T_mult, "T_mult", 1)
    lr_min = argcheck.number(lr_min, "lr_min", 0)

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
    milestones = [argcheck.integer(m, f"milestones[{i}]", 0) for i, m in enumerate(milestones)]
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
        self.lr = argcheck.number(lr, "lr", 0)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = argcheck.number(factor, "factor", 0, 1, high_open=True)
        self.patience = argcheck.integer(patience, "patience", 0)
        self.cooldown = argcheck.integer(cooldown, "cooldown", 0)
        self.threshold = argcheck.number(threshold, "threshold", 0)
        self.min_lr = argcheck.number(min_lr, "min_lr", 0)
        self.eps = argcheck.number(eps, "eps", 0)
        self.mode, self.threshold_mode = mode, threshold_mode
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


class Entry(NamedTuple):
    """One named schedule of the registry: the function that builds it from its
    own arguments (``get``), the name a widget shows, and how a training run
    builds it from the run's peak lr, length and warm-up (``for_run``; None when
    those are not enough: build it yourself and pass the schedule)."""
    function: Callable
    label: str
    for_run: Optional[Callable] = None


def _needs_warmup(name, total_steps, warmup_steps):
    """The warm-up of a run: 1 <= warmup_steps < total_steps (None: a tenth of the run, at least 1),
    or a ValueError saying how to fix it."""
    if warmup_steps is None:
        warmup_steps = max(total_steps // 10, 1)
    if 1 <= warmup_steps < total_steps:
        return warmup_steps
    if warmup_steps >= 1:
        fix = "shorten the warm-up or add epochs"
    elif name == "warmup_cosine":
        fix = "lengthen it to at least 1 update, or pick 'cosine' for the same schedule without a warm-up"
    else:
        fix = f"lengthen it to at least 1 update: this {REGISTRY[name].label} needs at least one update to rise"
    raise ValueError(f"the warm-up must last from 1 to {total_steps - 1} updates (the run has {total_steps}), "
                     f"got {warmup_steps}: {fix}")


def _wsd_for_run(lr, total_steps, warmup_steps):
    return wsd(lr, total_steps, warmup_steps, max((total_steps - warmup_steps) // 5, 1))


def warmup_cosine(lr, total_steps, warmup_steps, start_factor=0.01):
    """A linear warm-up from lr · start_factor to lr over ``warmup_steps``, then a cosine to 0 over the rest:

        sequential([linear(lr, start_factor, 1.0, W), cosine(lr, T − W)], milestones=[W])

    (torch: SequentialLR of LinearLR and CosineAnnealingLR), the usual recipe for transformers.
    """
    return sequential([linear(lr, start_factor, 1.0, warmup_steps), cosine(lr, total_steps - warmup_steps)],
                      [warmup_steps])


#: THE registry of named schedules: name -> Entry(function, label, for_run). ``get`` builds
#: one from its own arguments, ``for_run`` from a run's (``train.fit`` and the widgets use it).
REGISTRY = {
    "constant": Entry(constant, "constant", lambda lr, T, W: constant(lr)),
    "step_decay": Entry(step_decay, "step decay", lambda lr, T, W: step_decay(lr, max(T // 3, 1), 0.1)),
    "multistep": Entry(multistep, "multi-step"),
    "exponential": Entry(exponential, "exponential"),
    "inverse_time": Entry(inverse_time, "1/t"),
    "polynomial": Entry(polynomial, "polynomial", lambda lr, T, W: polynomial(lr, T, 1.0)),
    "cosine": Entry(cosine, "cosine", lambda lr, T, W: cosine(lr, T)),
    "linear": Entry(linear, "linear (LinearLR)", lambda lr, T, W: linear(lr, total_steps=T)),
    "warmup": Entry(warmup, "warm-up"),
    "warmup_cosine": Entry(warmup_cosine, "warm-up + cosine",
                           lambda lr, T, W: warmup_cosine(lr, T, _needs_warmup("warmup_cosine", T, W))),
    "wsd": Entry(wsd, "warm-up, stable, decay", lambda lr, T, W: _wsd_for_run(lr, T, _needs_warmup("wsd", T, W))),
    "one_cycle": Entry(one_cycle, "one-cycle",
                       lambda lr, T, W: one_cycle(lr, T, pct_start=0.3 if W is None
                                                  else _needs_warmup("one_cycle", T, W) / T)),
    "cosine_warm_restarts": Entry(cosine_warm_restarts, "warm restarts",
                                  lambda lr, T, W: cosine_warm_restarts(lr, T_0=max(T // 4, 1))),
    "cyclic": Entry(cyclic, "cyclic"),
    "sequential": Entry(sequential, "sequential"),
}
#: name -> the schedule function (a view of REGISTRY).
SCHEDULES = {name: entry.function for name, entry in REGISTRY.items()}
#: Other names accepted for a schedule: alias -> key of REGISTRY.
ALIASES = {"step": "step_decay"}
#: The schedules a run can build from its peak lr, length and warm-up (``for_run``).
RUN_SCHEDULES = tuple(name for name, entry in REGISTRY.items() if entry.for_run is not None)


def factory(name):
    """The schedule function registered under ``name`` (a key of REGISTRY or of ALIASES);
    an unknown name raises ``ValueError`` listing the known ones."""
    return _entry(name).function


def _entry(name):
    key = ALIASES.get(name, name) if isinstance(name, str) else None
    if key not in REGISTRY:
        raise ValueError(f"unknown schedule {name!r}; known schedules: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def get(name, **kwargs):
    """Build a schedule by name from its own arguments: ``get("cosine", lr=0.1, total_steps=1000)``.

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


def for_run(name, lr, total_steps, warmup_steps=None):
    """Build the schedule ``name`` for a run: peaking at ``lr`` over ``total_steps`` updates,
    with ``warmup_steps`` of warm-up for those that have one (``RUN_SCHEDULES``; None: a
    tenth of the run, and one-cycle's own pct_start 0.3):

        constant: lr · step_decay: lr × 0.1 after each third · polynomial: a straight line to 0
        cosine: lr to 0 · linear: LinearLR's lr/3 to lr over the run
        warmup_cosine: a warm-up from lr/100 over warmup_steps, then a cosine to 0
        wsd: warm-up, stable, then a linear decay over the last fifth of the rest
        one_cycle: up over warmup_steps (its pct_start), then down
        cosine_warm_restarts: a cosine restarted every quarter of the run

    Raises ValueError for a name it does not know, one that needs arguments a run
    does not give (build it yourself), or a warm-up that does not fit the run.
    """
    entry = _entry(name)
    if entry.for_run is None:
        fn = entry.function
        raise ValueError(f"schedule {name!r} needs more than a peak lr, a length and a warm-up; build it "
                         f"yourself and pass it, e.g. schedules.{fn.__name__}{inspect.signature(fn)}; "
                         f"by name: {', '.join(RUN_SCHEDULES)}")
    lr = argcheck.number(lr, "lr", 0)
    total_steps = argcheck.integer(total_steps, "total_steps", 1)
    if warmup_steps is not None:
        warmup_steps = argcheck.integer(warmup_steps, "warmup_steps", 0)
    return entry.for_run(lr, total_steps, warmup_steps)
