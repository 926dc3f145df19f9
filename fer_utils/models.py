"""Model builders (backend-agnostic Keras 3) and model loading.

Every model takes a batch of 48x48x1 grey faces with pixel values 0-255 (float) and returns
the 7 class probabilities; the rescaling to 0-1 lives inside the model.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
import weakref
from pathlib import Path

import numpy as np

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
        raise ModelError(f"model file {p} not found. Use the shipped models/fer_vgg_bn.keras (after a plain "
                         f"`pip install .`, run from inside the checkout or set FER_HOME to it), or train one with "
                         f"`python -m fer_utils train --data PATH --out {p}`.")
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


INFERENCE = ("mean of the class probabilities over 4 views: the face, its mirror image, and both zoomed in "
             "by 10% (fer_utils.models.predict_proba with tta=True; views chosen on PublicTest)")
_COMPILED: "weakref.WeakKeyDictionary[keras.Model, object]" = weakref.WeakKeyDictionary()


FAST_SUFFIX = ".tflite"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_fast_model(model: keras.Model, keras_path: str | os.PathLike) -> Path:
    """Convert `model` (the one saved at `keras_path`) to TensorFlow Lite, write it next to it
    (NAME.tflite), and record in the model card (NAME.json) the hashes that tie the two files
    together. Offline: TensorFlow's own converter, no download."""
    import tensorflow as tf

    from .backend import stderr_silenced

    import contextlib
    import io

    keras_path = Path(keras_path)
    with stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):  # the converter's progress lines
        flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    fast_path = keras_path.with_suffix(FAST_SUFFIX)
    tmp = fast_path.with_name(fast_path.name + ".tmp")
    tmp.write_bytes(flat)
    tmp.replace(fast_path)
    card_path = keras_path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card["fast_model"] = {"file": fast_path.name, "sha256": file_sha256(fast_path),
                          "keras_sha256": file_sha256(keras_path),
                          "converter": f"tf.lite.TFLiteConverter.from_keras_model (TensorFlow {tf.__version__})"}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return fast_path


class TFLiteModel:
    """A converted model run by the LiteRT interpreter (XNNPACK): the fast inference path.

    Called like a Keras model on a float32 batch (N, H, W, 1) of 0-255 pixels, it returns the
    class probabilities (N, 7) as a NumPy array. The runtime is the `ai-edge-litert` package
    (TensorFlow's own `tf.lite.Interpreter` is deprecated since 2.21 and points to it).
    """

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads or min(2, os.cpu_count() or 1))
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = None
        self.input_shape = (None, *(int(d) for d in self._input["shape"][1:]))
        self.output_shape = (None, int(self._interpreter.get_output_details()[0]["shape"][-1]))

    def __repr__(self) -> str:
        return f"TFLiteModel({self.path.name})"

    def __call__(self, x, training: bool = False) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) != self._batch:  # re-plan the buffers only when the batch size changes
            from .backend import stderr_silenced

            self._interpreter.resize_tensor_input(self._input["index"], x.shape)
            with stderr_silenced():  # XNNPACK's "Created delegate" line
                self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


def fast_model_problem(keras_path: str | os.PathLike) -> str | None:
    """Why the converted model next to `keras_path` cannot be used (missing, or not made from this
    exact .keras file per the hashes in the model card), or None when it can."""
    keras_path = Path(keras_path)
    fast_path, card_path = keras_path.with_suffix(FAST_SUFFIX), keras_path.with_suffix(".json")
    if not fast_path.is_file():
        return f"{fast_path.name} is missing"
    try:
        record = json.loads(card_path.read_text())["fast_model"]
    except (OSError, ValueError, KeyError):
        return f"the model card {card_path.name} does not record which weights {fast_path.name} was made from"
    if record.get("keras_sha256") != file_sha256(keras_path):
        return f"{fast_path.name} was made from other weights than {keras_path.name} (stale)"
    if record.get("sha256") != file_sha256(fast_path):
        return f"{fast_path.name} was changed after it was made"
    return None


def load_inference_model(path: str | os.PathLike, fast: bool = True):
    """The model to run for inference: the converted TFLite model next to `path` when it was made
    from the same weights (about 2x faster per face than Keras on a CPU), else the Keras model, with
    one warning that says why and how to rebuild the fast file. `fast=False` always gives Keras."""
    if fast:
        problem = fast_model_problem(path) if Path(path).is_file() else None
        if problem:
            problem += f"; rebuild it with `python -m fer_utils export --model {path}`"
        elif Path(path).is_file():
            try:
                return TFLiteModel(Path(path).with_suffix(FAST_SUFFIX))
            except ImportError:
                problem = "the LiteRT runtime is not installed: pip install ai-edge-litert==2.3.0"
        if problem:
            warnings.warn(f"using the slower Keras model: {problem}.", stacklevel=2)
    return load_model(path)


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


def tta_views(x, zoom: float = 1.1):
    """The four test-time views of a batch (N, H, W, 1): as is, mirrored, a central crop zoomed by
    `zoom` (10% closer), and that crop mirrored. Chosen on PublicTest (see notebook 04)."""
    import cv2

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
