"""The commands that train: `train` (a model and its card, optionally distilled from stored teachers or
taught with FER+ soft labels) and `teacher` (a trained model's predictions stored as a teacher, `fer_utils.teachers`)."""
from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .data import EMOTIONS, FER2013, load_fer2013
from .files import DiskFullError, FolderLock, atomic_write, check_writable_folder
from .results import portable_command, portable_path, portable_recorded


def load_command_data(args) -> FER2013:
    """The dataset named by --data, leaving out unreadable images with --skip-corrupt (and saying so)."""
    data = load_fer2013(args.data, skip_corrupt=args.skip_corrupt)
    if data.skipped:
        shown = ", ".join(str(f) for f in data.skipped[:5]) + (", ..." if len(data.skipped) > 5 else "")
        print(f"skipped {len(data.skipped)} unreadable image(s) (--skip-corrupt): {shown}", file=sys.stderr)
    return data


def _hardware() -> str:
    import tensorflow as tf

    from .timing import cpu_description

    gpus = [g.name for g in tf.config.list_physical_devices("GPU")]
    return cpu_description() + (f"; GPUs: {', '.join(gpus)}" if gpus else "; no GPU")


def _versions() -> dict[str, str]:
    import cv2
    import tensorflow as tf

    from .backend import keras

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy": np.__version__, "opencv": cv2.__version__}


PROTOCOL = ("trained on Training only. Chosen on PublicTest: the checkpoint (best validation accuracy), the "
            "test-time views (benchmarks/tta_choice.py), with --ema whether the weight average ships, and with --distill "
            "the temperature (auto). Set by "
            "hand from a 24-epoch feasibility run and the time budget, with no search on PublicTest: the "
            "architecture, optimizer, learning rate, weight decay, label smoothing, augmentation and epoch count. "
            "PrivateTest used only for this report; about 8% of its faces are byte-identical to Training faces "
            "(dedup_* in metrics: the figures without them)")


def precision_problem(precision: str, cpu_flags: set[str], has_gpu: bool) -> str | None:
    """Why `precision` would make training crawl on this machine, or None. TensorFlow's oneDNN computes
    bfloat16 only with AVX-512; without it, a slow fallback (measured: 8 images/s against 104 in float32 on
    a 2-core AVX2 AMD EPYC)."""
    if precision != "mixed_bfloat16" or has_gpu or not cpu_flags or "avx512f" in cpu_flags:
        return None
    return ("--precision mixed_bfloat16: this CPU has no AVX-512, so TensorFlow runs bfloat16 in slow fallback code "
            "(about 13x slower than float32 here); use --precision float32 (bfloat16 pays where lscpu shows "
            "amx_bf16 or avx512_bf16)")


def temperature_arg(text: str) -> float | str:
    """--temperature: `auto` or a number (argparse reports anything else in one line)."""
    return text if text == "auto" else float(text)


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
                                  ("--ema", args.ema, args.ema is None or 0 < args.ema < 1, "between 0 and 1"),
                                  ("--temperature", args.temperature,
                                   args.temperature == "auto" or args.temperature > 0, "above 0 or auto"),
                                  ("--distill-weight", args.distill_weight, 0 <= args.distill_weight <= 1,
                                   "between 0 and 1"),
                                  ("--ferplus-weight", args.ferplus_weight, 0 <= args.ferplus_weight <= 1,
                                   "between 0 and 1"),
                                  ("--class-weight-power", args.class_weight_power,
                                   0 <= args.class_weight_power <= 1, "between 0 and 1")):
        if not ok:
            raise ValueError(f"{name} must be {need}, got {value}")
    if args.distill and args.ferplus:
        raise ValueError("--distill and --ferplus each set the training targets: give one of them")
    if args.ferplus and not Path(args.ferplus).is_file():
        raise ValueError(f"--ferplus {args.ferplus}: no such file; download fer2013new.csv from the microsoft/FERPlus "
                         f"repository and pass its path")
    if args.init and not Path(args.init).is_file():
        raise ValueError(f"--init {args.init}: no such model file")
    from .teachers import TEACHERS

    missing = [name for name in args.distill or () if not (TEACHERS / name / "card.json").is_file()]
    if missing:
        raise ValueError(f"--distill: no teacher named {', '.join(missing)} in {portable_path(TEACHERS)}; store one "
                         f"with `python -m fer_utils teacher --model MODEL.keras --name NAME`")
    check_writable_folder(out.parent, "--out", created)
    run_dir = Path(args.run_dir or Path("runs") / out.stem)
    check_writable_folder(run_dir, "--run-dir", created)
    FolderLock(run_dir, "training run").check()  # another training there now: refused before TensorFlow loads
    from .training import check_run_dir  # imports TensorFlow: after the quick checks

    check_run_dir(run_dir)
    if args.precision != "float32":
        import tensorflow as tf

        from .environment import cpu_info

        problem = precision_problem(args.precision, cpu_info()[1], bool(tf.config.list_physical_devices("GPU")))
        if problem:
            raise ValueError(problem)
    return out, run_dir


def training_targets_for(args, data: FER2013) -> tuple[np.ndarray | None, dict]:
    """The Training targets `train` learns from in place of the one-hot labels: the teachers' (--distill),
    FER+'s (--ferplus), or None (the labels alone); and what the card records about how they were made."""
    if args.distill:
        return distillation_targets_for(args, data)
    if args.ferplus:
        from .ferplus import ferplus_split_votes, ferplus_targets

        if data.source.is_dir():
            raise ValueError(f"--ferplus: FER+ aligns row by row with the original fer2013.csv, and {data.source.name} "
                             f"is an image folder; pass the CSV with --data")
        train_split = data["Training"]
        votes = ferplus_split_votes(args.ferplus, "Training", n_rows=len(train_split))
        return (ferplus_targets(votes, train_split.labels, weight=args.ferplus_weight),
                {"ferplus_votes": portable_path(Path(args.ferplus)), "ferplus_weight": args.ferplus_weight})
    return None, {}


def distillation_targets_for(args, data: FER2013) -> tuple[np.ndarray, dict]:
    """The Training targets of a distilled run: the named teachers' stored predictions, softened and mixed
    with the true labels (`fer_utils.distillation`), and the card's record of them; the temperature, when
    `auto`, chosen on the teachers' PublicTest predictions. A ValueError when a teacher was made from other rows."""
    from .distillation import calibrated_temperature, distillation_targets
    from .teachers import ensemble, load_teachers

    teachers = load_teachers(data, names=args.distill)
    stale = [name for name in args.distill if name not in teachers or "Training" not in teachers[name]]
    if stale:
        raise ValueError(f"--distill: the predictions of {', '.join(stale)} were made on other rows than {data.source.name}'s "
                         f"Training split (their fingerprints differ): use the data they were made from")
    record = {"distilled_from": args.distill, "temperature": args.temperature, "distill_weight": args.distill_weight}
    if args.temperature == "auto":
        missing = [name for name in args.distill if "PublicTest" not in teachers[name]]
        if missing:
            raise ValueError(f"--temperature auto chooses on the teachers' PublicTest predictions, and {', '.join(missing)} "
                             f"has none for {data.source.name}: give a number, e.g. --temperature 1")
        mean = ensemble([teachers[name]["PublicTest"] for name in args.distill])
        record["temperature"], nll = calibrated_temperature(mean, data["PublicTest"].labels)
        record["temperature_chosen_on"] = ("PublicTest: the lowest negative log-likelihood of the teachers' mean "
                                           "(fer_utils.distillation.calibrated_temperature); by temperature: "
                                           + ", ".join(f"{t:g}: {v:.4f}" for t, v in nll.items()))
        print(f"--temperature auto: {record['temperature']:g}, chosen on {record['temperature_chosen_on']}")
    targets = distillation_targets([teachers[name]["Training"] for name in args.distill], data["Training"].labels,
                                   temperature=record["temperature"], weight=args.distill_weight)
    return targets, record


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
    from .evaluation import evaluate_split
    from .inference import INFERENCE, load_inference_model
    from .models import CROPPED_ARCHITECTURES, build_model, export_fast_model
    from .training import best_checkpoint, class_weights, read_history, save_json, train

    data = load_command_data(args)
    targets, targets_record = training_targets_for(args, data)
    history_so_far = run_dir / "history.csv"  # an interrupted run resumed: the epochs an earlier process ran
    epochs_before = len(read_history(history_so_far).get("epoch", [])) if history_so_far.is_file() else 0
    start = time.time()
    try:
        model = train(lambda: build_model(args.arch), data["Training"], data["PublicTest"], run_dir,
                      epochs=args.epochs, batch_size=args.batch_size, peak_lr=args.lr, seed=args.seed,
                      patience=args.patience, verbose=2 if not sys.stdout.isatty() else "auto",
                      init_weights=args.init, warmup_epochs=args.warmup, ema_momentum=args.ema, mixup=args.mixup,
                      precision=args.precision, targets=targets, class_weight_power=args.class_weight_power)
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
        **({"input_crop": CROPPED_ARCHITECTURES[args.arch]} if args.arch in CROPPED_ARCHITECTURES else {}),
        "data": portable_path(data.source), "labels": "original FER-2013 labels",
        "protocol": PROTOCOL,
        "inference": INFERENCE,
        "epochs_planned": args.epochs, "epochs_run": len(history.get("epoch", [])),
        "best_epoch": int(history["epoch"][int(np.argmax(history["val_accuracy"]))]) + 1,
        "epochs_run_before_this_process": epochs_before, "training_minutes_this_process": round(minutes, 1),
        "hyperparameters": {"batch_size": args.batch_size, "peak_lr": args.lr, "seed": args.seed,
                            "optimizer": "AdamW, weight decay 0.05, warm-up + cosine decay",
                            "init_weights": args.init, "warmup_epochs": args.warmup, "ema_momentum": args.ema,
                            "mixup_alpha": args.mixup, "precision": args.precision,
                            **({"class_weight_power": args.class_weight_power,
                                "class_weights": {EMOTIONS[c]: round(w, 3) for c, w in
                                                  class_weights(data["Training"].labels, args.class_weight_power).items()}}
                               if args.class_weight_power else {}),
                            **targets_record,
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


def test_time_views(model, data: FER2013, crop: int | None):
    """The test-time views a teacher's predictions average, and their description for its card: the shipped
    4 views, or, for a model that sees a `crop`-pixel window (`models.CROPPED_ARCHITECTURES`), whichever of
    those and the classic ten crops (`inference.ten_crop_views`) scores higher on PublicTest."""
    from functools import partial

    from .evaluation import classification_metrics
    from .inference import INFERENCE, predict_proba, tta_views, ten_crop_views

    if not crop:
        return tta_views, INFERENCE
    public = data["PublicTest"]
    scores = {}
    for name, views in (("4 views", tta_views), ("ten crops", partial(ten_crop_views, crop=crop))):
        scores[name] = classification_metrics(public.labels, predict_proba(model, public.images, views=views)
                                              .argmax(1))["accuracy"]
        print(f"PublicTest with {name}: accuracy {scores[name]:.4f}")
    chosen = max(scores, key=scores.get)
    measured = ", ".join(f"{name} {acc:.4f}" for name, acc in scores.items())
    if chosen == "4 views":
        return tta_views, f"{INFERENCE}; chosen over ten crops on PublicTest ({measured})"
    return (partial(ten_crop_views, crop=crop),
            f"mean of the class probabilities over the classic ten crops of {crop} x {crop} pixels (four corners "
            f"and centre, and their mirror images; fer_utils.inference.ten_crop_views), chosen over the 4 views on "
            f"PublicTest ({measured})")


def cmd_teacher(args) -> int:
    from .inference import INFERENCE, load_inference_model
    from .teachers import STUDENTS, TEACHERS, save_teacher, teacher_predictions

    model_path = Path(args.model)
    model = load_inference_model(model_path)  # the LiteRT copy written by `train`: same outputs, faster
    data = load_command_data(args)
    training_card_path = model_path.with_suffix(".json")
    training_card = json.loads(training_card_path.read_text()) if training_card_path.is_file() else {}
    card = {"name": args.name, "inference": INFERENCE, "runtime": type(model).__name__,
            "training": {k: portable_recorded(training_card[k]) if k == "command" and training_card.get(k)
                         else training_card.get(k) for k in ("command", "architecture", "input_crop", "params",
                                                          "epochs_planned", "epochs_run",
                                                          "best_epoch", "epochs_run_before_this_process",
                                                          "training_minutes_this_process",
                                                          "hyperparameters", "hardware", "versions")},
            "predictions_by": portable_command("python -m fer_utils", sys.argv[1:]), "hardware": _hardware()}
    views, card["inference"] = test_time_views(model, data, training_card.get("input_crop"))
    out = save_teacher(args.name, teacher_predictions(model, data, views), data, card,
                       folder=STUDENTS if args.student else TEACHERS)
    public = json.loads((out / "card.json").read_text())["PublicTest"]
    print(f"wrote {out}: PublicTest accuracy {public['accuracy']:.4f}, macro-F1 {public['macro_f1']:.4f}")
    return 0


def add_training_commands(sub, data_help: str, skip_help: str) -> None:
    """The `train` and `teacher` subcommands, added to the CLI's subparsers."""
    t = sub.add_parser("train", help="train a model and write it with its model card")
    t.add_argument("--data", help=data_help)
    t.add_argument("--skip-corrupt", action="store_true", help=skip_help)
    t.add_argument("--out", required=True, help="model file to write, e.g. models/fer_vgg_bn.keras")
    t.add_argument("--arch", default="vgg_bn", help="vgg_bn (shipped), vgg_bn_crop44 (vgg_bn seeing a "
                   "random 44-pixel crop of each face; a teacher) or baseline")
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
                   help="mixed_bfloat16: about 1.65x faster where the CPU has AMX (lscpu shows amx_bf16), 1.0-1.6x with "
                        "avx512_bf16 alone; refused without AVX-512 (13x slower there); "
                        "the saved model is float32 either way")
    t.add_argument("--distill", nargs="+", metavar="TEACHER",
                   help="distillation: learn from these stored teachers' averaged predictions (models/teachers/NAME/) "
                        "mixed with the true labels, instead of the labels alone")
    t.add_argument("--temperature", type=temperature_arg, default="auto",
                   help="--distill: soften the teachers' probabilities at this temperature; auto (default): the one at "
                        "which their mean on PublicTest has the lowest negative log-likelihood")
    t.add_argument("--distill-weight", type=float, default=0.7,
                   help="--distill: the teachers' share of each target; the true label has the rest")
    t.add_argument("--ferplus", metavar="PATH/TO/fer2013new.csv",
                   help="FER+ soft labels: learn from the FER+ vote shares (10 annotators per face) mixed with the "
                        "original label, instead of the label alone (the data must be the original fer2013.csv)")
    t.add_argument("--ferplus-weight", type=float, default=0.5,
                   help="--ferplus: the FER+ votes' share of each target; the original label has the rest")
    t.add_argument("--class-weight-power", type=float, default=0.0, metavar="P",
                   help="weigh each class's loss by (1/its share of Training)**P, scaled to mean 1, so that rare "
                        "classes (disgust, fear) count more; 0.5 is a common choice (default 0: off)")
    t.add_argument("--run-dir", help="checkpoints and history; rerun with the same one to resume (default runs/NAME)")
    t.set_defaults(func=cmd_train)

    te = sub.add_parser("teacher", help="store a trained model's predictions as a teacher (models/teachers/NAME/)")
    te.add_argument("--model", required=True, help="the trained .keras model")
    te.add_argument("--name", required=True, help="the teacher's folder name, e.g. seed1_bf16")
    te.add_argument("--student", action="store_true",
                    help="store it in models/students/ (a distilled student's record: in no ensemble, never a teacher)")
    te.add_argument("--data", help=data_help)
    te.add_argument("--skip-corrupt", action="store_true", help=skip_help)
    te.set_defaults(func=cmd_teacher)
