"""Settings for the whole test run (tests/ and the notebooks nbval collects)."""

import os
import pathlib
import shutil
import sys
import tempfile

import pytest
from nbval.plugin import IPyNbFile

REPO = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "tests"))
import legibility_probe  # noqa: E402

# Each notebook's kernel, under nbval, records the texts of its figures (tests/legibility_probe.py)
# in this folder; tests/test_legibility.py reads them instead of running every notebook again.
LEGIBILITY_DIR = legibility_probe.LOG_DIR


def pytest_configure(config):
    if LEGIBILITY_DIR not in os.environ:          # xdist's workers inherit the controller's folder
        os.environ[LEGIBILITY_DIR] = tempfile.mkdtemp(prefix="optlessons-legibility-")
        config._legibility_dir_made = os.environ[LEGIBILITY_DIR]


def pytest_unconfigure(config):
    made = getattr(config, "_legibility_dir_made", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
        del os.environ[LEGIBILITY_DIR]


def _probe_the_kernel(notebook):
    """Make nbval's notebook collector install the legibility probe in its kernel before the first
    cell (not stored in history: execution counts and outputs are as without it), and mark the
    log complete once every cell has passed."""
    log, complete = legibility_probe.logs_of(notebook.fspath)
    setup, teardown = notebook.setup, notebook.teardown
    probe = REPO / "tests" / "legibility_probe.py"

    def probed_setup():
        setup()
        log.unlink(missing_ok=True)
        complete.unlink(missing_ok=True)
        code = ("import importlib.util as _u\n"
                f"_s = _u.spec_from_file_location('legibility_probe', {str(probe)!r})\n"
                "_m = _u.module_from_spec(_s); _s.loader.exec_module(_m)\n"
                f"_m.install({str(log)!r})\n"
                "del _u, _s, _m")
        notebook.kernel.await_idle(notebook.kernel.execute_cell_input(code, allow_stdin=False), 60)

    def probed_teardown():
        if not notebook._legibility_failed:
            complete.touch()
        teardown()

    notebook._legibility_failed = False
    notebook.setup, notebook.teardown = probed_setup, probed_teardown


def _shared_by(item):
    """What ``item`` shares with other tests and must not be split from under pytest-xdist: its
    notebook (nbval's cells run in order in one kernel; the legibility and figure-label tests read
    what that kernel recorded) and every fixture of this repository wider than one test (a hub, a
    graded class, a built site: built once, on one worker)."""
    if isinstance(item.parent, IPyNbFile):
        yield f"notebook:{item.parent.path.stem}"
    params = getattr(item, "callspec", None) and item.callspec.params
    if params and "legibility_notebook" in params:
        yield f"notebook:{pathlib.Path(params['legibility_notebook']).stem}"
    fixtures = getattr(item, "_fixtureinfo", None)          # nbval's cells have none
    for name, definitions in (fixtures.name2fixturedefs.items() if fixtures else ()):
        definition = definitions[-1]
        code = getattr(definition.func, "__code__", None)
        where = pathlib.Path(code.co_filename if code else "/")
        if definition.scope != "function" and (where.parent == REPO or REPO / "tests" in where.parents):
            yield f"{where.stem}.{name}"


def _xdist_groups(items):
    """Mark each test with ``xdist_group``: tests that share something (``_shared_by``, directly or
    through another test) form one group, which `--dist loadgroup` runs on one worker in collection
    order; a test that shares nothing is free to run on any worker."""
    root = {}

    def find(key):
        while root.setdefault(key, key) != key:
            key = root[key] = root[root[key]]
        return key

    shared = {}
    for item in items:
        keys = shared[item] = sorted(set(_shared_by(item)))
        for key in keys[1:]:
            root[find(key)] = find(keys[0])
    for item, keys in shared.items():
        if keys:
            item.add_marker(pytest.mark.xdist_group(find(keys[0])))


@pytest.hookimpl(tryfirst=True)          # before xdist reads the groups
def pytest_collection_modifyitems(items):
    """Notebooks re-run by nbval start a kernel and browser tests start Chromium: both are
    slow (`make test-fast` leaves out everything marked slow). Each notebook's kernel records its
    figures' texts; the notebooks' legibility tests run after every notebook. Tests that share a
    notebook or a wide fixture are grouped for pytest-xdist (`_xdist_groups`)."""
    probed = set()
    for item in items:
        if ".ipynb" in item.nodeid or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
        if isinstance(item.parent, IPyNbFile) and item.parent not in probed:
            probed.add(item.parent)
            _probe_the_kernel(item.parent)
    items.sort(key=lambda item: bool(getattr(item, "callspec", None)
                                      and "legibility_notebook" in item.callspec.params))
    _xdist_groups(items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.failed and hasattr(item.parent, "_legibility_failed"):
        item.parent._legibility_failed = True
