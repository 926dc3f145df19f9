"""Face tracking for video: between full-frame detections, search for each face only near its last box
(a few per cent of the cost of a whole frame with the Haar cascade)."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .detection import HaarFaceDetector, cascade


@dataclass
class FaceTracker:
    """Face detection for video: between full-frame detections, each face is searched for only in a
    region around its last box, scaled so the face is about `roi_face_px` wide (a few per cent of
    the cost of a whole frame). A full detection runs every `full_every` frames, whenever a face is
    lost, and on every frame while no face is tracked, so a face that enters the frame is found
    within `full_every` frames."""

    detector: HaarFaceDetector = field(default_factory=HaarFaceDetector)
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
        found = cascade(self.detector.cascade_name).detectMultiScale(roi, scaleFactor=1.1, minNeighbors=self.detector.min_neighbors,
                                                        minSize=(lo, lo), maxSize=(hi, hi))
        if len(found) == 0:
            return None
        found = np.asarray(found, np.float64).reshape(-1, 4) / scale + [x0, y0, 0, 0]
        centre = np.array([x + w / 2, y + h / 2])
        best = np.argmin(np.linalg.norm(found[:, :2] + found[:, 2:] / 2 - centre, axis=1))
        return np.round(found[best]).astype(int)

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes (N, 4) as x, y, w, h, largest first, like `HaarFaceDetector.detect`."""
        if len(self._boxes) and self._since_full + 1 < self.full_every:
            near = [self._search_near(gray, b) for b in self._boxes]
            if all(b is not None for b in near):
                self._since_full += 1
                self._boxes = np.array(near)
                return self._boxes
        self._boxes, self._since_full = self.detector.detect(gray), 0
        return self._boxes
