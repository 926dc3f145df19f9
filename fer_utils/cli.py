"""Command line: `python -m fer_utils data summary | train | evaluate | predict | bench | live | export | teacher |
student` (see --help); `train` and `teacher` live in `fer_utils.training_commands`."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import warnings
from pathlib import Path

from .data import EMOTIONS, PROJECT_ROOT, SPLITS, DatasetError
from .files import check_writable_folder, refuse_overwriting_inputs
from .interrupts import Terminated, signal_received, signals_raise, stopped, warning_line
from .predict import plan_outputs, predict_files
from .results import portable_command
from .training_commands import add_training_commands, load_command_data


def cmd_data_summary(args) -> int:
    counts = load_command_data(args).counts()
    total = sum(sum(c.values()) for c in counts.values())
    if args.json:
        print(json.dumps({"splits": counts, "total": total}))
        return 0
    print(f"{'split':<12}" + "".join(f"{e:>9}" for e in EMOTIONS) + f"{'total':>9}")
    for split, c in counts.items():
        print(f"{split:<12}" + "".join(f"{c[e]:>9}" for e in EMOTIONS) + f"{sum(c.values()):>9}")
    print(f"{'all':<12}" + "".join(f"{sum(c[e] for c in counts.values()):>9}" for e in EMOTIONS) + f"{total:>9}")
    return 0


DETECTOR_HELP = "face detector: cnn (BlazeFace on LiteRT, the default) or haar (OpenCV's classic cascade)"
def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_split, format_report
    from .inference import INFERENCE, load_inference_model

    from .training import save_json

    model = load_inference_model(args.model, fast=not args.keras)
    data = load_command_data(args)
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
        check_writable_folder(Path(args.out), "--out")
    elif args.out:
        check_writable_folder(Path(args.out).parent, "--out")
    if args.small_faces and args.detector != "cnn":
        raise ValueError("--small-faces is a tiled look by the CNN face detector: drop --detector haar")
    return predict_files(args.inputs, outputs, args.model, args.detector, args.landmarks, args.json, args.small_faces)


def cmd_bench(args) -> int:
    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    from .timing import benchmark_frame, time_peer_fer, time_pipeline

    frame = benchmark_frame()
    report = time_pipeline(frame, n=args.frames, model_path=args.model, fast=not args.keras, detector=args.detector)
    peer = time_peer_fer(frame, n=max(20, args.frames // 4))
    report["peer_fer_ms_median"] = peer
    report["speedup_vs_fer"] = peer / report["photo"]["frame_ms_median"] if peer else None  # fer detects every frame
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
        f"{peer:7.2f} ms = {1000 / peer:.0f} fps; photo path {report['speedup_vs_fer']:.2f}x faster" if peer
        else "  not installed (pip install --no-deps fer==25.10.3)"))
    return 0


def cmd_export(args) -> int:
    from .models import export_fast_model, file_sha256, load_model

    fast = export_fast_model(load_model(args.model), args.model)
    print(f"wrote {fast} ({fast.stat().st_size / 1e6:.1f} MB) from {args.model} (sha256 {file_sha256(args.model)[:12]}...)")
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
                    help="photos: look again in tiles of 60%%, 40%%, 25%% and 18%% of the frame (the short-range "
                         "detector) and verify and re-box each face on larger crops around it, for faces down to ~40 px "
                         "in a 640-px-wide frame (122 network runs and 4 per face, instead of 1; "
                         "benchmarks/results/detection.json)")
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

    add_training_commands(sub, data_help, skip_help)

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
