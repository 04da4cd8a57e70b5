"""The course web site (`make site`, scripts/build_site.py): built once into a temporary folder.

Checks that every notebook and every exercise has a page, the index links to
them, no relative link or anchor is broken, nothing is loaded from the network,
widget outputs became static snapshots, and (marked `browser`) that in headless
Chromium the math is typeset by the site's own MathJax and every figure loads.
"""

import functools
import http.server
import json
import pathlib
import re
import shutil
import threading
import urllib.parse
from html.parser import HTMLParser

import pytest

from scripts import build_site, labdriver

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = build_site.course_notebooks()
EXERCISES = build_site.release_notebooks()
SCREENSHOTS = labdriver.ARTIFACTS     # with the other browser tests' screenshots (gitignored)
# axe-core, the engine behind browsers' accessibility audits: `make test` installs it
# from tests/a11y/package-lock.json (npm ci), and the test injects it into every page.
AXE = ROOT / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "html"
    result = build_site.build(out, jobs=1, quiet=True)
    assert result["status"] == 0, "sphinx failed:\n" + "\n".join(result["warnings"])
    result["out"] = out
    return result


class Page(HTMLParser):
    """What one HTML file links to (href/src), loads (script/link/img/iframe) and defines (ids)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.loads, self.ids = [], [], set()
        self.text, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append((tag, attrs[key]))
        if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or "") + (attrs.get("as") or "style"):
            self.loads.append(attrs["href"])
        if tag in ("script", "style", "pre", "code"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "pre", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


@functools.cache
def parse(path):
    page = Page()
    page.feed(pathlib.Path(path).read_text(encoding="utf-8"))
    return page


def html_files(out):
    """The site's pages (not the theme's Jinja templates, which it leaves in _static/)."""
    return sorted(p for p in out.rglob("*.html") if "_static" not in p.relative_to(out).parts)


def is_remote(url):
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, flags=re.I)) and not url.startswith(("data:", "#"))


@pytest.mark.slow
def test_build_is_clean(site):
    # Sphinx's warnings, one per line: a broken cross-reference, a bad toctree, a
    # notebook that does not parse. Each one is a defect of the site.
    assert site["warnings"] == [], "Sphinx warned:\n" + "\n".join(site["warnings"])
    assert site["seconds"] < 60, f"the site took {site['seconds']:.0f} s to build"


@pytest.mark.slow
def test_every_notebook_and_exercise_has_a_page(site):
    assert NOTEBOOKS and EXERCISES
    for nb in NOTEBOOKS:
        page = site["out"] / "notebooks" / f"{nb.stem}.html"
        assert page.is_file(), f"no page for {nb.name}"
        title = json.loads(nb.read_text())["cells"][0]["source"]
        title = "".join(title).splitlines()[0].lstrip("# ").strip()
        assert title.split()[-1] in page.read_text(encoding="utf-8"), f"{page.name} lacks its title {title!r}"
    for nb in EXERCISES:
        assert (site["out"] / "exercises" / f"{nb.stem}.html").is_file(), f"no page for {nb.name}"


@pytest.mark.slow
def test_index_links_to_every_notebook_and_the_exercises(site):
    out = site["out"]
    linked = {urllib.parse.urlsplit(href).path for _, href in parse(out / "index.html").links}
    missing = [nb.stem for nb in NOTEBOOKS if f"notebooks/{nb.stem}.html" not in linked]
    assert not missing, f"index.html does not link to {missing}"
    assert "exercises.html" in linked
    missing = [nb.stem for nb in EXERCISES if f"exercises/{nb.stem}.html" not in linked]
    assert not missing, f"index.html does not link to the exercises {missing}"
    exercises_page = {urllib.parse.urlsplit(h).path for _, h in parse(out / "exercises.html").links}
    assert all(f"exercises/{nb.stem}.html" in exercises_page for nb in EXERCISES)


@pytest.mark.slow
def test_no_broken_relative_links_or_anchors(site):
    out = site["out"]
    broken = []
    for path in html_files(out):
        for tag, url in parse(path).links:
            if is_remote(url) or url.startswith("data:"):
                continue
            parts = urllib.parse.urlsplit(url)
            target = (path.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(out)}: <{tag}> {url} (no such file)")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in parse(target).ids:
                broken.append(f"{path.relative_to(out)}: <{tag}> {url} (no id {parts.fragment!r})")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.slow
def test_nothing_is_loaded_from_the_network(site):
    out = site["out"]
    remote = [f"{p.relative_to(out)}: {url}" for p in html_files(out) for url in parse(p).loads if is_remote(url)]
    assert not remote, "pages load resources from the network:\n" + "\n".join(remote)
    for path in (out / "_static").rglob("*.css"):
        imports = re.findall(r"@import\s+(?:url\()?['\"]?(https?:[^'\")\s]+)|url\(['\"]?(https?:[^'\")]+)",
                             path.read_text(encoding="utf-8", errors="replace"))
        assert not imports, f"{path.relative_to(out)} loads {imports}"


@pytest.mark.slow
def test_mathjax_is_served_by_the_site_itself(site):
    out = site["out"]
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert list((out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    for nb in NOTEBOOKS[:1]:
        loads = parse(out / "notebooks" / f"{nb.stem}.html").loads
        assert "../_static/mathjax/tex-chtml.js" in loads


@pytest.mark.slow
def test_math_is_marked_up_for_mathjax_and_no_dollar_signs_are_left(site):
    out = site["out"]
    for nb in NOTEBOOKS:
        path = out / "notebooks" / f"{nb.stem}.html"
        source = json.loads(nb.read_text())
        has_math = any("$" in "".join(c["source"]) for c in source["cells"] if c["cell_type"] == "markdown")
        html_text = path.read_text(encoding="utf-8")
        if has_math:
            assert 'class="math' in html_text, f"{path.name}: math not recognised"
        prose = "".join(parse(path).text)
        leftovers = re.findall(r".{0,30}\$\$?[^$\s][^$]{0,40}\$.{0,10}", prose)
        assert not leftovers, f"{path.name}: raw TeX left in the prose: {leftovers[:3]}"


@pytest.mark.slow
def test_widget_outputs_are_static_snapshots(site):
    out = site["out"]
    expected = 0
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        n = sum(build_site.WIDGET_VIEW in o.get("data", {}) for c in cells for o in c.get("outputs", []))
        page = (out / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert page.count('class="ol-widget-snapshot"') == n, nb.name
        assert "widget-view+json" not in page and "embed-amd" not in page and "require.js" not in page
        expected += n
    assert site["staged"]["widgets"] == expected


def test_snapshot_renders_saved_state_without_javascript():
    png = "iVBORw0KGgo="
    state = {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_row", "IPY_MODEL_img", "IPY_MODEL_msg"]}},
        "row": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_lr", "IPY_MODEL_opt", "IPY_MODEL_nope"]}},
        "lr": {"model_name": "FloatLogSliderModel", "state": {"description": "lr", "value": 0.0123456}},
        "opt": {"model_name": "DropdownModel", "state": {"description": "optimizer", "index": 1,
                                                         "_options_labels": ["SGD", "Adam <b>"]}},
        "img": {"model_name": "ImageModel", "state": {"format": "png"},
                "buffers": [{"path": ["value"], "encoding": "base64", "data": png}]},
        "msg": {"model_name": "HTMLModel", "state": {"value": "<b>diverged at step 3</b>"}},
    }}
    html_text = build_site.snapshot_html(build_site.WidgetSnapshot(state), "box", "fallback")
    assert "lr" in html_text and "0.01235" in html_text
    assert "Adam &lt;b&gt;" in html_text          # labels escaped
    assert f"data:image/png;base64,{png}" in html_text
    assert "<b>diverged at step 3</b>" in html_text
    assert "make lab" in html_text
    empty = build_site.snapshot_html(build_site.WidgetSnapshot({}), "missing", "Fit a line (a widget)")
    assert "Fit a line (a widget)" in empty


@pytest.mark.slow
def test_download_buttons_serve_the_original_notebooks(site):
    for nb in NOTEBOOKS:
        page = (site["out"] / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert f"../_sources/notebooks/{nb.name}" in page, f"{nb.stem}.html has no download link"
        assert (site["out"] / "_sources" / "notebooks" / nb.name).read_bytes() == nb.read_bytes()
    for nb in EXERCISES:
        assert (site["out"] / "_sources" / "exercises" / nb.name).read_bytes() == nb.read_bytes()


@pytest.mark.slow
def test_pages_show_the_committed_outputs_not_a_new_run(site):
    # The site is built from the notebooks as committed (nb_execution_mode = "off"):
    # a printed line of each notebook appears on its page verbatim.
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        lines = [line.strip() for c in cells for o in c.get("outputs", []) if o.get("output_type") == "stream"
                 for line in "".join(o.get("text", "")).splitlines() if len(line.strip()) > 12]
        if lines:
            page = (site["out"] / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
            import html as _html
            assert _html.escape(lines[0], quote=False) in page, f"{nb.name}: {lines[0]!r} not on its page"


# ---- in a real browser --------------------------------------------------------------------

def _serve(directory):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def browser():
    reason = labdriver.missing_browser()
    if reason:
        pytest.skip(reason)
    with labdriver.chromium() as b:
        yield b


def _open(browser, url, outside):
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def route(r):
        u = r.request.url
        if u.startswith(("file://", "data:", "http://127.0.0.1", "about:", "blob:")):
            r.continue_()
        else:
            outside.append(u)
            r.abort()

    page.route("**/*", route)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    # MathJax 3 (loaded with `defer`) typesets after the load event: wait for its startup promise.
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30000)
        page.evaluate("() => MathJax.startup.promise")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    return page, errors


def _check_page(page, name):
    info = page.evaluate("""() => ({
        mjx: document.querySelectorAll('mjx-container').length,
        mathNodes: document.querySelectorAll('.math').length,
        mjxErrors: document.querySelectorAll('mjx-merror').length,
        images: Array.from(document.images).map(i => [i.currentSrc.slice(0, 80), i.complete, i.naturalWidth]),
        text: document.body.innerText,
        fontsOk: Array.from(document.fonts).filter(f => f.family.startsWith('MJXTEX') || f.family.startsWith('MJXZERO'))
                   .map(f => [f.family, f.status]),
    })""")
    assert info["mjx"] >= info["mathNodes"], f"{name}: {info['mathNodes']} math nodes, {info['mjx']} typeset"
    assert info["mjxErrors"] == 0, f"{name}: MathJax reported {info['mjxErrors']} TeX errors"
    assert "$$" not in info["text"], f"{name}: raw $$ left on the page"
    not_loaded = [src for src, complete, width in info["images"] if not complete or width == 0]
    assert not not_loaded, f"{name}: images that did not load: {not_loaded}"
    failed_fonts = [f for f in info["fontsOk"] if f[1] == "error"]
    assert not failed_fonts, f"{name}: MathJax fonts failed to load: {failed_fonts}"
    return info


@pytest.mark.browser
@pytest.mark.parametrize("how", ["http", "file"])
def test_site_in_chromium_math_and_figures_offline(site, browser, how):
    """Opened as a learner would (file://, double-clicking index.html) and as served (loopback http)."""
    out = site["out"]
    server = _serve(out) if how == "http" else None
    base = f"http://127.0.0.1:{server.server_port}/" if server else out.as_uri() + "/"
    outside = []
    try:
        pages = ["index.html", "exercises.html"] + [f"notebooks/{nb.stem}.html" for nb in NOTEBOOKS] \
            + [f"exercises/{nb.stem}.html" for nb in EXERCISES[:1]]
        if how == "file":   # the same pages from disk: the index and the heaviest notebook page are enough
            pages = ["index.html", max(pages, key=lambda rel: (out / rel).stat().st_size)]
        seen = {}
        for rel in pages:
            page, errors = _open(browser, base + rel, outside)
            seen[rel] = _check_page(page, rel)
            assert not errors, f"{rel}: JavaScript errors {errors}"
            if how == "http" and rel in ("index.html", f"notebooks/{NOTEBOOKS[-1].stem}.html",
                                         "notebooks/03_gradient_descent.html"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / ("site-" + rel.replace("/", "-").replace(".html", ".png"))
                page.screenshot(path=str(shot), full_page=False)
                if rel.startswith("notebooks/03"):
                    page.locator(".ol-widget-snapshot").first.scroll_into_view_if_needed()
                    page.screenshot(path=str(SCREENSHOTS / "site-widget-snapshot.png"))
                    page.locator("mjx-container").nth(3).scroll_into_view_if_needed()
                    page.screenshot(path=str(SCREENSHOTS / "site-math.png"))
            page.close()
        assert not outside, f"the site asked the network for {sorted(set(outside))}"
        math_pages = [rel for rel, info in seen.items() if info["mjx"] > 0]
        assert math_pages, "no math typeset anywhere"
        if how == "http":
            assert len(math_pages) >= len(NOTEBOOKS) - 1, f"math typeset only on {math_pages}"
            assert sum(len(info["images"]) for info in seen.values()) > len(NOTEBOOKS)
    finally:
        if server:
            server.shutdown()
            server.server_close()


def test_theme_faults_are_fixed_and_nothing_else_changes():
    search = ('<button class="btn search-button__button" title="Search" aria-label="Search" data-x="1">'
              '  <i class="fa-solid fa-magnifying-glass"></i>  <span class="search-button__default-text">')
    assert 'aria-label' not in build_site.accessible_theme(search)
    icon_only = '<button class="btn" title="Search" aria-label="Search"> <i class="fa"></i> </button>'
    assert build_site.accessible_theme(icon_only) == icon_only       # its label is its only name
    folded = ('<a class="current reference internal" href="#">Exercises</a><details open="open">'
              '<summary><span class="toctree-toggle" role="presentation"></span></summary>')
    assert ('<summary aria-label="Show or hide the pages of Exercises">'
            in build_site.accessible_theme(folded))


@pytest.mark.browser
def test_every_page_passes_axe_with_no_serious_or_critical_violation(site, browser):
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE.relative_to(ROOT)}: `make test` runs "
                    f"npm ci in tests/a11y (needs npm)")
    axe = AXE.read_text(encoding="utf-8")
    out = site["out"]
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")
                   if not {"_static", "_sources", "_images"} & set(p.relative_to(out).parts))
    assert len(pages) >= len(NOTEBOOKS) + len(EXERCISES) + 2
    found = []
    for rel in pages:
        page, _ = _open(browser, (out / rel).as_uri(), [])
        page.add_script_tag(content=axe)
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        for v in result["violations"]:
            if v["impact"] in ("serious", "critical"):
                found.append(f"{rel}: {v['id']} ({v['impact']}) x{len(v['nodes'])}: "
                             f"{v['nodes'][0]['html'][:120]}")
        page.close()
    assert not found, "accessibility violations:\n" + "\n".join(found)


def _alt_texts(path):
    """The alt attribute of every image on a page (None where an image has none)."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    return [(m.group(1) if m else None) for m in
            (re.search(r'\balt="([^"]*)"', tag) for tag in re.findall(r"<img\b[^>]*>", text))]


@pytest.mark.slow
def test_every_figure_on_the_site_has_alt_text_of_at_least_a_sentence(site):
    """Not a file name, not a word: a sentence that says what the figure shows."""
    short = []
    for nb in NOTEBOOKS:
        alts = _alt_texts(site["out"] / "notebooks" / f"{nb.stem}.html")
        short += [f"{nb.stem}: {alt!r}" for alt in alts
                  if not alt or len(alt.split()) < 6 or not alt.rstrip().endswith((".", "!", "?"))
                  or re.search(r"\.(png|svg|jpe?g)\b", alt)]
    assert sum(len(_alt_texts(site["out"] / "notebooks" / f"{nb.stem}.html")) for nb in NOTEBOOKS) > len(NOTEBOOKS)
    assert not short, "images without a sentence of alt text:\n" + "\n".join(short)


@pytest.mark.browser
def test_a_figures_alt_text_is_what_a_screen_reader_reads(site, browser):
    """In Chromium, a figure's accessible name (what a screen reader announces) is its alt text.

    Saves ``site-figure-alt-text.png`` in the artifacts: the figure with its alt text shown
    under it, as the accessibility pane of a browser's developer tools would show it."""
    page, errors = _open(browser, (site["out"] / "notebooks" / "03_gradient_descent.html").as_uri(), [])
    figure = page.locator(".cell_output img").first
    alt = figure.get_attribute("alt")
    assert alt and len(alt.split()) >= 6, alt
    snapshot = figure.aria_snapshot()          # YAML: - img "Four panels of …" (quoted when it has colons)
    assert re.match(r"- '?img ", snapshot) and alt[:60] in snapshot, snapshot
    figure.evaluate("""img => {
        const box = document.createElement('div');
        box.id = 'ol-alt-shot';
        box.style.cssText = 'display:inline-block;background:#fff;padding:4px';
        const caption = document.createElement('div');
        caption.textContent = 'Alt text, read by a screen reader: ' + img.alt;
        caption.style.cssText = 'border:2px solid #0072B2;padding:6px;margin-top:4px;font:14px sans-serif;'
                              + 'color:#000;max-width:' + img.width + 'px';
        img.replaceWith(box);
        box.append(img, caption);
    }""")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#ol-alt-shot").screenshot(path=str(SCREENSHOTS / "site-figure-alt-text.png"))
    assert not errors, errors
    page.close()


@pytest.mark.slow
def test_every_widget_snapshot_shows_its_figure(site):
    # A widget whose saved state holds a figure (an Image or an Output widget with a PNG)
    # must show a figure in its snapshot: a snapshot with only controls means the saved
    # widget tree could not be followed.
    for nb in NOTEBOOKS:
        data = json.loads(nb.read_text())
        state = data["metadata"].get("widgets", {}).get(build_site.WIDGET_STATE, {}).get("state", {})
        has_figure = any(m["model_name"] == "ImageModel" or "image/png" in json.dumps(m.get("state", {}).get("outputs", []))
                         for m in state.values())
        if not has_figure:
            continue
        page = (site["out"] / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        snapshots = page.split('class="ol-widget-snapshot"')[1:]
        assert snapshots, f"{nb.name}: no snapshot"
        assert any('class="ol-w-image"' in s.split("</p>", 1)[1] for s in snapshots), f"{nb.name}: no figure"


# ---- the instructor guide (docs/instructors.md) ------------------------------------------------

def test_instructor_guide_covers_every_notebook_and_problem_set_and_its_links_resolve():
    guide_path = ROOT / "docs" / "instructors.md"
    guide = guide_path.read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert f"../notebooks/{nb.name}" in guide, f"the guide's schedules do not link to {nb.name}"
    for nb in EXERCISES:
        assert nb.parent.name in guide, f"the guide does not mention {nb.parent.name}"
    for target in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", guide):
        assert (guide_path.parent / target).exists(), f"broken link in docs/instructors.md: {target}"
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", guide, flags=re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", guide):
        assert anchor in anchors, f"docs/instructors.md links to a missing heading #{anchor}"
    makefile = (ROOT / "Makefile").read_text()
    for target in sorted(set(re.findall(r"`make ([a-z][\w-]*)", guide))):
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"the guide cites `make {target}`"
