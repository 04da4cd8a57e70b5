"""optlessons.optim: contract, errors, invariants (the torch comparison is in test_optim_torch.py)."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from optlessons import optim
from optlessons.optim import (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax,
                              sgd_update, adagrad_update, rmsprop_update, adadelta_update,
                              adam_update, adamw_update, nadam_update, radam_update, adamax_update,
                              SGDState, AdagradState, RMSpropState, AdadeltaState, AdamState,
                              NAdamState, RAdamState, AdamaxState)

# Applied per test (not as a global profile, which would change other modules' tests).
quick = settings(deadline=None, max_examples=40)

# Each method: class, pure function, state record, and a few option sets that
# exercise every branch of the update.
METHODS = {
    "SGD": (SGD, sgd_update, SGDState, [
        {}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.5},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, {"lr": 0.1, "maximize": True}]),
    "Adagrad": (Adagrad, adagrad_update, AdagradState, [
        {}, {"lr_decay": 0.1, "weight_decay": 0.1}, {"eps": 1e-3, "maximize": True}]),
    "RMSprop": (RMSprop, rmsprop_update, RMSpropState, [
        {}, {"momentum": 0.9}, {"centered": True}, {"centered": True, "momentum": 0.5, "weight_decay": 0.1}]),
    "Adadelta": (Adadelta, adadelta_update, AdadeltaState, [
        {}, {"rho": 0.5, "weight_decay": 0.1, "lr": 0.5}]),
    "Adam": (Adam, adam_update, AdamState, [
        {}, {"amsgrad": True}, {"weight_decay": 0.1, "betas": (0.5, 0.9)}, {"maximize": True}]),
    "AdamW": (AdamW, adamw_update, AdamState, [
        {}, {"amsgrad": True, "weight_decay": 0.5}]),
    "NAdam": (NAdam, nadam_update, NAdamState, [
        {}, {"weight_decay": 0.1, "momentum_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"maximize": True, "betas": (0.5, 0.9)}]),
    "RAdam": (RAdam, radam_update, RAdamState, [
        {}, {"betas": (0.5, 0.5), "weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True},
        {"maximize": True}]),
    "Adamax": (Adamax, adamax_update, AdamaxState, [
        {}, {"weight_decay": 0.1, "betas": (0.5, 0.9)}, {"eps": 1e-3, "maximize": True}]),
}
CASES = [(name, options) for name, (_, _, _, option_sets) in METHODS.items() for options in option_sets]
CASE_IDS = [f"{name}-{options}" for name, options in CASES]
STATE_FIELDS = {
    "SGD": ("step", "momentum_buffer"),
    "Adagrad": ("step", "sum"),
    "RMSprop": ("step", "square_avg", "momentum_buffer", "grad_avg"),
    "Adadelta": ("step", "square_avg", "acc_delta"),
    "Adam": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "AdamW": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "NAdam": ("step", "mu_product", "exp_avg", "exp_avg_sq"),
    "RAdam": ("step", "exp_avg", "exp_avg_sq"),
    "Adamax": ("step", "exp_avg", "exp_inf"),
}

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def arrays(shape):
    return hnp.arrays(np.float64, shape, elements=finite)


def _update(name, options):
    """The pure function with the class's hyperparameters (Adagrad's initial value aside)."""
    cls, update, _, _ = METHODS[name]
    hyper = dict(cls(**options)._hyperparameters)
    return lambda p, g, s: update(p, g, s, **hyper)


def _initial(name, param):
    return METHODS[name][2].zeros_like(param)


def _snapshot(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_snapshot(v) for v in value)
    return value


def _assert_same(a, b):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, tuple):
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, tuple):
        return [a for v in value for a in _arrays_in(v)]
    return []


# ---------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
@quick
@given(data=st.data())
def test_pure_update_changes_none_of_its_inputs(name, options, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    param, grad, grad0 = data.draw(arrays(shape)), data.draw(arrays(shape)), data.draw(arrays(shape))
    update = _update(name, options)
    _, state = update(param, grad0, _initial(name, param))     # a state with non-zero buffers
    before = [_snapshot(x) for x in (param, grad, state)]
    new_param, new_state = update(param, grad, state)
    for original, copy in zip((param, grad, state), before):
        _assert_same(original, copy)
    assert new_state.step == state.step + 1
    assert type(new_state) is type(state)
    # The results share no memory with the caller's arrays: writing into them later is safe.
    for result in _arrays_in((new_param, new_state)):
        assert not np.shares_memory(result, param)
        assert not np.shares_memory(result, grad)


@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_class_step_on_dict_equals_pure_function_per_key(name, options):
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    opt = METHODS[name][0](**options)
    update = _update(name, options)
    states = {k: _initial(name, v) for k, v in params.items()}
    expected = dict(params)
    for _ in range(4):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        params = opt.step(params, grads)
        for k in expected:
            expected[k], states[k] = update(expected[k], grads[k], states[k])
            np.testing.assert_array_equal(params[k], expected[k])
            _assert_same(opt.state[k], states[k])
    assert list(params) == ["w", "b"]


@quick
@given(param=arrays(5), grad=arrays(5), lr=st.floats(0, 1))
def test_sgd_without_momentum_is_gradient_descent(param, grad, lr):
    new_param, state = sgd_update(param, grad, SGDState.zeros_like(param), lr=lr)
    np.testing.assert_array_equal(new_param, param - lr * grad)
    assert state == SGDState(step=1, momentum_buffer=None)


@quick
@given(grads=st.lists(arrays(3), min_size=2, max_size=5), momentum=st.floats(0.1, 0.99),
       dampening=st.floats(0, 1))
def test_sgd_first_momentum_buffer_is_the_gradient_then_dampened(grads, momentum, dampening):
    state = SGDState.zeros_like(grads[0])
    _, state = sgd_update(np.zeros(3), grads[0], state, momentum=momentum, dampening=dampening)
    np.testing.assert_array_equal(state.momentum_buffer, grads[0])       # no dampening at t = 1
    b = grads[0]
    for g in grads[1:]:
        _, state = sgd_update(np.zeros(3), g, state, momentum=momentum, dampening=dampening)
        b = momentum * b + (1 - dampening) * g
        np.testing.assert_allclose(state.momentum_buffer, b, rtol=1e-12, atol=1e-12)


@quick
@given(param=arrays(4), grad=arrays(4).filter(lambda g: np.all(np.abs(g) > 1e-3)),
       lr=st.floats(1e-4, 1), betas=st.tuples(st.floats(0, 0.99), st.floats(0, 0.999)))
def test_adam_first_step_moves_each_coordinate_by_lr_against_the_gradient_sign(param, grad, lr, betas):
    new_param, _ = adam_update(param, grad, AdamState.zeros_like(param), lr=lr, betas=betas)
    np.testing.assert_allclose(new_param - param, -lr * np.sign(grad), rtol=1e-4, atol=1e-12)


@quick
@given(g=arrays(3).filter(lambda g: np.all(np.abs(g) > 1e-3)), lr=st.floats(1e-3, 1),
       steps=st.integers(1, 20))
def test_adagrad_constant_gradient_steps_shrink_like_one_over_sqrt_t(g, lr, steps):
    param, state = np.zeros(3), AdagradState.zeros_like(np.zeros(3))
    for t in range(1, steps + 1):
        new_param, state = adagrad_update(param, g, state, lr=lr)
        np.testing.assert_allclose(new_param - param, -lr * g / (np.sqrt(t) * np.abs(g) + 1e-10),
                                   rtol=1e-12, atol=1e-15)
        param = new_param


def test_adagrad_initial_accumulator_value_and_lr_decay():
    state = AdagradState.zeros_like(np.zeros(2), sum=3.0)
    np.testing.assert_array_equal(state.sum, [3.0, 3.0])
    p, state = adagrad_update(np.zeros(2), np.ones(2), state, lr=1.0, lr_decay=0.5, eps=1e-10)
    np.testing.assert_allclose(p, -1 / (2 + 1e-10))                        # t = 1: lr undecayed
    p, state = adagrad_update(p, np.ones(2), state, lr=1.0, lr_decay=0.5, eps=1e-10)
    np.testing.assert_allclose(p, -1 / (2 + 1e-10) - (1 / 1.5) / (np.sqrt(5) + 1e-10))
    opt = Adagrad(initial_accumulator_value=0.5)
    opt.step(np.zeros(2), np.ones(2))
    np.testing.assert_array_equal(opt.state.sum, [1.5, 1.5])


@quick
@given(g=arrays(3), alpha=st.floats(0, 0.999), lr=st.floats(1e-3, 1))
def test_rmsprop_first_step_divides_by_sqrt_of_one_minus_alpha_g_squared_plus_eps(g, alpha, lr):
    new_param, _ = rmsprop_update(np.zeros(3), g, RMSpropState.zeros_like(np.zeros(3)), lr=lr, alpha=alpha)
    np.testing.assert_allclose(new_param, -lr * g / (np.sqrt((1 - alpha) * g * g) + 1e-8), rtol=1e-12)


@quick
@given(g=arrays(3), rho=st.floats(0, 1))
def test_adadelta_first_step_has_eps_inside_both_square_roots(g, rho):
    eps = 1e-6
    new_param, state = adadelta_update(np.zeros(3), g, AdadeltaState.zeros_like(np.zeros(3)), rho=rho, eps=eps)
    delta = np.sqrt(eps) / np.sqrt((1 - rho) * g * g + eps) * g
    np.testing.assert_allclose(new_param, -delta, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(state.acc_delta, (1 - rho) * delta * delta, rtol=1e-12, atol=1e-300)


@quick
@given(param=arrays(3), grad=arrays(3), wd=st.floats(0, 1))
def test_adam_weight_decay_is_l2_added_to_the_gradient(param, grad, wd):
    state = AdamState.zeros_like(param)
    a, sa = adam_update(param, grad, state, lr=0.1, weight_decay=wd)
    b, sb = adam_update(param, grad + wd * param, state, lr=0.1)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sa.exp_avg, sb.exp_avg, rtol=1e-12, atol=1e-12)


@quick
@given(param=arrays(3), grad=arrays(3), wd=st.floats(0, 1), lr=st.floats(0, 0.5))
def test_adamw_decays_the_parameter_then_takes_an_adam_step(param, grad, wd, lr):
    state = AdamState.zeros_like(param)
    a, sa = adamw_update(param, grad, state, lr=lr, weight_decay=wd)
    b, sb = adam_update(param * (1 - lr * wd), grad, state, lr=lr)
    np.testing.assert_array_equal(a, b)
    _assert_same(sa, sb)
    c, _ = adamw_update(param, grad, state, lr=lr, weight_decay=0.0)
    np.testing.assert_array_equal(c, adam_update(param, grad, state, lr=lr)[0])


@quick
@given(g=arrays(3), lr=st.floats(1e-3, 1), betas=st.tuples(st.floats(0, 0.99), st.floats(0, 0.999)),
       psi=st.floats(0, 0.1))
def test_nadam_first_step_mixes_the_gradient_and_the_looked_ahead_momentum(g, lr, betas, psi):
    beta1, _ = betas
    new_param, state = nadam_update(np.zeros(3), g, NAdamState.zeros_like(np.zeros(3)), lr=lr, betas=betas,
                                    momentum_decay=psi)
    mu1 = beta1 * (1 - 0.5 * 0.96 ** psi)
    mu2 = beta1 * (1 - 0.5 * 0.96 ** (2 * psi))
    # v̂ = g², m = (1 − β₁) g: the first term is a whole step η g / (|g| + ε),
    # the second adds the momentum's share.
    expected = -lr * g / (np.abs(g) + 1e-8) * (1 + mu2 * (1 - beta1) / (1 - mu1 * mu2))
    np.testing.assert_allclose(new_param, expected, rtol=1e-10, atol=1e-300)
    assert state.mu_product == pytest.approx(mu1, rel=1e-15) and state.step == 1


@quick
@given(grads=st.lists(arrays(3), min_size=7, max_size=7), lr=st.floats(1e-3, 1))
def test_radam_takes_momentum_steps_until_rho_t_exceeds_5(grads, lr):
    """With β₂ = 0.999, ρ_t ≤ 5 for t ≤ 5: θ − η m̂, with no division by √v at all."""
    param, state = np.zeros(3), RAdamState.zeros_like(np.zeros(3))
    m = np.zeros(3)
    for t, g in enumerate(grads, start=1):
        new_param, state = radam_update(param, g, state, lr=lr)
        m = 0.9 * m + 0.1 * g
        plain = param - lr * m / (1 - 0.9 ** t)
        if t <= 5:
            np.testing.assert_allclose(new_param, plain, rtol=1e-12, atol=1e-300)
        param = new_param
    rho_inf = 2 / (1 - 0.999) - 1
    rho = [rho_inf - 2 * t * 0.999 ** t / (1 - 0.999 ** t) for t in (5, 6)]
    assert rho[0] <= 5 < rho[1]                        # the threshold falls exactly there


def test_radam_with_a_short_second_moment_average_is_never_rectified():
    """β₂ = 0.6 gives ρ_∞ = 4 < 5: RAdam is SGD with (bias-corrected) momentum for ever."""
    rng = np.random.default_rng(0)
    opt, param, m = RAdam(lr=0.1, betas=(0.8, 0.6)), np.zeros(4), np.zeros(4)
    for t in range(1, 50):
        g = rng.normal(size=4)
        m = 0.8 * m + 0.2 * g
        expected = param - 0.1 * m / (1 - 0.8 ** t)
        param = opt.step(param, g)
        np.testing.assert_allclose(param, expected, rtol=1e-12)


@quick
@given(g=arrays(3), lr=st.floats(1e-3, 1), beta1=st.floats(0, 0.99))
def test_adamax_first_step_has_eps_inside_the_maximum(g, lr, beta1):
    new_param, state = adamax_update(np.zeros(3), g, AdamaxState.zeros_like(np.zeros(3)), lr=lr,
                                     betas=(beta1, 0.999))
    np.testing.assert_allclose(state.exp_inf, np.abs(g) + 1e-8, rtol=1e-15)
    np.testing.assert_allclose(new_param, -lr * g / (np.abs(g) + 1e-8), rtol=1e-10, atol=1e-300)


@quick
@given(grads=st.lists(arrays(3), min_size=1, max_size=12), beta2=st.floats(0, 0.999))
def test_adamax_exp_inf_bounds_the_decayed_gradients(grads, beta2):
    """u_t = max(β₂ u, |g_t| + ε) is the largest β₂^(t−s) (|g_s| + ε) over the past s (u ≥ ε, never 0)."""
    state = AdamaxState.zeros_like(np.zeros(3))
    param = np.zeros(3)
    for g in grads:
        param, state = adamax_update(param, g, state, betas=(0.9, beta2))
    t = len(grads)
    expected = np.max([beta2 ** (t - s) * (np.abs(g) + 1e-8) for s, g in enumerate(grads, start=1)], axis=0)
    np.testing.assert_allclose(state.exp_inf, expected, rtol=1e-12)


@pytest.mark.parametrize("update, state_type", [(nadam_update, NAdamState), (radam_update, RAdamState)])
@quick
@given(param=arrays(3), grad=arrays(3), wd=st.floats(0, 1), lr=st.floats(0, 0.5))
def test_decoupled_weight_decay_shrinks_the_parameter_before_the_step(update, state_type, param, grad, wd, lr):
    state = state_type.zeros_like(param)
    a, sa = update(param, grad, state, lr=lr, weight_decay=wd, decoupled_weight_decay=True)
    b, sb = update(param * (1 - lr * wd), grad, state, lr=lr)
    np.testing.assert_array_equal(a, b)
    _assert_same(sa, sb)
    c, sc = update(param, grad, state, lr=lr, weight_decay=wd)                # L2: folded into the gradient
    d, sd = update(param, grad + wd * param, state, lr=lr)
    np.testing.assert_allclose(c, d, rtol=1e-12, atol=1e-12)


def test_amsgrad_keeps_the_maximum_of_the_uncorrected_second_moment():
    opt = Adam(lr=0.1, amsgrad=True, betas=(0.9, 0.5))
    p = opt.step(np.zeros(1), np.array([10.0]))
    assert opt.state.max_exp_avg_sq[0] == pytest.approx(50.0)          # (1 − β₂) g², not corrected
    p = opt.step(p, np.array([0.1]))
    assert opt.state.exp_avg_sq[0] == pytest.approx(25.005)
    assert opt.state.max_exp_avg_sq[0] == pytest.approx(50.0)
    m_hat = opt.state.exp_avg[0] / (1 - 0.9 ** 2)
    v_hat = 50.0 / (1 - 0.5 ** 2)                                        # the max, then bias-corrected
    assert p[0] == pytest.approx(-0.1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8), rel=1e-6)


@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
@quick
@given(param=arrays(3), grad=arrays(3))
def test_maximize_is_minimizing_with_the_negated_gradient(name, options, param, grad):
    options = {k: v for k, v in options.items() if k != "maximize"}
    up = _update(name, {**options, "maximize": True})
    down = _update(name, options)
    a, sa = up(param, grad, _initial(name, param))
    b, sb = down(param, -grad, _initial(name, param))
    np.testing.assert_array_equal(a, b)
    _assert_same(sa, sb)


@pytest.mark.parametrize("name", METHODS)
def test_pure_update_rejects_a_gradient_of_another_shape(name):
    _, update, state_type, _ = METHODS[name]
    state = state_type.zeros_like(np.zeros(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        update(np.zeros(3), np.zeros(2), state)


# ---------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_step_never_writes_into_given_arrays_and_returns_the_same_kind(name, options):
    opt = METHODS[name][0](**options)
    trajectory = [np.array([1.0, -2.0])]
    for _ in range(3):
        grad = np.array([0.5, 0.25])
        x = opt.step(trajectory[-1], grad)
        assert isinstance(x, np.ndarray) and x.shape == (2,)
        np.testing.assert_array_equal(grad, [0.5, 0.25])
        trajectory.append(x)
    np.testing.assert_array_equal(trajectory[0], [1.0, -2.0])
    assert len({id(x) for x in trajectory}) == 4
    params = {"a": np.ones(2), "b": np.zeros(())}
    out = METHODS[name][0](**options).step(params, {"a": np.ones(2), "b": np.ones(())})
    assert isinstance(out, dict) and list(out) == ["a", "b"]
    np.testing.assert_array_equal(params["a"], [1.0, 1.0])


def test_lists_and_ints_are_converted_to_float64():
    opt = SGD(lr=0.5)
    x = opt.step([1, 2], [1, 1])
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [0.5, 1.5])
    out = SGD(lr=0.5).step({"w": [[1, 2]], "b": 3}, {"w": [[1, 1]], "b": 1})
    np.testing.assert_array_equal(out["w"], [[0.5, 1.5]])
    assert out["b"] == 2.5
    new_param, _ = adam_update([1, 2], [1, -1], AdamState.zeros_like([1, 2]), lr=0.5)
    np.testing.assert_allclose(new_param, [0.5, 2.5])


@pytest.mark.parametrize("name", METHODS)
def test_state_fields_carry_pytorch_names(name):
    opt = METHODS[name][0]()
    assert opt.state is None
    opt.step(np.zeros(2), np.ones(2))
    assert opt.state._fields == STATE_FIELDS[name]
    assert opt.state.step == 1
    d = METHODS[name][0]()
    d.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    assert set(d.state) == {"w"} and d.state["w"]._fields == STATE_FIELDS[name]


@pytest.mark.parametrize("state_type", [RMSpropState, AdadeltaState, AdamState, NAdamState, RAdamState,
                                        AdamaxState])
def test_initial_state_buffers_are_separate_arrays(state_type):
    state = state_type.zeros_like(np.ones((2, 2)))
    buffers = [v for v in state if isinstance(v, np.ndarray)]
    assert state.step == 0 and all(b.shape == (2, 2) and not b.any() for b in buffers)
    assert len(buffers) == len(state) - 1 - (state_type is NAdamState)    # NAdam's mu_product is a number
    assert not any(np.shares_memory(a, b) for i, a in enumerate(buffers) for b in buffers[i + 1:])


def test_sgd_momentum_buffer_is_none_until_the_first_step_with_momentum():
    assert SGDState.zeros_like(np.zeros(2)).momentum_buffer is None
    opt = SGD(momentum=0.0)
    opt.step(np.zeros(2), np.ones(2))
    assert opt.state.momentum_buffer is None
    opt = SGD(momentum=0.9)
    opt.step(np.zeros(2), np.ones(2))
    np.testing.assert_array_equal(opt.state.momentum_buffer, [1.0, 1.0])


def test_lr_change_takes_effect_and_is_checked():
    opt = SGD(lr=0.1)
    x = opt.step(np.array([1.0]), np.array([1.0]))
    assert x[0] == pytest.approx(0.9)
    opt.lr = 0.5
    assert opt.lr == 0.5
    x = opt.step(x, np.array([1.0]))
    assert x[0] == pytest.approx(0.4)
    assert opt.defaults["lr"] == 0.1                       # as in PyTorch: defaults keep the given value
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    assert opt.lr == 0.5
    adam = Adam(lr=0.1)
    adam.step(np.zeros(1), np.ones(1))
    adam.lr = 0.0
    np.testing.assert_array_equal(adam.step(np.zeros(1), np.ones(1)), [0.0])
    assert "lr=0.0" in repr(adam)


# Bad hyperparameters: (class, keyword arguments, argument the message must name, range it must state).
BAD = [
    (SGD, {"lr": -0.1}, "lr", ">= 0"),
    (SGD, {"lr": float("nan")}, "lr", ">= 0"),
    (SGD, {"lr": float("inf")}, "lr", ">= 0"),
    (SGD, {"momentum": -0.5}, "momentum", ">= 0"),
    (SGD, {"dampening": 1.5}, "dampening", "[0, 1]"),
    (SGD, {"weight_decay": -1e-4}, "weight_decay", ">= 0"),
    (Adagrad, {"lr": -1}, "lr", ">= 0"),
    (Adagrad, {"lr_decay": -0.1}, "lr_decay", ">= 0"),
    (Adagrad, {"weight_decay": -0.1}, "weight_decay", ">= 0"),
    (Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value", ">= 0"),
    (Adagrad, {"eps": 0.0}, "eps", "> 0"),
    (RMSprop, {"lr": -0.01}, "lr", ">= 0"),
    (RMSprop, {"alpha": 1.0}, "alpha", "[0, 1)"),
    (RMSprop, {"alpha": -0.1}, "alpha", "[0, 1)"),
    (RMSprop, {"eps": -1e-8}, "eps", "> 0"),
    (RMSprop, {"momentum": -0.9}, "momentum", ">= 0"),
    (RMSprop, {"weight_decay": -1.0}, "weight_decay", ">= 0"),
    (Adadelta, {"lr": -1.0}, "lr", ">= 0"),
    (Adadelta, {"rho": 1.1}, "rho", "[0, 1]"),
    (Adadelta, {"rho": -0.1}, "rho", "[0, 1]"),
    (Adadelta, {"eps": 0}, "eps", "> 0"),
    (Adadelta, {"weight_decay": -0.1}, "weight_decay", ">= 0"),
    (Adam, {"lr": -1e-3}, "lr", ">= 0"),
    (Adam, {"betas": (1.0, 0.999)}, "betas[0]", "[0, 1)"),
    (Adam, {"betas": (0.9, -0.1)}, "betas[1]", "[0, 1)"),
    (Adam, {"betas": (0.9,)}, "betas", "[0, 1)"),
    (Adam, {"eps": 0.0}, "eps", "> 0"),
    (Adam, {"weight_decay": -0.01}, "weight_decay", ">= 0"),
    (AdamW, {"lr": -1e-3}, "lr", ">= 0"),
    (AdamW, {"betas": (0.9, 1.0)}, "betas[1]", "[0, 1)"),
    (AdamW, {"eps": -1.0}, "eps", "> 0"),
    (AdamW, {"weight_decay": -0.01}, "weight_decay", ">= 0"),
    (NAdam, {"lr": -2e-3}, "lr", ">= 0"),
    (NAdam, {"betas": (1.0, 0.999)}, "betas[0]", "[0, 1)"),
    (NAdam, {"betas": (0.9, 1.5)}, "betas[1]", "[0, 1)"),
    (NAdam, {"eps": 0.0}, "eps", "> 0"),
    (NAdam, {"weight_decay": -0.1}, "weight_decay", ">= 0"),
    (NAdam, {"momentum_decay": -4e-3}, "momentum_decay", ">= 0"),
    (NAdam, {"momentum_decay": float("inf")}, "momentum_decay", ">= 0"),
    (RAdam, {"lr": -1e-3}, "lr", ">= 0"),
    (RAdam, {"betas": (-0.1, 0.999)}, "betas[0]", "[0, 1)"),
    (RAdam, {"betas": (0.9, 1.0)}, "betas[1]", "[0, 1)"),
    (RAdam, {"betas": 0.9}, "betas", "[0, 1)"),
    (RAdam, {"eps": -1e-8}, "eps", "> 0"),
    (RAdam, {"weight_decay": -1.0}, "weight_decay", ">= 0"),
    (Adamax, {"lr": float("nan")}, "lr", ">= 0"),
    (Adamax, {"betas": (1.2, 0.999)}, "betas[0]", "[0, 1)"),
    (Adamax, {"betas": (0.9, 1.0)}, "betas[1]", "[0, 1)"),
    (Adamax, {"eps": 0}, "eps", "> 0"),
    (Adamax, {"weight_decay": -0.5}, "weight_decay", ">= 0"),
]


@pytest.mark.parametrize("cls, kwargs, argument, allowed", BAD,
                         ids=[f"{c.__name__}-{k}" for c, k, _, _ in BAD])
def test_bad_hyperparameter_raises_naming_the_argument_and_its_range(cls, kwargs, argument, allowed):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert argument in message and allowed in message, message


@pytest.mark.parametrize("kwargs", [{"nesterov": True}, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}])
def test_nesterov_without_momentum_or_with_dampening_raises_pytorchs_message(kwargs):
    with pytest.raises(ValueError, match="^Nesterov momentum requires a momentum and zero dampening$"):
        SGD(**kwargs)


def test_a_non_number_hyperparameter_raises_type_error():
    with pytest.raises(TypeError, match="lr"):
        Adam(lr="0.01")
    with pytest.raises(TypeError, match="lr"):
        Adam().lr = None


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax])
def test_shape_mismatch_names_both_shapes(cls):
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        cls().step(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"params\['w'\].*\(2, 1\).*\(2,\)"):
        cls().step({"w": np.zeros(2)}, {"w": np.zeros((2, 1))})


def test_key_mismatch_names_missing_and_extra_keys():
    with pytest.raises(ValueError) as info:
        Adam().step({"w": np.zeros(2), "b": np.zeros(1)}, {"w": np.zeros(2), "bias": np.zeros(1)})
    message = str(info.value)
    assert "missing from grads ['b']" in message and "extra in grads ['bias']" in message


def test_mixing_arrays_and_dicts_raises():
    with pytest.raises(ValueError, match="dict"):
        SGD().step({"w": np.zeros(2)}, np.zeros(2))
    with pytest.raises(ValueError, match="dict"):
        SGD().step(np.zeros(2), {"w": np.zeros(2)})
    opt = SGD()
    opt.step(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="new optimizer"):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(2)})
    opt = Adam()
    opt.step(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="changed shape"):
        opt.step(np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax])
def test_non_finite_gradient_raises_naming_the_parameter(cls, bad):
    opt = cls(momentum=0.9) if cls is SGD else cls()
    params = {"w": np.zeros(3), "b": np.zeros(2)}
    params = opt.step(params, {"w": np.ones(3), "b": np.ones(2)})
    state_before = opt.state
    with pytest.raises(FloatingPointError) as info:
        opt.step(params, {"w": np.ones(3), "b": np.array([1.0, bad])})
    message = str(info.value)
    assert "params['b']" in message and "index (1,)" in message and "smaller learning rate" in message
    assert opt.state is state_before                       # nothing was updated
    with pytest.raises(FloatingPointError, match="gradient of params"):
        cls().step(np.zeros(2), np.array([bad, 0.0]))


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, NAdam, RAdam, Adamax])
def test_a_huge_but_finite_gradient_is_not_mistaken_for_a_nan(cls):
    # The quick check is ‖g‖² = g·g, which overflows here; the closer look must then accept g.
    grad = np.array([1e200, -1e300, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore", invalid="ignore"):          # the updates themselves may overflow
            cls().step({"w": np.zeros(3)}, {"w": grad})


@pytest.mark.parametrize("name", METHODS)
def test_docstrings_map_symbols_and_give_the_update(name):
    cls, update, _, _ = METHODS[name]
    for doc in (cls.__doc__, update.__doc__):
        assert "for t = 1, 2, …" in doc
        assert "`lr`" in doc and "PyTorch" in doc


def test_public_names():
    for name in ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "RAdam", "Adamax",
                 "sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update", "adam_update",
                 "adamw_update", "nadam_update", "radam_update", "adamax_update", "SGDState",
                 "AdagradState", "RMSpropState", "AdadeltaState", "AdamState", "NAdamState", "RAdamState",
                 "AdamaxState"]:
        assert name in optim.__all__ and hasattr(optim, name)


def test_optim_imports_only_numpy_and_the_numpy_only_argcheck():
    import ast
    import pathlib
    tree = ast.parse(pathlib.Path(optim.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0}
    course = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0
              for alias in node.names}
    assert imported <= {"numpy", "collections", "math", "typing"} and course == {"argcheck"}


def test_step_benchmark_table_runs():
    from benchmarks import bench_optim_step
    lines = bench_optim_step.table(100, torch=None, min_time=1e-4)
    assert lines[2].startswith("| step |") and len(lines) == 6 + len(bench_optim_step.CASES)
