"""Execute notebooks in place, deterministically: `python -m scripts.run_notebooks [paths]`.

Running it twice leaves git clean: cells run in a fresh kernel with a timeout
(see TOOLING.md: headless widget notebooks can stall without one), no timing
metadata is recorded, the random ids of widget models are renamed in order
of appearance and a model's binary buffers are saved in the order of their paths,
so saved widget state and outputs are the same on every run.
"""

import argparse
import hashlib
import json
import pathlib
import re
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient

CELL_TIMEOUT = 120  # seconds; a cell that runs longer is a bug in the notebook
NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
MODEL_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")  # also inside "IPY_MODEL_<id>"


def stable_model_ids(nb):
    """Replace each widget model id (32 hex digits) by one derived from its order of appearance."""
    text = json.dumps(nb)  # in document order, so ids are renamed in the order they appear
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    known = set(state.get("state", {}))
    renamed = {}
    for old in MODEL_ID.findall(text):
        if old in known and old not in renamed:
            renamed[old] = hashlib.sha1(f"optlessons-widget-{len(renamed)}".encode()).hexdigest()[:32]
    text = MODEL_ID.sub(lambda m: renamed.get(m.group(0), m.group(0)), text)
    return nbformat.from_dict(json.loads(text))


def sorted_buffers(nb):
    """Each widget model's binary buffers in the order of their paths (the kernel sends them in the
    order its state dict was filled, which can differ between runs; each buffer names its own path)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model in state.get("state", {}).values():
        if "buffers" in model:
            model["buffers"] = sorted(model["buffers"], key=lambda buffer: json.dumps(buffer["path"]))
    return nb


def execute(path, timeout=CELL_TIMEOUT):
    """Run the notebook at `path` top to bottom in its own folder; return (notebook, seconds)."""
    path = pathlib.Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            coalesce_streams=True,  # one print is one output, however the kernel chunks it
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log (a TCP notice) is noise here
    return sorted_buffers(stable_model_ids(nb)), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="notebooks to run (default: every notebook in notebooks/)")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        nb, seconds = execute(path)
        nbformat.write(nb, path)
        print(f"{seconds:6.1f} s  {path}")


if __name__ == "__main__":
    sys.exit(main())
