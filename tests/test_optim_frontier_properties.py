"""Properties of the lesson-11 optimizers (the reference comparison is in test_optim_frontier.py):
purity, shapes and keys, scale invariance of the sign methods, what Newton–Schulz and the
factored second moment compute, averaging, the L-BFGS direction, bad hyperparameters."""

import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from optlessons import gradcheck, optim

quick = settings(deadline=None, max_examples=40)
finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
nonzero = st.one_of(st.floats(-10, -0.1), st.floats(0.1, 10))

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("record_torch_references",
                                               ROOT / "scripts" / "record_torch_references.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)

# The classes that take step(params, grads): (class, options, the shapes they accept).
STEPPERS = {
    "Rprop": (optim.Rprop, {"lr": 0.1}),
    "ASGD": (optim.ASGD, {"t0": 1}),
    "Adafactor": (optim.Adafactor, {"weight_decay": 0.1}),
    "Muon": (optim.Muon, {"lr": 0.02}),
    "Lion": (optim.Lion, {"weight_decay": 0.1}),
    "ScheduleFreeSGD": (optim.ScheduleFreeSGD, {"lr": 0.1, "weight_decay": 0.1}),
    "ScheduleFreeAdamW": (optim.ScheduleFreeAdamW, {"warmup_steps": 2, "weight_decay": 0.1}),
}
STATE_FIELDS = {
    "Rprop": ("step", "prev", "step_size"),
    "ASGD": ("step", "eta", "mu", "ax"),
    "Adafactor": ("step", "row_var", "col_var", "variance"),
    "Muon": ("step", "momentum_buffer"),
    "Lion": ("step", "exp_avg"),
    "ScheduleFreeSGD": ("step", "z", "weight_sum", "lr_max"),
    "ScheduleFreeAdamW": ("step", "z", "exp_avg_sq", "weight_sum", "lr_max"),
}


def _shapes(name):
    return hnp.array_shapes(min_dims=2, max_dims=2, max_side=4) if name == "Muon" else \
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)


def _arrays(shape, elements=finite):
    return hnp.arrays(np.float64, shape, elements=elements)


def _pure(name):
    """(update function, hyperparameters, initial state) of the class, as the class calls them."""
    cls, options = STEPPERS[name]
    opt = cls(**options)
    return cls.update, opt._update_arguments(), opt.initial_state


def _snapshot(value):
    return tuple(_snapshot(v) for v in value) if isinstance(value, tuple) else \
        value.copy() if isinstance(value, np.ndarray) else value


def _same(a, b):
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("name", STEPPERS)
@quick
@given(data=st.data())
def test_pure_update_changes_none_of_its_inputs(name, data):
    shape = data.draw(_shapes(name))
    param, grad0, grad = (data.draw(_arrays(shape)) for _ in range(3))
    update, hyper, initial = _pure(name)
    _, state = update(param, grad0, initial(param), **hyper)
    before = [_snapshot(x) for x in (param, grad, state)]
    new_param, new_state = update(param, grad, state, **hyper)
    assert all(_same(x, y) for x, y in zip((param, grad, state), before))
    assert new_param.shape == param.shape and new_state.step == state.step + 1
    assert type(new_state) is type(state) and new_state._fields == STATE_FIELDS[name]
    for result in [new_param, *[v for v in new_state if isinstance(v, np.ndarray)]]:
        assert not np.shares_memory(result, param) and not np.shares_memory(result, grad)


@pytest.mark.parametrize("name", STEPPERS)
def test_class_step_on_dict_equals_pure_function_per_key_and_keeps_keys(name):
    rng = np.random.default_rng(1)
    cls, options = STEPPERS[name]
    params = {"w": rng.normal(size=(3, 2)), "v": rng.normal(size=(2, 4))}
    opt = cls(**options)
    update, hyper, initial = _pure(name)
    expected, states = dict(params), {k: initial(v) for k, v in params.items()}
    for _ in range(4):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        params = opt.step(params, grads)
        assert list(params) == ["w", "v"]
        for k in expected:
            expected[k], states[k] = update(expected[k], grads[k], states[k], **hyper)
            np.testing.assert_array_equal(params[k], expected[k])
    assert set(opt.state) == {"w", "v"}


@pytest.mark.parametrize("name", STEPPERS)
def test_a_gradient_of_another_shape_names_both_shapes(name):
    opt = STEPPERS[name][0]()
    with pytest.raises(ValueError, match=r"params\['w'\] has shape \(3, 2\).*\(2, 2\)|"
                                         r"gradient of params\['w'\] has shape \(3, 2\) but params\['w'\] has shape \(2, 2\)"):
        opt.step({"w": np.zeros((2, 2))}, {"w": np.zeros((3, 2))})


@pytest.mark.parametrize("name", STEPPERS)
def test_a_non_finite_gradient_is_reported(name):
    opt = STEPPERS[name][0]()
    with pytest.raises(FloatingPointError, match=r"params\['w'\].*index \(0, 1\)"):
        opt.step({"w": np.zeros((2, 2))}, {"w": np.array([[0.0, np.nan], [0.0, 0.0]])})
    assert opt.state is None


# ---------------------------------------------------------------- sign methods: the gradient's scale does not matter

@quick
@given(grads=st.lists(_arrays(4, nonzero), min_size=1, max_size=6), scale=st.floats(1e-3, 1e3))
def test_rprop_and_lion_steps_do_not_depend_on_the_gradients_scale(grads, scale):
    for cls in (optim.Rprop, optim.Lion):
        a, b = cls(), cls()
        pa = pb = np.linspace(-1, 1, 4)
        for g in grads:
            pa, pb = a.step(pa, g), b.step(pb, scale * g)
        np.testing.assert_allclose(pa, pb, rtol=1e-12, atol=1e-15)


@quick
@given(g=_arrays(5, nonzero), lr=st.floats(1e-5, 1e-1))
def test_lion_moves_every_coordinate_by_exactly_lr(g, lr):
    new, state = optim.lion_update(np.zeros(5), g, optim.LionState.zeros_like(np.zeros(5)), lr=lr)
    np.testing.assert_array_equal(np.abs(new), lr)
    np.testing.assert_array_equal(np.sign(new), -np.sign(g))
    np.testing.assert_allclose(state.exp_avg, 0.01 * g)                   # (1 − β₂) g


def test_rprop_shrinks_the_step_and_stands_still_where_the_sign_flips():
    opt = optim.Rprop(lr=0.1)
    p = opt.step(np.zeros(2), np.array([1.0, 1.0]))
    np.testing.assert_allclose(p, [-0.1, -0.1])
    p2 = opt.step(p, np.array([1.0, -1.0]))                              # same sign, then a flip
    np.testing.assert_allclose(p2, [-0.1 - 0.12, -0.1])
    np.testing.assert_allclose(opt.state.step_size, [0.12, 0.05])
    np.testing.assert_array_equal(opt.state.prev, [1.0, 0.0])


# ---------------------------------------------------------------- Muon and Newton–Schulz

@quick
@given(G=_arrays((4, 3), st.floats(-3, 3)).filter(lambda G: np.linalg.cond(G) < 20),
       transpose=st.booleans(), scale=st.floats(1e-3, 1e3))
def test_newton_schulz_maps_each_singular_value_through_the_quintic_and_keeps_the_vectors(G, transpose, scale):
    G = G.T if transpose else G
    a, b, c = 3.4445, -4.775, 2.0315
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    sigma = s / np.linalg.norm(G)
    for _ in range(5):
        sigma = a * sigma + b * sigma ** 3 + c * sigma ** 5
    X = optim.newton_schulz(G)
    np.testing.assert_allclose(X, U @ np.diag(sigma) @ Vt, atol=1e-12)
    np.testing.assert_allclose(optim.newton_schulz(scale * G), X, atol=1e-12)     # scale-free
    assert np.all((0.6 < sigma) & (sigma < 1.25))        # pushed towards 1 (condition number < 20)


def test_muon_lr_adjustments_and_the_2d_only_error():
    assert optim.muon_lr(0.1, (8, 2)) == pytest.approx(0.2)                 # √max(1, 8/2)
    assert optim.muon_lr(0.1, (2, 8), "original") == pytest.approx(0.1)
    assert optim.muon_lr(0.1, (8, 2), "match_rms_adamw") == pytest.approx(0.1 * 0.2 * np.sqrt(8))
    with pytest.raises(ValueError, match=r"Muon only supports 2-D parameters.*\(3,\).*AdamW"):
        optim.Muon().step({"W": np.zeros((3, 2)), "b": np.zeros(3)}, {"W": np.ones((3, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match="2-D"):
        optim.muon_update(np.zeros(3), np.ones(3), optim.MuonState.zeros_like(np.zeros(3)))


# ---------------------------------------------------------------- Adafactor

@quick
@given(a=_arrays(3, nonzero), b=_arrays(4, nonzero), lr=st.floats(1e-3, 1.0))
def test_adafactor_factored_moment_is_exact_for_a_rank_one_squared_gradient(a, b, lr):
    """On step 1 (β₂ = 0) R C / mean(R) = g² when g = a bᵀ, so the update is α sign(g) with α = max(ε₂, RMS(θ)) ρ."""
    theta = np.full((3, 4), 0.5)
    new, state = optim.adafactor_update(theta, np.outer(a, b), optim.AdafactorState.zeros_like(theta), lr=lr)
    np.testing.assert_allclose(new, theta - 0.5 * min(lr, 1.0) * np.sign(np.outer(a, b)), rtol=1e-9, atol=1e-12)
    assert state.row_var.shape == (3, 1) and state.col_var.shape == (1, 4) and state.variance is None


def test_adafactor_keeps_n_plus_m_numbers_for_a_matrix_and_n_for_a_vector():
    opt = optim.Adafactor()
    opt.step({"W": np.ones((30, 20)), "b": np.ones(20)}, {"W": np.ones((30, 20)), "b": np.ones(20)})
    sizes = {k: sum(np.size(v) for v in s[1:] if v is not None) for k, s in opt.state.items()}
    assert sizes == {"W": 50, "b": 20}


# ---------------------------------------------------------------- averaging: ASGD and schedule-free

def test_asgd_with_t0_0_averages_the_iterates_from_the_second_on():
    rng = np.random.default_rng(2)
    opt, p, iterates = optim.ASGD(lr=0.05, t0=0), np.ones(3), []
    for _ in range(8):
        p = opt.step(p, rng.normal(size=3))
        iterates.append(p)
    np.testing.assert_allclose(opt.averaged(p), np.mean(iterates[1:], axis=0), rtol=1e-12)


@pytest.mark.parametrize("cls", [optim.ScheduleFreeSGD, optim.ScheduleFreeAdamW])
def test_schedule_free_eval_point_is_the_average_of_the_z_sequence(cls):
    """With equal weights (weight_lr_power 0, r 0) x_T = (z_1 + … + z_T) / T."""
    rng = np.random.default_rng(3)
    opt = cls(lr=0.05, weight_lr_power=0.0)
    y, zs = {"w": rng.normal(size=(2, 3))}, []
    np.testing.assert_array_equal(opt.eval_point(y)["w"], y["w"])               # before any step, x = y
    for _ in range(7):
        y = opt.step(y, {"w": rng.normal(size=(2, 3))})
        zs.append(opt.state["w"].z)
    np.testing.assert_allclose(opt.eval_point(y)["w"], np.mean(zs, axis=0), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- L-BFGS

@quick
@given(seed=st.integers(0, 10_000), pairs=st.integers(1, 4))
def test_lbfgs_direction_is_minus_the_bfgs_inverse_hessian_times_g(seed, pairs):
    """The two-loop recursion equals H g with H built by the BFGS update from γ I."""
    rng = np.random.default_rng(seed)
    n = 5
    A = rng.normal(size=(n, n))
    A = A @ A.T + n * np.eye(n)                                   # curvature: yᵀs > 0
    steps = [rng.normal(size=n) for _ in range(pairs)]
    changes = [A @ s for s in steps]
    ro = [1 / (y @ s) for s, y in zip(steps, changes)]
    gamma = (changes[-1] @ steps[-1]) / (changes[-1] @ changes[-1])
    H = gamma * np.eye(n)
    for s, y, r in zip(steps, changes, ro):
        H = (np.eye(n) - r * np.outer(s, y)) @ H @ (np.eye(n) - r * np.outer(y, s)) + r * np.outer(s, s)
    g = rng.normal(size=n)
    d = optim.lbfgs_direction(g, changes, steps, ro, gamma)
    np.testing.assert_allclose(d, -H @ g, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimizes_a_quadratic_in_one_call_and_takes_dicts(line_search_fn):
    A = np.diag([1.0, 3.0, 10.0])
    opt = optim.LBFGS(max_iter=100, tolerance_change=1e-14,
                      line_search_fn=line_search_fn)
    params = {"a": np.array([1.0, -1.0]), "b": np.array(2.0)}

    def closure(p):
        x = np.append(p["a"], p["b"])
        return 0.5 * x @ A @ x, {"a": (A @ x)[:2], "b": (A @ x)[2]}

    out = opt.step(params, closure)
    assert set(out) == {"a", "b"} and out["b"].shape == ()
    assert np.max(np.abs(np.append(out["a"], out["b"]))) < 1e-6
    assert opt.loss == pytest.approx(0.5 * (1 + 3 + 40))
    np.testing.assert_array_equal(params["a"], [1.0, -1.0])              # never written into


def test_strong_wolfe_returns_a_step_meeting_both_conditions():
    f = lambda x: (float(np.sum(x ** 4) - x[0]), 4 * x ** 3 - np.array([1.0, 0.0]))
    x, d = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    loss, g = f(x)
    gtd = float(g @ d)
    f_new, g_new, t, evals = optim.strong_wolfe(f, x, 1.0, d, loss, g, gtd)
    assert f_new <= loss + 1e-4 * t * gtd and abs(g_new @ d) <= 0.9 * abs(gtd)
    assert f_new == f(x + t * d)[0] and evals >= 1


def test_lbfgs_takes_a_closure_and_reports_non_finite_values():
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS().step(np.zeros(2), np.zeros(2))
    with pytest.raises(FloatingPointError, match="closure"):
        optim.LBFGS().step(np.zeros(2), lambda x: (np.nan, np.ones(2)))


@pytest.mark.parametrize("problem", sorted(recorder.LOSSES))
def test_the_recorded_problems_gradients_match_finite_differences(problem):
    data = {**recorder.make_data(), **recorder.make_matrix_data()}
    grad_fn, start = recorder.PROBLEMS[problem]
    result = gradcheck.check_gradient(lambda p: recorder.LOSSES[problem](p, data), lambda p: grad_fn(p, data),
                                      start, tol=1e-6)
    assert result.ok, str(result)


# ---------------------------------------------------------------- bad hyperparameters

@pytest.mark.parametrize("cls, kwargs, message", [
    (optim.Rprop, {"lr": -1}, "lr"),
    (optim.Rprop, {"etas": (1.2, 0.5)}, r"etas must be \(η⁻, η⁺\) with 0 < η⁻ < 1 < η⁺"),
    (optim.Rprop, {"step_sizes": (1.0, 0.1)}, "step_sizes"),
    (optim.ASGD, {"lambd": -1}, "lambd"),
    (optim.ASGD, {"t0": -5}, "t0"),
    (optim.Adafactor, {"beta2_decay": 0.5}, "beta2_decay"),
    (optim.Adafactor, {"d": 0.5}, "d must be"),
    (optim.Adafactor, {"eps": (-1.0, 1e-3)}, r"eps\[0\]"),
    (optim.Muon, {"adjust_lr_fn": "sqrt"}, "adjust_lr_fn must be None, 'original' or 'match_rms_adamw'"),
    (optim.Muon, {"ns_steps": 100}, "ns_steps"),
    (optim.Muon, {"ns_coefficients": (1.0, 2.0)}, "ns_coefficients must be three numbers"),
    (optim.Muon, {"eps": 0.0}, "eps"),
    (optim.Lion, {"lr": 0.0}, "lr"),
    (optim.Lion, {"betas": (0.9, 1.5)}, r"betas\[1\]"),
    (optim.LBFGS, {"line_search_fn": "armijo"}, "line_search_fn must be None or 'strong_wolfe'"),
    (optim.LBFGS, {"history_size": 0}, "history_size"),
    (optim.ScheduleFreeSGD, {"momentum": 1.0}, "momentum"),
    (optim.ScheduleFreeSGD, {"warmup_steps": -1}, "warmup_steps"),
    (optim.ScheduleFreeAdamW, {"betas": (0.0, 0.999)}, r"betas\[0\] must be in \(0, 1\)"),
])
def test_bad_hyperparameters_raise_a_sentence_naming_them(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)
