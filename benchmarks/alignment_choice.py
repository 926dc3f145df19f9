"""Does aligning a face (turning it so the eyes are level) before classification help, and how much of the
detected box should the crop take? Measured through the whole pipeline on PublicTest faces (choices are made
on PublicTest; PrivateTest is never used here).

Each face is rotated by 0, +-10, +-20 or +-30 degrees and placed, 240 px wide, in a 640x480 frame with a
textured background (benchmarks/detection_benchmark.py's scenes); the CNN detector finds it, and the crop is
classified (one view) with and without alignment, for a few crop sizes.

    python benchmarks/alignment_choice.py --data PATH/TO/fer2013.csv.gz     # writes results/alignment_choice.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_benchmark import background, place_face  # noqa: E402
from results_file import write_result  # noqa: E402

from fer_utils.data import load_fer2013  # noqa: E402
from fer_utils.detection import make_detector  # noqa: E402
from fer_utils.inference import load_inference_model, predict_proba  # noqa: E402
from fer_utils.pipeline import DEFAULT_MODEL, crop_aligned, iou  # noqa: E402
from fer_utils.timing import cpu_description  # noqa: E402

ANGLES = (-30, -20, -10, 0, 10, 20, 30)
EXPANDS = (1.0, 1.15, 1.3)
SIZE = 240


def run(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    detector = make_detector("cnn", min_score=0.2)
    model = load_inference_model(DEFAULT_MODEL)
    rows = []
    for angle in ANGLES:
        crops = {(a, e): [] for a in (False, True) for e in EXPANDS}
        found = []
        for face in images:
            scene = background(rng)
            truth = place_face(scene, face, (320, 240), SIZE, angle)
            faces = [f for f in detector.detect_faces(scene) if iou(f.box, truth) >= 0.3]
            found.append(bool(faces))
            if faces:
                for (align, expand), bucket in crops.items():
                    bucket.append(crop_aligned(scene, faces[:1], expand=expand, align=align)[0])
        found = np.array(found)
        row = {"angle": angle, "detected": float(found.mean())}
        for (align, expand), bucket in crops.items():
            if bucket:
                pred = predict_proba(model, np.stack(bucket), tta=False).argmax(1)
                row[f"{'aligned' if align else 'as found'} x{expand:g}"] = float((pred == labels[found]).mean())
        rows.append(row)
        print(row, flush=True)
    keys = [k for k in rows[0] if k not in ("angle", "detected")]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    best = max(mean, key=mean.get)
    return {"rows": rows, "mean_over_angles": mean, "chosen": best, "size_px": SIZE, "hardware": cpu_description(),
            "note": "accuracy on the faces the detector found (one test-time view), per rotation angle"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 (default: $FER2013_PATH)")
    ap.add_argument("--limit", type=int, default=None, help="use the first N PublicTest faces")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    split = load_fer2013(args.data)["PublicTest"]
    images, labels = split.images[:args.limit], split.labels[:args.limit]
    report = run(images, labels)
    print("mean over angles:", {k: round(v, 4) for k, v in report["mean_over_angles"].items()})
    print("chosen:", report["chosen"])
    if not args.no_write:
        print("wrote", write_result("alignment_choice", report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
