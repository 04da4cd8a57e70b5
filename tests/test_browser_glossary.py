"""A glossary link lands on its word in JupyterLab (headless chromium, JupyterLab as `make lab` starts it).

Each word of the glossary has its own page, docs/glossary/<word>.md, and the notebooks link there:
JupyterLab does not follow an #anchor into a Markdown file, but a page that starts with the word
needs none (GitHub and the course site open it the same way). jupyter-config/labconfig/
default_setting_overrides.json makes Markdown Preview the default viewer of a .md file, so the page
opens rendered, its formulas typeset. The test opens a copy of notebook 00 beside a copy of docs/,
clicks a glossary link and checks that the word's page is shown, its heading on screen.
Skipped, with the reason, without chromium or playwright.
"""

import shutil

import pytest

from scripts import labdriver
from scripts.labdriver import PANEL

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

SHOWN = """() => {
  const panels = [...document.querySelectorAll('.jp-MarkdownViewer')].filter(p => !p.closest('.lm-mod-hidden'));
  const h = panels.length ? panels[0].querySelector('h1') : null;
  if (!h) return null;
  const box = h.getBoundingClientRect();
  return {heading: h.textContent.replace(/¶/g, '').trim(), top: box.top, bottom: box.bottom,
          tabs: [...document.querySelectorAll('.lm-TabBar-tab.lm-mod-current')].map(t => t.textContent.trim())};
}"""


@pytest.mark.parametrize("word, heading", [("hessian", "Hessian"), ("machine-epsilon", "Machine epsilon")])
def test_a_glossary_link_opens_the_page_of_its_word(lab_server, word, heading):
    (lab_server.root / "notebooks").mkdir()
    shutil.copy(labdriver.REPO / "notebooks" / "00_welcome.ipynb", lab_server.root / "notebooks")
    shutil.copytree(labdriver.REPO / "docs", lab_server.root / "docs")
    with labdriver.chromium_page(viewport={"width": 1366, "height": 900}) as page:
        labdriver.open_notebook(page, lab_server.url("notebooks/00_welcome.ipynb"))
        link = page.locator(f'{PANEL} a[href*="glossary/{word}.md"]').first
        link.scroll_into_view_if_needed()
        link.click()
        page.wait_for_function(f"() => {{ const s = ({SHOWN})(); return s && s.tabs.includes('{word}.md'); }}",
                               timeout=60_000)
        shown = page.evaluate(f"() => ({SHOWN})()")
        assert shown["heading"] == heading, shown
        assert 0 <= shown["top"] and shown["bottom"] <= 900, shown          # the word is on screen
