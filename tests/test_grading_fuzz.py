"""Every notebook shape is gradable or `ungradable: <why>`, never a crash (fast, no kernel).

200 seeded mutations of PS3's release notebook (its cells' nbgrader metadata and markers:
null, wrong types, missing and duplicate ids, markers in comments and strings, extra
locked and graded cells, broken sources and cell types) go through the step that reads,
checks and repairs a submission and plans the learner's cells; each must come out as a
notebook that nbformat validates and whose plan is built, or as Ungradable.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import nbformat
import pytest

from courseops.grading import course as grade
from courseops.grading.notebook import learner_plan

ROOT = Path(__file__).resolve().parents[1]

PS = "ps3_momentum_rmsprop_adam"
RELEASE = ROOT / "exercises" / "release" / PS / f"{PS}.ipynb"
SOURCE = ROOT / "exercises" / "source" / PS / f"{PS}.ipynb"
JUNK = [None, [], {}, "yes", 0, 1, 2.5, True, "", "a b", ["x"], {"grade": "true"}]
MARKERS = ["### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", "### BEGIN SOLUTION", "### END SOLUTION"]


def _any_cell(rng, nb):
    return rng.choice(nb["cells"])


def _meta(cell):
    if not isinstance(cell.get("metadata"), dict):
        cell["metadata"] = {}
    return cell["metadata"]


def _nbgrader(cell):
    meta = _meta(cell)
    if not isinstance(meta.get("nbgrader"), dict):
        meta["nbgrader"] = {}
    return meta["nbgrader"]


def _graded_ids(nb):
    return [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
            if isinstance(c.get("metadata"), dict) and isinstance(c["metadata"].get("nbgrader"), dict)
            and isinstance(c["metadata"]["nbgrader"].get("grade_id"), str)] or ["x"]


MUTATIONS = {
    "null nbgrader": lambda rng, nb: _meta(_any_cell(rng, nb)).__setitem__("nbgrader", rng.choice(JUNK)),
    "null metadata": lambda rng, nb: _any_cell(rng, nb).__setitem__("metadata", rng.choice([None, [], "m"])),
    "junk flag": lambda rng, nb: _nbgrader(_any_cell(rng, nb)).__setitem__(
        rng.choice(["grade", "solution", "locked"]), rng.choice(JUNK)),
    "junk grade_id": lambda rng, nb: _nbgrader(_any_cell(rng, nb)).__setitem__("grade_id", rng.choice(JUNK)),
    "no grade_id": lambda rng, nb: _nbgrader(_any_cell(rng, nb)).pop("grade_id", None),
    "locked without id": lambda rng, nb: nb["cells"].insert(rng.randrange(len(nb["cells"]) + 1), {
        "cell_type": "code", "metadata": {"nbgrader": {"locked": True, "grade": False, "solution": False}},
        "source": "x = 1", "outputs": [], "execution_count": None}),
    "duplicate id": lambda rng, nb: _nbgrader(_any_cell(rng, nb)).__setitem__("grade_id", rng.choice(_graded_ids(nb))),
    "extra graded": lambda rng, nb: nb["cells"].insert(rng.randrange(len(nb["cells"]) + 1), {
        "cell_type": "code", "source": "assert True", "outputs": [], "execution_count": None,
        "metadata": {"nbgrader": {"grade": True, "solution": False, "locked": True,
                                  "grade_id": rng.choice(_graded_ids(nb) + ["extra"]),
                                  "points": rng.choice([1, "ten", None, -3])}}}),
    "marker in comment": lambda rng, nb: _any_cell(rng, nb).__setitem__(
        "source", f"# {rng.choice(MARKERS)}\n" + str(_any_cell(rng, nb).get("source", ""))),
    "marker in string": lambda rng, nb: _any_cell(rng, nb).__setitem__(
        "source", f"s = '''\n{rng.choice(MARKERS)}\n'''\n"),
    "source list": lambda rng, nb: _any_cell(rng, nb).__setitem__("source", rng.choice([["a = 1\n", "b"], [1, 2], 7, None])),
    "cell type": lambda rng, nb: _any_cell(rng, nb).__setitem__("cell_type", rng.choice(["code", "markdown", "raw", "weird", None])),
    "delete cell": lambda rng, nb: nb["cells"].pop(rng.randrange(len(nb["cells"]))) if len(nb["cells"]) > 1 else None,
    "copy cell": lambda rng, nb: nb["cells"].insert(rng.randrange(len(nb["cells"]) + 1), copy.deepcopy(_any_cell(rng, nb))),
    "cell id": lambda rng, nb: _any_cell(rng, nb).__setitem__("id", rng.choice([None, 5, "", "dup", "a" * 80])),
    "outputs": lambda rng, nb: _any_cell(rng, nb).__setitem__("outputs", rng.choice([None, "x", [{"output_type": "weird"}]])),
}


def mutate(seed: int) -> bytes:
    rng = random.Random(seed)
    nb = json.loads(RELEASE.read_text(encoding="utf-8"))
    for _ in range(rng.randint(1, 4)):
        MUTATIONS[rng.choice(sorted(MUTATIONS))](rng, nb)
    return json.dumps(nb).encode()


@pytest.fixture(scope="module")
def assignment():
    return grade.Assignment.read(ROOT / "exercises", PS)


def test_every_mutated_notebook_is_graded_or_ungradable_in_words(assignment, tmp_path):
    source = json.loads(SOURCE.read_text(encoding="utf-8"))
    kinds = {"repaired": 0, "ungradable": 0}
    for seed in range(200):
        path = tmp_path / f"{seed}.ipynb"
        path.write_bytes(mutate(seed))
        try:
            nb = grade.read_submission(path)
            grade.repair(nb, assignment.release, PS, assignment.others)
        except grade.Ungradable as exc:
            assert str(exc), seed
            kinds["ungradable"] += 1
            continue
        nbformat.validate(nb)
        plan = learner_plan(json.loads(nbformat.writes(nb)), source)
        assert plan and all(isinstance(p["source"], str) for p in plan), seed
        ids = [grade.grade_id(c) for c in nb.cells if grade.grade_id(c)]
        assert sorted(ids) == sorted(grade.grade_id(c) for c in assignment.release.cells if grade.grade_id(c)), seed
        assert not any(m in c.source for c in nb.cells for m in grade.HIDDEN_MARKERS
                       if not c.metadata.get("nbgrader", {}).get("locked")), seed
        kinds["repaired"] += 1
    assert kinds["repaired"] > 100 and kinds["ungradable"] > 5, kinds
