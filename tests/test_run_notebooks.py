"""The notebook runner keeps committed notebooks reproducible, and their saved widget state whole."""

import json
import pathlib
import re

import nbformat
import pytest

from scripts.run_notebooks import NOTEBOOKS, sorted_buffers, stable_model_ids

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


def test_a_models_buffers_are_saved_in_the_same_order_whatever_order_the_kernel_sent():
    """06's race once saved its frame's buffers as (sprites, lines) and once as (lines, sprites)."""
    buffers = [{"path": ["frame", "sprites", "o", "png"], "data": "AA"}, {"path": ["frame", "lines", 0, "xy"], "data": "BB"},
               {"path": ["frame", "lines", 1, "xy"], "data": "CC"}]
    saved = []
    for order in (buffers, buffers[::-1]):
        nb = widget_notebook(["f" * 32, "0" * 32])
        nb.metadata["widgets"][WIDGET_STATE]["state"]["0" * 32]["buffers"] = list(order)
        saved.append(json.dumps(sorted_buffers(nb)))
    assert saved[0] == saved[1]
    assert sorted(json.loads(saved[0])["metadata"]["widgets"][WIDGET_STATE]["state"]["0" * 32]["buffers"],
                  key=json.dumps) == sorted(buffers, key=json.dumps)


def committed_buffers_are_sorted(nb):
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return all([json.dumps(b["path"]) for b in m.get("buffers", [])] == sorted(json.dumps(b["path"]) for b in m.get("buffers", []))
               for m in state.values())


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_buffers_are_in_path_order(path: pathlib.Path):
    assert committed_buffers_are_sorted(json.loads(path.read_text())), f"run `make notebooks` on {path.name}"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_every_saved_widget_reference_points_at_a_saved_widget(path: pathlib.Path):
    nb = json.loads(path.read_text())
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    dangling = sorted(set(REFERENCE.findall(json.dumps(state))) - set(state))
    assert not dangling, f"{path.name}: {len(dangling)} widget references point nowhere; run `make notebooks`"
