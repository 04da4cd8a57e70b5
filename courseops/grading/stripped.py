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


def _stub(node: ast.stmt, dotted: str, assignment: str, what: str | None) -> str:
    instead = f"write {what} yourself" if what else "the tests run it, outside your code"
    message = f"`{dotted}` is not available while grading {assignment}: {instead}"
    if isinstance(node, ast.ClassDef):
        return (f"class {node.name}:\n    def __init__(self, *args, **kwargs):\n"
                f"        raise NotImplementedError({message!r})\n")
    return f"def {node.name}(*args, **kwargs):\n    raise NotImplementedError({message!r})\n"


def _strip_module(path: Path, module: str, names: dict[str, str | None], assignment: str) -> None:
    """Replace the top-level functions and classes `names` (name -> what the learner
    writes instead) of `module`, the file at `path`, by stubs, in place."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    nodes = [n for n in ast.parse(source).body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name in names]
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        lines[start:node.end_lineno] = [_stub(node, f"{module}.{node.name}", assignment, names[node.name])]
    path.write_text("".join(lines), encoding="utf-8")


def build(assignment: str, test_sources: list[str], dest: Path) -> Path:
    """Write the stripped package for `assignment` (whose test cells are `test_sources`)
    to `dest`/optlessons, readable by everyone; return that directory."""
    target = Path(dest) / "optlessons"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns(*LEFT_OUT, "*.pyc"))
    whats = {r: FORBIDDEN_REFERENCES[c][1] for c in FORBIDDEN_REFERENCES for r in FORBIDDEN_REFERENCES[c][0]}
    by_module: dict[Path, dict[str, str | None]] = {}
    for dotted in references_of(test_sources):
        module, _, name = dotted.rpartition(".")
        by_module.setdefault(target.parent.joinpath(*module.split(".")).with_suffix(".py"), {})[name] = whats[dotted]
    for path in sorted((target / "checks").glob("ps*.py")):
        sent = SENT_TO_LEARNER.get(path.stem, ())
        tree = ast.parse(path.read_text(encoding="utf-8"))
        by_module.setdefault(path, {}).update(
            {n.name: None if n.name.startswith("check_") else "it" for n in tree.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name not in sent})
    for path, names in by_module.items():
        if path.is_file():
            module = ".".join(path.relative_to(target.parent).with_suffix("").parts)
            _strip_module(path, module, names, assignment)
    for p in [target, *target.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return target
