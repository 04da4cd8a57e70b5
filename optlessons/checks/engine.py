"""The engine every check runs on: cases, comparing, calling the learner's code safely.

A check calls the learner's function on several cases, compares every quantity it
returns with the reference in ``optlessons`` and, on the first difference, raises
:class:`CheckFailed` with a message that names the case, the quantity, by how much
and where, and which known :class:`Mistake` the result looks like.

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

**Learner calls.** Every call into the learner's code runs inside
:func:`learner_call`: the context variable :data:`FORBIDDEN` holds the references
the learner must not call (:func:`forbidden_references`), and a ``sys.setprofile``
tracer raises :class:`ReferenceCalled` as soon as a frame runs one of their code
objects (aliases, wrappers, subclasses and ``Adam(...).step`` included). A grading
kernel's proxies raise :class:`ReferenceCalled` and :class:`LearnerTimeout` from
the learner's process (see ``courseops.grading``); both, and a
``KeyboardInterrupt`` (nbgrader stops a cell that runs too long with SIGINT),
become a :class:`CheckFailed` sentence. Every argument a check passes to the
learner's code pickles by value (arrays, records, ``np.random.Generator``,
module-level functions and instances of module-level classes), and the checks
read the arguments' state after the call (an input changed in place, the state
of the ``rng`` passed to PS2's ``minibatches``, the calls counted by PS4's
``CountingOptimizer``). A learner's function that returns a generator
(``minibatches``) must be run out where it runs, before its arguments' state is
read: two calls with one ``rng`` must give two epochs.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import inspect
import os
import re
import sys
import sysconfig
import textwrap
import threading
import traceback
import types
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

RTOL = 1e-6   # relative tolerance: different but correct orders of operations agree to ~1e-15
ATOL = 1e-10


class CheckFailed(AssertionError):
    """A check found a difference; the message says which quantity, by how much, and why.

    In Jupyter (and so in nbgrader's feedback) it shows as ``CheckFailed: <message>``
    alone: the frames inside this package say nothing to a learner. When the learner's
    own code raised, the message names their line (see :func:`where`).
    """

    WIDTH = 88   # characters a line may take before it is wrapped, at a space

    def __init__(self, message: str = "", mistake: str | None = None):
        super().__init__(message)
        self.mistake = mistake   # the known mistake it names (its hint), as data for reports

    def _render_traceback_(self) -> list[str]:
        # IPython shows this list instead of the traceback (InteractiveShell.showtraceback).
        # JupyterLab breaks an over-long output line anywhere, even mid-word ("di / ffer"):
        # wrap each line at a space first, continuing under its own indentation.
        lines = []
        for line in f"CheckFailed: {self}".splitlines():
            indent = line[:len(line) - len(line.lstrip())]
            lines += textwrap.wrap(line, width=self.WIDTH, subsequent_indent=indent + "  ",
                                   break_long_words=False, break_on_hyphens=False) or [""]
        return lines


class CallStopped(CheckFailed):
    """A learner call stopped by a time limit or an interrupt: the check stops calling."""


class LearnerTimeout(Exception):
    """A call of the learner's `function` ran longer than `seconds` (raised by a grading proxy)."""

    def __init__(self, function: str, seconds: float):
        super().__init__(f"{function} ran longer than {seconds:g} s")
        self.function, self.seconds = function, seconds


class ReferenceCalled(Exception):
    """The learner's `function` called `reference` ("optlessons.optim.adam_update"),
    one of the implementations it must not use."""

    def __init__(self, function: str, reference: str):
        super().__init__(f"{function} called {reference}")
        self.function, self.reference = function, reference


FORBIDDEN: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("FORBIDDEN", default=())
"""The references the learner's code may not call during the current learner call."""

HIDDEN_CASES: contextvars.ContextVar[int] = contextvars.ContextVar("HIDDEN_CASES", default=0)
"""Non-zero (a number per check run) while a check runs cases it was given rather than its
visible ones: the graded notebooks' hidden tests. A grading kernel then does not show what
the learner's code prints (it would show the hidden cases' values). Set by `case_specs`,
back to 0 when the check returns or raises (`ends_hidden_cases`): it must not outlive it."""
_HIDDEN_RUNS = iter(range(1, 1 << 62))

CALL_TIMEOUT: contextvars.ContextVar[float] = contextvars.ContextVar("CALL_TIMEOUT", default=30.0)
"""Seconds one call of the learner's code may take (enforced by the grading proxies)."""


class Mistake(NamedTuple):
    """A known mistake: a short name, the hint shown to the learner, and how to compute it."""
    name: str
    hint: str
    compute: Callable


class Case(NamedTuple):
    """One case: the inputs passed positionally (in order), keywords, and an optional
    `call(fn, inputs, kwargs) -> output` for checks that call `fn` more than once."""
    label: str
    inputs: dict
    kwargs: dict
    call: Callable | None = None


# --------------------------------------------------------------------------- what may not be called
# check -> (the references, what the learner writes instead). Data only: the judge's
# proxies read it through `forbidden_references` without importing the problem sets.

_LOSS_CE = ("optlessons.losses.softmax_cross_entropy", "optlessons.losses.softmax_cross_entropy_grad",
            "optlessons.losses.log_softmax", "optlessons.losses.softmax", "optlessons.losses.logsumexp")
_TRAINING = ("optlessons.train.fit", "optlessons.train.minimize", "optlessons.search.trainer",
             "optlessons.search.tune_lr", "optlessons.search.compare_optimizers")
_SCHEDULES = tuple(f"optlessons.schedules.{name}" for name in (
    "linear", "cosine", "sequential", "warmup", "one_cycle", "cosine_warm_restarts"))

FORBIDDEN_REFERENCES: dict[str, tuple[tuple[str, ...], str]] = {
    "check_mse": (("optlessons.losses.mse",), "the loss"),
    "check_mse_grad": (("optlessons.losses.mse_grad",), "the gradient"),
    "check_softmax_cross_entropy": (_LOSS_CE, "the loss"),
    "check_softmax_cross_entropy_grad": (_LOSS_CE, "the gradient"),
    "check_numerical_gradient": (("optlessons.gradcheck.numerical_gradient",
                                  "optlessons.gradcheck.check_gradient"), "the finite differences"),
    "check_gradient_descent": (("optlessons.train.minimize", "optlessons.optim.sgd_update",
                                "optlessons.optim.SGD"), "the loop"),
    # the package has no mini-batch helper (fit shuffles inline) and no 2/λ_max function
    "check_minibatches": ((), "the batches"),
    "check_max_stable_lr": ((), "the formula"),
    "check_sgd_momentum_update": (("optlessons.optim.sgd_update", "optlessons.optim.SGD"), "the update"),
    "check_rmsprop_update": (("optlessons.optim.rmsprop_update", "optlessons.optim.RMSprop"),
                             "the update"),
    "check_adam_update": (("optlessons.optim.adam_update", "optlessons.optim.adamw_update",
                           "optlessons.optim.Adam", "optlessons.optim.AdamW"), "the update"),
    # PS4's locked cell imports adam_update for MyAdam to call: only the classes are off limits
    "check_optimizer_class": (("optlessons.optim.Adam", "optlessons.optim.AdamW"), "the class"),
    "check_training_loop": (_TRAINING, "the loop"),
    "check_warmup": (_SCHEDULES, "the schedule"),
    "check_warmup_cosine": (_SCHEDULES, "the schedule"),
    "check_clip_grad_norm": (("optlessons.train.clip_grad_norm",), "the clipping"),
    "check_range_test": (("optlessons.search.lr_find", "optlessons.train.fit"), "the loop"),
    "check_lion_update": (("optlessons.optim.lion_update", "optlessons.optim.Lion"), "the update"),
    "check_adafactor_second_moment": (("optlessons.optim.adafactor_update", "optlessons.optim.Adafactor"),
                                      "the second moment"),
    "check_newton_schulz": (("optlessons.optim.newton_schulz", "optlessons.optim.muon_update",
                             "optlessons.optim.Muon"), "the iteration"),
}


# The functions of the problem sets' modules a check passes to the learner's code as
# arguments (PS1's test functions of the numerical gradient, PS2's Rosenbrock gradient):
# the learner's process must have them while grading.
SENT_TO_LEARNER: dict[str, tuple[str, ...]] = {
    "ps1": ("cubic", "mixed", "softmax_loss"), "ps2": ("rosenbrock_gradient",)}


def forbidden_references(check_name: str) -> tuple[str, ...]:
    """The dotted names of what the learner's code may not call during `check_name`,
    e.g. "check_adam_update" -> ("optlessons.optim.adam_update", ..., "optlessons.optim.AdamW")."""
    if check_name not in FORBIDDEN_REFERENCES:
        raise ValueError(f"check_name must be one of {sorted(FORBIDDEN_REFERENCES)}, got {check_name!r}")
    return FORBIDDEN_REFERENCES[check_name][0]


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _function_codes(f) -> list[types.CodeType]:
    """A function's code object and every code object nested in it (closures, lambdas)."""
    codes, todo = [], [f.__code__]
    while todo:
        code = todo.pop()
        codes.append(code)
        todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return codes


def _class_functions(cls) -> list:
    """The functions written in the bodies of `cls` and of its bases inside optlessons
    (a staticmethod that merely names a module function, like `Adam.update`, is not)."""
    found = []
    for klass in cls.__mro__:
        if not klass.__module__.startswith("optlessons."):
            continue
        for value in vars(klass).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            parts = ((value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,))
            found += [f for f in parts if inspect.isfunction(f)
                      and f.__qualname__.startswith(klass.__qualname__ + ".")]
    return found


@functools.lru_cache(maxsize=None)
def reference_codes(references: tuple[str, ...]) -> dict[types.CodeType, str]:
    """Code object -> the dotted reference it belongs to, for functions and classes."""
    codes = {}
    for dotted in references:
        obj = _resolve(dotted)
        functions = _class_functions(obj) if isinstance(obj, type) else [obj]
        for f in functions:
            for code in _function_codes(f):
                codes.setdefault(code, dotted)
    return codes


@contextlib.contextmanager
def _tripwire(function: str, references: tuple[str, ...]):
    """Raise ReferenceCalled when a frame runs one of the references' code objects."""
    codes = reference_codes(references)
    if not codes:
        yield
        return

    called = []   # kept even if the learner's code catches the exception (and so unsets the tracer)

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            called.append(codes[frame.f_code])
            raise ReferenceCalled(function, called[0])

    previous, previous_threads = sys.getprofile(), threading.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)   # threads the learner's code starts
    try:
        yield
    except BaseException:
        if called:   # whatever the learner's code raised after it caught the first one
            raise ReferenceCalled(function, called[0]) from None
        raise
    finally:
        sys.setprofile(previous)
        threading.setprofile(previous_threads)
    if called:
        raise ReferenceCalled(function, called[0])


def _timeout_sentence(function: str, label: str, seconds: float, how: str) -> str:
    return (f"`{function}` {how} on {label}: the limit is {seconds:g} s per call. Likely cause: an "
            f"infinite loop (a `while` whose condition never changes), or a loop over far more "
            f"steps than the task needs.")


@contextlib.contextmanager
def learner_call(check: str, function: str, label: str):
    """Run the learner's code for `check` (`function` on case `label`): with the check's
    forbidden references set in FORBIDDEN and traced, and a reference call, a timeout or an
    interrupt turned into a CheckFailed sentence. Other exceptions pass through."""
    references, what = FORBIDDEN_REFERENCES[check]
    token = FORBIDDEN.set(references)
    try:
        with _tripwire(function, references):
            yield
    except ReferenceCalled as exc:
        raise CheckFailed(f"`{function}` calls the course's `{exc.reference}`: write {what} "
                          f"yourself.") from None
    except LearnerTimeout as exc:
        raise CallStopped(_timeout_sentence(function, label, exc.seconds, "ran out of time")) from None
    except KeyboardInterrupt:
        raise CallStopped(_timeout_sentence(function, label, CALL_TIMEOUT.get(),
                                         "was interrupted (stopped for taking too long)")) from None
    finally:
        FORBIDDEN.reset(token)


# --------------------------------------------------------------------------- choosing the cases


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


# --------------------------------------------------------------------------- formatting


def num(x) -> str:
    """A number for messages: ints as ints, floats with 6 significant digits."""
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        return f"{float(x):.6g}"
    except (TypeError, ValueError):
        return repr(x)


def short(x) -> str:
    """A one-line description of a value for messages."""
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        if x.size <= 6:
            return np.array2string(x, precision=5, separator=", ").replace("\n", "")
        return f"an array of shape {x.shape}"
    if isinstance(x, (float, int, np.number)):
        return num(x)
    return f"a {type(x).__name__}"


def kw_text(kwargs) -> str:
    """`lr=0.1, betas=(0.9, 0.999)`: keyword arguments as a learner would write them."""
    return ", ".join(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={num(v)}"
                     for k, v in kwargs.items())


_PACKAGE = Path(__file__).resolve().parents[1]   # optlessons/: the references and the checks


def _library_file(filename: str) -> bool:
    """Whether a frame's file belongs to Python, an installed library or optlessons itself."""
    f = os.path.realpath(filename)
    roots = {os.path.realpath(sysconfig.get_paths()[k])
             for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(str(_PACKAGE))
    parts = Path(f).parts
    return any(f.startswith(r + os.sep) for r in roots) or "site-packages" in parts or "dist-packages" in parts


_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in [^\n]*\n    (?P<code>[^\n]+)', re.M)


def _frames(exc: BaseException) -> list[tuple[str, int, str]]:
    """(file, line, code) of the frames that raised `exc`: its own traceback's, or, for an
    exception re-raised from the learner's process by a grading proxy, the frames of the
    traceback text it carries (`learner_traceback`)."""
    text = getattr(exc, "learner_traceback", "")
    if isinstance(text, str) and text:
        return [(m["file"], int(m["line"]), m["code"]) for m in _FRAME.finditer(text)]
    return [(f.filename, f.lineno, f.line or "") for f in traceback.extract_tb(exc.__traceback__)]


def where(exc: BaseException) -> str:
    """Where the learner's own code raised: the last frame outside Python, its libraries
    and optlessons (a numpy call in their code names their line, not numpy's),
    e.g. " at line 4: `m = beta1 * m + g[0]`"; "" when no frame is theirs."""
    own = [(line, code) for file, line, code in _frames(exc) if not _library_file(file) and code.strip()]
    if not own:
        return ""
    line, code = own[-1]
    return f" at line {line}: `{code.strip()}`"


# --------------------------------------------------------------------------- comparing


def is_number_like(x) -> bool:
    """Whether `x` converts to a float array (a number, an array, a list of numbers)."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.dtype != object


def compare(qname: str, expected, got, rtol=RTOL, atol=ATOL) -> str | None:
    """None if `got` equals `expected`, else a sentence saying how they differ."""
    if expected is None:
        if got is None:
            return None
        return (f"`{qname}` should be None (it is not used with these settings) "
                f"but is {short(got)}: pass it through unchanged")
    if got is None:
        return f"`{qname}` is None, expected {short(expected)}"
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        if isinstance(got, (float, np.floating)) and float(got).is_integer():
            got = int(got)
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            return f"`{qname}` should be an int ({expected}), got {short(got)}"
        if int(got) != int(expected):
            return f"`{qname}`: expected {int(expected)}, got {int(got)}"
        return None
    if not is_number_like(got):
        return f"`{qname}` is {short(got)}, not a number or an array of numbers"
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
    maxdiff = num(finite.max()) if finite.size else "inf"
    at = f" at index {idx if len(idx) != 1 else idx[0]}" if e.shape else ""
    msg = (f"`{qname}` differs{at}: expected {num(e[idx])}, got {num(g[idx])} "
           f"(max abs difference {maxdiff}; {int(bad.sum())} of {e.size} entries differ)")
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        msg += "; your result contains nan or inf where the reference is finite"
    return msg


def first_difference(expected: dict, got: dict) -> tuple[str, str] | None:
    """(quantity, sentence) for the first quantity of `expected` that `got` gets wrong."""
    for q, e in expected.items():
        if q not in got:
            return q, f"`{q}` is missing"
        msg = compare(q, e, got[q])
        if msg:
            return q, msg
    return None


def _same(expected: dict, got: dict) -> bool:
    return first_difference(expected, got) is None


def _not_finite_where_expected_finite(expected: dict, got: dict) -> bool:
    for q, e in expected.items():
        if q in got and is_number_like(e) and is_number_like(got[q]):
            e, g = np.asarray(e, dtype=float), np.asarray(got[q], dtype=float)
            if e.shape == g.shape and np.any(np.isfinite(e) & ~np.isfinite(g)):
                return True
    return False


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
