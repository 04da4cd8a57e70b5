"""Limits on a whole learner, not one process: a cgroup per learner's server, and a private /tmp.

`LimitedSpawner` is JupyterHub's LocalProcessSpawner whose child, before it drops
root and becomes the learner's server, enters that learner's cgroup and its own
mount namespace. Everything the server starts (kernels, terminals, what those
fork) stays in both, whatever session or process group it makes:

* memory: the learner's total (swap included) is bounded; past it the kernel's
  OOM killer stops the learner's largest process, no one else's;
* CPU: each learner has an equal weight and at most `cpu` cores (a quota);
* processes: at most `pids` tasks (threads included) for the learner;
* /tmp: a tmpfs of `tmp_bytes` seen by this learner only (charged to their memory).

Both cgroup versions are supported: v2 (one hierarchy at /sys/fs/cgroup, as on
current systemd distributions) and v1 (memory, cpu and pids controllers mounted
under /sys/fs/cgroup/<controller>). The learners' groups are made below the hub's
own group in each hierarchy (`optlessons-<port>/<user>`), and removed, with any
process left in them, when the server stops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Float, Integer, Unicode

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "cpu", "pids")
CFS_PERIOD = 100_000                       # microseconds
CLONE_NEWNS, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x20000, 0x4000, 0x40000, 0x2, 0x4


def cgroup_version(root: Path = ROOT) -> int:
    """2 when /sys/fs/cgroup is the unified hierarchy, 1 when v1 controllers are mounted, else 0."""
    if (root / "cgroup.controllers").exists():
        return 2
    if all((root / c / "cgroup.procs").exists() for c in V1_CONTROLLERS):
        return 1
    return 0


def own_group(controller: str) -> str:
    """This process's group path in `controller`'s hierarchy ('' for v2's), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path.lstrip("/")
    return ""


class LearnerCgroup:
    """One learner's cgroup: `create()` with the limits, `enter(pid)`, `remove()` (killing what is left)."""

    def __init__(self, hub: str, user: str, memory: int, cpu: float, pids: int, root: Path = ROOT):
        self.version = cgroup_version(root)
        self.memory, self.cpu, self.pids = memory, cpu, pids
        if self.version == 2:
            # Processes sit only in leaves: the hub's own group holds the hub, so ours goes beside it.
            base = root / own_group("")
            self.top = base if base == root else base.parent
            self.parent = self.top / f"optlessons-{hub}"
            self.dirs = [self.parent / user]
        elif self.version == 1:
            self.dirs = [root / c / own_group(c) / f"optlessons-{hub}" / user for c in V1_CONTROLLERS]
        else:
            self.dirs = []

    @staticmethod
    def _write(path: Path, value) -> None:
        path.write_text(str(value))

    def create(self) -> None:
        if self.version == 2:
            self.parent.mkdir(exist_ok=True)
            for c in ("memory", "cpu", "pids"):
                self._write(self.top / "cgroup.subtree_control", f"+{c}")
                self._write(self.parent / "cgroup.subtree_control", f"+{c}")
            d = self.dirs[0]
            d.mkdir(exist_ok=True)
            self._write(d / "memory.max", self.memory)
            self._write(d / "memory.swap.max", 0)
            self._write(d / "cpu.max", f"{int(self.cpu * CFS_PERIOD)} {CFS_PERIOD}")
            self._write(d / "pids.max", self.pids)
        elif self.version == 1:
            memory, cpu, pids = self.dirs
            for d in self.dirs:
                d.mkdir(parents=True, exist_ok=True)
            self._write(memory / "memory.limit_in_bytes", self.memory)
            if (memory / "memory.memsw.limit_in_bytes").exists():   # swap accounting on: no escape to swap
                self._write(memory / "memory.memsw.limit_in_bytes", self.memory)
            self._write(cpu / "cpu.cfs_period_us", CFS_PERIOD)
            self._write(cpu / "cpu.cfs_quota_us", int(self.cpu * CFS_PERIOD))
            self._write(pids / "pids.max", self.pids)

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids_in(self) -> set[int]:
        out = set()
        for f in self.procs_files():
            try:
                out |= {int(p) for p in Path(f).read_text().split()}
            except FileNotFoundError:
                pass
        return out

    def peak_memory(self) -> int:
        """The most memory the learner's processes held together since `create()` (bytes)."""
        d = self.dirs[0]
        return int((d / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes")).read_text())

    def cpu_stat(self) -> dict[str, int]:
        """The CPU controller's counters (`nr_throttled`: periods in which the quota stopped the learner)."""
        d = self.dirs[0] if self.version == 2 else self.dirs[1]
        return {k: int(v) for k, v in (line.split() for line in (d / "cpu.stat").read_text().splitlines())}

    def remove(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while (left := self.pids_in()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for d in self.dirs + [d.parent for d in self.dirs]:   # the hub's folder too, once empty
            try:
                d.rmdir()
            except OSError:
                pass


def _libc():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return libc


def private_tmp(libc, size: int) -> None:
    """Give this process (root, before it becomes the learner) a mount namespace with its own /tmp."""
    def check(rc: int, what: str) -> None:
        if rc != 0:
            raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777".encode()),
          "mounting a tmpfs on /tmp")


class LimitedSpawner(LocalProcessSpawner):
    """LocalProcessSpawner putting each learner's server in its own cgroup and /tmp (see the module)."""

    memory = Integer(2 * 2**30, help="A learner's memory, all processes together (bytes).").tag(config=True)
    cpu = Float(1.0, help="A learner's CPU quota, in cores.").tag(config=True)
    pids = Integer(256, help="A learner's tasks (processes and threads).").tag(config=True)
    tmp_bytes = Integer(512 * 2**20, help="Size of a learner's private /tmp (bytes).").tag(config=True)
    group_prefix = Unicode("hub", help="Name of the hub's folder of learners' cgroups.").tag(config=True)

    def _cgroup(self) -> LearnerCgroup:
        return LearnerCgroup(self.group_prefix, self.user.name, self.memory, self.cpu, self.pids)

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        procs, libc, size = self._cgroup().procs_files(), _libc(), self.tmp_bytes

        def preexec():
            pid = str(os.getpid()).encode()
            for f in procs:                     # before anything runs as the learner
                fd = os.open(f, os.O_WRONLY)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)
            private_tmp(libc, size)
            become_user()
        return preexec

    async def start(self):
        group = self._cgroup()
        if group.version == 0:
            raise RuntimeError("no cgroup memory, cpu and pids controllers under /sys/fs/cgroup: the hub cannot "
                               "bound each learner (see docs/instructors.md, 'Limits')")
        group.remove()                          # whatever an earlier server of this learner left
        group.create()
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        self._cgroup().remove()
