"""What the grading kernel and the learner process both need: framing, and the data format
of the learner's answers.

A message is an 8-byte big-endian length followed by that many bytes. The judge's
requests are pickles (the judge is trusted; the learner reads them). The learner's
answers never are: :func:`encode` turns a value into JSON for its structure plus numpy's
``.npy`` format for its arrays, and :func:`decode` reads that back with
``allow_pickle=False``, so an answer can hold numbers, strings, None, lists, tuples,
dicts, sets, numeric arrays and scalars, random generators' states, namedtuple records
(as field lists) and objects' plain attributes, and nothing that builds or runs code in
the judge. What is not data (a function, a class, a generator, a module, an object of
the learner's) travels as a handle: a number the judge can only send back. Every text
inside an answer (printed output, an exception's message and traceback) is cut to
:data:`TEXT_LIMIT` with a sentence saying how much was cut.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time

import numpy as np

HEADER = struct.Struct(">Q")
MAX_MESSAGE = 256 << 20    # an answer bigger than this is refused (the learner's memory is 1 GiB)
TEXT_LIMIT = 1 << 20       # characters of one output or exception text that reach the judge
DEPTH_LIMIT = 64           # nesting levels an answer may have (deeper parts travel as handles)
WALK_LIMIT = 10_000        # objects numbered per call's arguments (see `walk`)
NUMERIC_KINDS = "biufc"    # numpy dtype kinds that travel as .npy: bool, ints, floats, complex


class ProtocolError(Exception):
    """The other side sent something that is not a message, or closed the pipe."""


def capped(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text`, or its first `limit` characters and a sentence saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters cut by the grader)\n"


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


# ------------------------------------------------------------------------------ the data format


SHARED = ("dict", "tuple", "set", "frozenset", "array", "rng", "record", "object")


def encode(value, handle, argument=lambda obj: None) -> bytes:
    """`value` as JSON + .npy blobs (the learner's side). `handle(obj)` -> a JSON dict
    describing an object that is not data; `argument(obj)` -> the number of a received
    argument (see `walk`) or None, for objects that are not data. An object met again
    (two names for one array, a cycle) is sent as {"$": "same", "n": k}: the k-th shared
    node (a list, or a dict whose "$" is in SHARED), counted in the order they start."""
    blobs: list[bytes] = []
    memo: dict[int, int] = {}
    keep = []   # the objects numbered, alive until the end (their ids stay theirs)

    def blob(array: np.ndarray) -> int:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return len(blobs) - 1

    def shared(obj):
        memo[id(obj)] = len(memo)
        keep.append(obj)

    def enc(obj, depth):
        t = type(obj)
        if obj is None or t in (bool, int, float, str):
            return capped(obj) if t is str else obj
        if id(obj) in memo:
            return {"$": "same", "n": memo[id(obj)]}
        if depth > DEPTH_LIMIT:
            return handle(obj)
        if t is complex:
            return {"$": "complex", "re": obj.real, "im": obj.imag}
        if t in (bytes, bytearray):
            return {"$": "bytes", "blob": blob(np.frombuffer(bytes(obj), np.uint8))}
        if t is list:
            shared(obj)
            return [enc(x, depth + 1) for x in obj]
        if t in (tuple, set, frozenset):
            shared(obj)
            return {"$": t.__name__, "items": [enc(x, depth + 1) for x in obj]}
        if t is dict:
            shared(obj)
            return {"$": "dict", "items": [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in obj.items()]}
        if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.kind in NUMERIC_KINDS \
                and obj.dtype.fields is None and t in (np.ndarray, type(np.asarray(obj)[()])):
            if t is not np.ndarray:
                return {"$": "scalar", "blob": blob(np.asarray(obj))}
            shared(obj)
            return {"$": "array", "blob": blob(np.ascontiguousarray(obj))}
        if isinstance(obj, np.random.Generator):
            shared(obj)
            return {"$": "rng", "state": enc(obj.bit_generator.state, depth + 1)}
        if isinstance(obj, tuple) and isinstance(getattr(t, "_fields", None), tuple):
            shared(obj)
            return {"$": "record", "module": str(t.__module__), "name": str(t.__qualname__),
                    "fields": [str(f) for f in t._fields], "items": [enc(x, depth + 1) for x in obj]}
        n = argument(obj)
        if n is not None:
            return {"$": "arg", "n": n}
        if (t.__module__ or "").startswith("optlessons.") and type(getattr(obj, "__dict__", None)) is dict \
                and not callable(obj):
            shared(obj)
            return {"$": "object", "module": t.__module__, "name": t.__qualname__,
                    "state": enc(dict(obj.__dict__), depth + 1)}
        return handle(obj)

    head = json.dumps({"value": enc(value, 0), "blobs": [len(b) for b in blobs]}).encode()
    return HEADER.pack(len(head)) + head + b"".join(blobs)


def decode(data: bytes, handle, argument, record, instance):
    """A value from `encode`'s bytes (the judge's side): `handle(dict)` makes the judge's
    stand-in for a learner object, `argument(n)` returns the judge's own argument number
    n, `record(module, name, fields, values)` and `instance(module, name, state)`
    rebuild records and the course's plain objects with the judge's own classes."""
    (n,) = HEADER.unpack_from(data)
    head = json.loads(data[HEADER.size:HEADER.size + n])
    offsets, at = [], HEADER.size + n
    for size in head["blobs"]:
        offsets.append((at, at + int(size)))
        at += int(size)
    if at != len(data):
        raise ProtocolError("an answer's arrays do not add up to its length")
    memo: list = []

    def array(i):
        start, end = offsets[i]
        a = np.load(io.BytesIO(data[start:end]), allow_pickle=False)
        if a.dtype.kind not in NUMERIC_KINDS:
            raise ProtocolError(f"an array of dtype {a.dtype} in an answer")
        return a

    def dec(obj):
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if type(obj) is list:
            out = []
            memo.append(out)
            out.extend(dec(x) for x in obj)
            return out
        if type(obj) is not dict:
            raise ProtocolError(f"an answer holds a {type(obj).__name__}")
        kind = obj.get("$")
        if kind in SHARED:
            slot = len(memo)
            memo.append(None)
            value = build(kind, obj, slot)
            memo[slot] = value
            return value
        if kind == "same":
            return memo[int(obj["n"])]
        if kind == "complex":
            return complex(float(obj["re"]), float(obj["im"]))
        if kind == "bytes":
            return array(obj["blob"]).tobytes()
        if kind == "scalar":
            return array(obj["blob"])[()]
        if kind == "arg":
            return argument(int(obj["n"]))
        if kind == "handle":
            return handle(obj)
        raise ProtocolError(f"an answer holds an unknown kind {kind!r}")

    def build(kind, obj, slot):
        if kind == "dict":
            out = memo[slot] = {}
            out.update((dec(k), dec(v)) for k, v in obj["items"])
            return out
        if kind in ("tuple", "set", "frozenset"):
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[kind](dec(x) for x in obj["items"])
        if kind == "array":
            return array(obj["blob"])
        if kind == "rng":
            state = dec(obj["state"])
            bit_generator = getattr(np.random, str(state.get("bit_generator")), None)
            if not (isinstance(bit_generator, type) and issubclass(bit_generator, np.random.BitGenerator)):
                raise ProtocolError("a random generator of an unknown kind in an answer")
            generator = np.random.Generator(bit_generator())
            generator.bit_generator.state = state
            return generator
        if kind == "record":
            return record(str(obj["module"]), str(obj["name"]), tuple(map(str, obj["fields"])),
                          tuple(dec(x) for x in obj["items"]))
        return instance(str(obj["module"]), str(obj["name"]), dec(obj["state"]))

    return dec(head["value"])


SCALARS = (int, float, complex, str, bytes, bool, type(None))


def walk(roots, leaf=lambda obj: False) -> list:
    """Every object reachable from `roots` through tuples, lists, dict values and
    instance ``__dict__`` values, depth first, each once, at most WALK_LIMIT; Python
    scalars (which pickle does not keep shared) are skipped, `leaf` objects not entered.

    Both sides number a call's arguments this way (the judge before pickling them, the
    learner after unpickling them): the same structure gives the same numbering, so
    the learner can name an argument it sends back ("argument number 3") and the judge
    answers with its own object."""
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
