"""What a class's laptops need: inference without TensorFlow, a desktop window after the README's install,
annotated videos that play in a browser, and a set-up check that names what is missing."""
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_utils import desktop
from fer_utils.data import PROJECT_ROOT
from fer_utils.environment import SetupError, check_environment, environment_problems, pinned_versions
from fer_utils.drawing import EMOTION_COLORS_BGR

CLIP = PROJECT_ROOT / "data" / "images" / "demo_faces.mp4"
PHOTO = PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

INFERENCE_WITHOUT_TENSORFLOW = f"""
import sys, time
start = time.perf_counter()
from fer_utils import cli
assert cli.main(["predict", {str(PHOTO)!r}]) == 0
first_result_s = time.perf_counter() - start
from fer_utils.pipeline import EmotionDetector
from fer_utils.images import read_image
from fer_utils.live import annotate_jpeg, encode_jpeg
from fer_utils.webapp import LiveAnnotator
frame = read_image({str(PHOTO)!r})
live = EmotionDetector.for_video()
for _ in range(3):
    annotate_jpeg(live, encode_jpeg(frame))
LiveAnnotator(live).annotate(frame[:, :, ::-1].copy())
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print({{"tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
       "peak_rss_mb": peak_kb / 1024, "first_result_s": first_result_s}})
"""


def test_inference_never_imports_tensorflow_and_stays_small():
    done = subprocess.run([sys.executable, "-c", INFERENCE_WITHOUT_TENSORFLOW], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    assert report["tensorflow"] is False and report["keras"] is False, report
    assert report["peak_rss_mb"] <= 300, report  # the bar; TensorFlow alone is ~740 MB


def test_the_installed_opencv_can_open_windows():
    gui = [line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    assert gui and gui[0].split(":")[1].strip().upper() != "NONE", gui
    assert desktop.opencv_package()[0] == "opencv-python"


def read_xwd(data: bytes) -> np.ndarray:
    """An RGB array from an `xwd` screen dump (ZPixmap, 24-bit depth, 24 or 32 bits per pixel)."""
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height, byte_order, bpp, line = fields[0], fields[4], fields[5], fields[7], fields[11], fields[12]
    ncolors = fields[19]
    assert bpp in (24, 32), f"xwd with {bpp} bits per pixel"
    step = bpp // 8
    pixels = np.frombuffer(data, np.uint8, height * line, header_size + 12 * ncolors).reshape(height, line)
    pixels = pixels[:, :width * step].reshape(height, width, step)
    return pixels[:, :, [2, 1, 0]] if byte_order == 0 else pixels[:, :, [step - 3, step - 2, step - 1]]


@pytest.fixture
def x_display():
    """A virtual screen (Xvfb) for the duration of a test; skipped where Xvfb or xwd is missing."""
    if not (shutil.which("Xvfb") and shutil.which("xwd")):
        pytest.skip("no Xvfb/xwd here (Debian: apt-get install xvfb x11-apps)")
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.skip("Xvfb did not start")
        time.sleep(0.2)
    yield f":{number}"
    server.terminate()
    server.wait(10)


def test_live_opens_a_real_window_with_annotated_faces(x_display, tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    demo = subprocess.Popen([sys.executable, "-m", "fer_utils", "live", "--video", str(CLIP)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shots = []
    try:
        deadline = time.monotonic() + 60
        while demo.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            dump = subprocess.run(["xwd", "-root", "-silent", "-display", x_display], capture_output=True)
            if dump.returncode == 0:
                shots.append(read_xwd(dump.stdout))
        out, err = demo.communicate(timeout=60)
    finally:
        demo.kill()
    assert demo.returncode == 0 and "Traceback" not in err, err[-2000:]
    assert "frames/s; faces in" in out
    colors = np.array([c[::-1] for c in EMOTION_COLORS_BGR.values()])  # RGB

    def box_edge(shot) -> int:
        """The longest horizontal run of one emotion colour: a drawn box's top or bottom edge."""
        painted = (shot[:, :, None, :] == colors[None, None]).all(-1).any(-1)
        runs = np.diff(np.pad(painted.astype(np.int8), ((0, 0), (1, 1))), axis=1)
        starts, ends = np.nonzero(runs == 1), np.nonzero(runs == -1)
        return int((ends[1] - starts[1]).max()) if len(starts[1]) else 0

    best = max(shots, key=box_edge) if shots else None
    assert best is not None and box_edge(best) >= 40, "no window with a drawn face box was seen"
    cv2.imwrite(os.environ.get("FER_WINDOW_SCREENSHOT", str(tmp_path / "window.png")), best[:, :, ::-1])


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_an_annotated_video_plays_in_a_browser(run_cli, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    out = tmp_path / "annotated.mp4"
    done = run_cli("predict", str(CLIP), "--out", str(out))
    assert done.returncode == 0, done.stderr
    page_file = tmp_path / "play.html"
    page_file.write_text(f'<video id="v" src="{out.name}" muted preload="auto"></video>')
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(page_file.as_uri())
        page.wait_for_function("document.getElementById('v').readyState >= 2 || document.getElementById('v').error",
                               timeout=20_000)
        state = page.evaluate("(() => { const v = document.getElementById('v'); return {error: v.error && v.error.code,"
                              " width: v.videoWidth, height: v.videoHeight, duration: v.duration}; })()")
        browser.close()
    assert state["error"] is None, state
    assert (state["width"], state["height"]) == (320, 240)
    assert abs(state["duration"] - 48 / 12) < 0.2, state  # the clip: 48 frames at 12 frames/s


def test_setup_check_passes_here_and_names_what_is_missing(monkeypatch, capsys):
    check_environment(tensorflow=True)
    assert capsys.readouterr().out.startswith("Python ")
    pins = pinned_versions()
    assert pins["numpy"] == "2.4.6" and "opencv-python" in pins
    import importlib.metadata as metadata

    real_version = metadata.version

    def without_matplotlib(name):
        if name == "matplotlib":
            raise metadata.PackageNotFoundError(name)
        return "0.1" if name == "tqdm" else real_version(name)

    monkeypatch.setattr(metadata, "version", without_matplotlib)
    stops, warnings = environment_problems()
    assert stops == ["matplotlib is not installed: pip install matplotlib==3.11.2 (or `pip install -e .` again)"]
    assert warnings == ["tqdm 0.1 is installed; the series was tested with 4.70.1 "
                        "(pip install tqdm==4.70.1 if something misbehaves)"]
    with pytest.raises(SetupError) as raised:
        check_environment()
    assert raised.value._render_traceback_() == [f"SetupError: {stops[0]}"]  # one line in a notebook


def test_a_notebook_that_needs_tensorflow_says_so_where_it_has_no_wheel(monkeypatch):
    import fer_utils.environment as environment

    monkeypatch.setattr(environment, "pinned_versions", lambda extras=(): {"numpy": "2.4.6"})  # as on 3.14
    stops, _ = environment.environment_problems(tensorflow=True)
    assert len(stops) == 1 and "needs TensorFlow, which has no wheel for" in stops[0] and "3.11-3.13" in stops[0]
    assert environment.environment_problems(tensorflow=False)[0] == []
