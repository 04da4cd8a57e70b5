"""What every check shares: its exceptions, the context the grading kernel reads, and the
records of a case and a known mistake.

:class:`CheckFailed` is what a learner reads; :data:`FORBIDDEN`, :data:`HIDDEN_CASES` and
:data:`CALL_TIMEOUT` are read by the grading kernel's proxies (``courseops.grading``) while
a check calls the learner's code.
"""

from __future__ import annotations

import contextvars
import textwrap
from typing import Callable, NamedTuple


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


