"""The repo's own files install what the course needs, and they agree with each other."""

import pathlib
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def requirement(spec):
    """'numpy>=1.26' -> ('numpy', '>=1.26'), names normalised as pip does."""
    name, version = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", spec).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), version.replace(" ", "")


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    """The course's own packages, those that re-run its notebooks (the `check` extra) and the
    import contracts' linter (the `lint` extra)."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = project["dependencies"] + extras["check"] + extras["lint"]
    assert sorted(map(requirement, conda)) == sorted(map(requirement, wanted))


def test_the_test_extra_includes_what_re_runs_the_notebooks():
    assert "optlessons[check]" in pyproject()["project"]["optional-dependencies"]["test"]


def test_environment_yml_installs_the_package_itself_through_pip():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections and any(line.split("[")[0] in ("-e .", ".") for line in pip_sections[0])


def test_readme_gives_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    first_commands = re.findall(r"^make (\w+)$", readme, flags=re.MULTILINE)[:2]
    assert first_commands == ["lab", "test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_makefile_installs_only_from_the_repos_own_files():
    makefile = (ROOT / "Makefile").read_text()
    installs = re.findall(r"pip install[^\n]*", makefile)
    assert installs and all(re.search(r"-e (\.|'\.\[\w+\]')$", line) or line.endswith("--upgrade pip")
                            for line in installs), installs


def test_shipped_data_files_are_declared_as_package_data():
    globs = pyproject()["tool"]["setuptools"]["package-data"]["optlessons"]
    shipped = [p for p in (ROOT / "optlessons").rglob("*") if p.is_file()
               and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    for path in shipped:
        relative = path.relative_to(ROOT / "optlessons")
        assert any(relative.match(g) for g in globs), f"{relative} is not in package-data {globs}"


def test_the_readme_example_prints_what_the_readme_says(capsys):
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S).group(1)
    promised = [line.removeprefix("# ") for line in block.splitlines() if line.startswith("# ")]
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.splitlines() == promised
