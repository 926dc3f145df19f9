"""Writing annotated video that plays everywhere: H.264 in MP4 through PyAV's libx264 (browsers play it;
OpenCV's own `mp4v` does not play in Chromium or Firefox), Motion-JPEG for .avi."""
from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

H264_SUFFIXES = (".mp4", ".m4v", ".mov")
VIDEO_OUT_SUFFIXES = (*H264_SUFFIXES, ".avi")


class VideoWriter:
    """Frames (BGR uint8, all of one size) to a video file: `write(frame)` each, then `close()` (or use
    `with`). .mp4/.m4v/.mov are H.264 (yuv420p, odd sizes cropped by one pixel), .avi Motion-JPEG.
    Without PyAV's H.264 encoder it falls back to OpenCV's mp4v with one warning (plays in VLC,
    not in browsers)."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        self.path, self.size = Path(path), size
        self._container = self._stream = self._cv = None
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_OUT_SUFFIXES:
            raise ValueError(f"{self.path}: a video is written as {', '.join(VIDEO_OUT_SUFFIXES)}, not {suffix or 'no extension'}")
        if suffix in H264_SUFFIXES:
            problem = self._open_h264(fps)
            if problem is None:
                return
            warnings.warn(f"no H.264 encoder ({problem}); writing {self.path.name} with OpenCV's mp4v, which "
                          f"browsers do not play (pip install av==18.1.0 adds H.264)", stacklevel=2)
        fourcc = "MJPG" if suffix == ".avi" else "mp4v"
        self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self._cv.isOpened():
            raise OSError(f"could not open {self.path} to write a video")

    def _open_h264(self, fps: float) -> str | None:
        """Open the H.264 encoder; None, or why it is not available."""
        try:
            import av
        except ImportError as e:
            return str(e)
        try:
            self._container = av.open(str(self.path), "w", options={"movflags": "faststart"})
            self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        except (av.FFmpegError, ValueError) as e:
            if self._container is not None:
                self._container.close()
            self._container = self._stream = None
            return f"{type(e).__name__}: {e}"
        self._stream.width, self._stream.height = self.size[0] // 2 * 2, self.size[1] // 2 * 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"preset": "veryfast", "crf": "23"}
        return None

    @property
    def codec(self) -> str:
        return "h264" if self._stream is not None else "mjpeg" if self.path.suffix.lower() == ".avi" else "mp4v"

    def write(self, frame: np.ndarray) -> None:
        if self._cv is not None:
            self._cv.write(frame)
            return
        import av

        h, w = self._stream.height, self._stream.width
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="bgr24")
        for packet in self._stream.encode(picture):
            self._container.mux(packet)

    def close(self) -> None:
        if self._cv is not None:
            self._cv.release()
        elif self._container is not None:
            for packet in self._stream.encode():  # flush the encoder
                self._container.mux(packet)
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
