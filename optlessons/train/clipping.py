"""Gradient clipping by the global norm, as ``torch.nn.utils.clip_grad_norm_`` (numpy, no mutation)."""

from __future__ import annotations

import math

import numpy as np

from .. import argcheck

__all__ = ["vector_norm", "clip_grad_norm"]


def vector_norm(x, norm_type=2.0) -> float:
    """The p-norm of all the entries of `x`, p = `norm_type` (torch.linalg.vector_norm):
    (Σ |xᵢ|ᵖ)^(1/p), and max |xᵢ| for p = inf."""
    a = np.abs(np.ravel(np.asarray(x, dtype=float)))
    if norm_type == math.inf:
        return float(a.max()) if a.size else 0.0
    if norm_type == 2:
        return math.sqrt(np.vdot(a, a))
    return float(np.sum(a ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients down so that their global norm is at most `max_norm`
    (torch.nn.utils.clip_grad_norm_) -> (clipped_grads, total_norm).

    `grads` is an array or a dict name -> array (all of a model's gradients:
    the norm is taken over all of them together, never per array):

        total_norm = ‖(‖g₁‖_p, ‖g₂‖_p, …)‖_p          the p-norm of every entry, p = norm_type
        c = min(max_norm / (total_norm + 1e-6), 1)
        gᵢ = c · gᵢ

    as PyTorch computes it: the 1e-6 keeps the division finite, so a gradient
    whose norm is at most max_norm − 1e-6 is multiplied by exactly 1 (left as
    it is) and a longer one ends a hair (a relative 1e-6 / total_norm) below
    `max_norm`. The direction of the whole gradient never changes. `norm_type`
    is any p > 0 or ``math.inf`` (the largest |entry|). Returns new arrays
    (the same kind of thing as `grads`, never written into) and `total_norm`
    before clipping, a float.

    A NaN or infinite gradient makes `total_norm` NaN or inf and, as in
    PyTorch, the clipped gradients NaN: with ``error_if_nonfinite=True`` it
    raises FloatingPointError instead.
    """
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"norm_type must be a number > 0 or math.inf, got {norm_type!r}") from None
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 (or math.inf), got {norm_type!r}")
    argcheck.number(max_norm, "max_norm", 0, finite=False)
    is_dict = isinstance(grads, dict)
    arrays = {k: np.asarray(g, dtype=float) for k, g in grads.items()} if is_dict else \
        {None: np.asarray(grads, dtype=float)}
    total_norm = vector_norm([vector_norm(g, norm_type) for g in arrays.values()], norm_type)
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise FloatingPointError(f"the total norm of order {norm_type} of the gradients is {total_norm}, "
                                 "so they cannot be clipped (error_if_nonfinite=True)")
    clip_coef = max_norm / (total_norm + 1e-6)
    clip_coef_clamped = float(np.minimum(clip_coef, 1.0))        # np.minimum keeps a NaN, as torch.clamp does
    clipped = {k: np.asarray(g * clip_coef_clamped) for k, g in arrays.items()}   # asarray: 0-d stays an array
    return (clipped if is_dict else clipped[None]), total_norm
