"""Faces in images and video: (A) face detection, (B) facial features, (C) emotion classification,
and drawing the results on the frame.

    detector = EmotionDetector()                 # the shipped model + OpenCV's Haar cascade
    results = detector(frame)                    # [FaceResult(box, emotion, probabilities), ...]
    annotated = draw_results(frame, results)
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .data import EMOTIONS, IMAGE_SIZE, PROJECT_ROOT

DEFAULT_MODEL = PROJECT_ROOT / "models" / "fer_vgg_bn.keras"
EMOTION_COLORS_BGR = {"angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (150, 60, 150),
                      "happy": (0, 200, 255), "sad": (200, 110, 30), "surprise": (0, 140, 255),
                      "neutral": (170, 170, 170)}


class ImageError(ValueError):
    """An input is not a readable image or video."""


def to_gray(image: np.ndarray, channel_order: str = "bgr") -> np.ndarray:
    """Any image (grey, 3-channel BGR/RGB, 4-channel with alpha; uint8 or float 0-1) as grey uint8."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img * (255 if img.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ImageError(f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {img.shape}")
    if img.shape[2] == 1:
        return img[:, :, 0]
    rgb = channel_order.lower() == "rgb"
    code = {3: cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY,
            4: cv2.COLOR_RGBA2GRAY if rgb else cv2.COLOR_BGRA2GRAY}[img.shape[2]]
    return cv2.cvtColor(img, code)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8, with a clear error for a missing or unreadable file."""
    p = Path(path)
    if not p.is_file():
        raise ImageError(f"{p}: no such file")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"{p} is not a readable image (corrupt, empty, or an unsupported format)")
    return img


@functools.lru_cache(maxsize=None)
def _cascade(name: str) -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV cascade {path} is missing: install opencv-python-headless 4.x (5.0 has none)")
    return cascade


@dataclass
class FaceDetector:
    """(A) OpenCV's Haar cascade face detector. Frames wider than `detect_width` are downscaled for
    detection (speed) and the boxes mapped back; `min_size` is in original-frame pixels."""

    scale_factor: float = 1.2
    min_neighbors: int = 5
    min_size: int = 40
    detect_width: int = 320
    cascade_name: str = "haarcascade_frontalface_default.xml"
    _cascade: cv2.CascadeClassifier = field(init=False, repr=False)

    def __post_init__(self):
        self._cascade = _cascade(self.cascade_name)

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h in `gray`'s pixels, largest first."""
        scale = min(1.0, self.detect_width / gray.shape[1])
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        min_side = max(12, int(round(self.min_size * scale)))
        boxes = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(min_side, min_side))
        boxes = np.round(np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / scale).astype(int)
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])] if len(boxes) else boxes


def crop_faces(gray: np.ndarray, boxes: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The face boxes of a grey frame, each resized to size x size (N, size, size) uint8."""
    out = np.empty((len(boxes), size, size), np.uint8)
    for k, (x, y, w, h) in enumerate(boxes):
        out[k] = cv2.resize(gray[max(y, 0):y + h, max(x, 0):x + w], (size, size), interpolation=cv2.INTER_AREA)
    return out


def facial_features(gray: np.ndarray, box) -> dict[str, np.ndarray]:
    """(B) Eyes (upper five eighths of the face) and smile (lower third) inside a face box, with OpenCV's
    bundled cascades; boxes (N, 4) in frame pixels."""
    x, y, w, h = box
    face = gray[y:y + h, x:x + w]
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(face[: 5 * h // 8], 1.1, 3, minSize=(w // 10, w // 10))
    mouth = _cascade("haarcascade_smile.xml").detectMultiScale(face[2 * h // 3:], 1.2, 20, minSize=(w // 4, h // 10))
    shift = lambda b, dy: np.asarray(b, int).reshape(-1, 4) + [x, y + dy, 0, 0]  # noqa: E731
    return {"eyes": shift(eyes, 0), "smile": shift(mouth, 2 * h // 3)}


@dataclass
class FaceResult:
    """One face: its box (x, y, w, h), the most likely emotion and all 7 probabilities."""

    box: tuple[int, int, int, int]
    probabilities: dict[str, float]

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def to_json(self) -> dict:
        return {"box": list(self.box), "emotion": self.emotion,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw, ih = max(0, min(ax + aw, bx + bw) - max(ax, bx)), max(0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / float(aw * ah + bw * bh - iw * ih)


class EmotionDetector:
    """(A + C) Find every face in a frame and classify all of them in one batched call.

    `smoothing` in [0, 1) averages each face's probabilities with the same face in the previous
    frame (matched by box overlap): 0 for photos, ~0.5 for video.
    """

    def __init__(self, model=None, face_detector: FaceDetector | None = None, smoothing: float = 0.0,
                 tta: bool = True, channel_order: str = "bgr"):
        from .models import inference_fn, load_model

        self.model = load_model(model or DEFAULT_MODEL) if model is None or isinstance(model, (str, Path)) else model
        self.face_detector = face_detector or FaceDetector()
        self.smoothing, self.tta, self.channel_order = smoothing, tta, channel_order
        self._previous: list[FaceResult] = []
        inference_fn(self.model)(np.zeros((4, *self.model.input_shape[1:]), np.float32))  # trace once, now

    @classmethod
    def for_video(cls, model=None, **kwargs) -> "EmotionDetector":
        """The detector for video and live frames: smoothing over frames instead of test-time views."""
        return cls(model, **{"smoothing": 0.5, "tta": False, **kwargs})

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """(C) Probabilities (N, 7) for grey face crops (N, 48, 48)."""
        from .models import predict_proba

        return predict_proba(self.model, faces, tta=self.tta)

    def __call__(self, frame: np.ndarray) -> list[FaceResult]:
        gray = to_gray(frame, self.channel_order)
        boxes = self.face_detector.detect(gray)
        probs = self.classify(crop_faces(gray, boxes)) if len(boxes) else np.zeros((0, len(EMOTIONS)))
        if self.smoothing and self._previous:
            for k, box in enumerate(boxes):
                match = max(self._previous, key=lambda r: _iou(r.box, box))
                if _iou(match.box, box) > 0.3:
                    prev = np.array([match.probabilities[e] for e in EMOTIONS])
                    probs[k] = self.smoothing * prev + (1 - self.smoothing) * probs[k]
        results = [FaceResult(tuple(int(v) for v in b), {e: float(p) for e, p in zip(EMOTIONS, row)})
                   for b, row in zip(boxes, probs)]
        self._previous = results
        return results

    def reset(self) -> None:
        """Forget the previous frame (start of a new video)."""
        self._previous = []


def draw_results(frame: np.ndarray, results: list[FaceResult], bars: bool = True,
                 features: dict[int, dict[str, np.ndarray]] | None = None) -> np.ndarray:
    """A BGR copy of `frame` with each face's box, label and (optionally) 7 probability bars and
    facial feature boxes (`features[k]` for face k, from `facial_features`)."""
    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[:, :, :3].copy()
    scale = max(out.shape[1] / 640, 0.5)
    for k, r in enumerate(results):
        x, y, w, h = r.box
        color = EMOTION_COLORS_BGR[r.emotion]
        thick = max(1, int(round(2 * scale)))
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thick)
        label = f"{r.emotion} {r.probabilities[r.emotion]:.0%}"
        cv2.putText(out, label, (x, max(y - int(6 * scale), 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, color,
                    thick, cv2.LINE_AA)
        for name, boxes in (features or {}).get(k, {}).items():
            for fx, fy, fw, fh in boxes:
                cv2.rectangle(out, (fx, fy), (fx + fw, fy + fh), (255, 255, 0) if name == "eyes" else (255, 0, 255), 1)
        if bars:
            bx, bar_h = x + w + int(4 * scale), max(6, int(h / 9))
            for i, e in enumerate(EMOTIONS):
                by = y + i * bar_h
                length = int(r.probabilities[e] * 60 * scale)
                cv2.rectangle(out, (bx, by + 1), (bx + length, by + bar_h - 1), EMOTION_COLORS_BGR[e], -1)
                cv2.putText(out, e[:3], (bx + length + 2, by + bar_h - 2), cv2.FONT_HERSHEY_PLAIN,
                            0.6 * scale * bar_h / 10, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def benchmark_frame() -> np.ndarray:
    """A 640x480 BGR frame with one face: Grace Hopper's portrait on a grey background."""
    portrait = cv2.resize(read_image(PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"), (360, 420))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[30:450, 140:500] = portrait
    return frame


def _median_ms(fn, n: int) -> float:
    import time

    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def time_pipeline(frame: np.ndarray, n: int = 200, model_path=None) -> dict:
    """Median milliseconds per stage and per whole frame (detect + classify + draw) of EmotionDetector."""
    import os as _os

    from .models import load_model

    det = EmotionDetector(load_model(model_path or DEFAULT_MODEL))
    for _ in range(10):
        draw_results(frame, det(frame))  # warm-up
    gray = to_gray(frame)
    boxes = det.face_detector.detect(gray)
    results = det(frame)
    stages = {
        "grey + face detection": _median_ms(lambda: det.face_detector.detect(to_gray(frame)), n),
        "crop + classification": _median_ms(lambda: det.classify(crop_faces(gray, boxes)), n),
        "drawing": _median_ms(lambda: draw_results(frame, results), n),
    }
    frame_ms = _median_ms(lambda: draw_results(frame, det(frame)), n)
    return {"frame_ms_median": frame_ms, "fps": 1000 / frame_ms, "stages": stages, "faces": len(results),
            "frames": n, "hardware": f"{_os.cpu_count()} CPU cores"}


def time_peer_fer(frame: np.ndarray, n: int = 50) -> float | None:
    """Median ms of the `fer` package's detect_emotions (its TFLite model) on the same frame, or None
    where `fer` is not installed."""
    try:
        import logging

        from fer.fer import FER
    except ImportError:
        return None
    import warnings

    from .backend import stderr_silenced

    logging.getLogger("fer").setLevel(logging.WARNING)
    with warnings.catch_warnings(), stderr_silenced():  # TFLite's deprecation notices
        warnings.simplefilter("ignore")
        peer = FER()
        for _ in range(5):
            peer.detect_emotions(frame)
    return _median_ms(lambda: peer.detect_emotions(frame), n)
