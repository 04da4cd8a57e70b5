"""The graded notebooks' code, read from exercises/source, for the checks' tests.

HIDDEN: check name -> the keyword arguments (cases, seed) its hidden test cell passes.
solutions(assignment): the names the locked imports cell and the solution cells define.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path

import nbformat
import numpy as np

SOURCE = Path(__file__).resolve().parents[1] / "exercises" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if p.is_dir())
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def notebook(assignment):
    return nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


class _Recorder:
    """Stands in for `checks` in a hidden block: records each call's keyword arguments."""

    def __init__(self):
        self.calls = {}

    def __getattr__(self, name):
        def record(fn, **kwargs):
            self.calls[name] = kwargs
        return record


class _AnyName(dict):
    """Globals in which every unknown name (the learner's functions) is None."""

    def __missing__(self, key):
        return getattr(builtins, key, None)


def hidden_calls() -> dict[str, dict]:
    recorder = _Recorder()
    for assignment in ASSIGNMENTS:
        for cell in notebook(assignment).cells:
            for block in HIDDEN_BLOCK.findall(cell.source):
                exec(block, _AnyName(checks=recorder, np=np))
    return recorder.calls


HIDDEN = hidden_calls()


def solutions(assignment, skip=("train_network",)) -> dict:
    """Run the imports cell and the solution cells (not `skip`) of a source notebook."""
    names = {}
    for cell in notebook(assignment).cells:
        meta = nbgrader(cell)
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "imports") \
                and meta.get("grade_id") not in skip:
            exec(cell.source, names)
    return names
