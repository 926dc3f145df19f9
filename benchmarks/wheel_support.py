"""Which Pythons and platforms the pinned series installs on, from wheels only, without those interpreters.

For each (Python, platform) pair it evaluates the environment markers of every pin in pyproject.toml
(the base install and its extras) for that target, then asks pip to resolve the rest with
`pip install --dry-run --ignore-installed --only-binary=:all: --target TMP --python-version V --platform ...`,
passing every platform tag the target accepts (pip does not expand manylinux_2_28 to _2_27 and older).
A pin with no wheel is named, dropped and the rest resolved again, so every gap is listed.

    python benchmarks/wheel_support.py            # all pairs: prints the table, writes results/wheel_support.json
    python benchmarks/wheel_support.py --python 3.13 --platform linux-x86_64 --no-write

Limits: markers of the pins' own dependencies are evaluated by pip for the running interpreter, not the target
(they are pure-Python helpers such as colorama on Windows). Needs the package index (network).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "wheel_support.json"
README = ROOT / "README.md"
PYTHONS = ("3.11", "3.12", "3.13", "3.14")


def _manylinux(arch: str) -> list[str]:
    return [f"manylinux_2_{minor}_{arch}" for minor in range(39, 16, -1)] + [f"manylinux2014_{arch}"]


def _macos(arch: str) -> list[str]:
    majors = [(15, 0), (14, 0), (13, 0), (12, 0), (11, 0)] + [(10, m) for m in range(15, 8, -1)]
    return [f"macosx_{a}_{b}_{t}" for a, b in majors for t in (arch, "universal2")
            if not (arch == "arm64" and a == 10)]


# name: (pip platform tags, marker environment, what a person calls it)
PLATFORMS = {
    "linux-x86_64": (_manylinux("x86_64"), {"sys_platform": "linux", "platform_system": "Linux",
                                            "platform_machine": "x86_64", "os_name": "posix"}, "Linux x86_64"),
    "linux-aarch64": (_manylinux("aarch64"), {"sys_platform": "linux", "platform_system": "Linux",
                                              "platform_machine": "aarch64", "os_name": "posix"}, "Linux aarch64"),
    "macos-arm64": (_macos("arm64"), {"sys_platform": "darwin", "platform_system": "Darwin",
                                      "platform_machine": "arm64", "os_name": "posix"}, "macOS Apple silicon"),
    "macos-x86_64": (_macos("x86_64"), {"sys_platform": "darwin", "platform_system": "Darwin",
                                        "platform_machine": "x86_64", "os_name": "posix"}, "macOS Intel"),
    "windows-amd64": (["win_amd64"], {"sys_platform": "win32", "platform_system": "Windows",
                                      "platform_machine": "AMD64", "os_name": "nt"}, "Windows x86_64"),
}


def pinned_requirements(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, list[Requirement]]:
    """The pins of the base install and of each extra, as `packaging` requirements (markers kept)."""
    project = tomllib.loads(pyproject.read_text())["project"]
    groups = {"base": project["dependencies"], **project.get("optional-dependencies", {})}
    return {name: [Requirement(r) for r in reqs if not r.startswith(project["name"])] for name, reqs in groups.items()}


def for_target(requirements: list[Requirement], python: str, platform: str) -> tuple[list[str], list[str]]:
    """(the pins that apply to the target, the pins its markers leave out), markers evaluated for the target."""
    env = {**PLATFORMS[platform][1], "python_version": python, "python_full_version": python + ".0",
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    kept, dropped = [], []
    for r in requirements:
        applies = r.marker is None or Marker(str(r.marker)).evaluate({**env, "extra": ""})
        (kept if applies else dropped).append(f"{r.name}{r.specifier}")
    return kept, dropped


def _unresolvable(stderr: str, pins: list[str]) -> str | None:
    """The pin (or dependency) pip names as having no matching distribution."""
    m = re.search(r"(?:No matching distribution found for|satisfies the requirement) ([A-Za-z0-9_.\-\[\]]+)", stderr)
    if not m:
        return None
    name = re.split(r"[<>=!~\[ ]", m.group(1))[0].lower().replace("_", "-")
    return next((p for p in pins if re.split(r"[<>=!~]", p)[0].lower().replace("_", "-") == name), m.group(1))


def resolve(pins: list[str], python: str, platform: str) -> dict:
    """Resolve `pins` from wheels for the target; drop each pin pip names as missing and try again."""
    missing, remaining = [], list(pins)
    while remaining:
        with tempfile.TemporaryDirectory() as target:
            cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                   "--only-binary=:all:", "--target", target, "--python-version", python, "--report", "-",
                   *[a for tag in PLATFORMS[platform][0] for a in ("--platform", tag)], *remaining]
            run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode == 0:
            report = json.loads(run.stdout)
            return {"resolves": not missing, "missing": missing,
                    "installed": len(report.get("install", []))}
        culprit = _unresolvable(run.stderr, remaining)
        if culprit is None:
            return {"resolves": False, "missing": missing, "error": run.stderr.strip().splitlines()[-1][:300]}
        missing.append(culprit)
        if culprit in remaining:
            remaining.remove(culprit)
        else:  # a dependency of some pin: nothing of ours to drop, so stop here
            return {"resolves": False, "missing": missing}
    return {"resolves": False, "missing": missing, "installed": 0}


def check(python: str, platform: str) -> dict:
    """One (Python, platform) pair: the whole series (base + every extra), markers evaluated for it."""
    groups = pinned_requirements()
    everything = [r for reqs in groups.values() for r in reqs]
    kept, dropped = for_target(everything, python, platform)
    return {"python": python, "platform": platform, "pins": sorted(set(kept)),
            "left_out_by_markers": sorted(set(dropped)), **resolve(sorted(set(kept)), python, platform)}


def what_works(row: dict) -> str:
    """One cell of the support table, from one result row."""
    name = lambda pin: re.split(r"[<>=!~]", pin)[0]  # noqa: E731
    installs = {name(p) for p in row["pins"]} - {name(p) for p in row["missing"]}
    if not row["resolves"] and row.get("error"):
        return "does not resolve: " + row["error"]
    parts = []
    if not installs & {"tensorflow", "tensorflow-cpu", "ai-edge-litert"}:
        parts.append("no training and no inference: neither TensorFlow nor LiteRT has a wheel")
    elif not installs & {"tensorflow", "tensorflow-cpu"}:
        parts.append("everything but training (no TensorFlow wheel): inference on LiteRT")
    elif "ai-edge-litert" not in installs:
        parts.append("everything; inference on Keras (no LiteRT wheel)")
    others = sorted({name(p) for p in row["missing"]} - {"tensorflow", "tensorflow-cpu", "keras", "ai-edge-litert"})
    if others:
        parts.append("no wheel: " + ", ".join(others))
    return "; ".join(parts) or "everything"


def table(rows: list[dict]) -> str:
    """The README's support table: one row per Python, one column per platform."""
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    lines = ["| Python | " + " | ".join(PLATFORMS[p][2] for p in platforms) + " |",
             "|---|" + "---|" * len(platforms)]
    for py in dict.fromkeys(r["python"] for r in rows):
        cells = [what_works(next(r for r in rows if r["python"] == py and r["platform"] == p)) for p in platforms]
        lines.append(f"| {py} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_block(text: str, block: str, name: str = "wheel-support") -> str:
    """`text` with the lines between <!-- NAME:start --> and <!-- NAME:end --> replaced by `block`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", choices=PYTHONS, help="default: all of " + ", ".join(PYTHONS))
    ap.add_argument("--platform", action="append", choices=list(PLATFORMS), help="default: all")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README's table from the results file")
    args = ap.parse_args(argv)
    if args.readme_only:
        from fer_utils.files import write_text

        write_text(README, replace_block(README.read_text(), table(json.loads(RESULTS.read_text())["rows"])))
        return 0
    rows = []
    for py in args.python or PYTHONS:
        for plat in args.platform or PLATFORMS:
            row = check(py, plat)
            print(f"{py} {plat}: {'resolves' if row['resolves'] else 'GAPS'}; left out by markers: "
                  f"{', '.join(row['left_out_by_markers']) or '-'}; no wheel: {', '.join(row['missing']) or '-'}",
                  flush=True)
            rows.append(row)
    print()
    print(table(rows))
    if not args.no_write:
        from fer_utils.files import write_text

        if RESULTS.exists() and (args.python or args.platform):  # a partial run updates its rows only
            fresh = {(r["python"], r["platform"]) for r in rows}
            old = [r for r in json.loads(RESULTS.read_text())["rows"] if (r["python"], r["platform"]) not in fresh]
            order = {(py, plat): i for i, (py, plat) in enumerate((py, plat) for py in PYTHONS for plat in PLATFORMS)}
            rows = sorted(old + rows, key=lambda r: order[(r["python"], r["platform"])])
        write_text(RESULTS, json.dumps({"command": "python benchmarks/wheel_support.py", "rows": rows}, indent=2) + "\n")
        write_text(README, replace_block(README.read_text(), table(rows)))
        print(f"wrote {RESULTS.relative_to(ROOT)} and the table in README.md")
    return 0 if all(r["resolves"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
