"""The playground in a real browser: JupyterLab + headless Debian chromium, driven by playwright.

Starts JupyterLab on a free loopback port with a random token, in a temporary
root holding a *copy* of notebooks/playground.ipynb (the committed notebook is
never touched; settings, workspaces and runtime files go to the temporary
directory too). Opens the copy, waits for an idle kernel, clears the saved
outputs and runs every cell, moves the GD learning-rate slider with the
keyboard, and checks that the figure changed and that no error appeared.

The server and the browser come from ``scripts/labdriver.py``. A screenshot is
saved to ``$OPTLESSONS_ARTIFACTS/playground-browser.png`` (default:
``tests/artifacts/``). Skipped, with the reason, when chromium or playwright is
missing: ``apt-get install -y chromium`` (the CI script .ci/run does it). Run it
alone with ``pytest -m browser``.
"""

import shutil

import pytest

from scripts import labdriver
from scripts.labdriver import ARTIFACTS, PANEL

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

NOTEBOOK = labdriver.REPO / "notebooks" / "playground.ipynb"


@pytest.fixture
def lab(lab_server):
    """A JupyterLab server (tests/conftest.py) serving a copy of the playground."""
    shutil.copy(NOTEBOOK, lab_server.root / "playground.ipynb")
    return lab_server


def test_playground_runs_and_answers_a_slider_in_the_browser(lab):
    committed = NOTEBOOK.read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page() as page:
        labdriver.open_notebook(page, lab.url("playground.ipynb"))
        labdriver.run_all(page, clear=True)
        figure = page.wait_for_selector(f"{PANEL} img.optlessons-figure")
        figure.scroll_into_view_if_needed()
        before_src = figure.get_attribute("src")
        before = figure.screenshot()

        # move the GD learning-rate slider (first tab, visible) one page up: a single change
        handle = page.wait_for_selector(".optlessons-gd-lr .noUi-handle", state="visible")
        readout_before = page.inner_text(".optlessons-gd-lr .widget-readout")
        handle.focus()
        page.keyboard.press("PageUp")
        page.wait_for_function(labdriver.FIGURE_CHANGED, arg=before_src, timeout=30_000)
        labdriver.wait_idle(page, 30_000)
        readout_after = page.inner_text(".optlessons-gd-lr .widget-readout")
        after = figure.screenshot()
        page.screenshot(path=str(ARTIFACTS / "playground-browser.png"), full_page=True)

        assert readout_after != readout_before, (readout_before, readout_after)
        assert after != before, "the figure did not change after moving the lr slider"
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
        message = page.inner_text(".optlessons-message")
        assert "Could not draw" not in message, message
        assert "GD" in page.inner_text(".optlessons-summary")
        # JupyterLab as a learner meets it (jupyter-config/): no grader's menu, no news prompt
        menus = page.inner_text("#jp-menu-panel")
        assert "Nbgrader" not in menus and "Assignments" not in menus, menus
        toasts = page.inner_text(".Toastify") if page.query_selector(".Toastify") else ""
        assert "news" not in toasts.lower(), toasts
    assert NOTEBOOK.read_bytes() == committed          # the committed notebook was not touched


# ---- accessibility of the widgets: axe-core and the browser's accessibility tree --------------

AXE = labdriver.REPO / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
CONTROL_ROLES = ("slider", "checkbox", "combobox", "textbox", "spinbutton", "button", "tab", "radio", "listbox")


def _unnamed_controls(area):
    """The controls in `area` (a locator) that Chromium's accessibility tree gives no name."""
    unnamed = []
    for line in area.aria_snapshot().splitlines():
        item = line.strip().removeprefix("- ")
        role = item.split(" ", 1)[0].rstrip(":")
        if role in CONTROL_ROLES and not item[len(role):].lstrip().startswith('"'):
            unnamed.append(item)
    return unnamed


def _axe_serious(page, selector):
    result = page.evaluate("sel => axe.run({include: [[sel]]}, {resultTypes: ['violations']})", selector)
    return [f"{v['id']} ({v['impact']}) x{len(v['nodes'])}: {v['nodes'][0]['html'][:160]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_widgets_are_accessible_and_the_static_figure_gives_way_to_the_live_one(lab):
    """axe finds nothing serious in the playground and an experiment; every control has a name;
    the committed (untrusted, not yet run) notebook shows the static figure with its alt text,
    and once run only the live widget shows — never both."""
    if not AXE.exists():
        pytest.skip("axe-core not installed: npm ci --prefix tests/a11y (make test does it)")
    labdriver.one_cell_notebook(lab.root / "experiment.ipynb",
                                "from optlessons.widgets import adam_experiment\n\nadam_experiment()")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = {}
    with labdriver.chromium_page() as page:
        # 1. not yet run: the saved output shows the static figure with its alt text, no widget
        page.goto(lab.url("playground.ipynb"), wait_until="domcontentloaded")
        page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
        static = page.wait_for_selector(f"{PANEL} .jp-OutputArea-output img[alt]", timeout=90_000)
        alt = static.get_attribute("alt")
        assert "optimizers' paths" in alt and alt.endswith("."), alt
        assert page.query_selector(f"{PANEL} img.optlessons-figure") is None
        page.screenshot(path=str(ARTIFACTS / "playground-static-figure.png"))
        # 2. run: the live widget replaces it
        labdriver.run_all(page)
        figures = page.eval_on_selector_all(f"{PANEL} .jp-OutputArea-output img",
                                            "els => els.map(e => e.classList.contains('optlessons-figure'))")
        assert figures == [True], figures          # one figure, the live one
        assert "optimizers' paths" in page.get_attribute(f"{PANEL} img.optlessons-figure", "title")
        page.add_script_tag(path=str(AXE))
        area = page.locator(f"{PANEL} .optlessons-experiment")
        found["playground"] = (_axe_serious(page, f"{PANEL} .optlessons-experiment"), _unnamed_controls(area))
        page.screenshot(path=str(ARTIFACTS / "playground-a11y.png"), full_page=True)
        # 3. an experiment
        labdriver.open_notebook(page, lab.url("experiment.ipynb"))
        labdriver.run_all(page)
        page.add_script_tag(path=str(AXE))
        area = page.locator(f"{PANEL} .optlessons-experiment")
        found["adam_experiment"] = (_axe_serious(page, f"{PANEL} .optlessons-experiment"),
                                    _unnamed_controls(area))
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
        names = area.aria_snapshot()
    for name, (violations, unnamed) in found.items():
        assert not violations, f"{name}: axe found\n" + "\n".join(violations)
        assert not unnamed, f"{name}: controls without an accessible name: {unnamed}"
    for label in ("learning rate", "β₁", "β₂", "steps"):            # a slider is named by its visible label
        assert f'slider "{label}"' in names, names
