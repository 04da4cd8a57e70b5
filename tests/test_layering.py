"""The package's import layering, as docs/package.md's table states it, holds for every module.

Each module's imports are read from its source (``ast``: lazy imports inside functions
count too) and compared with its row of the table "Layers: who may import whom".
"""

import ast
import pathlib
import re
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = REPO / "optlessons"
DOC = REPO / "docs" / "package.md"


def module_name(path):
    """optlessons/widgets/base.py -> "widgets.base"; optlessons/widgets/__init__.py -> "widgets"."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "optlessons"


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name):
    """(course modules, outside top-level packages) imported by module ``name``."""
    path = MODULES[name]
    package = name.split(".") if path.name == "__init__.py" and name != "optlessons" else name.split(".")[:-1]
    if name == "optlessons":
        package = []
    ours, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                if node.module is None:               # from . import x
                    ours |= {".".join(target + [a.name]) for a in node.names}
                else:
                    ours.add(".".join(target))
            elif node.module == "optlessons":        # from optlessons import x
                ours |= {a.name for a in node.names}
            elif node.module.startswith("optlessons."):
                ours.add(node.module.removeprefix("optlessons."))
            else:
                outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("optlessons."):
                    ours.add(alias.name.removeprefix("optlessons."))
                else:
                    outside.add(alias.name.split(".")[0])
    return {m for m in ours if m and m != name}, outside - set(sys.stdlib_module_names) - {"__future__"}


def table():
    """module -> (allowed course modules, allowed outside packages), from docs/package.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Layers: who may import whom", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names, ours, outside = (re.findall(r"`([^`]+)`", c) for c in cells)
        for name in names:
            assert name not in rows, f"docs/package.md lists {name} twice"
            rows[name] = (set(ours), set(outside))
    return rows


RULES = table()


def allowed(module, rule):
    return any(module == r or (r.endswith(".*") and module.startswith(r[:-1])) for r in rule)


def test_the_table_names_every_module_and_no_other():
    assert set(RULES) == set(MODULES), (
        f"modules without a row in docs/package.md: {sorted(set(MODULES) - set(RULES))}; "
        f"rows for no module: {sorted(set(RULES) - set(MODULES))}")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_imports_only_what_its_layer_allows(name):
    ours, outside = imports(name)
    allowed_ours, allowed_outside = RULES[name]
    assert not {m for m in ours if not allowed(m, allowed_ours)}, \
        f"{name} imports {sorted(m for m in ours if not allowed(m, allowed_ours))}; docs/package.md allows {sorted(allowed_ours)}"
    assert outside <= allowed_outside, \
        f"{name} imports {sorted(outside - allowed_outside)}; docs/package.md allows {sorted(allowed_outside)}"


def test_the_reader_sees_a_violation():
    """The checker itself: the widgets package imports plots, which the maths layer may not."""
    ours, _ = imports("widgets.base")
    assert "plots" in ours and not allowed("plots", RULES["optim"][0])
    ours, outside = imports("train")
    assert "functions" in ours and "ipywidgets" in outside
