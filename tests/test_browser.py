"""The playground in a real browser: JupyterLab + headless Debian chromium, driven by playwright.

Starts JupyterLab on a free loopback port with a random token, in a temporary
root holding a *copy* of notebooks/playground.ipynb (the committed notebook is
never touched; settings, workspaces and runtime files go to the temporary
directory too). Opens the copy, waits for an idle kernel, clears the saved
outputs and runs every cell, moves the GD learning-rate slider with the
keyboard, and checks that the figure changed and that no error appeared.

A screenshot is saved to ``$OPTLESSONS_ARTIFACTS/playground-browser.png``
(default: ``<tmp>/optlessons-artifacts/``). Skipped, with the reason, when
chromium or playwright is missing: ``apt-get install -y chromium`` (the CI
script .ci/run does it). Run it alone with ``pytest -m browser``.
"""

import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

REPO = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "playground.ipynb"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = pathlib.Path(os.environ.get("OPTLESSONS_ARTIFACTS",
                                        pathlib.Path(tempfile.gettempdir()) / "optlessons-artifacts"))

KERNEL_IDLE = """() => {
    const app = window.jupyterapp;
    const w = app && app.shell.currentWidget;
    const s = w && w.sessionContext;
    return !!(s && s.isReady && s.session && s.session.kernel
              && s.session.kernel.status === 'idle' && w.content && w.content.widgets.length);
}"""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url, proc, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout} s")


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port, serving a temp dir with a copy of the playground."""
    if CHROMIUM is None:
        pytest.skip("chromium not found: `apt-get install -y chromium` (Debian's package) to run the "
                    "browser test; .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="playwright not installed: pip install playwright")
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / "playground.ipynb")
    home = tmp_path / "jupyter"
    # the learner's configuration that `make lab` uses: no news prompt, no grader's menus
    env = dict(os.environ,
               JUPYTER_CONFIG_PATH=str(REPO / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               IPYTHONDIR=str(home / "ipython"),
               MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
           f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={home / 'settings'}",
           f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    log = open(tmp_path / "jupyterlab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield {"url": f"http://127.0.0.1:{port}/lab/tree/playground.ipynb?token={token}",
               "lab": f"http://127.0.0.1:{port}/lab/tree/{{}}?reset&token={token}",
               "root": root, "log": tmp_path / "jupyterlab.log"}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)        # the server and the kernels it started
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def one_cell_lab(tmp_path, monkeypatch, code):
    """The `lab` fixture's server, serving a temporary one-cell notebook running `code`
    (under the name the fixture serves) instead of the playground."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    source = tmp_path / "source" / "playground.ipynb"
    source.parent.mkdir()
    nbformat.write(nb, source)
    monkeypatch.setattr(sys.modules[__name__], "NOTEBOOK", source)
    yield from lab.__wrapped__(tmp_path)


def _error_outputs(page):
    return page.eval_on_selector_all(
        '[data-mime-type="application/vnd.jupyter.stderr"], [data-mime-type="application/vnd.jupyter.error"]',
        "els => els.map(e => e.innerText)")


def test_playground_runs_and_answers_a_slider_in_the_browser(lab):
    from playwright.sync_api import sync_playwright

    committed = NOTEBOOK.read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                     timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.set_default_timeout(60_000)
            page.goto(lab["url"], wait_until="domcontentloaded")
            page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
            page.wait_for_function(KERNEL_IDLE, timeout=90_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

            figure = page.wait_for_selector("img.optlessons-figure", state="visible", timeout=90_000)
            page.wait_for_function(KERNEL_IDLE, timeout=90_000)
            page.wait_for_function("() => { const i = document.querySelector('img.optlessons-figure');"
                                   " return i && i.complete && i.naturalWidth > 0; }")
            figure.scroll_into_view_if_needed()
            before_src = figure.get_attribute("src")
            before = figure.screenshot()

            # move the GD learning-rate slider (first tab, visible) one page up: a single change
            handle = page.wait_for_selector(".optlessons-gd-lr .noUi-handle", state="visible")
            readout_before = page.inner_text(".optlessons-gd-lr .widget-readout")
            handle.focus()
            page.keyboard.press("PageUp")
            page.wait_for_function(
                "old => { const i = document.querySelector('img.optlessons-figure'); return i && i.src !== old"
                " && i.complete && i.naturalWidth > 0; }", arg=before_src, timeout=30_000)
            page.wait_for_function(KERNEL_IDLE, timeout=30_000)
            readout_after = page.inner_text(".optlessons-gd-lr .widget-readout")
            after = figure.screenshot()
            page.screenshot(path=str(ARTIFACTS / "playground-browser.png"), full_page=True)

            assert readout_after != readout_before, (readout_before, readout_after)
            assert after != before, "the figure did not change after moving the lr slider"
            assert _error_outputs(page) == [], _error_outputs(page)
            message = page.inner_text(".optlessons-message")
            assert "Could not draw" not in message, message
            assert "GD" in page.inner_text(".optlessons-summary")
            # JupyterLab as a learner meets it (jupyter-config/): no grader's menu, no news prompt
            menus = page.inner_text("#jp-menu-panel")
            assert "Nbgrader" not in menus and "Assignments" not in menus, menus
            toasts = page.inner_text(".Toastify") if page.query_selector(".Toastify") else ""
            assert "news" not in toasts.lower(), toasts
        finally:
            browser.close()
    assert NOTEBOOK.read_bytes() == committed          # the committed notebook was not touched


# ---- accessibility of the widgets: axe-core and the browser's accessibility tree --------------

AXE = REPO / "tests" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
CONTROL_ROLES = ("slider", "checkbox", "combobox", "textbox", "spinbutton", "button", "tab", "radio", "listbox")


def _unnamed_controls(area):
    """The controls in `area` (a locator) that Chromium's accessibility tree gives no name."""
    unnamed = []
    for line in area.aria_snapshot().splitlines():
        item = line.strip().removeprefix("- ")
        role = item.split(" ", 1)[0].rstrip(":")
        if role in CONTROL_ROLES and not item[len(role):].lstrip().startswith('"'):
            unnamed.append(item)
    return unnamed


def _axe_serious(page, selector):
    result = page.evaluate("sel => axe.run({include: [[sel]]}, {resultTypes: ['violations']})", selector)
    return [f"{v['id']} ({v['impact']}) x{len(v['nodes'])}: {v['nodes'][0]['html'][:160]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _run_all(page, url=None):
    """Open `url` (or stay on the open notebook), run every cell, wait for the experiment's figure."""
    if url:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) img.optlessons-figure", state="visible",
                           timeout=90_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)


def test_widgets_are_accessible_and_the_static_figure_gives_way_to_the_live_one(lab):
    """axe finds nothing serious in the playground and an experiment; every control has a name;
    the committed (untrusted, not yet run) notebook shows the static figure with its alt text,
    and once run only the live widget shows — never both."""
    if not AXE.exists():
        pytest.skip("axe-core not installed: npm ci --prefix tests/a11y (make test does it)")
    from playwright.sync_api import sync_playwright

    nbformat = pytest.importorskip("nbformat")
    experiment = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from optlessons.widgets import adam_experiment\n\nadam_experiment()")])
    experiment.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(experiment, lab["root"] / "experiment.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                     timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.set_default_timeout(60_000)
            # 1. not yet run: the saved output shows the static figure with its alt text, no widget
            page.goto(lab["lab"].format("playground.ipynb"), wait_until="domcontentloaded")
            page.wait_for_function("() => !!window.jupyterapp", timeout=90_000)
            panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
            static = page.wait_for_selector(f"{panel} .jp-OutputArea-output img[alt]", timeout=90_000)
            alt = static.get_attribute("alt")
            assert "optimizers' paths" in alt and alt.endswith("."), alt
            assert page.query_selector(f"{panel} img.optlessons-figure") is None
            page.screenshot(path=str(ARTIFACTS / "playground-static-figure.png"))
            # 2. run: the live widget replaces it
            _run_all(page)
            figures = page.eval_on_selector_all(f"{panel} .jp-OutputArea-output img",
                                                "els => els.map(e => e.classList.contains('optlessons-figure'))")
            assert figures == [True], figures          # one figure, the live one
            assert "optimizers' paths" in page.get_attribute(f"{panel} img.optlessons-figure", "title")
            page.add_script_tag(path=str(AXE))
            area = page.locator(f"{panel} .optlessons-experiment")
            found["playground"] = (_axe_serious(page, f"{panel} .optlessons-experiment"), _unnamed_controls(area))
            page.screenshot(path=str(ARTIFACTS / "playground-a11y.png"), full_page=True)
            # 3. an experiment
            _run_all(page, lab["lab"].format("experiment.ipynb"))
            page.add_script_tag(path=str(AXE))
            area = page.locator(f"{panel} .optlessons-experiment")
            found["adam_experiment"] = (_axe_serious(page, f"{panel} .optlessons-experiment"),
                                        _unnamed_controls(area))
            assert _error_outputs(page) == [], _error_outputs(page)
            names = area.aria_snapshot()
        finally:
            browser.close()
    for name, (violations, unnamed) in found.items():
        assert not violations, f"{name}: axe found\n" + "\n".join(violations)
        assert not unnamed, f"{name}: controls without an accessible name: {unnamed}"
    for label in ("learning rate", "β₁", "β₂", "steps"):            # a slider is named by its visible label
        assert f'slider "{label}"' in names, names
