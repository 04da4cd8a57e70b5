"""The benchmarks (`make bench`) import and name a `main`; the cheap one runs and prints its table.

Their figures are not asserted here: a loaded machine makes a timing assert flaky and a quiet
one makes it slow (README, "Measured speed", and each module's docstring give them).
"""

import importlib

import pytest

from benchmarks import __main__ as bench
from benchmarks import bench_loops


@pytest.mark.parametrize("name", bench.available())
def test_every_benchmark_imports_and_has_a_main(name):
    module = importlib.import_module(f"benchmarks.bench_{name}")
    assert callable(module.main) and module.__doc__


def test_the_loops_benchmark_prints_both_rows_with_their_budgets(capsys):
    bench_loops.main(repeats=1)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "ms" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| minimize, 3 × 200 steps (a widget's redraw)",
                                                     "| lr_find on the digits, SGD"]
    assert [row.split(" | ")[-1] for row in rows] == ["60 |", "5,000 |"]
    assert all(float(row.split(" | ")[1].replace(",", "")) > 0 for row in rows)
