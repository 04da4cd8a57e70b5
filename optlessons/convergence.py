"""How fast a run converges: measured, and in theory for momentum on a quadratic.

``measured_rate`` reads the average contraction per step off a run's distances to the
minimum; ``MomentumTheory`` gives the optimal (η, β) and the stability edge of SGD with
momentum on a quadratic; ``momentum_rate_map`` measures the rate over a grid of (lr, β).
numpy only (the maths layer): notebook 05's widget draws these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .functions import escaped

__all__ = ["RATE_FLOOR", "measured_rate", "MomentumTheory", "RateMap", "momentum_rate_map"]

#: A run that gets this close to the minimum (relative to where it started) has converged to
#: rounding error; its rate is measured up to that step (later steps would only measure noise).
RATE_FLOOR = 1e-12


def measured_rate(distances, floor=RATE_FLOOR):
    """The average contraction per step, ρ = (‖θ_k − θ*‖ / ‖θ_0 − θ*‖)^(1/k).

    ``distances``: ‖θ_t − θ*‖ for t = 0 … n (``Trajectory.distances()``). k is n, or the first
    step at which the distance fell below ``floor`` × the first one. ρ < 1 converges (lower is
    faster: the error shrinks by a factor ρ per step on average), ρ ≥ 1 makes no progress.
    """
    d = np.asarray(distances, dtype=float)
    if len(d) < 2 or not d[0] > 0:
        return float("nan")
    below = np.flatnonzero(d[1:] <= floor * d[0])
    k = int(below[0]) + 1 if below.size else len(d) - 1
    return float((max(d[k], 1e-300) / d[0]) ** (1.0 / k))


@dataclass(frozen=True)
class MomentumTheory:
    """The optimal (η, β) and the stability edge of SGD with momentum on a quadratic.

    Heavy ball (PyTorch's ``SGD(momentum=β)``), curvatures λ_min ≤ λ ≤ λ_max, κ = λ_max/λ_min:
    η* = 4/(√λ_max + √λ_min)², β* = ((√κ − 1)/(√κ + 1))², rate √β* = (√κ − 1)/(√κ + 1); stable for
    every λ while η λ_max < 2 + 2β. Nesterov (``nesterov=True``): η* = 4/(3λ_max + λ_min),
    β* = (√(3κ + 1) − 2)/(√(3κ + 1) + 2), rate 1 − 2/√(3κ + 1) (Lessard, Recht & Packard 2016);
    stable while η λ_max < (2 + 2β)/(1 + 2β). (Fields ``mu`` and ``L`` hold λ_min and λ_max.)
    """
    lr: float           # η*
    momentum: float     # β*
    rate: float         # the best rate per step, at (η*, β*)
    mu: float           # λ_min
    L: float            # λ_max
    nesterov: bool

    @classmethod
    def of(cls, landscape, nesterov=False):
        """The theory for ``landscape`` if it is a quadratic (has ``mu`` and ``L``), else None."""
        mu, L = getattr(landscape, "mu", None), getattr(landscape, "L", None)
        if mu is None or L is None or not 0 < mu <= L:
            return None
        kappa = L / mu
        if nesterov:
            s = np.sqrt(3 * kappa + 1)
            return cls(4 / (3 * L + mu), (s - 2) / (s + 2), 1 - 2 / s, mu, L, True)
        r = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
        return cls(4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, r ** 2, r, mu, L, False)

    def edge_lr(self, beta):
        """The largest stable η for momentum β: (2 + 2β)/λ_max, or (2 + 2β)/((1 + 2β) λ_max) for Nesterov."""
        beta = np.asarray(beta, dtype=float)
        return (2 + 2 * beta) / ((1 + 2 * beta) * self.L if self.nesterov else self.L)

    @property
    def edge_label(self):
        return ("stability edge ηλ$_{max}$ = (2 + 2β)/(1 + 2β)" if self.nesterov
                else "stability edge ηλ$_{max}$ = 2 + 2β")


@dataclass(frozen=True)
class RateMap:
    """The measured rate per step of SGD with momentum over a grid of (lr, β) (see ``measured_rate``)."""
    lrs: np.ndarray
    betas: np.ndarray
    rate: np.ndarray          # (len(betas), len(lrs)): ρ per step; NaN where the run diverged
    diverged: np.ndarray      # (len(betas), len(lrs)) bool: the run left the window or blew up
    steps: int
    nesterov: bool = False
    theory: MomentumTheory | None = None    # on a quadratic: (η*, β*) and the stability edge

    @property
    def best(self):
        """(lr, β, rate) of the fastest cell."""
        i, j = np.unravel_index(np.nanargmin(self.rate), self.rate.shape)
        return float(self.lrs[j]), float(self.betas[i]), float(self.rate[i, j])


_RATE_MAPS: dict = {}


def momentum_rate_map(landscape, key, steps, lr_range=(-4, 0), n_lr=48, n_beta=40, nesterov=False):
    """The (lr, β) rate map for ``landscape``, computed once per (key, steps, nesterov) and cached.

    All grid points run at once (numpy over the grid) with PyTorch's SGD momentum, dampening 0:
    b = β b + g (b₁ = g), then θ = θ − lr b (heavy ball) or θ = θ − lr (g + β b) (Nesterov).
    A run diverges where ``minimize`` says so (not finite, or escaped: ``functions.escaped``).
    The rate is ``measured_rate`` of the distance to the landscape's nearest minimum.
    """
    cache_key = (key, steps, bool(nesterov), lr_range, n_lr, n_beta)
    if cache_key in _RATE_MAPS:
        return _RATE_MAPS[cache_key]
    minima = np.asarray(landscape.minima, dtype=float).reshape(-1, 2)
    if not len(minima):
        raise ValueError(f"{landscape.name} has no known minimum to measure a rate to")
    lrs = np.logspace(*lr_range, n_lr)
    betas = np.linspace(0.0, 0.99, n_beta)
    LR, B = np.meshgrid(lrs, betas)
    LR, B = LR[..., None], B[..., None]
    window = getattr(landscape, "window", None)

    def dist(p):
        return np.sqrt(((p[..., None, :] - minima) ** 2).sum(axis=-1)).min(axis=-1)

    p = np.broadcast_to(np.asarray(landscape.start, dtype=float), LR.shape[:2] + (2,)).copy()
    d0 = float(dist(p[0, 0]))
    d_at = np.full(LR.shape[:2], np.nan)               # distance when the rate is read
    k_at = np.full(LR.shape[:2], steps)                # ... and at which step
    done = np.zeros(LR.shape[:2], dtype=bool)          # reached the floor: rate fixed
    diverged = np.zeros(LR.shape[:2], dtype=bool)
    buf = None
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = landscape.gradient(p)
            diverged |= ~np.all(np.isfinite(g), axis=-1)
            buf = g.copy() if buf is None else B * buf + g
            p = p - LR * (g + B * buf if nesterov else buf)
            out = ~np.all(np.isfinite(p), axis=-1)
            if window is not None:
                out |= escaped(p, window)
            diverged |= out
            d = dist(p)
            newly = ~done & ~diverged & (d <= RATE_FLOOR * d0)
            d_at[newly], k_at[newly] = d[newly], t
            done |= newly
            # a finished or diverged run sits at the start from now on: no overflow, no warnings
            frozen = (done | diverged)[..., None]
            p = np.where(frozen, landscape.start, p)
            buf = np.where(frozen, 0.0, buf)
        last = ~done & ~diverged
        d_at[last] = dist(p)[last]
        rate = np.where(diverged, np.nan, (np.maximum(d_at, 1e-300) / d0) ** (1.0 / k_at))
    _RATE_MAPS[cache_key] = RateMap(lrs, betas, rate, diverged, steps, bool(nesterov),
                                    MomentumTheory.of(landscape, nesterov))
    return _RATE_MAPS[cache_key]
