"""Curvature: Hessians by finite differences, the signs of their eigenvalues, Newton's method.

Notebook 09 ("beyond the bowl") builds these; numpy only. Parameters are flat
arrays θ of shape (d,); ``gradient`` is a function θ ↦ ∇L(θ) of shape (d,).

    hessian_vector_product(gradient, θ, v)   Hv ≈ (∇L(θ + h v) − ∇L(θ − h v)) / (2h)
    numerical_hessian(gradient, θ)           H[:, j] = H eⱼ, then symmetrised ½(H + Hᵀ)
    eigenvalue_signs(H)                      how many λᵢ < 0, ≈ 0, > 0
    critical_point_kind(H)                   "minimum", "maximum", "saddle" or "degenerate"
    newton_update(θ, g, H, lr=1, damping=0)  θ − η (H + δI)⁻¹ g
    Newton(hessian, lr=1, damping=0)         the same as an optimizer with ``step(params, grads)``

Newton's step solves the local quadratic model
L(θ + Δ) ≈ L(θ) + gᵀΔ + ½ ΔᵀHΔ for its critical point, HΔ = −g: it jumps to
a minimum of a convex quadratic in one step, and to a *saddle* of an
indefinite one (it looks for ∇L = 0, whatever the curvature's sign). The
"saddle-free" variant (Dauphin et al. 2014) uses |H| = Q|Λ|Qᵀ instead of H,
so it always steps downhill.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import argcheck

__all__ = [
    "hessian_vector_product",
    "numerical_hessian",
    "EigenvalueSigns",
    "eigenvalue_signs",
    "critical_point_kind",
    "newton_update",
    "Newton",
    "SingularHessianError",
    "SINGULAR_CONDITION",
]

#: A matrix whose condition number λ_max/λ_min (in absolute value) exceeds this is
#: treated as singular by :func:`newton_update`: solving with it would lose all
#: but about 4 of the 16 significant digits.
SINGULAR_CONDITION = 1e12


class SingularHessianError(ValueError, FloatingPointError):
    """Newton's step is undefined: H + δI is singular. A ValueError (the input cannot be used) and a
    FloatingPointError, so that ``optlessons.train.minimize`` ends a Newton run there, keeping its path."""


def _flat_point(theta, name="theta") -> np.ndarray:
    theta = np.array(theta, dtype=float)  # a copy: perturbations never touch the caller's array
    if theta.ndim != 1 or theta.size == 0:
        raise ValueError(f"{name} must be a flat array of shape (d,), got shape {theta.shape}")
    return theta


def hessian_vector_product(gradient: Callable, theta, v, h: float = 1e-5) -> np.ndarray:
    """H v by a central difference of the gradient along v.

        H v ≈ (∇L(θ + h v) − ∇L(θ − h v)) / (2h),   error O(h²) (plus rounding ~ ε_mach·|∇L|/h)

    Two gradient evaluations, whatever the dimension d: this is how one probes
    the curvature of a large network without ever forming H.
    """
    theta = _flat_point(theta)
    v = np.asarray(v, dtype=float)
    if v.shape != theta.shape:
        raise ValueError(f"v has shape {v.shape} but theta has shape {theta.shape}; they must be the same")
    h = argcheck.positive(h, "h")
    g_plus = np.asarray(gradient(theta + h * v), dtype=float)
    g_minus = np.asarray(gradient(theta - h * v), dtype=float)
    if g_plus.shape != theta.shape:
        raise ValueError(f"gradient returned shape {g_plus.shape} for a point of shape {theta.shape}")
    return (g_plus - g_minus) / (2 * h)


def numerical_hessian(gradient: Callable, theta, h: float = 1e-5) -> np.ndarray:
    """The Hessian H = ∇²L(θ), shape (d, d), from finite differences of the gradient.

    Column j is the Hessian-vector product with the unit vector eⱼ,

        H[:, j] ≈ (∇L(θ + h eⱼ) − ∇L(θ − h eⱼ)) / (2h),

    (2d gradient evaluations), and the result is symmetrised, ½(H + Hᵀ), as the
    true Hessian of a smooth L is symmetric.
    """
    theta = _flat_point(theta)
    eye = np.eye(theta.size)
    H = np.column_stack([hessian_vector_product(gradient, theta, eye[j], h) for j in range(theta.size)])
    return (H + H.T) / 2


class EigenvalueSigns(NamedTuple):
    """How many eigenvalues of a symmetric matrix are negative, (near) zero and positive."""
    negative: int
    zero: int
    positive: int

    @property
    def index(self) -> float:
        """The fraction of eigenvalues that are negative: a critical point's index (0 at a minimum, 1 at a maximum)."""
        return self.negative / (self.negative + self.zero + self.positive)


def _symmetric(H, name="H") -> np.ndarray:
    H = np.asarray(H, dtype=float)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
        raise ValueError(f"{name} must be a square matrix, got shape {H.shape}")
    if not np.isfinite(H).all():
        raise ValueError(f"{name} holds a NaN or an infinity")
    if np.array_equal(H, H.T):
        return H
    if not np.allclose(H, H.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(H).max()))):
        raise ValueError(f"{name} must be symmetric (a Hessian is); symmetrise it with (H + H.T) / 2")
    return (H + H.T) / 2


def eigenvalue_signs(H, tol: float = 1e-8) -> EigenvalueSigns:
    """Count the eigenvalues λᵢ of the symmetric matrix H: λᵢ < −tol, |λᵢ| ≤ tol, λᵢ > tol.

    At a critical point (∇L = 0) all positive means a minimum, all negative a
    maximum, both signs a saddle. ``tol`` ≥ 0 is absolute: pick it above the
    error of the Hessian (finite differences give about 1e-6 relative).
    """
    argcheck.number(tol, "tol", 0)
    lam = np.linalg.eigvalsh(_symmetric(H))
    negative = int(np.sum(lam < -tol))
    positive = int(np.sum(lam > tol))
    return EigenvalueSigns(negative, lam.size - negative - positive, positive)


def critical_point_kind(H, tol: float = 1e-8) -> str:
    """What a critical point with Hessian H is: "minimum" (every λᵢ > tol), "maximum" (every λᵢ < −tol),
    "saddle" (some of each sign) or "degenerate" (no negative ones but some |λᵢ| ≤ tol, or the other way:
    the second derivatives cannot tell)."""
    s = eigenvalue_signs(H, tol)
    if s.negative and s.positive:
        return "saddle"
    if s.zero:
        return "degenerate"
    return "minimum" if s.positive else "maximum"


def newton_update(param, grad, hessian, *, lr: float = 1.0, damping: float = 0.0,
                  saddle_free: bool = False) -> np.ndarray:
    """One (damped) Newton step; a pure function (returns a new array).

        θ_new = θ − η (H + δ I)⁻¹ g          η = ``lr``, δ = ``damping``, g = ``grad``, H = ``hessian``

    With η = 1 and δ = 0 this jumps to the critical point of the quadratic model
    L(θ) + gᵀΔ + ½ ΔᵀHΔ; on a quadratic loss that is its exact critical point
    (the minimum if H is positive definite — and a saddle if H is indefinite).
    δ > 0 (Levenberg–Marquardt damping) shortens the step and blends it towards
    gradient descent with rate η/δ when δ ≫ |λᵢ|. ``saddle_free=True`` replaces
    H by |H| = Q|Λ|Qᵀ (each eigenvalue by its absolute value), so the step goes
    downhill along negative curvature instead of uphill to the saddle.

    Raises :class:`SingularHessianError` (a ValueError) when H + δI is singular (condition number above
    ``SINGULAR_CONDITION``): there the step is undefined or arbitrarily long;
    use ``damping > 0``.
    """
    argcheck.number(lr, "lr", 0)
    argcheck.number(damping, "damping", 0)
    param = _flat_point(param, "param")
    grad = np.asarray(grad, dtype=float)
    if grad.shape != param.shape:
        raise ValueError(f"grad has shape {grad.shape} but param has shape {param.shape}; they must be the same")
    H = _symmetric(hessian, "hessian")
    if H.shape != (param.size, param.size):
        raise ValueError(f"hessian has shape {H.shape} but param has {param.size} entries: "
                         f"it must be ({param.size}, {param.size})")
    lam, Q = np.linalg.eigh(H)
    if saddle_free:
        lam = np.abs(lam)
    lam = lam + damping
    smallest = np.min(np.abs(lam))
    if smallest == 0 or np.max(np.abs(lam)) / smallest > SINGULAR_CONDITION:
        remedy = ("use damping > 0" if not damping else
                  f"change the damping: δ = {damping:g} cancels a curvature of −{damping:g} here")
        raise SingularHessianError(
            f"the Hessian{' + damping·I' if damping else ''} is singular (eigenvalues from {lam.min():.3g} "
            f"to {lam.max():.3g}): Newton's step (H + δI)⁻¹g is undefined here; {remedy}")
    step = Q @ ((Q.T @ grad) / lam)          # (H + δI)⁻¹ g through the eigendecomposition H = QΛQᵀ
    return param - lr * step


class Newton:
    """Newton's method as an optimizer: ``params = opt.step(params, grads)``, like ``optlessons.optim``.

    ``hessian`` is a function θ ↦ H(θ) of shape (d, d) (for a 2-D landscape,
    ``landscape.hessian``); each step evaluates it at the current point and calls
    :func:`newton_update` with ``lr`` (η), ``damping`` (δ) and ``saddle_free``.
    A singular Hessian raises :class:`SingularHessianError` naming the step, the point and the
    remedy (``minimize`` then ends the run there); the error is also kept in ``failure``.
    """

    def __init__(self, hessian: Callable, lr: float = 1.0, damping: float = 0.0, saddle_free: bool = False):
        if not callable(hessian):
            raise ValueError(f"hessian must be a function θ -> H(θ), got {type(hessian).__name__}")
        self.hessian = hessian
        self.lr = argcheck.number(lr, "lr", 0)
        self.damping = argcheck.number(damping, "damping", 0)
        self.saddle_free = bool(saddle_free)
        self.steps = 0
        self.failure: SingularHessianError | None = None

    def step(self, params, grads) -> np.ndarray:
        """θ − η (H(θ) + δI)⁻¹ g, a new array (``params`` is not written into)."""
        params = _flat_point(params, "params")
        try:
            new = newton_update(params, grads, self.hessian(params), lr=self.lr, damping=self.damping,
                                saddle_free=self.saddle_free)
        except SingularHessianError as err:
            self.failure = SingularHessianError(
                f"Newton step {self.steps + 1} at {np.array2string(params, precision=4)}: {err}")
            raise self.failure from None
        self.steps += 1
        return new

    def __repr__(self):
        return f"Newton(lr={self.lr!r}, damping={self.damping!r}, saddle_free={self.saddle_free!r})"
