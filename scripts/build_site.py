"""Build the course web site: `python -m scripts.build_site [--out build/site]`.

A static HTML site made by Sphinx + myst-nb from the *executed* notebooks in
`notebooks/` (never re-executed: `nb_execution_mode = "off"` in
docs/site/conf.py) and the student copies in `exercises/release/`. Nothing is
fetched when the site is built or viewed: the math is typeset by MathJax 3
served from the site's own `_static/mathjax/` (the `sphinx-mathjax-offline`
package), and the theme ships its own CSS, JS and fonts.

The sources are not duplicated in git. The script stages them in a scratch
folder (`build/site-src/` by default) and runs Sphinx there with the
configuration in docs/site/:

    index.md, exercises.md          copied from docs/site/
    docs/notation.md, glossary.md   copied from docs/ (the notebooks link them as ../docs/…)
    docs/glossary/<word>.md         copied from docs/glossary/ (one page per word, linked from the notebooks)
    notebooks/<name>.ipynb          the course notebooks, widget outputs made static (below)
    exercises/<assignment>.ipynb    exercises/release/<assignment>/<assignment>.ipynb

A static page has no kernel, so an ipywidgets output cannot be live. Instead of
loading the widget libraries from a CDN (myst-nb's default), each widget output
is replaced by an HTML snapshot made from the widget state saved in the
notebook: the figure the widget showed, its message, and its controls drawn
disabled at the values they had, under a note that says how to make it live.
"""

from __future__ import annotations

import argparse
import html
import json
import pathlib
import re
import shutil
import sys
import time
import warnings as warnings_module

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "docs" / "site"
NOTEBOOKS = ROOT / "notebooks"
RELEASE = ROOT / "exercises" / "release"
#: reference pages in docs/ that the notebooks link to (as ../docs/<name>), staged at the same relative place
REFERENCE_PAGES = ("notation.md", "glossary.md")
#: the glossary's one page per word (docs/glossary/<word>.md), which the notebooks link to
GLOSSARY_WORDS = "glossary"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

GENERIC_ALT = "the figure this widget showed when the notebook was run"
SNAPSHOT_NOTE = (
    "A snapshot of an interactive widget, as it was when the notebook was run. "
    "The controls are live only in Jupyter: open this notebook with <code>make lab</code> "
    "(or on JupyterHub / Binder), run it, and move them."
)


# ---- widget snapshots ---------------------------------------------------------------

def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _desc(state: dict) -> str:
    text = state.get("description") or ""
    return f'<span class="ol-w-label">{_esc(text)}</span>' if text else ""


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return _esc(value)


class WidgetSnapshot:
    """Render saved ipywidgets state (widget-state+json) as static HTML, no JavaScript."""

    def __init__(self, state: dict, view_ids: list[str] = ()):
        self.models = dict(state.get("state", {}))
        self.views = list(view_ids)
        self.missing = 0  # references that could not be resolved, counted while rendering
        self.alt = GENERIC_ALT  # the alt text of the figure being rendered (set per widget output)

    def figures(self) -> str:
        """Every figure in the saved state (images and Output widgets), for when the tree is broken."""
        return "".join(self.render(key) for key, m in sorted(self.models.items())
                       if m.get("model_name") in ("ImageModel", "OutputModel"))

    def render(self, model_id: str, depth: int = 0) -> str:
        model = self.models.get(model_id)
        if model is None or depth > 20:
            self.missing += 1
            return ""
        name = model.get("model_name", "")
        state = model.get("state", {})
        method = getattr(self, "_" + name.removesuffix("Model").lower(), None)
        if method is None:
            return f'<span class="ol-w-other">{_desc(state)}</span>' if state.get("description") else ""
        return method(model, state, depth)

    def _children(self, state, depth):
        return [self.render(ref.removeprefix("IPY_MODEL_"), depth + 1) for ref in state.get("children", [])]

    def _vbox(self, model, state, depth):
        return '<div class="ol-w-vbox">' + "".join(self._children(state, depth)) + "</div>"

    def _box(self, model, state, depth):
        return self._vbox(model, state, depth)

    def _gridbox(self, model, state, depth):
        return self._vbox(model, state, depth)

    def _hbox(self, model, state, depth):
        return '<div class="ol-w-hbox">' + "".join(self._children(state, depth)) + "</div>"

    def _tab(self, model, state, depth):
        children = self._children(state, depth)
        titles = state.get("titles") or state.get("_titles") or []
        if isinstance(titles, dict):  # ipywidgets 7: {"0": "title", ...}
            titles = [titles.get(str(i), "") for i in range(len(children))]
        selected = state.get("selected_index") or 0
        tabs = "".join(
            f'<span class="ol-w-tab{" ol-w-tab-selected" if i == selected else ""}">'
            f"{_esc(titles[i] if i < len(titles) else i + 1)}</span>" for i in range(len(children)))
        body = children[selected] if 0 <= selected < len(children) else ""
        return f'<div class="ol-w-tabs"><div class="ol-w-tabbar">{tabs}</div>{body}</div>'

    _accordion = _tab
    _stack = _tab

    def _slider(self, state, shown):
        return (f'<span class="ol-w-control">{_desc(state)}'
                f'<span class="ol-w-slider" aria-hidden="true"></span>'
                f'<span class="ol-w-value">{shown}</span></span>')

    def _floatslider(self, model, state, depth):
        return self._slider(state, _number(state.get("value")))

    _intslider = _floatslider
    _floatlogslider = _floatslider

    def _floatrangeslider(self, model, state, depth):
        low, high = (state.get("value") or [None, None])[:2]
        return self._slider(state, f"{_number(low)} – {_number(high)}")

    _intrangeslider = _floatrangeslider

    def _selected_label(self, state):
        labels = state.get("_options_labels") or []
        index = state.get("index")
        if isinstance(index, int) and 0 <= index < len(labels):
            return labels[index]
        return ""

    def _selectionslider(self, model, state, depth):
        return self._slider(state, _esc(self._selected_label(state)))

    def _dropdown(self, model, state, depth):
        return (f'<span class="ol-w-control">{_desc(state)}'
                f'<span class="ol-w-dropdown">{_esc(self._selected_label(state))}</span></span>')

    _select = _dropdown
    _radiobuttons = _dropdown

    def _togglebuttons(self, model, state, depth):
        labels = state.get("_options_labels") or []
        index = state.get("index")
        buttons = "".join(
            f'<span class="ol-w-button{" ol-w-button-on" if i == index else ""}">{_esc(lab)}</span>'
            for i, lab in enumerate(labels))
        return f'<span class="ol-w-control">{_desc(state)}{buttons}</span>'

    def _checkbox(self, model, state, depth):
        mark = "☑" if state.get("value") else "☐"
        return (f'<span class="ol-w-control ol-w-checkbox">'
                f'<span aria-hidden="true">{mark}</span> {_esc(state.get("description"))}</span>')

    _togglebutton = _checkbox

    def _button(self, model, state, depth):
        return f'<span class="ol-w-button">{_esc(state.get("description"))}</span>'

    def _inttext(self, model, state, depth):
        return (f'<span class="ol-w-control">{_desc(state)}'
                f'<span class="ol-w-text">{_number(state.get("value"))}</span></span>')

    _floattext = _inttext
    _boundedinttext = _inttext
    _boundedfloattext = _inttext
    _text = _inttext

    def _label(self, model, state, depth):
        return f'<span class="ol-w-labeltext">{_esc(state.get("value"))}</span>'

    def _html(self, model, state, depth):
        # The package's own widgets write this HTML (messages, legends): shown as they showed it.
        return f'<div class="ol-w-html">{state.get("value") or ""}</div>'

    _htmlmath = _html

    def _image(self, model, state, depth):
        data = next((b["data"] for b in model.get("buffers", [])
                     if b.get("path") == ["value"] and b.get("encoding") == "base64"), None)
        if not data:
            return ""
        fmt = state.get("format") or "png"
        mime = "image/svg+xml" if fmt == "svg+xml" else f"image/{fmt}"
        return (f'<img class="ol-w-image" src="data:{mime};base64,{data}" '
                f'alt="{_esc(self.alt)}">')

    _floatprogress = _floatslider   # a progress bar is drawn like a slider at its value
    _intprogress = _floatslider

    def _output(self, model, state, depth):
        parts = []
        for out in state.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(f'<pre class="ol-w-stream">{_esc(out.get("text"))}</pre>')
                continue
            data = out.get("data", {})
            if "image/png" in data:
                png = "".join(data["image/png"]).replace("\n", "")
                parts.append(f'<img class="ol-w-image" src="data:image/png;base64,{png}" '
                             f'alt="{_esc(self.alt)}">')
            elif "text/html" in data:
                parts.append("".join(data["text/html"]))
            elif "text/plain" in data:
                parts.append(f'<pre class="ol-w-stream">{_esc("".join(data["text/plain"]))}</pre>')
        return '<div class="ol-w-output">' + "".join(parts) + "</div>"


def snapshot_html(snapshot: WidgetSnapshot, model_id: str, fallback: str) -> str:
    before = snapshot.missing
    body = snapshot.render(model_id)
    if snapshot.missing > before and len(set(snapshot.views)) == 1:
        # The saved tree has dangling references, but this is the notebook's only widget:
        # every figure in the state is one of its own.
        body += snapshot.figures()
    if not body.strip():
        body = f"<pre>{_esc(fallback)}</pre>" if fallback else ""
    return (f'<div class="ol-widget-snapshot">'
            f'<p class="ol-widget-note"><strong>Interactive widget</strong> — {SNAPSHOT_NOTE}</p>'
            f"{body}</div>")


def static_widgets(nb: dict) -> tuple[dict, int]:
    """Return a copy of notebook JSON `nb` whose widget outputs are static HTML, and how many there were.

    The saved widget state is removed from the metadata, so myst-nb does not add
    the widget JavaScript (which it would load from a CDN).
    """
    nb = json.loads(json.dumps(nb))
    widgets = nb.get("metadata", {}).pop("widgets", {}) or {}
    views = [out["data"][WIDGET_VIEW].get("model_id", "") for cell in nb.get("cells", [])
             for out in cell.get("outputs", []) if WIDGET_VIEW in out.get("data", {})]
    snapshot = WidgetSnapshot(widgets.get(WIDGET_STATE, {}), list(dict.fromkeys(views)))
    count = 0
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            view = data.pop(WIDGET_VIEW)
            fallback = data.get("text/plain", "")
            fallback = "".join(fallback) if isinstance(fallback, list) else fallback
            # An experiment's output also holds its figure as a static image (for GitHub and
            # nbviewer): its alt text goes to the snapshot's figure, the image itself is dropped.
            data.pop("image/png", None)
            snapshot.alt = out.get("metadata", {}).pop("image/png", {}).get("alt", GENERIC_ALT)
            data["text/html"] = snapshot_html(snapshot, view.get("model_id", ""), fallback)
            count += 1
    return nb, count


# ---- staging and building ----------------------------------------------------------------

def course_notebooks(notebooks: pathlib.Path = NOTEBOOKS) -> list[pathlib.Path]:
    return sorted(p for p in notebooks.glob("*.ipynb") if not p.name.startswith("."))


def release_notebooks(release: pathlib.Path = RELEASE) -> list[pathlib.Path]:
    return sorted(release.glob("*/*.ipynb"))


# A notebook links a problem set where it sits in the repo; on the site it sits at exercises/<name>.ipynb.
RELEASE_LINK = re.compile(r"\.\./exercises/release/([\w.-]+)/\1\.ipynb")


def site_links(nb: dict) -> dict:
    """`nb` with its Markdown links to `../exercises/release/<ps>/<ps>.ipynb` pointing at the site's copy."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = RELEASE_LINK.sub(r"../exercises/\1.ipynb", source)
    return nb


def stage(src: pathlib.Path, notebooks: pathlib.Path = NOTEBOOKS, release: pathlib.Path = RELEASE) -> dict:
    """Lay out the site's sources in `src` (emptied first); return what was staged."""
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "exercises").mkdir()
    for page in CONF_DIR.glob("*.md"):
        shutil.copy2(page, src / page.name)
    (src / "docs").mkdir()
    for name in REFERENCE_PAGES:
        shutil.copy2(ROOT / "docs" / name, src / "docs" / name)
    shutil.copytree(ROOT / "docs" / GLOSSARY_WORDS, src / "docs" / GLOSSARY_WORDS)
    staged = {"notebooks": [], "exercises": [], "widgets": 0}
    for path in course_notebooks(notebooks):
        nb, count = static_widgets(site_links(json.loads(path.read_text(encoding="utf-8"))))
        (src / "notebooks" / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
        staged["notebooks"].append(path.stem)
        staged["widgets"] += count
    for path in release_notebooks(release):
        nb, count = static_widgets(json.loads(path.read_text(encoding="utf-8")))
        (src / "exercises" / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
        staged["exercises"].append(path.stem)
        staged["widgets"] += count
    return staged


def restore_downloads(out: pathlib.Path, notebooks: pathlib.Path = NOTEBOOKS,
                      release: pathlib.Path = RELEASE) -> None:
    """Each page's download button serves `_sources/<page>.ipynb`: make it the original
    notebook (live widgets and their saved state), not the staged copy with snapshots."""
    for folder, paths in (("notebooks", course_notebooks(notebooks)), ("exercises", release_notebooks(release))):
        for path in paths:
            target = out / "_sources" / folder / path.name
            if target.parent.is_dir():
                shutil.copyfile(path, target)


# ---- accessibility of the theme's own markup --------------------------------------------

# The search button shows "Search Ctrl+K" but is named "Search" by aria-label: a screen
# reader user who hears one and a voice-control user who says the other disagree
# (axe: label-content-name-mismatch). Without the aria-label its name is what it shows.
SEARCH_BUTTON = re.compile(r'(<button [^>]*?)\s*aria-label="Search"([^>]*>\s*<i [^>]*></i>\s*'
                           r'<span class="search-button__default-text">)')
# The sidebar folds a chapter's pages under a <summary> that holds only an icon: it gets
# no name at all (axe: summary-name). Name it after the link it folds.
FOLDED_TOC = re.compile(r'(<a class="[^"]*reference internal" href="[^"]*">([^<]+)</a>)(<details[^>]*>)<summary>')


def accessible_theme(page: str) -> str:
    """The theme's HTML with the two faults above fixed; everything else unchanged."""
    page = SEARCH_BUTTON.sub(r"\1\2", page)
    return FOLDED_TOC.sub(lambda m: f'{m.group(1)}{m.group(3)}<summary aria-label="Show or hide the '
                                    f'pages of {m.group(2)}">', page)


def fix_theme_accessibility(out: pathlib.Path) -> int:
    """Apply `accessible_theme` to every HTML page in `out`; return how many pages changed."""
    changed = 0
    for path in out.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        fixed = accessible_theme(text)
        if fixed != text:
            path.write_text(fixed, encoding="utf-8")
            changed += 1
    return changed


def build(out: pathlib.Path, src: pathlib.Path | None = None, *, jobs: int = 1, quiet: bool = True,
          notebooks: pathlib.Path = NOTEBOOKS, release: pathlib.Path = RELEASE) -> dict:
    """Stage the sources and run Sphinx's HTML builder into `out`.

    Returns a dict with `staged` (see `stage`), `warnings` (Sphinx's warning
    lines, a list: empty on a clean build), `seconds` and `status` (Sphinx's
    exit code, 0 on success).
    """
    from sphinx.cmd.build import build_main

    out = pathlib.Path(out).resolve()
    src = pathlib.Path(src).resolve() if src else out.parent / (out.name + "-src")
    start = time.perf_counter()
    staged = stage(src, notebooks, release)
    warnings_file = src.parent / (src.name + "-warnings.txt")
    args = ["-b", "html", "-c", str(CONF_DIR), "-j", str(jobs), "-E", "-w", str(warnings_file),
            "-d", str(src / ".doctrees")]
    if quiet:
        args.append("-q")
    with warnings_module.catch_warnings():
        # Deprecation notices between Sphinx and its extensions are theirs to fix, not the site's.
        warnings_module.simplefilter("ignore", DeprecationWarning)
        warnings_module.simplefilter("ignore", PendingDeprecationWarning)
        status = build_main(args + [str(src), str(out)])
    warnings = [line for line in warnings_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if status == 0:
        restore_downloads(out, notebooks, release)
        fix_theme_accessibility(out)
    return {"staged": staged, "warnings": warnings, "seconds": time.perf_counter() - start, "status": status}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "site",
                        help="where the HTML goes (default: %(default)s)")
    parser.add_argument("--src", type=pathlib.Path, default=None,
                        help="scratch folder for the staged sources (default: OUT-src)")
    parser.add_argument("-j", "--jobs", default="1", help="Sphinx parallel jobs (default: 1)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    result = build(args.out, args.src, jobs=args.jobs, quiet=not args.verbose)
    staged = result["staged"]
    for line in result["warnings"]:
        print(line, file=sys.stderr)
    if result["status"] != 0:
        print(f"sphinx failed (exit {result['status']})", file=sys.stderr)
        return result["status"]
    print(f"site: {len(staged['notebooks'])} notebooks, {len(staged['exercises'])} exercises, "
          f"{staged['widgets']} widget snapshots, {len(result['warnings'])} warnings, "
          f"{result['seconds']:.1f} s -> {args.out.resolve() / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
