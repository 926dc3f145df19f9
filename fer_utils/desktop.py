"""The desktop demo: `python -m fer_utils live [--camera N | --video PATH] [--out FILE]`.

An OpenCV window shows the camera (or a video file) with every face's emotion, the frame rate and the
7 probabilities of the largest face; `q` or Esc quits. `--out FILE` also writes the annotated video
(to a temporary file renamed into place at the end, so a crash never leaves half a file under FILE).

The series installs `opencv-python`, which has a GUI. With a headless OpenCV (servers, the Docker
image) or where no display exists, `live` says so in one line; with `--out` it runs without a window.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np

from .data import EMOTIONS
from .drawing import EMOTION_COLORS_BGR, draw_results
from .pipeline import EmotionDetector, FaceResult
from .files import atomic_write, refuse_overwriting_inputs
from .images import ImageError
from .video import VIDEO_OUT_SUFFIXES, VideoWriter, check_frame_size

WINDOW = "Facial emotion recognition (q or Esc quits)"
QUIT_KEYS = {ord("q"), ord("Q"), 27}


class DemoError(ValueError):
    """Why the demo cannot start, in one line with what to do."""


def opencv_package() -> tuple[str, str]:
    """The installed OpenCV wheel's name and version (e.g. opencv-python-headless 4.14.0.94)."""
    for name in ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python"):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "opencv", cv2.__version__


def gui_problem(build_info: str, env: Mapping[str, str], system: str) -> str | None:
    """Why no OpenCV window can open here (no GUI compiled in, or no display), or None."""
    gui = re.search(r"^\s*GUI:\s*(\S+)", build_info, re.M)
    if gui and gui.group(1).upper() == "NONE":
        name, version = opencv_package()
        return (f"the installed OpenCV ({name} {version}) has no GUI, so it cannot open a window: run with "
                f"--out FILE to write the annotated video instead, or install OpenCV's GUI build: "
                f"pip uninstall -y {name} && pip install opencv-python=={version} (README, Versions)")
    if system == "Linux" and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("no display (DISPLAY and WAYLAND_DISPLAY are not set: a server, SSH session or container), so no "
                "window can open: run with --out FILE to write the annotated video instead, or run on a desktop")
    return None


def camera_devices() -> list[int] | None:
    """The camera indices present (Linux: /dev/videoN), or None where the system cannot list them."""
    if platform.system() != "Linux":
        return None
    return sorted(int(p.name[5:]) for p in Path("/dev").glob("video*") if p.name[5:].isdigit())


def camera_problem(index: int, devices: list[int] | None) -> str | None:
    """What is wrong with camera `index` before opening it (none at all, index out of range), or None."""
    if index < 0:
        return f"camera index {index} is negative: use --camera 0 for the first camera"
    if devices == []:
        return "no camera found (no /dev/video* device): connect one, or play a file with --video PATH"
    if devices is not None and index not in devices:
        return (f"camera {index} does not exist; cameras found: {', '.join(map(str, devices))}; "
                f"choose one with --camera N")
    return None


CAMERA_BUSY = ("camera {index} {what}: it is probably busy (in use by another program: a video call, a browser "
               "tab, a notebook) or not permitted (Linux: add yourself to the 'video' group); close the other "
               "program or choose another camera with --camera N")


def open_source(camera: int | None, video: str | None) -> tuple[cv2.VideoCapture, str]:
    """An opened capture and its description, or a DemoError saying what is wrong with the source."""
    if video is not None:
        path = Path(video)
        if not path.is_file():
            raise DemoError(f"{path}: " + ("is a folder, not a video" if path.is_dir() else "no such file"))
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise DemoError(f"{path} is not a readable video (corrupt or an unsupported format)")
        try:
            check_frame_size(cap, str(path))
        except ImageError as e:
            cap.release()
            raise DemoError(str(e)) from None
        return cap, str(path)
    index = camera or 0
    problem = camera_problem(index, camera_devices())
    if problem:
        raise DemoError(problem)
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise DemoError(CAMERA_BUSY.format(index=index, what="could not be opened"))
    return cap, f"camera {index}"


def check_out(out: Path) -> None:
    """Refuse an --out that cannot be written before any work starts."""
    if out.suffix.lower() not in VIDEO_OUT_SUFFIXES:
        raise DemoError(f"--out {out}: use a video file name ending in {', '.join(VIDEO_OUT_SUFFIXES)}")
    if out.is_dir():
        raise DemoError(f"--out {out} is a folder: give a file name such as {out / 'live.mp4'}")
    if not out.parent.is_dir():
        raise DemoError(f"--out {out}: the folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise DemoError(f"--out {out}: the folder {out.parent} is not writable")


def draw_overlay(frame: np.ndarray, results: list[FaceResult], fps: float) -> np.ndarray:
    """The frame with every face annotated, and a panel (top left) with the frame rate and the 7
    probabilities of the largest face."""
    out = draw_results(frame, results, bars=False)
    scale = max(out.shape[1] / 640, 0.5)
    row, width = int(18 * scale), int(170 * scale)
    panel = out[:row * (len(EMOTIONS) + 1) + 6, :width]
    panel[:] = (panel * 0.35).astype(np.uint8)  # darken behind the text
    font, size, white = cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, (255, 255, 255)
    cv2.putText(out, f"{fps:5.1f} frames/s", (4, row - 4), font, size, white, 1, cv2.LINE_AA)
    largest = max(results, key=lambda r: r.box[2] * r.box[3], default=None)
    bar_x = int(100 * scale)
    for i, emotion in enumerate(EMOTIONS):
        y = row * (i + 2) - 4
        p = largest.probabilities[emotion] if largest else 0.0
        cv2.putText(out, emotion, (4, y), font, size * 0.8, white, 1, cv2.LINE_AA)
        if largest:
            cv2.putText(out, f"{p:.0%}", (int(62 * scale), y), font, size * 0.8, white, 1, cv2.LINE_AA)
            cv2.rectangle(out, (bar_x, y - row + 8), (bar_x + int(p * 65 * scale), y), EMOTION_COLORS_BGR[emotion], -1)
    return out


def run_live(camera: int | None = None, video: str | None = None, out: str | None = None,
             model: str | None = None, detector: str = "cnn") -> int:
    """The demo's whole run: check everything, then loop over frames until the source ends or q/Esc.
    Prints one summary line (frames, frames/s, faces); raises DemoError for what stops it from starting."""
    out_path = Path(out) if out else None
    if out_path is not None:
        check_out(out_path)
        try:
            refuse_overwriting_inputs([out_path], [video] if video else [])
        except ValueError as e:
            raise DemoError(str(e)) from None
    no_window = gui_problem(cv2.getBuildInformation(), os.environ, platform.system())
    if no_window and out_path is None:
        raise DemoError(no_window)
    cap, source = open_source(camera, video)
    try:
        ok, frame = cap.read()
        if not ok:
            raise DemoError(CAMERA_BUSY.format(index=camera or 0, what="sends no frames") if video is None
                            else f"{source} has no readable frames (corrupt or an unsupported codec)")
        if no_window:
            sys.stderr.write(f"no window: {no_window.split(':')[0]}; writing {out_path} only\n")  # one write: a
            sys.stderr.flush()  # Ctrl-C or SIGTERM cannot split the line
        emotions = EmotionDetector.for_video(model, detector=detector)
        source_fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        frame_ms = 1000 / source_fps if video is not None else 1.0

        def record(tmp: Path) -> dict:
            with VideoWriter(tmp, source_fps, frame.shape[1::-1]) as writer:
                return _loop(cap, frame, emotions, writer, show=not no_window, frame_ms=frame_ms)

        stats = atomic_write(out_path, record) if out_path is not None else \
            _loop(cap, frame, emotions, None, show=not no_window, frame_ms=frame_ms)
    finally:
        cap.release()
    print(f"{source}: {stats['frames']} frames in {stats['seconds']:.1f} s = {stats['fps']:.1f} frames/s; "
          f"faces in {stats['frames_with_faces']} frames" + (f"; wrote {out_path}" if out_path else ""), flush=True)
    return 0


def _loop(cap: cv2.VideoCapture, frame: np.ndarray, detector: EmotionDetector, writer: VideoWriter | None,
          show: bool, frame_ms: float) -> dict:
    """Annotate frames from `frame` on until the source ends, q/Esc, the window closes or Ctrl-C.
    In a window, a video plays at its own frame rate (`frame_ms`); without one, as fast as it can."""
    frames = with_faces = 0
    fps_shown, start = 0.0, time.perf_counter()
    try:
        while frame is not None:
            t = time.perf_counter()
            results = detector(frame)
            annotated = draw_overlay(frame, results, fps_shown)
            if writer is not None:
                writer.write(annotated)
            frames += 1
            with_faces += bool(results)
            if show:
                try:
                    cv2.imshow(WINDOW, annotated)
                except cv2.error as e:
                    raise DemoError(f"OpenCV could not open a window ({str(e).strip().splitlines()[-1]}): run with "
                                    "--out FILE to write the annotated video instead") from None
                spent_ms = (time.perf_counter() - t) * 1000
                if cv2.waitKey(max(1, int(frame_ms - spent_ms))) & 0xFF in QUIT_KEYS \
                        or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                    break
            instant = 1 / max(time.perf_counter() - t, 1e-6)
            fps_shown = 0.9 * fps_shown + 0.1 * instant if fps_shown else instant
            ok, frame = cap.read()
            frame = frame if ok else None
    except KeyboardInterrupt:
        pass
    finally:
        if show:
            cv2.destroyAllWindows()
    seconds = time.perf_counter() - start
    return {"frames": frames, "frames_with_faces": with_faces, "seconds": seconds, "fps": frames / max(seconds, 1e-9)}
