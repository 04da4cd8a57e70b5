"""Set up, start and stop the workshop hub (run as root; the Makefile's `hub*` targets call this).

    python hub/workshop.py install                 # course environment, templates, exchange, proxy
    python hub/workshop.py users roster.csv        # Unix users from a roster (id,role)
    python hub/workshop.py start | stop | status

Everything is configured by environment variables with workshop defaults
(`Settings`): where the course environment lives (/opt/optlessons), the hub's
private state (/srv/optlessons-hub: database, secrets, log, passwords), the
nbgrader exchange (/srv/nbgrader/exchange), the address, the limits.
"""

from __future__ import annotations

import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
REPO = HUB_DIR.parent
# A Unix user name that nbgrader can also use as a student id (no '+', no '.').
USER_ID = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
ROLES = ("student", "instructor")
# JupyterLab extensions a student's server does not load: the instructor's tools.
STUDENT_DISABLED_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:course-list")
# Every page the hub serves (the hub's own, every learner's and instructor's JupyterLab, the
# formgrader, files, nbconvert) runs no inline event handler attribute, loads no plugin, takes no
# foreign <base>, posts forms only to itself, and may be framed only by itself: a learner's `<img onerror=…>` that got past the
# sanitizer (courseops.sanitize) still runs nothing. Inline <script> elements stay allowed:
# JupyterHub's, JupyterLab's and the formgrader's pages carry their own (learner HTML inserted
# into a page by script never runs a <script>; pages rendered from a learner's file, /files/ and
# /nbconvert/, are sandboxed by jupyter_server into an origin of their own).
# (The formgrader's own "show name" eye icons use onclick and stop working; its other pages work.)
HUB_CSP = ("script-src-attr 'none'; object-src 'none'; base-uri 'self'; form-action 'self'; "
           "frame-ancestors 'self'")
STUDENT_DISABLED_SERVER = ("nbgrader.server_extensions.formgrader",
                           "nbgrader.server_extensions.course_list")


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class Settings:
    """The hub's settings; each field reads OPTLESSONS_<FIELD> from the environment."""
    prefix: Path = field(default_factory=lambda: Path(_env("OPTLESSONS_PREFIX", "/opt/optlessons")))
    state: Path = field(default_factory=lambda: Path(_env("OPTLESSONS_STATE", "/srv/optlessons-hub")))
    exchange: Path = field(default_factory=lambda: Path(_env("OPTLESSONS_EXCHANGE", "/srv/nbgrader/exchange")))
    # The exchange's own file system (ensure_exchange): an image of this many bytes, reserved on
    # the disk when it is made, so learners filling the exchange fill only it.
    exchange_bytes: int = field(default_factory=lambda: int(_env("OPTLESSONS_EXCHANGE_BYTES", str(4 * 2**30))))
    course_id: str = field(default_factory=lambda: _env("OPTLESSONS_COURSE_ID", "optlessons"))
    ip: str = field(default_factory=lambda: _env("OPTLESSONS_IP", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("OPTLESSONS_PORT", "8000")))
    students_group: str = field(default_factory=lambda: _env("OPTLESSONS_STUDENTS_GROUP", "optlessons-students"))
    instructors_group: str = field(
        default_factory=lambda: _env("OPTLESSONS_INSTRUCTORS_GROUP", "optlessons-instructors"))
    # Per process: memory (RLIMIT_DATA, bytes) and open files; per user: processes and threads.
    mem_limit: int = field(default_factory=lambda: int(_env("OPTLESSONS_MEM_LIMIT", str(2 * 2**30))))
    nproc_limit: int = field(default_factory=lambda: int(_env("OPTLESSONS_NPROC_LIMIT", "256")))
    # Per learner, all their processes together (cgroup, hub/limits.py): memory (bytes), CPU
    # (cores), and the size of their private /tmp (bytes, counted in their memory).
    learner_memory: int = field(default_factory=lambda: int(_env("OPTLESSONS_LEARNER_MEMORY", str(2 * 2**30))))
    learner_cpu: float = field(default_factory=lambda: float(_env("OPTLESSONS_LEARNER_CPU", "1")))
    tmp_bytes: int = field(default_factory=lambda: int(_env("OPTLESSONS_TMP_BYTES", str(512 * 2**20))))
    # How long a learner's server may take to start (seconds): more on a loaded machine.
    start_timeout: int = field(default_factory=lambda: int(_env("OPTLESSONS_START_TIMEOUT", "120")))
    # The idle culler stops a server unused for `cull_idle` seconds, looking every `cull_every`
    # seconds (0: every cull_idle / 2, from 2 s to 10 minutes).
    cull_idle: int = field(default_factory=lambda: int(_env("OPTLESSONS_CULL_IDLE", "3600")))
    cull_every: int = field(default_factory=lambda: int(_env("OPTLESSONS_CULL_EVERY", "0")))
    # The first wait after too many failed logins (seconds; each further failure doubles it).
    login_wait: float = field(default_factory=lambda: float(_env("OPTLESSONS_LOGIN_WAIT", "2")))

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    @property
    def cull_interval(self) -> int:
        """Seconds between two looks of the idle culler."""
        return self.cull_every or min(600, max(2, self.cull_idle // 2))

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def service_token_file(self) -> Path:
        return self.state / "admin-service-token"

    def environ(self) -> dict[str, str]:
        """The settings as the environment variables that reproduce them."""
        return {f"OPTLESSONS_{k.upper()}": str(v) for k, v in vars(self).items()}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def require_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit("the workshop hub creates Unix users and serves them: run this as root")


def readable_by_all(path: Path) -> bool:
    """Whether every user can reach `path`: each folder above it is executable by others."""
    return all(p.stat().st_mode & 0o001 for p in path.resolve().parents)


def learner_readable(path: Path, students_gid: int | None = None) -> Path | None:
    """The first file or folder in `path` (itself included) that a learner can read, or None.

    A learner reads what is readable by others (or by the students' group) and reachable:
    every folder above it searchable by others (or that group).
    """
    def bits(st, read: bool) -> bool:
        want_other, want_group = (0o004, 0o040) if read else (0o001, 0o010)
        return bool(st.st_mode & want_other) or (st.st_gid == students_gid and bool(st.st_mode & want_group))

    path = path.resolve()
    if not path.exists() or not all(bits(p.stat(), read=False) for p in path.parents):
        return None
    if not path.is_dir():
        return path if bits(path.stat(), read=True) else None
    for root, dirs, files in os.walk(path):
        here = Path(root)
        st = here.stat()
        if bits(st, read=True) and (here == path or files or dirs):
            return here                  # a folder whose names a learner lists
        if not bits(st, read=False):
            dirs.clear()                 # nothing below is reachable
            continue
        for name in files:
            if bits((here / name).stat(), read=True):
                return here / name
    return None


def check_instructor_files_private(s: Settings, repo: Path = REPO) -> None:
    """Refuse to go on (SystemExit, with the fix) when learners could read the solutions or grades."""
    try:
        gid = grp.getgrnam(s.students_group).gr_gid
    except KeyError:
        gid = None
    for secret in (repo / "exercises" / "source", repo / "exercises" / "gradebook.db"):
        exposed = learner_readable(secret, gid)
        if exposed:
            raise SystemExit(
                f"{exposed} is readable by the learners' accounts, and {secret.name} holds the solutions, "
                f"hidden tests or grades: keep the course where only you can read it, e.g. clone it into "
                f"root's home (`git clone ... /root/optlessons`, /root is 0700), or run "
                f"`chmod -R go-rwx {repo / 'exercises' / 'source'}` and `chmod go-rwx {repo / 'exercises'}/gradebook.db*`, "
                f"then `make hub` again")


# ---- install ---------------------------------------------------------------

def system_python() -> str:
    """A Python 3.10+ with venv whose files every user can read (not one in a 0700 home)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        if Path(candidate).exists() and readable_by_all(Path(candidate)):
            probe = subprocess.run([candidate, "-c", "import sys, venv, ensurepip; "
                                    "sys.exit(sys.version_info < (3, 10))"], capture_output=True)
            if probe.returncode == 0:
                return candidate
    raise SystemExit("no Python 3.10+ with venv readable by every user: `apt-get install "
                     "python3-venv` (the Python in /root/.pyenv sits in a 0700 home)")


def replace_tree(src: Path, dest: Path, mode: int = 0o755, group: str | None = None) -> None:
    """Copy `src` to `dest` (replacing it), owned by root, readable per `mode` (folders)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
        ".ipynb_checkpoints", "__pycache__", "*.pyc", "gradebook.db", "submitted", "autograded",
        "feedback", "grades.csv"))
    gid = grp.getgrnam(group).gr_gid if group else 0
    for root, dirs, files in os.walk(dest):
        os.chown(root, 0, gid)
        os.chmod(root, mode)
        for f in files:
            os.chown(os.path.join(root, f), 0, gid)
            os.chmod(os.path.join(root, f), mode & 0o644)


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        run(["groupadd", name])


def check_node(minimum: int = 20) -> None:
    """configurable-http-proxy 5 needs Node.js >= 20 (Debian 12's apt has 18)."""
    node = shutil.which("node") or shutil.which("nodejs")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout if node else ""
    major = int(version.lstrip("v").split(".")[0]) if version[:1] == "v" else 0
    if major < minimum:
        raise SystemExit(f"the hub's proxy (configurable-http-proxy 5.2) needs Node.js >= {minimum}, found "
                         f"{version.strip() or 'none'}: install nodejs and npm from your distribution "
                         f"(Debian 13, Ubuntu 24.10+) or from NodeSource")


def install(s: Settings) -> None:
    """The course environment in PREFIX (once, readable by every user), the templates, the exchange."""
    require_root()
    check_node()
    os.umask(0o022)
    ensure_group(s.students_group)
    ensure_group(s.instructors_group)
    s.prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(s.prefix, 0o755)
    py = s.venv / "bin" / "python"
    if not py.exists():
        run([system_python(), "-m", "venv", str(s.venv)])
        run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    # Not editable: the environment must not depend on this checkout staying where it is.
    # setuptools builds in REPO/build/lib and would ship a module deleted since: start clean.
    shutil.rmtree(REPO / "build" / "lib", ignore_errors=True)
    run([str(py), "-m", "pip", "install", "--quiet", f"{REPO}[grade,hub]"])
    run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(REPO)])
    etc = s.venv / "etc" / "jupyter"
    etc.mkdir(parents=True, exist_ok=True)
    shutil.copy(HUB_DIR / "nbgrader_config.py", etc / "nbgrader_config.py")
    # Terminals: an interactive, non-login bash, so the course environment stays first on PATH
    # (a login shell reads /etc/profile, which resets PATH and loses `python`).
    (etc / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"terminado_settings": {"shell_command": ["/bin/bash", "-i"]}}}, indent=1))
    # No "get notified about Jupyter news?" toast (a workshop server is often offline).
    lab_settings = s.venv / "share" / "jupyter" / "lab" / "settings"
    lab_settings.mkdir(parents=True, exist_ok=True)
    (lab_settings / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}, indent=1))
    student = s.prefix / "etc" / "student"
    (student / "labconfig").mkdir(parents=True, exist_ok=True)
    csp = {"tornado_settings": {"headers": {"Content-Security-Policy": HUB_CSP}}}
    (student / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {e: False for e in STUDENT_DISABLED_SERVER}, **csp}}, indent=1))
    (student / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {e: True for e in STUDENT_DISABLED_LAB}}, indent=1))
    instructor = s.prefix / "etc" / "instructor"
    instructor.mkdir(parents=True, exist_ok=True)
    # The server's own nbconvert (File > Save and Export, /nbconvert/html/…) renders a learner's
    # notebook as the formgrader does: sanitized first.
    (instructor / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": csp, "HTMLExporter": {"preprocessors": ["courseops.sanitize.SanitizeSubmission"]}}, indent=1))
    # What each home receives on first spawn, and the instructor's course directory.
    course = s.prefix / "course"
    replace_tree(REPO / "notebooks", course / "notebooks")
    replace_tree(REPO / "exercises" / "release", course / "exercises" / "release")
    os.chmod(course, 0o755)
    os.chmod(course / "exercises", 0o755)
    replace_tree(REPO / "exercises", s.prefix / "instructor" / "course", 0o750, s.instructors_group)
    os.chown(s.prefix / "instructor", 0, grp.getgrnam(s.instructors_group).gr_gid)
    os.chmod(s.prefix / "instructor", 0o750)
    bindir = s.prefix / "bin"
    bindir.mkdir(exist_ok=True)
    launcher = bindir / "optlessons-singleuser"
    launcher.write_text(f"#!{py}\n" + (HUB_DIR / "singleuser.py").read_text())
    os.chmod(launcher, 0o755)
    ensure_exchange(s)
    if not (HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HUB_DIR)
    print(f"course environment: {s.venv}\ncourse for each home: {course}\nexchange: {s.exchange}")


def exchange_image(s: Settings) -> Path:
    """The file holding the exchange's file system, beside the exchange."""
    return s.exchange.with_name(s.exchange.name + ".img")


def ensure_exchange(s: Settings) -> None:
    """The exchange on a file system of its own, mounted; its root 1777 (nbgrader's exchange
    wants it writable by all; sticky: no one renames or deletes another's course).

    Unless something is mounted there already (the instructor's own file system), that is
    an ext4 image of `exchange_bytes` (made once, its blocks reserved on the disk), mounted
    nodev, nosuid, noexec: whatever learners write there, the hub's disk loses nothing more.
    """
    if not os.path.ismount(s.exchange):
        s.exchange.mkdir(parents=True, exist_ok=True)
        if any(s.exchange.iterdir()):
            raise SystemExit(f"{s.exchange} is not empty and has no file system of its own: move what "
                             f"it holds elsewhere (an exchange from before it had one), then run this again")
        image = exchange_image(s)
        if not image.exists():
            fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.posix_fallocate(fd, 0, s.exchange_bytes)
                run(["mkfs.ext4", "-q", "-m", "0", "-E", "nodiscard", "-L", "exchange", str(image)])  # keeps the blocks
            except BaseException:
                image.unlink()
                raise
            finally:
                os.close(fd)
        run(["mount", "-o", "loop,nodev,nosuid,noexec", str(image), str(s.exchange)])
    os.chown(s.exchange, 0, 0)
    os.chmod(s.exchange, 0o1777)


def unmount_exchange(s: Settings) -> None:
    """Unmount the exchange's own file system (its image stays)."""
    if os.path.ismount(s.exchange):
        run(["umount", str(s.exchange)])


# ---- users -----------------------------------------------------------------

def read_roster(path: Path) -> list[tuple[str, str]]:
    """(id, role) rows of a CSV with the header `id,role`; a clear sentence for each bad row."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    problems, seen, out = [], set(), []
    for n, row in enumerate(rows, start=2):
        uid, role = (row.get("id") or "").strip(), (row.get("role") or "").strip().lower()
        if not USER_ID.match(uid):
            problems.append(f"line {n}: id {uid!r} must be a Unix user name: lower-case letters, "
                            f"digits, '_' and '-', starting with a letter or '_', at most 32")
        elif role not in ROLES:
            problems.append(f"line {n}: role {role!r} must be one of {', '.join(ROLES)}")
        elif uid in seen:
            problems.append(f"line {n}: {uid} appears twice")
        else:
            seen.add(uid)
            out.append((uid, role))
    if not rows:
        problems.append("no rows: the roster needs a header `id,role` and one line per person")
    if problems:
        raise SystemExit(f"{path}: nothing created:\n  " + "\n  ".join(problems))
    return out


def add_users(s: Settings, roster: list[tuple[str, str]],
              passwords: dict[str, str] | None = None) -> dict[str, str]:
    """Create the roster's Unix users (private 0700 homes, one group per role).

    New users get a random password (or the one in `passwords`), returned and
    appended to STATE/passwords.csv (0600); existing users keep theirs. The
    first instructor owns the course's folder in the exchange.
    """
    require_root()
    ensure_group(s.students_group)
    ensure_group(s.instructors_group)
    given = {}
    for uid, role in roster:
        group = s.instructors_group if role == "instructor" else s.students_group
        try:
            pwd.getpwnam(uid)
            run(["usermod", "-a", "-G", group, uid])
        except KeyError:
            run(["useradd", "--create-home", "--shell", "/bin/bash", "-K", "HOME_MODE=0700",
                 "-G", group, uid])
            given[uid] = (passwords or {}).get(uid) or secrets.token_urlsafe(9)
        home = Path(pwd.getpwnam(uid).pw_dir)
        os.chmod(home, 0o700)
    if given:
        run(["chpasswd"], input="".join(f"{u}:{p}\n" for u, p in given.items()), text=True)
        s.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = s.state / "passwords.csv"
        new = not out.exists()
        with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "w") as f:
            if new:
                f.write("id,password\n")
            f.writelines(f"{u},{p}\n" for u, p in given.items())
    instructors = [u for u, r in roster if r == "instructor"]
    if instructors:
        ensure_exchange(s)
        course = s.exchange / s.course_id
        course.mkdir(exist_ok=True)
        owner = pwd.getpwnam(instructors[0])
        os.chown(course, owner.pw_uid, owner.pw_gid)
        os.chmod(course, 0o755)
        # inbound: learners write (not list) it; sticky, so no one renames or deletes another's
        # folder; set-group-id, so each submission's group is the instructors' (PrivateSubmit
        # then makes it 0750: its learner and the instructors read it, no one else).
        inbound = course / "inbound"
        inbound.mkdir(exist_ok=True)
        os.chown(inbound, owner.pw_uid, grp.getgrnam(s.instructors_group).gr_gid)
        os.chmod(inbound, 0o3733)
    return given


def remove_users(names: list[str]) -> None:
    """Delete these Unix users and their homes (and every process they still run)."""
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


# ---- start / stop ----------------------------------------------------------

def hub_env(s: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTLESSONS_")}
    env.update(s.environ())
    env["PATH"] = f"{HUB_DIR / 'node_modules' / '.bin'}:{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def pid_file(s: Settings) -> Path:
    return s.state / "jupyterhub.pid"


def running_pid(s: Settings) -> int | None:
    try:
        pid = int(pid_file(s).read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def start(s: Settings, timeout: float | None = None) -> int:
    """Start the hub in the background (log in STATE/jupyterhub.log); wait until it answers
    (at most `timeout` seconds, by default the settings' start timeout)."""
    timeout = timeout or s.start_timeout
    require_root()
    if not (s.venv / "bin" / "jupyterhub-singleuser").exists():
        raise SystemExit(f"no course environment in {s.venv}: run `make hub-install` first")
    if running_pid(s):
        raise SystemExit(f"the hub already runs (pid {running_pid(s)}); `make hub-stop` first")
    s.state.mkdir(parents=True, exist_ok=True)
    os.chmod(s.state, 0o700)
    ensure_exchange(s)                          # mounted again after a reboot
    if not s.service_token_file.exists():
        s.service_token_file.write_text(secrets.token_hex(32))
        os.chmod(s.service_token_file, 0o600)
    log = open(s.state / "jupyterhub.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(HUB_DIR / "jupyterhub_config.py")],
        cwd=s.state, env=hub_env(s), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    pid_file(s).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the hub exited at start (code {proc.returncode}); "
                             f"see {s.state / 'jupyterhub.log'}")
        try:
            urllib.request.urlopen(f"{s.url}/hub/api/", timeout=2)
            print(f"hub on {s.url} (pid {proc.pid}, log {s.state / 'jupyterhub.log'})")
            return proc.pid
        except OSError:
            time.sleep(0.5)
    stop(s)
    raise SystemExit(f"the hub did not answer on {s.url} within {timeout:.0f} s; "
                     f"see {s.state / 'jupyterhub.log'}")


def stop(s: Settings, timeout: float = 60) -> None:
    """Stop the hub: it stops the learners' servers and its proxy; then whatever is left of its group."""
    pid = running_pid(s)
    if pid is None:
        print("the hub is not running")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                break
        except (ProcessLookupError, FileNotFoundError):
            break
        time.sleep(0.3)
    try:
        os.killpg(pid, signal.SIGKILL)   # the proxy and services were started in the hub's group
    except ProcessLookupError:
        pass
    pid_file(s).unlink(missing_ok=True)
    print("hub stopped")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    s = Settings()
    if args[:1] == ["install"]:
        install(s)
    elif args[:1] == ["users"] and len(args) == 2:
        created = add_users(s, read_roster(Path(args[1])))
        print(f"{len(created)} new users; their passwords: {s.state / 'passwords.csv'}")
    elif args == ["start"]:
        check_instructor_files_private(s)
        start(s)
    elif args == ["stop"]:
        stop(s)
    elif args == ["status"]:
        pid = running_pid(s)
        print(f"the hub runs on {s.url} (pid {pid})" if pid else "the hub is not running")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
