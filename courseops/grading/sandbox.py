"""The bubblewrap command lines of the grading kernel and of the learner process.

Both sandboxes see a minimal file system: the system directories read-only (``/usr``,
``/lib*``, ``/bin``, ``/sbin``; never ``/opt``, never a home), from ``/etc`` only what
a program needs to start (the dynamic linker's cache, fonts, time zone: no ``passwd``,
no ``shadow``), the Python installation read-only, ``/dev`` read-only, an empty private
``/tmp`` (a tmpfs of ``Limits.files_bytes``), and one writable home: the kernel's is its
scratch directory, the learner's a second tmpfs of that size (RAM that ``RLIMIT_AS`` does
not count, bounded here; nothing it writes reaches the grader's disk), and every other
mount it sees is read-only. Nothing else of the machine is there: no course directory
(so no ``exercises/source``, gradebook, ``submitted/``, ``autograded/``, ``feedback/``),
no repository or ``.git``, no instructor files. Every namespace is unshared (no network,
own PID namespace), and ``hide`` covers any further path with an empty tmpfs should it
lie inside something bound (a course copied into the Python prefix, say).

The kernel sandbox binds the real ``optlessons`` (the checks need the references), the
directory of the ZMQ IPC sockets (without a network namespace the kernel has no
loopback) and the connection file. The learner sandbox is started from inside the
kernel's; it binds the assignment's stripped package (``courseops.grading.stripped``)
where ``optlessons`` is, and ``/dev/null`` over ``ctypes``' and ``cffi``'s native
modules, so neither can be imported. When the grader is root, the learner runs as
``nobody`` with no supplementary groups (``setpriv --clear-groups`` before its
bubblewrap: the kernel sandbox keeps only the capabilities to do so and to stop it), so even a
file it could name is read with nobody's rights. bubblewrap nests (measured as root and
as an unprivileged user: the inner one makes its own user namespace), but the kernel's
``/proc`` has read-only submounts (``/proc/sys`` ...) that forbid mounting a new proc,
so the nested learner gets an empty ``/proc`` (it sees no process at all). Where the
inner sandbox cannot be made, ``courseops.grading.kernel`` falls back to a plain child
process: still inside the kernel's sandbox (same hidden files, no network), given the
stripped package first on its path, with its own limits, the kernel made non-dumpable
first; what it loses is the view of the kernel's connection file, sockets and package.

Limits (:class:`Limits`) are set by a two-line ``resource`` wrapper that then
``exec``\\ s the real command, inside the sandbox: there the process count of
``RLIMIT_NPROC`` is per user, so 64 processes means 64 of nobody's own.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "apt-get install bubblewrap"
SANDBOX_ENV = "OPTLESSONS_SANDBOX"   # set to "kernel" inside the grading kernel's sandbox
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "nsswitch.conf", "hosts")
NOBODY = 65534                        # the learner's uid and gid when the grader is root
SETPRIV = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all")
# inside a root kernel: what setpriv needs to make the learner nobody, and what stopping it takes
KERNEL_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL")
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process (address space, CPU, processes, file size)
    and the size of each of its writable file systems (`files_bytes`: tmpfs in RAM, which
    the address space does not count: the learner has two, its /tmp and its HOME)."""
    memory_bytes: int = 1024 * MIB
    cpu_seconds: int = 600
    processes: int = 64
    file_bytes: int = 64 * MIB
    files_bytes: int = 128 * MIB

    def __post_init__(self):
        for name in ("memory_bytes", "cpu_seconds", "processes", "file_bytes", "files_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


KERNEL_LIMITS = Limits(memory_bytes=2048 * MIB, cpu_seconds=3600, processes=256, files_bytes=512 * MIB)
LEARNER_LIMITS = Limits()

# Runs before the real command, inside the sandbox: set the four limits, then exec argv
# (the CPU limit's hard value one second above: SIGXCPU, which says why, comes first).
_LIMIT_CODE = ("import os,resource as r,sys;a=sys.argv;"
               "[r.setrlimit(k,(int(v),int(v)+(k==r.RLIMIT_CPU))) for k,v in zip((r.RLIMIT_AS,r.RLIMIT_CPU,"
               "r.RLIMIT_NPROC,r.RLIMIT_FSIZE),a[1:5])];os.execv(a[6],a[6:])")


def bwrap_path() -> str | None:
    """The bubblewrap executable, or None when it is not installed."""
    return shutil.which("bwrap")


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot make a sandbox here (not installed; user namespaces disabled,
    as in many containers), or None when it can: one `true` run in the same namespaces."""
    bwrap = bwrap_path()
    if bwrap is None:
        return f"bubblewrap is not installed ({INSTALL_HINT})"
    return _namespaces_problem(bwrap)


@functools.lru_cache(maxsize=None)
def _namespaces_problem(bwrap: str) -> str | None:
    """bwrap_problem for an installed `bwrap`, run once per executable."""
    true = shutil.which("true") or "/bin/true"
    proc = subprocess.run([*_dropped(), bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                           "--dev", "/dev", "--tmpfs", "/proc", "--tmpfs", "/tmp", true],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        return f"bubblewrap cannot create its namespaces here: {proc.stderr.strip()}"
    return None


def _dropped() -> tuple[str, ...]:
    """The setpriv prefix that makes the learner nobody: in a root kernel's sandbox."""
    return SETPRIV if os.environ.get(SANDBOX_ENV) == "kernel" and os.geteuid() == 0 else ()


def limited(argv: list[str], limits: Limits, python: str) -> list[str]:
    """`argv` run under `limits` (argv[0] must be an absolute path)."""
    return [python, "-I", "-S", "-c", _LIMIT_CODE, str(limits.memory_bytes),
            str(limits.cpu_seconds), str(limits.processes), str(limits.file_bytes), "--", *argv]


@functools.lru_cache(maxsize=None)
def _facts(python: str) -> dict:
    """What one run of `python` reports: its prefixes and ``sys.path``, where ``optlessons``
    and ``courseops`` are, and the native modules of ``ctypes`` and ``cffi``."""
    code = ("import json,sys,os,optlessons,courseops,importlib.util as u;"
            "print(json.dumps({'packages':[os.path.dirname(os.path.realpath(p.__file__)) for p in (optlessons,courseops)],"
            "'others':[sys.prefix,sys.base_prefix,sys.exec_prefix,sys.base_exec_prefix,"
            "os.path.dirname(os.path.realpath(sys.executable)),*sys.path],"
            "'natives':[os.path.realpath(s.origin) for s in map(u.find_spec,('_ctypes','_cffi_backend'))"
            " if s is not None and s.origin]}))")
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ.get("PATH", "")}, timeout=60)
    return json.loads(out.stdout)


@functools.lru_cache(maxsize=None)
def python_paths(python: str) -> tuple[str, ...]:
    """The directories `python` needs to run the course: its prefixes (a venv and the
    installation it was made from), the directories on its ``sys.path`` (``.pth`` files
    add some), and the ``optlessons`` and ``courseops`` packages' own directories. A path that holds the
    packages' parent (an editable install puts the repository itself on ``sys.path``)
    is replaced by the package directory alone: the rest of the repository, the course
    and its solutions included, stays outside."""
    facts = _facts(python)
    (package, operations), others = facts["packages"], facts["others"]

    def inside(path: str, folder: str) -> bool:
        return (path + "/").startswith(folder.rstrip("/") + "/")

    candidates = {q for p in others for q in (p, os.path.realpath(p)) if os.path.isdir(q)}
    prefixes = candidates & {q for p in others[:5] for q in (p, os.path.realpath(p))}
    editable = not any(inside(package, p) for p in prefixes)
    repository = os.path.dirname(package)
    paths = {package, operations} | {q for q in candidates if not (editable and inside(repository, q))}
    # Keep the outermost of nested paths (binding /a then /a/b is redundant).
    kept = sorted(paths, key=len)
    return tuple(p for i, p in enumerate(kept)
                 if not any(p.startswith(q.rstrip("/") + "/") for q in kept[:i]))


def package_dir(python: str) -> str:
    """Where `python` imports ``optlessons`` from (the path the stripped build covers)."""
    return _facts(python)["packages"][0]


def foreign_function_modules(python: str) -> tuple[str, ...]:
    """The native modules of ``ctypes`` and ``cffi`` `python` would load: the learner's
    sandbox covers them with /dev/null, so neither can be imported there."""
    return tuple(_facts(python)["natives"])


def _parents(dest: str) -> list[str]:
    """bwrap arguments making the missing parents of `dest` readable by everyone (bubblewrap
    running as root would make them 0700, closed to the learner when it is nobody)."""
    parents = [str(q) for q in reversed(Path(dest).parents) if str(q) != "/"]
    return [a for q in parents for a in ("--perms", "0755", "--dir", q)]


def _filesystem(python: str, hide: tuple[Path, ...], tmp_bytes: int) -> list[str]:
    """bwrap arguments of the read-only file system both sandboxes see: the empty /tmp of
    at most `tmp_bytes` first (a Python or a package under /tmp is bound over it, not
    hidden by it), /dev read-only, an empty folder over each folder in `hide` (made
    read-only by `_sealed` once the sandbox's own binds are in place)."""
    args = ["--dev", "/dev", "--remount-ro", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in ETC:
        if os.path.exists(f"/etc/{name}"):
            args += [*_parents(f"/etc/{name}"), "--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for p in python_paths(python):
        if not any(p == d or p.startswith(d + "/") for d in SYSTEM_DIRS if os.path.isdir(d)):
            args += [*_parents(p), "--ro-bind", p, p]
    for h in map(Path, hide):
        args += ["--tmpfs", str(h)] if h.is_dir() else ["--ro-bind", "/dev/null", str(h)]
    return args


def _sealed(hide: tuple[Path, ...]) -> list[str]:
    """bwrap arguments making the empty folders over `hide` read-only (a writable tmpfs
    would be RAM without a bound), then the whole root."""
    return [*[a for h in map(Path, hide) if h.is_dir() for a in ("--remount-ro", str(h))], "--remount-ro", "/"]


def _bind(how: str, source: Path | str, dest: Path | str | None = None) -> list[str]:
    dest = str(source if dest is None else dest)
    return [*_parents(dest), how, str(source), dest]


def _common(scratch: Path, home: Path, own_user: bool = True) -> list[str]:
    """The options both sandboxes share; without `own_user`, no user namespace (root
    keeps a real uid it can give up, see kernel_argv)."""
    unshare = (["--unshare-all"] if own_user else
               ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"])
    return [*unshare, "--die-with-parent", "--new-session", "--unsetenv", "JPY_PARENT_PID",
            "--setenv", "HOME", str(home), "--setenv", "MPLCONFIGDIR", str(home / ".mpl"),
            "--setenv", "TMPDIR", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--chdir", str(home)]


def kernel_argv(scratch: Path, python: str, *, ipc_dir: Path | None = None,
                hide: tuple[Path, ...] = (), limits: Limits = KERNEL_LIMITS,
                packages: Path | None = None) -> list[str]:
    """The grading kernel's kernelspec argv: ipykernel in a sandbox whose only writable
    places are `scratch` (its HOME is `scratch`/kernel) and `ipc_dir` (its ZMQ sockets),
    with the stripped packages' folder `packages` read-only (for the learner's sandbox);
    ``{connection_file}`` is filled in by jupyter_client."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError(f"bubblewrap is not installed ({INSTALL_HINT})")
    scratch = Path(scratch).resolve()
    home = scratch / "kernel"
    root = os.geteuid() == 0
    argv = [bwrap, *_common(scratch, home, own_user=not root), "--setenv", SANDBOX_ENV, "kernel",
            *_filesystem(python, tuple(hide), limits.files_bytes), "--proc", "/proc", *_bind("--bind", scratch)]
    if root:   # real uid 0, no capability but those to make the learner nobody and to stop it
        argv += ["--cap-drop", "ALL", *[a for cap in KERNEL_CAPABILITIES for a in ("--cap-add", cap)]]
    if packages is not None:
        argv += _bind("--ro-bind", Path(packages).resolve())
    if ipc_dir is not None:
        argv += _bind("--bind", Path(ipc_dir).resolve())
    argv += ["--ro-bind", "{connection_file}", "{connection_file}", *_sealed(tuple(hide))]
    return argv + limited([python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          limits, python)


def _learner_home(scratch: Path) -> Path:
    """scratch/learner, created (GradingSandbox gives it to nobody when grading as root; in
    the learner's sandbox a tmpfs of `Limits.files_bytes` covers it)."""
    home = Path(scratch).resolve() / "learner"
    home.mkdir(parents=True, exist_ok=True)
    return home


def learner_argv(scratch: Path, python: str, *, hide: tuple[Path, ...] = (),
                 limits: Limits = LEARNER_LIMITS, package: Path | None = None) -> list[str]:
    """The learner process in its own sandbox: its only writable places are two tmpfs of
    `limits.files_bytes` each, its HOME (`scratch`/learner) and /tmp (RAM the address space
    does not count, bounded here; nothing lands on the grader's disk); the rest of
    `scratch` (the kernel's HOME, the plan) and every path in `hide` (the kernel's sockets
    and connection file) are empty and read-only (a file in `hide` reads as /dev/null);
    `package` (a stripped build) is bound where ``optlessons`` is; ctypes and cffi cannot
    load. Started from inside the kernel's sandbox it nests, with an empty /proc, and a
    root kernel makes it nobody without supplementary groups (see the module docstring;
    started by root elsewhere, it is root's uid in its own user namespace)."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError(f"bubblewrap is not installed ({INSTALL_HINT})")
    scratch = Path(scratch).resolve()
    home = _learner_home(scratch)
    nested = os.environ.get(SANDBOX_ENV) == "kernel"
    # a folder before any folder inside it: a hidden-case copy's scratch lies inside the hidden
    # scratch of the learner's own process, and must be mounted (and sealed) over it, not under it
    hidden = tuple(sorted({scratch, *map(Path, hide), *([Path("/proc")] if nested else [])},
                          key=lambda path: len(path.parts)))
    argv = [*_dropped(), bwrap, *_common(scratch, home),
            "--setenv", SANDBOX_ENV, "learner", *_filesystem(python, hidden, limits.files_bytes),
            *([] if nested else ["--proc", "/proc"]),
            "--size", str(limits.files_bytes), "--tmpfs", str(home)]
    if package is not None:
        argv += ["--ro-bind", str(Path(package).resolve()), package_dir(python)]
    for native in foreign_function_modules(python):
        argv += ["--ro-bind", "/dev/null", native]
    return argv + [*_sealed(hidden), *limited([python, "-I", "-m", "courseops.grading.learner"],
                                              limits, python)]


def unsandboxed_learner_argv(scratch: Path, python: str, limits: Limits = LEARNER_LIMITS,
                             package: Path | None = None) -> list[str]:
    """The learner process without bubblewrap (``--unsafe-no-sandbox``): a plain child
    process, with the same limits and the stripped `package` first on its path,
    separated from the kernel but not confined."""
    _learner_home(scratch)
    extra = [str(Path(package).resolve().parent)] if package is not None else []
    return limited([python, "-I", "-m", "courseops.grading.learner", *extra], limits, python)
