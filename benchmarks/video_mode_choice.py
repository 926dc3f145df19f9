"""Video mode: does one view per frame plus smoothing over frames lose accuracy against the 4
test-time views per frame? And does cycling through the 4 views, one per frame, let the smoothing
average them at the cost of one view? Each PublicTest face is played as a short clip of a still face seen by a
camera (small random shifts, zooms, rotations, lighting changes and sensor noise per frame, as the
detector's box and the light wobble in a real video), and every frame's prediction is scored.

    python benchmarks/video_mode_choice.py --data PATH/TO/fer2013.csv.gz [--frames 8] [--smoothing 0.5]

Prints the table and writes benchmarks/results/video_mode_choice.json. PublicTest only: it makes
a choice, so it must not look at PrivateTest.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from fer_utils.files import write_text
from fer_utils.data import load_fer2013
from fer_utils.pipeline import DEFAULT_MODEL
from fer_utils.timing import cpu_description
from fer_utils.inference import load_inference_model, predict_proba, tta_views

RESULTS = Path(__file__).with_name("results") / "video_mode_choice.json"


def camera_clip(face: np.ndarray, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(n_frames, 48, 48) uint8: one still face as a camera would deliver it frame after frame."""
    h, w = face.shape
    frames = []
    for _ in range(n_frames):
        angle, scale = rng.uniform(-3, 3), rng.uniform(0.97, 1.03)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] += rng.uniform(-2, 2, size=2)
        f = cv2.warpAffine(face.astype(np.float32), m, (w, h), borderMode=cv2.BORDER_REFLECT)
        f = f * rng.uniform(0.92, 1.08) + rng.uniform(-8, 8) + rng.normal(0, 3, f.shape)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


def smoothed(probs: np.ndarray, smoothing: float) -> np.ndarray:
    """The exponential moving average EmotionDetector keeps over frames: probs (frames, N, 7)."""
    out, state = np.empty_like(probs), probs[0]
    for t, p in enumerate(probs):
        state = p if t == 0 else smoothing * state + (1 - smoothing) * p
        out[t] = state
    return out


def window_mean(probs: np.ndarray, window: int = 4) -> np.ndarray:
    """Each frame's probabilities averaged with those of up to `window - 1` frames before it: with
    the views taken in turn, every frame then sees all 4 views (frames, N, 7)."""
    return np.stack([probs[max(0, t - window + 1):t + 1].mean(axis=0) for t in range(len(probs))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 CSV or image folder (default: FER2013_PATH)")
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--smoothing", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    split = load_fer2013(args.data)["PublicTest"]
    model = load_inference_model(args.model)
    rng = np.random.default_rng(args.seed)
    clips = np.stack([camera_clip(f, args.frames, rng) for f in split.images], axis=1)  # (frames, N, 48, 48)
    x = clips.reshape(-1, 48, 48, 1).astype("float32")
    per_view = np.stack([predict_proba(model, v, tta=False) for v in tta_views(x)])  # (4, frames * N, 7)
    per_view = per_view.reshape(4, *clips.shape[:2], -1)                            # (4, frames, N, 7)
    frame_index = np.arange(args.frames)
    ways = {"1 view": (per_view[0], 1), "4 views": (per_view.mean(axis=0), 4),
            "1 view, cycling the 4": (per_view[frame_index % 4, frame_index], 1),
            "1 view, cycling, mean of last 4": (window_mean(per_view[frame_index % 4, frame_index]), 1)}
    rows = {}
    for name, (probs, passes) in ways.items():
        for s in (0.0, args.smoothing):
            acc = (smoothed(probs, s).argmax(-1) == split.labels[None]).mean(axis=1)
            rows[f"{name}, smoothing {s}"] = {"views": name, "smoothing": s, "accuracy_all_frames": float(acc.mean()),
                                              "accuracy_last_frame": float(acc[-1]), "forward_passes_per_face": passes}
    report = {"split": "PublicTest", "faces": len(split), "frames_per_clip": args.frames, "model": Path(args.model).name,
              "runtime": type(model).__name__, "cpu": cpu_description(), "results": rows,
              "command": "python benchmarks/video_mode_choice.py --data PATH/TO/fer2013.csv.gz"}
    RESULTS.parent.mkdir(exist_ok=True)
    write_text(RESULTS, json.dumps(report, indent=2) + "\n")
    print(f"PublicTest, {len(split)} faces as {args.frames}-frame clips; CPU: {report['cpu']}")
    print(f"{'inference':<40}{'all frames':>12}{'last frame':>12}{'passes':>8}")
    for name, r in rows.items():
        print(f"{name:<40}{r['accuracy_all_frames']:>12.4f}{r['accuracy_last_frame']:>12.4f}"
              f"{r['forward_passes_per_face']:>8}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
