"""Grading that cannot be faked: the learner's code runs in its own sandboxed process.

See SPEC-grading.md. :class:`GradingSandbox` is what ``exercises/grade.py`` uses.
"""

from optlessons.grading.notebook import GradingSandbox

__all__ = ["GradingSandbox"]
