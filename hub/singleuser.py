"""Start one learner's server: the command LocalProcessSpawner runs as that learner (never root).

Installed by `make hub-install` as PREFIX/bin/optlessons-singleuser with the course
environment's Python, and started under prlimit (the hub's per-user limits). It
copies the course into the home on every spawn without replacing anything already
there (a learner's edits stay; a deleted notebook comes back fresh), gives an
instructor their course directory ~/course on first spawn, then becomes
jupyterhub-singleuser.
"""
import os
import shutil
import sys
from pathlib import Path

PREFIX = Path(__file__).resolve().parent.parent
HOME = Path.home()


def copy_missing(src: Path, dest: Path) -> None:
    """Copy every file of `src` that `dest` lacks; leave existing files alone."""
    for root, _dirs, files in os.walk(src):
        target = dest / Path(root).relative_to(src)
        if target.is_symlink() and not target.exists():
            target.unlink()        # a fetched copy that was deleted: the release copy comes back
        target.mkdir(exist_ok=True)
        for name in files:
            if not (target / name).exists():
                shutil.copyfile(Path(root) / name, target / name)


os.umask(0o077)
copy_missing(PREFIX / "course", HOME)
if os.environ.get("OPTLESSONS_ROLE") == "instructor" and not (HOME / "course").exists():
    copy_missing(PREFIX / "instructor" / "course", HOME / "course")
os.chdir(HOME)
singleuser = str(PREFIX / "venv" / "bin" / "jupyterhub-singleuser")
os.execv(singleuser, [singleuser, *sys.argv[1:]])
