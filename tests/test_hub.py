"""The workshop hub (hub/), end to end, attacked, and in a browser.

One hub for the module, on free loopback ports, with its own state folder and
exchange under /srv/olt-hub-*, and four real Unix users `olt_<random>_{i,s1,s2,s3}`
(an instructor, three students) that are deleted afterwards, homes and
processes included, whatever happens. The course environment is the one
`make hub-install` builds (/opt/optlessons): the tests install nothing.

The exchange flow runs once (fixture `flow`) over the hub's REST API: log in
through the login form, spawn, release (formgrader), fetch, edit (contents
API), submit (assignment list), collect (formgrader), autograde and feedback
(exercises/grade.py, typed into a terminal of the instructor's JupyterLab),
release feedback (formgrader), fetch feedback. Student 1 submits every
solution (12/12), student 2 the release unchanged (0), student 3 only `mse`
(2); student 2 also forges a submission as student 1, which collection must
refuse.

Skipped, with the reason, when not root, or when `make hub-install` has not
been run (the course environment, the proxy from npm), or bubblewrap is
missing. Run it alone: `pytest tests/test_hub.py -p no:randomly`.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import pathlib
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hub"))
import workshop  # noqa: E402
from hubclient import temporary_hub  # noqa: E402

pytest.importorskip("jupyterhub", reason="JupyterHub is not installed here (`make hub-install` installs it)")
from limits import LearnerCgroup  # noqa: E402

from live_html import MARKDOWN_PAYLOADS, OUTPUT_BUNDLES, PNG, live_parts  # noqa: E402
from scripts import labdriver  # noqa: E402
from scripts.labdriver import ARTIFACTS, PANEL  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ASSIGNMENT = "ps1_losses_gradients"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
SOLVED = {"s1": "all", "s2": (), "s3": ("mse",)}      # which solution cells each student fills
# Student 2's extra cell: at autograde it tries to write outside the grading sandbox.
ESCAPE = """import pathlib
for target in {targets!r}:
    try:
        pathlib.Path(target).write_text("written by a student's code at autograde")
    except OSError:
        pass
"""
EXPECTED = {"s1": 12.0, "s2": 0.0, "s3": 2.0}         # mse's test is worth 2 of 12 points
# Student 2's stored-XSS payloads (issue 20, finding 2; tests/live_html.py): markdown cells (raw
# HTML, SVG, MathML, script URLs, attachments named to break out of an attribute), outputs of
# every rich type made by code at autograde, and a notebook title.
XSS_OUTPUT = f"from IPython.display import display\nfor bundle in {OUTPUT_BUNDLES!r}:\n    display(bundle, raw=True)"
LEARNER_MEMORY, LEARNER_CPU = 1536 * 2**20, 1.0       # the test hub's per-learner cgroup limits


def missing_requirement() -> str | None:
    """Why this machine cannot run the hub tests, or None."""
    installed = workshop.Settings()
    if os.geteuid() != 0:
        return "the hub tests create Unix users and run JupyterHub as root: run them as root"
    if not shutil.which("npm"):
        return "npm is missing (`apt-get install npm`), so configurable-http-proxy cannot be installed"
    if not shutil.which("bwrap"):
        return "bubblewrap is missing (`apt-get install bubblewrap`): autograding needs its sandbox"
    if not (workshop.HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        return "configurable-http-proxy is not installed in hub/node_modules: run `make hub-install`"
    if not (installed.venv / "bin" / "jupyterhub-singleuser").exists():
        return f"no course environment in {installed.venv}: run `make hub-install`"
    if not os.path.ismount(installed.exchange):
        return (f"{installed.exchange} has no file system of its own: run `make hub-install` (it loop-mounts "
                f"one; a machine without loop devices cannot)")
    return None


@pytest.fixture(scope="module")
def hub():
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    roster = [(f"olt_{tag}_i", "instructor")] + [(f"olt_{tag}_s{k}", "student") for k in (1, 2, 3)]
    with temporary_hub(roster, cull_idle=3600, learner_memory=LEARNER_MEMORY, learner_cpu=LEARNER_CPU,
                       start_timeout=400) as client:
        client.tag = tag
        client.instructor, client.students = client.instructors[0], client.users[1:]
        yield client


def solved_copy(released: dict, which) -> dict:
    """The released notebook with the source notebook's solution in the cells `which` names."""
    source = json.loads((REPO / "exercises" / "source" / NOTEBOOK).read_text())
    solutions = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
                 if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in released["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in solutions and (which == "all" or gid in which):
            cell["source"] = solutions[gid]
    return released


def escape_targets(hub) -> list[str]:
    """Where student 2's code tries to write at autograde: the exchange and the instructor's course
    (both writable by the instructor; /tmp is private to each learner's server)."""
    course = pathlib.Path(pwd.getpwnam(hub.instructor).pw_dir) / "course"
    return [str(hub.s.exchange / "escaped.txt"), str(course / "escaped.txt")]


def ok(response) -> dict:
    """The JSON body of an nbgrader REST answer, which says 200 even when it failed."""
    assert response.status_code == 200, (response.status_code, response.text[:500])
    body = response.json()
    assert not (isinstance(body, dict) and body.get("success") is False), body
    return body


@pytest.fixture(scope="module")
def flow(hub):
    """release → fetch → edit → submit (and a forgery) → collect → autograde → feedback."""
    inst, students = hub.instructor, hub.students
    short = dict(zip(students, ("s1", "s2", "s3")))
    for user in [inst, *students]:
        _, r = hub.login(user, hub.passwords[user])
        assert r.status_code == 302, (user, r.status_code)
    hub.spawn(inst, *students)
    fg = f"/user/{inst}/formgrader/api"
    ok(hub.as_user(inst, "POST", f"{fg}/assignment/{ASSIGNMENT}/assign"))
    ok(hub.as_user(inst, "POST", f"{fg}/assignment/{ASSIGNMENT}/release"))
    course = {"course_id": hub.s.course_id, "assignment_id": ASSIGNMENT}
    for user in students:
        listed = ok(hub.as_user(user, "POST", f"/user/{user}/assignments/fetch", data=course))
        assert [a["status"] for a in listed["value"]] == ["fetched"], listed
        model = ok(hub.as_user(user, "GET", f"/user/{user}/api/contents/{NOTEBOOK}"))
        edited = solved_copy(model["content"], SOLVED[short[user]])
        if short[user] == "s2":
            edited["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [],
                                    "execution_count": None, "source": ESCAPE.format(targets=escape_targets(hub))})
            edited["cells"] += [{"cell_type": "markdown", "metadata": {}, "source": m} for m in MARKDOWN_PAYLOADS]
            for cell in edited["cells"]:
                if "attachment:" in cell["source"]:
                    cell["attachments"] = {"x\"onerror=\"document.title='XSS'.png": {"image/png": PNG},
                                           "fine.png": {"image/png": PNG}}
            edited["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                    "source": XSS_OUTPUT})
            edited["metadata"]["title"] = "</title><script>document.title='XSS'</script>"
        r = hub.as_user(user, "PUT", f"/user/{user}/api/contents/{NOTEBOOK}",
                        json={"type": "notebook", "format": "json", "content": edited})
        assert r.status_code == 200, r.text
        ok(hub.as_user(user, "POST", f"/user/{user}/assignments/submit", data=course))
    # Student 2 forges a newer submission in student 1's name, from the command line.
    forged = hub.run_as(students[1], ["nbgrader", "submit", ASSIGNMENT, f"--student={students[0]}",
                                      f"--course={hub.s.course_id}"])
    assert forged.returncode == 0, forged.stderr         # nbgrader itself accepts it
    collect_log = ok(hub.as_user(inst, "POST", f"{fg}/assignment/{ASSIGNMENT}/collect"))["log"]
    # Autograde and feedback as the instructor types them in a terminal of their JupyterLab.
    for step in ("autograde", "feedback"):
        status, out = hub.terminal(inst, f"cd ~/course && python grade.py {step} {ASSIGNMENT}")
        assert status == 0, out
    ok(hub.as_user(inst, "POST", f"{fg}/assignment/{ASSIGNMENT}/release_feedback"))
    for user in students:
        ok(hub.as_user(user, "POST", f"/user/{user}/assignments/fetch_feedback", data=course))
    submissions = ok(hub.as_user(inst, "GET", f"{fg}/submissions/{ASSIGNMENT}"))
    return {"collect_log": collect_log, "scores": {s["student"]: s["score"] for s in submissions}}


# ---- logging in, spawning, the home ----------------------------------------------

def test_login_right_password_302_wrong_403_unknown_user_403(hub):
    student = hub.students[0]
    _, right = hub.login(student, hub.passwords[student])
    _, wrong = hub.login(student, hub.passwords[student] + "x")
    _, other = hub.login(student, hub.passwords[hub.students[1]])   # another's password
    _, unknown = hub.login(f"olt_{hub.tag}_nobody", "whatever")
    _, root = hub.login("root", "whatever")                        # not in the roster's groups
    assert right.status_code == 302 and "/hub/" in right.headers["Location"]
    assert [wrong.status_code, other.status_code, unknown.status_code, root.status_code] == [403] * 4


def test_homes_are_private_and_servers_run_as_their_user_under_limits(hub, flow):
    for user in [hub.instructor, *hub.students]:
        home = pathlib.Path(pwd.getpwnam(user).pw_dir)
        assert home.stat().st_mode & 0o777 == 0o700, user
        pids = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"],
                              capture_output=True, text=True).stdout.split()
        assert pids, f"no server process of {user}"
        limits = pathlib.Path(f"/proc/{pids[0]}/limits").read_text()
        data = next(line for line in limits.splitlines() if line.startswith("Max data size"))
        nproc = next(line for line in limits.splitlines() if line.startswith("Max processes"))
        assert data.split()[3] == str(hub.s.mem_limit), data
        assert nproc.split()[2] == str(hub.s.nproc_limit), nproc


def test_first_spawn_copies_the_course_and_a_respawn_keeps_the_learners_work(hub, flow):
    student = hub.students[2]
    home = pathlib.Path(pwd.getpwnam(student).pw_dir)
    for rel in ["notebooks/00_welcome.ipynb", "notebooks/03_gradient_descent.ipynb"]:
        assert (home / rel).read_bytes() == (REPO / rel).read_bytes(), rel
        assert (home / rel).stat().st_uid == pwd.getpwnam(student).pw_uid
    # notebook 00's link to the problem set leads to the fetched copy, the one Submit sends
    assert (home / "exercises" / "release" / ASSIGNMENT).resolve() == (home / ASSIGNMENT).resolve()
    r = hub.as_user(student, "GET", f"/user/{student}/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].rstrip("?").endswith(
        "/lab/tree/notebooks/00_welcome.ipynb")
    mine = home / "notebooks" / "01_loss_functions.ipynb"
    r = hub.as_user(student, "PUT", f"/user/{student}/api/contents/notebooks/01_loss_functions.ipynb",
                    json={"type": "file", "format": "text", "content": "my work"})
    assert r.status_code == 200, r.text
    (home / "notebooks" / "02_gradients.ipynb").unlink()
    hub.stop_server(student)
    hub.spawn(student)
    assert mine.read_text() == "my work"
    assert (home / "notebooks" / "02_gradients.ipynb").read_bytes() == \
        (REPO / "notebooks" / "02_gradients.ipynb").read_bytes()


def test_students_have_no_formgrader_the_instructor_has(hub, flow):
    student = hub.students[0]
    assert hub.as_user(student, "GET", f"/user/{student}/formgrader/api/assignments").status_code == 404
    r = hub.as_user(hub.instructor, "GET", f"/user/{hub.instructor}/formgrader/api/assignments")
    assert r.status_code == 200 and ASSIGNMENT in r.text


def test_every_page_the_hub_serves_carries_the_csp_and_learner_files_are_sandboxed(hub, flow):
    """The hub's pages, each server's JupyterLab, API, files, nbconvert and the formgrader: one
    Content-Security-Policy (no inline handlers, plugins, foreign base or frame ancestors); a learner's
    HTML served as a file or through nbconvert in a sandbox of its own origin (no same-origin)."""
    inst, s2 = hub.instructor, hub.students[1]
    session, r = hub.login(s2, hub.passwords[s2])
    assert r.status_code == 302
    feedback = next((pathlib.Path(pwd.getpwnam(s2).pw_dir) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    feedback = feedback.relative_to(pwd.getpwnam(s2).pw_dir)
    notebooks = ok(hub.as_user(inst, "GET", f"/user/{inst}/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}"))
    submission = next(n["id"] for n in notebooks if n["student"] == s2)
    submitted = f"course/submitted/{s2}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    welcome = "notebooks/00_welcome.ipynb"
    sandboxed = {f"/user/{s2}/files/{feedback}", f"/user/{s2}/nbconvert/html/{welcome}",
                 f"/user/{inst}/files/{submitted}", f"/user/{inst}/nbconvert/html/{submitted}"}
    routes = [(s2, p) for p in (f"/user/{s2}/lab", f"/user/{s2}/lab/tree/{NOTEBOOK}", f"/user/{s2}/api/contents",
                                f"/user/{s2}/files/{feedback}", f"/user/{s2}/nbconvert/html/{welcome}",
                                f"/user/{s2}/api/nbconvert")]
    routes += [(inst, p) for p in (f"/user/{inst}/lab", f"/user/{inst}/formgrader", f"/user/{inst}/formgrader/gradebook",
                                   f"/user/{inst}/formgrader/manage_assignments", f"/user/{inst}/formgrader/manage_students",
                                   f"/user/{inst}/formgrader/submissions/{submission}/",
                                   f"/user/{inst}/files/{submitted}", f"/user/{inst}/nbconvert/html/{submitted}")]
    answers = [(path, hub.as_user(user, "GET", path)) for user, path in routes]
    answers += [(path, session.get(f"{hub.url}{path}")) for path in
                ("/", "/hub/login", "/hub/home", "/hub/token", f"/hub/spawn-pending/{s2}", "/hub/api/user",
                 "/hub/no-such-page", f"/user/{s2}/no-such-page")]
    for path, r in answers:
        assert r.status_code in (200, 404) and (r.status_code == 404) == ("no-such" in path), (path, r.status_code)
        for step in [*r.history, r]:
            if step.is_redirect:
                continue                         # no page: nothing for a policy to govern
            csp = step.headers.get("Content-Security-Policy", "")
            assert workshop.HUB_CSP in csp, (path, step.url, csp)
            assert ("sandbox allow-scripts" in csp) == (path in sandboxed and step is r), (path, csp)
            assert "allow-same-origin" not in csp


# ---- the exchange flow ----------------------------------------------------------------

def test_release_fetch_submit_collect_autograde_feedback_scores(hub, flow):
    names = dict(zip(hub.students, ("s1", "s2", "s3")))
    assert {names[s]: score for s, score in flow["scores"].items() if s in names} == EXPECTED
    for student in hub.students:
        home = pathlib.Path(pwd.getpwnam(student).pw_dir)
        feedback = list((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        assert len(feedback) == 1, (student, feedback)
        text = feedback[0].read_text()
        assert f"{EXPECTED[names[student]]:g}" in text and "12" in text
        assert feedback[0].stat().st_uid == pwd.getpwnam(student).pw_uid


# ---- attacks: each must fail -----------------------------------------------------------

def test_a_student_cannot_read_another_students_home_or_submission(hub, flow):
    s1, s2 = hub.students[:2]
    home1 = pwd.getpwnam(s1).pw_dir
    for argv in (["cat", f"{home1}/{NOTEBOOK}"], ["ls", home1],
                 ["ls", str(hub.s.exchange / hub.s.course_id / "inbound")],
                 ["ls", str(hub.s.exchange / hub.s.course_id / "feedback")]):
        r = hub.run_as(s2, argv)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (argv, r.stdout)
    # nor through their own server: its contents API stays in their home
    r = hub.as_user(s2, "GET", f"/user/{s2}/api/contents/../{s1}/{NOTEBOOK}")
    assert r.status_code in (403, 404)


def test_a_student_cannot_read_the_instructors_source_or_gradebook_or_the_hubs_secrets(hub, flow):
    course = pathlib.Path(pwd.getpwnam(hub.instructor).pw_dir) / "course"
    assert (course / "gradebook.db").exists() and (course / "source" / NOTEBOOK).exists()
    for target in (course / "gradebook.db", course / "source" / NOTEBOOK,
                   hub.s.prefix / "instructor" / "course" / "source" / NOTEBOOK,
                   hub.s.state / "passwords.csv", hub.s.state / "jupyterhub.sqlite"):
        r = hub.run_as(hub.students[1], ["cat", str(target)])
        assert r.returncode != 0 and "Permission denied" in r.stderr, target


def test_a_submission_forged_in_another_students_name_is_refused_at_collection(hub, flow):
    s1, s2 = hub.students[:2]
    assert re.search(rf"{s1}: collected an older submission; the newer one: {s1}\+{ASSIGNMENT}\+.* "
                     rf"belongs to {s2}, not {s1}", flow["collect_log"]), flow["collect_log"]
    assert flow["scores"][s1] == EXPECTED["s1"]          # student 1's own work was graded


def test_a_token_opens_only_its_own_server_and_no_formgrader(hub, flow):
    s1, s2, inst = hub.students[0], hub.students[1], hub.instructor
    for path in (f"/user/{s2}/api/contents", f"/user/{inst}/api/contents",
                 f"/user/{inst}/formgrader/api/assignments", f"/user/{inst}/formgrader/api/submissions/{ASSIGNMENT}"):
        assert hub.as_user(s1, "GET", path).status_code == 403, path
    r = hub.as_user(s1, "POST", f"/user/{inst}/formgrader/api/assignment/{ASSIGNMENT}/collect")
    assert r.status_code == 403
    # the hub's API hides other users: 404 (JupyterHub does not say whether they exist)
    assert hub.as_user(s1, "DELETE", f"/hub/api/users/{s2}/server").status_code in (403, 404)
    assert hub.as_user(s1, "POST", f"/hub/api/users/{s2}/tokens", json={}).status_code in (403, 404)
    assert hub.admin.get(f"{hub.url}/hub/api/users/{s2}").json()["servers"][""]["ready"]


def test_student_code_cannot_write_outside_the_sandbox_at_autograde(hub, flow):
    sandboxed = subprocess.run([str(hub.s.venv / "bin" / "python"), "-c", "import courseops.grading"],
                               capture_output=True).returncode == 0
    if not sandboxed:
        pytest.skip("the grading sandbox (courseops.grading, issue 11) is not in the course environment "
                    "yet: exercises/grade.py autograde still runs student code as the instructor")
    written = [t for t in escape_targets(hub) if os.path.exists(t)]
    for t in written:
        os.unlink(t)
    assert written == []


def test_the_formgraders_autograde_refuses_and_points_at_grade_py(hub, flow):
    """The button would run student 2's escape cell unsandboxed, as the instructor."""
    inst, s2 = hub.instructor, hub.students[1]
    autograded = pathlib.Path(pwd.getpwnam(inst).pw_dir) / "course" / "autograded" / s2 / ASSIGNMENT
    before = (autograded / f"{ASSIGNMENT}.ipynb").read_bytes()
    r = hub.as_user(inst, "POST", f"/user/{inst}/formgrader/api/submission/{ASSIGNMENT}/{s2}/autograde")
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["success"] is False and "python grade.py autograde" in body["error"], body
    assert (autograded / f"{ASSIGNMENT}.ipynb").read_bytes() == before
    assert [t for t in escape_targets(hub) if os.path.exists(t)] == []


def test_a_student_cannot_rename_or_delete_the_course_in_the_exchange(hub, flow):
    course = hub.s.exchange / hub.s.course_id
    outbound = course / "outbound" / ASSIGNMENT
    for argv in (["mv", str(course), str(hub.s.exchange / "stolen")], ["rm", "-rf", str(course)],
                 ["rm", "-rf", str(outbound)], ["mv", str(outbound), str(outbound) + "-x"],
                 ["touch", str(outbound / "extra.ipynb")]):
        r = hub.run_as(hub.students[1], argv)
        assert r.returncode != 0, argv
    assert hub.s.exchange.stat().st_mode & 0o7777 == 0o1777
    assert (outbound / f"{ASSIGNMENT}.ipynb").exists()


# Written by a student into inbound/: a newer submission folder of their own, with one odd entry.
ODD_FOLDER = """import datetime, os, secrets, sys
inbound, student, case, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
d = os.path.join(inbound, f"{student}+{ASSIGNMENT}+{stamp}+{secrets.token_hex(4)}")
os.mkdir(d)
open(os.path.join(d, "timestamp.txt"), "w").write(stamp)
open(os.path.join(d, "submission_secret.txt"), "w").write(secrets.token_hex(64))
if case == "links":
    for n, t in enumerate(targets):
        os.symlink(t, os.path.join(d, f"stolen{n}"))
elif case == "fifo":
    os.mkfifo(os.path.join(d, "pipe"))
elif case == "unreadable":
    open(os.path.join(d, "secret.ipynb"), "w").write("{}")
    os.chmod(os.path.join(d, "secret.ipynb"), 0)
print(d)
""".replace("{ASSIGNMENT}", ASSIGNMENT)


def test_collect_follows_no_link_reads_no_fifo_and_one_odd_folder_stops_no_one(hub, flow):
    """Findings 1 and 3: newer folders with links to the instructor's files, a FIFO, an unreadable file."""
    inst = hub.instructor
    course = pathlib.Path(pwd.getpwnam(inst).pw_dir) / "course"
    inbound = hub.s.exchange / hub.s.course_id / "inbound"
    targets = [str(course / "source" / NOTEBOOK), str(course / "gradebook.db"), str(course / "source")]
    cases = dict(zip(hub.students, (("links", "a symbolic link"), ("fifo", "a FIFO"),
                                    ("unreadable", "secret.ipynb cannot be read"))))
    folders = []
    for student, (case, _) in cases.items():
        made = hub.run_as(student, ["python", "-c", ODD_FOLDER, str(inbound), student, case, *targets])
        assert made.returncode == 0, made.stderr
        folders.append(made.stdout.strip())
    try:
        log = ok(hub.as_user(inst, "POST", f"/user/{inst}/formgrader/api/assignment/{ASSIGNMENT}/collect"))["log"]
        for student, (_, why) in cases.items():
            assert re.search(rf"{student}: collected an older submission; the newer one: .*{why}", log), log
        assert f"collected 3 of {len(hub.students)} students" in log and "ungradable" not in log
        submitted = course / "submitted"
        names = {p.name for p in submitted.rglob("*")}
        assert not names & {"stolen0", "stolen1", "stolen2", "pipe", "secret.ipynb", "gradebook.db"}, names
        assert all(not p.is_symlink() for p in submitted.rglob("*"))
    finally:
        for folder in folders:
            subprocess.run(["rm", "-rf", folder], check=False)


def test_inbound_is_sticky_and_a_submission_is_private_to_its_learner_and_the_instructors(hub, flow):
    """Findings 6 and 8: another learner's submission cannot be renamed, planted in or read by name."""
    s1, s2 = hub.students[:2]
    inbound = hub.s.exchange / hub.s.course_id / "inbound"
    assert inbound.stat().st_mode & 0o7777 == 0o3733
    uid1 = pwd.getpwnam(s1).pw_uid
    folder = next(p for p in inbound.glob(f"{s1}+{ASSIGNMENT}+*") if p.stat().st_uid == uid1)   # not the forgery
    assert folder.stat().st_mode & 0o777 == 0o750
    assert folder.stat().st_gid == __import__("grp").getgrnam(hub.s.instructors_group).gr_gid
    for argv in (["mv", str(folder), str(inbound / f"{s2}+{ASSIGNMENT}+hidden")], ["rm", "-rf", str(folder)],
                 ["touch", str(folder / "planted.ipynb")], ["cat", str(folder / f"{ASSIGNMENT}.ipynb")],
                 ["ls", str(folder)]):
        r = hub.run_as(s2, argv)
        assert r.returncode != 0, (argv, r.stdout)
    assert folder.exists() and not (folder / "planted.ipynb").exists()


def feedback_page(student: str) -> str:
    """The feedback page `student` fetched into their home."""
    return next((pathlib.Path(pwd.getpwnam(student).pw_dir) / ASSIGNMENT / "feedback").glob(
        f"*/{ASSIGNMENT}.html")).read_text()


def test_feedback_pages_show_the_xss_payloads_inert(hub, flow):
    """Student 2's page has the same live parts (scripts, handlers, live elements, URLs) as honest
    student 1's: the template's. (Its code cells show `onerror=` as text; that is not a handler.)"""
    s1, s2 = hub.students[:2]
    attacked = feedback_page(s2)
    assert live_parts(attacked) == live_parts(feedback_page(s1))
    assert "my answer" in attacked and "shown" in attacked


# ---- limits on the whole learner -----------------------------------------------------------

def in_python(script: str) -> str:
    """A one-line shell command running `script` with the course's Python."""
    return f"python -c \"import base64; exec(base64.b64decode('{base64.b64encode(script.encode()).decode()}'))\""


def cgroup_of(hub, user: str) -> LearnerCgroup:
    return LearnerCgroup(str(hub.s.port), user, LEARNER_MEMORY, LEARNER_CPU, hub.s.nproc_limit)


MEMORY_HOGS = """import multiprocessing as mp, time
def hog(_):
    block = bytearray(int(1.2 * 2**30))      # zero-filled: every page is touched
    time.sleep(1)
    return len(block)
if __name__ == "__main__":
    procs = [mp.Process(target=hog, args=(i,)) for i in range(7)]
    for p in procs: p.start()
    for p in procs: p.join()
    print("exit codes", [p.exitcode for p in procs])
"""


def test_seven_big_processes_cannot_evade_the_learners_memory_bound(hub, flow):
    """Finding 5: 7 x 1.2 GiB, each under the per-process limit, together over the learner's."""
    student = hub.students[2]
    status, out = hub.terminal(student, in_python(MEMORY_HOGS), timeout=240)
    codes = re.search(r"exit codes \[(.*)\]", out)
    assert codes, out
    killed = [c for c in codes.group(1).split(", ") if c != "0"]
    assert killed, out                                  # the OOM killer stopped some of them
    assert cgroup_of(hub, student).peak_memory() <= LEARNER_MEMORY
    assert hub.admin.get(f"{hub.url}/hub/api/users/{student}").json()["servers"][""]["ready"]


BUSY = """import os, resource, time, sys
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        os.setsid()                              # its own session: no escape from the learner's group
        end = time.monotonic() + 3
        while time.monotonic() < end: pass
        os._exit(0)
    kids.append(pid)
for pid in kids: os.waitpid(pid, 0)
print("cpu seconds", resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime)
"""


def test_busy_processes_get_the_learners_cpu_quota_and_tmp_is_private(hub, flow):
    """Finding 5: four busy processes in their own sessions share the learner's quota (1 core of the
    machine's 2); /tmp is theirs."""
    s1, s2 = hub.students[:2]
    status, out = hub.terminal(s1, f"{in_python(BUSY)}; echo mine > /tmp/olt-private; ls /tmp/olt-private",
                               timeout=120)
    used = float(re.search(r"cpu seconds ([\d.]+)", out).group(1))
    assert used <= 3 * LEARNER_CPU * 1.3, out            # 3 s of wall time at 1 core, not 2 cores x 3 s
    assert "nr_throttled" in cgroup_of(hub, s1).cpu_stat()      # the quota is on (throttling shows only when idle cores exist)
    status, out = hub.terminal(s2, "cat /tmp/olt-private")
    assert status != 0 and "No such file" in out
    assert not os.path.exists("/tmp/olt-private")


CULL_IDLE = 3        # the small hub's idle timeout (s); its culler looks every second


@pytest.fixture(scope="module")
def small_hub():
    """A second hub, one student: an idle timeout of 3 s and login waits of 8 s, 16 s, ..."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    user = f"olt_{secrets.token_hex(3)}_one"
    with temporary_hub([(user, "student")], cull_idle=CULL_IDLE, cull_every=1, login_wait=8, start_timeout=400) as hub:
        yield hub


def test_login_brute_force_slows_to_a_stop_and_the_right_password_works_after_the_wait(small_hub):
    """Finding 7: 3 tries, then each wait doubles; during a wait not even the right password is checked."""
    hub = small_hub
    user = hub.users[0]
    # PAM itself takes ~2 s to answer a wrong password; a refusal during a wait is immediate.
    codes = [hub.login(user, "guess-" + secrets.token_hex(4))[1].status_code for _ in range(10)]
    assert codes == [403] * 4 + [429] * 6, codes     # 3 allowed, the 4th starts a wait of 8 s
    _, r = hub.login(user, hub.passwords[user])
    assert r.status_code == 429, r.status_code                   # the right password waits too
    left = re.search(r"try again in (\d+) s", r.text)
    time.sleep((int(left.group(1)) if left else 8) + 1)
    _, r = hub.login(user, hub.passwords[user])
    assert r.status_code == 302, r.status_code
    assert hub.login(user, "guess-again")[1].status_code == 403   # a success clears the count


def test_the_idle_culler_stops_an_unused_server_and_the_work_stays(small_hub):
    hub = small_hub
    user = hub.users[0]
    hub.admin.post(f"{hub.url}/hub/api/users/{user}")          # 201, or 409 when it logged in already
    hub.admin.post(f"{hub.url}/hub/api/users/{user}/server")
    deadline, last_activity = time.monotonic() + 60, None
    while (server := hub.admin.get(f"{hub.url}/hub/api/users/{user}").json()["servers"].get("")) \
            or last_activity is None:
        assert time.monotonic() < deadline, "the server did not start, or the idle culler did not stop it, in 60 s"
        if server and server["ready"]:
            last_activity = datetime.datetime.fromisoformat(server["last_activity"].replace("Z", "+00:00"))
        time.sleep(0.2)
    idle = datetime.datetime.now(datetime.timezone.utc) - last_activity
    assert idle.total_seconds() >= CULL_IDLE, idle          # not before it was idle for --timeout
    assert (pathlib.Path(pwd.getpwnam(user).pw_dir) / "notebooks" / "00_welcome.ipynb").exists()


# ---- in a browser --------------------------------------------------------------------------

@pytest.mark.browser
def test_a_student_logs_in_runs_notebook_03_moves_a_slider_and_sees_the_assignments(hub, flow):
    reason = labdriver.missing_browser()
    if reason:
        pytest.skip(reason)
    student = hub.students[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page(timeout_ms=90_000) as page:
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", student)
        page.fill("#password_input", hub.passwords[student])
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{student}/lab/**")
        page.goto(f"{hub.url}/user/{student}/lab/tree/notebooks/03_gradient_descent.ipynb?reset")
        labdriver.wait_idle(page)
        labdriver.command(page, "notebook:run-all-cells")
        figure = page.locator(f"{PANEL} .optlessons-experiment img.optlessons-figure").first
        figure.wait_for(state="attached", timeout=240_000)
        labdriver.wait_idle(page, 240_000)
        figure.scroll_into_view_if_needed()
        before_src = figure.get_attribute("src")
        slider = page.locator(f"{PANEL} .optlessons-lr").first
        readout_before = slider.locator(".widget-readout").inner_text()
        slider.locator(".noUi-handle").focus()
        page.keyboard.press("PageUp")
        page.wait_for_function(
            "old => [...document.querySelectorAll('.optlessons-experiment img.optlessons-figure')]"
            ".some(i => i.src !== old)", arg=before_src, timeout=60_000)
        assert slider.locator(".widget-readout").inner_text() != readout_before
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
        page.screenshot(path=str(ARTIFACTS / "hub-student-notebook03.png"))
        labdriver.command(page, "nbgrader:open-assignment-list")
        page.get_by_text(ASSIGNMENT).first.wait_for(state="visible", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "hub-student-assignments.png"))


@pytest.mark.browser
def test_the_instructor_sees_a_learners_xss_payloads_inert_in_the_formgrader(hub, flow):
    """Finding 2: `<img onerror>` in markdown and in a display(HTML(...)) output, in the instructor's browser."""
    reason = labdriver.missing_browser()
    if reason:
        pytest.skip(reason)
    inst, s2 = hub.instructor, hub.students[1]
    notebooks = ok(hub.as_user(inst, "GET", f"/user/{inst}/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}"))
    submission = next(n["id"] for n in notebooks if n["student"] == s2)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page(timeout_ms=90_000) as page:
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", inst)
        page.fill("#password_input", hub.passwords[inst])
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{inst}/lab/**")
        response = page.goto(f"{hub.url}/user/{inst}/formgrader/submissions/{submission}/")
        assert workshop.HUB_CSP in response.headers["content-security-policy"]
        assert [p for p in live_parts(response.text()) if "XSS" in repr(p)] == []
        page.get_by_text("my answer").first.wait_for(state="visible")
        page.get_by_text("shown").first.wait_for(state="visible")
        page.wait_for_timeout(1000)                   # time for an image error to fire, were it live
        assert "XSS" not in page.title(), page.title()
        handlers = page.evaluate("[...document.querySelectorAll('img')].filter(i => i.getAttribute('onerror')).length")
        assert handlers == 0
        page.screenshot(path=str(ARTIFACTS / "hub-instructor-formgrader-xss.png"))
