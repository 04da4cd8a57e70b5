"""Problem set 3: pure update functions, equal to PyTorch's (i.e. to optlessons.optim's).

Case specs (see :mod:`optlessons.checks.engine`): ``{"shape": (3,), "steps": 4, **hyperparameters}``:
a random param of that shape and a state after `steps` reference updates with random
gradients, then one more random gradient; the hyperparameters are passed as keywords.

Each mistake model is the update written once, like the equation, with keyword knobs;
a mistake is a :class:`~optlessons.checks.engine.Variant`: its hint and the knobs it turns.
"""

from __future__ import annotations

import numpy as np

from optlessons.checks.base import Case, CheckFailed
from optlessons.checks.compare import kw_text, num, short
from optlessons.checks.engine import Variant, case_specs, run_check, spec_value, variant_mistakes
from optlessons.optim import (AdamState, RMSpropState, SGDState, adam_update, rmsprop_update,
                              sgd_update)

__all__ = ["check_sgd_momentum_update", "check_rmsprop_update", "check_adam_update",
           "sgd_model", "rmsprop_model", "adam_model", "SGD_VARIANTS", "RMSPROP_VARIANTS",
           "ADAM_VARIANTS", "KNOWN_MISTAKES", "SGD_VISIBLE", "RMSPROP_VISIBLE", "ADAM_VISIBLE"]

_FIELD_LABELS = {"exp_avg": "state.exp_avg (m)", "exp_avg_sq": "state.exp_avg_sq (v)",
                 "square_avg": "state.square_avg (v)", "momentum_buffer": "state.momentum_buffer (b)"}


class UpdateUnpack:
    """unpack((new_param, state)) -> {"state.step": ..., ..., "new_param": ...}."""

    def __init__(self, fields, state_name):
        self.fields, self.state_name = fields, state_name

    def __call__(self, out) -> dict:
        if out is None:
            raise CheckFailed("returned None: did you forget `return new_param, new_state`?")
        if not isinstance(out, tuple):
            raise CheckFailed(f"returned {short(out)}, not a tuple: return a pair `new_param, new_state`")
        if len(out) != 2:
            raise CheckFailed(f"returned a tuple of {len(out)} items; return a pair `new_param, new_state`")
        new_param, state = out
        q = {}
        for f in self.fields:
            if not hasattr(state, f):
                raise CheckFailed(
                    f"returned a state ({short(state)}) without the field `{f}`: return "
                    f"{self.state_name}({', '.join(self.fields)}), e.g. with `state._replace(...)`")
            q[_FIELD_LABELS.get(f, f"state.{f}")] = getattr(state, f)
        q["new_param"] = new_param
        return q


def _warm_cases(update, state_type, specs, rng, *, shrink=1.0):
    """Cases whose state comes from `steps` reference updates with random gradients
    (scaled by `shrink` each step, down to 0.1)."""
    cs = []
    for spec in specs:
        shape, steps = tuple(spec_value(spec, "shape")), spec_value(spec, "steps")
        kwargs = {k: v for k, v in spec.items() if k not in ("shape", "steps")}
        param = rng.normal(size=shape)
        state = state_type.zeros_like(param)
        scale = 1.0
        for _ in range(steps):
            param, state = update(param, scale * rng.normal(size=shape), state, **kwargs)
            scale = max(scale * shrink, 0.1)
        grad = scale * rng.normal(size=shape)
        what = "a fresh state (first step)" if steps == 0 else f"a state after {steps} steps"
        cs.append(Case(f"param of shape {shape}, {what}, {kw_text(kwargs)}",
                       {"param": param, "grad": grad, "state": state}, kwargs))
    return cs


# --------------------------------------------------------------------------- SGD with momentum


def sgd_model(param, grad, state, *, lr, momentum=0.9, nesterov=False, lr_in_buffer=False,
              buffer_sign=1, dampened=False, nesterov_used=None, use_buffer=True, direction=-1,
              count_step=True, store_buffer=True):
    """PyTorch's SGD with momentum (dampening 0): b = g on the first step, else b = μb + g;
    θ ← θ − lr·b (Nesterov: θ − lr·(g + μb)). The knobs make the mistakes: lr inside the
    buffer (b = μb + lr·g, θ − b; with buffer_sign −1 the velocity form b = μb − lr·g, θ + b),
    a dampened buffer, Nesterov's direction used or ignored whatever `nesterov` says, the
    raw gradient used, the wrong direction, the step or the buffer not stored."""
    prev = state.momentum_buffer
    zero = np.zeros_like(grad) if prev is None else prev
    step = state.step + 1 if count_step else state.step
    if lr_in_buffer:
        buf = momentum * zero + buffer_sign * lr * grad
        return param + buffer_sign * direction * buf, SGDState(step, buf)
    if dampened:
        buf = momentum * zero + (1 - momentum) * grad
    else:
        buf = np.array(grad, dtype=float) if prev is None else momentum * prev + grad
    use_nesterov = nesterov if nesterov_used is None else nesterov_used
    d = grad + momentum * buf if use_nesterov else buf
    new = param + direction * lr * (d if use_buffer else grad)
    return new, SGDState(step, buf if store_buffer else prev)


SGD_VARIANTS = {
    "sign": Variant("the update has the wrong sign: θ ← θ − lr·b (descend, don't climb).",
                    dict(direction=+1)),
    "lr_inside": Variant("the learning rate is inside the velocity (b = μb + lr·g, θ ← θ − b). PyTorch "
                         "keeps lr out of the buffer: b = μb + g, then θ ← θ − lr·b (it matters when lr "
                         "changes).", dict(lr_in_buffer=True)),
    "velocity": Variant("you used the 'velocity' form v = μv − lr·g, θ ← θ + v; PyTorch stores "
                        "b = μb + g and steps θ ← θ − lr·b.", dict(lr_in_buffer=True, buffer_sign=-1)),
    "dampened": Variant("you averaged the buffer, b = μb + (1 − μ)g; PyTorch adds the full gradient: "
                        "b = μb + g (dampening = 0), and b = g on the first step.", dict(dampened=True)),
    "twice": Variant("momentum is applied twice: θ − lr·(g + μ·b) is Nesterov's update, used only "
                     "when nesterov=True; plain momentum steps θ ← θ − lr·b.", dict(nesterov_used=True)),
    "nesterov_ignored": Variant("nesterov=True is ignored, or its look-ahead used the old buffer "
                                "(g + μ·b_old is exactly plain momentum's new b): update the buffer "
                                "first, b = μ·b + g, then step with g + μ·b (the new b).",
                                dict(nesterov_used=False)),
    "unused": Variant("the momentum buffer is computed but the step uses the raw gradient; "
                      "step with θ ← θ − lr·b.", dict(use_buffer=False)),
    "step": Variant("the step count is not incremented: return the state with step + 1.",
                    dict(count_step=False)),
    "not_stored": Variant("the new momentum buffer is not stored in the returned state; the next "
                          "step needs it: SGDState(step + 1, b).", dict(store_buffer=False)),
}

SGD_VISIBLE = [dict(shape=(3,), steps=0, lr=0.1, momentum=0.9),
               dict(shape=(3,), steps=3, lr=0.1, momentum=0.9),
               dict(shape=(2, 3), steps=5, lr=0.01, momentum=0.5),
               dict(shape=(4,), steps=2, lr=0.05, momentum=0.9, nesterov=True),
               dict(shape=(2, 2), steps=0, lr=0.2, momentum=0.8, nesterov=True),
               dict(shape=(5,), steps=4, lr=0.03, momentum=0.99)]
SGD_SEED = 7
SGD_KEYS = {"shape", "steps", "lr", "momentum", "nesterov"}


def check_sgd_momentum_update(fn, cases="visible", seed=None):
    """Check `sgd_momentum_update(param, grad, state, *, lr, momentum, nesterov=False)`.

    Returns (new_param, SGDState(step + 1, momentum_buffer)); PyTorch's SGD with
    dampening=0 and weight_decay=0: b = g on the first step (the state's
    momentum_buffer is None), else b = μ·b + g; θ ← θ − lr·b
    (Nesterov: θ ← θ − lr·(g + μ·b)).
    """
    specs, rng = case_specs(cases, seed, SGD_VISIBLE, SGD_SEED, SGD_KEYS)
    run_check(fn, check="check_sgd_momentum_update", name="sgd_momentum_update",
              what="PyTorch's SGD with momentum", cases=_warm_cases(sgd_update, SGDState, specs, rng),
              signature="sgd_momentum_update(param, grad, state, *, lr, momentum, nesterov=False)",
              reference=sgd_update, unpack=UpdateUnpack(["step", "momentum_buffer"], "SGDState"),
              mistakes=variant_mistakes(sgd_model, SGD_VARIANTS))


# --------------------------------------------------------------------------- RMSprop


def rmsprop_model(param, grad, state, *, lr=0.01, alpha=0.99, eps=1e-8, square=True,
                  swap_alpha=False, use_new_v=True, eps_at="outside", direction=-1, count_step=True):
    """PyTorch's RMSprop (momentum 0, not centered): v = α·v + (1 − α)·g²,
    θ ← θ − lr·g/(√v + ε). The knobs make the mistakes: g not squared, α and 1 − α
    swapped, the old v used, ε inside the root or no root ("none"), the wrong direction,
    the step not counted."""
    g2 = grad * grad if square else grad
    a = 1 - alpha if swap_alpha else alpha
    v = a * state.square_avg + (1 - a) * g2
    vu = v if use_new_v else state.square_avg
    denom = {"outside": lambda: np.sqrt(vu) + eps, "inside": lambda: np.sqrt(vu + eps),
             "none": lambda: vu + eps}[eps_at]()
    new = param + direction * lr * grad / denom
    step = state.step + 1 if count_step else state.step
    return new, RMSpropState(step, v, state.momentum_buffer, state.grad_avg)


RMSPROP_VARIANTS = {
    "eps_inside": Variant("eps is inside the square root (√(v + ε)); PyTorch adds it outside: "
                          "θ ← θ − lr·g/(√v + ε).", dict(eps_at="inside")),
    "alpha_swapped": Variant("alpha and 1 − alpha are swapped: v = α·v + (1 − α)·g² keeps most of "
                             "the old average (α = 0.99).", dict(swap_alpha=True)),
    "no_sqrt": Variant("the square root is missing: divide by √v + ε, not by v + ε.", dict(eps_at="none")),
    "not_squared": Variant("the gradient is not squared in the running average: v = α·v + (1 − α)·g².",
                           dict(square=False)),
    "old_v": Variant("the step uses the old average; update v first, then divide by √v + ε.",
                     dict(use_new_v=False)),
    "sign": Variant("the update has the wrong sign: θ ← θ − lr·g/(√v + ε).", dict(direction=+1)),
    "step": Variant("the step count is not incremented: return the state with step + 1.",
                    dict(count_step=False)),
}

RMSPROP_VISIBLE = [dict(shape=(3,), steps=0, lr=0.01, alpha=0.99, eps=1e-8),
                   dict(shape=(3,), steps=4, lr=0.01, alpha=0.99, eps=1e-8),
                   dict(shape=(2, 3), steps=6, lr=0.1, alpha=0.9, eps=1e-3),
                   dict(shape=(4,), steps=2, lr=0.001, alpha=0.5, eps=1e-6),
                   dict(shape=(2, 2), steps=10, lr=0.05, alpha=0.95, eps=0.1),
                   dict(shape=(5,), steps=1, lr=0.02, alpha=0.8, eps=1e-8)]
RMSPROP_SEED = 8
RMSPROP_KEYS = {"shape", "steps", "lr", "alpha", "eps"}


def check_rmsprop_update(fn, cases="visible", seed=None):
    """Check `rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8)`.

    PyTorch's RMSprop (momentum=0, centered=False): v = α·v + (1 − α)·g²,
    θ ← θ − lr·g/(√v + ε); returns (new_param, state with step + 1 and square_avg v).
    """
    specs, rng = case_specs(cases, seed, RMSPROP_VISIBLE, RMSPROP_SEED, RMSPROP_KEYS)
    run_check(fn, check="check_rmsprop_update", name="rmsprop_update", what="PyTorch's RMSprop",
              cases=_warm_cases(rmsprop_update, RMSpropState, specs, rng),
              signature="rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8)",
              reference=rmsprop_update,
              unpack=UpdateUnpack(["step", "square_avg", "momentum_buffer", "grad_avg"], "RMSpropState"),
              mistakes=variant_mistakes(rmsprop_model, RMSPROP_VARIANTS))


# --------------------------------------------------------------------------- Adam


def adam_model(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               amsgrad=False, swap_betas=False, decay="coupled", correction_t="new",
               returned_step="new", square=True, correct_m=True, correct_v=True,
               amsgrad_max="v", amsgrad_use=True, amsgrad_store="new", eps_at="outside",
               direction=-1):
    """PyTorch's Adam, written as its equations (t = step + 1):

        g ← g + λθ;  m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
        (AMSGrad: v_max = max(v_max, v), used for v below)
        m̂ = m/(1 − β1^t);  v̂ = v/(1 − β2^t);  θ ← θ − lr·m̂/(√v̂ + ε)

    Each knob makes one known mistake when turned away from its default: swap_betas;
    decay "decoupled" (AdamW's θ − lr·λ·θ) or "none"; correction_t "old" (t = step in the
    bias correction); returned_step "old"; square False; correct_m / correct_v False;
    amsgrad_max "vhat" (max over v̂) or "ignored"; amsgrad_use False (max kept, v used);
    amsgrad_store "old" (max not stored) or "always" (kept without amsgrad); eps_at
    "inside" (√(v̂ + ε)) or "before_correction" ((√v + ε)/√(1 − β2^t)); direction +1.
    """
    b1, b2 = betas[::-1] if swap_betas else betas
    g = grad + weight_decay * param if weight_decay and decay == "coupled" else grad
    t = state.step + 1
    tc = t if correction_t == "new" else state.step
    m = b1 * state.exp_avg + (1 - b1) * g
    v = b2 * state.exp_avg_sq + (1 - b2) * (g * g if square else g)
    bc1 = 1 - b1 ** tc if correct_m else 1.0
    bc2 = 1 - b2 ** tc if correct_v else 1.0
    mx, vv = state.max_exp_avg_sq, v
    if amsgrad and amsgrad_max == "v":
        mx = np.maximum(mx, v)
        vv = mx if amsgrad_use else v
    elif amsgrad and amsgrad_max == "vhat":
        mx = np.maximum(mx, v / bc2)
        vv = mx * bc2
    m_hat, v_hat = m / bc1, vv / bc2
    denom = {"outside": lambda: np.sqrt(v_hat) + eps, "inside": lambda: np.sqrt(v_hat + eps),
             "before_correction": lambda: (np.sqrt(vv) + eps) / np.sqrt(bc2)}[eps_at]()
    new = param + direction * lr * m_hat / denom
    if decay == "decoupled":
        new = new - lr * weight_decay * param
    if amsgrad_store == "old":
        mx = state.max_exp_avg_sq
    elif amsgrad_store == "always" and not amsgrad:
        mx = np.maximum(state.max_exp_avg_sq, v)
    return new, AdamState(t if returned_step == "new" else state.step, m, v, mx)


ADAM_VARIANTS = {
    "no_bias_correction": Variant(
        "bias correction is missing: use m̂ = m/(1 − β1^t) and v̂ = v/(1 − β2^t) in the step. "
        "Without it the first steps are too large: on step 1, m/√v = (1 − β1)·g/(√(1 − β2)·|g|), "
        "a step of (1 − β1)/√(1 − β2) × lr, about 3.2 × lr with the default betas (0.9, 0.999), "
        "where Adam steps about lr.", dict(correct_m=False, correct_v=False)),
    "no_bias_correction_m": Variant("m is not bias-corrected: m̂ = m/(1 − β1^t).", dict(correct_m=False)),
    "no_bias_correction_v": Variant("v is not bias-corrected: v̂ = v/(1 − β2^t).", dict(correct_v=False)),
    "step_late": Variant("the step count is not incremented before bias correction: first t = step + 1, "
                         "then divide by 1 − β^t (on the first step t = 1; with t = 0 you divide by zero).",
                         dict(correction_t="old")),
    "step_never": Variant("the step count is never incremented: first t = step + 1, use it in the bias "
                          "correction (1 − β^t) and return it in the new state.",
                          dict(correction_t="old", returned_step="old")),
    "step": Variant("the returned state keeps the old step: return AdamState(step + 1, ...).",
                    dict(returned_step="old")),
    "eps_inside": Variant("eps is inside the square root (√(v̂ + ε)); PyTorch adds it outside: "
                          "θ ← θ − lr·m̂/(√v̂ + ε).", dict(eps_at="inside")),
    "eps_before_correction": Variant("eps is added before the bias correction ((√v + ε)/√(1 − β2^t)); "
                                     "PyTorch adds it after: √v/√(1 − β2^t) + ε = √v̂ + ε.",
                                     dict(eps_at="before_correction")),
    "betas_swapped": Variant("β1 and β2 are swapped: m uses β1 = betas[0] (0.9), v uses β2 = betas[1] "
                             "(0.999).", dict(swap_betas=True)),
    "not_squared": Variant("the gradient is not squared in v: v = β2·v + (1 − β2)·g².", dict(square=False)),
    "sign": Variant("the update has the wrong sign: θ ← θ − lr·m̂/(√v̂ + ε).", dict(direction=+1)),
    "decoupled": Variant("you applied decoupled weight decay (AdamW: θ ← θ − lr·λ·θ); Adam adds "
                         "λ·θ to the gradient first: g ← g + weight_decay·θ.", dict(decay="decoupled")),
    "no_wd": Variant("weight_decay is ignored: Adam adds it to the gradient first, "
                     "g ← g + weight_decay·θ.", dict(decay="none")),
    "amsgrad_ignored": Variant("amsgrad=True is ignored: keep the running maximum "
                               "max_exp_avg_sq = max(max_exp_avg_sq, v) and divide by "
                               "√(max_exp_avg_sq/(1 − β2^t)) + ε instead of √v̂ + ε.",
                               dict(amsgrad_max="ignored")),
    "amsgrad_unused": Variant("the AMSGrad maximum is stored but not used: with amsgrad=True divide by "
                              "√(max_exp_avg_sq/(1 − β2^t)) + ε instead of √v̂ + ε.",
                              dict(amsgrad_use=False)),
    "amsgrad_vhat": Variant("the AMSGrad maximum is taken over the corrected v̂; PyTorch takes it over "
                            "v and then divides by 1 − β2^t.", dict(amsgrad_max="vhat")),
    "amsgrad_not_stored": Variant("the AMSGrad maximum is used but not stored: return it as "
                                  "max_exp_avg_sq in the new state.", dict(amsgrad_store="old")),
    "max_always": Variant("max_exp_avg_sq is updated although amsgrad=False; keep the running "
                          "maximum only with amsgrad=True, otherwise return the state's "
                          "max_exp_avg_sq unchanged.", dict(amsgrad_store="always")),
}


def _adam_extra(case, expected, got, qname):
    """After m and v are right, the numbers that follow them at the worst index."""
    if qname != "new_param":
        return None
    kw = case.kwargs
    b1, b2 = kw.get("betas", (0.9, 0.999))
    t = int(expected["state.step"])
    m = np.asarray(expected["state.exp_avg (m)"])
    v = np.asarray(expected["state.max_exp_avg_sq"] if kw.get("amsgrad") else expected["state.exp_avg_sq (v)"])
    e, g = np.asarray(expected["new_param"], float), np.asarray(got["new_param"], float)
    if g.shape != e.shape:
        return None
    with np.errstate(invalid="ignore"):
        d = np.where(np.isnan(g), np.inf, np.abs(g - e))
    idx = np.unravel_index(int(np.argmax(d)), e.shape)
    return (f"m and v are right, so look at what follows them. At that index, with t = {t}: "
            f"m̂ = m/(1 − β1^t) = {num(m[idx] / (1 - b1 ** t))}, "
            f"v̂ = {'max_exp_avg_sq' if kw.get('amsgrad') else 'v'}/(1 − β2^t) = "
            f"{num(v[idx] / (1 - b2 ** t))}, and θ ← θ − lr·m̂/(√v̂ + ε).")


_ADAM_BASE = dict(weight_decay=0.0, amsgrad=False)
ADAM_VISIBLE = [dict(shape=(3,), steps=0, lr=0.1, betas=(0.9, 0.999), eps=1e-8, **_ADAM_BASE),
                dict(shape=(3,), steps=3, lr=0.01, betas=(0.9, 0.999), eps=1e-8, **_ADAM_BASE),
                dict(shape=(2, 3), steps=10, lr=0.001, betas=(0.8, 0.99), eps=1e-3, **_ADAM_BASE),
                dict(shape=(4,), steps=5, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                     amsgrad=True),
                dict(shape=(2, 2), steps=2, lr=0.02, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.1,
                     amsgrad=False),
                dict(shape=(5,), steps=1, lr=0.3, betas=(0.5, 0.9), eps=0.01, **_ADAM_BASE)]
ADAM_SEED = 9
ADAM_KEYS = {"shape", "steps", "lr", "betas", "eps", "weight_decay", "amsgrad"}


def check_adam_update(fn, cases="visible", seed=None):
    """Check `adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad)`.

    PyTorch's Adam: t = step + 1; g ← g + weight_decay·θ; m = β1·m + (1 − β1)·g;
    v = β2·v + (1 − β2)·g²; (AMSGrad: v_max = max(v_max, v), used for v below);
    m̂ = m/(1 − β1^t); v̂ = v/(1 − β2^t); θ ← θ − lr·m̂/(√v̂ + ε).
    """
    specs, rng = case_specs(cases, seed, ADAM_VISIBLE, ADAM_SEED, ADAM_KEYS)
    # gradients that shrink over the warm-up, so that the AMSGrad maximum differs from v
    run_check(fn, check="check_adam_update", name="adam_update", what="PyTorch's Adam",
              cases=_warm_cases(adam_update, AdamState, specs, rng, shrink=0.5),
              signature="adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad)",
              reference=adam_update,
              unpack=UpdateUnpack(["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"], "AdamState"),
              mistakes=variant_mistakes(adam_model, ADAM_VARIANTS), extra=_adam_extra)


KNOWN_MISTAKES = {name: {k: v.hint for k, v in table.items()}
                  for name, table in (("sgd_momentum_update", SGD_VARIANTS),
                                      ("rmsprop_update", RMSPROP_VARIANTS),
                                      ("adam_update", ADAM_VARIANTS))}
"""Update name -> mistake name -> the hint shown."""
