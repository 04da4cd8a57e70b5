"""Findings of the third adversarial review (attack3), each a minimal reproduction.

Every test asserts the SECURE behaviour and is marked ``xfail(strict=True)`` while the
defect it documents is open: when one is mended its test passes, the strict xfail then
fails, and the marker should be removed so the test guards the fix.

Grading findings use one small class of problem set 3, graded with the documented
command (`grade.py all`) in the real sandbox, as tests/test_grading_attacks.py does.
"""

from __future__ import annotations

import copy
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

from test_exercises import filled_release, grade_id

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "exercises"
PS = "ps3_momentum_rmsprop_adam"
CELL_TIMEOUT = 8
SANDBOX = importlib.util.find_spec("courseops.grading") is not None and shutil.which("bwrap") is not None
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason="needs the grading sandbox and bubblewrap")

# Values that appear only in the hidden cases of check_adam_update (source notebook), never
# in the visible ones (optlessons.checks.ps3.ADAM_VISIBLE).
HIDDEN_BETAS = ("(0.95, 0.98)", "(0.7, 0.9)", "(0.0, 0.5)")

# The full Adam, wrapped: every call's hyper-parameters are kept in a global of the
# learner process; a cell after the test cell prints them (outside the hidden-case window).
STASH = ("\n_SEEN = []\n_adam_update_real = adam_update\n"
         "def adam_update(param, grad, state, **hyper):\n"
         "    _SEEN.append((param.shape, sorted(hyper.items())))\n"
         "    return _adam_update_real(param, grad, state, **hyper)\n")
STASH_PRINT = "for _s in _SEEN:\n    print('STASHED', _s)\n"

# Many learner cells, each printing just under the 1 MiB cap on one output.
FLOOD_CELLS = 24
FLOOD = "print('x' * 1_000_000)\n"


def _add_after(nb, gid, source):
    at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))


def _submissions(course):
    full = filled_release(course, PS, f"{PS}.ipynb")
    stash = copy.deepcopy(full)
    next(c for c in stash.cells if grade_id(c) == "adam_update").source += STASH
    _add_after(stash, "test_adam_update", STASH_PRINT)
    flood = copy.deepcopy(full)
    for _ in range(FLOOD_CELLS):
        _add_after(flood, "imports", FLOOD)
    return {"stash": stash, "flood": flood}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write(f"\nc.ExecutePreprocessor.timeout = {CELL_TIMEOUT}\nc.Execute.timeout = {CELL_TIMEOUT}\n")
    shutil.copytree(COURSE / "source" / PS, course / "source" / PS)
    shutil.copytree(COURSE / "release" / PS, course / "release" / PS)
    for student, nb in _submissions(course).items():
        path = course / "submitted" / student / PS / f"{PS}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, str(COURSE / "grade.py"), "--course", str(course), "all", PS],
                          env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course


def _page(course, student):
    path = course / "feedback" / student / PS / f"{PS}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


@needs_sandbox
@pytest.mark.slow
@pytest.mark.timeout(1700)
def test_hidden_cases_stored_during_the_check_do_not_reach_the_feedback(graded):
    text = _page(graded, "stash")
    assert "STASHED" in text                                  # the later cell ran and printed
    assert not [b for b in HIDDEN_BETAS if b in text], "hidden cases' hyper-parameters in the feedback"


@needs_sandbox
@pytest.mark.slow
@pytest.mark.timeout(1700)
def test_the_outputs_of_one_submission_are_bounded_in_total(graded):
    notebook = graded / "autograded" / "flood" / PS / f"{PS}.ipynb"
    assert notebook.stat().st_size < 8 * 2**20, f"{notebook.stat().st_size / 2**20:.0f} MiB"


# --------------------------------------------------------------------------- the exchange

@pytest.fixture
def student():
    """A learner's Unix account (no home), removed afterwards: the exchange checks real owners."""
    if os.geteuid() != 0:
        pytest.skip("learners' files need real Unix users: run as root")
    pytest.importorskip("nbgrader")
    import secrets as secrets_module
    name = f"olt_{secrets_module.token_hex(3)}_s"
    subprocess.run(["useradd", "--no-create-home", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def test_a_submission_cannot_predate_its_own_folder(student, tmp_path, caplog, monkeypatch):
    import datetime
    from test_exchange import collect, submission
    inbound = tmp_path / "exchange" / "c" / "inbound"
    inbound.mkdir(parents=True)
    made = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    submission(inbound, student, stamp="2026-01-01 09:00:00.000000 UTC")   # "before the due date"
    collect(tmp_path, caplog, monkeypatch)
    collected = (tmp_path / "course" / "submitted" / student / "ps1" / "timestamp.txt").read_text().strip()
    when = datetime.datetime.strptime(collected, "%Y-%m-%d %H:%M:%S.%f UTC")
    assert when >= made - datetime.timedelta(seconds=5), f"collected as submitted at {collected}"


def test_a_file_rewritten_in_an_older_submission_dates_it_anew(student, tmp_path, caplog, monkeypatch):
    """A folder made (and dated) in time, whose notebook is rewritten in place later: the folder's
    own ctime does not move, the file's does, and the collected time follows the file."""
    import datetime
    import time
    from test_exchange import A, collect, submission
    from courseops.exchange import utc
    inbound = tmp_path / "exchange" / "c" / "inbound"
    inbound.mkdir(parents=True)
    folder = submission(inbound, student, stamp="2026-01-01 09:00:00.000000 UTC")
    time.sleep(0.05)
    with open(folder / f"{A}.ipynb", "r+") as f:            # in place: no entry of the folder changes
        f.write('{"cells": [] }')
    rewritten = utc((folder / f"{A}.ipynb").stat().st_ctime_ns)
    assert utc(folder.stat().st_ctime_ns) < rewritten
    collect(tmp_path, caplog, monkeypatch)
    collected = (tmp_path / "course" / "submitted" / student / A / "timestamp.txt").read_text()
    assert datetime.datetime.strptime(collected, "%Y-%m-%d %H:%M:%S.%f UTC") >= rewritten
    assert f"{student}: timestamp.txt says 2026-01-01 09:00:00.000000 UTC, but the submission last changed" \
        in caplog.text


# --------------------------------------------------------------------------- pages the instructor opens

# Markdown links the sanitizer let through as `javascript:` URLs (a pattern on the markdown
# spared `scheme://` and needed a literal `:`; nbconvert's renderer allows harmful protocols).
# Mended: the sanitizer renders the markdown as nbconvert does and checks the HTML's URLs.
JS_LINKS = {
    "comment": "[see my derivation](javascript://%0Aalert(document.domain))",
    "entity": "[see my derivation](java&#115;cript:alert(document.domain))",
    "colon": "[see my derivation](javascript&colon;alert(document.domain))",
    "reference": "[see my derivation][d]\n\n[d]: javascript://%0Aalert(document.domain)",
}


@pytest.mark.parametrize("name", sorted(JS_LINKS))
def test_markdown_links_render_no_javascript_url(name):
    from nbconvert import HTMLExporter
    from courseops.sanitize import SanitizeSubmission
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(JS_LINKS[name])])
    exporter = HTMLExporter(template_name="lab")
    exporter.register_preprocessor(SanitizeSubmission(), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    hrefs = re.findall(r'href\s*=\s*"([^"]*)"', body)
    assert not [h for h in hrefs if html.unescape(h).strip().lower().startswith("javascript")], \
        [h for h in hrefs if "javascript" in html.unescape(h).lower()]


def test_the_formgrader_view_renders_no_javascript_url():
    pytest.importorskip("nbgrader")
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    c = Config()
    c.HTMLExporter.template_name = "formgrade"                 # as nbgrader's formgrader configures it
    c.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    c.HTMLExporter.preprocessors = ["courseops.sanitize.SanitizeSubmission"]   # hub/nbgrader_config.py
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(JS_LINKS["comment"])])
    resources = {"base_url": "/", "assignment_id": PS, "notebook_id": PS, "submission_id": "s", "index": 0,
                 "total": 1, "student": "ada", "last_name": "", "first_name": "", "notebook_path": "x"}
    body, _ = HTMLExporter(config=c).from_notebook_node(nb, resources=resources)
    assert not re.findall(r'href="\s*javascript', body, re.IGNORECASE)


# --------------------------------------------------------------------------- the hub's disk

@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mkfs.ext4"),
                    reason="needs a real Unix user and a loop mount: run as root, with e2fsprogs")
def test_a_learner_fills_only_the_exchanges_own_file_system():
    """What is enforced: the exchange is a file system of its own (an image of exchange_bytes,
    its blocks reserved on the hub's disk when made, on another device than the hub's state);
    a learner writing without bound stops at its size. One learner can still fill the exchange
    for everyone (docs/instructors.md: how to see who, and clear it)."""
    import secrets as secrets_module
    import tempfile
    sys.path.insert(0, str(ROOT / "hub"))
    try:
        from workshop import Settings, ensure_exchange, exchange_image, unmount_exchange
    finally:
        sys.path.remove(str(ROOT / "hub"))
    user = f"olt_{secrets_module.token_hex(3)}_fill"
    top = Path(tempfile.mkdtemp(prefix="attack3-exchange-"))        # the learner reaches it (not tmp_path's 0700)
    top.chmod(0o755)
    s = Settings(exchange=top / "srv" / "exchange", state=top / "srv" / "state", exchange_bytes=32 * 2**20)
    s.state.mkdir(parents=True)
    subprocess.run(["useradd", "--no-create-home", user], check=True)
    try:
        ensure_exchange(s)
        assert exchange_image(s).stat().st_blocks * 512 >= s.exchange_bytes        # reserved when made
        assert os.stat(s.exchange).st_dev != os.stat(s.state).st_dev
        fill = s.exchange / "mine" / "fill"
        r = subprocess.run(["runuser", "-u", user, "--", "sh", "-c",
                            f"mkdir {fill.parent} && head -c {2 * s.exchange_bytes} /dev/zero > {fill}"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and "No space left" in r.stderr, r.stderr
        assert 0 < fill.stat().st_size <= s.exchange_bytes
        unmount_exchange(s)                                     # a reboot: start mounts it again
        assert not fill.exists()
        ensure_exchange(s)
        assert fill.exists() and s.exchange.stat().st_mode & 0o7777 == 0o1777
    finally:
        unmount_exchange(s)
        shutil.rmtree(top, ignore_errors=True)
        subprocess.run(["userdel", user], check=False, capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts: run as root")
def test_an_exchange_left_on_the_hubs_disk_is_not_hidden_under_a_mount(tmp_path):
    sys.path.insert(0, str(ROOT / "hub"))
    try:
        from workshop import Settings, ensure_exchange, exchange_image
    finally:
        sys.path.remove(str(ROOT / "hub"))
    s = Settings(exchange=tmp_path / "exchange", exchange_bytes=32 * 2**20)
    (s.exchange / "optlessons" / "inbound").mkdir(parents=True)
    with pytest.raises(SystemExit, match="is not empty and has no file system of its own"):
        ensure_exchange(s)
    assert not os.path.ismount(s.exchange) and not exchange_image(s).exists()
