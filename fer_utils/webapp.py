"""The web app's logic, free of Streamlit so that tests and notebook 07 can call it directly.

`app/streamlit_app.py` (run with `streamlit run app/streamlit_app.py`) is the user interface; everything
it does with an uploaded image is a function here:

    image = decode_upload(data, "photo.jpg")          # bytes in memory -> BGR array, size checked
    annotated, faces = annotate_photo(detector, image, min_face=40)

The live camera page runs in the visitor's browser (`fer_utils.browser_live`); `LiveAnnotator` is the same
per-frame work on a server (av.VideoFrame in and out), which notebook 07 measures.

Setting (an environment variable; on Streamlit Community Cloud, top-level secrets become environment
variables): `FER_MAX_IMAGE_PIXELS`, the largest image decoded, in pixels (see `images.max_image_pixels`).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .data import EMOTIONS, PROJECT_ROOT
from .pipeline import EmotionDetector, FaceResult
from .images import ImageError, decode_image
from .drawing import draw_results

UPLOAD_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
MODEL_CARD = PROJECT_ROOT / "models" / "fer_vgg_bn.json"
NO_FACE_HINT = ("No face found. The usual causes: the face is too small (under the minimum face size in the "
                "sidebar), turned away from the camera or tilted, partly hidden, or too dark.")
RESPONSIBLE_USE = [
    "**Posed versus spontaneous.** FER-2013's faces come from web searches, many posed or exaggerated; "
    "everyday expressions are subtler and read less accurately.",
    "**An expression is not a feeling.** The model labels the configuration of a face; people smile when "
    "nervous and look neutral when sad; culture and context change what faces mean.",
    "**Who is missing.** FER-2013 under-represents many ages, ethnicities and people with facial differences; "
    "accuracy per group has not been measured for this model.",
    "**Confident and wrong.** Mistakes happen with probabilities above 0.9.",
    "**The law.** The EU AI Act (Article 5) prohibits inferring emotions of people at work and in education "
    "(except for medical or safety reasons). Use this for learning, on yourself and with consent.",
]


def decode_upload(data: bytes, name: str) -> np.ndarray:
    """A BGR uint8 image from the bytes of an uploaded file, decoded in memory (nothing written to disk)
    by `faces.decode_image`: the declared size is checked against `FER_MAX_IMAGE_PIXELS` before any
    pixel is decoded, and an empty, truncated, corrupt or non-image file raises `ImageError` naming it."""
    return decode_image(bytes(data), name)


def annotate_photo(detector: EmotionDetector, image: np.ndarray, min_face: int,
                   lock: threading.Lock | None = None) -> tuple[np.ndarray, list[FaceResult]]:
    """Every face of a BGR photo, found with faces at least `min_face` pixels wide, and the annotated copy.
    `lock` serialises calls when one detector serves several visitors."""
    with lock or threading.Lock():
        detector.face_detector.min_size = min_face
        detector.reset()
        results = detector(image)
    return draw_results(image, results), results


def probability_rows(results: list[FaceResult]) -> list[dict]:
    """One row per face: its number, box, most likely emotion and the 7 probabilities (0-1)."""
    return [{"face": k + 1, "box (x, y, w, h)": str(r.box), "emotion": r.emotion,
             **{e: round(r.probabilities[e], 3) for e in EMOTIONS}} for k, r in enumerate(results)]


def probability_columns(results: list[FaceResult], first: int = 0) -> dict[str, list[str]]:
    """The photo page's table: one column per face (numbered from `first` + 1), one row for its label and one per
    emotion in the model's order (the chart's), probabilities 0-1; narrow enough for a phone with a few faces."""
    return {"": ["emotion", *EMOTIONS],
            **{f"face {first + k + 1}": [r.emotion, *(f"{r.probabilities[e]:.3f}" for e in EMOTIONS)]
               for k, r in enumerate(results)}}


def probability_chart_data(results: list[FaceResult]) -> dict[str, list]:
    """The chart's columns: "emotion" (the model's order, as in the table) and one column of probabilities per face."""
    return {"emotion": list(EMOTIONS), **{f"face {k + 1}": [r.probabilities[e] for e in EMOTIONS]
                                          for k, r in enumerate(results)}}


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a BGR image (the annotated photo's download)."""
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ImageError("could not encode the annotated image as PNG")
    return buf.tobytes()


def model_card_summary(path: Path = MODEL_CARD, split: str = "PrivateTest") -> dict | None:
    """The model card's headline figures on `split` (accuracy, macro-F1, faces) and the command that
    measured them where the card records it, read from the card (never retyped); None when the card or the
    split is missing."""
    try:
        card = json.loads(Path(path).read_text())
        metrics = card["metrics"][split]
    except (OSError, ValueError, KeyError):
        return None
    return {"model": card.get("model", Path(path).stem), "split": split, "accuracy": metrics["accuracy"],
            "macro_f1": metrics["macro_f1"], "faces": metrics.get("n"), "params": card.get("params"),
            "inference": card.get("inference", ""),
            "command": next((c for c in (card.get("evaluation_command", ""), card.get("command", ""))
                             if f"--split {split}" in c), "")}


@dataclass
class LiveStats:
    """What the live callback has done so far (read by the page while frames flow)."""

    frames: int = 0
    faces: int = 0
    errors: int = 0
    last_error: str = ""
    ms_total: float = 0.0
    first_frame_at: float | None = None
    last_frame_at: float | None = None
    last_faces: list[dict] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frames per second between the first and the last frame."""
        if self.frames < 2 or self.first_frame_at is None or self.last_frame_at is None:
            return 0.0
        return (self.frames - 1) / max(self.last_frame_at - self.first_frame_at, 1e-9)


class LiveAnnotator:
    """Live frames annotated on a server: av.VideoFrame in, annotated av.VideoFrame out (a video callback's
    shape). The web app's live page runs this work in the browser instead (`fer_utils.browser_live`); notebook 07
    measures it here. Thread-safe: settings and statistics go through `configure` and `stats` under a lock.
    An error in one frame is counted and that frame goes back unannotated; the stream keeps running.
    """

    def __init__(self, detector: EmotionDetector):
        self.detector = detector
        self._lock = threading.Lock()
        self._stats = LiveStats()

    def configure(self, smoothing: float, min_face: int) -> None:
        """Apply the sidebar's settings from the next frame on."""
        with self._lock:
            self.detector.smoothing = smoothing
            self.detector.face_detector.min_size = min_face

    def reset(self) -> None:
        """A new stream: forget the previous frames and the statistics."""
        with self._lock:
            self.detector.reset()
            self._stats = LiveStats()

    def stats(self) -> LiveStats:
        """A copy of the statistics so far."""
        with self._lock:
            return LiveStats(**{**self._stats.__dict__, "last_faces": list(self._stats.last_faces)})

    def annotate(self, image: np.ndarray) -> np.ndarray:
        """One BGR frame: detect, classify, draw, count."""
        start = time.perf_counter()
        with self._lock:
            try:
                results = self.detector(image)
                out = draw_results(image, results)
            except Exception as e:  # noqa: BLE001 - an exception escaping the callback would end the stream
                self._stats.errors += 1
                self._stats.last_error = f"{type(e).__name__}: {e}"
                return image
            now = time.perf_counter()
            s = self._stats
            s.frames += 1
            s.faces += len(results)
            s.ms_total += (now - start) * 1000
            s.first_frame_at = s.first_frame_at or now
            s.last_frame_at = now
            s.last_faces = [r.to_json() for r in results]
        return out

    def __call__(self, frame):
        """`av.VideoFrame` -> annotated `av.VideoFrame` (same size, same timestamp)."""
        import av

        out = av.VideoFrame.from_ndarray(self.annotate(frame.to_ndarray(format="bgr24")), format="bgr24")
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        return out
