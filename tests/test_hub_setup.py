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


def test_the_idle_cullers_interval_is_a_setting(monkeypatch):
    monkeypatch.setenv("OPTLESSONS_CULL_IDLE", "3600")
    assert workshop.Settings().cull_interval == 600                 # default: half the timeout, at most 10 min
    monkeypatch.setenv("OPTLESSONS_CULL_IDLE", "3")
    assert workshop.Settings().cull_interval == 2
    monkeypatch.setenv("OPTLESSONS_CULL_EVERY", "1")
    assert workshop.Settings().cull_interval == 1


def test_cgroup_v2_limits_are_written_where_the_kernel_reads_them(tmp_path, monkeypatch):
    """The v2 path of hub/limits.py on a stand-in of /sys/fs/cgroup (the files it writes, their values)."""
    limits = pytest.importorskip("limits", reason="hub/limits.py needs JupyterHub (`make hub-install`)")
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids")
    monkeypatch.setattr(limits, "own_group", lambda controller: "")
    group = limits.LearnerCgroup("8000", "ada", 3 * 2**30, 0.5, 64, root=tmp_path)
    assert group.version == 2 and group.procs_files() == [str(tmp_path / "optlessons-8000" / "ada" / "cgroup.procs")]
    group.create()
    d = tmp_path / "optlessons-8000" / "ada"
    assert {f: (d / f).read_text() for f in ("memory.max", "memory.swap.max", "cpu.max", "pids.max")} == \
        {"memory.max": str(3 * 2**30), "memory.swap.max": "0", "cpu.max": "50000 100000", "pids.max": "64"}
    assert (tmp_path / "optlessons-8000" / "cgroup.subtree_control").exists()


def test_on_cgroup_v2_a_learners_processes_together_are_bounded():
    """The same code on the real unified hierarchy: a child in a 64 MiB group that takes 256 MiB is killed."""
    limits = pytest.importorskip("limits", reason="hub/limits.py needs JupyterHub (`make hub-install`)")
    if limits.cgroup_version() != 2:
        pytest.skip(f"this machine has no cgroup v2 hierarchy at {limits.ROOT} (`stat -fc %T /sys/fs/cgroup` "
                    f"says tmpfs: v1); the v2 path is tested on a stand-in above")
    if os.geteuid() != 0:
        pytest.skip("making cgroups needs root")
    import subprocess
    group = limits.LearnerCgroup(f"test{os.getpid()}", "probe", 64 * 2**20, 0.5, 32)
    group.create()
    try:
        procs = group.procs_files()[0]

        def enter():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        child = subprocess.run([sys.executable, "-c", "b = bytearray(256 * 2**20); print(len(b))"],
                               preexec_fn=enter, capture_output=True)
        assert child.returncode == -9, child
        assert (group.dirs[0] / "cpu.max").read_text().split() == ["50000", "100000"]
    finally:
        group.remove()


def merged(defaults, values):
    """Helm's merge of a values file over the chart's defaults (maps merge, everything else replaces)."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        return {**defaults, **{k: merged(defaults[k], v) if k in defaults else v for k, v in values.items()}}
    return values


def test_the_z2jh_values_validate_against_the_charts_schema():
    """hub/z2jh-values.yaml over the chart's defaults, checked as `helm install` checks it. The chart is
    not on PyPI or npm and the tests download nothing: point OPTLESSONS_Z2JH_CHART at an unpacked chart
    (`helm pull jupyterhub/jupyterhub --version 4.4.0 --untar`: values.yaml, values.schema.json)."""
    yaml, jsonschema = pytest.importorskip("yaml"), pytest.importorskip("jsonschema")
    chart = pathlib.Path(os.environ.get("OPTLESSONS_Z2JH_CHART", "/nonexistent"))
    schema = next((p for p in (chart / "values.schema.json", chart / "values.schema.yaml") if p.is_file()), None)
    if schema is None:
        pytest.skip("no z2jh chart here (set OPTLESSONS_Z2JH_CHART to an unpacked jupyterhub chart 4.x)")
    values = yaml.safe_load((workshop.HUB_DIR / "z2jh-values.yaml").read_text())
    document = merged(yaml.safe_load((chart / "values.yaml").read_text()), values)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft7Validator(yaml.safe_load(schema.read_text())).iter_errors(document)]
    assert errors == []
    assert values["singleuser"]["networkPolicy"]["enabled"] is True


def test_the_z2jh_values_carry_the_same_csp_as_the_one_server_hub():
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load((workshop.HUB_DIR / "z2jh-values.yaml").read_text())
    hub = values["hub"]["config"]["JupyterHub"]["tornado_settings"]["headers"]["Content-Security-Policy"]
    server = values["singleuser"]["extraFiles"]["optlessons-csp"]["data"]["ServerApp"]["tornado_settings"]
    assert hub == server["headers"]["Content-Security-Policy"] == workshop.HUB_CSP
