"""A test hub and a client for it: what tests/test_hub.py and benchmarks/bench_hub.py share.

    with temporary_hub(roster, passwords) as hub:     # hub: HubClient
        hub.spawn(*hub.users); hub.as_user(user, "GET", f"/user/{user}/api/contents")

`temporary_hub` runs the hub on free loopback ports with its own state folder
and exchange in /srv/olt-hub-* (not /tmp: each learner has a private /tmp), creates the roster's Unix users, and removes
users (homes, processes), hub and folder afterwards, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import pwd
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time

import secrets

import requests

import workshop


def free_ports(n: int = 3) -> int:
    """A port p with p … p+n-1 free on 127.0.0.1 (the hub, its API, the proxy's API)."""
    for _ in range(200):
        p = random.randrange(20000, 40000)
        try:
            socks = []
            for q in range(p, p + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports on 127.0.0.1")


class HubClient:
    """A running hub: log in, get tokens, call its REST API, spawn, run commands as a user.

    `admin` is a requests session with the admin service's token.
    """

    def __init__(self, settings: workshop.Settings, roster: list[tuple[str, str]], passwords: dict[str, str]):
        self.s, self.passwords = settings, passwords
        self.url = settings.url
        self.users = [u for u, _ in roster]
        self.instructors = [u for u, role in roster if role == "instructor"]
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = "token " + settings.service_token_file.read_text().strip()
        self.tokens: dict[str, str] = {}

    def login(self, user: str, password: str):
        """POST the login form as a browser does (with the _xsrf cookie); returns (session, response)."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login")
        r = session.post(f"{self.url}/hub/login", allow_redirects=False,
                         data={"username": user, "password": password,
                               "_xsrf": session.cookies.get("_xsrf", "")})
        return session, r

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = self.admin.post(f"{self.url}/hub/api/users/{user}/tokens", json={"note": "test"})
            r.raise_for_status()
            self.tokens[user] = r.json()["token"]
        return self.tokens[user]

    def as_user(self, user: str, method: str, path: str, token_of: str | None = None, **kw):
        """Call `path` (below the hub's URL) with `token_of`'s token (default: `user`'s)."""
        headers = {"Authorization": "token " + self.token(token_of or user)}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=300, **kw)

    def spawn(self, *users: str, timeout: float | None = None) -> None:
        """Start the servers of `users` and wait until all answer (default: the hub's start timeout)."""
        timeout = timeout or self.s.start_timeout + 30
        for u in users:
            r = self.admin.post(f"{self.url}/hub/api/users/{u}/server")
            assert r.status_code in (201, 202, 400), r.text      # 400: already running
        deadline = time.monotonic() + timeout
        waiting = set(users)
        while waiting and time.monotonic() < deadline:
            for u in sorted(waiting):
                model = self.admin.get(f"{self.url}/hub/api/users/{u}").json()
                if model["servers"].get("", {}).get("ready"):
                    waiting.discard(u)
            time.sleep(0.5)
        assert not waiting, f"servers of {sorted(waiting)} not ready in {timeout} s"

    def stop_server(self, user: str, timeout: float = 60) -> None:
        self.admin.delete(f"{self.url}/hub/api/users/{user}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.admin.get(f"{self.url}/hub/api/users/{user}").json()
            if not model["servers"] and not model.get("pending"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{user}'s server did not stop in {timeout} s")

    def terminal(self, user: str, command: str, timeout: float = 900) -> tuple[int, str]:
        """Type `command` into a new terminal of `user`'s JupyterLab; (exit status, terminal output)."""
        return asyncio.run(self._terminal(user, command, timeout))

    async def _terminal(self, user: str, command: str, timeout: float) -> tuple[int, str]:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        r = self.as_user(user, "POST", f"/user/{user}/api/terminals")
        r.raise_for_status()
        name = r.json()["name"]
        ws = await websocket_connect(HTTPRequest(
            f"{self.url.replace('http', 'ws', 1)}/user/{user}/terminals/websocket/{name}",
            headers={"Authorization": "token " + self.token(user)}))
        await ws.write_message(json.dumps(["stdin", f"{command}; echo __done__$?\r"]))
        out, deadline = "", time.monotonic() + timeout
        try:
            while not (done := re.search(r"__done__(\d+)", out)):
                message = await asyncio.wait_for(ws.read_message(), timeout=deadline - time.monotonic())
                if message is None:
                    raise RuntimeError(f"{user}'s terminal closed before `{command}` finished:\n{out}")
                kind, *content = json.loads(message)
                if kind == "stdout":
                    out += content[0]
        finally:
            ws.close()
            self.as_user(user, "DELETE", f"/user/{user}/api/terminals/{name}")
        return int(done.group(1)), out

    def run_as(self, user: str, argv: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
        """Run `argv` as Unix user `user` with the environment of their JupyterLab terminal."""
        home = pwd.getpwnam(user).pw_dir
        role = "instructor" if user in self.instructors else "student"
        env = ["HOME=" + home, "USER=" + user, f"PATH={self.s.venv / 'bin'}:/usr/bin:/bin",
               "OPTLESSONS_ROLE=" + role, f"OPTLESSONS_EXCHANGE={self.s.exchange}",
               f"OPTLESSONS_COURSE_ID={self.s.course_id}", "OPENBLAS_NUM_THREADS=1"]
        return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *env, *argv],
                              cwd=cwd or home, capture_output=True, text=True, timeout=600)


@contextlib.contextmanager
def temporary_hub(roster: list[tuple[str, str]], passwords: dict[str, str] | None = None, **settings):
    """A hub for `roster` ((user, role) pairs) on free ports; everything removed on exit.

    `settings` override Settings fields (e.g. cull_idle=3600).
    """
    base = pathlib.Path(tempfile.mkdtemp(prefix="olt-hub-", dir="/srv"))
    os.chmod(base, 0o755)                      # the users reach the exchange inside it
    env = {"OPTLESSONS_STATE": str(base / "state"), "OPTLESSONS_EXCHANGE": str(base / "exchange"),
           "OPTLESSONS_PORT": str(free_ports()), "OPTLESSONS_IP": "127.0.0.1",
           "OPTLESSONS_EXCHANGE_BYTES": str(256 * 2**20)}
    env.update({f"OPTLESSONS_{k.upper()}": str(v) for k, v in settings.items()})
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    s = workshop.Settings()
    passwords = passwords or {u: "pw-" + secrets.token_urlsafe(12) for u, _ in roster}
    try:
        workshop.add_users(s, roster, passwords)
        workshop.start(s)
        yield HubClient(s, roster, passwords)
    finally:
        try:
            workshop.stop(s)
        finally:
            workshop.remove_users([u for u, _ in roster])
            workshop.unmount_exchange(s)
            shutil.rmtree(base, ignore_errors=True)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

