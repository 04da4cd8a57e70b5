"""Grading that cannot be faked: the learner's code never runs in the process that judges it.

At grading time nbgrader runs a *grading kernel* in a bubblewrap sandbox
(``sandbox``); it runs only the instructor's cells. Every other code cell has been
rewritten (``notebook.GradingSandbox.prepare``) into a call that runs it in the
*learner process* (``learner``), a child of the kernel in its own sandbox; the names the
learner defines come back as proxies (``proxy``) bound into the kernel (``kernel``), so
the test cells run the real checks on calls into the learner's process.
:class:`GradingSandbox` is what ``exercises/grade.py`` uses.
"""

from courseops.grading.notebook import GradingSandbox

__all__ = ["GradingSandbox"]
