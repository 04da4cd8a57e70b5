"""courseops.exchange: collect and feedback release trust no learner's folder.

Each odd folder (findings 1 and 3 of issue 20: links to the instructor's files, a
FIFO, a link loop, a bad timestamp, too big, too many files, no secret, someone
else's file) makes only its own student `ungradable: <why>`; the honest students
beside it are collected, and nothing of the instructor's is copied.
"""

import json
import logging
import os
import pwd
import secrets
import subprocess
import sys

import pytest

pytest.importorskip("nbgrader")
from courseops.exchange import BadFolder, FolderCopy, SafeCollect, SafeReleaseFeedback  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="learners' files need real Unix users: run as root")

STAMP = "2026-12-07 21:04:39.123456 UTC"
A = "ps1"


@pytest.fixture(scope="module")
def users():
    """Real Unix users olt_<tag>_<case>, removed afterwards."""
    tag = secrets.token_hex(3)
    made = []

    def make(case: str) -> str:
        name = f"olt_{tag}_{case}"
        subprocess.run(["useradd", "--no-create-home", name], check=True)
        made.append(name)
        return name
    try:
        yield make
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False, capture_output=True)


def submission(inbound, student, stamp=STAMP, name=None):
    """A well-formed submission folder of `student` (owned by them), as `nbgrader submit` writes."""
    folder = inbound / (name or f"{student}+{A}+{stamp}+{secrets.token_hex(4)}")
    (folder / "sub").mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text('{"cells": []}')
    (folder / "sub" / "data.txt").write_text("mine")
    (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text(secrets.token_hex(64))
    chown_tree(folder, student)
    return folder


def chown_tree(folder, student):
    uid = pwd.getpwnam(student).pw_uid
    for root, dirs, files in os.walk(folder):
        for p in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(p, uid, uid)


def collect(tmp_path, caplog, monkeypatch):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    c = Config()
    c.Exchange.root = str(tmp_path / "exchange")
    c.CourseDirectory.root = str(tmp_path / "course")
    c.CourseDirectory.course_id = "c"
    c.CourseDirectory.assignment_id = A
    c.SafeCollect.max_bytes = 2**20
    c.SafeCollect.max_files = 50
    (tmp_path / "course").mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")   # alembic
    app = SafeCollect(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c)
    app.log = logging.getLogger("collect-test")
    with caplog.at_level(logging.INFO, logger="collect-test"):
        app.start()
    return app


def test_each_odd_folder_is_its_students_ungradable_and_the_honest_are_collected(tmp_path, users, caplog, monkeypatch):
    inbound = tmp_path / "exchange" / "c" / "inbound"
    inbound.mkdir(parents=True)
    secret_src = tmp_path / "instructor-source.ipynb"            # what a link would steal
    secret_src.write_text("SOLUTION")
    honest = [users("ok1"), users("ok2")]
    for s in honest:
        submission(inbound, s)
    odd = {}

    def case(name, why, edit=None, after=None, **kw):
        student = users(name)
        folder = submission(inbound, student, **kw)
        if edit:
            edit(folder)
            chown_tree(folder, student)
        if after:
            after(folder)
        odd[student] = why

    case("link", "a symbolic link", lambda f: os.symlink(secret_src, f / "source.ipynb"))
    case("dirlink", "a symbolic link", lambda f: os.symlink(tmp_path, f / "source"))
    case("shadow", "a symbolic link", lambda f: os.symlink("/etc/shadow", f / "sub" / "x"))
    case("loop", "a symbolic link", lambda f: (os.symlink("b", f / "a"), os.symlink("a", f / "b")))
    case("fifo", "a FIFO", lambda f: os.mkfifo(f / "pipe"))
    case("big", "more than 1 MiB", lambda f: (f / "big.bin").write_bytes(b"0" * (2**20 + 1)))
    case("many", "more than 50 files", lambda f: [(f / f"f{i}").write_text("") for i in range(60)])
    case("deep", "nested more than", lambda f: os.makedirs(f / "/".join("d" * 20)))
    case("nosecret", "submission_secret.txt cannot be read", lambda f: (f / "submission_secret.txt").unlink())
    case("badtxt", "timestamp.txt is not a timestamp", lambda f: (f / "timestamp.txt").write_text("soon"))
    case("badname", "the folder name's timestamp is not a timestamp", stamp="yesterday")
    case("month13", "is not a valid date", stamp="2026-13-07 21:04:39.123456 UTC")
    case("foreign", "sub/data.txt belongs to root", after=lambda f: os.lchown(f / "sub" / "data.txt", 0, 0))

    app = collect(tmp_path, caplog, monkeypatch)
    submitted = tmp_path / "course" / "submitted"
    assert sorted(os.listdir(submitted)) == sorted(honest)
    for s in honest:
        assert (submitted / s / A / "sub" / "data.txt").read_text() == "mine"
    assert set(app.ungradable) == set(odd)
    for student, why in odd.items():
        assert why in app.ungradable[student], (student, app.ungradable[student])
        assert f"ungradable: {student}: " in caplog.text
    assert f"collected 2 of {2 + len(odd)} students; ungradable: " in caplog.text
    assert "SOLUTION" not in "".join(p.read_text(errors="replace") for p in submitted.rglob("*") if p.is_file())


def test_a_newer_odd_folder_cannot_hide_the_students_good_one(tmp_path, users, caplog, monkeypatch):
    inbound = tmp_path / "exchange" / "c" / "inbound"
    inbound.mkdir(parents=True)
    student = users("two")
    good = submission(inbound, student, stamp="2026-12-07 10:00:00.000000 UTC")
    newer = submission(inbound, student, stamp="2026-12-07 11:00:00.000000 UTC")
    os.mkfifo(newer / "pipe")
    collect(tmp_path, caplog, monkeypatch)
    assert (tmp_path / "course" / "submitted" / student / A / "submission_secret.txt").read_text() == \
        (good / "submission_secret.txt").read_text()


def test_a_link_swapped_in_after_the_check_is_not_followed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ipynb").write_text("{}")
    copier = FolderCopy(None, 2**20, 10)
    real_check = copier._check

    def swap_after_check(st, name, folder):   # the learner replaces the file between lstat and open
        real_check(st, name, folder)
        if name.endswith("a.ipynb"):
            (src / "a.ipynb").unlink()
            os.symlink("/etc/shadow", src / "a.ipynb")
    copier._check = swap_after_check
    with pytest.raises(BadFolder, match="cannot be read|changed while"):
        copier.copy(str(src), str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()


def test_feedback_release_skips_a_student_without_a_secret_and_releases_the_others(tmp_path, caplog):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    for student, secret in (("good", secrets.token_hex(64)), ("nosecret", None), ("linked", "link")):
        folder = tmp_path / "course" / "feedback" / student / A
        (folder / "mathjax").mkdir(parents=True)
        (folder / "mathjax" / "tex-svg.js").write_text("window.MJ = 1;")
        (folder / f"{A}.html").write_text(f'<script defer src="mathjax/tex-svg.js"></script><p>{student}</p>')
        (folder / "timestamp.txt").write_text(STAMP)
        if secret == "link":
            os.symlink("/etc/shadow", folder / "submission_secret.txt")
        elif secret:
            (folder / "submission_secret.txt").write_text(secret)
    (tmp_path / "exchange").mkdir(mode=0o1777)
    os.chmod(tmp_path / "exchange", 0o1777)
    c = Config()
    c.Exchange.root = str(tmp_path / "exchange")
    c.CourseDirectory.root = str(tmp_path / "course")
    c.CourseDirectory.course_id = "c"
    c.CourseDirectory.assignment_id = A
    app = SafeReleaseFeedback(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c)
    app.log = logging.getLogger("release-test")
    with caplog.at_level(logging.INFO, logger="release-test"):
        app.start()
    released = list((tmp_path / "exchange" / "c" / "feedback").glob("*.html"))
    assert [p.read_text() for p in released] == ["<script>window.MJ = 1;</script><p>good</p>"]  # maths offline
    assert released[0].stat().st_mode & 0o777 == 0o644           # the learner's fetch reads it
    assert "released 1 feedback pages; not released: linked (" in caplog.text and "nosecret (" in caplog.text


def test_submitting_the_release_unchanged_is_refused_with_where_to_work(tmp_path, monkeypatch):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.abc.exchange import ExchangeError
    from traitlets.config import Config

    from courseops.exchange import PrivateSubmit

    release = tmp_path / "exchange" / "c" / "outbound" / A
    release.mkdir(parents=True)
    (tmp_path / "exchange" / "c" / "inbound").mkdir(mode=0o777)
    os.chmod(tmp_path / "exchange", 0o1777)
    os.chmod(tmp_path / "exchange" / "c" / "inbound", 0o1733)
    notebook = '{"cells": [{"cell_type": "code", "source": "# YOUR CODE HERE", "metadata": {}, "outputs": []}], ' \
               '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    (release / f"{A}.ipynb").write_text(notebook)
    home = tmp_path / "home"
    (home / A).mkdir(parents=True)
    (home / A / f"{A}.ipynb").write_text(notebook)
    monkeypatch.chdir(home)
    c = Config()
    c.Exchange.root = str(tmp_path / "exchange")
    c.CourseDirectory.course_id = "c"
    c.CourseDirectory.assignment_id = A
    c.Exchange.assignment_dir = str(home)
    app = PrivateSubmit(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c)
    with pytest.raises(ExchangeError, match="unchanged from the release. Work in this fetched copy"):
        app.start()
    assert os.listdir(tmp_path / "exchange" / "c" / "inbound") == []
    (home / A / f"{A}.ipynb").write_text(notebook.replace("# YOUR CODE HERE", "x = 1"))
    PrivateSubmit(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c).start()
    [folder] = os.listdir(tmp_path / "exchange" / "c" / "inbound")
    assert os.stat(tmp_path / "exchange" / "c" / "inbound" / folder).st_mode & 0o777 == 0o750


def test_after_a_fetch_the_courses_link_leads_to_the_fetched_copy(tmp_path, monkeypatch):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from courseops.exchange import LinkedFetch

    release = tmp_path / "exchange" / "c" / "outbound" / A
    release.mkdir(parents=True)
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    (release / f"{A}.ipynb").write_text(notebook)
    home = tmp_path / "home"
    for student_copy in (home / "exercises" / "release" / A, home / "exercises" / "release" / "ps2"):
        student_copy.mkdir(parents=True)
        (student_copy / f"{A}.ipynb").write_text(notebook)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    c = Config()
    c.Exchange.root = str(tmp_path / "exchange")
    c.CourseDirectory.course_id = "c"
    c.CourseDirectory.assignment_id = A
    c.Exchange.assignment_dir = str(home)
    LinkedFetch(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c).start()
    link = home / "exercises" / "release" / A
    assert link.is_symlink() and link.resolve() == (home / A).resolve()
    assert (link / f"{A}.ipynb").read_text() == notebook


def test_a_collected_notebook_is_rewritten_inert(tmp_path, users, caplog, monkeypatch):
    """What a learner wrote reaches submitted/ without script, whichever tool renders it later."""
    student = users("inert")
    inbound = tmp_path / "exchange" / "c" / "inbound"
    folder = submission(inbound, student)
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": '<img src=x onerror="XSS()"> my answer'},
                    {"cell_type": "code", "metadata": {"tags": ['x"><script>']}, "execution_count": 1, "source": "x = 1",
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {"text/html": "<script>XSS()</script><b>shown</b>",
                                           "application/javascript": "XSS()"}}]}],
          "metadata": {"title": "<script>XSS()</script>"}, "nbformat": 4, "nbformat_minor": 5}
    (folder / f"{A}.ipynb").write_text(json.dumps(nb))
    (folder / "notes.ipynb").write_text("not json <script>")            # not a notebook: left as text
    chown_tree(folder, student)
    collect(tmp_path, caplog, monkeypatch)
    submitted = tmp_path / "course" / "submitted" / student / A
    text = (submitted / f"{A}.ipynb").read_text()
    assert "my answer" in text and "shown" in text and "x = 1" in text
    assert not any(word in text for word in ("onerror", "<script", "application/javascript", "title"))
    assert (submitted / "notes.ipynb").read_text() == "not json <script>"


def release_app(tmp_path):
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from courseops.exchange import CheckedRelease

    c = Config()
    c.Exchange.root = str(tmp_path / "exchange")
    c.CourseDirectory.root = str(tmp_path / "course")
    c.CourseDirectory.course_id = "c"
    c.CourseDirectory.assignment_id = A
    return CheckedRelease(coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c)


def test_release_before_generate_or_after_the_source_changed_is_refused_with_a_sentence(tmp_path):
    from nbgrader.exchange.abc.exchange import ExchangeError

    source, release = tmp_path / "course" / "source" / A, tmp_path / "course" / "release" / A
    source.mkdir(parents=True)
    (source / f"{A}.ipynb").write_text("{}")
    with pytest.raises(ExchangeError, match=f"{A} has not been generated yet, so there is nothing to release: "
                                            f"press Generate for {A}"):
        release_app(tmp_path).start()
    release.mkdir(parents=True)
    (release / f"{A}.ipynb").write_text("{}")
    os.utime(source / f"{A}.ipynb", (2e9, 2e9))                      # edited after the release was generated
    with pytest.raises(ExchangeError, match=f"{A}'s source {A}.ipynb changed after {A} was generated"):
        release_app(tmp_path).start()
    os.utime(release / f"{A}.ipynb", (2e9 + 1, 2e9 + 1))
    (source / "extra.ipynb").write_text("{}")
    os.utime(source / "extra.ipynb", (1e9, 1e9))
    with pytest.raises(ExchangeError, match=f"{A} was generated before extra.ipynb was added to its source"):
        release_app(tmp_path).start()
    (release / "extra.ipynb").write_text("{}")
    release_app(tmp_path).start()                                    # generated and up to date: released
    assert (tmp_path / "exchange" / "c" / "outbound" / A / f"{A}.ipynb").exists()
