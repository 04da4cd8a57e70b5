"""Problem set 5: a warm-up, a cosine schedule with warm-up, gradient clipping, a range test.

Case specs (see :mod:`optlessons.checks.engine`):

* ``check_warmup``: ``{"lr": 0.1, "start_factor": 0.25, "total_steps": 4}``; the learner's
  ``warmup(t, lr=..., start_factor=..., total_steps=...)`` is called for t = 0 … total_steps + 3.
* ``check_warmup_cosine``: ``{"lr": 0.1, "start_factor": 0.1, "warmup_steps": 3,
  "total_steps": 12, "lr_min": 0.0}``; called for t = 0 … total_steps (past total_steps torch's
  CosineAnnealingLR rises again while ``schedules.cosine`` stays at lr_min: not asked).
  0 ≤ warmup_steps ≤ total_steps: warmup_steps = 0 is the cosine alone, warmup_steps =
  total_steps the warm-up alone, ending at lr at t = total_steps (the cosine's own step 0).
* ``check_clip_grad_norm``: ``{"shapes": [(3, 2), (2,)], "max_norm": 1.0, "ratio": 3.0}``:
  random gradients named ``W1``, ``b1``, ``W2`` … (one per shape), scaled so that their global
  norm is ``ratio · max_norm``.
* ``check_range_test``: ``{"problem": "quadratic", "eigenvalues": (1.0, 10.0), "start_lr": 1e-3,
  "end_lr": 10.0, "num": 60, "update": "sgd", "smooth": 0.98, "diverge_factor": 4.0}`` (½θᵀAθ,
  A with those eigenvalues in a random basis, θ₀ random) or ``"problem": "least_squares"`` with
  ``"n": 20, "d": 3`` (mean squared error of a linear model on random data); ``update`` is
  ``"sgd"`` (θ − η·g) or ``"sign"`` (θ − η·sign(g)); the learning rates are
  ``np.geomspace(start_lr, end_lr, num)``. ``"problem": "quadratic_nan"`` with ``"eigenvalues"`` and
  ``"nan_radius"`` is the quadratic whose loss (and gradient) is NaN once ‖θ‖ > nan_radius·‖θ₀‖.

Each mistake model is the function written once, like the equation, with keyword knobs; a
mistake is a :class:`~optlessons.checks.engine.Variant`: its hint and the knobs it turns.
"""

from __future__ import annotations

import math

import numpy as np

from optlessons import schedules, train
from optlessons.checks.base import Case, CheckFailed
from optlessons.checks.compare import is_number_like, kw_text, num, short
from optlessons.checks.engine import Variant, case_specs, run_check, spec_value, variant_mistakes

__all__ = ["check_warmup", "check_warmup_cosine", "check_clip_grad_norm", "check_range_test",
           "warmup_model", "warmup_cosine_model", "clip_model", "range_test_model",
           "warmup_reference", "warmup_cosine_reference", "range_test_cases", "Quadratic", "QuadraticNaN", "LeastSquares", "SGDStep",
           "SignStep", "WARMUP_VARIANTS", "WARMUP_COSINE_VARIANTS", "CLIP_VARIANTS",
           "RANGE_TEST_VARIANTS", "WARMUP_VISIBLE", "WARMUP_COSINE_VISIBLE", "CLIP_VISIBLE",
           "RANGE_TEST_VISIBLE"]


# --------------------------------------------------------------------------- schedules, step by step


class Steps:
    """Call a schedule `fn(t, **kwargs)` for t = 0 … last (a module-level class: it pickles)."""

    def __init__(self, last: int):
        self.last = last

    def __call__(self, fn, inputs, kwargs):
        return [fn(t, **kwargs) for t in range(self.last + 1)]


class ScheduleUnpack:
    """unpack([lr_0, …, lr_n]) -> {"[<name>(t) for t in range(n + 1)]": array}: an index is a t."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, out) -> dict:
        for t, value in enumerate(out):
            if value is None:
                raise CheckFailed(f"returned None for t = {t}: did you forget `return lr_t`?")
            if not is_number_like(value) or np.ndim(value) != 0:
                raise CheckFailed(f"returned {short(value)} for t = {t}; return the learning rate, "
                                  f"one number")
        return {f"[{self.name}(t) for t in range({len(out)})]": np.array(out, dtype=float)}


def warmup_reference(t, *, lr, start_factor, total_steps):
    """torch's LinearLR(start_factor, end_factor=1, total_iters=total_steps): ``schedules.linear``."""
    return schedules.linear(lr, start_factor, 1.0, total_steps)(t)


def warmup_model(t, *, lr, start_factor, total_steps, shift=0, end_offset=0, from_zero=False,
                 capped=True, absolute=False):
    """η_t = η·(f + (1 − f)·min(t, T)/T), f = start_factor, T = total_steps. The knobs make the
    mistakes: t + shift for t, the ramp ending at T + end_offset, f = 0, no min (the ramp goes
    on past T), start_factor read as a learning rate (from f up to η)."""
    span = total_steps + end_offset
    s = t + shift
    frac = min(s, span) / span if capped else s / span
    if absolute:
        return start_factor + (lr - start_factor) * frac
    f = 0.0 if from_zero else start_factor
    return lr * (f + (1 - f) * frac)


WARMUP_VARIANTS = {
    "ahead": Variant("the warm-up is one step ahead: t counts updates from 0, and before the first "
                     "update (t = 0) the rate is lr·start_factor, as in torch's LinearLR; use t, "
                     "not t + 1.", dict(shift=1)),
    "early": Variant("the ramp reaches lr one step early (it divides by total_steps − 1): torch's "
                     "LinearLR reaches lr at t = total_steps.", dict(end_offset=-1)),
    "from_zero": Variant("the ramp starts from 0; it starts from lr·start_factor: "
                         "lr·(start_factor + (1 − start_factor)·t/total_steps).", dict(from_zero=True)),
    "from_zero_ahead": Variant("you wrote lr·(t + 1)/total_steps: a common warm-up (notebook 08's "
                               "schedules.warmup is this one), but not torch's LinearLR, which this task "
                               "asks for: start at lr·start_factor for t = 0 and reach lr at "
                               "t = total_steps.", dict(from_zero=True, shift=1)),
    "not_capped": Variant("the rate keeps rising after the warm-up: from t = total_steps on it stays "
                          "at lr (use min(t, total_steps)).", dict(capped=False)),
    "absolute": Variant("start_factor is a factor on lr, not a learning rate: the warm-up starts at "
                        "lr·start_factor.", dict(absolute=True)),
}


def warmup_cosine_reference(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0):
    """torch's SequentialLR([LinearLR(start_factor, total_iters=warmup_steps),
    CosineAnnealingLR(T_max=total_steps − warmup_steps, eta_min=lr_min)], milestones=[warmup_steps]).
    warmup_steps = 0: the cosine alone (CosineAnnealingLR); warmup_steps = total_steps: the warm-up
    alone, whose value at t = total_steps is lr (the cosine's own step 0)."""
    if warmup_steps == 0:
        return schedules.cosine(lr, total_steps, lr_min)(t)
    if warmup_steps == total_steps:
        return schedules.linear(lr, start_factor, 1.0, warmup_steps)(t)
    chain = schedules.sequential([schedules.linear(lr, start_factor, 1.0, warmup_steps),
                                  schedules.cosine(lr, total_steps - warmup_steps, lr_min)],
                                 milestones=[warmup_steps])
    return chain(t)


def warmup_cosine_model(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0, warm=None,
                        horizon="rest", clock="local", delay=0, use_lr_min=True):
    """W = warmup_steps, T = total_steps: the warm-up of `warmup_model` for t < W, then

        η_t = η_min + (η − η_min)·(1 + cos(π·s/T_c))/2,   s = min(t − W, T_c),  T_c = T − W.

    The knobs make the mistakes: `warm` (a warm-up mistake's knobs), horizon "total" (T_c = T),
    clock "global" (s = t), `delay` (s = t − W − delay), use_lr_min False (down to 0)."""
    if t < warmup_steps:
        return warmup_model(t, lr=lr, start_factor=start_factor, total_steps=warmup_steps, **(warm or {}))
    span = total_steps - warmup_steps if horizon == "rest" else total_steps
    s = t if clock == "global" else t - warmup_steps - delay
    s = min(max(s, 0), span)
    low = lr_min if use_lr_min else 0.0
    return low + (lr - low) * (1 + math.cos(math.pi * (s / span if span else 0.0))) / 2


WARMUP_COSINE_VARIANTS = {
    "horizon_total": Variant("the cosine runs over total_steps; after the warm-up only "
                             "total_steps − warmup_steps steps remain, so the cosine's horizon is "
                             "T_max = total_steps − warmup_steps (it reaches lr_min at t = total_steps).",
                             dict(horizon="total")),
    "global_clock": Variant("the cosine reads the global step t; it starts its own clock at the end "
                            "of the warm-up: use t − warmup_steps (at t = warmup_steps the rate is lr).",
                            dict(clock="global")),
    "global_clock_total": Variant("the cosine is cos(π·t/total_steps) on the global step: after the "
                                  "warm-up it must start again from lr, on its own clock "
                                  "t − warmup_steps over total_steps − warmup_steps steps.",
                                  dict(clock="global", horizon="total")),
    "late": Variant("the cosine starts one step late (it holds lr for two steps): at t = warmup_steps "
                    "its own clock is 0, so use t − warmup_steps, not t − warmup_steps − 1.",
                    dict(delay=1)),
    "no_lr_min": Variant("lr_min is ignored: the cosine goes from lr down to lr_min, "
                         "lr_min + (lr − lr_min)·(1 + cos(π·s/T_max))/2.", dict(use_lr_min=False)),
    "warm_ahead": Variant("the warm-up is one step ahead: at t = 0 the rate is lr·start_factor (use t, "
                          "not t + 1).", dict(warm=dict(shift=1))),
    "warm_from_zero_ahead": Variant("the warm-up is lr·(t + 1)/warmup_steps (notebook 08's "
                                    "schedules.warmup, a common warm-up); this task asks for torch's "
                                    "LinearLR: lr·(start_factor + (1 − start_factor)·t/warmup_steps).",
                                    dict(warm=dict(from_zero=True, shift=1))),
    "warm_early": Variant("the warm-up reaches lr at t = warmup_steps − 1 (it divides by "
                          "warmup_steps − 1): divide by warmup_steps.", dict(warm=dict(end_offset=-1))),
}

WARMUP_VISIBLE = [dict(lr=0.1, start_factor=0.25, total_steps=4),
                  dict(lr=1.0, start_factor=1 / 3, total_steps=5),
                  dict(lr=0.003, start_factor=0.01, total_steps=10),
                  dict(lr=0.5, start_factor=0.5, total_steps=1)]
WARMUP_KEYS = {"lr", "start_factor", "total_steps"}

WARMUP_COSINE_VISIBLE = [dict(lr=0.1, start_factor=0.1, warmup_steps=3, total_steps=12, lr_min=0.0),
                         dict(lr=1.0, start_factor=0.25, warmup_steps=4, total_steps=10, lr_min=0.1),
                         dict(lr=0.01, start_factor=0.5, warmup_steps=1, total_steps=8, lr_min=0.001),
                         dict(lr=0.3, start_factor=1 / 3, warmup_steps=5, total_steps=25, lr_min=0.0),
                         dict(lr=0.1, start_factor=0.1, warmup_steps=0, total_steps=6, lr_min=0.01),
                         dict(lr=0.2, start_factor=0.25, warmup_steps=4, total_steps=4, lr_min=0.0)]
WARMUP_COSINE_KEYS = {"lr", "start_factor", "warmup_steps", "total_steps", "lr_min"}


def _schedule_cases(specs, last_step, extra: int):
    return [Case(f"{kw_text(spec)}, t = 0 … {last_step(spec) + extra}", {}, dict(spec),
                 call=Steps(last_step(spec) + extra)) for spec in specs]


def check_warmup(fn, cases="visible", seed=None):
    """Check `warmup(t, *, lr, start_factor, total_steps)`, torch's LinearLR up to lr:

        η_t = η·(f + (1 − f)·min(t, T)/T),   f = start_factor, T = total_steps, t = 0, 1, …
    """
    specs, _ = case_specs(cases, seed, WARMUP_VISIBLE, 0, WARMUP_KEYS)
    run_check(fn, check="check_warmup", name="warmup", what="torch's LinearLR",
              cases=_schedule_cases(specs, lambda s: spec_value(s, "total_steps"), 3),
              signature="warmup(t, *, lr, start_factor, total_steps)", reference=warmup_reference,
              unpack=ScheduleUnpack("warmup"), mistakes=variant_mistakes(warmup_model, WARMUP_VARIANTS))


def check_warmup_cosine(fn, cases="visible", seed=None):
    """Check `warmup_cosine(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0)`:
    torch's SequentialLR of LinearLR (warmup_steps steps) and CosineAnnealingLR
    (T_max = total_steps − warmup_steps), milestone warmup_steps, for t = 0 … total_steps."""
    specs, _ = case_specs(cases, seed, WARMUP_COSINE_VISIBLE, 0, WARMUP_COSINE_KEYS)
    run_check(fn, check="check_warmup_cosine", name="warmup_cosine",
              what="torch's SequentialLR(LinearLR, CosineAnnealingLR)",
              cases=_schedule_cases(specs, lambda s: spec_value(s, "total_steps"), 0),
              signature="warmup_cosine(t, *, lr, start_factor, warmup_steps, total_steps, lr_min=0.0)",
              reference=warmup_cosine_reference, unpack=ScheduleUnpack("warmup_cosine"),
              mistakes=variant_mistakes(warmup_cosine_model, WARMUP_COSINE_VARIANTS))


# --------------------------------------------------------------------------- clipping


def _l2(g) -> float:
    return float(np.sqrt(np.sum(np.square(g))))


def clip_model(grads, max_norm, *, norm="global", eps=1e-6, capped=True, report="before"):
    """‖g‖ = √(Σ over every entry of every array of g²), c = min(max_norm/(‖g‖ + 1e-6), 1),
    each array times c; returns (clipped, ‖g‖). The knobs make the mistakes: norm "per_tensor"
    (each array clipped by its own norm), "sum" (the norms added, not √Σ‖gᵢ‖²) or "squared"
    (no square root); eps; no cap (scaled up too); report "after" (the norm after clipping)."""
    norms = {k: _l2(g) for k, g in grads.items()}
    squares = sum(n * n for n in norms.values())
    total = {"sum": sum(norms.values()), "squared": squares}.get(norm, math.sqrt(squares))

    def coef(n):
        c = max_norm / (n + eps)
        return min(c, 1.0) if capped else c

    clipped = {k: g * coef(norms[k] if norm == "per_tensor" else total) for k, g in grads.items()}
    if report == "after":
        total = math.sqrt(sum(_l2(g) ** 2 for g in clipped.values()))
    return clipped, total


CLIP_VARIANTS = {
    "per_tensor": Variant("each array is clipped by its own norm; clip by the global norm of all of "
                          "them together, ‖g‖ = √(Σᵢ ‖gᵢ‖²), and scale every array by the same "
                          "c = min(max_norm/(‖g‖ + 1e-6), 1): the direction of the whole gradient "
                          "must not change.", dict(norm="per_tensor")),
    "sum_of_norms": Variant("the global norm is the sum of the arrays' norms; it is the norm of all "
                            "the entries together: √(Σᵢ ‖gᵢ‖²).", dict(norm="sum")),
    "squared": Variant("the norm has no square root: ‖g‖ = √(Σ g²) over every entry.",
                       dict(norm="squared")),
    "no_eps": Variant("the 1e-6 is missing: torch scales by max_norm/(total_norm + 1e-6) (capped at "
                      "1); it shows when the norms are small.", dict(eps=0.0)),
    "scales_up": Variant("a gradient shorter than max_norm is scaled up; clipping only shrinks: "
                         "c = min(max_norm/(total_norm + 1e-6), 1).", dict(capped=False)),
    "norm_after": Variant("the total_norm returned is the norm after clipping; return the norm of the "
                          "gradients as they came in (what torch's clip_grad_norm_ returns).",
                          dict(report="after")),
}

CLIP_VISIBLE = [dict(shapes=[(3, 2), (2,)], max_norm=1.0, ratio=3.0),
                dict(shapes=[(4,)], max_norm=5.0, ratio=10.0),
                dict(shapes=[(2, 3), (3,), (3, 1), (1,)], max_norm=0.5, ratio=0.4),
                dict(shapes=[(5,), (5,)], max_norm=1e-3, ratio=1.0),
                dict(shapes=[(2, 2), (2,)], max_norm=2e-3, ratio=40.0),
                dict(shapes=[(3,), (2, 2)], max_norm=1.0, ratio=0.0)]
CLIP_SEED = 11
#: What an in-place write costs here: the caller's gradients (its log of norms, a second look) change.
CLIP_IN_PLACE = ("`g *= c` (or `grads[name] = ...`) changes the caller's gradients too: the training "
                 "loop that passed them in, and anything that logs or re-reads them, would see the "
                 "clipped values. Return new arrays: `{name: c * g for name, g in grads.items()}`.")
CLIP_KEYS = {"shapes", "max_norm", "ratio"}


def _clip_cases(specs, rng):
    out = []
    for spec in specs:
        shapes = [tuple(s) for s in spec_value(spec, "shapes")]
        max_norm, ratio = spec_value(spec, "max_norm"), spec_value(spec, "ratio")
        names = [f"{'Wb'[i % 2]}{i // 2 + 1}" for i in range(len(shapes))]
        raw = {k: rng.normal(size=s) for k, s in zip(names, shapes)}
        scale = ratio * max_norm / math.sqrt(sum(_l2(g) ** 2 for g in raw.values()))
        grads = {k: g * scale for k, g in raw.items()}
        shown = ", ".join(f"{k} {s}" for k, s in zip(names, shapes))
        size = "all zero" if ratio == 0 else f"of global norm {num(ratio)} × max_norm"
        out.append(Case(f"grads {shown} {size}, max_norm={num(max_norm)}",
                        {"grads": grads, "max_norm": max_norm}, {}))
    return out


def _clip_unpack(out) -> dict:
    if out is None:
        raise CheckFailed("returned None: did you forget `return clipped, total_norm`?")
    if not isinstance(out, tuple) or len(out) != 2:
        raise CheckFailed(f"returned {short(out)}; return a pair `clipped, total_norm`")
    clipped, total = out
    if not isinstance(clipped, dict):
        raise CheckFailed(f"returned {short(clipped)} as `clipped`; return a dict with the same names "
                          f"as `grads`, e.g. {{name: c * g for name, g in grads.items()}}")
    q = {"total_norm": total}
    q.update({f"clipped[{k!r}]": v for k, v in clipped.items()})
    return q


def check_clip_grad_norm(fn, cases="visible", seed=None):
    """Check `clip_grad_norm(grads, max_norm) -> (clipped, total_norm)` for a dict of arrays,
    torch's clip_grad_norm_: ‖g‖ = √(Σ g²) over every entry of every array,
    c = min(max_norm/(‖g‖ + 1e-6), 1), every array times c, the input never written into."""
    specs, rng = case_specs(cases, seed, CLIP_VISIBLE, CLIP_SEED, CLIP_KEYS)
    run_check(fn, check="check_clip_grad_norm", name="clip_grad_norm",
              what="torch's clip_grad_norm_", cases=_clip_cases(specs, rng),
              signature="clip_grad_norm(grads, max_norm)", reference=train.clip_grad_norm,
              unpack=_clip_unpack, mistakes=variant_mistakes(clip_model, CLIP_VARIANTS),
              in_place=CLIP_IN_PLACE)


# --------------------------------------------------------------------------- the range test


class Quadratic:
    """loss_and_grad(params) = (½ θᵀAθ, {"theta": Aθ}) for params {"theta": θ} (it pickles)."""

    def __init__(self, A):
        self.A = np.asarray(A, dtype=float)

    def __call__(self, params):
        theta = params["theta"]
        g = self.A @ theta
        return 0.5 * float(theta @ g), {"theta": g}


class LeastSquares:
    """loss_and_grad(params) = (mean((Xw + b − y)²), its gradient) for params {"w": w, "b": b}."""

    def __init__(self, X, y):
        self.X, self.y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)

    def __call__(self, params):
        r = self.X @ params["w"] + params["b"] - self.y
        n = len(self.y)
        return float(np.mean(r * r)), {"w": 2 * self.X.T @ r / n, "b": np.array(2 * np.mean(r))}


class QuadraticNaN(Quadratic):
    """½θᵀAθ while ‖θ‖ ≤ radius, and a NaN loss and gradient beyond it (as a loss that takes the log
    of a negative number would give): the range test must stop on it."""

    def __init__(self, A, radius):
        super().__init__(A)
        self.radius = float(radius)

    def __call__(self, params):
        if np.linalg.norm(params["theta"]) <= self.radius:
            return super().__call__(params)
        return math.nan, {"theta": np.full_like(params["theta"], math.nan)}


class SGDStep:
    """update(params, grads, lr) = {name: θ − η·g}: a new dict of new arrays."""

    def __call__(self, params, grads, lr):
        return {k: params[k] - lr * grads[k] for k in params}


class SignStep:
    """update(params, grads, lr) = {name: θ − η·sign(g)} (signSGD): a new dict of new arrays."""

    def __call__(self, params, grads, lr):
        return {k: params[k] - lr * np.sign(grads[k]) for k in params}


UPDATES = {"sgd": SGDStep, "sign": SignStep}


def range_test_model(loss_and_grad, params, lrs, *, update, smooth=0.98, diverge_factor=4.0,
                     stop=True, late=0, keep_last=True, debias=True, smoothed_loss=True,
                     against="min", loss_after=False, nan_stops=True):
    """The range test of ``optlessons.search.lr_find`` on a fixed `loss_and_grad`: for
    t = 0, 1, … with η_t = lrs[t]: (L_t, g_t) = loss_and_grad(θ), record η_t and L_t, then

        a_t = β·a_{t−1} + (1 − β)·L_t  (a_{−1} = 0),   ℓ_t = a_t/(1 − β^(t+1))   (β = smooth)
        stop if not ℓ_t ≤ diverge_factor · min(ℓ_0 … ℓ_t), else θ ← update(θ, g_t, η_t).

    Returns (the η_t used, the L_t), as arrays. The knobs make the mistakes: never stopping,
    `late` more steps, the step that stopped left out, no debiasing (ℓ_t = a_t), the raw loss
    (ℓ_t = L_t), comparing with ℓ_0 instead of the minimum, recording the loss after the update,
    testing `ℓ_t > c·min` (False for a NaN loss, so it never stops on one) instead of `not ℓ_t ≤ c·min`."""
    used, losses = [], []
    avg, best, first = 0.0, math.inf, None
    left = None   # the steps still recorded once divergence was seen (`late`)
    for t, lr in enumerate(lrs):
        loss, grads = loss_and_grad(params)
        new = update(params, grads, lr)
        used.append(lr)
        losses.append(loss_and_grad(new)[0] if loss_after else loss)
        if left is None:
            avg = smooth * avg + (1 - smooth) * loss
            ell = (avg / (1 - smooth ** (t + 1)) if debias else avg) if smoothed_loss else loss
            first = ell if first is None else first
            best = min(best, ell)
            limit = diverge_factor * (best if against == "min" else first)
            if stop and (not ell <= limit if nan_stops else ell > limit):
                if not keep_last:
                    del used[-1], losses[-1]
                left = late
        if left == 0:
            break
        if left is not None:
            left -= 1
        params = new
    return np.array(used, dtype=float), np.array(losses, dtype=float)


RANGE_TEST_VARIANTS = {
    "never_stops": Variant("the range test does not stop at divergence: after recording a step, stop "
                           "as soon as the smoothed loss is above diverge_factor × its smallest value "
                           "so far (`break`).", dict(stop=False)),
    "late": Variant("the range test stops one step late: test for divergence right after recording "
                    "the loss of a step, and `break` before the next one.", dict(late=1)),
    "drops_last": Variant("the step at which the loss diverged is missing: record η_t and the loss "
                          "first, then test, then `break`.", dict(keep_last=False)),
    "not_debiased": Variant("the smoothed loss is not debiased: divide the running average by "
                            "1 − smooth^(t+1) (without it the first values are near 0 and the test "
                            "stops after a few steps).", dict(debias=False)),
    "raw_loss": Variant("the test compares the raw loss; compare the smoothed loss "
                        "a_t/(1 − smooth^(t+1)), a_t = smooth·a_{t−1} + (1 − smooth)·L_t.",
                        dict(smoothed_loss=False)),
    "against_first": Variant("the smoothed loss is compared with its first value; compare it with its "
                             "smallest value so far.", dict(against="first")),
    "nan_goes_on": Variant("the test does not stop when the loss becomes NaN: `ℓ > diverge_factor · "
                           "min` is False for a NaN ℓ, so the run goes on with NaN forever. Test "
                           "`not ℓ <= diverge_factor · min`, which is True for NaN too (as lr_find "
                           "does).", dict(nan_stops=False)),
    "loss_after": Variant("the loss recorded is the one after the update; record L_t = loss at θ_t, "
                          "the loss the update with η_t starts from (as fastai and lr_find do).",
                          dict(loss_after=True)),
}

RANGE_TEST_VISIBLE = [dict(problem="quadratic", eigenvalues=(1.0, 10.0), start_lr=1e-3, end_lr=10.0, num=60,
                           update="sgd", smooth=0.98, diverge_factor=4.0),
                      dict(problem="least_squares", n=20, d=3, start_lr=1e-4, end_lr=100.0, num=80,
                           update="sgd", smooth=0.9, diverge_factor=4.0),
                      dict(problem="quadratic", eigenvalues=(0.5, 2.0, 4.0), start_lr=1e-3, end_lr=0.3,
                           num=30, update="sgd", smooth=0.98, diverge_factor=4.0),
                      dict(problem="quadratic", eigenvalues=(1.0, 3.0), start_lr=1e-2, end_lr=100.0, num=50,
                           update="sign", smooth=0.8, diverge_factor=3.0),
                      dict(problem="quadratic_nan", eigenvalues=(1.0, 10.0), nan_radius=1.0, start_lr=1e-3,
                           end_lr=10.0, num=60, update="sgd", smooth=0.98, diverge_factor=4.0)]
RANGE_TEST_SEED = 12
#: What an in-place write costs here: the caller's starting point moves.
RANGE_TEST_IN_PLACE = ("`theta -= lr * g` (or `params[name] = ...`) moves the caller's starting point: "
                       "the real run you start from the same `params` afterwards would begin where the "
                       "range test blew up. Use `params = update(params, grads, lr)`, which returns new "
                       "arrays.")
RANGE_TEST_KEYS = {"problem", "eigenvalues", "n", "d", "start_lr", "end_lr", "num", "update", "smooth",
                   "diverge_factor", "nan_radius"}


def range_test_cases(specs, rng) -> list[Case]:
    """The range-test cases of `specs` (see the module's docstring), drawn from `rng`."""
    out = []
    for spec in specs:
        kind = spec_value(spec, "problem")
        if kind in ("quadratic", "quadratic_nan"):
            eig = tuple(spec_value(spec, "eigenvalues"))
            Q, _ = np.linalg.qr(rng.normal(size=(len(eig), len(eig))))
            A = Q @ np.diag(eig) @ Q.T
            params = {"theta": rng.normal(size=len(eig))}
            label = f"½θᵀAθ, A with eigenvalues {eig}"
            if kind == "quadratic":
                problem = Quadratic(A)
            else:
                factor = spec_value(spec, "nan_radius")
                problem = QuadraticNaN(A, factor * np.linalg.norm(params["theta"]))
                label += f", the loss NaN once ‖θ‖ > {num(factor)} × ‖θ₀‖"
        elif kind == "least_squares":
            n, d = spec_value(spec, "n"), spec_value(spec, "d")
            X = rng.normal(size=(n, d))
            problem = LeastSquares(X, X @ rng.normal(size=d) + 0.1 * rng.normal(size=n))
            params = {"w": np.zeros(d), "b": np.zeros(())}
            label = f"least squares on {n} examples × {d} features"
        else:
            raise ValueError(f'problem must be "quadratic", "quadratic_nan" or "least_squares", got {kind!r}')
        start, end, count = spec_value(spec, "start_lr"), spec_value(spec, "end_lr"), spec_value(spec, "num")
        kind = spec_value(spec, "update")
        if kind not in UPDATES:
            raise ValueError(f"update must be one of {sorted(UPDATES)}, got {kind!r}")
        kwargs = dict(update=UPDATES[kind](), smooth=spec_value(spec, "smooth", 0.98),
                      diverge_factor=spec_value(spec, "diverge_factor", 4.0))
        out.append(Case(f"{label}, lrs = np.geomspace({num(start)}, {num(end)}, {count}), "
                        f"update={type(kwargs['update']).__name__}, smooth={num(kwargs['smooth'])}, "
                        f"diverge_factor={num(kwargs['diverge_factor'])}",
                        {"loss_and_grad": problem, "params": params,
                         "lrs": np.geomspace(start, end, count)}, kwargs))
    return out


def _range_test_unpack(out) -> dict:
    if out is None:
        raise CheckFailed("returned None: did you forget `return np.array(used), np.array(losses)`?")
    if not isinstance(out, tuple) or len(out) != 2:
        raise CheckFailed(f"returned {short(out)}; return a pair `lrs_used, losses`")
    lrs, losses = out
    for what, x in (("lrs_used", lrs), ("losses", losses)):
        if not is_number_like(x) or np.ndim(x) != 1:
            raise CheckFailed(f"returned {short(x)} as `{what}`; return a 1-D array (or list) of numbers")
    if len(lrs) != len(losses):
        raise CheckFailed(f"returned {len(lrs)} learning rates but {len(losses)} losses: record both at "
                          f"every step")
    return {"number of steps recorded": len(losses), "lrs_used": np.asarray(lrs, dtype=float),
            "losses": np.asarray(losses, dtype=float)}


def check_range_test(fn, cases="visible", seed=None):
    """Check `range_test(loss_and_grad, params, lrs, *, update, smooth=0.98, diverge_factor=4.0)
    -> (lrs_used, losses)`, the learning-rate range test of ``optlessons.search.lr_find``
    (see :func:`range_test_model`)."""
    specs, rng = case_specs(cases, seed, RANGE_TEST_VISIBLE, RANGE_TEST_SEED, RANGE_TEST_KEYS)
    run_check(fn, check="check_range_test", name="range_test", what="the range test of lr_find",
              cases=range_test_cases(specs, rng),
              signature="range_test(loss_and_grad, params, lrs, *, update, smooth=0.98, diverge_factor=4.0)",
              reference=range_test_model, unpack=_range_test_unpack,
              mistakes=variant_mistakes(range_test_model, RANGE_TEST_VARIANTS), aliasing=False,
              in_place=RANGE_TEST_IN_PLACE)
