"""Sphinx configuration of the optlessons course site.

Build with `make site` (scripts/build_site.py stages notebooks/ and
exercises/release/ next to index.md and runs Sphinx with this folder as its
configuration directory). Everything the pages need is in the site itself:
nothing is fetched from the network, at build time or when a page is viewed.
"""

project = "optlessons"
author = "the optlessons authors"
copyright = "the optlessons authors, MIT licence"
html_title = "optlessons — how deep-learning models are optimized"

extensions = [
    "myst_nb",                 # reads .ipynb (and MyST .md) pages
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: no CDN
]

# The notebooks are executed and committed with their outputs: show them as they are.
nb_execution_mode = "off"
# Widget outputs are made static by scripts/build_site.py; never load the widget JS (a CDN).
nb_ipywidgets_js = {}
# Interactive-only outputs: fall back from widget views to the HTML snapshot / text.
nb_merge_streams = True

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

exclude_patterns = [".doctrees", "**.ipynb_checkpoints"]
suppress_warnings = [
    "myst.header",        # notebooks start at "##" after their title cell, on purpose
    "mystnb.unknown_mime_type",
]

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["optlessons.css"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,     # each page: download the .ipynb
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None
html_copy_source = True
html_show_sourcelink = False
