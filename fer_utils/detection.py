"""(A) Face detection: a small CNN with anchors (MediaPipe's BlazeFace full-range, run on LiteRT: the default)
and OpenCV's Haar cascade (the classic Viola-Jones detector, taught in notebook 05).

Both take a grey frame and return face boxes (N, 4) as x, y, w, h, largest first; the CNN also gives each
face 6 keypoints (eyes, nose tip, mouth, ears) in `detect_faces`.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .inference import stderr_silenced

BLAZEFACE_PATH = Path(__file__).with_name("detectors") / "face_detection_full_range.tflite"
BLAZEFACE_SHA256 = "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the person's right/left


@dataclass
class Face:
    """One detected face: its box (x, y, w, h) in frame pixels, the detector's score, and 6 keypoints
    (x, y) in frame pixels (the order of KEYPOINTS; None from Haar)."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: np.ndarray | None = None


def blazeface_anchors(grid: int = 48) -> np.ndarray:
    """Anchor centres (grid*grid, 2) in 0-1 image units: one per cell of a grid x grid map (stride 4 on a
    192-pixel input), at the cell's centre; MediaPipe's full-range options (fixed anchor size 1)."""
    ys, xs = np.mgrid[0:grid, 0:grid]
    return np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1).astype(np.float32)


def decode_blazeface(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int,
                     min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (N, 4) as x0, y0, x1, y1; scores (N,); keypoints (N, 6, 2)), all in 0-1 units of the square
    input, for the anchors whose sigmoid score is at least `min_score`. Each anchor's 16 numbers are the box
    centre offset, its width and height, and 6 keypoint offsets, in input pixels."""
    scores = 1 / (1 + np.exp(-np.clip(logits.reshape(-1), -100, 100)))
    keep = scores >= min_score
    raw, centres = regressors.reshape(-1, 16)[keep] / input_size, anchors[keep]
    cx, cy = raw[:, 0] + centres[:, 0], raw[:, 1] + centres[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
    return boxes, scores[keep], keypoints


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (x0, y0, x1, y1) with each of `boxes` (N, 4)."""
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou: float = 0.3):
    """MediaPipe's weighted non-maximum suppression: the best-scoring box and every box overlapping it by
    more than `iou` merge into one, their coordinates averaged with the scores as weights."""
    order = np.argsort(-scores)
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    out_boxes, out_scores, out_keypoints = [], [], []
    remaining = np.arange(len(scores))
    while len(remaining):
        overlap = box_iou(boxes[remaining[0]], boxes[remaining]) > iou
        group, remaining = remaining[overlap], remaining[~overlap]
        weights = scores[group][:, None]
        out_boxes.append((boxes[group] * weights).sum(0) / weights.sum())
        out_keypoints.append((keypoints[group] * weights[:, :, None]).sum(0) / weights.sum())
        out_scores.append(scores[group[0]])
    return np.array(out_boxes).reshape(-1, 4), np.array(out_scores), np.array(out_keypoints).reshape(-1, 6, 2)


def letterbox(gray: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """`gray` scaled to fit a size x size square, centred on black: (square, scale, (pad_x, pad_y))."""
    h, w = gray.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    square = np.zeros((size, size), np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    square[py:py + nh, px:px + nw] = cv2.resize(gray, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1
                                                else cv2.INTER_LINEAR)
    return square, scale, (px, py)


def _checked_model_bytes(path: Path = BLAZEFACE_PATH) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != BLAZEFACE_SHA256:
        raise RuntimeError(f"{path} is not the shipped face detector (its sha256 differs): reinstall fer_utils")
    return data


@dataclass
class CnnFaceDetector:
    """(A) BlazeFace full-range on LiteRT: a 192x192 view of the whole (letterboxed) frame, 2,304 anchors,
    weighted non-maximum suppression. About 2 ms per frame on 2 CPU cores, whatever the frame size.
    `min_score`: the lowest face score kept; `min_size`/`max_size`: face widths kept, in frame pixels;
    `tiles` adds the tiled second pass (its detections kept from `tile_min_score`)."""

    min_score: float = 0.2  # chosen on the PublicTest scenes of benchmarks/detection_benchmark.py
    min_size: int = 20
    max_size: int | None = None
    num_threads: int = 2
    tiles: bool = False  # a second pass in 4 tiles at 2x: small faces, 5 network runs instead of 1
    tile_min_score: float = 0.5
    _interpreter: object = field(init=False, repr=False)

    def __post_init__(self):
        from ai_edge_litert.interpreter import Interpreter

        with stderr_silenced():
            self._interpreter = Interpreter(model_content=_checked_model_bytes(), num_threads=self.num_threads)
            self._interpreter.allocate_tensors()
        details = self._interpreter.get_input_details()[0]
        self._input, self.input_size = details["index"], int(details["shape"][1])
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._regressors, self._logits = outputs[0]["index"], outputs[1]["index"]
        self._anchors = blazeface_anchors(self.input_size // 4)

    def _candidates(self, gray: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pass of the network over all of `gray` (letterboxed): boxes (x0, y0, x1, y1), scores and
        keypoints in `gray`'s pixels, before suppression."""
        square, scale, (px, py) = letterbox(gray, self.input_size)
        x = (np.repeat(square[None, :, :, None], 3, axis=3).astype(np.float32) / 127.5) - 1.0
        self._interpreter.set_tensor(self._input, x)
        self._interpreter.invoke()
        boxes, scores, keypoints = decode_blazeface(self._interpreter.get_tensor(self._regressors),
                                                    self._interpreter.get_tensor(self._logits), self._anchors,
                                                    self.input_size, min_score)
        pad = np.array([px, py], np.float32)
        boxes = (boxes * self.input_size - np.tile(pad, 2)) / scale
        return boxes, scores, (keypoints * self.input_size - pad) / scale

    def detect_faces(self, gray: np.ndarray) -> list[Face]:
        """Every face in a grey frame, largest first, with its score and keypoints. With `tiles`, a second
        pass looks at the frame in 2 x 2 overlapping tiles, each at twice the scale, for faces too small
        for one 192-pixel view of the whole frame."""
        passes = [self._candidates(gray, self.min_score)]
        if self.tiles:
            h, w = gray.shape[:2]
            th, tw = int(h * 0.6), int(w * 0.6)
            for y0 in (0, h - th):
                for x0 in (0, w - tw):
                    b, s, k = self._candidates(gray[y0:y0 + th, x0:x0 + tw], self.tile_min_score)
                    # a face cut by a tile's inner edge is a part of a face: the neighbouring tile sees it whole
                    inside = ((b[:, 0] > 1 if x0 else True) & (b[:, 2] < tw - 1 if x0 == 0 else True)
                              & (b[:, 1] > 1 if y0 else True) & (b[:, 3] < th - 1 if y0 == 0 else True))
                    shift = np.array([x0, y0], np.float32)
                    passes.append((b[inside] + np.tile(shift, 2), s[inside], k[inside] + shift))
        boxes, scores, keypoints = (np.concatenate(parts) for parts in zip(*passes))
        faces = []
        for b, s, k in zip(*weighted_nms(boxes, scores, keypoints)):
            w = b[2] - b[0]
            if w < self.min_size or (self.max_size and w > self.max_size):
                continue
            box = (int(round(b[0])), int(round(b[1])), int(round(w)), int(round(b[3] - b[1])))
            faces.append(Face(box, float(s), k))
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h in `gray`'s pixels, largest first."""
        return np.array([f.box for f in self.detect_faces(gray)], int).reshape(-1, 4)


@functools.lru_cache(maxsize=None)
def cascade(name: str) -> cv2.CascadeClassifier:
    """One of OpenCV's bundled Haar cascades, loaded once."""
    path = Path(cv2.data.haarcascades) / name
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise RuntimeError(f"OpenCV cascade {path} is missing: install opencv-python 4.x (5.0 has none)")
    return classifier


@dataclass
class HaarFaceDetector:
    """(A) OpenCV's Haar cascade face detector (Viola-Jones). Frames wider than `detect_width` are
    downscaled for detection (speed) and the boxes mapped back; `min_size`/`max_size` in frame pixels."""

    scale_factor: float = 1.2
    min_neighbors: int = 5
    min_size: int = 40
    max_size: int | None = None
    detect_width: int = 320
    cascade_name: str = "haarcascade_frontalface_default.xml"
    _cascade: cv2.CascadeClassifier = field(init=False, repr=False)

    def __post_init__(self):
        self._cascade = cascade(self.cascade_name)

    def detect_faces(self, gray: np.ndarray) -> list[Face]:
        """Every face in a grey frame, largest first (score 1, no keypoints)."""
        return [Face(tuple(int(v) for v in b), 1.0) for b in self.detect(gray)]

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h in `gray`'s pixels, largest first."""
        scale = min(1.0, self.detect_width / gray.shape[1])
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        # search from 0.6 x the smallest size, then keep the sizes asked for: a search window that starts at the
        # face's own size sees it at too few scales to gather `min_neighbors` hits, and misses it
        search = max(12, int(round(0.6 * self.min_size * scale)))
        boxes = self._cascade.detectMultiScale(small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(search, search))
        boxes = np.round(np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / scale).astype(int)
        keep = (boxes[:, 2] >= self.min_size) & (boxes[:, 2] <= (self.max_size or np.inf))
        boxes = boxes[keep]
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])] if len(boxes) else boxes


DETECTORS = {"cnn": CnnFaceDetector, "haar": HaarFaceDetector}


def make_detector(name: str = "cnn", **settings):
    """A face detector by name: "cnn" (BlazeFace, the default) or "haar" (OpenCV's cascade)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**settings)
