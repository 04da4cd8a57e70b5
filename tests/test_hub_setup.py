"""hub/workshop.py without a running hub: the roster, and where the course environment may live."""

import os
import pathlib
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "hub"))
import workshop  # noqa: E402


def test_a_good_roster_reads_as_id_role_pairs(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,role\nteacher,Instructor\nada,student\n al_2 ,student\n")
    assert workshop.read_roster(roster) == [("teacher", "instructor"), ("ada", "student"), ("al_2", "student")]


def test_a_bad_roster_creates_nothing_and_names_every_bad_line(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,role\nAda Lovelace,student\nbob,teacher\nbob,student\nbob,student\njo+x,student\n")
    with pytest.raises(SystemExit) as e:
        workshop.read_roster(roster)
    msg = str(e.value)
    assert "line 2: id 'Ada Lovelace' must be a Unix user name" in msg
    assert "line 3: role 'teacher' must be one of student, instructor" in msg
    assert "line 5: bob appears twice" in msg
    assert "line 6: id 'jo+x'" in msg
    empty = tmp_path / "empty.csv"
    empty.write_text("id,role\n")
    with pytest.raises(SystemExit, match="no rows: the roster needs a header `id,role`"):
        workshop.read_roster(empty)


def test_readable_by_all_sees_a_private_folder_on_the_way():
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:      # /tmp: no private folder above
        os.chmod(tmp, 0o755)
        private = pathlib.Path(tmp) / "private"
        (private / "bin").mkdir(parents=True)
        (private / "bin" / "python3").write_text("")
        os.chmod(private, 0o700)
        assert not workshop.readable_by_all(private / "bin" / "python3")
        os.chmod(private, 0o755)
        assert workshop.readable_by_all(private / "bin" / "python3")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPTLESSONS_PORT", "18000")
    monkeypatch.setenv("OPTLESSONS_PREFIX", "/opt/x")
    s = workshop.Settings()
    assert (s.port, s.url, s.venv) == (18000, "http://127.0.0.1:18000", pathlib.Path("/opt/x/venv"))
    assert workshop.Settings(**{k: v for k, v in vars(s).items()}).environ()["OPTLESSONS_PORT"] == "18000"


def test_autograde_outside_a_grading_sandbox_run_is_refused_with_a_sentence(tmp_path, monkeypatch):
    from courseops.grading.formgrader import SandboxOnlyExporter
    from courseops.grading.kernel import PLAN_ENV

    plan = tmp_path / "plan.json"
    monkeypatch.delenv(PLAN_ENV, raising=False)
    with pytest.raises(RuntimeError, match=r"python grade\.py autograde"):
        SandboxOnlyExporter()
    monkeypatch.setenv(PLAN_ENV, str(plan))                 # named, but not written: refused
    with pytest.raises(RuntimeError, match="outside the grading sandbox"):
        SandboxOnlyExporter()
    plan.write_text("{}")                                   # what GradingSandbox.prepare writes
    assert SandboxOnlyExporter().file_extension == ".ipynb"


def test_make_hub_refuses_while_learners_can_read_the_solutions_or_the_gradebook():
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:      # /tmp: no private folder above
        check_refusals(pathlib.Path(tmp))


def check_refusals(tmp_path):
    repo = tmp_path / "clone"
    source = repo / "exercises" / "source" / "ps1"
    source.mkdir(parents=True)
    (source / "ps1.ipynb").write_text("{}")
    (repo / "exercises" / "gradebook.db").write_text("")
    for p in (tmp_path, repo, repo / "exercises"):
        os.chmod(p, 0o755)
    os.chmod(repo / "exercises" / "source", 0o755)
    os.chmod(source, 0o755)
    os.chmod(source / "ps1.ipynb", 0o644)
    os.chmod(repo / "exercises" / "gradebook.db", 0o600)
    s = workshop.Settings(students_group="olt-no-such-group")
    with pytest.raises(SystemExit, match=r"source is readable by the learners' accounts.*chmod -R go-rwx"):
        workshop.check_instructor_files_private(s, repo)
    os.chmod(repo / "exercises" / "source", 0o700)                # the fix the sentence names
    workshop.check_instructor_files_private(s, repo)
    os.chmod(repo / "exercises" / "gradebook.db", 0o644)
    with pytest.raises(SystemExit, match="gradebook.db is readable"):
        workshop.check_instructor_files_private(s, repo)
    os.chmod(repo, 0o700)                                         # a private clone: nothing reachable
    workshop.check_instructor_files_private(s, repo)
