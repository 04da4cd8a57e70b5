"""Every figure in every notebook can be read without seeing it: its alt text is at least a sentence.

A figure output (``optlessons.plots.show``, an experiment's static figure) carries the same alt
text twice: in the ``text/html`` ``<img alt>`` that JupyterLab and the course site render, and in
the ``image/png`` output's metadata for readers that show only the image (GitHub, nbviewer). An
experiment's output carries its widget *and* that static figure, and the site's widget snapshot
shows the figure with the same alt text. These tests read the committed notebooks: they fail the
moment a converted notebook loses an alt text (re-executed with a bare ``plt.show()``, say).
"""

import html.parser
import json
import pathlib

import pytest

from scripts import build_site

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = build_site.WIDGET_VIEW


class _Images(html.parser.HTMLParser):
    """The attributes of every <img> in a piece of HTML."""

    def __init__(self, markup):
        super().__init__()
        self.images = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def _text(value):
    return "".join(value) if isinstance(value, list) else value


def is_sentence(alt):
    """At least six words, ending with a full stop (or ! or ?) — not a file name or a caption stub."""
    return isinstance(alt, str) and len(alt.split()) >= 6 and alt.rstrip().endswith((".", "!", "?"))


def _shows_a_figure(state, view):
    """Whether the widget's saved state holds a figure (an image the site's snapshot would show)."""
    return "<img" in build_site.WidgetSnapshot(state).render(view.get("model_id", ""))


def figure_problems(nb_json):
    """Every figure output in notebook JSON without a proper alt text, as sentences saying where."""
    problems = []
    state = nb_json.get("metadata", {}).get("widgets", {}).get(build_site.WIDGET_STATE, {})
    for i, cell in enumerate(nb_json["cells"]):
        for out in cell.get("outputs", []):
            data, meta = out.get("data", {}), out.get("metadata", {})
            where = f"cell {i} (execution count {cell.get('execution_count')})"
            png_alt = meta.get("image/png", {}).get("alt")
            if "image/png" in data and not is_sentence(png_alt):
                problems.append(f"{where}: an image/png without an alt-text sentence in its metadata: {png_alt!r}")
            if WIDGET_VIEW in data and "image/png" not in data and _shows_a_figure(state, data[WIDGET_VIEW]):
                problems.append(f"{where}: a widget with a figure, but its output has no static figure")
            for img in _Images(_text(data.get("text/html", ""))).images:
                if not is_sentence(img.get("alt")):
                    problems.append(f"{where}: an <img> without an alt-text sentence: {img.get('alt')!r}")
                elif "image/png" in data and img["alt"] != png_alt:
                    problems.append(f"{where}: the html alt and the png metadata alt differ")
    return problems


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_an_alt_text_sentence(nb):
    nb_json = json.loads(nb.read_text(encoding="utf-8"))
    assert not figure_problems(nb_json), "\n".join(figure_problems(nb_json))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_widget_snapshot_on_the_site_has_the_figures_alt_text(nb):
    nb_json = json.loads(nb.read_text(encoding="utf-8"))
    site_nb, count = build_site.static_widgets(nb_json)
    snapshots = [_text(out["data"]["text/html"]) for cell in site_nb["cells"] for out in cell.get("outputs", [])
                 if "ol-widget-snapshot" in _text(out.get("data", {}).get("text/html", ""))]
    assert len(snapshots) == count
    for snapshot in snapshots:
        for img in _Images(snapshot).images:
            assert is_sentence(img.get("alt")) and img["alt"] != build_site.GENERIC_ALT, img.get("alt")
    # the static figure is not shown a second time next to the snapshot
    assert not [out for cell in site_nb["cells"] for out in cell.get("outputs", [])
                if "ol-widget-snapshot" in _text(out.get("data", {}).get("text/html", ""))
                and "image/png" in out["data"]]
    assert not figure_problems(site_nb), "\n".join(figure_problems(site_nb))


def test_the_check_catches_what_it_should():
    png = {"image/png": "iVBOR"}
    bare = {"cells": [{"outputs": [{"data": dict(png), "metadata": {}}]}]}
    stub = {"cells": [{"outputs": [{"data": {"text/html": '<img src="x.png" alt="x.png">'}, "metadata": {}}]}]}
    differ = {"cells": [{"outputs": [{"data": {**png, "text/html": '<img alt="One figure with six words here.">'},
                                      "metadata": {"image/png": {"alt": "Another figure with six words here."}}}]}]}
    image = {"model_name": "ImageModel", "state": {"format": "png"},
             "buffers": [{"path": ["value"], "encoding": "base64", "data": "iVBOR"}]}
    widget = {"metadata": {"widgets": {build_site.WIDGET_STATE: {"state": {"m": image}}}},
              "cells": [{"outputs": [{"data": {WIDGET_VIEW: {"model_id": "m"}, "text/plain": "w"}}]}]}
    good = {"cells": [{"outputs": [{"data": {**png, "text/html": '<img alt="A figure that says what it shows.">'},
                                    "metadata": {"image/png": {"alt": "A figure that says what it shows."}}}]}]}
    for nb_json in (bare, stub, differ, widget):
        assert figure_problems(nb_json), nb_json
    assert figure_problems(good) == []
    slider_only = {"metadata": {"widgets": {build_site.WIDGET_STATE: {"state": {"m": {"model_name": "FloatSliderModel",
                                                                                       "state": {}}}}}},
                   "cells": widget["cells"]}
    assert figure_problems(slider_only) == []           # a widget without a figure needs no static one
