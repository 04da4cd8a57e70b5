"""JupyterHub for a one-server workshop: real Unix users, the course, the nbgrader exchange.

Started by `make hub` (hub/workshop.py start) as root; every setting comes from
hub/workshop.py's `Settings` (OPTLESSONS_* environment variables, workshop
defaults). What it does:

* logins: the Unix password (PAM) of the members of the students' and the
  instructors' groups (`make hub-users ROSTER=roster.csv` creates them);
* each learner's server runs as that Unix user (LocalProcessSpawner) from the
  course environment PREFIX/venv, through PREFIX/bin/optlessons-singleuser
  (copies the course into the home, never over existing files), under prlimit:
  RLIMIT_DATA per process (memory) and RLIMIT_NPROC per user (processes and
  threads); JupyterLab opens notebooks/00_welcome.ipynb;
* students' servers have no formgrader / course list (instructors' do, on ~/course);
* the idle culler stops a server unused for OPTLESSONS_CULL_IDLE seconds (looking every
  OPTLESSONS_CULL_EVERY);
* every page, the hub's and each server's, under one Content-Security-Policy (no inline handlers);
* an `admin` service whose token (STATE/admin-service-token) manages users and
  servers: the tests and the load benchmark use it.
"""
import grp
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from limits import LimitedSpawner  # noqa: E402
from throttle import ThrottledPAMAuthenticator  # noqa: E402
from workshop import HUB_CSP, Settings  # noqa: E402

s = Settings()
c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

c.JupyterHub.bind_url = f"http://{s.ip}:{s.port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.port + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.port + 2}"
c.JupyterHub.db_url = f"sqlite:///{s.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(s.state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(s.state / "jupyterhub-process.pid")
# The hub's own pages under the same Content-Security-Policy as every server's (hub/workshop.py).
c.JupyterHub.tornado_settings = {"headers": {"Content-Security-Policy": HUB_CSP}}
c.ConfigurableHTTPProxy.pid_file = str(s.state / "proxy.pid")
# Behind TLS termination (nginx, caddy) on a real server: set these two or terminate TLS here.
# c.JupyterHub.ssl_cert = "/etc/letsencrypt/live/HOST/fullchain.pem"
# c.JupyterHub.ssl_key = "/etc/letsencrypt/live/HOST/privkey.pem"

# ---- who logs in -------------------------------------------------------------
# PAM behind growing waits: after 3 failed logins for a user from one address each try from there
# waits twice as long as the one before (hub/throttle.py; keyed on the pair so no one is locked out).
c.JupyterHub.authenticator_class = ThrottledPAMAuthenticator
c.PAMAuthenticator.allowed_groups = {s.students_group, s.instructors_group}
c.PAMAuthenticator.open_sessions = False   # no systemd-logind here: sessions would only fail
c.ThrottledPAMAuthenticator.first_wait = s.login_wait

# ---- each learner's server -------------------------------------------------------
# Each learner's server, and all it starts, in a cgroup of its own (memory with swap, a CPU quota,
# a task count) with a private /tmp (hub/limits.py); prlimit keeps a per-process memory bound.
c.JupyterHub.spawner_class = LimitedSpawner
c.LimitedSpawner.memory = s.learner_memory
c.LimitedSpawner.cpu = s.learner_cpu
c.LimitedSpawner.pids = s.nproc_limit
c.LimitedSpawner.tmp_bytes = s.tmp_bytes
c.LimitedSpawner.group_prefix = str(s.port)
c.Spawner.cmd = [shutil.which("prlimit") or "/usr/bin/prlimit", f"--data={s.mem_limit}", f"--nproc={s.nproc_limit}", "--",
                 str(s.prefix / "bin" / "optlessons-singleuser")]
c.Spawner.default_url = "/lab/tree/notebooks/00_welcome.ipynb"
# window.jupyterapp for the browser test; no news or update checks (a workshop is often offline);
# kernel messages sent without Nagle's delay, so a dragged slider's figure follows the hand
# (courseops.labserver, as `make lab` does through jupyter-config/).
c.Spawner.args = ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
                  "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                  "--ServerApp.kernel_websocket_connection_class=courseops.labserver.NoDelayKernelConnection"]
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = s.start_timeout
c.Spawner.http_timeout = s.start_timeout
c.Spawner.environment = {
    "OPTLESSONS_EXCHANGE": str(s.exchange),
    "OPTLESSONS_COURSE_ID": s.course_id,
    # The course's models are small: one BLAS thread each, so N learners share the cores.
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "PATH": f"{s.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
}


def is_instructor(name: str) -> bool:
    return name in grp.getgrnam(s.instructors_group).gr_mem


def per_role(spawner) -> None:
    """Instructors get formgrader on ~/course; students a configuration without formgrader (both
    under the hub's Content-Security-Policy)."""
    role = "instructor" if is_instructor(spawner.user.name) else "student"
    spawner.environment["OPTLESSONS_ROLE"] = role
    spawner.environment["JUPYTER_CONFIG_PATH"] = str(s.prefix / "etc" / role)


c.Spawner.pre_spawn_hook = per_role

# ---- services ----------------------------------------------------------------------
c.JupyterHub.services = [
    {"name": "idle-culler",
     "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={s.cull_idle}",
                 f"--cull-every={s.cull_interval}"]},
    {"name": "admin", "api_token": s.service_token_file.read_text().strip()},
]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    {"name": "workshop-admin", "services": ["admin"],
     "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]},
]
