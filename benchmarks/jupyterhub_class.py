"""A class on JupyterHub, on this machine: N students run notebook 05 at the same time, each through
their own single-user server's kernel, and what each cost is measured.

    python benchmarks/jupyterhub_class.py --students 5          # quick mode (FER_QUICK=1), the default
    python benchmarks/jupyterhub_class.py --students 5 --full   # the notebook's full timing loops

It starts JupyterHub (deploy/jupyterhub/jupyterhub_config.py: shared-password login, local process
spawner, loopback only) in a temporary folder; logs each student in with the shared password and gets
them an API token; starts their server; uploads a copy of the notebook with its outputs cleared into
their own course folder (~/fer-course/notebooks, FER_HOME) through their server's contents API; runs
its code cells in a kernel of their server, over the kernel websocket, all students at once; and saves
the executed notebook back through the contents API. Per student it prints the kernel's peak resident
memory (VmHWM), its CPU-seconds, the wall time of the run, the server's own memory, and whether the
kernel imported TensorFlow; it writes them to benchmarks/results/jupyterhub_class.json.
Needs jupyterhub and configurable-http-proxy (pip, the [dev] extra).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
NOTEBOOK = ROOT / "notebooks" / "05_faces_in_photos_and_video.ipynb"
COURSE_DIR = "fer-course/notebooks"  # where each student's notebooks live, relative to their home
CELL_TIMEOUT_S = 600
# Asked of each kernel after the notebook's cells, outside the notebook: its peak and CPU so far, and
# whether anything it ran imported TensorFlow.
PROBE = """
import json as _j, resource as _r, sys as _s
_u = _r.getrusage(_r.RUSAGE_SELF)
print(_j.dumps({"peak_rss_mb": [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 1024,
                "cpu_s": _u.ru_utime + _u.ru_stime, "tensorflow": "tensorflow" in _s.modules,
                "fer_home": __import__("os").environ.get("FER_HOME")}))
"""


def missing_tools() -> str | None:
    """Why a hub cannot start here (jupyterhub or the proxy missing), or None."""
    import importlib.util

    if importlib.util.find_spec("jupyterhub") is None:
        return "jupyterhub is not installed (pip install -e '.[dev]')"
    if not (shutil.which("configurable-http-proxy", path=str(Path(sys.executable).parent))
            or shutil.which("configurable-http-proxy")):
        return "configurable-http-proxy is not installed (pip install -e '.[dev]')"
    if not Path("/proc/self/status").exists():
        return "the per-student figures read /proc (Linux only)"
    return None


def free_port_block(n: int = 3) -> int:
    """The first of `n` consecutive free TCP ports on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            start = s.getsockname()[1]
        if start + n < 65535 and all(_port_free(start + k) for k in range(n)):
            return start
    raise RuntimeError("no block of free ports on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@dataclass
class Hub:
    """A running JupyterHub in `root`, reachable at `url`, with an admin service token."""

    root: Path
    url: str
    password: str
    admin_token: str
    process: subprocess.Popen
    log_path: Path

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        import requests

        r = requests.request(method, f"{self.url}/hub/api{path}", timeout=60,
                             headers={"Authorization": f"token {token or self.admin_token}"}, **kwargs)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.text else None

    def memory_mb(self) -> dict[str, float]:
        """Resident memory now of the hub and of its proxy (the students' servers are counted per student)."""
        import psutil

        hub = psutil.Process(self.process.pid)
        proxy = [p for p in hub.children()
                 if any(name in " ".join(p.cmdline()) for name in ("configurable-http-proxy", "proxy.py"))]
        return {"hub_mb": hub.memory_info().rss / 2**20, "proxy_mb": sum(p.memory_info().rss for p in proxy) / 2**20}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_hub(root: Path, quick: bool = True, timeout_s: float = 120) -> Hub:
    """Start JupyterHub with the course's local config in `root`; wait until its API answers."""
    import requests

    port = free_port_block()
    password, token = secrets.token_urlsafe(12), secrets.token_hex(32)
    env = {**os.environ, "FER_HUB_ROOT": str(root), "FER_HUB_PORT": str(port), "FER_HUB_PASSWORD": password,
           "FER_HUB_API_TOKEN": token, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["FER_QUICK"] = "1" if quick else ""
    log_path = root / "jupyterhub.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)], cwd=root, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    hub = Hub(root, f"http://127.0.0.1:{port}", password, token, process, log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(f"{hub.url}/hub/api", timeout=5).status_code == 200:
                return hub
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    hub.stop()
    raise RuntimeError(f"JupyterHub did not answer in {timeout_s:.0f} s: {log_path.read_text()[-2000:]}")


@dataclass
class Student:
    """One student: their login, token, and what their run measured."""

    name: str
    token: str = ""
    ok: bool = False
    error: str = ""
    cells: int = 0
    wall_s: float = 0.0
    kernel: dict = field(default_factory=dict)
    server_peak_rss_mb: float = 0.0


def log_in(hub: Hub, name: str) -> Student:
    """Log `name` in with the shared password (the login form, as a browser does) and make them a token
    with their own session (the REST API, with the session's XSRF token)."""
    import requests

    with requests.Session() as s:
        s.get(f"{hub.url}/hub/login", timeout=30)
        xsrf = s.cookies.get("_xsrf", "")
        r = s.post(f"{hub.url}/hub/login?next=", data={"username": name, "password": hub.password, "_xsrf": xsrf},
                   timeout=60, allow_redirects=False)
        if r.status_code != 302:
            raise RuntimeError(f"login of {name} failed: {r.status_code}")
        xsrf = s.cookies.get("_xsrf", path="/hub/")  # a new one, tied to the logged-in session
        r = s.post(f"{hub.url}/hub/api/users/{name}/tokens", json={"note": "class run", "expires_in": 3600},
                   headers={"X-XSRFToken": xsrf, "Referer": f"{hub.url}/hub/"}, timeout=60)
        if r.status_code >= 400:
            raise RuntimeError(f"token for {name}: {r.status_code} {r.text[:300]}")
        return Student(name, token=r.json()["token"])


def start_servers(hub: Hub, students: list[Student], timeout_s: float = 300) -> None:
    """Start every student's server with their own token, all at once, and wait until the hub says
    each is ready."""
    for student in students:
        hub.api("POST", f"/users/{student.name}/server", token=student.token)
    waiting, deadline = list(students), time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline:
        for student in list(waiting):
            servers = hub.api("GET", f"/users/{student.name}", token=student.token)["servers"]
            if "" not in servers:
                raise RuntimeError(f"the server of {student.name} failed to start: {hub.log_path.read_text()[-1500:]}")
            if servers[""].get("ready"):
                waiting.remove(student)
        time.sleep(0.5)
    if waiting:
        raise RuntimeError(f"not ready in {timeout_s:.0f} s: the servers of {', '.join(s.name for s in waiting)}")


class RemoteKernel:
    """A kernel of a student's server, driven over jupyter_server's kernel websocket (JSON messages)."""

    def __init__(self, server_url: str, token: str, notebook_path: str):
        import requests
        import websocket

        self.server_url, self.headers = server_url, {"Authorization": f"token {token}"}
        r = requests.post(f"{server_url}/api/sessions", headers=self.headers, timeout=120,
                          json={"path": notebook_path, "type": "notebook", "name": Path(notebook_path).name,
                                "kernel": {"name": "python3"}})
        r.raise_for_status()
        self.session_id, self.kernel_id = r.json()["id"], r.json()["kernel"]["id"]
        self.client_session = uuid.uuid4().hex
        ws_url = server_url.replace("http://", "ws://") + f"/api/kernels/{self.kernel_id}/channels?session_id={self.client_session}"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=CELL_TIMEOUT_S)

    def execute(self, code: str) -> tuple[list, str]:
        """Run `code`; its outputs (nbformat) and the reply's status ('ok', 'error')."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "student", "session": self.client_session,
                       "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        outputs, status, idle = [], None, False
        while status is None or not idle:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if msg["channel"] == "shell" and kind == "execute_reply":
                status = msg["content"]["status"]
            elif kind == "status":
                idle = msg["content"]["execution_state"] == "idle"
            elif kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(msg))
        return outputs, status

    def close(self) -> None:
        import requests

        self.ws.close()
        requests.delete(f"{self.server_url}/api/sessions/{self.session_id}", headers=self.headers, timeout=60)


def run_notebook(hub: Hub, student: Student, notebook: nbformat.NotebookNode, start: threading.Barrier) -> None:
    """Upload `notebook` (outputs cleared) into the student's course folder, run its code cells in a
    kernel of their server, ask the kernel what it cost, save the executed copy back."""
    import requests

    server = f"{hub.url}/user/{student.name}"
    headers = {"Authorization": f"token {student.token}"}
    path = f"{COURSE_DIR}/{NOTEBOOK.name}"
    try:
        blank = copy.deepcopy(notebook)
        for cell in blank.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        requests.put(f"{server}/api/contents/{path}", headers=headers, timeout=60,
                     json={"type": "notebook", "format": "json", "content": blank}).raise_for_status()
        start.wait()
        began = time.monotonic()
        kernel = RemoteKernel(server, student.token, path)
        try:
            for count, cell in enumerate((c for c in blank.cells if c.cell_type == "code"), 1):
                cell.outputs, status = kernel.execute(cell.source)
                cell.execution_count = count
                student.cells = count
                if status != "ok":
                    raise RuntimeError(f"cell {count} failed: " + "; ".join(o.get("ename", "") + ": " + o.get("evalue", "")
                                                                          for o in cell.outputs if o.output_type == "error"))
            student.wall_s = time.monotonic() - began
            probe, _ = kernel.execute(PROBE)
            student.kernel = json.loads("".join(o.get("text", "") for o in probe if o.output_type == "stream"))
        finally:
            kernel.close()
        requests.put(f"{server}/api/contents/{path}", headers=headers, timeout=60,
                     json={"type": "notebook", "format": "json", "content": blank}).raise_for_status()
        student.ok = True
    except Exception as e:  # one student's failure is reported in the table, the others carry on
        student.error = f"{type(e).__name__}: {e}"
        start.abort()


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM in /proc), in MB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(s for s in status if s.startswith("VmHWM:")).split()[1]) / 1024


def server_peaks_mb(hub: Hub) -> dict[str, float]:
    """Each student's single-user server process: its peak resident memory (VmHWM), by user name."""
    import psutil

    peaks = {}
    for p in psutil.Process(hub.process.pid).children(recursive=True):
        try:
            user = p.environ().get("JUPYTERHUB_USER")
            if user and "singleuser" in " ".join(p.cmdline()):
                peaks[user] = peak_rss_mb(p.pid)
        except (psutil.Error, OSError):
            continue
    return peaks


def run_class(n_students: int, root: Path, quick: bool = True) -> dict:
    """Start a hub in `root`, run the class, stop the hub; the measurements."""
    hub = start_hub(root, quick=quick)
    try:
        students = [log_in(hub, f"student{k + 1}") for k in range(n_students)]
        start_servers(hub, students)
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        start = threading.Barrier(n_students)
        began = time.monotonic()
        threads = [threading.Thread(target=run_notebook, args=(hub, s, notebook, start)) for s in students]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        class_wall_s = time.monotonic() - began
        for name, peak in server_peaks_mb(hub).items():
            next(s for s in students if s.name == name).server_peak_rss_mb = peak
        memory = hub.memory_mb()
    finally:
        hub.stop()
    return {"students": [record(s) for s in students], "class_wall_s": round(class_wall_s, 1), "quick": quick,
            **{k: round(v, 1) for k, v in memory.items()}}


def record(student: Student) -> dict:
    """What is kept of a student's run: the figures, rounded; never the token."""
    out = {k: v for k, v in asdict(student).items() if k != "token"}
    out["kernel"] = {k: round(v, 2) if isinstance(v, float) else v for k, v in student.kernel.items()}
    out["wall_s"], out["server_peak_rss_mb"] = round(student.wall_s, 1), round(student.server_peak_rss_mb, 1)
    return out


def table(result: dict) -> str:
    """The per-student table, as printed."""
    lines = [f"{'student':<10}{'ok':>4}{'cells':>7}{'kernel peak MB':>16}{'kernel CPU s':>14}{'wall s':>8}"
             f"{'server peak MB':>16}{'tensorflow':>12}"]
    for s in result["students"]:
        k = s["kernel"]
        lines.append(f"{s['name']:<10}{'yes' if s['ok'] else 'NO':>4}{s['cells']:>7}{k.get('peak_rss_mb', float('nan')):>16.0f}"
                     f"{k.get('cpu_s', float('nan')):>14.1f}{s['wall_s']:>8.1f}{s['server_peak_rss_mb']:>16.0f}"
                     f"{str(k.get('tensorflow', '?')):>12}" + (f"  {s['error']}" if s["error"] else ""))
    lines.append(f"all {len(result['students'])} at once: {result['class_wall_s']:.1f} s; hub {result['hub_mb']:.0f} MB, "
                 f"proxy {result['proxy_mb']:.0f} MB")
    return "\n".join(lines)


SIZING_CORES, SIZING_GB = (2, 4, 8), (8, 16, 32)
RUN_ALL_WITHIN_S = 60  # the CPU criterion: the whole class presses "Run all" at once and is done within this
RESERVED_GB = 1.0  # per node, for the system (Kubernetes' own pods, the kubelet)


def sizing(result: dict) -> dict:
    """Students per node from the measured figures: the fewer of what the cores allow (every student's
    run of the notebook done within RUN_ALL_WITHIN_S when all start at once: students x CPU-seconds <=
    cores x RUN_ALL_WITHIN_S) and what the memory allows (students x (kernel peak + server peak) + hub +
    proxy <= memory - RESERVED_GB), with the largest per-student figures of the run."""
    ok = [s for s in result["students"] if s["ok"]]
    cpu_s = max(s["kernel"]["cpu_s"] for s in ok)
    student_mb = max(s["kernel"]["peak_rss_mb"] + s["server_peak_rss_mb"] for s in ok)
    shared_mb = result["hub_mb"] + result["proxy_mb"]
    by_cpu = {c: int(c * RUN_ALL_WITHIN_S // cpu_s) for c in SIZING_CORES}
    by_memory = {g: int((g * 1024 - RESERVED_GB * 1024 - shared_mb) // student_mb) for g in SIZING_GB}
    return {"cpu_s_per_student": round(cpu_s, 1), "mb_per_student": round(student_mb), "hub_and_proxy_mb": round(shared_mb),
            "run_all_within_s": RUN_ALL_WITHIN_S, "reserved_gb": RESERVED_GB,
            "by_cores": {str(c): n for c, n in by_cpu.items()}, "by_memory_gb": {str(g): n for g, n in by_memory.items()},
            "students_per_node": {f"{c} cores, {g} GB": min(by_cpu[c], by_memory[g]) for c in SIZING_CORES for g in SIZING_GB}}


def sizing_table(figures: dict) -> str:
    """The sizing as a Markdown table (docs/course.md holds this text)."""
    per_node = figures["students_per_node"]
    lines = ["| students per node | " + " | ".join(f"{g} GB" for g in SIZING_GB) + " |",
             "|---|" + "---|" * len(SIZING_GB)]
    lines += [f"| {c} cores | " + " | ".join(str(per_node[f"{c} cores, {g} GB"]) for g in SIZING_GB) + " |" for c in SIZING_CORES]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=5, help="how many students at once (default 5)")
    ap.add_argument("--full", action="store_true", help="full mode (default: quick mode, FER_QUICK=1)")
    args = ap.parse_args()
    if args.students < 1:
        print("--students must be at least 1", file=sys.stderr)
        return 2
    problem = missing_tools()
    if problem:
        print(f"cannot start a hub here: {problem}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results_file import write_result
    from fer_utils.timing import cpu_description

    with tempfile.TemporaryDirectory(prefix="fer-hub-") as tmp:
        result = run_class(args.students, Path(tmp), quick=not args.full)
    load = os.getloadavg()[0]
    print(f"notebook 05, {'quick' if not args.full else 'full'} mode, {args.students} students at once; "
          f"CPU: {cpu_description()}, {os.cpu_count()} cores; load average {load:.1f} at the end")
    print(table(result))
    result["sizing"] = sizing(result)
    print(f"students per node (one run of the notebook: {result['sizing']['cpu_s_per_student']} CPU-s, "
          f"{result['sizing']['mb_per_student']} MB with its server):")
    print(sizing_table(result["sizing"]))
    result["load_average_at_end"] = round(load, 1)
    result["notebook"] = f"notebooks/{NOTEBOOK.name}"
    for s in result["students"]:
        s["kernel"].pop("fer_home", None)  # a temporary folder's path means nothing later
    print("wrote", write_result("jupyterhub_class", result).relative_to(ROOT))
    return 0 if all(s["ok"] for s in result["students"]) else 1


if __name__ == "__main__":
    sys.exit(main())
