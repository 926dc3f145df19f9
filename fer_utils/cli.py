"""Command line: `python -m fer_utils data summary | train | evaluate | predict | bench | live` (see --help)."""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from .data import EMOTIONS, PROJECT_ROOT, SPLITS, DatasetError, load_fer2013
from .files import DiskFullError, FolderLock, atomic_write, refuse_overwriting_inputs
from .interrupts import Terminated, signal_received, signals_raise, stopped, warning_line
from .predict import IMAGE_OUT_SUFFIXES, VIDEO_SUFFIXES, plan_outputs, predict_files  # noqa: F401 (cli's names)
from .predict import write_image as _write_image  # noqa: F401
from .results import portable_command, portable_path, portable_recorded


def _load_data(args):
    """The dataset named by --data, leaving out unreadable images with --skip-corrupt (and saying so)."""
    data = load_fer2013(args.data, skip_corrupt=args.skip_corrupt)
    if data.skipped:
        shown = ", ".join(str(f) for f in data.skipped[:5]) + (", ..." if len(data.skipped) > 5 else "")
        print(f"skipped {len(data.skipped)} unreadable image(s) (--skip-corrupt): {shown}", file=sys.stderr)
    return data


def cmd_data_summary(args) -> int:
    counts = _load_data(args).counts()
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
    import tensorflow as tf

    from .timing import cpu_description

    gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    return cpu_description() + (f"; GPUs: {', '.join(gpus)}" if gpus else "; no GPU")


def _versions() -> dict[str, str]:
    import cv2
    import numpy
    import tensorflow as tf

    from .backend import keras

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy": numpy.__version__, "opencv": cv2.__version__}


DETECTOR_HELP = "face detector: cnn (BlazeFace on LiteRT, the default) or haar (OpenCV's classic cascade)"
PROTOCOL = ("trained on Training only. Chosen on PublicTest: the checkpoint (best validation accuracy), the "
            "test-time views (benchmarks/tta_choice.py) and, with --ema, whether the weight average ships. Set by "
            "hand from a 24-epoch feasibility run and the time budget, with no search on PublicTest: the "
            "architecture, optimizer, learning rate, weight decay, label smoothing, augmentation and epoch count. "
            "PrivateTest used only for this report; about 8% of its faces are byte-identical to Training faces "
            "(dedup_* in metrics: the figures without them)")


def _writable_folder(folder: Path, what: str, created: list[Path] | None = None) -> None:
    """Create `folder` if needed and check that a file can be written in it; a ValueError says why not.
    The folders it creates are appended to `created` (so that a call that fails can remove them again)."""
    try:
        if created is not None:
            created += [f for f in (*reversed(folder.parents), folder) if not f.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"{what}: cannot write in {folder} ({e.strerror or e}); choose another folder") from e


def _check_train_args(args, created: list[Path] | None = None) -> tuple[Path, Path]:
    """The model file and the run folder of `train`, with every argument checked before any data is read;
    the folders created for them are appended to `created`."""
    out = Path(args.out)
    if out.suffix != ".keras" or out.is_dir():
        raise ValueError(f"--out {out}: give a model file name ending in .keras, e.g. models/my_model.keras")
    for name, value, ok, need in (("--epochs", args.epochs, args.epochs >= 1, "at least 1"),
                                  ("--batch-size", args.batch_size, args.batch_size >= 1, "at least 1"),
                                  ("--lr", args.lr, args.lr > 0, "above 0"),
                                  ("--warmup", args.warmup, args.warmup >= 0, "0 or more"),
                                  ("--patience", args.patience, args.patience is None or args.patience >= 1,
                                   "at least 1"),
                                  ("--ema", args.ema, args.ema is None or 0 < args.ema < 1, "between 0 and 1")):
        if not ok:
            raise ValueError(f"{name} must be {need}, got {value}")
    if args.init and not Path(args.init).is_file():
        raise ValueError(f"--init {args.init}: no such model file")
    _writable_folder(out.parent, "--out", created)
    run_dir = Path(args.run_dir or Path("runs") / out.stem)
    _writable_folder(run_dir, "--run-dir", created)
    FolderLock(run_dir, "training run").check()  # another training there now: refused before TensorFlow loads
    from .training import check_run_dir  # imports TensorFlow: after the quick checks

    check_run_dir(run_dir)
    return out, run_dir


def cmd_train(args) -> int:
    created: list[Path] = []  # the folders this call creates: removed again if it fails while they are empty
    try:
        return _train(args, created)
    except BaseException:
        for folder in reversed(created):  # (an interrupted first epoch leaves only an empty backup/ folder)
            if folder.is_dir() and not any(f.is_file() for f in folder.rglob("*")):
                shutil.rmtree(folder)
        raise


def _train(args, created: list[Path]) -> int:
    """`train`'s work (see `cmd_train`)."""
    out, run_dir = _check_train_args(args, created)
    import numpy as np

    from .evaluation import evaluate_split
    from .inference import INFERENCE, load_inference_model
    from .models import build_model, export_fast_model
    from .training import best_checkpoint, read_history, save_json, train

    data = _load_data(args)
    start = time.time()
    try:
        model = train(lambda: build_model(args.arch), data["Training"], data["PublicTest"], run_dir,
                      epochs=args.epochs, batch_size=args.batch_size, peak_lr=args.lr, seed=args.seed,
                      patience=args.patience, verbose=2 if not sys.stdout.isatty() else "auto",
                      init_weights=args.init, warmup_epochs=args.warmup, ema_momentum=args.ema, mixup=args.mixup,
                      precision=args.precision)
    except DiskFullError as e:
        raise DiskFullError(e.errno, f"{e}; {run_dir} keeps the last finished epoch, and the same command resumes "
                                     f"from it", e.needed_bytes) from e
    minutes = (time.time() - start) / 60
    try:
        atomic_write(out, model.save)
    except (OSError, ValueError) as e:
        raise OSError(f"training finished, but {out} could not be written ({e}); the best model is in "
                      f"{best_checkpoint(run_dir)}: copy it to where you want it") from e
    history = read_history(run_dir / "history.csv")
    atomic_write(out.with_name(out.stem + "_history.csv"), lambda tmp: shutil.copy(run_dir / "history.csv", tmp))
    card = {
        "model": out.name, "architecture": args.arch, "params": int(model.count_params()),
        "data": portable_path(data.source), "labels": "original FER-2013 labels",
        "protocol": PROTOCOL,
        "inference": INFERENCE,
        "epochs_planned": args.epochs, "epochs_run": len(history.get("epoch", [])),
        "best_epoch": int(history["epoch"][int(np.argmax(history["val_accuracy"]))]) + 1,
        "training_minutes_this_process": round(minutes, 1),
        "hyperparameters": {"batch_size": args.batch_size, "peak_lr": args.lr, "seed": args.seed,
                            "optimizer": "AdamW, weight decay 0.05, warm-up + cosine decay",
                            "init_weights": args.init, "warmup_epochs": args.warmup, "ema_momentum": args.ema,
                            "mixup_alpha": args.mixup, "precision": args.precision,
                            "label_smoothing": 0.1, "augmentation": "flip, rotate 10 deg, zoom 0.9-1.1, "
                            "shift 4 px, random erasing p=0.25"},
        "hardware": _hardware(), "versions": _versions(),
        "command": portable_command("python -m fer_utils", sys.argv[1:]),
    }
    save_json(card, out.with_suffix(".json"))
    shipped = model
    try:
        export_fast_model(model, out)  # NAME.tflite, tied to NAME.keras by hashes in the card
        shipped = load_inference_model(out)  # scored as it will run: the quantized LiteRT copy
    except Exception as e:  # noqa: BLE001 - the trained model is safe; only the fast copy is missing
        print(f"warning: wrote {out}, but not its fast copy {out.with_suffix('.tflite').name} ({type(e).__name__}: "
              f"{e}); inference will use the Keras model until `python -m fer_utils export --model {out}` works",
              file=sys.stderr)
    card = {**json.loads(out.with_suffix(".json").read_text()),
            "metrics": {s: evaluate_split(shipped, data[s], training=data.splits.get("Training"))
                        for s in ("PublicTest", "PrivateTest") if s in data.splits}}
    save_json(card, out.with_suffix(".json"))
    for s, m in card["metrics"].items():
        print(f"{s}: accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} (n={m['n']})")
    print(f"wrote {out}, {out.with_suffix('.json')} in {minutes:.1f} min")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_split, format_report
    from .inference import INFERENCE, load_inference_model

    from .training import save_json

    model = load_inference_model(args.model, fast=not args.keras)
    data = _load_data(args)
    metrics = evaluate_split(model, data[args.split], training=data.splits.get("Training"))
    print(json.dumps(metrics) if args.json else f"{args.model} on {args.split}\n" + format_report(metrics))
    if args.write_card:
        card_path = Path(args.model).with_suffix(".json")
        card = json.loads(card_path.read_text()) if card_path.exists() else {}
        card.setdefault("metrics", {})[args.split] = metrics
        card["inference"] = INFERENCE
        card["evaluation_command"] = portable_command("python -m fer_utils", sys.argv[1:])
        card.setdefault("evaluation_commands", {})[args.split] = card["evaluation_command"]  # the command per split
        save_json(card, card_path)
        print(f"updated {card_path}", file=sys.stderr)
    return 0


def cmd_predict(args) -> int:
    outputs = plan_outputs(args.inputs, args.out)
    refuse_overwriting_inputs(outputs, args.inputs)
    if args.out and (len(args.inputs) > 1 or Path(args.out).is_dir()):
        _writable_folder(Path(args.out), "--out")
    elif args.out:
        _writable_folder(Path(args.out).parent, "--out")
    if args.small_faces and args.detector != "cnn":
        raise ValueError("--small-faces is a second pass of the CNN face detector: drop --detector haar")
    return predict_files(args.inputs, outputs, args.model, args.detector, args.landmarks, args.json, args.small_faces)


def cmd_bench(args) -> int:
    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    from .timing import benchmark_frame, time_peer_fer, time_pipeline

    frame = benchmark_frame()
    report = time_pipeline(frame, n=args.frames, model_path=args.model, fast=not args.keras, detector=args.detector)
    peer = time_peer_fer(frame, n=max(20, args.frames // 4))
    report["peer_fer_ms_median"] = peer
    report["speedup_vs_fer"] = peer / report["video"]["frame_ms_median"] if peer else None
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"640x480 frame, median of {args.frames} frames, {report['model']} model, {args.detector} face detector; "
          f"CPU: {report['hardware']}")
    for name in ("video", "photo"):
        r = report[name]
        print(f"{name} path ({'EmotionDetector.for_video()' if name == 'video' else 'EmotionDetector()'}),"
              f" {r['faces']} face:")
        for stage, ms in r["stages"].items():
            print(f"  {stage:<40}{ms:7.2f} ms")
        print(f"  {'frame (all stages)':<40}{r['frame_ms_median']:7.2f} ms = {r['fps']:.0f} fps")
    print(f"{'fer 25.10 detect_emotions (same frame)':<42}" + (
        f"{peer:7.2f} ms = {1000 / peer:.0f} fps; video path {report['speedup_vs_fer']:.2f}x faster" if peer
        else "  not installed (pip install --no-deps fer==25.10.3)"))
    return 0


def cmd_export(args) -> int:
    from .models import export_fast_model, file_sha256, load_model

    fast = export_fast_model(load_model(args.model), args.model)
    print(f"wrote {fast} ({fast.stat().st_size / 1e6:.1f} MB) from {args.model} (sha256 {file_sha256(args.model)[:12]}...)")
    return 0


def cmd_teacher(args) -> int:
    from .inference import INFERENCE, load_inference_model
    from .teachers import save_teacher, teacher_predictions

    model_path = Path(args.model)
    model = load_inference_model(model_path)  # the LiteRT copy written by `train`: same outputs, faster
    data = _load_data(args)
    training_card_path = model_path.with_suffix(".json")
    training_card = json.loads(training_card_path.read_text()) if training_card_path.is_file() else {}
    card = {"name": args.name, "inference": INFERENCE, "runtime": type(model).__name__,
            "training": {k: portable_recorded(training_card[k]) if k == "command" and training_card.get(k)
                         else training_card.get(k) for k in ("command", "architecture", "params", "epochs_planned", "epochs_run",
                                                          "best_epoch", "training_minutes_this_process",
                                                          "hyperparameters", "hardware", "versions")},
            "predictions_by": portable_command("python -m fer_utils", sys.argv[1:]), "hardware": _hardware()}
    out = save_teacher(args.name, teacher_predictions(model, data), data, card)
    public = json.loads((out / "card.json").read_text())["PublicTest"]
    print(f"wrote {out}: PublicTest accuracy {public['accuracy']:.4f}, macro-F1 {public['macro_f1']:.4f}")
    return 0


def cmd_live(args) -> int:
    from .desktop import run_live

    return run_live(camera=args.camera, video=args.video, out=args.out, model=args.model, detector=args.detector)


def cmd_student(args) -> int:
    from .student import build_instructor_edition, build_student_edition

    args.out = args.out or args.edition
    if args.edition == "instructor":
        written = build_instructor_edition(args.notebooks, args.solutions, args.out)
        print(f"{args.out}/: {len(written)} notebooks with their solutions and outputs (worked solutions in "
              f"{args.out}/solutions/); keep it from students")
        return 0
    marked = build_student_edition(args.notebooks, args.out)
    for name, n in marked.items():
        print(f"{args.out}/{name}: outputs cleared, {n} cell(s) left for the student")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fer_utils", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    data_help = "FER-2013 CSV (plain or .gz) or image folder; default: $FER2013_PATH, else data/fer2013*"
    skip_help = "image folders: leave out unreadable images (and say how many) instead of stopping"

    d = sub.add_parser("data", help="dataset commands").add_subparsers(dest="data_command", required=True)
    s = d.add_parser("summary", help="images per split and class")
    s.add_argument("--data", help=data_help)
    s.add_argument("--skip-corrupt", action="store_true", help=skip_help)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_data_summary)

    t = sub.add_parser("train", help="train a model and write it with its model card")
    t.add_argument("--data", help=data_help)
    t.add_argument("--skip-corrupt", action="store_true", help=skip_help)
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
    t.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="blend pairs of training faces and their labels, lambda ~ Beta(ALPHA, ALPHA) (default 0: off)")
    t.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"),
                   help="mixed_bfloat16: about 1.65x faster where the CPU has AMX (lscpu shows amx_bf16); "
                        "the saved model is float32 either way")
    t.add_argument("--run-dir", help="checkpoints and history; rerun with the same one to resume (default runs/NAME)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class metrics and confusion matrix")
    e.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
    e.add_argument("--data", help=data_help)
    e.add_argument("--split", default="PrivateTest", choices=SPLITS)
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--skip-corrupt", action="store_true", help=skip_help)
    e.add_argument("--keras", action="store_true",
                   help="run the Keras model instead of the fast TFLite one (to compare the two)")
    e.add_argument("--write-card", action="store_true",
                   help="also store the figures in the model card (MODEL.json) under metrics.SPLIT")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="find and classify the faces in images and videos")
    pr.add_argument("inputs", nargs="+", metavar="IMAGE_OR_VIDEO")
    pr.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
    pr.add_argument("--detector", default="cnn", choices=("cnn", "haar"), help=DETECTOR_HELP)
    pr.add_argument("--landmarks", action="store_true", help="draw the CNN detector's 6 keypoints on annotated photos")
    pr.add_argument("--small-faces", action="store_true",
                    help="photos: a second detection pass in 4 tiles at 2x, for faces under ~80 px in a 640-px-wide "
                         "frame (about 5x the detection time; benchmarks/results/detection.json)")
    pr.add_argument("--json", action="store_true", help="one JSON object per input")
    pr.add_argument("--out", help="annotated output file (one input) or folder (several)")
    pr.set_defaults(func=cmd_predict)

    b = sub.add_parser("bench", help="per-frame speed of detection + classification + drawing")
    b.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
    b.add_argument("--detector", default="cnn", choices=("cnn", "haar"), help=DETECTOR_HELP)
    b.add_argument("--frames", type=int, default=200)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--keras", action="store_true", help="time the Keras model instead of the fast TFLite one")
    b.set_defaults(func=cmd_bench)

    lv = sub.add_parser("live", help="desktop demo: a window with the camera (or a video) annotated live; q or Esc quits")
    source = lv.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, metavar="N", help="camera index (default 0)")
    source.add_argument("--video", metavar="PATH", help="play a video file instead of the camera")
    lv.add_argument("--out", metavar="FILE", help="also write the annotated video (.mp4 or .avi); without a GUI, "
                                                   "only this (no window)")
    lv.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
    lv.add_argument("--detector", default="cnn", choices=("cnn", "haar"), help=DETECTOR_HELP)
    lv.set_defaults(func=cmd_live)

    x = sub.add_parser("export", help="(re)build the fast TFLite model next to a .keras model")
    x.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"),
                   help="the .keras model; its fast copy NAME.tflite is written beside it (default: under $FER_HOME)")
    x.set_defaults(func=cmd_export)

    te = sub.add_parser("teacher", help="store a trained model's predictions as a teacher (models/teachers/NAME/)")
    te.add_argument("--model", required=True, help="the trained .keras model")
    te.add_argument("--name", required=True, help="the teacher's folder name, e.g. seed1_bf16")
    te.add_argument("--data", help=data_help)
    te.add_argument("--skip-corrupt", action="store_true", help=skip_help)
    te.set_defaults(func=cmd_teacher)

    st = sub.add_parser("student", help="build the student edition (outputs cleared, marked cells stubbed, no answers) "
                                         "or, with --edition instructor, the instructor edition")
    st.add_argument("--notebooks", default=str(Path(__file__).resolve().parent.parent / "notebooks"))
    st.add_argument("--solutions", default=str(Path(__file__).resolve().parent.parent / "solutions"),
                    help="the worked solutions (instructor edition only)")
    st.add_argument("--edition", choices=("student", "instructor"), default="student")
    st.add_argument("--out", help="folder to write (default: student/ or instructor/, both git-ignored)")
    st.set_defaults(func=cmd_student)
    return p


AFTER_INTERRUPT = {
    "train": "training stopped; the run folder keeps every finished epoch: rerun the same command to resume",
    "predict": "stopped; the inputs listed above were done, and no half-written output was left",
    "live": "stopped; no half-written video was left",
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with signals_raise(), warnings.catch_warnings():  # catch_warnings: Python's own display is back after main
        warnings.showwarning = warning_line
        try:
            status = args.func(args)
            if signal_received() == signal.SIGTERM:  # swallowed on the way (e.g. in a library's import): still say so
                return stopped(signal.SIGTERM, AFTER_INTERRUPT.get(args.command, "stopped"))
            return status
        except (KeyboardInterrupt, Terminated, DatasetError, ValueError, OSError, ImportError) as e:
            signum = signal_received() or {KeyboardInterrupt: signal.SIGINT, Terminated: signal.SIGTERM}.get(type(e))
            if signum:  # (also when a library turned the signal's exception into another error)
                return stopped(signum, AFTER_INTERRUPT.get(args.command, "stopped; nothing half-written was left"))
            if isinstance(e, ImportError):  # a missing package, or OpenCV's GUI build without the system's libGL
                from .environment import import_problem

                e = import_problem(e)
            print(f"error: {e}", file=sys.stderr)
            return 2
