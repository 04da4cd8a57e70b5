"""No figure text shows a literal subscript or superscript marker: "L(θ_t)", "(1 − 1/κ)^t", "λ_i".

Matplotlib draws ``_`` and ``^`` as themselves outside mathtext, so a label meant as θ with
subscript t reads "θ_t" on screen. Every text a figure draws — titles, axis and tick labels,
legends, annotations, colour-bar labels — is read as it is drawn: each notebook runs top to bottom
with tests/legibility_probe.py installed (the same run as tests/test_legibility.py), and each
widget experiment is drawn with its defaults. A marker is a ``_`` or ``^`` right after a
character and before a letter, digit, brace or bracket, outside ``$…$``; write it in mathtext
(``r"$L(\\theta_t)$"``) or with Unicode sub/superscripts (θ₀, x²).
"""

import pathlib
import re
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(REPO / "tests"))
import legibility_probe  # noqa: E402
from test_legibility import WIDGETS  # noqa: E402

MATHTEXT = re.compile(r"(?<!\\)\$.*?(?<!\\)\$", re.S)
MARKER = re.compile(r"(?<=\S)[_^](?=[\w{(\[∞*−-])")

#: notebooks whose figures still show a marker today, name -> why; each must fail (strict), so the list only shrinks.
PENDING: dict = {}


def literal_markers(text):
    """The literal ``_x`` / ``^x`` markers of a drawn text, outside its mathtext."""
    plain = MATHTEXT.sub(" ", text)
    return [plain[max(0, m.start() - 6):m.end() + 3] for m in MARKER.finditer(plain)
            if not _identifier(plain, m.start())]


def _identifier(plain, at):
    """A ``_`` between two runs of two or more ASCII letters is a name from the code
    (``clip_grad_norm``, ``max_norm``), not a subscript: λ_max and θ_t have one letter before it."""
    before, after = plain[max(0, at - 2):at], plain[at + 1:at + 3]
    return plain[at] == "_" and all(len(s) == 2 and s.isascii() and s.isalpha() for s in (before, after))


@pytest.mark.parametrize("text", ["L(θ_t) − L*", "bound (1 − 1/κ)^t · gap₀", "λ_i / max |λ|", "1/√v̂_t",
                                  "‖g_t‖", "η_t = 0.5/√(1+t)", "2/λ_max = 0.2", "x^2", "r_t", "$L$ at θ_0"])
def test_a_literal_marker_is_caught(text):
    assert literal_markers(text), text


@pytest.mark.parametrize("text", ["clip_grad_norm = 1", "max_norm = 1", r"$L(\theta_t) - L^*$  (log scale)", r"bound $(1 - 1/\kappa)^t$", "θ₀ and x²",
                                  "L(θ) − L*", "learning rate 1e-03", r"$\eta_t = 0.5/\sqrt{1+t}$ (cost \$5)",
                                  "step t", "β₂ = 0.999", "plain words"])
def test_mathtext_and_unicode_pass(text):
    assert literal_markers(text) == [], text


def _case(path):
    marks = [pytest.mark.xfail(strict=True, reason=PENDING[path.name])] if path.name in PENDING else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("legibility_notebook", [_case(p) for p in NOTEBOOKS])
def test_no_notebook_figure_shows_a_literal_marker(legibility_notebook):
    path = legibility_notebook
    found = [f"{path.name} cell {rec['index']} (id {rec['cell']}): {text!r} has {marks}"
             for rec in legibility_probe.notebook_records(path)
             for text, _ in rec["texts"] if (marks := literal_markers(text))]
    assert not found, "write these in mathtext ($…$) or Unicode:\n" + "\n".join(found)


@pytest.mark.slow
@pytest.mark.parametrize("name", WIDGETS)
def test_no_widget_figure_shows_a_literal_marker(name):
    rec = legibility_probe.record(WIDGETS[name]().figure)
    found = [f"{text!r} has {marks}" for text, _ in rec["texts"] if (marks := literal_markers(text))]
    assert not found, f"{name}: " + "; ".join(found)


def test_pending_names_notebooks_that_exist():
    assert all((REPO / "notebooks" / name).exists() for name in PENDING)
