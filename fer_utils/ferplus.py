"""FER+ votes: Microsoft's relabelling of FER-2013 (`fer2013new.csv`, 10 annotators per face, one row per
row of the original fer2013.csv, in the same order), read as votes over the 7 FER-2013 emotions, and
turned into soft training targets.

    votes = ferplus_split_votes("fer2013new.csv", "Training", n_rows=len(data["Training"]))
    targets = ferplus_targets(votes, data["Training"].labels, weight=0.5)
    model = train(build_fn, data["Training"], data["PublicTest"], run_dir, epochs, targets=targets)

Headline figures stay on the original labels: FER+ only changes what the network learns from.
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from .data import EMOTIONS, DatasetError

# FER+ vote columns -> FER-2013 class names (contempt, unknown and NF have no FER-2013 class)
FERPLUS_TO_FER = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
                  "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
FERPLUS_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF"]
FERPLUS_HELP = "download fer2013new.csv from the microsoft/FERPlus repository and pass its path"


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """A CSV file (plain or gzipped) as a list of dicts."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def votes_in_fer_order(rows: list[dict[str, str]]) -> np.ndarray:
    """The FER+ votes (N, 7) for the 7 FER-2013 emotions, columns in EMOTIONS order."""
    by_class = {fer: ferplus for ferplus, fer in FERPLUS_TO_FER.items()}
    return np.array([[int(r[by_class[e]]) for e in EMOTIONS] for r in rows], dtype=np.int64)


def ferplus_split_votes(path: str | Path, usage: str, n_rows: int) -> np.ndarray:
    """The FER+ votes (n_rows, 7) of one split (`usage`, e.g. "Training"), in the rows' order. A
    DatasetError when the file is missing, is not FER+'s, or has another number of rows for the split
    than the FER-2013 data it is paired with (then the rows cannot be aligned)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"FER+ labels not found at {path}: {FERPLUS_HELP}.")
    try:
        rows = read_csv_rows(path)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{path} could not be read as FER+'s fer2013new.csv ({e}): {FERPLUS_HELP}.") from e
    missing = [c for c in ("Usage", *FERPLUS_TO_FER) if not rows or c not in rows[0]]
    if missing:
        raise DatasetError(f"{path} is not FER+'s fer2013new.csv (no column {', '.join(missing)}): {FERPLUS_HELP}.")
    in_split = [r for r in rows if r["Usage"] == usage]
    if len(in_split) != n_rows:
        raise DatasetError(f"{path} has {len(in_split)} {usage} rows and the FER-2013 data {n_rows}: FER+ aligns "
                           f"row by row with the original fer2013.csv only; use that file (not image folders).")
    try:
        return votes_in_fer_order(in_split)
    except ValueError as e:
        raise DatasetError(f"{path} has a vote that is not a whole number ({e}): {FERPLUS_HELP}.") from e


def ferplus_targets(votes: np.ndarray, labels: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """Training targets (N, 7): `weight` x the FER+ vote shares over the 7 emotions, plus (1 - `weight`) x
    the one-hot original label. A face with no vote for the 7 emotions (FER+: not a face, unknown,
    contempt) keeps its one-hot label. Each row sums to 1."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    votes, labels = np.asarray(votes, np.float64), np.asarray(labels)
    if votes.shape != (len(labels), len(EMOTIONS)):
        raise ValueError(f"votes must be ({len(labels)}, {len(EMOTIONS)}), got {votes.shape}")
    if (votes < 0).any():
        raise ValueError("votes must not be negative")
    one_hot = np.eye(len(EMOTIONS))[labels]
    total = votes.sum(axis=1, keepdims=True)
    shares = np.where(total > 0, votes / np.maximum(total, 1), one_hot)
    return (weight * shares + (1.0 - weight) * one_hot).astype(np.float32)
