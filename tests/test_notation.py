"""One notation for the whole course (docs/notation.md, the table in notebook 00).

Every notebook's Markdown (its LaTeX and its prose) and the text its code writes into figures and printouts
(string literals) must name the table's quantities with the table's symbols. Each rule below is one
quantity written with a forbidden symbol; a hit names the notebook, the cell and the text, so the fix is
obvious. Quoting another source is the only excuse, and it is narrow: a cell that quotes PyTorch's
documentation (it says "PyTorch" and "docs"/"documentation"/"algorithm"/"translate") may show PyTorch's
γ, μ, λ and b_t; a cell about RMSprop may use α, RMSprop's smoothing constant; and a cell about a torch
learning-rate scheduler (StepLR, ExponentialLR, `gamma`) may use γ, the scheduler's own name for its decay
factor. Anything else goes in ALLOWED with the reason, per notebook and rule.
"""

from __future__ import annotations

import io
import json
import pathlib
import re
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if not p.name.startswith("."))

MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*?\$", re.S)

# (rule name, where it applies: "math" | "text" | "code", pattern, what the table says instead)
RULES = [
    ("loss-J", "math", re.compile(r"(?<![A-Za-z\\])J\s*(\(|\^\*|\^\\star|_\{?\\?text|\$)|\\nabla\^?2?\s*J\b"),
     "the loss is L, never J"),
    ("loss-J", "code", re.compile(r"(?<![A-Za-z_])J\((θ|x|w|\\theta)|∇J|J\*|\bJ − J"), "the loss is L, never J"),
    ("loss-mathcal", "math", re.compile(r"\\mathcal\s*\{?\s*L\b"), "the loss is L, not \\mathcal{L}"),
    ("lr-alpha", "math", re.compile(r"\\alpha"), "the learning rate is η; α is only RMSprop's smoothing constant"),
    ("lr-alpha", "text", re.compile(r"α"), "the learning rate is η; α is only RMSprop's smoothing constant"),
    ("lr-alpha", "code", re.compile(r"α"), "the learning rate is η; α is only RMSprop's smoothing constant"),
    ("lr-gamma", "math", re.compile(r"\\gamma"), "the learning rate is η (PyTorch's γ, translated)"),
    ("lr-gamma", "text", re.compile(r"γ"), "the learning rate is η (PyTorch's γ, translated)"),
    ("lr-gamma", "code", re.compile(r"γ"), "the learning rate is η (PyTorch's γ, translated)"),
    ("mu", "math", re.compile(r"\\mu(?![a-z])"),
     "the smallest curvature is λ_min and the momentum is β; μ only where PyTorch is quoted"),
    ("mu", "text", re.compile(r"μ"), "the smallest curvature is λ_min and the momentum is β"),
    ("mu", "code", re.compile(r"μ"), "the smallest curvature is λ_min and the momentum is β"),
    ("smoothness-L", "math", re.compile(r"(?<![A-Za-z\\])(2|1)\s*/\s*L(?![A-Za-z(_])|\\frac\s*\{?\s*[12]\s*\}?\s*\{\s*L\s*\}"
                                        r"|\\mu\s*\+\s*L\b|\\kappa\s*=\s*L\s*/"),
     "the largest curvature is λ_max: the bound is 2/λ_max"),
    ("smoothness-L", "code", re.compile(r"(?<![A-Za-z_])[21]/L(?![A-Za-z(_])|αL|ηL\b|/\(μ ?\+ ?L\)"),
     "the largest curvature is λ_max: the bound is 2/λ_max"),
    ("eps-mach", "math", re.compile(r"\\varepsilon(?!_\{?\\?(text|mathrm)\{?\s*mach)\s*(\^\{1/[23]\}|\\approx\s*2\.2)"),
     "machine epsilon is ε_mach; plain ε is the constant in the denominators"),
    ("hidden-activations", "math", re.compile(r"(?<![A-Za-z\\])A_\{?[12]\}?(?![0-9])"),
     "hidden activations are a^{(k)}, never A_1 or H"),
    ("weight-decay-lambda", "text", re.compile(r"weight decay[^.$]{0,30}\$\\lambda"),
     "weight decay is ω (PyTorch's λ, translated)"),
    ("momentum-buffer-b", "math", re.compile(r"(?<![A-Za-z\\])b_\{?t\b"), "the momentum buffer is m_t (PyTorch's b_t)"),
    ("residual-sign", "math", re.compile(r"r_i\s*=\s*y_i\s*-\s*\\hat\s*\{?y\}?_i"),
     "the residual is r_i = ŷ_i − y_i (prediction minus target)"),
    ("residual-sign", "code", re.compile(r"residuals? (r ?= ?)?y ?[−-] ?ŷ"),
     "the residual is r = ŷ − y (prediction minus target)"),
]

QUOTES_PYTORCH = re.compile(r"PyTorch", re.I)
QUOTE_WORDS = re.compile(r"docs|documentation|algorithm|translat", re.I)
RMSPROP = re.compile(r"RMS\s?[Pp]rop")
SCHEDULER = re.compile(r"StepLR|ExponentialLR|lr_scheduler|`gamma`")   # torch's own name for a schedule's factor

#: rules a cell may break because it quotes another source (see the module docstring)
QUOTE_RULES = {"lr-gamma", "mu", "weight-decay-lambda", "momentum-buffer-b"}
RMSPROP_RULES = {"lr-alpha"}
SCHEDULER_RULES = {"lr-gamma"}

#: {(notebook name, cell id): {rule: why}} — the only other exceptions, one cell at a time. Keep it short.
ALLOWED: dict[tuple[str, str], dict[str, str]] = {
    ("05_momentum.ipynb", "4ea659ec"): {
        "lr-alpha": "the table of other courses' conventions quotes Andrew Ng's α for the learning rate"},
}


def _strings(code: str) -> list[str]:
    """The string literals of a code cell (f-string text included): what it writes into figures and printouts."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]   # IPython magics
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                out.append(tok.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        out.append(code)      # not tokenizable: check all of it rather than nothing
    return out


def _parts(cell: dict) -> dict[str, list[str]]:
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    if cell["cell_type"] == "markdown":
        return {"math": MATH.findall(source), "text": [MATH.sub(" ", source)]}
    if cell["cell_type"] == "code":
        return {"code": _strings(source)}
    return {}


def violations(nb: dict, name: str = "") -> list[str]:
    """Every use of a symbol outside the table in notebook JSON `nb`, as readable lines."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        allowed = ALLOWED.get((name, cell.get("id")), {})
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        quotes = bool(QUOTES_PYTORCH.search(source) and QUOTE_WORDS.search(source))
        rmsprop = bool(RMSPROP.search(source))
        scheduler = bool(SCHEDULER.search(source))
        for where, pieces in _parts(cell).items():
            for rule, applies, pattern, instead in RULES:
                if applies != where or rule in allowed:
                    continue
                if ((quotes and rule in QUOTE_RULES) or (rmsprop and rule in RMSPROP_RULES)
                        or (scheduler and rule in SCHEDULER_RULES)):
                    continue
                for piece in pieces:
                    for m in pattern.finditer(piece):
                        context = piece[max(0, m.start() - 30):m.end() + 30].replace("\n", " ")
                        found.append(f"{name} cell {index} ({cell.get('id', '?')}), {rule}: …{context}… — {instead}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_follows_the_notation_table(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = violations(nb, path.name)
    assert not found, f"{len(found)} symbol(s) outside docs/notation.md:\n" + "\n".join(found)


def test_the_allow_list_names_only_cells_and_rules_that_exist():
    cells = {(p.name, c.get("id")) for p in NOTEBOOKS for c in json.loads(p.read_text(encoding="utf-8"))["cells"]}
    rules = {rule for rule, *_ in RULES}
    for where, exceptions in ALLOWED.items():
        assert where in cells, f"ALLOWED names a cell that does not exist: {where}"
        assert set(exceptions) <= rules and all(exceptions.values()), f"{where}: unknown rule or no reason"


def _md(text):
    return {"cells": [{"cell_type": "markdown", "source": text}]}


def _code(text):
    return {"cells": [{"cell_type": "code", "source": text, "outputs": []}]}


@pytest.mark.parametrize("nb, rule", [
    (_md(r"The update $\theta \leftarrow \theta - \alpha \nabla L(\theta)$."), "lr-alpha"),
    (_md(r"Minimise $J(\theta)$ over $\theta$."), "loss-J"),
    (_md(r"Its gradient $\nabla J$ points uphill."), "loss-J"),
    (_md(r"The loss $\mathcal{L}$ of the batch."), "loss-mathcal"),
    (_md(r"Stable iff $\eta < 2/L$."), "smoothness-L"),
    (_md(r"The best step $2/(\mu + L)$."), "smoothness-L"),
    (_md(r"with $\kappa = L/\mu$"), "smoothness-L"),
    (_md(r"The smallest curvature $\mu = 1$."), "mu"),
    (_md(r"with the learning rate $\gamma$"), "lr-gamma"),
    (_md(r"round-off: $\varepsilon^{1/3} \approx 6\times10^{-6}$"), "eps-mach"),
    (_md(r"$A_1 = \tanh(Z_1)$"), "hidden-activations"),
    (_md(r"the residual $r_i = y_i - \hat y_i$"), "residual-sign"),
    (_md("learning rate α = 0.1 in prose"), "lr-alpha"),
    (_code('ax.set_xlabel("learning rate α")'), "lr-alpha"),
    (_code('print(f"J(θ*) = {J_star:.4f}")'), "loss-J"),
    (_code('ax.annotate(f"2/L = {lr_max:.2f}", (0, 0))'), "smoothness-L"),
    (_code('label="residuals y − ŷ"'), "residual-sign"),
])
def test_each_rule_catches_its_mistake(nb, rule):
    found = violations(nb, "example.ipynb")
    assert any(f", {rule}:" in line for line in found), found


@pytest.mark.parametrize("nb", [
    _md(r"The update $\theta_{t+1} = \theta_t - \eta\, \nabla L(\theta_t)$, stable for $\eta < 2/\lambda_{\max}$."),
    _md(r"The best step $2/(\lambda_{\min} + \lambda_{\max})$ and $\varepsilon_{\text{mach}}^{1/3}$, $a^{(1)} = \tanh(z^{(1)})$."),
    _md(r"PyTorch's docs write $\gamma$ for the learning rate and $\mu$ for momentum: $\gamma \to \eta$, $\mu \to \beta$."),
    _md(r"RMSprop keeps $v_t = \alpha v_{t-1} + (1 - \alpha) g_t^2$ with smoothing constant $\alpha$ (`alpha`)."),
    _md(r"The residual $r_i = \hat y_i - y_i$; Adam's $\hat v_t$ and $\varepsilon$ = `eps`; $L(\theta) = \frac1n \sum_i \ell_i$."),
    _code('alpha = 0.99   # RMSprop smoothing: a name in code, not a label\nJ = np.eye(2)\nax.set_xlabel("learning rate η")'),
    _code('ax.plot(x, y, color="black", alpha=0.3, label="L(θ) − L(θ*)")'),
    _md(r"**step decay** (PyTorch `StepLR`): $\eta_t = \eta_0\,\gamma^{\lfloor t / s \rfloor}$, here $\gamma = 0.1$"),
])
def test_the_table_s_own_symbols_pass(nb):
    assert violations(nb, "example.ipynb") == []


def test_notebook_00_carries_the_table_of_docs_notation_md():
    """The reference table is in two places (docs/notation.md and notebook 00): they must be the same table."""
    doc = (ROOT / "docs" / "notation.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("|")]
    assert len(rows) > 20 and rows[0].startswith("| symbol |")
    welcome = json.loads((ROOT / "notebooks" / "00_welcome.ipynb").read_text(encoding="utf-8"))
    markdown = "\n".join("".join(c["source"]) for c in welcome["cells"] if c["cell_type"] == "markdown")
    missing = [row for row in rows if row.replace("](glossary/", "](../docs/glossary/") not in markdown]
    assert not missing, "rows of docs/notation.md missing from 00_welcome.ipynb:\n" + "\n".join(missing)
    for source, target in (("PyTorch", "γ → η"), ("PyTorch", "μ → β"), ("PyTorch", "λ → ω")):
        greek = target.replace(" → ", " \\to ").replace("γ", "\\gamma").replace("η", "\\eta").replace(
            "μ", "\\mu").replace("β", "\\beta").replace("λ", "\\lambda").replace("ω", "\\omega")
        assert greek in markdown and greek in doc, f"the {source} translation {target} is missing"


def _slug(heading: str) -> str:
    """The anchor GitHub and MyST (myst_heading_anchors) give a heading: lower case, spaces to '-', punctuation dropped."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_into_the_glossary_and_notation_pages_lands_on_a_heading():
    """A word links to its own page, docs/glossary/<word>.md, which every viewer opens at the word (JupyterLab does
    not follow an #anchor into a Markdown file); links into glossary.md and notation.md by #anchor must hit a heading."""
    pages = {name: {_slug(line.lstrip("#")) for line in (ROOT / "docs" / name).read_text(encoding="utf-8").splitlines()
                    if line.startswith("#")} for name in ("glossary.md", "notation.md")}
    link = re.compile(r"\]\((?:\.\./docs/)?(glossary|notation)\.md(?:#([\w-]+))?\)")
    term = re.compile(r"\]\((?:\.\./docs/|\.\./)?glossary/([\w-]+)\.md\)")
    sources = [(p.name, "".join(c["source"])) for p in NOTEBOOKS
               for c in json.loads(p.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown"]
    sources += [(name, (ROOT / "docs" / name).read_text(encoding="utf-8")) for name in pages]
    terms = sorted((ROOT / "docs" / "glossary").glob("*.md"))
    sources += [(f"glossary/{p.name}", p.read_text(encoding="utf-8")) for p in terms]
    broken = [f"{where}: {page}.md#{anchor}" for where, text in sources for page, anchor in link.findall(text)
              if anchor and anchor not in pages[f"{page}.md"]]
    broken += [f"{where}: glossary/{word}.md" for where, text in sources for word in term.findall(text)
               if not (ROOT / "docs" / "glossary" / f"{word}.md").exists()]
    assert not broken, "links to missing headings or pages:\n" + "\n".join(broken)
    anchored = [f"{where}: glossary.md#{anchor}" for where, text in sources if where.endswith(".ipynb")
                for page, anchor in link.findall(text) if page == "glossary" and anchor]
    assert not anchored, "a notebook links a word to its own page, not to an #anchor of glossary.md:\n" + "\n".join(anchored)
    linked = {word for _, text in sources for word in term.findall(text)}
    assert {"hessian", "eigenvalue-and-eigenvector", "condition-number", "partial-derivative", "jacobian",
            "iverson-bracket", "normal-equations", "expectation-and-variance"} <= linked   # issue 16's list, all used
    for page in terms:                  # each word's page opens on its word and has an entry in the index
        heading = page.read_text(encoding="utf-8").splitlines()[0]
        assert heading.startswith("# ") and _slug(heading.lstrip("#")) == page.stem, page.name
        assert page.stem in pages["glossary.md"] and f"(glossary/{page.name})" in dict(sources)["glossary.md"]


# One letter, one meaning: a letter the table gives one meaning may appear in a notebook's LaTeX only in the notebooks
# that use it with that meaning (its homes). A use anywhere else is the letter defined a second time, with another
# meaning (04 once wrote P for an error covariance and 09 M for a matrix of residuals, while 09's P is a
# preconditioner and 05's M the companion matrix); a notebook that needs it with the *same* meaning joins the homes.
#: symbol -> (pattern in LaTeX, its one meaning as docs/notation.md states it, the notebooks that use it)
ONE_MEANING = {
    r"\Sigma": (re.compile(r"\\Sigma(?![A-Za-z])"), "the covariance matrix of one example's gradient",
                {"04_stochastic_gradient_descent.ipynb", "10_training_in_practice.ipynb"}),
    "G": (re.compile(r"(?<![A-Za-z\\{])G(?![A-Za-z])"), "a bound on the gradient's size", {"09_beyond_the_bowl.ipynb"}),
    "P": (re.compile(r"(?<![A-Za-z\\{])P(?![A-Za-z])"), "a preconditioner", {"09_beyond_the_bowl.ipynb"}),
    "M": (re.compile(r"(?<![A-Za-z\\{])M(?![A-Za-z])"), "the companion matrix of heavy-ball momentum",
          {"05_momentum.ipynb"}),
}
#: the notebook that carries the notation table itself (each letter once, with the table's meaning)
TABLE_NOTEBOOK = "00_welcome.ipynb"
#: (notebook, symbol) -> why it is still defined a second time; each must fail (strict), so the list only shrinks.
SECOND_MEANING_PENDING: dict[tuple[str, str], str] = {}


def second_meanings(nb: dict, name: str) -> list[str]:
    """Each use, in notebook `name`'s LaTeX, of a ONE_MEANING letter outside its home notebooks."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for symbol, (pattern, meaning, homes) in ONE_MEANING.items():
            if name in homes or name == TABLE_NOTEBOOK:
                continue
            for math in MATH.findall(source):
                if pattern.search(math):
                    found.append(f"{name} cell {index} ({cell.get('id', '?')}): ${symbol}$ in {math[:60]!r} — "
                                 f"{symbol} is {meaning} ({', '.join(sorted(homes))}); give this quantity another letter")
    return found


def _one_meaning_case(path):
    pending = [why for (name, _), why in SECOND_MEANING_PENDING.items() if name == path.name]
    marks = [pytest.mark.xfail(strict=True, reason="; ".join(pending))] if pending else []
    return pytest.param(path, id=path.stem, marks=marks)


PROBLEM_SETS = sorted((ROOT / "exercises" / "source").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", [_one_meaning_case(p) for p in NOTEBOOKS + PROBLEM_SETS])
def test_no_letter_of_the_table_is_defined_twice(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = second_meanings(nb, path.name)
    assert not found, f"{len(found)} letter(s) with a second meaning:\n" + "\n".join(found)


def test_each_one_meaning_letter_is_tabled_with_that_meaning():
    doc = (ROOT / "docs" / "notation.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| $")}
    for symbol, (_, meaning, homes) in ONE_MEANING.items():
        row = rows.get(f"${symbol}$")
        assert row and meaning in row, f"docs/notation.md needs the row | ${symbol}$ | {meaning} … |"
        assert all((ROOT / "notebooks" / home).exists() for home in homes)
    for (name, symbol) in SECOND_MEANING_PENDING:
        assert symbol in ONE_MEANING and (ROOT / "notebooks" / name).exists()


@pytest.mark.parametrize("text, symbol", [
    (r"with covariance $P = \mathbb E\, e_t e_t^\top$ of the error", "P"),                  # 04, second edition
    (r"through the matrix $M = \tilde X^\top (\hat Y - Y)/n$", "M"),                         # 09, second edition
    (r"$B_{\text{noise}} = \operatorname{tr}\Sigma/\lVert G\rVert^2$ with $G$ the full gradient", "G"),   # 10
    (r"$\tfrac12 \operatorname{tr}(A\,\Sigma)$ with Σ the covariance of θ", r"\Sigma"),  # 09, second edition
    (r"with $P = \operatorname{softmax}(z^{(2)})$ row by row: $\delta^{(2)} = (P - Y)/B$", "P"),  # 08, third edition
])
def test_a_second_meaning_is_caught(text, symbol):
    found = second_meanings(_md(text), "03_gradient_descent.ipynb")
    assert any(f"${symbol}$ in" in line for line in found), found


def test_the_homes_may_use_their_letter():
    assert second_meanings(_md(r"the step $\theta \leftarrow \theta - \eta PP^\top\nabla L$"), "09_beyond_the_bowl.ipynb") == []
    assert second_meanings(_md(r"$\mathrm{Cov}[e]$, $\mathbb{E}[L]$, $\operatorname{diag}(p)$, $\lambda_{\max}$"),
                           "03_gradient_descent.ipynb") == []
