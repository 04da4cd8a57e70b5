"""Issue 16's novice, in a real browser: JupyterLab in headless chromium at a laptop's 1366 × 900.

Serves (``scripts/labdriver.py``) temporary copies of the playground and of notebook 03 (the
committed notebooks are never touched). Opens 03, clears
its outputs and runs every cell, then does the same with the playground. Screenshots of
each of 03's figures and of the playground go to ``tests/artifacts/`` (gitignored;
``$OPTLESSONS_ARTIFACTS`` overrides). Checks that no cell printed an error, that every
figure of the committed notebook came back, and that each figure is displayed no wider
than the window and than its own pixels, at exactly the width tests/test_legibility.py
assumes (``CONTENT_WIDTH_PX``). Skipped without chromium or playwright.
"""

import shutil

import nbformat
import pytest

from scripts import labdriver
from scripts.labdriver import ARTIFACTS, PANEL
from test_legibility import CONTENT_WIDTH_PX

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

VIEWPORT = {"width": 1366, "height": 900}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NB03 = labdriver.REPO / "notebooks" / "03_gradient_descent.ipynb"
PLAYGROUND = labdriver.REPO / "notebooks" / "playground.ipynb"
FIGURES = f"""() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output img')].map(i => ({{
    widget: i.classList.contains('optlessons-figure'), complete: i.complete,
    natural: i.naturalWidth, shown: i.getBoundingClientRect().width}}))"""


@pytest.fixture
def lab(lab_server):
    """A JupyterLab server (tests/conftest.py) serving copies of the playground and of notebook 03."""
    for notebook in (PLAYGROUND, NB03):
        shutil.copy(notebook, lab_server.root / notebook.name)
    return lab_server


def _inline_figures(path):
    """How many image outputs (figures drawn in a cell, not widgets) the committed notebook has.

    A widget's output carries its first figure as a static image too (for readers without a
    kernel); once the notebook runs, JupyterLab shows the live widget instead: not counted."""
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in out.get("data", {}) and WIDGET_VIEW not in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def _open_and_run(page, url, expected_inline):
    labdriver.open_notebook(page, url)
    labdriver.run_all(page, clear=True, figure=False)
    page.wait_for_function(f"""n => {{ const f = ({FIGURES})();
        return f.filter(x => !x.widget && x.complete && x.natural > 0).length >= n; }}""",
                           arg=expected_inline, timeout=400_000)
    labdriver.wait_idle(page, 120_000)
    page.wait_for_function(f"() => ({FIGURES})().every(x => x.complete && x.natural > 0)")
    return page.evaluate(FIGURES)


def _check_sizes(figures):
    for k, f in enumerate(figures):
        assert f["shown"] <= VIEWPORT["width"] and f["shown"] <= f["natural"] + 0.5, (k, f)
        assert abs(f["shown"] - min(f["natural"], CONTENT_WIDTH_PX)) <= 1.0, (k, f, CONTENT_WIDTH_PX)


def test_notebook_03_and_the_playground_at_laptop_size(lab):
    committed = NB03.read_bytes(), PLAYGROUND.read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page(viewport=VIEWPORT) as page:
        expected = _inline_figures(NB03)
        figures = _open_and_run(page, lab.url(NB03.name), expected)
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
        assert sum(not f["widget"] for f in figures) == expected, figures
        assert any(f["widget"] for f in figures), "03's learning-rate widget did not draw"
        _check_sizes(figures)
        for k, img in enumerate(page.query_selector_all(f"{PANEL} .jp-OutputArea-output img")):
            img.scroll_into_view_if_needed()
            img.screenshot(path=str(ARTIFACTS / f"03-figure-{k:02d}.png"))

        figures = _open_and_run(page, lab.url(PLAYGROUND.name), _inline_figures(PLAYGROUND))
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
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
    assert (NB03.read_bytes(), PLAYGROUND.read_bytes()) == committed
