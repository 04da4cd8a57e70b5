"""How long the playground takes to answer a slider move: control change -> finished PNG.

The playground races GD, Momentum and Adam for 200 steps on Rosenbrock; the
Adam learning-rate slider is set to 100 values in turn. Each change runs what
a browser's change runs in the kernel: the observer recomputes Adam's
trajectory (GD's and Momentum's are remembered: their controls did not move),
sets the new data on the existing artists and renders the figure to PNG bytes
into the Image widget (sending those bytes to the browser is not
included: on localhost it is about 100 kB). The median and the 95th percentile
are reported for the whole change and for its parts.

As a yardstick, the same figure drawn the way the inline backend displays a
Figure into an Output widget — a full draw with ``bbox_inches="tight"`` — for
the same changes. Target: median under 50 ms. The CPU-time row is this process's own cost
(``time.process_time``): on a shared, busy machine the wall-clock rows grow,
that one much less.

    python -m benchmarks widget_latency
"""

import io
import statistics
import time

import numpy as np


def percentile(values, q):
    return float(np.percentile(np.asarray(values) * 1e3, q))


def measure(n_changes=100, steps=200):
    import matplotlib
    matplotlib.use("Agg")
    from optlessons.widgets import playground

    pg = playground(landscape="rosenbrock", optimizers=("GD", "Momentum", "Adam"), steps=steps)
    lrs = np.geomspace(1e-3, 1.0, n_changes)
    rng = np.random.default_rng(0)
    rng.shuffle(lrs)                                   # jumps, as a learner drags back and forth
    total, cpu, compute, draw, render = [], [], [], [], []
    slider = pg.controls["Adam.lr"]
    for lr in lrs:
        start, start_cpu = time.perf_counter(), time.process_time()
        slider.value = float(lr)                       # observer: compute -> draw -> render -> Image
        total.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert pg.error is None, pg.error
        # the parts, once more on the same setting, every path computed anew
        pg.forget()
        t0 = time.perf_counter()
        result = pg.compute()
        t1 = time.perf_counter()
        pg.draw(result)
        t2 = time.perf_counter()
        pg.render()
        t3 = time.perf_counter()
        compute.append(t1 - t0)
        draw.append(t2 - t1)
        render.append(t3 - t2)
    # yardstick: a full draw of the same figure, as the inline backend would display it
    inline = []
    for artist in pg.figure.get_children():
        artist.set_animated(False)
    for ax in pg.figure.axes:
        for artist in ax.get_children():
            artist.set_animated(False)
    for lr in lrs[:20]:
        slider.value = float(lr)
        start = time.perf_counter()
        buf = io.BytesIO()
        pg.figure.savefig(buf, format="png", bbox_inches="tight")
        inline.append(time.perf_counter() - start + compute[0] + draw[0])
    return {"change -> PNG (what the learner waits for)": total,
            "  the same, CPU time of this process": cpu,
            "  compute: 3 trajectories x 200 steps": compute,
            "  draw: set data on the existing artists": draw,
            "  render: cached background + paths + loss axes -> PNG": render,
            "inline-backend style full redraw (yardstick)": inline}, pg.renderer.full_draws


def main():
    rows, full_draws = measure()
    print("playground: GD + Momentum + Adam, 200 steps each, on Rosenbrock; "
          "Adam's lr set to 100 values\n")
    print("| what | changes | median (ms) | 95th percentile (ms) |")
    print("|---|---:|---:|---:|")
    for label, values in rows.items():
        print(f"| {label} | {len(values)} | {statistics.median(values) * 1e3:.1f} "
              f"| {percentile(values, 95):.1f} |")
    print(f"\nbackgrounds drawn in full: {full_draws} (contours, ticks and legend; reused after that)")
    median = statistics.median(next(iter(rows.values()))) * 1e3
    print(f"target: median under 50 ms -> {'met' if median < 50 else 'NOT met'} ({median:.1f} ms)")


if __name__ == "__main__":
    main()
