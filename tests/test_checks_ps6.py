"""Problem set 6's checks: the mistake models equal the package's references (and so torch and
lion-pytorch), every known mistake is named on the visible cases and fails the hidden ones,
mistakes written by hand are caught and named, forms that are right up to rounding pass, the
course's Lion, Adafactor and Muon may not be called, and bad specs are refused in a sentence.
(The source solutions on the visible and hidden cases, and through a pickle round trip, are
tested with the other sets in test_checks_grading.py.)"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from exercise_notebooks import HIDDEN
from optlessons import checks, optim
from optlessons.checks import CheckFailed, engine, ps6
from optlessons.optim import AdafactorState, LionState

TABLES = [   # check, model, variants
    ("check_lion_update", ps6.lion_model, ps6.LION_VARIANTS),
    ("check_adafactor_second_moment", ps6.adafactor_second_moment_model, ps6.ADAFACTOR_VARIANTS),
    ("check_newton_schulz", ps6.newton_schulz_model, ps6.NEWTON_SCHULZ_VARIANTS),
]
VARIANTS = [(check, mistake, table[mistake.name]) for check, model, table in TABLES
            for mistake in engine.variant_mistakes(model, table)]
IDS = [f"{v[0]}-{v[1].name}" for v in VARIANTS]
NS = (3.4445, -4.775, 2.0315)


# --------------------------------------------------------------------------- the models are the references


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), shape=st.sampled_from([(1,), (4,), (3, 5)]), steps=st.integers(0, 12),
       lr=st.floats(1e-5, 0.1), b1=st.floats(0.0, 0.99), b2=st.floats(0.0, 0.999),
       wd=st.sampled_from([0.0, 0.1, 1.0]))
def test_lion_model_is_lion_update(seed, shape, steps, lr, b1, b2, wd):
    rng = np.random.default_rng(seed)
    param, state = rng.normal(size=shape), LionState.zeros_like(np.zeros(shape))
    kw = dict(lr=lr, betas=(b1, b2), weight_decay=wd)
    for _ in range(steps + 1):
        grad = rng.normal(size=shape)
        expected, expected_state = optim.lion_update(param, grad, state, **kw)
        got, got_state = ps6.lion_model(param, grad, state, **kw)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(got_state.exp_avg, expected_state.exp_avg, rtol=1e-12, atol=1e-15)
        assert got_state.step == expected_state.step
        moved = np.abs(param * (1 - lr * wd) - expected)   # after the decay: exactly lr, or 0 where c = 0
        assert np.all(np.isclose(moved, lr, rtol=1e-9, atol=1e-15) | (moved == 0))
        param, state = expected, expected_state


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), shape=st.sampled_from([(1, 1), (2, 3), (5, 2), (4, 4)]),
       steps=st.integers(0, 10), decay=st.floats(-1.0, -0.3), eps1=st.sampled_from([None, 1e-6, 1e-3]),
       scale=st.sampled_from([0.0, 1e-3, 1.0, 10.0]))
def test_adafactor_model_is_adafactor_updates_state_and_step(seed, shape, steps, decay, eps1, scale):
    """R and C are torch's Adafactor's state, and the step it takes is −α·u/max(1, RMS(u)/d)
    with u = g/√max(v̂, ε₁²) built from the model's v̂ (α = ρ_t·RMS(θ) = 1/√t for θ of ones)."""
    rng = np.random.default_rng(seed)
    param = np.ones(shape)
    state = AdafactorState.zeros_like(param)
    e1 = ps6.EPS1 if eps1 is None else eps1
    for _ in range(steps + 1):
        grad = scale * rng.normal(size=shape)
        new, new_state = optim.adafactor_update(param, grad, state, lr=1.0, beta2_decay=decay, eps=(eps1, 0.0))
        v_hat, got = ps6.adafactor_second_moment_model(grad, state, beta2_decay=decay, eps1=e1)
        assert got.step == new_state.step and got.variance is None
        np.testing.assert_allclose(got.row_var, new_state.row_var, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(got.col_var, new_state.col_var, rtol=1e-12, atol=1e-300)
        u = grad / np.sqrt(np.maximum(v_hat, e1 * e1))
        rms = np.linalg.norm(u) / np.sqrt(u.size)
        np.testing.assert_allclose(new, param - u / np.sqrt(got.step) / max(1.0, rms), rtol=1e-9, atol=1e-12)
        state = new_state


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), shape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       scale=st.sampled_from([0.0, 1e-6, 1.0, 30.0]), steps=st.integers(0, 8),
       coefficients=st.sampled_from([NS, (1.5, -0.5, 0.0), (2.0, -1.5, 0.5)]))
def test_newton_schulz_model_is_newton_schulz_and_keeps_the_singular_vectors(seed, shape, scale, steps,
                                                                            coefficients):
    G = scale * np.random.default_rng(seed).normal(size=shape)
    X = optim.newton_schulz(G, coefficients, steps)
    np.testing.assert_allclose(ps6.newton_schulz_model(G, coefficients, steps), X, rtol=1e-12, atol=1e-14)
    U, S, Vt = np.linalg.svd(G, full_matrices=False)
    sigma = S / max(np.linalg.norm(G), 1e-7)
    a, b, c = coefficients
    for _ in range(steps):
        sigma = a * sigma + b * sigma ** 3 + c * sigma ** 5
    np.testing.assert_allclose(X, (U * sigma) @ Vt, atol=1e-9)


@pytest.mark.parametrize("check, model, _", TABLES, ids=[t[0] for t in TABLES])
def test_the_models_without_a_mistake_pass_visible_and_hidden(check, model, _, capsys):
    getattr(checks, check)(model)
    getattr(checks, check)(model, **HIDDEN[check])
    assert capsys.readouterr().out.count("✓") == 2


def test_torch_s_coefficients_bring_singular_values_near_one():
    """What the notebook's last cell shows: five steps leave σ in about [0.68, 1.13], not at 1."""
    S = np.linalg.svd(optim.newton_schulz(np.random.default_rng(0).normal(size=(6, 4))), compute_uv=False)
    assert 0.6 < S.min() < 0.75 and 1.0 < S.max() < 1.2


# --------------------------------------------------------------------------- every known mistake is named


@pytest.mark.parametrize("check, mistake, variant", VARIANTS, ids=IDS)
def test_every_known_mistake_is_named_first(check, mistake, variant):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(mistake.compute)
    msg = str(info.value)
    assert "This looks like a known mistake: " + variant.hint in msg, msg


@pytest.mark.parametrize("check, mistake, variant", VARIANTS, ids=IDS)
def test_every_known_mistake_fails_the_hidden_cases(check, mistake, variant):
    with pytest.raises(CheckFailed):
        getattr(checks, check)(mistake.compute, **HIDDEN[check])


def lion_where(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0):
    param = param * (1 - lr * weight_decay)
    c = betas[0] * state.exp_avg + (1 - betas[0]) * grad
    m = betas[1] * state.exp_avg + (1 - betas[1]) * grad
    return param - lr * np.where(c > 0, 1.0, -1.0), LionState(state.step + 1, m)


def lion_momentum_first(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas
    m = b2 * state.exp_avg + (1 - b2) * grad
    update = b1 * m + (1 - b1) * grad
    return param * (1 - lr * weight_decay) - lr * np.sign(update), state._replace(step=state.step + 1, exp_avg=m)


def lion_decay_unscaled(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas
    param = param - weight_decay * param
    new = param - lr * np.sign(b1 * state.exp_avg + (1 - b1) * grad)
    return new, LionState(state.step + 1, b2 * state.exp_avg + (1 - b2) * grad)


def lion_in_place(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas
    param *= 1 - lr * weight_decay
    param -= lr * np.sign(b1 * state.exp_avg + (1 - b1) * grad)
    return param, LionState(state.step + 1, b2 * state.exp_avg + (1 - b2) * grad)


def adafactor_by_hand(grad, state, *, beta2_decay=-0.8, eps1=ps6.EPS1, axes=(1, 0), product="matmul",
                      divide=True, eps="max"):
    """The solution written with axes 1 and 0; the knobs write the mistakes a learner would."""
    t = state.step + 1
    beta2 = 1 - t ** beta2_decay
    g2 = grad ** 2
    R = beta2 * state.row_var + (1 - beta2) * g2.mean(axis=axes[0], keepdims=True)
    C = beta2 * state.col_var + (1 - beta2) * g2.mean(axis=axes[1], keepdims=True)
    v = R @ C if product == "matmul" else R * C
    if divide:
        v = v / (max(R.mean(), eps1) if eps == "max" else R.mean() + eps1)
    return v, AdafactorState(t, R, C, None)


def adafactor_lerp(grad, state, *, beta2_decay=-0.8, eps1=ps6.EPS1):
    """torch's own form: R.lerp_(mean, 1 − β₂), right up to rounding."""
    t = state.step + 1
    w = t ** beta2_decay
    R = state.row_var + w * (np.mean(grad * grad, axis=-1, keepdims=True) - state.row_var)
    C = state.col_var + w * (np.mean(grad * grad, axis=-2, keepdims=True) - state.col_var)
    return np.outer(R, C) / np.maximum(R.mean(axis=-2, keepdims=True), eps1), AdafactorState(t, R, C, None)


def ns_by_hand(G, ns_coefficients=NS, ns_steps=5, eps=1e-7, *, transpose="tall", back=True, normalise=True,
               square="matmul", coefficients=(0, 1, 2), side="left"):
    a, b, c = (ns_coefficients[i] for i in coefficients)
    X = np.array(G, dtype=float)
    flip = {"tall": X.shape[0] > X.shape[1], "wide": X.shape[0] < X.shape[1], "never": False}[transpose]
    if flip:
        X = X.T
    if normalise:
        X = X / max(np.linalg.norm(X), eps)
    for _ in range(ns_steps):
        if side == "left":
            A = X @ X.T
            X = a * X + (b * A + c * (A ** 2 if square == "power" else A @ A)) @ X
        else:   # the same polynomial written on the right: X·(b·XᵀX + c·(XᵀX)²)
            A = X.T @ X
            X = a * X + X @ (b * A + c * A @ A)
    return X.T if flip and back else X


def variant(fn, **knobs):
    def mine(*args, **kwargs):
        return fn(*args, **kwargs, **knobs)
    mine.__name__ = fn.__name__ + "".join(f"_{k}_{v}" for k, v in knobs.items())
    return mine


@pytest.mark.parametrize("check, fn, phrases", [
    ("check_lion_update", lion_where, ["`new_param` differs", "sign(0) is 0"]),
    ("check_lion_update", lion_momentum_first, ["the momentum is updated before the sign"]),
    ("check_lion_update", lion_decay_unscaled, ["not scaled by the learning rate"]),
    ("check_lion_update", lion_in_place, ["changed its input `param` in place"]),
    ("check_adafactor_second_moment", variant(adafactor_by_hand, axes=(0, 1)),
     ["case 1 of 5", "`state.row_var (R)` has shape (3, 3), expected shape (3, 1)",
      "row and column means are swapped"]),
    ("check_adafactor_second_moment", variant(adafactor_by_hand, axes=(0, 1), product="times"),
     ["row and column means are swapped"]),
    ("check_adafactor_second_moment", variant(adafactor_by_hand, divide=False),
     ["`v_hat` differs", "v̂ is not normalised"]),
    ("check_adafactor_second_moment", variant(adafactor_by_hand, eps="added"),
     ["case 4 of 5", "ε₁ is added to mean(R)"]),
    ("check_newton_schulz", variant(ns_by_hand, back=False),
     ["case 3 of 7", "`X` has shape (3, 5), expected shape (5, 3)", "not transposed back"]),
    ("check_newton_schulz", variant(ns_by_hand, normalise=False), ["Frobenius norm first"]),
    ("check_newton_schulz", variant(ns_by_hand, square="power"), ["A @ A"]),
    ("check_newton_schulz", variant(ns_by_hand, coefficients=(2, 1, 0)), ["coefficients are in the wrong order"]),
], ids=lambda x: getattr(x, "__name__", None))
def test_mistakes_written_by_hand_are_named(check, fn, phrases):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(fn)
    msg = str(info.value)
    for phrase in phrases:
        assert phrase in msg, msg


@pytest.mark.parametrize("check, fn", [
    ("check_adafactor_second_moment", adafactor_lerp),
    ("check_adafactor_second_moment", adafactor_by_hand),
    ("check_newton_schulz", variant(ns_by_hand, transpose="never")),
    ("check_newton_schulz", variant(ns_by_hand, transpose="wide")),
    ("check_newton_schulz", variant(ns_by_hand, side="right")),
], ids=lambda x: getattr(x, "__name__", None))
def test_forms_equal_up_to_rounding_pass(check, fn, capsys):
    """Newton–Schulz without the transpose, or with XᵀX on the right, is the same polynomial of
    the singular values (only slower on a GPU): the check may not fail it."""
    getattr(checks, check)(fn)
    getattr(checks, check)(fn, **HIDDEN[check])
    assert capsys.readouterr().out.count("✓") == 2


def test_a_result_of_the_wrong_kind_is_a_sentence():
    with pytest.raises(CheckFailed, match="return a pair `v_hat, new_state`"):
        checks.check_adafactor_second_moment(lambda grad, state, **kw: grad)
    with pytest.raises(CheckFailed, match="without the field `step`"):
        checks.check_adafactor_second_moment(lambda grad, state, **kw: (grad, (1, grad, grad)))
    with pytest.raises(CheckFailed, match="`X` is None"):
        checks.check_newton_schulz(lambda G, *a, **k: None)
    with pytest.raises(CheckFailed, match="without the field `exp_avg`"):
        checks.check_lion_update(lambda p, g, s, **k: (p, optim.SGDState(1, None)))


# --------------------------------------------------------------------------- the course's own may not be called


def lion_by_class(param, grad, state, *, lr, betas=(0.9, 0.99), weight_decay=0.0):
    opt = optim.Lion(lr=lr, betas=betas, weight_decay=weight_decay)
    opt.state = state
    return opt.step(param, grad), opt.state


def second_moment_by_update(grad, state, *, beta2_decay=-0.8, eps1=ps6.EPS1):
    """Reads R and C off the course's Adafactor (v̂ from them)."""
    _, new = optim.adafactor_update(np.ones(grad.shape), grad, state, beta2_decay=beta2_decay, eps=(eps1, 0.0))
    return new.row_var @ new.col_var / max(np.mean(new.row_var), eps1), new


def second_moment_by_class(grad, state, *, beta2_decay=-0.8, eps1=ps6.EPS1):
    opt = optim.Adafactor(beta2_decay=beta2_decay, eps=(eps1, 1e-3))
    opt.state = state
    opt.step(np.ones(grad.shape), grad)
    new = opt.state
    return new.row_var @ new.col_var / max(np.mean(new.row_var), eps1), new


def ns_by_muon(G, ns_coefficients=NS, ns_steps=5, eps=1e-7):
    step, _ = optim.muon_update(np.zeros(G.shape), G, optim.MuonState.zeros_like(G), lr=1.0, weight_decay=0.0,
                                momentum=0.0, nesterov=False, ns_coefficients=ns_coefficients, eps=eps,
                                ns_steps=ns_steps)
    return -step / optim.muon_lr(1.0, G.shape)


@pytest.mark.parametrize("check, cheat, reference", [
    ("check_lion_update", optim.lion_update, "optlessons.optim.lion_update"),
    ("check_lion_update", lion_by_class, "optlessons.optim.Lion"),
    ("check_adafactor_second_moment", second_moment_by_update, "optlessons.optim.adafactor_update"),
    ("check_adafactor_second_moment", second_moment_by_class, "optlessons.optim.Adafactor"),
    ("check_newton_schulz", optim.newton_schulz, "optlessons.optim.newton_schulz"),
    ("check_newton_schulz", ns_by_muon, "optlessons.optim.muon_update"),
], ids=lambda x: getattr(x, "__name__", x) if callable(x) else None)
def test_calling_the_course_s_own_fails(check, cheat, reference):
    with pytest.raises(CheckFailed) as info:
        getattr(checks, check)(cheat)
    assert f"calls the course's `{reference}`" in str(info.value), str(info.value)


def test_the_cheats_compute_the_right_numbers():
    """Without the ban they would pass: what stops them is the tripwire, not a wrong number."""
    rng = np.random.default_rng(0)
    grad = rng.normal(size=(3, 4))
    state = AdafactorState.zeros_like(grad)._replace(step=2, row_var=np.ones((3, 1)), col_var=np.ones((1, 4)))
    for cheat in (second_moment_by_update, second_moment_by_class):
        v_hat, new = cheat(grad, state)
        expected, expected_state = ps6.adafactor_second_moment_model(grad, state)
        np.testing.assert_allclose(v_hat, expected, rtol=1e-12)
        np.testing.assert_allclose(new.row_var, expected_state.row_var, rtol=1e-12)
    G = rng.normal(size=(5, 3))
    np.testing.assert_allclose(ns_by_muon(G), optim.newton_schulz(G), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- bad specs


@pytest.mark.parametrize("check, spec, phrase", [
    ("check_lion_update", dict(shape=(3,), steps=1, lr=0.1, eps=1e-8), "unknown key"),
    ("check_lion_update", dict(steps=1, lr=0.1), "needs the key 'shape'"),
    ("check_adafactor_second_moment", dict(shape=(4,), steps=0), "a matrix's"),
    ("check_newton_schulz", dict(shape=(2, 2, 2)), "a matrix's"),
    ("check_newton_schulz", dict(shape=(2, 2), momentum=0.9), "unknown key"),
])
def test_a_bad_spec_is_a_value_error_naming_it(check, spec, phrase):
    with pytest.raises(ValueError, match=phrase):
        getattr(checks, check)(lambda *a, **k: None, cases=[spec])
