"""Faces in images and video: (A) face detection, (B) facial features, (C) emotion classification.

    detector = EmotionDetector()                 # the shipped model + the CNN face detector
    results = detector(frame)                    # [FaceResult(box, emotion, probabilities), ...]
    annotated = draw_results(frame, results)     # fer_utils.drawing
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .data import EMOTIONS, IMAGE_SIZE, PROJECT_ROOT
from .detection import KEYPOINTS, Face, HaarFaceDetector, make_detector
from .images import to_gray
from .tracking import FaceTracker


DEFAULT_MODEL = PROJECT_ROOT / "models" / "fer_vgg_bn.keras"
ALIGN = True  # level the eye line before classifying (benchmarks/alignment_choice.py)
EXPAND = 1.15  # the crop's side / the detected box's larger side (benchmarks/alignment_choice.py)
# video and live frames: the CNN detector runs on every 2nd frame and the frame between reuses its faces (in the
# visitor's browser detection is two thirds of a frame's work: benchmarks/browser_visitors.py)
VIDEO_DETECT_EVERY = 2


def crop_faces(gray: np.ndarray, boxes: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The face boxes of a grey frame, each resized to size x size (N, size, size) uint8."""
    out = np.empty((len(boxes), size, size), np.uint8)
    for k, (x, y, w, h) in enumerate(boxes):
        out[k] = cv2.resize(gray[max(y, 0):y + h, max(x, 0):x + w], (size, size), interpolation=cv2.INTER_AREA)
    return out


def eye_angle(keypoints: np.ndarray) -> float:
    """The tilt of the line through the eyes, in degrees (0: level); keypoints in KEYPOINTS order."""
    (rx, ry), (lx, ly) = keypoints[0], keypoints[1]  # the person's right eye is on the image's left
    return float(np.degrees(np.arctan2(ly - ry, lx - rx)))


def crop_aligned(gray: np.ndarray, faces: list[Face], size: int = IMAGE_SIZE, expand: float = 1.0,
                 align: bool = True) -> np.ndarray:
    """Each face as a size x size grey crop (N, size, size): a square of side `expand` x the box's larger
    side around the box centre, turned so the eye line is level when `align` and the face has keypoints.
    One affine warp per face (no intermediate rotated frame); outside the frame is filled by reflection."""
    out = np.empty((len(faces), size, size), np.uint8)
    for k, face in enumerate(faces):
        x, y, w, h = face.box
        side = max(w, h) * expand
        angle = eye_angle(face.keypoints) if align and face.keypoints is not None else 0.0
        m = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, size / side)
        m[:, 2] += size / 2 - np.array([x + w / 2, y + h / 2])
        out[k] = cv2.warpAffine(gray, m, (size, size), flags=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
    return out


@dataclass
class FaceResult:
    """One face: its box (x, y, w, h), the most likely emotion, all 7 probabilities, and the detector's
    6 keypoints (x, y) where it gives them (the CNN detector; order of detection.KEYPOINTS)."""

    box: tuple[int, int, int, int]
    probabilities: dict[str, float]
    keypoints: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def to_json(self) -> dict:
        out = {"box": list(self.box), "emotion": self.emotion,
               "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}
        if self.keypoints is not None:
            out["keypoints"] = dict(zip(KEYPOINTS, np.round(self.keypoints).astype(int).tolist()))
        return out


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / max(a[2] * a[3] + b[2] * b[3] - iw * ih, 1e-9)


class EmotionDetector:
    """(A + C) Find every face in a frame and classify all of them in one batched call.

    `model`: a path (default: the shipped model), a Keras model or a `TFLiteModel`. `detector`: "cnn"
    (BlazeFace, the default) or "haar" (OpenCV's cascade), or pass a built `face_detector`. A path runs the
    fast converted model next to it when it matches the weights (`fast=False`: always Keras).
    `smoothing` in [0, 1) keeps an exponential moving average of each face's probabilities over
    frames (the same face matched by box overlap): 0 for photos, ~0.5 for video. `tta`: True averages
    the 4 test-time views (photos), False runs one view, "cycle" runs one of the 4 views per frame in
    turn and averages each face over its last 4 frames, so every output has seen all 4 views at the
    cost of one (video). `tracking` N > 0
    follows faces between full detections every N frames (video). `detect_every` N > 1 runs the detector on
    every Nth frame only and reuses its faces on the frames between (video). `EmotionDetector.for_video()`
    sets these for video and live frames.
    """

    def __init__(self, model=None, face_detector=None, smoothing: float = 0.0, tta: bool | str = True,
                 channel_order: str = "bgr", tracking: int = 0, fast: bool = True, detector: str = "cnn",
                 align: bool = ALIGN, expand: float = EXPAND, detect_every: int = 1):
        from .inference import load_inference_model, model_callable

        self.model = load_inference_model(model or DEFAULT_MODEL, fast=fast) \
            if model is None or isinstance(model, (str, Path)) else model
        self.face_detector = face_detector or make_detector(detector)
        if tracking and not isinstance(self.face_detector, HaarFaceDetector):
            raise ValueError("tracking follows faces with the Haar cascade: use detector='haar' with tracking")
        self.tracker = FaceTracker(self.face_detector, full_every=tracking) if tracking else None
        if detect_every < 1 or (detect_every > 1 and tracking):
            raise ValueError("detect_every is a whole number >= 1, and 1 with tracking (the tracker decides)")
        self.detect_every = detect_every
        self._faces: list[Face] = []  # the last detection's faces, reused until the next one
        self._frame_index = 0
        self.smoothing, self.tta, self.channel_order = smoothing, tta, channel_order
        self.align, self.expand = align, expand
        self._previous: list[FaceResult] = []
        self._views_seen: list[np.ndarray] = []  # per face of the previous frame: its last raw probabilities
        self._frames = 0
        model_callable(self.model)(np.zeros((4, *self.model.input_shape[1:]), np.float32))  # trace once, now

    @classmethod
    def for_video(cls, model=None, **kwargs) -> "EmotionDetector":
        """The detector for video and live frames: smoothing over frames of one test-time view per frame,
        taken in turn (chosen on PublicTest with benchmarks/video_mode_choice.py). With the Haar cascade
        (detector="haar"), face tracking too: a full detection every 10 frames; otherwise the detector runs
        on every VIDEO_DETECT_EVERY-th frame and the frames between reuse its faces."""
        if kwargs.get("detector") == "haar" and "face_detector" not in kwargs:
            kwargs.setdefault("tracking", 10)
        if not kwargs.get("tracking"):
            kwargs.setdefault("detect_every", VIDEO_DETECT_EVERY)
        return cls(model, **{"smoothing": 0.5, "tta": "cycle", **kwargs})

    def describe_output(self) -> str:
        """One sentence on what each face's label and probabilities are, for live displays to show beside them:
        the label is always the top one of the probabilities shown."""
        views = ("the mean of its last 4 frames, each seen in one of the 4 test-time views in turn"
                 if self.tta == "cycle" else "the mean of 4 test-time views" if self.tta else "one view")
        how = f"Label and bars: each face's probabilities from {views}"
        if self.smoothing:
            return (f"{how}, then smoothed over frames (shown = {self.smoothing:g} x previous + "
                    f"{1 - self.smoothing:g} x this frame): the label is the top bar.")
        return f"{how}; the label is the top bar."

    def classify(self, faces: np.ndarray) -> np.ndarray:
        """(C) Probabilities (N, 7) for grey face crops (N, 48, 48)."""
        from .inference import predict_proba, tta_views

        if self.tta == "cycle":
            x = np.asarray(faces, np.float32)[..., None]
            self._frames += 1
            return predict_proba(self.model, tta_views(x)[(self._frames - 1) % 4], tta=False)
        return predict_proba(self.model, faces, tta=bool(self.tta))

    def find_faces(self, gray: np.ndarray) -> list[Face]:
        """(A) The faces of a grey frame, largest first: tracked (Haar with `tracking`), detected, or with
        `detect_every` N > 1 on the frames between detections, the last detection's faces."""
        if self.tracker:
            return [Face(tuple(int(v) for v in b), 1.0) for b in self.tracker.detect(gray)]
        if self._frame_index % self.detect_every == 0:
            self._faces = self.face_detector.detect_faces(gray)
        self._frame_index += 1
        return self._faces

    def _match(self, box) -> int | None:
        """Index of the previous frame's face that overlaps `box` most (IoU > 0.3), or None."""
        ious = [iou(r.box, box) for r in self._previous]
        best = int(np.argmax(ious)) if ious else 0
        return best if ious and ious[best] > 0.3 else None

    def __call__(self, frame: np.ndarray) -> list[FaceResult]:
        gray = to_gray(frame, self.channel_order)
        faces = self.find_faces(gray)
        boxes = [f.box for f in faces]
        raw = self.classify(crop_aligned(gray, faces, expand=self.expand, align=self.align)) if faces \
            else np.zeros((0, len(EMOTIONS)))
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
        results = [FaceResult(tuple(int(v) for v in f.box), {e: float(p) for e, p in zip(EMOTIONS, row)}, f.keypoints)
                   for f, row in zip(faces, probs)]
        self._previous, self._views_seen = results, views_seen
        return results

    def reset(self) -> None:
        """Forget the previous frame and the tracked faces (start of a new video)."""
        self._previous, self._views_seen = [], []
        self._faces, self._frame_index, self._frames = [], 0, 0
        if self.tracker:
            self.tracker.reset()
