"""nbgrader's exchange on a shared server, trusting no learner's folder.

A submission is a folder a learner wrote in `inbound/`; the learner chose every
name, link and file type in it. nbgrader's own `collect` trusts it: it follows
symbolic links (a link to the instructor's `source/` copies the solutions into
`submitted/`), reads FIFOs (and hangs), parses a timestamp any way it can (and
stops the whole class when it cannot), and believes the student id in the folder
name. The classes here replace those steps; the workshop hub (hub/) selects them:

    c.ExchangeFactory.collect = "courseops.exchange.SafeCollect"
    c.ExchangeFactory.submit = "courseops.exchange.PrivateSubmit"
    c.ExchangeFactory.release_feedback = "courseops.exchange.SafeReleaseFeedback"
    c.ExchangeFactory.fetch_assignment = "courseops.exchange.LinkedFetch"
    c.ExchangeFactory.release_assignment = "courseops.exchange.CheckedRelease"

* collect copies only regular files and folders owned by the student the folder
  names, opened without following links (race-free: every open is relative to an
  already opened folder, with O_NOFOLLOW), up to `max_bytes` and `max_files`; the
  folder name and `timestamp.txt` must hold nbgrader's exact timestamp format, and
  `submission_secret.txt` must be there; the time collected is the one the learner
  wrote, unless the file system says the submission changed later (the ctime of its
  folder and of every entry in it, which no learner can set back): then that later
  time (logged). Any other folder makes that student
  `ungradable: <why>` (logged, and named in the closing summary) while everyone
  else is collected; every notebook collected is rewritten inert
  (`courseops.sanitize`: no script, event handler, frame or form in its markdown,
  outputs, attachments or metadata), so nothing a learner wrote reaches the
  instructor's pages as live HTML, whichever tool later renders it;
* submit refuses a notebook unchanged from the release (the learner worked in
  another copy: nothing they did would be graded), and leaves the folder private
  to its learner and the instructors (0750, group: the `inbound/` folder's,
  which the hub sets to the instructors' group with set-group-id; nbgrader
  makes it 0777);
* release_feedback releases each student's page on its own: one student's odd
  folder (no secret, a link) is logged and skipped, the others are released;
  MathJax goes inside each page (a learner fetches only the page);
* release refuses an assignment that was never generated, or whose source changed
  after it was (the formgrader offers *Release* before *Generate*), with a sentence;
* fetch turns the home's untouched `exercises/release/<assignment>/` (where the
  course's notebooks link) into a link to the fetched copy, the one submitted.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import math
import os
import pathlib
import pwd
import re
import shutil
import stat
import time

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import notebook_hash, parse_utc
from traitlets import Integer

from courseops.sanitize import sanitize_notebook

# nbgrader's timestamp, as `submit` writes it in UTC: 2026-12-07 21:04:39.123456 UTC
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6} UTC")
SECRET = re.compile(r"[0-9a-f]{16,256}")
MAX_DEPTH = 16
SUBMIT_SECONDS = 60  # longer than `nbgrader submit` takes to copy a submission
SMALL = 4096          # timestamp.txt and submission_secret.txt are a few bytes


class BadFolder(Exception):
    """A submission (or feedback) folder that is copied by no one; the message says why."""


def strict_timestamp(text: str, where: str) -> datetime.datetime:
    """nbgrader's timestamp `YYYY-MM-DD HH:MM:SS.ffffff UTC` as a naive UTC datetime, or BadFolder."""
    if not TIMESTAMP.fullmatch(text):
        raise BadFolder(f"{where} is not a timestamp of the form 2026-12-07 21:04:39.123456 UTC: {text[:60]!r}")
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise BadFolder(f"{where} is not a valid date: {text!r} ({exc})") from None


def _kind(mode: int) -> str:
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")


def _who(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class FolderCopy:
    """Copy a folder someone else wrote: regular files and folders only, never following a link.

    Every entry is looked at with lstat and opened relative to its parent's open
    descriptor with O_NOFOLLOW, then checked again with fstat (same inode, still
    regular), so swapping a file for a link between the two finds only the link.
    `uid`, when given, must own every entry. At most `max_files` entries and
    `max_bytes` bytes; `dest` is written only when all of it passed (else removed).
    """

    def __init__(self, uid: int | None, max_bytes: int, max_files: int):
        self.uid, self.max_bytes, self.max_files = uid, max_bytes, max_files
        self.bytes = self.files = 0

    def copy(self, src: str, dest: str) -> None:
        try:
            fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as exc:
            raise BadFolder(f"{os.path.basename(src)} cannot be opened as a folder ({exc.strerror})") from None
        try:
            self._check(os.fstat(fd), os.path.basename(src), folder=True)
            os.makedirs(dest)
            self._tree(fd, dest, "", 0)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        finally:
            os.close(fd)

    def copy_file(self, src: str, dest: str) -> None:
        """Copy the single regular file `src` (not a link) to `dest`."""
        try:
            fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise BadFolder(f"{os.path.basename(src)} cannot be read ({exc.strerror})") from None
        try:
            self._check(os.fstat(fd), os.path.basename(src), folder=False)
            self._file(fd, dest, os.path.basename(src))
        except BaseException:
            if os.path.exists(dest):
                os.unlink(dest)
            raise
        finally:
            os.close(fd)

    def _check(self, st: os.stat_result, name: str, folder: bool) -> None:
        if folder != stat.S_ISDIR(st.st_mode) or not (folder or stat.S_ISREG(st.st_mode)):
            raise BadFolder(f"{name} is {_kind(st.st_mode)}: only regular files and folders are copied")
        if self.uid is not None and st.st_uid != self.uid:
            raise BadFolder(f"{name} belongs to {_who(st.st_uid)}, not {_who(self.uid)}")
        self.files += 1
        if self.files > self.max_files:
            raise BadFolder(f"more than {self.max_files} files and folders")

    def _tree(self, dir_fd: int, dest: str, rel: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise BadFolder(f"{rel} is nested more than {MAX_DEPTH} folders deep")
        for name in sorted(os.listdir(dir_fd)):
            path = f"{rel}/{name}" if rel else name
            before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            folder = stat.S_ISDIR(before.st_mode)
            self._check(before, path, folder)         # refuses links, FIFOs, devices before opening
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_DIRECTORY if folder else 0)
            try:
                fd = os.open(name, flags, dir_fd=dir_fd)
            except OSError as exc:
                raise BadFolder(f"{path} cannot be read ({exc.strerror})") from None
            try:
                now = os.fstat(fd)
                if (now.st_ino, now.st_dev) != (before.st_ino, before.st_dev):
                    raise BadFolder(f"{path} changed while it was being copied")
                if folder:
                    os.mkdir(os.path.join(dest, name))
                    self._tree(fd, os.path.join(dest, name), path, depth + 1)
                else:
                    self._file(fd, os.path.join(dest, name), path)
            finally:
                os.close(fd)

    def _file(self, fd: int, dest: str, path: str) -> None:
        with open(dest, "wb") as out:
            while chunk := os.read(fd, 1 << 20):
                self.bytes += len(chunk)
                if self.bytes > self.max_bytes:
                    raise BadFolder(f"more than {self.max_bytes // 2**20} MiB (at {path})")
                out.write(chunk)


def read_small(folder: str, name: str, uid: int | None = None, limit: int = SMALL) -> str:
    """The text of the regular file `folder/name` (at most `limit` bytes, not a link), or BadFolder."""
    try:
        fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BadFolder(f"{name} cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise BadFolder(f"{name} is not a regular file of at most {limit} bytes")
        if uid is not None and st.st_uid != uid:
            raise BadFolder(f"{name} belongs to {_who(st.st_uid)}, not {_who(uid)}")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit).decode("utf-8", "replace").strip()
    finally:
        os.close(fd)


MATHJAX_TAG = '<script defer src="mathjax/tex-svg.js"></script>'


def with_mathjax(page: str, folder: str) -> None:
    """Put MathJax inside the released page `page` when it loads `mathjax/tex-svg.js` from `folder`
    (exercises/grade.py's feedback): a learner fetches only the page, so the maths then renders
    offline (about 2 MB more per page)."""
    with open(page, encoding="utf-8") as f:
        text = f.read()
    if MATHJAX_TAG not in text:
        return
    mathjax = os.path.join(folder, "mathjax")
    script = read_small(mathjax, "tex-svg.js", limit=16 * 2**20) if os.path.isdir(mathjax) else None
    if script and "</script" not in script:
        with open(page, "w", encoding="utf-8") as f:
            f.write(text.replace(MATHJAX_TAG, f"<script>{script}</script>", 1))


def utc(ns: int) -> datetime.datetime:
    """The time `ns` nanoseconds after the epoch, as a naive UTC datetime (nbgrader's)."""
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).replace(tzinfo=None)


def last_change(folder: str, limit: int) -> datetime.datetime:
    """The latest ctime of `folder` and of everything in it (links not followed): a learner
    cannot set a ctime back, so nothing in the folder changed later. Now when it holds more
    than `limit` entries or cannot be walked (it changed after it was copied)."""
    newest, seen, todo = 0, 0, [folder]
    try:
        newest = os.lstat(folder).st_ctime_ns
        while todo:
            with os.scandir(todo.pop()) as entries:
                for entry in entries:
                    seen += 1
                    st = entry.stat(follow_symlinks=False)
                    newest = max(newest, st.st_ctime_ns)
                    if seen > limit:
                        raise OSError(f"more than {limit} entries")
                    if stat.S_ISDIR(st.st_mode):
                        todo.append(entry.path)
    except OSError:
        newest = max(newest, time.time_ns())
    return utc(newest)


def _identity(path: str) -> tuple[int, int] | None:
    """(inode, ctime) of `path`, None when absent: a folder made anew differs from the one before."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_ctime_ns


def submission_problem(path: str, student: str) -> str | None:
    """Why the submission folder `path` cannot be `student`'s, from its name and the two files
    `submit` writes; None when those look right (the copy checks the rest)."""
    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        return f"{student!r} is not a user of this server"
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            return (f"{os.path.basename(path)} is {_kind(st.st_mode)}" if not stat.S_ISDIR(st.st_mode)
                    else f"{os.path.basename(path)} belongs to {_who(st.st_uid)}, not {student}")
        strict_timestamp(read_small(path, "timestamp.txt", uid), "timestamp.txt")
        if not SECRET.fullmatch(read_small(path, "submission_secret.txt", uid)):
            return "submission_secret.txt is not the secret `nbgrader submit` writes"
    except BadFolder as exc:
        return str(exc)
    return None


class SafeCollect(ExchangeCollect):
    """nbgrader's collect, for folders written by untrusted learners (see the module's text).

    Among a student's submissions the newest good one is collected (a forged or odd
    newer one cannot hide it); a student with none is `ungradable: <why>`.
    """

    max_bytes = Integer(50 * 2**20, help="Largest submission collected, in bytes (all files).").tag(config=True)
    max_files = Integer(500, help="Most files and folders in one submission.").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._problems: dict[str, str | None] = {}      # submission folder name -> why refused
        self.ungradable: dict[str, str] = {}            # student -> why
        self._submissions: dict[str, list[dict]] = {}   # student -> all their records

    def _path_to_record(self, path: str) -> dict:
        name = os.path.basename(path)
        parts = name.rsplit("+", 3)
        record = {"username": parts[0], "filename": name, "timestamp": datetime.datetime.min}
        try:
            if len(parts) != 4:
                raise BadFolder(f"the folder name {name[:80]!r} is not student+assignment+timestamp+random")
            record["timestamp"] = strict_timestamp(parts[2], "the folder name's timestamp")
            # not before the folder itself last changed (a name dated before the due date)
            record["timestamp"] = max(record["timestamp"], utc(os.lstat(path).st_ctime_ns))
        except OSError:
            pass                     # gone: submission_problem says so
        except BadFolder as exc:
            self._problems[name] = str(exc)
        self._submissions.setdefault(record["username"], []).append(record)
        return record

    def _problem(self, record: dict) -> str | None:
        """Why `record` is refused, or None."""
        name = record["filename"]
        if name not in self._problems:
            self._problems[name] = submission_problem(os.path.join(self.inbound_path, name), record["username"])
        return self._problems[name]

    def _sort_by_timestamp(self, records: list[dict]) -> list[dict]:
        # Good submissions first, newest first; nbgrader takes the first of the list.
        return sorted(records, key=lambda r: (self._problem(r) is None, r["timestamp"]), reverse=True)

    def _refuse(self, student: str, why: str) -> None:
        self.ungradable[student] = why
        self.log.error("ungradable: %s: %s", student, why)

    def do_copy(self, src: str, dest: str) -> None:
        student = os.path.basename(src).rsplit("+", 3)[0]
        FolderCopy(pwd.getpwnam(student).pw_uid, self.max_bytes, self.max_files).copy(src, dest)
        try:
            make_notebooks_inert(dest)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise

    def _date(self, src: str, dest: str, student: str) -> None:
        """Date the copy `dest` of `src` no earlier than `src` last changed (timestamp.txt,
        which nbgrader's autograde reads for lateness)."""
        changed = last_change(src, self.max_files)
        try:                            # checked by submission_problem, unless changed since
            claimed = read_small(dest, "timestamp.txt")
            gap = (changed - strict_timestamp(claimed, "timestamp.txt")).total_seconds()
        except BadFolder as exc:
            claimed, gap = str(exc), math.inf
        if gap > 0:
            when = changed.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            with open(os.path.join(dest, "timestamp.txt"), "w", encoding="utf-8") as f:
                f.write(when)
            # `nbgrader submit` dates its folder before copying into it: a few seconds are honest
            (self.log.warning if gap > SUBMIT_SECONDS else self.log.info)(
                "%s: timestamp.txt says %s, but the submission last changed at %s: collected as "
                "submitted then", student, claimed, when)

    def copy_files(self) -> None:
        records, collected = self.src_records, 0
        for chosen in records:
            student = chosen["username"]
            # newest first (nbgrader's rule; with --before-duedate, those before the due date if any)
            candidates = sorted(self._submissions[student], key=lambda r: r["timestamp"], reverse=True)
            if self.before_duedate and self.duedate is not None:
                candidates = [r for r in candidates if r["timestamp"] <= self.duedate] or candidates
            problems = []
            for record in candidates:
                why = self._problem(record)
                if why is None:
                    self.src_records = [record]
                    try:
                        dest = self.coursedir.format_path(
                            self.coursedir.submitted_directory, student, self.coursedir.assignment_id)
                        before = _identity(dest)
                        super().copy_files()
                        if _identity(dest) != before:                   # copied now
                            self._date(os.path.join(self.inbound_path, record["filename"]), dest, student)
                        break
                    except BadFolder as exc:
                        why = self._problems[record["filename"]] = str(exc)
                problems.append(why)
            else:
                self._refuse(student, problems[0])
                with contextlib.suppress(OSError):     # the student's folder nbgrader made, if empty
                    os.rmdir(os.path.dirname(self.coursedir.format_path(
                        self.coursedir.submitted_directory, student, self.coursedir.assignment_id)))
                continue
            collected += 1
            if problems:
                self.log.warning("%s: collected an older submission; the newer one: %s", student, problems[0])
        self.src_records = records
        summary = f"collected {collected} of {len(records)} students"
        if self.ungradable:
            summary += "; ungradable: " + "; ".join(f"{s} ({why})" for s, why in sorted(self.ungradable.items()))
        (self.log.warning if self.ungradable else self.log.info)(summary)


def make_notebooks_inert(folder: str) -> None:
    """Rewrite every notebook under `folder` (a collected copy, the instructor's) as
    `sanitize_notebook` makes it; a file that is not a notebook's JSON is left as text."""
    for path in sorted(pathlib.Path(folder).rglob("*.ipynb")):
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if not (isinstance(nb, dict) and isinstance(nb.get("cells"), list)):
            continue
        try:
            inert = sanitize_notebook(nb)
        except Exception as exc:    # a shape the sanitizer did not foresee: not collected as it is
            raise BadFolder(f"{path.name} is not a notebook the course can render safely "
                            f"({type(exc).__name__}: {str(exc)[:100]})") from None
        path.write_text(json.dumps(inert, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def cell_sources(path: str) -> list[str] | None:
    """The sources of a notebook's cells, or None when it cannot be read as one."""
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, refusing a submission whose notebooks are all unchanged from the release
    (the work was done in another copy), and leaving it readable by its learner and the
    instructors only."""

    def copy_files(self) -> None:
        self.init_release()
        released = sorted(glob.glob(os.path.join(self.release_path, "*.ipynb")))
        same = [os.path.basename(r) for r in released
                if cell_sources(r) == cell_sources(os.path.join(self.src_path, os.path.basename(r)))]
        if released and len(same) == len(released):
            self.fail(f"Nothing was submitted: {', '.join(same)} in {self.src_path} is unchanged from the "
                      f"release. Work in this fetched copy (did you solve it in another one, e.g. under "
                      f"exercises/release/?): copy your answers into it, save, and submit again.")
        super().copy_files()
        # The folder's group is inbound/'s (set-group-id): the instructors'. The files inside are the
        # learner's group (copytree's copystat drops set-group-id before submit writes timestamp.txt,
        # and a learner cannot give a file a group they are not in), so they are 0644 behind the
        # folder's 0750: only the learner and the instructors get in.
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        self.set_perms(dest, fileperms=0o644, dirperms=0o755)
        os.chmod(dest, 0o750)


class SafeReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, one student at a time, reading nothing through a link."""

    def copy_files(self) -> None:
        pattern = re.compile(re.escape(os.path.sep).join([
            self.coursedir.format_path(self.coursedir.feedback_directory, "(?P<student_id>[^/]+)",
                                       self.coursedir.assignment_id, escape=True),
            r"(?P<notebook_id>[^/]+)\.html"]))
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        released, skipped = 0, []
        for html_file in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            m = pattern.fullmatch(html_file)
            if m is None or m["student_id"] in exclude:
                continue
            student, notebook = m["student_id"], m["notebook_id"]
            folder = os.path.dirname(html_file)
            try:
                timestamp = read_small(folder, "timestamp.txt")
                strict_timestamp(timestamp, "timestamp.txt")
                secret = read_small(folder, "submission_secret.txt")
                if not SECRET.fullmatch(secret):
                    raise BadFolder("submission_secret.txt is not the secret `nbgrader submit` writes")
                checksum = notebook_hash(secret=secret, notebook_id=notebook)
                tmp = os.path.join(self.dest_path, f"{checksum}-tmp.html")
                FolderCopy(None, 64 * 2**20, 1).copy_file(html_file, tmp)
                with_mathjax(tmp, folder)
                os.chmod(tmp, 0o644)         # as nbgrader releases it: the learner fetches it by its hash
                os.replace(tmp, os.path.join(self.dest_path, f"{checksum}.html"))
                released += 1
                self.log.info("Released feedback for %s on %s/%s (%s)", student, self.coursedir.assignment_id,
                              notebook, timestamp)
            except BadFolder as exc:
                skipped.append(f"{student} ({exc})")
                self.log.error("no feedback released for %s: %s", student, exc)
        summary = f"released {released} feedback pages"
        if skipped:
            summary += "; not released: " + "; ".join(skipped)
        (self.log.warning if skipped else self.log.info)(summary)


class CheckedRelease(ExchangeReleaseAssignment):
    """nbgrader's release, refusing an assignment not generated, or generated before its source
    last changed: learners would fetch nothing, or an old version."""

    def init_src(self) -> None:
        a = self.coursedir.assignment_id
        self.src_path = self.coursedir.format_path(self.coursedir.release_directory, ".", a)
        source = pathlib.Path(self.coursedir.format_path(self.coursedir.source_directory, ".", a))
        again = (f"press Generate for {a} (Formgrader, Manage Assignments; or `nbgrader generate_assignment "
                 f"{a} --force`), then Release")
        if not os.path.isdir(self.src_path) and source.is_dir():
            self.fail(f"{a} has not been generated yet, so there is nothing to release: {again}.")
        super().init_src()                      # neither: nbgrader names the assignments there are
        for notebook in sorted(source.rglob("*.ipynb")):
            rel = notebook.relative_to(source)
            released = pathlib.Path(self.src_path) / rel
            if ".ipynb_checkpoints" in rel.parts:
                continue
            if not released.is_file():
                self.fail(f"{a} was generated before {rel} was added to its source: {again}.")
            if notebook.stat().st_mtime > released.stat().st_mtime:
                self.fail(f"{a}'s source {rel} changed after {a} was generated, so learners would get the "
                          f"old version: {again}.")


class LinkedFetch(ExchangeFetchAssignment):
    """nbgrader's fetch, after which the course's links to the assignment lead to the fetched copy.

    The home's `exercises/release/<assignment>/` (what notebook 00 links to) becomes a link to
    the fetched folder, so a learner works in the one copy that Submit sends; when that
    release copy already holds work (a notebook changed), it is left alone and the log says
    to move the work.
    """

    release_copies = pathlib.Path("~/exercises/release")

    def copy_files(self) -> None:
        super().copy_files()
        copy = self.release_copies.expanduser() / self.coursedir.assignment_id
        if copy.is_symlink() or not copy.is_dir():
            return
        changed = [p.name for p in copy.glob("*.ipynb")
                   if cell_sources(str(p)) != cell_sources(os.path.join(self.dest_path, p.name))]
        if changed:
            self.log.warning("%s in %s holds work: copy it into %s, the copy that Submit sends",
                             ", ".join(changed), copy, self.dest_path)
            return
        shutil.rmtree(copy)
        copy.symlink_to(self.dest_path, target_is_directory=True)
