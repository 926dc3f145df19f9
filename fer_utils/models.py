"""Model builders (backend-agnostic Keras 3) and model loading.

Every model takes a batch of 48x48x1 grey faces with pixel values 0-255 (float) and returns
the 7 class probabilities; the rescaling to 0-1 lives inside the model.
"""
from __future__ import annotations

import json
import os
import weakref
from pathlib import Path


from .backend import keras
from .data import EMOTIONS, IMAGE_SIZE
from .files import write_bytes, write_text
from .inference import FAST_SUFFIX, ModelError, TFLiteModel, check_keras_archive, file_sha256, stderr_silenced

layers = keras.layers

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = len(EMOTIONS)


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
                 dropout: float = 0.4, crop: int | None = None) -> keras.Model:
    """A compact VGG-style net: stages of (3x3 conv, BatchNorm, ReLU) x depth, 2x2 max-pool between
    stages (48 -> 24 -> 12 -> 6), global average pooling, dropout, softmax. With `crop`, the net sees
    only the central `crop` x `crop` window of its 48x48 input: with the training's random shifts that is a
    random crop of each face, and at test time `inference.ten_crop_views` moves the classic ten crops into
    the window. The input stays 48x48, so every inference path takes the model as it is."""
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.CenterCrop(crop, crop, name="crop")(inputs) if crop else inputs
    x = layers.Rescaling(1 / 255)(x)
    for stage, (width, depth) in enumerate(zip(widths, depths)):
        if stage:
            x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        for i in range(depth):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{stage + 1}_{i + 1}")(x)
            x = layers.BatchNormalization(name=f"bn{stage + 1}_{i + 1}")(x)
            x = layers.ReLU(name=f"relu{stage + 1}_{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout)(x)
    # float32 even under a mixed-precision policy: a softmax and its loss need the range
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="vgg_bn")


CROPPED_ARCHITECTURES = {"vgg_bn_crop44": 44}  # architecture -> the side of the window its net sees
ARCHITECTURES = {"baseline": build_baseline_cnn, "vgg_bn": build_vgg_bn,
                 "vgg_bn_crop44": lambda: build_vgg_bn(crop=CROPPED_ARCHITECTURES["vgg_bn_crop44"])}


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
        raise ModelError(f"model file {p} not found. Use the shipped models/fer_vgg_bn.keras (after a plain "
                         f"`pip install .`, run from inside the checkout or set FER_HOME to it), or train one with "
                         f"`python -m fer_utils train --data PATH --out {p}`.")
    check_keras_archive(p)
    try:
        model = keras.models.load_model(p, compile=False)
    except Exception as e:  # Keras raises many types for a bad file; all mean the same to a user
        if "safe_mode" in str(e):
            raise ModelError(
                f"model {p} contains Python code (e.g. a Lambda layer); Keras' safe mode refused it, so the code was "
                f"not run and the model was not loaded. Load such a file only if you trust where it comes from, "
                f"yourself, with keras.models.load_model(path, safe_mode=False); or use a model without code.") from e
        with open(p, "rb") as f:
            head = f.read(8)
        signatures = {".keras": (b"PK\x03\x04", "a zip archive"), ".h5": (b"\x89HDF\r\n\x1a\n", "an HDF5 file")}
        signature, kind = signatures.get(p.suffix, (head, ""))
        reason = (f"it is not {kind}, as a {p.suffix} model is" if not head.startswith(signature)
                  else f"{type(e).__name__}: {str(e)[:300]}")
        hint = ("legacy .h5 files from Keras 2 load only if all their layers exist in Keras 3; "
                "re-save the model with model.save('name.keras') in the Keras that wrote it"
                if p.suffix == ".h5" and head.startswith(signature)
                else "the file is corrupt or not a Keras model: re-download or retrain it")
        raise ModelError(f"could not load model {p}: {reason} ({hint}).") from e
    in_shape, out_shape = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    if len(in_shape) != 3 or in_shape[2] != 1 or out_shape != (NUM_CLASSES,):
        raise ModelError(f"model {p} takes input {in_shape} and returns {out_shape}; this series needs "
                         f"(H, W, 1) grey faces in and {NUM_CLASSES} emotion probabilities out.")
    if not all(isinstance(d, int) and d > 0 for d in in_shape[:2]):
        raise ModelError(f"model {p} takes input {in_shape}, without a fixed height and width; the pipeline resizes "
                         f"faces to the model's input size, so it needs one, e.g. (48, 48, 1): rebuild the model "
                         f"with keras.Input((48, 48, 1)) and load its weights.")
    return model


QUANTIZATIONS = {
    "dynamic": "dynamic-range quantization (int8 weights, activations quantized on the fly; Optimize.DEFAULT)",
    "none": "float32 weights",
}


def export_fast_model(model: keras.Model, keras_path: str | os.PathLike, quantization: str = "dynamic") -> Path:
    """Convert `model` (the one saved at `keras_path`) to TensorFlow Lite, write it next to it
    (NAME.tflite), and record in the model card (NAME.json) the hashes that tie the two files
    together. Offline: TensorFlow's own converter, no download. `quantization` "dynamic" (the default:
    int8 weights, about 4x faster on CPU with the same PublicTest accuracy, see benchmarks/quantization.py)
    or "none" (float32)."""
    import tensorflow as tf

    import contextlib
    import io

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; choose one of {', '.join(QUANTIZATIONS)}")
    keras_path = Path(keras_path)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):  # the converter's progress lines
        flat = converter.convert()
    fast_path = keras_path.with_suffix(FAST_SUFFIX)
    write_bytes(fast_path, flat)
    card_path = keras_path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card["fast_model"] = {"file": fast_path.name, "sha256": file_sha256(fast_path),
                          "keras_sha256": file_sha256(keras_path),
                          "converter": f"tf.lite.TFLiteConverter.from_keras_model (TensorFlow {tf.__version__})",
                          "quantization": QUANTIZATIONS[quantization]}
    write_text(card_path, json.dumps(card, indent=2) + "\n")
    return fast_path


_COMPILED: "weakref.WeakKeyDictionary[keras.Model, object]" = weakref.WeakKeyDictionary()


def inference_fn(model: keras.Model):
    """The model as a fast callable for inference: a traced `tf.function` on the TensorFlow
    backend (measured ~4x faster per call than eager), else the model itself (a `TFLiteModel` is
    already fast). Cached per model, without keeping the model alive."""
    if isinstance(model, TFLiteModel):
        return model
    if model not in _COMPILED:
        ref = weakref.ref(model)
        call = lambda x: ref()(x, training=False)  # noqa: E731
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            call = tf.function(call, input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)])
        _COMPILED[model] = call
    return _COMPILED[model]
