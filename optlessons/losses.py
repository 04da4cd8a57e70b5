"""Loss functions and their gradients.

Every loss ``L`` comes as a pair: ``mse(y_pred, y)`` returns the number,
``mse_grad(y_pred, y)`` returns ∂L/∂y_pred, an array shaped like ``y_pred``.

==================================  ===============================  ==========================
loss                                per element ℓ                    ∂ℓ/∂(first argument)
==================================  ===============================  ==========================
``mse``                             (ŷ − y)²                         2 (ŷ − y)
``mae``                             |ŷ − y|                          sign(ŷ − y)   (0 at ŷ = y)
``huber`` (δ = ``delta``)           ½ r² if |r| ≤ δ,                 r if |r| ≤ δ,
                                    δ (|r| − ½δ) otherwise           δ sign(r) otherwise
``binary_cross_entropy_with_logits``  log(1 + eᶻ) − y z              σ(z) − y
``softmax_cross_entropy``           log Σⱼ e^{zⱼ} − z_label          softmax(z) − onehot(label)
==================================  ===============================  ==========================

``reduction="mean"`` (the default) averages ℓ over all elements (for the
softmax cross-entropy: over the N rows of the batch), so the gradient is
divided by that count too; ``reduction="sum"`` adds them up. The conventions
are PyTorch's (``nn.MSELoss``, ``nn.L1Loss``, ``nn.HuberLoss``,
``nn.BCEWithLogitsLoss``, ``nn.CrossEntropyLoss``), so the numbers agree.

The cross-entropies take *logits* (unnormalised scores), not probabilities,
and are computed stably: no overflow, no warning, no NaN even at logits of
±1000.
"""

from __future__ import annotations

import numpy as np

from . import argcheck

__all__ = [
    "mse",
    "mse_grad",
    "mae",
    "mae_grad",
    "huber",
    "huber_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "sigmoid",
    "softmax",
    "log_softmax",
    "logsumexp",
]

REDUCTIONS = ("mean", "sum")


# --------------------------------------------------------------------------- helpers


def _as_same_shape(y_pred, y, names=("y_pred", "y")) -> tuple[np.ndarray, np.ndarray]:
    """Both arguments as float arrays; ValueError naming both shapes if they differ."""
    a = np.asarray(y_pred, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}: they must match")
    if a.size == 0:
        raise ValueError(f"{names[0]} is empty (shape {a.shape}): a loss needs at least one element")
    return a, b


def _scale(count: int, reduction: str) -> float:
    """The factor in front of the sum: 1/count for "mean", 1 for "sum"."""
    if reduction == "mean":
        return 1.0 / count
    if reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_probabilities(y: np.ndarray, name: str = "y") -> None:
    if not np.all((y >= 0) & (y <= 1)):
        bad = y[~((y >= 0) & (y <= 1))][0].item()
        raise ValueError(f"{name} must hold targets in [0, 1] (e.g. 0/1 labels), found {bad!r}")


# --------------------------------------------------------------------------- stable building blocks


def sigmoid(z) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{−z}), computed without overflow for any z.

    For z ≥ 0 it uses 1 / (1 + e^{−z}); for z < 0 the equal e^{z} / (1 + e^{z}),
    so the exponent is never positive.
    """
    z = np.asarray(z, dtype=float)
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))  # e^{−|z|} ∈ (0, 1]: cannot overflow
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logsumexp(z, axis: int = -1) -> np.ndarray:
    """log Σⱼ e^{zⱼ} along ``axis``, as m + log Σⱼ e^{zⱼ − m} with m = maxⱼ zⱼ (no overflow)."""
    z = np.asarray(z, dtype=float)
    m = z.max(axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        s = np.exp(z - m).sum(axis=axis, keepdims=True)  # ≥ 1: the max term is e⁰
    return (m + np.log(s)).squeeze(axis=axis)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log softmax(z) = z − logsumexp(z), stable."""
    z = np.asarray(z, dtype=float)
    return z - np.expand_dims(logsumexp(z, axis=axis), axis)


def softmax(z, axis: int = -1) -> np.ndarray:
    """softmax(z)ⱼ = e^{zⱼ} / Σₖ e^{zₖ}, computed as e^{zⱼ − m} / Σₖ e^{zₖ − m} (no overflow)."""
    z = np.asarray(z, dtype=float)
    with np.errstate(under="ignore"):
        e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------- regression losses


def mse(y_pred, y, reduction: str = "mean") -> float:
    """Mean squared error: L = (1/n) Σᵢ (ŷᵢ − yᵢ)².

    ``y_pred`` (ŷ) and ``y`` have the same shape (any); n is their number of
    elements (``reduction="sum"`` drops the 1/n). Gradient: :func:`mse_grad`.
    """
    y_pred, y = _as_same_shape(y_pred, y)
    return float(_scale(y.size, reduction) * np.sum((y_pred - y) ** 2))


def mse_grad(y_pred, y, reduction: str = "mean") -> np.ndarray:
    """∂L/∂ŷ of :func:`mse`: (2/n) (ŷ − y), shaped like ``y_pred``."""
    y_pred, y = _as_same_shape(y_pred, y)
    return _scale(y.size, reduction) * 2.0 * (y_pred - y)


def mae(y_pred, y, reduction: str = "mean") -> float:
    """Mean absolute error: L = (1/n) Σᵢ |ŷᵢ − yᵢ|.

    Same shapes as :func:`mse`. Gradient: :func:`mae_grad`.
    """
    y_pred, y = _as_same_shape(y_pred, y)
    return float(_scale(y.size, reduction) * np.sum(np.abs(y_pred - y)))


def mae_grad(y_pred, y, reduction: str = "mean") -> np.ndarray:
    """∂L/∂ŷ of :func:`mae`: (1/n) sign(ŷ − y), shaped like ``y_pred``.

    |r| has no derivative at r = 0; like PyTorch we use sign(0) = 0 there
    (a valid subgradient: any value in [−1, 1] would be).
    """
    y_pred, y = _as_same_shape(y_pred, y)
    return _scale(y.size, reduction) * np.sign(y_pred - y)


def huber(y_pred, y, delta: float = 1.0, reduction: str = "mean") -> float:
    """Huber loss: L = (1/n) Σᵢ ℓ(ŷᵢ − yᵢ), with residual r = ŷ − y and

        ℓ(r) = ½ r²              if |r| ≤ δ
        ℓ(r) = δ (|r| − ½ δ)     otherwise

    Quadratic (= half the squared error) for small residuals, linear (δ times
    the absolute error, minus ½δ²) for large ones, so outliers pull less than
    in :func:`mse`. ``delta`` (δ) > 0. This is PyTorch's ``HuberLoss``.
    Gradient: :func:`huber_grad`.
    """
    delta = argcheck.positive(delta, "delta")
    y_pred, y = _as_same_shape(y_pred, y)
    r = y_pred - y
    small = np.abs(r) <= delta
    loss = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    return float(_scale(y.size, reduction) * np.sum(loss))


def huber_grad(y_pred, y, delta: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """∂L/∂ŷ of :func:`huber`: (1/n) × (r if |r| ≤ δ, else δ sign(r)), i.e. r clipped to [−δ, δ]."""
    delta = argcheck.positive(delta, "delta")
    y_pred, y = _as_same_shape(y_pred, y)
    r = y_pred - y
    return _scale(y.size, reduction) * np.where(np.abs(r) <= delta, r, delta * np.sign(r))


# --------------------------------------------------------------------------- classification losses


def binary_cross_entropy_with_logits(logits, y, reduction: str = "mean") -> float:
    """Binary cross-entropy of targets ``y`` ∈ [0, 1] given logits z (p = σ(z)):

        ℓ = −[y log σ(z) + (1 − y) log(1 − σ(z))] = log(1 + eᶻ) − y z

    computed as max(z, 0) + log(1 + e^{−|z|}) − y z, which never overflows.
    ``logits`` and ``y`` have the same shape; L averages ℓ over all elements.
    Gradient: :func:`binary_cross_entropy_with_logits_grad`.
    """
    z, y = _as_same_shape(logits, y, names=("logits", "y"))
    _check_probabilities(y)
    with np.errstate(under="ignore"):
        softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))  # log(1 + eᶻ)
    return float(_scale(y.size, reduction) * np.sum(softplus - y * z))


def binary_cross_entropy_with_logits_grad(logits, y, reduction: str = "mean") -> np.ndarray:
    """∂L/∂z of :func:`binary_cross_entropy_with_logits`: (1/n) (σ(z) − y), shaped like ``logits``."""
    z, y = _as_same_shape(logits, y, names=("logits", "y"))
    _check_probabilities(y)
    return _scale(y.size, reduction) * (sigmoid(z) - y)


def _check_class_problem(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    """logits as a float (N, C) array and labels as an int (N,) array of class indices."""
    z = np.asarray(logits, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"logits must have shape (N, C) (one row of class scores per example), got shape {z.shape}")
    n, c = z.shape
    if n == 0 or c == 0:
        raise ValueError(f"logits is empty (shape {z.shape}): need at least one example and one class")
    raw = np.asarray(labels)
    if raw.shape != (n,):
        raise ValueError(f"labels has shape {raw.shape} but logits has shape {z.shape}: labels must have shape ({n},)")
    if raw.dtype.kind in "iu":
        labels = raw.astype(np.intp, copy=False)  # only read (as indices): no copy of intp labels
    elif raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
        labels = raw.astype(np.intp)  # whole numbers stored as floats are accepted
    else:
        bad = raw[0] if raw.dtype.kind not in "f" else raw[~(np.isfinite(raw) & (raw == np.round(raw)))][0]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise ValueError(f"labels must be integer class indices 0..{c - 1}, found {bad!r} (dtype {raw.dtype})")
    if labels.min() < 0 or labels.max() >= c:        # two reductions; where, only when one is out
        i = int(np.flatnonzero((labels < 0) | (labels >= c))[0])
        raise ValueError(f"labels must lie in 0..{c - 1} (logits has {c} classes), found labels[{i}] = {labels[i]}")
    return z, labels


def softmax_cross_entropy(logits, labels, reduction: str = "mean") -> float:
    """Cross-entropy of integer class labels given logits z of shape (N, C):

        ℓᵢ = −log softmax(zᵢ)[labelᵢ] = log Σⱼ e^{zᵢⱼ} − zᵢ,labelᵢ

    with the log-sum-exp computed stably (no overflow at any logits).
    ``labels`` has shape (N,), values in 0..C−1 (ints, or floats that are
    whole numbers). L averages over the N examples (PyTorch's
    ``CrossEntropyLoss``). Gradient: :func:`softmax_cross_entropy_grad`.
    """
    z, labels = _check_class_problem(logits, labels)
    n = len(labels)
    losses = logsumexp(z, axis=1) - z[np.arange(n), labels]
    return float(_scale(n, reduction) * losses.sum())


def softmax_cross_entropy_grad(logits, labels, reduction: str = "mean") -> np.ndarray:
    """∂L/∂z of :func:`softmax_cross_entropy`: (1/N) (softmax(z) − onehot(labels)), shape (N, C)."""
    z, labels = _check_class_problem(logits, labels)
    n = len(labels)
    onehot = np.zeros_like(z)
    onehot[np.arange(n), labels] = 1.0
    return _scale(n, reduction) * (softmax(z, axis=1) - onehot)
