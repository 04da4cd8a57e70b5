"""The workshop bundle (`make bundle`, scripts/make_bundle.py): what students get, and only that."""

import json
import os
import pathlib
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest

from scripts import make_bundle

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOP = make_bundle.TOP


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    cleared = make_bundle.make_bundle(tmp / "cleared.zip")
    again = make_bundle.make_bundle(tmp / "again.zip")
    kept = make_bundle.make_bundle(tmp / "kept.zip", keep_outputs=True)
    return {"cleared": cleared, "again": again, "kept": kept, "tmp": tmp}


def names(zip_path):
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def read(zip_path, name):
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read(f"{TOP}/{name}")


@pytest.mark.slow
def test_holds_what_a_learner_needs_and_nothing_else(bundles):
    inside = [n.removeprefix(f"{TOP}/") for n in names(bundles["cleared"])]
    assert all(n.startswith(f"{TOP}/") for n in names(bundles["cleared"])), "one top folder"
    allowed = re.compile(r"^(pyproject\.toml|environment\.yml|Makefile|README\.md|LICENSE|notebooks/[^/]+"
                         r"|docs/notation\.md|docs/glossary\.md|exercises/release/.+|optlessons/.+|jupyter-config/.+)$")
    stray = [n for n in inside if not allowed.match(n)]
    assert not stray, f"not for students: {stray}"
    forbidden = [n for n in inside if re.search(r"(^|/)(\.venv|tests|exercises/source|__pycache__|"
                                                r"\.ipynb_checkpoints|gradebook\.db|submitted|autograded)(/|$)|\.pyc$", n)]
    assert not forbidden, forbidden
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{nb.name}" in inside, f"{nb.name} missing"
    for nb in sorted((ROOT / "exercises" / "release").glob("*/*.ipynb")):
        assert nb.relative_to(ROOT).as_posix() in inside, f"{nb} missing"
    for py in sorted([*(ROOT / "optlessons").rglob("*"), *(ROOT / "jupyter-config").rglob("*")]):
        if py.is_file() and "__pycache__" not in py.parts and py.suffix != ".pyc":
            assert py.relative_to(ROOT).as_posix() in inside, f"{py} missing"


@pytest.mark.slow
def test_no_solutions_or_hidden_tests_anywhere(bundles):
    # Not in any notebook or Python file at all; in other files (the README explains
    # grading) not as a marker at the start of a line.
    with zipfile.ZipFile(bundles["kept"]) as zf:
        for name in zf.namelist():
            text = zf.read(name).decode("utf-8", errors="replace")
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
                if name.endswith((".ipynb", ".py")):
                    assert marker not in text, f"{name} contains {marker!r}"
                else:
                    assert not re.search(r"^\s*### " + marker, text, flags=re.M), f"{name} contains {marker!r}"
            if name.endswith(".ipynb"):
                for cell in json.loads(text)["cells"]:
                    assert "### BEGIN SOLUTION" not in "".join(cell["source"]), name


@pytest.mark.slow
def test_notebooks_have_no_outputs_by_default(bundles):
    for name in names(bundles["cleared"]):
        if name.endswith(".ipynb") and f"{TOP}/notebooks/" in name:
            nb = json.loads(read(bundles["cleared"], name.removeprefix(f"{TOP}/")))
            for cell in nb["cells"]:
                if cell["cell_type"] == "code":
                    assert cell["outputs"] == [] and cell["execution_count"] is None, name
            assert "widgets" not in nb["metadata"], f"{name} keeps saved widget state"
            assert nb["nbformat"] == 4


@pytest.mark.slow
def test_keep_outputs_keeps_the_notebooks_as_committed(bundles):
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert read(bundles["kept"], f"notebooks/{nb.name}") == nb.read_bytes()


@pytest.mark.slow
def test_deterministic(bundles):
    assert bundles["cleared"].read_bytes() == bundles["again"].read_bytes()
    with zipfile.ZipFile(bundles["cleared"]) as zf:
        assert {info.date_time for info in zf.infolist()} == {make_bundle.FIXED_TIME}
        assert zf.namelist() == sorted(zf.namelist())


def test_refuses_to_ship_a_solution(tmp_path):
    for name in (*make_bundle.TOP_FILES, *make_bundle.RENAMED):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    for tree in make_bundle.TREES:
        (tmp_path / tree).mkdir(parents=True)
    leaked = tmp_path / "exercises" / "release" / "ps1" / "ps1.ipynb"
    leaked.parent.mkdir()
    leaked.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "### BEGIN SOLUTION\nx = 1\n"}]}))
    with pytest.raises(SystemExit, match="BEGIN SOLUTION"):
        make_bundle.make_bundle(tmp_path / "out.zip", root=tmp_path)
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.slow
def test_unpacked_bundle_runs_make_lab_and_imports_the_package(bundles):
    dest = bundles["tmp"] / "unpacked"
    with zipfile.ZipFile(bundles["cleared"]) as zf:
        zf.extractall(dest)
    course = dest / TOP
    # `make lab` would install the package from the bundle's own pyproject.toml and open notebooks/.
    dry = subprocess.run(["make", "-n", "lab", f"PYTHON={sys.executable}"], cwd=course,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "pip install --quiet -e .\n" in dry.stdout and "jupyter lab --ServerApp.root_dir=." in dry.stdout
    assert "notebooks/00_welcome.ipynb" in dry.stdout
    setup_check = subprocess.run(["make", "-n", "setup-check", f"PYTHON={sys.executable}"], cwd=course,
                                 capture_output=True, text=True, timeout=60)
    assert "[test]" not in setup_check.stdout, "a participant's setup check needs the course only"
    # The package source is complete: every module imports from the unpacked copy, and the
    # shipped data loads (run elsewhere, with only the bundle on the path).
    code = ("import optlessons, importlib, pathlib, sys;"
            "assert pathlib.Path(optlessons.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve());"
            "[importlib.import_module('optlessons.' + m) for m in"
            " ('losses','functions','gradcheck','optim','schedules','data','models','train','plots','widgets','checks',"
            "  'setup_check')];"
            "from optlessons.data import load_digits; print(load_digits(0).X_train.shape)")
    env = dict(os.environ, PYTHONPATH=str(course), MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, "-c", code, str(course)], cwd=bundles["tmp"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # What `pip install -e .` reads is there: the readme pyproject.toml names, the package
    # it finds and the data files it declares.
    project = tomllib.loads((course / "pyproject.toml").read_text())
    assert (course / project["project"]["readme"]).is_file()
    for pattern in project["tool"]["setuptools"]["package-data"]["optlessons"]:
        assert list((course / "optlessons").glob(pattern)), f"package data {pattern} missing"


@pytest.mark.slow
def test_the_readme_is_the_participants_and_its_links_resolve(bundles):
    with zipfile.ZipFile(bundles["cleared"]) as zf:
        readme = zf.read(f"{TOP}/README.md").decode()
        inside = {n.removeprefix(f"{TOP}/") for n in zf.namelist()}
    assert readme == (ROOT / "docs" / "workshop-README.md").read_text()
    assert "make setup-check" in readme and "make lab" in readme and "exercises/release/" in readme
    for target in re.findall(r"`((?:notebooks|exercises)/[^`]*)`", readme):
        assert any(n.startswith(target) for n in inside), f"README names {target}, not in the bundle"


@pytest.mark.slow
def test_every_page_a_notebook_links_in_docs_is_in_the_bundle(bundles):
    """The notebooks link the notation table and the glossary as ../docs/<page>: a participant has them too."""
    import re
    with zipfile.ZipFile(bundles["cleared"]) as zf:
        names = set(zf.namelist())
        linked = {page for name in names if name.endswith(".ipynb") and "/notebooks/" in name
                  for page in re.findall(r"\]\(\.\./(docs/[\w.-]+\.md)", zf.read(name).decode("utf-8"))}
    assert {"docs/notation.md", "docs/glossary.md"} <= linked
    assert not {f"{TOP}/{page}" for page in linked} - names
