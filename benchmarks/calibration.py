"""How confident the teachers are against how often they are right, on PublicTest, from the predictions stored
in models/teachers/: each teacher's and the ensembles' accuracy, mean top probability, expected calibration
error (10 bins), and negative log-likelihood at every temperature `train --distill --temperature auto` searches,
with the temperature it picks (`fer_utils.distillation.calibrated_temperature`). A mean top probability below
the accuracy is an under-confident model; a chosen temperature below 1 sharpens it.

    python benchmarks/calibration.py --data PATH/TO/fer2013.csv.gz      # writes results/calibration.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402

from fer_utils.data import load_fer2013  # noqa: E402
from fer_utils.distillation import calibrated_temperature, soften  # noqa: E402
from fer_utils.teachers import growing_ensembles, load_teachers  # noqa: E402


def calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the gap between confidence and accuracy in `bins` equal-width bins of the
    top probability, weighted by the share of faces in each bin."""
    top, right = probabilities.max(1), probabilities.argmax(1) == labels
    which = np.minimum((top * bins).astype(int), bins - 1)
    return float(sum(abs(top[which == b].mean() - right[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def calibration(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """The figures of one model (or ensemble) on one split."""
    temperature, nll = calibrated_temperature(probabilities, labels)
    return {"accuracy": float((probabilities.argmax(1) == labels).mean()),
            "mean_top_probability": float(probabilities.max(1).mean()),
            "calibration_error": calibration_error(probabilities, labels),
            "calibration_error_at_chosen": calibration_error(soften(probabilities, temperature), labels),
            "chosen_temperature": temperature, "nll_by_temperature": {str(t): v for t, v in nll.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 (default: $FER2013_PATH)")
    ap.add_argument("--no-write", action="store_true", help="print only: do not write the results file")
    args = ap.parse_args(argv)
    data = load_fer2013(args.data)
    teachers = load_teachers(data)
    if not teachers:
        raise SystemExit("no teacher in models/teachers/ matches this dataset: run `python -m fer_utils teacher` first")
    labels = data["PublicTest"].labels
    models = {name: p["PublicTest"] for name, p in teachers.items()}
    models |= {name: p["PublicTest"] for name, p in growing_ensembles(teachers, ("PublicTest",)).items()}
    rows = {name: calibration(p, labels) for name, p in models.items()}
    for name, r in rows.items():
        print(f"{name:40} accuracy {r['accuracy']:.4f}, mean top probability {r['mean_top_probability']:.4f}, "
              f"calibration error {r['calibration_error']:.4f} -> {r['calibration_error_at_chosen']:.4f} at "
              f"T={r['chosen_temperature']} (NLL {r['nll_by_temperature']['1.0']:.4f} at T=1, "
              f"{r['nll_by_temperature'][str(r['chosen_temperature'])]:.4f} at T={r['chosen_temperature']}, "
              f"{r['nll_by_temperature']['2.0']:.4f} at T=2)")
    if not args.no_write:
        print("wrote", write_result("calibration", {"split": "PublicTest", "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
