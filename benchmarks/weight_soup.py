"""Averaging the weights of two networks from one training lineage (a "model soup"): the shipped
model and its warm restart (`train --init models/fer_vgg_bn.keras --epochs 16 --lr 1e-3 --warmup 1
--ema 0.99 --run-dir runs/vgg_bn_restart`). One network at inference, unlike an ensemble. Scored on
PublicTest only (it is a choice).

    python benchmarks/weight_soup.py --data PATH/TO/fer2013.csv.gz [--other runs/vgg_bn_restart/best.keras]

Prints the table and writes benchmarks/results/weight_soup.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer_utils.files import write_text
from fer_utils.backend import keras
from fer_utils.data import PROJECT_ROOT, load_fer2013
from fer_utils.evaluation import classification_metrics
from fer_utils.timing import cpu_description
from fer_utils.models import load_model
from fer_utils.inference import predict_proba

RESULTS = Path(__file__).with_name("results") / "weight_soup.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 CSV or image folder (default: FER2013_PATH)")
    ap.add_argument("--shipped", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
    ap.add_argument("--other", nargs="+", default=[str(PROJECT_ROOT / "runs" / "vgg_bn_restart" / "best.keras"),
                                                     str(PROJECT_ROOT / "runs" / "vgg_bn_restart" / "best_ema.keras")])
    args = ap.parse_args()
    split = load_fer2013(args.data)["PublicTest"]
    shipped = load_model(args.shipped)

    def score(probs) -> dict:
        m = classification_metrics(split.labels, probs.argmax(axis=1))
        return {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4)}

    rows = {"shipped": {v: score(predict_proba(shipped, split.images, tta=v == "4 views")) for v in ("1 view", "4 views")}}
    for other_path in args.other:
        other = load_model(other_path)
        soup = keras.models.clone_model(shipped)
        soup.set_weights([(a + b) / 2 for a, b in zip(shipped.get_weights(), other.get_weights())])
        for name, model in ((Path(other_path).name, other), (f"soup: mean of shipped and {Path(other_path).name}", soup)):
            rows[name] = {v: score(predict_proba(model, split.images, tta=v == "4 views")) for v in ("1 view", "4 views")}
    report = {"split": "PublicTest", "cpu": cpu_description(), "results": rows,
              "command": "python benchmarks/weight_soup.py --data PATH/TO/fer2013.csv.gz"}
    RESULTS.parent.mkdir(exist_ok=True)
    write_text(RESULTS, json.dumps(report, indent=2) + "\n")
    print(f"PublicTest; CPU: {report['cpu']}")
    for name, r in rows.items():
        print(f"{name:<52}" + "".join(f"  {v}: {s['accuracy']:.4f} / {s['macro_f1']:.4f}" for v, s in r.items()))


if __name__ == "__main__":
    main()
