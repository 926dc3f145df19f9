"""The teachers and their ensemble (the mean of their probabilities), from the predictions stored in
models/teachers/: accuracy and macro-F1 on PublicTest (where choices are made) and, reported once, on
PrivateTest with the de-duplicated figure beside it and disgust recall; the ensembles of the first 2, 3, ...
teachers (in name order) show what each added network buys; then each distilled student stored in
models/students/ (one network learning from them). No model is run: the stored predictions are enough.

    python benchmarks/ensemble.py --data PATH/TO/fer2013.csv.gz      # writes results/ensemble.json
    python benchmarks/ensemble.py --readme-only                      # the README's table from that file

The README's teachers table (between its `teachers` markers) is written from the results file.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import RESULTS_DIR, write_result  # noqa: E402
from wheel_support import README, replace_block  # noqa: E402

from fer_utils.data import EMOTIONS, cross_split_duplicates, load_fer2013  # noqa: E402
from fer_utils.evaluation import classification_metrics  # noqa: E402
from fer_utils.files import write_text  # noqa: E402
from fer_utils.teachers import STUDENTS, growing_ensembles, load_teachers  # noqa: E402


def scores(probs, split, duplicates=None) -> dict:
    pred = probs.argmax(1)
    m = classification_metrics(split.labels, pred)
    out = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
           "disgust_recall": m["per_class"]["disgust"]["recall"]}
    if duplicates is not None:
        keep = ~duplicates
        out["dedup_accuracy"] = float((pred[keep] == split.labels[keep]).mean())
    return out


def readme_table(result: dict) -> str:
    """The README's table of teachers and ensembles, from results/ensemble.json."""
    lines = ["| stored predictions, 4 views each | PublicTest accuracy / macro-F1 | PrivateTest accuracy / macro-F1 "
             "| PrivateTest without duplicates | disgust recall, PrivateTest |", "|---|---|---|---|---|"]
    for name, r in result["rows"].items():
        pub, priv = r["PublicTest"], r["PrivateTest"]
        lines.append(f"| {name} | {pub['accuracy']:.4f} / {pub['macro_f1']:.4f} | {priv['accuracy']:.4f} / "
                     f"{priv['macro_f1']:.4f} | {priv['dedup_accuracy']:.4f} | {priv['disgust_recall']:.3f} |")
    return "\n".join(lines) + f"\n\n`{result['command']}`, on {result['cpu']}."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 (default: $FER2013_PATH)")
    ap.add_argument("--no-write", action="store_true", help="print only: write neither the results file nor the README")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README's table from results/ensemble.json")
    args = ap.parse_args(argv)
    if args.readme_only:
        result = json.loads((RESULTS_DIR / "ensemble.json").read_text())
        write_text(README, replace_block(README.read_text(), readme_table(result), "teachers"))
        return 0
    data = load_fer2013(args.data)
    teachers = load_teachers(data)
    if not teachers:
        raise SystemExit("no teacher in models/teachers/ matches this dataset: run `python -m fer_utils teacher` first")
    dup = cross_split_duplicates(data["Training"].images, data["PrivateTest"].images)
    rows = {name: {"PublicTest": scores(p["PublicTest"], data["PublicTest"]),
                   "PrivateTest": scores(p["PrivateTest"], data["PrivateTest"], dup)} for name, p in teachers.items()}
    for name, mean in growing_ensembles(teachers, ("PublicTest", "PrivateTest")).items():
        rows[name] = {"PublicTest": scores(mean["PublicTest"], data["PublicTest"]),
                      "PrivateTest": scores(mean["PrivateTest"], data["PrivateTest"], dup)}
    for name, p in load_teachers(data, folder=STUDENTS).items():
        rows[f"student {name}"] = {"PublicTest": scores(p["PublicTest"], data["PublicTest"]),
                                   "PrivateTest": scores(p["PrivateTest"], data["PrivateTest"], dup)}
    for name, r in rows.items():
        pub, priv = r["PublicTest"], r["PrivateTest"]
        print(f"{name:40} PublicTest {pub['accuracy']:.4f} (macro-F1 {pub['macro_f1']:.4f}) | PrivateTest "
              f"{priv['accuracy']:.4f} (without duplicates {priv['dedup_accuracy']:.4f}), macro-F1 {priv['macro_f1']:.4f}, "
              f"disgust recall {priv['disgust_recall']:.3f}")
    if not args.no_write:
        path = write_result("ensemble", {"classes": list(EMOTIONS), "rows": rows})
        write_text(README, replace_block(README.read_text(), readme_table(json.loads(path.read_text())), "teachers"))
        print("wrote", path, "and the README's teachers table")
    return 0


if __name__ == "__main__":
    sys.exit(main())
