"""The judge's side of the learner process: the process itself and stand-ins for its objects.

:class:`LearnerProcess` starts the learner (``courseops.grading.learner``), sends it
requests with a time limit, and when it dies (a time-out, ``os._exit``, a crash, a
limit) starts it again and replays the cells that had finished, so the next request
finds the learner's names as they were. Its answers are data (``protocol.decode``:
JSON and ``.npy``, nothing that runs code here); records and the course's plain
objects are rebuilt with the judge's own classes; what is not data comes as a handle:

* :class:`RemoteFunction`: calling it calls the learner's function there;
* :class:`RemoteClass`: calling it makes a :class:`RemoteObject`;
* :class:`RemoteObject`: attributes are fetched, methods and the operators a check uses
  on purpose (``iter``, ``next``, ``len``, ``[]``, ``in``, calls) run remotely; never a
  conversion (no ``__array__``, ``__float__``, ``__bool__``): reading a result runs
  nothing of the learner's.

After each call the arguments' state in the learner is written back into the judge's
original arguments (:func:`write_back`), and a returned argument is the judge's
original object again, so "changed its input in place" and aliasing stay visible.
"""

from __future__ import annotations

import builtins
import collections
import functools
import importlib
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
from typing import Callable

import numpy as np

from courseops.grading.learner import REMOTE_DUNDERS
from courseops.grading.protocol import ProtocolError, decode, receive, send, walk
from optlessons.checks.base import CALL_TIMEOUT, HIDDEN_CASES, LearnerTimeout

START_TIMEOUT = 120.0   # seconds for the learner process to start (imports numpy in the sandbox)
OUTPUT_BUDGET = 4 << 20   # characters of the learner's output and error texts one notebook shows in all
HIDDEN_NOTE = "(output of your code during hidden tests is not shown)\n"
STDERR_NOTE = "[what your code wrote to stderr: shown here, never counted as an error]\n"
BUDGET_NOTE = (f"(the rest of what your code printed or raised is not shown: a graded notebook shows "
               f"at most {OUTPUT_BUDGET >> 20} MiB of it)\n")
_NOTED = [0]   # the hidden check run whose note was written


class OutputBudget:
    """The characters of the learner's output and error texts one notebook (one learner
    process and its copies) may still show; calling it with a text gives the part that
    fits, and where the budget runs out BUDGET_NOTE (once), then ""."""

    def __init__(self, size: int = OUTPUT_BUDGET):
        self.left = size

    def __call__(self, text: str) -> str:
        if len(text) <= self.left:
            self.left -= len(text)
            return text
        if self.left < 0:   # the note was shown
            return ""
        cut, self.left = text[:self.left], -1
        return cut + ("\n" if cut and not cut.endswith("\n") else "") + BUDGET_NOTE


def echo(out: str, err: str, budget: OutputBudget) -> None:
    """Show what the learner's code printed: stdout as it is, stderr labelled on stdout
    (nbgrader scores a test cell with anything on stderr as failed: honest warnings must
    not cost a mark), as far as `budget` allows; during a check's hidden cases, one note
    instead."""
    run = HIDDEN_CASES.get()
    if run:
        if (out or err) and _NOTED[0] != run:
            _NOTED[0] = run
            sys.stdout.write(HIDDEN_NOTE)
        return
    if err:
        out += STDERR_NOTE + err + ("" if err.endswith("\n") else "\n")
    sys.stdout.write(budget(out))


class LearnerCrashed(Exception):
    """The learner process ended during a request; the message says how, in words."""


class AnswerRefused(ProtocolError):
    """The learner's process sent something that is not an answer in the data format."""


class LearnerGone(Exception):
    """A proxy for an object that died with an earlier learner process."""


class LearnerError(Exception):
    """An exception of a class that is not one of Python's own, raised by the learner's
    code; ``type(exc).__name__`` is the learner's class name, ``learner_traceback`` the
    traceback as the learner's process printed it."""

    learner_traceback = ""


@functools.lru_cache(maxsize=256)
def _record_class(name: str, fields: tuple[str, ...]) -> type:
    """A namedtuple class of the judge's for a learner's record `name`: data only, and sent
    back to the learner as a plain tuple."""
    cls = collections.namedtuple(name.rpartition(".")[2] if name.rpartition(".")[2].isidentifier()
                                 else "Record", fields, rename=True)
    cls.__reduce__ = lambda self: (tuple, (tuple(self),))
    return cls


def _course_class(module: str, name: str):
    """The course package's class `module`.`name` in the judge, or None."""
    if not module.startswith("optlessons.") or "." in name:
        return None
    try:
        cls = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return cls if isinstance(cls, type) and cls.__module__ == module else None


def rebuild_record(module: str, name: str, fields: tuple[str, ...], values: tuple):
    """A record from the learner: the course's own class when it names one with these
    fields (``AdamState``), else a judge-made namedtuple of them."""
    cls = _course_class(module, name)
    if cls is None or tuple(getattr(cls, "_fields", ())) != fields:
        cls = _record_class(name, fields)
    return cls._make(values)


def rebuild_instance(module: str, name: str, state):
    """A plain object of a course class (an optimizer, PS4's CountingOptimizer) from its
    attributes, without calling any of its code."""
    cls = _course_class(module, name)
    if cls is None or not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ProtocolError(f"an object of {module}.{name}, which the grader does not rebuild")
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


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


# ------------------------------------------------------------------------------ write-back


def write_back(original, after, pairs: dict[int, object]) -> None:
    """Copy the post-call state `after` (the learner's copy of an argument) into the
    judge's `original`, recursively; `pairs` maps id(after part) -> original part."""
    if id(after) in pairs or isinstance(after, Remote):
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
    elif isinstance(obj, tuple) and hasattr(type(obj), "_make"):
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

    With `hidden_copy` (a function making a LearnerProcess not yet started, in a fresh
    home), the calls of a check's hidden cases (a run of HIDDEN_CASES) go to a copy made
    for that run: it replays the finished cells, and is discarded when the run ends (the
    next request outside it), so no process or file that outlives the run has seen its
    cases, and nothing the learner's code keeps of them is shown in a later cell."""

    def __init__(self, argv: list[str], *, cwd: str | Path | None = None,
                 env: dict[str, str] | None = None, cell_timeout: float = 30.0,
                 call_timeout: float | None = None, limits_hint: str = "1 GiB of memory",
                 hidden_copy: Callable[[], LearnerProcess] | None = None):
        if not cell_timeout > 0:
            raise ValueError(f"cell_timeout must be > 0 seconds, got {cell_timeout!r}")
        if call_timeout is not None and not call_timeout > 0:
            raise ValueError(f"call_timeout must be > 0 seconds or None (the engine's "
                             f"CALL_TIMEOUT), got {call_timeout!r}")
        self.call_timeout = call_timeout
        self.argv, self.cwd, self.env = list(argv), cwd, env
        self.cell_timeout, self.limits_hint = cell_timeout, limits_hint
        self.proc: subprocess.Popen | None = None
        self.generation = 0
        self.finished: list[tuple[int, str, bool]] = []   # (cell, source, locked), in order
        # (generation, handle) -> the judge's (args, kwargs) of the call that made the handle
        self.links: dict[tuple[int, int], tuple] = {}
        self.budget = OutputBudget()   # a copy's: its origin's
        self.hidden_copy = hidden_copy
        self.origin: LearnerProcess | None = None   # a copy's: the process whose cells it replays
        self.discarded = False
        self._copy: tuple[int, LearnerProcess] | None = None   # (hidden run, its copy)
        self._names: dict[str, tuple[int, int]] = {}   # a copy's: origin's name -> (generation, handle)

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
            hello = self._decode(receive(self.proc.stdout.fileno(), time.monotonic() + START_TIMEOUT))
        except (ProtocolError, TimeoutError) as exc:
            self._log.seek(0)
            log = self._log.read().decode("utf-8", "replace").strip()[-2000:]
            self.kill()
            raise LearnerCrashed(f"the learner's process did not start ({exc}); it printed:\n"
                                 f"{log}") from None
        if not (isinstance(hello, dict) and hello.get("ready") is True):
            self.kill()
            raise LearnerCrashed("the learner's process did not start properly")
        for position, (cell, source, locked) in enumerate(self.finished):
            try:
                self._request({"op": "exec", "cell": cell, "source": source, "locked": locked},
                              self.cell_timeout, echo=False)
            except (TimeoutError, LearnerCrashed):   # it does not finish this time: drop it
                del self.finished[position]
                self.start()
                return

    def kill(self) -> None:
        self._end_hidden_run()
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
        if self.discarded:
            raise LearnerGone("this object was made by your code during a check's hidden cases, "
                              "in a process that ended with them: it no longer exists")
        if not self.alive:
            self.start()

    def _end_hidden_run(self) -> None:
        if self._copy is not None:
            copy, self._copy = self._copy[1], None
            copy.discarded = True
            copy.kill()

    def _serving(self) -> LearnerProcess:
        """The process a check's request goes to now: this one, or during a hidden run the
        copy made for that run (see the class docstring)."""
        run = HIDDEN_CASES.get() if self.hidden_copy is not None else 0
        if self._copy is not None and self._copy[0] != run:
            self._end_hidden_run()
        if not run:
            return self
        if self._copy is None:
            copy = self.hidden_copy()
            copy.origin, copy.finished, copy.budget = self, list(self.finished), self.budget
            self._copy = (run, copy)
        return self._copy[1]

    # ---------------------------------------------------------------- requests
    def _decode(self, data: bytes, originals: list | None = None, name: str | None = None,
                link: tuple | None = None):
        """An answer of the learner's process as the judge's data and stand-ins
        (ProtocolError for anything else)."""
        def handle(pid):
            kind, h = pid.get("kind"), pid.get("handle")
            if not isinstance(h, int):
                raise ProtocolError("a handle without a number")
            if pid.get("linked") and link is not None:
                self.links[(self.generation, h)] = link
            if kind == "module":
                return RemoteModule(str(pid.get("label")))
            ref = Ref(self, self.generation, h, name)
            label = str(pid.get("label"))
            if kind == "object":
                return RemoteObject.with_operators(tuple(map(str, pid.get("ops", ()))))(ref, label)
            if kind in ("function", "class"):
                return (RemoteFunction if kind == "function" else RemoteClass)(ref, label)
            raise ProtocolError(f"an unknown kind of handle {kind!r}")

        def argument(n):
            if originals is None or not 0 <= n < len(originals):
                raise ProtocolError(f"argument number {n}, which was not sent")
            return originals[n]

        try:
            return decode(data, handle, argument, rebuild_record, rebuild_instance)
        except Exception as exc:   # malformed JSON, arrays or generator states; unknown kinds
            raise AnswerRefused(str(exc) if isinstance(exc, ProtocolError)
                                else f"{type(exc).__name__}: {exc}") from None

    def _request(self, msg: dict, timeout: float, *, echo: bool = True, what: str = "",
                 originals: list | None = None, name: str | None = None,
                 link: tuple | None = None) -> dict:
        """Send `msg`, wait at most `timeout` s; the learner's output goes to sys.stdout /
        sys.stderr when `echo`. TimeoutError / LearnerCrashed when it does not answer."""
        kept: list = []   # objects that stay with the judge during this request

        def persistent_id(obj):
            if isinstance(obj, Remote):
                return ("handle", self.handle_of(obj))
            if getattr(type(obj), "stays_with_the_judge", False):
                kept.append(obj)
                return ("judge", len(kept) - 1)
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
            deadline = time.monotonic() + timeout
            answer = self._decode(receive(self.proc.stdout.fileno(), deadline), originals, name, link)
            while isinstance(answer, dict) and "callback" in answer:   # asks about a kept object
                send(self.proc.stdin.fileno(), _callback(kept, answer))
                answer = self._decode(receive(self.proc.stdout.fileno(), deadline), originals, name, link)
            if not (isinstance(answer, dict) and isinstance(answer.get("reply"), dict)
                    and isinstance(answer.get("stdout"), str) and isinstance(answer.get("stderr"), str)):
                raise AnswerRefused("an answer without a reply")
        except (TimeoutError, KeyboardInterrupt):
            # Stopped waiting (nbgrader interrupts a cell with SIGINT): the answer that may
            # still come would be read as the next request's, so this process must go.
            self.kill()
            raise
        except (ProtocolError, BrokenPipeError) as exc:
            try:   # it closed the pipe as it died, or it is alive and sent something else
                returncode = self.proc.wait(1) if self.proc.poll() is None else self.proc.returncode
            except subprocess.TimeoutExpired:
                returncode = None
            self.kill()
            how = _exit_sentence(returncode, self.limits_hint)
            if isinstance(exc, AnswerRefused):
                how = f"sent an answer the grader refuses ({exc})"
            raise LearnerCrashed(f"the learner's process {how}{what}; it has been restarted "
                                 f"for what follows") from None
        if echo:
            globals()["echo"](answer["stdout"], answer["stderr"], self.budget)
        return answer["reply"]

    def handle_of(self, proxy) -> int:
        """The proxy's handle in the current process (found again by name after a restart)."""
        self._ensure()
        ref = proxy._ref
        if ref.process is not self and ref.process is self.origin and ref.name is not None:
            known = self._names.get(ref.name)   # a name the origin's cells bound: the copy's own
            if known is None or known[0] != self.generation:
                fresh = self.global_value(ref.name)
                if not isinstance(fresh, Remote):
                    raise LearnerGone(f"`{ref.name}` is not a function or object when your cells run again")
                known = self._names[ref.name] = (self.generation, fresh._ref.handle)
            return known[1]
        if ref.process is not self:
            raise LearnerGone(f"{proxy!r} belongs to another learner process")
        if ref.generation != self.generation:
            if ref.name is None:
                raise LearnerGone(f"{proxy!r} was made by the learner's code before its process "
                                  f"restarted (after a crash or a time-out): it no longer exists")
            fresh = self.global_value(ref.name)
            if not isinstance(fresh, Remote):
                raise LearnerGone(f"`{ref.name}` is no longer a function or object after the "
                                  f"learner's process restarted")
            ref.generation, ref.handle = self.generation, fresh._ref.handle
        return ref.handle

    def _raise(self, error):
        """Raise the learner's exception here: Python's own class when it was one, else a
        class of its name deriving from LearnerError and from its nearest Python base
        (numpy's MemoryError is still a MemoryError). Its texts count against the budget."""
        if not (isinstance(error, dict) and all(isinstance(error.get(k), str) for k in
                                                ("base", "module", "type", "message", "traceback"))):
            raise LearnerError("the learner's process reported an error the grader cannot read")
        message, traceback = (self.budget(error[k]) or BUDGET_NOTE.strip()
                              if error[k] else "" for k in ("message", "traceback"))
        base = getattr(builtins, error["base"], None)
        if not (isinstance(base, type) and issubclass(base, Exception)):
            base = Exception
        if error["module"] == "builtins" and error["type"] == base.__name__:
            exc = base(message)
        else:
            try:
                cls = type(error["type"], (LearnerError,) if base is Exception
                           else (LearnerError, base), {})
            except (TypeError, ValueError):   # layouts that do not combine: keep the Python base
                cls = base
            exc = cls(message)
        exc.learner_traceback = traceback
        raise exc

    def exec_cell(self, cell: int, source: str, *, locked: bool = False,
                  timeout: float | None = None) -> CellOutput:
        """Run one cell; its output and error (LearnerTimeout / LearnerCrashed included)
        are returned. A cell that finishes, even with an error, is replayed after restarts."""
        timeout = self.cell_timeout if timeout is None else timeout
        self._end_hidden_run()   # a cell is never part of a check's hidden cases
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
            if reply.get("status") != "ok":
                try:
                    self._raise(reply.get("error"))
                except Exception as exc:
                    error = exc
        finally:
            sys.stdout, sys.stderr = real
        return CellOutput(capture_out.getvalue(), capture_err.getvalue(), error)

    def call(self, target, method: str | None, args: tuple, kwargs: dict, *, name: str,
             timeout: float | None = None):
        """Call the learner's `target` (its `method`) with the judge's arguments; write the
        arguments' post-call state back and return the result."""
        serving = self._serving()
        if serving is not self:
            return serving.call(target, method, args, kwargs, name=name, timeout=timeout)
        if timeout is None:
            timeout = CALL_TIMEOUT.get() if self.call_timeout is None else self.call_timeout
        handle = self.handle_of(target)
        originals = walk((args, kwargs), leaf=lambda o: isinstance(o, Remote))
        msg = {"op": "call", "target": handle, "method": method, "args": tuple(args),
               "kwargs": dict(kwargs)}
        linked = self.links.get((self.generation, handle))
        try:
            reply = self._request(msg, timeout, what=f" during the call of `{name}`",
                                  originals=originals, link=(tuple(args), dict(kwargs)))
        except TimeoutError:
            raise LearnerTimeout(name, timeout) from None
        if reply.get("status") != "ok":
            self._raise(reply.get("error"))
        value = reply.get("value")
        if not (isinstance(value, tuple) and len(value) == 4):
            raise LearnerError("the learner's process answered a call with something else")
        result, args_after, kwargs_after, linked_after = value
        pairs: dict[int, object] = {}
        for original, after in zip((tuple(args), dict(kwargs)), (args_after, kwargs_after)):
            write_back(original, after, pairs)
        if linked is not None and linked_after is not None:
            write_back(linked, linked_after, {})   # e.g. the rng a generator draws from
        return _map_identity(result, pairs)

    def getattr(self, target, name: str):
        serving = self._serving()
        if serving is not self:
            return serving.getattr(target, name)
        handle = self.handle_of(target)
        reply = self._request({"op": "getattr", "target": handle, "name": name},
                              CALL_TIMEOUT.get(), what=f" while reading `{name}`",
                              link=self.links.get((self.generation, handle)))
        if reply.get("status") != "ok":
            self._raise(reply.get("error"))
        return reply.get("value")

    def global_value(self, name: str):
        """The learner's `__main__`.`name` (a proxy that finds it again after restarts)."""
        serving = self._serving()
        if serving is not self:
            return serving.global_value(name)
        reply = self._request({"op": "global", "name": name}, self.cell_timeout, name=name)
        if reply.get("status") != "ok":
            self._raise(reply.get("error"))
        return reply.get("value")

    def sync(self) -> tuple[dict[str, object], list[str]]:
        """The names the learner bound or rebound since the last sync (modules as
        RemoteModule, names its locked cells bound to non-None never), and those deleted."""
        self._end_hidden_run()
        self._ensure()
        reply = self._request({"op": "sync"}, self.cell_timeout, what=" while reading its names")
        names, deleted = reply.get("names"), reply.get("deleted")
        if not (isinstance(names, dict) and isinstance(deleted, list)):
            raise LearnerCrashed("the learner's process answered `sync` with something else")
        values = {}
        for name, value in names.items():
            if isinstance(value, Remote):   # found again by this name after a restart
                ref = value._ref
                value = type(value)(Ref(self, ref.generation, ref.handle, str(name)),
                                    str(name) if isinstance(value, RemoteFunction) else value._label)
            values[str(name)] = value
        return values, [str(n) for n in deleted]


def _callback(kept: list, ask: dict) -> bytes:
    """The judge's answer (a pickle, for the learner) to a question about an object it kept
    (see ``stays_with_the_judge``): an attribute's value, "method" for a method, or a
    method's result; the learner's arguments are data."""
    try:
        obj = kept[ask["callback"]]
        name = str(ask["name"])
        target = str(ask["args"][0]) if name == "__setattr__" and ask.get("args") else name
        declared = getattr(type(obj), target, None)   # its class's methods and properties only
        if (target.startswith("_") or not (callable(declared) or isinstance(declared, property))
                or (name == "__setattr__" and not getattr(declared, "fset", None))):
            raise AttributeError(f"{type(obj).__name__} has no attribute {target!r} your code may "
                                 f"{'set' if name == '__setattr__' else 'use'}")
        if ask.get("call"):
            value = (setattr if name == "__setattr__" else getattr(obj, name))(
                *((obj, *ask["args"]) if name == "__setattr__" else ask["args"]), **ask["kwargs"])
        else:
            value = getattr(obj, name)
            if callable(value):
                return pickle.dumps({"status": "method"})
        return pickle.dumps({"status": "ok", "value": value}, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return pickle.dumps({"status": "error", "error": type(exc)(*exc.args) if type(exc).__module__ == "builtins"
                             else RuntimeError(str(exc))})


@dataclass(frozen=True)
class RemoteModule:
    """A module the learner bound (never synced into the kernel)."""
    name: str
