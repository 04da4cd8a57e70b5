"""Issue 16's novice, in a real browser: JupyterLab in headless chromium at a laptop's 1366 × 900.

Reuses ``test_browser.py``'s server (on a temporary copy of the playground, with a copy
of notebook 03 beside it; the committed notebooks are never touched). Opens 03, clears
its outputs and runs every cell, then does the same with the playground. Screenshots of
each of 03's figures and of the playground go to ``tests/artifacts/`` (gitignored;
``$OPTLESSONS_ARTIFACTS`` overrides). Checks that no cell printed an error, that every
figure of the committed notebook came back, and that each figure is displayed no wider
than the window and than its own pixels, at exactly the width tests/test_legibility.py
assumes (``CONTENT_WIDTH_PX``). Skipped without chromium or playwright.
"""

import os
import pathlib
import shutil

import nbformat
import pytest

import test_browser as tb           # the lab fixture's helpers (tests/ is on sys.path under pytest)
from test_legibility import CONTENT_WIDTH_PX

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

VIEWPORT = {"width": 1366, "height": 900}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NB03 = tb.REPO / "notebooks" / "03_gradient_descent.ipynb"
ARTIFACTS = pathlib.Path(os.environ.get("OPTLESSONS_ARTIFACTS", tb.REPO / "tests" / "artifacts"))
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
FIGURES = f"""() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output img')].map(i => ({{
    widget: i.classList.contains('optlessons-figure'), complete: i.complete,
    natural: i.naturalWidth, shown: i.getBoundingClientRect().width}}))"""


@pytest.fixture
def lab(tmp_path):
    """test_browser's JupyterLab, serving copies of the playground and of notebook 03."""
    fixture = tb.lab.__wrapped__(tmp_path)
    server = next(fixture)
    shutil.copy(NB03, server["root"] / NB03.name)
    yield server
    next(fixture, None)


def _inline_figures(path):
    """How many image outputs (figures drawn in a cell, not widgets) the committed notebook has.

    A widget's output carries its first figure as a static image too (for readers without a
    kernel); once the notebook runs, JupyterLab shows the live widget instead: not counted."""
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in out.get("data", {}) and WIDGET_VIEW not in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def _open_and_run(page, url, expected_inline):
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
    page.wait_for_function(tb.KERNEL_IDLE, timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(f"""n => {{ const f = ({FIGURES})();
        return f.filter(x => !x.widget && x.complete && x.natural > 0).length >= n; }}""",
                           arg=expected_inline, timeout=400_000)
    page.wait_for_function(tb.KERNEL_IDLE, timeout=120_000)
    page.wait_for_function(f"() => ({FIGURES})().every(x => x.complete && x.natural > 0)")
    return page.evaluate(FIGURES)


def _check_sizes(figures):
    for k, f in enumerate(figures):
        assert f["shown"] <= VIEWPORT["width"] and f["shown"] <= f["natural"] + 0.5, (k, f)
        assert abs(f["shown"] - min(f["natural"], CONTENT_WIDTH_PX)) <= 1.0, (k, f, CONTENT_WIDTH_PX)


def test_notebook_03_and_the_playground_at_laptop_size(lab):
    from playwright.sync_api import sync_playwright

    committed = NB03.read_bytes(), tb.NOTEBOOK.read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=tb.CHROMIUM, args=tb.CHROMIUM_ARGS, headless=True,
                                     timeout=60_000)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(60_000)

            url03 = lab["url"].replace("/lab/tree/playground.ipynb?", f"/lab/tree/{NB03.name}?reset&")
            expected = _inline_figures(NB03)
            figures = _open_and_run(page, url03, expected)
            assert tb._error_outputs(page) == [], tb._error_outputs(page)
            assert sum(not f["widget"] for f in figures) == expected, figures
            assert any(f["widget"] for f in figures), "03's learning-rate widget did not draw"
            _check_sizes(figures)
            for k, img in enumerate(page.query_selector_all(f"{PANEL} .jp-OutputArea-output img")):
                img.scroll_into_view_if_needed()
                img.screenshot(path=str(ARTIFACTS / f"03-figure-{k:02d}.png"))

            url_pg = lab["url"].replace("/lab/tree/playground.ipynb?", "/lab/tree/playground.ipynb?reset&")
            figures = _open_and_run(page, url_pg, _inline_figures(tb.NOTEBOOK))
            assert tb._error_outputs(page) == [], tb._error_outputs(page)
            assert any(f["widget"] for f in figures), "the playground's widget did not draw"
            _check_sizes(figures)
            message = page.inner_text(f"{PANEL} .optlessons-message")
            assert "Could not draw" not in message, message
            widget = page.query_selector(f"{PANEL} .optlessons-experiment")
            widget.scroll_into_view_if_needed()
            widget.screenshot(path=str(ARTIFACTS / "playground-widget.png"))
            figure = page.query_selector(f"{PANEL} img.optlessons-figure")
            figure.scroll_into_view_if_needed()
            figure.screenshot(path=str(ARTIFACTS / "playground-figure.png"))
            page.screenshot(path=str(ARTIFACTS / "playground-window.png"))
        finally:
            browser.close()
    assert (NB03.read_bytes(), tb.NOTEBOOK.read_bytes()) == committed
