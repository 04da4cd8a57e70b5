"""What a learner feels: the playground's slider in JupyterLab in headless Chromium, to pixels.

The playground (GD + Momentum + Adam, 200 steps, Rosenbrock) runs in JupyterLab (a temporary
server, ``scripts/labdriver.py``) in headless Debian Chromium, and GD's learning-rate slider is
moved in three ways. Times are taken in the page (``performance.now()``): a figure counts as
painted when its new ``src`` has decoded and the next animation frame has begun.

(a) slider to pixels: a key press (ArrowRight on the focused handle) until the new figure is
    painted, one press at a time (each waits for the figure and an idle kernel); median, 95th
    percentile and maximum over ``PRESSES`` presses, from lr 10⁻⁵ upwards.
(b) a continuous drag: the mouse holds the handle and moves every 16 ms, back and forth over
    part of the track (lr from about 10⁻⁴ to 10⁻²), for 4 s: new figures painted during the
    drag, per second.
(c) after release, once the kernel is idle and no figure has come for 0.5 s: the painted bytes
    must equal what the kernel renders for the slider's final value (a fresh compute, draw and
    render), and the kernel's value must be the one the slider shows (no stale final frame).

Targets (issue 15): median ≤ 50 ms, p95 ≤ 80 ms, ≥ 20 frames/s while dragging, no stale frame.

The other option the issue names, the paths drawn in the browser, is measured the same way
((a) and (b)) on a prototype, ``benchmarks/canvas_prototype.py`` (a canvas anywidget; the
contours sent once as a PNG, the paths as pixel coordinates): a lower bound of that option's
cost, since it leaves out the loss panel a full version would also draw.
Not a test: wall-clock figures on a shared machine; the load average is printed with them.

    python -m benchmarks browser_latency
"""

import os

import numpy as np

from scripts import labdriver

PRESSES = 48
DRAG_SECONDS = 4.0
SLIDER = f"{labdriver.PANEL} .optlessons-gd-lr"
CELL = ("from optlessons.widgets import playground\n"
        "pg = playground(landscape='rosenbrock', optimizers=('GD', 'Momentum', 'Adam'), steps=200)\n"
        "pg.controls['GD.lr'].value = 1e-5\n"
        "pg")
#: Prints what the kernel renders for the controls' current values, and GD's learning rate.
KERNEL_FRAME = ("import hashlib\n"
                "pg.draw(pg.compute())\n"
                "print(hashlib.sha256(pg.render()).hexdigest(), "
                "pg.controls['GD.lr'].value)")
CANVAS_CELL = "from benchmarks.canvas_prototype import canvas_playground\ncanvas_playground()"
TARGETS = {"median": 50.0, "p95": 80.0, "fps": 20.0}


def key_latencies(page, presses=PRESSES):
    """Milliseconds from each ArrowRight on the slider's handle to its new figure on screen."""
    handle = page.locator(f"{SLIDER} .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    out = []
    for _ in range(presses):
        before = labdriver.figure_log(page)
        page.keyboard.press("ArrowRight")
        page.wait_for_function("n => window.__figure.paints.length > n", arg=len(before["paints"]),
                               timeout=30_000)
        labdriver.wait_idle(page, 30_000)
        log = labdriver.figure_log(page)
        pressed = log["keys"][-1]
        out.append(min(p["t"] for p in log["paints"] if p["t"] >= pressed) - pressed)
    return out


def drag_frames(page, seconds=DRAG_SECONDS):
    """(figures painted while the mouse held the handle, the drag's duration in s, pointer moves)."""
    moves = labdriver.drag(page, SLIDER, seconds=seconds)
    log = labdriver.figure_log(page)
    down, up = log["pointer"][-2], log["pointer"][-1]
    painted = labdriver.paints_between(log, down, up)
    return len({p["src"] for p in painted}), (up - down) / 1000, moves


def final_frame(page):
    """(painted bytes == the kernel's render of the final value, kernel lr, the slider's readout)."""
    labdriver.wait_quiet(page)
    painted = labdriver.painted_sha256(page)
    kernel_sha, kernel_lr = labdriver.kernel_output(page, KERNEL_FRAME).split()
    readout = float(page.inner_text(f"{SLIDER} .widget-readout"))
    fresh = painted == kernel_sha and abs(float(kernel_lr) - readout) <= 0.05 * readout
    return fresh, float(kernel_lr), readout


def measure(cell=CELL, presses=PRESSES, seconds=DRAG_SECONDS, check_final=True):
    """(a), (b) and, if ``check_final``, (c) for the notebook cell ``cell``."""
    with labdriver.jupyterlab() as lab:
        labdriver.one_cell_notebook(lab.root / "playground.ipynb", cell)
        with labdriver.chromium_page() as page:
            labdriver.open_notebook(page, lab.url("playground.ipynb"))
            labdriver.run_all(page)
            labdriver.watch_figure(page)
            latencies = key_latencies(page, presses)
            labdriver.wait_quiet(page)
            frames, duration, moves = drag_frames(page, seconds)
            final = final_frame(page) if check_final else None
            errors = labdriver.error_outputs(page)
    if errors:
        raise RuntimeError(f"the playground printed an error in the browser: {errors}")
    return {"latencies": latencies, "frames": frames, "duration": duration, "moves": moves, "final": final}


def table(r):
    """The markdown table of one ``measure`` result."""
    lat = np.asarray(r["latencies"])
    median, p95 = float(np.median(lat)), float(np.percentile(lat, 95))
    fps = r["frames"] / r["duration"]
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    rows = ["| what | measured | target | |", "|---|---:|---:|---|",
            f"| key press -> new figure painted, median ({len(lat)} presses) | {median:.0f} ms "
            f"| ≤ {TARGETS['median']:.0f} ms | {ok(median <= TARGETS['median'])} |",
            f"| the same, 95th percentile | {p95:.0f} ms | ≤ {TARGETS['p95']:.0f} ms "
            f"| {ok(p95 <= TARGETS['p95'])} |",
            f"| the same, maximum | {lat.max():.0f} ms | | |",
            f"| {r['duration']:.1f} s drag ({r['moves']} pointer moves): new figures painted while dragging "
            f"| {r['frames']} ({fps:.1f}/s) | ≥ {TARGETS['fps']:.0f}/s | {ok(fps >= TARGETS['fps'])} |"]
    if r["final"] is not None:
        fresh, kernel_lr, readout = r["final"]
        rows.append(f"| after release: painted figure = kernel's render of the final value (lr {kernel_lr:.3g}, "
                    f"slider shows {readout:g}) | {'yes' if fresh else 'NO (stale)'} | yes | {ok(fresh)} |")
    return "\n".join(rows)


def main():
    reason = labdriver.missing_browser()
    if reason:
        print(f"skipped: {reason}")
        return
    runs = (("the playground (PNG figures rendered in the kernel)", CELL, True),
            ("prototype: the paths drawn in the browser on a canvas (contour panel only)", CANVAS_CELL, False))
    for title, cell, check_final in runs:
        load = os.getloadavg()
        result = measure(cell, check_final=check_final)
        print(f"{title}: GD + Momentum + Adam, 200 steps, Rosenbrock, GD's lr slider, in JupyterLab in headless "
              f"Chromium; load average before: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)\n")
        print(table(result) + "\n")

if __name__ == "__main__":
    main()
