"""The teachers and their ensemble (the mean of their probabilities), from the predictions stored in
models/teachers/: accuracy and macro-F1 on PublicTest (where choices are made) and, reported once, on
PrivateTest with the de-duplicated figure beside it and disgust recall. No model is run: the stored
predictions are enough.

    python benchmarks/ensemble.py --data PATH/TO/fer2013.csv.gz      # writes results/ensemble.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402

from fer_utils.data import EMOTIONS, cross_split_duplicates, load_fer2013  # noqa: E402
from fer_utils.evaluation import classification_metrics  # noqa: E402
from fer_utils.teachers import ensemble, load_teachers  # noqa: E402


def scores(probs, split, duplicates=None) -> dict:
    pred = probs.argmax(1)
    m = classification_metrics(split.labels, pred)
    out = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
           "disgust_recall": m["per_class"]["disgust"]["recall"]}
    if duplicates is not None:
        keep = ~duplicates
        out["dedup_accuracy"] = float((pred[keep] == split.labels[keep]).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 (default: $FER2013_PATH)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    data = load_fer2013(args.data)
    teachers = load_teachers(data)
    if not teachers:
        raise SystemExit("no teacher in models/teachers/ matches this dataset: run `python -m fer_utils teacher` first")
    dup = cross_split_duplicates(data["Training"].images, data["PrivateTest"].images)
    rows = {name: {"PublicTest": scores(p["PublicTest"], data["PublicTest"]),
                   "PrivateTest": scores(p["PrivateTest"], data["PrivateTest"], dup)} for name, p in teachers.items()}
    if len(teachers) > 1:
        mean = {s: ensemble([p[s] for p in teachers.values()]) for s in ("PublicTest", "PrivateTest")}
        rows["ensemble of " + " + ".join(teachers)] = {"PublicTest": scores(mean["PublicTest"], data["PublicTest"]),
                                                       "PrivateTest": scores(mean["PrivateTest"], data["PrivateTest"], dup)}
    for name, r in rows.items():
        pub, priv = r["PublicTest"], r["PrivateTest"]
        print(f"{name:40} PublicTest {pub['accuracy']:.4f} (macro-F1 {pub['macro_f1']:.4f}) | PrivateTest "
              f"{priv['accuracy']:.4f} (without duplicates {priv['dedup_accuracy']:.4f}), macro-F1 {priv['macro_f1']:.4f}, "
              f"disgust recall {priv['disgust_recall']:.3f}")
    if not args.no_write:
        print("wrote", write_result("ensemble", {"classes": list(EMOTIONS), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
