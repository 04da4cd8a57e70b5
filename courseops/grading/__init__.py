"""Grading that cannot be faked: the learner's code never runs in the process that judges it.

At grading time nbgrader runs a *grading kernel* in a bubblewrap sandbox
(``sandbox``); it runs only the instructor's cells. Every other code cell has been
rewritten (``notebook.GradingSandbox.prepare``) into a call that runs it in the
*learner process* (``learner``), a child of the kernel in its own sandbox, which sees a
build of the course package without the references the learner must write
(``stripped``); what the learner's code returns comes back as data (``protocol``), its
functions as handles the kernel can call (``proxy``, ``kernel``), so the test cells run
the real checks on calls into the learner's process. :class:`GradingSandbox` is what
``exercises/grade.py`` uses. (Imported lazily: the learner process imports this
package before its path points at the stripped build.)
"""

__all__ = ["GradingSandbox"]


def __getattr__(name):
    if name == "GradingSandbox":
        from courseops.grading.notebook import GradingSandbox
        return GradingSandbox
    raise AttributeError(f"module 'courseops.grading' has no attribute {name!r}")
