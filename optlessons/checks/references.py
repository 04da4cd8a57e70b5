"""What the learner's code may not call during a check, and the hint that says so.

:data:`FORBIDDEN_REFERENCES` names, per check, the course's implementations the learner
writes instead; the grader strips them from the package the learner's process sees
(``courseops.grading.stripped``), which is what makes grading honest. In the learner's
own kernel, :func:`learner_call` also watches the call with a ``sys.setprofile`` tracer
and turns a call of a reference, a time-out or an interrupt into a :class:`CheckFailed`
sentence: a hint for an honest learner, not a guarantee.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import sys
import threading
import types

from optlessons.checks.base import CALL_TIMEOUT, FORBIDDEN, CallStopped, CheckFailed, LearnerTimeout, ReferenceCalled

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


