"""Grade the optlessons exercises with nbgrader, from the command line.

A thin wrapper around the real nbgrader commands, run in the course directory
(this folder, or --course DIR) with the interpreter's own environment, each with
a time limit. Typical session:

    python exercises/grade.py release                      # source/ -> release/ (student copies)
    python exercises/grade.py collect ps3_momentum_rmsprop_adam downloads/*.ipynb
    python exercises/grade.py autograde ps3_momentum_rmsprop_adam
    python exercises/grade.py feedback ps3_momentum_rmsprop_adam   # feedback/<student>/<assignment>/*.html
    python exercises/grade.py export --to grades.csv               # one row per student and assignment
    python exercises/grade.py all ps3_momentum_rmsprop_adam        # autograde + feedback + export

Submissions live in `submitted/<student>/<assignment>/<notebook>.ipynb` (the
notebook keeps its release name); `collect` copies files named
`<student>.ipynb` (or `<student>_anything.ipynb`) there. nbgrader never writes
into `submitted/`: it grades a copy in `autograded/`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parent
ASSIGNMENTS = ("ps1_losses_gradients", "ps2_gradient_descent",
               "ps3_momentum_rmsprop_adam", "ps4_train_network")
STUDENT_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


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


def collect(course: Path, assignment: str, files: list[str]) -> None:
    notebooks = sorted((course / "release" / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise SystemExit(f"release/{assignment} should hold one notebook; run `release` first")
    target_name = notebooks[0].name
    for f in map(Path, files):
        student = f.stem.split("_")[0] if not STUDENT_ID.match(f.stem) or "_" in f.stem else f.stem
        if not STUDENT_ID.match(student):
            raise SystemExit(f"cannot read a student id from {f.name}: name it <student>.ipynb")
        dest = course / "submitted" / student / assignment / target_name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
        print(f"{f} -> {dest.relative_to(course)}")


def autograde(course: Path, assignment: str, student: str | None = None) -> None:
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


def export(course: Path, to: str) -> Path:
    out = Path(to)
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
    s = sub.add_parser("collect", help="copy <student>.ipynb files into submitted/<student>/<assignment>/")
    s.add_argument("assignment")
    s.add_argument("files", nargs="+")
    s = sub.add_parser("autograde", help="grade submitted/*/<assignment>/ into autograded/")
    s.add_argument("assignment")
    s.add_argument("--student")
    s = sub.add_parser("feedback", help="HTML feedback in feedback/<student>/<assignment>/")
    s.add_argument("assignment")
    s = sub.add_parser("export", help="scores of every student and assignment as CSV")
    s.add_argument("--to", default="grades.csv")
    s = sub.add_parser("all", help="autograde, feedback and export for one assignment")
    s.add_argument("assignment")
    s.add_argument("--to", default="grades.csv")
    a = p.parse_args(argv)
    course = a.course.resolve()
    if a.command == "release":
        release(course, a.assignments)
    elif a.command == "collect":
        collect(course, a.assignment, a.files)
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
