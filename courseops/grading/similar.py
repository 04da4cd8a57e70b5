"""Similar code, the way Gradescope shows it: each graded submission's solution cells
against the reference (the source notebook's solutions) and against every other one.

copydetect's winnowing fingerprints (MOSS's method: k-grams of tokens with the names
normalised, the release's template code removed as boilerplate) give, for a pair, the
share of each side's code found in the other. A pair is listed when either share
reaches `THRESHOLD`. It never changes a score: short exercises are written alike by
honest students too, and the instructor decides.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path
from typing import NamedTuple

import nbformat
from copydetect import CodeFingerprint, compare_files

REFERENCE = "reference"   # the name the source notebook's solutions go by in a pair
THRESHOLD = 0.8
NOISE, GUARANTEE = 25, 30   # copydetect's defaults: k-grams of 25 tokens, a match of 30 is always found


class Pair(NamedTuple):
    """Two codes and the share of each found in the other, with the matching lines."""
    student: str
    other: str
    share: float            # of `student`'s code found in `other`'s
    other_share: float      # of `other`'s code found in `student`'s
    lines: str
    other_lines: str


def solution_code(path: Path, solution_ids: set[str]) -> str:
    """The code of the notebook's cells whose nbgrader grade_id is a solution cell's
    (nbgrader's BEGIN/END SOLUTION marker lines left out); "" when it cannot be read."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:   # an ungradable file has nothing to compare
        return ""
    cells = [c for c in nb.cells if c.get("cell_type") == "code"
             and ((c.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") in solution_ids]
    return "\n".join(line for c in cells for line in str(c.source).splitlines() if "### " not in line) + "\n"


def _fingerprint(name: str, code: str, boilerplate: list) -> CodeFingerprint:
    return CodeFingerprint(f"{name}.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate,
                           language="python", fp=io.StringIO(code))


def _lines(code: str, slices) -> str:
    """The lines of `code` that the character `slices` (starts, ends) touch, in order."""
    marked: set[int] = set()
    for start, end in zip(*slices):
        first = code.count("\n", 0, int(start))
        marked.update(range(first, first + code.count("\n", int(start), int(end)) + 1))
    lines = code.splitlines()
    return "\n".join(lines[i] for i in sorted(marked) if i < len(lines))


def similar_pairs(codes: dict[str, str], reference: str, template: str,
                  threshold: float = THRESHOLD) -> list[Pair]:
    """Pairs (each student against `reference` and against every other student) in which
    either side's share of code found in the other reaches `threshold`, the most similar
    first; `template` (the release's code) is boilerplate, never a match. Computed in a
    Python whose hash seed is 0: copydetect hashes its k-grams with `hash`, which differs
    per process, and the same class must give the same report every time."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        out = subprocess.run([sys.executable, "-m", "courseops.grading.similar"], capture_output=True,
                             input=json.dumps([codes, reference, template, threshold]), text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=600)
        return [Pair(*p) for p in json.loads(out.stdout)]
    boilerplate = list(_fingerprint("template", template, []).hashes)
    prints = {s: _fingerprint(s, c, boilerplate) for s, c in sorted(codes.items()) if c.strip()}
    prints[REFERENCE] = _fingerprint(REFERENCE, reference, boilerplate)
    pairs = []
    for a, b in combinations(sorted(prints, key=lambda s: (s == REFERENCE, s)), 2):
        _, (share_a, share_b), (slices_a, slices_b) = compare_files(prints[a], prints[b])
        if max(share_a, share_b) >= threshold:
            pairs.append(Pair(a, b, float(share_a), float(share_b),
                              _lines(prints[a].raw_code, slices_a), _lines(prints[b].raw_code, slices_b)))
    return sorted(pairs, key=lambda p: (-max(p.share, p.other_share), p.student, p.other))


def similar_to(pairs: list[Pair]) -> dict[str, str]:
    """Student -> "reference (share %); other (share %); ..." (the reference first, then the
    largest share of the student's code) for grades.csv's `similar_to` column."""
    found: dict[str, list[tuple[str, float]]] = {}
    for p in pairs:
        found.setdefault(p.student, []).append((p.other, p.share))
        if p.other != REFERENCE:
            found.setdefault(p.other, []).append((p.student, p.other_share))
    return {s: "; ".join(f"{o} ({100 * share:.0f} %)" for o, share in
                         sorted(v, key=lambda x: (x[0] != REFERENCE, -x[1], x[0])))
            for s, v in found.items()}


def class_pairs(course: Path, assignment: str, students: list[str]) -> list[Pair]:
    """`similar_pairs` of the submitted notebooks of `students` (the graded ones) of `assignment`."""
    name = f"{assignment}.ipynb"
    source = nbformat.read(course / "source" / assignment / name, as_version=4)
    ids = {(c.metadata.get("nbgrader") or {}).get("grade_id") for c in source.cells
           if (c.metadata.get("nbgrader") or {}).get("solution")} - {None}
    codes = {s: solution_code(course / "submitted" / s / assignment / name, ids) for s in students}
    return similar_pairs(codes, solution_code(course / "source" / assignment / name, ids),
                         solution_code(course / "release" / assignment / name, ids))


if __name__ == "__main__":   # similar_pairs with a fixed hash seed: JSON arguments in, pairs out
    print(json.dumps(similar_pairs(*json.load(sys.stdin))))
