"""The notebook runner keeps committed notebooks reproducible, and their saved widget state whole."""

import json
import pathlib
import re

import nbformat
import pytest

from scripts.run_notebooks import NOTEBOOKS, stable_model_ids

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]{32})")


def widget_notebook(ids):
    """A notebook whose one output shows widget ids[0], a box holding ids[1]."""
    view, child = ids
    cell = nbformat.v4.new_code_cell("w", id="widget-cell", outputs=[nbformat.v4.new_output(
        "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": view}})])
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {
        view: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{child}"]}},
        child: {"model_name": "ImageModel", "state": {}}}}}
    return nb


def test_widget_ids_are_renamed_the_same_whatever_the_random_ids_were():
    first = stable_model_ids(widget_notebook(["f" * 32, "0" * 32]))
    second = stable_model_ids(widget_notebook(["1" * 32, "e" * 32]))
    assert json.dumps(first) == json.dumps(second)
    state = first.metadata["widgets"][WIDGET_STATE]["state"]
    view = first.cells[0].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert view in state and REFERENCE.fullmatch(state[view]["state"]["children"][0]).group(1) in state


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_every_saved_widget_reference_points_at_a_saved_widget(path: pathlib.Path):
    nb = json.loads(path.read_text())
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    dangling = sorted(set(REFERENCE.findall(json.dumps(state))) - set(state))
    assert not dangling, f"{path.name}: {len(dangling)} widget references point nowhere; run `make notebooks`"
