"""How a check words and compares what it found: numbers and values in messages, where the
learner's code raised, and the first quantity that differs from the reference."""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from pathlib import Path

import numpy as np

from optlessons.checks.base import ATOL, RTOL

# --------------------------------------------------------------------------- formatting


def num(x) -> str:
    """A number for messages: ints as ints, floats with 6 significant digits."""
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        return f"{float(x):.6g}"
    except (TypeError, ValueError):
        return repr(x)


def short(x) -> str:
    """A one-line description of a value for messages."""
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        if x.size <= 6:
            return np.array2string(x, precision=5, separator=", ").replace("\n", "")
        return f"an array of shape {x.shape}"
    if isinstance(x, (float, int, np.number)):
        return num(x)
    return f"a {type(x).__name__}"


def kw_text(kwargs) -> str:
    """`lr=0.1, betas=(0.9, 0.999)`: keyword arguments as a learner would write them."""
    return ", ".join(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={num(v)}"
                     for k, v in kwargs.items())


_PACKAGE = Path(__file__).resolve().parents[1]   # optlessons/: the references and the checks


def _library_file(filename: str) -> bool:
    """Whether a frame's file belongs to Python, an installed library or optlessons itself."""
    f = os.path.realpath(filename)
    roots = {os.path.realpath(sysconfig.get_paths()[k])
             for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(str(_PACKAGE))
    parts = Path(f).parts
    return any(f.startswith(r + os.sep) for r in roots) or "site-packages" in parts or "dist-packages" in parts


_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in [^\n]*\n    (?P<code>[^\n]+)', re.M)


def _frames(exc: BaseException) -> list[tuple[str, int, str]]:
    """(file, line, code) of the frames that raised `exc`: its own traceback's, or, for an
    exception re-raised from the learner's process by a grading proxy, the frames of the
    traceback text it carries (`learner_traceback`)."""
    text = getattr(exc, "learner_traceback", "")
    if isinstance(text, str) and text:
        return [(m["file"], int(m["line"]), m["code"]) for m in _FRAME.finditer(text)]
    return [(f.filename, f.lineno, f.line or "") for f in traceback.extract_tb(exc.__traceback__)]


def where(exc: BaseException) -> str:
    """Where the learner's own code raised: the last frame outside Python, its libraries
    and optlessons (a numpy call in their code names their line, not numpy's),
    e.g. " at line 4: `m = beta1 * m + g[0]`"; "" when no frame is theirs."""
    own = [(line, code) for file, line, code in _frames(exc) if not _library_file(file) and code.strip()]
    if not own:
        return ""
    line, code = own[-1]
    return f" at line {line}: `{code.strip()}`"


# --------------------------------------------------------------------------- comparing


def is_number_like(x) -> bool:
    """Whether `x` converts to a float array (a number, an array, a list of numbers)."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.dtype != object


def compare(qname: str, expected, got, rtol=RTOL, atol=ATOL) -> str | None:
    """None if `got` equals `expected`, else a sentence saying how they differ."""
    if expected is None:
        if got is None:
            return None
        return (f"`{qname}` should be None (it is not used with these settings) "
                f"but is {short(got)}: pass it through unchanged")
    if got is None:
        return f"`{qname}` is None, expected {short(expected)}"
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        if isinstance(got, (float, np.floating)) and float(got).is_integer():
            got = int(got)
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            return f"`{qname}` should be an int ({expected}), got {short(got)}"
        if int(got) != int(expected):
            return f"`{qname}`: expected {int(expected)}, got {int(got)}"
        return None
    if not is_number_like(got):
        return f"`{qname}` is {short(got)}, not a number or an array of numbers"
    e = np.asarray(expected, dtype=float)
    g = np.asarray(got, dtype=float)
    if g.shape != e.shape:
        if e.shape == ():
            return (f"`{qname}` has shape {g.shape}, expected a single number (shape ()); "
                    f"did you forget to average (np.mean) or to sum?")
        return f"`{qname}` has shape {g.shape}, expected shape {e.shape}"
    if np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        return None
    with np.errstate(invalid="ignore"):
        diff = np.abs(g - e)
    bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    score = np.where(np.isnan(diff), np.inf, diff)
    score = np.where(bad, score, -1.0)
    idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(score)), e.shape)) if e.shape else ()
    finite = diff[np.isfinite(diff)]
    maxdiff = num(finite.max()) if finite.size else "inf"
    at = f" at index {idx if len(idx) != 1 else idx[0]}" if e.shape else ""
    msg = (f"`{qname}` differs{at}: expected {num(e[idx])}, got {num(g[idx])} "
           f"(max abs difference {maxdiff}; {int(bad.sum())} of {e.size} entries differ)")
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        msg += "; your result contains nan or inf where the reference is finite"
    return msg


def first_difference(expected: dict, got: dict) -> tuple[str, str] | None:
    """(quantity, sentence) for the first quantity of `expected` that `got` gets wrong."""
    for q, e in expected.items():
        if q not in got:
            return q, f"`{q}` is missing"
        msg = compare(q, e, got[q])
        if msg:
            return q, msg
    return None
