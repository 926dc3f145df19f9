"""Model builders (backend-agnostic Keras 3) and model loading.

Every model takes a batch of 48x48x1 grey faces with pixel values 0-255 (float) and returns
the 7 class probabilities; the rescaling to 0-1 lives inside the model.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path

from .backend import keras
from .data import EMOTIONS, IMAGE_SIZE

layers = keras.layers

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = len(EMOTIONS)


class ModelError(ValueError):
    """A model file is missing, unreadable or does not fit FER-2013 faces."""


def build_baseline_cnn(dense_units: int = 1024, dropout: float = 0.5) -> keras.Model:
    """The classic tutorial CNN: conv 32-64 / pool / conv 128 / pool / conv 128 / pool, dense, softmax."""
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Conv2D(128, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(dense_units, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="baseline_cnn")


def build_vgg_bn(widths: tuple[int, ...] = (32, 64, 128, 256), depths: tuple[int, ...] = (2, 2, 2, 2),
                 dropout: float = 0.4) -> keras.Model:
    """A compact VGG-style net: stages of (3x3 conv, BatchNorm, ReLU) x depth, 2x2 max-pool between
    stages (48 -> 24 -> 12 -> 6), global average pooling, dropout, softmax."""
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Rescaling(1 / 255)(inputs)
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        if stage:
            x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        for i in range(depth):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{stage + 1}_{i + 1}")(x)
            x = layers.BatchNormalization(name=f"bn{stage + 1}_{i + 1}")(x)
            x = layers.ReLU(name=f"relu{stage + 1}_{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="vgg_bn")


ARCHITECTURES = {"baseline": build_baseline_cnn, "vgg_bn": build_vgg_bn}


def build_model(arch: str) -> keras.Model:
    """Build an architecture by name (see ARCHITECTURES)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch]()


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a .keras (or legacy .h5) emotion model and check that it takes 48x48 grey faces
    and returns 7 classes."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file {p} not found. Use the shipped models/fer_vgg_bn.keras, or train one with "
                         f"`python -m fer_utils train --data PATH --out {p}`.")
    try:
        model = keras.models.load_model(p, compile=False)
    except Exception as e:  # Keras raises many types for a bad file; all mean the same to a user
        hint = ("legacy .h5 files from Keras 2 load only if all their layers exist in Keras 3; "
                "re-save the model with model.save('name.keras') in the Keras that wrote it"
                if p.suffix == ".h5" else "the file is corrupt or not a Keras model: re-download or retrain it")
        raise ModelError(f"could not load model {p}: {type(e).__name__}: {str(e)[:300]} ({hint}).") from e
    in_shape, out_shape = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    if len(in_shape) != 3 or in_shape[2] != 1 or out_shape != (NUM_CLASSES,):
        raise ModelError(f"model {p} takes input {in_shape} and returns {out_shape}; this series needs "
                         f"(H, W, 1) grey faces in and {NUM_CLASSES} emotion probabilities out.")
    return model


INFERENCE = ("mean of the class probabilities over 4 views: the face, its mirror image, and both zoomed in "
             "by 10% (fer_utils.models.predict_proba with tta=True; views chosen on PublicTest)")
_COMPILED: "weakref.WeakKeyDictionary[keras.Model, object]" = weakref.WeakKeyDictionary()


def inference_fn(model: keras.Model):
    """The model as a fast callable for inference: a traced `tf.function` on the TensorFlow
    backend (measured ~4x faster per call than eager), else the model itself. Cached per model,
    without keeping the model alive."""
    if model not in _COMPILED:
        ref = weakref.ref(model)
        call = lambda x: ref()(x, training=False)  # noqa: E731
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            call = tf.function(call, input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)])
        _COMPILED[model] = call
    return _COMPILED[model]


def tta_views(x, zoom: float = 1.1):
    """The four test-time views of a batch (N, H, W, 1): as is, mirrored, a central crop zoomed by
    `zoom` (10% closer), and that crop mirrored. Chosen on PublicTest (see notebook 04)."""
    import cv2
    import numpy as np

    h, w = x.shape[1:3]
    ch, cw = int(round(h / zoom)), int(round(w / zoom))
    top, left = (h - ch) // 2, (w - cw) // 2
    zoomed = np.stack([cv2.resize(f[top:top + ch, left:left + cw], (w, h), interpolation=cv2.INTER_LINEAR)
                       for f in x]).reshape(x.shape)
    return [x, x[:, :, ::-1], zoomed, zoomed[:, :, ::-1]]


def predict_proba(model: keras.Model, faces, tta: bool = True, batch_size: int = 256):
    """Class probabilities (N, 7) for grey faces (N, H, W) or (N, H, W, 1), pixel values 0-255.

    Faces are resized to the model's input size. With `tta` (test-time augmentation) the prediction
    is the mean over `tta_views`: the face, its mirror image, and both zoomed by 10%. The evaluation
    and the live pipeline both use this one function, so their figures agree.
    """
    import numpy as np

    x = np.asarray(faces, dtype="float32")
    if x.ndim == 3:
        x = x[..., None]
    h, w = model.input_shape[1:3]
    if x.shape[1:3] != (h, w):
        import cv2
        x = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in x])[..., None]
    run = inference_fn(model)
    out = []
    for i in range(0, len(x), batch_size):
        views = tta_views(x[i:i + batch_size]) if tta else [x[i:i + batch_size]]
        p = keras.ops.convert_to_numpy(run(np.concatenate(views)))
        out.append(p.reshape(len(views), -1, p.shape[-1]).mean(axis=0))
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), "float32")
