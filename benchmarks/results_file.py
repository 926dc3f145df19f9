"""Where the benchmark scripts write what they measured: one JSON file each under
benchmarks/results/, with the command and the CPU, so that notebooks and the README read the
figures from one place instead of retyping them."""
import json
import platform
import sys
from pathlib import Path

from fer_utils.data import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo (what `lscpu | grep 'Model name'` shows) and its core count."""
    import os

    name = platform.processor() or platform.machine()
    try:
        name = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{os.cpu_count()} x {name} ({simd})"


def write_result(name: str, result: dict) -> Path:
    """Write `result` plus the command line and CPU to benchmarks/results/NAME.json; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    script = Path(sys.argv[0])
    command = f"python benchmarks/{script.name} " + " ".join(sys.argv[1:])
    path.write_text(json.dumps({"command": command.strip(), "cpu": cpu_name(), **result}, indent=1) + "\n")
    return path
