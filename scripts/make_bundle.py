"""Make the workshop bundle: `python -m scripts.make_bundle [--keep-outputs] [--out FILE]`.

Writes `build/optlessons-workshop.zip`, the student copy of the course, with one
top folder `optlessons-workshop/` holding

    notebooks/            the course notebooks, outputs cleared (--keep-outputs keeps them)
    exercises/release/    the problem sets as students receive them (no solutions)
    optlessons/           the package source, so `pip install -e .` and `make lab` work
    jupyter-config/       the learner's JupyterLab settings `make lab` uses (no news prompt)
    pyproject.toml  environment.yml  Makefile  LICENSE (when there is one)
    docs/notation.md  docs/glossary.md   the pages the notebooks link to (../docs/…)
    README.md             docs/workshop-README.md: what a participant does (not the repo's README)

and nothing else: no .venv, no tests, no exercises/source (solutions and hidden
tests), no caches. The zip is deterministic: entries sorted, fixed timestamps
and permissions, so the same tree gives the same bytes (and the same checksum
to publish next to it). The script refuses to write a bundle in which a
notebook or a Python file contains an nbgrader solution or hidden-test marker,
or any other file has one at the start of a line (prose that *names* the
markers, like the README's grading section, is fine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import re
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOP = "optlessons-workshop"
DEFAULT_OUT = ROOT / "build" / f"{TOP}.zip"
TOP_FILES = ("pyproject.toml", "environment.yml", "Makefile", "docs/notation.md", "docs/glossary.md")
# Files stored under another name: the participant's README, not the developers'.
RENAMED = {"docs/workshop-README.md": "README.md"}
OPTIONAL_TOP_FILES = ("LICENSE",)
TREES = ("notebooks", "exercises/release", "optlessons", "jupyter-config")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
FORBIDDEN = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# Zip's epoch: 1980-01-01 00:00:00, the same for every entry on every run.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def clear_outputs(nb: dict) -> dict:
    """Return a copy of notebook JSON `nb` with no outputs, execution counts or saved widget state."""
    nb = json.loads(json.dumps(nb))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def leaked_marker(rel: pathlib.Path, data: bytes) -> str | None:
    """The first nbgrader solution / hidden-test marker in a file that would reach students, or None."""
    text = data.decode("utf-8", errors="replace")
    for marker in FORBIDDEN:
        if rel.suffix in (".ipynb", ".py"):
            if marker in text:
                return marker
        elif re.search(r"^\s*" + re.escape(marker), text, flags=re.MULTILINE):
            return marker
    return None


def notebook_bytes(nb: dict) -> bytes:
    # nbformat's own layout (indent 1, sorted keys), so a learner's diff stays readable.
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def files_to_bundle(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """The files that go into the bundle, as paths relative to `root`, sorted."""
    chosen = []
    for name in (*TOP_FILES, *RENAMED):
        if not (root / name).is_file():
            raise SystemExit(f"{name} is missing from {root}: the bundle needs it")
        chosen.append(pathlib.Path(name))
    chosen += [pathlib.Path(name) for name in OPTIONAL_TOP_FILES if (root / name).is_file()]
    for tree in TREES:
        base = root / tree
        if not base.is_dir():
            raise SystemExit(f"{tree}/ is missing from {root}: the bundle needs it")
        for path in base.rglob("*"):
            rel = path.relative_to(root)
            if (path.is_file() and not SKIP_PARTS.intersection(rel.parts)
                    and path.suffix not in SKIP_SUFFIXES
                    and not any(part.startswith(".") for part in rel.parts)):
                chosen.append(rel)
    return sorted(chosen, key=lambda p: p.as_posix())


def bundle_entries(root: pathlib.Path = ROOT, keep_outputs: bool = False) -> list[tuple[str, bytes]]:
    """(name inside the zip, content) for every file of the bundle, in order."""
    entries = []
    for rel in files_to_bundle(root):
        data = (root / rel).read_bytes()
        if rel.suffix == ".ipynb" and rel.parts[0] == "notebooks" and not keep_outputs:
            data = notebook_bytes(clear_outputs(json.loads(data)))
        marker = leaked_marker(rel, data)
        if marker:
            raise SystemExit(f"{rel} contains {marker!r}: solutions must not reach students. "
                             "Regenerate the student copies with `make release`.")
        entries.append((f"{TOP}/{RENAMED.get(rel.as_posix(), rel.as_posix())}", data))
    return sorted(entries)


def write_zip(entries: list[tuple[str, bytes]], out: pathlib.Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                      # unix, so the permissions below are read
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    tmp.replace(out)


def make_bundle(out: pathlib.Path = DEFAULT_OUT, root: pathlib.Path = ROOT, keep_outputs: bool = False) -> pathlib.Path:
    entries = bundle_entries(root, keep_outputs)
    write_zip(entries, pathlib.Path(out))
    return pathlib.Path(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="zip to write (default: %(default)s)")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep the notebooks' outputs (figures, printed numbers) instead of clearing them")
    args = parser.parse_args(argv)
    out = make_bundle(args.out, keep_outputs=args.keep_outputs)
    with zipfile.ZipFile(out) as zf:
        n = len(zf.namelist())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {n} files, {out.stat().st_size / 1e6:.1f} MB, "
          f"outputs {'kept' if args.keep_outputs else 'cleared'}, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
