"""How long grading problem set 3 takes, per submission, with and without the sandbox.

Real nbgrader in a temporary copy of the course (exercises/), the source solutions as
every student's submission, for 1 and 30 submissions:

* `nbgrader autograde`, one call for the whole class: nbgrader alone, student code in
  the grading kernel (how grading worked before the sandbox; for scale);
* `grade.py autograde --unsafe-no-sandbox`: each submission checked and graded in its
  own nbgrader run, the learner's code in a separate process, no bubblewrap;
* `grade.py autograde --jobs 1`: the same inside bubblewrap (kernel and learner sandboxed);
* `grade.py autograde` (`--jobs` = the cores): as many students at once, each in its own
  run and sandbox; the figure to hold against the one nbgrader call (issue 25's target:
  at most twice its time per submission).

Prints a table, the sandbox's overhead (sandboxed ÷ unsandboxed, one job) and the ratio
of the parallel sandboxed run to the one nbgrader call. Wall-clock time: grading is
mostly waiting for processes to start.
"""

import contextlib
import importlib.util
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from courseops.grading import course as grade

ROOT = Path(__file__).resolve().parents[1]

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


def _class_of(course, nb, n):
    shutil.rmtree(course / "submitted", ignore_errors=True)
    shutil.rmtree(course / "autograded", ignore_errors=True)
    (course / grade.STATUS_FILE).unlink(missing_ok=True)
    for i in range(n):
        path = course / "submitted" / f"student{i:02d}" / PS / f"{PS}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)


def _timed(fn):
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        fn()
    return time.perf_counter() - t


def sandbox_available():
    return importlib.util.find_spec("courseops.grading") is not None and shutil.which("bwrap") is not None


def main(sizes=(1, 30)):
    """Time each way of grading for each class size in `sizes`; print the table and the ratio."""
    rows, per = [], {}
    ways = [("nbgrader autograde, one call (no checks, no sandbox)",
             lambda c: grade.nbgrader(["autograde", PS, "--force"], c)),
            ("grade.py autograde --unsafe-no-sandbox --jobs 1",
             lambda c: grade.autograde(c, PS, unsafe=True, jobs=1))]
    if sandbox_available():
        ways.append(("grade.py autograde --jobs 1 (bubblewrap sandbox)", lambda c: grade.autograde(c, PS, jobs=1)))
        ways.append((f"grade.py autograde --jobs {os.cpu_count()} (bubblewrap sandbox)",
                     lambda c: grade.autograde(c, PS)))
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "exercises" / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "exercises" / "source" / PS, course / "source" / PS)
        shutil.copytree(ROOT / "exercises" / "release" / PS, course / "release" / PS)
        rows.append(("gradebook entry (generate_assignment, once)", 1,
                     _timed(lambda: grade.ensure_gradebook(course, PS))))
        nb = _submission(course)
        for n in sizes:
            for name, run in ways:
                _class_of(course, nb, n)
                secs = _timed(lambda: run(course))
                rows.append((f"{name}, {n} submission{'s' * (n > 1)}", n, secs))
                per[name, n] = secs / n
        rows.append((f"feedback, {n} submissions", n, _timed(lambda: grade.feedback(course, PS))))
        rows.append((f"grades.csv, {n} rows", n, _timed(lambda: grade.export(course))))
    print(f"problem set 3 ({PS}), correct submissions, wall-clock time\n")
    print(f"| {'step':70s} | {'total s':>8s} | {'s per submission':>16s} |")
    print(f"|{'-' * 72}|{'-' * 10}|{'-' * 18}|")
    for name, n, secs in rows:
        print(f"| {name:70s} | {secs:8.1f} | {secs / n:16.2f} |")
    if len(ways) == 4:
        for n in sizes:
            ratio = per[ways[2][0], n] / per[ways[1][0], n]
            parallel = per[ways[3][0], n] / per[ways[0][0], n]
            print(f"\nsandbox overhead, {n} submission{'s' * (n > 1)}: {ratio:.2f}× the time "
                  f"without bubblewrap; in parallel, {parallel:.2f}× one nbgrader call's time")
    else:
        print("\n(no sandbox timing: courseops.grading or bubblewrap is missing)")


if __name__ == "__main__":
    main()
