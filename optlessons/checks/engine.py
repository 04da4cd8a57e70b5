"""The engine every check runs on: choosing the cases, calling the learner's code safely,
comparing with the reference and naming the known mistake.

A check calls the learner's function on several cases, compares every quantity it
returns with the reference in ``optlessons`` and, on the first difference, raises
:class:`~optlessons.checks.base.CheckFailed` with a message that names the case, the
quantity, by how much and where (:mod:`~optlessons.checks.compare`), and which known
mistake the result looks like.

**Cases.** Every ``check_*`` takes ``cases="visible"`` (the default: the cases the
learner sees in the released notebook) or a list of case specs, plus ``seed``:

    check_adam_update(fn)                                   # the visible cases
    check_adam_update(fn, cases=[dict(shape=(4,), steps=2, lr=0.05, betas=(0.9, 0.99),
                                      eps=1e-8, weight_decay=0.0, amsgrad=True)], seed=123)

A spec is a dict of plain values (numbers, tuples, lists) in the same form as the
check's ``VISIBLE`` specs (``optlessons.checks.ps3.ADAM_VISIBLE`` ...); random
inputs the specs ask for (``shape=...``) are drawn, in order, from
``np.random.default_rng(seed)``. The graded notebooks' hidden test cells write
their specs and seed there, in the source notebook: the hidden cases are not in
this package, and a learner who has the package cannot run them.

**Learner calls** run inside :func:`~optlessons.checks.references.learner_call` (what
may not be called, time-outs and interrupts in words). The checks read the arguments'
state after the call (an input changed in place, the ``rng`` passed to PS2's
``minibatches``, the calls counted by PS4's ``CountingOptimizer``); a learner's
function that returns a generator must be run out before that state is read.
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable, NamedTuple

import numpy as np

from optlessons.checks.base import CallStopped, Case, CheckFailed, HIDDEN_CASES, Mistake
from optlessons.checks.compare import first_difference, is_number_like, short, where
from optlessons.checks.references import learner_call


# --------------------------------------------------------------------------- choosing the cases


_HIDDEN_RUNS = iter(range(1, 1 << 62))   # the numbers HIDDEN_CASES takes


def case_specs(cases, seed, visible: list[dict], visible_seed: int,
               keys: set[str]) -> tuple[list[dict], np.random.Generator]:
    """The specs to run and the generator their random inputs are drawn from.

    `cases` is "visible" (the check's `visible` specs; `seed` defaults to `visible_seed`)
    or a non-empty list of spec dicts using only `keys` (`seed` defaults to 0)."""
    if isinstance(cases, str) and cases == "visible":
        specs, seed = visible, (visible_seed if seed is None else seed)
    elif isinstance(cases, (list, tuple)) and cases and all(isinstance(c, dict) for c in cases):
        specs = list(cases)
    else:
        raise ValueError(f'cases must be "visible" or a non-empty list of case dicts, got {cases!r} '
                         f"(the graded notebooks' hidden test cells pass their own: "
                         f"cases=[dict(...), ...], seed=...)")
    for spec in specs:
        unknown = sorted(set(spec) - keys)
        if unknown:
            raise ValueError(f"the case {spec!r} has the unknown key(s) {unknown}; "
                             f"the keys are {sorted(keys)}")
    HIDDEN_CASES.set(0 if specs is visible else next(_HIDDEN_RUNS))   # 0 again when the check ends
    return specs, np.random.default_rng(0 if seed is None else seed)


def spec_value(spec: dict, key: str, default=...):
    """`spec[key]`, or `default`; a missing key without a default is a ValueError naming it."""
    if key in spec:
        return spec[key]
    if default is ...:
        raise ValueError(f"the case {spec!r} needs the key {key!r}")
    return default


# --------------------------------------------------------------------------- calling safely


def copy_value(x):
    """A copy of an input: arrays copied, records, lists, tuples and dicts rebuilt around copies."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(copy_value(v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(copy_value(v) for v in x)
    if isinstance(x, dict):
        return {k: copy_value(v) for k, v in x.items()}
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


def _invoke(fn, case: Case, inputs: dict):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.call is not None:
            return case.call(fn, inputs, dict(case.kwargs))
        return fn(*inputs.values(), **case.kwargs)


def run_quietly(fn, case: Case):
    """Run a reference or a mistake on fresh copies of the case's inputs; None if it raises."""
    try:
        return _invoke(fn, case, copy_value(case.inputs))
    except Exception:
        return None


def guarded(check: str, name: str, label: str, call: Callable, signature: str = ""):
    """`call()` (which runs the learner's code) inside `learner_call`; NotImplementedError and
    any other exception become a CheckFailed sentence naming `name`, `label` and the learner's line."""
    try:
        with learner_call(check, name, label):
            return call()
    except NotImplementedError as exc:
        if str(exc):   # e.g. a reference that is not available while grading: it says why
            raise CheckFailed(f"`{name}` raised NotImplementedError: {exc}") from None
        raise CheckFailed(f"`{name}` is not written yet: it raised NotImplementedError. "
                          f"Replace `raise NotImplementedError()` with your code.") from None
    except CheckFailed:
        raise
    except Exception as exc:   # the learner's bug, reported in a sentence
        msg = f"`{name}` raised {type(exc).__name__}: {exc}{where(exc)}\n  on {label}"
        if signature and isinstance(exc, TypeError) and "argument" in str(exc):
            msg += f"\n  Keep the signature given in the exercise: {signature}"
        if "Cannot cast ufunc" in str(exc):   # numpy's UFuncTypeError, also when re-raised by a proxy
            msg += ("\n  An input here is an integer array: an in-place `x -= ...` or `x[i] += h` "
                    "cannot store floats in it. Work on `np.array(x, dtype=float)`.")
        raise CheckFailed(msg) from None


#: Why writing into an input is wrong, and what to write instead: a check whose function is not an
#: update step passes its own sentence (`run_check(..., in_place=...)`).
IN_PLACE_HINT = ("`x -= lr * g` or `x[i] = ...` changes the caller's array too (a trajectory stored earlier "
                 "would change). Compute a new array instead, e.g. `x = x - lr * g`, or work on `x.copy()`.")


def call_learner(fn, check: str, name: str, case: Case, signature: str, in_place: str = IN_PLACE_HINT):
    """Call the learner's function on copies (see `guarded`); report in-place writes, explained by
    `in_place`. Returns (output, the inputs as passed)."""
    inputs = copy_value(case.inputs)
    out = guarded(check, name, case.label, lambda: _invoke(fn, case, inputs), signature)
    now = dict(_input_arrays(inputs))
    for path, original in _input_arrays(case.inputs):
        arr = now.get(path)
        if arr is not None and (arr.shape != original.shape
                                or not np.array_equal(arr, original, equal_nan=True)):
            raise CheckFailed(
                f"`{name}` changed its input `{path}` in place (on {case.label}). "
                f"Never write into the arrays you are given: {in_place}")
    return out, inputs


# --------------------------------------------------------------------------- the engine


def _same(expected: dict, got: dict) -> bool:
    return first_difference(expected, got) is None


def _not_finite_where_expected_finite(expected: dict, got: dict) -> bool:
    for q, e in expected.items():
        if q in got and is_number_like(e) and is_number_like(got[q]):
            e, g = np.asarray(e, dtype=float), np.asarray(got[q], dtype=float)
            if e.shape == g.shape and np.any(np.isfinite(e) & ~np.isfinite(g)):
                return True
    return False


def _explains(m: Mistake, case: Case, expected: dict, got: dict, unpack) -> bool:
    out = run_quietly(m.compute, case)
    if out is None:
        return False
    try:
        # quantities the learner's result lacks (fewer batches, say) count only if
        # the mistake produces them too
        q = {k: v for k, v in expected.items() if k in got}
        q.update(unpack(out))
    except (CheckFailed, TypeError, AttributeError):
        return False
    return _same(q, got)


def name_mistakes(mistakes, case: Case, expected: dict, got: dict, unpack, others=()) -> list[Mistake]:
    """The known mistakes whose result equals the learner's on `case`.

    When several do, those that also explain the learner's `others` (case, expected,
    got) are preferred. A result that is inf or nan where the reference is finite
    equals many mistakes by accident (inf = inf): then only mistakes that also explain
    every other case are named."""
    found = [m for m in mistakes if _explains(m, case, expected, got, unpack)]
    strict = _not_finite_where_expected_finite(expected, got)
    if (len(found) > 1 or strict) and others:
        consistent = [m for m in found
                      if all(_explains(m, oc, oexp, ogot, unpack) for oc, oexp, ogot in others)]
        found = consistent if strict else (consistent or found)
    return found


def ends_hidden_cases(check: Callable) -> Callable:
    """`check`, which sets HIDDEN_CASES through `case_specs`, resetting it to 0 when it ends."""
    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        finally:
            HIDDEN_CASES.set(0)
    return wrapper


@ends_hidden_cases
def run_check(fn, *, check: str, name: str, what: str, signature: str, cases: list, reference,
              unpack, mistakes=(), extra=None, aliasing=True, in_place=IN_PLACE_HINT):
    """Compare `fn` with `reference` on `cases`; raise CheckFailed or print a ✓ line.

    check: the check's name, for the forbidden references ("check_adam_update").
    in_place: the sentence that follows "Never write into the arrays you are given:" when `fn`
    changes an input (default: an update step's `x -= lr * g`).
    unpack(output) -> dict quantity -> value (raises CheckFailed on a malformed output).
    extra(case, expected, got, first_bad) -> str: more help after a difference.
    """
    if not callable(fn):
        raise CheckFailed(f"expected a function `{name}`, got {short(fn)}")
    labelled = [c._replace(label=f"case {i} of {len(cases)} ({c.label})") for i, c in enumerate(cases, 1)]
    for case in labelled:
        expected = unpack(run_quietly(reference, case))
        out, passed = call_learner(fn, check, name, case, signature, in_place)
        try:
            got = unpack(out)
        except CheckFailed as exc:
            raise CheckFailed(f"`{name}` {exc} (on {case.label})") from None
        diff = first_difference(expected, got)
        if diff is not None:
            qname, msg = diff
            text = f"`{name}` does not match the reference on {case.label}:\n  {msg}"
            if extra:
                try:
                    more = extra(case, expected, got, qname)
                except Exception:   # extra help is optional; never let it hide the message
                    more = None
                if more:
                    text += f"\n  {more}"
            # other cases give evidence to choose between mistakes that agree on this one
            others = []
            for oc in labelled:
                if oc is case:
                    continue
                try:
                    oout, _ = call_learner(fn, check, name, oc, signature, in_place)
                    others.append((oc, unpack(run_quietly(reference, oc)), unpack(oout)))
                except CallStopped:   # out of time: report the difference found so far
                    break
                except CheckFailed:
                    continue
            found = name_mistakes(mistakes, case, expected, got, unpack, others)
            if found:
                text += "\n  This looks like a known mistake: " + found[0].hint
                for m in found[1:]:
                    text += "\n  (or: " + m.hint + ")"
            raise CheckFailed(text, mistake=found[0].hint if found else None)
        if aliasing:
            _check_aliasing(name, case, passed, reference, out, unpack)
    print(f"✓ {name} matches {what} on {len(cases)} cases")


def _check_aliasing(name, case, passed_inputs, reference, out, unpack):
    """A returned array must not be one of the input arrays (unless the reference does so too)."""
    ref_inputs = copy_value(case.inputs)
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
                raise CheckFailed(
                    f"`{name}` returned a result that aliases its input (on {case.label}): "
                    f"`{q}` is the very array passed in as `{path}`, so a later in-place "
                    f"change to one changes the other. Return a new array "
                    f"(e.g. `{path.split('.')[-1]}.copy()`).")


class ScalarUnpack:
    """unpack(output) -> {qname: output}, for checks of functions returning one value."""

    def __init__(self, qname: str):
        self.qname = qname

    def __call__(self, out) -> dict:
        return {self.qname: out}


class Variant(NamedTuple):
    """A known mistake as data: the hint, and the tweaks (keyword values) that make a
    model compute it, e.g. Variant("eps is inside the square root ...", {"eps_at": "inside"})."""
    hint: str
    tweaks: dict


class _Tweaked:
    """model(..., **kwargs, **tweaks): a mistake of a model with keyword knobs (picklable)."""

    def __init__(self, model, tweaks):
        self.model, self.tweaks = model, tweaks

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs, **self.tweaks)


def variant_mistakes(model, variants: dict[str, Variant]) -> list[Mistake]:
    """The Mistakes of a table name -> Variant, each computed by `model` with its tweaks."""
    return [Mistake(name, v.hint, _Tweaked(model, v.tweaks)) for name, v in variants.items()]
