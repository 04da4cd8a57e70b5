"""What in an HTML page can run script, load a frame or plugin, or navigate (`live_parts(page)`),
and the payloads a learner tries (`MARKDOWN_PAYLOADS`, `OUTPUT_BUNDLES`: each sets the page's
title to one containing XSS, were it to run).

The hub's tests compare a page showing a learner's payloads with the same page of an
honest learner: the live parts must be the same (the template's own), so nothing a
learner wrote runs. Parsed as a browser tokenizes (html.parser), not searched for
words: a `onerror=` shown as text in a code cell is text, an `onerror` attribute is not.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements that run, embed or submit something, whatever their attributes.
LIVE_TAGS = frozenset({"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "base",
                       "svg", "math", "portal", "template", "noscript"})
URL_ATTRS = frozenset({"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "poster",
                       "background", "srcset", "codebase", "ping", "lowsrc", "dynsrc", "manifest"})
INERT_URL = re.compile(r"(https?:|mailto:|#|data:image/(png|jpeg|gif|svg\+xml)[;,]|[^:]*$)", re.IGNORECASE)
IGNORED = re.compile(r"[\x00-\x20]")           # what a browser skips inside a URL's scheme

MARKDOWN_PAYLOADS = [
    '<img src=x onerror="document.title=\'XSS\'"> my answer',
    '<svg onload="document.title=\'XSS\'"><circle r="4"/></svg>',
    "[a](javascript:document.title='XSS') [b]( JaVaScRiPt:x ) [c](jav&#x09;ascript:XSS)",
    '<a href="jav&#x09;ascript:document.title=\'XSS\'">tab</a> <a href=" javascript:XSS">space</a>',
    '<a href="data:text/html,<script>document.title=\'XSS\'</script>">data</a> [d](data:text/html;base64,PHNjcmlwdD4=)',
    "<math><mtext><table><mglyph><style><img src=x onerror=\"document.title='XSS'\"></style></mglyph></table></mtext></math>",
    "<noscript><p title=\"</noscript><img src=x onerror=document.title='XSS'>\"></noscript>",
    "<script>document.title='XSS'</script><iframe srcdoc=\"<script>parent.document.title='XSS'</script>\"></iframe>",
    "<details open ontoggle=\"document.title='XSS'\">d</details><form action=/x><button>go</button></form>",
    '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=javascript:XSS">',
    "![pic](attachment:x\"onerror=\"document.title='XSS'.png) ![ok](attachment:fine.png)",
    "<object data=\"data:text/html,XSS\"></object><embed src=\"javascript:XSS\">",
]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
OUTPUT_BUNDLES = [
    {"text/html": '<img src=x onerror="document.title=\'XSS\'"><b>shown</b>'},
    {"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="document.title=\'XSS\'">'
                      '<script>document.title="XSS"</script></svg>'},
    {"application/javascript": "document.title='XSS'", "text/plain": "js"},
    {"text/markdown": "<img src=x onerror=\"document.title='XSS'\"> [x](javascript:XSS)"},
    {"application/vnd.jupyter.widget-view+json": {"model_id": "\"><script>XSS</script>"}, "text/plain": "w"},
    {"text/html": "<a href='javascript:XSS'>j</a>", "application/x-evil": "<script>XSS</script>"},
    {"image/png": PNG + '" onerror="XSS'},
]


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[tuple] = []
        self._script: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = [(k.lower(), v or "") for k, v in attrs]
        for name, value in attrs:
            if name.startswith("on"):
                self.parts.append(("handler", tag, name, value))
            elif name in URL_ATTRS and not INERT_URL.match(IGNORED.sub("", value)):
                self.parts.append(("url", tag, name, value))
        if tag == "meta" and any(k == "http-equiv" and v.lower() == "refresh" for k, v in attrs):
            self.parts.append(("refresh", tag, tuple(attrs)))
        if tag == "script":
            self._script = [dict(attrs).get("src", ""), dict(attrs).get("type", "")]
        elif tag in LIVE_TAGS:
            self.parts.append(("element", tag, tuple(attrs)))

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            src, kind, *text = self._script
            self.parts.append(("script", src, kind, "".join(text)))
            self._script = None


def live_parts(page: str) -> list[tuple]:
    """Every event handler, script, live element and non-inert URL of `page`, in order."""
    parser = _Parser()
    parser.feed(page)
    parser.close()
    return parser.parts
