"""Command line: `python -m fer_utils data summary | train | evaluate` (see --help)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from .data import EMOTIONS, SPLITS, DatasetError, load_fer2013


def cmd_data_summary(args) -> int:
    counts = load_fer2013(args.data).counts()
    total = sum(sum(c.values()) for c in counts.values())
    if args.json:
        print(json.dumps({"splits": counts, "total": total}))
        return 0
    print(f"{'split':<12}" + "".join(f"{e:>9}" for e in EMOTIONS) + f"{'total':>9}")
    for split, c in counts.items():
        print(f"{split:<12}" + "".join(f"{c[e]:>9}" for e in EMOTIONS) + f"{sum(c.values()):>9}")
    print(f"{'all':<12}" + "".join(f"{sum(c[e] for c in counts.values()):>9}" for e in EMOTIONS) + f"{total:>9}")
    return 0


def _hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf

    gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    return f"{os.cpu_count()} x {cpu}" + (f"; GPUs: {', '.join(gpus)}" if gpus else "; no GPU")


def _versions() -> dict[str, str]:
    import cv2
    import numpy
    import tensorflow as tf

    from .backend import keras

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy": numpy.__version__, "opencv": cv2.__version__}


def evaluate_model(model, split) -> dict:
    """Metrics of `model` on a Split, through the same inference path as the live pipeline."""
    from .evaluation import classification_metrics
    from .models import predict_proba

    return classification_metrics(split.labels, predict_proba(model, split.images).argmax(axis=1))


def cmd_train(args) -> int:
    from .models import build_model
    from .training import read_history, save_json, train

    data = load_fer2013(args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_dir = Path(args.run_dir or Path("runs") / out.stem)
    start = time.time()
    model = train(lambda: build_model(args.arch), data["Training"], data["PublicTest"], run_dir,
                  epochs=args.epochs, batch_size=args.batch_size, peak_lr=args.lr, seed=args.seed,
                  patience=args.patience, verbose=2 if not sys.stdout.isatty() else "auto")
    minutes = (time.time() - start) / 60
    model.save(out)
    history = read_history(run_dir / "history.csv")
    shutil.copy(run_dir / "history.csv", out.with_name(out.stem + "_history.csv"))
    card = {
        "model": out.name, "architecture": args.arch, "params": int(model.count_params()),
        "data": str(data.source), "labels": "original FER-2013 labels",
        "protocol": "trained on Training only; PublicTest chose the checkpoint (best validation accuracy) "
                    "and every hyper-parameter; PrivateTest used only for this report",
        "inference": "mean of the face and its horizontal mirror (fer_utils.models.predict_proba)",
        "epochs_planned": args.epochs, "epochs_run": len(history.get("epoch", [])),
        "best_epoch": int(history["epoch"][int(max(range(len(history["val_accuracy"])),
                                                   key=history["val_accuracy"].__getitem__))]) + 1,
        "training_minutes_this_process": round(minutes, 1),
        "hyperparameters": {"batch_size": args.batch_size, "peak_lr": args.lr, "seed": args.seed,
                            "optimizer": "AdamW, weight decay 0.05, warm-up + cosine decay",
                            "label_smoothing": 0.1, "augmentation": "flip, rotate 10 deg, zoom 0.9-1.1, "
                            "shift 4 px, random erasing p=0.25"},
        "hardware": _hardware(), "versions": _versions(),
        "command": "python -m fer_utils " + " ".join(sys.argv[1:]),
        "metrics": {s: evaluate_model(model, data[s]) for s in ("PublicTest", "PrivateTest") if s in data.splits},
    }
    save_json(card, out.with_suffix(".json"))
    for s, m in card["metrics"].items():
        print(f"{s}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} (n={m['n']})")
    print(f"wrote {out}, {out.with_suffix('.json')} in {minutes:.1f} min")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import format_report
    from .models import load_model

    model = load_model(args.model)
    split = load_fer2013(args.data)[args.split]
    metrics = evaluate_model(model, split)
    print(json.dumps(metrics) if args.json else f"{args.model} on {args.split}\n" + format_report(metrics))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fer_utils", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    data_help = "FER-2013 CSV (plain or .gz) or image folder; default: $FER2013_PATH, else data/fer2013*"

    d = sub.add_parser("data", help="dataset commands").add_subparsers(dest="data_command", required=True)
    s = d.add_parser("summary", help="images per split and class")
    s.add_argument("--data", help=data_help)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_data_summary)

    t = sub.add_parser("train", help="train a model and write it with its model card")
    t.add_argument("--data", help=data_help)
    t.add_argument("--out", required=True, help="model file to write, e.g. models/fer_vgg_bn.keras")
    t.add_argument("--arch", default="vgg_bn", help="vgg_bn (shipped) or baseline")
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--patience", type=int, default=None, help="early stopping patience in epochs (default: off)")
    t.add_argument("--run-dir", help="checkpoints and history; rerun with the same one to resume (default runs/NAME)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class metrics and confusion matrix")
    e.add_argument("--model", default="models/fer_vgg_bn.keras")
    e.add_argument("--data", help=data_help)
    e.add_argument("--split", default="PrivateTest", choices=SPLITS)
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
