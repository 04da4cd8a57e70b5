"""The names the grading layer shares with the checks' engine (``optlessons.checks.engine``);
ALL_REFERENCES: every reference some check forbids.

Until the ``checks`` branch, which creates that engine, is merged, the same names are
defined here with the interface of SPEC-grading.md; after the merge this module only
re-exports the engine's.
"""

from __future__ import annotations

try:
    from optlessons.checks.engine import (CALL_TIMEOUT, FORBIDDEN, FORBIDDEN_REFERENCES,
                                          LearnerTimeout, ReferenceCalled, reference_codes)
    ALL_REFERENCES = tuple(sorted({r for refs, _ in FORBIDDEN_REFERENCES.values() for r in refs}))
except ImportError:  # the `checks` branch is not merged yet
    import contextvars
    import functools
    import importlib
    import inspect
    import types

    class LearnerTimeout(Exception):
        """A call of the learner's `function` ran longer than `seconds`."""

        def __init__(self, function: str, seconds: float):
            super().__init__(f"{function} ran longer than {seconds:g} s")
            self.function, self.seconds = function, seconds

    class ReferenceCalled(Exception):
        """The learner's `function` called `reference` ("optlessons.optim.adam_update")."""

        def __init__(self, function: str, reference: str):
            super().__init__(f"{function} called {reference}")
            self.function, self.reference = function, reference

    ALL_REFERENCES: tuple[str, ...] = ()
    FORBIDDEN = contextvars.ContextVar("FORBIDDEN", default=())
    CALL_TIMEOUT = contextvars.ContextVar("CALL_TIMEOUT", default=30.0)

    @functools.lru_cache(maxsize=None)
    def reference_codes(references: tuple[str, ...]) -> dict[types.CodeType, str]:
        """Code object -> the dotted reference it belongs to, for functions and classes."""
        codes = {}
        for dotted in references:
            module, _, attr = dotted.rpartition(".")
            obj = getattr(importlib.import_module(module), attr)
            functions = [obj]
            if isinstance(obj, type):
                functions = []
                for klass in obj.__mro__:
                    if not klass.__module__.startswith("optlessons."):
                        continue
                    for value in vars(klass).values():
                        if isinstance(value, (staticmethod, classmethod)):
                            value = value.__func__
                        parts = ((value.fget, value.fset, value.fdel)
                                 if isinstance(value, property) else (value,))
                        functions += [f for f in parts if inspect.isfunction(f)
                                      and f.__qualname__.startswith(klass.__qualname__ + ".")]
            for f in functions:
                todo = [f.__code__]
                while todo:
                    code = todo.pop()
                    codes.setdefault(code, dotted)
                    todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        return codes

__all__ = ["ALL_REFERENCES", "CALL_TIMEOUT", "FORBIDDEN", "LearnerTimeout", "ReferenceCalled",
           "reference_codes"]
