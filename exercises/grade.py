"""Grade the optlessons exercises with nbgrader, from the command line.

A thin wrapper around the real nbgrader commands, run in the course directory
(this folder, or --course DIR) with the interpreter's own environment, each with
a time limit. Typical session:

    python exercises/grade.py release                      # source/ -> release/ (student copies)
    python exercises/grade.py collect ps3_momentum_rmsprop_adam downloads/*.ipynb
    python exercises/grade.py autograde ps3_momentum_rmsprop_adam
    python exercises/grade.py feedback ps3_momentum_rmsprop_adam   # feedback/<student>/<assignment>/*.html
    python exercises/grade.py export                               # grades.csv in the course directory
    python exercises/grade.py all ps3_momentum_rmsprop_adam        # autograde + feedback + export

Submissions live in `submitted/<student>/<assignment>/<notebook>.ipynb` (the
notebook keeps its release name). `collect` copies each file there, with the
WHOLE file name (without .ipynb) as the student id: `jane_doe.ipynb` is student
`jane_doe`. A student id is letters, digits, `_`, `-` and `.`, starting with a
letter or digit (nbgrader uses it as a folder name, a file glob and a
command-line value). `collect` never changes its input files, refuses two files
for the same student, and refuses to replace a different submission already in
submitted/ unless --force. nbgrader never writes into `submitted/`: it grades a
copy in `autograded/`.

The gradebook (gradebook.db, not committed) is created by `release`; in a fresh
clone `autograde` creates the assignment's entry itself from source/ (into a
temporary folder: release/ is left as it is).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

COURSE = Path(__file__).resolve().parent
ASSIGNMENTS = ("ps1_losses_gradients", "ps2_gradient_descent",
               "ps3_momentum_rmsprop_adam", "ps4_train_network")
# nbgrader puts the id in paths, in the `student_id` file glob and on command lines
# (its exchange also splits file names on "+"): keep to characters safe in all of them.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
STUDENT_ID_RULE = ("letters, digits, '_', '-' and '.', starting with a letter or digit "
                   "(no spaces)")
GRADES_CSV = "grades.csv"   # `export` and `all` write <course>/grades.csv unless --to says otherwise


def nbgrader(args: list[str], course: Path = COURSE, timeout: float = 900,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in `course` with this interpreter's environment."""
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    # nbgrader shells out to `alembic` (its database migrations): it must be on PATH.
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=course, env=env, timeout=timeout,
                          capture_output=True, text=True)
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


def autograde(course: Path, assignment: str, student: str | None = None) -> None:
    if not list((course / "submitted").glob(f"*/{assignment}/*.ipynb")):
        raise SystemExit(f"no submissions in submitted/*/{assignment}/: run `collect` first")
    ensure_gradebook(course, assignment)
    args = ["autograde", assignment, "--force"]
    if student:
        args.append(f"--student={student}")
    proc = nbgrader(args, course)
    for line in proc.stderr.splitlines():
        if "Timeout" in line or "timed out" in line or "ERROR" in line:
            print(line)
    print(f"autograded {assignment} -> {course / 'autograded'}")
    report_missing_tests(course, assignment)


def report_missing_tests(course: Path, assignment: str) -> list[tuple[str, str]]:
    """Name the submissions whose test cells are gone (deleted by the student).

    nbgrader restores an *edited* test cell, but a *deleted* one is neither
    restored nor run: it gets no auto score and is flagged needs_manual_grade
    (it counts 0 until a grader scores it), silently. Say so.
    """
    from nbgrader.api import Gradebook
    missing = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell.cell_type == "code" and g.auto_score is None and g.needs_manual_grade:
                        missing.append((sub.student_id, g.name))
    for student, cell in missing:
        print(f"WARNING: {student}'s submission has no test cell {cell} (deleted?): it was not run, "
              f"scores 0 and is flagged for manual grading")
    return missing


def feedback(course: Path, assignment: str) -> None:
    nbgrader(["generate_feedback", assignment, "--force"], course)
    print(f"feedback for {assignment} -> {course / 'feedback'}/<student>/{assignment}/")


def export(course: Path, to: str | None = None) -> Path:
    """Write the scores as CSV to `to` (relative to the current directory), by default
    to <course>/grades.csv."""
    out = course / GRADES_CSV if to is None else Path(to)
    if not out.is_absolute():
        out = Path.cwd() / out
    nbgrader(["export", f"--to={out}"], course)
    print(f"grades -> {out}")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--course", type=Path, default=COURSE, help="course directory (default: %(default)s)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("release", help="generate the student copies in release/ from source/")
    s.add_argument("assignments", nargs="*")
    s = sub.add_parser(
        "collect", help="copy <student>.ipynb files into submitted/<student>/<assignment>/",
        description="Copy each FILE to submitted/<student>/<assignment>/<release notebook name>. "
                    "The student id is the whole file name without .ipynb (jane_doe.ipynb -> "
                    f"jane_doe): {STUDENT_ID_RULE}. Input files are only read. Nothing is copied "
                    "if two files name the same student, or if a different submission of that "
                    "student is already collected (unless --force).")
    s.add_argument("assignment")
    s.add_argument("files", nargs="+", metavar="FILE", help="<student>.ipynb")
    s.add_argument("--force", action="store_true",
                   help="replace submissions already in submitted/ that differ")
    s = sub.add_parser("autograde", help="grade submitted/*/<assignment>/ into autograded/")
    s.add_argument("assignment")
    s.add_argument("--student")
    s = sub.add_parser("feedback", help="HTML feedback in feedback/<student>/<assignment>/")
    s.add_argument("assignment")
    to_help = f"CSV file (default: {GRADES_CSV} in the course directory)"
    s = sub.add_parser("export", help="scores of every student and assignment as CSV")
    s.add_argument("--to", help=to_help)
    s = sub.add_parser("all", help="autograde, feedback and export for one assignment")
    s.add_argument("assignment")
    s.add_argument("--to", help=to_help)
    a = p.parse_args(argv)
    course = a.course.resolve()
    if a.command == "release":
        release(course, a.assignments)
    elif a.command == "collect":
        collect(course, a.assignment, a.files, force=a.force)
    elif a.command == "autograde":
        autograde(course, a.assignment, a.student)
    elif a.command == "feedback":
        feedback(course, a.assignment)
    elif a.command == "export":
        export(course, a.to)
    elif a.command == "all":
        autograde(course, a.assignment)
        feedback(course, a.assignment)
        export(course, a.to)


if __name__ == "__main__":
    main()
