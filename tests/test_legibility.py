"""Every text in every figure is at least MIN_PX pixels tall as JupyterLab displays it.

How it measures: tests/legibility_probe.py, installed in each notebook's kernel
before its first cell, records, for every PNG a cell prints, the PNG's width and the size of every
text drawn (font size in pt × dpi / 72, in PNG pixels). JupyterLab shows an
image at its natural width, shrunk to the output area if wider, so a text's
displayed size is

    px_png × min(1, CONTENT_WIDTH_PX / png_width).

The notebooks are measured as nbval executes them in the same test run (the root
conftest.py installs the probe in nbval's kernels; each notebook's test runs after it):
a notebook is executed here only when nbval did not run it to the end in this session
(`pytest tests/test_legibility.py` alone, a deselected or a failing notebook).

Widget experiments (optlessons.widgets) draw into their own
Figure at plots.WIDGET_DPI; each is built with its defaults and measured the
same way. Each failure names the notebook, the cell (index and id), the text
and its displayed size.
"""

import io
import pathlib
import sys

import nbformat
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(REPO / "tests"))
import legibility_probe  # noqa: E402
from optlessons import plots, widgets  # noqa: E402

#: Smallest displayed text height we accept, in CSS pixels (issue 16: "at least ~9 px").
MIN_PX = 9.0
#: Width of a figure's image in JupyterLab's notebook output area, in CSS pixels. Measured once
#: (JupyterLab 4, Debian chromium, headless, window 1366 x 900, file browser open as on first
#: launch): notebook panel 1038 px, output area 934 px, and every output <img> wider than that
#: rendered 914 px wide (CSS max-width: 100%); narrower images rendered at their natural width.
CONTENT_WIDTH_PX = 914.0

#: Figures allowed to fail for now, (notebook, cell id) -> why; none today. An entry that
#: passes makes the test fail, so the list can only shrink.
ALLOWED: dict[tuple[str, str], str] = {}
#: Widget experiments allowed to fail for now, factory -> why; none today.
ALLOWED_WIDGETS: dict[str, str] = {}


def displayed_px(px_png, png_width):
    """Size on screen of a text px_png pixels tall in a PNG png_width pixels wide."""
    return px_png * min(1.0, CONTENT_WIDTH_PX / png_width)


def too_small(record):
    """The (text, displayed px) pairs of a probe record below MIN_PX, smallest first."""
    return [(text, round(displayed_px(px, record["png_width"]), 1)) for text, px in record["texts"]
            if displayed_px(px, record["png_width"]) < MIN_PX - 1e-9]


def failures_report(name, records):
    """One line per failing figure: notebook, cell index and id, PNG width, the small texts."""
    lines = []
    for rec in records:
        small = too_small(rec)
        if small:
            where = f"{name} cell {rec['index']} (id {rec['cell']}, png {rec['png_width']} px)"
            lines.append(where + ": " + "; ".join(f"{t!r} {px} px" for t, px in small[:8])
                         + (f" … and {len(small) - 8} more" if len(small) > 8 else ""))
    return lines


def test_displayed_px_scales_wide_images_only():
    assert displayed_px(12.0, 600) == 12.0
    assert displayed_px(12.0, 2 * CONTENT_WIDTH_PX) == 6.0
    rec = {"png_width": 2 * CONTENT_WIDTH_PX, "texts": [["tick", 16.0], ["title", 20.0]]}
    assert too_small(rec) == [("tick", 8.0)]


def test_probe_sees_tick_labels_legends_and_tight_bbox():
    fig = plots.new_figure(6.0, 3.0, dpi=100)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(fontsize=5)
    ax.set_title("a title", fontsize=20)
    rec = legibility_probe.record(fig)
    texts = dict(rec["texts"])
    assert rec["png_width"] == 600
    assert texts["a line"] == pytest.approx(5 * 100 / 72)
    assert texts["a title"] == pytest.approx(20 * 100 / 72)
    assert any(t.replace("−", "-").replace(".", "").isdigit() for t in texts)   # tick labels
    assert ("a line", round(5 * 100 / 72, 1)) in too_small(rec)
    # what plots.show prints: a tight bounding box, so the PNG's width is not the figure's
    from IPython.core.pylabtools import print_figure
    from PIL import Image
    fig.subplots_adjust(left=0.3, right=0.7)      # white margins for the tight box to crop
    png = print_figure(fig, "png", bbox_inches="tight")
    tight = legibility_probe.last_record()
    assert tight["png_width"] == Image.open(io.BytesIO(png)).width < 600
    assert dict(tight["texts"])["a title"] == pytest.approx(20 * 100 / 72)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("legibility_notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_figure_is_legible(legibility_notebook):
    path = legibility_notebook
    nb = nbformat.read(path, as_version=4)
    records = legibility_probe.notebook_records(path)        # one run per notebook, shared with test_figure_labels
    if any(cell.cell_type == "code" and ("plt." in cell.source or "plots." in cell.source)
           for cell in nb.cells):
        assert records, f"{path.name}: the probe recorded no figure, yet cells draw some"
    failing = [r for r in records if too_small(r) and (path.name, r["cell"]) not in ALLOWED]
    assert not failing, "texts smaller than {} px at {} px width:\n".format(MIN_PX, CONTENT_WIDTH_PX) + \
        "\n".join(failures_report(path.name, failing))
    # an allow-list entry that no longer fails must go
    fixed = {key for key in ALLOWED if key[0] == path.name} - {(path.name, r["cell"]) for r in records if too_small(r)}
    assert not fixed, f"these figures pass now: remove them from ALLOWED: {sorted(fixed)}"


#: Every widget experiment a notebook builds, by factory name (each built with its defaults).
WIDGETS = {name: getattr(module, name) for module, names in [
    (widgets, ["playground", "adaptive_experiment", "learning_rate_experiment", "line_fit", "batch_size_experiment",
               "momentum_experiment", "adam_experiment", "curvature_race", "gradient_explorer",
               "training_experiment", "schedule_experiment"])] for name in names}


@pytest.mark.slow
@pytest.mark.parametrize("name", WIDGETS)
def test_every_widget_figure_is_legible(name):
    experiment = WIDGETS[name]()
    assert experiment.figure.dpi == plots.WIDGET_DPI
    rec = legibility_probe.record(experiment.figure)
    small = too_small(rec)
    if name in ALLOWED_WIDGETS:
        assert small, f"{name} passes now: remove it from ALLOWED_WIDGETS"
        return
    assert not small, (f"{name} (png {rec['png_width']} px): "
                       + "; ".join(f"{t!r} {px} px" for t, px in small))


@pytest.mark.slow
def test_every_experiment_class_is_measured():
    def leaves(cls):
        subs = cls.__subclasses__()
        return {c for s in subs for c in leaves(s)} if subs else {cls}
    built = {type(factory()) for factory in WIDGETS.values()}
    missing = {c.__qualname__ for c in leaves(widgets.Experiment) if c.__module__.startswith("optlessons.")} \
        - {c.__qualname__ for c in built}
    assert not missing, f"add a factory for {sorted(missing)} to WIDGETS"
