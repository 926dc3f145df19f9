import os
import subprocess
import sys

try:  # before anything imports TensorFlow: pylibsrtp (under aiortc, streamlit-webrtc) segfaults when imported after it
    import aiortc  # noqa: F401
except ImportError:
    pass
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def run_cli():
    """Run `python -m fer_utils ARGS...` and return the finished process (stdout, stderr, returncode)."""
    return lambda *args: subprocess.run([sys.executable, "-m", "fer_utils", *args], capture_output=True, text=True)
