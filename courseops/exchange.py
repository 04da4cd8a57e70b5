"""nbgrader's exchange on a shared server, with collection that checks who submitted.

nbgrader's own `collect` trusts the student id in a submission's folder name
(`<student>+<assignment>+<timestamp>+<random>`): `nbgrader submit --student=bob`
run by alice is collected as bob's work, and nbgrader only logs "cheating
attempt?". `OwnerCheckedCollect` refuses such a submission instead: a submission
is collected only when its folder and every file in it belong to the Unix user
named by the student id. The workshop hub (hub/) selects it with

    c.ExchangeFactory.collect = "courseops.exchange.OwnerCheckedCollect"
"""

from __future__ import annotations

import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect


def owner_problem(path: str, student: str) -> str | None:
    """Why the submission folder `path` is not `student`'s own, or None when it is.

    Owned means: `student` is a Unix user, and `path` and everything under it
    (symbolic links included, not followed) have that user's uid.
    """
    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        return f"{student!r} is not a user of this server"
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            owner = os.lstat(name).st_uid
            if owner != uid:
                try:
                    who = pwd.getpwuid(owner).pw_name
                except KeyError:
                    who = f"uid {owner}"
                return f"{os.path.relpath(name, os.path.dirname(path))} belongs to {who}, not {student}"
    return None


class OwnerCheckedCollect(ExchangeCollect):
    """nbgrader's collect, refusing every submission not owned by the student it names.

    Among a student's submissions the newest *owned* one is collected (a forged,
    newer one cannot hide the real one); a student with no owned submission gets
    nothing collected, and each refusal is logged as an error naming the owner.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._problems: dict[str, str | None] = {}      # submission folder name -> why refused

    def _problem(self, record: dict) -> str | None:
        """Why `record` is refused (logged once, as an error), or None."""
        name = record["filename"]
        if name not in self._problems:
            self._problems[name] = owner_problem(os.path.join(self.inbound_path, name), record["username"])
            if self._problems[name]:
                self.log.error("Refused submission %s: %s", name, self._problems[name])
        return self._problems[name]

    def _sort_by_timestamp(self, records: list[dict]) -> list[dict]:
        # Owned submissions first, newest first; nbgrader takes the first of the list.
        return sorted(records, key=lambda r: (self._problem(r) is None, r["timestamp"]), reverse=True)

    def copy_files(self) -> None:
        self.src_records = [r for r in self.src_records if self._problem(r) is None]
        super().copy_files()
