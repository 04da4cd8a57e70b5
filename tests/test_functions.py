"""optlessons.functions: values, gradients and Hessians of the 2-D landscapes."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optlessons.functions import (
    LANDSCAPES,
    Landscape,
    Quadratic,
    beale,
    himmelblau,
    quadratic,
    rosenbrock,
    saddle,
    six_hump_camel,
)
from optlessons.gradcheck import check_gradient

# Every factory with its defaults, plus quadratics that exercise rotation, a
# large condition number and an off-centre minimum, and a non-default Rosenbrock.
CASES = {key: factory for key, factory in LANDSCAPES.items()}
CASES["quadratic_rotated"] = lambda: quadratic(condition_number=50.0, angle=0.7, mu=0.5, center=(1.0, -2.0))
CASES["quadratic_round"] = lambda: quadratic(condition_number=1.0)
CASES["rosenbrock_a2_b10"] = lambda: rosenbrock(a=2.0, b=10.0)

unit = st.floats(0.0, 1.0, allow_nan=False)


def point_in(f, u, v):
    """The point at fractions (u, v) of the way across f's window."""
    (xmin, xmax), (ymin, ymax) = f.window
    return np.array([xmin + u * (xmax - xmin), ymin + v * (ymax - ymin)])


def floor_for(f, p):
    # Central differences with h = 1e-6 carry a rounding error of about
    # 1e-16 * |f| / 1e-6; entries smaller than this floor are compared in
    # absolute terms (see gradcheck.relative_error).
    return 1e-4 * (1.0 + abs(float(f.value(p))))


def test_landscapes_dict_has_the_documented_keys():
    assert set(LANDSCAPES) == {"quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "six_hump_camel"}
    for key, factory in LANDSCAPES.items():
        f = factory()
        assert isinstance(f, Landscape)
        assert isinstance(f.name, str) and f.name


@pytest.mark.parametrize("key", sorted(CASES))
@settings(max_examples=25, deadline=None)
@given(u=unit, v=unit)
def test_gradient_agrees_with_finite_differences(key, u, v):
    f = CASES[key]()
    p = point_in(f, u, v)
    result = check_gradient(f.value, f.gradient, p, tol=1e-6, floor=floor_for(f, p))
    assert result.ok, str(result)


@pytest.mark.parametrize("key", sorted(CASES))
@settings(max_examples=20, deadline=None)
@given(u=unit, v=unit)
def test_hessian_agrees_with_finite_differences_of_the_gradient(key, u, v):
    f = CASES[key]()
    p = point_in(f, u, v)
    scale = 1e-4 * (1.0 + float(np.abs(f.gradient(p)).max()))
    for i in range(2):  # row i of the Hessian is the gradient of ∂f/∂p_i
        result = check_gradient(
            lambda q: f.gradient(q)[i], lambda q: f.hessian(q)[i], p, tol=1e-6, floor=scale
        )
        assert result.ok, f"Hessian row {i} at {p}: {result}"
    H = f.hessian(p)
    assert H.shape == (2, 2)
    assert H[0, 1] == H[1, 0]


@pytest.mark.parametrize("key", sorted(CASES))
def test_vectorised_evaluation_equals_point_by_point(key):
    f = CASES[key]()
    X, Y, Z = f.grid(n=7)
    P = np.stack([X, Y], axis=-1)
    assert X.shape == Y.shape == Z.shape == (7, 7)
    assert f.value(P).shape == (7, 7)
    assert f.gradient(P).shape == (7, 7, 2)
    assert f.hessian(P).shape == (7, 7, 2, 2)
    G, H = f.gradient(P), f.hessian(P)
    for i in range(7):
        for j in range(7):
            p = P[i, j]
            assert Z[i, j] == pytest.approx(f.value(p), rel=1e-12, abs=1e-12)
            np.testing.assert_allclose(G[i, j], f.gradient(p), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(H[i, j], f.hessian(p), rtol=1e-12, atol=1e-12)
    # the grid spans the window exactly
    (xmin, xmax), (ymin, ymax) = f.window
    assert (X.min(), X.max(), Y.min(), Y.max()) == (xmin, xmax, ymin, ymax)


@pytest.mark.parametrize("key", sorted(CASES))
def test_single_point_returns_a_float_and_a_2_vector(key):
    f = CASES[key]()
    assert np.ndim(f.value(f.start)) == 0
    assert isinstance(float(f.value(f.start)), float)
    assert f.gradient(f.start).shape == (2,)
    assert f(f.start) == f.value(f.start)  # calling the landscape is its value


@pytest.mark.parametrize("key", sorted(CASES))
def test_known_minima_have_zero_gradient_and_positive_definite_hessian(key):
    f = CASES[key]()
    for m in f.minima:
        g = f.gradient(m)
        scale = 1.0 + np.abs(f.hessian(m)).max()
        assert np.abs(g).max() <= 1e-12 * scale, f"{f.name}: gradient {g} at minimum {m}"
        eigenvalues = np.linalg.eigvalsh(f.hessian(m))
        assert eigenvalues.min() > 0, f"{f.name}: Hessian at {m} has eigenvalues {eigenvalues}"
        # and it really is a local minimum: every nearby point is higher
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ring = m + 1e-3 * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        assert np.all(f.value(ring) > f.value(m))


@pytest.mark.parametrize("key", sorted(CASES))
def test_start_and_minima_lie_inside_the_window(key):
    f = CASES[key]()
    (xmin, xmax), (ymin, ymax) = f.window
    assert xmin < xmax and ymin < ymax
    for p in [f.start, *f.minima]:
        assert xmin <= p[0] <= xmax and ymin <= p[1] <= ymax, f"{f.name}: {p} outside {f.window}"
    # the start is not already at a minimum
    if len(f.minima):
        assert np.linalg.norm(f.minima - f.start, axis=1).min() > 0.3


def test_start_and_minima_are_copies():
    f = rosenbrock()
    s = f.start
    s += 100.0
    m = f.minima
    m[:] = 0.0
    np.testing.assert_array_equal(f.start, [-1.5, 2.0])
    np.testing.assert_array_equal(f.minima, [[1.0, 1.0]])


def test_known_values():
    assert rosenbrock().value([-1.5, 2.0]) == pytest.approx(12.5)
    np.testing.assert_allclose(rosenbrock().gradient([-1.5, 2.0]), [-155.0, -50.0])
    assert rosenbrock(a=2.0, b=10.0).value([2.0, 4.0]) == 0.0
    assert beale().value([3.0, 0.5]) == 0.0
    assert beale().value([0.0, 1.7]) == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)  # plateau along x = 0
    np.testing.assert_allclose(himmelblau().value(himmelblau().minima), 0.0, atol=1e-24)
    assert saddle().value([1.0, 2.0]) == -3.0


@pytest.mark.parametrize(
    "kappa, angle, mu", [(1.0, 0.0, 1.0), (10.0, 0.0, 1.0), (100.0, 0.3, 0.1), (1e4, -1.2, 2.0), (3.5, math.pi / 2, 1.0)]
)
def test_quadratic_has_the_asked_condition_number_and_eigenvalues(kappa, angle, mu):
    f = quadratic(condition_number=kappa, angle=angle, mu=mu)
    assert isinstance(f, Quadratic)
    H = f.hessian(f.start)
    np.testing.assert_allclose(H, f.matrix, rtol=0, atol=0)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [mu, kappa * mu], rtol=1e-12)
    np.testing.assert_allclose(f.eigenvalues, [mu, kappa * mu])
    assert f.mu == mu and f.L == pytest.approx(kappa * mu)
    assert np.linalg.cond(H) == pytest.approx(kappa, rel=1e-9)
    # the flat direction (curvature mu) points along the angle
    flat = np.array([math.cos(angle), math.sin(angle)])
    np.testing.assert_allclose(H @ flat, mu * flat, atol=1e-9 * kappa * mu)
    # the Hessian is the same everywhere
    np.testing.assert_allclose(f.hessian([3.0, -1.0]), H)


def test_quadratic_minimum_is_its_centre_and_value_is_the_formula():
    f = quadratic(condition_number=4.0, angle=0.5, center=(1.0, 2.0))
    np.testing.assert_array_equal(f.minima, [[1.0, 2.0]])
    assert f.value([1.0, 2.0]) == 0.0
    p = np.array([0.3, -0.4])
    d = p - [1.0, 2.0]
    assert f.value(p) == pytest.approx(0.5 * d @ f.matrix @ d)
    np.testing.assert_allclose(f.gradient(p), f.matrix @ d)


def test_quadratic_rotation_rotates_the_start():
    a = quadratic(angle=0.0)
    b = quadratic(angle=0.9)
    assert a.value(a.start) == pytest.approx(b.value(b.start))
    assert np.linalg.norm(a.start) == pytest.approx(np.linalg.norm(b.start))


@pytest.mark.parametrize("kwargs", [{"condition_number": 0.5}, {"condition_number": float("nan")}, {"mu": 0.0}, {"mu": -1.0}])
def test_quadratic_rejects_bad_parameters(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        quadratic(**kwargs)


def test_himmelblau_has_four_distinct_minima_all_at_zero():
    f = himmelblau()
    m = f.minima
    assert m.shape == (4, 2)
    assert len({tuple(np.round(p, 3)) for p in m}) == 4
    assert np.all(np.abs(f.value(m)) < 1e-20)


def test_saddle_has_no_minimum_and_an_indefinite_hessian_at_the_origin():
    f = saddle()
    assert f.minima.shape == (0, 2)
    np.testing.assert_array_equal(f.gradient([0.0, 0.0]), [0.0, 0.0])
    eig = np.linalg.eigvalsh(f.hessian([0.0, 0.0]))
    assert eig.min() < 0 < eig.max()
    # the start is near the ridge, on the side that slides towards the saddle
    assert abs(f.start[1]) < 0.1 and f.start[0] < -1


def test_six_hump_camel_has_minima_of_three_depths_deepest_first():
    f = six_hump_camel()
    values = f.value(f.minima)
    assert f.minima.shape == (6, 2)
    assert np.all(np.diff(values) >= -1e-12)
    np.testing.assert_allclose(np.unique(np.round(values, 6)), [-1.031628, -0.215464, 2.10425])
    assert values[0] == pytest.approx(-1.0316284534898774, abs=1e-13)


def test_bad_point_shapes_raise():
    f = rosenbrock()
    for bad in [1.0, [1.0, 2.0, 3.0], np.zeros((4, 3))]:
        with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
            f.value(bad)
