"""What the grading kernel and the learner process both need: framing and object walks.

A message is an 8-byte big-endian length followed by that many bytes of pickle. The
judge pickles with plain pickle (it is trusted); the learner's replies are read with
the judge's restricted unpickler (``courseops.grading.proxy``).
"""

from __future__ import annotations

import importlib
import os
import select
import struct
import time

HEADER = struct.Struct(">Q")
MAX_MESSAGE = 512 << 20    # a reply bigger than this is refused (the learner's memory is 1 GiB)
WALK_LIMIT = 10_000        # objects numbered per call's arguments (see `walk`)

# The classes and functions a reply of the learner may name (numpy's array, scalar, dtype and
# random-generator reconstruction); besides these, the classes of the course package.
ALLOWED_GLOBALS = {
    "builtins": {"complex", "set", "frozenset", "bytearray", "slice", "range"},
    "collections": {"OrderedDict"},
    "numpy": {"dtype", "ndarray"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.numeric": {"_frombuffer"},
    "numpy.core.numeric": {"_frombuffer"},
    "numpy.random._pickle": {"__generator_ctor", "__bit_generator_ctor", "__randomstate_ctor"},
    "numpy.random._pcg64": {"PCG64", "PCG64DXSM"},
    "numpy.random._mt19937": {"MT19937"},
    "numpy.random._philox": {"Philox"},
    "numpy.random._sfc64": {"SFC64"},
    "numpy.random.bit_generator": {"SeedSequence", "__pyx_unpickle_SeedSequence"},
}


def allowed_global(module: str, name: str) -> bool:
    """Whether the judge's restricted unpickler accepts the global `module`.`name`."""
    if name in ALLOWED_GLOBALS.get(module, ()):
        return True
    if module.startswith("optlessons.") and not module.startswith("courseops.grading"):
        obj = getattr(importlib.import_module(module), name, None)
        return isinstance(obj, type) and obj.__module__ == module
    return False


class ProtocolError(Exception):
    """The other side sent something that is not a message, or closed the pipe."""


def send(fd: int, payload: bytes) -> None:
    """Write one message (length prefix + payload) to the file descriptor `fd`."""
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exactly(fd: int, n: int, deadline: float | None = None) -> bytes:
    """`n` bytes from `fd`; ProtocolError if it closes first, TimeoutError if `deadline`
    (a ``time.monotonic()`` time) passes first."""
    chunks, remaining = [], n
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError("no answer in time")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("the pipe closed in the middle of a message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> bytes:
    """Read one message's payload from `fd` (by `deadline`, if given: see `read_exactly`)."""
    (n,) = HEADER.unpack(read_exactly(fd, HEADER.size, deadline))
    if n > MAX_MESSAGE:
        raise ProtocolError(f"a message of {n} bytes is larger than the limit of {MAX_MESSAGE}")
    return read_exactly(fd, n, deadline)


SCALARS = (int, float, complex, str, bytes, bool, type(None))


def walk(roots, leaf=lambda obj: False) -> list:
    """Every object reachable from `roots` through tuples, lists, dict values and
    instance ``__dict__`` values, depth first, each once, at most WALK_LIMIT; Python
    scalars (which pickle does not keep shared) are skipped, `leaf` objects not entered.

    Both sides number a call's arguments this way (the judge before pickling them, the
    learner after unpickling them): the same structure gives the same numbering, so
    the learner can name an argument it cannot send by value ("argument number 3")."""
    seen, order, todo = set(), [], [roots]
    while todo and len(order) < WALK_LIMIT:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, SCALARS) or (type(obj) is tuple and not obj):
            continue
        order.append(obj)
        if leaf(obj):
            children = []
        elif isinstance(obj, (tuple, list)):
            children = list(obj)
        elif isinstance(obj, dict):
            children = list(obj.values())
        elif (hasattr(obj, "__dict__") and not isinstance(obj, type)
              and not callable(obj) and type(obj).__module__ != "builtins"):
            children = list(vars(obj).values())
        else:
            children = []
        todo.extend(reversed(children))
    return order
