"""The notebooks' set-up check: is everything this notebook needs installed, at the versions the series
pins? One line per problem, with the command that fixes it, instead of an ImportError twenty cells later.

    from fer_utils.environment import check_environment
    check_environment(tensorflow=True)   # a notebook that trains or looks inside the Keras model
"""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import re
import sys
from pathlib import Path

from packaging.markers import Marker

DISTRIBUTION = "fer-utils"
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "keras")
SUPPORTED_PYTHONS = ((3, 11), (3, 14))  # inclusive; TensorFlow (training) up to 3.13


class SetupError(RuntimeError):
    """What this environment lacks for a notebook, in one line with the fix. IPython shows it without a
    traceback (`_render_traceback_`), and "Run All" stops at it."""

    def _render_traceback_(self) -> list[str]:
        return [f"SetupError: {self}"]


def cpu_info() -> tuple[str, set[str]]:
    """This machine's CPU model name and its feature flags, from /proc/cpuinfo (Linux); elsewhere the
    platform's processor name and no flags."""
    import platform

    name, flags = platform.processor() or platform.machine(), set()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return name, flags
    name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), name)
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    return name, flags


def pinned_versions(extras: tuple[str, ...] = ()) -> dict[str, str]:
    """{distribution: pinned version} that apply to this interpreter and platform, from the installed
    fer-utils' metadata (pyproject.toml's pins), base install plus `extras`."""
    pins = {}
    for line in metadata.requires(DISTRIBUTION) or []:
        requirement, _, marker = line.partition(";")
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", requirement)
        if not m:
            continue
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra and extra.group(1) not in extras:
            continue
        env = {"extra": extra.group(1)} if extra else {"extra": ""}
        if marker.strip() and not Marker(marker).evaluate(env):
            continue
        pins[m.group(1).lower()] = m.group(2)
    return pins


def environment_problems(tensorflow: bool = False, extras: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """(problems that stop the notebook, warnings): missing packages, other versions than the pins."""
    stops, warnings = [], []
    version = sys.version_info[:2]
    if not SUPPORTED_PYTHONS[0] <= version <= SUPPORTED_PYTHONS[1]:
        stops.append(f"Python {version[0]}.{version[1]} is not supported: use Python 3.11 to 3.14 (README, Install)")
    try:
        pins = pinned_versions(extras)
    except metadata.PackageNotFoundError:
        return stops + ["the fer_utils package is not installed: run `pip install -e .` in the repository folder"], []
    if tensorflow and not any(name in pins for name in ("tensorflow", "tensorflow-cpu")):
        where = f"Python {version[0]}.{version[1]}" if version >= (3, 14) else "this platform (an Intel Mac?)"
        stops.append(f"this notebook needs TensorFlow, which has no wheel for {where}: run it with Python 3.11-3.13 "
                     f"on Linux, Windows or an Apple-silicon Mac (README, Set-up)")
    for name, pinned in sorted(pins.items()):
        if name in TENSORFLOW_DISTRIBUTIONS and not tensorflow:
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            stops.append(f"{name} is not installed: pip install {name}=={pinned} (or `pip install -e .` again)")
            continue
        if installed != pinned:
            warnings.append(f"{name} {installed} is installed; the series was tested with {pinned} "
                            f"(pip install {name}=={pinned} if something misbehaves)")
    stops += opencv_conflict()
    if not stops:
        try:
            import cv2  # noqa: F401
        except ImportError as e:
            stops.append(import_problem(e))
    return stops, warnings


def import_problem(error: ImportError) -> str:
    """One line for an ImportError: which package or system library is missing and how to add it."""
    text = str(error)
    if "libGL.so" in text or "libglib" in text or "libgthread" in text:
        return (f"OpenCV's GUI build needs the system's OpenGL and GLib libraries ({text.split(':')[0]}): "
                f"sudo apt-get install libgl1 libglib2.0-0 (Debian/Ubuntu); on a server without a screen, "
                f"pip uninstall -y opencv-python && pip install opencv-python-headless=={_opencv_pin()} instead")
    missing = getattr(error, "name", None) or text
    return f"{missing} cannot be imported ({text}): run `pip install -e .` in the repository folder (README, Set-up)"


def _opencv_pin() -> str:
    try:
        return pinned_versions().get("opencv-python", "4.14.0.94")
    except metadata.PackageNotFoundError:
        return "4.14.0.94"


def opencv_conflict() -> list[str]:
    """Two OpenCV wheels share one `cv2` folder, so which build runs depends on install order, and
    uninstalling either breaks the other; the series installs the GUI build, opencv-python."""
    names = [n for n in ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                         "opencv-contrib-python-headless") if _installed(n)]
    if len(names) < 2:
        return []
    return [f"{' and '.join(names)} are both installed and share the cv2 folder: run `pip uninstall -y "
            f"{' '.join(names)}` and then `pip install -e .` again"]


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def check_environment(tensorflow: bool = False, extras: tuple[str, ...] = ()) -> None:
    """Print the Python and key versions; raise SetupError naming every missing package (and how to
    install it); print a warning for each version that differs from the pins. `tensorflow`: the
    notebook needs TensorFlow and Keras (training, Grad-CAM, the Keras model)."""
    stops, warnings = environment_problems(tensorflow, extras)
    for line in warnings:
        print("warning:", line)
    if stops:
        raise SetupError("; ".join(stops))
    runtime = "LiteRT" if importlib.util.find_spec("ai_edge_litert") else "Keras (no LiteRT here)"
    print(f"Python {sys.version.split()[0]}; inference on {runtime}" + ("; TensorFlow for training" if tensorflow else ""))
