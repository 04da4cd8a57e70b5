"""Notebook 10 quotes a few of torch's recorded schedule values as a literal (a notebook must not read
tests/): this checks that every number in that excerpt equals the recording in tests/data/torch_schedules.npz,
and that the schedule settings it names are the recorded ones, so the quotation cannot drift."""

import ast
import json
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "10_training_in_practice.ipynb"
RECORDED = np.load(ROOT / "tests" / "data" / "torch_schedules.npz")
META = {run["key"]: run for run in json.loads(str(RECORDED["meta"]))["schedules"]}


def excerpt():
    """The TORCH_RECORDED literal of the notebook, evaluated without running the notebook."""
    for cell in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "TORCH_RECORDED = " in source:
            tree = ast.parse(source)
            for node in tree.body:
                if isinstance(node, ast.Assign) and node.targets[0].id == "TORCH_RECORDED":
                    return ast.literal_eval(node.value)
    raise AssertionError("notebook 10 has no TORCH_RECORDED literal")


def test_the_excerpt_quotes_the_recording_exactly():
    quoted = excerpt()
    assert len(quoted) >= 5
    for key, (name, kwargs, values) in quoted.items():
        recorded = META[key]
        assert name == recorded["name"], key
        assert kwargs == recorded["kwargs"], key
        for step, value in values.items():
            assert value == RECORDED[key][step], (key, step, value, RECORDED[key][step])
