"""GradingSandbox: what ``grade.py autograde`` needs to grade one notebook per student.

For each student, :meth:`GradingSandbox.prepare` writes the notebook nbgrader grades:
every code cell that is not locked becomes one line (:data:`CELL_LINE`) that runs the
learner's cell in the learner process; locked cells and test cells stay (nbgrader
restores them from the gradebook anyway). It also writes the student's *learner plan*:
the code cells the learner process runs, in notebook order: the locked cells with their
sources taken from the SOURCE notebook (matched by ``grade_id``), the student's cells
(solution cells and cells the student added) with theirs; never the test cells.
:meth:`restore_sources` puts the student's sources back into the autograded notebook,
outputs kept, for the feedback and the formgrader.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from courseops.grading import stripped
from courseops.grading.kernel import PLAN_ENV
from courseops.grading.sandbox import (INSTALL_HINT, KERNEL_LIMITS, LEARNER_LIMITS, NOBODY, Limits,
                                        bwrap_problem, kernel_argv)

KERNEL_NAME = "optlessons-sandbox"
CELL_LINE = '__import__("courseops.grading.kernel").grading.kernel.run_learner_cell({})'
_CELL_LINE = re.compile(r'^__import__\("courseops\.grading\.kernel"\)\.grading\.kernel\.'
                        r'run_learner_cell\((\d+)\)$')
# nbgrader puts the id in paths, in the `student_id` file glob and on command lines
# (its exchange also splits file names on "+"): keep to characters safe in all of them.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
STUDENT_ID_RULE = ("letters, digits, '_', '-' and '.', starting with a letter or digit "
                   "(no spaces)")


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def is_test_cell(cell: dict) -> bool:
    """A graded cell without a solution: the instructor's tests (nbgrader restores them)."""
    meta = _nbgrader(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def is_locked_cell(cell: dict) -> bool:
    """A locked cell that is not a test: the instructor's code the learner's cells build on."""
    meta = _nbgrader(cell)
    return bool(meta.get("locked")) and not meta.get("solution") and not is_test_cell(cell)


def learner_plan(submitted: dict, source: dict) -> list[dict]:
    """The code cells the learner process runs, in order: {"cell", "source", "locked"}."""
    locked_sources = {_nbgrader(c)["grade_id"]: _source(c) for c in source["cells"]
                      if c.get("cell_type") == "code" and is_locked_cell(c)
                      and "grade_id" in _nbgrader(c)}
    plan = []
    for index, cell in enumerate(submitted["cells"]):
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        if is_locked_cell(cell):
            grade_id = _nbgrader(cell).get("grade_id")
            if grade_id not in locked_sources:
                raise ValueError(f"submitted notebook: locked cell {index} ({grade_id!r}) is not "
                                 f"in the source notebook")
            plan.append({"cell": index, "source": locked_sources[grade_id], "locked": True})
        else:
            plan.append({"cell": index, "source": _source(cell), "locked": False})
    return plan


class GradingSandbox:
    """One per ``grade.py autograde`` run. Writes the kernelspec ``optlessons-sandbox``
    into a private JUPYTER_PATH directory per student (its argv names that student's
    scratch directory); per student, a scratch directory; everything is removed by
    :meth:`close` (or leaving the ``with`` block).

    One nbgrader run at a time per GradingSandbox: the kernels' ZMQ sockets share one
    directory (make one GradingSandbox per worker to grade in parallel).

    Time limits: each learner cell `cell_timeout` s, each call of the learner's code from
    a check `call_timeout` s (None: the checks' CALL_TIMEOUT, 30 s). nbgrader's own cell
    limit (``Execute.timeout``) still applies to a whole cell, restarts included; the
    kernel is interrupted by message, so a cell it stops is reported and the rest graded.
    """

    def __init__(self, workdir: Path, *, unsafe_no_sandbox: bool = False,
                 python: str = sys.executable, cell_timeout: float = 30.0,
                 call_timeout: float | None = None, kernel_limits: Limits = KERNEL_LIMITS,
                 learner_limits: Limits = LEARNER_LIMITS):
        problem = None if unsafe_no_sandbox else bwrap_problem()
        if problem is not None:
            raise RuntimeError(f"{problem}, and grading runs every student's code inside its "
                               f"sandbox: install it with `{INSTALL_HINT}` (in a container, "
                               f"allow user namespaces), or grade without a sandbox with "
                               f"--unsafe-no-sandbox (the students' code then runs as you, "
                               f"with your files)")
        for name, value in (("cell_timeout", cell_timeout), ("call_timeout", call_timeout)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
        self.call_timeout = call_timeout
        self.sandboxed = not unsafe_no_sandbox
        self.python, self.cell_timeout = python, cell_timeout
        self.kernel_limits, self.learner_limits = kernel_limits, learner_limits
        Path(workdir).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="optlessons-grading-", dir=workdir)).resolve()
        self.ipc_dir = self.root / "ipc"
        self.ipc_dir.mkdir()
        self.packages = self.root / "packages"   # one stripped build per assignment
        self.packages.mkdir()
        self.root.chmod(0o755)   # the learner (nobody, when grading as root) reaches its builds

    def package(self, assignment: str, source: dict) -> Path:
        """The stripped package the learner sees while `assignment` (its source notebook
        `source`) is graded, built on first use."""
        target = self.packages / assignment / "optlessons"
        if not target.is_dir():
            tests = [_source(c) for c in source["cells"] if c.get("cell_type") == "code" and is_test_cell(c)]
            stripped.build(assignment, tests, target.parent)
            target.parent.chmod(0o755)
        return target

    # ---------------------------------------------------------------- life cycle
    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- per student
    def scratch(self, student: str) -> Path:
        """The student's private directory (the kernel's and the learner's HOME are in it)."""
        if not STUDENT_ID.match(student):
            raise ValueError(f"student must be {STUDENT_ID_RULE}, got {student!r}")
        scratch = self.root / "students" / student
        for sub in ("kernel", "learner", "runtime"):
            (scratch / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:   # the learner runs as nobody: its HOME is its own
            os.chown(scratch / "learner", NOBODY, NOBODY)
            for p in (self.root / "students", scratch):
                p.chmod(0o755)
        return scratch

    def _kernelspec(self, student: str) -> Path:
        """Write the student's kernelspec; return its JUPYTER_PATH directory."""
        scratch = self.scratch(student)
        jupyter = self.root / "jupyter" / student
        spec_dir = jupyter / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True, exist_ok=True)
        if self.sandboxed:
            argv = kernel_argv(scratch, self.python, ipc_dir=self.ipc_dir,
                               limits=self.kernel_limits, packages=self.packages)
        else:
            argv = [self.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        # Interrupts as a message on the control channel: ipykernel then signals itself.
        # A SIGINT to the process group would reach bubblewrap only (its child has its own
        # session), and nbgrader's "stop a cell at the time limit" would never stop it.
        spec = {"argv": argv, "display_name": "optlessons grading sandbox", "language": "python",
                "interrupt_mode": "message",
                "env": {PLAN_ENV: str(scratch / "plan.json"), "OPENBLAS_NUM_THREADS": "1",
                        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        return jupyter

    def nbgrader_args(self) -> list[str]:
        """Arguments for every ``nbgrader autograde`` run: the sandbox's kernel, and ZMQ
        over IPC sockets (the sandboxed kernel has no network, not even loopback)."""
        args = [f"--Execute.kernel_name={KERNEL_NAME}"]
        if self.sandboxed:
            args += ["--KernelManager.transport=ipc", f"--KernelManager.ip={self.ipc_dir}/kernel"]
        return args

    def env(self, student: str) -> dict[str, str]:
        """The environment of that student's ``nbgrader autograde`` run."""
        jupyter = self._kernelspec(student)
        env = dict(os.environ)
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(jupyter),
                                                            env.get("JUPYTER_PATH")]))
        env["JUPYTER_RUNTIME_DIR"] = str(self.scratch(student) / "runtime")
        env[PLAN_ENV] = str(self.scratch(student) / "plan.json")
        return env

    def prepare(self, student: str, submitted_nb: Path, source_nb: Path, out_nb: Path,
                assignment: str | None = None) -> None:
        """Write the notebook nbgrader will grade (`out_nb`) and the student's learner plan
        (`assignment` names the stripped build: by default the source notebook's folder)."""
        submitted = json.loads(Path(submitted_nb).read_text(encoding="utf-8"))
        source = json.loads(Path(source_nb).read_text(encoding="utf-8"))
        package = self.package(assignment or Path(source_nb).parent.name, source)
        plan = learner_plan(submitted, source)
        student_cells = {p["cell"] for p in plan if not p["locked"]}
        for index in student_cells:
            cell = submitted["cells"][index]
            cell["source"] = CELL_LINE.format(index)
            cell["outputs"], cell["execution_count"] = [], None
        scratch = self.scratch(student)
        (scratch / "plan.json").write_text(json.dumps({
            "cells": plan, "scratch": str(scratch), "sandbox": self.sandboxed, "package": str(package),
            "cell_timeout": self.cell_timeout, "call_timeout": self.call_timeout,
            "limits": asdict(self.learner_limits)}))
        self._kernelspec(student)
        Path(out_nb).parent.mkdir(parents=True, exist_ok=True)
        Path(out_nb).write_text(json.dumps(submitted, indent=1, ensure_ascii=False) + "\n",
                                encoding="utf-8")

    @staticmethod
    def restore_sources(autograded_nb: Path, submitted_nb: Path) -> None:
        """Put the student's original cell sources back into `autograded_nb` (outputs kept)."""
        graded = json.loads(Path(autograded_nb).read_text(encoding="utf-8"))
        submitted = json.loads(Path(submitted_nb).read_text(encoding="utf-8"))
        for cell in graded["cells"]:
            match = _CELL_LINE.match(_source(cell).strip())
            if match and int(match.group(1)) < len(submitted["cells"]):
                cell["source"] = submitted["cells"][int(match.group(1))]["source"]
        # nbgrader leaves autograded notebooks read-only (0444): a grader who is not root
        # cannot write into one, but may replace it in its (writable) folder.
        target = Path(autograded_nb)
        tmp = target.with_name(target.name + ".restoring")
        tmp.write_text(json.dumps(graded, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
