"""The Streamlit app's logic, driven by Streamlit's own test harness (no server, no browser), the server-side
frame annotator called directly with av frames, and the photo drawing. The live page's camera runs in the
browser: tests/test_app_browser.py serves the app and drives it from Chromium, tests/test_browser_live.py
checks that the browser's answers are the Python pipeline's."""
import json
import os
import zlib

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer_utils.data import EMOTIONS, PROJECT_ROOT
from fer_utils.drawing import EMOTION_COLORS_BGR, draw_results
from fer_utils.pipeline import FaceResult
from fer_utils.webapp import LiveAnnotator, model_card_summary

APP = PROJECT_ROOT / "app" / "streamlit_app.py"
GRACE = PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"
TIMEOUT = 180  # the first run loads TensorFlow and the model


def png_declaring(width: int, height: int) -> bytes:
    """A small valid-looking PNG header declaring width x height pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def app():
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, *files: tuple[str, bytes, str]) -> AppTest:
    at.file_uploader[0].set_value(list(files))
    return at.run()


def test_the_app_starts_with_the_model_card_and_the_settings(app):
    card = model_card_summary()
    metrics = {m.label: m.value for m in app.sidebar.metric}
    assert metrics["PrivateTest accuracy"] == f"{card['accuracy']:.3f}"  # read from the card, never retyped
    assert metrics["macro-F1"] == f"{card['macro_f1']:.3f}"
    assert {s.key for s in app.sidebar.slider} == {"min_face", "smoothing"}
    assert "EU AI Act" in " ".join(m.value for m in app.sidebar.markdown)
    assert [t.label for t in app.tabs] == ["Upload photos", "Camera snapshot"]


def test_a_photo_gets_one_labelled_face_a_table_and_a_download(app):
    at = upload(app, ("grace_hopper.jpg", GRACE.read_bytes(), "image/jpeg"))
    assert not at.exception and not at.error
    table = at.table[0].value  # one column per face; rows: its label, then the emotions in the model's order
    assert list(table.columns) == ["face 1"] and list(table.index) == ["emotion", *EMOTIONS]
    assert table["face 1"]["emotion"] in EMOTIONS
    assert abs(sum(float(table["face 1"][e]) for e in EMOTIONS) - 1) < 0.01
    chart = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert chart["encoding"]["y"]["sort"] == list(EMOTIONS)  # the chart in the table's order, not alphabetical
    assert at.image  # the annotated image is shown
    assert at.get("download_button")


def test_bad_uploads_get_their_message_and_the_others_are_still_processed(app):
    jpeg = GRACE.read_bytes()
    at = upload(app, ("broken.jpg", b"\xff\xd8\xff\xe0" + os.urandom(2000), "image/jpeg"),
                ("notes.png", b"shopping list: eggs, milk\n" * 20, "image/png"),
                ("half.jpg", jpeg[: len(jpeg) // 3], "image/jpeg"),
                ("bomb.png", png_declaring(30000, 30000), "image/png"),
                ("grace_hopper.jpg", jpeg, "image/jpeg"))
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 4, errors
    assert errors[0].startswith("broken.jpg") and errors[1].startswith("notes.png")
    assert errors[2].startswith("half.jpg") and "truncated" in errors[2]
    assert errors[3].startswith("bomb.png") and "30000x30000" in errors[3] and "FER_MAX_IMAGE_PIXELS" in errors[3]
    assert len(at.table) == 1 and at.table[0].value["face 1"]["emotion"] in EMOTIONS  # the good one still ran


def test_no_face_says_so_with_the_usual_causes(app):
    ok, png = cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))
    at = upload(app, ("grey.png", png.tobytes(), "image/png"))
    assert not at.exception and not at.error
    assert any("No face found" in w.value and "too small" in w.value for w in at.warning)


def test_a_camera_snapshot_gets_the_same_result(app):
    app.file_uploader[0].set_value(None)
    at = app.run()
    at.camera_input[0].set_value(("snapshot.jpg", GRACE.read_bytes(), "image/jpeg"))
    at.run()
    assert not at.exception and not at.error
    assert len(at.table) == 1 and at.table[0].value["face 1"]["emotion"] in EMOTIONS


def test_frame_callback_annotates_av_frames_and_survives_a_bad_one():
    import av

    from fer_utils.pipeline import EmotionDetector
    from fer_utils.timing import benchmark_frame

    annotator = LiveAnnotator(EmotionDetector.for_video())
    frame = benchmark_frame()
    for pts in range(3):
        inp = av.VideoFrame.from_ndarray(frame, format="bgr24")
        inp.pts = pts
        out = annotator(inp)
        assert out.pts == pts and (out.width, out.height) == (640, 480)
    assert not np.array_equal(out.to_ndarray(format="bgr24"), frame)  # boxes and labels drawn
    stats = annotator.stats()
    assert stats.frames == 3 and stats.faces == 3 and stats.errors == 0
    assert stats.last_faces[0]["emotion"] in EMOTIONS

    def failing_detector(image):
        raise RuntimeError("the model failed")

    annotator.detector = failing_detector  # a failure inside the pipeline: counted, frame passed through
    out = annotator(av.VideoFrame.from_ndarray(frame, format="bgr24"))
    assert np.array_equal(out.to_ndarray(format="bgr24"), frame)
    assert annotator.stats().errors == 1 and annotator.stats().last_error == "RuntimeError: the model failed"


def test_the_live_page_shows_the_browser_component_with_the_sidebar_settings(app):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.sidebar.slider(key="smoothing").set_value(0.3)
    at.sidebar.slider(key="min_face").set_value(60)
    at.switch_page("views/live.py").run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Live camera" and "never leave your device" in at.caption[0].value
    assert not at.warning, [w.value for w in at.warning]  # the browser's model matches the shipped one
    component = at.get("component_instance")[0].proto
    assert component.component_name == "fer_utils.browser_live.fer_live_camera"
    args = json.loads(component.json_args)
    assert args["smoothing"] == 0.3 and args["min_face"] == 60  # the browser gets the settings


def test_the_bar_labels_of_a_large_photo_fit_their_bars_and_the_image():
    """The labels' font follows the bar height only (it was scaled by the image width too), and bars with no room
    right of the face go on its left."""
    image = np.zeros((3000, 4000, 3), np.uint8)
    probabilities = {e: 1 / len(EMOTIONS) for e in EMOTIONS}
    for box in [(1000, 1000, 900, 900), (3050, 1000, 900, 900)]:  # the second face touches the right edge
        faces = [FaceResult(box, probabilities)]
        bars = draw_results(image, faces, bars=True) != draw_results(image, faces, bars=False)
        drawn = np.argwhere(bars.any(axis=2))  # the bars and their labels only
        x, y, w, h = box
        bar_h = h // 9
        assert len(drawn) and drawn[:, 0].min() >= y and drawn[:, 0].max() <= y + 7 * bar_h
        assert drawn[:, 1].max() < image.shape[1] - 1  # nothing runs off the right edge
        assert drawn[:, 1].min() > x + w or drawn[:, 1].max() < x  # beside the face, not over it
        label_rows = np.flatnonzero((draw_results(image, faces) == 255).all(axis=2)[:, drawn[:, 1].min():].any(axis=1))
        runs = np.split(label_rows, np.flatnonzero(np.diff(label_rows) > 1) + 1)
        assert len(runs) == len(EMOTIONS) and max(len(r) for r in runs) <= bar_h  # one label per bar, within it


def contrast(rgb_a, rgb_b) -> float:
    """WCAG contrast ratio of two sRGB colours."""
    def luminance(rgb):
        c = np.array(rgb) / 255
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    la, lb = sorted([luminance(rgb_a), luminance(rgb_b)], reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_neutral_colour_stands_out_on_light_and_dark_backgrounds():
    neutral = EMOTION_COLORS_BGR["neutral"][::-1]
    assert contrast(neutral, (255, 255, 255)) >= 3 and contrast(neutral, (0, 0, 0)) >= 3


def test_the_deployment_requirements_pin_what_pyproject_pins():
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    pinned = dict(d.split(";")[0].strip().split("==") for d in pins if "==" in d)  # without environment markers
    pinned["opencv-python-headless"] = pinned["opencv-python"]  # the server's build of the same OpenCV
    text = (PROJECT_ROOT / "app" / "requirements.txt").read_text()
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    deployed = dict(line.split("==") for line in lines if line)
    needed = {"streamlit", "numpy", "opencv-python-headless", "ai-edge-litert"}
    assert needed <= set(deployed), needed - set(deployed)
    assert not {"streamlit-webrtc", "aiortc"} & set(deployed)  # the live camera runs in the browser
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & set(deployed)  # the app runs on LiteRT
    assert all(pinned.get(name) == version for name, version in deployed.items()), deployed
