"""Grade the optlessons exercises with nbgrader, from the command line.

A wrapper around the real nbgrader commands, run in the course directory (this
folder, or --course DIR) with the interpreter's own environment. Typical session:

    python exercises/grade.py release                      # source/ -> release/ (student copies)
    python exercises/grade.py collect ps3_momentum_rmsprop_adam downloads/*.ipynb
    python exercises/grade.py autograde ps3_momentum_rmsprop_adam
    python exercises/grade.py feedback ps3_momentum_rmsprop_adam   # feedback/<student>/<assignment>/*.html
    python exercises/grade.py export                               # grades.csv in the course directory
    python exercises/grade.py report ps3_momentum_rmsprop_adam     # reports/<assignment>.html and -mistakes.csv
    python exercises/grade.py all ps3_momentum_rmsprop_adam        # autograde + feedback + export + report

Submissions live in `submitted/<student>/<assignment>/<notebook>.ipynb` (the
notebook keeps its release name). `collect` copies each file there, with the
WHOLE file name (without .ipynb) as the student id: `jane_doe.ipynb` is student
`jane_doe`. A student id is letters, digits, `_`, `-` and `.`, starting with a
letter or digit (nbgrader uses it as a folder name, a file glob and a
command-line value). `collect` never changes its input files, refuses two files
for the same student, and refuses to replace a different submission already in
submitted/ unless --force.

`autograde` never stops for one student. Each submission is first checked and,
where it can be, repaired — in a private copy: submitted/ is only read — (a
file that is not a notebook, the wrong assignment's notebook, a cell copied in
Jupyter so that two cells share one nbgrader grade_id, a deleted test cell),
then graded by its own `nbgrader autograde --student=…` run with a time limit,
inside the bubblewrap sandbox of `courseops.grading` (without bubblewrap,
grading is refused unless --unsafe-no-sandbox). Each student ends `graded`,
`ungradable: <why>` or `missing`; grading_status.json keeps that for `export`
and `report`, and a summary names who caused which warning.

The gradebook (gradebook.db, not committed) is created by `release`; in a fresh
clone `autograde` creates the assignment's entry itself from source/ (into a
temporary folder: release/ is left as it is).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # courseops, beside this course
from courseops.grading import course as engine  # noqa: E402
from courseops.grading import report  # noqa: E402

COURSE = Path(__file__).resolve().parent
ASSIGNMENTS = tuple(engine.assignments_in(COURSE))


# --------------------------------------------------------------------------- command line

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
                    f"jane_doe): {engine.STUDENT_ID_RULE}. Input files are only read. Nothing is copied "
                    "if two files name the same student, or if a different submission of that "
                    "student is already collected (unless --force).")
    s.add_argument("assignment")
    s.add_argument("files", nargs="+", metavar="FILE", help="<student>.ipynb")
    s.add_argument("--force", action="store_true",
                   help="replace submissions already in submitted/ that differ")

    def grading_options(s):
        s.add_argument("assignment")
        s.add_argument("--roster", type=Path, metavar="FILE",
                       help="the class list, one student id a line: whoever did not submit is `missing`")
        s.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="grade without bubblewrap (student code can then read and change your files)")
        s.add_argument("--student-timeout", type=float, default=engine.STUDENT_TIMEOUT, metavar="SECONDS",
                       help="time limit of one student's whole grading (default: %(default)s)")
        s.add_argument("--jobs", type=int, metavar="N",
                       help="students graded at once, each in its own run and sandbox (default: the cores)")

    s = sub.add_parser("autograde", help="check, repair and grade submitted/*/<assignment>/ into autograded/")
    grading_options(s)
    s.add_argument("--student", help="grade this student only")
    s = sub.add_parser("feedback", help="HTML feedback in feedback/<student>/<assignment>/")
    s.add_argument("assignment")
    to_help = f"CSV file (default: {engine.GRADES_CSV} in the course directory)"
    s = sub.add_parser("export", help="grades.csv: status, timestamp and score of every student and assignment")
    s.add_argument("--to", help=to_help)
    s = sub.add_parser("report", help="reports/<assignment>.html and -mistakes.csv: what the class got wrong")
    s.add_argument("assignment")
    s = sub.add_parser("all", help="autograde, feedback, export and report for one assignment")
    grading_options(s)
    s.add_argument("--to", help=to_help)
    a = p.parse_args(argv)
    course = a.course.resolve()
    if a.command == "release":
        engine.release(course, a.assignments)
    elif a.command == "collect":
        engine.collect(course, a.assignment, a.files, force=a.force)
    elif a.command == "autograde":
        engine.autograde(course, a.assignment, a.student, engine.read_roster(a.roster), a.unsafe_no_sandbox,
                         a.student_timeout, a.jobs)
    elif a.command == "feedback":
        engine.feedback(course, a.assignment)
    elif a.command == "export":
        engine.export(course, a.to)
    elif a.command == "report":
        report.write_report(course, a.assignment)
    elif a.command == "all":
        outcomes = engine.autograde(course, a.assignment, None, engine.read_roster(a.roster),
                                    a.unsafe_no_sandbox, a.student_timeout, a.jobs)
        if any(o.kind == engine.GRADED for o in outcomes):
            engine.feedback(course, a.assignment)
        engine.export(course, a.to)
        report.write_report(course, a.assignment)


if __name__ == "__main__":
    main()
