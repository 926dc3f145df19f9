"""The live camera that runs in the visitor's browser gives the Python pipeline's answers.

The component's assets (fer_utils/static/browser_live/) are served from 127.0.0.1 and opened in headless Chromium
as index.html?mode=test, which loads LiteRT.js and both models and exposes the JavaScript pipeline. The same faces
go through both paths: the preprocessing twin (grey, letterbox, aligned crop, test-time views) against OpenCV,
then whole photos, the demo video's frames and (where FER-2013 is present) every PublicTest face against
`EmotionDetector` and `predict_proba`: labels must agree on >= 99% of faces and every probability within 0.02.
Needs Debian's `chromium` and the `playwright` package; skipped, with the reason, without them."""
from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading

import cv2
import numpy as np
import pytest

from fer_utils import quick_mode
from fer_utils.browser_live import (ASSETS, BROWSER_DETECTOR, BROWSER_MODEL, CONSTANTS_FILE, VIDEO_SMOOTHING,
                                    browser_model_problem, constants_json)
from fer_utils.data import EMOTIONS, PROJECT_ROOT, DatasetError, load_fer2013
from fer_utils.detection import BLAZEFACE_SHA256, CnnFaceDetector, Face, blazeface_anchors, letterbox
from fer_utils.inference import file_sha256, predict_proba, tta_views
from fer_utils.pipeline import EmotionDetector, crop_aligned, iou
from test_browser import CHROMIUM, CHROMIUM_FLAGS, sync_playwright

IMAGES = sorted((PROJECT_ROOT / "data" / "images").glob("*.jpg"))
CLIP = PROJECT_ROOT / "data" / "images" / "demo_faces.mp4"
LABEL_AGREEMENT, PROB_TOLERANCE = 0.99, 0.02
needs_chromium = pytest.mark.skipif(CHROMIUM is None or sync_playwright is None,
                                    reason="needs Debian's chromium (apt-get install chromium) and playwright")


def test_the_shared_constants_file_is_what_python_uses():
    assert CONSTANTS_FILE.read_text() == constants_json(), \
        "fer_constants.json differs from the Python values: run `python -m fer_utils.browser_live`"
    video = EmotionDetector.for_video()
    assert (video.smoothing, video.tta) == (VIDEO_SMOOTHING, "cycle")


def test_the_browser_runs_the_same_model_files():
    assert file_sha256(BROWSER_DETECTOR) == BLAZEFACE_SHA256
    assert browser_model_problem() is None, browser_model_problem()
    from ai_edge_litert.interpreter import Interpreter

    from fer_utils.inference import TFLiteModel

    batch_any = TFLiteModel(PROJECT_ROOT / "models" / "fer_vgg_bn.tflite")
    batch_one = Interpreter(model_path=str(BROWSER_MODEL))
    batch_one.allocate_tensors()
    inp, out = batch_one.get_input_details()[0], batch_one.get_output_details()[0]
    assert tuple(inp["shape"]) == (1, 48, 48, 1)  # LiteRT.js cannot resize a batch -1 input
    faces = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype(np.float32)
    for face, expected in zip(faces, batch_any(faces)):
        batch_one.set_tensor(inp["index"], face[None])
        batch_one.invoke()
        np.testing.assert_allclose(batch_one.get_tensor(out["index"])[0], expected, atol=1e-6)


class AssetHandler(http.server.SimpleHTTPRequestHandler):
    """The component's files, quietly, with WebAssembly's content type."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript", ".tflite": "application/octet-stream"}

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def assets_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(AssetHandler, directory=str(ASSETS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_test_page(chromium, assets_url: str, init_script: str = ""):
    """index.html?mode=test with the pipeline loaded; every request outside the asset server is refused (offline)."""
    tab = chromium.new_page()
    tab.set_default_timeout(180_000)
    tab.wasm_files, errors = [], []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: tab.wasm_files.append(r.url.rsplit("/", 1)[1]) if r.url.endswith(".wasm") else None)
    tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith(assets_url) else route.abort())
    if init_script:
        tab.add_init_script(init_script)
    tab.goto(f"{assets_url}index.html?mode=test")
    tab.wait_for_function("document.body.dataset.ready === 'true' || document.body.dataset.error", timeout=180_000)
    assert tab.evaluate("document.body.dataset.ready") == "true", (tab.evaluate("document.body.dataset.error"), errors)
    return tab


@pytest.fixture(scope="module")
def page(chromium, assets_url):
    tab = open_test_page(chromium, assets_url)
    yield tab
    tab.close()


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


JS_BYTES = "(s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))"
JS_PHOTO = f"""async ([rgba, w, h, video]) => {{
  const bytes = ({JS_BYTES})(rgba), {{ pipeline, preprocess }} = window.ferTest;
  const gray = preprocess.rgbaToGray(bytes, w, h);
  const results = video ? await pipeline.analyseVideoFrame(gray) : await pipeline.analysePhoto(gray);
  return results.map((r) => ({{ box: r.box, probs: r.probs }}));
}}"""


def rgba(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)


def demo_frames() -> list[np.ndarray]:
    cap, frames = cv2.VideoCapture(str(CLIP)), []
    while (read := cap.read())[0]:
        frames.append(read[1])
    return frames


@needs_chromium
def test_the_preprocessing_twin_gives_opencvs_pixels(page):
    photo = cv2.imread(str(PROJECT_ROOT / "data" / "images" / "group_four.jpg"))
    h, w = photo.shape[:2]
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    js_gray = np.frombuffer(base64.b64decode(page.evaluate(f"""([s, w, h]) => {{
        const g = window.ferTest.preprocess.rgbaToGray(({JS_BYTES})(s), w, h).data;
        return btoa(Array.from(g, (v) => String.fromCharCode(v)).join(''));
    }}""", [b64(rgba(photo)), w, h])), np.uint8).reshape(h, w)
    assert np.array_equal(js_gray, gray)

    for size in [(640, 480), (320, 240), (1280, 720), (100, 80)]:  # shrunk (INTER_AREA) and enlarged (INTER_LINEAR)
        frame = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        square = letterbox(frame, 192)[0]
        js = np.array(page.evaluate("""([s, w, h]) => Array.from(window.ferTest.preprocess.letterbox(
            {data: Uint8Array.from(atob(s), (c) => c.charCodeAt(0)), width: w, height: h}, 192).square.data)""",
                                    [b64(frame), *size]), np.uint8).reshape(192, 192)
        differ = np.abs(js.astype(int) - square)
        assert differ.max() <= 1 and (differ > 0).mean() < 0.01, (size, differ.max(), (differ > 0).mean())

    rng = np.random.default_rng(0)
    faces = []
    for _ in range(30):
        fw = int(rng.integers(20, 400))
        fx, fy = int(rng.integers(-40, w - 20)), int(rng.integers(-40, h - 20))
        eyes = [[fx + 0.3 * fw + rng.normal(0, 6), fy + 0.4 * fw + rng.normal(0, 6)],
                [fx + 0.7 * fw + rng.normal(0, 6), fy + 0.4 * fw + rng.normal(0, 6)]]
        faces.append(Face((fx, fy, fw, int(fw * rng.uniform(0.9, 1.2))), 1.0, np.array(eyes + [[fx, fy]] * 4)))
    crops = crop_aligned(gray, faces, expand=1.15)
    views = np.stack(tta_views(crops[..., None].astype(np.float32)))[..., 0]
    js_crops, js_views = page.evaluate(f"""([s, w, h, faces]) => {{
        const {{ pipeline, preprocess }} = window.ferTest, gray = {{data: ({JS_BYTES})(s), width: w, height: h}};
        const crops = pipeline.crops(gray, faces);
        return [crops.map((c) => Array.from(c.data)),
                crops.map((c) => preprocess.ttaViews(c, window.ferTest.constants.tta.zoom).map((v) => Array.from(v)))];
    }}""", [b64(gray), w, h, [{"box": list(f.box), "keypoints": f.keypoints.tolist()} for f in faces]])
    assert np.abs(np.array(js_crops).reshape(crops.shape) - crops.astype(int)).max() <= 1
    np.testing.assert_allclose(np.array(js_views, np.float32).transpose(1, 0, 2).reshape(views.shape), views, atol=1e-3)


@needs_chromium
def test_the_detector_twin_decodes_the_same_faces_from_the_same_model_outputs(page):
    """BlazeFace's anchors, decoding, weighted non-maximum suppression and mapping back to the frame, given the
    Python interpreter's raw outputs for each shipped photo."""
    detector = CnnFaceDetector()
    constants = json.loads(CONSTANTS_FILE.read_text())["detector"]
    assert detector.input_size == constants["input_size"]
    js_anchors = page.evaluate("([grid]) => window.ferTest.blazeface.blazefaceAnchors(grid)",
                               [constants["input_size"] // constants["anchor_stride"]])
    np.testing.assert_allclose(js_anchors, blazeface_anchors(), atol=1e-7)
    for path in IMAGES:
        gray = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
        expected = detector.detect_faces(gray)
        interpreter = detector._interpreter  # the outputs of the call just made
        regressors = interpreter.get_tensor(detector._regressors).ravel().tolist()
        logits = interpreter.get_tensor(detector._logits).ravel().tolist()
        _, scale, (pad_x, pad_y) = letterbox(gray, detector.input_size)
        faces = page.evaluate("""([regressors, logits, scale, padX, padY]) => {
            const {blazeface: b, constants: c, pipeline} = window.ferTest, d = c.detector;
            const found = b.decodeBlazeface(regressors, logits, pipeline.anchors, d.input_size, d.min_score);
            return b.toFrameFaces(b.weightedNms(found, d.nms_iou), d.input_size, scale, padX, padY, d.min_size);
        }""", [regressors, logits, scale, pad_x, pad_y])
        assert [f["box"] for f in faces] == [list(f.box) for f in expected], path.name
        for js, py in zip(faces, expected):
            np.testing.assert_allclose(js["keypoints"], py.keypoints, atol=1e-3)
            assert abs(js["score"] - py.score) < 1e-6


def compare(python_results, js_results, where: str, rows: list) -> None:
    """Pair each face by box overlap and record (where, label agrees, largest probability difference)."""
    assert len(js_results) == len(python_results), (where, [r.box for r in python_results],
                                                   [r["box"] for r in js_results])
    for r in python_results:
        match = max(js_results, key=lambda j: iou(r.box, j["box"]))
        assert iou(r.box, match["box"]) > 0.8, (where, r.box, match["box"])
        probs = np.array([r.probabilities[e] for e in EMOTIONS])
        rows.append((where, int(np.argmax(probs)) == int(np.argmax(match["probs"])),
                     float(np.abs(probs - np.array(match["probs"])).max())))


def check_agreement(rows: list, what: str, capsys) -> None:
    agree = np.mean([r[1] for r in rows])
    worst = max(rows, key=lambda r: r[2])
    with capsys.disabled():
        print(f"\n{what}: {len(rows)} faces, labels agree on {agree:.2%}, largest probability difference "
              f"{worst[2]:.2e} ({worst[0]})")
    assert agree >= LABEL_AGREEMENT and worst[2] <= PROB_TOLERANCE, (agree, worst)


@needs_chromium
def test_photos_and_video_frames_get_the_same_faces_labels_and_probabilities(page, capsys):
    detector, rows = EmotionDetector(), []  # photos: 4 test-time views per face
    frames = [(p.name, cv2.imread(str(p))) for p in IMAGES]
    frames += [(f"{CLIP.name} frame {k}", f) for k, f in enumerate(demo_frames()) if k % 4 == 0]
    for name, frame in frames:
        detector.reset()
        js = page.evaluate(JS_PHOTO, [b64(rgba(frame)), frame.shape[1], frame.shape[0], False])
        compare(detector(frame), js, name, rows)
    check_agreement(rows, "photos and demo-video frames, browser vs Python", capsys)


# A browser without relaxed SIMD (LiteRT.js tries a 36-byte module using it; this one fails to instantiate it)
NO_RELAXED_SIMD = """const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = function (source, ...rest) {
  if (source instanceof Uint8Array && source.length === 36 && source[32] === 253 && source[33] === 128) {
    return Promise.reject(new WebAssembly.CompileError('no relaxed SIMD here'));
  }
  return instantiate.call(this, source, ...rest);
};"""


@needs_chromium
def test_browsers_without_relaxed_simd_run_the_fallback_build_with_the_same_answers(page, chromium, assets_url):
    assert page.wasm_files == ["litert_wasm_internal.wasm"]  # Chromium has relaxed SIMD
    fallback = open_test_page(chromium, assets_url, NO_RELAXED_SIMD)
    assert fallback.wasm_files == ["litert_wasm_compat_internal.wasm"]
    photo = cv2.imread(str(PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"))
    rows = []
    compare(EmotionDetector()(photo), fallback.evaluate(JS_PHOTO, [b64(rgba(photo)), photo.shape[1], photo.shape[0],
                                                                   False]), "grace_hopper.jpg", rows)
    fallback.close()
    assert rows[0][1] and rows[0][2] <= PROB_TOLERANCE, rows


@needs_chromium
def test_live_video_cycles_views_and_smooths_like_python(page, capsys):
    detector, rows = EmotionDetector.for_video(), []
    page.evaluate("() => { window.ferTest.pipeline.reset(); window.ferTest.pipeline.smoothing = "
                  f"{detector.smoothing}; }}")
    for k, frame in enumerate(demo_frames()):
        js = page.evaluate(JS_PHOTO, [b64(rgba(frame)), frame.shape[1], frame.shape[0], True])
        compare(detector(frame), js, f"{CLIP.name} frame {k}", rows)
    check_agreement(rows, "live video (one view per frame, smoothed), browser vs Python", capsys)


@needs_chromium
def test_publictest_faces_get_the_same_labels_and_probabilities(page, capsys):
    try:
        split = load_fer2013()["PublicTest"]
    except DatasetError as e:
        pytest.skip(f"FER-2013 is not here ({str(e)[:80]}...)")
    faces = split.images[:500] if quick_mode() else split.images
    expected = predict_proba(EmotionDetector().model, faces, tta=True)
    got = []
    for start in range(0, len(faces), 250):
        chunk = faces[start:start + 250]
        got += page.evaluate(f"""async ([s, n]) => {{
            const {{ pipeline, preprocess, constants }} = window.ferTest, bytes = ({JS_BYTES})(s), out = [];
            for (let k = 0; k < n; k++) {{
              const face = {{data: bytes.subarray(k * 2304, (k + 1) * 2304), width: 48, height: 48}};
              out.push(await pipeline.classifyViews(preprocess.ttaViews(face, constants.tta.zoom)));
            }}
            return out;
        }}""", [b64(chunk), len(chunk)])
    got = np.array(got)
    rows = [(f"PublicTest face {k}", int(np.argmax(e)) == int(np.argmax(g)), float(np.abs(e - g).max()))
            for k, (e, g) in enumerate(zip(expected, got))]
    check_agreement(rows, "PublicTest faces (4 test-time views), browser vs Python", capsys)


FRONTEND = PROJECT_ROOT / "frontend"


@pytest.mark.skipif(shutil.which("node") is None or not (FRONTEND / "node_modules").is_dir(),
                    reason="needs Node.js and `npm ci` in frontend/ (users of the app need neither)")
def test_the_shipped_assets_are_built_from_the_sources(tmp_path):
    done = subprocess.run(["node", "build.mjs"], cwd=FRONTEND, env={**os.environ, "FER_BUILD_OUT": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built, "nothing built"
    stale = [str(p) for p in built if (tmp_path / p).read_bytes() != (ASSETS / p).read_bytes()]
    assert not stale, f"rebuild with `cd frontend && npm ci && npm run build`: {stale} differ"
