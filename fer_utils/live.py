"""Live emotion detection inside JupyterLab.

ipywebrtc's `CameraStream` owns the camera (permission, device choice). Its own `ImageRecorder`
brings about 1 frame/s to the kernel, so `LiveEmotionWidget` (an anywidget) takes the stream in the
browser, draws it into a 320x240 canvas, and sends JPEG frames to the kernel as binary messages, at
most `max_in_flight` at a time (a slow kernel lowers the frame rate instead of building a queue).
The kernel runs the pipeline in the message callback and sends back the annotated frame and the
probabilities, which the widget shows with a live probability chart.
"""
from __future__ import annotations

import time
from pathlib import Path

import anywidget
import cv2
import ipywebrtc
import numpy as np
import traitlets
from ipywidgets import widget_serialization

from .pipeline import EmotionDetector, FaceResult
from .images import ImageError, decode_image
from .drawing import draw_results

_STATIC = Path(__file__).with_name("static")


def decode_jpeg(data: bytes) -> np.ndarray:
    """A BGR frame from JPEG (or PNG) bytes; an ImageError for empty, truncated, too large
    (see `faces.max_image_pixels`) or unreadable bytes."""
    return decode_image(bytes(data), f"the received frame ({len(data)} bytes)")


def encode_jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes of a BGR frame."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("could not encode the annotated frame as JPEG")
    return buf.tobytes()


def annotate_jpeg(detector: EmotionDetector, data: bytes) -> tuple[bytes, list[FaceResult]]:
    """The whole kernel-side step for one frame: decode, detect + classify, draw, encode."""
    frame = decode_jpeg(data)
    results = detector(frame)
    return encode_jpeg(draw_results(frame, results, bars=False)), results


class LiveEmotionWidget(anywidget.AnyWidget):
    """Shows a media stream (a camera, a video) with every face's emotion, live.

    `stream`: an ipywebrtc MediaStream (`CameraStream`, `VideoStream.from_file`, ...).
    `stats` (kernel side) counts frames, faces, errors and milliseconds, in the kernel and in the
    browser (capture + JPEG encoding, reported with each frame; `timing()` gives the means);
    `jpeg_quality` sets the browser's JPEG quality; `error` holds the browser's last problem (no
    camera, permission denied) in words.
    """

    _esm = _STATIC / "live_widget.js"
    _css = _STATIC / "live_widget.css"
    stream = traitlets.Instance(ipywebrtc.MediaStream, allow_none=True).tag(sync=True, **widget_serialization)
    width = traitlets.Int(320).tag(sync=True)
    height = traitlets.Int(240).tag(sync=True)
    max_in_flight = traitlets.Int(2).tag(sync=True)
    jpeg_quality = traitlets.Float(0.8).tag(sync=True)
    autostart = traitlets.Bool(True).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)  # what the label and bars show (smoothing), under the bars

    def __init__(self, detector: EmotionDetector, stream: ipywebrtc.MediaStream | None = None, **kwargs):
        describe = getattr(detector, "describe_output", None)  # any callable detector works; ours explain themselves
        super().__init__(stream=stream, **{"note": describe() if describe else "", **kwargs})
        self.detector = detector
        self.stats = {"frames": 0, "faces": 0, "kernel_ms_total": 0.0, "browser_ms_total": 0.0, "errors": 0}
        self.on_msg(self._on_frame)

    def __repr__(self) -> str:
        return f"LiveEmotionWidget(stream={type(self.stream).__name__})"

    def _on_frame(self, _widget, content: dict, buffers: list) -> None:
        if content.get("type") != "frame" or not buffers:
            return
        start = time.perf_counter()
        try:
            browser_ms = float(content.get("browser_ms") or 0.0)
            jpeg, results = annotate_jpeg(self.detector, bytes(buffers[0]))
        except Exception as e:  # noqa: BLE001 - every failure must reach the browser, or its pump stalls
            self.stats["errors"] += 1
            message = str(e) if isinstance(e, ImageError) else \
                f"the kernel failed on this frame: {type(e).__name__}: {e}"
            self.send({"type": "error", "message": message, "seq": content.get("seq")})
            return
        ms = (time.perf_counter() - start) * 1000
        self.stats["frames"] += 1
        self.stats["faces"] += len(results)
        self.stats["kernel_ms_total"] += ms
        self.stats["browser_ms_total"] += browser_ms
        self.send({"type": "result", "faces": [r.to_json() for r in results], "kernel_ms": round(ms, 1),
                   "frames": self.stats["frames"], "faces_total": self.stats["faces"], "seq": content.get("seq")},
                  buffers=[jpeg])

    def timing(self) -> dict[str, float]:
        """Mean milliseconds per annotated frame: in the browser (capture + JPEG encoding) and in the
        kernel (decode, detect, classify, draw, encode): where the time goes."""
        n = max(self.stats["frames"], 1)
        return {"frames": self.stats["frames"], "browser_ms_mean": self.stats["browser_ms_total"] / n,
                "kernel_ms_mean": self.stats["kernel_ms_total"] / n}


def camera_stream(width: int = 320, height: int = 240) -> ipywebrtc.CameraStream:
    """The browser's camera (front-facing, no audio) at a small resolution."""
    return ipywebrtc.CameraStream(constraints={"audio": False, "video": {
        "width": {"ideal": width}, "height": {"ideal": height}, "facingMode": "user"}})
