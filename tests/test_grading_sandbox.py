"""The grading sandbox: the learner process, its proxies and tripwires, bubblewrap, nbgrader."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import optlessons
from courseops.grading import GradingSandbox
from courseops.grading.engine_link import LearnerTimeout, ReferenceCalled
from courseops.grading.proxy import (LearnerCrashed, LearnerProcess, RemoteObject, RemoteRecord,
                                      restricted_loads)
from courseops.grading import kernel, sandbox
from courseops.grading.sandbox import (LEARNER_LIMITS, Limits, bwrap_path, bwrap_problem,
                                        kernel_argv, learner_argv, unsandboxed_learner_argv)

REPO = Path(__file__).resolve().parents[1]
PS3 = "ps3_momentum_rmsprop_adam"
needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))


def _argv(scratch: Path) -> list[str]:
    if bwrap_problem() is not None:
        return unsandboxed_learner_argv(scratch, sys.executable)
    return learner_argv(scratch, sys.executable)


@pytest.fixture
def learner(tmp_path):
    process = LearnerProcess(_argv(tmp_path), cwd=tmp_path / "learner", cell_timeout=20)
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


def test_learner_namedtuple_comes_back_as_a_record_and_goes_back_as_itself(learner):
    names = define(learner, "from collections import namedtuple\nimport numpy as np\n"
                            "State = namedtuple('State', 'step avg')\n"
                            "def start():\n    return State(0, np.ones(2))\n"
                            "def advance(s):\n    return s._replace(step=s.step + 1)\n")
    state = names["start"]()
    assert isinstance(state, RemoteRecord) and state._fields == ("step", "avg")
    assert state.step == state[0] == 0
    np.testing.assert_array_equal(state.avg, [1.0, 1.0])
    assert names["advance"](state).step == 1


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


def test_restricted_unpickler_refuses_what_is_not_data():
    class Evil:
        def __reduce__(self):
            return (subprocess.call, (["true"],))

    with pytest.raises(pickle.UnpicklingError, match="subprocess.call, which the grader does not"):
        restricted_loads(pickle.dumps(Evil()))
    value = (np.arange(3), np.random.default_rng(1), {"a": [1.5, None]}, np.float32(2))
    loaded = restricted_loads(pickle.dumps(value, protocol=5))
    np.testing.assert_array_equal(loaded[0], value[0])
    assert loaded[1].bit_generator.state == value[1].bit_generator.state


FAKE_LEARNER = """
import os, pickle, sys
from courseops.grading.protocol import receive, send
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[1],))
send(1, pickle.dumps({"ready": True}))
while True:
    receive(0)
    value = pickle.dumps((Evil(), (), {}, None))
    send(1, pickle.dumps((pickle.dumps({"status": "ok", "value": value}), ("", ""))))
"""


def test_a_learner_process_that_sends_a_malicious_pickle_is_refused(tmp_path):
    # A learner process that no longer follows the protocol's rules (its runtime taken
    # over): the judge's restricted unpickler is what keeps its answer out.
    marker = tmp_path / "pwned"
    process = LearnerProcess([sys.executable, "-c", FAKE_LEARNER, str(marker)])
    process.start()
    try:
        from courseops.grading.proxy import Ref, RemoteFunction
        evil = RemoteFunction(Ref(process, process.generation, 1, None), "evil")
        with pytest.raises(pickle.UnpicklingError, match="posix.system, which the grader does not"):
            evil()
        assert not marker.exists()
    finally:
        process.close()


GUARDED = {"frames": "import sys\nsys._getframe()",
           "traceback frames": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e.__traceback__.tb_frame",
           "generator frames": "(x for x in ()).gi_frame",
           "gc": "import gc\ngc.get_objects()",
           "tracer": "import sys\nsys.setprofile(None)",
           "ctypes": "import ctypes\nctypes.string_at(id(1), 8)",
           "code swap": "def f():\n    pass\nf.__code__ = (lambda: 1).__code__"}


@pytest.mark.parametrize("what", sorted(GUARDED))
def test_the_learners_code_cannot_reach_the_runtime(learner, what):
    out = learner.exec_cell(1, GUARDED[what])
    assert type(out.error).__name__ == "NotAllowed" and "not available while the grader" in str(out.error)


def test_the_learners_code_cannot_add_an_audit_hook(learner):
    out = learner.exec_cell(1, "import sys\nsys.addaudithook(lambda *a: print('hooked'))\n"
                               "import json\nopen('/dev/null').close()\n")
    assert out.error is None and "hooked" not in out.stdout   # refused (Python says nothing)


def test_a_thread_started_during_a_checked_call_counts_as_getting_around_the_tracer(learner):
    names = define(learner, "import threading\n"
                            "def threaded(x):\n"
                            "    t = threading.Thread(target=print, args=(x,))\n"
                            "    t.start()\n    t.join()\n    return x\n")
    assert learner.call(names["threaded"], None, (1,), {}, name="threaded", forbidden=()) == 1
    with pytest.raises(RuntimeError, match="got around the grader's call tracer"):
        learner.call(names["threaded"], None, (1,), {}, name="threaded", forbidden=FORBIDDEN)


def test_the_guard_leaves_ordinary_code_alone(learner):
    names = define(learner, "from collections import namedtuple\nfrom typing import NamedTuple\n"
                            "import numpy as np, traceback\nP = namedtuple('P', 'a b')\n"
                            "class Q(NamedTuple):\n    x: int\n"
                            "def g():\n    yield from range(2)\n"
                            "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    caught = str(e)\n"
                            "values = (P(1, 2).b, Q(3).x, list(g()), caught, float(np.ones(3).sum()))\n")
    assert names["values"] == (2, 3, [0, 1], "division by zero", 3.0)


# ------------------------------------------------------------------------- limits and restarts


def test_a_call_that_loops_forever_times_out_and_the_next_call_works(learner):
    names = define(learner, "def spin():\n    while True:\n        pass\n"
                            "def ok(x):\n    return x + 1\n")
    start = time.monotonic()
    with pytest.raises(LearnerTimeout) as info:
        learner.call(names["spin"], None, (), {}, name="spin", timeout=1.5)
    assert 1.5 <= time.monotonic() - start < 5 and info.value.function == "spin"
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
                  "file size": "open('big', 'wb').write(bytes(2 << 20))",
                  "fork": "os.fork()",
                  "subprocess": "subprocess.run(['true'])"}
        assert process.exec_cell(1, "import os, subprocess, threading\nimport numpy as np\n"
                                    "open('small', 'wb').write(bytes(1000))\n").error is None
        errors = {label: process.exec_cell(2 + i, code).error
                  for i, (label, code) in enumerate(checks.items())}
        assert isinstance(errors["memory"], MemoryError)
        assert isinstance(errors["file size"], OSError) and "too large" in str(errors["file size"])
        assert isinstance(errors["fork"], PermissionError)
        assert isinstance(errors["subprocess"], PermissionError)
        out = process.exec_cell(9, "t = threading.Thread(target=print, args=('threads work',))\n"
                                   "t.start()\nt.join()\n")
        assert out.stdout == "threads work\n" and process.no_new_processes
    finally:
        process.close()


def test_cpu_time_is_limited(tmp_path):
    process = _limited_learner(tmp_path, Limits(cpu_seconds=2))
    try:
        out = process.exec_cell(1, "while True:\n    pass\n")
        assert isinstance(out.error, LearnerCrashed)
        assert "stopped at its CPU-time limit while running cell 1" in str(out.error)
    finally:
        process.close()


# ------------------------------------------------------------------------- tripwires

FORBIDDEN = ("optlessons.optim.adam_update", "optlessons.optim.Adam")
CHEATS = """
import types
import numpy as np
from optlessons.optim import AdamState, Adam, adam_update as f
saved = f.__code__
def aliased(p, g, s, **h):
    return f(p, g, s, **h)

def wrapped(p, g, s, **h):
    try:
        return aliased(p, g, s, **h)
    except BaseException:           # hiding the tripwire does not help
        return p, s

def with_class(p, g, s, **h):
    return Adam(lr=h['lr']).step(p, g), s

def rebuilt(p, g, s, **h):
    again = types.FunctionType(saved, f.__globals__)
    again.__kwdefaults__ = f.__kwdefaults__
    return again(p, g, s, **h)

def honest(p, g, s, **h):
    return p - h['lr'] * g, s
"""


@pytest.mark.parametrize("name", ["aliased", "wrapped", "with_class", "rebuilt"])
def test_tripwire_catches_every_way_of_calling_the_reference(learner, name):
    names = define(learner, CHEATS + "s0 = AdamState(0, np.zeros(2), np.zeros(2), np.zeros(2))\n")
    state = names["s0"]
    hyper = dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)
    with pytest.raises(ReferenceCalled) as info:
        learner.call(names[name], None, (np.ones(2), np.ones(2), state), hyper,
                     name=name, forbidden=FORBIDDEN)
    assert info.value.reference in FORBIDDEN and info.value.function == name
    # Outside a check's call nothing is forbidden, and an honest function passes inside one.
    try:
        learner.call(names[name], None, (np.ones(2), np.ones(2), state), hyper, name=name,
                     forbidden=())
    except ReferenceCalled:
        pytest.fail(f"{name} tripped with nothing forbidden")
    except Exception:   # Adam(...).step does not take an AdamState: a plain error, not a trip
        pass
    new, _ = learner.call(names["honest"], None, (np.ones(2), np.ones(2), state), hyper,
                          name="honest", forbidden=FORBIDDEN)
    np.testing.assert_allclose(new, [0.9, 0.9])


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
    """bubblewrap nests here: the kernel's sandbox starts the learner's, whose /proc is empty."""
    scratch, ipc = tmp_path / "scratch", tmp_path / "ipc"
    (scratch / "kernel").mkdir(parents=True)
    ipc.mkdir()
    connection = tmp_path / "connection.json"
    connection.write_text("{}")
    argv = [a.replace("{connection_file}", str(connection))
            for a in kernel_argv(scratch, sys.executable, ipc_dir=ipc)]
    cell = (f"import os\ntry:\n    secret = open({str(connection)!r}).read()\n"
            f"except OSError:\n    secret = 'unreadable'\n"
            f"print(sorted(os.listdir('/proc')), os.getpid(), "
            f"os.path.exists({str(scratch / 'kernel' / 'x')!r}), secret or 'empty')")
    script = ("import sys; from pathlib import Path\n"
              "from courseops.grading.proxy import LearnerProcess\n"
              "from courseops.grading.sandbox import learner_argv\n"
              f"p = LearnerProcess(learner_argv(Path({str(scratch)!r}), sys.executable, "
              f"hide=(Path({str(connection)!r}), Path({str(ipc)!r}))))\n"
              f"out = p.exec_cell(1, {cell!r})\n"
              "print(out.stdout.strip() if out.error is None else out.error)\n")
    (scratch / "kernel" / "x").write_text("kernel's")
    out = subprocess.run(argv[:-4] + ["-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1:] == ["[] 2 False unreadable"], out.stdout + out.stderr


@pytest.mark.parametrize("editable", [True, False])
def test_the_sandbox_binds_the_package_but_never_the_repository_around_it(tmp_path, monkeypatch,
                                                                           editable):
    repo, venv = tmp_path / "repo", tmp_path / "venv"
    site = venv / "lib" / "site-packages"
    package = (repo if editable else site) / "optlessons"
    for d in (package, site, repo / "exercises" / "source"):
        d.mkdir(parents=True, exist_ok=True)
    reported = [str(package), str(venv), str(venv), str(venv), str(venv), str(venv / "bin"),
                str(site), *([str(repo)] if editable else [])]   # editable: the repo on sys.path
    monkeypatch.setattr(sandbox.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout=json.dumps(reported)))
    sandbox.python_paths.cache_clear()
    try:
        paths = sandbox.python_paths("fake-python")
    finally:
        sandbox.python_paths.cache_clear()
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
    argv = kernel.learner_command(True, tmp_path, LEARNER_LIMITS)
    assert argv == unsandboxed_learner_argv(tmp_path, sys.executable)
    assert dumpable == [(kernel.PR_SET_DUMPABLE, 0, 0, 0, 0)]
    monkeypatch.setattr(kernel, "bwrap_problem", lambda: None)
    assert kernel.learner_command(True, tmp_path, LEARNER_LIMITS)[0] == bwrap_path()


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


# ------------------------------------------------------------------------- nbgrader, end to end


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "exercises" / "source", root / "source")
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    _nbgrader(root, ["generate_assignment", PS3, "--force"])
    return root


def _nbgrader(course: Path, args: list[str], env: dict | None = None):
    env = dict(os.environ if env is None else env)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # alembic
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def grade(course: Path, student: str, notebook: dict, workdir: Path,
          **limits) -> tuple[float, dict]:
    """Grade `notebook` as `student` through GradingSandbox; (score, autograded notebook)."""
    from nbgrader.api import Gradebook
    given = workdir / f"{student}.ipynb"
    given.write_text(json.dumps(notebook))
    target = course / "submitted" / student / PS3 / f"{PS3}.ipynb"
    with GradingSandbox(workdir, unsafe_no_sandbox=bwrap_problem() is not None,
                        **limits) as sandbox:
        sandbox.prepare(student, given, course / "source" / PS3 / f"{PS3}.ipynb", target)
        _nbgrader(course, ["autograde", PS3, "--student", student, "--force",
                           *sandbox.nbgrader_args(), "--Execute.timeout=20"],
                  env=sandbox.env(student))
        graded = course / "autograded" / student / PS3 / f"{PS3}.ipynb"
        sandbox.restore_sources(graded, given)
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gradebook:
        score = gradebook.find_submission(PS3, student).score
    return score, json.loads(graded.read_text())


@pytest.mark.slow
def test_an_honest_submission_gets_full_marks(course, tmp_path):
    score, graded = grade(course, "honest", json.loads(_notebook(PS3).read_text()), tmp_path)
    assert score == 10
    texts = ["".join(o.get("text", "")) for c in graded["cells"] for o in c.get("outputs", [])]
    assert any("Adam            ends at [1. 1.]" in t for t in texts)   # the learner's print
    assert "### BEGIN SOLUTION" in "".join(graded["cells"][3]["source"])   # sources restored


@pytest.mark.slow
def test_overwriting_the_checks_in_the_learner_cells_scores_zero(course, tmp_path):
    notebook = json.loads(_notebook(PS3, "release").read_text())
    attack = ("from optlessons import checks\n"
              "for name in dir(checks):\n"
              "    if name.startswith('check_'):\n"
              "        setattr(checks, name, lambda *a, **k: print('✓'))\n")
    notebook["cells"].insert(2, {"cell_type": "code", "metadata": {}, "outputs": [],
                                 "execution_count": None, "source": attack})
    score, graded = grade(course, "faker", notebook, tmp_path)
    assert score == 0
    errors = [o for c in graded["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert any("NotImplementedError" in "".join(o["traceback"]) + o["ename"] + o["evalue"]
               or "not written" in "".join(o["traceback"]) for o in errors)


def _solution(notebook: dict, grade_id: str, source: str) -> dict:
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
    return notebook


@pytest.mark.slow
def test_a_looping_and_an_exiting_solution_lose_their_cells_only(course, tmp_path):
    notebook = json.loads(_notebook(PS3).read_text())
    _solution(notebook, "adam_update", "def adam_update(param, grad, state, **hyper):\n"
                                       "    while True:\n        pass\n")
    _solution(notebook, "rmsprop_update", "import os\n"
                                          "def rmsprop_update(param, grad, state, **hyper):\n"
                                          "    os._exit(1)\n")
    score, graded = grade(course, "breaker", notebook, tmp_path, cell_timeout=5, call_timeout=2)
    assert score == 3                                  # sgd_momentum_update's 3 points, kept
    texts = json.dumps(graded["cells"])
    assert "exit code 1" in texts
    # the time-out as a sentence (the checks' engine: "ran out of time ... 2 s per call")
    assert re.search(r"adam_update`? (ran longer than 2 s|ran out of time)", texts)
