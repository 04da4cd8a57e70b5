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
                "print(hashlib.sha256(pg.renderer.render(pg.static_key())).hexdigest(), "
                "pg.controls['GD.lr'].value)")
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


def measure(presses=PRESSES, seconds=DRAG_SECONDS):
    with labdriver.jupyterlab() as lab:
        labdriver.one_cell_notebook(lab.root / "playground.ipynb", CELL)
        with labdriver.chromium_page() as page:
            labdriver.open_notebook(page, lab.url("playground.ipynb"))
            labdriver.run_all(page)
            labdriver.watch_figure(page)
            latencies = key_latencies(page, presses)
            labdriver.wait_quiet(page)
            frames, duration, moves = drag_frames(page, seconds)
            fresh, kernel_lr, readout = final_frame(page)
            errors = labdriver.error_outputs(page)
    if errors:
        raise RuntimeError(f"the playground printed an error in the browser: {errors}")
    return {"latencies": latencies, "frames": frames, "duration": duration, "moves": moves,
            "fresh": fresh, "kernel_lr": kernel_lr, "readout": readout}


def main():
    reason = labdriver.missing_browser()
    if reason:
        print(f"skipped: {reason}")
        return
    load = os.getloadavg()
    r = measure()
    lat = np.asarray(r["latencies"])
    median, p95 = float(np.median(lat)), float(np.percentile(lat, 95))
    fps = r["frames"] / r["duration"]
    print("playground (GD + Momentum + Adam, 200 steps, Rosenbrock) in JupyterLab in headless Chromium, "
          f"GD's lr slider; load average before: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)\n")
    print("| what | measured | target | |")
    print("|---|---:|---:|---|")
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    print(f"| key press -> new figure painted, median ({len(lat)} presses) | {median:.0f} ms "
          f"| ≤ {TARGETS['median']:.0f} ms | {ok(median <= TARGETS['median'])} |")
    print(f"| the same, 95th percentile | {p95:.0f} ms | ≤ {TARGETS['p95']:.0f} ms "
          f"| {ok(p95 <= TARGETS['p95'])} |")
    print(f"| the same, maximum | {lat.max():.0f} ms | | |")
    print(f"| {r['duration']:.1f} s drag ({r['moves']} pointer moves): new figures painted while dragging "
          f"| {r['frames']} ({fps:.1f}/s) | ≥ {TARGETS['fps']:.0f}/s | {ok(fps >= TARGETS['fps'])} |")
    print(f"| after release: painted figure = kernel's render of the final value (lr {r['kernel_lr']:.3g}, "
          f"slider shows {r['readout']:g}) | {'yes' if r['fresh'] else 'NO (stale)'} | yes "
          f"| {ok(r['fresh'])} |")

if __name__ == "__main__":
    main()
