"""The course package as the learner's process sees it while one assignment is graded.

A copy of ``optlessons`` in which every reference the learner must write for that
assignment (the checks' :data:`~optlessons.checks.references.FORBIDDEN_REFERENCES` of the
checks its test cells call) is a stub whose call raises one sentence::

    NotImplementedError: `optlessons.optim.adam_update` is not available while grading
    ps3_momentum_rmsprop_adam: write the update yourself

and in which the checks' own twins of the references (the mistake models, which compute
the reference when no knob is turned) are stubs too: in ``optlessons/checks/ps*.py`` only
the classes and the functions a check hands to the learner's code as arguments
(:data:`~optlessons.checks.references.SENT_TO_LEARNER`) keep their bodies. The widgets (which
wrap the optimizers) are left out. The learner's sandbox binds this copy where the package
is, so the reference's code is not on disk there: a clone, a reload, a re-import, reading
the module's source, all find the stub. The grading kernel keeps the real package.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
from pathlib import Path

import optlessons
from optlessons.checks.references import FORBIDDEN_REFERENCES, SENT_TO_LEARNER

PACKAGE = Path(optlessons.__file__).resolve().parent
LEFT_OUT = ("widgets", "__pycache__")
CHECK_CALL = re.compile(r"\bcheck_\w+")


def references_of(test_sources: list[str]) -> tuple[str, ...]:
    """The references forbidden by the checks the test cells call."""
    checks = {c for source in test_sources for c in CHECK_CALL.findall(source)}
    return tuple(sorted({r for c in checks & set(FORBIDDEN_REFERENCES) for r in FORBIDDEN_REFERENCES[c][0]}))


def defined_at(dotted: str) -> tuple[str, str]:
    """(module, name) where the reference `dotted` is defined: ``optlessons.train.minimize``
    is ``minimize`` of ``optlessons.train.minimizing`` (train re-exports it), so the stub goes
    there and every module that imports it gets the stub."""
    module, _, name = dotted.rpartition(".")
    obj = getattr(importlib.import_module(module), name)
    return obj.__module__, obj.__name__


def _module_file(root: Path, module: str) -> Path:
    """The file of `module` in the copy of the package under `root`."""
    path = root.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _stub(node: ast.stmt, dotted: str, assignment: str, what: str | None) -> str:
    instead = f"write {what} yourself" if what else "the tests run it, outside your code"
    message = f"`{dotted}` is not available while grading {assignment}: {instead}"
    if isinstance(node, ast.ClassDef):
        return (f"class {node.name}:\n    def __init__(self, *args, **kwargs):\n"
                f"        raise NotImplementedError({message!r})\n")
    return f"def {node.name}(*args, **kwargs):\n    raise NotImplementedError({message!r})\n"


def _strip_module(path: Path, module: str, names: dict[str, tuple[str, str | None]], assignment: str) -> None:
    """Replace the top-level functions and classes `names` (name -> (the reference's dotted
    name, what the learner writes instead)) of `module`, the file at `path`, by stubs, in
    place; a name not found there is an error (the stripped package fails closed)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    nodes = [n for n in ast.parse(source).body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name in names]
    missing = set(names) - {n.name for n in nodes}
    if missing:
        raise RuntimeError(f"cannot strip {', '.join(sorted(missing))} from {module} ({path}): "
                           f"no top-level definition there, so the reference would stay callable")
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        dotted, what = names[node.name]
        lines[start:node.end_lineno] = [_stub(node, dotted, assignment, what)]
    path.write_text("".join(lines), encoding="utf-8")


def build(assignment: str, test_sources: list[str], dest: Path) -> Path:
    """Write the stripped package for `assignment` (whose test cells are `test_sources`)
    to `dest`/optlessons, readable by everyone; return that directory."""
    target = Path(dest) / "optlessons"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns(*LEFT_OUT, "*.pyc"))
    whats = {r: FORBIDDEN_REFERENCES[c][1] for c in FORBIDDEN_REFERENCES for r in FORBIDDEN_REFERENCES[c][0]}
    by_module: dict[str, dict[str, tuple[str, str | None]]] = {}
    for dotted in references_of(test_sources):
        module, name = defined_at(dotted)
        by_module.setdefault(module, {})[name] = (dotted, whats[dotted])
    for path in sorted((target / "checks").glob("ps*.py")):
        sent = SENT_TO_LEARNER.get(path.stem, ())
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = f"optlessons.checks.{path.stem}"
        by_module.setdefault(module, {}).update(
            {n.name: (f"{module}.{n.name}", None if n.name.startswith("check_") else "it") for n in tree.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name not in sent})
    for module, names in by_module.items():
        _strip_module(_module_file(target.parent, module), module, names, assignment)
    for p in [target, *target.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return target
