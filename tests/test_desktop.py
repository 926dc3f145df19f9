"""The desktop demo, `python -m fer_utils live`, tested without a display: the video file path with
--out, and the one-line messages for no GUI, no display and camera problems."""
import re

import cv2
import numpy as np
import pytest

from fer_utils import desktop
from fer_utils.data import PROJECT_ROOT

CLIP = PROJECT_ROOT / "data" / "images" / "demo_faces.mp4"
NO_GUI_HERE = desktop.gui_problem(cv2.getBuildInformation(), {"DISPLAY": ":0"}, "Linux") is not None


def frames_of(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame)


def test_video_with_out_writes_the_annotated_clip(run_cli, tmp_path):
    out = tmp_path / "annotated.mp4"
    done = run_cli("live", "--video", str(CLIP), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = re.search(r"(\d+) frames in [\d.]+ s = ([\d.]+) frames/s; faces in (\d+) frames; wrote", done.stdout)
    assert summary, done.stdout
    source, annotated = frames_of(CLIP), frames_of(out)
    assert int(summary[1]) == len(source) == len(annotated) and annotated[0].shape == source[0].shape
    assert int(summary[3]) >= 0.8 * len(source)  # the clip's faces are found
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed into place
    # each written frame carries the annotations: the darkened panel (top left) and boxes/labels elsewhere
    panel = (slice(0, 70), slice(0, 80))
    for src, ann in zip(source, annotated):
        assert np.median(ann[panel]) < 0.6 * np.median(src[panel]) + 2
    strong_changes = [(np.abs(a.astype(int) - s.astype(int)).max(axis=2)[:, 90:] > 80).mean()
                      for s, a in zip(source, annotated)]
    assert np.median(strong_changes) > 0.002  # box lines and labels, not compression noise
    if NO_GUI_HERE:
        assert "no window: the installed OpenCV" in done.stderr


@pytest.mark.skipif(not NO_GUI_HERE, reason="this OpenCV has a GUI: the no-GUI message cannot show here")
def test_without_a_gui_and_without_out_it_says_what_to_do(run_cli):
    done = run_cli("live", "--video", str(CLIP))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "has no GUI" in line and "--out FILE" in line
    assert "pip install opencv-python==4.14.0.94" in line


def test_gui_problem_names_no_gui_and_no_display():
    assert "has no GUI" in desktop.gui_problem("  GUI:      NONE\n", {"DISPLAY": ":0"}, "Linux")
    no_display = desktop.gui_problem("  GUI:      GTK3\n", {}, "Linux")
    assert no_display.startswith("no display") and "--out FILE" in no_display
    assert desktop.gui_problem("  GUI:      GTK3\n", {"WAYLAND_DISPLAY": "wayland-0"}, "Linux") is None
    assert desktop.gui_problem("  GUI:      WIN32UI\n", {}, "Windows") is None


@pytest.mark.skipif(desktop.camera_devices() != [], reason="this machine has a camera")
def test_no_camera_is_one_clear_line(run_cli, tmp_path):
    done = run_cli("live", "--camera", "0", "--out", str(tmp_path / "x.mp4"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: " + desktop.camera_problem(0, [])
    assert "no camera found" in done.stderr and not (tmp_path / "x.mp4").exists()


def test_camera_index_out_of_range_and_busy_camera(monkeypatch):
    assert desktop.camera_problem(2, [0, 1]) == ("camera 2 does not exist; cameras found: 0, 1; "
                                                 "choose one with --camera N")
    assert "negative" in desktop.camera_problem(-1, [0])
    assert desktop.camera_problem(0, [0]) is None and desktop.camera_problem(5, None) is None

    class BusyCamera:
        def __init__(self, index):
            self.index = index

        def isOpened(self):
            return False

    monkeypatch.setattr(desktop, "camera_devices", lambda: [0])
    monkeypatch.setattr(desktop.cv2, "VideoCapture", BusyCamera)
    with pytest.raises(desktop.DemoError, match=r"^camera 0 could not be opened: it is probably busy"):
        desktop.open_source(0, None)


@pytest.mark.parametrize("out, message", [("x.txt", "use a video file name ending in .mp4"),
                                          ("missing/x.mp4", "the folder .* does not exist")])
def test_bad_out_is_refused_before_any_work(run_cli, tmp_path, out, message):
    done = run_cli("live", "--video", str(CLIP), "--out", str(tmp_path / out))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert re.search(message, done.stderr), done.stderr
