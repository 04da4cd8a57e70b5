"""The grading sandbox: the learner process, its proxies and tripwires, bubblewrap, nbgrader."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import optlessons
from courseops.grading import GradingSandbox, stripped
from courseops.grading.protocol import HEADER, TEXT_LIMIT, encode
from optlessons.checks.base import HIDDEN_CASES, LearnerTimeout
from courseops.grading.proxy import LearnerCrashed, LearnerGone, LearnerProcess, RemoteObject
from courseops.grading import kernel, proxy, sandbox
from courseops.grading.sandbox import (LEARNER_LIMITS, Limits, bwrap_path, bwrap_problem,
                                        kernel_argv, learner_argv, unsandboxed_learner_argv)

REPO = Path(__file__).resolve().parents[1]
PS3 = "ps3_momentum_rmsprop_adam"
needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))


def _argv(scratch: Path, package: Path | None = None) -> list[str]:
    if bwrap_problem() is not None:
        return unsandboxed_learner_argv(scratch, sys.executable, package=package)
    return learner_argv(scratch, sys.executable, package=package)


@pytest.fixture(autouse=True)
def shown_output():
    """Each test starts with no check's hidden cases running. A check called in this process by an
    earlier test file (test_checks_ps5's range test or warm-ups set HIDDEN_CASES through
    case_specs without run_check) would otherwise leave it set, and the learner's output of
    these tests would be withheld; the grading kernel resets it before every learner cell."""
    token = HIDDEN_CASES.set(0)
    yield
    HIDDEN_CASES.reset(token)


@pytest.fixture(scope="module")
def ps3_package(tmp_path_factory):
    """PS3's stripped package (its test cells' checks forbid the optimizers' updates)."""
    source = json.loads(_notebook(PS3).read_text())
    tests = ["".join(c["source"]) for c in source["cells"]
             if (c["metadata"].get("nbgrader") or {}).get("grade")]
    folder = tmp_path_factory.mktemp("package")
    folder.chmod(0o755)
    return stripped.build(PS3, tests, folder)


@pytest.fixture
def learner(tmp_path, ps3_package):
    process = LearnerProcess(_argv(tmp_path, ps3_package), cwd=tmp_path / "learner", cell_timeout=20)
    yield process
    process.close()


def define(process: LearnerProcess, source: str) -> dict:
    out = process.exec_cell(len(process.finished) + 1, source)
    assert out.error is None, out
    return process.sync()[0]


# ------------------------------------------------------------------------- the round trip


def test_call_writes_back_in_place_changes_and_keeps_a_returned_argument(learner):
    names = define(learner, "def double(x):\n    x *= 2\n    print('doubled')\n    return x\n")
    x = np.arange(3.0)
    result = names["double"](x)
    np.testing.assert_array_equal(x, [0.0, 2.0, 4.0])   # the judge's own array changed
    assert result is x                                     # the returned argument is the original


def test_write_back_reaches_generators_dicts_and_objects(learner):
    names = define(learner, "def consume(rng, params):\n"
                            "    params['w'][:] = rng.normal(size=2)\n"
                            "    params['extra'] = 1\n")
    rng, twin = np.random.default_rng(5), np.random.default_rng(5)
    w = np.zeros(2)
    params = {"w": w}
    names["consume"](rng, params)
    np.testing.assert_array_equal(w, twin.normal(size=2))   # the same array, refilled
    assert params["w"] is w and params["extra"] == 1
    assert rng.bit_generator.state == twin.bit_generator.state


def test_a_generator_draws_from_the_judges_rng_as_it_runs(learner):
    # minibatches: the generator uses the rng only when iterated, after its call returned
    names = define(learner, "def batches(n, rng):\n"
                            "    for i in rng.permutation(n):\n"
                            "        yield int(i)\n")
    rng, twin = np.random.default_rng(3), np.random.default_rng(3)
    first, second = list(names["batches"](6, rng)), list(names["batches"](6, rng))
    assert first == twin.permutation(6).tolist() and second == twin.permutation(6).tolist()
    assert rng.bit_generator.state == twin.bit_generator.state


def test_learner_output_is_kept_apart_from_the_protocol(learner, capsys):
    names = define(learner, "import os\ndef noisy():\n    print('to stdout')\n"
                            "    os.write(1, b'raw fd 1\\n')\n    return 7\n")
    assert names["noisy"]() == 7
    assert capsys.readouterr().out == "to stdout\nraw fd 1\n"


def test_learner_namedtuple_comes_back_as_a_record_of_data(learner):
    names = define(learner, "from collections import namedtuple\nimport numpy as np\n"
                            "from optlessons.optim import AdamState\n"
                            "State = namedtuple('State', 'step avg')\n"
                            "def start():\n    return State(0, np.ones(2))\n"
                            "def advance(s):\n    return (s[0] + 1, s[1])\n"
                            "def course():\n    return AdamState(1, np.ones(2), np.ones(2), None)\n")
    state = names["start"]()
    assert type(state).__name__ == "State" and state._fields == ("step", "avg")
    assert state.step == state[0] == 0
    np.testing.assert_array_equal(state.avg, [1.0, 1.0])
    assert names["advance"](state) == (1, state.avg)     # sent back as a plain tuple
    from optlessons.optim import AdamState
    assert type(names["course"]()) is AdamState          # the judge's own class, rebuilt


def test_learner_class_gives_remote_objects_with_remote_methods(learner):
    names = define(learner, "class Counter:\n    def __init__(self):\n        self.n = 0\n"
                            "    def step(self, k):\n        self.n += k\n        return self.n\n"
                            "def gen(n):\n    yield from range(n)\n")
    counter = names["Counter"]()
    assert isinstance(counter, RemoteObject)
    assert counter.step(2) == 2 and counter.step(3) == 5 and counter.n == 5
    assert list(names["gen"](3)) == [0, 1, 2]


def test_an_argument_that_cannot_travel_is_a_sentence(learner):
    names = define(learner, "def apply(f, x):\n    return f(x)\n")
    assert names["apply"](np.negative, 2.0) == -2.0          # a module-level function travels
    with pytest.raises(TypeError, match="cannot send this to the learner's process during the "
                                        "call of `apply`.*top of a module"):
        names["apply"](lambda x: x, 1.0)
    assert names["apply"](abs, -3) == 3                       # and the process is still fine


def test_learner_exceptions_keep_their_type(learner):
    names = define(learner, "def todo():\n    raise NotImplementedError()\n"
                            "class Oops(Exception):\n    pass\n"
                            "def mine():\n    raise Oops('mine')\n")
    with pytest.raises(NotImplementedError):
        names["todo"]()
    with pytest.raises(Exception, match="mine") as info:
        names["mine"]()
    assert type(info.value).__name__ == "Oops" and "raise Oops" in info.value.learner_traceback


def test_an_answer_is_data_and_cuts_long_texts():
    value = (np.arange(3), np.random.default_rng(1), {"a": [1.5, None]}, np.float32(2), "x" * (TEXT_LIMIT + 5))
    data = encode(value, lambda obj: {"$": "handle"})
    (n,) = HEADER.unpack_from(data)
    json.loads(data[HEADER.size:HEADER.size + n])        # the structure is JSON
    process = LearnerProcess(["true"])
    loaded = process._decode(data)
    np.testing.assert_array_equal(loaded[0], value[0])
    assert loaded[1].bit_generator.state == value[1].bit_generator.state
    assert loaded[2] == {"a": [1.5, None]} and loaded[3] == np.float32(2)
    assert loaded[4].endswith("(5 more characters cut by the grader)\n")


FAKE_LEARNER = """
import json, os, pickle, struct, sys
from courseops.grading.protocol import HEADER, encode, receive, send
send(1, encode({"ready": True}, None))
for answer in ANSWERS:
    receive(0)
    head = json.dumps(answer).encode()
    send(1, HEADER.pack(len(head)) + head)
"""


KEEPER = ("import os\nseen = []\n"
          "def f(x):\n    seen.append(x)\n"
          "    with open('seen.txt', 'a') as file:\n        file.write(f'{x},')\n    return 2 * x\n"
          "def box():\n    return type('Box', (), {'v': 1})()\n")
SHOW_KEPT = "print('kept', seen, open('seen.txt').read())\n"


def test_hidden_cases_run_in_a_copy_that_ends_with_them(tmp_path, ps3_package, capsys):
    # The learner's code keeps every argument (a global, a file in its home); a later cell prints them.
    # Calls during a check's hidden run go to a copy of the process in a fresh home, discarded after it.
    plan = {"cells": [{"cell": 1, "source": KEEPER, "locked": False},
                      {"cell": 2, "source": SHOW_KEPT, "locked": False}],
            "scratch": str(tmp_path), "sandbox": bwrap_problem() is None, "package": str(ps3_package),
            "cell_timeout": 20, "call_timeout": 20, "limits": asdict(LEARNER_LIMITS)}
    runtime, names = kernel.Runtime(plan), {}
    try:
        runtime.run_to(1, names)
        assert names["f"](1) == 2                          # a visible case: the learner's process
        token = HIDDEN_CASES.set(-1)
        try:
            assert names["f"](7) == 14                     # a hidden case: the copy, same code
            made = names["box"]()
            assert made.v == 1
        finally:
            HIDDEN_CASES.reset(token)
        capsys.readouterr()
        runtime.run_to(2, names)
        assert capsys.readouterr().out == "kept [1] 1,\n"
        with pytest.raises(LearnerGone, match="hidden cases"):
            made.v                                          # it died with the copy
        assert runtime.process._copy is None
    finally:
        runtime.process.close()


def test_a_notebook_shows_a_bounded_amount_of_the_learners_output(capsys):
    process = LearnerProcess(["true"])
    process.budget = proxy.OutputBudget(10)
    for out, err in (("x" * 8, ""), ("y" * 8, ""), ("z" * 8, "e")):
        proxy.echo(out, err, process.budget)
    assert capsys.readouterr().out == "x" * 8 + "yy\n" + proxy.BUDGET_NOTE
    error = {"base": "ValueError", "module": "builtins", "type": "ValueError", "message": "m" * 99,
             "traceback": "t" * 99}
    with pytest.raises(ValueError) as info:
        process._raise(error)
    assert str(info.value) == proxy.BUDGET_NOTE.strip() == info.value.learner_traceback


@pytest.mark.parametrize("answer, why", [
    ({"value": {"$": "object", "module": "os", "name": "system", "state": {"$": "dict", "items": []}},
      "blobs": []}, "os.system, which the grader does not rebuild"),
    ({"value": {"$": "pickle", "data": "cos\nsystem\n"}, "blobs": []}, "unknown kind 'pickle'"),
    ({"value": {"$": "array", "blob": 0}, "blobs": [10]}, "do not add up"),
    ({"value": {"$": "arg", "n": 99}, "blobs": []}, "argument number 99"),
])
def test_a_learner_process_that_sends_a_crafted_answer_is_refused(tmp_path, answer, why):
    # A learner process that no longer follows the protocol (its runtime taken over):
    # the judge reads data only, and refuses anything else in a sentence.
    script = FAKE_LEARNER.replace("ANSWERS", repr([answer]))
    process = LearnerProcess([sys.executable, "-c", script])
    process.start()
    try:
        from courseops.grading.proxy import Ref, RemoteFunction
        evil = RemoteFunction(Ref(process, process.generation, 1, None), "evil")
        with pytest.raises(LearnerCrashed, match=f"sent an answer the grader refuses .*{why}"):
            evil()
    finally:
        process.close()


def test_a_result_is_read_without_running_the_learners_code(learner):
    names = define(learner, "import optlessons.optim as o\n"
                            "class Sly:\n"
                            "    def __array__(self, *a, **k):\n        return o.adam_update(1, 2, 3)\n"
                            "    def __float__(self):\n        raise SystemExit\n"
                            "    def __iter__(self):\n        return iter([1, 2])\n"
                            "def result():\n    return Sly()\n")
    sly = names["result"]()
    assert isinstance(sly, RemoteObject) and not hasattr(sly, "__array__")
    with pytest.raises(TypeError):
        float(sly)
    assert list(sly) == [1, 2]     # what a check uses on purpose still runs there


REFERENCE_COPIES = {
    "call": "o.adam_update(p, g, s, lr=0.1)",
    "reload": "importlib.reload(o).adam_update(p, g, s, lr=0.1)",
    "code object": "types.FunctionType(marshal.loads(marshal.dumps(o.adam_update.__code__)), {})(p, g, s, lr=0.1)",
    "source file": "(lambda ns: (exec(open(o.__file__).read(), ns), ns['adam_update'])[1])({'__name__': o.__name__, '__package__': 'optlessons'})(p, g, s, lr=0.1)",
    "re-import": "(sys.modules.pop('optlessons.optim'), importlib.import_module('optlessons.optim'))[1].adam_update(p, g, s, lr=0.1)",
    "class": "o.Adam(lr=0.1).step(p, g)",
    "checks' model": "__import__('optlessons.checks.ps3').checks.ps3.adam_model(p, g, s, lr=0.1)",
    "thread": "(lambda t: (t.start(), t.join(), box)[2][0])(threading.Thread(target=lambda: box.append(o.adam_update(p, g, s, lr=0.1))))",
}


@pytest.mark.parametrize("how", sorted(REFERENCE_COPIES))
def test_the_reference_is_not_there_to_copy(learner, how):
    out = learner.exec_cell(1, "import importlib, marshal, sys, threading, types\nimport numpy as np\n"
                               "import optlessons.optim as o\nfrom optlessons.optim import AdamState\n"
                               "p, g, box = np.ones(2), np.ones(2), []\n"
                               "s = AdamState(0, np.zeros(2), np.zeros(2), None)\n"
                               f"value = {REFERENCE_COPIES[how]}\n")
    assert out.error is not None, f"{how}: the reference ran"
    text = str(out.error) + getattr(out.error, "learner_traceback", "")
    assert ("is not available while grading ps3_momentum_rmsprop_adam" in text
            or isinstance(out.error, IndexError)), text   # the thread died of it: nothing in box


@needs_bwrap
def test_foreign_function_interfaces_and_secrets_are_absent(learner):
    out = learner.exec_cell(1, "import os\nresults = {}\n"
                               "for label, code in [('ctypes', 'import ctypes'), ('cffi', 'import cffi; cffi.FFI()'),\n"
                               "                    ('shadow', 'open(\"/etc/shadow\").read()'),\n"
                               "                    ('opt', 'os.listdir(\"/opt\")'), ('home', 'os.listdir(\"/home\")')]:\n"
                               "    try:\n        exec(code)\n        results[label] = 'done'\n"
                               "    except Exception as exc:\n        results[label] = type(exc).__name__\n")
    assert out.error is None, out
    results = learner.sync()[0]["results"]
    assert results == {"ctypes": "ModuleNotFoundError", "cffi": "ModuleNotFoundError",
                       "shadow": "FileNotFoundError", "opt": "FileNotFoundError",
                       "home": "FileNotFoundError"}


# ------------------------------------------------------------------------- limits and restarts


def test_a_call_that_loops_forever_times_out_and_the_next_call_works(learner):
    names = define(learner, "def spin():\n    while True:\n        pass\n"
                            "def ok(x):\n    return x + 1\n")
    with pytest.raises(LearnerTimeout) as info:
        learner.call(names["spin"], None, (), {}, name="spin", timeout=1.5)
    assert info.value.function == "spin" and info.value.seconds == 1.5
    assert names["ok"](1) == 2          # restarted, the cells replayed, the name found again


def test_os_exit_in_a_call_is_a_sentence_and_the_process_comes_back(learner):
    names = define(learner, "import os\ndef leave():\n    os._exit(1)\n"
                            "def ok():\n    return 'back'\n")
    with pytest.raises(LearnerCrashed, match="ended with exit code 1 .*during the call of `leave`"):
        names["leave"]()
    assert names["ok"]() == "back"


def test_a_cell_that_loops_forever_is_stopped_and_not_replayed(learner):
    out = learner.exec_cell(1, "while True:\n    pass\n", timeout=1.0)
    assert isinstance(out.error, LearnerTimeout)
    names = define(learner, "x = 41 + 1\n")
    assert names["x"] == 42 and [s for _, s, _ in learner.finished] == ["x = 41 + 1\n"]


def _limited_learner(scratch: Path, limits: Limits) -> LearnerProcess:
    argv = (unsandboxed_learner_argv(scratch, sys.executable, limits=limits)
            if bwrap_problem() else learner_argv(scratch, sys.executable, limits=limits))
    return LearnerProcess(argv, cwd=scratch / "learner", cell_timeout=20)


def test_memory_file_size_and_processes_are_limited(tmp_path):
    process = _limited_learner(tmp_path, Limits(memory_bytes=512 << 20, file_bytes=1 << 20))
    try:
        checks = {"memory": "np.ones(200_000_000)",   # 1.6 GB
                  "file size": "open('big', 'wb').write(bytes(2 << 20))"}
        assert process.exec_cell(1, "import os, subprocess, threading\nimport numpy as np\n"
                                    "open('small', 'wb').write(bytes(1000))\n").error is None
        errors = {label: process.exec_cell(2 + i, code).error
                  for i, (label, code) in enumerate(checks.items())}
        assert isinstance(errors["memory"], MemoryError)
        assert isinstance(errors["file size"], OSError) and "too large" in str(errors["file size"])
        out = process.exec_cell(9, "t = threading.Thread(target=print, args=('threads work',))\n"
                                   "t.start()\nt.join()\n")
        assert out.stdout == "threads work\n"
    finally:
        process.close()


@needs_bwrap
def test_what_the_learner_writes_is_bounded_and_never_reaches_the_graders_disk(tmp_path):
    """HOME and /tmp are tmpfs of `files_bytes` each (RAM the address space does not count);
    the rest of the scratch directory, /dev and the /proc of a nested sandbox are read-only:
    writing past the bound is an error in words, the process still answers, and the
    grader's scratch directory stays empty."""
    process = _limited_learner(tmp_path, Limits(files_bytes=8 << 20, file_bytes=4 << 20))
    try:
        fill = ("import os\nfor i in range(100):\n"
                "    with open(os.path.join({place}, f'fill{{i}}'), 'wb') as f:\n"
                "        f.write(bytes(1 << 20))\n")
        for place in ("os.path.expanduser('~')", "'/tmp'"):
            out = process.exec_cell(len(process.finished) + 1, fill.format(place=place))
            assert isinstance(out.error, OSError) and "No space left on device" in str(out.error)
            assert ("While grading, your code may write 8 MiB in its home folder and as much in /tmp, "
                    "at most 4 MiB per file: it wrote more") in out.error.learner_traceback
        out = process.exec_cell(len(process.finished) + 1, "import pathlib\nfor p in ('/dev/shm/x', "
                                "str(pathlib.Path.home().parent / 'x')):\n"
                                "    try:\n        open(p, 'w')\n    except OSError as exc:\n"
                                "        print(p, exc.strerror)\n")
        assert out.error is None and out.stdout.count("Read-only file system") == 2, out
    finally:
        process.close()
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert written == 0, sorted(tmp_path.rglob("*"))


def test_cpu_time_is_limited(tmp_path):
    process = _limited_learner(tmp_path, Limits(cpu_seconds=2))
    try:
        out = process.exec_cell(1, "while True:\n    pass\n")
        assert isinstance(out.error, LearnerCrashed)
        assert "stopped at its CPU-time limit while running cell 1" in str(out.error)
    finally:
        process.close()


# ------------------------------------------------------------------------- the sandbox itself

PROBE = """
import os, socket, pathlib
results = {}
def attempt(label, action):
    try:
        action()
        results[label] = "done"
    except Exception as exc:
        results[label] = type(exc).__name__
attempt("write package", lambda: open(PACKAGE_FILE, "a").write("# poisoned"))
attempt("write repo", lambda: open(REPO + "/poisoned.txt", "w").write("x"))
attempt("read source", lambda: os.listdir(REPO + "/exercises/source"))
attempt("read gradebook", lambda: open(COURSE + "/gradebook.db", "rb").read(1))
attempt("read git", lambda: os.listdir(REPO + "/.git"))
attempt("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
attempt("write tmp", lambda: open("/tmp/optlessons-probe", "w").write("x"))
results["tmp readable"] = open("/tmp/optlessons-probe").read() if results["write tmp"] == "done" else ""
print(results)
"""


def _probe_source(course: Path) -> str:
    package_file = Path(optlessons.__file__).resolve()
    return (f"PACKAGE_FILE = {str(package_file)!r}\nREPO = {str(REPO)!r}\n"
            f"COURSE = {str(course)!r}\n" + PROBE)


def _check_probe(results: dict) -> None:
    for label in ("write package", "read source", "read gradebook", "read git", "network"):
        assert results[label] != "done", label
    # The repository is not there: a write to its path fails, or under /tmp lands in the
    # sandbox's private /tmp; never in the real one.
    assert not (REPO / "poisoned.txt").exists()
    assert results["write tmp"] == "done" and results["tmp readable"] == "x"
    assert not Path("/tmp/optlessons-probe").exists()    # its /tmp is private


@needs_bwrap
def test_learner_sandbox_hides_the_course_and_the_repo(learner, tmp_path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "gradebook.db").write_bytes(b"SQLite")
    names = define(learner, _probe_source(course))
    _check_probe(names["results"])


@needs_bwrap
def test_kernel_sandbox_hides_the_course_and_the_repo(tmp_path):
    course = REPO / "exercises"
    scratch, ipc = tmp_path / "scratch", tmp_path / "ipc"
    (scratch / "kernel").mkdir(parents=True)
    ipc.mkdir()
    connection = tmp_path / "connection.json"
    connection.write_text("{}")
    argv = [a.replace("{connection_file}", str(connection))
            for a in kernel_argv(scratch, sys.executable, ipc_dir=ipc)]
    assert argv[-4:] == ["-m", "ipykernel_launcher", "-f", str(connection)]
    script = _probe_source(course) + "import json; print(json.dumps(results))\n"
    out = subprocess.run(argv[:-4] + ["-c", script], capture_output=True, text=True, timeout=60)
    _check_probe(json.loads(out.stdout.strip().splitlines()[-1]))
    assert out.returncode == 0, out.stderr


@needs_bwrap
def test_nested_learner_sandbox_starts_inside_the_kernel_sandbox(tmp_path):
    """bubblewrap nests here: the kernel's sandbox starts the learner's, whose /proc is empty;
    a root kernel makes the learner nobody, without groups, at most 64 processes."""
    scratch, ipc = tmp_path / "scratch", tmp_path / "ipc"
    (scratch / "kernel").mkdir(parents=True)
    ipc.mkdir()
    connection = tmp_path / "connection.json"
    connection.write_text("{}")
    argv = [a.replace("{connection_file}", str(connection))
            for a in kernel_argv(scratch, sys.executable, ipc_dir=ipc)]
    cell = (f"import os\ntry:\n    secret = open({str(connection)!r}).read()\n"
            f"except OSError:\n    secret = 'unreadable'\n"
            f"try:\n    [os.fork() or __import__('time').sleep(60) for _ in range(200)]\n"
            f"    forks = 'unlimited'\nexcept OSError as exc:\n    forks = type(exc).__name__\n"
            f"print(sorted(os.listdir('/proc')), os.getpid(), "
            f"os.path.exists({str(scratch / 'kernel' / 'x')!r}), secret or 'empty', forks, "
            f"os.getuid() if os.getuid() else 'root', os.getgroups())")
    script = ("import sys; from pathlib import Path\n"
              "from courseops.grading.proxy import LearnerProcess\n"
              "from courseops.grading.sandbox import learner_argv\n"
              f"p = LearnerProcess(learner_argv(Path({str(scratch)!r}), sys.executable, "
              f"hide=(Path({str(connection)!r}), Path({str(ipc)!r}))))\n"
              f"out = p.exec_cell(1, {cell!r})\n"
              "print(out.stdout.strip() if out.error is None else out.error)\n")
    (scratch / "kernel" / "x").write_text("kernel's")
    out = subprocess.run(argv[:-4] + ["-c", script], capture_output=True, text=True, timeout=120)
    who = "65534 []" if os.geteuid() == 0 else f"{os.getuid()} {os.getgroups()}"
    assert out.stdout.strip().splitlines()[-1:] == [f"[] 2 False unreadable BlockingIOError {who}"], \
        out.stdout + out.stderr


@pytest.mark.parametrize("editable", [True, False])
def test_the_sandbox_binds_the_package_but_never_the_repository_around_it(tmp_path, monkeypatch,
                                                                           editable):
    repo, venv = tmp_path / "repo", tmp_path / "venv"
    site = venv / "lib" / "site-packages"
    package = (repo if editable else site) / "optlessons"
    for d in (package, site, repo / "exercises" / "source"):
        d.mkdir(parents=True, exist_ok=True)
    reported = {"packages": [str(package), str(package)], "natives": [],
                "others": [str(venv), str(venv), str(venv), str(venv), str(venv / "bin"),
                           str(site), *([str(repo)] if editable else [])]}   # editable: the repo on sys.path
    monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout=json.dumps(reported)))
    sandbox.python_paths.cache_clear()
    sandbox._facts.cache_clear()
    try:
        paths = sandbox.python_paths("fake-python")
    finally:
        sandbox.python_paths.cache_clear()
        sandbox._facts.cache_clear()
    assert set(paths) == ({str(package), str(venv)} if editable else {str(venv)})


def test_grading_sandbox_without_bubblewrap_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr("courseops.grading.sandbox.bwrap_path", lambda: None)
    with pytest.raises(RuntimeError, match="bubblewrap is not installed .*`apt-get install "
                                           "bubblewrap`.*--unsafe-no-sandbox"):
        GradingSandbox(tmp_path)
    with GradingSandbox(tmp_path, unsafe_no_sandbox=True) as sandbox:
        assert sandbox.nbgrader_args() == ["--Execute.kernel_name=optlessons-sandbox"]


def test_without_a_nested_sandbox_the_learner_is_a_plain_child(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel, "bwrap_problem", lambda: "user namespaces are disabled")
    dumpable = []
    monkeypatch.setattr(kernel.ctypes, "CDLL", lambda *a, **k: type(
        "Libc", (), {"prctl": staticmethod(lambda *args: dumpable.append(args))}))
    argv = kernel.learner_command(True, tmp_path, LEARNER_LIMITS, tmp_path / "optlessons")
    assert argv == unsandboxed_learner_argv(tmp_path, sys.executable, package=tmp_path / "optlessons")
    assert argv[-1] == str(tmp_path)     # the stripped package's folder first on its path
    assert dumpable == [(kernel.PR_SET_DUMPABLE, 0, 0, 0, 0)]
    monkeypatch.setattr(kernel, "bwrap_problem", lambda: None)
    assert bwrap_path() in kernel.learner_command(True, tmp_path, LEARNER_LIMITS, tmp_path)


# ------------------------------------------------------------------------- prepare / restore


def _notebook(assignment: str, folder: str = "source") -> Path:
    return REPO / "exercises" / folder / assignment / f"{assignment}.ipynb"


def test_prepare_rewrites_the_learner_cells_and_plans_them(tmp_path):
    source = _notebook(PS3)
    submitted = json.loads(source.read_text())
    submitted["cells"][1]["source"] = "import os  # a student's edit of a locked cell"
    submitted["cells"].insert(5, {"cell_type": "code", "metadata": {}, "outputs": [],
                                  "execution_count": None, "source": "extra = 1"})
    sub_path = tmp_path / "sub.ipynb"
    sub_path.write_text(json.dumps(submitted))
    with GradingSandbox(tmp_path, unsafe_no_sandbox=True) as sandbox:
        sandbox.prepare("alice", sub_path, source, tmp_path / "out.ipynb")
        out = json.loads((tmp_path / "out.ipynb").read_text())
        plan = json.loads((sandbox.scratch("alice") / "plan.json").read_text())
        kinds = [(c["cell"], c["locked"]) for c in plan["cells"]]
        assert kinds == [(1, True), (3, False), (5, False), (7, False), (10, False), (13, False)]
        assert "from optlessons import checks" in plan["cells"][0]["source"]   # from SOURCE
        assert plan["cells"][2]["source"] == "extra = 1"
        assert all("check_" not in c["source"] for c in plan["cells"])          # no test cell
        assert "".join(out["cells"][3]["source"]).startswith("__import__(")
        assert "checks.check_sgd_momentum_update" in "".join(out["cells"][4]["source"])
        (tmp_path / "out.ipynb").chmod(0o444)           # as nbgrader leaves an autograded notebook
        sandbox.restore_sources(tmp_path / "out.ipynb", sub_path)
        restored = json.loads((tmp_path / "out.ipynb").read_text())
        assert [c["source"] for c in restored["cells"][2:]] == [c["source"] for c in submitted["cells"][2:]]
        assert (tmp_path / "out.ipynb").stat().st_mode & 0o777 == 0o444   # replaced, mode kept
        assert not list(tmp_path.glob("*.restoring"))


# ------------------------------------------------------------------------- the stripped package

def test_every_reference_is_a_stub_wherever_it_is_defined(tmp_path):
    """Each reference any check forbids is a stub in the stripped package, found where it is defined
    (``optlessons.train.minimize`` lives in ``train/minimizing.py`` since train became a package:
    a build that looked for ``train.py`` skipped it, and the reference stayed callable)."""
    from optlessons.checks.references import FORBIDDEN_REFERENCES
    references = sorted({r for refs, _ in FORBIDDEN_REFERENCES.values() for r in refs})
    package = stripped.build("every_ps", [" ".join(FORBIDDEN_REFERENCES)], tmp_path)
    probe = ("import importlib, json, sys\n"
             "out = {}\n"
             "for dotted in sys.argv[1:]:\n"
             "    module, _, name = dotted.rpartition('.')\n"
             "    try:\n"
             "        getattr(importlib.import_module(module), name)()\n"
             "        out[dotted] = 'ran'\n"
             "    except NotImplementedError as exc:\n"
             "        out[dotted] = str(exc)\n"
             "    except Exception as exc:\n"
             "        out[dotted] = f'ran: {type(exc).__name__}'\n"
             "print(json.dumps(out))\n")
    env = dict(os.environ, PYTHONPATH=str(package.parent), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(package.parent)!r})\n"
                             + probe, *references], capture_output=True, text=True, env=env, check=True)
    outcome = json.loads(result.stdout)
    assert {r: o for r, o in outcome.items() if "is not available while grading every_ps" not in o} == {}
    assert all(o.startswith(f"`{r}` is not available") for r, o in outcome.items())


def test_a_reference_that_cannot_be_stubbed_stops_the_build(tmp_path, monkeypatch):
    monkeypatch.setattr(stripped, "defined_at", lambda dotted: ("optlessons.losses", "no_such_function"))
    with pytest.raises(RuntimeError, match="would stay callable"):
        stripped.build("ps1", ["checks.check_mse(mse)"], tmp_path)
