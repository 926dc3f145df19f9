"""(A) Face detection: a small CNN with anchors (MediaPipe's BlazeFace, run on LiteRT: the default; its
full-range model for faces at any distance, its short-range model for faces near the camera) and OpenCV's Haar
cascade (the classic Viola-Jones detector, taught in notebook 05).

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

DETECTOR_FOLDER = Path(__file__).with_name("detectors")
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the person's right/left
MIRRORED_KEYPOINTS = [1, 0, 2, 3, 5, 4]  # KEYPOINTS' order in a mirrored view: right and left swap


@dataclass
class Face:
    """One detected face: its box (x, y, w, h) in frame pixels, the detector's score, and 6 keypoints
    (x, y) in frame pixels (the order of KEYPOINTS; None from Haar)."""

    box: tuple[int, int, int, int]
    score: float
    keypoints: np.ndarray | None = None


@dataclass(frozen=True)
class BlazeFaceModel:
    """One of MediaPipe's BlazeFace models shipped in fer_utils/detectors/ (see its README): the file, its
    sha256 (checked when loaded), and its anchor layout as (cells per side, anchors per cell), one per map."""

    file: str
    sha256: str
    grids: tuple[tuple[int, int], ...]
    min_score: float  # the default lowest face score kept

    @property
    def path(self) -> Path:
        return DETECTOR_FOLDER / self.file


BLAZEFACE_MODELS = {
    # 192x192 input, one 48x48 map (stride 4), one anchor per cell: faces from ~5% of the frame up
    "full_range": BlazeFaceModel("face_detection_full_range.tflite",
                                 "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3", ((48, 1),),
                                 min_score=0.2),  # chosen on the scenes of benchmarks/detection_benchmark.py
    # 128x128 input, a 16x16 map with 2 anchors per cell (stride 8) and an 8x8 map with 6 (stride 16): 896
    # anchors, for faces that fill a fifth of the view or more (a webcam's, a portrait's)
    "short_range": BlazeFaceModel("face_detection_short_range.tflite",
                                  "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633", ((16, 2), (8, 6)),
                                  min_score=0.5),  # MediaPipe's own threshold for it
}
BLAZEFACE_PATH = BLAZEFACE_MODELS["full_range"].path
BLAZEFACE_SHA256 = BLAZEFACE_MODELS["full_range"].sha256


def blazeface_anchors(grids: tuple[tuple[int, int], ...] = ((48, 1),)) -> np.ndarray:
    """Anchor centres (N, 2) in 0-1 image units, in the network's output order: for each map, row by row,
    each cell's centre repeated once per anchor (MediaPipe's options for BlazeFace: fixed anchor size 1, so
    the anchors of one cell differ only in what the network learned for them)."""
    centres = []
    for grid, per_cell in grids:
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode_blazeface(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, input_size: int,
                     min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (N, 4) as x0, y0, x1, y1; scores (N,); keypoints (N, 6, 2)), all in 0-1 units of the square
    input, for the anchors whose sigmoid score is at least `min_score`. Each anchor's 16 numbers are the box
    centre offset, its width and height, and 6 keypoint offsets, in input pixels."""
    scores = 1 / (1 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100, 100)))
    keep = scores >= min_score
    raw, centres = regressors.reshape(-1, 16)[keep] / input_size, anchors[keep]
    cx, cy = raw[:, 0] + centres[:, 0], raw[:, 1] + centres[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]
    return boxes, scores[keep], keypoints


def _xywh(box: np.ndarray) -> tuple[int, int, int, int]:
    """A box (x0, y0, x1, y1) as whole pixels (x, y, w, h)."""
    return (int(round(box[0])), int(round(box[1])), int(round(box[2] - box[0])), int(round(box[3] - box[1])))


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


def tile_windows(h: int, w: int, fractions: tuple[float, ...],
                 overlap: float = 1 / 3) -> list[tuple[int, int, int, int]]:
    """Tiles (y0, x0, height, width) covering an h x w frame, for each fraction of its size in `fractions`:
    as many per side as it takes for neighbours to share at least `overlap` of a tile (0.6 gives 2 x 2,
    0.4 gives 4 x 4), so a face smaller than that share lies whole in one of them."""
    windows = []
    for fraction in fractions:
        th, tw = int(h * fraction), int(w * fraction)
        per_side = int(np.ceil((1 - fraction) / (fraction * (1 - overlap)) - 1e-9)) + 1
        for y0 in np.linspace(0, h - th, per_side).round().astype(int):
            for x0 in np.linspace(0, w - tw, per_side).round().astype(int):
                windows.append((int(y0), int(x0), th, tw))
    return windows


def _checked_model_bytes(path: Path, sha256: str) -> bytes:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{path} is not the shipped face detector (its sha256 differs): reinstall fer_utils")
    return data


@dataclass
class CnnFaceDetector:
    """(A) BlazeFace on LiteRT: one view of the whole (letterboxed) frame, anchors, weighted non-maximum
    suppression. `model`: "full_range" (the default: 192x192, 2,304 anchors, about 2 ms per frame on 2 CPU
    cores, whatever the frame size) or "short_range" (128x128, 896 anchors, for faces near the camera).
    `min_score`: the lowest face score kept; `min_size`/`max_size`: face widths kept, in frame pixels;
    `tiles` adds tiled passes for small faces: for each of `tile_fractions`, the frame cut into overlapping
    tiles that fraction of its width and height, each seen at the network's full input (their detections
    kept from `tile_min_score`). `verify_contexts` re-scores and re-boxes every face found (`second_look`): the
    network looks again at square crops of each of these sizes x the face's box around it, as is and mirrored,
    where the face has the scale and the surroundings the network was trained on; the face is kept when the mean
    of those scores reaches `verify_min_score` (2 network runs per face and crop size; `predict --small-faces`)."""

    model: str = "full_range"
    min_score: float | None = None  # None: the model's own default (BlazeFaceModel.min_score)
    min_size: int = 20
    max_size: int | None = None
    num_threads: int = 2
    tiles: bool = False  # by default one more pass in 2 x 2 tiles at ~1.7x: 5 network runs instead of 1
    tile_min_score: float = 0.5
    tile_fractions: tuple[float, ...] = (0.6,)
    verify_contexts: tuple[float, ...] = ()
    verify_min_score: float = 0.6
    _interpreter: object = field(init=False, repr=False)

    def __post_init__(self):
        from ai_edge_litert.interpreter import Interpreter

        if self.model not in BLAZEFACE_MODELS:
            raise ValueError(f"unknown BlazeFace model {self.model!r}; choose one of {', '.join(BLAZEFACE_MODELS)}")
        spec = BLAZEFACE_MODELS[self.model]
        self.min_score = spec.min_score if self.min_score is None else self.min_score
        with stderr_silenced():
            self._interpreter = Interpreter(model_content=_checked_model_bytes(spec.path, spec.sha256),
                                            num_threads=self.num_threads)
            self._interpreter.allocate_tensors()
        details = self._interpreter.get_input_details()[0]
        self._input, self.input_size = details["index"], int(details["shape"][1])
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._regressors, self._logits = outputs[0]["index"], outputs[1]["index"]
        self._anchors = blazeface_anchors(spec.grids)
        if len(self._anchors) != int(outputs[0]["shape"][1]):
            raise RuntimeError(f"{spec.path} has {outputs[0]['shape'][1]} anchors, not {len(self._anchors)}: "
                               "reinstall fer_utils")

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
        """Every face in a grey frame, largest first, with its score and keypoints. With `tiles`, more
        passes look at the frame in overlapping tiles (`tile_windows`), each at a larger scale, for faces too
        small for one view of the whole frame. With `verify_contexts`, each face is the one its `second_look` finds."""
        passes = [self._candidates(gray, self.min_score)]
        h, w = gray.shape[:2]
        for y0, x0, th, tw in (tile_windows(h, w, self.tile_fractions) if self.tiles else ()):
            b, s, k = self._candidates(gray[y0:y0 + th, x0:x0 + tw], self.tile_min_score)
            # a face cut by a tile's inner edge is a part of a face: a neighbouring tile sees it whole
            inside = (((b[:, 0] > 1) | (x0 == 0)) & ((b[:, 2] < tw - 1) | (x0 + tw >= w))
                      & ((b[:, 1] > 1) | (y0 == 0)) & ((b[:, 3] < th - 1) | (y0 + th >= h)))
            shift = np.array([x0, y0], np.float32)
            passes.append((b[inside] + np.tile(shift, 2), s[inside], k[inside] + shift))
        boxes, scores, keypoints = (np.concatenate(parts) for parts in zip(*passes))
        boxes, scores, keypoints = weighted_nms(boxes, scores, keypoints)
        widths = boxes[:, 2] - boxes[:, 0]
        keep = (widths >= self.min_size) & (widths <= (self.max_size or np.inf))
        faces = [Face(_xywh(b), float(s), k) for b, s, k in zip(boxes[keep], scores[keep], keypoints[keep])]
        if self.verify_contexts:  # a second look can pass a part of a face, or a face and a box around it: one stays
            faces = [f for f in self.second_looks(gray, faces) if f.score >= self.verify_min_score]
            faces = without_nested(sorted(faces, key=lambda f: -f.score))
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])

    def second_looks(self, gray: np.ndarray, faces: list[Face]) -> list[Face]:
        """Each of `faces` seen again (`second_look`), the frame padded once for the widest crop of them all."""
        if not faces:
            return []
        pad = int(np.ceil(max(self.verify_contexts) * max(max(f.box[2:]) for f in faces)))
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REFLECT)
        return [self._second_look(padded, pad, f) for f in faces]

    def second_look(self, gray: np.ndarray, face: Face) -> Face:
        """`face` seen again by the network on square crops of `verify_contexts` x its larger side around it, as
        is and mirrored (outside the frame: reflected), where it has the scale and surroundings the network was
        trained on. Its score becomes the mean of the views' scores (0 for a view that finds no face over its
        box: IoU >= 0.3), and its box and keypoints the mean of the views' (a face found in a tile is often found
        at the wrong scale, half of it; the views' box is the whole face). Where no view finds it: score 0, box
        and keypoints unchanged."""
        return self.second_looks(gray, [face])[0]

    def _second_look(self, padded: np.ndarray, pad: int, face: Face) -> Face:
        """second_look on the frame already padded by `pad` on every side (reflected)."""
        x, y, w, h = face.box
        scores, boxes, keypoints = [], [], []
        for context in self.verify_contexts:
            side = int(round(context * max(w, h)))
            cx0, cy0 = int(round(x + (w - side) / 2)), int(round(y + (h - side) / 2))
            crop = padded[cy0 + pad:cy0 + pad + side, cx0 + pad:cx0 + pad + side]
            for mirrored in (False, True):
                found, found_scores, found_points = self._candidates(
                    np.ascontiguousarray(crop[:, ::-1]) if mirrored else crop, 0.05)
                if mirrored:  # back to the crop as it is: x flipped, the person's right and left swapped
                    found = np.stack([side - found[:, 2], found[:, 1], side - found[:, 0], found[:, 3]], axis=1)
                    found_points = found_points[:, MIRRORED_KEYPOINTS] * np.array([-1, 1]) + np.array([side, 0])
                overlaps = box_iou(np.array([x - cx0, y - cy0, x + w - cx0, y + h - cy0], float), found) >= 0.3
                if not overlaps.any():
                    scores.append(0.0)
                    continue
                best = np.flatnonzero(overlaps)[np.argmax(found_scores[overlaps])]
                scores.append(float(found_scores[best]))
                boxes.append(found[best] + np.array([cx0, cy0, cx0, cy0]))
                keypoints.append(found_points[best] + np.array([cx0, cy0]))
        if not boxes:
            return Face(face.box, 0.0, face.keypoints)
        return Face(_xywh(np.mean(boxes, axis=0)), float(np.mean(scores)), np.mean(keypoints, axis=0))

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h in `gray`'s pixels, largest first."""
        return np.array([f.box for f in self.detect_faces(gray)], int).reshape(-1, 4)


def covered(a: tuple, b: tuple, share: float = 0.5) -> bool:
    """Whether boxes a and b (x, y, w, h) overlap by at least `share` of the smaller one."""
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih >= share * min(a[2] * a[3], b[2] * b[3])


def without_nested(faces: list[Face]) -> list[Face]:
    """`faces` in their order, less each one that mostly overlaps (`covered`) one kept before it."""
    kept: list[Face] = []
    for face in faces:
        if not any(covered(face.box, k.box) for k in kept):
            kept.append(face)
    return kept


@dataclass
class SmallFacesDetector:
    """`predict --small-faces`: the `default` detector's faces, each re-boxed by the `verified` detector's second
    look (`CnnFaceDetector.second_look`; its score stays the default's), then the faces of `verified` (a
    permissive tiled pyramid whose faces are verified) that a face kept before does not cover (`covered`). A
    default box mostly inside another default box (one face found twice) is dropped too."""

    default: CnnFaceDetector
    verified: CnnFaceDetector

    def default_faces(self, gray: np.ndarray) -> list[Face]:
        """The default detector's faces, each with the box and keypoints of its second look where it found one."""
        faces = self.default.detect_faces(gray)
        return [Face(seen.box, face.score, seen.keypoints) if seen.score > 0 else face
                for face, seen in zip(faces, self.verified.second_looks(gray, faces))]

    def detect_faces(self, gray: np.ndarray) -> list[Face]:
        """Every face in a grey frame, largest first."""
        faces = without_nested(self.default_faces(gray) + self.verified.detect_faces(gray))
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h in `gray`'s pixels, largest first."""
        return np.array([f.box for f in self.detect_faces(gray)], int).reshape(-1, 4)


def small_faces_detector(**settings) -> SmallFacesDetector:
    """`predict --small-faces`: the default CNN detector's faces, re-boxed, then those the verified short-range
    pyramid (SMALL_FACES, updated with `settings`) adds."""
    return SmallFacesDetector(CnnFaceDetector(), CnnFaceDetector(**{**SMALL_FACES, **settings}))


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
# `predict --small-faces` (small_faces_detector): the default detector's faces, then the short-range model's on the
# whole frame and on tiles of 60%, 40%, 25% and 18% of it (121 network runs) at a permissive 0.4, each verified and
# re-boxed on crops of 1.5 and 2.5 x its size, as is and mirrored; verify_min_score chosen by
# benchmarks/detection_benchmark.py on a set of scenes apart from the one it reports (the candidate thresholds and
# crop sizes were set in a search on that set too) and on four real photos (data/images/choice/)
SMALL_FACES = {"model": "short_range", "min_score": 0.4, "tiles": True, "tile_fractions": (0.6, 0.4, 0.25, 0.18),
               "tile_min_score": 0.4, "verify_contexts": (1.5, 2.5), "verify_min_score": 0.62}


def make_detector(name: str = "cnn", **settings):
    """A face detector by name: "cnn" (BlazeFace, the default) or "haar" (OpenCV's cascade)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return DETECTORS[name](**settings)
