"""Notebook 11 quotes one recorded schedulefree run as a literal (a notebook must not read tests/): this checks
that every number in that excerpt equals the recording in tests/data/frontier_references.npz and that the
settings it names are the recorded ones, so the quotation cannot drift."""

import ast
import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "11_optimizers_at_scale.ipynb"
RECORDED = np.load(ROOT / "tests" / "data" / "frontier_references.npz")
META = json.loads(str(RECORDED["meta"]))
KEY = "run24"


def excerpt():
    """The SCHEDULEFREE_RECORDED literal of the notebook, evaluated without running the notebook."""
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "SCHEDULEFREE_RECORDED = " in source:
            for node in ast.parse(source).body:
                if isinstance(node, ast.Assign) and node.targets[0].id == "SCHEDULEFREE_RECORDED":
                    return ast.literal_eval(node.value)
    raise AssertionError("notebook 11 has no SCHEDULEFREE_RECORDED literal")


def test_the_excerpt_quotes_the_recording_exactly():
    quoted = excerpt()
    run = next(r for r in META["runs"] if r["key"] == KEY)
    assert run["class"] == "ScheduleFreeAdamW" and run["problem"] == "rosenbrock"
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in quoted["kwargs"].items()} == run["kwargs"]
    assert run["lr_schedule"] == [[0, 0.01], [60, 0.005]] and run["steps"] == 120   # the notebook's loop
    trajectory = RECORDED[f"{KEY}_xy"]
    assert quoted["start"] == trajectory[0].tolist()
    assert len(quoted["steps"]) >= 4
    for step, value in quoted["steps"].items():
        assert value == trajectory[step].tolist(), step
    assert quoted["eval_after_120"] == RECORDED[f"{KEY}_eval_xy"].tolist()
