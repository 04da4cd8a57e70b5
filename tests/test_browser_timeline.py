"""The playground's Play button in a real browser: JupyterLab + headless chromium, driven by playwright.

Reuses ``test_browser.py``'s ``lab`` fixture (a copy of notebooks/playground.ipynb, the
committed notebook never touched): runs it, checks the Play control's buttons have accessible
names, clicks Play, and checks that the race is replayed — the "step t" readout advances and
several distinct figures appear while it plays — and that the status line names the step shown.
Saves ``playground-playing.png`` (mid-play) in the artifacts directory. Skipped, with the reason,
without chromium or playwright.
"""

import re

import pytest

from scripts import labdriver
from scripts.labdriver import ARTIFACTS, FIGURE_CHANGED, PANEL
from test_browser import lab  # noqa: F401  (the fixture: a JupyterLab serving a copy of the playground)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

SAMPLE = """() => {
    const img = document.querySelector('img.optlessons-figure');
    const readout = document.querySelector('.optlessons-step .widget-readout');
    return [img ? img.src.length + ':' + img.src.slice(-64) : '', readout ? readout.textContent.trim() : ''];
}"""


def test_play_replays_the_race_in_the_browser(lab):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page() as page:
        labdriver.open_notebook(page, lab.url("playground.ipynb"))
        labdriver.run_all(page, clear=True)
        assert page.inner_text(f"{PANEL} .optlessons-step .widget-readout").strip() == "200"
        assert "Step 200 of 200 (the end)" in page.inner_text(".optlessons-message")

        # the Play control's icon buttons are named (ControlNames), the slider by its label
        play = page.locator(".optlessons-play")
        play.scroll_into_view_if_needed()
        names = page.locator(".optlessons-experiment").aria_snapshot()
        assert 'button "play or pause"' in names and 'button "stop (back to step 0)"' in names, names
        assert 'slider "step t"' in names, names

        page.get_by_role("button", name="play or pause").click()
        samples = []
        for _ in range(60):                     # 6 s: a whole run plays in about 5 s
            samples.append(tuple(page.evaluate(SAMPLE)))
            if len(samples) == 12:
                page.screenshot(path=str(ARTIFACTS / "playground-playing.png"), full_page=True)
            page.wait_for_timeout(100)
        page.wait_for_function("() => document.querySelector('.optlessons-step .widget-readout')"
                               ".textContent.trim() === '200'", timeout=30_000)
        labdriver.wait_idle(page, 30_000)
        final_message = page.inner_text(".optlessons-message")
        # the step slider from the keyboard: one step back
        figure_src = page.get_attribute("img.optlessons-figure", "src")
        page.focus(".optlessons-step .noUi-handle")
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(FIGURE_CHANGED, arg=figure_src, timeout=30_000)
        labdriver.wait_idle(page, 30_000)
        keyboard_readout = page.inner_text(".optlessons-step .widget-readout").strip()
        keyboard_message = page.inner_text(".optlessons-message")
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
    figures = {src for src, _ in samples}
    steps = [int(r) for _, r in samples if r.isdigit()]
    print(f"while playing: {len(figures)} distinct figures in {len(samples)} samples 100 ms apart; "
          f"readout {steps[0]} -> {steps[-1]}")
    assert len(figures) >= 5, f"only {len(figures)} distinct figures while playing"
    assert len(set(steps)) >= 5 and steps[0] < 200, steps           # the readout advanced from the start
    assert all(a <= b for a, b in zip(steps, steps[1:])), steps      # forward only
    assert re.search(r"Step 200 of 200 \(the end\): GD at \(", final_message), final_message
    assert keyboard_readout == "199" and "Step 199 of 200: GD at (" in keyboard_message, keyboard_message
