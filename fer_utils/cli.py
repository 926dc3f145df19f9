"""Command line: `python -m fer_utils data summary | train | evaluate | predict | bench` (see --help)."""
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


def cmd_train(args) -> int:
    import numpy as np

    from .evaluation import evaluate_split
    from .models import INFERENCE, build_model
    from .training import read_history, save_json, train

    data = load_fer2013(args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_dir = Path(args.run_dir or Path("runs") / out.stem)
    start = time.time()
    model = train(lambda: build_model(args.arch), data["Training"], data["PublicTest"], run_dir,
                  epochs=args.epochs, batch_size=args.batch_size, peak_lr=args.lr, seed=args.seed,
                  patience=args.patience, verbose=2 if not sys.stdout.isatty() else "auto",
                  init_weights=args.init, warmup_epochs=args.warmup, ema_momentum=args.ema)
    minutes = (time.time() - start) / 60
    model.save(out)
    history = read_history(run_dir / "history.csv")
    shutil.copy(run_dir / "history.csv", out.with_name(out.stem + "_history.csv"))
    card = {
        "model": out.name, "architecture": args.arch, "params": int(model.count_params()),
        "data": str(data.source), "labels": "original FER-2013 labels",
        "protocol": "trained on Training only; PublicTest chose the checkpoint (best validation accuracy) "
                    "and every hyper-parameter; PrivateTest used only for this report",
        "inference": INFERENCE,
        "epochs_planned": args.epochs, "epochs_run": len(history.get("epoch", [])),
        "best_epoch": int(history["epoch"][int(np.argmax(history["val_accuracy"]))]) + 1,
        "training_minutes_this_process": round(minutes, 1),
        "hyperparameters": {"batch_size": args.batch_size, "peak_lr": args.lr, "seed": args.seed,
                            "optimizer": "AdamW, weight decay 0.05, warm-up + cosine decay",
                            "init_weights": args.init, "warmup_epochs": args.warmup, "ema_momentum": args.ema,
                            "label_smoothing": 0.1, "augmentation": "flip, rotate 10 deg, zoom 0.9-1.1, "
                            "shift 4 px, random erasing p=0.25"},
        "hardware": _hardware(), "versions": _versions(),
        "command": "python -m fer_utils " + " ".join(sys.argv[1:]),
        "metrics": {s: evaluate_split(model, data[s]) for s in ("PublicTest", "PrivateTest") if s in data.splits},
    }
    save_json(card, out.with_suffix(".json"))
    for s, m in card["metrics"].items():
        print(f"{s}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} (n={m['n']})")
    print(f"wrote {out}, {out.with_suffix('.json')} in {minutes:.1f} min")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_split, format_report
    from .models import INFERENCE, load_model

    from .training import save_json

    model = load_model(args.model)
    data = load_fer2013(args.data)
    metrics = evaluate_split(model, data[args.split])
    print(json.dumps(metrics) if args.json else f"{args.model} on {args.split}\n" + format_report(metrics))
    if args.write_card:
        card_path = Path(args.model).with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        card.setdefault("metrics", {})[args.split] = metrics
        card["inference"] = INFERENCE
        card["evaluation_command"] = "python -m fer_utils " + " ".join(sys.argv[1:])
        save_json(card, card_path)
        print(f"updated {card_path}", file=sys.stderr)
    return 0


VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def _predict_video(detector, path: Path, out: Path | None) -> dict:
    import cv2

    from .faces import ImageError, draw_results

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageError(f"{path} is not a readable video (corrupt or an unsupported format)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer, frames = None, []
    detector.reset()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        results = detector(frame)
        frames.append([r.to_json() for r in results])
        if out is not None:
            if writer is None:
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
            writer.write(draw_results(frame, results))
    cap.release()
    if writer is not None:
        writer.release()
    if not frames:
        raise ImageError(f"{path} has no readable frames (corrupt or an unsupported codec)")
    return {"path": str(path), "fps": fps, "frames": frames}


def cmd_predict(args) -> int:
    import cv2

    from .faces import EmotionDetector, ImageError, draw_results, read_image
    from .models import load_model

    detector = EmotionDetector(load_model(args.model))
    many = len(args.inputs) > 1 or (args.out and Path(args.out).is_dir())
    if args.out and many:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.inputs:
        path = Path(name)
        out = None
        if args.out:
            out = Path(args.out) / f"{path.stem}_annotated{'.mp4' if path.suffix.lower() in VIDEO_SUFFIXES else '.png'}" \
                if many else Path(args.out)
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:
                detector.smoothing = 0.5
                result = _predict_video(detector, path, out)
                summary = f"{len(result['frames'])} frames, faces in {sum(bool(f) for f in result['frames'])}"
            else:
                detector.smoothing = 0.0
                detector.reset()
                image = read_image(path)
                faces = detector(image)
                result = {"path": str(path), "faces": [r.to_json() for r in faces]}
                if out is not None:
                    cv2.imwrite(str(out), draw_results(image, faces))
                summary = ", ".join(f"{f['emotion']} {f['probabilities'][f['emotion']]:.0%} at {f['box']}"
                                    for f in result["faces"]) or "no face found"
        except ImageError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        print(json.dumps(result) if args.json else f"{path}: {summary}" + (f" -> {out}" if out else ""), flush=True)
    return 1 if failed else 0


def cmd_bench(args) -> int:
    from .faces import benchmark_frame, time_pipeline, time_peer_fer

    frame = benchmark_frame()
    report = time_pipeline(frame, n=args.frames, model_path=args.model)
    report["peer_fer_ms_median"] = time_peer_fer(frame, n=max(20, args.frames // 4))
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"640x480 frame, {report['faces']} face, median of {args.frames} frames, {report['hardware']}")
    for stage, ms in report["stages"].items():
        print(f"  {stage:<28}{ms:7.2f} ms")
    print(f"  {'frame (all stages)':<28}{report['frame_ms_median']:7.2f} ms = {report['fps']:.0f} fps")
    peer = report["peer_fer_ms_median"]
    print(f"  {'fer 25.10 detect_emotions':<28}" + (f"{peer:7.2f} ms = {1000 / peer:.0f} fps" if peer
                                                       else "  not installed (pip install --no-deps fer)"))
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
    t.add_argument("--init", help="start from this trained model's weights (a warm restart)")
    t.add_argument("--warmup", type=float, default=2.0, help="warm-up epochs before the cosine decay")
    t.add_argument("--ema", type=float, default=None,
                   help="also keep an exponential moving average of the weights with this momentum "
                        "(per 5 batches, e.g. 0.99) and ship it when it scores better on PublicTest")
    t.add_argument("--run-dir", help="checkpoints and history; rerun with the same one to resume (default runs/NAME)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class metrics and confusion matrix")
    e.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "fer_vgg_bn.keras"))
    e.add_argument("--data", help=data_help)
    e.add_argument("--split", default="PrivateTest", choices=SPLITS)
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--write-card", action="store_true",
                   help="also store the figures in the model card (MODEL.json) under metrics.SPLIT")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="find and classify the faces in images and videos")
    pr.add_argument("inputs", nargs="+", metavar="IMAGE_OR_VIDEO")
    pr.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "fer_vgg_bn.keras"))
    pr.add_argument("--json", action="store_true", help="one JSON object per input")
    pr.add_argument("--out", help="annotated output file (one input) or folder (several)")
    pr.set_defaults(func=cmd_predict)

    b = sub.add_parser("bench", help="per-frame speed of detection + classification + drawing")
    b.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "fer_vgg_bn.keras"))
    b.add_argument("--frames", type=int, default=200)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DatasetError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
