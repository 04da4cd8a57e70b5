"""A learner's notebook made inert for the instructor's browser; CSV fields a spreadsheet cannot run.

Everything a learner writes reaches pages the instructor opens: the formgrader's
submission view and the feedback pages (nbconvert's HTML), the class report and
its CSV files. `sanitize_notebook` returns a copy of a notebook in which nothing
can run script there:

* markdown and raw cells: HTML cleaned by `nh3` (ammonia's allow-list: no
  `<script>`, `<iframe>`, `<form>`, `<object>`, `<style>`, no `on…` attribute, no
  `javascript:` URL), and markdown links whose target is not http(s), mailto, a
  fragment, a relative path or one of the cell's attachments by a plain name
  turned into `#unsafe-link`; attachments kept only
  as PNG/JPEG/GIF with valid base64 (a link to one not kept leads to `#missing-attachment`);
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
import html
import re

import nh3
from nbconvert.preprocessors import Preprocessor

SAFE_IMAGES = ("image/png", "image/jpeg", "image/gif")
KEPT_AS_TEXT = ("text/plain", "text/latex")
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A markdown link or reference whose target has a scheme other than http(s) or mailto.
MD_LINK = re.compile(r"(\]\(\s*<?|^\s*\[[^\]\n]*\]:\s*<?)\s*(?![a-z]+://)(?=[a-z][a-z0-9+.-]*:)"
                     r"(?!https?:|mailto:|attachment:[A-Za-z0-9_.-]{1,64}[)\s>])[^)\s>]*",
                     re.IGNORECASE | re.MULTILINE)
ATTACHMENT = re.compile(r"attachment:([A-Za-z0-9_.-]{1,64})")
CLOSING = re.compile(r"</[A-Za-z][^>]*>")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def clean_html(text: str) -> str:
    """`text` (HTML) without anything that runs script, loads a frame or posts a form."""
    return nh3.clean(text, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def clean_markdown(text: str) -> str:
    """Markdown `text` with its HTML cleaned and its script-scheme links defused.

    nh3 parses the whole text as a browser would (code spans included). When all it
    changes is escaping `<`, `>`, `&` and closing open tags, the text is returned as
    it was (honest markdown, `<b>` in a code span); otherwise nh3's version.
    """
    text = MD_LINK.sub(lambda m: m.group(1) + "#unsafe-link", text)
    cleaned = clean_html(text)
    return text if CLOSING.sub("", html.unescape(cleaned)) == CLOSING.sub("", text) else cleaned


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
            cell["source"] = clean_markdown(source) if kind == "markdown" else clean_html(source)
            given = cell.get("attachments") if isinstance(cell.get("attachments"), dict) else {}
            attachments = {name: clean_bundle(bundle) for name, bundle in given.items()
                           if isinstance(bundle, dict) and NAME.fullmatch(name.replace(".", "_"))}
            attachments = {k: {m: v for m, v in b.items() if m in SAFE_IMAGES} for k, b in attachments.items()}
            cell.pop("attachments", None)
            kept = {k: b for k, b in attachments.items() if b}
            if kind == "markdown" and kept:
                cell["attachments"] = kept
            if kind == "markdown":        # nbconvert stops the whole page at a missing attachment
                cell["source"] = ATTACHMENT.sub(lambda m: m[0] if m[1] in kept else "#missing-attachment",
                                                cell["source"])
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
