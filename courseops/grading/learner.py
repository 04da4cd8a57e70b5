"""The learner process: runs the learner's cells and calls, answering the grading kernel.

Started as ``python -m courseops.grading.learner`` with the protocol on its stdin and
stdout (``courseops.grading.protocol``). It first moves the two pipes away from file
descriptors 0/1/2, then points 1 and 2 at in-memory files, so anything the learner's
code prints (``print``, C extensions, child processes) is captured per request and sent
back with the answer, never mixed with the protocol.

Nothing here is a guard: the learner's code shares this process and may change any of
it. What keeps grading honest lies outside: the references the learner must write are
not in the package this process sees (``courseops.grading.stripped``), and its answers
are data (``protocol.encode``) that the judge reads without running anything of it.

Requests (pickled dicts from the judge, ``op`` says which):

* ``exec``: run one cell's source in the learner's ``__main__`` (the value of a final
  expression is printed, as Jupyter would show it). ``locked`` cells record the names
  they bind to something other than None: those are never synced to the kernel.
* ``call``: call a handle (or its method ``method``) with ``args``/``kwargs``; answer
  ``(result, args, kwargs, linked)`` in one value: the arguments' state after the call.
* ``getattr``: an attribute of a handle.
* ``global``: the handle of a name in ``__main__`` (to find it again after a restart).
* ``sync``: the names bound or rebound since the last sync, and those deleted.
"""

from __future__ import annotations

import ast
import errno
import io
import linecache
import os
import pickle
import resource
import sys
import traceback
import types

from courseops.grading.protocol import capped, encode, receive, send, walk

# The operators a RemoteObject forwards, when the learner's object has them: the ways a
# check uses a learner's object on purpose (iterate a generator, call, index). Never the
# conversions (`__array__`, `__float__`, `__bool__` ...) the judge would run reading data.
REMOTE_DUNDERS = ("__call__", "__iter__", "__next__", "__len__", "__getitem__", "__contains__")
FUNCTION_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                  types.MethodWrapperType, types.BuiltinMethodType)


class Learner:
    """The learner's namespace, its handles, and the request handlers."""

    def __init__(self, out_fd: int, err_fd: int, streams: tuple = ()):
        self.main = types.ModuleType("__main__")
        sys.modules["__main__"] = self.main
        self.ns = self.main.__dict__
        exec(NAMESPACE_HELPERS, self.ns)
        self.synced: dict[str, int] = {k: id(v) for k, v in self.ns.items()}
        self.protected: set[str] = set()
        self.handles: dict[int, object] = {}
        self.handle_of: dict[int, int] = {}
        self.out_fd, self.err_fd, self.streams = out_fd, err_fd, streams
        self.rfd = self.wfd = -1   # the protocol's pipes (set by `serve`)
        # A handle made while answering a call keeps that call's arguments (a generator
        # that will draw from the rng it was given): every later call on the handle sends
        # their state back too, so the judge's originals follow (see proxy.LearnerProcess).
        self.linked: dict[int, tuple] = {}

    # ---------------------------------------------------------------- handles and answers
    def handle(self, obj, link: tuple | None = None) -> dict:
        """The description of an object that is not data: a handle number and how the
        judge may use it."""
        h = self.handle_of.get(id(obj))
        new = h is None or self.handles[h] is not obj
        if new:
            h = len(self.handles) + 1
            self.handles[h] = obj
            self.handle_of[id(obj)] = h
            if link is not None:
                self.linked[h] = link
        if isinstance(obj, types.ModuleType):
            kind = "module"
        elif isinstance(obj, type):
            kind = "class"
        elif isinstance(obj, FUNCTION_TYPES):
            kind = "function"
        else:
            kind = "object"
        label = getattr(obj, "__qualname__", None) if kind != "object" else None
        return {"$": "handle", "kind": kind, "handle": h,
                "label": capped(str(label or type(obj).__qualname__), 200),
                "ops": [d for d in REMOTE_DUNDERS if hasattr(type(obj), d)] if kind == "object" else [],
                "linked": bool(new and link is not None)}

    def loads(self, data: bytes):
        learner = self

        class Unpickler(pickle.Unpickler):
            def persistent_load(self, pid):
                kind, h = pid
                if kind == "judge":
                    return JudgeObject(learner, h)
                if kind != "handle" or h not in learner.handles:
                    raise pickle.UnpicklingError(f"unknown handle {pid!r}")
                return learner.handles[h]

        return Unpickler(io.BytesIO(data)).load()

    # ---------------------------------------------------------------- output capture
    def captured(self) -> tuple[str, str]:
        """What fds 1 and 2 received since the last call (then emptied), each capped."""
        for stream in self.streams:   # the runtime's own, whatever sys.stdout is now
            try:
                stream.flush()
            except Exception:
                pass
        texts = []
        for fd, target in ((self.out_fd, 1), (self.err_fd, 2)):
            size = os.fstat(fd).st_size
            data = os.pread(fd, min(size, 4 << 20), 0)
            os.ftruncate(fd, 0)
            os.lseek(target, 0, os.SEEK_SET)
            text = capped(data.decode("utf-8", "replace"))
            if size > len(data):
                text += f"\n… ({size - len(data)} more bytes of output cut by the grader)\n"
            texts.append(text)
        return texts[0], texts[1]

    # ---------------------------------------------------------------- requests
    def run_cell(self, source: str, filename: str) -> None:
        if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
            from IPython.core.inputtransformer2 import TransformerManager
            source = TransformerManager().transform_cell(source)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        tree = ast.parse(source, filename)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, filename, "exec"), self.ns)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), self.ns)
            if value is not None:
                print(repr(value))

    def op_exec(self, msg):
        before = {k: id(v) for k, v in self.ns.items()}
        try:
            self.run_cell(msg["source"], f"<cell {msg['cell']}>")
            error = None
        except BaseException as exc:  # the learner's error, reported like Jupyter would
            error = _error(exc, skip=1)
        if msg.get("locked"):
            self.protected |= {k for k, v in self.ns.items()
                               if before.get(k) != id(v) and v is not None}
        return {"status": "ok" if error is None else "error", "error": error}

    def op_call(self, msg):
        target = self.handles[msg["target"]]
        if msg.get("method"):
            target = getattr(target, msg["method"])
        args, kwargs = msg["args"], msg["kwargs"]
        handled = {id(o) for o in self.handles.values()}
        received = {id(o): n for n, o in enumerate(walk((args, kwargs),
                                                         leaf=lambda o: id(o) in handled))}
        try:
            result = target(*args, **kwargs)
        except BaseException as exc:
            return {"status": "error", "error": _error(exc, skip=1)}
        linked = self.linked.get(msg["target"])
        return {"status": "ok", "value": (result, args, kwargs, linked)}, received, (args, kwargs)

    def op_getattr(self, msg):
        value = getattr(self.handles[msg["target"]], msg["name"])
        return {"status": "ok", "value": value}, {}, self.linked.get(msg["target"])

    def op_global(self, msg):
        if msg["name"] not in self.ns:
            return {"status": "error", "error": _error(NameError(f"name {msg['name']!r} is not "
                                                                 f"defined"), skip=0)}
        return {"status": "ok", "value": self.ns[msg["name"]]}

    def op_sync(self, msg):
        names = {}   # a function or class travels as a handle (always the learner's own)
        for name, value in self.ns.items():
            if name.startswith("__") or name in self.protected or self.synced.get(name) == id(value):
                continue
            names[name] = value
        gone = [n for n in self.synced if n not in self.ns and n not in self.protected]
        self.synced = {k: id(v) for k, v in self.ns.items()}
        return {"status": "ok", "names": names, "deleted": gone}


class JudgeObject:
    """An object the judge keeps (a check's counting optimizer around the course's Adam):
    reading an attribute or calling a method asks the judge, with data, during the call."""

    def __init__(self, learner: Learner, number: int):
        object.__setattr__(self, "_learner", learner)
        object.__setattr__(self, "_number", number)

    def _ask(self, name: str, args: tuple = (), kwargs: dict | None = None, call: bool = False):
        learner = self._learner
        send(learner.wfd, encode({"callback": self._number, "name": name, "call": call,
                                  "args": args, "kwargs": kwargs or {}}, learner.handle))
        reply = pickle.loads(receive(learner.rfd))
        if reply["status"] == "error":
            raise reply["error"]
        if reply["status"] == "method":   # calling it asks again
            return lambda *args, **kwargs: self._ask(name, args, kwargs, call=True)
        return reply["value"]

    def __getattr__(self, name):
        return self._ask(name)

    def __setattr__(self, name, value):
        self._ask("__setattr__", (name, value), call=True)


# `display` and, for cells with magics, `get_ipython()` (there is no IPython shell here).
NAMESPACE_HELPERS = """
def display(*objs, **kwargs):
    for obj in objs:
        print(repr(obj))

class _NoShell:
    def __getattr__(self, name):
        def method(magic="", *args, **kwargs):
            if magic != "matplotlib":
                raise NotImplementedError(f"IPython's `{magic}` magic is not available while grading")
        return method

def get_ipython():
    return _NoShell()
"""


def _room_note(exc: BaseException) -> str:
    """For a write the grader's bounds refused (a full HOME or /tmp, a file too large), one
    sentence with the bounds this process has; else ""."""
    if not (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)):
        return ""
    try:
        place = os.statvfs(os.path.expanduser("~"))
        room = f"{place.f_blocks * place.f_frsize >> 20} MiB"
        file = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (OSError, ValueError):
        return "While grading, your code may write only a bounded amount: it wrote more, and the write was refused.\n"
    per_file = "" if file == resource.RLIM_INFINITY else f", at most {file >> 20} MiB per file"
    return (f"While grading, your code may write {room} in its home folder and as much in /tmp"
            f"{per_file}: it wrote more, and the write was refused.\n")


def _error(exc: BaseException, skip: int) -> dict:
    """What the judge needs to re-raise the learner's exception, as capped strings (its
    frames inside this module, `skip` of them, left out)."""
    tb = exc.__traceback__
    for _ in range(skip):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    cls = type(exc)
    base = next(c for c in cls.__mro__ if c.__module__ == "builtins")
    try:
        message = capped(str(exc))
    except BaseException:
        message = "(its message could not be read)"
    try:
        frames = traceback.StackSummary.extract(traceback.walk_tb(tb), limit=50)
        text = capped("".join(traceback.format_list(frames)))
    except BaseException:
        text = ""
    text = f"Traceback (most recent call last):\n{text}" if text else ""
    name = capped(str(cls.__qualname__), 200)
    return {"type": name, "module": capped(str(cls.__module__), 200), "base": base.__name__,
            "message": message, "traceback": f"{text}{name}: {message}\n{_room_note(exc)}"}


def serve(rfd: int, wfd: int, learner: Learner) -> None:
    """Answer requests until the kernel closes the pipe: one encoded value
    {"reply": {"status", "error" | "value" | "names" ...}, "stdout", "stderr"} each."""
    handlers = {"exec": learner.op_exec, "call": learner.op_call, "getattr": learner.op_getattr,
                "global": learner.op_global, "sync": learner.op_sync}
    learner.rfd, learner.wfd = rfd, wfd
    while True:
        try:
            data = receive(rfd)
        except Exception:
            return
        received, link = {}, None
        try:
            msg = learner.loads(data)
            reply = handlers[msg["op"]](msg)
            if isinstance(reply, tuple):   # a call's answer: its arguments and link
                reply, received, link = reply
        except BaseException as exc:
            reply = {"status": "error", "error": _error(exc, skip=1)}
        out, err = learner.captured()
        try:
            answer = encode({"reply": reply, "stdout": out, "stderr": err},
                            lambda obj: learner.handle(obj, link), lambda obj: received.get(id(obj)))
        except BaseException as exc:   # the learner's objects misbehaved while being read
            answer = encode({"reply": {"status": "error", "error": _error(exc, skip=0)},
                             "stdout": out, "stderr": err}, learner.handle)
        send(wfd, answer)


def main() -> None:
    sys.path[:0] = sys.argv[1:]   # the stripped package's folder, where there is no sandbox
    rfd, wfd = os.dup(0), os.dup(1)
    for fd in (rfd, wfd):
        os.set_inheritable(fd, False)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    out_fd, err_fd = os.memfd_create("stdout", 0), os.memfd_create("stderr", 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a file too large fails to write, not kills
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    learner = Learner(out_fd, err_fd, (sys.stdout, sys.stderr))
    send(wfd, encode({"ready": True}, learner.handle))
    serve(rfd, wfd, learner)


if __name__ == "__main__":
    main()
