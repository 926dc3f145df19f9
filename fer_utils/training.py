"""Training: augmentation for faces, the input pipeline, the learning-rate schedule, and a
resumable `fit` that checkpoints the best PublicTest epoch and saves its history."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from .backend import keras
from .data import Split
from .checkpoints import RunCheckpoint
from .files import FolderLock, atomic_write, write_text
from .models import NUM_CLASSES


def build_augmentation(seed: int = 0, erasing: float = 0.25) -> keras.Sequential:
    """Random changes that keep a face's emotion: mirror, small rotation, zoom and shift,
    and random erasing of a patch (as if a hand or hair covered it)."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed + 1),
        keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomTranslation(4 / 48, 4 / 48, fill_mode="reflect", seed=seed + 3),
        keras.layers.RandomErasing(factor=erasing, scale=(0.02, 0.2), value_range=(0, 255), seed=seed + 4),
    ], name="augmentation")


def mix_batch(x, y, alpha: float):
    """Mixup (Zhang et al. 2018): each face blended with another face of the batch, and their one-hot
    labels blended in the same proportion lambda ~ Beta(alpha, alpha) (one lambda per face)."""
    import tensorflow as tf

    a = tf.random.gamma(tf.shape(x)[:1], alpha)
    b = tf.random.gamma(tf.shape(x)[:1], alpha)
    lam = a / (a + b)
    other = tf.random.shuffle(tf.range(tf.shape(x)[0]))
    mixed_x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * tf.gather(x, other)
    mixed_y = lam[:, None] * y + (1 - lam[:, None]) * tf.gather(y, other)
    return mixed_x, mixed_y


def make_dataset(split: Split, batch_size: int = 128, augment: keras.Sequential | None = None,
                 shuffle: bool = False, seed: int = 0, mixup: float = 0.0, targets: np.ndarray | None = None):
    """A tf.data pipeline of (float images 0-255 (N,48,48,1), one-hot labels) batches; with
    `mixup` > 0, training batches are blended by `mix_batch`. `targets` (N, 7) replaces the one-hot labels
    (distillation: `fer_utils.distillation.distillation_targets`)."""
    import tensorflow as tf

    x = split.images[..., None].astype("float32")
    y = keras.utils.to_categorical(split.labels, NUM_CLASSES).astype("float32") if targets is None \
        else np.asarray(targets, "float32").reshape(len(split), NUM_CLASSES)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda a, b: (augment(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
    if mixup > 0:
        ds = ds.map(lambda a, b: mix_batch(a, b, mixup), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def class_weights(labels: np.ndarray, power: float = 0.5) -> dict[int, float]:
    """Per-class loss weights (1/frequency)**power, normalised to mean 1; power 0 gives all ones."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(float)
    w = (counts.sum() / np.maximum(counts, 1)) ** power
    w = w / w.mean()
    return {i: float(v) for i, v in enumerate(w)}


class WeightAverage(keras.callbacks.Callback):
    """An exponential moving average of all the model's weights (BatchNorm statistics included),
    updated every `every` batches. At each epoch's end it scores the averaged weights on the
    validation data as `val_ema_accuracy`, keeps the best in `best_path`, and saves its state in
    `state_path` so a resumed run continues the same average. Put it before loggers and checkpoints."""

    def __init__(self, val_x, val_y, best_path, state_path, momentum: float = 0.99, every: int = 5,
                 best_so_far: float | None = None):
        super().__init__()
        self.val_x, self.val_y = val_x, val_y
        self.best_path, self.state_path = Path(best_path), Path(state_path)
        self.momentum, self.every, self.best = momentum, every, best_so_far or 0.0
        self.average: list[np.ndarray] | None = None
        self._clone = None

    def on_train_begin(self, logs=None):
        if self.average is None and self.state_path.exists():
            with np.load(self.state_path) as f:
                self.average = [f[f"w{i}"] for i in range(len(f.files))]
        self._clone = keras.models.clone_model(self.model)

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every:
            return
        weights = self.model.get_weights()
        if self.average is None:
            self.average = [w.astype("float32", copy=True) for w in weights]
        else:
            m = self.momentum
            for a, w in zip(self.average, weights):
                a *= m
                a += (1 - m) * w

    def on_epoch_end(self, epoch, logs=None):
        if self.average is None:
            return
        self._clone.set_weights(self.average)
        probs = self._clone.predict(self.val_x, batch_size=256, verbose=0)
        acc = float((probs.argmax(axis=1) == self.val_y).mean())
        if logs is not None:
            logs["val_ema_accuracy"] = acc
        if acc > self.best:
            self.best = acc
            atomic_write(self.best_path, self._clone.save)
        atomic_write(self.state_path, lambda tmp: np.savez(tmp, **{f"w{i}": a for i, a in enumerate(self.average)}))


def cosine_schedule(steps_per_epoch: int, epochs: int, peak_lr: float = 3e-3,
                    warmup_epochs: float = 2.0) -> keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up to `peak_lr`, then cosine decay to 0 at the last step. It is a function of
    the optimizer's step counter, so a resumed run continues the same curve."""
    warmup = int(steps_per_epoch * min(warmup_epochs, epochs / 4))
    total = steps_per_epoch * epochs
    return keras.optimizers.schedules.CosineDecay(0.0, max(total - warmup, 1), warmup_target=peak_lr,
                                                  warmup_steps=warmup)


def distribution_strategy():
    """All local GPUs through tf.distribute (TensorFlow backend), else the default strategy."""
    import tensorflow as tf

    if keras.backend.backend() == "tensorflow" and tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """Per-epoch history from the CSV log written by `train` (columns epoch, loss, accuracy, ...)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0] if rows else {})}


def finished_epochs(run_dir: str | os.PathLike) -> int:
    """How many epochs a finished run in `run_dir` ran: a history and no backup/ (RunCheckpoint creates it
    when `fit` starts and deletes it when `fit` ends); 0 for a new or an interrupted run."""
    run_dir = Path(run_dir)
    if (run_dir / "backup").exists() or not (run_dir / "history.csv").exists():
        return 0
    return len(read_history(run_dir / "history.csv").get("epoch", []))


def check_run_dir(run_dir: str | os.PathLike) -> None:
    """A ValueError if `run_dir` holds a finished run: training there again would append a second run's
    epochs to its history and replace its checkpoint."""
    epochs = finished_epochs(run_dir)
    if epochs:
        raise ValueError(
            f"{run_dir} holds a finished run ({epochs} epochs; its best model is {best_checkpoint(run_dir)}). "
            f"Training there again would mix two runs: give a new run folder (--run-dir on the command line), "
            f"or delete {run_dir} to start over. (Rerunning the same command resumes only an interrupted run.)")


def best_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The run's best model on the validation data: best_ema.keras where the weight average (ema)
    scored higher than any plain epoch, else best.keras."""
    run_dir = Path(run_dir)
    history = read_history(run_dir / "history.csv") if (run_dir / "history.csv").exists() else {}
    if (run_dir / "best_ema.keras").exists() and \
            max(history.get("val_ema_accuracy", [0.0])) > max(history.get("val_accuracy", [0.0])):
        return run_dir / "best_ema.keras"
    return run_dir / "best.keras"


def train(build_fn, train_split: Split, val_split: Split, run_dir: str | os.PathLike, epochs: int,
          batch_size: int = 128, peak_lr: float = 3e-3, weight_decay: float = 0.05,
          label_smoothing: float = 0.1, class_weight_power: float = 0.0, erasing: float = 0.25,
          patience: int | None = None, seed: int = 0, verbose: int | str = "auto",
          callbacks: list[keras.callbacks.Callback] = (), init_weights: str | os.PathLike | None = None,
          warmup_epochs: float = 2.0, ema_momentum: float | None = None, mixup: float = 0.0,
          precision: str = "float32", targets: np.ndarray | None = None) -> keras.Model:
    """Train `build_fn()` on `train_split`, validating on `val_split` every epoch.

    `run_dir` receives: best.keras (best validation-accuracy epoch), history.csv (one row per
    epoch), and a backup/ folder while training runs: call `train` again with the same
    `run_dir` after an interruption and it continues from the last finished epoch.
    `verbose` is Keras' (1: a progress bar, 2: one line per epoch); `callbacks` are added to
    Keras' `fit`. `init_weights` starts from a trained model's weights (a warm restart: a new
    warm-up + cosine cycle). With `ema_momentum`, a `WeightAverage` of the weights is also scored
    every epoch and kept in best_ema.keras. Returns the best model on the validation data (of
    the plain and the averaged checkpoints). A `run_dir` that holds a finished run is refused
    (see `check_run_dir`). `mixup` is the Beta alpha of `mix_batch` (0: off). `precision`
    "mixed_bfloat16" computes in bfloat16 with float32 weights (1.65x faster where the CPU has AMX);
    the returned model is always a float32 one with the trained weights. `targets` (N, 7): training
    targets instead of the one-hot labels of `train_split` (distillation).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(run_dir, "training run"):  # one writer per run folder
        check_run_dir(run_dir)
        keras.utils.set_random_seed(seed)
        augment = build_augmentation(seed, erasing)
        train_ds = make_dataset(train_split, batch_size, augment, shuffle=True, seed=seed, mixup=mixup,
                                targets=targets)
        val_ds = make_dataset(val_split, 256)
        steps = int(np.ceil(len(train_split) / batch_size))
        keras.mixed_precision.set_global_policy(precision)
        with distribution_strategy().scope():
            model = build_fn()
            if init_weights:
                model.set_weights(keras.models.load_model(init_weights, compile=False).get_weights())
            model.compile(
                optimizer=keras.optimizers.AdamW(cosine_schedule(steps, epochs, peak_lr, warmup_epochs),
                                                 weight_decay=weight_decay),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                metrics=["accuracy"],
            )
        history_csv = run_dir / "history.csv"
        history = read_history(history_csv) if history_csv.exists() else {}
        averaging = [WeightAverage(val_split.images[..., None].astype("float32"), val_split.labels,
                                   run_dir / "best_ema.keras", run_dir / "ema_state.npz", ema_momentum,
                                   best_so_far=max(history.get("val_ema_accuracy", [0.0]), default=0.0))] \
            if ema_momentum else []
        # best.keras, history.csv and backup/, each written through atomic_write (see RunCheckpoint)
        all_callbacks = averaging + [RunCheckpoint(run_dir, monitor="val_accuracy")]
        if patience:
            all_callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", patience=patience, mode="max"))
        all_callbacks += list(callbacks)
        cw = class_weights(train_split.labels, class_weight_power) if class_weight_power else None
        try:
            model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=all_callbacks, class_weight=cw,
                      shuffle=False, verbose=verbose)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        best = build_fn()  # float32, whatever the training precision; no optimizer state: a smaller file to ship
        best.set_weights(keras.models.load_model(best_checkpoint(run_dir), compile=False).get_weights())
        return best


def save_json(obj: dict, path: str | os.PathLike) -> None:
    """Write a JSON file with stable formatting."""
    write_text(path, json.dumps(obj, indent=2) + "\n")


class ProgressBar(keras.callbacks.Callback):
    """One text progress bar over all training batches with the latest metrics; plain text, so it
    also shows in a saved notebook (a widget would not). Use with `verbose=0`."""

    def __init__(self, epochs: int, steps_per_epoch: int):
        super().__init__()
        self.total, self.steps = epochs * steps_per_epoch, steps_per_epoch
        self.bar = None

    def on_train_begin(self, logs=None):
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, unit="batch", desc="training", mininterval=1.0)

    def on_epoch_begin(self, epoch, logs=None):
        self.bar.n = epoch * self.steps  # right after a resume, too
        self.bar.set_description(f"epoch {epoch + 1}")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if "acc" in k or "loss" in k})

    def on_train_end(self, logs=None):
        self.bar.close()
