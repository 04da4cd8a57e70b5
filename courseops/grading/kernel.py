"""The grading kernel's side: run the learner's cells in the learner process, bind names.

Every cell of the graded notebook that is not locked has been rewritten (by
``GradingSandbox.prepare``) into one line calling :func:`run_learner_cell` with its
index. That runs, in the learner process (started on first use, from the plan that
``OPTLESSONS_LEARNER_PLAN`` names), every cell of the plan up to that index not run yet,
echoes the learner's cells' output, and binds into the kernel's ``__main__`` what the
learner bound or rebound: never modules, never a name the kernel's own (locked) cells
bound to something other than None.
"""

from __future__ import annotations

import builtins
import ctypes
import json
import os
import shutil
import sys
from pathlib import Path

from courseops.grading.proxy import LearnerProcess, RemoteModule, echo
from optlessons.checks.base import HIDDEN_CASES, CallStopped, CheckFailed
from courseops.grading.sandbox import (Limits, bwrap_problem, learner_argv,
                                        unsandboxed_learner_argv)

PLAN_ENV = "OPTLESSONS_LEARNER_PLAN"
PR_SET_DUMPABLE = 4
LEARNER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


#: Names the instructor's cells read without binding them (the built-ins: `dict`, `len`, `range`, ...): a learner's
#: definition of one never reaches the grading kernel, so a hidden test's `dict(...)` stays Python's.
SHADOW_PROOF = frozenset(vars(builtins))
GRADING_MIME = "application/vnd.optlessons.grading+json"   # what a cell's result means, as data


class LearnerCellError(Exception):
    """A learner cell raised (or timed out, or its process died); Jupyter shows the
    learner's own traceback, not this module's frames. `stopped`: a time limit stopped it."""

    def __init__(self, cell: int, text: str, stopped: bool = False):
        super().__init__(text.strip().splitlines()[-1] if text.strip() else f"cell {cell} failed")
        self.cell, self.text, self.stopped = cell, text, stopped

    def _render_traceback_(self) -> list[str]:
        return self.text.rstrip().splitlines()


def _kernel_private_paths() -> tuple[Path, ...]:
    """The kernel's connection file and ZMQ socket directory (hidden from the learner)."""
    try:
        from ipykernel.connect import get_connection_file, get_connection_info
        info = get_connection_info(unpack=True)
        paths = [Path(get_connection_file())]
        if info.get("transport") == "ipc":
            paths.append(Path(info["ip"]).parent)
        return tuple(p for p in paths if p.exists())
    except Exception:   # not in a kernel (tests): nothing of a kernel to hide
        return ()


def learner_command(sandboxed: bool, scratch: Path, limits: Limits, package: Path,
                    hide: tuple[Path, ...] = ()) -> list[str]:
    """The learner's argv, with the stripped `package` and `scratch`/learner its home:
    nested in its own sandbox (which also hides `hide`), or where bubblewrap cannot nest
    here, a plain child of this (sandboxed) kernel, which first makes itself non-dumpable
    (no ptrace, no /proc/PID/mem for a process of the same user)."""
    if not sandboxed:
        return unsandboxed_learner_argv(scratch, sys.executable, limits=limits, package=package)
    problem = bwrap_problem()
    if problem is None:
        return learner_argv(scratch, sys.executable, hide=(*hide, *_kernel_private_paths()),
                            limits=limits, package=package)
    sys.__stderr__.write(f"optlessons grading: the learner process runs without its own "
                         f"sandbox ({problem})\n")
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    return unsandboxed_learner_argv(scratch, sys.executable, limits=limits, package=package)


class Runtime:
    """The plan of one notebook, its learner process, and what has run."""

    def __init__(self, plan: dict):
        self.cells = [(c["cell"], c["source"], c["locked"]) for c in plan["cells"]]
        self.done = 0                     # cells of the plan run so far
        self.bound: set[str] = set()      # names this runtime bound in the kernel
        self.plan, self.copies = plan, 0
        self.scratch = Path(plan["scratch"])
        self.process = self._learner(self.scratch, hidden_copy=self._hidden_copy)

    def _learner(self, scratch: Path, **kwargs) -> LearnerProcess:
        """A learner process (not started) whose home is `scratch`/learner."""
        limits = Limits(**self.plan["limits"])
        argv = learner_command(self.plan["sandbox"], scratch, limits, Path(self.plan["package"]),
                               hide=() if scratch == self.scratch else (self.scratch,))
        return LearnerProcess(argv, cwd=scratch / "learner", env=dict(LEARNER_ENV),
                              cell_timeout=self.plan["cell_timeout"],
                              call_timeout=self.plan["call_timeout"],
                              limits_hint=f"{limits.memory_bytes >> 20} MiB of memory, "
                                          f"{limits.cpu_seconds} s of CPU time", **kwargs)

    def _hidden_copy(self) -> LearnerProcess:
        """A learner process for one check's hidden cases, in a fresh home that the
        learner's own process never sees (the previous copy's home is removed as far as
        this kernel may: the learner runs as nobody when grading as root)."""
        self.copies += 1
        hidden = self.scratch / "hidden"
        shutil.rmtree(hidden, ignore_errors=True)
        home = hidden / str(self.copies) / "learner"
        home.mkdir(parents=True)
        for folder in (hidden, home.parent):
            folder.chmod(0o755)
        home.chmod(0o777)   # this kernel cannot give it to nobody (no CAP_CHOWN); only that copy sees it
        return self._learner(home.parent)

    def run_to(self, cell: int, namespace: dict) -> None:
        positions = [i for i, (c, _, _) in enumerate(self.cells) if c == cell]
        if not positions:
            raise LearnerCellError(cell, f"cell {cell} is not in the learner plan: the notebook "
                                         f"changed after it was prepared for grading")
        failure = None
        while self.done <= positions[0]:
            index, source, locked = self.cells[self.done]
            self.done += 1
            out = self.process.exec_cell(index, source, locked=locked)
            if not locked:
                sys.stdout.write(out.stdout)   # the learner's stderr is in it, labelled (echo)
            if out.error is not None:
                text = _error_text(index, out.error, locked)
                if index == cell:
                    failure = LearnerCellError(cell, text, type(out.error).__name__ == "LearnerTimeout")
                else:
                    sys.stdout.write(text)
        self.sync(namespace)
        if failure is not None:
            raise failure

    def sync(self, namespace: dict) -> None:
        values, deleted = self.process.sync()
        for name, value in values.items():
            if isinstance(value, RemoteModule):
                continue
            if namespace.get(name) is not None and name not in self.bound:
                continue   # bound by the kernel's own (locked) cells: stays the instructor's
            if name in SHADOW_PROOF or name.startswith("__"):
                continue   # a learner's `dict` or `len` would run inside the instructor's test cells
            namespace[name] = value
            self.bound.add(name)
        for name in deleted:
            if name in self.bound:
                namespace.pop(name, None)
                self.bound.discard(name)


def _error_text(cell: int, error: BaseException, locked: bool) -> str:
    where = f"cell {cell}" + (" (a locked cell, run in the learner's process)" if locked else "")
    text = getattr(error, "learner_traceback", "") or f"{type(error).__name__}: {error}\n"
    if type(error).__name__ == "LearnerTimeout":
        text = (f"LearnerTimeout: {where} ran longer than {error.seconds:g} s and was stopped. "
                f"Likely cause: an infinite loop, or a loop over far more steps than the task "
                f"needs.\n")
    return text if text.endswith("\n") else text + "\n"


_RUNTIME: Runtime | None = None


def _report(shell, etype, value, tb, tb_offset=None):
    """Show a failure as Jupyter would, and publish what it means as data (GRADING_MIME:
    the known mistake a check named, whether a time limit stopped it) for the report."""
    data = {}
    if getattr(value, "mistake", None):
        data["mistake"] = value.mistake
    if isinstance(value, CallStopped) or getattr(value, "stopped", False):
        data["stopped"] = True
    if data:
        shell.display_pub.publish({GRADING_MIME: data})
    return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning in the grading kernel (a check comparing the learner's inf, say) goes to
    stdout, labelled: on stderr nbgrader would fail the cell for it."""
    sys.stdout.write(f"[warning, not an error] {category.__name__}: {message}\n")


def _install(shell) -> None:
    import warnings
    warnings.showwarning = _show_warning
    if shell is not None:
        shell.set_custom_exc((CheckFailed, LearnerCellError), _report)


def run_learner_cell(cell: int) -> None:
    """Run the learner's cells up to notebook cell `cell` and bind their names here."""
    global _RUNTIME
    if _RUNTIME is None:
        path = os.environ.get(PLAN_ENV)
        if not path or not Path(path).is_file():
            raise LearnerCellError(cell, f"no learner plan ({PLAN_ENV} is "
                                         f"{path or 'not set'}): this notebook is graded only "
                                         f"through GradingSandbox")
        _RUNTIME = Runtime(json.loads(Path(path).read_text()))
        try:
            from IPython import get_ipython
            _install(get_ipython())
        except ImportError:
            _install(None)
    try:
        from IPython import get_ipython
        namespace = get_ipython().user_ns
    except (ImportError, AttributeError):   # outside IPython
        namespace = sys.modules["__main__"].__dict__
    HIDDEN_CASES.set(0)   # a learner cell's output is shown, whatever check ran last
    try:
        _RUNTIME.run_to(cell, namespace)
    except KeyboardInterrupt:   # nbgrader stops a cell at its time limit with an interrupt
        raise LearnerCellError(cell, f"cell {cell} was stopped at the notebook's time limit "
                                     f"while it ran. Likely cause: an infinite loop, or a loop "
                                     f"over far more steps than the task needs.", stopped=True) from None
