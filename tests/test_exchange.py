"""courseops.exchange: a submission is the student's own only if the student owns every file of it."""

import os
import pwd

import pytest

pytest.importorskip("nbgrader")
from courseops.exchange import owner_problem  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")


def test_owned_submission_passes_and_a_foreign_file_or_unknown_user_is_named(tmp_path):
    nobody = pwd.getpwnam("nobody")
    sub = tmp_path / "nobody+ps1+2026-01-01 00:00:00.000000 UTC+abc"
    (sub / "ps1").mkdir(parents=True)
    (sub / "ps1" / "ps1.ipynb").write_text("{}")
    for p in (sub, sub / "ps1", sub / "ps1" / "ps1.ipynb"):
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    assert owner_problem(str(sub), "nobody") is None
    assert owner_problem(str(sub), "root") == f"{sub.name} belongs to nobody, not root"
    assert owner_problem(str(sub), "olt-no-such-user") == "'olt-no-such-user' is not a user of this server"
    os.symlink("/etc/shadow", sub / "ps1" / "link")          # root's link inside nobody's folder
    assert owner_problem(str(sub), "nobody") == f"{sub.name}/ps1/link belongs to root, not nobody"
