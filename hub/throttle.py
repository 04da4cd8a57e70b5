"""Login throttling for the workshop hub: the PAM authenticator behind growing waits.

After `allowed_failures` failed logins for one user name (or `allowed_address_failures`
from one address: a classroom shares one behind NAT, so that limit is higher), every
further attempt for it waits: the n-th failure past the allowance makes the next try
possible only after wait_n = `first_wait` * 2**(n-1) seconds, at most `max_wait`. An
attempt during a wait is answered 429 with the time left and its password is not
checked, so guessing runs at one try per wait, doubling each time; a successful
login clears the user's and the address's count.
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


class ThrottledPAMAuthenticator(PAMAuthenticator):
    """PAMAuthenticator with per-user and per-address waits that double after each failure."""

    allowed_failures = Integer(3, help="Failed logins for one user before waits begin.").tag(config=True)
    allowed_address_failures = Integer(20, help="Failed logins from one address before waits begin.").tag(config=True)
    first_wait = Float(2.0, help="Seconds of the first wait; each further failure doubles it.").tag(config=True)
    max_wait = Float(600.0, help="The longest wait, in seconds.").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.records: dict[tuple[str, str], Record] = {}

    def _keys(self, handler, data: dict) -> list[tuple[tuple[str, str], int]]:
        user = self.normalize_username(str(data.get("username", "")))
        address = handler.request.remote_ip if handler is not None else ""
        return [(("user", user), self.allowed_failures), (("address", address), self.allowed_address_failures)]

    async def authenticate(self, handler, data):
        now = time.monotonic()
        keys = self._keys(handler, data)
        wait = max((self.records[k].not_before - now for k, _ in keys if k in self.records), default=0)
        if wait > 0:
            raise web.HTTPError(429, f"Too many failed logins for this user or from this address: "
                                     f"try again in {wait:.0f} s")
        result = await super().authenticate(handler, data)
        for key, allowed in keys:
            if result:
                self.records.pop(key, None)
                continue
            record = self.records.setdefault(key, Record())
            record.failures += 1
            past = record.failures - allowed
            if past > 0:
                record.not_before = now + min(self.max_wait, self.first_wait * 2 ** (past - 1))
        return result
