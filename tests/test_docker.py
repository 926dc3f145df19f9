"""The web app's container (Dockerfile, .dockerignore), checked without a Docker daemon: the build context
keeps secrets and local data out, the image runs as an unprivileged user, and the files the Dockerfile
copies, with app/requirements.txt installed into a fresh virtual environment (no TensorFlow), start the app."""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from fer_utils.data import PROJECT_ROOT

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
IGNORE = [line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
          if line.strip() and not line.lstrip().startswith("#")]


def _glob_regex(pattern: str) -> re.Pattern:
    """Docker's pattern syntax as a regular expression: `**` any folders, `*` and `?` within one name."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(path: str, patterns: list[str] = IGNORE) -> bool:
    """Whether Docker leaves `path` (relative, with /) out of the build context: the last pattern that
    matches the path or one of its folders decides; `!` brings a path back."""
    parts, verdict = path.split("/"), False
    for raw in patterns:
        keep = raw.startswith("!")
        regex = _glob_regex(raw.lstrip("!").strip("/"))
        if any(regex.fullmatch("/".join(parts[:k])) for k in range(1, len(parts) + 1)):
            verdict = not keep
    return verdict


def copied_sources() -> list[str]:
    """The source paths of the Dockerfile's COPY lines."""
    return [src for line in DOCKERFILE.splitlines() if line.startswith("COPY ") for src in line.split()[1:-1]]


def test_the_build_context_keeps_secrets_and_local_data_out():
    for path in (".streamlit/secrets.toml", "app/.streamlit/secrets.toml", "secrets.toml", ".env", "app/.env",
                 "data/fer2013.csv.gz", "data/fer2013/train/happy/1.png", "runs/teachers/x.keras", ".venv/bin/python",
                 ".git/config", "figures/05_video_probabilities.png", "student/01.ipynb", "notebooks/05_x.ipynb",
                 "fer_utils/__pycache__/data.cpython-311.pyc", "frontend/node_modules/x/index.js", "models/teachers/a/card.json"):
        assert ignored(path), f"{path} would be sent to the Docker build"
    for path in ("app/streamlit_app.py", "app/requirements.txt", "fer_utils/pipeline.py", "models/fer_vgg_bn.tflite",
                 "models/fer_vgg_bn.json", ".streamlit/config.toml"):
        assert not ignored(path), f"{path} is needed in the image"
    assert all(not ignored(src) for src in copied_sources()), "a COPY source is left out of the build context"


def test_the_image_runs_as_an_unprivileged_user_without_tensorflow():
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert DOCKERFILE.index("USER ") < DOCKERFILE.index("CMD "), "USER comes before the command"
    assert ".streamlit/secrets.toml" not in DOCKERFILE and not re.search(r"^COPY \.streamlit\s", DOCKERFILE, re.M)
    requirements = (PROJECT_ROOT / "app" / "requirements.txt").read_text().lower()
    assert not re.search(r"^(tensorflow|tensorflow-cpu|keras)\b", requirements, re.M)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.network
def test_the_app_starts_from_the_image_files_in_a_fresh_environment(tmp_path):
    """What `docker build` and `docker run` do, without Docker: the files the Dockerfile copies (after
    .dockerignore), app/requirements.txt in a fresh virtual environment, the image's command."""
    context = tmp_path / "srv"
    for src in copied_sources():
        for f in [PROJECT_ROOT / src] if (PROJECT_ROOT / src).is_file() else sorted((PROJECT_ROOT / src).rglob("*")):
            rel = f.relative_to(PROJECT_ROOT).as_posix()
            if f.is_file() and not ignored(rel):
                (context / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, context / rel)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(context / "app" / "requirements.txt")],
                         capture_output=True, text=True, timeout=1200)
    if pip.returncode and re.search(r"NewConnectionError|Could not fetch URL|Temporary failure in name resolution", pip.stderr):
        pytest.skip("the package index cannot be reached")
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FER_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"PYTHONPATH": str(context), "HOME": str(tmp_path)}
    check = ("import importlib.util, sys\n"
             "from streamlit.testing.v1 import AppTest\n"
             "at = AppTest.from_file('app/streamlit_app.py', default_timeout=180).run()\n"
             "assert not at.exception, at.exception\n"
             "print(importlib.util.find_spec('tensorflow') is None, 'tensorflow' in sys.modules)\n")
    done = subprocess.run([str(python), "-c", check], cwd=context, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["True", "False"], "TensorFlow is installed in, or imported by, the app's environment"
    port = _free_port()
    server = subprocess.Popen([str(venv / "bin" / "streamlit"), "run", "app/streamlit_app.py", "--server.address=127.0.0.1",
                               f"--server.port={port}", "--server.headless=true"], cwd=context, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, health = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None and health != b"ok":
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read()
            except OSError:
                time.sleep(1)
        assert health == b"ok", f"the app did not answer its health check: {server.poll()}"
    finally:
        server.terminate()
        server.wait(30)
