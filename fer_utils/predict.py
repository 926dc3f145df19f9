"""`python -m fer_utils predict`: find and classify the faces in images and videos, each input recognised by
its content (not its name), checked before the model loads, and written (with --out) through `atomic_write`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .files import atomic_write

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".flv",
                  ".wmv", ".ogv", ".3gp"}
IMAGE_OUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def is_video(path: str | Path) -> bool:
    """True for a video by its first bytes (see images.media_kind); a file whose content says neither image
    nor video (or a missing file) is judged by its extension."""
    from .images import media_kind  # OpenCV: imported where needed, so that `--help` works without it

    kind = media_kind(path)
    return kind == "video" or (kind == "unknown" and Path(path).suffix.lower() in VIDEO_SUFFIXES)


def plan_outputs(inputs: list[str], out: str | None) -> list[Path | None]:
    """The annotated copy each input of `predict` writes (None everywhere without --out), found before any
    work starts. One input and an --out that is not a folder: that file, whose folder must exist and whose
    extension must fit (.mp4 for a video, an image extension for an image). Several inputs, or an existing
    folder: NAME_annotated.png|.mp4 inside it (created if needed), numbered _2, _3, ... where two inputs
    share a name. A ValueError says what is wrong with --out."""
    if not out:
        return [None] * len(inputs)
    target = Path(out)
    videos = [is_video(name) for name in inputs]
    if len(inputs) == 1 and not target.is_dir():
        suffix = target.suffix.lower()
        if not suffix:
            raise ValueError(f"--out {target} has no extension and is not a folder: name a file (e.g. {target}.png "
                             f"for an image, {target}.mp4 for a video), or create the folder first")
        if videos[0] and suffix != ".mp4":
            raise ValueError(f"--out {target}: a video's annotated copy is written as .mp4, not {suffix}")
        if not videos[0] and suffix not in IMAGE_OUT_SUFFIXES:
            raise ValueError(f"--out {target}: {suffix} is not an image format; use {', '.join(IMAGE_OUT_SUFFIXES)}")
        if not target.parent.is_dir():
            raise ValueError(f"--out {target}: the folder {target.parent} does not exist; create it first")
        return [target]
    if target.is_file() or (not target.exists() and target.suffix.lower() in (*IMAGE_OUT_SUFFIXES, ".mp4")):
        raise ValueError(f"--out {target} is a file name; with several inputs --out must be a folder")
    taken: set[str] = set()
    outputs = []
    for name, video in zip(inputs, videos):
        stem, suffix = f"{Path(name).stem}_annotated", ".mp4" if video else ".png"
        file_name, n = stem + suffix, 1
        while file_name.lower() in taken:
            n += 1
            file_name = f"{stem}_{n}{suffix}"
        taken.add(file_name.lower())
        outputs.append(target / file_name)
    return outputs


def write_image(path: Path, image) -> None:
    """Write an image with OpenCV (the format from `path`'s extension); an OSError if it cannot."""
    import cv2

    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write the image {path}")


def predict_video(detector, path: Path, out: Path | None) -> tuple[dict, str | None]:
    """The faces in every frame of a video (streamed, one frame at a time), the annotated copy written to
    `out` (a temporary file of `atomic_write`) where given, and a warning if the video ended early."""
    import cv2

    from .drawing import draw_results
    from .images import ImageError
    from .video import VideoFrames, VideoWriter

    writer, frames = None, []
    detector.reset()
    with VideoFrames(path) as video:
        try:
            for frame in video:
                results = detector(frame)
                frames.append([r.to_json() for r in results])
                if out is not None:
                    if writer is None:
                        writer = VideoWriter(out, video.fps, frame.shape[1::-1])
                    writer.write(draw_results(frame, results))
        except cv2.error as e:
            reason = str(e).strip().splitlines()[-1]
            raise ImageError(f"{path}, frame {len(frames) + 1} could not be processed ({reason})") from e
        finally:
            if writer is not None:
                writer.close()
        if not frames:
            raise ImageError(f"{path} has no readable frames (corrupt or an unsupported codec)")
        return {"path": str(path), "fps": video.fps, "frames": frames}, video.shortfall()


def predict_files(inputs: list[str], outputs: list[Path | None], model: str, detector: str = "cnn",
                  landmarks: bool = False, as_json: bool = False, small_faces: bool = False) -> int:
    """Run `predict` over checked inputs and planned outputs (see `plan_outputs`): one line per input on
    stdout, one `error:` (or `warning:`) line per failed input on stderr. The model loads at the first input
    that decodes, so bad inputs and a bad FER_MAX_IMAGE_PIXELS are reported without waiting for it.
    `small_faces`: photos get `detection.small_faces_detector()` (the default's faces, re-boxed,
    and a verified tiled pyramid's).
    Returns the exit status: 0, or 1 if some input failed."""
    from .drawing import draw_results
    from .images import ImageError, max_image_pixels, read_image

    max_image_pixels()  # a bad setting stops the call here (ValueError), before any input
    detectors: dict = {}

    def get(kind: str):
        if not detectors:
            from .pipeline import EmotionDetector

            from .detection import small_faces_detector

            tiled = small_faces_detector() if small_faces else None
            photo = EmotionDetector(model, detector=detector, face_detector=tiled)  # photos: 4 test-time views
            detectors.update(photo=photo, video=EmotionDetector.for_video(photo.model, detector=detector))
        return detectors[kind]

    failed = 0
    for name, out in zip(inputs, outputs):
        path = Path(name)
        try:
            if is_video(path):
                check_video(path)
                result, warning = predict_video(get("video"), path, None) if out is None else \
                    atomic_write(out, lambda tmp: predict_video(get("video"), path, tmp))
                summary = f"{len(result['frames'])} frames, faces in {sum(bool(f) for f in result['frames'])}"
                if warning:
                    sys.stderr.write(f"warning: {warning}\n")  # one write: a signal cannot split the line
                    failed += 1
            else:
                image = read_image(path)
                faces = get("photo")(image)
                result = {"path": str(path), "faces": [r.to_json() for r in faces]}
                if out is not None:
                    atomic_write(out, lambda tmp: write_image(tmp, draw_results(image, faces, landmarks=landmarks)))
                summary = ", ".join(f"{f['emotion']} {f['probabilities'][f['emotion']]:.0%} at {f['box']}"
                                    for f in result["faces"]) or "no face found"
        except ImageError as e:
            sys.stderr.write(f"error: {e}\n")
            failed += 1
            continue
        print(json.dumps(result) if as_json else f"{path}: {summary}" + (f" -> {out}" if out else ""), flush=True)
    return 1 if failed else 0


def check_video(path: Path) -> None:
    """Open and close a video once: a missing, unreadable or too large video is refused before the model loads."""
    from .video import VideoFrames

    VideoFrames(path).close()
