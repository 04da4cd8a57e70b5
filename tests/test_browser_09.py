"""Notebook 09's widget in a real browser: JupyterLab + headless chromium, driven by playwright.

Serves (``scripts/labdriver.py``) a temporary one-cell notebook that builds ``curvature_race()``
(the committed notebook 09 is never opened or touched): runs it, moves the start-distance
slider x₀ with the keyboard, and checks that the figure and the status line changed and that
no error appeared. Skipped, with the reason, without chromium or playwright.
"""

import pytest

from scripts import labdriver
from scripts.labdriver import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def test_curvature_race_answers_a_slider_in_the_browser(lab_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page() as page:
        figure, before_src, message_before = labdriver.show_experiment(
            page, lab_server, "race.ipynb", "from optlessons.widgets import curvature_race\ncurvature_race()",
            watch=True)
        assert "Newton is at the saddle" in message_before, message_before

        handle = page.wait_for_selector(".optlessons-x0 .noUi-handle", state="visible")
        handle.focus()
        for _ in range(3):
            page.keyboard.press("PageDown")                   # x₀ towards the ridge: longer stays
        page.wait_for_function(labdriver.FIGURE_CHANGED, arg=before_src, timeout=30_000)
        labdriver.wait_quiet(page)              # the live slider's three moves may come as two updates
        page.screenshot(path=str(ARTIFACTS / "curvature-race-browser.png"), full_page=True)
        labdriver.check_answered(page, message_before)
