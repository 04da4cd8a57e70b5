"""courseops.sanitize: what a learner writes renders inert for the instructor; CSV fields stay text."""

import base64
import functools
import json

import nbformat
import pytest
from hypothesis import given, strategies as st

pytest.importorskip("nh3")
from courseops.sanitize import clean_html, clean_markdown, csv_safe, sanitize_notebook  # noqa: E402
from live_html import MARKDOWN_PAYLOADS, OUTPUT_BUNDLES, PNG, live_parts  # noqa: E402

PAYLOADS = ['<img src=x onerror="alert(1)">', "<script>alert(1)</script>", '<iframe srcdoc="<script>x</script>">',
            '<svg onload="alert(1)"><circle r="4"/></svg>', '<form action="/x"><input name=q></form>',
            '<a href="javascript:alert(1)">x</a>', '<div style="x" onclick="alert(1)">d</div>',
            "<object data=x></object>", '<body onload="alert(1)">', "<math><mi xlink:href=javascript:alert(1)>x</mi></math>"]
DANGER = ("<script", "onerror", "onload", "onclick", "<iframe", "<form", "javascript:", "<object", "srcdoc", "<svg")


def notebook(markdown: str, outputs: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("x", outputs=outputs)]
    return nb


def rendered(nb) -> str:
    """What the formgrader's exporter would write for the cells (nbconvert's HTML, no template chrome)."""
    from nbconvert import HTMLExporter
    return HTMLExporter(template_name="lab").from_notebook_node(sanitize_notebook(nb))[0]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_and_html_outputs_lose_everything_that_runs(payload):
    nb = notebook(f"# Answer\n\n{payload}\n",
                  [nbformat.v4.new_output("display_data", {"text/html": payload, "text/plain": "shown"}),
                   nbformat.v4.new_output("display_data", {"application/javascript": "alert(1)", "text/plain": "js"}),
                   nbformat.v4.new_output("display_data", {"image/svg+xml": payload})])
    clean = sanitize_notebook(nb)
    text = json.dumps(clean).lower()
    for word in DANGER:
        assert word not in text.replace("image/svg+xml", ""), (word, payload)
    assert "application/javascript" not in text and clean.cells[1].outputs[0]["data"]["text/plain"] == "shown"


def test_attribute_fields_become_plain_numbers_and_names():
    nb = notebook("ok", [nbformat.v4.new_output(
        "display_data", {"image/png": 'iVBORw0KGgo=" onerror="alert(1)'}),
        nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo="},
                               metadata={"image/png": {"width": "1 onerror=alert(1)", "height": 20}})])
    nb.cells[1].execution_count = "<script>x</script>"
    nb.cells[1].metadata = {"tags": ['x"><script>', "ok-tag"], "nbgrader": {"grade_id": "a b<", "points": 1}}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"v": "<img onerror=x>"}}}
    clean = sanitize_notebook(nb)
    code = clean.cells[1]
    assert code.execution_count is None and code.metadata == {"tags": ["ok-tag"]}
    assert [o["data"] for o in code.outputs] == [{"image/png": "iVBORw0KGgo="}]
    assert code.outputs[0]["metadata"] == {"image/png": {"height": 20}}
    assert "widgets" not in clean.metadata
    page = rendered(nb)
    assert "alert(1)" not in page and "<script>x" not in page


def test_an_svg_output_is_shown_as_an_image_that_runs_nothing():
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/><script>alert(1)</script></svg>'
    out = sanitize_notebook(notebook("", [nbformat.v4.new_output("display_data", {"image/svg+xml": svg})]))
    html = out.cells[1].outputs[0]["data"]["text/html"]
    assert html.startswith('<img src="data:image/svg+xml;base64,')
    assert base64.b64decode(html.split(",", 1)[1].split('"')[0]).decode() == svg


MATHS = "# Title\n\n$\\hat y = w x + b$, and $a < b$ & $c > d$\n\n$$\\sum_i x_i^2$$\n\n> a quote\n\n- [doc](https://numpy.org)\n"


def test_honest_markdown_keeps_its_maths_links_and_code_on_the_page():
    clean = sanitize_notebook(notebook(MATHS + "\n`<b>` in code, [a link](../notebooks/03.ipynb#top), "
                                       "[here](#top), <mailto:a@b.org>\n", []))
    source = clean.cells[0].source
    assert "$\\hat y = w x + b$" in source and "$a &lt; b$" in source and "$$\\sum_i x_i^2$$" in source
    shown = rendered(clean)
    assert "$\\hat y = w x + b$" in shown and "$$\\sum_i x_i^2$$" in shown        # left for MathJax to typeset
    for href in ("https://numpy.org", "../notebooks/03.ipynb#top", "#top", "mailto:a@b.org"):
        assert f'href="{href}"' in shown
    assert "<code>&lt;b&gt;</code>" in shown and "<h1>Title" in shown


@given(st.text(alphabet="[]()<>`*_$\\!#&;:/%= \t\nabjvsciptrx0123", max_size=60))
def test_nbconvert_shows_exactly_the_html_the_sanitizer_checked(text):
    """Either the markdown is kept (nh3 changes nothing in its rendering) or nbconvert's
    renderer passes the sanitizer's HTML through as it is."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    clean = clean_markdown(text)
    shown = markdown2html_mistune(clean)
    assert clean == text and clean_html(shown) == shown or "\n" not in clean and shown.strip() == clean


@pytest.mark.parametrize("text", ["YOUR ANSWER HERE", "Adam, since $m_t < v_t$ & the *steps* are `small`.\n\n- a\n- b"])
def test_markdown_whose_rendering_is_already_inert_is_kept_as_written(text):
    assert clean_markdown(text) == text          # nbgrader's checksum of an untouched answer still matches


def test_html_hidden_from_a_naive_code_span_reader_is_still_cleaned():
    assert "onerror" not in clean_markdown("\\`<img src=x onerror=alert(1)>\\`")


# Ways to write a URL of a scheme outside the allow-list in a markdown cell ({} is the URL).
SCHEMES = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#115;cript:alert(1)", "java&#x73;cript:alert(1)",
           "javascript&colon;alert(1)", "jav&#x09;ascript:alert(1)", "jav&#10;ascript:alert(1)",
           "&#x20;javascript:alert(1)", "javascript://%0Aalert(1)", "vbscript:msgbox(1)",
           "data:text/html;base64,PHNjcmlwdD4=", "DATA:text/html,<b>", "jav%09ascript:alert(1)"]
LINK_FORMS = ["[x]({})", "[x]( {} )", "[x](<{}>)", "[x][r]\n\n[r]: {}", "[r]\n\n[r]: <{}>", "<{}>", "![x]({})",
              '<a href="{}">x</a>', "<img src='{}'>", "[x]({} \"title\")"]


@pytest.mark.parametrize("url", SCHEMES)
@pytest.mark.parametrize("form", LINK_FORMS)
def test_no_link_form_carries_a_scheme_outside_the_allow_list(form, url):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    assert live_parts(markdown2html_mistune(clean_markdown(form.format(url)))) == []


@st.composite
def disguised(draw, scheme="javascript:"):
    """`scheme` as a browser still reads it: letters in any case or as character references,
    tabs and newlines (raw or as references) between them, C0 controls and spaces before."""
    parts = [draw(st.sampled_from(["", " ", "&#x20;", "\x01", "&#1;"]))]
    for char in scheme:
        parts.append(draw(st.sampled_from([char, char.upper(), f"&#{ord(char)};", f"&#x{ord(char):x};"]
                                          + (["&colon;"] if char == ":" else []))))
        parts.append(draw(st.sampled_from(["", "", "\t", "&#x09;", "&#10;", "&Tab;", "&NewLine;"])))
    return "".join(parts) + draw(st.sampled_from(["alert(1)", "//%0Aalert(1)", "/*x*/alert(1)"]))


@given(disguised() | disguised("vbscript:") | disguised("data:"), st.sampled_from(LINK_FORMS))
def test_no_disguised_scheme_survives_in_any_link_form(url, form):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    assert live_parts(markdown2html_mistune(clean_markdown(form.format(url)))) == []


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                   "\t=1", "\r=1"])
def test_formula_fields_are_neutralized(value):
    assert csv_safe(value) == "'" + value


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()))
def test_numbers_pass_unchanged(x):
    assert csv_safe(str(x)) == str(x) and csv_safe(x) == x


@given(st.text())
def test_no_field_starts_a_formula_after_csv_safe(text):
    out = csv_safe(text)
    assert not out.startswith(("=", "+", "@", "\t", "\r")) or out == text and text.strip().lstrip("+-")[:1].isdigit()


# ---- whole pages: a learner's payloads add nothing live to what nbconvert writes ------------------

def payload_notebook(markdown: list[str], bundles: list[dict]) -> nbformat.NotebookNode:
    """A notebook carrying every payload: markdown cells (one with attachments named to break out of
    an attribute), outputs, and fields nbconvert writes into the page (title, tags, ids, counts)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"title": "</title><script>document.title='XSS'</script>",
                        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"x": "<script>XSS"}}}})
    nb.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown]
    for cell in nb.cells:
        if "attachment:" in cell.source:
            cell["attachments"] = {"x\"onerror=\"document.title='XSS'.png": {"image/png": PNG},
                                   "fine.png": {"image/png": PNG}}
    code = nbformat.v4.new_code_cell("display(x)", outputs=[nbformat.v4.new_output("display_data", b) for b in bundles])
    code.metadata["tags"] = ["x\" onmouseover=\"document.title='XSS'"]
    code.execution_count = "1\"><script>XSS</script>"
    nb.cells.append(code)
    return nb


def page(nb) -> str:
    """The whole page nbgrader's feedback exporter writes (lab template), configured as the hub's
    nbgrader_config.py configures it (nbgrader's converters have no default preprocessors)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    config = Config({"Exporter": {"default_preprocessors": []},
                     "HTMLExporter": {"preprocessors": ["courseops.sanitize.SanitizeSubmission"]}})
    return HTMLExporter(template_name="lab", config=config).from_notebook_node(nb)[0]


def test_a_page_of_payloads_has_only_the_templates_live_parts():
    honest = live_parts(page(payload_notebook(["an honest *answer*"], [{"text/plain": "1"}])))
    attacked = page(payload_notebook(MARKDOWN_PAYLOADS, OUTPUT_BUNDLES))
    assert live_parts(attacked) == honest
    assert "shown" in attacked and "my answer" in attacked          # the learner's inert content stays
    assert not [p for p in honest if "XSS" in repr(p)]


@functools.cache
def honest_parts() -> list[tuple]:
    return live_parts(page(payload_notebook(["ok"], [])))


@pytest.mark.parametrize("payload", MARKDOWN_PAYLOADS)
def test_each_markdown_payload_alone_adds_nothing_live(payload):
    assert live_parts(page(payload_notebook([payload], []))) == honest_parts()


@pytest.mark.parametrize("url", ["javascript://%0Aalert(1)", "jav&#x09;ascript:alert(1)", "javascript&colon;alert(1)"])
@pytest.mark.parametrize("form", ["[x]({})", "[x][r]\n\n[r]: {}", "<{}>"])
def test_a_page_with_a_script_link_has_only_the_templates_live_parts(form, url):
    nb = payload_notebook([form.format(url), f"an output: {form.format(url)}"], [{"text/markdown": form.format(url)}])
    assert live_parts(page(nb)) == honest_parts()


def test_an_attachment_with_a_plain_name_is_still_shown_and_a_missing_one_stops_no_page():
    nb = payload_notebook(["![ok](attachment:fine.png) ![gone](attachment:missing.png)"], [])
    assert f"data:image/png;base64,{PNG}" in page(nb)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)


@given(st.dictionaries(st.sampled_from(["cells", "metadata", "nbformat"]), json_values)
       | st.fixed_dictionaries({"cells": st.lists(st.dictionaries(
           st.sampled_from(["cell_type", "source", "outputs", "metadata", "attachments", "execution_count", "id"]),
           json_values), max_size=4)}))
def test_any_json_a_learner_saves_as_a_notebook_is_sanitized_without_an_exception(nb):
    clean = sanitize_notebook(nb)
    assert all(isinstance(c, dict) for c in clean["cells"]) and set(clean["metadata"]) <= {"language_info", "kernelspec"}
