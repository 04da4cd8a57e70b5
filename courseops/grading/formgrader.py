"""The workshop hub's formgrader may not autograde: that would run students' code unsandboxed.

nbgrader's formgrader has an Autograde button that runs the students' notebooks in the
instructor's own server, outside the grading sandbox, as the instructor. The hub's
``nbgrader_config.py`` makes :class:`SandboxOnlyExporter` nbgrader's Autograde exporter:
Autograde builds it before it replaces a file or touches the gradebook, so the button
stops there with a sentence saying to autograde with ``grade.py``. (A pre-convert hook
cannot refuse: nbgrader logs its exception and grades anyway.)
"""

from __future__ import annotations

import os
from pathlib import Path

from nbconvert.exporters import NotebookExporter

from courseops.grading.kernel import PLAN_ENV

REFUSAL = ("Autograding here would run the students' code outside the grading sandbox, as you, so the "
           "formgrader does not autograde on this hub. Autograde in a terminal instead: "
           "`cd ~/course && python grade.py autograde ASSIGNMENT`, then `python grade.py feedback "
           "ASSIGNMENT`; the formgrader then shows the scores and releases the feedback.")


def in_grading_sandbox_run() -> bool:
    """Whether this process is an ``nbgrader autograde`` run that GradingSandbox prepared:
    the learner plan named by ``PLAN_ENV`` exists."""
    plan = os.environ.get(PLAN_ENV)
    return bool(plan) and Path(plan).is_file()


class SandboxOnlyExporter(NotebookExporter):
    """nbgrader's notebook exporter, built only in a GradingSandbox run; anywhere else a
    RuntimeError with :data:`REFUSAL`."""

    def __init__(self, *args, **kwargs):
        if not in_grading_sandbox_run():
            raise RuntimeError(REFUSAL)
        super().__init__(*args, **kwargs)
