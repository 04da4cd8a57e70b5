"""Run every benchmark module `benchmarks/bench_*.py` (or those named) and print its table.

Each module defines `main()`, which measures and prints; nothing here is timed
in the test suite (tests/test_benchmarks.py only checks that each one runs).
"""

import importlib
import pkgutil
import platform
import sys

import benchmarks


# Run only when named (`python -m benchmarks hub`): they need root and make Unix users.
ON_REQUEST = {"hub"}


def available():
    """Names of the benchmark modules, e.g. ['optim_step', ...] for bench_optim_step.py."""
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules(benchmarks.__path__)
                  if m.name.startswith("bench_"))


def machine():
    """One line naming the machine the figures come from."""
    import os
    import numpy
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {numpy.__version__}")


def run(names):
    for name in names:
        print(f"\n## {name}\n")
        importlib.import_module(f"benchmarks.bench_{name}").main()


if __name__ == "__main__":
    wanted = sys.argv[1:] or [name for name in available() if name not in ON_REQUEST]
    unknown = sorted(set(wanted) - set(available()))
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(available())}")
    print(f"# optlessons benchmarks\n\nmachine: {machine()}")
    run(wanted)
