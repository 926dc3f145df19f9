"""Shared helpers for the facial emotion recognition notebook series.

One module per stage: `data` (FER-2013), `images`, `models` (Keras builders and loading), `inference`
(LiteRT, no TensorFlow), `training` and its `checkpoints`, `teachers`, `distillation`, `evaluation`,
`detection`, `tracking`, `features`, `pipeline`, `drawing`, `video`, `predict`, `files`, `results`,
`interrupts`, `live`, `desktop`, `webapp`, `browser_live` (the web app's in-browser live page), `viz`,
`selfcheck`, `student`, `training_commands` (the `train` and `teacher` commands). Importing the package is
cheap: TensorFlow loads only with `models`, `training` or `backend`.
"""
import os

# OpenCV reads its decoder's pixel limit once, when cv2 is imported: set it to the series' limit first, so that
# every format OpenCV decodes (TIFF, JPEG 2000, GIF, AVIF, a JPEG with a hidden frame header...) is refused by
# the decoder itself from the size it reads, before it allocates the pixels (images.max_image_pixels). Always
# set (not setdefault): a child process must not inherit its parent's limit in place of its own setting.
_limit = os.environ.get("FER_MAX_IMAGE_PIXELS", "").strip()
os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = _limit if _limit.isdigit() and int(_limit) > 0 else "50000000"

# FFmpeg inside OpenCV prints its decoder's errors on a damaged video ("[h264 @ 0x...] Invalid NAL unit size")
# itself, beside the one line the series prints for it (video.py counts the frames read and says what to do):
# quiet FFmpeg's own log (AV_LOG_QUIET) unless the user set a level.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from .data import EMOTIONS, load_fer2013, load_for_notebook  # noqa: E402

QUICK_ENV_VAR = "FER_QUICK"


def quick_mode() -> bool:
    """True when FER_QUICK is set to 1/true/yes: notebooks then use the committed sample and short runs (CI)."""
    return os.environ.get(QUICK_ENV_VAR, "").strip().lower() in {"1", "true", "yes"}


__all__ = ["EMOTIONS", "load_fer2013", "load_for_notebook", "quick_mode"]
