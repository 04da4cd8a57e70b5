"""The workshop hub under load: N learners spawn at once and each runs notebook 03 in its kernel.

Needs root and `make hub-install`; run it on request only (`python -m benchmarks
hub`, or `python -m benchmarks.bench_hub N`): it creates N Unix users
olt_<random>_NN and a hub on free loopback ports, and removes all of it at the
end (hub/hubclient.py's `temporary_hub`).

Measured: the spawn time of one server alone (the instructor's); the time
from N simultaneous logins (the login form, then the spawn request, one thread
each) to each server answering; the wall time of
every code cell of notebooks/03_gradient_descent.ipynb, sent to each learner's
kernel over the Jupyter websocket with all N running at once (median, p95,
max; and the whole notebook); after that run, the memory as PSS (proportional
set size, /proc/PID/smaps_rollup: shared pages split between their users) and
the CPU time of each learner's processes (server + kernel), and the PSS of the
hub's own processes (hub, proxy, idle culler); then one collect and one
`exercises/grade.py autograde` of N submissions of problem set 1 (the solution).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import pathlib
import pwd
import secrets
import statistics
import sys
import time
import uuid

import requests

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hub"))
import workshop  # noqa: E402  (hub/workshop.py)

NOTEBOOK = "notebooks/03_gradient_descent.ipynb"
ASSIGNMENT = "ps1_losses_gradients"
MIB = 2**20


def pss(pids) -> int:
    """Summed PSS in bytes of the processes `pids` (those that still exist)."""
    total = 0
    for pid in pids:
        try:
            for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def cpu_seconds(pids) -> float:
    """User + system CPU time of the processes `pids` so far (their finished children included)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(x) for x in fields[11:15])      # utime stime cutime cstime
    return total / tick


def pids_of_user(uid: int) -> list[int]:
    return [int(p.name) for p in pathlib.Path("/proc").iterdir()
            if p.name.isdigit() and _uid(p) == uid]


def _uid(proc: pathlib.Path) -> int | None:
    try:
        return proc.stat().st_uid
    except FileNotFoundError:
        return None


def hub_processes(pid: int) -> list[int]:
    """The hub `pid` and the root processes below it (proxy, idle culler; not the learners' servers)."""
    return [p for p in descendants(pid) if _uid(pathlib.Path(f"/proc/{p}")) == 0]


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children = {}
    for p in pathlib.Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


async def run_notebook(url: str, user: str, token: str, cells: list[str]) -> list[float]:
    """Start a kernel session on `user`'s server, execute `cells` in order; seconds per cell."""
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    headers = {"Authorization": f"token {token}"}
    http = AsyncHTTPClient()
    body = json.dumps({"path": NOTEBOOK, "type": "notebook", "name": "", "kernel": {"name": "python3"}})
    r = await http.fetch(f"{url}/user/{user}/api/sessions", method="POST", headers=headers, body=body,
                         request_timeout=300)
    kernel = json.loads(r.body)["kernel"]["id"]
    ws = await websocket_connect(HTTPRequest(
        f"{url.replace('http', 'ws', 1)}/user/{user}/api/kernels/{kernel}/channels", headers=headers,
        request_timeout=300), max_message_size=256 * MIB)
    session, times = uuid.uuid4().hex, []
    for code in cells:
        msg_id = uuid.uuid4().hex
        await ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                       "username": user, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        start = time.perf_counter()
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=600)
            if raw is None:
                raise RuntimeError(f"{user}'s kernel closed the connection")
            if isinstance(raw, bytes):
                continue
            m = json.loads(raw)
            if m.get("parent_header", {}).get("msg_id") == msg_id and m["msg_type"] == "execute_reply":
                if m["content"]["status"] != "ok":
                    raise RuntimeError(f"{user}: a cell of {NOTEBOOK} failed: {m['content'].get('evalue')}")
                times.append(time.perf_counter() - start)
                break
    ws.close()
    return times


def measure(n: int) -> dict:
    from hubclient import temporary_hub

    tag = secrets.token_hex(3)
    instructor = f"olt_{tag}_i"
    learners = [f"olt_{tag}_{i:02d}" for i in range(n)]
    cells = ["".join(c["source"]) for c in json.loads((ROOT / NOTEBOOK).read_text())["cells"]
             if c["cell_type"] == "code"]
    out = {"n": n}
    # Ten servers starting at once on a busy machine take longer than the hub's default 120 s
    # allowance (it then gives up on them): allow 400 s, as tests/test_hub.py does.
    with temporary_hub([(instructor, "instructor")] + [(u, "student") for u in learners],
                       start_timeout=400) as hub:
        hub.admin.post(f"{hub.url}/hub/api/users", json={"usernames": hub.users}).raise_for_status()
        time.sleep(2)
        out["hub_idle_pss"] = pss(hub_processes(workshop.running_pid(hub.s)))
        t = time.perf_counter()
        hub.spawn(instructor)
        out["spawn_alone"] = time.perf_counter() - t
        # Ten learners log in at the same moment (the login form, one thread each) and their
        # servers are requested at once: no request waits for another's spawn.
        headers = {"Authorization": hub.admin.headers["Authorization"]}

        def log_in_and_spawn(user: str) -> None:
            _, r = hub.login(user, hub.passwords[user])
            assert r.status_code == 302, (user, r.status_code)
            requests.post(f"{hub.url}/hub/api/users/{user}/server", headers=headers, timeout=600).raise_for_status()

        start = time.perf_counter()
        pool = concurrent.futures.ThreadPoolExecutor(len(learners))
        requested = [pool.submit(log_in_and_spawn, u) for u in learners]
        ready = {}
        while len(ready) < n and time.perf_counter() - start < 600:
            for u in learners:
                if u not in ready and hub.admin.get(f"{hub.url}/hub/api/users/{u}").json()["servers"].get(
                        "", {}).get("ready"):
                    ready[u] = time.perf_counter() - start
            time.sleep(0.25)
        for f in requested:
            f.result()
        pool.shutdown()
        if len(ready) < n:
            raise RuntimeError(f"only {len(ready)} of {n} servers were ready after 600 s")
        out["spawn"] = sorted(ready.values())
        tokens = {u: hub.token(u) for u in learners}

        async def everyone():
            t0 = time.perf_counter()
            results = await asyncio.gather(*(run_notebook(hub.url, u, tokens[u], cells) for u in learners))
            return results, time.perf_counter() - t0

        per_learner, wall = asyncio.run(everyone())
        out["cells"] = [t for times in per_learner for t in times]
        out["notebook"] = [sum(times) for times in per_learner]
        out["run_wall"] = wall
        out["learner_pss"] = [pss(pids_of_user(pwd.getpwnam(u).pw_uid)) for u in learners]
        out["learner_cpu"] = [cpu_seconds(pids_of_user(pwd.getpwnam(u).pw_uid)) for u in learners]
        out["hub_pss"] = pss(hub_processes(workshop.running_pid(hub.s)))
        out["autograde"] = autograde_all(hub, instructor, learners)
    return out


def autograde_all(hub, instructor: str, learners: list[str]) -> dict:
    """Release ps1, every learner fetches and submits the solution, collect, grade.py autograde."""
    fg = f"/user/{instructor}/formgrader/api/assignment/{ASSIGNMENT}"
    for action in ("assign", "release"):
        hub.as_user(instructor, "POST", f"{fg}/{action}").raise_for_status()
    course = {"course_id": hub.s.course_id, "assignment_id": ASSIGNMENT}
    source = json.loads((ROOT / "exercises" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    for u in learners:
        hub.as_user(u, "POST", f"/user/{u}/assignments/fetch", data=course).raise_for_status()
        hub.as_user(u, "PUT", f"/user/{u}/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                    json={"type": "notebook", "format": "json", "content": source}).raise_for_status()
        hub.as_user(u, "POST", f"/user/{u}/assignments/submit", data=course).raise_for_status()
    t = time.perf_counter()
    hub.as_user(instructor, "POST", f"{fg}/collect").raise_for_status()
    collect = time.perf_counter() - t
    home = pathlib.Path(pwd.getpwnam(instructor).pw_dir)
    t = time.perf_counter()
    done = hub.run_as(instructor, [str(hub.s.venv / "bin" / "python"), str(home / "course" / "grade.py"),
                                   "autograde", ASSIGNMENT])
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    graded = len(list((home / "course" / "autograded").glob(f"*/{ASSIGNMENT}/*.ipynb")))
    return {"collect": collect, "autograde": time.perf_counter() - t, "graded": graded}


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1]


def main(n: int = 10) -> None:
    if os.geteuid() != 0:
        print("skipped: the hub benchmark creates Unix users and runs JupyterHub as root")
        return
    r = measure(n)
    cells, learner = r["cells"], [b / MIB for b in r["learner_pss"]]
    rows = [
        ("learners", f"{n}"),
        ("spawn, one server alone (s)", f"{r['spawn_alone']:.1f}"),
        ("spawn, N at once: first / median / last ready (s)",
         f"{r['spawn'][0]:.1f} / {statistics.median(r['spawn']):.1f} / {r['spawn'][-1]:.1f}"),
        (f"notebook 03 cells ({len(cells) // n} per learner), all N at once: median / p95 / max (s)",
         f"{statistics.median(cells):.2f} / {p95(cells):.2f} / {max(cells):.2f}"),
        ("notebook 03 top to bottom per learner: median / max (s)",
         f"{statistics.median(r['notebook']):.1f} / {max(r['notebook']):.1f}"),
        ("PSS per learner, server + kernel after notebook 03: median / max (MiB)",
         f"{statistics.median(learner):.0f} / {max(learner):.0f}"),
        ("CPU per learner, server + kernel, spawn + notebook 03: median / max (s)",
         f"{statistics.median(r['learner_cpu']):.1f} / {max(r['learner_cpu']):.1f}"),
        ("PSS of the hub + proxy + idle culler: idle / under load (MiB)",
         f"{r['hub_idle_pss'] / MIB:.0f} / {r['hub_pss'] / MIB:.0f}"),
        (f"collect {r['autograde']['graded']} submissions of ps1 (s)", f"{r['autograde']['collect']:.2f}"),
        (f"grade.py autograde, {r['autograde']['graded']} submissions of ps1 (s)",
         f"{r['autograde']['autograde']:.1f}"),
    ]
    rows.append(("load average during the run (1 / 5 / 15 min, on %d cores)" % os.cpu_count(),
                 " / ".join(f"{x:.1f}" for x in os.getloadavg())))
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}} | value\n{'-' * width}-|------")
    for k, v in rows:
        print(f"{k:<{width}} | {v}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
