"""The setup check a participant runs before a workshop: passes here, and says what to fix when not."""

import io
import subprocess
import sys

import pytest

from optlessons import setup_check


@pytest.mark.slow  # make test-fast leaves it to make test: it starts a kernel
def test_every_check_passes_in_the_course_environment():
    out = io.StringIO()
    checks = setup_check.run_checks(file=out)
    assert [c.name for c in checks if not c.ok] == [], out.getvalue()
    assert out.getvalue().rstrip().endswith("you are ready for the course.")
    assert {"numpy", "matplotlib", "ipywidgets", "jupyterlab", "notebooks execute"} <= {c.name for c in checks}


def test_an_old_python_is_reported_with_what_to_do():
    check = setup_check.check_python((3, 8, 10))
    assert not check.ok
    assert "3.8.10" in str(check) and "3.10 or newer" in str(check) and "fix: install Python" in str(check)


def test_a_too_old_or_missing_package_is_reported_with_the_command_that_fixes_it():
    too_old = setup_check.check_requirement("numpy>=999")
    assert not too_old.ok and "needs >=999" in str(too_old) and "pip install 'numpy>=999'" in str(too_old)
    missing = setup_check.check_requirement("no-such-package-optlessons>=1")
    assert not missing.ok and "not installed" in str(missing) and "make setup" in str(missing)


def test_the_command_exits_nonzero_and_prints_the_fix_when_a_check_fails(monkeypatch):
    monkeypatch.setattr(setup_check, "runtime_requirements", lambda: ["numpy>=999"])
    monkeypatch.setattr(setup_check, "check_notebook_runs", lambda: setup_check.Check("notebooks execute", True, "skipped"))
    assert setup_check.main() == 1


@pytest.mark.slow  # make test-fast leaves it to make test: a new Python that starts a kernel
def test_the_command_line_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "optlessons.setup_check"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ JupyterLab widget extension" in result.stdout


def test_paths_are_said_without_the_machine_s_folders(tmp_path):
    env, home = tmp_path / "clone" / ".venv", tmp_path / "home"
    labext = env / "share" / "jupyter" / "labextensions"
    assert setup_check.where(labext, prefix=env, home=home) == "the Python environment's share/jupyter/labextensions"
    assert setup_check.where(home / ".local" / "x", prefix=env, home=home) == "~/.local/x"
    assert setup_check.where("/usr/share/jupyter/labextensions", prefix=env, home=home) == "/usr/share/jupyter/labextensions"


def test_the_widget_check_names_no_folder_of_this_clone():
    check = setup_check.check_widget_extension()
    assert check.ok and sys.prefix not in str(check) and str(setup_check.pathlib.Path.home()) not in str(check)
