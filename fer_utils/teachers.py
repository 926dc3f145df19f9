"""Teachers for an ensemble and for distillation, kept in small form: each finished training run leaves
its class probabilities (mean over the test-time views) on Training, PublicTest and PrivateTest as float16
arrays in `models/teachers/NAME/`, with a card. Distillation needs the teachers' outputs, not the teachers.
A distilled student's predictions are kept the same way in `models/students/NAME/` (`teacher --student`).

    python -m fer_utils teacher --model runs/teachers/seed1_bf16.keras --name seed1_bf16 --data PATH
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from .data import PROJECT_ROOT, FER2013
from .evaluation import classification_metrics
from .files import write_bytes, write_text

TEACHERS = PROJECT_ROOT / "models" / "teachers"
STUDENTS = PROJECT_ROOT / "models" / "students"  # distilled students' predictions, stored the same way
SPLITS = ("Training", "PublicTest", "PrivateTest")


def labels_fingerprint(labels: np.ndarray) -> str:
    """A short hash of a split's labels in order: predictions are only valid for the same rows in the same order."""
    return hashlib.sha256(np.asarray(labels, np.int64).tobytes()).hexdigest()[:16]


def teacher_predictions(model, data: FER2013, views=None) -> dict[str, np.ndarray]:
    """{split: (N, 7) float16 probabilities} for every split in `data`, the mean over `views` (a function
    of a batch, as `inference.tta_views`; default: the shipped 4 views)."""
    from .inference import predict_proba, tta_views

    return {s: predict_proba(model, data[s].images, views=views or tta_views).astype(np.float16)
            for s in SPLITS if s in data.splits}


def save_teacher(name: str, predictions: dict[str, np.ndarray], data: FER2013, card: dict,
                 folder: Path = TEACHERS) -> Path:
    """Write NAME/predictions.npz and NAME/card.json (the card gains each split's fingerprint and the
    PublicTest figures; PrivateTest is stored, not scored)."""
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **predictions)
    write_bytes(out / "predictions.npz", buffer.getvalue())
    public = classification_metrics(data["PublicTest"].labels, predictions["PublicTest"].argmax(1))
    card = {**card, "fingerprints": {s: labels_fingerprint(data[s].labels) for s in predictions},
            "PublicTest": {"accuracy": public["accuracy"], "macro_f1": public["macro_f1"]}}
    write_text(out / "card.json", json.dumps(card, indent=2) + "\n")
    return out


def load_teachers(data: FER2013, folder: Path | None = None,
                  names: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """{name: {split: float32 probabilities}} of the saved teachers (in `folder`, default models/teachers/)
    whose rows match `data` (by fingerprint)."""
    folder = TEACHERS if folder is None else folder
    teachers = {}
    for card_path in sorted(folder.glob("*/card.json")):
        name = card_path.parent.name
        if names is not None and name not in names:
            continue
        card = json.loads(card_path.read_text())
        with np.load(card_path.with_name("predictions.npz")) as f:
            preds = {s: f[s].astype(np.float32) for s in f.files}
        if all(card["fingerprints"].get(s) == labels_fingerprint(data[s].labels) for s in preds if s in data.splits):
            teachers[name] = preds
    return teachers


def ensemble(predictions: list[np.ndarray]) -> np.ndarray:
    """The mean of several teachers' class probabilities."""
    return np.mean(np.stack(predictions), axis=0)



def growing_ensembles(teachers: dict[str, dict[str, np.ndarray]],
                      splits: tuple[str, ...]) -> dict[str, dict[str, np.ndarray]]:
    """{"ensemble of A + B", ...: {split: probabilities}}: the ensembles of the first 2, 3, ... teachers (in the
    order given), which show what each added network buys."""
    names = list(teachers)
    return {"ensemble of " + " + ".join(names[:k]): {s: ensemble([teachers[n][s] for n in names[:k]]) for s in splits}
            for k in range(2, len(names) + 1)}
