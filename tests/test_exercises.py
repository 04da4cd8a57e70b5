"""The nbgrader course in exercises/, end to end, with the real nbgrader commands.

Problem set 3's class is the one test_grading_attacks grades once per test session
(`graded_class`: a temporary copy of the course as a fresh clone has it, no gradebook.db,
`grade.py collect` and `grade.py all`, one `nbgrader autograde` run per student); these
six of its students are collected from a downloads folder:

    full      the source solutions                      -> full marks
    zero      the untouched release                     -> zero on every autograded cell
    partial   Adam without bias correction              -> loses exactly test_adam_update's points,
                                                           and its feedback names the mistake
    loops     `while True: pass` in a solution cell     -> that cell is interrupted at the
                                                           timeout, the other cells are graded
    edited    the mistake, and the Adam test replaced   -> graded with the original test:
              by `pass`                                    the same score as `partial`
    deleted   the mistake, and the Adam test deleted    -> the test is put back and run: the
                                                           same score as `partial`, and a warning

Problem set 6 (Lion, Adafactor, Newton–Schulz) is graded the same way, by a second copy of the
course with four students: the source solutions (full marks), the untouched release (0), Lion
stepping along the β₂ mix (loses exactly test_lion_update's points, named in the feedback and the
class report), and Adafactor without the normalisation plus Newton–Schulz not transposed back
(both cells lost, both mistakes named).

Also: `grade.py collect` (student ids, no merging, no overwriting), where grades.csv
goes, checking and repairing submissions, feedback that works offline; release/ is what `nbgrader generate_assignment` makes from source/; the
source notebooks run clean; the release notebooks run up to the first exercise.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "exercises"
PS = "ps3_momentum_rmsprop_adam"
NB = f"{PS}.ipynb"
POINTS = {"test_sgd_momentum_update": 3, "test_rmsprop_update": 3, "test_adam_update": 4}
TOTAL = sum(POINTS.values())
CELL_TIMEOUT = 8   # seconds; the course uses 30 (the first cell starts the learner's sandbox)
STUDENTS = ("full", "zero", "partial", "loops", "edited", "deleted")   # solutions, release, no bias
# correction, `while True` in rmsprop_update, a test cell edited / deleted (with no bias correction)
# The grading sandbox when this branch has it and bubblewrap is installed; else grade unsandboxed.
SANDBOX = importlib.util.find_spec("courseops.grading") is not None and shutil.which("bwrap") is not None
SANDBOX_ARGS = [] if SANDBOX else ["--unsafe-no-sandbox"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3300)]   # the shared class takes minutes


def solution_code(source_cell):
    """The source cell's code with the solution markers removed (what a learner would write)."""
    return "\n".join(line for line in source_cell.source.splitlines()
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def filled_release(course, assignment, notebook):
    """The release notebook with every solution cell filled in from source/."""
    source = nbformat.read(course / "source" / assignment / notebook, as_version=4)
    release = nbformat.read(course / "release" / assignment / notebook, as_version=4)
    solutions = {grade_id(c): solution_code(c) for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for c in release.cells:
        if grade_id(c) in solutions:
            c.source = solutions[grade_id(c)]
    return release


def cell(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


def plant_no_bias_correction(nb):
    c = cell(nb, "adam_update")
    src = c.source.replace("m_hat = m / (1 - beta1 ** t)", "m_hat = m")
    src = src.replace("v_hat = v_max / (1 - beta2 ** t)", "v_hat = v_max")
    src = src.replace("v_hat = v / (1 - beta2 ** t)", "v_hat = v")
    assert src != c.source
    c.source = src


def tree_hashes(path):
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def run_grade(args, cwd, timeout=600):
    """`python exercises/grade.py ARGS` (the script graders run), from `cwd`."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, str(COURSE / "grade.py"), *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"grade.py {args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """PS3's class as test_grading_attacks grades it once per test session (``graded_class``:
    a copy of the course as a fresh clone has it, no gradebook.db; these six students collected
    from a downloads folder with `grade.py collect`, `grade.py all` run from another
    directory), seen from these six students."""
    from test_grading_attacks import graded_class
    shared = graded_class(tmp_path_factory)
    rows = {r["student_id"]: r for r in shared["rows"] if r["assignment"] == PS and r["student_id"] in STUDENTS}
    assert list(rows["full"]) == ["assignment", "student_id", "status", "timestamp", "score",
                                  "max_score", "warnings", "similar_to"]
    return dict(shared, rows=rows, scores={s: shared["grades"][s, PS] for s in STUDENTS})


def feedback_text(course, student):
    html = (course / "feedback" / student / PS / NB.replace(".ipynb", ".html")).read_text()
    return re.sub(r"<[^>]+>", "", html)


def score(graded, student, test):
    return graded["scores"][student][test][0]


def test_solutions_score_full_marks(graded):
    assert {t: score(graded, "full", t) for t in POINTS} == POINTS
    assert float(graded["rows"]["full"]["score"]) == TOTAL
    assert float(graded["rows"]["full"]["max_score"]) == TOTAL


def test_untouched_release_scores_zero(graded):
    assert {t: score(graded, "zero", t) for t in POINTS} == {t: 0 for t in POINTS}
    assert float(graded["rows"]["zero"]["score"]) == 0


def test_planted_mistake_loses_exactly_its_cell(graded):
    got = {t: score(graded, "partial", t) for t in POINTS}
    assert got == {**POINTS, "test_adam_update": 0}
    assert float(graded["rows"]["partial"]["score"]) == TOTAL - POINTS["test_adam_update"]
    text = feedback_text(graded["course"], "partial")
    assert "bias correction is missing" in text
    assert "new_param" in text   # the first quantity that differs
    # the message alone (CheckFailed._render_traceback_), no frames of optlessons/checks.py
    assert "CheckFailed: `adam_update` does not match the reference" in text
    assert "checks.py" not in text and "_run_check" not in text


def test_infinite_loop_is_interrupted_and_the_rest_graded(graded):
    got = {t: score(graded, "loops", t) for t in POINTS}
    assert got == {**POINTS, "test_rmsprop_update": 0}
    assert float(graded["rows"]["loops"]["score"]) == TOTAL - POINTS["test_rmsprop_update"]
    # stopped by nbgrader at the cell's limit, or sooner by the sandbox (grade.learner_limit)
    assert re.search(r"^  loops: rmsprop_update( ran over the \d+ s limit and was stopped|: the sandbox stopped)",
                     graded["log"], re.M)


def test_edited_test_cell_is_graded_with_the_original(graded):
    # the test cell was replaced by `pass`; nbgrader restores it (hidden tests included)
    got = {t: score(graded, "edited", t) for t in POINTS}
    assert got == {**POINTS, "test_adam_update": 0}
    assert "bias correction is missing" in feedback_text(graded["course"], "edited")


def test_deleted_test_cell(graded):
    """A deleted test cell is put back from the release before nbgrader sees the notebook
    (nbgrader itself would skip it and flag it for manual grading): it runs, scores what
    the code earns, and the warning names the student."""
    s, auto, manual = graded["scores"]["deleted"]["test_adam_update"]
    assert (s, auto, manual) == (0, 0, False)
    others = {t: score(graded, "deleted", t) for t in POINTS if t != "test_adam_update"}
    assert others == {t: p for t, p in POINTS.items() if t != "test_adam_update"}
    assert float(graded["rows"]["deleted"]["score"]) == TOTAL - POINTS["test_adam_update"]
    assert "bias correction is missing" in feedback_text(graded["course"], "deleted")
    assert graded["rows"]["deleted"]["warnings"] == (
        "test cell test_adam_update was deleted: put back from the release and run")
    assert "  deleted: test cell test_adam_update was deleted" in graded["log"]


def test_every_student_is_graded_with_a_timestamp(graded):
    assert set(graded["rows"]) == set(STUDENTS)
    for name, row in graded["rows"].items():
        assert row["status"] == "graded", name
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["timestamp"]), row


def test_feedback_works_offline_and_wraps_long_lines(graded):
    page = graded["course"] / "feedback" / "partial" / PS / NB.replace(".ipynb", ".html")
    html = page.read_text()
    assert "cdnjs" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    assert '<script defer src="mathjax/tex-svg.js"></script>' in html
    assert (page.parent / "mathjax" / "tex-svg.js").stat().st_size > 100_000
    assert "white-space: pre-wrap; overflow-wrap: anywhere;" in html


def test_a_timed_out_cell_says_what_happened(graded):
    text = feedback_text(graded["course"], "loops")
    assert "KeyboardInterrupt" not in text and "CellTimeoutError" not in text
    assert re.search(r"(still running after|ran longer than) \d+ s|stopped at the notebook.s time limit", text)
    assert "infinite loop" in text


def test_submissions_are_not_modified(graded):
    assert graded["submitted_before"] == graded["submitted_after"]


def test_a_fresh_clone_grades_without_a_gradebook(graded):
    """No gradebook.db (it is not committed): `grade.py all` creates the assignment's entry
    from source/, says so in one line, and leaves the committed release/ byte for byte."""
    lines = [line for line in graded["log"].splitlines() if line.startswith(f"gradebook.db had no entry for {PS}:")]
    assert lines == [f"gradebook.db had no entry for {PS}: created it from source/{PS} "
                     f"(generate_assignment into a temporary folder; release/ unchanged)"]
    assert graded["release_after"] == graded["release_before"]


def test_collect_copied_every_download_unchanged(graded):
    assert graded["downloads_after"] == graded["downloads_before"]
    for name in STUDENTS:
        rel = f"{name}/{PS}/{NB}"
        assert graded["submitted_before"][rel] == graded["downloads_before"][f"{name}.ipynb"]
    assert len(graded["collect_log"].splitlines()) == len(STUDENTS)


def test_grades_csv_goes_to_the_course_directory(graded):
    assert (graded["course"] / "grades.csv").is_file()
    assert graded["cwd_after"] == []   # nothing written where grade.py was run from


def test_feedback_hides_the_hidden_tests_source(graded):
    """nbgrader_config.py runs ClearHiddenTests in generate_feedback: the hidden tests'
    code is gone from the feedback, their output (the ✓ lines, a failure's message) stays."""
    for student in ("full", "partial"):
        text = feedback_text(graded["course"], student)
        assert "HIDDEN TESTS" not in text and "hidden&quot;" not in text and 'cases="hidden"' not in text
    assert feedback_text(graded["course"], "full").count("✓") == 2 * len(POINTS)


def test_grades_csv_has_a_row_per_student(graded):
    assert set(graded["rows"]) == set(STUDENTS)
    for row in graded["rows"].values():
        assert float(row["max_score"]) == TOTAL


# --------------------------------------------------------------------------- problem set 6, end to end

PS6 = "ps6_lion_adafactor_muon"
NB6 = f"{PS6}.ipynb"
POINTS6 = {"test_lion_update": 3, "test_adafactor_second_moment": 4, "test_newton_schulz": 3}
PLANTS6 = {   # student -> [(solution cell, the line of the source solution, the line written instead)]
    "lion_beta2": [("lion_update", "c = beta1 * state.exp_avg + (1 - beta1) * grad",
                    "c = beta2 * state.exp_avg + (1 - beta2) * grad")],
    "two_mistakes": [("adafactor_second_moment", "v_hat = R @ C / max(np.mean(R), eps1)", "v_hat = R @ C"),
                     ("newton_schulz", "return X.T if tall else X", "return X")],
}
HINTS6 = {"test_lion_update": "the sign is taken of an interpolation with β₂",
          "test_adafactor_second_moment": "v̂ is not normalised",
          "test_newton_schulz": "a tall G was transposed but the result was not transposed back"}


def planted(nb, plants):
    for gid, line, instead in plants:
        c = cell(nb, gid)
        assert line in c.source, (gid, line)
        c.source = c.source.replace(line, instead)
    return nb


@pytest.fixture(scope="module")
def graded6(tmp_path_factory):
    """Four students of PS6 graded by `grade.py collect` and `grade.py all` in a fresh copy of the course."""
    course = tmp_path_factory.mktemp("course6")
    downloads = tmp_path_factory.mktemp("downloads6")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copytree(COURSE / "source" / PS6, course / "source" / PS6)
    shutil.copytree(COURSE / "release" / PS6, course / "release" / PS6)
    students = {"perfect": filled_release(course, PS6, NB6),
                "blank": nbformat.read(course / "release" / PS6 / NB6, as_version=4)}
    for name, plants in PLANTS6.items():
        students[name] = planted(filled_release(course, PS6, NB6), plants)
    for name, nb in students.items():
        nbformat.write(nb, downloads / f"{name}.ipynb")
    run_grade(["--course", course, "collect", PS6, *sorted(downloads.glob("*.ipynb"))], course)
    log = run_grade(["--course", course, "all", PS6, *SANDBOX_ARGS], course)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {name: {g.name: g.score for g in gb.find_submission_notebook(NB6[:-6], PS6, name).grades}
                  for name in students}
    with open(course / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == PS6}
    with open(course / "reports" / f"{PS6}-mistakes.csv", newline="") as f:
        mistakes = list(csv.DictReader(f))
    feedback = {name: re.sub(r"<[^>]+>", "", (course / "feedback" / name / PS6 / NB6.replace(".ipynb", ".html"))
                             .read_text()) for name in students}
    return dict(scores=scores, rows=rows, mistakes=mistakes, feedback=feedback, log=log.stdout + log.stderr)


def test_ps6_solutions_score_full_marks_and_the_blank_release_zero(graded6):
    assert graded6["scores"]["perfect"] == POINTS6
    assert graded6["scores"]["blank"] == {t: 0 for t in POINTS6}
    assert float(graded6["rows"]["perfect"]["score"]) == float(graded6["rows"]["perfect"]["max_score"]) == 10
    assert float(graded6["rows"]["blank"]["score"]) == 0
    assert f"{PS6}: 4 graded, 0 ungradable, 0 missing (4 students)" in graded6["log"]
    assert graded6["feedback"]["perfect"].count("✓") == 2 * len(POINTS6)


@pytest.mark.parametrize("student", sorted(PLANTS6))
def test_ps6_planted_mistakes_lose_their_cells_and_are_named(graded6, student):
    lost = {f"test_{gid}" for gid, _, _ in PLANTS6[student]}
    assert graded6["scores"][student] == {t: 0 if t in lost else p for t, p in POINTS6.items()}
    text = " ".join(graded6["feedback"][student].split())   # the feedback wraps long message lines
    for test in lost:
        assert HINTS6[test] in text, (test, text[text.find("CheckFailed"):][:2000])
    named = {(r["cell"], r["students"]) for r in graded6["mistakes"] if any(HINTS6[t] in r["mistake"] for t in lost)}
    assert named == {(t, student) for t in lost}


def test_ps6_feedback_hides_the_hidden_tests(graded6):
    for text in graded6["feedback"].values():
        assert "HIDDEN TESTS" not in text and "seed=1017" not in text and "seed=1019" not in text


# --------------------------------------------------------------------------- grade.py without nbgrader

def grade_module():
    """The grading engine (courseops.grading.course) that exercises/grade.py runs."""
    from courseops.grading import course
    return course


def cli_module():
    """exercises/grade.py, the command line."""
    sys.path.insert(0, str(COURSE))
    import grade
    return grade


@pytest.fixture
def mini_course(tmp_path):
    """A course directory with source/ and release/ for PS (the notebook's content is not read)."""
    course = tmp_path / "course"
    (course / "source" / PS).mkdir(parents=True)
    (course / "release" / PS).mkdir(parents=True)
    (course / "release" / PS / NB).write_text("{}")
    return course


def download(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def submitted(course):
    return {str(p.relative_to(course / "submitted")): p.read_text()
            for p in sorted((course / "submitted").rglob("*.ipynb"))}


def test_collect_uses_the_whole_file_name_as_the_student(mini_course, tmp_path):
    grade = grade_module()
    files = [download(tmp_path / "dl", "jane_doe.ipynb", "doe"),
             download(tmp_path / "dl", "jane_smith.ipynb", "smith"),
             download(tmp_path / "dl", "li-3.ipynb", "li")]
    grade.collect(mini_course, PS, list(map(str, files)))
    assert submitted(mini_course) == {f"jane_doe/{PS}/{NB}": "doe", f"jane_smith/{PS}/{NB}": "smith",
                                      f"li-3/{PS}/{NB}": "li"}
    assert [f.read_text() for f in files] == ["doe", "smith", "li"]


@pytest.mark.parametrize("name", ["jane doe.ipynb", ".hidden.ipynb", "a+b.ipynb", "x*.ipynb",
                                  f"{PS}.ipynb", "jane.txt"])
def test_collect_refuses_a_name_that_is_no_student_id(mini_course, tmp_path, name):
    grade = grade_module()
    f = download(tmp_path / "dl", name, "x")
    with pytest.raises(SystemExit, match="nothing copied"):
        grade.collect(mini_course, PS, [str(f)])
    assert not (mini_course / "submitted").exists() and f.read_text() == "x"


def test_collect_refuses_two_files_of_one_student(mini_course, tmp_path):
    grade = grade_module()
    a = download(tmp_path / "monday", "jane.ipynb", "first")
    b = download(tmp_path / "tuesday", "jane.ipynb", "second")
    ok = download(tmp_path / "monday", "li.ipynb", "li")
    with pytest.raises(SystemExit, match="both student 'jane'"):
        grade.collect(mini_course, PS, [str(ok), str(a), str(b)])
    assert not (mini_course / "submitted").exists()   # nothing copied, not even li
    assert (a.read_text(), b.read_text()) == ("first", "second")


def test_collect_never_replaces_a_different_submission_without_force(mini_course, tmp_path):
    grade = grade_module()
    first = download(tmp_path / "monday", "jane.ipynb", "first")
    grade.collect(mini_course, PS, [str(first)])
    grade.collect(mini_course, PS, [str(first)])   # the same file again: fine
    second = download(tmp_path / "tuesday", "jane.ipynb", "second")
    with pytest.raises(SystemExit, match="--force"):
        grade.collect(mini_course, PS, [str(second)])
    assert submitted(mini_course) == {f"jane/{PS}/{NB}": "first"}
    grade.collect(mini_course, PS, [str(second)], force=True)
    assert submitted(mini_course) == {f"jane/{PS}/{NB}": "second"}
    assert (first.read_text(), second.read_text()) == ("first", "second")


def test_collect_help_states_the_student_id_rule(capsys):
    with pytest.raises(SystemExit):
        cli_module().main(["collect", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "whole file name" in text and "jane_doe.ipynb -> jane_doe" in text
    assert "letters, digits, '_', '-' and '.'" in text and "--force" in text


@pytest.mark.parametrize("command", [["export"], ["all", PS, "--unsafe-no-sandbox"]])
def test_grades_csv_defaults_to_the_course_directory(command, tmp_path, monkeypatch):
    grade = grade_module()
    from courseops.grading import report
    course, cwd = tmp_path / "course", tmp_path / "cwd"
    course.mkdir(), cwd.mkdir()
    monkeypatch.setattr(grade, "grade_rows", lambda c: [])
    monkeypatch.setattr(grade, "autograde", lambda *a, **k: [grade.Outcome("x", grade.MISSING)])
    monkeypatch.setattr(report, "write_report", lambda *a: None)
    monkeypatch.chdir(cwd)
    cli_module().main(["--course", str(course), *command])
    assert [p.name for p in course.iterdir()] == [grade.GRADES_CSV] == ["grades.csv"]
    assert list(cwd.iterdir()) == []
    assert (course / "grades.csv").read_text().splitlines() == [",".join(grade.GRADES_COLUMNS)]


# --------------------------------------------------------------------------- checking and repairing

def release_nb(assignment=PS):
    return nbformat.read(COURSE / "release" / assignment / f"{assignment}.ipynb", as_version=4)


def write_bytes(tmp_path, data):
    path = tmp_path / "sub.ipynb"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("data, reason", [
    (b"", "the file is empty (0 bytes)"),
    (b"  \n", "the file holds only blank space"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", "the file is not a notebook (it is not text"),
    (b'{"cells": [', "its JSON is broken at line 1, column 12"),
    (b'{"a": 1}', "the file is JSON but not a Jupyter notebook"),
    (b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "the notebook has no cells"),
])
def test_a_file_that_is_no_notebook_is_ungradable_in_words(tmp_path, data, reason):
    grade = grade_module()
    with pytest.raises(grade.Ungradable, match=re.escape(reason)):
        grade.read_submission(write_bytes(tmp_path, data))


@pytest.mark.filterwarnings("ignore::nbformat.warnings.DuplicateCellId")   # the copies, as Jupyter saves them
def test_a_copied_solution_cell_is_graded_in_its_first_copy(tmp_path):
    """Jupyter's copy/paste copies the nbgrader metadata (and nbgrader then refuses the whole
    notebook): the first copy keeps the grade_id, later copies of a solution cell stay as
    ordinary cells (the code runs as the student ran it), copies of a locked cell go."""
    grade = grade_module()
    nb = filled_release(COURSE, PS, NB)
    i = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "adam_update")
    j = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "test_adam_update")
    nb.cells[i + 1:i + 1] = [nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))]
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(nb.cells[j + 1]))))
    nbformat.write(nb, tmp_path / "sub.ipynb")
    nb = grade.read_submission(tmp_path / "sub.ipynb")
    changes = grade.repair(nb, release_nb(), PS)
    assert changes == [
        "cell adam_update appears 2 times (copy/paste in Jupyter copies its nbgrader id): the first copy "
        "was graded, the later copies ran as ordinary cells",
        "cell test_adam_update appears 2 times (copy/paste in Jupyter copies its nbgrader id): the first "
        "copy was graded, the later copies were removed (the course's own cell)"]
    ids = [grade_id(c) for c in nb.cells]
    assert ids.count("adam_update") == 1 and ids.count("test_adam_update") == 1
    assert sum(c.source.startswith("def adam_update") for c in nb.cells) == 2
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    nbformat.validate(nb)


def test_the_wrong_assignment_is_named(tmp_path):
    grade = grade_module()
    others = {a: {grade_id(c) for c in release_nb(a).cells} - {None} for a in cli_module().ASSIGNMENTS if a != PS}
    with pytest.raises(grade.Ungradable, match=r"this is not ps3_momentum_rmsprop_adam's notebook: it has "
                                               r"2 of its 8 graded and solution cells; it looks like "
                                               r"ps1_losses_gradients's notebook"):
        grade.repair(release_nb("ps1_losses_gradients"), release_nb(), PS, others)


def test_deleted_and_foreign_cells_are_repaired():
    grade = grade_module()
    nb = filled_release(COURSE, PS, NB)
    nb.cells = [c for c in nb.cells if grade_id(c) not in ("test_rmsprop_update", "imports", "adam_update")]
    nb.cells[-1].metadata["nbgrader"] = {"grade_id": "from_elsewhere", "grade": False, "solution": True,
                                         "locked": False, "schema_version": 3}
    changes = grade.repair(nb, release_nb(), PS)
    assert changes == ["cell 'from_elsewhere' is not a cell of ps3_momentum_rmsprop_adam: run as an ordinary cell",
                       "locked cell imports was deleted: put back from the release and run",
                       "test cell test_rmsprop_update was deleted: put back from the release and run",
                       "cell adam_update was deleted: graded as not answered"]
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    release_ids = [grade_id(c) for c in release_nb().cells if grade_id(c)]
    assert ids[:ids.index("test_adam_update")] == release_ids[:release_ids.index("adam_update")]
    assert ids[-1] == "adam_update"   # the stub, not answered


def test_timeout_tracebacks_become_one_sentence():
    grade = grade_module()
    tb = ["\x1b[0;31mKeyboardInterrupt\x1b[0m  Traceback (most recent call last)",
          "Cell \x1b[0;32mIn[7], line 1\x1b[0m\n----> 1 checks.check_adam_update(adam_update)",
          "Cell \x1b[0;32mIn[6], line 3\x1b[0m, in \x1b[0;36madam_update\x1b[0;34m(param, grad)",
          "\x1b[0;31mKeyboardInterrupt\x1b[0m: "]
    test_cell = nbformat.v4.new_code_cell("checks.check_adam_update(adam_update)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="before\n"),
        nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=tb),
        nbformat.v4.new_output("error", ename="CellTimeoutError", evalue="", traceback=["CellTimeoutError"])])
    test_cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_adam_update"}
    loop = nbformat.v4.new_code_cell("while True:\n    pass", outputs=[
        nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=tb[:1])])
    nb = nbformat.v4.new_notebook(cells=[loop, test_cell])
    assert grade.explain_timeouts(nb, 30) == ["cell 1", "test_adam_update"]
    assert [o.output_type for o in test_cell.outputs] == ["stream", "error"]
    msg = test_cell.outputs[1].evalue
    assert msg.startswith("Your code was still running after 30 s, the time limit of this test cell, "
                          "and was stopped while the check ran it on its cases")
    assert "infinite loop" in msg and test_cell.outputs[1].traceback == [f"TimeoutError: {msg}"]
    assert loop.outputs[0].evalue.startswith("This cell was still running after 30 s")


def test_outputs_showing_the_solution_are_withheld():
    grade = grade_module()
    source = nbformat.read(COURSE / "source" / PS / NB, as_version=4)
    secrets = grade.secret_lines(source, release_nb())
    line = next(iter(sorted(secrets)))
    assert not any(line in c.source for c in release_nb().cells)
    cells = [nbformat.v4.new_code_cell("print(x)", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text=text)]) for text in (f"ok\n{line}\n", json.dumps(line), "fine\n")]
    tb = ["NameError  Traceback", f"Cell In[3], line 1\n----> 1 check(f)\n      2 {line}", "NameError: f"]
    cells.append(nbformat.v4.new_code_cell("check(f)", outputs=[nbformat.v4.new_output(
        "error", ename="NameError", evalue="f", traceback=tb)]))
    nb = nbformat.v4.new_notebook(cells=cells)
    assert grade.withhold_leaks(nb, secrets) == ["cell 1", "cell 2"]
    assert "withheld" in cells[0].outputs[0].text and cells[2].outputs[0].text == "fine\n"
    assert cells[3].outputs[0].traceback == [tb[0], tb[2]]   # the frame quoting the hidden test goes
    hidden = [s for s in secrets if "cases" in s]
    assert hidden, "hidden test lines are secret too"


def test_offline_html_replaces_the_cdn():
    grade = grade_module()
    page = ("<html><head><title>t</title><!-- Load mathjax -->\n<script src=\"https://cdnjs.cloudflare.com/x.js\">"
            "</script>\n<!-- End of mathjax configuration --></head><body>$x$</body></html>")
    out = grade.offline_html(page)
    assert "cdnjs" not in out and 'src="mathjax/tex-svg.js"' in out and "inlineMath" in out
    assert out.index("pre-wrap") < out.index("</head>")
    with pytest.raises(RuntimeError, match="no MathJax block"):
        grade.offline_html("<html><head></head></html>")
    assert grade.local_mathjax().name == "tex-svg.js"


def test_roster_and_summary(tmp_path):
    grade = grade_module()
    (tmp_path / "roster.csv").write_text("student_id,name\njane,Jane\n# a comment\nli-3 , Li\n\n")
    assert grade.read_roster(tmp_path / "roster.csv") == ["jane", "li-3"]
    (tmp_path / "bad.txt").write_text("jane doe\n")
    with pytest.raises(SystemExit, match="'jane doe' is not a valid student id"):
        grade.read_roster(tmp_path / "bad.txt")
    outcomes = [grade.Outcome("a", "graded", warnings=["cell x appears 2 times"]),
                grade.Outcome("b", "ungradable: the file is empty (0 bytes)"), grade.Outcome("c", "missing")]
    assert grade.summary(PS, outcomes).splitlines() == [
        f"{PS}: 1 graded, 1 ungradable, 1 missing (3 students)",
        "ungradable (they score nothing until they resubmit or you grade by hand):",
        "  b: the file is empty (0 bytes)", "missing: c", "warnings:", "  a: cell x appears 2 times"]


def test_grading_without_bubblewrap_is_refused_with_the_fix(tmp_path, monkeypatch):
    """No bubblewrap on PATH: grade.py grades nothing, says how to install it and that
    --unsafe-no-sandbox grades anyway (without the sandbox package it says that too)."""
    grade = grade_module()
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit) as refused:
        grade.open_sandbox(tmp_path / "work", unsafe=False, cell_limit=30)
    message = str(refused.value)
    assert "--unsafe-no-sandbox" in message
    if importlib.util.find_spec("courseops.grading") is not None:
        assert "apt-get install bubblewrap" in message
    else:
        assert "courseops.grading (the grading sandbox) is not installed" in message


def test_the_learner_stops_before_nbgrader_does():
    grade = grade_module()
    assert [grade.learner_limit(s) for s in (5, 8, 30, 100)] == [3, 6, 24, 80]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=40), st.sampled_from([4, 10, 12, 40.5]))
def test_histogram_bins_cover_the_scale_and_count_every_score_once(fractions, max_score):
    grade_module()
    from courseops.grading import report as grading_report
    scores = [f * max_score for f in fractions]
    bins = grading_report.histogram_bins(scores, max_score)
    assert sum(c for _, _, c in bins) == len(scores)
    assert bins[0][0] == 0 and bins[-1][0] <= max_score <= bins[-1][1]
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(bins, bins[1:]))
    assert len(bins) == (int(max_score) + 1 if float(max_score).is_integer() and max_score <= 20 else 10)


def test_mistakes_are_read_from_the_judges_data_not_from_printed_text():
    grade_module()
    from courseops.grading import report as grading_report
    test = nbformat.v4.new_code_cell("checks.check_mse(mse)", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="This looks like a known mistake: printed by the learner\n")])
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_mse"}
    test.metadata["optlessons"] = {"mistake": "you summed the squared errors."}
    printed = nbformat.v4.new_code_cell("checks.check_mse_grad(mse_grad)", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="This looks like a known mistake: mine\n")])
    printed.metadata["nbgrader"] = {"grade": True, "grade_id": "test_mse_grad"}
    nb = nbformat.v4.new_notebook(cells=[test, printed])
    assert grading_report.mistakes_in(nb) == {"test_mse": "you summed the squared errors."}


# PS3's three updates as a student might write them without seeing the solutions.
INDEPENDENT = '''
def sgd_momentum_update(param, grad, state, *, lr, momentum, nesterov=False):
    """One step of SGD with (Nesterov) momentum; returns (new_param, new_state)."""
    buf = grad.copy() if state.momentum_buffer is None else state.momentum_buffer * momentum + grad
    step_dir = (grad + momentum * buf) if nesterov else buf
    return param - lr * step_dir, SGDState(state.step + 1, buf)
def rmsprop_update(param, grad, state, *, lr, alpha=0.99, eps=1e-8):
    """One step of RMSprop; returns (new_param, new_state)."""
    sq = state.square_avg * alpha + grad ** 2 * (1 - alpha)
    updated = param - lr * grad / (sq ** 0.5 + eps)
    return updated, RMSpropState(state.step + 1, sq, state.momentum_buffer, state.grad_avg)
def adam_update(param, grad, state, *, lr, betas, eps, weight_decay, amsgrad):
    """One step of Adam (AMSGrad optional, L2 weight decay); returns (new_param, new_state)."""
    b1, b2 = betas
    step = state.step + 1
    if weight_decay:
        grad = grad + weight_decay * param
    exp_avg = state.exp_avg * b1 + grad * (1 - b1)
    exp_avg_sq = state.exp_avg_sq * b2 + grad ** 2 * (1 - b2)
    biggest = np.maximum(state.max_exp_avg_sq, exp_avg_sq) if amsgrad else state.max_exp_avg_sq
    denom = np.sqrt((biggest if amsgrad else exp_avg_sq) / (1 - b2 ** step)) + eps
    out = param - (lr / (1 - b1 ** step)) * exp_avg / denom
    return out, AdamState(step, exp_avg, exp_avg_sq, biggest)
'''


def test_similar_code_names_planted_copies_and_not_independent_work():
    """A pasted solution and one with its names changed match the reference and each other
    in full; an independent solution shares a tenth; half copied (Adam only) is near half."""
    from courseops.grading import similar
    ids = {"sgd_momentum_update", "rmsprop_update", "adam_update"}
    reference = similar.solution_code(COURSE / "source" / PS / NB, ids)
    template = similar.solution_code(COURSE / "release" / PS / NB, ids)
    renamed = reference
    for old, new in (("new_param", "theta"), ("m_hat", "mh"), ("v_hat", "vh"), ("beta1", "b_one")):
        renamed = renamed.replace(old, new)
    half = INDEPENDENT[:INDEPENDENT.index("def adam_update")] + reference[reference.index("def adam_update"):]
    codes = {"paste": reference, "renamed": renamed, "own": INDEPENDENT, "half": half, "blank": template}
    pairs = similar.similar_pairs(codes, reference, template, threshold=0.0)
    share = {(p.student, p.other): p.share for p in pairs}
    assert share["paste", "reference"] == share["renamed", "reference"] == share["paste", "renamed"] == 1.0
    assert share["own", "reference"] < 0.2 and 0.35 < share["half", "reference"] < 0.65
    assert all(p.share == p.other_share == 0 for p in pairs if "blank" in (p.student, p.other))   # the template
    listed = similar.similar_to(similar.similar_pairs(codes, reference, template))
    assert listed == {"paste": "reference (100 %); renamed (100 %)", "renamed": "reference (100 %); paste (100 %)"}
    match = next(p for p in pairs if (p.student, p.other) == ("half", "reference"))
    assert "m_hat = m / (1 - beta1 ** t)" in match.lines and "buf = grad.copy()" not in match.lines


def test_the_judges_data_moves_from_outputs_to_metadata():
    grade = grade_module()
    from courseops.grading.kernel import GRADING_MIME
    cell = nbformat.v4.new_code_cell("checks.check_adam_update(adam_update)", outputs=[
        nbformat.v4.new_output("display_data", data={GRADING_MIME: {"mistake": "m", "stopped": True}}),
        nbformat.v4.new_output("error", ename="CheckFailed", evalue="...", traceback=[])])
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_adam_update"}
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert grade.grading_data(nb) == ["test_adam_update"]
    assert cell.metadata["optlessons"] == {"mistake": "m", "stopped": True}
    assert [o.output_type for o in cell.outputs] == ["error"]


def test_feedback_fails_for_one_student_only(tmp_path, monkeypatch, capsys):
    """nbgrader's generate_feedback stops at the first notebook it cannot convert: then each
    student is tried alone, and the one that fails is named."""
    grade = grade_module()
    for student in ("ann", "bob"):
        (tmp_path / "autograded" / student / PS).mkdir(parents=True)
    page = tmp_path / "feedback" / "bob" / PS / "x.html"
    calls = []

    def fake(args, course, timeout, env=None):
        calls.append(args[3:])
        ok = args[3:] == ["--student=bob"]
        if ok:
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text("<html><head><!-- Load mathjax -->x<!-- End of mathjax configuration -->"
                            "</head></html>")
        return subprocess.CompletedProcess(args, 0 if ok else 1, "", "" if ok else "ValueError: bad cell")

    monkeypatch.setattr(grade, "run_nbgrader", fake)
    assert grade.feedback(tmp_path, PS) == [page]
    assert calls == [[], ["--student=ann"], ["--student=bob"]]
    assert "WARNING: no feedback for ann: nbgrader stopped with an error" in capsys.readouterr().out
    assert (page.parent / "mathjax" / "tex-svg.js").is_file() and "cdnjs" not in page.read_text()


def test_why_nbgrader_failed_names_a_dead_kernel_and_no_text_of_the_log():
    grade = grade_module()
    assert grade.nbgrader_failure("nbclient.exceptions.DeadKernelError: Kernel died").startswith(
        "the notebook's kernel died while running it")
    # the log's lines may quote the student's output: none is copied into the status
    assert grade.nbgrader_failure("[X | ERROR] =HYPERLINK(\"http://x\")") == "nbgrader stopped with an error"


# --------------------------------------------------------------------------- release/ and source/

GENERATE_ALL = textwrap.dedent("""
    import sys
    from pathlib import Path
    from traitlets.config.loader import PyFileConfigLoader
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    course = Path(sys.argv[1])
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    for name in sys.argv[2:]:
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            sys.exit(result["log"] + result.get("error", ""))
""")


def normalised(nb):
    """What matters in a notebook: cells (type, source, nbgrader metadata, editable flags, id)."""
    out = []
    for c in nb.cells:
        out.append((c.cell_type, c.get("id"), c.source, c.metadata.get("nbgrader"),
                    c.metadata.get("deletable"), c.metadata.get("editable"),
                    c.get("outputs"), c.get("execution_count")))
    return out, nb.metadata.get("kernelspec")


def test_release_is_what_generate_assignment_makes(tmp_path):
    """Regenerate every assignment from source/ (nbgrader's API in one process, the same
    code `nbgrader generate_assignment` runs) and compare with the committed release/."""
    shutil.copy(COURSE / "nbgrader_config.py", tmp_path)
    shutil.copytree(COURSE / "source", tmp_path / "source")
    names = sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir())
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, "-c", GENERATE_ALL, str(tmp_path), *names], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    committed = sorted(str(p.relative_to(COURSE / "release")) for p in (COURSE / "release").rglob("*")
                       if p.is_file())
    generated = sorted(str(p.relative_to(tmp_path / "release")) for p in (tmp_path / "release").rglob("*")
                       if p.is_file())
    assert committed == generated
    for rel in generated:
        if rel.endswith(".ipynb"):
            a = nbformat.read(COURSE / "release" / rel, as_version=4)
            b = nbformat.read(tmp_path / "release" / rel, as_version=4)
            assert normalised(a) == normalised(b), f"release/{rel} is stale: run `make release`"
        else:
            assert (COURSE / "release" / rel).read_bytes() == (tmp_path / "release" / rel).read_bytes()


@pytest.mark.parametrize("assignment", sorted(p.name for p in (COURSE / "source").iterdir() if p.is_dir()))
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    """Every solution cell is a stub in release/, and no line of a solution or of a hidden test
    is in it (unless the source shows that line outside those blocks too, as a hint)."""
    source = nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    release = nbformat.read(COURSE / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    text = "\n".join(c.source for c in release.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    secret, shown = set(), set()
    for c in source.cells:
        blocks = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
        secret |= {line.strip() for _, block in blocks.findall(c.source) for line in block.splitlines()
                   if len(line.strip()) > 12}
        shown |= {line.strip() for line in blocks.sub("", c.source).splitlines()}
    secret -= shown
    released = {line.strip() for line in text.splitlines()}
    assert secret and not secret & released, sorted(secret & released)
    for c in release.cells:
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code":
            assert re.search(r"# YOUR CODE HERE\n *raise NotImplementedError\(\)", c.source), c.source


def all_notebooks(kind):
    return sorted((COURSE / kind).glob("*/*.ipynb"))


def execute(path, timeout=60):
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def errors(nb):
    return [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells)
            for o in c.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("path", all_notebooks("source"), ids=lambda p: p.parent.name)
def test_source_notebook_runs_clean(path):
    nb = execute(path)
    assert errors(nb) == []
    for c in nb.cells:   # every test cell printed its ✓ line(s)
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"):
            text = "".join(o.get("text", "") for o in c.get("outputs", []))
            assert text.count("✓") == 1 + ("HIDDEN TESTS" in c.source), (c.source, text)


@pytest.mark.parametrize("path", all_notebooks("release"), ids=lambda p: p.parent.name)
def test_release_notebook_runs_up_to_the_first_exercise(path):
    nb = execute(path)
    first_solution = next(i for i, c in enumerate(nb.cells)
                          if c.metadata.get("nbgrader", {}).get("solution"))
    errs = errors(nb)
    assert errs, "an unfilled release notebook should fail its checks"
    assert all(i > first_solution for i, _, _ in errs), errs
    for _, ename, evalue in errs:
        assert ename == "NotImplementedError" or (ename == "CheckFailed" and "not written yet" in evalue), \
            (ename, evalue)
