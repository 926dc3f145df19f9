"""A JupyterHub for a class on one machine, without Kubernetes: the shared-password (dummy)
authenticator and the local process spawner, on loopback only. It is what tests/test_jupyterhub.py and
benchmarks/jupyterhub_class.py start, and a way to try the class set-up on a laptop:

    FER_HUB_ROOT=/tmp/fer-hub FER_HUB_PASSWORD=... jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Every student gets a home folder FER_HUB_ROOT/homes/NAME, and in it their own copy of the course
(FER_HOME=~/fer-course, made by course_home.py on each start), so nothing they run writes into this
checkout. NOT for real students: the dummy authenticator lets anyone with the shared password in, and
the local process spawner runs every server as the hub's own user. A real class uses config.yaml
(Zero to JupyterHub on Kubernetes) next to this file.

Settings (environment): FER_HUB_ROOT (required: homes, database, cookie secret), FER_HUB_PASSWORD
(required), FER_HUB_PORT (default 8000; the hub's internal API and the proxy's API take the next two
ports), FER_HUB_API_TOKEN (optional: a service token with admin rights over users and servers, for
scripts). FER_QUICK and FER2013_PATH pass through to every student's server.
"""
import os
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
sys.path.insert(0, str(HERE))
from course_home import make_course_home  # noqa: E402

c = get_config()  # noqa: F821 - defined by JupyterHub when it loads this file
root = Path(os.environ["FER_HUB_ROOT"]).resolve()
port = int(os.environ.get("FER_HUB_PORT", "8000"))
root.mkdir(parents=True, exist_ok=True)


class CourseSpawner(SimpleLocalProcessSpawner):
    """Each student's server in their own home folder under FER_HUB_ROOT/homes, with their own copy of
    the course in ~/fer-course (FER_HOME), made before the server starts."""

    def get_env(self):
        env = super().get_env()
        env["FER_HOME"] = str(Path(self.home_dir) / "fer-course")
        return env

    async def start(self):
        make_course_home(REPOSITORY, Path(self.home_dir) / "fer-course")
        return await super().start()


c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = port + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"
c.ConfigurableHTTPProxy.should_start = True
# pip's configurable-http-proxy next to this Python, through proxy.py (which mends its binary websocket messages,
# notebook 06's camera frames), or else npm's on PATH
if shutil.which("configurable-http-proxy", path=str(Path(sys.executable).parent)):
    c.ConfigurableHTTPProxy.command = [sys.executable, str(HERE / "proxy.py")]
else:
    c.ConfigurableHTTPProxy.command = ["configurable-http-proxy"]
c.JupyterHub.db_url = f"sqlite:///{root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(root / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(root / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["FER_HUB_PASSWORD"]
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = CourseSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(root / "homes" / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # this environment's, wherever PATH points
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:  # a CI container runs as root; the servers run as the hub's user anyway
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "FER_QUICK", "FER2013_PATH"]
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
if os.environ.get("FER_HUB_API_TOKEN"):
    c.JupyterHub.services = [{"name": "class-runner", "api_token": os.environ["FER_HUB_API_TOKEN"]}]
    c.JupyterHub.load_roles = [{"name": "class-runner", "services": ["class-runner"],
                                "scopes": ["admin:users", "admin:servers", "tokens", "access:servers"]}]
