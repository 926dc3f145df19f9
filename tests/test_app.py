"""The Streamlit app's logic, driven by Streamlit's own test harness (no server, no browser), and its
live frame callback called directly with av frames. The live page itself (webrtc_streamer) cannot run
under AppTest: tests/test_app_browser.py serves the app and drives it from Chromium."""
import ast
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer_utils.data import EMOTIONS, PROJECT_ROOT
from fer_utils.webapp import ICE_ENV, LiveAnnotator, ice_configuration, model_card_summary

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
    table = at.dataframe[0].value
    assert len(table) == 1 and table["emotion"][0] in EMOTIONS
    assert abs(sum(table[e][0] for e in EMOTIONS) - 1) < 0.01
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
    assert len(at.dataframe) == 1 and at.dataframe[0].value["emotion"][0] in EMOTIONS  # the good one still ran


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
    assert len(at.dataframe) == 1 and at.dataframe[0].value["emotion"][0] in EMOTIONS


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


def test_ice_setting():
    assert ice_configuration("local") == {"iceServers": []}
    assert ice_configuration("auto") is None  # streamlit-webrtc's own TURN/STUN choice
    servers = [{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]
    assert ice_configuration(json.dumps(servers)) == {"iceServers": servers}
    with pytest.raises(ValueError, match=f"{ICE_ENV} must be 'local', 'auto' or a JSON list"):
        ice_configuration("stun.example.org")


def third_party_imports(path: Path) -> list[str]:
    """The top-level modules a script imports, in order, leaving out the standard library."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module.split(".")[0])
        elif isinstance(node, ast.Try):
            names += [a.name.split(".")[0] for n in node.body if isinstance(n, ast.Import) for a in n.names]
    return [n for n in names if n not in sys.stdlib_module_names and n != "__future__"]


SCRIPTS = [*sorted((PROJECT_ROOT / "app").rglob("*.py")), Path(__file__).with_name("conftest.py")]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_streamlit_webrtc_is_imported_before_anything_that_can_import_tensorflow(script):
    """`import tensorflow` then `import pylibsrtp` (streamlit-webrtc's aiortc) kills the process with a
    segmentation fault; the other order works. Every app script starts with streamlit_webrtc, the tests'
    conftest with aiortc (the same libraries, without Streamlit's warnings outside a running app)."""
    imports = third_party_imports(script)
    assert imports and imports[0] in {"streamlit_webrtc", "aiortc", "pylibsrtp"}, imports


def test_the_app_process_loads_the_model_after_its_imports_without_crashing():
    """In a fresh interpreter: the app's shared module (which imports streamlit_webrtc first), then the
    model (TensorFlow). A wrong import order ends this process with SIGSEGV instead of rc 0."""
    code = ("import sys; sys.path.insert(0, 'app'); import fer_app_common; "
            "from fer_utils.pipeline import DEFAULT_MODEL; from fer_utils.models import load_model; "
            "load_model(DEFAULT_MODEL); "
            "import pylibsrtp; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_the_deployment_requirements_pin_what_pyproject_pins():
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    pinned = dict(d.split(";")[0].strip().split("==") for d in pins if "==" in d)  # without environment markers
    pinned["opencv-python-headless"] = pinned["opencv-python"]  # the server's build of the same OpenCV
    text = (PROJECT_ROOT / "app" / "requirements.txt").read_text()
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    deployed = dict(line.split("==") for line in lines if line)
    needed = {"streamlit", "streamlit-webrtc", "numpy", "opencv-python-headless", "ai-edge-litert", "av"}
    assert needed <= set(deployed), needed - set(deployed)
    assert not {"tensorflow", "tensorflow-cpu", "keras"} & set(deployed)  # the app runs on LiteRT
    assert all(pinned.get(name) == version for name, version in deployed.items()), deployed
