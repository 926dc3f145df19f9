"""Training checkpoints that survive a full disk, a crash or an interrupt: `RunCheckpoint`, one Keras callback
that replaces Keras' BackupAndRestore, ModelCheckpoint and CSVLogger (which write their files in place, so
a full disk tore them). Every file goes through `atomic_write`: a failed write leaves the last good one."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from pathlib import Path

from .backend import keras
from .files import atomic_write, remove_stale_temp_files, write_text


def read_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a history CSV (none if there is no file)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write history rows as CSV (columns: epoch, then the metrics in name order, as Keras' CSVLogger)."""
    keys = sorted({k for row in rows for k in row} - {"epoch"})
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, ["epoch", *keys], restval="nan", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())


class RunCheckpoint(keras.callbacks.Callback):
    """At the end of every epoch, in this order, each file through `atomic_write`: `run_dir`/best.keras when
    `monitor` beats the best so far, history.csv (all rows, rewritten), backup/latest.weights.h5 (the
    weights and the optimizer's state) and backup/training_metadata.json (the number of finished epochs,
    written last: it is what a resume trusts). At the start of `fit`, a backup is restored and the history is
    trimmed to the epochs it holds, so a rerun continues from the last finished epoch (a backup
    carried on without its best.keras chooses its best among the epochs still to run); at the end of `fit`,
    backup/ is deleted (a finished run). A full disk raises files.DiskFullError and leaves the previous
    files whole, so the rerun resumes from the last epoch that was saved. The file names are Keras'
    BackupAndRestore's: a run started by it resumes here."""

    def __init__(self, run_dir: str | os.PathLike, monitor: str = "val_accuracy"):
        super().__init__()
        self.run_dir, self.monitor = Path(run_dir), monitor
        self.backup_dir = self.run_dir / "backup"
        self.weights_path = self.backup_dir / "latest.weights.h5"
        self.metadata_path = self.backup_dir / "training_metadata.json"
        self.best_path, self.history_path = self.run_dir / "best.keras", self.run_dir / "history.csv"
        self.rows: list[dict] = []
        self.best: float | None = None

    def finished_epochs(self) -> int:
        """The epochs the backup holds (0 without one)."""
        if not (self.weights_path.exists() and self.metadata_path.exists()):
            return 0
        try:
            return int(json.loads(self.metadata_path.read_text())["epoch"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"the run's backup {self.metadata_path} is damaged ({e}): delete {self.backup_dir} to "
                             f"restart the run from its first epoch") from e

    def on_train_begin(self, logs=None):
        self.backup_dir.mkdir(parents=True, exist_ok=True)  # from here until `fit` ends: an unfinished run
        remove_stale_temp_files(self.run_dir)
        remove_stale_temp_files(self.backup_dir)
        epochs = self.finished_epochs()
        if epochs:
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            try:
                self.model.load_weights(self.weights_path)
            except Exception as e:  # noqa: BLE001 - h5py and Keras raise many types for a bad file
                raise ValueError(f"the run's backup {self.weights_path} could not be loaded ({type(e).__name__}: {e}): "
                                 f"delete {self.backup_dir} to restart the run from its first epoch") from e
            self.model._initial_epoch = epochs  # what Keras' BackupAndRestore sets: `fit` starts there
        rows = read_rows(self.history_path)
        self.rows = [r for r in rows if int(float(r["epoch"])) < epochs]  # a row written after the last backup
        if len(self.rows) != len(rows):  # (killed in between): that epoch runs again
            write_rows(self.history_path, self.rows)
        scores = [float(r[self.monitor]) for r in self.rows if not math.isnan(float(r.get(self.monitor) or "nan"))]
        # a backup carried on without its best.keras (a long run continued in a later session from the backup and
        # history alone) picks its best model among the epochs still to run, so that one is always written
        self.best = max(scores, default=None) if self.best_path.exists() else None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        score = logs.get(self.monitor)
        if score is not None and (self.best is None or float(score) > self.best):
            atomic_write(self.best_path, self.model.save)
            self.best = float(score)
        self.rows.append({"epoch": epoch, **{k: repr(float(v)) for k, v in logs.items()}})
        write_rows(self.history_path, self.rows)
        atomic_write(self.weights_path, self.model.save_weights)
        write_text(self.metadata_path, json.dumps({"epoch": epoch + 1, "batch": 0}))

    def on_train_end(self, logs=None):
        shutil.rmtree(self.backup_dir, ignore_errors=True)
