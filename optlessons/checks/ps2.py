"""Problem set 2: a gradient-descent loop, mini-batches, the largest stable learning rate.

Case specs (see :mod:`optlessons.checks.engine`):

* ``check_gradient_descent``: ``{"grad": "quadratic", "eigenvalues": (1, 10), "angle": 0.0,
  "x0": [1.0, 1.0] or "random", "lr": 0.05, "steps": 3}`` (a quadratic ½xᵀHx, H with those
  eigenvalues rotated by `angle` radians) or ``{"grad": "rosenbrock", "x0": ..., "lr": ...,
  "steps": ...}``; an ``x0`` of integers stays an integer array.
* ``check_minibatches``: ``{"n": 10, "d": 3, "batch_size": 4}``.
* ``check_max_stable_lr``: ``{"eigenvalues": (1, 10), "angle": 0.5236}`` (radians) or
  ``{"random": 3, "low": 0.2, "high": 5.0}`` (a random n×n SPD matrix, eigenvalues uniform).
"""

from __future__ import annotations

import numpy as np

from optlessons.checks.base import Case, CheckFailed
from optlessons.checks.compare import short
from optlessons.checks.engine import (ScalarUnpack, Variant, case_specs, run_check, spec_value,
                                      variant_mistakes)

__all__ = ["check_gradient_descent", "check_minibatches", "check_max_stable_lr",
           "GD_VISIBLE", "BATCHES_VISIBLE", "MAX_LR_VISIBLE"]


def rotated_matrix(eigenvalues, angle: float) -> np.ndarray:
    """R diag(eigenvalues) Rᵀ with R the rotation by `angle` radians (2×2)."""
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, -s], [s, c]])
    return R @ np.diag(np.asarray(eigenvalues, float)) @ R.T


class QuadraticGradient:
    """∇f(x) = A x for f(x) = ½ xᵀ A x (a module-level class: it pickles by value)."""
    __name__ = "quadratic_gradient"

    def __init__(self, A):
        self.A = np.asarray(A, float)

    def __call__(self, x):
        return self.A @ x


def rosenbrock_gradient(x):
    """∇f for Rosenbrock's f(x, y) = (1 − x)² + 100 (y − x²)²."""
    a, b = 1.0, 100.0
    return np.array([-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2),
                     2 * b * (x[1] - x[0] ** 2)])


def gd_model(grad, x0, lr, steps, *, extra_steps=0, direction=-1, use_lr=True, stale=False,
             with_start=True, same_array=False):
    """x_{t+1} = x_t − lr ∇f(x_t) from x0, the (steps + 1, 2) trajectory; the knobs make
    the mistakes (a step too many, uphill, no lr, the gradient of x0 only, x0 left out,
    every row the same array)."""
    x = np.array(x0, dtype=float)
    xs = [x]
    g0 = grad(x)
    for _ in range(steps + extra_steps):
        g = g0 if stale else grad(x)
        x = x + direction * (lr if use_lr else 1.0) * g
        xs.append(x)
    if not with_start:
        xs = xs[1:]
    if same_array:
        xs = [xs[-1]] * len(xs)
    return np.array(xs)


GD_VARIANTS = {
    "ascent": Variant("you moved along +gradient (uphill): the update is x ← x − lr·∇f(x).",
                      dict(direction=+1)),
    "nostart": Variant("the start point is missing: the trajectory begins with x0 and has "
                       "steps + 1 rows.", dict(with_start=False)),
    "extra": Variant("you made one step too many: `steps` updates give steps + 1 points "
                     "(x0 included).", dict(extra_steps=1)),
    "same": Variant("every row is the same point: you stored the same array each time and "
                    "`x -= ...` changed all of them. Use `x = x - lr * g` (a new array each step).",
                    dict(same_array=True)),
    "nolr": Variant("the learning rate is missing: x ← x − lr·∇f(x).", dict(use_lr=False)),
    "stale": Variant("the gradient is computed once, at x0; compute ∇f at the current x in "
                     "every step.", dict(stale=True)),
}

GD_VISIBLE = [dict(grad="quadratic", eigenvalues=(1.0, 10.0), angle=0.0, x0=[1.0, 1.0], lr=0.05, steps=3),
              dict(grad="quadratic", eigenvalues=(0.5, 4.0), angle=0.5, x0="random", lr=0.2, steps=10),
              dict(grad="rosenbrock", x0=[-1.0, 1.0], lr=1e-3, steps=20)]
GD_SEED = 4
GD_KEYS = {"grad", "eigenvalues", "angle", "x0", "lr", "steps"}


def _gd_cases(cases, seed):
    specs, rng = case_specs(cases, seed, GD_VISIBLE, GD_SEED, GD_KEYS)
    out = []
    for spec in specs:
        kind = spec_value(spec, "grad")
        if kind == "quadratic":
            eig, angle = tuple(spec_value(spec, "eigenvalues")), spec_value(spec, "angle", 0.0)
            grad = QuadraticGradient(rotated_matrix(eig, angle))
            label = (f"quadratic with Hessian diag{eig}" if angle == 0 else
                     f"quadratic with eigenvalues {eig} rotated by {angle:g} rad")
        elif kind == "rosenbrock":
            grad, label = rosenbrock_gradient, "Rosenbrock"
        else:
            raise ValueError(f'grad must be "quadratic" or "rosenbrock", got {kind!r}')
        x0 = spec_value(spec, "x0")
        x0 = rng.normal(size=2) if isinstance(x0, str) and x0 == "random" else np.asarray(x0)
        lr, n = spec_value(spec, "lr"), spec_value(spec, "steps")
        ints = " (integers)" if x0.dtype.kind in "iu" else ""
        out.append(Case(f"{label}, x0={np.round(x0.astype(float), 4).tolist()}{ints}, lr={lr:g}, "
                        f"steps={n}", {"grad": grad, "x0": x0, "lr": lr, "steps": n}, {}))
    return out


def _trajectory_unpack(out):
    if out is None:
        raise CheckFailed("returned None: did you forget `return np.array(trajectory)`?")
    try:
        return {"trajectory": np.asarray(out, dtype=float)}
    except (TypeError, ValueError):
        return {"trajectory": out}


def check_gradient_descent(fn, cases="visible", seed=None):
    """Check `gradient_descent(grad, x0, lr, steps) -> ndarray (steps + 1, 2)`, x0 first."""
    run_check(fn, check="check_gradient_descent", name="gradient_descent",
              what="the gradient-descent reference", cases=_gd_cases(cases, seed),
              signature="gradient_descent(grad, x0, lr, steps)", reference=gd_model,
              unpack=_trajectory_unpack, mistakes=variant_mistakes(gd_model, GD_VARIANTS),
              aliasing=False)


# --------------------------------------------------------------------------- mini-batches


def batches_model(X, y, batch_size, rng, *, shuffle=True, separate=False, drop_last=False):
    """One epoch of (X[idx], y[idx]) for slices idx of rng.permutation(n); the knobs make the
    mistakes (no shuffle, X and y shuffled apart, the last smaller batch dropped)."""
    n = len(X)
    order = rng.permutation(n) if shuffle else np.arange(n)
    order_y = rng.permutation(n) if separate else order
    stop = n - n % batch_size if drop_last else n
    return [(X[order[s:s + batch_size]], y[order_y[s:s + batch_size]]) for s in range(0, stop, batch_size)]


BATCHES_VARIANTS = {
    "noshuffle": Variant("the examples are not shuffled: take them in the order "
                         "`rng.permutation(n)` on every epoch.", dict(shuffle=False)),
    "droplast": Variant("the last, smaller batch is missing: keep it "
                        "(range(0, n, batch_size) goes up to the last example).", dict(drop_last=True)),
    "separate": Variant("X and y were shuffled with two different permutations, so the "
                        "pairs (x, y) are broken: draw one `order` and index both X and y with it.",
                        dict(separate=True)),
}

BATCHES_VISIBLE = [dict(n=10, d=3, batch_size=4), dict(n=12, d=4, batch_size=3),
                   dict(n=7, d=2, batch_size=7)]
BATCHES_SEED = 5
BATCHES_KEYS = {"n", "d", "batch_size"}


def two_epochs(fn, inputs, kwargs):
    """Call fn twice with one generator seeded kwargs["seed"]: two epochs, as lists of batches."""
    rng = np.random.default_rng(kwargs["seed"])
    epochs = []
    for _ in range(2):
        it = fn(inputs["X"], inputs["y"], inputs["batch_size"], rng)
        epochs.append(None if it is None else list(it))
    return epochs


def _batches_cases(cases, seed):
    specs, rng = case_specs(cases, seed, BATCHES_VISIBLE, BATCHES_SEED, BATCHES_KEYS)
    out = []
    for spec in specs:
        n, d, bs = spec_value(spec, "n"), spec_value(spec, "d"), spec_value(spec, "batch_size")
        X = np.arange(n * d, dtype=float).reshape(n, d) + rng.normal(size=(n, d)).round(2)
        y = np.arange(n) * 10
        s = int(rng.integers(1000))
        out.append(Case(f"{n} examples, batch_size={bs}, rng=np.random.default_rng({s}), "
                        f"two epochs (two calls)", {"X": X, "y": y, "batch_size": bs},
                        {"seed": s}, call=two_epochs))
    return out


def _batches_unpack(out):
    q = {}
    for e, epoch in enumerate(out, 1):
        if epoch is None:
            raise CheckFailed("returned None: `yield` each batch (or return a list of them)")
        q[f"epoch {e}: number of batches"] = len(epoch)
        for b, batch in enumerate(epoch, 1):
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise CheckFailed(f"gave {short(batch)} as batch {b}; yield a pair `X_batch, y_batch`")
            q[f"epoch {e}, batch {b}: X_batch"] = batch[0]
            q[f"epoch {e}, batch {b}: y_batch"] = batch[1]
    return q


def _batches_extra(case, expected, got, qname):
    X, y = case.inputs["X"], case.inputs["y"]
    epochs = []
    for e in (1, 2):
        k = got.get(f"epoch {e}: number of batches", 0)
        try:
            Xs = np.concatenate([np.asarray(got[f"epoch {e}, batch {b}: X_batch"]).reshape(-1, X.shape[1])
                                 for b in range(1, k + 1)])
            ys = np.concatenate([np.asarray(got[f"epoch {e}, batch {b}: y_batch"]).ravel()
                                 for b in range(1, k + 1)])
        except (ValueError, KeyError):
            return None
        epochs.append((Xs, ys))
    (X1, y1), (X2, y2) = epochs
    if len(X1) == len(X) and len(y1) == len(y) and np.array_equal(X1, X2) and np.array_equal(y1, y2):
        return ("Both epochs came out in the same order: draw a new order from the generator "
                "passed in on every call (`rng.permutation(n)`), don't create a new generator "
                "(or re-seed) inside the function.")
    rows = {tuple(r): i for i, r in enumerate(X)}
    idx = [rows.get(tuple(r)) for r in X1]
    if len(X1) == len(X) and None not in idx and sorted(idx) == list(range(len(X))):
        if np.array_equal(y[idx], y1):
            return ("Every example appears once per epoch and the (x, y) pairs are right, but "
                    "not in the expected order: use `order = rng.permutation(n)` with the `rng` "
                    "passed in (not np.random.*, not a generator of your own).")
    return None


def check_minibatches(fn, cases="visible", seed=None):
    """Check `minibatches(X, y, batch_size, rng)`: yields (X_batch, y_batch), one epoch per call.

    The order is `rng.permutation(n)`, drawn once per call from the generator passed
    in, so two calls with the same generator give two different epochs; the last
    batch may be smaller.
    """
    run_check(fn, check="check_minibatches", name="minibatches", what="the mini-batch reference",
              cases=_batches_cases(cases, seed), signature="minibatches(X, y, batch_size, rng)",
              reference=batches_model, unpack=_batches_unpack,
              mistakes=variant_mistakes(batches_model, BATCHES_VARIANTS), extra=_batches_extra,
              aliasing=False)


# --------------------------------------------------------------------------- the largest stable lr

MAX_LR_VISIBLE = [dict(eigenvalues=(1.0, 10.0), angle=0.0),
                  dict(eigenvalues=(1.0, 10.0), angle=np.pi / 6),
                  dict(eigenvalues=(4.0, 0.5), angle=0.0),
                  dict(random=3, low=0.2, high=5.0)]
MAX_LR_SEED = 6
MAX_LR_KEYS = {"eigenvalues", "angle", "random", "low", "high"}


def _max_lr_cases(cases, seed):
    specs, rng = case_specs(cases, seed, MAX_LR_VISIBLE, MAX_LR_SEED, MAX_LR_KEYS)
    out = []
    for spec in specs:
        if "random" in spec:
            n = spec["random"]
            Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
            lam = rng.uniform(spec_value(spec, "low"), spec_value(spec, "high"), size=n)
            label, H = f"a random {n}×{n} symmetric positive-definite matrix", Q @ np.diag(lam) @ Q.T
        else:
            eig, angle = tuple(spec_value(spec, "eigenvalues")), spec_value(spec, "angle", 0.0)
            H = rotated_matrix(eig, angle)
            label = (f"diag{eig}" if angle == 0 else
                     f"eigenvalues {eig} rotated by {np.degrees(angle):.0f}°")
        out.append(Case(f"H = {label}", {"hessian": H}, {}))
    return out


def _eig(H):
    return np.linalg.eigvalsh(np.asarray(H, float))


def max_lr_model(H, *, which="max", numerator=2.0):
    """numerator / λ of H: λ_max (the answer), or another stand-in for it (the mistakes)."""
    lam = {"max": lambda: _eig(H).max(), "min": lambda: _eig(H).min(),
           "diag": lambda: np.max(np.diag(H)), "trace": lambda: np.trace(H),
           "entry": lambda: np.max(np.abs(H))}[which]()
    return float(numerator / lam)


MAX_LR_VARIANTS = {
    "1/l": Variant("you returned 1/λ_max; gradient descent on a quadratic is stable while "
                   "|1 − lr·λ| < 1 for every eigenvalue λ, i.e. lr < 2/λ_max.", dict(numerator=1.0)),
    "lmin": Variant("you used the smallest eigenvalue; the largest one (the steepest "
                    "direction) limits the learning rate: 2/λ_max.", dict(which="min")),
    "diag": Variant("you used the largest diagonal entry of H; for a rotated quadratic the "
                    "diagonal is not the eigenvalues: use np.linalg.eigvalsh(H).max().",
                    dict(which="diag")),
    "trace": Variant("you used the trace (the sum of the eigenvalues); use the largest "
                     "eigenvalue alone.", dict(which="trace")),
    "entry": Variant("you used the largest entry of H; use its largest eigenvalue.", dict(which="entry")),
}


def check_max_stable_lr(fn, cases="visible", seed=None):
    """Check `max_stable_lr(hessian) -> float`, 2 / λ_max for gradient descent on a quadratic."""
    run_check(fn, check="check_max_stable_lr", name="max_stable_lr", what="2 / λ_max",
              cases=_max_lr_cases(cases, seed), signature="max_stable_lr(hessian)",
              reference=max_lr_model, unpack=ScalarUnpack("largest stable learning rate"),
              mistakes=variant_mistakes(max_lr_model, MAX_LR_VARIANTS))
