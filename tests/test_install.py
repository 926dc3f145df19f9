"""The pip path (pyproject.toml) and the conda path (environment.yml) pin the same versions, and the
support table in the README is the one benchmarks/wheel_support.py measured."""
import json
import re
import sys
import tomllib

import pytest

from fer_utils.data import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import wheel_support  # noqa: E402


def all_pins() -> list[str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    extras = [d for group in project["optional-dependencies"].values() for d in group]
    return project["dependencies"] + [d for d in extras if not d.startswith(project["name"])]


def test_environment_yml_pins_the_same_packages_as_pyproject():
    env = re.findall(r"^\s+- ([A-Za-z0-9_.-]+==.+?)\s*$", (PROJECT_ROOT / "environment.yml").read_text(), re.M)
    assert sorted(all_pins()) == sorted(env)
    assert all("==" in d for d in all_pins()), "every dependency is pinned"


def test_markers_keep_tensorflow_off_python_3_14_and_litert_off_intel_macs():
    reqs = [r for group in wheel_support.pinned_requirements().values() for r in group]
    names = lambda py, plat: {p.split("==")[0] for p in wheel_support.for_target(reqs, py, plat)[0]}  # noqa: E731
    assert {"tensorflow-cpu", "keras", "ai-edge-litert"} <= names("3.13", "linux-x86_64")
    assert {"tensorflow", "keras", "ai-edge-litert"} <= names("3.12", "linux-aarch64")
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & names("3.14", "windows-amd64")
    assert "ai-edge-litert" in names("3.14", "macos-arm64") and "ai-edge-litert" not in names("3.11", "macos-x86_64")


def test_the_readme_support_table_is_the_measured_one():
    rows = json.loads((PROJECT_ROOT / "benchmarks" / "results" / "wheel_support.json").read_text())["rows"]
    assert wheel_support.table(rows) in (PROJECT_ROOT / "README.md").read_text()
    pinned = {(r["python"], r["platform"]): sorted(r["pins"]) for r in rows}
    reqs = [r for group in wheel_support.pinned_requirements().values() for r in group]
    for (py, plat), pins in pinned.items():  # the table was measured for today's pins
        assert sorted(set(wheel_support.for_target(reqs, py, plat)[0])) == pins, (py, plat)


def test_pins_resolve_from_wheels_on_python_3_14_without_tensorflow():
    """Asks the package index (network), as `benchmarks/wheel_support.py` does for every pair: Python 3.14 on
    Linux x86_64 installs everything but TensorFlow from wheels. (This interpreter's own pair is proven by
    the install that runs these tests.)"""
    row = wheel_support.check("3.14", "linux-x86_64")
    if row.get("error") and ("NewConnectionError" in row["error"] or "Could not fetch URL" in row["error"]):
        pytest.skip("the package index cannot be reached")
    assert row["resolves"] and not row["missing"], row
    assert {"tensorflow-cpu==2.21.0", "keras==3.15.1"} <= set(row["left_out_by_markers"])
    assert "ai-edge-litert==2.3.0" in row["pins"]
