"""Two import-linter contract types the built-in ones cannot state (used by `.importlinter`).

`sibling_cycles`: a script folder (`exercises/`, `hub/`) is run as `python exercises/grade.py`,
so its modules import each other by bare name (`import grading_report`), which the import graph
records as an outside package. This contract resolves such a name to the sibling module, as
Python does when it runs the script, and fails on any import cycle among a folder's modules.

`private_names`: no module imports another module's private name (`from .plots import _f_star`);
a helper that another module needs is public API. The graph knows modules, not names, so the
contract reads each cross-module import statement's names from the importer's source.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import itertools
import pathlib

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class SiblingCycles(Contract):
    """No import cycle among the modules of each folder in ``folders`` (bare sibling names resolved)."""

    type_name = "sibling_cycles"
    folders = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose):
        cycles = []
        for folder in self.folders:
            siblings = {m.rpartition(".")[2]: m for m in graph.find_children(folder)}
            for module in siblings.values():
                for imported in graph.find_modules_directly_imported_by(module):
                    if imported in siblings:          # the bare name, an "outside package" node
                        graph.add_import(importer=module, imported=siblings[imported])
            for a, b in itertools.combinations(sorted(siblings.values()), 2):
                there, back = graph.find_shortest_chain(a, b), graph.find_shortest_chain(b, a)
                if there and back:
                    cycles.append(list(there) + list(back[1:]))
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check):
        for cycle in check.metadata["cycles"]:
            output.print_error(" -> ".join(cycle), bold=False)
            output.new_line()


@functools.cache
def _tree(path):
    with open(path, encoding="utf-8") as file:
        return ast.parse(file.read())


def _source(module):
    """The file of ``module``, found without importing it (nor its packages)."""
    top, *rest = module.split(".")
    folder = pathlib.Path(next(iter(importlib.util.find_spec(top).submodule_search_locations)), *rest)
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


def _imported_names(path, line_number):
    """The names a ``from … import`` statement starting at ``line_number`` of ``path`` imports."""
    tree = _tree(path)
    return [alias.name for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.lineno == line_number for alias in node.names]


class PrivateNames(Contract):
    """No module of ``packages`` imports a private name (``_x``, not ``__x__``) of another module."""

    type_name = "private_names"
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose):
        ours = set().union(*({p} | graph.find_descendants(p) for p in self.packages))
        reach_ins = []
        for importer in sorted(ours):
            path = _source(importer)
            for imported in sorted(graph.find_modules_directly_imported_by(importer) & ours):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    names = _imported_names(path, detail["line_number"])
                    private = [n for n in names if n.startswith("_") and not n.endswith("__")]
                    if private:
                        reach_ins.append(f"{importer} imports {', '.join(private)} from {imported} "
                                         f"(l.{detail['line_number']})")
        return ContractCheck(kept=not reach_ins, metadata={"reach_ins": reach_ins})

    def render_broken_contract(self, check):
        for line in check.metadata["reach_ins"]:
            output.print_error(f"- {line}", bold=False)
        output.new_line()
