"""Faces in images and video: (A) face detection, (B) facial features, (C) emotion classification,
and drawing the results on the frame.

    detector = EmotionDetector()                 # the shipped model + OpenCV's Haar cascade
    results = detector(frame)                    # [FaceResult(box, emotion, probabilities), ...]
    annotated = draw_results(frame, results)
"""
from __future__ import annotations

import functools
import os
import re
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


MAX_PIXELS_ENV = "FER_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 50_000_000  # a 50-megapixel photo: 150 MB decoded as BGR
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0-SOF15 (not DHT, JPG, DAC)


def max_image_pixels() -> int:
    """The largest image (width x height) that is decoded: $FER_MAX_IMAGE_PIXELS, else 50 megapixels."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{MAX_PIXELS_ENV}={value!r} is not a positive whole number of pixels (e.g. 50000000)")
    return int(value)


def _jpeg_layout(data: bytes) -> tuple[tuple[int, int] | None, int | None]:
    """A JPEG's (width, height) from its frame header and the offset of its first scan, where found."""
    i, size = 2, None
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return size, None  # not a marker: a damaged header
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in _JPEG_FRAME_MARKERS and i + 9 <= len(data):
            size = (int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big"))
        if marker == 0xDA:
            return size, i
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return size, None


def _pnm_size(data: bytes) -> tuple[int, int] | None:
    tokens = re.sub(rb"#[^\n]*", b" ", data[:1024]).split()
    return (int(tokens[1]), int(tokens[2])) if len(tokens) > 2 and tokens[1].isdigit() and tokens[2].isdigit() else None


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as declared in the header of PNG, JPEG, BMP, WebP or PNM image bytes, read
    without decoding; None for other formats or a header too damaged to say."""
    le = lambda a, b: int.from_bytes(data[a:b], "little")  # noqa: E731
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        return _jpeg_layout(data)[0]
    if data.startswith(b"BM") and len(data) >= 26:
        if le(14, 18) == 12:  # OS/2 bitmap header
            return le(18, 20), le(20, 22)
        width, height = (int.from_bytes(data[a:a + 4], "little", signed=True) for a in (18, 22))
        return abs(width), abs(height)  # a negative height: rows stored top-down
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return le(24, 27) + 1, le(27, 30) + 1
        if chunk == b"VP8L":
            bits = le(21, 25)
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 ":
            return le(26, 28) & 0x3FFF, le(28, 30) & 0x3FFF
    if re.match(rb"P[1-6]\s", data[:3]):
        return _pnm_size(data)
    return None


def _truncation(data: bytes) -> str | None:
    """Which format's data ends before its end marker (a JPEG without an end-of-image marker after its
    first scan, a PNG without its IEND chunk), else None."""
    if data.startswith(b"\xff\xd8"):
        scan = _jpeg_layout(data)[1]
        return "JPEG" if scan is not None and data.find(b"\xff\xd9", scan) < 0 else None
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data.rfind(b"IEND") < 0:
        return "PNG"
    return None


def decode_image(data: bytes, name: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decode image bytes as BGR uint8 (or as `cv2.imdecode`'s `flags` say). Before decoding, refuse empty
    bytes, an image that declares more than `max_image_pixels()` (a decompression bomb) and a truncated
    JPEG/PNG; every failure is an ImageError whose message starts with `name` (where the bytes came from)."""
    if not data:
        raise ImageError(f"{name} is empty (0 bytes)")
    limit = max_image_pixels()

    def refuse_size(width: int, height: int) -> ImageError:
        megapixels = width * height / 1e6
        shown = f"{megapixels:.0f}" if megapixels >= 10 else f"{megapixels:.2g}"
        return ImageError(f"{name} is {width}x{height} pixels ({shown} megapixels), over the "
                          f"limit of {limit / 1e6:g} megapixels, and was not decoded: shrink it, or raise the limit "
                          f"with the {MAX_PIXELS_ENV} setting if you trust the file")

    size = declared_size(data)
    if size is not None and size[0] * size[1] > limit:
        raise refuse_size(*size)
    truncated = _truncation(data)
    if truncated:
        raise ImageError(f"{name} is truncated: its {truncated} data ends early (an incomplete download or copy?); "
                         f"copy the whole file again")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as e:
        raise ImageError(f"{name} could not be decoded ({str(e).strip().splitlines()[-1]})") from e
    if img is None:
        raise ImageError(f"{name} is not a readable image (corrupt, or not a JPEG, PNG or other format OpenCV reads)")
    if img.shape[0] * img.shape[1] > limit:
        raise refuse_size(img.shape[1], img.shape[0])
    return img


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8, with a clear error for a missing, unreadable, truncated or
    too large file (see `decode_image`)."""
    p = Path(path)
    if p.is_dir():
        raise ImageError(f"{p} is a folder, not an image: give the image files in it (e.g. {p / '*.jpg'})")
    if not p.is_file():
        raise ImageError(f"{p}: no such file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"{p} could not be read ({e.strerror})") from e
    return decode_image(data, str(p))


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


@dataclass
class FaceTracker:
    """Face detection for video: between full-frame detections, each face is searched for only in a
    region around its last box, scaled so the face is about `roi_face_px` wide (a few per cent of
    the cost of a whole frame). A full detection runs every `full_every` frames, whenever a face is
    lost, and on every frame while no face is tracked, so a face that enters the frame is found
    within `full_every` frames."""

    detector: FaceDetector = field(default_factory=FaceDetector)
    full_every: int = 10
    margin: float = 0.4
    roi_face_px: int = 48
    _boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), int), init=False, repr=False)
    _since_full: int = field(default=0, init=False, repr=False)

    def reset(self) -> None:
        """Forget the tracked faces: the next frame gets a full detection."""
        self._boxes, self._since_full = np.zeros((0, 4), int), 0

    def _search_near(self, gray: np.ndarray, box) -> np.ndarray | None:
        x, y, w, h = box
        m = int(self.margin * max(w, h))
        x0, y0 = max(x - m, 0), max(y - m, 0)
        x1, y1 = min(x + w + m, gray.shape[1]), min(y + h + m, gray.shape[0])
        if x1 - x0 < w // 2 or y1 - y0 < h // 2:
            return None
        scale = self.roi_face_px / w
        roi = cv2.resize(gray[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        lo, hi = int(self.roi_face_px * 0.7), int(self.roi_face_px * 1.45)
        found = self.detector._cascade.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=self.detector.min_neighbors,
                                                        minSize=(lo, lo), maxSize=(hi, hi))
        if len(found) == 0:
            return None
        found = np.asarray(found, np.float64).reshape(-1, 4) / scale + [x0, y0, 0, 0]
        centre = np.array([x + w / 2, y + h / 2])
        best = np.argmin(np.linalg.norm(found[:, :2] + found[:, 2:] / 2 - centre, axis=1))
        return np.round(found[best]).astype(int)

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h, largest first, like `FaceDetector.detect`."""
        if len(self._boxes) and self._since_full + 1 < self.full_every:
            near = [self._search_near(gray, b) for b in self._boxes]
            if all(b is not None for b in near):
                self._since_full += 1
                self._boxes = np.array(near)
                return self._boxes
        self._boxes, self._since_full = self.detector.detect(gray), 0
        return self._boxes


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

    `model`: a path (default: the shipped model), a Keras model or a `TFLiteModel`. A path runs the
    fast converted model next to it when it matches the weights (`fast=False`: always Keras).
    `smoothing` in [0, 1) keeps an exponential moving average of each face's probabilities over
    frames (the same face matched by box overlap): 0 for photos, ~0.5 for video. `tta`: True averages
    the 4 test-time views (photos), False runs one view, "cycle" runs one of the 4 views per frame in
    turn and averages each face over its last 4 frames, so every output has seen all 4 views at the
    cost of one (video). `tracking` N > 0
    follows faces between full detections every N frames (video). `EmotionDetector.for_video()` sets
    all three for video and live frames.
    """

    def __init__(self, model=None, face_detector: FaceDetector | None = None, smoothing: float = 0.0,
                 tta: bool | str = True, channel_order: str = "bgr", tracking: int = 0, fast: bool = True):
        from .models import inference_fn, load_inference_model

        self.model = load_inference_model(model or DEFAULT_MODEL, fast=fast) \
            if model is None or isinstance(model, (str, Path)) else model
        self.face_detector = face_detector or FaceDetector()
        self.tracker = FaceTracker(self.face_detector, full_every=tracking) if tracking else None
        self.smoothing, self.tta, self.channel_order = smoothing, tta, channel_order
        self._previous: list[FaceResult] = []
        self._views_seen: list[np.ndarray] = []  # per face of the previous frame: its last raw probabilities
        self._frames = 0
        inference_fn(self.model)(np.zeros((4, *self.model.input_shape[1:]), np.float32))  # trace once, now

    @classmethod
    def for_video(cls, model=None, **kwargs) -> "EmotionDetector":
        """The detector for video and live frames: face tracking (a full detection every 10 frames) and
        smoothing over frames of one test-time view per frame, taken in turn (chosen on PublicTest
        with benchmarks/video_mode_choice.py)."""
        return cls(model, **{"smoothing": 0.5, "tta": "cycle", "tracking": 10, **kwargs})

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """(C) Probabilities (N, 7) for grey face crops (N, 48, 48)."""
        from .models import predict_proba, tta_views

        if self.tta == "cycle":
            x = np.asarray(faces, np.float32)[..., None]
            self._frames += 1
            return predict_proba(self.model, tta_views(x)[(self._frames - 1) % 4], tta=False)
        return predict_proba(self.model, faces, tta=bool(self.tta))

    def _match(self, box) -> int | None:
        """Index of the previous frame's face that overlaps `box` most (IoU > 0.3), or None."""
        ious = [_iou(r.box, box) for r in self._previous]
        best = int(np.argmax(ious)) if ious else 0
        return best if ious and ious[best] > 0.3 else None

    def __call__(self, frame: np.ndarray) -> list[FaceResult]:
        gray = to_gray(frame, self.channel_order)
        boxes = (self.tracker or self.face_detector).detect(gray)
        raw = self.classify(crop_faces(gray, boxes)) if len(boxes) else np.zeros((0, len(EMOTIONS)))
        probs, views_seen = raw.copy(), []
        for k, box in enumerate(boxes):
            j = self._match(box)
            # cycling views: average this face's last 4 frames, so every output has seen all 4 views
            seen = raw[k:k + 1] if j is None or self.tta != "cycle" else np.vstack([self._views_seen[j][-3:], raw[k]])
            views_seen.append(seen)
            probs[k] = seen.mean(axis=0)
            if self.smoothing and j is not None:
                prev = np.array([self._previous[j].probabilities[e] for e in EMOTIONS])
                probs[k] = self.smoothing * prev + (1 - self.smoothing) * probs[k]
        results = [FaceResult(tuple(int(v) for v in b), {e: float(p) for e, p in zip(EMOTIONS, row)})
                   for b, row in zip(boxes, probs)]
        self._previous, self._views_seen = results, views_seen
        return results

    def reset(self) -> None:
        """Forget the previous frame and the tracked faces (start of a new video)."""
        self._previous, self._views_seen = [], []
        if self.tracker:
            self.tracker.reset()


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


def median_ms(fn, n: int) -> float:
    """Median wall-clock milliseconds of `n` calls of `fn()`."""
    import time

    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def cpu_description() -> str:
    """Core count, CPU model and its widest vector unit, e.g. "2 x AMD EPYC (AVX-512)": speed figures
    depend on all three (the same code runs 2-3x slower on an AVX2-only CPU)."""
    import platform

    name, flags = platform.processor() or platform.machine(), ""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                    name)
        flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    simd = " (AVX-512)" if " avx512f" in flags else " (AVX2)" if " avx2" in flags else ""
    return f"{os.cpu_count()} x {name}{simd}"


def time_pipeline(frame: np.ndarray, n: int = 200, model_path=None, fast: bool = True) -> dict:
    """Median milliseconds per stage and per whole frame (detect + classify + draw), for the video
    path (`EmotionDetector.for_video`: tracking, one view, smoothing; what the live demos run) and the
    photo path (full detection, 4 test-time views)."""
    from .models import load_inference_model

    model = load_inference_model(model_path or DEFAULT_MODEL, fast=fast)
    report = {"model": type(model).__name__, "frames": n, "hardware": cpu_description()}
    for name, det in (("video", EmotionDetector.for_video(model)), ("photo", EmotionDetector(model))):
        for _ in range(10):
            draw_results(frame, det(frame))  # warm-up
        gray = to_gray(frame)
        boxes = det.face_detector.detect(gray)
        results = det(frame)
        find = det.tracker or det.face_detector
        stages = {
            "grey + face detection" + (" (tracking)" if det.tracker else ""): median_ms(lambda: find.detect(to_gray(frame)), n),
            f"crop + classification ({'1 view, cycling' if det.tta == 'cycle' else '4 views' if det.tta else '1 view'})":
                median_ms(lambda: det.classify(crop_faces(gray, boxes)), n),
            "drawing": median_ms(lambda: draw_results(frame, results), n),
        }
        frame_ms = median_ms(lambda: draw_results(frame, det(frame)), n)
        report[name] = {"frame_ms_median": frame_ms, "fps": 1000 / frame_ms, "stages": stages, "faces": len(results)}
    return report


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
    return median_ms(lambda: peer.detect_emotions(frame), n)
