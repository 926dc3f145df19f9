"""(B) Facial features: eyes and smile found by OpenCV's cascades inside a face box (the classic way,
notebook 05), and the CNN detector's keypoints used to align a face before classification."""
from __future__ import annotations

import numpy as np

from .detection import cascade


def facial_features(gray: np.ndarray, box) -> dict[str, np.ndarray]:
    """(B) Eyes (upper five eighths of the face) and smile (lower third) inside a face box, with OpenCV's
    bundled cascades; boxes (N, 4) in frame pixels."""
    x, y, w, h = box
    face = gray[y:y + h, x:x + w]
    eyes = cascade("haarcascade_eye.xml").detectMultiScale(face[: 5 * h // 8], 1.1, 3, minSize=(w // 10, w // 10))
    mouth = cascade("haarcascade_smile.xml").detectMultiScale(face[2 * h // 3:], 1.2, 20, minSize=(w // 4, h // 10))
    shift = lambda b, dy: np.asarray(b, int).reshape(-1, 4) + [x, y + dy, 0, 0]  # noqa: E731
    return {"eyes": shift(eyes, 0), "smile": shift(mouth, 2 * h // 3)}
