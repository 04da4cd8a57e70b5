"""optlessons.gradcheck: finite differences, relative error, and the check's report."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from optlessons.gradcheck import GradCheckResult, check_gradient, numerical_gradient, relative_error

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=6)


def make_params():
    rng = np.random.default_rng(1)
    return {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4), "W2": rng.normal(size=(4,))}


def loss(p):
    """A tiny two-layer network's mean squared error."""
    h = np.tanh(X @ p["W1"] + p["b1"])
    return float(np.mean((h @ p["W2"] - Y) ** 2))


def loss_grad(p, planted_bug=False):
    h = np.tanh(X @ p["W1"] + p["b1"])
    r = h @ p["W2"] - Y
    d_out = 2 * r / len(Y)
    d_h = np.outer(d_out, p["W2"])
    d_z = d_h * (1 - h**2)
    grads = {"W1": X.T @ d_z, "b1": d_z.sum(axis=0), "W2": h.T @ d_out}
    if planted_bug:
        grads["W1"][2, 3] *= 1.05  # a 5 % error in a single entry
    return grads


def test_numerical_gradient_of_a_quadratic_form():
    A = np.array([[2.0, 1.0], [0.0, 3.0]])
    x = np.array([0.5, -1.5])
    g = numerical_gradient(lambda v: v @ A @ v, x)
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-8)


def test_numerical_gradient_of_a_dict_has_the_same_keys_and_shapes():
    params = make_params()
    g = numerical_gradient(loss, params)
    assert set(g) == set(params)
    for k in params:
        assert g[k].shape == params[k].shape
        np.testing.assert_allclose(g[k], loss_grad(params)[k], rtol=1e-6, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=st.floats(-10, 10)),
    c=st.floats(-5, 5),
)
def test_numerical_gradient_is_exact_enough_on_polynomials(x, c):
    # f = Σ c xᵢ² + xᵢ: ∇f = 2 c x + 1; a central difference is exact on a quadratic up to rounding
    g = numerical_gradient(lambda v: np.sum(c * v**2 + v), x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, 2 * c * x + 1, rtol=1e-6, atol=1e-5 * (1 + abs(c) * np.sum(x**2)))


def test_x_is_never_modified_and_f_sees_a_copy():
    params = make_params()
    before = {k: v.copy() for k, v in params.items()}
    seen = []

    def spying_loss(p):
        seen.append(p["W1"])
        return loss(p)

    check_gradient(spying_loss, loss_grad, params)
    numerical_gradient(loss, params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    assert all(a is not params["W1"] for a in seen)

    x = np.array([1.0, 2.0])
    numerical_gradient(lambda v: float(v @ v), x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_integer_input_is_handled_as_float():
    g = numerical_gradient(lambda v: float(np.sum(v**3)), np.array([1, 2]))
    np.testing.assert_allclose(g, [3.0, 12.0], rtol=1e-6)


def test_a_correct_gradient_passes():
    result = check_gradient(loss, loss_grad, make_params())
    assert isinstance(result, GradCheckResult)
    assert result.ok
    assert result.max_relative_error < 1e-6
    assert result.n_failed == 0 and result.n_checked == 12 + 4 + 4
    assert str(result).startswith("gradient check passed")


def test_a_planted_bug_is_found_and_located():
    result = check_gradient(loss, lambda p: loss_grad(p, planted_bug=True), make_params())
    assert not result.ok
    assert result.n_failed == 1
    w = result.worst
    assert (w.name, w.index) == ("W1", (2, 3))
    assert w.label == "W1[2, 3]"
    true = loss_grad(make_params())["W1"][2, 3]
    assert w.analytic == pytest.approx(1.05 * true)
    assert w.numeric == pytest.approx(true, rel=1e-6)
    assert w.relative_error == pytest.approx(0.05 / 1.05, rel=1e-3)
    assert result.max_relative_error == w.relative_error
    report = str(result)
    assert "FAILED" in report
    assert "worst entry W1[2, 3]: analytic" in report
    assert f"numeric {w.numeric:.6g}" in report
    assert "> tol 1e-06" in report


def test_plain_array_report_names_x_and_the_index():
    A = np.arange(1.0, 7.0).reshape(2, 3)
    bug = np.zeros((2, 3))
    bug[1, 2] = 0.1

    result = check_gradient(lambda v: float(np.sum(A * v**2)), lambda v: 2 * A * v + bug, np.ones((2, 3)))
    assert not result.ok
    assert result.worst.label == "x[1, 2]"
    assert "worst entry x[1, 2]: analytic 12.1, numeric 12" in str(result)


def test_tolerance_decides():
    f = lambda v: float(np.sum(v**2))
    slightly_off = lambda v: 2 * v * (1 + 1e-4)
    x = np.array([1.0, -2.0, 3.0])
    assert not check_gradient(f, slightly_off, x, tol=1e-6).ok
    assert check_gradient(f, slightly_off, x, tol=1e-3).ok


def test_relative_error():
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    assert relative_error(0.0, 0.0) == 0.0  # the floor avoids 0 / 0
    assert relative_error(0.0, 1e-12) == pytest.approx(1e-4)  # below the floor: |a - b| / floor
    assert relative_error(0.0, 1e-12, floor=1e-12) == pytest.approx(1.0)
    assert relative_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])) == np.inf
    assert relative_error({"a": np.ones(2), "b": np.zeros(1)}, {"a": np.ones(2) * 3, "b": np.zeros(1)}) == pytest.approx(2 / 3)


def test_structure_mismatches_are_reported_with_both_shapes():
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"the gradient has shape \(3,\) but x has shape \(2,\)"):
        check_gradient(lambda v: float(v.sum()), lambda v: np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"the gradient of W1 has shape \(4, 3\) but W1 has shape \(3, 4\)"):
        check_gradient(loss, lambda p: {**loss_grad(p), "W1": loss_grad(p)["W1"].T}, make_params())
    with pytest.raises(ValueError, match=r"keys \['W1', 'W2'\] but x has keys \['W1', 'W2', 'b1'\]"):
        check_gradient(loss, lambda p: {k: v for k, v in loss_grad(p).items() if k != "b1"}, make_params())


def test_f_must_return_a_number():
    with pytest.raises(ValueError, match="single number"):
        numerical_gradient(lambda v: v**2, np.ones(3))
