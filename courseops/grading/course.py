"""Grading a class with nbgrader: what `exercises/grade.py` runs (see its --help).

`collect` copies downloads into submitted/; `autograde` checks and repairs each
submission in a private copy (submitted/ is only read), grades it with its own
`nbgrader autograde --student=…` run inside the grading sandbox (GradingSandbox),
`--jobs` students at a time, and records each student as `graded`, `ungradable: <why>`
or `missing` in grading_status.json; `feedback` makes nbgrader's pages work offline;
`export` writes grades.csv. The report is `courseops.grading.report`.
"""


from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import csv
import datetime
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from courseops.grading.notebook import STUDENT_ID, STUDENT_ID_RULE
from courseops.grading.similar import class_pairs, similar_to
from courseops.sanitize import csv_safe

GRADES_CSV = "grades.csv"   # `export` and `all` write <course>/grades.csv unless --to says otherwise
STATUS_FILE = "grading_status.json"   # <course>/grading_status.json: each student's status per assignment
LOGS = "grading_logs"   # <course>/grading_logs/<assignment>/<student>.log: nbgrader's log when it failed
GRADES_COLUMNS = ("assignment", "student_id", "status", "timestamp", "score", "max_score", "warnings",
                  "similar_to")
STUDENT_TIMEOUT = 900   # seconds one student's `nbgrader autograde` may take, all cells together
GRADED, MISSING, UNGRADABLE = "graded", "missing", "ungradable"


class Ungradable(Exception):
    """A submission nbgrader cannot grade; the message says why, in words a teacher can act on."""


# --------------------------------------------------------------------------- running nbgrader

def nbgrader_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with this interpreter's bin/ first on PATH."""
    env = dict(os.environ if env is None else env)
    # nbgrader shells out to `alembic` (its database migrations): it must be on PATH.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def run_nbgrader(args: list[str], course: Path, timeout: float,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`nbgrader ARGS` in `course`, in its own process group; raises TimeoutError after
    `timeout` s, once that group (nbgrader and the kernels it started) is killed."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    with subprocess.Popen(cmd, cwd=course, env=nbgrader_env(env), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TimeoutError(f"nbgrader {args[0]} ran longer than {timeout:g} s and was stopped") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def nbgrader(args: list[str], course: Path, timeout: float = 900,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in `course` with this interpreter's environment; exit on failure."""
    proc = run_nbgrader(args, course, timeout)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"nbgrader {' '.join(args)} failed with exit code {proc.returncode}")
    return proc


def assignments_in(course: Path) -> list[str]:
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir())


def release(course: Path, names: list[str]) -> None:
    for name in names or assignments_in(course):
        nbgrader(["generate_assignment", name, "--force"], course)
        print(f"released {name} -> {course / 'release' / name}")


def cell_timeout(course: Path) -> float:
    """The seconds one cell may run, as the course's nbgrader_config.py sets them."""
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    for section in ("Execute", "ExecutePreprocessor"):
        if "timeout" in config[section]:
            return float(config[section].timeout)
    return 30.0


# --------------------------------------------------------------------------- collect

def _same_file(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def collect(course: Path, assignment: str, files: list[str], force: bool = False) -> list[Path]:
    """Copy each `<student>.ipynb` to submitted/<student>/<assignment>/<release name>.

    Everything is checked before anything is copied; the input files are only read.
    """
    notebooks = sorted((course / "release" / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise SystemExit(f"release/{assignment} should hold one notebook; run `release` first")
    target_name = notebooks[0].name
    reserved = {p.name for p in (course / "source").iterdir() if p.is_dir()} | {notebooks[0].stem}
    plan: dict[str, Path] = {}
    problems = []
    for f in map(Path, files):
        student = f.stem
        if not f.is_file():
            problems.append(f"{f}: no such file")
        elif f.suffix != ".ipynb":
            problems.append(f"{f}: not a .ipynb notebook")
        elif not STUDENT_ID.match(student):
            problems.append(f"{f}: {student!r} is not a valid student id ({STUDENT_ID_RULE}); "
                            f"rename the file <student>.ipynb")
        elif student in reserved:
            problems.append(f"{f}: that is the assignment's own name, not a student's; "
                            f"rename the file <student>.ipynb")
        elif student in plan:
            problems.append(f"{f} and {plan[student]} are both student {student!r}; keep one")
        else:
            plan[student] = f
    for student, f in plan.items():
        dest = course / "submitted" / student / assignment / target_name
        if dest.exists() and dest.resolve() == f.resolve():
            problems.append(f"{f} is already the submission in submitted/; nothing to copy")
        elif dest.exists() and not force and not _same_file(f, dest):
            problems.append(f"{f}: submitted/{student}/{assignment}/{target_name} already holds a "
                            f"different submission; use --force to replace it")
    if problems:
        raise SystemExit("collect: nothing copied:\n  " + "\n  ".join(problems))
    copied = []
    for student, f in plan.items():
        dest = course / "submitted" / student / assignment / target_name
        if dest.exists() and _same_file(f, dest):
            print(f"{f} = {dest.relative_to(course)} (already collected)")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
        copied.append(dest)
        print(f"{f} -> {dest.relative_to(course)}")
    return copied


# --------------------------------------------------------------------------- the gradebook

def has_gradebook_entry(course: Path, assignment: str) -> bool:
    """Whether gradebook.db knows `assignment` (read only: a missing file stays missing)."""
    db = course / "gradebook.db"
    if not db.is_file():
        return False
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT 1 FROM assignment WHERE name = ?", (assignment,)).fetchone()
            n = con.execute("SELECT COUNT(*) FROM notebook JOIN assignment "
                            "ON notebook.assignment_id = assignment.id "
                            "WHERE assignment.name = ?", (assignment,)).fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return row is not None and n > 0


def ensure_gradebook(course: Path, assignment: str) -> bool:
    """Create `assignment`'s gradebook entry (cells, points, checksums) when it is missing.

    gradebook.db is not committed and only `generate_assignment` fills it, so a fresh
    clone cannot autograde. Run generate_assignment from source/ into a temporary
    release folder: the gradebook gets the same entry `release` makes, and the
    committed release/ is not touched. Returns True if it created the entry.
    """
    if has_gradebook_entry(course, assignment):
        return False
    if not (course / "source" / assignment).is_dir():
        raise SystemExit(f"no source/{assignment} in {course}: cannot set up the gradebook")
    with tempfile.TemporaryDirectory(prefix="nbgrader-release-") as tmp:
        nbgrader(["generate_assignment", assignment, "--force",
                  f"--CourseDirectory.release_directory={tmp}"], course)
    print(f"gradebook.db had no entry for {assignment}: created it from source/{assignment} "
          f"(generate_assignment into a temporary folder; release/ unchanged)")
    return True


def gradebook(course: Path):
    from nbgrader.api import Gradebook
    return Gradebook(f"sqlite:///{course / 'gradebook.db'}")


# --------------------------------------------------------------------------- checking a submission

def grade_id(cell) -> str | None:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return gid if isinstance(gid, str) and gid else None


NBGRADER_FLAGS = ("grade", "solution", "locked")
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")   # nbgrader looks for them in any line


def normalize(nb) -> list[str]:
    """Make every cell's shape one the repair step and nbgrader can read, in place; return
    what was changed. nbgrader metadata that is not a dict of the right types (null, a
    list, a grade_id that is not a string, a flag that is not a bool, a locked or graded
    cell without a grade_id) is dropped: the cell runs as an ordinary one, and the
    course's own cells are put back from the release by `repair`. A hidden-tests marker
    in a student's cell is made a plain comment (nbgrader would hide the rest of the
    cell in the feedback, and fails on a marker without its end). Raises Ungradable for
    what cannot be read at all."""
    changes = []
    if not isinstance(nb.get("cells"), list):
        raise Ungradable("the notebook's list of cells is missing")
    for i, c in enumerate(nb.cells):
        where = f"cell {i + 1}"
        if not isinstance(c, dict) or c.get("cell_type") not in ("code", "markdown", "raw"):
            raise Ungradable(f"{where} is not a notebook cell (cell_type "
                             f"{c.get('cell_type') if isinstance(c, dict) else type(c).__name__!r})")
        source = c.get("source", "")
        if isinstance(source, list) and all(isinstance(x, str) for x in source):
            c["source"] = source = "".join(source)
        if not isinstance(source, str):
            raise Ungradable(f"{where}'s source is a {type(source).__name__}, not text")
        if not isinstance(c.get("metadata"), dict):
            c["metadata"] = nbformat.NotebookNode()
        meta = c.metadata.get("nbgrader", ...)
        if meta is ... :
            pass
        elif not (isinstance(meta, dict) and all(isinstance(meta.get(f, False), bool) for f in NBGRADER_FLAGS)
                  and (grade_id(c) or not any(meta.get(f) for f in NBGRADER_FLAGS))):
            del c.metadata["nbgrader"]
            changes.append(f"{where}'s nbgrader metadata was not valid: it ran as an ordinary cell")
        locked = isinstance(c.metadata.get("nbgrader"), dict) and c.metadata.nbgrader.get("locked")
        if not locked and any(m in source for m in HIDDEN_MARKERS):
            for m in HIDDEN_MARKERS:
                source = source.replace(m, m.replace(" ", "-"))
            c["source"] = source
            changes.append(f"{where} holds the marker of the course's hidden tests: made a plain comment")
        if c.cell_type == "code":
            c.setdefault("outputs", [])
            c.setdefault("execution_count", None)
            if not isinstance(c.outputs, list):
                c.outputs = []
    return changes


def the_notebook(course: Path, kind: str, assignment: str) -> Path:
    """The one notebook of `assignment` in source/ or release/."""
    found = sorted((course / kind / assignment).glob("*.ipynb"))
    if len(found) != 1:
        raise SystemExit(f"{kind}/{assignment} should hold exactly one notebook, found {len(found)}")
    return found[0]


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The notebook in `path`, or Ungradable saying in words what the file is instead."""
    data = path.read_bytes()
    if not data.strip():
        raise Ungradable("the file is empty (0 bytes)" if not data else "the file holds only blank space")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Ungradable("the file is not a notebook (it is not text: binary data, or a zip?)") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Ungradable(f"the file is not a valid notebook: its JSON is broken at line {exc.lineno}, "
                         f"column {exc.colno} ({exc.msg}); it was probably cut short or edited "
                         f"outside Jupyter — ask for the file again") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("cells", obj.get("worksheets")), list):
        raise Ungradable("the file is JSON but not a Jupyter notebook (it has no list of cells)")
    try:
        with warnings.catch_warnings():   # duplicate cell ids (copy/paste) are renamed: no need to shout
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
    except Exception as exc:   # nbformat raises many types for malformed notebooks
        raise Ungradable(f"the file is not a notebook Jupyter can read ({type(exc).__name__}: {exc})") from None
    if not nb.cells:
        raise Ungradable("the notebook has no cells")
    return nb


def _nbgrader_ids(nb) -> list[str]:
    return [g for g in map(grade_id, nb.cells) if g]


def repair(nb: nbformat.NotebookNode, release_nb: nbformat.NotebookNode, assignment: str,
           others: dict[str, set[str]] | None = None) -> list[str]:
    """Make `nb` a submission of `assignment` nbgrader can grade, in place; return what was changed.

    Raises Ungradable when `nb` is not `assignment`'s notebook (fewer than half of its
    nbgrader cells; `others` maps other assignments to their grade_ids, to say which
    one it is). Each nbgrader cell gets the release's metadata back; a grade_id that
    appears again (Jupyter's copy/paste copies metadata) is graded in its first copy —
    a student's later copies stay as ordinary cells, copies of the course's locked
    cells are dropped; a deleted locked or test cell is put back from the release.
    """
    changes = normalize(nb)
    canonical = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    present = set(_nbgrader_ids(nb)) & set(canonical)
    if len(present) * 2 < len(canonical):
        guess = max((others or {}).items(), key=lambda kv: len(kv[1] & set(_nbgrader_ids(nb))),
                    default=None)
        like = (f"; it looks like {guess[0]}'s notebook"
                if guess and len(guess[1] & set(_nbgrader_ids(nb))) * 2 >= len(guess[1]) else "")
        raise Ungradable(f"this is not {assignment}'s notebook: it has {len(present)} of its "
                         f"{len(canonical)} graded and solution cells{like}")
    copies: dict[str, int] = {}
    kept = []
    for c in nb.cells:
        gid = grade_id(c)
        if gid is None:
            kept.append(c)
            continue
        if gid not in canonical:
            c.metadata.pop("nbgrader", None)
            changes.append(f"cell {gid!r} is not a cell of {assignment}: run as an ordinary cell")
            kept.append(c)
            continue
        ref = canonical[gid]
        if gid in copies:
            copies[gid] += 1
            if not ref.metadata["nbgrader"].get("locked"):
                c.metadata.pop("nbgrader", None)
                kept.append(c)
            continue
        copies[gid] = 1
        if ref.metadata["nbgrader"].get("locked"):
            c = copy.deepcopy(ref)   # nbgrader restores a locked cell from the gradebook anyway
        else:
            c.metadata["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
            if c.cell_type != ref.cell_type:
                changes.append(f"cell {gid} was changed from {ref.cell_type} to {c.cell_type}: "
                                f"changed back")
                c = nbformat.from_dict({**copy.deepcopy(ref), "source": c.source})
        kept.append(c)
    for gid, n in copies.items():
        if n > 1:
            what = ("the later copies ran as ordinary cells"
                    if not canonical[gid].metadata["nbgrader"].get("locked")
                    else "the later copies were removed (the course's own cell)")
            changes.append(f"cell {gid} appears {n} times (copy/paste in Jupyter copies its nbgrader "
                            f"id): the first copy was graded, {what}")
    # put back the locked cells (tests, imports, instructions) a student deleted, after
    # the release cell that precedes them
    order = [grade_id(c) for c in release_nb.cells]
    for i, ref in enumerate(release_nb.cells):
        gid = grade_id(ref)
        if not gid or gid in copies or not ref.metadata["nbgrader"].get("locked"):
            continue
        before = next((g for g in reversed(order[:i]) if g and g in copies), None)
        at = 0 if before is None else 1 + max(j for j, c in enumerate(kept) if grade_id(c) == before)
        kept.insert(at, copy.deepcopy(ref))
        copies[gid] = 1
        kind = "test cell" if ref.metadata["nbgrader"].get("grade") else "locked cell"
        changes.append(f"{kind} {gid} was deleted: put back from the release and run")
    missing = [g for g in canonical if g not in copies]
    for gid in missing:
        changes.append(f"cell {gid} was deleted: graded as not answered")
        ref = release_nb.cells[order.index(gid)]
        kept.append(copy.deepcopy(ref))
    nb.cells = kept
    _unique_cell_ids(nb)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise Ungradable(f"the notebook's structure is invalid ({exc.message[:300]})") from None
    return changes


def _unique_cell_ids(nb) -> None:
    """Give cells that share an id (copies) ids of their own: `<id>-2`, `<id>-3`, …"""
    if nb.nbformat_minor < 5:
        return
    seen: set[str] = set()
    for c in nb.cells:
        cid = c.get("id") or "cell"
        n = 1
        while cid in seen:
            n += 1
            cid = f"{c.get('id') or 'cell'}-{n}"
        c["id"] = cid
        seen.add(cid)


def submission_timestamp(folder: Path, notebook: Path) -> str:
    """When it was submitted: nbgrader's timestamp.txt in `folder` if there is one, else the
    notebook file's modification time; ISO 8601 in UTC."""
    stamp = folder / "timestamp.txt"
    if stamp.is_file() and stamp.read_text().strip():
        from nbgrader.utils import parse_utc
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            return parse_utc(stamp.read_text().strip()).strftime("%Y-%m-%dT%H:%M:%SZ")
    when = datetime.datetime.fromtimestamp(notebook.stat().st_mtime, datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def find_submission(course: Path, student: str, assignment: str, name: str) -> tuple[Path, list[str]]:
    """The notebook in submitted/<student>/<assignment>/ to grade, and warnings about the folder."""
    folder = course / "submitted" / student / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise Ungradable(f"submitted/{student}/{assignment}/ holds no .ipynb notebook")
    if folder / name in notebooks:
        extra = [p.name for p in notebooks if p.name != name]
        return folder / name, ([f"ignored the other notebooks {', '.join(extra)}"] if extra else [])
    if len(notebooks) == 1:
        return notebooks[0], [f"the notebook is named {notebooks[0].name}, not {name}: graded it"]
    raise Ungradable(f"submitted/{student}/{assignment}/ holds {len(notebooks)} notebooks and none is "
                     f"named {name}: keep the one to grade")


# --------------------------------------------------------------------------- statuses

@dataclass
class Outcome:
    """One student's result for one assignment."""
    student: str
    status: str                      # "graded", "ungradable: <why>", "missing" or "not graded yet"
    timestamp: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.status.split(":")[0]


def load_statuses(course: Path) -> dict[str, dict[str, Outcome]]:
    path = course / STATUS_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {a: {s: Outcome(s, **o) for s, o in students.items()} for a, students in data.items()}


def save_statuses(course: Path, assignment: str, outcomes: list[Outcome]) -> None:
    data = {a: {s: {k: v for k, v in vars(o).items() if k != "student"} for s, o in students.items()}
            for a, students in load_statuses(course).items()}
    mine = data.setdefault(assignment, {})
    for o in outcomes:
        mine[o.student] = {"status": o.status, "timestamp": o.timestamp, "warnings": o.warnings}
    (course / STATUS_FILE).write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def read_roster(path: Path | None) -> list[str]:
    """Student ids from a roster file: one per line (the first comma-separated field), a
    `student_id` header line and `#` comments allowed."""
    if path is None:
        return []
    ids = []
    for line in Path(path).read_text().splitlines():
        sid = line.split("#")[0].split(",")[0].strip()
        if sid and sid != "student_id":
            if not STUDENT_ID.match(sid):
                raise SystemExit(f"roster {path}: {sid!r} is not a valid student id ({STUDENT_ID_RULE})")
            ids.append(sid)
    return ids


def class_list(course: Path, roster: list[str] = ()) -> list[str]:
    """Everyone in the class: each folder of submitted/ (any assignment), the roster, and
    every student an earlier run recorded."""
    students = set(roster)
    if (course / "submitted").is_dir():
        students |= {p.name for p in (course / "submitted").iterdir() if p.is_dir()}
    for outcomes in load_statuses(course).values():
        students |= set(outcomes)
    return sorted(students)


# --------------------------------------------------------------------------- the sandbox

def learner_limit(cell_limit: float) -> float:
    """Seconds a student's cell, or one call of a student's function by a check, may run
    in the learner process: less than nbgrader's `cell_limit`, so the sandbox stops a
    loop itself, restarts the learner and says so in time, before nbgrader interrupts
    the whole cell."""
    return cell_limit - max(2.0, 0.2 * cell_limit)


def open_sandbox(workdir: Path, unsafe: bool, cell_limit: float):
    """The grading sandbox for this run (courseops.grading.GradingSandbox; see
    learner_limit), or SystemExit saying how to get bubblewrap. With `unsafe`, grade
    without bubblewrap."""
    from courseops.grading import GradingSandbox

    try:
        return GradingSandbox(workdir, unsafe_no_sandbox=unsafe, cell_timeout=learner_limit(cell_limit),
                              call_timeout=learner_limit(cell_limit))
    except RuntimeError as exc:   # bubblewrap missing: the message says how to install it
        raise SystemExit(f"{exc}") from None


# --------------------------------------------------------------------------- feedback a learner reads

def is_timeout(output) -> bool:
    return output.get("output_type") == "error" and output.get("ename") in ("KeyboardInterrupt",
                                                                             "CellTimeoutError")


def timeout_message(cell, limit: float) -> str:
    """What a learner reads instead of a KeyboardInterrupt traceback: the limit and the
    likely cause."""
    loops = ("an infinite loop (a `while` whose condition never turns false), or a loop over far "
             "more steps, epochs or batches than the task needs")
    if (cell.metadata.get("nbgrader") or {}).get("grade"):
        return (f"Your code was still running after {limit:g} s, the time limit of this test cell, "
                f"and was stopped while the check ran it on its cases (the reference takes well "
                f"under a second on each). Likely cause: {loops}.")
    return (f"This cell was still running after {limit:g} s, the time limit of a cell, and was "
            f"stopped. Likely cause: {loops}. Whatever the cell would have defined after that point is "
            f"missing, so later checks can fail too.")


def explain_timeouts(nb, limit: float) -> list[str]:
    """Replace each timed-out cell's KeyboardInterrupt traceback by one sentence (in place);
    return the grade_ids (or cell numbers) it did so for."""
    where = []
    for i, c in enumerate(nb.cells):
        stopped = [o for o in c.get("outputs", []) if is_timeout(o)]
        explained = [o for o in c.get("outputs", []) if o.get("output_type") == "error" and not is_timeout(o)]
        if stopped and explained:   # the check already said, in words, what the interrupt stopped
            c.outputs = [o for o in c.outputs if not is_timeout(o)]
            where.append(grade_id(c) or f"cell {i + 1}")
        elif stopped:   # nbclient adds its CellTimeoutError after the KeyboardInterrupt: one sentence for both
            msg = timeout_message(c, limit)
            first = c.outputs.index(stopped[0])
            c.outputs = [o for o in c.outputs[:first] if not is_timeout(o)] + [
                nbformat.v4.new_output("error", ename="TimeoutError", evalue=msg,
                                       traceback=[f"TimeoutError: {msg}"])] + [
                o for o in c.outputs[first:] if not is_timeout(o)]
            where.append(grade_id(c) or f"cell {i + 1}")
    return where


def secret_lines(source_nb, release_nb, min_length: int = 20) -> set[str]:
    """Lines of the source notebook a student never receives (solutions, hidden tests),
    long enough not to occur by chance."""
    released = {line.strip() for c in release_nb.cells for line in c.source.splitlines()}
    secret = set()
    for c in source_nb.cells:
        inside = False
        for line in c.source.splitlines():
            s = line.strip()
            if s.startswith("### BEGIN"):
                inside = True
            elif s.startswith("### END"):
                inside = False
            elif inside and len(s) >= min_length and s not in released:
                secret.add(s)
    return secret


def withhold_leaks(nb, secrets: set[str]) -> list[str]:
    """Keep the instructor's solutions and hidden tests out of the outputs (in place).

    A traceback's frames that quote such a line (IPython shows the code around the failing
    line, hidden tests included) are dropped, the error message stays; any other output
    showing one is replaced by a note. Returns the cells of those other outputs: code that
    printed what it should never have seen."""
    def shows(text: str) -> bool:
        return any(s in text or json.dumps(s, ensure_ascii=False)[1:-1] in text for s in secrets)

    where = []
    for i, c in enumerate(nb.cells):
        for j, o in enumerate(c.get("outputs", [])):
            if o.output_type == "error" and not shows(f"{o.ename}: {o.evalue}"):
                if any(map(shows, o.traceback)):
                    o.traceback = [f for f in o.traceback if not shows(f)] or [f"{o.ename}: {o.evalue}"]
            elif shows(json.dumps(o, ensure_ascii=False)):
                c.outputs[j] = nbformat.v4.new_output(
                    "stream", name="stderr",
                    text="[output withheld by the grader: it contained the course's solution or hidden "
                         "tests]\n")
                where.append(grade_id(c) or f"cell {i + 1}")
    return where


# --------------------------------------------------------------------------- autograde

@dataclass
class Assignment:
    """What grading one assignment compares every submission with, read once per run."""
    name: str
    notebook: str                    # the notebook's file name, as released
    release: nbformat.NotebookNode
    source: Path
    others: dict[str, set[str]]      # the other assignments' grade_ids, to name a wrong notebook
    secrets: set[str]                # secret_lines of the source

    @classmethod
    def read(cls, course: Path, name: str) -> "Assignment":
        release = nbformat.read(the_notebook(course, "release", name), as_version=4)
        source = the_notebook(course, "source", name)
        others = {a: set(_nbgrader_ids(nbformat.read(the_notebook(course, "release", a), as_version=4)))
                  for a in assignments_in(course) if a != name and (course / "release" / a).is_dir()}
        return cls(name, the_notebook(course, "release", name).name, release, source, others,
                   secret_lines(nbformat.read(source, as_version=4), release))


def grading_data(nb) -> list[str]:
    """Move what the grading kernel published about each cell (GRADING_MIME: the known
    mistake a check named, whether a time limit stopped it) from the outputs into the
    cell's metadata["optlessons"], in place; return the cells a time limit stopped."""
    from courseops.grading.kernel import GRADING_MIME
    stopped = []
    for i, c in enumerate(nb.cells):
        data = [o.data[GRADING_MIME] for o in c.get("outputs", [])
                if o.get("output_type") == "display_data" and GRADING_MIME in o.get("data", {})]
        if not data:
            continue
        c.outputs = [o for o in c.outputs if not (o.get("output_type") == "display_data"
                                                  and GRADING_MIME in o.get("data", {}))]
        merged = {k: v for d in data for k, v in d.items()}
        c.metadata["optlessons"] = merged
        if merged.get("stopped"):
            stopped.append(grade_id(c) or f"cell {i + 1}")
    return stopped


def grade_student(course: Path, a: Assignment, student: str, work: Path, sandbox,
                  timeout: float, limit: float) -> Outcome:
    """Check, repair, stage and grade one student's submission; never raises for that student."""
    assignment, name = a.name, a.notebook
    autograded = course / "autograded" / student / assignment
    outcome = Outcome(student, GRADED)
    try:
        path, outcome.warnings = find_submission(course, student, assignment, name)
        outcome.timestamp = submission_timestamp(path.parent, path)
        nb = read_submission(path)
        outcome.warnings += repair(nb, a.release, assignment, a.others)
        checked = work / "checked" / student / name
        checked.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, checked)
        staged = work / "staged" / student / assignment
        staged.mkdir(parents=True, exist_ok=True)
        # The exchange's timestamp.txt, byte for byte: the formgrader counts a submission as
        # autograded only if the gradebook's timestamp equals the one it reads in submitted/
        # (else it shows "needs autograding" and a score of 0). A command-line collect has
        # none: the file's modification time stands in.
        stamp = path.parent / "timestamp.txt"
        if stamp.is_file():
            shutil.copy(stamp, staged / stamp.name)
        else:
            (staged / "timestamp.txt").write_text(outcome.timestamp.replace("T", " ").replace("Z", " UTC") + "\n")
        # the exchange's secret for this submission: feedback released through the
        # formgrader is filed under it (a command-line collect has none)
        secret = path.parent / "submission_secret.txt"
        if secret.is_file():
            shutil.copy(secret, staged / secret.name)
        sandbox.prepare(student, checked, a.source, staged / name)
        args = ["autograde", assignment, f"--student={student}", "--force",
                f"--CourseDirectory.submitted_directory={work / 'staged'}", *sandbox.nbgrader_args()]
        env = sandbox.env(student)
        try:
            proc = run_nbgrader(args, course, timeout, env)
        except TimeoutError:
            raise Ungradable(f"grading took longer than {timeout:g} s and was stopped (cells that each "
                             f"stay under the {limit:g} s limit but add up?)") from None
        graded_nb = autograded / name
        log = course / LOGS / assignment / f"{student}.log"
        log.unlink(missing_ok=True)
        if proc.returncode != 0 or not graded_nb.is_file():
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
            raise Ungradable(f"{nbgrader_failure(proc.stdout + proc.stderr)} (nbgrader's log: "
                             f"{log.relative_to(course)})")
        sandbox.restore_sources(graded_nb, checked)
        result = nbformat.read(graded_nb, as_version=4)
        for where in explain_timeouts(result, limit):
            outcome.warnings.append(f"{where} ran over the {limit:g} s limit and was stopped")
        for where in grading_data(result):
            outcome.warnings.append(f"{where}: the sandbox stopped a cell or call at its time limit")
        for where in withhold_leaks(result, a.secrets):
            outcome.warnings.append(f"the output of {where} showed the course's solution or hidden tests: "
                                    f"withheld from the feedback (did the code read exercises/source?)")
        nbformat.write(result, graded_nb)
    except Ungradable as exc:
        outcome.status = f"{UNGRADABLE}: {exc}"
        shutil.rmtree(autograded, ignore_errors=True)   # no stale feedback from an earlier run
    except Exception as exc:   # a shape nothing above foresaw: this student only, in words
        outcome.status = (f"{UNGRADABLE}: the grader could not handle this notebook "
                          f"({type(exc).__name__}: {str(exc)[:300]}); grade it by hand")
        shutil.rmtree(autograded, ignore_errors=True)
    return outcome


def nbgrader_failure(log: str) -> str:
    """Why an nbgrader command failed, in words: the kernel died (nbgrader names its
    DeadKernelError), or it stopped otherwise (its log says how)."""
    if "DeadKernelError" in log:
        return ("the notebook's kernel died while running it (os._exit, sys.exit in a loop, a crash, "
                "or more memory than allowed)")
    return "nbgrader stopped with an error"


def autograde(course: Path, assignment: str, student: str | None = None, roster: list[str] = (),
              unsafe: bool = False, timeout: float = STUDENT_TIMEOUT, jobs: int | None = None) -> list[Outcome]:
    """Grade each student of the class (or only `student`) for `assignment`, one nbgrader
    run each, `jobs` at a time (default: the number of cores), each in its own sandbox;
    record and return everyone's outcome and print the summary."""
    if not (course / "source" / assignment).is_dir():
        raise SystemExit(f"no source/{assignment} in {course}: choose one of {', '.join(assignments_in(course))}")
    if jobs is not None and jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {jobs}")
    students = [student] if student else class_list(course, roster)
    submitted = [s for s in students if (course / "submitted" / s / assignment).is_dir()]
    if not submitted:
        raise SystemExit(f"no submissions in submitted/*/{assignment}/: run `collect` first")
    ensure_gradebook(course, assignment)
    limit = cell_timeout(course)
    reference = Assignment.read(course, assignment)
    jobs = min(jobs or os.cpu_count() or 1, len(submitted))
    with tempfile.TemporaryDirectory(prefix="optlessons-grading-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        free = queue.Queue()   # one sandbox per worker: its kernels' sockets share a folder
        for i in range(jobs):
            free.put(stack.enter_context(open_sandbox(work / f"sandbox-{i}", unsafe, limit)))

        def grade_one(s: str) -> Outcome:
            sandbox = free.get()
            try:
                print(f"grading {s} ...", flush=True)
                return grade_student(course, reference, s, work, sandbox, timeout, limit)
            finally:
                free.put(sandbox)

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            done = dict(zip(submitted, pool.map(grade_one, submitted)))
    outcomes = [done.get(s) or Outcome(s, MISSING) for s in students]
    save_statuses(course, assignment, outcomes)
    print(summary(assignment, outcomes))
    return outcomes


def summary(assignment: str, outcomes: list[Outcome]) -> str:
    """Counts, then who was ungradable and why, who is missing, and who caused which warning."""
    count = {k: sum(o.kind == k for o in outcomes) for k in (GRADED, UNGRADABLE, MISSING)}
    lines = [f"{assignment}: {count[GRADED]} graded, {count[UNGRADABLE]} ungradable, "
             f"{count[MISSING]} missing ({len(outcomes)} students)"]
    bad = [o for o in outcomes if o.kind == UNGRADABLE]
    if bad:
        lines.append("ungradable (they score nothing until they resubmit or you grade by hand):")
        lines += [f"  {o.student}: {o.status.split(': ', 1)[1]}" for o in bad]
    absent = [o.student for o in outcomes if o.kind == MISSING]
    if absent:
        lines.append(f"missing: {', '.join(absent)}")
    warned = [o for o in outcomes if o.warnings]
    if warned:
        lines.append("warnings:")
        lines += [f"  {o.student}: {w}" for o in warned for w in o.warnings]
    return "\n".join(lines)


# --------------------------------------------------------------------------- feedback

MATHJAX = "tex-svg.js"   # MathJax 3, one file, SVG output: no font files to serve
MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
FEEDBACK_CSS = """<style>
/* optlessons: long lines wrap (at spaces where possible) instead of running off the page */
div.output_area pre, div.output_subarea pre, div.output_text pre, pre {
  white-space: pre-wrap; overflow-wrap: anywhere; }
</style>"""


def local_mathjax() -> Path:
    """MathJax 3's tex-svg.js as installed with the course's site tools (sphinx-mathjax-offline)."""
    import importlib.util
    spec = importlib.util.find_spec("sphinx_mathjax_offline")
    roots = [Path(p) for p in sys.path if p] + ([Path(spec.origin).parents[1]] if spec and spec.origin else [])
    for root in roots:
        path = root / "sphinx-mathjax-offline" / "static" / "mathjax" / MATHJAX
        if path.is_file():
            return path
    raise SystemExit("MathJax is not installed (sphinx-mathjax-offline): run `make setup`")


def offline_html(html: str) -> str:
    """A feedback page that loads MathJax from `mathjax/tex-svg.js` next to it, not from a CDN,
    and wraps long output lines."""
    local = ("<!-- MathJax 3, served from the folder of this page (works offline) -->\n"
             "<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
             "displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true}};</script>\n"
             f'<script defer src="mathjax/{MATHJAX}"></script>')
    html, n = MATHJAX_BLOCK.subn(lambda _: local, html, count=1)
    if n != 1:
        raise RuntimeError("the feedback page has no MathJax block to replace (nbconvert's template changed?)")
    return html.replace("</head>", FEEDBACK_CSS + "\n</head>", 1)


def feedback(course: Path, assignment: str) -> list[Path]:
    """nbgrader's feedback pages for every graded student, made to work offline. Should
    nbgrader fail on the class, each student is tried alone: one bad notebook costs only
    its own page."""
    if run_nbgrader(["generate_feedback", assignment, "--force"], course, STUDENT_TIMEOUT).returncode:
        for student in sorted(p.parent.name for p in (course / "autograded").glob(f"*/{assignment}")):
            proc = run_nbgrader(["generate_feedback", assignment, "--force", f"--student={student}"],
                                course, STUDENT_TIMEOUT)
            if proc.returncode:
                print(f"WARNING: no feedback for {student}: {nbgrader_failure(proc.stdout + proc.stderr)}")
    mathjax = local_mathjax()
    pages = sorted((course / "feedback").glob(f"*/{assignment}/*.html"))
    for page in pages:
        page.write_text(offline_html(page.read_text(encoding="utf-8")), encoding="utf-8")
        (page.parent / "mathjax").mkdir(exist_ok=True)
        shutil.copy(mathjax, page.parent / "mathjax" / MATHJAX)
    print(f"feedback for {assignment} -> {course / 'feedback'}/<student>/{assignment}/ ({len(pages)} pages)")
    return pages


# --------------------------------------------------------------------------- grades.csv

def grade_rows(course: Path) -> list[dict[str, str]]:
    """One row per student of the class and assignment graded so far (GRADES_COLUMNS)."""
    from nbgrader.api import MissingEntry
    statuses = load_statuses(course)
    students = class_list(course)
    rows = []
    with gradebook(course) as gb:
        assignments = sorted({a.name for a in gb.assignments} & set(assignments_in(course)) | set(statuses))
        for assignment in assignments:
            try:
                max_score = gb.find_assignment(assignment).max_score
            except MissingEntry:
                max_score = ""
            known = statuses.get(assignment, {})
            for s in students:
                o = known.get(s)
                try:
                    sub = gb.find_submission(assignment, s)
                except MissingEntry:
                    sub = None
                if o is None:   # graded before statuses were kept, or never submitted
                    o = Outcome(s, GRADED if sub else MISSING,
                                sub.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ") if sub and sub.timestamp else "")
                if o.kind == MISSING and (course / "submitted" / s / assignment).is_dir():
                    o = Outcome(s, "not graded yet")     # collected, not autograded yet
                score = f"{sub.score:g}" if sub is not None and o.kind == GRADED else ""
                rows.append(dict(assignment=assignment, student_id=s, status=o.status, timestamp=o.timestamp,
                                 score=score, max_score=f"{max_score:g}" if max_score != "" else "",
                                 warnings="; ".join(o.warnings), similar_to=""))
            if (course / "source" / assignment).is_dir():   # similar code never changes a score
                mine = [r for r in rows if r["assignment"] == assignment]
                found = similar_to(class_pairs(course, assignment, [r["student_id"] for r in mine
                                                                    if r["status"] == GRADED]))
                for r in mine:
                    r["similar_to"] = found.get(r["student_id"], "")
    return rows


def export(course: Path, to: str | None = None) -> Path:
    """Write grades.csv (GRADES_COLUMNS) to `to` (relative to the current directory), by
    default to <course>/grades.csv."""
    out = course / GRADES_CSV if to is None else Path(to)
    if not out.is_absolute():
        out = Path.cwd() / out
    rows = grade_rows(course)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=GRADES_COLUMNS)
        w.writeheader()
        # no field a spreadsheet would run as a formula
        w.writerows({k: csv_safe(v) for k, v in row.items()} for row in rows)
    print(f"grades -> {out} ({len(rows)} rows)")
    return out
