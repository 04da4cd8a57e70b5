"""The judge's side of the learner process: the process itself and proxies for its objects.

:class:`LearnerProcess` starts the learner (``courseops.grading.learner``), sends it
requests with a time limit, and when it dies (a time-out, ``os._exit``, a crash, a
limit) starts it again and replays the cells that had finished, so the next request
finds the learner's names as they were. Its replies are read by a restricted
unpickler: only plain data, numpy's arrays / scalars / dtypes / random generators and
the course package's classes come back as objects; everything else the learner has
comes back as a proxy:

* :class:`RemoteFunction`: calling it calls the learner's function there;
* :class:`RemoteClass`: calling it makes a :class:`RemoteObject`;
* :class:`RemoteObject`: attributes are fetched (by value when they can be), methods
  and operators (``iter``, ``next``, ``len``, ``[]``, ``in``, calls) run remotely;
* :class:`RemoteRecord`: the learner's own namedtuple, its fields by name and by
  position (a tuple of them).

After each call the arguments' state in the learner is written back into the judge's
original arguments (:func:`write_back`), and a returned argument is the judge's
original object again, so "changed its input in place" and aliasing stay visible.
"""

from __future__ import annotations

import builtins
import functools
import io
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from courseops.grading.engine_link import CALL_TIMEOUT, FORBIDDEN, LearnerTimeout, ReferenceCalled
from courseops.grading.learner import REMOTE_DUNDERS
from courseops.grading.protocol import ProtocolError, allowed_global, receive, send, walk

START_TIMEOUT = 120.0   # seconds for the learner process to start (imports numpy in the sandbox)



class LearnerCrashed(Exception):
    """The learner process ended during a request; the message says how, in words."""


class LearnerGone(Exception):
    """A proxy for an object that died with an earlier learner process."""


class LearnerError(Exception):
    """An exception of a class that is not one of Python's own, raised by the learner's
    code; ``type(exc).__name__`` is the learner's class name, ``learner_traceback`` the
    traceback as the learner's process printed it."""

    learner_traceback = ""


class RestrictedUnpickler(pickle._Unpickler):
    """Loads a reply of the learner's process: an allow-list of classes, nothing else,
    and only those are ever called (a proxy on the stack is never called by REDUCE)."""

    def __init__(self, data: bytes, persistent_load=None):
        super().__init__(io.BytesIO(data))
        self._persistent = persistent_load
        self._found: set[int] = set()
        self.dispatch = dict(pickle._Unpickler.dispatch)
        self.dispatch[pickle.REDUCE[0]] = type(self)._load_reduce

    def find_class(self, module, name):
        if not allowed_global(module, name):
            raise pickle.UnpicklingError(
                f"the learner's process sent back a {module}.{name}, which the grader does not "
                f"accept from it: only numbers, strings, arrays, lists, tuples, dicts, numpy's "
                f"random generators and the course's own records come back by value")
        found = super().find_class(module, name)
        self._found.add(id(found))
        return found

    def _load_reduce(self):
        if id(self.stack[-2]) not in self._found:
            raise pickle.UnpicklingError("the learner's process sent an answer that calls "
                                         "something the grader did not allow")
        pickle._Unpickler.load_reduce(self)

    def persistent_load(self, pid):
        if self._persistent is None:
            raise pickle.UnpicklingError("a reference to a learner object where none may be")
        return self._persistent(pid)


def restricted_loads(data: bytes, persistent_load=None):
    """Unpickle `data` from the learner's process with the allow-list."""
    return RestrictedUnpickler(data, persistent_load).load()


# ------------------------------------------------------------------------------ proxies


@dataclass
class Ref:
    """Where a learner object lives: a handle in one incarnation of the process, and
    for names the learner bound, the name to find it again after a restart."""
    process: "LearnerProcess"
    generation: int
    handle: int
    name: str | None = None


class Remote:
    """Base of the proxies; ``_ref`` says where the object lives."""

    __slots__ = ("_ref", "_label")

    def __init__(self, ref: Ref, label: str):
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_label", label)

    def __repr__(self):
        return f"<learner's {type(self).__name__[6:].lower()} {self._label}>"

    def __reduce__(self):
        raise TypeError(f"{self!r} lives in the learner's process: it cannot be copied")


class RemoteFunction(Remote):
    """The learner's function: calling it runs it in the learner's process."""

    __slots__ = ()

    def __getattr__(self, name):
        if name == "__name__":
            return self._label.rpartition(".")[2]
        if name == "__qualname__":
            return self._label
        raise AttributeError(f"{self!r} has no attribute {name!r} here (it lives in the "
                             f"learner's process)")

    def __call__(self, *args, **kwargs):
        return self._ref.process.call(self, None, args, kwargs, name=self.__name__)


class RemoteClass(RemoteFunction):
    """The learner's class: calling it makes a RemoteObject (the instance lives there)."""

    __slots__ = ()


def _remote_method(name):
    def method(self, *args, **kwargs):
        return self._ref.process.call(self, name, args, kwargs,
                                      name=f"{self._label}.{name}")
    method.__name__ = name
    return method


class RemoteObject(Remote):
    """An object of the learner's: attributes and methods are fetched from there; the
    operators its class has (``iter``, ``next``, ``len``, ``[]``, calls ...) run there."""

    __slots__ = ()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ref.process.getattr(self, name)

    def __setattr__(self, name, value):
        raise AttributeError(f"{self!r} lives in the learner's process: its attributes are "
                             f"read-only from the grader")

    @classmethod
    @functools.lru_cache(maxsize=None)
    def with_operators(cls, dunders: tuple[str, ...]) -> type:
        """The RemoteObject class forwarding exactly `dunders`."""
        namespace = {"__slots__": ()}
        namespace.update({d: _remote_method(d) for d in dunders if d in REMOTE_DUNDERS})
        return type("RemoteObject", (cls,), namespace)


class RemoteRecord(tuple):
    """The learner's own namedtuple: a tuple of its values, fields also by name."""

    def __new__(cls, ref: Ref, typename: str, fields: tuple[str, ...], values: tuple):
        record = super().__new__(cls, values)
        record._ref, record._typename, record._fields = ref, typename, tuple(fields)
        return record

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", ())
        if name in fields:
            return self[fields.index(name)]
        raise AttributeError(f"{self._typename} has no field {name!r} (its fields: "
                             f"{', '.join(fields)})")

    def _asdict(self):
        return dict(zip(self._fields, self))

    def _replace(self, **changes):
        return self._ref.process.call(self, "_replace", (), changes,
                                      name=f"{self._typename}._replace")

    def __repr__(self):
        return f"{self._typename}({', '.join(f'{k}={v!r}' for k, v in zip(self._fields, self))})"

    def __reduce__(self):
        raise TypeError(f"{self._typename} lives in the learner's process: it cannot be copied")




# ------------------------------------------------------------------------------ write-back


def write_back(original, after, pairs: dict[int, object]) -> None:
    """Copy the post-call state `after` (the learner's copy of an argument) into the
    judge's `original`, recursively; `pairs` maps id(after part) -> original part."""
    if id(after) in pairs or isinstance(after, (Remote, RemoteRecord)):
        return
    pairs[id(after)] = original
    if isinstance(original, np.ndarray) and isinstance(after, np.ndarray):
        if original.shape != after.shape and original.size == after.size:
            original.shape = after.shape
        elif original.shape != after.shape:
            try:
                original.resize(after.shape)
            except (ValueError, TypeError):
                return
        if original.flags.writeable:
            np.copyto(original, after, casting="unsafe")
    elif isinstance(original, np.random.Generator) and isinstance(after, np.random.Generator):
        original.bit_generator.state = after.bit_generator.state
    elif isinstance(original, list) and isinstance(after, list):
        original[:] = [_merged(o, a, pairs) for o, a in zip(original, after)] + after[len(original):]
    elif isinstance(original, dict) and isinstance(after, dict):
        merged = {k: _merged(original[k], v, pairs) if k in original else v for k, v in after.items()}
        original.clear()
        original.update(merged)
    elif isinstance(original, tuple) and isinstance(after, tuple) and len(original) == len(after):
        for o, a in zip(original, after):
            write_back(o, a, pairs)
    elif (type(original) is type(after) and hasattr(original, "__dict__")
          and not isinstance(original, type) and not callable(original)):
        state = {k: _merged(vars(original)[k], v, pairs) if k in vars(original) else v
                 for k, v in vars(after).items()}
        vars(original).clear()
        vars(original).update(state)


def _merged(original, after, pairs):
    """`original` updated in place when it can take `after`'s state, else `after`."""
    if type(original) is type(after) and not isinstance(original, (int, float, str, bytes, bool)):
        write_back(original, after, pairs)
        return original
    return after


def _map_identity(obj, pairs: dict[int, object]):
    """`obj` with every part that is a (post-call) argument replaced by the original."""
    if id(obj) in pairs:
        return pairs[id(obj)]
    if type(obj) in (tuple, list):
        items = [_map_identity(x, pairs) for x in obj]
        if any(a is not b for a, b in zip(items, obj)):
            return type(obj)(items)
    elif isinstance(obj, tuple) and hasattr(type(obj), "_make") and not isinstance(obj, RemoteRecord):
        items = [_map_identity(x, pairs) for x in obj]
        if any(a is not b for a, b in zip(items, obj)):
            return type(obj)._make(items)
    elif type(obj) is dict:
        items = {k: _map_identity(v, pairs) for k, v in obj.items()}
        if any(items[k] is not obj[k] for k in obj):
            return items
    return obj


# ------------------------------------------------------------------------------ the process


def _exit_sentence(returncode: int | None, limits_hint: str) -> str:
    """How the learner's process ended, in words. bubblewrap reports its child's death by
    signal N as exit code 128 + N."""
    if returncode is None:
        return "stopped answering"
    if returncode > 128 and returncode - 128 in signal.valid_signals():
        returncode = 128 - returncode
    if returncode < 0:
        sig = signal.Signals(-returncode)
        why = {signal.SIGKILL: f"killed (SIGKILL; usually a limit: {limits_hint})",
               signal.SIGSEGV: "crashed (segmentation fault)",
               signal.SIGXCPU: "stopped at its CPU-time limit",
               signal.SIGXFSZ: "stopped for writing a file larger than its limit"}
        return why.get(sig, f"ended by signal {sig.name}")
    return f"ended with exit code {returncode} (os._exit, sys.exit or a crash)"


@dataclass
class CellOutput:
    """What one cell printed in the learner's process, and its error if it raised."""
    stdout: str
    stderr: str
    error: BaseException | None


class LearnerProcess:
    """The learner's process, restarted (replaying the finished cells) when it dies.

    Each cell may run `cell_timeout` seconds; each call `call_timeout` seconds, or when
    that is None, what the checks' engine sets in CALL_TIMEOUT (30 s by default).
    `references` (dotted names) are resolved in the process before any cell runs."""

    def __init__(self, argv: list[str], *, cwd: str | Path | None = None,
                 env: dict[str, str] | None = None, cell_timeout: float = 30.0,
                 call_timeout: float | None = None, limits_hint: str = "1 GiB of memory",
                 references: tuple[str, ...] = ()):
        if not cell_timeout > 0:
            raise ValueError(f"cell_timeout must be > 0 seconds, got {cell_timeout!r}")
        if call_timeout is not None and not call_timeout > 0:
            raise ValueError(f"call_timeout must be > 0 seconds or None (the engine's "
                             f"CALL_TIMEOUT), got {call_timeout!r}")
        self.call_timeout, self.references = call_timeout, tuple(references)
        self.argv, self.cwd, self.env = list(argv), cwd, env
        self.cell_timeout, self.limits_hint = cell_timeout, limits_hint
        self.proc: subprocess.Popen | None = None
        self.generation = 0
        self.finished: list[tuple[int, str, bool]] = []   # (cell, source, locked), in order
        # (generation, handle) -> the judge's (args, kwargs) of the call that made the handle
        self.links: dict[tuple[int, int], tuple] = {}

    # ---------------------------------------------------------------- life cycle
    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the process (again), replaying every cell that had finished."""
        self.kill()
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, cwd=self.cwd, env=self.env,
                                     start_new_session=True)
        self.generation += 1
        try:
            hello = restricted_loads(receive(self.proc.stdout.fileno(),
                                             time.monotonic() + START_TIMEOUT))
        except (ProtocolError, TimeoutError, pickle.UnpicklingError) as exc:
            self._log.seek(0)
            log = self._log.read().decode("utf-8", "replace").strip()[-2000:]
            self.kill()
            raise LearnerCrashed(f"the learner's process did not start ({exc}); it printed:\n"
                                 f"{log}") from None
        if not (isinstance(hello, dict) and hello.get("ready") is True):
            self.kill()
            raise LearnerCrashed("the learner's process did not start properly")
        self.no_new_processes = bool(hello.get("no_new_processes"))
        if self.references:   # read before any of the learner's code runs
            self._request({"op": "prime", "references": self.references}, START_TIMEOUT,
                          echo=False)
        for position, (cell, source, locked) in enumerate(self.finished):
            try:
                self._request({"op": "exec", "cell": cell, "source": source, "locked": locked},
                              self.cell_timeout, echo=False)
            except (TimeoutError, LearnerCrashed):   # it does not finish this time: drop it
                del self.finished[position]
                self.start()
                return

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                pipe.close()
            self.proc = None

    close = kill

    def _ensure(self) -> None:
        if not self.alive:
            self.start()

    # ---------------------------------------------------------------- requests
    def _request(self, msg: dict, timeout: float, *, echo: bool = True, what: str = "") -> dict:
        """Send `msg`, wait at most `timeout` s; the learner's output goes to sys.stdout /
        sys.stderr when `echo`. TimeoutError / LearnerCrashed when it does not answer."""
        def persistent_id(obj):
            if isinstance(obj, (Remote, RemoteRecord)):
                return ("handle", self.handle_of(obj))
            return None

        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = persistent_id
        try:
            pickler.dump(msg)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(f"the grader cannot send this to the learner's process{what} "
                            f"({exc}): arguments must be data, records, numpy generators, or "
                            f"functions and classes defined at the top of a module") from None
        try:
            send(self.proc.stdin.fileno(), buffer.getvalue())
            payload, (out, err) = restricted_loads(receive(self.proc.stdout.fileno(),
                                                           time.monotonic() + timeout))
        except (TimeoutError, KeyboardInterrupt):
            # Stopped waiting (nbgrader interrupts a cell with SIGINT): the answer that may
            # still come would be read as the next request's, so this process must go.
            self.kill()
            raise
        except (ProtocolError, BrokenPipeError, pickle.UnpicklingError, ValueError) as exc:
            returncode = self.proc.wait(5) if self.proc.poll() is None else self.proc.returncode
            self.kill()
            how = _exit_sentence(returncode, self.limits_hint)
            if isinstance(exc, pickle.UnpicklingError):
                how = f"sent an answer the grader refuses ({exc})"
            raise LearnerCrashed(f"the learner's process {how}{what}; it has been restarted "
                                 f"for what follows") from None
        if echo:
            sys.stdout.write(out)
            sys.stderr.write(err)
        return restricted_loads(payload)

    def handle_of(self, proxy) -> int:
        """The proxy's handle in the current process (found again by name after a restart)."""
        self._ensure()
        ref = proxy._ref
        if ref.process is not self:
            raise LearnerGone(f"{proxy!r} belongs to another learner process")
        if ref.generation != self.generation:
            if ref.name is None:
                raise LearnerGone(f"{proxy!r} was made by the learner's code before its process "
                                  f"restarted (after a crash or a time-out): it no longer exists")
            fresh = self.global_value(ref.name)
            if not isinstance(fresh, (Remote, RemoteRecord)):
                raise LearnerGone(f"`{ref.name}` is no longer a function or object after the "
                                  f"learner's process restarted")
            ref.generation, ref.handle = self.generation, fresh._ref.handle
        return ref.handle

    def _load_value(self, data: bytes, originals: list | None = None, name: str | None = None,
                    link: tuple | None = None):
        def persistent_load(pid):
            if pid[0] in ("object", "function") and pid[-1] and link is not None:
                self.links[(self.generation, pid[1])] = link
            kind = pid[0]
            if kind == "arg" and originals is not None and 0 <= pid[1] < len(originals):
                return originals[pid[1]]
            if kind == "module":
                return RemoteModule(pid[1])
            ref = Ref(self, self.generation, pid[1], name)
            if kind == "record":
                return RemoteRecord(ref, pid[2], pid[3], pid[4])
            if kind == "object":
                return RemoteObject.with_operators(tuple(pid[3]))(ref, pid[2])
            if kind in ("function", "class"):
                return (RemoteFunction if kind == "function" else RemoteClass)(ref, pid[2])
            raise pickle.UnpicklingError(f"unknown reference {kind!r} from the learner's process")
        return restricted_loads(data, persistent_load)

    @staticmethod
    def _raise(error: dict):
        """Raise the learner's exception here: Python's own class when it was one, else a
        class of its name deriving from LearnerError and from its nearest Python base
        (numpy's MemoryError is still a MemoryError)."""
        base = getattr(builtins, error["base"], None)
        if not (isinstance(base, type) and issubclass(base, Exception)):
            base = Exception
        if error["module"] == "builtins" and error["type"] == base.__name__:
            exc = base(error["message"])
        else:
            try:
                cls = type(error["type"], (LearnerError,) if base is Exception
                           else (LearnerError, base), {})
            except TypeError:   # layouts that do not combine: keep the Python base
                cls = base
            exc = cls(error["message"])
        exc.learner_traceback = error["traceback"]
        raise exc

    def exec_cell(self, cell: int, source: str, *, locked: bool = False,
                  timeout: float | None = None) -> CellOutput:
        """Run one cell; its output and error (LearnerTimeout / LearnerCrashed included)
        are returned. A cell that finishes, even with an error, is replayed after restarts."""
        timeout = self.cell_timeout if timeout is None else timeout
        try:
            self._ensure()
        except LearnerCrashed as exc:
            return CellOutput("", "", exc)
        capture_out, capture_err = io.StringIO(), io.StringIO()
        real = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = capture_out, capture_err
        try:
            reply = self._request({"op": "exec", "cell": cell, "source": source, "locked": locked},
                                  timeout, what=f" while running cell {cell}")
        except TimeoutError:
            error = LearnerTimeout(f"cell {cell}", timeout)
        except LearnerCrashed as exc:
            error = exc
        else:
            self.finished.append((cell, source, locked))
            error = None
            if reply["status"] != "ok":
                try:
                    self._raise(reply["error"])
                except Exception as exc:
                    error = exc
        finally:
            sys.stdout, sys.stderr = real
        return CellOutput(capture_out.getvalue(), capture_err.getvalue(), error)

    def call(self, target, method: str | None, args: tuple, kwargs: dict, *, name: str,
             forbidden: tuple[str, ...] | None = None, timeout: float | None = None):
        """Call the learner's `target` (its `method`) with the judge's arguments; write the
        arguments' post-call state back and return the result."""
        if timeout is None:
            timeout = CALL_TIMEOUT.get() if self.call_timeout is None else self.call_timeout
        forbidden = FORBIDDEN.get() if forbidden is None else forbidden
        handle = self.handle_of(target)
        originals = walk((args, kwargs), leaf=lambda o: isinstance(o, (Remote, RemoteRecord)))
        msg = {"op": "call", "target": handle, "method": method, "args": tuple(args),
               "kwargs": dict(kwargs), "forbidden": tuple(forbidden)}
        try:
            reply = self._request(msg, timeout, what=f" during the call of `{name}`")
        except TimeoutError:
            raise LearnerTimeout(name, timeout) from None
        if reply["status"] == "reference":
            raise ReferenceCalled(name, reply["reference"])
        if reply["status"] != "ok":
            self._raise(reply["error"])
        linked = self.links.get((self.generation, handle))
        result, args_after, kwargs_after, linked_after = self._load_value(
            reply["value"], originals, link=(tuple(args), dict(kwargs)))
        pairs: dict[int, object] = {}
        for original, after in zip((tuple(args), dict(kwargs)), (args_after, kwargs_after)):
            write_back(original, after, pairs)
        if linked is not None and linked_after is not None:
            write_back(linked, linked_after, {})   # e.g. the rng a generator draws from
        return _map_identity(result, pairs)

    def getattr(self, target, name: str):
        handle = self.handle_of(target)
        reply = self._request({"op": "getattr", "target": handle, "name": name},
                              CALL_TIMEOUT.get(), what=f" while reading `{name}`")
        if reply["status"] != "ok":
            self._raise(reply["error"])
        return self._load_value(reply["value"], link=self.links.get((self.generation, handle)))

    def global_value(self, name: str):
        """The learner's `__main__`.`name` (a proxy that finds it again after restarts)."""
        reply = self._request({"op": "global", "name": name}, self.cell_timeout)
        if reply["status"] != "ok":
            self._raise(reply["error"])
        return self._load_value(reply["value"], name=name)

    def sync(self) -> tuple[dict[str, object], list[str]]:
        """The names the learner bound or rebound since the last sync (modules as
        RemoteModule, names its locked cells bound to non-None never), and those deleted."""
        self._ensure()
        reply = self._request({"op": "sync"}, self.cell_timeout, what=" while reading its names")
        values = {}
        for name, data in reply["names"].items():
            try:
                values[name] = self._load_value(data, name=name)
            except pickle.UnpicklingError as exc:
                values[name] = RefusedValue(name, str(exc))
            if isinstance(values[name], RemoteFunction):   # an alias is named as the learner wrote it
                object.__setattr__(values[name], "_label", name)
        return values, list(reply["deleted"])


@dataclass(frozen=True)
class RemoteModule:
    """A module the learner bound (never synced into the kernel)."""
    name: str


@dataclass(frozen=True)
class RefusedValue:
    """A learner name whose value the restricted unpickler refused (never synced)."""
    name: str
    reason: str
