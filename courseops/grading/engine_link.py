"""The names the grading layer shares with the checks' engine (``optlessons.checks.engine``);
ALL_REFERENCES: every reference some check forbids."""

from __future__ import annotations

from optlessons.checks.engine import (CALL_TIMEOUT, FORBIDDEN, FORBIDDEN_REFERENCES, LearnerTimeout,
                                      ReferenceCalled, reference_codes)

ALL_REFERENCES = tuple(sorted({r for refs, _ in FORBIDDEN_REFERENCES.values() for r in refs}))

__all__ = ["ALL_REFERENCES", "CALL_TIMEOUT", "FORBIDDEN", "LearnerTimeout", "ReferenceCalled",
           "reference_codes"]
