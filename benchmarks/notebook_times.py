"""How long each notebook takes to run top to bottom, in quick mode (`FER_QUICK=1`, the committed sample)
and in full mode (FER-2013), measured by executing it with `jupyter nbconvert --execute` in a fresh
kernel. Writes benchmarks/results/notebook_times.json (merged with the entries already there), the one
source of every notebook time the series quotes (benchmarks/figures.py checks the quotes).

    python benchmarks/notebook_times.py --mode quick                  # every notebook, quick mode
    python benchmarks/notebook_times.py --mode full --data PATH/TO/fer2013.csv.gz --notebooks 07 08
    python benchmarks/notebook_times.py --mode quick --mode full --data PATH --update-notebooks

`--update-notebooks` rewrites the **Time.** line of each measured notebook's outcomes cell from the file,
and the table of times in docs/course.md (between its `notebook-times` markers).
Measure on a quiet machine: the load average at the start and the end of each run is recorded, and a
run on a busy machine says so in the notebook.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from results_file import RESULTS_DIR, write_result  # noqa: E402
from wheel_support import replace_block  # noqa: E402
from fer_utils.data import PROJECT_ROOT  # noqa: E402
from fer_utils.files import write_text  # noqa: E402
from fer_utils.timing import cpu_description  # noqa: E402

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
COURSE_GUIDE = PROJECT_ROOT / "docs" / "course.md"
RESULTS = RESULTS_DIR / "notebook_times.json"
TIME_LINE = re.compile(r"^\*\*Time\.\*\*.*$", re.M)
READING = re.compile(r"Reading: about \d+ min\.")


def run_notebook(path: Path, mode: str, data: str | None, timeout_s: int) -> dict:
    """Execute one notebook in a fresh kernel (output discarded) and time it, with the load average."""
    env = dict(os.environ)
    env.pop("FER_QUICK", None)
    if mode == "quick":
        env["FER_QUICK"] = "1"
    elif data:
        env["FER2013_PATH"] = str(Path(data).resolve())
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--stdout",
                           f"--ExecutePreprocessor.timeout={timeout_s}", str(path)],
                          env=env, cwd=path.parent, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{path.name} failed in {mode} mode: {last}")
    return {"seconds": round(seconds, 1), "load_start": round(load_start, 2), "load_end": round(os.getloadavg()[0], 2),
            "cores": os.cpu_count(), "cpu": cpu_description(),
            "command": f"python benchmarks/notebook_times.py --mode {mode}" + (" --data PATH/TO/fer2013.csv.gz" if mode == "full" else ""),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def busy(entry: dict) -> bool:
    """True when other processes wanted the CPU during the run (load average above the core count)."""
    return max(entry["load_start"], entry["load_end"]) > entry["cores"]


def time_line(old_line: str, entry: dict) -> str:
    """A notebook's **Time.** line from its measured entry (both modes, or 'not measured yet')."""
    reading = READING.search(old_line)
    parts = []
    for mode, what in (("quick", "`FER_QUICK=1`, the 308-face sample"), ("full", "FER-2013")):
        m = entry.get(mode)
        if m is None:
            parts.append(f"{mode} mode not measured yet")
            continue
        load = f"load average {m['load_start']:.1f} -> {m['load_end']:.1f} on {m['cores']} cores"
        parts.append(f"{m['seconds']:.0f} s in {mode} mode ({what}; {load}"
                     + ("; a busy machine, so an upper bound" if busy(m) else "") + ")")
    cpus = sorted({entry[m]["cpu"] for m in ("quick", "full") if m in entry})
    return (f"**Time.** {reading.group(0) + ' ' if reading else ''}Running all cells on {' / '.join(cpus) or 'a CPU'}: "
            f"{', '.join(parts)}; measured by `python benchmarks/notebook_times.py`. A plan for a course: "
            "[docs/course.md](../docs/course.md).")


def notebook_title(path: Path) -> str:
    """'01 How a CNN sees a face' from the notebook's first heading ('# 01. How a CNN sees a face')."""
    heading = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return heading.lstrip("# ").replace(".", "", 1).split(":")[0]


def course_table(times: dict) -> str:
    """The course guide's table: one row per notebook, seconds per mode and the load average while measuring."""
    rows = ["| notebook | quick mode | full mode | load average (start -> end), quick / full |", "|---|---|---|---|"]
    for stem in sorted(times):
        entry = times[stem]
        title = notebook_title(NOTEBOOKS_DIR / f"{stem}.ipynb")
        cells = [f"{entry[m]['seconds']:.0f} s" if m in entry else "not measured" for m in ("quick", "full")]
        loads = " / ".join(f"{entry[m]['load_start']:.1f} -> {entry[m]['load_end']:.1f}" + (" (busy)" if busy(entry[m]) else "")
                           for m in ("quick", "full") if m in entry)
        rows.append(f"| {title} | {cells[0]} | {cells[1]} | {loads} |")
    return "\n".join(rows)


def update_course_guide(times: dict) -> bool:
    """Rewrite the table between the `notebook-times` markers of docs/course.md; False when it has no markers."""
    text = COURSE_GUIDE.read_text()
    if "<!-- notebook-times:start -->" not in text:
        return False
    write_text(COURSE_GUIDE, replace_block(text, course_table(times), "notebook-times"))
    return True


def update_notebook(path: Path, entry: dict) -> bool:
    """Rewrite the **Time.** line of the notebook's outcomes cell; False when it has none."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and str(cell.get("id", "")).endswith("-outcomes") and TIME_LINE.search(cell.source):
            cell.source = TIME_LINE.sub(lambda m: time_line(m.group(0), entry), cell.source, count=1)
            write_text(path, nbformat.writes(nb) + "\n")
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", action="append", choices=("quick", "full"), help="quick and/or full (repeat the option)")
    ap.add_argument("--notebooks", nargs="*", help="numbers such as 07 08 (default: every notebook)")
    ap.add_argument("--data", help="FER-2013 for full mode (default: $FER2013_PATH)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell (default 3600)")
    ap.add_argument("--update-notebooks", action="store_true",
                    help="rewrite each measured notebook's Time line and the course guide's table")
    args = ap.parse_args(argv)
    modes = args.mode or ["quick"]
    if "full" in modes and not (args.data or os.environ.get("FER2013_PATH")):
        print("error: full mode needs FER-2013: pass --data PATH/TO/fer2013.csv.gz (or set FER2013_PATH)", file=sys.stderr)
        return 2
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.name[:2] in args.notebooks]
        if not paths:
            print(f"error: no notebook numbered {' '.join(args.notebooks)} in notebooks/", file=sys.stderr)
            return 2
    times = json.loads(RESULTS.read_text()).get("notebooks", {}) if RESULTS.is_file() else {}
    failed = 0
    for path in paths:
        for mode in modes:
            try:
                entry = run_notebook(path, mode, args.data, args.timeout)
            except RuntimeError as e:  # the others are still measured and written
                print(f"error: {e}", file=sys.stderr)
                failed += 1
                continue
            times.setdefault(path.stem, {})[mode] = entry
            print(f"{path.stem}, {mode} mode: {entry['seconds']:.1f} s (load average {entry['load_start']:.1f} -> "
                  f"{entry['load_end']:.1f} on {entry['cores']} cores{'; busy' if busy(entry) else ''}; {entry['cpu']})")
    write_result("notebook_times", {"notebooks": dict(sorted(times.items()))})
    if args.update_notebooks:
        for path in (p for p in paths if p.stem in times):
            if not update_notebook(path, times[path.stem]):
                print(f"warning: {path.name} has no outcomes cell with a **Time.** line: not updated", file=sys.stderr)
        if not update_course_guide(times):
            print("warning: docs/course.md has no notebook-times markers: its table is not updated", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
