"""A learner's notebook made inert for the instructor's browser; CSV fields a spreadsheet cannot run.

Everything a learner writes reaches pages the instructor opens: the formgrader's
submission view and the feedback pages (nbconvert's HTML), the class report and
its CSV files. `sanitize_notebook` returns a copy of a notebook in which nothing
can run script there:

* markdown cells: rendered to HTML by nbconvert's own markdown renderer (maths
  stays `$…$` text for MathJax), that HTML cleaned by `nh3` (ammonia's allow-list:
  no `<script>`, `<iframe>`, `<form>`, `<object>`, `<style>`, no `on…` attribute, no
  `id`; every `href`/`src` checked as the browser reads it, entities decoded and
  tabs stripped: http(s), mailto, relative and fragment URLs only, plus an `<img>`'s
  data URL of a PNG, JPEG or GIF), and stored as the cell's source on one line in a
  `<div>`, which nbconvert's renderer passes through unchanged: the URL checked is
  the URL the page carries (markdown whose rendering nh3 leaves byte for byte as it
  is stays as written: the page shows those same bytes). Attachments are kept only as PNG/JPEG/GIF with valid
  base64 and embedded (an image of one not kept shows `#missing-attachment`);
  raw cells are nh3-cleaned;
* outputs: `text/html` and `text/markdown` cleaned the same way; `image/svg+xml`
  shown as an `<img>` of a data URL (browsers run no script and load nothing in
  an SVG image); PNG/JPEG/GIF kept only with valid base64 and numeric sizes;
  JavaScript, widget views and every other rich type dropped (text/plain stays);
* the fields nbconvert's templates write into attributes unescaped or loosely
  (execution counts, tags, cell ids, nbgrader's grade ids, output metadata, the
  notebook's metadata with its widget state) reduced to plain numbers and names.

`SanitizeSubmission` is the same as an nbconvert preprocessor, which the hub's
nbgrader configuration gives the formgrader's and feedback's HTML exporter.
`csv_safe` neutralizes a field that a spreadsheet would read as a formula (OWASP).
"""

from __future__ import annotations

import base64
import binascii
import copy
import re

import nh3
from nbconvert.filters.markdown_mistune import InvalidNotebook, IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor

SAFE_IMAGES = ("image/png", "image/jpeg", "image/gif")
KEPT_AS_TEXT = ("text/plain", "text/latex")
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
URL_SCHEMES = {"http", "https", "mailto", "data"}     # data: only as IMAGE_URL (see _checked_url)
IMAGE_URL = re.compile(r"data:image/(png|jpeg|gif);base64,[a-z0-9+/=\s]*")
C0_AND_SPACE = "".join(map(chr, range(0x21)))
ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "*": nh3.ALLOWED_ATTRIBUTES.get("*", set()) | {"class"}}


def _checked_url(tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter, on top of its scheme allow-list, for `href` and `src`.

    The URL is read as a browser reads it (WHATWG: outer C0 controls and spaces
    stripped, tabs and newlines removed, any case). A colon in its first segment must
    end an allowed scheme (`jav%09ascript:x` is a relative path to a browser, but
    ambiguous: dropped), and a data URL is kept only as an `<img>`'s PNG, JPEG or GIF.
    """
    if attribute not in ("href", "src"):
        return value
    url = re.sub("[\t\n\r]", "", value.strip(C0_AND_SPACE)).lower()
    head = re.split("[/?#]", url, maxsplit=1)[0]
    if ":" in head and head.split(":")[0] not in URL_SCHEMES - {"data"} and \
            not (tag == "img" and attribute == "src" and IMAGE_URL.fullmatch(url)):
        return None
    return value


def clean_html(text: str) -> str:
    """`text` (HTML) without anything that runs script, loads a frame or posts a form."""
    return nh3.clean(text, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, attribute_filter=_checked_url,
                     link_rel="noopener noreferrer nofollow")


class _Renderer(IPythonRenderer):
    """nbconvert's markdown renderer, an image of an attachment the cell lacks leading to
    `#missing-attachment` (nbconvert's raises, which would stop the whole page)."""

    def _embed_image_or_attachment(self, src: str) -> str:
        try:
            return super()._embed_image_or_attachment(src)
        except InvalidNotebook:
            return "#missing-attachment"


def clean_markdown(text: str, attachments: dict | None = None) -> str:
    """Markdown `text` as the page will show it, made inert.

    Rendered as nbconvert renders a markdown cell (its `MarkdownWithMath`, `$…$` kept
    as text) with `attachments` (name -> {mime: base64}) embedded, then `clean_html`.
    When that changes nothing (and no attachment is embedded), `text` itself, which
    nbconvert renders to those same bytes; otherwise the cleaned HTML with newlines as
    `&#10;` (the same character to a browser) in a `<div>`: one HTML block, which
    nbconvert's renderer, given it as a cell's source, emits unchanged.
    """
    rendered = MarkdownWithMath(renderer=_Renderer(escape=False, attachments=attachments or {})).render(text)
    cleaned = clean_html(rendered)
    if cleaned == rendered and not attachments:
        return text
    return "<div>" + cleaned.replace("\n", "&#10;") + "</div>"


def _base64(data) -> str | None:
    if not isinstance(data, (str, list)):
        return None
    text = _text(data)
    try:
        base64.b64decode(text.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None
    return text


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _text(value) -> str:
    """A notebook string field (a string, or a list of strings) as one string; anything else ''."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _size_metadata(meta) -> dict:
    """Only numeric width/height per image type survive."""
    out = {}
    for mime, entry in (meta or {}).items() if isinstance(meta, dict) else ():
        if mime in SAFE_IMAGES and isinstance(entry, dict):
            sizes = {k: v for k, v in entry.items() if k in ("width", "height")
                     and isinstance(v, (int, float)) and not isinstance(v, bool)}
            if sizes:
                out[mime] = sizes
    return out


def clean_bundle(data: dict) -> dict:
    """A display bundle (mime type -> data) with only inert entries."""
    out = {}
    for mime, value in (data or {}).items():
        if mime in KEPT_AS_TEXT:
            out[mime] = _text(value)
        elif mime in SAFE_IMAGES and (b64 := _base64(value)) is not None:
            out[mime] = b64
        elif mime == "text/html":
            out[mime] = clean_html(_text(value))
        elif mime == "text/markdown":
            out[mime] = clean_markdown(_text(value))
    svg = _text(data.get("image/svg+xml")) if isinstance(data, dict) else ""
    if svg and "text/html" not in out:
        url = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
        out["text/html"] = f'<img src="{url}" alt="an SVG figure">'
    return out


def clean_output(output: dict) -> dict:
    kind = output.get("output_type")
    if kind == "stream":
        return {"output_type": "stream", "name": "stderr" if output.get("name") == "stderr" else "stdout",
                "text": _text(output.get("text"))}
    if kind == "error":
        return {"output_type": "error", "ename": _text(output.get("ename")), "evalue": _text(output.get("evalue")),
                "traceback": [_text(t) for t in _list(output.get("traceback")) if isinstance(t, str)]}
    out = {"output_type": "execute_result" if kind == "execute_result" else "display_data",
           "data": clean_bundle(output.get("data") if isinstance(output.get("data"), dict) else {}),
           "metadata": _size_metadata(output.get("metadata"))}
    if kind == "execute_result":
        count = output.get("execution_count")
        out["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return out


def _cell_metadata(meta) -> dict:
    meta = meta if isinstance(meta, dict) else {}
    out = {}
    tags = [t for t in _list(meta.get("tags")) if isinstance(t, str) and NAME.fullmatch(t)]
    if tags:
        out["tags"] = tags
    nbg = meta.get("nbgrader")
    if isinstance(nbg, dict) and NAME.fullmatch(str(nbg.get("grade_id", ""))) and \
            isinstance(nbg.get("points", 0), (int, float)):
        out["nbgrader"] = {k: v for k, v in nbg.items() if isinstance(v, (bool, int, float, type(None)))
                           or (isinstance(v, str) and NAME.fullmatch(v))}
    return out


def sanitize_notebook(nb):
    """A copy of notebook `nb` (an nbformat NotebookNode or dict) that renders inert (see module)."""
    nb = copy.deepcopy(nb)
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    kernel = meta.get("kernelspec") or {}
    nb["metadata"] = {"language_info": {"name": "python"}}
    if isinstance(kernel, dict) and NAME.fullmatch(str(kernel.get("name", ""))):
        nb["metadata"]["kernelspec"] = {"name": kernel["name"], "display_name": kernel["name"], "language": "python"}
    cells = nb.get("cells") if isinstance(nb.get("cells"), list) else []
    nb["cells"] = [cell for cell in cells if isinstance(cell, dict)]
    for n, cell in enumerate(nb["cells"]):
        kind = cell.get("cell_type")
        cell["metadata"] = _cell_metadata(cell.get("metadata"))
        if "id" in cell and not NAME.fullmatch(str(cell["id"])):
            cell["id"] = f"cell-{n}"
        source = _text(cell.get("source"))
        if kind == "code":
            count = cell.get("execution_count")
            cell["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
            outputs = [clean_output(o) for o in _list(cell.get("outputs")) if isinstance(o, dict)]
            cell["outputs"] = [o for o in outputs if o.get("data", True)]     # nothing inert left: dropped
            cell["source"] = source
        else:
            cell["cell_type"] = "markdown" if kind == "markdown" else "raw"
            given = cell.pop("attachments", None)         # images: embedded in the HTML by clean_markdown
            images = {name: {m: v for m, v in clean_bundle(bundle).items() if m in SAFE_IMAGES}
                      for name, bundle in (given.items() if isinstance(given, dict) else ())
                      if isinstance(bundle, dict) and NAME.fullmatch(name.replace(".", "_"))}
            cell["source"] = clean_markdown(source, {k: b for k, b in images.items() if b}) if kind == "markdown" \
                else clean_html(source)
    return nb


class SanitizeSubmission(Preprocessor):
    """nbconvert preprocessor: the notebook replaced by `sanitize_notebook(nb)` before it is rendered."""

    def preprocess(self, nb, resources):
        import nbformat
        return nbformat.from_dict(sanitize_notebook(nb)), resources


def csv_safe(value):
    """`value` as a spreadsheet reads it as text: a string starting with = + - @ tab or CR gets a
    leading `'` (OWASP's CSV injection advice); numbers and other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(value.strip()):
        return "'" + value
    return value
