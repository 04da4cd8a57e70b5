"""Checks that the exercises call: compare a learner's function with the reference.

Each ``check_*`` function calls the learner's function on several cases (fixed
ones and random ones drawn from a fixed seed), compares every quantity it
returns with the reference in ``optlessons`` and, on the first difference,
raises :class:`CheckFailed` (an ``AssertionError``) with a message that says

* which case and which quantity differs first (``state.exp_avg (m)``,
  ``new_param``, ``state.step``, the loss ...), by how much and where
  (expected vs got, max abs difference, index);
* which known mistake the result looks like, found by computing each known
  mistake on the same case and comparing (bias correction missing, eps inside
  the square root, momentum with the wrong sign, MSE gradient without the
  factor 2 ...);
* or, in a sentence, what else went wrong: the function is not written yet,
  raised an exception (its type and message), returned None, not a tuple, a
  wrong shape, wrote into an input array, or returned a state that aliases an
  input.

On success it prints one line, e.g. ``✓ adam_update matches PyTorch's Adam on
6 cases``. ``cases="hidden"`` uses other seeds and hyperparameters (the hidden
tests of the graded notebooks use it).

    >>> from optlessons.checks import check_adam_update
    >>> check_adam_update(my_adam_update)                  # doctest: +SKIP
    ✓ adam_update matches PyTorch's Adam on 6 cases
"""

from __future__ import annotations

import traceback
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = [
    "CheckFailed",
    "KNOWN_MISTAKES",
    "check_mse",
    "check_mse_grad",
    "check_softmax_cross_entropy",
    "check_softmax_cross_entropy_grad",
    "check_numerical_gradient",
    "check_gradient_descent",
    "check_minibatches",
    "check_max_stable_lr",
    "check_sgd_momentum_update",
    "check_rmsprop_update",
    "check_adam_update",
    "check_optimizer_class",
    "check_accuracy",
]

RTOL = 1e-6   # relative tolerance: different but correct orders of operations agree to ~1e-15
ATOL = 1e-10


class CheckFailed(AssertionError):
    """A check found a difference; the message says which quantity, by how much, and why.

    In Jupyter (and so in nbgrader's feedback) it shows as ``CheckFailed: <message>``
    alone: the frames inside this module say nothing to a learner. When the learner's
    own code raised, the message names their line (see ``_where``).
    """

    def _render_traceback_(self) -> list[str]:
        # IPython shows this list instead of the traceback (InteractiveShell.showtraceback).
        return f"{type(self).__name__}: {self}".splitlines()


class Mistake(NamedTuple):
    """A known mistake: a short name, the hint shown to the learner, and how to compute it."""
    name: str
    hint: str
    compute: Callable


class _Case(NamedTuple):
    label: str
    inputs: dict          # name -> value, passed positionally in this order
    kwargs: dict          # passed as keywords
    call: Callable | None = None   # call(fn, inputs, kwargs) -> output; default fn(*inputs, **kwargs)


# --------------------------------------------------------------------------- formatting


def _num(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        return f"{float(x):.6g}"
    except (TypeError, ValueError):
        return repr(x)


def _short(x) -> str:
    """A one-line description of a value for messages."""
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        if x.size <= 6:
            return np.array2string(x, precision=5, separator=", ").replace("\n", "")
        return f"an array of shape {x.shape}"
    if isinstance(x, (float, int, np.number)):
        return _num(x)
    return f"a {type(x).__name__}"


def _kw(kwargs) -> str:
    return ", ".join(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={_num(v)}"
                     for k, v in kwargs.items())


def _library_file(filename: str) -> bool:
    """Whether a frame's file belongs to Python, an installed library or optlessons itself."""
    import os
    import sysconfig
    f = os.path.realpath(filename)
    roots = {os.path.realpath(sysconfig.get_paths()[k])
             for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(os.path.dirname(os.path.realpath(__file__)))   # optlessons/ (references, checks)
    return any(f.startswith(r + os.sep) for r in roots)


def _where(exc: BaseException) -> str:
    """Where the learner's own code raised: the last frame outside this module and
    outside Python and its libraries (a numpy call in their code names their line,
    not numpy's), e.g. " at line 4: `m = beta1 * m + g[0]`"."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    own = [f for f in frames if not _library_file(f.filename)]
    frame = (own or frames or [None])[-1]
    if frame is None or not frame.line:
        return ""
    return f" at line {frame.lineno}: `{frame.line.strip()}`"


# --------------------------------------------------------------------------- comparing


def _is_number_like(x) -> bool:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.dtype != object


def _compare(qname: str, expected, got, rtol=RTOL, atol=ATOL) -> str | None:
    """None if `got` equals `expected`, else a sentence saying how they differ."""
    if expected is None:
        if got is None:
            return None
        return (f"`{qname}` should be None (it is not used with these settings) "
                f"but is {_short(got)}: pass it through unchanged")
    if got is None:
        return f"`{qname}` is None, expected {_short(expected)}"
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        if isinstance(got, (float, np.floating)) and float(got).is_integer():
            got = int(got)
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            return f"`{qname}` should be an int ({expected}), got {_short(got)}"
        if int(got) != int(expected):
            return f"`{qname}`: expected {int(expected)}, got {int(got)}"
        return None
    if not _is_number_like(got):
        return f"`{qname}` is {_short(got)}, not a number or an array of numbers"
    e = np.asarray(expected, dtype=float)
    g = np.asarray(got, dtype=float)
    if g.shape != e.shape:
        if e.shape == ():
            return (f"`{qname}` has shape {g.shape}, expected a single number (shape ()); "
                    f"did you forget to average (np.mean) or to sum?")
        return f"`{qname}` has shape {g.shape}, expected shape {e.shape}"
    if np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        return None
    with np.errstate(invalid="ignore"):
        diff = np.abs(g - e)
    bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    score = np.where(np.isnan(diff), np.inf, diff)
    score = np.where(bad, score, -1.0)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), e.shape)) if e.shape else ()
    finite = diff[np.isfinite(diff)]
    maxdiff = _num(finite.max()) if finite.size else "inf"
    at = f" at index {idx if len(idx) != 1 else idx[0]}" if e.shape else ""
    msg = (f"`{qname}` differs{at}: expected {_num(e[idx])}, got {_num(g[idx])} "
           f"(max abs difference {maxdiff}; {int(bad.sum())} of {e.size} entries differ)")
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        msg += "; your result contains nan or inf where the reference is finite"
    return msg


def _first_difference(expected: dict, got: dict) -> tuple[str, str] | None:
    for q, e in expected.items():
        if q not in got:
            return q, f"`{q}` is missing"
        msg = _compare(q, e, got[q])
        if msg:
            return q, msg
    return None


def _same(expected: dict, got: dict) -> bool:
    return _first_difference(expected, got) is None


# --------------------------------------------------------------------------- calling safely


def _copy(x):
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(_copy(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(_copy(v) for v in x)
    if isinstance(x, dict):
        return {k: _copy(v) for k, v in x.items()}
    return x


def _arrays(name: str, x):
    """(path, array) for every ndarray inside an input, e.g. ('state.exp_avg', array)."""
    if isinstance(x, np.ndarray):
        yield name, x
    elif isinstance(x, tuple) and hasattr(x, "_fields"):
        for f, v in zip(x._fields, x):
            yield from _arrays(f"{name}.{f}", v)
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _arrays(f"{name}[{i}]", v)
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from _arrays(f"{name}[{k!r}]", v)


def _input_arrays(inputs: dict):
    for argname, value in inputs.items():
        yield from _arrays(argname, value)


def _invoke(fn, case: _Case, inputs: dict):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.call is not None:
            return case.call(fn, inputs, dict(case.kwargs))
        return fn(*inputs.values(), **case.kwargs)


def _run_quietly(fn, case: _Case):
    """Run a reference or a mistake on fresh copies; None if it raises."""
    try:
        return _invoke(fn, case, _copy(case.inputs))
    except Exception:
        return None


def _call_learner(fn, name: str, case: _Case, signature: str):
    """Call the learner's function on copies; report exceptions and in-place writes."""
    inputs = _copy(case.inputs)
    try:
        out = _invoke(fn, case, inputs)
    except NotImplementedError:
        raise CheckFailed(f"`{name}` is not written yet: it raised NotImplementedError. "
                          f"Replace `raise NotImplementedError()` with your code.") from None
    except Exception as exc:   # the learner's bug, reported in a sentence
        msg = (f"`{name}` raised {type(exc).__name__}: {exc}{_where(exc)}\n"
               f"  on {case.label}")
        if isinstance(exc, TypeError) and ("argument" in str(exc)):
            msg += f"\n  Keep the signature given in the exercise: {signature}"
        raise CheckFailed(msg) from None
    now = dict(_input_arrays(inputs))
    for path, original in _input_arrays(case.inputs):
        arr = now.get(path)
        if arr is not None and (arr.shape != original.shape
                                or not np.array_equal(arr, original, equal_nan=True)):
            raise CheckFailed(
                f"`{name}` changed its input `{path}` in place (on {case.label}). "
                f"Never write into the arrays you are given: `x -= lr * g` or `x[i] = ...` "
                f"changes the caller's array too (a trajectory stored earlier would change). "
                f"Compute a new array instead, e.g. `x = x - lr * g`, or work on `x.copy()`.")
    return out, inputs


# --------------------------------------------------------------------------- the engine


def _name_mistakes(mistakes, case: _Case, expected: dict, got: dict, unpack, others=()):
    """Names of the known mistakes whose result equals the learner's on this case."""
    found = []
    for m in mistakes:
        out = _run_quietly(m.compute, case)
        if out is None:
            continue
        try:
            # quantities the learner's result lacks (fewer batches, say) count only if
            # the mistake produces them too
            q = {k: v for k, v in expected.items() if k in got}
            q.update(unpack(out))
        except CheckFailed:
            continue
        if _same(q, got):
            found.append(m)
    if len(found) > 1 and others:
        # Prefer the mistakes that also explain the learner's other cases.
        consistent = []
        for m in found:
            ok = True
            for oc, oexp, ogot in others:
                out = _run_quietly(m.compute, oc)
                try:
                    q = {k: v for k, v in oexp.items() if k in ogot}
                    q.update(unpack(out))
                except (CheckFailed, TypeError, AttributeError):
                    ok = False
                    break
                if not _same(q, ogot):
                    ok = False
                    break
            if ok:
                consistent.append(m)
        found = consistent or found
    return found


def _run_check(fn, *, name: str, what: str, signature: str, cases: list, reference,
               unpack, mistakes=(), extra=None, aliasing=True):
    """Compare `fn` with `reference` on `cases`; raise CheckFailed or print a ✓ line.

    unpack(output) -> dict quantity -> value (raises CheckFailed on a malformed output).
    extra(case, expected, got, first_bad) -> str: more help after a difference.
    """
    if not callable(fn):
        raise CheckFailed(f"expected a function `{name}`, got {_short(fn)}")
    results = []   # (case, expected, got) for the cases run so far
    for i, case in enumerate(cases, 1):
        label = f"case {i} of {len(cases)} ({case.label})"
        case = case._replace(label=label)
        ref_out = _run_quietly(reference, case)
        expected = unpack(ref_out)
        out, passed = _call_learner(fn, name, case, signature)
        try:
            got = unpack(out)
        except CheckFailed as exc:
            raise CheckFailed(f"`{name}` {exc} (on {label})") from None
        diff = _first_difference(expected, got)
        if diff is not None:
            qname, msg = diff
            text = f"`{name}` does not match the reference on {label}:\n  {msg}"
            if extra:
                try:
                    more = extra(case, expected, got, qname)
                except Exception:   # extra help is optional; never let it hide the message
                    more = None
                if more:
                    text += f"\n  {more}"
            # other cases give evidence to choose between mistakes that agree on this one
            others = []
            for oc in cases:
                if oc is cases[i - 1]:
                    continue
                try:
                    oout, _ = _call_learner(fn, name, oc, signature)
                    others.append((oc, unpack(_run_quietly(reference, oc)), unpack(oout)))
                except CheckFailed:
                    continue
            found = _name_mistakes(mistakes, case, expected, got, unpack, others)
            if found:
                text += "\n  This looks like a known mistake: " + found[0].hint
                for m in found[1:]:
                    text += "\n  (or: " + m.hint + ")"
            raise CheckFailed(text)
        if aliasing:
            _check_aliasing(name, label, passed, reference, out, case, unpack)
        results.append((case, expected, got))
    print(f"✓ {name} matches {what} on {len(cases)} cases")


def _check_aliasing(name, label, passed_inputs, reference, out, case, unpack):
    """A returned array must not be one of the input arrays (unless the reference does so too)."""
    ref_inputs = _copy(case.inputs)
    try:
        ref_q = unpack(_invoke(reference, case, ref_inputs))
    except Exception:
        ref_q = {}
    got_q = unpack(out)
    ins = list(_input_arrays(passed_inputs))
    ref_ins = dict(_input_arrays(ref_inputs))
    for q, val in got_q.items():
        if not isinstance(val, np.ndarray):
            continue
        for path, arr in ins:
            if np.shares_memory(val, arr):
                rv, ra = ref_q.get(q), ref_ins.get(path)
                if isinstance(rv, np.ndarray) and ra is not None and np.shares_memory(rv, ra):
                    continue   # the reference shares it too (a field left unchanged)
                arg = path
                raise CheckFailed(
                    f"`{name}` returned a result that aliases its input (on {label}): "
                    f"`{q}` is the very array passed in as `{arg}`, so a later in-place "
                    f"change to one changes the other. Return a new array "
                    f"(e.g. `{arg.split('.')[-1]}.copy()`).")


def _scalar_unpack(qname):
    def unpack(out):
        return {qname: out}
    return unpack


def _rng(cases: str, offset: int = 0) -> np.random.Generator:
    if cases not in ("visible", "hidden"):
        raise ValueError(f"cases must be 'visible' or 'hidden', got {cases!r}")
    return np.random.default_rng((0 if cases == "visible" else 1000) + offset)


# =========================================================================== problem set 1
# losses: value and gradient, and a finite-difference gradient


def _mse_cases(cases):
    rng = _rng(cases, 1)
    out = []
    if cases == "visible":
        out.append(_Case("y_pred and y of shape (4,)",
                         {"y_pred": np.array([1.0, 2.0, 3.0, 4.0]),
                          "y": np.array([1.5, 2.0, 2.0, 5.0])}, {}))
        shapes = [(5, 3), (7,)]
    else:
        shapes = [(6, 2), (3, 4), (10,)]
    for shape in shapes:
        out.append(_Case(f"random y_pred and y of shape {shape}",
                         {"y_pred": rng.normal(size=shape), "y": rng.normal(size=shape)}, {}))
    return out


def _mse_mistakes():
    def sq(yp, y):
        return (np.asarray(yp, float) - y) ** 2
    return [
        Mistake("sum", "you summed the squared errors instead of averaging them "
                "(MSE = (1/n) Σ (ŷ − y)²: use np.mean).", lambda yp, y: float(np.sum(sq(yp, y)))),
        Mistake("half", "you multiplied by 1/2; that is a common convention elsewhere, "
                "but here MSE = mean((ŷ − y)²) without the 1/2.",
                lambda yp, y: float(0.5 * np.mean(sq(yp, y)))),
        Mistake("abs", "you averaged |ŷ − y| (that is MAE); square the errors instead.",
                lambda yp, y: float(np.mean(np.abs(np.asarray(yp, float) - y)))),
        Mistake("rmse", "you took the square root (that is RMSE); MSE has no square root.",
                lambda yp, y: float(np.sqrt(np.mean(sq(yp, y))))),
        Mistake("axis0", "you averaged over the first axis only; average over every entry "
                "(np.mean with no axis).", lambda yp, y: np.mean(sq(yp, y), axis=0)),
        Mistake("rows", "you summed over the outputs and averaged over the rows; average "
                "over every entry instead (np.mean of the whole array).",
                lambda yp, y: float(np.mean(np.sum(sq(yp, y), axis=-1)))),
    ]


def check_mse(fn, cases="visible"):
    """Check `mse(y_pred, y) -> float`, the mean of the squared errors over every entry."""
    from optlessons.losses import mse
    _run_check(fn, name="mse", what="optlessons.losses.mse", cases=_mse_cases(cases),
               signature="mse(y_pred, y)", reference=lambda yp, y: mse(yp, y),
               unpack=_scalar_unpack("loss"), mistakes=_mse_mistakes())


def _mse_grad_mistakes():
    def d(yp, y):
        return np.asarray(yp, float) - y
    return [
        Mistake("no2", "the factor 2 is missing: d/dŷ (ŷ − y)² = 2(ŷ − y).",
                lambda yp, y: d(yp, y) / d(yp, y).size),
        Mistake("no1/n", "the 1/n is missing: the loss is a mean, so each entry's gradient "
                "is divided by n (the number of entries).", lambda yp, y: 2 * d(yp, y)),
        Mistake("neither", "both the factor 2 and the 1/n are missing: grad = 2(ŷ − y)/n.",
                lambda yp, y: d(yp, y)),
        Mistake("sign", "the sign is flipped: the gradient with respect to ŷ is "
                "2(ŷ − y)/n, not 2(y − ŷ)/n.", lambda yp, y: -2 * d(yp, y) / d(yp, y).size),
        Mistake("rows", "you divided by the number of rows, not by the number of entries "
                "(n = y.size, since MSE averages over every entry).",
                lambda yp, y: 2 * d(yp, y) / len(d(yp, y))),
        Mistake("half", "you divided by 2n instead of multiplying by 2/n.",
                lambda yp, y: d(yp, y) / (2 * d(yp, y).size)),
    ]


def check_mse_grad(fn, cases="visible"):
    """Check `mse_grad(y_pred, y) -> array`, the gradient of `mse` with respect to y_pred."""
    from optlessons.losses import mse_grad
    _run_check(fn, name="mse_grad", what="optlessons.losses.mse_grad", cases=_mse_cases(cases),
               signature="mse_grad(y_pred, y)", reference=lambda yp, y: mse_grad(yp, y),
               unpack=_scalar_unpack("gradient"), mistakes=_mse_grad_mistakes())


def _ce_cases(cases):
    rng = _rng(cases, 2)
    out = []
    if cases == "visible":
        out.append(_Case("3 examples, 4 classes",
                         {"logits": np.array([[2.0, 1.0, 0.1, -1.0],
                                              [0.0, 0.0, 0.0, 0.0],
                                              [-1.0, 3.0, 0.5, 0.2]]),
                          "labels": np.array([0, 3, 1])}, {}))
        specs = [(5, 3, 1.0), (4, 10, 1.0), (3, 4, 1000.0)]
    else:
        specs = [(6, 5, 2.0), (2, 3, 1.0), (4, 6, 800.0)]
    for n, k, scale in specs:
        label = f"random logits of shape ({n}, {k})"
        if scale > 100:
            label += f" with large values (up to ~{scale:g}: exp overflows unless you shift)"
        out.append(_Case(label, {"logits": scale * rng.normal(size=(n, k)),
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


def _ce_mistakes():
    return [
        Mistake("unshifted", "the softmax is not shifted, so np.exp overflows for large logits "
                "(inf/inf = nan). Subtract each row's maximum first: z − max(z) changes "
                "nothing mathematically and keeps exp ≤ 1.",
                lambda z, y: float(-np.mean(np.log(_pick(_softmax(z, shift=False), y))))),
        Mistake("sum", "you summed over the examples; average instead (np.mean).",
                lambda z, y: float(-np.sum(np.log(_pick(_softmax(z), y))))),
        Mistake("sign", "the minus sign is missing: the loss is −log p(correct class), "
                "which is ≥ 0.", lambda z, y: float(np.mean(np.log(_pick(_softmax(z), y))))),
        Mistake("axis0", "the softmax is taken over the wrong axis (axis=0, the examples); "
                "normalise each row (axis=1, keepdims=True).",
                lambda z, y: float(-np.mean(np.log(_pick(_softmax(z, axis=0), y))))),
        Mistake("nolog", "the log is missing: the loss is −log p(correct class), "
                "not −p(correct class).", lambda z, y: float(-np.mean(_pick(_softmax(z), y)))),
    ]


def check_softmax_cross_entropy(fn, cases="visible"):
    """Check `softmax_cross_entropy(logits, labels) -> float` (mean over the batch)."""
    from optlessons.losses import softmax_cross_entropy
    _run_check(fn, name="softmax_cross_entropy", what="optlessons.losses.softmax_cross_entropy",
               cases=_ce_cases(cases), signature="softmax_cross_entropy(logits, labels)",
               reference=lambda z, y: softmax_cross_entropy(z, y),
               unpack=_scalar_unpack("loss"), mistakes=_ce_mistakes())


def _onehot(y, k):
    return np.eye(k)[y]


def _ce_grad_mistakes():
    def g(z, y, axis=1, shift=True):
        z = np.asarray(z, float)
        return (_softmax(z, axis, shift) - _onehot(y, z.shape[1])) / len(y)
    return [
        Mistake("no1/n", "the 1/n is missing: the loss is a mean over the n examples, "
                "so the gradient is (softmax − onehot)/n.",
                lambda z, y: g(z, y) * len(y)),
        Mistake("sign", "the sign is flipped: the gradient is (softmax − onehot)/n, "
                "not (onehot − softmax)/n.", lambda z, y: -g(z, y)),
        Mistake("unshifted", "the softmax is not shifted, so np.exp overflows for large "
                "logits (nan). Subtract each row's maximum before np.exp.",
                lambda z, y: g(z, y, shift=False)),
        Mistake("axis0", "the softmax is taken over the wrong axis (axis=0); normalise "
                "each row (axis=1, keepdims=True).", lambda z, y: g(z, y, axis=0)),
        Mistake("noonehot", "the one-hot target is not subtracted: the gradient is "
                "(softmax − onehot)/n.",
                lambda z, y: _softmax(z) / len(y)),
    ]


def check_softmax_cross_entropy_grad(fn, cases="visible"):
    """Check `softmax_cross_entropy_grad(logits, labels) -> array` of the logits' shape."""
    from optlessons.losses import softmax_cross_entropy_grad
    _run_check(fn, name="softmax_cross_entropy_grad",
               what="optlessons.losses.softmax_cross_entropy_grad", cases=_ce_cases(cases),
               signature="softmax_cross_entropy_grad(logits, labels)",
               reference=lambda z, y: softmax_cross_entropy_grad(z, y),
               unpack=_scalar_unpack("gradient"), mistakes=_ce_grad_mistakes())


# --- finite differences

def _f_cubic(x):
    return float(np.sum(x ** 3) + np.sum(np.sin(3 * x)))


def _f_mixed(x):
    x = np.asarray(x, float)
    return float(np.sum(np.outer(x.ravel(), x.ravel())) + np.sum(np.exp(x)))


def _f_softmax_loss(z):
    return float(-np.mean(np.log(_pick(_softmax(z), np.arange(len(z)) % z.shape[1]))))


def _ng_cases(cases):
    rng = _rng(cases, 3)
    named = {"f(x) = Σ x³ + Σ sin(3x)": _f_cubic, "f(x) = (Σ x)² + Σ exp(x)": _f_mixed,
             "a softmax cross-entropy of x": _f_softmax_loss}
    if cases == "visible":
        specs = [("f(x) = Σ x³ + Σ sin(3x)", np.array([0.5, -1.0, 2.0]), 1e-3),
                 ("f(x) = (Σ x)² + Σ exp(x)", rng.normal(size=(2, 3)), 1e-4),
                 ("a softmax cross-entropy of x", rng.normal(size=(3, 4)), 1e-5)]
    else:
        specs = [("f(x) = Σ x³ + Σ sin(3x)", rng.normal(size=(4, 2)), 1e-3),
                 ("f(x) = (Σ x)² + Σ exp(x)", rng.normal(size=5), 1e-3),
                 ("a softmax cross-entropy of x", rng.normal(size=(2, 5)), 1e-4)]
    return [_Case(f"{fname}, x of shape {x.shape}, h={h:g}", {"f": named[fname], "x": x},
                  {"h": h}) for fname, x, h in specs]


def _numgrad(f, x, h, kind="central", rows=False):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    index = range(len(x)) if rows else np.ndindex(x.shape)
    for i in index:
        old = x[i].copy() if rows else x[i]
        x[i] = old + h
        fp = f(x.copy())
        x[i] = old - h
        fm = f(x.copy())
        x[i] = old
        f0 = f(x.copy())
        if kind == "central":
            g[i] = (fp - fm) / (2 * h)
        elif kind == "forward":
            g[i] = (fp - f0) / h
        elif kind == "h":
            g[i] = (fp - fm) / h
        elif kind == "unrestored":
            x[i] = old + h
        elif kind == "left_minus":   # x[i] left at old − h for the following entries
            g[i] = (fp - fm) / (2 * h)
            x[i] = old - h
    return g


def check_numerical_gradient(fn, cases="visible"):
    """Check `numerical_gradient(f, x, h=...) -> array`, central differences for every entry."""
    from optlessons.gradcheck import numerical_gradient
    mistakes = [
        Mistake("forward", "you used forward differences (f(x+h) − f(x))/h, whose error "
                "grows like h; use central differences (f(x+h) − f(x−h))/(2h), error ~h².",
                lambda f, x, h: _numgrad(f, x, h, "forward")),
        Mistake("h", "you divided by h instead of 2h: the central difference is "
                "(f(x+h) − f(x−h))/(2h).", lambda f, x, h: _numgrad(f, x, h, "h")),
        Mistake("not_restored", "x[i] is not put back after the two nudges, so the later "
                "entries are measured at a shifted point: remember old = x[i] and set "
                "x[i] = old before moving on.", lambda f, x, h: _numgrad(f, x, h, "left_minus")),
        Mistake("rows", "you looped over the first axis only (x[i] is a whole row when x is "
                "2-D); loop over every entry with np.ndindex(x.shape).",
                lambda f, x, h: _numgrad(f, x, h, rows=True)),
    ]
    _run_check(fn, name="numerical_gradient", what="optlessons.gradcheck.numerical_gradient",
               cases=_ng_cases(cases), signature="numerical_gradient(f, x, h=1e-5)",
               reference=lambda f, x, h: numerical_gradient(f, x, h=h),
               unpack=_scalar_unpack("gradient"), mistakes=mistakes,
               # central differences in another order of operations: agree to ~1e-9
               )


# =========================================================================== problem set 2
# a gradient-descent loop, mini-batches, the largest stable learning rate


def _quadratic_grad(A):
    A = np.asarray(A, float)

    def grad(x):
        return A @ x
    grad.__name__ = "quadratic_gradient"
    return grad


def _rosenbrock_grad(x):
    a, b = 1.0, 100.0
    return np.array([-2 * (a - x[0]) - 4 * b * x[0] * (x[1] - x[0] ** 2),
                     2 * b * (x[1] - x[0] ** 2)])


def _gd_reference(grad, x0, lr, steps, *, mistake=None):
    x = np.array(x0, dtype=float)
    xs = [x]
    g0 = grad(x)
    for _ in range(steps + (mistake == "extra")):
        g = g0 if mistake == "stale" else grad(x)
        x = x + lr * g if mistake == "ascent" else x - (1.0 if mistake == "nolr" else lr) * g
        xs.append(x)
    if mistake == "nostart":
        xs = xs[1:]
    if mistake == "same":
        xs = [xs[-1]] * len(xs)
    return np.array(xs)


def check_gradient_descent(fn, cases="visible"):
    """Check `gradient_descent(grad, x0, lr, steps) -> ndarray (steps + 1, 2)`, x0 first."""
    rng = _rng(cases, 4)
    A1 = np.array([[1.0, 0.0], [0.0, 10.0]])
    c, s = np.cos(0.5), np.sin(0.5)
    R = np.array([[c, -s], [s, c]])
    A2 = R @ np.diag([0.5, 4.0]) @ R.T
    if cases == "visible":
        specs = [("quadratic with Hessian diag(1, 10)", _quadratic_grad(A1), [1.0, 1.0], 0.05, 3),
                 ("rotated quadratic", _quadratic_grad(A2), rng.normal(size=2), 0.2, 10),
                 ("Rosenbrock", _rosenbrock_grad, [-1.0, 1.0], 1e-3, 20)]
    else:
        specs = [("quadratic with Hessian diag(1, 10)", _quadratic_grad(A1), rng.normal(size=2), 0.15, 7),
                 ("Rosenbrock", _rosenbrock_grad, [0.0, 0.0], 2e-3, 50),
                 ("rotated quadratic, 1 step", _quadratic_grad(A2), [2.0, -1.0], 0.3, 1)]
    cs = [_Case(f"{label}, x0={np.round(np.asarray(x0, float), 4).tolist()}, lr={lr:g}, "
                f"steps={n}", {"grad": g, "x0": np.asarray(x0, float), "lr": lr, "steps": n}, {})
          for label, g, x0, lr, n in specs]
    hints = {
        "ascent": "you moved along +gradient (uphill): the update is x ← x − lr·∇f(x).",
        "nostart": "the start point is missing: the trajectory begins with x0 and has steps + 1 rows.",
        "extra": "you made one step too many: `steps` updates give steps + 1 points (x0 included).",
        "same": "every row is the same point: you stored the same array each time and "
                "`x -= ...` changed all of them. Use `x = x - lr * g` (a new array each step).",
        "nolr": "the learning rate is missing: x ← x − lr·∇f(x).",
        "stale": "the gradient is computed once, at x0; compute ∇f at the current x in every step.",
    }
    mistakes = [Mistake(k, h, (lambda k: lambda g, x0, lr, n: _gd_reference(g, x0, lr, n, mistake=k))(k))
                for k, h in hints.items()]

    def unpack(out):
        if out is None:
            raise CheckFailed("returned None: did you forget `return np.array(trajectory)`?")
        try:
            return {"trajectory": np.asarray(out, dtype=float)}
        except (TypeError, ValueError):
            return {"trajectory": out}

    _run_check(fn, name="gradient_descent", what="the gradient-descent reference", cases=cs,
               signature="gradient_descent(grad, x0, lr, steps)", reference=_gd_reference,
               unpack=unpack, mistakes=mistakes, aliasing=False)


def _batches_reference(X, y, batch_size, rng, *, mistake=None):
    n = len(X)
    order = np.arange(n) if mistake == "noshuffle" else rng.permutation(n)
    order_y = rng.permutation(n) if mistake == "separate" else order
    stop = n - n % batch_size if mistake == "droplast" else n
    for start in range(0, stop, batch_size):
        yield X[order[start:start + batch_size]], y[order_y[start:start + batch_size]]


def check_minibatches(fn, cases="visible"):
    """Check `minibatches(X, y, batch_size, rng)`: yields (X_batch, y_batch), one epoch per call.

    The order is `rng.permutation(n)`, drawn once per call from the generator passed
    in, so two calls with the same generator give two different epochs; the last
    batch may be smaller.
    """
    rng = _rng(cases, 5)
    specs = [(10, 3, 4), (12, 4, 3), (7, 2, 7)] if cases == "visible" else \
            [(9, 2, 2), (16, 3, 5), (5, 1, 10)]
    cs = []
    for n, d, bs in specs:
        X = np.arange(n * d, dtype=float).reshape(n, d) + rng.normal(size=(n, d)).round(2)
        y = np.arange(n) * 10
        seed = int(rng.integers(1000))
        cs.append(_Case(f"{n} examples, batch_size={bs}, rng=np.random.default_rng({seed}), "
                        f"two epochs (two calls)", {"X": X, "y": y, "batch_size": bs},
                        {"seed": seed}, call=_two_epochs))

    def unpack(out):
        q = {}
        for e, epoch in enumerate(out, 1):
            if epoch is None:
                raise CheckFailed("returned None: `yield` each batch (or return a list of them)")
            q[f"epoch {e}: number of batches"] = len(epoch)
            for b, batch in enumerate(epoch, 1):
                if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                    raise CheckFailed(f"gave {_short(batch)} as batch {b}; "
                                      f"yield a pair `X_batch, y_batch`")
                q[f"epoch {e}, batch {b}: X_batch"] = batch[0]
                q[f"epoch {e}, batch {b}: y_batch"] = batch[1]
        return q

    def extra(case, expected, got, qname):
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

    mistakes = [
        Mistake("noshuffle", "the examples are not shuffled: take them in the order "
                "`rng.permutation(n)` on every epoch.",
                lambda X, y, bs, rng: _batches_reference(X, y, bs, rng, mistake="noshuffle")),
        Mistake("droplast", "the last, smaller batch is missing: keep it "
                "(range(0, n, batch_size) goes up to the last example).",
                lambda X, y, bs, rng: _batches_reference(X, y, bs, rng, mistake="droplast")),
        Mistake("separate", "X and y were shuffled with two different permutations, so the "
                "pairs (x, y) are broken: draw one `order` and index both X and y with it.",
                lambda X, y, bs, rng: _batches_reference(X, y, bs, rng, mistake="separate")),
    ]
    _run_check(fn, name="minibatches", what="the mini-batch reference", cases=cs,
               signature="minibatches(X, y, batch_size, rng)",
               reference=_batches_reference, unpack=unpack, mistakes=mistakes, extra=extra,
               aliasing=False)


def _two_epochs(fn, inputs, kwargs):
    rng = np.random.default_rng(kwargs["seed"])
    epochs = []
    for _ in range(2):
        it = fn(inputs["X"], inputs["y"], inputs["batch_size"], rng)
        epochs.append(None if it is None else list(it))
    return epochs


def _max_lr_hessians(cases):
    rng = _rng(cases, 6)
    out = []

    def rotated(cond, angle):
        c, s = np.cos(angle), np.sin(angle)
        R = np.array([[c, -s], [s, c]])
        return R @ np.diag([1.0, float(cond)]) @ R.T
    if cases == "visible":
        out.append(("diag(1, 10)", np.diag([1.0, 10.0])))
        out.append(("condition number 10 rotated by 30°", rotated(10, np.pi / 6)))
        out.append(("diag(4, 0.5)", np.diag([4.0, 0.5])))
    else:
        out.append(("condition number 50 rotated by 60°", rotated(50, np.pi / 3)))
        out.append(("condition number 3 rotated by 45°", 2 * rotated(3, np.pi / 4)))
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    lam = rng.uniform(0.2, 5.0, size=3)
    out.append(("a random 3×3 symmetric positive-definite matrix", Q @ np.diag(lam) @ Q.T))
    return [_Case(f"H = {label}", {"hessian": H}, {}) for label, H in out]


def check_max_stable_lr(fn, cases="visible"):
    """Check `max_stable_lr(hessian) -> float`, 2 / λ_max for gradient descent on a quadratic."""
    def lam(H):
        return np.linalg.eigvalsh(np.asarray(H, float))
    mistakes = [
        Mistake("1/l", "you returned 1/λ_max; gradient descent on a quadratic is stable while "
                "|1 − lr·λ| < 1 for every eigenvalue λ, i.e. lr < 2/λ_max.",
                lambda H: float(1 / lam(H).max())),
        Mistake("lmin", "you used the smallest eigenvalue; the largest one (the steepest "
                "direction) limits the learning rate: 2/λ_max.", lambda H: float(2 / lam(H).min())),
        Mistake("diag", "you used the largest diagonal entry of H; for a rotated quadratic the "
                "diagonal is not the eigenvalues: use np.linalg.eigvalsh(H).max().",
                lambda H: float(2 / np.max(np.diag(H)))),
        Mistake("trace", "you used the trace (the sum of the eigenvalues); use the largest "
                "eigenvalue alone.", lambda H: float(2 / np.trace(H))),
        Mistake("entry", "you used the largest entry of H; use its largest eigenvalue.",
                lambda H: float(2 / np.max(np.abs(H)))),
    ]
    _run_check(fn, name="max_stable_lr", what="2 / λ_max", cases=_max_lr_hessians(cases),
               signature="max_stable_lr(hessian)", reference=lambda H: float(2 / lam(H).max()),
               unpack=_scalar_unpack("largest stable learning rate"), mistakes=mistakes)


# =========================================================================== problem set 3
# pure update functions, equal to PyTorch's (i.e. to optlessons.optim's reference)

_FIELD_LABELS = {"exp_avg": "state.exp_avg (m)", "exp_avg_sq": "state.exp_avg_sq (v)",
                 "square_avg": "state.square_avg (v)", "momentum_buffer": "state.momentum_buffer (b)"}


def _update_unpack(fields, state_name):
    def unpack(out):
        if out is None:
            raise CheckFailed("returned None: did you forget `return new_param, new_state`?")
        if not isinstance(out, tuple):
            raise CheckFailed(f"returned {_short(out)}, not a tuple: "
                              f"return a pair `new_param, new_state`")
        if len(out) != 2:
            raise CheckFailed(f"returned a tuple of {len(out)} items; "
                              f"return a pair `new_param, new_state`")
        new_param, state = out
        q = {}
        for f in fields:
            if not hasattr(state, f):
                raise CheckFailed(
                    f"returned a state ({_short(state)}) without the field `{f}`: return "
                    f"{state_name}({', '.join(fields)}), e.g. with `state._replace(...)`")
            q[_FIELD_LABELS.get(f, f"state.{f}")] = getattr(state, f)
        q["new_param"] = new_param
        return q
    return unpack


def _warm_cases(update, state_type, specs, rng, *, shrink=1.0):
    """Cases whose state comes from `steps` reference updates with random gradients."""
    cs = []
    for shape, steps, kwargs in specs:
        param = rng.normal(size=shape)
        state = state_type.zeros_like(param)
        scale = 1.0
        for _ in range(steps):
            param, state = update(param, scale * rng.normal(size=shape), state, **kwargs)
            scale = max(scale * shrink, 0.1)
        grad = scale * rng.normal(size=shape)
        what = "a fresh state (first step)" if steps == 0 else f"a state after {steps} steps"
        cs.append(_Case(f"param of shape {shape}, {what}, {_kw(kwargs)}",
                        {"param": param, "grad": grad, "state": state}, kwargs))
    return cs


def _mistake_table(model, hints):
    return [Mistake(k, h, (lambda k: lambda p, g, s, **kw: model(p, g, s, mistake=k, **kw))(k))
            for k, h in hints.items()]


# --- SGD with momentum

def _sgd_model(param, grad, state, *, lr, momentum=0.9, nesterov=False, mistake=None):
    from optlessons.optim import SGDState
    prev = state.momentum_buffer
    zero = np.zeros_like(grad) if prev is None else prev
    if mistake == "lr_inside":
        buf = momentum * zero + lr * grad
        return param - buf, SGDState(state.step + 1, buf)
    if mistake == "velocity":
        buf = momentum * zero - lr * grad
        return param + buf, SGDState(state.step + 1, buf)
    if mistake == "dampened":
        buf = momentum * zero + (1 - momentum) * grad
    else:
        buf = np.array(grad, dtype=float) if prev is None else momentum * prev + grad
    use_nesterov = (nesterov and mistake != "nesterov_ignored") or (mistake == "twice" and not nesterov)
    direction = grad + momentum * buf if use_nesterov else buf
    if mistake == "unused":
        direction = grad
    new = param + lr * direction if mistake == "sign" else param - lr * direction
    step = state.step if mistake == "step" else state.step + 1
    if mistake == "not_stored":
        buf = prev
    return new, SGDState(step, buf)


SGD_MISTAKES = {
    "sign": "the update has the wrong sign: θ ← θ − lr·b (descend, don't climb).",
    "lr_inside": "the learning rate is inside the velocity (b = μb + lr·g, θ ← θ − b). PyTorch "
                 "keeps lr out of the buffer: b = μb + g, then θ ← θ − lr·b (it matters when lr changes).",
    "velocity": "you used the 'velocity' form v = μv − lr·g, θ ← θ + v; PyTorch stores "
                "b = μb + g and steps θ ← θ − lr·b.",
    "dampened": "you averaged the buffer, b = μb + (1 − μ)g; PyTorch adds the full gradient: "
                "b = μb + g (dampening = 0), and b = g on the first step.",
    "twice": "momentum is applied twice: θ − lr·(g + μ·b) is Nesterov's update, used only "
             "when nesterov=True; plain momentum steps θ ← θ − lr·b.",
    "nesterov_ignored": "nesterov=True is ignored, or its look-ahead used the old buffer "
                        "(g + μ·b_old is exactly plain momentum's new b): update the buffer "
                        "first, b = μ·b + g, then step with g + μ·b (the new b).",
    "unused": "the momentum buffer is computed but the step uses the raw gradient; "
              "step with θ ← θ − lr·b.",
    "step": "the step count is not incremented: return the state with step + 1.",
    "not_stored": "the new momentum buffer is not stored in the returned state; the next "
                  "step needs it: SGDState(step + 1, b).",
}


def check_sgd_momentum_update(fn, cases="visible"):
    """Check `sgd_momentum_update(param, grad, state, *, lr, momentum, nesterov=False)`.

    Returns (new_param, SGDState(step + 1, momentum_buffer)); PyTorch's SGD with
    dampening=0 and weight_decay=0: b = g on the first step (the state's
    momentum_buffer is None), else b = μ·b + g; θ ← θ − lr·b
    (Nesterov: θ ← θ − lr·(g + μ·b)).
    """
    from optlessons.optim import SGDState, sgd_update
    rng = _rng(cases, 7)
    if cases == "visible":
        specs = [((3,), 0, dict(lr=0.1, momentum=0.9)),
                 ((3,), 3, dict(lr=0.1, momentum=0.9)),
                 ((2, 3), 5, dict(lr=0.01, momentum=0.5)),
                 ((4,), 2, dict(lr=0.05, momentum=0.9, nesterov=True)),
                 ((2, 2), 0, dict(lr=0.2, momentum=0.8, nesterov=True)),
                 ((5,), 4, dict(lr=0.03, momentum=0.99))]
    else:
        specs = [((6,), 10, dict(lr=0.02, momentum=0.95)),
                 ((3, 2), 0, dict(lr=0.5, momentum=0.3)),
                 ((2,), 7, dict(lr=0.1, momentum=0.7, nesterov=True)),
                 ((4, 3), 1, dict(lr=0.01, momentum=0.9, nesterov=False))]
    ref = lambda p, g, s, **kw: sgd_update(p, g, s, **kw)   # noqa: E731
    cs = _warm_cases(ref, SGDState, specs, rng)
    _run_check(fn, name="sgd_momentum_update", what="PyTorch's SGD with momentum", cases=cs,
               signature="sgd_momentum_update(param, grad, state, *, lr, momentum, nesterov=False)",
               reference=ref, unpack=_update_unpack(["step", "momentum_buffer"], "SGDState"),
               mistakes=_mistake_table(_sgd_model, SGD_MISTAKES))


# --- RMSprop

def _rmsprop_model(param, grad, state, *, lr=0.01, alpha=0.99, eps=1e-8, mistake=None):
    from optlessons.optim import RMSpropState
    g2 = grad if mistake == "not_squared" else grad * grad
    if mistake == "alpha_swapped":
        v = (1 - alpha) * state.square_avg + alpha * g2
    else:
        v = alpha * state.square_avg + (1 - alpha) * g2
    vu = state.square_avg if mistake == "old_v" else v
    if mistake == "eps_inside":
        denom = np.sqrt(vu + eps)
    elif mistake == "no_sqrt":
        denom = vu + eps
    else:
        denom = np.sqrt(vu) + eps
    new = param + lr * grad / denom if mistake == "sign" else param - lr * grad / denom
    step = state.step if mistake == "step" else state.step + 1
    return new, RMSpropState(step, v, state.momentum_buffer, state.grad_avg)


RMSPROP_MISTAKES = {
    "eps_inside": "eps is inside the square root (√(v + ε)); PyTorch adds it outside: "
                  "θ ← θ − lr·g/(√v + ε).",
    "alpha_swapped": "alpha and 1 − alpha are swapped: v = α·v + (1 − α)·g² keeps most of "
                     "the old average (α = 0.99).",
    "no_sqrt": "the square root is missing: divide by √v + ε, not by v + ε.",
    "not_squared": "the gradient is not squared in the running average: v = α·v + (1 − α)·g².",
    "old_v": "the step uses the old average; update v first, then divide by √v + ε.",
    "sign": "the update has the wrong sign: θ ← θ − lr·g/(√v + ε).",
    "step": "the step count is not incremented: return the state with step + 1.",
}


def check_rmsprop_update(fn, cases="visible"):
    """Check `rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8)`.

    PyTorch's RMSprop (momentum=0, centered=False): v = α·v + (1 − α)·g²,
    θ ← θ − lr·g/(√v + ε); returns (new_param, state with step + 1 and square_avg v).
    """
    from optlessons.optim import RMSpropState, rmsprop_update
    rng = _rng(cases, 8)
    if cases == "visible":
        specs = [((3,), 0, dict(lr=0.01, alpha=0.99, eps=1e-8)),
                 ((3,), 4, dict(lr=0.01, alpha=0.99, eps=1e-8)),
                 ((2, 3), 6, dict(lr=0.1, alpha=0.9, eps=1e-3)),
                 ((4,), 2, dict(lr=0.001, alpha=0.5, eps=1e-6)),
                 ((2, 2), 10, dict(lr=0.05, alpha=0.95, eps=0.1)),
                 ((5,), 1, dict(lr=0.02, alpha=0.8, eps=1e-8))]
    else:
        specs = [((6,), 20, dict(lr=0.003, alpha=0.99, eps=1e-8)),
                 ((3, 2), 0, dict(lr=0.1, alpha=0.7, eps=0.01)),
                 ((2,), 3, dict(lr=1.0, alpha=0.9, eps=1e-4)),
                 ((4, 3), 8, dict(lr=0.01, alpha=0.6, eps=0.5))]
    ref = lambda p, g, s, **kw: rmsprop_update(p, g, s, **kw)   # noqa: E731
    cs = _warm_cases(ref, RMSpropState, specs, rng)
    _run_check(fn, name="rmsprop_update", what="PyTorch's RMSprop", cases=cs,
               signature="rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8)",
               reference=ref,
               unpack=_update_unpack(["step", "square_avg", "momentum_buffer", "grad_avg"],
                                     "RMSpropState"),
               mistakes=_mistake_table(_rmsprop_model, RMSPROP_MISTAKES))


# --- Adam

def _adam_model(param, grad, state, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                weight_decay=0.0, amsgrad=False, mistake=None):
    from optlessons.optim import AdamState
    b1, b2 = betas[::-1] if mistake == "betas_swapped" else betas
    g = grad + weight_decay * param if weight_decay and mistake not in ("decoupled", "no_wd") else grad
    t = state.step + 1
    tc = state.step if mistake in ("step_late", "step_never") else t
    m = b1 * state.exp_avg + (1 - b1) * g
    v = b2 * state.exp_avg_sq + (1 - b2) * (g if mistake == "not_squared" else g * g)
    bc1 = 1.0 if mistake in ("no_bias_correction", "no_bias_correction_m") else 1 - b1 ** tc
    bc2 = 1.0 if mistake in ("no_bias_correction", "no_bias_correction_v") else 1 - b2 ** tc
    mx = state.max_exp_avg_sq
    vv = v
    if amsgrad and mistake != "amsgrad_ignored":
        if mistake == "amsgrad_vhat":
            mx = np.maximum(mx, v / bc2)
            vv = mx * bc2
        else:
            mx = np.maximum(mx, v)
            vv = v if mistake == "amsgrad_unused" else mx
    m_hat, v_hat = m / bc1, vv / bc2
    if mistake == "eps_inside":
        denom = np.sqrt(v_hat + eps)
    elif mistake == "eps_before_correction":
        denom = (np.sqrt(vv) + eps) / np.sqrt(bc2)
    else:
        denom = np.sqrt(v_hat) + eps
    step = lr * m_hat / denom
    new = param + step if mistake == "sign" else param - step
    if mistake == "decoupled":
        new = new - lr * weight_decay * param
    if mistake == "amsgrad_not_stored":
        mx = state.max_exp_avg_sq
    if mistake == "max_always" and not amsgrad:
        mx = np.maximum(state.max_exp_avg_sq, v)
    return new, AdamState(state.step if mistake in ("step_never", "step") else t, m, v, mx)


ADAM_MISTAKES = {
    "no_bias_correction": "bias correction is missing: use m̂ = m/(1 − β1^t) and "
                          "v̂ = v/(1 − β2^t) in the step. Without it the first steps are too "
                          "large: on step 1, m/√v = (1 − β1)·g/(√(1 − β2)·|g|), a step of "
                          "(1 − β1)/√(1 − β2) × lr, about 3.2 × lr with the default betas "
                          "(0.9, 0.999), where Adam steps about lr.",
    "no_bias_correction_m": "m is not bias-corrected: m̂ = m/(1 − β1^t).",
    "no_bias_correction_v": "v is not bias-corrected: v̂ = v/(1 − β2^t).",
    "step_late": "the step count is not incremented before bias correction: first t = step + 1, "
                 "then divide by 1 − β^t (on the first step t = 1; with t = 0 you divide by zero).",
    "step_never": "the step count is never incremented: first t = step + 1, use it in the bias "
                  "correction (1 − β^t) and return it in the new state.",
    "step": "the returned state keeps the old step: return AdamState(step + 1, ...).",
    "eps_inside": "eps is inside the square root (√(v̂ + ε)); PyTorch adds it outside: "
                  "θ ← θ − lr·m̂/(√v̂ + ε).",
    "eps_before_correction": "eps is added before the bias correction ((√v + ε)/√(1 − β2^t)); "
                             "PyTorch adds it after: √v/√(1 − β2^t) + ε = √v̂ + ε.",
    "betas_swapped": "β1 and β2 are swapped: m uses β1 = betas[0] (0.9), v uses β2 = betas[1] (0.999).",
    "not_squared": "the gradient is not squared in v: v = β2·v + (1 − β2)·g².",
    "sign": "the update has the wrong sign: θ ← θ − lr·m̂/(√v̂ + ε).",
    "decoupled": "you applied decoupled weight decay (AdamW: θ ← θ − lr·λ·θ); Adam adds "
                 "λ·θ to the gradient first: g ← g + weight_decay·θ.",
    "no_wd": "weight_decay is ignored: Adam adds it to the gradient first, g ← g + weight_decay·θ.",
    "amsgrad_ignored": "amsgrad=True is ignored: keep the running maximum "
                       "max_exp_avg_sq = max(max_exp_avg_sq, v) and divide by "
                       "√(max_exp_avg_sq/(1 − β2^t)) + ε instead of √v̂ + ε.",
    "amsgrad_unused": "the AMSGrad maximum is stored but not used: with amsgrad=True divide by "
                      "√(max_exp_avg_sq/(1 − β2^t)) + ε instead of √v̂ + ε.",
    "amsgrad_vhat": "the AMSGrad maximum is taken over the corrected v̂; PyTorch takes it over "
                    "v and then divides by 1 − β2^t.",
    "amsgrad_not_stored": "the AMSGrad maximum is used but not stored: return it as "
                          "max_exp_avg_sq in the new state.",
    "max_always": "max_exp_avg_sq is updated although amsgrad=False; keep the running "
                  "maximum only with amsgrad=True, otherwise return the state's "
                  "max_exp_avg_sq unchanged.",
}


def _adam_extra(case, expected, got, qname):
    if qname != "new_param":
        return None
    kw = case.kwargs
    b1, b2 = kw.get("betas", (0.9, 0.999))
    t = int(expected["state.step"])
    m = np.asarray(expected["state.exp_avg (m)"])
    v = np.asarray(expected["state.max_exp_avg_sq"] if kw.get("amsgrad") else expected["state.exp_avg_sq (v)"])
    e, g = np.asarray(expected["new_param"], float), np.asarray(got["new_param"], float)
    if g.shape != e.shape:
        return None
    with np.errstate(invalid="ignore"):
        d = np.where(np.isnan(g), np.inf, np.abs(g - e))
    idx = np.unravel_index(int(np.argmax(d)), e.shape)
    return (f"m and v are right, so look at what follows them. At that index, with t = {t}: "
            f"m̂ = m/(1 − β1^t) = {_num(m[idx] / (1 - b1 ** t))}, "
            f"v̂ = {'max_exp_avg_sq' if kw.get('amsgrad') else 'v'}/(1 − β2^t) = "
            f"{_num(v[idx] / (1 - b2 ** t))}, and θ ← θ − lr·m̂/(√v̂ + ε).")


def check_adam_update(fn, cases="visible"):
    """Check `adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad)`.

    PyTorch's Adam: t = step + 1; g ← g + weight_decay·θ; m = β1·m + (1 − β1)·g;
    v = β2·v + (1 − β2)·g²; (AMSGrad: v_max = max(v_max, v), used for v below);
    m̂ = m/(1 − β1^t); v̂ = v/(1 − β2^t); θ ← θ − lr·m̂/(√v̂ + ε).
    """
    from optlessons.optim import AdamState, adam_update
    rng = _rng(cases, 9)
    base = dict(weight_decay=0.0, amsgrad=False)
    if cases == "visible":
        specs = [((3,), 0, dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, **base)),
                 ((3,), 3, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, **base)),
                 ((2, 3), 10, dict(lr=0.001, betas=(0.8, 0.99), eps=1e-3, **base)),
                 ((4,), 5, dict(lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=True)),
                 ((2, 2), 2, dict(lr=0.02, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.1, amsgrad=False)),
                 ((5,), 1, dict(lr=0.3, betas=(0.5, 0.9), eps=0.01, **base))]
    else:
        specs = [((6,), 50, dict(lr=0.003, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False)),
                 ((3, 2), 0, dict(lr=0.5, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.5, amsgrad=False)),
                 ((2,), 8, dict(lr=0.1, betas=(0.95, 0.98), eps=0.1, weight_decay=0.0, amsgrad=True)),
                 ((4, 3), 4, dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.2, amsgrad=True)),
                 ((3,), 1, dict(lr=1.0, betas=(0.0, 0.5), eps=1e-2, **base))]
    ref = lambda p, g, s, **kw: adam_update(p, g, s, **kw)   # noqa: E731
    # gradients that shrink over the warm-up, so that the AMSGrad maximum differs from v
    cs = _warm_cases(ref, AdamState, specs, rng, shrink=0.5)
    _run_check(fn, name="adam_update", what="PyTorch's Adam", cases=cs,
               signature="adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad)",
               reference=ref,
               unpack=_update_unpack(["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"], "AdamState"),
               mistakes=_mistake_table(_adam_model, ADAM_MISTAKES), extra=_adam_extra)


KNOWN_MISTAKES = {
    "sgd_momentum_update": SGD_MISTAKES,
    "rmsprop_update": RMSPROP_MISTAKES,
    "adam_update": ADAM_MISTAKES,
}


# =========================================================================== problem set 4
# an optimizer class around a pure update, a training loop, a trained network


def _params_problem(params, like, what):
    """None if `params` is a dict with the keys and shapes of `like`, else a sentence."""
    if params is None:
        return f"{what} is None: did you forget to return the parameters?"
    if not isinstance(params, dict):
        return f"{what} is {_short(params)}, expected a dict name -> array like {sorted(like)}"
    if set(params) != set(like):
        return f"{what} has the keys {sorted(params)}, expected {sorted(like)}"
    for k in like:
        if not _is_number_like(params[k]) or np.shape(params[k]) != np.shape(like[k]):
            return (f"{what}[{k!r}] is {_short(params[k])}, expected an array of shape "
                    f"{np.shape(like[k])}")
    return None


def check_optimizer_class(cls, cases="visible"):
    """Check an Adam-like class: `opt = cls(lr=..., betas=..., eps=..., weight_decay=...,
    amsgrad=...)`, `params = opt.step(params, grads)` on a dict of arrays, several steps,
    against optlessons.optim.Adam (state kept per parameter between steps)."""
    from optlessons.optim import Adam
    rng = _rng(cases, 10)
    settings = ([dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False),
                 dict(lr=0.1, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.0, amsgrad=True)]
                if cases == "visible" else
                [dict(lr=0.003, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, amsgrad=False)])
    name = getattr(cls, "__name__", "your class")
    steps = 5
    for kw in settings:
        params = {"W1": rng.normal(size=(3, 2)), "b1": np.zeros(2)}
        grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(steps)]
        try:
            opt = cls(**kw)
        except NotImplementedError:
            raise CheckFailed(f"`{name}` is not written yet: its __init__ raised "
                              f"NotImplementedError.") from None
        except Exception as exc:
            raise CheckFailed(f"`{name}({_kw(kw)})` raised {type(exc).__name__}: {exc}{_where(exc)}") from None
        ref = Adam(**kw)
        mine, theirs = _copy(params), _copy(params)
        for t in range(steps):
            given = _copy(mine)
            try:
                with np.errstate(all="ignore"):
                    new = opt.step(given, _copy(grads[t]))
            except NotImplementedError:
                raise CheckFailed(f"`{name}.step` is not written yet: it raised NotImplementedError.") from None
            except Exception as exc:
                raise CheckFailed(f"`{name}.step` raised {type(exc).__name__}: {exc}{_where(exc)} "
                                  f"(step {t + 1}, {_kw(kw)})") from None
            for k in mine:
                if not np.array_equal(given[k], mine[k]):
                    raise CheckFailed(f"`{name}.step` changed params[{k!r}] in place (step {t + 1}): "
                                      f"build a new dict of new arrays.")
            problem = _params_problem(new, params, f"what `{name}.step` returned")
            if problem:
                raise CheckFailed(problem + f" (step {t + 1})")
            theirs = ref.step(theirs, grads[t])
            for k in params:
                msg = _compare(f"params[{k!r}] after step {t + 1}", theirs[k], new[k])
                if msg:
                    hint = ""
                    if t > 0:
                        fresh = Adam(**kw).step(mine, grads[t])
                        if _compare("x", fresh[k], new[k]) is None:
                            hint = ("\n  This looks like a known mistake: the state starts afresh at "
                                    "every step; keep one state per parameter name in the object "
                                    "(e.g. self.state[name]) and pass it to the next step.")
                    raise CheckFailed(f"`{name}` does not match optlessons.optim.Adam ({_kw(kw)}):\n"
                                      f"  {msg}{hint}")
            mine = new
    print(f"✓ {name} matches optlessons.optim.Adam on {len(settings)} settings × {steps} steps")


class _CountingOptimizer:
    """Wraps an optimizer and counts the calls to step."""

    def __init__(self, opt):
        self._opt, self.calls, self.batch_sizes = opt, 0, []

    @property
    def lr(self):
        return self._opt.lr

    @lr.setter
    def lr(self, value):
        self._opt.lr = value

    def step(self, params, grads):
        self.calls += 1
        return self._opt.step(params, grads)


def _train_reference(model, params, X, y, epochs, bs, lr, draw):
    from optlessons.optim import Adam
    opt = Adam(lr=lr)
    for _ in range(epochs):
        order = draw()
        for start in range(0, len(X), bs):
            idx = order[start:start + bs]
            params = opt.step(params, model.backward(params, X[idx], y[idx])[1])
    return params


def _same_params(a, b) -> bool:
    return set(a) == set(b) and all(np.allclose(a[k], b[k], rtol=1e-9, atol=1e-12) for k in a)


def _shuffle_problem(fn, model, params, out, X, y, epochs, bs, lr):
    """What is wrong with how `train_epochs` orders the examples, or None.

    The task asks for `rng.permutation(n)` each epoch; another shuffle drawn from
    the rng passed in is accepted, a fixed order or another source of randomness is not."""
    from optlessons.optim import Adam
    n = len(X)
    rng = np.random.default_rng(2)
    if _same_params(out, _train_reference(model, params, X, y, epochs, bs, lr,
                                          lambda: rng.permutation(n))):
        return None
    if _same_params(out, _train_reference(model, params, X, y, epochs, bs, lr,
                                          lambda: np.arange(n))):
        return ("takes the examples in their stored order: shuffle every epoch with "
                "`order = rng.permutation(n)` (the rng passed in) and index X and y with it.")

    def again(seed):
        with np.errstate(all="ignore"):
            return fn(model, _copy(params), Adam(lr=lr), X, y, epochs=epochs, batch_size=bs,
                      rng=np.random.default_rng(seed))
    try:
        same_seed, other_seed = again(2), again(3)
    except Exception:
        return None
    if not _same_params(out, same_seed):
        return ("gave different results on two runs with the same `rng`: draw each epoch's order "
                "from the rng passed in, `order = rng.permutation(n)`, not from np.random.*.")
    if _same_params(out, other_seed):
        return ("gave the same result for two different `rng`s: the rng passed in is not used; "
                "draw each epoch's order with `order = rng.permutation(n)`, don't create a "
                "generator of your own.")
    if epochs > 1:
        rng = np.random.default_rng(2)
        first = rng.permutation(n)
        if _same_params(out, _train_reference(model, params, X, y, epochs, bs, lr,
                                              lambda: first)):
            return ("shuffles once and reuses that order in every epoch: draw a new "
                    "`order = rng.permutation(n)` at the start of each epoch.")
    return None


def check_training_loop(fn, cases="visible"):
    """Check `train_epochs(model, params, optimizer, X, y, *, epochs, batch_size, rng) -> params`:
    one optimizer step per mini-batch, every epoch reshuffled, the loss going down."""
    from optlessons.data import load_digits
    from optlessons.models import MLP
    from optlessons.optim import Adam
    digits = load_digits(0)
    X, y = digits.X_train, digits.y_train
    specs = [(2, 100, 0.01), (1, 64, 0.005)] if cases == "visible" else [(3, 256, 0.02)]
    for epochs, bs, lr in specs:
        model = MLP(X.shape[1], hidden=(16,), n_classes=10)
        params = model.init(np.random.default_rng(1))
        before = _copy(params)
        opt = _CountingOptimizer(Adam(lr=lr))
        label = f"epochs={epochs}, batch_size={bs}, Adam(lr={lr}), {len(X)} training examples"
        try:
            with np.errstate(all="ignore"):
                out = fn(model, params, opt, X, y, epochs=epochs, batch_size=bs,
                         rng=np.random.default_rng(2))
        except NotImplementedError:
            raise CheckFailed("`train_epochs` is not written yet: it raised NotImplementedError.") from None
        except Exception as exc:
            raise CheckFailed(f"`train_epochs` raised {type(exc).__name__}: {exc}{_where(exc)} ({label})") from None
        for k in params:
            if not np.array_equal(params[k], before[k]):
                raise CheckFailed(f"`train_epochs` changed params[{k!r}] in place ({label}): "
                                  f"use `params = optimizer.step(params, grads)`.")
        problem = _params_problem(out, params, "what `train_epochs` returned")
        if problem:
            raise CheckFailed(problem + f" ({label})")
        expected = epochs * -(-len(X) // bs)
        if opt.calls != expected:
            hint = ""
            if opt.calls == epochs:
                hint = " — one step per epoch: step once per mini-batch instead"
            elif opt.calls == epochs * (len(X) // bs):
                hint = " — the last, smaller batch of each epoch is missing"
            elif opt.calls == -(-len(X) // bs):
                hint = " — only one epoch: loop `for epoch in range(epochs)`"
            raise CheckFailed(f"`train_epochs` called optimizer.step {opt.calls} times, expected "
                              f"{expected} (epochs × ⌈n / batch_size⌉){hint} ({label})")
        start, end = model.loss(params, X, y), model.loss(out, X, y)
        if not end < 0.7 * start:
            raise CheckFailed(f"the training loss went from {start:.4f} to {end:.4f} ({label}); it "
                              f"should fall by far more: are the new params returned by "
                              f"optimizer.step kept for the next batch?")
        problem = _shuffle_problem(fn, model, params, out, X, y, epochs, bs, lr)
        if problem:
            raise CheckFailed(f"`train_epochs` {problem} ({label})")
    print(f"✓ train_epochs makes one step per mini-batch and lowers the loss on {len(specs)} runs")


def check_accuracy(model, params, X, y, target):
    """Check that `params` reach at least `target` accuracy on (X, y)."""
    if params is None:
        raise CheckFailed("the training is not written yet: the trained parameters are None "
                          "(assign the result of your training run)")
    try:
        acc = float(model.accuracy(params, X, y))
    except Exception as exc:
        raise CheckFailed(f"computing the accuracy raised {type(exc).__name__}: {exc}") from None
    if not acc >= target:
        raise CheckFailed(f"accuracy {acc:.3f} is below the target {target:.3f}: train for more "
                          f"epochs or try another learning rate (Adam's lr around 3e-3 to 1e-2). "
                          f"If your validation accuracy was above the target, remember that a "
                          f"few hundred examples give a noisy estimate: aim a few points higher.")
    print(f"✓ accuracy {acc:.3f} ≥ {target:.3f} on {len(y)} examples")
