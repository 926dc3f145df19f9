"""Drawing the results on a frame: each face's box, label, probability bars, facial features and landmarks."""
from __future__ import annotations

import cv2
import numpy as np

from .data import EMOTIONS
from .pipeline import FaceResult


EMOTION_COLORS_BGR = {"angry": (40, 40, 220), "disgust": (40, 140, 40), "fear": (150, 60, 150),
                      "happy": (0, 200, 255), "sad": (200, 110, 30), "surprise": (0, 140, 255),
                      "neutral": (150, 125, 100)}  # blue-grey: >= 3:1 contrast on white and on black


def draw_results(frame: np.ndarray, results: list[FaceResult], bars: bool = True,
                 features: dict[int, dict[str, np.ndarray]] | None = None, landmarks: bool = False) -> np.ndarray:
    """A BGR copy of `frame` with each face's box, label and (optionally) 7 probability bars, facial
    feature boxes (`features[k]` for face k, from `facial_features`) and the detector's keypoints."""
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
        if landmarks and r.keypoints is not None:
            for px, py in np.round(r.keypoints).astype(int):
                cv2.circle(out, (int(px), int(py)), max(2, thick + 1), (255, 255, 0), -1, cv2.LINE_AA)
        for name, boxes in (features or {}).get(k, {}).items():
            for fx, fy, fw, fh in boxes:
                cv2.rectangle(out, (fx, fy), (fx + fw, fy + fh), (255, 255, 0) if name == "eyes" else (255, 0, 255), 1)
        if bars:
            # the bar height follows the face, so the labels' font follows the bar height only (not the frame too)
            bar_h, bar_w = max(6, int(h / 9)), int(60 * scale)
            font = 0.06 * bar_h
            text_w = cv2.getTextSize("sur", cv2.FONT_HERSHEY_PLAIN, font, 1)[0][0]
            bx = x + w + int(4 * scale)
            if bx + bar_w + text_w + 2 > out.shape[1]:  # no room right of the face: the bars go on its left
                bx = max(0, x - int(4 * scale) - bar_w - text_w - 2)
            for i, e in enumerate(EMOTIONS):
                by = y + i * bar_h
                length = int(r.probabilities[e] * bar_w)
                cv2.rectangle(out, (bx, by + 1), (bx + length, by + bar_h - 1), EMOTION_COLORS_BGR[e], -1)
                cv2.putText(out, e[:3], (bx + length + 2, by + bar_h - 2), cv2.FONT_HERSHEY_PLAIN,
                            font, (255, 255, 255), max(1, bar_h // 12), cv2.LINE_AA)
    return out
