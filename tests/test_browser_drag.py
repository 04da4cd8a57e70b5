"""Dragging a playground slider in JupyterLab in headless Chromium: the figure follows the hand.

Serves (``scripts/labdriver.py``) a copy of notebooks/playground.ipynb, runs it, and drags GD's
learning-rate slider back and forth with the mouse for 3 s (a move every 16 ms). Asserts that
several distinct figures were painted while the button was held (live dragging; with
release-only sliders there are none), and that once released and idle the figure on screen is
the kernel's last frame (the browser draws the paths, ``optlessons.widgets.canvas``), that frame
is what the kernel computes afresh for the slider's final value, and the slider shows that value
(no stale frame, no backlog left). Saves ``playground-mid-drag.png``, a screenshot taken while
dragging, to the artifacts folder. Not a timed test: ``python -m benchmarks browser_latency``
measures the times. Skipped, with the reason, without chromium or playwright.
"""

import shutil

import pytest

from scripts import labdriver
from scripts.labdriver import ARTIFACTS, PANEL

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

NOTEBOOK = labdriver.REPO / "notebooks" / "playground.ipynb"
SLIDER = f"{PANEL} .optlessons-gd-lr"
#: The kernel's last frame number; whether the lines it sent are those a fresh compute gives for
#: the controls' values now; GD's learning rate.
#: (the playground notebook's later cells print other values, so the Playground is looked up in `Out`)
KERNEL_FRAME = ("_pg = next(v for v in reversed(list(Out.values())) if type(v).__name__ == 'Playground')\n"
                "_sent = [(l['color'], l['xy']) for l in _pg.image.lines]\n"
                "_pg.draw(_pg.compute())\n"
                "_fresh = [(l['color'], l['xy']) for l in _pg.image.frame_state(_pg)['lines']]\n"
                "print(_pg.image.frame, _sent == _fresh, _pg.controls['GD.lr'].value)")
PAINTED_FRAME = f"() => document.querySelector('{PANEL} img.optlessons-figure').dataset.frame"


def test_dragging_a_slider_paints_new_figures_and_ends_on_the_final_value(lab_server):
    shutil.copy(NOTEBOOK, lab_server.root / "playground.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with labdriver.chromium_page() as page:
        labdriver.open_notebook(page, lab_server.url("playground.ipynb"))
        labdriver.run_all(page, clear=True)
        labdriver.watch_figure(page)
        readout_before = page.inner_text(f"{SLIDER} .widget-readout")
        first = labdriver.painted_sha256(page)

        shot = ARTIFACTS / "playground-mid-drag.png"
        moves = labdriver.drag(page, SLIDER, seconds=3.0,
                               halfway=lambda p: p.screenshot(path=str(shot)))
        log = labdriver.figure_log(page)
        down, up = log["pointer"][-2], log["pointer"][-1]
        during = labdriver.paints_between(log, down, up)
        assert moves >= 10, moves     # the harness did drag (18 moves in 3 s with a test run beside it)
        assert len({p["src"] for p in during}) >= 5, f"only {len(during)} figures painted during a 3 s drag"

        labdriver.wait_quiet(page)
        painted, painted_frame = labdriver.painted_sha256(page), page.evaluate(PAINTED_FRAME)
        kernel_frame, fresh, kernel_lr = labdriver.kernel_output(page, KERNEL_FRAME).split()
        readout = float(page.inner_text(f"{SLIDER} .widget-readout"))
        assert painted_frame == kernel_frame, "the figure on screen is not the kernel's last frame"
        assert fresh == "True", "the kernel's last frame is not what it computes for the final value"
        assert painted != first
        assert readout != float(readout_before)
        assert abs(float(kernel_lr) - readout) <= 0.05 * readout, (kernel_lr, readout)
        errors = labdriver.error_outputs(page)
        assert errors == [], errors
        assert "Could not draw" not in page.inner_text(f"{PANEL} .optlessons-message")
    assert shot.stat().st_size > 10_000
