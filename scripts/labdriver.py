"""Drive JupyterLab in headless Chromium: one place for the browser tests and the browser benchmark.

    from scripts import labdriver

    reason = labdriver.missing_browser()           # None, or why the browser cannot run here
    with labdriver.jupyterlab() as lab:            # a server on a free loopback port, temp root
        labdriver.one_cell_notebook(lab.root / "x.ipynb", "from optlessons.widgets import playground\\nplayground()")
        with labdriver.chromium_page() as page:
            labdriver.open_notebook(page, lab.url("x.ipynb"))
            labdriver.run_all(page)                # every cell; waits for the figure and an idle kernel

The server serves a temporary root (the committed notebooks are never opened: copy what a test
needs into ``lab.root``), with the learner's configuration that ``make lab`` uses
(``jupyter-config/``: no news prompt, no grader's menus); its settings, workspaces and runtime
files go to the temporary directory too. Chromium is Debian's (``apt-get install -y chromium``),
driven by playwright without ``playwright install`` (which downloads a browser).
"""

from __future__ import annotations

import contextlib
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
from dataclasses import dataclass

REPO = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Where tests save screenshots: ``$OPTLESSONS_ARTIFACTS``, else ``tests/artifacts/`` (gitignored).
ARTIFACTS = pathlib.Path(os.environ.get("OPTLESSONS_ARTIFACTS", REPO / "tests" / "artifacts"))
#: The notebook panel on show (JupyterLab keeps hidden panels of other notebooks in the DOM).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

#: True once the current notebook's kernel session is ready and idle (waiting only for a cell's
#: status indicator failed 2 runs in 7, see docs TOOLING.md).
KERNEL_IDLE = """() => {
    const app = window.jupyterapp;
    const w = app && app.shell.currentWidget;
    const s = w && w.sessionContext;
    return !!(s && s.isReady && s.session && s.session.kernel
              && s.session.kernel.status === 'idle' && w.content && w.content.widgets.length);
}"""

#: True once the shown notebook's first experiment figure has loaded pixels.
FIGURE_LOADED = f"""() => {{ const i = document.querySelector('{PANEL} img.optlessons-figure');
    return !!(i && i.complete && i.naturalWidth > 0); }}"""


def missing_browser() -> str | None:
    """Why this machine cannot drive Chromium (a sentence naming the fix), or None."""
    if CHROMIUM is None:
        return ("chromium not found: `apt-get install -y chromium` (Debian's package) to run the "
                "browser tests; .ci/run installs it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed: pip install playwright"
    return None


def free_port() -> int:
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


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its temporary ``root`` (put notebooks there), base URL, token and log."""
    root: pathlib.Path
    base: str
    token: str
    log: pathlib.Path

    def url(self, notebook: str) -> str:
        """The URL that opens ``notebook`` (relative to ``root``), with a fresh workspace (``?reset``:
        JupyterLab would otherwise restore the last one, leaving another notebook's panel first)."""
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"


@contextlib.contextmanager
def jupyterlab(workdir: str | os.PathLike | None = None):
    """A JupyterLab server on a free loopback port with a random token, as a context manager.

    Serves ``<workdir>/root`` (``workdir``: a fresh temporary directory if None), configured by
    the repository's ``jupyter-config/``; kernels import this checkout's ``optlessons``. On exit
    the server and the kernels it started are stopped.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="optlessons-lab-"))
        workdir = pathlib.Path(workdir)
        root, home = workdir / "root", workdir / "jupyter"
        root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ,
                   JUPYTER_CONFIG_PATH=str(REPO / "jupyter-config"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   JUPYTER_CONFIG_DIR=str(home / "config"),
                   JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
                   IPYTHONDIR=str(home / "ipython"),
                   MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        port, token = free_port(), secrets.token_hex(16)
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", "--ServerApp.allow_root=True",
               f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={home / 'settings'}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}"]
        log_path = workdir / "jupyterlab.log"
        log = stack.enter_context(open(log_path, "wb"))
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for_server(f"{base}/api/status?token={token}", proc)
            yield Lab(root=root, base=base, token=token, log=log_path)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)        # the server and the kernels it started
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@contextlib.contextmanager
def chromium():
    """Headless Debian Chromium (a playwright Browser), closed on exit. Raises
    RuntimeError(``missing_browser()``) when the browser cannot run here."""
    reason = missing_browser()
    if reason:
        raise RuntimeError(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                     timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def chromium_page(viewport=None, timeout_ms=60_000):
    """A page in headless Debian Chromium (``chromium()``), closed with its browser on exit.

    ``viewport``: ``{"width": …, "height": …}`` (default 1400 × 1300); ``timeout_ms``: the page's
    default timeout for waits and actions.
    """
    with chromium() as browser:
        page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1300})
        page.set_default_timeout(timeout_ms)
        yield page


def one_cell_notebook(path, code: str) -> pathlib.Path:
    """Write a notebook with one code cell running ``code`` (Python 3 kernel) to ``path``."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    path = pathlib.Path(path)
    nbformat.write(nb, path)
    return path


def wait_idle(page, timeout_ms=90_000):
    """Wait until the shown notebook's kernel is ready and idle."""
    page.wait_for_function(KERNEL_IDLE, timeout=timeout_ms)


def open_notebook(page, url, timeout_ms=90_000):
    """Go to ``url`` (``Lab.url``) and wait for JupyterLab and an idle kernel."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def command(page, name):
    """Run a JupyterLab command, e.g. ``notebook:clear-all-cell-outputs``."""
    page.evaluate("name => window.jupyterapp.commands.execute(name)", name)


def run_all(page, *, clear=False, figure=True, timeout_ms=90_000):
    """Run every cell of the shown notebook (first clearing the saved outputs if ``clear``); wait
    for its experiment figure to load (if ``figure``) and for the kernel to be idle again."""
    wait_idle(page, timeout_ms)
    if clear:
        command(page, "notebook:clear-all-cell-outputs")
    command(page, "notebook:run-all-cells")
    if figure:
        page.wait_for_selector(f"{PANEL} img.optlessons-figure", state="visible", timeout=timeout_ms)
    wait_idle(page, timeout_ms)
    if figure:
        page.wait_for_function(FIGURE_LOADED, timeout=timeout_ms)


FIGURE_CHANGED = ("old => { const i = document.querySelector('img.optlessons-figure');"
                  " return i && i.src !== old && i.complete && i.naturalWidth > 0; }")


def show_experiment(page, lab_server, name, code, *, watch=False):
    """Run a one-cell notebook ``name`` whose ``code`` displays an experiment: returns its figure
    element, the figure's ``src`` and the status line as first shown (``watch``: log every
    figure painted from then on, see ``watch_figure``). Wait for a change with
    ``page.wait_for_function(FIGURE_CHANGED, arg=src)``."""
    one_cell_notebook(lab_server.root / name, code)
    open_notebook(page, lab_server.url(name))
    run_all(page)
    if watch:
        watch_figure(page)
    figure = page.wait_for_selector(f"{PANEL} img.optlessons-figure")
    figure.scroll_into_view_if_needed()
    return figure, figure.get_attribute("src"), page.inner_text(".optlessons-message")


def check_answered(page, message_before) -> str:
    """After a control moved: the status line changed and is not a failure, and no cell shows an
    error (AssertionError otherwise). Returns the new status line."""
    message = page.inner_text(".optlessons-message")
    assert message != message_before, message
    assert "Could not draw" not in message, message
    errors = error_outputs(page)
    assert errors == [], errors
    return message


def error_outputs(page) -> list[str]:
    """The text of every error or stderr output in the notebook on show."""
    return page.eval_on_selector_all(
        f'{PANEL} [data-mime-type="application/vnd.jupyter.stderr"], '
        f'{PANEL} [data-mime-type="application/vnd.jupyter.error"]',
        "els => els.map(e => e.innerText)")


def kernel_output(page, code: str, timeout_ms=60_000) -> str:
    """Run ``code`` in the shown notebook's kernel (not in a cell) and return what it printed."""
    return page.evaluate("""async ([code, timeout]) => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        const future = kernel.requestExecute({code, silent: false, store_history: false});
        let out = '';
        future.onIOPub = msg => {
            if (msg.header.msg_type === 'stream') out += msg.content.text;
            if (msg.header.msg_type === 'error') out += msg.content.ename + ': ' + msg.content.evalue;
        };
        const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('kernel timeout')), timeout));
        await Promise.race([future.done, timer]);
        return out;
    }""", [code, timeout_ms])


# ---- watching an experiment's figure: when new pixels reach the screen -----------------------

#: Installs ``window.__figure``: every key press (``keys``) and every new figure painted
#: (``paints``: a new ``src`` on the experiment's image, decoded, at the next animation frame),
#: with ``performance.now()`` time stamps. A ``src`` replaced before it decoded was never painted
#: and is not counted.
WATCH_FIGURE = f"""() => {{
    const img = document.querySelector('{PANEL} img.optlessons-figure');
    const log = window.__figure = {{keys: [], paints: [], pointer: []}};
    document.addEventListener('keydown', () => log.keys.push(performance.now()), true);
    document.addEventListener('pointerdown', () => log.pointer.push(performance.now()), true);
    document.addEventListener('pointerup', () => log.pointer.push(performance.now()), true);
    new MutationObserver(() => {{
        const src = img.src;
        img.decode().then(() => requestAnimationFrame(() => {{
            if (img.src === src) log.paints.push({{t: performance.now(), src}});
        }}), () => {{}});
    }}).observe(img, {{attributes: true, attributeFilter: ['src']}});
    return true;
}}"""


def watch_figure(page):
    """Start recording key presses and painted figures of the shown experiment (``figure_log``)."""
    page.evaluate(WATCH_FIGURE)


def figure_log(page) -> dict:
    """``{"keys": [t…], "paints": [{"t", "src"}…], "pointer": [t…]}`` since ``watch_figure`` (ms)."""
    return page.evaluate("() => window.__figure")


def wait_quiet(page, quiet_ms=500, timeout_ms=60_000):
    """Wait for an idle kernel and then ``quiet_ms`` without a new painted figure."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        wait_idle(page, timeout_ms)
        count = len(figure_log(page)["paints"])
        page.wait_for_timeout(quiet_ms)
        if len(figure_log(page)["paints"]) == count and page.evaluate(KERNEL_IDLE):
            return
    raise TimeoutError(f"the figure kept changing for {timeout_ms} ms")


def painted_sha256(page) -> str:
    """SHA-256 (hex) of the bytes of the image the shown experiment displays now."""
    return page.evaluate(f"""async () => {{
        const img = document.querySelector('{PANEL} img.optlessons-figure');
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const digest = await crypto.subtle.digest('SHA-256', bytes);
        return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('');
    }}""")


def drag(page, slider, seconds=4.0, interval_ms=16.0, span=(0.15, 0.55), period_s=2.0, halfway=None):
    """Drag the handle of ``slider`` (a CSS selector of the slider widget) back and forth.

    Presses the mouse on the handle and moves it every ``interval_ms`` for ``seconds``, along
    a triangle wave between the fractions ``span`` of the track (one way and back in
    ``period_s``), then releases it. ``halfway``: called once (with the page) half-way through,
    the button still held, e.g. to take a screenshot. Returns the number of pointer moves sent.
    """
    handle = page.locator(f"{slider} .noUi-handle").first
    handle.scroll_into_view_if_needed()
    track = page.locator(f"{slider} .noUi-base").first.bounding_box()
    box = handle.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    start, moves = time.monotonic(), 0
    lo, hi = span
    while (elapsed := time.monotonic() - start) < seconds:
        phase = (elapsed / period_s) % 1.0
        fraction = lo + (hi - lo) * (1 - abs(2 * phase - 1))
        page.mouse.move(track["x"] + fraction * track["width"], y)
        moves += 1
        if halfway is not None and elapsed >= seconds / 2:
            halfway(page)
            halfway = None
        pause = start + moves * interval_ms / 1000 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    page.mouse.up()
    return moves


def paints_between(log, t0, t1) -> list[dict]:
    """The figures painted between the times ``t0`` and ``t1`` (ms, the page's clock)."""
    return [p for p in log["paints"] if t0 <= p["t"] <= t1]
