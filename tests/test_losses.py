"""optlessons.losses: values, gradients (against finite differences), stability, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from optlessons.gradcheck import check_gradient
from optlessons.losses import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    huber,
    huber_grad,
    log_softmax,
    logsumexp,
    mae,
    mae_grad,
    mse,
    mse_grad,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
)

REDUCTIONS = ["mean", "sum"]
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
moderate = st.floats(-5.0, 5.0, allow_nan=False, width=64)


@st.composite
def pairs(draw, elements=moderate, targets=moderate):
    """(y_pred, y) of one random shape."""
    shape = draw(shapes)
    return (
        draw(hnp.arrays(np.float64, shape, elements=elements)),
        draw(hnp.arrays(np.float64, shape, elements=targets)),
    )


@st.composite
def class_problems(draw):
    """(logits (N, C), labels (N,))."""
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 5))
    logits = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-20.0, 20.0, allow_nan=False)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return logits, labels


def assert_gradient_ok(loss, grad, x, *args, **kwargs):
    # Central differences (h = 1e-6) carry a rounding error of about
    # 2e-16 * s / 1e-6 per entry, where s is the size of the numbers the loss is computed from:
    # |L|, and for the log-softmax losses the logits too (L = logsumexp(x) − x_y cancels, so
    # L ≈ 1e-7 at x = (16, 0) still rounds at 16 · 2e-16). Entries below this floor are compared
    # in absolute terms (see gradcheck.relative_error).
    floor = 1e-3 * (1.0 + abs(loss(x, *args, **kwargs)) + float(np.max(np.abs(x), initial=0.0)))
    result = check_gradient(
        lambda z: loss(z, *args, **kwargs), lambda z: grad(z, *args, **kwargs), x, tol=1e-6, floor=floor
    )
    assert result.ok, str(result)


# ---------------------------------------------------------------------- gradients


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(data=pairs())
def test_mse_gradient(reduction, data):
    y_pred, y = data
    assert_gradient_ok(mse, mse_grad, y_pred, y, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(data=pairs())
def test_mae_gradient_away_from_the_kink(reduction, data):
    y_pred, y = data
    assume(np.all(np.abs(y_pred - y) > 1e-3))  # |r| has no derivative at r = 0
    assert_gradient_ok(mae, mae_grad, y_pred, y, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(data=pairs(), delta=st.floats(0.1, 3.0))
def test_huber_gradient(reduction, data, delta):
    y_pred, y = data
    # Huber is once differentiable everywhere, but its second derivative jumps
    # at |r| = δ, which spoils the central difference right there.
    assume(np.all(np.abs(np.abs(y_pred - y) - delta) > 1e-3))
    assert_gradient_ok(huber, huber_grad, y_pred, y, delta=delta, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(data=pairs(elements=st.floats(-20.0, 20.0), targets=st.floats(0.0, 1.0)))
def test_binary_cross_entropy_gradient(reduction, data):
    logits, y = data
    assert_gradient_ok(binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad, logits, y, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=40, deadline=None)
@given(problem=class_problems())
def test_softmax_cross_entropy_gradient(reduction, problem):
    logits, labels = problem
    assert_gradient_ok(softmax_cross_entropy, softmax_cross_entropy_grad, logits, labels, reduction=reduction)


def test_gradients_have_the_shape_of_the_prediction():
    y_pred, y = np.zeros((3, 2)), np.ones((3, 2))
    for grad in (mse_grad, mae_grad, huber_grad, binary_cross_entropy_with_logits_grad):
        assert grad(y_pred, y).shape == (3, 2)
    assert softmax_cross_entropy_grad(np.zeros((4, 3)), [0, 1, 2, 0]).shape == (4, 3)


# ---------------------------------------------------------------------- values


def test_known_values():
    y_pred, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    assert mse(y_pred, y) == pytest.approx((0 + 4 + 9) / 3)
    assert mse(y_pred, y, reduction="sum") == pytest.approx(13.0)
    assert mae(y_pred, y) == pytest.approx(5 / 3)
    np.testing.assert_allclose(mse_grad(y_pred, y), 2 * (y_pred - y) / 3)
    np.testing.assert_array_equal(mae_grad(y_pred, y, reduction="sum"), [0.0, 1.0, 1.0])  # sign(0) = 0
    assert huber(y_pred, y, delta=1.0, reduction="sum") == pytest.approx(0 + 1.5 + 2.5)
    np.testing.assert_allclose(huber_grad(y_pred, y, delta=1.0, reduction="sum"), [0.0, 1.0, 1.0])
    assert binary_cross_entropy_with_logits([0.0], [1.0]) == pytest.approx(np.log(2))
    assert softmax_cross_entropy(np.zeros((2, 4)), [0, 3]) == pytest.approx(np.log(4))


@pytest.mark.parametrize("loss", [mse, mae, huber, binary_cross_entropy_with_logits])
@settings(max_examples=20, deadline=None)
@given(data=pairs(targets=st.floats(0.0, 1.0)))
def test_sum_is_n_times_mean(loss, data):
    a, b = data
    assert loss(a, b, reduction="sum") == pytest.approx(a.size * loss(a, b), rel=1e-12, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(data=pairs(elements=st.floats(-10.0, 10.0), targets=st.floats(0.0, 1.0)))
def test_binary_cross_entropy_matches_the_direct_formula(data):
    # moderate logits only: the direct formula itself loses digits in log(1 - p) as p -> 1
    z, y = data
    p = 1.0 / (1.0 + np.exp(-z))
    direct = np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert binary_cross_entropy_with_logits(z, y) == pytest.approx(direct, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(binary_cross_entropy_with_logits_grad(z, y), (p - y) / z.size, rtol=1e-9, atol=1e-15)


@settings(max_examples=50, deadline=None)
@given(problem=class_problems())
def test_softmax_cross_entropy_matches_the_direct_formula(problem):
    z, labels = problem
    n = len(labels)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    direct = -np.mean(np.log(probs[np.arange(n), labels]))
    assert softmax_cross_entropy(z, labels) == pytest.approx(direct, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(softmax(z, axis=1), probs, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(log_softmax(z), np.log(probs), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(logsumexp(z), np.log(np.exp(z).sum(axis=1)), rtol=1e-12, atol=1e-14)


@settings(max_examples=50, deadline=None)
@given(data=pairs(), delta=st.floats(0.1, 3.0))
def test_huber_is_half_mse_for_small_residuals_and_shifted_mae_for_large(data, delta):
    y_pred, y = data
    r = y_pred - y
    small = np.abs(r) <= delta
    # all residuals small: Huber = ½ MSE; all large: Huber = δ MAE − δ²/2
    if small.all():
        assert huber(y_pred, y, delta=delta) == pytest.approx(0.5 * mse(y_pred, y), rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(huber_grad(y_pred, y, delta=delta), 0.5 * mse_grad(y_pred, y), rtol=1e-12)
    if (~small).all():
        assert huber(y_pred, y, delta=delta) == pytest.approx(delta * mae(y_pred, y) - delta**2 / 2, rel=1e-12)
        np.testing.assert_allclose(huber_grad(y_pred, y, delta=delta), delta * mae_grad(y_pred, y), rtol=1e-12)
    # in general: elementwise, whichever regime each residual is in
    a = np.where(small, 0.5 * r**2, delta * np.abs(r) - delta**2 / 2)
    assert huber(y_pred, y, delta=delta) == pytest.approx(a.mean(), rel=1e-12, abs=1e-15)


def test_huber_regimes_on_fixed_values():
    y = np.zeros(4)
    small = np.array([0.1, -0.2, 0.3, 0.05])
    large = np.array([10.0, -20.0, 30.0, 40.0])
    assert huber(small, y) == pytest.approx(mse(small, y) / 2)
    assert huber(large, y) == pytest.approx(mae(large, y) - 0.5)


# ---------------------------------------------------------------------- stability


@pytest.mark.parametrize("scale", [1000.0, 1e6, 1e300])
def test_cross_entropies_are_stable_at_huge_logits(scale):
    z = np.array([[scale, -scale, 0.0], [-scale, scale, 5.0], [scale, scale, -scale]])
    labels = np.array([0, 2, 1])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        ce = softmax_cross_entropy(z, labels)
        ce_grad = softmax_cross_entropy_grad(z, labels)
        zb = np.array([scale, -scale, scale, -scale, 0.0])
        yb = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
        bce = binary_cross_entropy_with_logits(zb, yb, reduction="sum")
        bce_grad = binary_cross_entropy_with_logits_grad(zb, yb, reduction="sum")
        s = sigmoid(zb)
    # row 0: its label has the largest logit -> 0; row 1: logsumexp = scale, label logit 5;
    # row 2: two equal largest logits, the label is one of them -> log 2
    assert ce == pytest.approx((0.0 + (scale - 5.0) + np.log(2)) / 3)
    np.testing.assert_allclose(ce_grad, np.array([[0, 0, 0], [0, 1, -1], [0.5, -0.5, 0]]) / 3, atol=1e-15)
    assert bce == pytest.approx(0 + 0 + scale + scale + np.log(2))
    np.testing.assert_allclose(bce_grad, [0.0, 0.0, 1.0, -1.0, 0.0])
    np.testing.assert_array_equal(s, [1.0, 0.0, 1.0, 0.0, 0.5])
    assert np.all(np.isfinite(ce_grad)) and np.isfinite(ce) and np.isfinite(bce)


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("loss", [mse, mse_grad, mae, mae_grad, huber, huber_grad])
def test_mismatched_shapes_name_both(loss):
    with pytest.raises(ValueError, match=r"y_pred has shape \(3,\) but y has shape \(4,\): they must match"):
        loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):  # no silent broadcasting to (3, 3)
        loss(np.zeros((3, 1)), np.zeros(3))


@pytest.mark.parametrize("loss", [binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad])
def test_binary_cross_entropy_checks_shapes_and_targets(loss):
    with pytest.raises(ValueError, match=r"logits has shape \(2,\) but y has shape \(3,\)"):
        loss(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=r"\[0, 1\].*2\.0"):
        loss(np.zeros(2), np.array([0.0, 2.0]))


@pytest.mark.parametrize("loss", [softmax_cross_entropy, softmax_cross_entropy_grad])
def test_softmax_cross_entropy_checks_labels(loss):
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"0\.\.3.*labels\[1\] = 4"):
        loss(z, [0, 4, 1])
    with pytest.raises(ValueError, match=r"labels\[0\] = -1"):
        loss(z, [-1, 0, 1])
    with pytest.raises(ValueError, match=r"integer.*1\.5"):
        loss(z, [0, 1.5, 1])
    with pytest.raises(ValueError, match=r"labels has shape \(2,\) but logits has shape \(3, 4\)"):
        loss(z, [0, 1])
    with pytest.raises(ValueError, match=r"shape \(N, C\).*\(4,\)"):
        loss(np.zeros(4), [0])
    # whole numbers stored as floats are class indices too
    assert loss(z, np.array([0.0, 3.0, 1.0])) is not None


@pytest.mark.parametrize("loss", [mse, mae_grad, huber, binary_cross_entropy_with_logits_grad])
def test_unknown_reduction_is_rejected(loss):
    with pytest.raises(ValueError, match="reduction must be one of"):
        loss(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        softmax_cross_entropy(np.zeros((1, 2)), [0], reduction="none")


@pytest.mark.parametrize("delta", [0.0, -1.0, float("inf"), float("nan")])
def test_huber_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match="delta"):
        huber(np.zeros(2), np.zeros(2), delta=delta)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        mse(np.zeros(0), np.zeros(0))


def test_inputs_are_not_modified():
    y_pred, y = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    before = y_pred.copy(), y.copy()
    for f in (mse_grad, mae_grad, huber_grad):
        g = f(y_pred, y)
        g += 1.0
    np.testing.assert_array_equal(y_pred, before[0])
    np.testing.assert_array_equal(y, before[1])
