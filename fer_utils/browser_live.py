"""Live emotion in the visitor's own browser: the web app's Streamlit component and what it shares with Python.

The component (`live_camera`) runs face detection (BlazeFace full-range) and the emotion model with LiteRT.js
(WebAssembly) inside the page: camera frames never leave the device and the server only serves static files.
Its built assets ship in the package (`fer_utils/static/browser_live/`, built from `frontend/` with npm,
so users need no Node.js) together with the two model files it runs:

- `face_detection_full_range.tflite`, byte-identical to `fer_utils/detectors/` (checked by hash);
- `fer_vgg_bn_b1.tflite`, the shipped Keras model exported with a fixed batch of 1 (LiteRT.js cannot
  resize inputs and refuses the batch -1 of `models/fer_vgg_bn.tflite`), made by `export_browser_model`,
  its hashes recorded in the model card under "browser_model".

Every constant the browser's twin of the Python pipeline needs (anchors, thresholds, crop expansion, test-time
views, emotion names and colours) is generated from the Python modules by `shared_constants` into
`fer_constants.json`; tests/test_browser_live.py fails when the file and the Python values differ.

    python -m fer_utils.browser_live                  # rewrite fer_constants.json from the Python values
    python -m fer_utils.browser_live --export-model   # and the batch-1 model, after retraining (needs TensorFlow)
"""
from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path

from .data import EMOTIONS, IMAGE_SIZE, PROJECT_ROOT
from .files import write_bytes, write_text
from .inference import file_sha256, stderr_silenced

ASSETS = Path(__file__).with_name("static") / "browser_live"
CONSTANTS_FILE = ASSETS / "fer_constants.json"
BROWSER_MODEL = ASSETS / "models" / "fer_vgg_bn_b1.tflite"
BROWSER_DETECTOR = ASSETS / "models" / "face_detection_full_range.tflite"
CARD_KEY = "browser_model"
# written out in pipeline.EmotionDetector's code, not as names: tests/test_browser_live.py checks the browser's video
# results against EmotionDetector.for_video() frame by frame, and its smoothing against VIDEO_SMOOTHING
MATCH_IOU = 0.3  # EmotionDetector._match: the same face in the next frame
CYCLE_VIEWS = 4  # tta="cycle": one of the 4 views per frame, averaged over 4 frames
VIDEO_SMOOTHING = 0.5  # EmotionDetector.for_video


def shared_constants() -> dict:
    """What the browser's twin of the Python pipeline reads, taken from the Python modules themselves."""
    from .detection import BLAZEFACE_MODELS, KEYPOINTS, CnnFaceDetector, weighted_nms
    from .drawing import EMOTION_COLORS_BGR
    from .inference import tta_views
    from .pipeline import ALIGN, EXPAND, VIDEO_DETECT_EVERY

    detector = CnnFaceDetector.__dataclass_fields__
    default = lambda function, name: inspect.signature(function).parameters[name].default  # noqa: E731
    return {
        "emotions": list(EMOTIONS),
        "emotion_colors_rgb": {e: list(reversed(EMOTION_COLORS_BGR[e])) for e in EMOTIONS},
        "face_size": IMAGE_SIZE,
        "detector": {"input_size": 192, "anchor_stride": 4, "min_score": BLAZEFACE_MODELS["full_range"].min_score,
                     "nms_iou": default(weighted_nms, "iou"), "min_size": detector["min_size"].default, "keypoints": list(KEYPOINTS),
                     "sha256": BLAZEFACE_MODELS["full_range"].sha256},
        "crop": {"expand": EXPAND, "align": ALIGN},
        "tta": {"zoom": default(tta_views, "zoom"), "views": ["as is", "mirrored", "zoomed", "zoomed and mirrored"]},
        "video": {"smoothing": VIDEO_SMOOTHING, "cycle_views": CYCLE_VIEWS, "match_iou": MATCH_IOU,
                  "detect_every": VIDEO_DETECT_EVERY},
    }


def constants_json() -> str:
    """`shared_constants` as the text of fer_constants.json."""
    return json.dumps(shared_constants(), indent=1) + "\n"


def browser_model_problem(keras_path: str | os.PathLike = PROJECT_ROOT / "models" / "fer_vgg_bn.keras") -> str | None:
    """Why the browser's batch-1 model does not match `keras_path` (missing, stale, or changed after it was
    made, per the model card's "browser_model" record), or None when it does."""
    keras_path = Path(keras_path)
    try:
        record = json.loads(keras_path.with_suffix(".json").read_text()).get(CARD_KEY)
    except (OSError, ValueError, AttributeError):
        record = None
    if not BROWSER_MODEL.is_file():
        return f"{BROWSER_MODEL.name} is missing from the package's assets"
    if not isinstance(record, dict):
        return f"the model card does not record which weights {BROWSER_MODEL.name} was made from"
    if keras_path.is_file() and record.get("keras_sha256") != file_sha256(keras_path):
        return f"{BROWSER_MODEL.name} was made from other weights than {keras_path.name} (stale)"
    if record.get("sha256") != file_sha256(BROWSER_MODEL):
        return f"{BROWSER_MODEL.name} was changed after it was made"
    return None


def export_browser_model(keras_path: str | os.PathLike = PROJECT_ROOT / "models" / "fer_vgg_bn.keras",
                         out_path: str | os.PathLike = BROWSER_MODEL, quantization: str = "dynamic") -> Path:
    """Convert the Keras model at `keras_path` to TensorFlow Lite with a fixed input of (1, 48, 48, 1), write it
    to `out_path` and record its hashes in the model card (NAME.json, key "browser_model"). Offline:
    TensorFlow's own converter, with the same `quantization` as `models.export_fast_model`, so the outputs
    equal the batch -1 file's (tests/test_browser_live.py)."""
    import contextlib
    import io

    import tensorflow as tf

    from .backend import keras
    from .models import QUANTIZATIONS, load_model

    keras_path, out_path = Path(keras_path), Path(out_path)
    model = load_model(keras_path)
    inputs = keras.Input(model.input_shape[1:], batch_size=1)
    batch_of_one = keras.Model(inputs, model(inputs, training=False))  # the same layers and weights
    converter = tf.lite.TFLiteConverter.from_keras_model(batch_of_one)
    if quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):
        flat = converter.convert()
    write_bytes(out_path, flat)
    card_path = keras_path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    try:
        shown = out_path.resolve().relative_to(PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        shown = out_path.name
    card[CARD_KEY] = {"file": shown, "sha256": file_sha256(out_path), "keras_sha256": file_sha256(keras_path),
                      "input_shape": [1, *model.input_shape[1:]],
                      "converter": f"tf.lite.TFLiteConverter.from_keras_model, input batch fixed to 1 "
                                   f"(TensorFlow {tf.__version__}): LiteRT.js cannot resize a batch -1 input",
                      "quantization": QUANTIZATIONS[quantization]}
    write_text(card_path, json.dumps(card, indent=2) + "\n")
    return out_path


def live_camera(smoothing: float = VIDEO_SMOOTHING, min_face: int = 40, width: int = 640, height: int = 480,
                key: str | None = None) -> None:
    """The live camera component on a Streamlit page: the annotated camera feed, the largest face's label and
    probability chart, frames/s and ms per frame as the page measures them; a clear message when the camera is
    denied, missing or drops. Everything happens in the page: it sends nothing back to the server, so a playing
    camera costs the server nothing (no reruns). `width` x `height`: the camera size asked for (ideal)."""
    _component()(smoothing=float(smoothing), min_face=int(min_face), width=int(width), height=int(height), key=key,
                 default=None)


@functools.lru_cache(maxsize=1)
def _component():
    """The declared component (declared on first use: importing this module needs no Streamlit)."""
    import streamlit.components.v1 as components

    return components.declare_component("fer_live_camera", path=str(ASSETS))


def main(argv: list[str] | None = None) -> int:
    """Rewrite fer_constants.json from the Python values; with --export-model, also the batch-1 model and its card
    record (after retraining: needs TensorFlow)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if set(args) - {"--export-model"}:
        print(f"unknown argument(s) {' '.join(args)}; usage: python -m fer_utils.browser_live [--export-model]",
              file=sys.stderr)
        return 2
    write_text(CONSTANTS_FILE, constants_json())
    print(f"wrote {CONSTANTS_FILE}")
    if "--export-model" in args:
        print(f"wrote {export_browser_model()} and its record in the model card")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
