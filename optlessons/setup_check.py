"""Check that this machine is ready for the course, and say in plain words how to fix what is not.

Run it before a workshop with ``python -m optlessons.setup_check`` (or ``make
setup-check``), or call ``run_checks()`` in a notebook. Each check prints one
line, ✓ or ✗; a ✗ line says what to do. The command exits with status 1 if
anything failed.
"""

import importlib
import importlib.metadata
import pathlib
import sys
from dataclasses import dataclass

from packaging.requirements import Requirement

MIN_PYTHON = (3, 10)
COURSE_MODULES = ("losses", "functions", "gradcheck", "curvature", "optim", "schedules", "data",
                  "models", "convergence", "train", "search", "plots", "progress", "widgets", "checks")
REINSTALL = "run `make setup` in the course folder (or `pip install -e .` in your environment)"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it passed, and what to do if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def __str__(self):
        line = f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"
        return line if self.ok else f"{line}\n    fix: {self.fix}"


def check_python(version=sys.version_info):
    needed = ".".join(map(str, MIN_PYTHON))
    found = f"{version[0]}.{version[1]}.{version[2]}"
    return Check("Python", tuple(version[:2]) >= MIN_PYTHON, f"{found} (the course needs {needed} or newer)",
                 f"install Python {needed} or newer (python.org, or conda), then run `make lab` again")


def check_requirement(spec):
    """Whether the installed distribution satisfies one of the package's requirements, e.g. 'numpy>=1.26'."""
    requirement = Requirement(spec)
    try:
        installed = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        return Check(requirement.name, False, "not installed", REINSTALL)
    ok = requirement.specifier.contains(installed, prereleases=True)
    wanted = str(requirement.specifier) or "any version"
    return Check(requirement.name, ok, f"{installed} (needs {wanted})",
                 f"upgrade it: `pip install '{requirement.name}{requirement.specifier}'`, or {REINSTALL}")


def runtime_requirements():
    """The runtime dependencies optlessons declares (pyproject.toml), without the optional extras."""
    return [r for r in importlib.metadata.requires("optlessons") or [] if "extra ==" not in r]


def check_course_package():
    failed = []
    for name in COURSE_MODULES:
        try:
            importlib.import_module(f"optlessons.{name}")
        except Exception as error:  # report any import failure in words, not a traceback
            failed.append(f"optlessons.{name} ({type(error).__name__}: {error})")
    detail = f"all {len(COURSE_MODULES)} modules import" if not failed else "cannot import " + "; ".join(failed)
    return Check("optlessons package", not failed, detail, REINSTALL)


def where(path, prefix=None, home=None):
    """`path` said without where this machine keeps things: relative to the Python environment
    (``sys.prefix``) or to the home folder (``~``) when inside them, else as it is (a system folder)."""
    path = pathlib.Path(path)
    for base, name in ((pathlib.Path(prefix or sys.prefix), "the Python environment's {}"),
                       (pathlib.Path(home or pathlib.Path.home()), "~/{}")):
        try:
            return name.format(path.relative_to(base).as_posix())
        except ValueError:
            continue
    return str(path)


def check_widget_extension():
    """JupyterLab shows sliders only if the ipywidgets front-end extension is installed where Lab looks."""
    from jupyter_core.paths import jupyter_path

    found = [p for p in map(pathlib.Path, jupyter_path("labextensions"))
             if (p / "@jupyter-widgets" / "jupyterlab-manager").is_dir()]
    detail = f"found in {where(found[0])}" if found else "the @jupyter-widgets/jupyterlab-manager extension is missing"
    return Check("JupyterLab widget extension", bool(found), detail,
                 "`pip install --upgrade ipywidgets jupyterlab_widgets` in the environment JupyterLab runs from, "
                 "then restart JupyterLab")


def check_notebook_runs(timeout=60):
    """Start a kernel, run a small notebook that imports the course and makes a figure, and read its output."""
    import subprocess

    import nbformat
    from nbclient import NotebookClient

    source = ("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
              "from optlessons.optim import SGD\n"
              "plt.plot([0, 1]); plt.close('all')\n"
              "print(float(SGD(lr=0.5).step(np.array([1.0]), np.array([2.0]))[0]))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    try:
        # The kernel's own log (e.g. ipykernel's notice about TCP transport) is not the learner's business.
        NotebookClient(nb, timeout=timeout, kernel_name="python3").execute(stderr=subprocess.DEVNULL)
        printed = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    except Exception as error:
        printed = f"{type(error).__name__}: {error}".splitlines()[0]
    return Check("notebooks execute", printed == "0.0", f"a kernel ran a test cell and printed {printed!r}",
                 "make sure `ipykernel` is installed in the course environment and select the kernel "
                 "'Python 3 (ipykernel)'; if it still fails, run `make setup` again")


def run_checks(execute_notebook=True, file=None):
    """Run every check, print one line each and a verdict; return the list of Check records."""
    checks = [check_python(), *map(check_requirement, runtime_requirements()),
              check_course_package(), check_widget_extension()]
    if execute_notebook:
        checks.append(check_notebook_runs())
    for check in checks:
        print(check, file=file)
    failed = sum(not c.ok for c in checks)
    verdict = (f"All {len(checks)} checks passed: you are ready for the course." if not failed
               else f"{failed} of {len(checks)} checks failed: follow the 'fix' lines above, then run this again.")
    print(verdict, file=file)
    return checks


def main():
    checks = run_checks()
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
