"""Notebook 10's widget in a real browser: JupyterLab + headless chromium, driven by playwright.

Serves (``scripts/labdriver.py``) a temporary one-cell notebook that builds
``schedule_experiment()`` (the committed notebook 10 is never opened or touched): runs it,
picks another schedule in its drop-down, and checks that the figure and the status line
changed and that no error appeared. Skipped, with the reason, without chromium or playwright.
"""

import pytest

from scripts import labdriver
from scripts.labdriver import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def test_schedule_experiment_answers_its_drop_down_in_the_browser(lab_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page() as page:
        figure, before_src, message_before = labdriver.show_experiment(
            page, lab_server, "schedules.ipynb",
            "from optlessons.widgets.training import schedule_experiment\nschedule_experiment()")

        schedule = page.locator(".optlessons-experiment select").first
        schedule.select_option(label="one-cycle")
        page.wait_for_function(labdriver.FIGURE_CHANGED, arg=before_src, timeout=90_000)
        labdriver.wait_idle(page)
        page.screenshot(path=str(ARTIFACTS / "schedule-experiment-browser.png"), full_page=True)
        labdriver.check_answered(page, message_before)
