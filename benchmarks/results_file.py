"""Where the benchmark scripts write what they measured: one JSON file each under
benchmarks/results/, with the command and the CPU, so that notebooks and the README read the
figures from one place instead of retyping them."""
import json
import sys
from pathlib import Path

from fer_utils.data import PROJECT_ROOT
from fer_utils.timing import cpu_description
from fer_utils.files import write_text
from fer_utils.results import portable_command

RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"


def write_result(name: str, result: dict) -> Path:
    """Write `result` plus the command line (paths made portable) and CPU to benchmarks/results/NAME.json; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    command = portable_command(f"python benchmarks/{Path(sys.argv[0]).name}", sys.argv[1:])
    write_text(path, json.dumps({"command": command, "cpu": cpu_description(), **result}, indent=1) + "\n")
    return path
