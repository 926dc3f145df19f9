"""Timing the pipeline, for `python -m fer_utils bench` and notebook 05: a fixed test frame, medians of
repeated calls, the CPU description printed beside every figure, and the `fer` package as the peer."""
from __future__ import annotations

import os

import cv2
import numpy as np

from .data import PROJECT_ROOT
from .drawing import draw_results
from .environment import cpu_info
from .images import read_image, to_gray
from .pipeline import DEFAULT_MODEL, EmotionDetector, crop_aligned


def benchmark_frame() -> np.ndarray:
    """A 640x480 BGR frame with one face: Grace Hopper's portrait on a grey background."""
    portrait = cv2.resize(read_image(PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"), (360, 420))
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[30:450, 140:500] = portrait
    return frame


def median_ms(fn, n: int) -> float:
    """Median wall-clock milliseconds of `n` calls of `fn()`."""
    import time

    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def cpu_description() -> str:
    """Core count, CPU model and its widest vector unit, e.g. "2 x AMD EPYC (AVX-512)": speed figures
    depend on all three (the same code runs 2-3x slower on an AVX2-only CPU)."""
    name, flags = cpu_info()
    simd = " (AVX-512)" if "avx512f" in flags else " (AVX2)" if "avx2" in flags else ""
    return f"{os.cpu_count()} x {name}{simd}"


def time_pipeline(frame: np.ndarray, n: int = 200, model_path=None, fast: bool = True, detector: str = "cnn") -> dict:
    """Median milliseconds per stage and per whole frame (detect + classify + draw), for the video
    path (`EmotionDetector.for_video`: the CNN detector on every 2nd frame, or Haar with tracking; one view;
    smoothing; what the live demos run) and the photo path (full detection, 4 test-time views). The video
    path's detection and whole frame are timed over whole cycles of `detect_every` frames (one detection and
    the frames that reuse its faces), divided by the frames in a cycle."""
    from .inference import load_inference_model

    model = load_inference_model(model_path or DEFAULT_MODEL, fast=fast)
    report = {"model": type(model).__name__, "frames": n, "hardware": cpu_description()}
    for name, det in (("video", EmotionDetector.for_video(model, detector=detector)),
                      ("photo", EmotionDetector(model, detector=detector))):
        for _ in range(10):
            draw_results(frame, det(frame))  # warm-up
        gray = to_gray(frame)
        faces = det.find_faces(gray)
        results = det(frame)
        views = "1 view, cycling" if det.tta == "cycle" else "4 views" if det.tta else "1 view"
        cycle = det.detect_every

        def per_frame(step) -> float:
            return median_ms(lambda: [step() for _ in range(cycle)], n) / cycle

        det.reset()
        stages = {
            f"grey + face detection ({detector}{', tracking' if det.tracker else ''})":
                per_frame(lambda: det.find_faces(to_gray(frame))),
            f"crop{' (aligned)' if det.align else ''} + classification ({views})":
                median_ms(lambda: det.classify(crop_aligned(gray, faces, expand=det.expand, align=det.align)), n),
            "drawing": median_ms(lambda: draw_results(frame, results), n),
        }
        frame_ms = per_frame(lambda: draw_results(frame, det(frame)))
        report[name] = {"frame_ms_median": frame_ms, "fps": 1000 / frame_ms, "stages": stages, "faces": len(results),
                        "detect_every": cycle}
    return report


def time_peer_fer(frame: np.ndarray, n: int = 50) -> float | None:
    """Median ms of the `fer` package's detect_emotions (its TFLite model) on the same frame, or None
    where `fer` is not installed."""
    try:
        import logging

        from fer.fer import FER
    except ImportError:
        return None
    import warnings

    from .inference import stderr_silenced

    logging.getLogger("fer").setLevel(logging.WARNING)
    with warnings.catch_warnings(), stderr_silenced():  # TFLite's deprecation notices
        warnings.simplefilter("ignore")
        peer = FER()
        for _ in range(5):
            peer.detect_emotions(frame)
    return median_ms(lambda: peer.detect_emotions(frame), n)
