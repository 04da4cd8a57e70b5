"""How long nbgrader takes to autograde problem set 3: one submission, then 30.

Real nbgrader commands in a temporary copy of the course (exercises/), with the
source solutions as every student's submission. Prints a table.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "exercises"))
import grade  # noqa: E402  (exercises/grade.py)

PS = "ps3_momentum_rmsprop_adam"


def _submission(course):
    source = nbformat.read(course / "source" / PS / f"{PS}.ipynb", as_version=4)
    release = nbformat.read(course / "release" / PS / f"{PS}.ipynb", as_version=4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: "\n".join(
        line for line in c.source.splitlines() if "### " not in line)
        for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for c in release.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solutions:
            c.source = solutions[gid]
    return release


def _timed(args, course):
    t = time.perf_counter()
    grade.nbgrader(args, course)
    return time.perf_counter() - t


def main(sizes=(1, 30)):
    """Time generate_assignment, autograde of each size in `sizes`, feedback and export."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "exercises" / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "exercises" / "source" / PS, course / "source" / PS)
        rows.append(("generate_assignment (1 assignment)", 1, _timed(["generate_assignment", PS, "--force"], course)))
        nb = _submission(course)
        for n in sizes:
            shutil.rmtree(course / "submitted", ignore_errors=True)
            shutil.rmtree(course / "autograded", ignore_errors=True)
            for i in range(n):
                path = course / "submitted" / f"student{i:02d}" / PS / f"{PS}.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(nb, path)
            rows.append((f"autograde, {n} submission{'s' * (n > 1)}", n,
                         _timed(["autograde", PS, "--force"], course)))
        rows.append((f"generate_feedback, {n} submissions", n,
                     _timed(["generate_feedback", PS, "--force"], course)))
        rows.append(("export to CSV", n, _timed(["export", "--to=grades.csv"], course)))
    print(f"problem set 3 ({PS}), cell timeout 30 s\n")
    print(f"| {'step':38s} | {'total s':>8s} | {'s per submission':>16s} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 18}|")
    for name, n, secs in rows:
        print(f"| {name:38s} | {secs:8.1f} | {secs / n:16.2f} |")


if __name__ == "__main__":
    main()
