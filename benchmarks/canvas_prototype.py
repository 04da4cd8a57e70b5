"""A prototype of the other option for live dragging: the paths drawn in the browser, on a canvas.

Measured by ``bench_browser_latency`` against the shipped way (PNG figures from the kernel).
The contour panel is rendered once by matplotlib (its paths hidden) and sent as a PNG; on
each change of GD's learning rate the kernel runs the same ``compute()`` as the playground and
sends the three paths' pixel coordinates (float32, about 5 kB) and, as the PNG path does, the
status line, the summary table and the figure's alt text (here the canvas's ``aria-label``);
a small canvas renderer in the page draws the background and the polylines. It leaves out what a full version would also
draw in the browser (the loss panel with its log axis and changing limits, markers, legend),
so its times are a lower bound of that option's.

    from benchmarks.canvas_prototype import canvas_playground
    canvas_playground()          # in a notebook cell: the playground, then the canvas
"""

import anywidget
import ipywidgets as W
import numpy as np
import traitlets

from optlessons.widgets import playground

NAMES = ("GD", "Momentum", "Adam")


class CanvasPaths(anywidget.AnyWidget):
    """A background PNG and polylines (pixel coordinates) drawn on a canvas in the browser.

    Each redraw is logged in ``window.__figure.paints`` when the page records them
    (``scripts.labdriver.watch_figure``), like a new image of the PNG path.
    """

    _esm = """
    function render({ model, el }) {
      const canvas = document.createElement('canvas');
      el.appendChild(canvas);
      const ctx = canvas.getContext('2d');
      const background = new Image();
      const draw = () => {
        if (!background.naturalWidth) return;
        if (canvas.width !== background.naturalWidth) {
          canvas.width = background.naturalWidth;
          canvas.height = background.naturalHeight;
        }
        ctx.drawImage(background, 0, 0);
        const data = model.get('paths');
        const xy = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
        let k = 0;
        model.get('counts').forEach((n, i) => {
          ctx.beginPath();
          ctx.strokeStyle = model.get('colors')[i];
          ctx.lineWidth = 1.8;
          for (let j = 0; j < n; j++, k++) {
            if (j) ctx.lineTo(xy[2 * k], xy[2 * k + 1]); else ctx.moveTo(xy[2 * k], xy[2 * k + 1]);
          }
          ctx.stroke();
        });
        const log = window.__figure, frame = model.get('frame');
        if (log) requestAnimationFrame(() => log.paints.push({t: performance.now(), src: 'frame ' + frame}));
      };
      background.onload = draw;
      background.src = URL.createObjectURL(new Blob([model.get('background')], {type: 'image/png'}));
      model.on('change:frame', draw);
      const name = () => canvas.setAttribute('aria-label', model.get('alt'));
      canvas.setAttribute('role', 'img');
      name();
      model.on('change:alt', name);
    }
    export default { render };
    """
    background = traitlets.Bytes().tag(sync=True)
    paths = traitlets.Bytes().tag(sync=True)        # float32 (x, y) pixels, the paths end to end
    counts = traitlets.List().tag(sync=True)        # points per path
    colors = traitlets.List().tag(sync=True)
    frame = traitlets.Int(0).tag(sync=True)
    alt = traitlets.Unicode("").tag(sync=True)      # the canvas's accessible name


def canvas_playground():
    """The benchmark's playground, with GD's lr slider redrawing a ``CanvasPaths`` instead of the PNG."""
    pg = playground(landscape="rosenbrock", optimizers=NAMES, steps=200)
    pg.controls["GD.lr"].value = 1e-5
    height = pg.figure.canvas.get_width_height()[1]
    for line in pg.paths.lines.values():
        line.set_visible(False)
    canvas = CanvasPaths(background=pg.renderer.render(("canvas background",)),
                         colors=[pg.paths.lines[n].get_color() for n in NAMES])

    def send_paths(change=None):
        result = pg.compute()
        pixels = [pg.ax_path.transData.transform(result.trajectories[n].points) for n in NAMES]
        xy = np.concatenate(pixels)
        xy[:, 1] = height - xy[:, 1]                  # matplotlib's y points up, the canvas's down
        with canvas.hold_sync():
            canvas.paths = xy.astype(np.float32).tobytes()
            canvas.counts = [len(p) for p in pixels]
            canvas.frame += 1
            pg.summary.value = pg.summary_html(result)
            pg.message.value = pg.describe(result)
            canvas.alt = pg.alt_text()

    pg.controls["GD.lr"].unobserve_all("value")
    pg.controls["GD.lr"].observe(send_paths, names="value")
    send_paths()
    return W.VBox([pg.widget, canvas])
