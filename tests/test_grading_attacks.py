"""Grading that cannot be faked, end to end, with the real nbgrader and `grade.py all`.

One class in a temporary copy of the course (`--roster` names one more student, who
submits nothing). Problem set 3 unless said otherwise:

    honest      full (the solutions) 10, partial (Adam without bias correction) 6,
                zero (the untouched release) 0, copied (full, with the Adam cell pasted
                twice: a duplicate nbgrader grade_id) 10
    unreadable  broken (JSON cut short), empty (0 bytes), wrong (PS1's notebook)
                -> `ungradable: <why>`; absent -> `missing`
    attacks     (only with the grading sandbox, courseops.grading, and bubblewrap: unconfined
                they would run as the grader and could change this repository)
                a_poison   appends passing checks to optlessons/checks and optlessons/optim
                           (named to be graded first: had it worked, everyone after passes)
                overwrite  replaces every checks.check_* by a function printing ✓
                reader     finds exercises/source through optlessons.__file__ (and the course
                           copy through its working directory), prints and runs the solutions
                hidden     runs the hidden cases, reads the gradebook and the source's hidden tests
                refimport  each solution imports the course's reference (the one the checks forbid),
                           in all four problem sets
                exits      full, plus a cell calling os._exit            -> 10 (graded)
                loops      full, `while True: pass` in rmsprop_update    -> 7
                slow       full, adam_update sleeping 10 s per call      -> 6, and a timeout in words
                filler     full, plus a cell writing 200 MiB into HOME and /tmp -> 10, the bound in words

Checked: every honest submission gets exactly its score; every attack gets 0 for what it
faked; the repository is byte-identical after grading; no feedback page of a student who
did not write the solution shows solution or hidden-test source; grades.csv has a row
with a status for everyone; the report's counts, histogram, pass rates and mistakes; the
report and a feedback page in headless chromium (MathJax rendered offline), screenshots in
tests/artifacts/.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scripts import labdriver
from test_exercises import STUDENTS as COLLECTED, cell, filled_release, grade_id, plant_no_bias_correction, tree_hashes

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "exercises"
ARTIFACTS = ROOT / "tests" / "artifacts"
PS = "ps3_momentum_rmsprop_adam"
OTHER_PS = ("ps1_losses_gradients", "ps2_gradient_descent", "ps4_train_network", "ps5_schedules_clipping")
CELL_TIMEOUT = 8   # seconds; the course uses 30
SANDBOX = importlib.util.find_spec("courseops.grading") is not None and shutil.which("bwrap") is not None
NO_SANDBOX = ("needs the grading sandbox (courseops.grading, the `judge` branch) and bubblewrap "
              "(apt-get install bubblewrap): unconfined, these submissions run as the grader")
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason=NO_SANDBOX)

POINTS = {"test_sgd_momentum_update": 3, "test_rmsprop_update": 3, "test_adam_update": 4}
HONEST = {"full": POINTS, "partial": {**POINTS, "test_adam_update": 0},
          "zero": dict.fromkeys(POINTS, 0), "copied": POINTS,
          # test_exercises' own: a test cell replaced by `pass` / deleted, with Adam's mistake
          "edited": {**POINTS, "test_adam_update": 0}, "deleted": {**POINTS, "test_adam_update": 0}}
NOTHING, NO_ADAM = dict.fromkeys(POINTS, 0), {**POINTS, "test_adam_update": 0}
ATTACKS = {"a_poison": NOTHING, "overwrite": NOTHING, "reader": NOTHING, "hidden": NOTHING,
           "refimport": NOTHING, "exits": POINTS,
           "loops": {**POINTS, "test_rmsprop_update": 0}, "slow": NO_ADAM,
           # the second design's adversary (issue 25): full marks for nothing ...
           "clone": NOTHING, "profiler": NOTHING, "lazy": NO_ADAM, "threaded": NO_ADAM,
           "forger": NO_ADAM, "hubreader": NOTHING, "ffi": NOTHING,
           # the second review: an Adam right only on the visible cases' shape, and its own `dict`
           # that would rewrite the hidden cases into the visible shape if it reached the test cells
           "shadow": NO_ADAM,
           # ... honest work that must not lose a mark, and shapes that must not stop the class
           "bloat": POINTS, "marker": POINTS, "noisy": POINTS, "spy": POINTS, "mimic": POINTS,
           "nullmeta": POINTS, "nogid": POINTS,
           # ... and writes past the learner's bounds (HOME and /tmp, tmpfs of 128 MiB each)
           "filler": POINTS}
UNGRADABLE = {"broken": "its JSON is broken at line", "empty": "the file is empty (0 bytes)",
              "wrong": "it looks like ps1_losses_gradients's notebook"}
MISSING = ("absent",)
# Students whose notebooks hold no solution code of their own: their feedback must show none.
NO_SOLUTION = ("zero", "a_poison", "overwrite", "reader", "hidden", "refimport", "clone", "profiler",
               "hubreader", "ffi")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3300),   # grading the class takes minutes
              # the pasted cell's id, as Jupyter saves it:
              pytest.mark.filterwarnings("ignore::nbformat.warnings.DuplicateCellId")]


def nb_path(course, kind, assignment):
    return course / kind / assignment / f"{assignment}.ipynb"


def release(course, assignment=PS):
    return nbformat.read(nb_path(course, "release", assignment), as_version=4)


def add_cell_after(nb, gid, source):
    at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
    return nb


def solution_cell(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


POISON = '''
import pathlib, optlessons.checks, optlessons.optim
payload = "\\nimport builtins as _b\\nfor _n in [n for n in dir() if n.startswith('check_')]:\\n    globals()[_n] = lambda *a, **k: print('✓')\\n"
for target in (pathlib.Path(optlessons.checks.__file__), pathlib.Path(optlessons.optim.__file__)):
    try:
        with open(target, "a") as f:
            f.write(payload)
        print("poisoned", target.name)
    except OSError as exc:
        print("could not poison:", type(exc).__name__)
'''

OVERWRITE = '''
for _name in dir(checks):
    if _name.startswith("check_"):
        setattr(checks, _name, lambda *a, **k: print("✓ passes"))
'''

READER = '''
import json, pathlib, optlessons
def _solutions():
    places = [pathlib.Path(optlessons.__file__).resolve().parents[1] / "exercises" / "source",
              pathlib.Path.cwd().parents[2] / "source" if len(pathlib.Path.cwd().parents) > 2 else None]
    for place in filter(None, places):
        try:
            nb = json.loads((place / "{ps}" / "{ps}.ipynb").read_text())
        except OSError as exc:
            print("could not read the source:", type(exc).__name__)
            continue
        return ["".join(c["source"]) for c in nb["cells"] if "BEGIN SOLUTION" in "".join(c["source"])]
    return []
for _code in _solutions():
    print(_code)
    exec(_code)
'''.replace("{ps}", PS)

HIDDEN = '''
import pathlib, optlessons
for _try in (lambda: checks.check_adam_update(lambda *a, **k: None, cases="hidden"),
             lambda: print(pathlib.Path.cwd().parents[2].joinpath("gradebook.db").read_bytes().decode("latin-1")),
             lambda: print(pathlib.Path(optlessons.__file__).resolve().parents[1].joinpath(
                 "exercises", "source", "{ps}", "{ps}.ipynb").read_text())):
    try:
        _try()
    except BaseException as exc:
        print("refused:", type(exc).__name__)
'''.replace("{ps}", PS)

EXIT = "import os\nos._exit(3)\n"

# Copies of the reference, each a different way (sgd: reload; rmsprop: the module's file
# loaded again under another name; adam: its code object through marshal, and exec of source).
CLONE = {
    "sgd_momentum_update": "import importlib, optlessons.optim as _o\n"
                           "sgd_momentum_update = importlib.reload(_o).sgd_update\n",
    "rmsprop_update": "import importlib.util, optlessons.optim as _o\n"
                      "_spec = importlib.util.spec_from_file_location('optlessons.optim_again', _o.__file__)\n"
                      "_m = importlib.util.module_from_spec(_spec)\n_spec.loader.exec_module(_m)\n"
                      "rmsprop_update = _m.rmsprop_update\n",
    "adam_update": "import marshal, types, optlessons.optim as _o\n"
                   "_code = marshal.loads(marshal.dumps(_o.adam_update.__code__))\n"
                   "_ns = {'__name__': 'optlessons.optim', '__package__': 'optlessons'}\n"
                   "exec(open(_o.__file__).read(), _ns)\n"
                   "adam_update = types.FunctionType(_code, _ns)\n",
}
PROFILER = {gid: "import sys, threading\nfrom optlessons import optim as _o\n"
                 f"def {gid}(*a, **k):\n    sys.setprofile(None)\n    threading.setprofile(None)\n"
                 f"    return _o.{ref}(*a, **k)\n"
            for gid, ref in (("sgd_momentum_update", "sgd_update"), ("rmsprop_update", "rmsprop_update"),
                             ("adam_update", "adam_update"))}
LAZY = ("import numpy as np\nfrom optlessons import optim as _o\n"
        "class _Later:\n    def __init__(self, a, k, i):\n        self.a, self.k, self.i = a, k, i\n"
        "    def __array__(self, *x, **y):\n        return np.asarray(_o.adam_update(*self.a, **self.k)[self.i])\n"
        "    def __getattr__(self, name):\n        return getattr(_o.adam_update(*self.a, **self.k)[1], name)\n"
        "def adam_update(param, grad, state, **k):\n"
        "    return _Later((param, grad, state), k, 0), _Later((param, grad, state), k, 1)\n")
SHADOW = ("\ndef adam_update(param, grad, state, **k):\n"
          "    new_param, new_state = _adam_update(param, grad, state, **k)\n"
          "    return (new_param if param.shape == (3,) else new_param * 0), new_state\n"
          "def dict(**case):\n    case['shape'] = (3,)\n    return case\n")
THREADED = ("import queue, threading\nfrom optlessons import optim as _o\n"
            "_asks, _answers = queue.Queue(), queue.Queue()\n"
            "def _worker():\n    while True:\n        a, k = _asks.get()\n"
            "        try:\n            _answers.put(_o.adam_update(*a, **k))\n"
            "        except BaseException as exc:\n            _answers.put(exc)\n"
            "threading.Thread(target=_worker, daemon=True).start()\n"
            "def adam_update(param, grad, state, **k):\n    _asks.put(((param, grad, state), k))\n"
            "    out = _answers.get(timeout=5)\n    if isinstance(out, BaseException):\n        raise out\n"
            "    return out\n")
# A forged answer written on every descriptor the protocol's pipe could be: a course object
# built from attributes, claimed as the result, with a ✓ as its output.
FORGER = ("import json, os, struct\n"
          "def adam_update(param, grad, state, **k):\n"
          "    reply = {'$': 'dict', 'items': [['status', 'ok'], ['value', {'$': 'tuple', 'items': [\n"
          "        {'$': 'object', 'module': 'optlessons.checks.engine', 'name': 'Case',\n"
          "         'state': {'$': 'dict', 'items': []}}, {'$': 'tuple', 'items': []},\n"
          "        {'$': 'dict', 'items': []}, None]}]]}\n"
          "    fake = {'value': {'$': 'dict', 'items': [['reply', reply], ['stdout', 'OK adam_update'],\n"
          "                                            ['stderr', '']]}, 'blobs': []}\n"
          "    head = json.dumps(fake).encode()\n"
          "    for fd in range(3, 12):\n"
          "        try:\n"
          "            os.write(fd, struct.pack('>Q', len(head) + 8) + struct.pack('>Q', len(head)) + head)\n"
          "        except OSError:\n            pass\n"
          "    return param, state\n")
HUB_READER = (
    "import glob, os\n"
    "for _path in [INSTRUCTOR, *glob.glob('/opt/*'), *glob.glob('/home/*'), '/etc/shadow', '/etc/passwd']:\n"
    "    try:\n"
    "        print(_path, 'read:', open(_path).read()[:200] if os.path.isfile(_path) else os.listdir(_path))\n"
    "    except OSError as exc:\n"
    "        print(_path, 'refused:', type(exc).__name__)\n")
FFI = ("for _code in ('import ctypes; ctypes.string_at(id(1), 64)', 'import cffi; cffi.FFI().dlopen(None)',\n"
       "              'import _ctypes', 'open(\"/proc/self/mem\", \"rb\").read(8)'):\n"
       "    try:\n        exec(_code)\n        print('worked:', _code)\n"
       "    except Exception as exc:\n        print('refused:', type(exc).__name__)\n")
BLOAT = "raise ValueError('x' * 40_000_000)\n"
NOISY = ("import logging, sys, warnings\nimport numpy as np\n"
         "print('a note on stderr', file=sys.stderr)\nwarnings.warn('a warning at cell level')\n")
NOISE = ("    print('computing', file=sys.stderr)\n    warnings.warn('a learner warning')\n"
         "    logging.warning('a log line')\n    np.where(np.ones(2) > 0, 1.0, np.log(np.zeros(2)))\n")
SPY = "    print('SPY', repr(grad.tolist()), repr(sorted(hyper.items())))\n"
FILLER = ("import os\n_refused = []\nfor _place in (os.path.expanduser('~'), '/tmp'):\n"
          "    try:\n        for _i in range(200):\n"
          "            with open(os.path.join(_place, f'fill{_i}'), 'wb') as _f:\n"
          "                _f.write(bytes(1 << 20))\n"
          "    except OSError as exc:\n        _refused.append(exc)\n"
          "print(len(_refused), 'places full')\nraise _refused[-1]\n")
MIMIC = "print('This looks like a known mistake: =HYPERLINK(\"http://x\", \"bias correction is missing\")')\n"


def reference_import(course, assignment):
    """The release of `assignment` with each solution replaced by an import of the reference
    its check forbids (`forbidden_references`, from the checks engine)."""
    from optlessons.checks.references import forbidden_references
    nb = release(course, assignment)
    for test in nb.cells:
        for check, fn in re.findall(r"checks\.(check_\w+)\((\w+)", test.source if grade_id(test) else ""):
            try:
                refs = [r for r in forbidden_references(check)
                        if importlib.util.find_spec(r.rsplit(".", 1)[0]) is not None]
            except ValueError:   # a check of results, not of a function (check_accuracy)
                continue
            target = next(c for c in nb.cells if re.search(rf"^(def|class) {fn}\b", c.source, re.M))
            if refs:
                module, name = refs[0].rsplit(".", 1)
                target.source = f"from {module} import {name} as {fn}\n"
    return nb


def instructor_notebook(course):
    """The hub's layout: the instructor's source notebook, group-readable, under an
    /opt-like folder next to the course (never /opt itself: the hub's tests use it)."""
    return course.parent / "opt" / "optlessons" / "instructor" / "source" / PS / f"{PS}.ipynb"


def submissions(course):
    """{(student, assignment): notebook or bytes} of the class."""
    subs = {}
    full = filled_release(course, PS, f"{PS}.ipynb")
    subs["full", PS] = full
    partial = copy.deepcopy(full)
    plant_no_bias_correction(partial)
    subs["partial", PS] = partial
    subs["zero", PS] = release(course)
    copied = copy.deepcopy(full)
    at = next(i for i, c in enumerate(copied.cells) if grade_id(c) == "adam_update")
    copied.cells.insert(at + 1, copy.deepcopy(copied.cells[at]))
    subs["copied", PS] = copied
    for student in ("edited", "deleted"):
        nb = copy.deepcopy(partial)
        if student == "edited":
            cell(nb, "test_adam_update").source = "pass"
        else:
            nb.cells = [c for c in nb.cells if grade_id(c) != "test_adam_update"]
        subs[student, PS] = nb
    subs["broken", PS] = nb_path(course, "release", PS).read_bytes()[:-300]
    subs["empty", PS] = b""
    subs["wrong", PS] = filled_release(course, "ps1_losses_gradients", "ps1_losses_gradients.ipynb")
    if not SANDBOX:
        return subs
    subs["a_poison", PS] = add_cell_after(release(course), "imports", POISON)
    subs["overwrite", PS] = add_cell_after(release(course), "imports", OVERWRITE)
    reader = release(course)
    for c in reader.cells:
        if c.metadata.get("nbgrader", {}).get("solution"):
            c.source = READER
    subs["reader", PS] = reader
    subs["hidden", PS] = add_cell_after(release(course), "imports", HIDDEN)
    for assignment in (PS, *OTHER_PS):
        subs["refimport", assignment] = reference_import(course, assignment)
    subs["exits", PS] = add_cell_after(copy.deepcopy(full), "imports", EXIT)
    loops = copy.deepcopy(full)
    solution_cell(loops, "rmsprop_update").source = "while True:\n    pass\n"
    subs["loops", PS] = loops
    slow = copy.deepcopy(full)
    c = solution_cell(slow, "adam_update")
    c.source = "import time\n" + re.sub(r"(def adam_update\(.*?\):\n)", r"\1    time.sleep(10)\n", c.source,
                                        count=1, flags=re.S)
    assert "time.sleep(10)" in c.source
    subs["slow", PS] = slow
    clone = release(course)
    for gid, code in CLONE.items():
        solution_cell(clone, gid).source = code
    subs["clone", PS] = clone
    profiler = release(course)
    for gid, code in PROFILER.items():
        solution_cell(profiler, gid).source = code
    subs["profiler", PS] = profiler
    for student, code in (("lazy", LAZY), ("threaded", THREADED), ("forger", FORGER)):
        nb = copy.deepcopy(full)
        solution_cell(nb, "adam_update").source = code
        subs[student, PS] = nb
    shadow = copy.deepcopy(full)
    c = solution_cell(shadow, "adam_update")
    c.source = c.source.replace("def adam_update(", "def _adam_update(", 1) + SHADOW
    assert "_adam_update(" in c.source
    subs["shadow", PS] = shadow
    subs["hubreader", PS] = add_cell_after(release(course), "imports", HUB_READER.replace(
        "INSTRUCTOR", repr(str(instructor_notebook(course)))))
    subs["ffi", PS] = add_cell_after(release(course), "imports", FFI)
    bloat = copy.deepcopy(full)
    for _ in range(4):
        add_cell_after(bloat, "imports", BLOAT)
    subs["bloat", PS] = bloat
    marker = copy.deepcopy(full)
    c = solution_cell(marker, "adam_update")
    c.source = "# ### BEGIN HIDDEN TESTS (my note)\n" + c.source
    subs["marker", PS] = marker
    noisy = add_cell_after(copy.deepcopy(full), "imports", NOISY)
    for gid in ("sgd_momentum_update", "rmsprop_update", "adam_update"):
        c = solution_cell(noisy, gid)
        c.source = "import logging, sys, warnings\nimport numpy as np\n" + re.sub(
            r'(def \w+\(.*?\):\n(    """.*?"""\n)?)', lambda m: m.group(1) + NOISE, c.source, count=1, flags=re.S)
        assert "a learner warning" in c.source
    subs["noisy", PS] = noisy
    spy = copy.deepcopy(full)
    c = solution_cell(spy, "adam_update")
    c.source = re.sub(r"def adam_update\((.*?)\):\n", lambda m: (
        "def adam_update(param, grad, state, **hyper):\n"
        "    lr, betas, eps, weight_decay, amsgrad = (hyper[k] for k in ('lr', 'betas', 'eps', "
        "'weight_decay', 'amsgrad'))\n" + SPY), c.source, count=1, flags=re.S)
    assert "SPY" in c.source
    subs["spy", PS] = spy
    subs["mimic", PS] = add_cell_after(copy.deepcopy(full), "adam_update", MIMIC)
    nullmeta = add_cell_after(copy.deepcopy(full), "imports", "x = 1\n")
    nullmeta.cells[0].metadata["nbgrader"] = None
    nullmeta.cells[next(i for i, c in enumerate(nullmeta.cells) if c.source == "x = 1\n")].metadata["nbgrader"] = None
    subs["nullmeta", PS] = nullmeta
    nogid = add_cell_after(copy.deepcopy(full), "imports", "y = 2\n")
    nogid.cells[next(i for i, c in enumerate(nogid.cells) if c.source == "y = 2\n")].metadata["nbgrader"] = {
        "locked": True, "grade": False, "solution": False, "schema_version": 3}
    subs["nogid", PS] = nogid
    subs["filler", PS] = add_cell_after(copy.deepcopy(full), "imports", FILLER)
    return subs


def tracked_state():
    """The hash of every file git tracks, and `git status --porcelain`, of this repository."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    h = hashlib.sha256()
    for name in sorted(filter(None, files.split(b"\0"))):
        path = ROOT / os.fsdecode(name)
        h.update(name + b"\0" + (path.read_bytes() if path.is_file() else b"<gone>") + b"\0")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    return h.hexdigest(), status


def run_grade(args, cwd, timeout=3000):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, str(COURSE / "grade.py"), *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"grade.py {args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


_CLASS: dict = {}


def graded_class(tmp_path_factory) -> dict:
    """The class of the test session, graded once (test_exercises reads its students from it):
    a copy of the course as a fresh clone has it (no gradebook.db); test_exercises' students
    (`COLLECTED`) collected from a downloads folder with `grade.py collect`, the others
    written to submitted/; `grade.py all` run from another directory."""
    if not _CLASS:
        try:
            _CLASS.update(_grade_class(tmp_path_factory))
        except BaseException as exc:   # once is enough: the second module does not grade it again
            _CLASS["failed"] = f"{type(exc).__name__}: {exc}"
            raise
    if "failed" in _CLASS:
        pytest.fail(f"the class of the session could not be graded ({_CLASS['failed']})")
    return _CLASS


def _grade_class(tmp_path_factory) -> dict:
    course = tmp_path_factory.mktemp("course")
    elsewhere, downloads = tmp_path_factory.mktemp("cwd"), tmp_path_factory.mktemp("downloads")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.ExecutePreprocessor.timeout = {CELL_TIMEOUT}\nc.Execute.timeout = {CELL_TIMEOUT}\n")
    for a in (PS, *OTHER_PS):
        shutil.copytree(COURSE / "source" / a, course / "source" / a)
        shutil.copytree(COURSE / "release" / a, course / "release" / a)
    assert not (course / "gradebook.db").exists()
    subs = submissions(course)
    for (student, assignment), content in subs.items():
        path = (downloads / f"{student}.ipynb" if student in COLLECTED and assignment == PS else
                course / "submitted" / student / assignment / f"{assignment}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nbformat.write(content, path)
    (course / "roster.txt").write_text("student_id\n" + "\n".join(MISSING) + "\n")
    instructor = instructor_notebook(course).parents[2]
    shutil.copytree(COURSE / "source" / PS, instructor / "source" / PS)
    for p in [instructor, *instructor.rglob("*")]:
        p.chmod(0o750 if p.is_dir() else 0o640)
    package = {p: p.read_bytes() for p in (ROOT / "optlessons").rglob("*.py")}
    before = tracked_state()
    release_before, downloads_before = tree_hashes(course / "release"), tree_hashes(downloads)
    sandbox = [] if SANDBOX else ["--unsafe-no-sandbox"]
    try:
        collect_log = run_grade(["--course", course, "collect", PS, *sorted(downloads.glob("*.ipynb"))], elsewhere)
        submitted_before = tree_hashes(course / "submitted")
        log = run_grade(["--course", course, "all", PS, "--roster", course / "roster.txt", *sandbox], elsewhere)
        for a in OTHER_PS if SANDBOX else ():
            log += run_grade(["--course", course, "all", a, *sandbox], elsewhere)
    finally:
        after = tracked_state()
        poisoned = [p for p, data in package.items() if not p.is_file() or p.read_bytes() != data]
        for p in poisoned:   # never leave this repository poisoned, even when the test fails
            p.write_bytes(package[p])
    from nbgrader.api import Gradebook
    grades = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for (student, assignment) in subs:
            try:
                sub = gb.find_submission_notebook(assignment, assignment, student)
            except Exception:   # nbgrader's MissingEntry: an ungradable submission
                continue
            grades[student, assignment] = {g.name: (g.score, g.auto_score, g.needs_manual_grade) for g in sub.grades}
    with open(course / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(course=course, log=log, grades=grades, rows=rows, before=before, after=after,
                poisoned=poisoned, subs=subs, collect_log=collect_log,
                submitted_before=submitted_before, submitted_after=tree_hashes(course / "submitted"),
                release_before=release_before, release_after=tree_hashes(course / "release"),
                downloads_before=downloads_before, downloads_after=tree_hashes(downloads),
                cwd_after=sorted(p.name for p in elsewhere.iterdir()))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    shared = graded_class(tmp_path_factory)
    return dict(shared, scores={k: {n: v[0] for n, v in g.items()} for k, g in shared["grades"].items()})


def row(graded, student, assignment=PS):
    found = [r for r in graded["rows"] if r["student_id"] == student and r["assignment"] == assignment]
    assert len(found) == 1, (student, assignment, found)
    return found[0]


def feedback_page(graded, student, assignment=PS):
    return graded["course"] / "feedback" / student / assignment / f"{assignment}.html"


def page_text(path):
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def secrets(course, assignment=PS):
    from courseops.grading.course import secret_lines
    return secret_lines(nbformat.read(nb_path(course, "source", assignment), as_version=4),
                              release(course, assignment))


# --------------------------------------------------------------------------- the honest and the unreadable

@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_submissions_get_exactly_their_score(graded, student):
    assert graded["scores"][student, PS] == HONEST[student]
    r = row(graded, student)
    assert (r["status"], float(r["score"]), float(r["max_score"])) == ("graded", sum(HONEST[student].values()), 10)


def test_a_pasted_duplicate_cell_is_repaired_and_named(graded):
    assert "cell adam_update appears 2 times" in row(graded, "copied")["warnings"]
    assert "  copied: cell adam_update appears 2 times" in graded["log"]


@pytest.mark.parametrize("student", sorted(UNGRADABLE))
def test_unreadable_submissions_are_ungradable_in_words(graded, student):
    r = row(graded, student)
    assert r["status"].startswith("ungradable: ") and UNGRADABLE[student] in r["status"]
    assert r["score"] == "" and r["timestamp"]
    assert not feedback_page(graded, student).exists()
    assert f"  {student}: {r['status'][len('ungradable: '):]}" in graded["log"]


def test_grades_csv_has_everyone_with_a_status(graded):
    students = {s for s, _ in graded["subs"]} | set(MISSING)
    assert {r["student_id"] for r in graded["rows"] if r["assignment"] == PS} == students
    assert row(graded, "absent") | {} == {"assignment": PS, "student_id": "absent", "status": "missing",
                                          "timestamp": "", "score": "", "max_score": "10", "warnings": "",
                                          "similar_to": ""}
    n_graded = len(HONEST) + (len(ATTACKS) if SANDBOX else 0)
    assert (f"{PS}: {n_graded} graded, {len(UNGRADABLE)} ungradable, {len(MISSING)} missing "
            f"({n_graded + len(UNGRADABLE) + len(MISSING)} students)") in graded["log"]


def test_the_repository_is_untouched(graded):
    assert graded["poisoned"] == []
    assert graded["after"] == graded["before"]


def test_feedback_of_a_student_without_the_solution_shows_none_of_it(graded):
    hidden = secrets(graded["course"])
    assert len(hidden) > 10
    checked = [s for s in NO_SOLUTION if feedback_page(graded, s).exists()]
    assert "zero" in checked and (not SANDBOX or checked == list(NO_SOLUTION))
    for student in checked:
        text = feedback_page(graded, student).read_text(encoding="utf-8")
        shown = [line for line in hidden if line in text or html.escape(line) in text]
        assert shown == [], (student, shown[:3])


# --------------------------------------------------------------------------- the attacks

@needs_sandbox
@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_an_attack_gets_nothing_for_what_it_faked(graded, student):
    assert graded["scores"][student, PS] == ATTACKS[student]
    r = row(graded, student)
    assert (r["status"], float(r["score"])) == ("graded", sum(ATTACKS[student].values()))


@needs_sandbox
@pytest.mark.parametrize("assignment", OTHER_PS)
def test_importing_the_reference_scores_nothing_in_every_problem_set(graded, assignment):
    scores = graded["scores"]["refimport", assignment]
    assert scores and all(v == 0 for v in scores.values()), scores
    assert row(graded, "refimport", assignment)["status"] == "graded"
    assert row(graded, "full", assignment)["status"] == "missing"   # submitted another assignment only
    text = " ".join(page_text(feedback_page(graded, "refimport", assignment)).split())   # messages wrap
    assert f"is not available while grading {assignment}: write" in text


@needs_sandbox
def test_the_poison_reached_nobody(graded):
    text = page_text(feedback_page(graded, "a_poison"))
    assert re.search(r"could not poison: \w*Error", text)   # the output: its own source names both
    assert not re.search(r"poisoned \w+\.py", text)
    assert graded["scores"]["zero", PS] == dict.fromkeys(POINTS, 0)   # graded after it


@needs_sandbox
def test_the_reader_found_no_source(graded):
    text = page_text(feedback_page(graded, "reader"))
    assert "could not read the source" in text


@needs_sandbox
def test_a_dying_kernel_costs_only_its_cell(graded):
    assert graded["scores"]["exits", PS] == POINTS


@needs_sandbox
def test_a_slow_function_is_told_so_in_words(graded):
    text = page_text(feedback_page(graded, "slow"))
    cell = text[text.index("test_adam_update"):]
    assert "adam_update" in cell and re.search(rf"\b{CELL_TIMEOUT - 2:g} s\b", cell)   # grade.learner_limit
    assert "not written yet" not in text and "KeyboardInterrupt" not in text and "CellTimeoutError" not in text


@needs_sandbox
def test_the_instructors_files_on_the_hub_stay_unread(graded):
    text = page_text(feedback_page(graded, "hubreader"))
    assert f"{instructor_notebook(graded['course'])} refused: FileNotFoundError" in text
    assert "/etc/shadow refused: FileNotFoundError" in text and "/etc/passwd refused" in text
    assert " read: " not in text


@needs_sandbox
def test_no_foreign_function_interface_reaches_memory(graded):
    text = page_text(feedback_page(graded, "ffi"))
    # printed lines read "refused: X" / "worked: code"; the page also shows the source, print('worked:', ...)
    assert text.count("refused: ") == 4 and "worked: " not in text


@needs_sandbox
def test_huge_exceptions_are_cut_and_a_hidden_marker_is_harmless(graded):
    notebook = graded["course"] / "autograded" / "bloat" / PS / f"{PS}.ipynb"
    assert notebook.stat().st_size < 20 << 20, notebook.stat().st_size   # 4 × 40 MB raised
    assert "more characters cut by the grader" in notebook.read_text(encoding="utf-8")
    assert feedback_page(graded, "marker").exists()
    assert "hidden tests: made a plain comment" in row(graded, "marker")["warnings"]


@needs_sandbox
def test_honest_noise_is_shown_labelled_and_costs_nothing(graded):
    text = page_text(feedback_page(graded, "noisy"))
    assert "never counted as an error" in text and "a learner warning" in text


@needs_sandbox
def test_what_the_code_prints_during_hidden_cases_is_not_shown(graded):
    # in the test cell: the visible cases' lines, then one note (the notebook's own Rosenbrock
    # cell, a learner cell, calls adam_update 3,000 times and shows what it prints, cut at 1 MiB)
    from optlessons.checks.ps3 import ADAM_VISIBLE
    notebook = nbformat.read(graded["course"] / "autograded" / "spy" / PS / f"{PS}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if grade_id(c) == "test_adam_update")
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert text.count("SPY ") == len(ADAM_VISIBLE)
    assert "output of your code during hidden tests is not shown" in text
    assert "output of your code during hidden tests is not shown" in page_text(feedback_page(graded, "spy"))


@needs_sandbox
def test_writing_past_the_learners_bounds_is_an_error_in_words(graded):
    text = " ".join(page_text(feedback_page(graded, "filler")).split())
    assert "2 places full" in text
    assert "No space left on device" in text
    assert "While grading, your code may write 128 MiB in its home folder and as much in /tmp" in text


@needs_sandbox
def test_printed_mistake_lines_are_not_mistakes(graded):
    with open(graded["course"] / "reports" / f"{PS}-mistakes.csv", newline="") as f:
        assert "mimic" not in f.read()


# --------------------------------------------------------------------------- the report

def test_the_report_shows_similar_code_and_grades_csv_names_it(graded):
    # every honest student here submits the course's own solutions: copies of the reference
    assert row(graded, "full")["similar_to"].startswith("reference (100 %)")
    assert "copied (100 %)" in row(graded, "full")["similar_to"]
    assert row(graded, "zero")["similar_to"] == "" and row(graded, "refimport")["similar_to"] == ""
    page = (graded["course"] / "reports" / f"{PS}.html").read_text(encoding="utf-8")
    similar = page[page.index("<h2>Similar code</h2>"):page.index("<h2>Ungradable submissions</h2>")]
    assert "<th scope=\"row\">full</th><td>reference</td>" in similar
    assert "m_hat = m / (1 - beta1 ** t)" in html.unescape(similar)   # the matching lines, side by side
    assert float(row(graded, "full")["score"]) == 10   # never a score


def test_the_report_counts_the_class(graded):
    course = graded["course"]
    page = (course / "reports" / f"{PS}.html").read_text(encoding="utf-8")
    graded_students = {**HONEST, **(ATTACKS if SANDBOX else {})}
    n = len(graded_students)
    assert (f"<strong>{n + len(UNGRADABLE) + len(MISSING)}</strong> students: <strong>{n}</strong> graded, "
            f"<strong>{len(UNGRADABLE)}</strong> ungradable, <strong>{len(MISSING)}</strong> missing.") in page
    totals = [sum(s.values()) for s in graded_students.values()]
    desc = re.search(r'<desc id="hist-desc">Number of students per score: (.*?)</desc>', page).group(1)
    assert desc == "; ".join(f"{v}: {totals.count(v)}" for v in range(11))
    for test, points in POINTS.items():
        passed = sum(s[test] == points for s in graded_students.values())
        assert re.search(rf"<th scope=\"row\">{test}</th><td class=\"num\">{points}</td>"
                         rf"<td class=\"num\">{passed} of {n}</td>", page), test
    for student, why in UNGRADABLE.items():
        assert f'<th scope="row">{student}</th><td>' in page and html.escape(why) in page
    assert "<h2>Missing submissions</h2>\n<p>absent</p>" in page
    assert 'role="img"' in page and "<title id=\"hist-title\">" in page
    assert "<script" not in page and "http" not in page.split("<body>")[0]   # self-contained
    with open(course / "reports" / f"{PS}-mistakes.csv", newline="") as f:
        mistakes = list(csv.DictReader(f))
    assert [(m["cell"], m["students"], m["count"]) for m in mistakes] == [("test_adam_update", "deleted edited partial", "3")]
    assert mistakes[0]["mistake"].startswith("bias correction is missing")


def test_report_and_feedback_in_chromium(graded):
    reason = labdriver.missing_browser()
    if reason:
        pytest.skip(reason)
    ARTIFACTS.mkdir(exist_ok=True)
    report = graded["course"] / "reports" / f"{PS}.html"
    with labdriver.chromium_page(viewport={"width": 1000, "height": 900}) as page:
        outside = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                   else (outside.append(r.request.url), r.abort()))
        page.goto(report.as_uri())
        assert page.locator("h1").inner_text().startswith(PS)
        box = page.locator("svg[role=img]").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
        assert page.locator("svg[role=img] rect").count() == 11
        page.screenshot(path=str(ARTIFACTS / f"grading-report-{PS}.png"), full_page=True)
        page.goto(feedback_page(graded, "partial").as_uri())
        page.wait_for_function("document.querySelectorAll('mjx-container').length > 5", timeout=20_000)
        wide = page.evaluate("Math.max(...[...document.querySelectorAll('pre')].map(e => e.scrollWidth - e.clientWidth))")
        assert wide <= 1, "an output line runs off the page"
        page.screenshot(path=str(ARTIFACTS / f"feedback-partial-{PS}.png"), full_page=True)
        assert outside == []   # nothing fetched from the network
