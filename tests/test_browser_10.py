"""Notebook 10's widget in a real browser: JupyterLab + headless chromium, driven by playwright.

Reuses the server set-up of ``test_browser.py`` on a temporary one-cell notebook that builds
``schedule_experiment()`` (the committed notebook 10 is never opened or touched): runs it,
picks another schedule in its drop-down, and checks that the figure and the status line
changed and that no error appeared. Skipped, with the reason, without chromium or playwright.
"""

import pytest

import test_browser as tb   # the lab fixture's helpers (tests/ is on sys.path under pytest)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]
FIGURE_READY = ("old => { const i = document.querySelector('img.optlessons-figure');"
                " return i && i.src !== old && i.complete && i.naturalWidth > 0; }")


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """test_browser's JupyterLab fixture, serving a one-cell notebook with the schedule experiment."""
    yield from tb.one_cell_lab(tmp_path, monkeypatch, "from optlessons.widgets.training import schedule_experiment\nschedule_experiment()")


def test_schedule_experiment_answers_its_drop_down_in_the_browser(lab):
    from playwright.sync_api import sync_playwright

    tb.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=tb.CHROMIUM, args=tb.CHROMIUM_ARGS, headless=True,
                                     timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.set_default_timeout(60_000)
            page.goto(lab["url"], wait_until="domcontentloaded")
            page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
            page.wait_for_function(tb.KERNEL_IDLE, timeout=90_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            figure = page.wait_for_selector("img.optlessons-figure", state="visible", timeout=90_000)
            page.wait_for_function(tb.KERNEL_IDLE, timeout=90_000)
            page.wait_for_function(FIGURE_READY, arg="", timeout=60_000)
            figure.scroll_into_view_if_needed()
            before_src = figure.get_attribute("src")
            message_before = page.inner_text(".optlessons-message")

            schedule = page.locator(".optlessons-experiment select").first
            schedule.select_option(label="one-cycle")
            page.wait_for_function(FIGURE_READY, arg=before_src, timeout=90_000)
            page.wait_for_function(tb.KERNEL_IDLE, timeout=90_000)
            message_after = page.inner_text(".optlessons-message")
            page.screenshot(path=str(tb.ARTIFACTS / "schedule-experiment-browser.png"), full_page=True)
            assert message_after != message_before, message_after
            assert tb._error_outputs(page) == [], tb._error_outputs(page)
            assert "Could not draw" not in message_after, message_after
        finally:
            browser.close()
