"""hub/throttle.py: waits keyed on the (user, address) pair, so guessing is slowed and no one is locked out.

The authenticator runs over a fake PAM that knows a few passwords; addresses stand for
laptops (a learner's, the instructor's) and for a classroom's NAT.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


class _Request:
    def __init__(self, ip):
        self.remote_ip = ip


class _Handler:
    def __init__(self, ip):
        self.request = _Request(ip)


@pytest.fixture
def clock(monkeypatch):
    """time.monotonic() as a list the test moves forward."""
    now = [1000.0]
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    return now


def throttled(monkeypatch, passwords: dict, **config):
    """hub/throttle.py's authenticator over a fake PAM that knows `passwords`."""
    pytest.importorskip("jupyterhub", reason="the hub extra is not installed (make hub-install)")
    pytest.importorskip("pamela", reason="the hub extra is not installed (make hub-install)")
    sys.path.insert(0, str(ROOT / "hub"))
    try:
        from throttle import ThrottledPAMAuthenticator
    finally:
        sys.path.remove(str(ROOT / "hub"))
    from jupyterhub.auth import PAMAuthenticator

    async def pam(self, handler, data):
        return data["username"] if passwords.get(data["username"]) == data["password"] else None
    monkeypatch.setattr(PAMAuthenticator, "authenticate", pam)
    return ThrottledPAMAuthenticator(**config)


def login(auth, ip, user, password):
    """The user name on success, 403 on a wrong password, 429 during a wait."""
    from tornado import web
    try:
        return asyncio.run(auth.authenticate(_Handler(ip), {"username": user, "password": password})) or 403
    except web.HTTPError as exc:
        return exc.status_code


def test_guessing_from_one_address_waits_twice_as_long_after_each_failure(monkeypatch, clock):
    auth = throttled(monkeypatch, {"ada": "hers"}, first_wait=2.0)
    assert [login(auth, "10.0.0.66", "ada", "guess") for _ in range(3)] == [403] * 3
    for wait in (2, 4, 8, 16):
        assert login(auth, "10.0.0.66", "ada", "guess") == 403       # checked: the wait starts
        assert login(auth, "10.0.0.66", "ada", "hers") == 429        # not even the right one is checked
        clock[0] += wait - 0.5
        assert login(auth, "10.0.0.66", "ada", "guess") == 429
        clock[0] += 0.5
    assert login(auth, "10.0.0.66", "ada", "hers") == "ada"
    assert [login(auth, "10.0.0.66", "ada", "guess") for _ in range(3)] == [403] * 3   # a success clears


def test_the_wait_stops_at_max_wait(monkeypatch, clock):
    auth = throttled(monkeypatch, {"ada": "hers"}, first_wait=2.0, max_wait=10.0)
    for _ in range(12):
        login(auth, "10.0.0.66", "ada", "guess")
        clock[0] += 10.0
    login(auth, "10.0.0.66", "ada", "guess")
    clock[0] += 10.0
    assert login(auth, "10.0.0.66", "ada", "hers") == "ada"


def test_a_stranger_cannot_lock_the_instructor_out(monkeypatch, clock):
    """attack3: 4 wrong passwords for `teacher` from a learner's laptop locked the instructor out."""
    auth = throttled(monkeypatch, {"teacher": "right", "ada": "hers"})
    for _ in range(10):
        login(auth, "10.0.0.66", "teacher", "guess")                 # a learner's laptop
    assert login(auth, "10.0.0.66", "teacher", "right") == 429       # that laptop waits
    assert login(auth, "10.0.0.1", "teacher", "right") == "teacher"  # the instructor's own does not


def test_wrong_passwords_of_one_learner_do_not_lock_out_the_room(monkeypatch, clock):
    """attack3: behind one address (a classroom NAT), 21 made-up names made every learner wait."""
    auth = throttled(monkeypatch, {"ada": "hers", "alan": "his"})
    for i in range(21):
        login(auth, "127.0.0.1", f"nobody{i}", "guess")
    for _ in range(5):
        login(auth, "127.0.0.1", "alan", "guess")                    # one learner's own typos
    assert login(auth, "127.0.0.1", "ada", "hers") == "ada"


def test_made_up_names_cannot_fill_the_hubs_memory(monkeypatch, clock):
    auth = throttled(monkeypatch, {"ada": "hers"}, kept_pairs=100, max_wait=60.0)
    for i in range(1000):
        login(auth, "10.0.0.66", f"nobody{i}", "guess")
        clock[0] += 1.0                                               # one made-up name a second
    assert len(auth.records) <= 100 + 60
