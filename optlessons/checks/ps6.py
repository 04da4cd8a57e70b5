"""Problem set 6: Lion's update, Adafactor's factored second moment, Newton–Schulz orthogonalization.

Case specs (see :mod:`optlessons.checks.engine`):

* ``check_lion_update``: ``{"shape": (4, 3), "steps": 5, "lr": 3e-4, "betas": (0.9, 0.99),
  "weight_decay": 0.1, "zeros": 0}``: a random param and a state after `steps` reference updates
  with random gradients, then one more random gradient whose first `zeros` entries are 0 (a unit
  that got no gradient); lr, betas and weight_decay are passed as keywords.
* ``check_adafactor_second_moment``: ``{"shape": (3, 4), "steps": 2, "beta2_decay": -0.8,
  "eps1": 1e-3, "scale": 1.0}``: the state (`AdafactorState` of an n × m matrix) after `steps`
  reference updates with random gradients times `scale` (0: zero gradients), then one more;
  beta2_decay and eps1 are passed as keywords.
* ``check_newton_schulz``: ``{"shape": (5, 3), "scale": 1.0, "ns_coefficients": (3.4445, -4.775,
  2.0315), "ns_steps": 5, "eps": 1e-7}``: a random matrix G times `scale` (0: the zero matrix);
  ns_coefficients, ns_steps and eps are passed as keywords.

The references are ``optim.lion_update``, ``optim.newton_schulz`` (both equal to their references
in torch and lion-pytorch) and :func:`adafactor_second_moment_model` with its defaults, the lines
of ``optim.adafactor_update`` that the task asks for (tests/test_checks_ps6.py shows they are that
update's state and step). Each mistake model is the function written once, like the equation, with
keyword knobs; a mistake is a :class:`~optlessons.checks.engine.Variant`: its hint and the knobs it
turns.
"""

from __future__ import annotations

import numpy as np

from optlessons.checks.base import Case, CheckFailed
from optlessons.checks.compare import kw_text, num, short
from optlessons.checks.engine import (ScalarUnpack, Variant, case_specs, run_check, spec_value,
                                      variant_mistakes)
from optlessons.checks.ps3 import UpdateUnpack
from optlessons.optim import AdafactorState, LionState, adafactor_update, lion_update, newton_schulz

__all__ = ["check_lion_update", "check_adafactor_second_moment", "check_newton_schulz",
           "lion_model", "adafactor_second_moment_model", "newton_schulz_model",
           "LION_VARIANTS", "ADAFACTOR_VARIANTS", "NEWTON_SCHULZ_VARIANTS",
           "LION_VISIBLE", "ADAFACTOR_VISIBLE", "NEWTON_SCHULZ_VISIBLE", "EPS1"]

EPS1 = float(np.finfo(np.float64).eps)   # torch's eps1=None for float64: 2.22e-16


# --------------------------------------------------------------------------- Lion


def lion_model(param, grad, state, *, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, sign_beta=0,
               keep_beta=1, decay="decoupled", momentum_first=False, use_sign=True, sign_of_zero=0.0,
               direction=-1, count_step=True):
    """Lion (lion-pytorch 0.2.5), written as its equations:

        θ ← θ·(1 − η·λ);  c = β₁·m + (1 − β₁)·g;  θ ← θ − η·sign(c);  m ← β₂·m + (1 − β₂)·g

    The knobs make the mistakes: `sign_beta` / `keep_beta`, the index in `betas` of the β of the
    sign's interpolation and of the kept momentum; decay "unscaled" (θ·(1 − λ)), "l2" (λ·θ added to
    g), "after" (the decay after the sign step) or "none"; momentum_first (m updated first and c
    taken from the new m); use_sign False (θ − η·c); the value a zero c gets (`sign_of_zero`: −1
    for np.where(c > 0, 1, −1), nan for c/|c|); direction +1; the step not counted."""
    b_sign, b_keep = betas[sign_beta], betas[keep_beta]
    g = grad + weight_decay * param if decay == "l2" else grad
    if decay == "decoupled":
        param = param * (1 - lr * weight_decay)
    elif decay == "unscaled":
        param = param * (1 - weight_decay)
    m = b_keep * state.exp_avg + (1 - b_keep) * g
    c = b_sign * (m if momentum_first else state.exp_avg) + (1 - b_sign) * g
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(c == 0, sign_of_zero, np.sign(c)) if use_sign else c
    new = param + direction * lr * s
    if decay == "after":
        new = new * (1 - lr * weight_decay)
    return new, LionState(state.step + 1 if count_step else state.step, m)


LION_VARIANTS = {
    "beta2_for_update": Variant(
        "the sign is taken of an interpolation with β₂ (or of the new momentum, which is the same "
        "thing); Lion steps along sign(β₁·m + (1 − β₁)·g), the faster average (β₁ = betas[0]), and "
        "keeps m = β₂·m + (1 − β₂)·g, the slower one (β₂ = betas[1]).", dict(sign_beta=1)),
    "betas_swapped": Variant("β₁ and β₂ are swapped: the sign's interpolation uses β₁ = betas[0], the "
                             "momentum kept uses β₂ = betas[1].", dict(sign_beta=1, keep_beta=0)),
    "beta1_for_momentum": Variant("the momentum kept uses β₁; Lion keeps m = β₂·m + (1 − β₂)·g with "
                                  "β₂ = betas[1] (only the sign's interpolation uses β₁).",
                                  dict(keep_beta=0)),
    "momentum_first": Variant("the momentum is updated before the sign: compute "
                              "c = β₁·m + (1 − β₁)·g from the OLD m, step with sign(c), and only then "
                              "update m = β₂·m + (1 − β₂)·g.", dict(momentum_first=True)),
    "decay_unscaled": Variant("the weight decay is not scaled by the learning rate: θ ← θ·(1 − lr·λ), "
                              "not θ·(1 − λ).", dict(decay="unscaled")),
    "decay_l2": Variant("weight decay was added to the gradient (L2, as Adam does); Lion decays the "
                        "weights themselves, θ ← θ·(1 − lr·λ), before the sign step (inside a sign the "
                        "decay would be lost).", dict(decay="l2")),
    "decay_after": Variant("the weight decay is applied after the sign step; lion-pytorch decays "
                           "first: θ ← θ·(1 − lr·λ), then θ ← θ − lr·sign(c).", dict(decay="after")),
    "no_decay": Variant("weight_decay is ignored: θ ← θ·(1 − lr·λ) before the sign step.",
                        dict(decay="none")),
    "no_sign": Variant("the step is along c itself; Lion steps along its sign: θ ← θ − lr·sign(c), "
                       "every coordinate moving by exactly lr.", dict(use_sign=False)),
    "sign_of_zero_negative": Variant("a coordinate whose c is exactly 0 moved: sign(0) is 0 (np.sign, "
                                     "torch.sign), not −1; np.where(c > 0, 1, -1) gets it wrong.",
                                     dict(sign_of_zero=-1.0)),
    "sign_of_zero_nan": Variant("c/|c| is nan where c = 0; use np.sign(c), which is 0 there.",
                                dict(sign_of_zero=np.nan)),
    "sign": Variant("the update has the wrong sign: θ ← θ − lr·sign(c) (descend, don't climb).",
                    dict(direction=+1)),
    "step": Variant("the step count is not incremented: return LionState(step + 1, m).",
                    dict(count_step=False)),
}

LION_VISIBLE = [dict(shape=(3,), steps=0, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0),
                dict(shape=(16, 16), steps=20, lr=3e-4, betas=(0.9, 0.99), weight_decay=0.0),
                dict(shape=(6,), steps=3, lr=0.01, betas=(0.95, 0.98), weight_decay=0.5),
                dict(shape=(2, 5), steps=0, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1, zeros=3),
                dict(shape=(8,), steps=10, lr=1e-3, betas=(0.8, 0.999), weight_decay=0.1)]
LION_SEED = 13
LION_KEYS = {"shape", "steps", "lr", "betas", "weight_decay", "zeros"}


def _lion_cases(specs, rng):
    out = []
    for spec in specs:
        shape, steps = tuple(spec_value(spec, "shape")), spec_value(spec, "steps")
        zeros = spec_value(spec, "zeros", 0)
        kwargs = {k: v for k, v in spec.items() if k not in ("shape", "steps", "zeros")}
        param = rng.normal(size=shape)
        state = LionState.zeros_like(param)
        for _ in range(steps):
            param, state = lion_update(param, rng.normal(size=shape), state, **kwargs)
        grad = rng.normal(size=shape)
        grad.reshape(-1)[:zeros] = 0.0
        what = "a fresh state (first step)" if steps == 0 else f"a state after {steps} steps"
        if zeros:
            what += f", the gradient's first {zeros} entries 0"
        out.append(Case(f"param of shape {shape}, {what}, {kw_text(kwargs)}",
                        {"param": param, "grad": grad, "state": state}, kwargs))
    return out


def check_lion_update(fn, cases="visible", seed=None):
    """Check `lion_update(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0)`.

    lion-pytorch's Lion: θ ← θ·(1 − lr·λ); c = β₁·m + (1 − β₁)·g; θ ← θ − lr·sign(c);
    m ← β₂·m + (1 − β₂)·g; returns (new_param, LionState(step + 1, exp_avg=m)).
    """
    specs, rng = case_specs(cases, seed, LION_VISIBLE, LION_SEED, LION_KEYS)
    run_check(fn, check="check_lion_update", name="lion_update", what="lion-pytorch's Lion",
              cases=_lion_cases(specs, rng),
              signature="lion_update(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0)",
              reference=lion_update, unpack=UpdateUnpack(["step", "exp_avg"], "LionState"),
              mistakes=variant_mistakes(lion_model, LION_VARIANTS))


# --------------------------------------------------------------------------- Adafactor


def adafactor_second_moment_model(grad, state, *, beta2_decay=-0.8, eps1=EPS1, means="rows",
                                  reduce="mean", square=True, normalise="mean", eps_at="clamp",
                                  t_from="new", swap_beta=False, count_step=True):
    """Adafactor's factored second moment for an n × m gradient (torch.optim.Adafactor):

        t = step + 1;  β₂ = 1 − t^c                          (c = beta2_decay)
        R ← β₂·R + (1 − β₂)·mean of g² along each row       (shape (n, 1))
        C ← β₂·C + (1 − β₂)·mean of g² along each column    (shape (1, m))
        v̂ = R·C / max(mean(R), ε₁)                          (an n × m matrix of rank 1)

    Returns (v̂, AdafactorState(t, R, C, None)). The knobs make the mistakes: means "swapped"
    (R from the column means, C from the row means); reduce "sum" (row and column sums, the
    paper's); g not squared; normalise "none" or "sum" (by ΣR); eps_at "added" (mean(R) + ε₁),
    "paper" (ε₁ added to g², no clamp) or "none" (no clamp); t_from "old" (t = step); β₂ and
    1 − β₂ swapped; the step not counted."""
    t = state.step + 1 if t_from == "new" else state.step
    one_minus_beta2 = float(t) ** beta2_decay
    beta2 = 1 - one_minus_beta2
    if swap_beta:
        beta2, one_minus_beta2 = one_minus_beta2, beta2
    g2 = grad * grad if square else grad
    if eps_at == "paper":
        g2 = g2 + eps1
    stat = np.sum if reduce == "sum" else np.mean
    row_axis, col_axis = (-1, -2) if means == "rows" else (-2, -1)
    R = beta2 * state.row_var + one_minus_beta2 * stat(g2, axis=row_axis, keepdims=True)
    C = beta2 * state.col_var + one_minus_beta2 * stat(g2, axis=col_axis, keepdims=True)
    RC = R * C   # (n, 1)·(1, m): the outer product
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalise == "none":
            v_hat = RC
        else:
            total = (np.mean if normalise == "mean" else np.sum)(R, axis=-2, keepdims=True)
            v_hat = RC / {"clamp": lambda: np.maximum(total, eps1), "added": lambda: total + eps1,
                          "paper": lambda: total, "none": lambda: total}[eps_at]()
    step = state.step + 1 if count_step else state.step
    return v_hat, AdafactorState(step, R, C, None)


ADAFACTOR_VARIANTS = {
    "means_swapped": Variant(
        "the row and column means are swapped: R has one entry per row, the mean of g² along the row "
        "(np.mean(g2, axis=-1, keepdims=True), shape (n, 1)); C one per column (axis=-2, shape (1, m)).",
        dict(means="swapped")),
    "sums": Variant("R and C hold sums of g² (the paper's 1ᵀ and 1 sums); torch keeps means: R = mean of "
                    "g² along each row, C along each column, and v̂ = R·C/mean(R).", dict(reduce="sum")),
    "not_squared": Variant("the gradient is not squared: R and C average g², the second moment.",
                           dict(square=False)),
    "no_normalisation": Variant("v̂ is not normalised: R·C counts the mean of g² twice; divide by "
                                "max(mean(R), ε₁), the mean of all of g² (so that v̂ is the right size).",
                                dict(normalise="none")),
    "sum_normalisation": Variant("v̂ is divided by the sum of R (the paper's 1ᵀR, which goes with row "
                                 "SUMS); with means divide by the mean of R: v̂ = R·C/max(mean(R), ε₁).",
                                 dict(normalise="sum")),
    "eps_added": Variant("ε₁ is added to mean(R); torch clamps it instead: v̂ = R·C/max(mean(R), ε₁).",
                         dict(eps_at="added")),
    "eps_paper": Variant("ε₁ is added to g² (as the paper writes it); torch adds nothing to g² and "
                         "clamps the normaliser instead: v̂ = R·C/max(mean(R), ε₁).", dict(eps_at="paper")),
    "no_clamp": Variant("the normaliser is not clamped at ε₁: v̂ = R·C/max(mean(R), ε₁) (a zero gradient "
                        "on the first step would divide 0 by 0).", dict(eps_at="none")),
    "t_old": Variant("β₂ uses t = step; t is the number of THIS update, step + 1 (1 on the first), so "
                     "β₂ = 1 − t^c is 0 on the first update and R starts as the first mean.",
                     dict(t_from="old")),
    "beta_swapped": Variant("β₂ and 1 − β₂ are swapped: R = β₂·R + (1 − β₂)·mean(g²), with "
                            "1 − β₂ = t^c (= t^beta2_decay, which shrinks as t grows).", dict(swap_beta=True)),
    "step": Variant("the step count is not incremented: return AdafactorState(step + 1, R, C, None).",
                    dict(count_step=False)),
}

ADAFACTOR_VISIBLE = [dict(shape=(3, 3), steps=2, beta2_decay=-0.8, eps1=EPS1, scale=1.0),
                     dict(shape=(3, 4), steps=0, beta2_decay=-0.8, eps1=EPS1, scale=1.0),
                     dict(shape=(5, 2), steps=6, beta2_decay=-0.5, eps1=EPS1, scale=3.0),
                     dict(shape=(2, 6), steps=3, beta2_decay=-0.8, eps1=1e-3, scale=0.01),
                     dict(shape=(4, 3), steps=0, beta2_decay=-0.8, eps1=1e-30, scale=0.0)]
ADAFACTOR_SEED = 14
ADAFACTOR_KEYS = {"shape", "steps", "beta2_decay", "eps1", "scale"}


def _adafactor_cases(specs, rng):
    out = []
    for spec in specs:
        shape, steps = tuple(spec_value(spec, "shape")), spec_value(spec, "steps")
        if len(shape) != 2:
            raise ValueError(f"the shape of an Adafactor case is a matrix's (n, m), got {shape}")
        kwargs = dict(beta2_decay=spec_value(spec, "beta2_decay", -0.8), eps1=spec_value(spec, "eps1", EPS1))
        scale = spec_value(spec, "scale", 1.0)
        zero = np.zeros(shape)
        state = AdafactorState.zeros_like(zero)
        for _ in range(steps):
            _, state = adafactor_update(zero, scale * rng.normal(size=shape), state,
                                        beta2_decay=kwargs["beta2_decay"], eps=(kwargs["eps1"], 1e-3))
        what = "a fresh state (first step)" if steps == 0 else f"a state after {steps} steps"
        out.append(Case(f"grad of shape {shape} (entries of size {num(scale)}), {what}, {kw_text(kwargs)}",
                        {"grad": scale * rng.normal(size=shape), "state": state}, kwargs))
    return out


class _SecondMomentUnpack:
    """unpack((v_hat, state)) -> {"state.step", "state.row_var (R)", "state.col_var (C)", "v_hat"};
    v̂ only when R is a column (n, 1) and C a row (1, m): built from misshapen R and C it says
    nothing more than they do."""

    def __call__(self, out) -> dict:
        if out is None:
            raise CheckFailed("returned None: did you forget `return v_hat, new_state`?")
        if not isinstance(out, tuple) or len(out) != 2:
            raise CheckFailed(f"returned {short(out)}; return a pair `v_hat, new_state`")
        v_hat, state = out
        q = {}
        for f, label in (("step", "state.step"), ("row_var", "state.row_var (R)"),
                         ("col_var", "state.col_var (C)")):
            if not hasattr(state, f):
                raise CheckFailed(f"returned a state ({short(state)}) without the field `{f}`: return "
                                  f"AdafactorState(step, row_var, col_var, variance=None), e.g. with "
                                  f"`state._replace(...)`")
            q[label] = getattr(state, f)
        R, C = (np.shape(q[k]) for k in ("state.row_var (R)", "state.col_var (C)"))
        if len(R) == 2 and len(C) == 2 and R[1] == 1 and C[0] == 1:
            q["v_hat"] = v_hat
        return q


def check_adafactor_second_moment(fn, cases="visible", seed=None):
    """Check `adafactor_second_moment(grad, state, *, beta2_decay=-0.8, eps1=EPS1)` for an n × m
    gradient, torch's Adafactor: t = step + 1, β₂ = 1 − t^beta2_decay,
    R ← β₂·R + (1 − β₂)·mean(g², axis=-1), C ← β₂·C + (1 − β₂)·mean(g², axis=-2) (keepdims),
    v̂ = R·C/max(mean(R), ε₁); returns (v̂, AdafactorState(t, R, C, None))."""
    specs, rng = case_specs(cases, seed, ADAFACTOR_VISIBLE, ADAFACTOR_SEED, ADAFACTOR_KEYS)
    run_check(fn, check="check_adafactor_second_moment", name="adafactor_second_moment",
              what="torch's Adafactor", cases=_adafactor_cases(specs, rng),
              signature="adafactor_second_moment(grad, state, *, beta2_decay=-0.8, eps1=2.2e-16)",
              reference=adafactor_second_moment_model, unpack=_SecondMomentUnpack(),
              mistakes=variant_mistakes(adafactor_second_moment_model, ADAFACTOR_VARIANTS))


# --------------------------------------------------------------------------- Newton–Schulz


def newton_schulz_model(G, ns_coefficients=(3.4445, -4.775, 2.0315), ns_steps=5, eps=1e-7, *,
                        order=(0, 1, 2), norm="fro", eps_at="clamp", transpose_back=True,
                        square="matmul", gram="left", steps_offset=0):
    """torch.optim.Muon's Newton–Schulz, written as its equations ((a, b, c) = ns_coefficients):

        X = G (Gᵀ if G has more rows than columns);  X ← X / max(‖X‖_F, ε)
        repeat ns_steps times:  A = X·Xᵀ;  X ← a·X + (b·A + c·A²)·X
        return X (transposed back if G was)

    The knobs make the mistakes: `order` (which coefficient plays a, b, c); norm "none" or
    "spectral" (the largest singular value); eps_at "added" (‖X‖ + ε) or "none"; the transpose
    not undone; square "elementwise" (A**2); gram "transposed" (A = Xᵀ·X, still on the left);
    steps_offset (−1: one iteration short)."""
    a, b, c = (ns_coefficients[i] for i in order)
    X = np.asarray(G, dtype=float)
    tall = X.shape[0] > X.shape[1]
    if tall:
        X = X.T
    if norm != "none":
        size = np.linalg.norm(X, 2 if norm == "spectral" else None)
        with np.errstate(invalid="ignore", divide="ignore"):
            X = X / {"clamp": max(size, eps), "added": size + eps, "none": size}[eps_at]
    for _ in range(ns_steps + steps_offset):
        A = X.T @ X if gram == "transposed" else X @ X.T
        A2 = A * A if square == "elementwise" else A @ A
        X = a * X + (b * A + c * A2) @ X
    return X.T if tall and transpose_back else X


NEWTON_SCHULZ_VARIANTS = {
    "no_transpose_back": Variant("a tall G was transposed but the result was not transposed back: "
                                 "return X.T when G has more rows than columns (the result has G's shape).",
                                 dict(transpose_back=False)),
    "no_normalisation": Variant("G is not divided by its Frobenius norm first: X = G/max(‖G‖_F, ε) puts "
                                "every singular value in [0, 1], where the iteration converges; a "
                                "singular value above about 1.5 grows without bound.", dict(norm="none")),
    "spectral_norm": Variant("X is divided by the largest singular value (np.linalg.norm(X, 2)); torch "
                             "divides by the Frobenius norm, np.linalg.norm(X) (cheaper, and ≥ it).",
                             dict(norm="spectral")),
    "eps_added": Variant("ε is added to the norm (Keller Jordan's original, X/(‖X‖ + ε)); torch clamps "
                         "it: X/max(‖X‖_F, ε).", dict(eps_at="added")),
    "no_eps": Variant("the norm is not clamped at ε: X/max(‖X‖_F, ε) (the zero matrix would be 0/0).",
                      dict(eps_at="none")),
    "coefficients_reversed": Variant("the coefficients are in the wrong order: (a, b, c) = "
                                     "ns_coefficients multiply X, A·X and A²·X: X ← a·X + (b·A + c·A²)·X.",
                                     dict(order=(2, 1, 0))),
    "b_c_swapped": Variant("b and c are swapped: X ← a·X + (b·A + c·A²)·X, b on A = X·Xᵀ and c on A².",
                           dict(order=(0, 2, 1))),
    "elementwise_square": Variant("A**2 (or A*A) squares each entry of A; the iteration needs the matrix "
                                  "product A @ A.", dict(square="elementwise")),
    "gram_transposed": Variant("A = Xᵀ·X multiplied on the left of X; use A = X·Xᵀ, so that "
                               "(b·A + c·A²)·X = b·X·XᵀX + c·X·(XᵀX)² acts on each singular value as "
                               "b·σ³ + c·σ⁵.", dict(gram="transposed")),
    "one_step_short": Variant("one iteration is missing: repeat the update ns_steps times "
                              "(for _ in range(ns_steps)).", dict(steps_offset=-1)),
}

NEWTON_SCHULZ_VISIBLE = [dict(shape=(3, 3), scale=1.0),
                         dict(shape=(2, 4), scale=1.0),
                         dict(shape=(5, 3), scale=2.0),
                         dict(shape=(4, 4), scale=1e-6),
                         dict(shape=(3, 2), scale=0.0),
                         dict(shape=(4, 6), scale=1.0, ns_coefficients=(1.5, -0.5, 0.0), ns_steps=10),
                         dict(shape=(6, 2), scale=0.5, ns_steps=2, eps=1e-3)]
NEWTON_SCHULZ_SEED = 15
NEWTON_SCHULZ_KEYS = {"shape", "scale", "ns_coefficients", "ns_steps", "eps"}


def _newton_schulz_cases(specs, rng):
    out = []
    for spec in specs:
        shape, scale = tuple(spec_value(spec, "shape")), spec_value(spec, "scale", 1.0)
        if len(shape) != 2:
            raise ValueError(f"the shape of a Newton–Schulz case is a matrix's (n, m), got {shape}")
        kwargs = {k: spec[k] for k in ("ns_coefficients", "ns_steps", "eps") if k in spec}
        kind = "tall" if shape[0] > shape[1] else "wide" if shape[0] < shape[1] else "square"
        label = f"G of shape {shape} ({kind}), entries of size {num(scale)}"
        out.append(Case(label + (f", {kw_text(kwargs)}" if kwargs else ""),
                        {"G": scale * rng.normal(size=shape)}, kwargs))
    return out


def check_newton_schulz(fn, cases="visible", seed=None):
    """Check `newton_schulz(G, ns_coefficients=(3.4445, -4.775, 2.0315), ns_steps=5, eps=1e-7)`,
    torch's Muon orthogonalization (in float64): X = G/max(‖G‖_F, ε) (on Gᵀ if G is tall), then
    ns_steps times A = X·Xᵀ, X ← a·X + (b·A + c·A²)·X; returns X with G's shape."""
    specs, rng = case_specs(cases, seed, NEWTON_SCHULZ_VISIBLE, NEWTON_SCHULZ_SEED, NEWTON_SCHULZ_KEYS)
    run_check(fn, check="check_newton_schulz", name="newton_schulz",
              what="torch's Muon orthogonalization (in float64)", cases=_newton_schulz_cases(specs, rng),
              signature="newton_schulz(G, ns_coefficients=(3.4445, -4.775, 2.0315), ns_steps=5, eps=1e-7)",
              reference=newton_schulz, unpack=ScalarUnpack("X"),
              mistakes=variant_mistakes(newton_schulz_model, NEWTON_SCHULZ_VARIANTS))
