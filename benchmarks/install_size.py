"""How big each install is: a fresh virtual environment per install command, its size on disk (`du`) and
the time the install took, with this machine's Python. Writes results/install_size.json and the README's table.

    python benchmarks/install_size.py          # base, [app], [dev] and the web app's requirements.txt
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402
from wheel_support import README, replace_block  # noqa: E402

from fer_utils.files import write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INSTALLS = {  # name: pip arguments, run in the repository folder
    "pip install -e .": ["-e", "."],
    'pip install -e ".[app]"': ["-e", ".[app]"],
    'pip install -e ".[dev]"': ["-e", ".[dev]"],
    "pip install -r app/requirements.txt (the web app's server)": ["-r", "app/requirements.txt"],
}


def measure(args: list[str]) -> dict:
    """Install into a new venv; its size in MB, the seconds the install took, and whether TensorFlow is in it."""
    with tempfile.TemporaryDirectory() as folder:
        venv = Path(folder) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / ("Scripts" if platform.system() == "Windows" else "bin") / "python"
        start = time.perf_counter()
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        size_kb = int(subprocess.run(["du", "-sk", str(venv)], capture_output=True, text=True).stdout.split()[0])
        has_tf = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('tensorflow') is not None)"],
                                capture_output=True, text=True).stdout.strip() == "True"
    return {"mb": round(size_kb / 1024), "install_s": round(seconds), "tensorflow": has_tf}


def table(rows: dict, python: str, cpu: str) -> str:
    lines = [f"Install sizes, measured by `python benchmarks/install_size.py` (a fresh virtual environment each, Python "
             f"{python}, Linux x86_64, pip's cache warm; {cpu}):", "",
             "| install | size on disk | TensorFlow | install time |", "|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| `{name}` | {r['mb'] / 1024:.2f} GB | {'yes' if r['tensorflow'] else 'no'} | {r['install_s']} s |")
    return "\n".join(lines)


def main() -> int:
    rows = {}
    for name, args in INSTALLS.items():
        rows[name] = measure(args)
        print(name, rows[name], flush=True)
    path = write_result("install_size", {"python": platform.python_version(), "installs": rows})
    result = json.loads(path.read_text())
    write_text(README, replace_block(README.read_text(), table(rows, result["python"], result["cpu"]), "install-figures"))
    print(table(rows, result["python"], result["cpu"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
