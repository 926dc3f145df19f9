"""Video files: reading one frame at a time within the pixel limit (`VideoFrames`), and writing annotated
video that plays everywhere: H.264 in MP4 through PyAV's libx264 (browsers play it; OpenCV's own `mp4v`
does not play in Chromium or Firefox), Motion-JPEG for .avi."""
from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .images import ImageError, check_pixels
from .inference import stderr_silenced


def check_frame_size(cap: cv2.VideoCapture, name: str) -> None:
    """An ImageError if an opened video announces frames over the pixel limit (images.max_image_pixels),
    before any frame is decoded."""
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    check_pixels(width, height, f"{name}: each frame", "none was decoded")


class VideoFrames:
    """The frames (BGR uint8) of a video file, decoded one at a time as they are iterated (the file is never
    read whole). Opening refuses a missing or unreadable file and frames over the pixel limit; a frame over
    the limit later in the file stops the iteration with an ImageError naming the video and the frame
    number. After iterating, `shortfall()` says whether fewer frames came than the file announces."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise ImageError(f"{self.path}: no such file" if not self.path.exists() else f"{self.path} is not a video file")
        with stderr_silenced():  # FFmpeg's own lines ("moov atom not found"): the ImageError says it once
            self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            raise ImageError(f"{self.path} is not a readable image or video (corrupt, or a format OpenCV does not read)")
        try:
            check_frame_size(self.cap, str(self.path))
        except ImageError:
            self.cap.release()
            raise
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.announced = max(int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.read = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            with stderr_silenced():  # FFmpeg's lines about a damaged stream: `shortfall` says it once
                ok, frame = self.cap.read()
            if not ok:
                return
            self.read += 1
            check_pixels(frame.shape[1], frame.shape[0], f"{self.path}, frame {self.read}", "the video was stopped there")
            yield frame

    def shortfall(self) -> str | None:
        """A warning if the video ended well before the frame count its header announces (a truncated or
        damaged file), else None. Counts estimated from the duration may be off by 1%."""
        if self.announced and self.read < self.announced - max(1, self.announced // 100):
            return (f"{self.path} ended after {self.read} of the {self.announced} frames its header announces "
                    f"(truncated or damaged?): the results cover those {self.read} frames; copy the whole file again")
        return None

    def close(self) -> None:
        self.cap.release()

    def __enter__(self) -> "VideoFrames":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
