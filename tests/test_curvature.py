"""optlessons.curvature: finite-difference Hessians, eigenvalue signs, Newton's step; and the double well."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optlessons.curvature import (
    Newton,
    SingularHessianError,
    critical_point_kind,
    eigenvalue_signs,
    hessian_vector_product,
    newton_update,
    numerical_hessian,
)
from optlessons.functions import LANDSCAPES, NoisyGradient, double_well, quadratic, saddle
from optlessons.gradcheck import check_gradient
from optlessons.optim import SGD
from optlessons.train import minimize

LANDSCAPE_CASES = {**LANDSCAPES, "double_well": double_well, "double_well_c30": lambda: double_well(30.0),
                   "quadratic_rotated": lambda: quadratic(condition_number=50.0, angle=0.7, mu=0.5, center=(1.0, -2.0))}
unit = st.floats(0.0, 1.0, allow_nan=False)


def spd_matrix(seed, d, kappa):
    """A random symmetric positive-definite d×d matrix with eigenvalues from 1 to kappa."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    lam = np.geomspace(1.0, kappa, d)
    return Q @ np.diag(lam) @ Q.T, rng


# --------------------------------------------------------------------------- Hessians

@pytest.mark.parametrize("key", sorted(LANDSCAPE_CASES))
@settings(max_examples=20, deadline=None)
@given(u=unit, v=unit)
def test_finite_difference_hessian_matches_the_analytic_one(key, u, v):
    f = LANDSCAPE_CASES[key]()
    (x0, x1), (y0, y1) = f.window
    p = np.array([x0 + u * (x1 - x0), y0 + v * (y1 - y0)])
    exact = f.hessian(p)
    numeric = numerical_hessian(f.gradient, p, h=1e-5)
    scale = 1.0 + np.abs(exact).max()
    np.testing.assert_allclose(numeric, exact, rtol=0, atol=1e-6 * scale)
    assert np.array_equal(numeric, numeric.T)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 8))
def test_hessian_vector_product_of_a_quadratic_is_exact_up_to_rounding(seed, d):
    A, rng = spd_matrix(seed, d, 100.0)
    c = rng.normal(size=d)
    theta, v = rng.normal(size=d), rng.normal(size=d)
    grad = lambda t: A @ t - c            # noqa: E731 — L = ½ θᵀAθ − cᵀθ
    np.testing.assert_allclose(hessian_vector_product(grad, theta, v), A @ v, atol=1e-7 * np.abs(A).max())
    np.testing.assert_allclose(numerical_hessian(grad, theta), A, atol=1e-7 * np.abs(A).max())


def test_the_dimension_of_the_gradient_is_checked_and_the_input_never_changes():
    theta = np.array([1.0, 2.0])
    before = theta.copy()
    numerical_hessian(lambda t: 2 * t, theta)
    assert np.array_equal(theta, before)
    with pytest.raises(ValueError, match="gradient returned shape"):
        numerical_hessian(lambda t: np.zeros(3), theta)
    with pytest.raises(ValueError, match="h must be"):
        numerical_hessian(lambda t: t, theta, h=0.0)
    with pytest.raises(ValueError, match="shape \\(d,\\)"):
        numerical_hessian(lambda t: t, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="v has shape"):
        hessian_vector_product(lambda t: t, theta, np.ones(3))


# --------------------------------------------------------------------------- signs

def test_eigenvalue_signs_and_kinds():
    assert eigenvalue_signs(np.diag([2.0, -1.0, 0.0, 3.0])) == (1, 1, 2)
    assert eigenvalue_signs(np.diag([2.0, -1.0, 0.0, 3.0])).index == 0.25
    assert critical_point_kind(np.diag([1.0, 2.0])) == "minimum"
    assert critical_point_kind(-np.eye(3)) == "maximum"
    assert critical_point_kind(saddle().hessian([0.0, 0.0])) == "saddle"
    assert critical_point_kind(np.diag([1.0, 0.0])) == "degenerate"
    assert critical_point_kind(double_well().hessian([1.0, 0.0])) == "minimum"
    assert critical_point_kind(double_well().hessian([0.0, 0.0])) == "saddle"
    with pytest.raises(ValueError, match="symmetric"):
        eigenvalue_signs(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        eigenvalue_signs(np.ones((2, 3)))
    with pytest.raises(ValueError, match="tol"):
        eigenvalue_signs(np.eye(2), tol=-1.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 10), k=st.integers(0, 10))
def test_signs_are_invariant_under_rotation_and_count_what_was_built(seed, d, k):
    rng = np.random.default_rng(seed)
    k = min(k, d)
    lam = np.concatenate([-rng.uniform(0.5, 5.0, k), rng.uniform(0.5, 5.0, d - k)])
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    H = Q @ np.diag(lam) @ Q.T
    H = (H + H.T) / 2
    assert eigenvalue_signs(H, tol=1e-6) == (k, 0, d - k)


# --------------------------------------------------------------------------- Newton

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 12), log_kappa=st.floats(0.0, 6.0))
def test_one_newton_step_solves_a_random_spd_quadratic(seed, d, log_kappa):
    A, rng = spd_matrix(seed, d, 10.0**log_kappa)
    c = rng.normal(size=d)
    theta = rng.normal(size=d) * 10
    new = newton_update(theta, A @ theta - c, A)
    theta_star = np.linalg.solve(A, c)
    assert np.linalg.norm(new - theta_star) <= 1e-8 * (1 + np.linalg.norm(theta_star)) * 10.0**log_kappa


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 8), damping=st.floats(0.0, 100.0), lr=st.floats(0.0, 1.0))
def test_damped_newton_is_the_formula_and_never_writes_into_its_inputs(seed, d, damping, lr):
    A, rng = spd_matrix(seed, d, 30.0)
    theta, g = rng.normal(size=d), rng.normal(size=d)
    copies = theta.copy(), g.copy(), A.copy()
    new = newton_update(theta, g, A, lr=lr, damping=damping)
    expected = theta - lr * np.linalg.solve(A + damping * np.eye(d), g)
    np.testing.assert_allclose(new, expected, rtol=1e-9, atol=1e-12)
    for before, after in zip(copies, (theta, g, A)):
        assert np.array_equal(before, after)


def test_newton_goes_to_the_saddle_and_saddle_free_newton_goes_downhill():
    f = saddle()                     # x² − y²: H = diag(2, −2) everywhere
    p = np.array([0.5, 0.3])
    assert np.allclose(newton_update(p, f.gradient(p), f.hessian(p)), [0.0, 0.0])
    away = newton_update(p, f.gradient(p), f.hessian(p), saddle_free=True)
    assert np.allclose(away, [0.0, 0.6])          # y doubled: away from the saddle, downhill
    assert f.value(away) < f.value(p)


def test_a_singular_hessian_is_a_clear_error_and_damping_fixes_it():
    H = np.diag([1.0, 0.0])
    with pytest.raises(SingularHessianError, match="singular.*damping > 0"):
        newton_update(np.ones(2), np.ones(2), H)
    with pytest.raises(ValueError):                 # it is a ValueError too
        newton_update(np.ones(2), np.ones(2), np.diag([1.0, 1e-14]))
    assert np.allclose(newton_update(np.ones(2), np.ones(2), H, damping=1.0), [0.5, 0.0])
    with pytest.raises(SingularHessianError, match="δ = 2 cancels a curvature of −2"):
        newton_update(np.ones(2), np.ones(2), np.diag([1.0, -2.0]), damping=2.0)
    for bad in (dict(lr=-1.0), dict(damping=-0.1), dict(lr=float("nan"))):
        with pytest.raises(ValueError, match=next(iter(bad))):
            newton_update(np.ones(2), np.ones(2), np.eye(2), **bad)
    with pytest.raises(ValueError, match="hessian has shape"):
        newton_update(np.ones(2), np.ones(2), np.eye(3))


def test_newton_optimizer_in_minimize_converges_quadratically_and_stops_cleanly_when_singular():
    f = double_well()
    traj = minimize(f, Newton(f.hessian), start=[1.5, 0.5], steps=8)
    err = traj.distances()
    assert err[-1] < 1e-12
    ratios = err[2:5] / err[1:4] ** 2               # e_{t+1} / e_t² stays bounded: quadratic convergence
    assert np.all(ratios < 5.0)
    # x = 1/√3 makes 3x² − 1 = 0: a singular Hessian at the start
    opt = Newton(f.hessian)
    stuck = minimize(f, opt, start=[1 / np.sqrt(3), 0.0], steps=5)
    assert stuck.diverged and stuck.n_steps == 0
    assert isinstance(opt.failure, SingularHessianError) and "Newton step 1" in str(opt.failure)
    assert not minimize(f, Newton(f.hessian, damping=0.5), start=[1 / np.sqrt(3), 0.0], steps=5).diverged
    with pytest.raises(ValueError, match="hessian must be a function"):
        Newton(np.eye(2))
    with pytest.raises(ValueError, match="damping"):
        Newton(f.hessian, damping=-1.0)


# --------------------------------------------------------------------------- the double well and noise

@settings(max_examples=25, deadline=None)
@given(u=unit, v=unit, c=st.floats(0.5, 50.0))
def test_double_well_gradient_matches_finite_differences(u, v, c):
    f = double_well(c)
    (x0, x1), (y0, y1) = f.window
    p = np.array([x0 + u * (x1 - x0), y0 + v * (y1 - y0)])
    assert check_gradient(f.value, f.gradient, p, tol=1e-6, floor=1e-4 * (1 + f.value(p))).ok


def test_double_well_critical_points_and_rejects_bad_curvature():
    f = double_well(8.0)
    for m in f.minima:
        assert f.value(m) == 0 and np.allclose(f.gradient(m), 0)
    assert f.value([0.0, 0.0]) == 0.25 and np.allclose(f.hessian([0.0, 0.0]), np.diag([-1.0, 8.0]))
    with pytest.raises(ValueError, match="curvature"):
        double_well(0.0)


def test_noisy_gradient_is_seeded_unbiased_and_leaves_the_rest_alone():
    f = double_well()
    p = np.array([0.3, -0.2])
    a = NoisyGradient(f, 0.1, np.random.default_rng(3))
    b = NoisyGradient(f, 0.1, np.random.default_rng(3))
    draws = np.array([a.gradient(p) for _ in range(4000)])
    assert np.array_equal(draws[0], b.gradient(p))
    np.testing.assert_allclose(draws.mean(axis=0), f.gradient(p), atol=4 * 0.1 / np.sqrt(4000))
    np.testing.assert_allclose(draws.std(axis=0), 0.1, rtol=0.05)
    assert a.value(p) == f.value(p) and a.window == f.window and np.array_equal(a.minima, f.minima)
    assert np.array_equal(NoisyGradient(f, 0.0, np.random.default_rng(0)).gradient(p), f.gradient(p))
    with pytest.raises(ValueError, match="sigma"):
        NoisyGradient(f, -1.0, np.random.default_rng(0))
    # noise kicks GD off the ridge of the double well; without it, GD stays on x = 0 for ever
    still = minimize(f, SGD(lr=0.1), start=[0.0, 1.0], steps=300)
    kicked = minimize(NoisyGradient(f, 0.01, np.random.default_rng(0)), SGD(lr=0.1), start=[0.0, 1.0], steps=300)
    assert still.points[-1, 0] == 0.0 and abs(kicked.points[-1, 0]) > 0.9
