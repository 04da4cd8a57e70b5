"""Problem set 1: losses (value and gradient) and a finite-difference gradient.

Case specs (see :mod:`optlessons.checks.engine`):

* ``check_mse`` / ``check_mse_grad``: ``{"y_pred": [...], "y": [...]}`` or
  ``{"shape": (6, 2)}`` (both drawn from the normal distribution).
* ``check_softmax_cross_entropy`` / ``_grad``: ``{"logits": [[...]], "labels": [...]}`` or
  ``{"n": 5, "k": 3, "scale": 1.0, "offset": 0.0}``: logits = offset + scale·N(0, 1) of
  shape (n, k), labels uniform in 0 … k − 1.
* ``check_numerical_gradient``: ``{"f": "cubic" | "mixed" | "softmax_loss", "x": [...] or
  "shape": (2, 3), "h": 1e-3}``; an ``x`` of integers stays an integer array.
"""

from __future__ import annotations

import numpy as np

from optlessons.checks.base import Case, Mistake
from optlessons.checks.engine import (ScalarUnpack, Variant, case_specs, run_check, spec_value,
                                      variant_mistakes)
from optlessons.gradcheck import numerical_gradient
from optlessons.losses import mse, mse_grad, softmax_cross_entropy, softmax_cross_entropy_grad

__all__ = ["check_mse", "check_mse_grad", "check_softmax_cross_entropy",
           "check_softmax_cross_entropy_grad", "check_numerical_gradient",
           "MSE_VISIBLE", "CE_VISIBLE", "NUMGRAD_VISIBLE"]

# --------------------------------------------------------------------------- MSE

MSE_VISIBLE = [dict(y_pred=[1.0, 2.0, 3.0, 4.0], y=[1.5, 2.0, 2.0, 5.0]),
               dict(shape=(5, 3)), dict(shape=(7,))]
MSE_SEED = 1
MSE_KEYS = {"y_pred", "y", "shape"}


#: why a loss or its gradient must not write into the predictions, logits or targets it is given
LOSS_IN_PLACE = ("`y_pred -= y` (or `r = y_pred; r -= y`, which is the same array) changes the caller's "
                 "predictions. Compute a new array instead: `r = y_pred - y`.")


def _mse_cases(cases, seed):
    specs, rng = case_specs(cases, seed, MSE_VISIBLE, MSE_SEED, MSE_KEYS)
    out = []
    for spec in specs:
        if "shape" in spec:
            shape = tuple(spec["shape"])
            out.append(Case(f"random y_pred and y of shape {shape}",
                            {"y_pred": rng.normal(size=shape), "y": rng.normal(size=shape)}, {}))
        else:
            y_pred, y = np.asarray(spec_value(spec, "y_pred")), np.asarray(spec_value(spec, "y"))
            out.append(Case(f"y_pred and y of shape {y_pred.shape}"
                            + (" (integers)" if y_pred.dtype.kind in "iu" else ""),
                            {"y_pred": y_pred, "y": y}, {}))
    return out


def _sq(yp, y):
    return (np.asarray(yp, float) - y) ** 2


def _mse_sum(yp, y):
    return float(np.sum(_sq(yp, y)))


def _mse_half(yp, y):
    return float(0.5 * np.mean(_sq(yp, y)))


def _mae(yp, y):
    return float(np.mean(np.abs(np.asarray(yp, float) - y)))


def _rmse(yp, y):
    return float(np.sqrt(np.mean(_sq(yp, y))))


def _mse_axis0(yp, y):
    return np.mean(_sq(yp, y), axis=0)


def _mse_rows(yp, y):
    return float(np.mean(np.sum(_sq(yp, y), axis=-1)))


def _mse_mean_squared(yp, y):
    return float(np.mean(np.asarray(yp, float) - y) ** 2)


MSE_MISTAKES = [
    Mistake("square_of_mean", "you squared the mean of the errors, np.mean(r)**2, instead of taking the mean "
            "of the squared errors, np.mean(r**2): positive and negative errors cancel before squaring. "
            "Square first, then average.", _mse_mean_squared),
    Mistake("sum", "you summed the squared errors instead of averaging them "
            "(MSE = (1/n) Σ (ŷ − y)²: use np.mean).", _mse_sum),
    Mistake("half", "you multiplied by 1/2; that is a common convention elsewhere, "
            "but here MSE = mean((ŷ − y)²) without the 1/2.", _mse_half),
    Mistake("abs", "you averaged |ŷ − y| (that is MAE); square the errors instead.", _mae),
    Mistake("rmse", "you took the square root (that is RMSE); MSE has no square root.", _rmse),
    Mistake("axis0", "you averaged over the first axis only; average over every entry "
            "(np.mean with no axis).", _mse_axis0),
    Mistake("rows", "you summed over the outputs and averaged over the rows; average "
            "over every entry instead (np.mean of the whole array).", _mse_rows),
]


def check_mse(fn, cases="visible", seed=None):
    """Check `mse(y_pred, y) -> float`, the mean of the squared errors over every entry."""
    run_check(fn, check="check_mse", name="mse", what="optlessons.losses.mse",
              cases=_mse_cases(cases, seed), signature="mse(y_pred, y)", reference=mse,
              unpack=ScalarUnpack("loss"), mistakes=MSE_MISTAKES, in_place=LOSS_IN_PLACE)


def _d(yp, y):
    return np.asarray(yp, float) - y


def _grad_no2(yp, y):
    return _d(yp, y) / _d(yp, y).size


def _grad_no_n(yp, y):
    return 2 * _d(yp, y)


def _grad_sign(yp, y):
    return -2 * _d(yp, y) / _d(yp, y).size


def _grad_rows(yp, y):
    return 2 * _d(yp, y) / len(_d(yp, y))


def _grad_half(yp, y):
    return _d(yp, y) / (2 * _d(yp, y).size)


MSE_GRAD_MISTAKES = [
    Mistake("no2", "the factor 2 is missing: d/dŷ (ŷ − y)² = 2(ŷ − y).", _grad_no2),
    Mistake("no1/n", "the 1/n is missing: the loss is a mean, so each entry's gradient "
            "is divided by n (the number of entries).", _grad_no_n),
    Mistake("neither", "both the factor 2 and the 1/n are missing: grad = 2(ŷ − y)/n.", _d),
    Mistake("sign", "the sign is flipped: the gradient with respect to ŷ is "
            "2(ŷ − y)/n, not 2(y − ŷ)/n.", _grad_sign),
    Mistake("rows", "you divided by the number of rows, not by the number of entries "
            "(n = y.size, since MSE averages over every entry).", _grad_rows),
    Mistake("half", "you divided by 2n instead of multiplying by 2/n.", _grad_half),
]


def check_mse_grad(fn, cases="visible", seed=None):
    """Check `mse_grad(y_pred, y) -> array`, the gradient of `mse` with respect to y_pred."""
    run_check(fn, check="check_mse_grad", name="mse_grad", what="optlessons.losses.mse_grad",
              cases=_mse_cases(cases, seed), signature="mse_grad(y_pred, y)", reference=mse_grad,
              unpack=ScalarUnpack("gradient"), mistakes=MSE_GRAD_MISTAKES, in_place=LOSS_IN_PLACE)


# --------------------------------------------------------------------------- softmax cross-entropy

CE_VISIBLE = [dict(logits=[[2.0, 1.0, 0.1, -1.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 3.0, 0.5, 0.2]],
                   labels=[0, 3, 1]),
              dict(n=5, k=3, scale=1.0), dict(n=4, k=10, scale=1.0), dict(n=3, k=4, scale=1000.0)]
CE_SEED = 2
CE_KEYS = {"logits", "labels", "n", "k", "scale", "offset"}


def _ce_cases(cases, seed):
    specs, rng = case_specs(cases, seed, CE_VISIBLE, CE_SEED, CE_KEYS)
    out = []
    for spec in specs:
        if "logits" in spec:
            logits, labels = np.asarray(spec["logits"], float), np.asarray(spec_value(spec, "labels"))
            out.append(Case(f"{logits.shape[0]} examples, {logits.shape[1]} classes",
                            {"logits": logits, "labels": labels}, {}))
            continue
        n, k = spec_value(spec, "n"), spec_value(spec, "k")
        scale, offset = spec_value(spec, "scale", 1.0), spec_value(spec, "offset", 0.0)
        label = f"random logits of shape ({n}, {k})"
        if scale > 100:
            label += f" with large values (up to ~{scale:g}: exp overflows unless you shift)"
        if abs(offset) > 100:
            label += f" around {offset:g} (exp overflows unless you shift)"
        out.append(Case(label, {"logits": offset + scale * rng.normal(size=(n, k)),
                                "labels": rng.integers(0, k, size=n)}, {}))
    return out


def _softmax(z, axis=1, shift=True):
    z = np.asarray(z, float)
    if shift:
        z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _pick(p, labels):
    return p[np.arange(len(labels)), labels]


def _ce_unshifted(z, y):
    return float(-np.mean(np.log(_pick(_softmax(z, shift=False), y))))


def _ce_sum(z, y):
    return float(-np.sum(np.log(_pick(_softmax(z), y))))


def _ce_sign(z, y):
    return float(np.mean(np.log(_pick(_softmax(z), y))))


def _ce_axis0(z, y):
    return float(-np.mean(np.log(_pick(_softmax(z, axis=0), y))))


def _ce_nolog(z, y):
    return float(-np.mean(_pick(_softmax(z), y)))


CE_MISTAKES = [
    Mistake("unshifted", "the softmax is not shifted, so np.exp overflows for large logits "
            "(inf/inf = nan). Subtract each row's maximum first: z − max(z) changes "
            "nothing mathematically and keeps exp ≤ 1.", _ce_unshifted),
    Mistake("sum", "you summed over the examples; average instead (np.mean).", _ce_sum),
    Mistake("sign", "the minus sign is missing: the loss is −log p(correct class), "
            "which is ≥ 0.", _ce_sign),
    Mistake("axis0", "the softmax is taken over the wrong axis (axis=0, the examples); "
            "normalise each row (axis=1, keepdims=True).", _ce_axis0),
    Mistake("nolog", "the log is missing: the loss is −log p(correct class), "
            "not −p(correct class).", _ce_nolog),
]


def check_softmax_cross_entropy(fn, cases="visible", seed=None):
    """Check `softmax_cross_entropy(logits, labels) -> float` (mean over the batch)."""
    run_check(fn, check="check_softmax_cross_entropy", name="softmax_cross_entropy",
              what="optlessons.losses.softmax_cross_entropy", cases=_ce_cases(cases, seed),
              signature="softmax_cross_entropy(logits, labels)", reference=softmax_cross_entropy,
              unpack=ScalarUnpack("loss"), mistakes=CE_MISTAKES, in_place=LOSS_IN_PLACE)


def _ce_grad(z, y, axis=1, shift=True):
    z = np.asarray(z, float)
    return (_softmax(z, axis, shift) - np.eye(z.shape[1])[y]) / len(y)


def _ce_grad_no_n(z, y):
    return _ce_grad(z, y) * len(y)


def _ce_grad_sign(z, y):
    return -_ce_grad(z, y)


def _ce_grad_unshifted(z, y):
    return _ce_grad(z, y, shift=False)


def _ce_grad_axis0(z, y):
    return _ce_grad(z, y, axis=0)


def _ce_grad_no_onehot(z, y):
    return _softmax(z) / len(y)


CE_GRAD_MISTAKES = [
    Mistake("no1/n", "the 1/n is missing: the loss is a mean over the n examples, "
            "so the gradient is (softmax − onehot)/n.", _ce_grad_no_n),
    Mistake("sign", "the sign is flipped: the gradient is (softmax − onehot)/n, "
            "not (onehot − softmax)/n.", _ce_grad_sign),
    Mistake("unshifted", "the softmax is not shifted, so np.exp overflows for large "
            "logits (nan). Subtract each row's maximum before np.exp.", _ce_grad_unshifted),
    Mistake("axis0", "the softmax is taken over the wrong axis (axis=0); normalise "
            "each row (axis=1, keepdims=True).", _ce_grad_axis0),
    Mistake("noonehot", "the one-hot target is not subtracted: the gradient is "
            "(softmax − onehot)/n.", _ce_grad_no_onehot),
]


def check_softmax_cross_entropy_grad(fn, cases="visible", seed=None):
    """Check `softmax_cross_entropy_grad(logits, labels) -> array` of the logits' shape."""
    run_check(fn, check="check_softmax_cross_entropy_grad", name="softmax_cross_entropy_grad",
              what="optlessons.losses.softmax_cross_entropy_grad", cases=_ce_cases(cases, seed),
              signature="softmax_cross_entropy_grad(logits, labels)",
              reference=softmax_cross_entropy_grad, unpack=ScalarUnpack("gradient"),
              mistakes=CE_GRAD_MISTAKES, in_place=LOSS_IN_PLACE)


# --------------------------------------------------------------------------- finite differences


def cubic(x):
    """f(x) = Σ x³ + Σ sin(3x)."""
    return float(np.sum(x ** 3) + np.sum(np.sin(3 * x)))


def mixed(x):
    """f(x) = (Σ x)² + Σ exp(x)."""
    x = np.asarray(x, float)
    return float(np.sum(np.outer(x.ravel(), x.ravel())) + np.sum(np.exp(x)))


def softmax_loss(z):
    """A softmax cross-entropy of the rows of z, row i labelled i mod (number of columns)."""
    shifted = z - np.max(z, axis=1, keepdims=True)
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(z)), np.arange(len(z)) % z.shape[1]]))


NUMGRAD_FUNCTIONS = {"cubic": (cubic, "f(x) = Σ x³ + Σ sin(3x)"),
                     "mixed": (mixed, "f(x) = (Σ x)² + Σ exp(x)"),
                     "softmax_loss": (softmax_loss, "a softmax cross-entropy of x")}
NUMGRAD_VISIBLE = [dict(f="cubic", x=[0.5, -1.0, 2.0], h=1e-3),
                   dict(f="mixed", shape=(2, 3), h=1e-4),
                   dict(f="softmax_loss", shape=(3, 4), h=1e-5)]
NUMGRAD_SEED = 3
NUMGRAD_KEYS = {"f", "x", "shape", "h"}


def _ng_cases(cases, seed):
    specs, rng = case_specs(cases, seed, NUMGRAD_VISIBLE, NUMGRAD_SEED, NUMGRAD_KEYS)
    out = []
    for spec in specs:
        name = spec_value(spec, "f")
        if name not in NUMGRAD_FUNCTIONS:
            raise ValueError(f"f must be one of {sorted(NUMGRAD_FUNCTIONS)}, got {name!r}")
        f, text = NUMGRAD_FUNCTIONS[name]
        x = np.asarray(spec["x"]) if "x" in spec else rng.normal(size=tuple(spec_value(spec, "shape")))
        h = spec_value(spec, "h")
        kind = " (an integer array)" if x.dtype.kind in "iu" else ""
        out.append(Case(f"{text}, x of shape {x.shape}{kind}, h={h:g}", {"f": f, "x": x}, {"h": h}))
    return out


def numgrad_model(f, x, h, *, kind="central", rows=False, dtype=float, restore=True):
    """Central differences (f(x + h eᵢ) − f(x − h eᵢ))/(2h), with knobs for the mistakes:
    kind "forward" or "h" (divided by h), rows (one entry per row), dtype None (a copy that
    keeps an integer dtype), restore False (x[i] left at old − h)."""
    x = np.array(x, dtype=dtype)
    g = np.zeros(x.shape)
    for i in (range(len(x)) if rows else np.ndindex(x.shape)):
        old = x[i].copy()
        x[i] = old + h
        fp = f(x.copy())
        x[i] = old - h
        fm = f(x.copy())
        if restore:
            x[i] = old
        g[i] = {"central": (fp - fm) / (2 * h), "h": (fp - fm) / h,
                "forward": (fp - f(x.copy())) / h}[kind]
    return g


NUMGRAD_VARIANTS = {
    "forward": Variant("you used forward differences (f(x+h) − f(x))/h, whose error grows like h; "
                       "use central differences (f(x+h) − f(x−h))/(2h), error ~h².", dict(kind="forward")),
    "h": Variant("you divided by h instead of 2h: the central difference is (f(x+h) − f(x−h))/(2h).",
                 dict(kind="h")),
    "not_restored": Variant("x[i] is not put back after the two nudges, so the later entries are "
                            "measured at a shifted point: remember old = x[i] and set x[i] = old "
                            "before moving on.", dict(restore=False)),
    "rows": Variant("you looped over the first axis only (x[i] is a whole row when x is 2-D); loop "
                    "over every entry with np.ndindex(x.shape).", dict(rows=True)),
    "int_copy": Variant("x is an integer array here and your copy kept its integer dtype, so x[i] + h "
                        "was truncated back to an integer (x.copy() and np.array(x) keep the dtype): "
                        "work on `x = np.array(x, dtype=float)`.", dict(dtype=None)),
}


#: why numerical_gradient must not nudge the caller's x itself
NUMGRAD_IN_PLACE = ("nudging the caller's own `x` (`x[i] += h`, then back) moves the point they asked about, and "
                    "any rounding in putting it back leaves their `x` changed. Nudge a copy instead: "
                    "`x = np.array(x, dtype=float)` at the top of your function.")


def check_numerical_gradient(fn, cases="visible", seed=None):
    """Check `numerical_gradient(f, x, h=...) -> array`, central differences for every entry."""
    run_check(fn, check="check_numerical_gradient", name="numerical_gradient",
              what="optlessons.gradcheck.numerical_gradient", cases=_ng_cases(cases, seed),
              signature="numerical_gradient(f, x, h=1e-5)", reference=numerical_gradient,
              unpack=ScalarUnpack("gradient"),
              mistakes=variant_mistakes(numgrad_model, NUMGRAD_VARIANTS), in_place=NUMGRAD_IN_PLACE)

