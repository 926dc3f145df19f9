"""Reading images safely: any format OpenCV decodes, as BGR uint8, with a clear ImageError for an
empty, truncated, unreadable or too large (decompression bomb) input, and conversion to grey."""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from .inference import stderr_silenced


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


def check_pixels(width: int, height: int, name: str, what: str = "") -> None:
    """An ImageError (starting with `name`, e.g. "clip.mp4, frame 12") if a width x height image is over
    `max_image_pixels()`; `what` says what happens to it (default: it was not decoded)."""
    limit = max_image_pixels()
    if width * height <= limit:
        return
    megapixels = width * height / 1e6
    shown = f"{megapixels:.0f}" if megapixels >= 10 else f"{megapixels:.2g}"
    raise ImageError(f"{name} is {width}x{height} pixels ({shown} megapixels), over the limit of {limit / 1e6:g} "
                     f"megapixels, and {what or 'was not decoded'}: shrink it, or raise the limit with the "
                     f"{MAX_PIXELS_ENV} setting if you trust the file")


def max_file_bytes() -> int:
    """The largest image file that is read: 4 bytes per pixel of the pixel limit (an uncompressed 8-bit RGBA
    image at the limit; 200 MB by default), so a huge file is never read whole into memory."""
    return 4 * max_image_pixels()


# the first bytes of the video containers OpenCV's FFmpeg reads (offset, bytes)
_VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"FLV"), (0, b"OggS"), (0, b"YUV4MPEG2"),
                     (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"), (0, b"\x00\x00\x01\xba"), (0, b"\x00\x00\x01\xb3"))


def media_kind(path: str | os.PathLike) -> str:
    """What a file's first bytes say it is, whatever its name: "image" (a format OpenCV's image decoders
    accept), "video" (MP4/MOV, Matroska/WebM, AVI, MPEG-TS/M2TS/PS, FLV, Ogg, ASF, Y4M), or "unknown"
    (also for a missing or unreadable file). Only the first bytes are read."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(400)
    except OSError:
        return "unknown"
    if head and cv2.haveImageReader(str(p)):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if any(head[at:at + len(magic)] == magic for at, magic in _VIDEO_SIGNATURES):
        return "video"
    if any(len(head) > at + 2 * step and head[at] == head[at + step] == head[at + 2 * step] == 0x47
           for at, step in ((0, 188), (4, 192))):  # MPEG transport stream (.ts; .mts/.m2ts: 4-byte time codes)
        return "video"
    return "unknown"


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
    size = declared_size(data)
    if size is not None:
        check_pixels(*size, name)
    truncated = _truncation(data)
    if truncated:
        raise ImageError(f"{name} is truncated: its {truncated} data ends early (an incomplete download or copy?); "
                         f"copy the whole file again")
    try:
        with stderr_silenced():  # libjpeg's own "Corrupt JPEG data" lines: the ImageError below says it once
            img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as e:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(e):  # the decoder read a size over the limit and stopped
            raise ImageError(f"{name} is larger than the limit of {limit / 1e6:g} megapixels (as its decoder reads it) "
                             f"and was not decoded: shrink it, or raise the limit with the {MAX_PIXELS_ENV} setting "
                             f"(before starting Python) if you trust the file") from e
        raise ImageError(f"{name} could not be decoded ({str(e).strip().splitlines()[-1]})") from e
    if img is None:
        raise ImageError(f"{name} is not a readable image (corrupt, or not a JPEG, PNG or other format OpenCV reads)")
    check_pixels(img.shape[1], img.shape[0], name)
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
        size = p.stat().st_size
        if size > max_file_bytes():
            raise ImageError(f"{p} is {size / 1e6:,.0f} MB, more than an image within the limit of "
                             f"{max_image_pixels() / 1e6:g} megapixels can be ({max_file_bytes() / 1e6:,.0f} MB), and was "
                             f"not read: is it an image? If so, raise the limit with the {MAX_PIXELS_ENV} setting")
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"{p} could not be read ({e.strerror})") from e
    return decode_image(data, str(p))
