"""Login throttling for the workshop hub: the PAM authenticator behind growing waits.

The count is kept per (user name, address) pair. After `allowed_failures` failed logins
for one user from one address, every further attempt for that user from that address
waits: the n-th failure past the allowance makes the next try possible only after
wait_n = `first_wait` * 2**(n-1) seconds, at most `max_wait`. An attempt during a wait
is answered 429 with the time left and its password is not checked, so guessing from
one address runs at one try per wait, doubling each time; a success clears the pair, and
a pair that has not failed for `max_wait` is forgotten once more than `kept_pairs` are
held (so made-up names cannot fill the hub's memory).

Keying on the pair, not on the user name or the address alone, is what keeps the
throttle from being a lock-out tool: wrong passwords typed for `teacher` on a learner's
laptop do not stop the teacher's own laptop, and made-up names tried behind a
classroom's NAT do not make the room's real learners wait. Guessing one password from
many addresses is not slowed by this; the hub's generated passwords (72 random bits,
`workshop.add_users`) make that hopeless, and an instructor who sets their own password
should make it as long. Behind a further reverse proxy, set
`JupyterHub.trusted_downstream_ips` so that the address is the learner's, not the proxy's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from jupyterhub.auth import PAMAuthenticator
from tornado import web
from traitlets import Float, Integer


@dataclass
class Record:
    failures: int = 0
    not_before: float = 0.0     # time.monotonic() before which an attempt is refused
    last: float = 0.0           # time.monotonic() of the last failure


class ThrottledPAMAuthenticator(PAMAuthenticator):
    """PAMAuthenticator with per-(user, address) waits that double after each failure."""

    allowed_failures = Integer(3, help="Failed logins for one user from one address before waits begin.").tag(config=True)
    first_wait = Float(2.0, help="Seconds of the first wait; each further failure doubles it.").tag(config=True)
    max_wait = Float(600.0, help="The longest wait, in seconds.").tag(config=True)
    kept_pairs = Integer(10_000, help="Pairs held before those quiet for max_wait are forgotten.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.records: dict[tuple[str, str], Record] = {}

    async def authenticate(self, handler, data):
        now = time.monotonic()
        user = self.normalize_username(str(data.get("username", "")))
        key = (user, handler.request.remote_ip if handler is not None else "")
        record = self.records.get(key)
        if record is not None and record.not_before > now:
            raise web.HTTPError(429, f"Too many failed logins for this user from this address: "
                                     f"try again in {record.not_before - now:.0f} s")
        result = await super().authenticate(handler, data)
        if result:
            self.records.pop(key, None)
            return result
        if len(self.records) >= self.kept_pairs:
            self.records = {k: r for k, r in self.records.items() if now - r.last < self.max_wait}
        record = self.records.setdefault(key, Record())
        record.failures += 1
        record.last = now
        past = record.failures - self.allowed_failures
        if past > 0:
            record.not_before = now + min(self.max_wait, self.first_wait * 2 ** (past - 1))
        return result
