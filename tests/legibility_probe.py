"""Records the size of every text a figure draws, for tests/test_legibility.py.

``install(path)`` (run inside a notebook's kernel, before its first cell) wraps
matplotlib's ``FigureCanvasBase.print_figure`` — what the inline backend,
``optlessons.plots.show`` and ``Figure.savefig`` all call — and ``Text.draw``.
Each PNG printed appends one JSON line to ``path``: the source of the cell that printed it,
the PNG's width in pixels (after ``bbox_inches="tight"`` if used), and every
non-empty visible text that was drawn with its size in PNG pixels
(font size in points × rendering dpi / 72). ``record(fig)`` does the same for a
figure outside a kernel (widget experiments, animated artists included) and returns
the record.
"""

from __future__ import annotations

import io
import json
import os
import pathlib

import matplotlib.backend_bases
import matplotlib.text

#: The environment variable naming the folder where nbval's kernels record, in this test run.
LOG_DIR = "OPTLESSONS_LEGIBILITY_DIR"


def logs_of(notebook):
    """(the probe's log, the file that says every cell of ``notebook`` passed nbval) in this run."""
    folder, stem = pathlib.Path(os.environ[LOG_DIR]), pathlib.Path(notebook).stem
    return folder / f"{stem}.jsonl", folder / f"{stem}.complete"


_state = {"cell": None, "drawn": None, "path": None}
_original_draw = matplotlib.text.Text.draw
_original_print = matplotlib.backend_bases.FigureCanvasBase.print_figure


def _draw(self, renderer, *args, **kwargs):
    drawn = _state["drawn"]
    if drawn is not None and self.get_visible() and self.get_text().strip():
        dpi = self.figure.dpi if self.figure is not None else 72.0
        drawn[id(self)] = (self.get_text(), self.get_fontsize() * dpi / 72.0)
    return _original_draw(self, renderer, *args, **kwargs)


def _png_width(data: bytes):
    """Width from the PNG's IHDR chunk, or None if ``data`` is not a PNG."""
    return int.from_bytes(data[16:20], "big") if data[:8] == b"\x89PNG\r\n\x1a\n" else None


def _print(self, filename, *args, **kwargs):
    outer = _state["drawn"] is None
    if outer:
        _state["drawn"] = {}
    try:
        result = _original_print(self, filename, *args, **kwargs)
    finally:
        drawn = _state["drawn"]
        if outer:
            _state["drawn"] = None
    if outer and hasattr(filename, "getvalue"):
        width = _png_width(filename.getvalue())
        if width is not None:
            entry = {"cell": _state["cell"], "png_width": width,
                     "texts": sorted(set(drawn.values()), key=lambda t: t[1])}
            _state["last"] = entry
            if _state["path"]:
                with open(_state["path"], "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
    return result


def _patch():
    matplotlib.text.Text.draw = _draw
    matplotlib.backend_bases.FigureCanvasBase.print_figure = _print


def install(path):
    """Record every PNG the kernel prints to the JSON-lines file ``path``, with its cell's source."""
    from IPython import get_ipython

    _state["path"] = str(path)
    _patch()
    get_ipython().events.register("pre_run_cell", lambda info: _state.update(cell=info.raw_cell))


def last_record():
    """The record of the last PNG printed (kernel or not)."""
    return _state["last"]


def record(fig):
    """Print ``fig`` to PNG at its own dpi (as a widget does) and return its record."""
    _patch()
    _state["cell"] = None
    animated = [a for a in fig.findobj() if a.get_animated()]   # widgets blit these: draw them too
    for a in animated:
        a.set_animated(False)
    try:
        fig.savefig(io.BytesIO(), format="png", dpi=fig.dpi)
    finally:
        for a in animated:
            a.set_animated(True)
    return last_record()


_runs: dict = {}


def notebook_records(path):
    """The records of the notebook at ``path``, one per PNG printed, each with the printing cell's
    ``index`` and ``id``: those nbval's run left when every cell passed (conftest.py installs the probe
    in its kernels), else from running the notebook here with the probe installed first. Cached per
    notebook for the test session: tests/test_legibility.py and tests/test_figure_labels.py read the same."""
    import nbformat

    path = pathlib.Path(path).resolve()
    if path not in _runs:
        nb = nbformat.read(path, as_version=4)
        cell_of = {cell.source: (i, cell.id) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
        log, complete = logs_of(path) if LOG_DIR in os.environ else (None, None)
        if complete is None or not complete.exists():
            log = _run_with_probe(nb, path)
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        for rec in records:          # the probe knows the source of the cell that printed the PNG
            rec["index"], rec["cell"] = cell_of.get(rec["cell"], ("?", None))
        _runs[path] = records
    return _runs[path]


def _run_with_probe(nb, path):
    """Run ``nb`` (read from ``path``) top to bottom in a fresh kernel with the probe installed first,
    as scripts.run_notebooks does; the probe's log."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    log = pathlib.Path(tempfile.mkdtemp(prefix="optlessons-legibility-")) / "texts.jsonl"
    probe = nbformat.v4.new_code_cell(
        f"import sys; sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
        f"import legibility_probe; legibility_probe.install({str(log)!r})")
    probe.id = "legibility-probe"
    nb.cells.insert(0, probe)
    NotebookClient(nb, timeout=180, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return log
