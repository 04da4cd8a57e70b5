"""Who may import whom: `.importlinter`'s contracts hold, and they fail when they should.

import-linter (`lint-imports`, also `make lint`) reads the contracts; indirect and lazy imports
count, and an allowance (`ignore_imports`) that matches no import any more is an error.
"""

import configparser
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
CONFIG = REPO / ".importlinter"
LINT = pathlib.Path(sys.executable).with_name("lint-imports")
FOLDERS = ("optlessons", "courseops", "scripts", "benchmarks", "exercises", "hub")
CYCLES = "no-cycles-in-script-folders"


def contracts(config=CONFIG):
    parser = configparser.ConfigParser()
    parser.read(config)
    return [s.removeprefix("importlinter:contract:") for s in parser.sections() if s.startswith("importlinter:contract:")]


def lint(root, *ids):
    """Run lint-imports in ``root`` on its .importlinter (only the contracts ``ids``, if given)."""
    command = [str(LINT), "--no-cache", "--no-logo", *(f"--contract={i}" for i in ids)]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)})


@pytest.fixture
def copy(tmp_path):
    """The importable folders and the contracts, copied (their Python files only) into tmp_path."""
    for folder in FOLDERS:
        shutil.copytree(REPO / folder, tmp_path / folder,
                        ignore=lambda d, names: [n for n in names if not (n.endswith(".py") or (pathlib.Path(d) / n).is_dir())
                                                 or n in ("__pycache__", "node_modules", "source", "release", "reports")])
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    return tmp_path


def test_the_contracts_hold():
    result = lint(REPO, *contracts())
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_importable_folder_is_under_contract():
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    assert parser["importlinter"]["root_packages"].split() == list(FOLDERS)
    on_disk = {p.parent.name for p in REPO.glob("*/*.py")} - {"tests", "notebooks", "jupyter-config", "docs"}
    assert on_disk == set(FOLDERS)


def plant(root, relative, line):
    path = root / relative
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


# (file, the line planted in it, the contract it breaks, what the report says)
PLANTED = [
    ("optlessons/optim.py", "from optlessons import plots", "optlessons", "optlessons.optim -> optlessons.plots"),
    ("optlessons/widgets/base.py", "from optlessons.widgets import race", "widgets",
     "optlessons.widgets.base -> optlessons.widgets.race"),
    ("optlessons/checks/engine.py", "from optlessons.checks import ps3", "checks",
     "optlessons.checks.engine -> optlessons.checks.ps3"),
    ("optlessons/losses.py", "import matplotlib.pyplot", "maths-numpy-only", "optlessons.losses -> matplotlib"),
    ("optlessons/plots/figures.py", "import ipywidgets", "plots-no-widgets", "optlessons.plots.figures -> ipywidgets"),
    ("optlessons/plots/drawing.py", "from optlessons.plots import oneshot", "plots",
     "optlessons.plots.drawing -> optlessons.plots.oneshot"),
    ("optlessons/train/fitting.py", "import courseops.grading", "folders", "optlessons.train.fitting -> courseops.grading"),
    ("optlessons/train/minimizing.py", "from optlessons.train import fitting", "train",
     "optlessons.train.minimizing -> optlessons.train.fitting"),
    ("optlessons/widgets/adam.py", "from optlessons.widgets.momentum import momentum_experiment",
     "lessons-independent", "optlessons.widgets.adam -> optlessons.widgets.momentum"),
    ("optlessons/widgets/race.py", "from optlessons.plots import _private_helper", "private-names",
     "optlessons.widgets.race imports _private_helper from optlessons.plots"),
    ("courseops/exchange.py", "from optlessons.checks import _hidden", "private-modules",
     "courseops.exchange -> optlessons.checks._hidden"),
    ("hub/workshop.py", "import hubclient", CYCLES, "hub.hubclient -> hub.workshop -> hub.hubclient"),
]


@pytest.mark.slow
def test_planted_imports_break_every_contract(copy):
    """One copy of the tree with an upward or sideways import planted for each contract, and a
    new module that no layer names: every contract reports its own breach."""
    (copy / "optlessons" / "checks" / "_hidden.py").write_text("SECRET = 1\n", encoding="utf-8")
    (copy / "optlessons" / "newcomer.py").write_text("import numpy\n", encoding="utf-8")
    for relative, line, _, _ in PLANTED:
        plant(copy, relative, line)
    result = lint(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert {c for _, _, c, _ in PLANTED} == set(contracts())           # one breach for each contract
    assert f"0 kept, {len(PLANTED)} broken" in result.stdout, result.stdout
    for _, _, contract, message in PLANTED:
        assert message in result.stdout, f"{contract}: {message!r} not reported\n{result.stdout}"
    assert "optlessons.newcomer" in result.stdout, result.stdout   # the optlessons layers are exhaustive


@pytest.mark.slow
def test_an_allowance_no_longer_used_fails(copy):
    """`plots` -> `PIL` was allowed once and never used: written in again, the check fails."""
    config = copy / ".importlinter"
    text = config.read_text(encoding="utf-8")
    contract = text.index("[importlinter:contract:maths-numpy-only]")
    end = text.index("\n\n[", contract)
    config.write_text(text[:end] + "\nignore_imports =\n    optlessons.plots -> PIL" + text[end:], encoding="utf-8")
    result = lint(copy, "maths-numpy-only")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No matches for ignored import optlessons.plots -> PIL" in result.stdout + result.stderr
