"""How long each notebook takes to run top to bottom in a fresh kernel (the course promises seconds)."""

import pathlib

from scripts.run_notebooks import NOTEBOOKS, execute

BUDGET_SECONDS = {"08": 60, "10": 60}  # every other notebook: 20 s


def main():
    print("| notebook | seconds | budget |")
    print("|---|---:|---:|")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        _, seconds = execute(path)
        budget = BUDGET_SECONDS.get(path.name[:2], 20)
        flag = "" if seconds <= budget else "  **over budget**"
        print(f"| {pathlib.Path(path).name} | {seconds:.1f} | {budget}{flag} |")
