"""What the class got wrong: `python exercises/grade.py report ASSIGNMENT`.

Writes, from the gradebook, grading_status.json and the autograded notebooks:

* `reports/<assignment>.html`, one self-contained page that opens offline: the
  counts (graded / ungradable / missing), a histogram of the scores (inline SVG,
  with a table of the same numbers), the pass rate of each graded cell, the
  known mistakes the checks named ranked by how many students made them (with
  their ids), similar code (``courseops.grading.similar``: pairs of submissions, or a
  submission and the reference, with the matching lines side by side), the
  ungradable and missing submissions and the warnings;
* `reports/<assignment>-mistakes.csv`, columns `cell,mistake,students,count`
  (students separated by spaces), the most frequent mistake first.

A mistake is the one a check named in a test cell (the first, its most likely
reading), as the grading kernel recorded it in the cell's metadata: data, never
text the learner's code could print.
"""

from __future__ import annotations

import csv
import html
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import nbformat

from courseops.grading.course import GRADED, MISSING, STATUS_FILE, UNGRADABLE, gradebook, load_statuses
from courseops.grading.similar import THRESHOLD, class_pairs
from courseops.sanitize import csv_safe

REPORTS = "reports"


@dataclass
class CellResult:
    """One graded cell across the class: its points and each graded student's score."""
    name: str
    max_score: float
    scores: dict[str, float]

    @property
    def passed(self) -> list[str]:
        return sorted(s for s, v in self.scores.items() if math.isclose(v, self.max_score))


def mistakes_in(nb) -> dict[str, str]:
    """grade_id of each test cell in which a check named a known mistake -> that mistake,
    as the grading kernel recorded it (cell metadata "optlessons", see course.grading_data):
    never read from what a cell printed, which the learner's code controls."""
    found = {}
    for c in nb.cells:
        meta = c.metadata.get("nbgrader") or {}
        mistake = (c.metadata.get("optlessons") or {}).get("mistake")
        if c.cell_type == "code" and meta.get("grade") and isinstance(mistake, str):
            found[meta["grade_id"]] = mistake
    return found


def class_mistakes(course: Path, assignment: str, students: list[str]) -> list[tuple[str, str, list[str]]]:
    """(cell, mistake, students who made it), the most frequent first, then by cell and mistake."""
    who: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in students:
        for path in sorted((course / "autograded" / s / assignment).glob("*.ipynb")):
            for cell, mistake in mistakes_in(nbformat.read(path, as_version=4)).items():
                who[cell, mistake].append(s)
    return sorted(((c, m, sorted(ss)) for (c, m), ss in who.items()), key=lambda t: (-len(t[2]), t[0], t[1]))


def cell_results(course: Path, assignment: str, students: list[str]) -> tuple[list[CellResult], dict[str, float], float]:
    """Per graded cell results, each student's total, and the assignment's maximum score."""
    from nbgrader.api import MissingEntry
    with gradebook(course) as gb:
        a = gb.find_assignment(assignment)
        cells = {g.name: CellResult(g.name, g.max_score, {}) for nb in a.notebooks for g in nb.grade_cells}
        order = [g.name for nb in a.notebooks for g in nb.grade_cells]
        totals = {}
        for s in students:
            try:
                sub = gb.find_submission(assignment, s)
            except MissingEntry:
                continue
            totals[s] = sub.score
            for nb in sub.notebooks:
                for g in nb.grades:
                    cells[g.name].scores[s] = g.score
        return [cells[n] for n in order], totals, a.max_score


def histogram_bins(scores: list[float], max_score: float) -> list[tuple[float, float, int]]:
    """(low, high, count) bins covering 0..max_score: one per point up to 20 points, else 10 equal
    bins; a bin holds low <= score < high, the last one also max_score."""
    n = int(max_score) + 1 if max_score <= 20 and float(max_score).is_integer() else 10
    width = 1.0 if n == int(max_score) + 1 else max_score / n
    bins = []
    for i in range(n):
        low, high = i * width, (i + 1) * width
        last = i == n - 1
        bins.append((low, high, sum(low <= v < high or (last and v >= low) for v in scores)))
    return bins


def histogram_svg(scores: list[float], max_score: float, assignment: str) -> str:
    """An accessible bar chart of the scores (role=img, title and description)."""
    bins = histogram_bins(scores, max_score)
    w, h, left, bottom, top = 640, 260, 48, 40, 16
    peak = max([c for _, _, c in bins] + [1])
    bw = (w - left - 8) / len(bins)
    desc = "; ".join(f"{_label(lo, hi, len(bins), max_score)}: {c}" for lo, hi, c in bins)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             f'role="img" aria-labelledby="hist-title hist-desc">',
             f'<title id="hist-title">Scores of the {len(scores)} graded submissions of '
             f'{html.escape(assignment)}, out of {max_score:g}</title>',
             f'<desc id="hist-desc">Number of students per score: {html.escape(desc)}</desc>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - 4}" y2="{h - bottom}" stroke="#1b1b1b"/>']
    for i, (lo, hi, c) in enumerate(bins):
        x = left + i * bw
        bh = (h - bottom - top - 14) * c / peak
        y = h - bottom - bh
        label = _label(lo, hi, len(bins), max_score)
        parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bw - 4:.1f}" height="{bh:.1f}" fill="#1f5fa8">'
                     f'<title>{html.escape(label)}: {c} student{"s" * (c != 1)}</title></rect>')
        if c:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="12" '
                         f'fill="#1b1b1b">{c}</text>')
        parts.append(f'<text x="{x + bw / 2:.1f}" y="{h - bottom + 16:.1f}" text-anchor="middle" '
                     f'font-size="12" fill="#1b1b1b">{html.escape(label)}</text>')
    parts.append(f'<text x="{left + (w - left) / 2:.1f}" y="{h - 6}" text-anchor="middle" font-size="13" '
                 f'fill="#1b1b1b">score (points)</text>')
    parts.append(f'<text x="14" y="{top + (h - bottom) / 2:.1f}" text-anchor="middle" font-size="13" '
                 f'fill="#1b1b1b" transform="rotate(-90 14 {top + (h - bottom) / 2:.1f})">students</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _label(lo: float, hi: float, n: int, max_score: float) -> str:
    return f"{lo:g}" if n == int(max_score) + 1 else f"{lo:.3g}–{hi:.3g}"


def _table(caption: str, header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = []
    for r in rows:
        cells = [f'<th scope="row">{html.escape(r[0])}</th>'] + [
            f'<td class="num">{html.escape(v)}</td>' if j in numeric else f"<td>{html.escape(v)}</td>"
            for j, v in enumerate(r[1:], 1)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b; background: #fff;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
h1, h2 { line-height: 1.2; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #767676; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
th, td { border: 1px solid #767676; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
details { margin: 0.5rem 0 1rem; } summary { cursor: pointer; }
thead th { background: #e8eef6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.counts { font-size: 1.15rem; } .none { color: #3d3d3d; font-style: italic; }
pre { margin: 0; white-space: pre-wrap; font-size: 0.85rem; }
"""


def _similar_code(pairs) -> list[str]:
    """The similar-code section: a table of the pairs, then each pair's matching lines side by side."""
    e = html.escape
    if not pairs:
        return [f'<p class="none">No pair shares {100 * THRESHOLD:.0f} % of its code.</p>']
    parts = [_table(f"Pairs in which at least {100 * THRESHOLD:.0f} % of one side's code is found in the "
                    f"other (names normalised, the release's template left out); scores are unchanged",
                    ["student", "similar to", "share of the student's code", "share of the other's code"],
                    [[p.student, p.other, f"{100 * p.share:.0f} %", f"{100 * p.other_share:.0f} %"] for p in pairs],
                    {2, 3})]
    for p in pairs:
        parts.append(f"<details><summary>{e(p.student)} and {e(p.other)}: the matching lines</summary>"
                     f'<table><thead><tr><th scope="col">{e(p.student)}</th><th scope="col">{e(p.other)}</th>'
                     f"</tr></thead><tbody><tr><td><pre>{e(p.lines)}</pre></td><td><pre>{e(p.other_lines)}</pre>"
                     f"</td></tr></tbody></table></details>")
    return parts


def write_report(course: Path, assignment: str) -> tuple[Path, Path]:
    """Write reports/<assignment>.html and reports/<assignment>-mistakes.csv; return their paths."""
    outcomes = load_statuses(course).get(assignment)
    if not outcomes:
        raise SystemExit(f"no grading of {assignment} recorded in {course / STATUS_FILE}: "
                         f"run `grade.py autograde {assignment}` first")
    everyone = sorted(outcomes.values(), key=lambda o: o.student)
    graded = [o.student for o in everyone if o.kind == GRADED]
    ungradable = [o for o in everyone if o.kind == UNGRADABLE]
    missing = [o.student for o in everyone if o.kind == MISSING]
    cells, totals, max_score = cell_results(course, assignment, graded)
    scores = [totals[s] for s in graded if s in totals]
    mistakes = class_mistakes(course, assignment, graded)

    out = course / REPORTS
    out.mkdir(exist_ok=True)
    csv_path = out / f"{assignment}-mistakes.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["cell", "mistake", "students", "count"])
        for cell, mistake, students in mistakes:
            w.writerow([csv_safe(cell), csv_safe(mistake), csv_safe(" ".join(students)), len(students)])

    e = html.escape
    parts = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
             f'<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{e(assignment)}: grading report</title><style>{CSS}</style></head><body><main>",
             f"<h1>{e(assignment)}: what the class got wrong</h1>",
             f'<p class="counts"><strong>{len(everyone)}</strong> students: <strong>{len(graded)}</strong> graded, '
             f"<strong>{len(ungradable)}</strong> ungradable, <strong>{len(missing)}</strong> missing.</p>"]
    if scores:
        parts.append(f"<p>Mean score {statistics.mean(scores):.1f} and median {statistics.median(scores):g} "
                     f"out of {max_score:g}; {sum(math.isclose(v, max_score) for v in scores)} full marks.</p>")
    parts.append("<h2>Scores</h2>")
    if scores:
        parts.append(f"<figure>{histogram_svg(scores, max_score, assignment)}"
                     f"<figcaption>Students per score, of the graded submissions.</figcaption></figure>")
        bins = histogram_bins(scores, max_score)
        parts.append("<details><summary>The histogram as a table</summary>" + _table(
            "Students per score", ["score", "students"],
            [[_label(lo, hi, len(bins), max_score), str(c)] for lo, hi, c in bins], {1}) + "</details>")
    else:
        parts.append('<p class="none">No graded submission.</p>')
    parts.append("<h2>Graded cells</h2>")
    parts.append(_table("Pass rate per graded cell (passed = full points)",
                        ["cell", "points", "passed", "pass rate", "mean score"],
                        [[c.name, f"{c.max_score:g}", f"{len(c.passed)} of {len(c.scores)}",
                          f"{100 * len(c.passed) / len(c.scores):.0f} %" if c.scores else "–",
                          f"{statistics.mean(c.scores.values()):.2f}" if c.scores else "–"] for c in cells],
                        {1, 2, 3, 4}))
    parts.append("<h2>Known mistakes</h2>")
    if mistakes:
        parts.append(_table("The mistakes the checks named, the most frequent first",
                            ["rank", "cell", "mistake", "students", "who"],
                            [[str(i), c, m, str(len(ss)), " ".join(ss)] for i, (c, m, ss) in enumerate(mistakes, 1)],
                            {3}))
    else:
        parts.append('<p class="none">No check named a known mistake.</p>')
    parts.append("<h2>Similar code</h2>")
    parts += _similar_code(class_pairs(course, assignment, graded))
    parts.append("<h2>Ungradable submissions</h2>")
    if ungradable:
        parts.append(_table("Submissions nbgrader could not grade: they score nothing until fixed",
                            ["student", "why", "submitted"],
                            [[o.student, o.status.split(": ", 1)[1], o.timestamp] for o in ungradable]))
    else:
        parts.append('<p class="none">None.</p>')
    parts.append("<h2>Missing submissions</h2>")
    parts.append(f"<p>{e(', '.join(missing))}</p>" if missing else '<p class="none">None.</p>')
    warned = [[o.student, w] for o in everyone for w in o.warnings]
    parts.append("<h2>Warnings</h2>")
    parts.append(_table("What grading repaired or noticed, per student", ["student", "warning"], warned)
                 if warned else '<p class="none">None.</p>')
    parts.append("</main></body></html>\n")
    html_path = out / f"{assignment}.html"
    html_path.write_text("\n".join(parts), encoding="utf-8")
    print(f"report -> {html_path} and {csv_path.name} ({len(mistakes)} distinct mistakes)")
    return html_path, csv_path
