"""The accuracy levers measured this session, on PublicTest only (every choice is made there; PrivateTest is
left for the model card of a model that ships): the shipped model and the checkpoints of the warm-restart
run (best plain weights, best weight average), each with one view and with the 4 test-time views, a
2-model ensemble, the plain-vs-averaged curve of the restart run, and the levers not measured (with why).
Prints the table and writes benchmarks/results/accuracy_experiments.json plus a copy of the run's
per-epoch history as benchmarks/results/restart_history.csv (both read by notebook 08).

    python benchmarks/accuracy_experiments.py --data PATH/TO/fer2013.csv.gz [--run-dir runs/vgg_bn_restart]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fer_utils.data import EMOTIONS, PROJECT_ROOT  # noqa: E402
from fer_utils.results import portable_path, portable_recorded  # noqa: E402

RESULTS = PROJECT_ROOT / "benchmarks" / "results"
RESTART_COMMAND = ("python -m fer_utils train --data PATH/TO/fer2013.csv.gz --out runs/candidates/vgg_bn_restart.keras "
                   "--run-dir runs/vgg_bn_restart --epochs 16 --lr 1e-3 --warmup 1 --init models/fer_vgg_bn.keras "
                   "--ema 0.99")
NO_TIME = "not measured for this table: the 2 CPU cores had time for one training run (the warm restart) when it was made"
NOT_MEASURED = [
    {"lever": "class-balanced loss / re-weighting for disgust and fear",
     "how": "python -m fer_utils train ... --class-weight-power 0.5: loss weights (1/frequency)**power, "
            "mean 1", "reason": NO_TIME},
    {"lever": "mixup or CutMix", "how": "mix pairs of faces and their targets in the training batches",
     "reason": NO_TIME},
    {"lever": "FER+ soft labels (auxiliary target or label cleaning)",
     "how": "train on the FER+ vote shares, score on the ORIGINAL labels",
     "reason": NO_TIME + "; the label noise itself is measured in benchmarks/results/ferplus_agreement.json"},
    {"lever": "distillation of an ensemble into one network of today's size",
     "how": "train a student on the ensemble's probabilities", "reason": NO_TIME},
    {"lever": "an ensemble of independently trained networks (other seeds or widths)",
     "how": "train 2-3 networks from scratch, average their probabilities",
     "reason": NO_TIME + "; the ensemble measured here pairs the shipped model with its own warm restart"},
]


def summary(labels: np.ndarray, probs: np.ndarray) -> dict:
    """Accuracy, macro-F1 and the recall of every class of the predictions `probs` (N, 7)."""
    from fer_utils.evaluation import classification_metrics

    m = classification_metrics(labels, np.asarray(probs).argmax(axis=1))
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "recall": {e: m["per_class"][e]["recall"] for e in EMOTIONS}}


def epoch_seconds(log_text: str) -> list[int]:
    """Seconds per epoch from a Keras `fit` log printed with verbose=2 (`225/225 - 183s - ...`)."""
    return [int(s) for s in re.findall(r"^\s*\d+/\d+ - (\d+)s - ", log_text, flags=re.M)]


def weight_average_curve(history: dict[str, list[float]]) -> dict:
    """Per epoch, the PublicTest accuracy (1 view) of the plain weights and of their moving average,
    and the best of each."""
    plain, averaged = history.get("val_accuracy", []), history.get("val_ema_accuracy", [])
    return {"epochs": len(plain), "val_accuracy": plain, "val_ema_accuracy": averaged,
            "best_plain": max(plain, default=None), "best_plain_epoch": int(np.argmax(plain)) + 1 if plain else None,
            "best_averaged": max(averaged, default=None),
            "best_averaged_epoch": int(np.argmax(averaged)) + 1 if averaged else None}


def shown(path: Path) -> str:
    """A path relative to the checkout when it is inside it (results files stay portable)."""
    return portable_path(path)


def training_minutes(card_path: Path, log_path: Path) -> tuple[float | None, str]:
    """The training time of a run and where it comes from: its model card when the run wrote one, else
    the sum of the epoch times in its log, else unknown."""
    if card_path.is_file():
        card = json.loads(card_path.read_text())
        if card.get("training_minutes_this_process") is not None:
            return card["training_minutes_this_process"], f"the training time in the run's model card, {card_path.name}"
    if log_path.is_file():
        seconds = epoch_seconds(log_path.read_text())
        if seconds:
            return round(sum(seconds) / 60, 1), f"sum of the {len(seconds)} epoch times in {log_path.name}"
    return None, "unknown"


def main() -> None:
    from fer_utils.data import DatasetError, load_fer2013
    from fer_utils.timing import cpu_description
    from fer_utils.inference import ModelError, load_inference_model, predict_proba
    from fer_utils.training import read_history
    from results_file import write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER-2013 CSV or folder (default: $FER2013_PATH)")
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"), help="the shipped model")
    parser.add_argument("--run-dir", default=str(PROJECT_ROOT / "runs" / "vgg_bn_restart"),
                        help="the warm-restart run (best.keras, best_ema.keras, history.csv)")
    parser.add_argument("--log", default=str(PROJECT_ROOT / "runs" / "vgg_bn_restart.log"),
                        help="the restart run's console log (epoch times, if it wrote no model card)")
    parser.add_argument("--run-card", default=str(PROJECT_ROOT / "runs" / "candidates" / "vgg_bn_restart.json"),
                        help="the restart run's model card, once it has finished")
    args = parser.parse_args()
    shipped, run_dir = Path(args.model), Path(args.run_dir)
    history_path = run_dir / "history.csv"
    try:
        split = load_fer2013(args.data)["PublicTest"]
        models = {"shipped": load_inference_model(shipped, fast=False)}
        for name in ("best", "best_ema"):
            if (run_dir / f"{name}.keras").is_file():
                models[f"restart {name}"] = load_inference_model(run_dir / f"{name}.keras", fast=False)
    except (DatasetError, ModelError) as e:
        sys.exit(f"error: {e}")

    shipped_card = json.loads(shipped.with_suffix(".json").read_text())
    restart_minutes = training_minutes(Path(args.run_card), Path(args.log))
    finished = Path(args.run_card).is_file()
    epochs_done = len(read_history(history_path)["epoch"]) if history_path.is_file() else 0
    training = {
        "shipped": {"minutes": shipped_card.get("training_minutes_this_process"),
                    "minutes_from": shipped.with_suffix(".json").name, "epochs": shipped_card.get("epochs_run"),
                    "hardware": shipped_card.get("hardware"), "command": portable_recorded(shipped_card.get("command", ""))},
        "restart": {"minutes": restart_minutes[0], "minutes_from": restart_minutes[1], "epochs": epochs_done,
                    "finished": finished, "hardware": cpu_description(), "command": RESTART_COMMAND,
                    "what": "warm restart from the shipped weights: 16 epochs, peak learning rate 1e-3, 1 warm-up "
                            "epoch, cosine decay, moving average of all weights (momentum 0.99 every 5 batches) "
                            "scored on PublicTest each epoch"},
    }
    files = {"shipped": shipped, "restart best": run_dir / "best.keras", "restart best_ema": run_dir / "best_ema.keras"}
    rows, four_views = [], {}
    for name, model in models.items():
        for views in (1, 4):
            probs = predict_proba(model, split.images, tta=views == 4)
            if views == 4:
                four_views[name] = probs
            rows.append({"name": name, "model": shown(files[name]), "views": views, "run": name.split()[0],
                         **summary(split.labels, probs)})
            print(f"{name:<18} {views} view{'s' if views > 1 else ' '}: accuracy {rows[-1]['accuracy']:.4f}, "
                  f"macro-F1 {rows[-1]['macro_f1']:.4f}, disgust recall {rows[-1]['recall']['disgust']:.3f}")
    restarts = [r for r in rows if r["run"] == "restart" and r["views"] == 4]
    if restarts:
        partner = max(restarts, key=lambda r: r["accuracy"])["name"]  # chosen on PublicTest, like everything here
        probs = (four_views["shipped"] + four_views[partner]) / 2
        rows.append({"name": f"ensemble: shipped + {partner}", "model": f"{shown(shipped)} + {shown(files[partner])}",
                     "views": 4, "run": "ensemble", "members": ["shipped", partner], **summary(split.labels, probs)})
        print(f"{rows[-1]['name']:<18} 4 views: accuracy {rows[-1]['accuracy']:.4f}, "
              f"macro-F1 {rows[-1]['macro_f1']:.4f}")

    curve = weight_average_curve(read_history(history_path)) if history_path.is_file() else None
    if curve:
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(history_path, RESULTS / "restart_history.csv")
        print(f"weight average: best PublicTest accuracy (1 view) {curve['best_averaged']:.4f} (epoch "
              f"{curve['best_averaged_epoch']}) against {curve['best_plain']:.4f} for the plain weights (epoch "
              f"{curve['best_plain_epoch']}), over {curve['epochs']} epochs")
    for lever in NOT_MEASURED:
        print(f"{lever['lever']}: {lever['reason']}")
    result = {"split": "PublicTest", "n": len(split), "cpu": cpu_description(),
              "note": "PublicTest chose the checkpoints (and the test-time views), so these figures are slightly "
                      "optimistic; only PrivateTest, not touched here, is an unbiased estimate. "
                      + ("" if finished else f"The restart run had not finished: {epochs_done} epochs done."),
              "training": training, "rows": rows, "weight_average_curve": curve,
              "weight_average_history": "benchmarks/results/restart_history.csv" if curve else None,
              "not_measured": NOT_MEASURED}
    print(f"wrote {write_result('accuracy_experiments', result)}")


if __name__ == "__main__":
    main()
