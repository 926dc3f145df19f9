import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT = Path(__file__).resolve().parent.parent


@functools.cache
def load_hostile_inputs():
    """benchmarks/hostile_inputs.py, imported once: its makers of hostile files (decompression bombs, long
    videos) and its measured launcher serve the tests too, so each hostile file is built in one place."""
    spec = importlib.util.spec_from_file_location("hostile_inputs", PROJECT / "benchmarks" / "hostile_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile_inputs"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def hostile():
    """benchmarks/hostile_inputs.py (see `load_hostile_inputs`)."""
    return load_hostile_inputs()


@pytest.fixture
def run_cli():
    """Run `python -m fer_utils ARGS...` and return the finished process (stdout, stderr, returncode)."""
    return lambda *args: subprocess.run([sys.executable, "-m", "fer_utils", *args], capture_output=True, text=True)


# Where TensorFlow has no wheel (Python 3.14, Intel Macs) the install leaves it out: the tests and notebooks
# that need it are skipped, with that reason, and everything else runs on LiteRT.
HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None
NEEDS_TENSORFLOW = ("test_model.py", "test_fast_path.py", "test_accuracy_levers.py", "test_readme_results.py",
                    "test_faces.py")  # they import Keras; a few tests elsewhere call `train` or load .keras files
collect_ignore = [] if HAS_TENSORFLOW else list(NEEDS_TENSORFLOW)


def pytest_collection_modifyitems(config, items):
    if HAS_TENSORFLOW:
        return
    skip = pytest.mark.skip(reason="needs TensorFlow, which has no wheel for this Python or platform")
    for item in items:
        path = str(item.fspath)
        if path.endswith(".ipynb") and "tensorflow=True" in open(path, encoding="utf-8").read():
            item.add_marker(skip)
