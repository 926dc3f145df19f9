"""Inference without TensorFlow: the converted model on the LiteRT runtime, test-time views and
class probabilities. Nothing here imports TensorFlow or Keras at module level; Keras is imported
only when a Keras model is used (the fallback where the fast file or LiteRT is missing).

    model = load_inference_model("models/fer_vgg_bn.keras")   # a TFLiteModel when the fast file matches
    probs = predict_proba(model, faces)                         # (N, 7), mean over 4 test-time views
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from .data import EMOTIONS

INFERENCE = ("mean of the class probabilities over 4 views: the face, its mirror image, and both zoomed in "
             "by 10% (fer_utils.inference.predict_proba with tta=True; views chosen on PublicTest)")
FAST_SUFFIX = ".tflite"
LITERT_PIN = "ai-edge-litert==2.3.0"


class ModelError(ValueError):
    """A model file is missing, unreadable or does not fit FER-2013 faces."""


_STDERR_LOCK = threading.RLock()  # file descriptor 2 is one per process: threads take turns


@contextlib.contextmanager
def stderr_silenced():
    """Silence everything written to file descriptor 2 (C++ libraries included) inside the block."""
    with _STDERR_LOCK:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
        card = json.loads(card_path.read_text())
    except (OSError, ValueError):
        card = None
    record = card.get("fast_model") if isinstance(card, dict) else None
    if not (isinstance(record, dict) and all(isinstance(record.get(k), str) for k in ("sha256", "keras_sha256"))):
        return (f"the model card {card_path.name} is missing, malformed or does not record which weights "
                f"{fast_path.name} was made from")
    if record.get("keras_sha256") != file_sha256(keras_path):
        return f"{fast_path.name} was made from other weights than {keras_path.name} (stale)"
    if record.get("sha256") != file_sha256(fast_path):
        return f"{fast_path.name} was changed after it was made"
    return None


MAX_MODEL_BYTES = 1 << 30  # what a .keras archive may unpack to: 1 GiB (the shipped model: under 5 MB)
MAX_MODEL_MEMBERS = 1000


def check_keras_archive(path: Path) -> None:
    """Refuse a .keras file whose zip directory declares more than MAX_MODEL_BYTES unpacked or more than
    MAX_MODEL_MEMBERS files (a zip bomb), before Keras unpacks anything. Other files are left to Keras."""
    import zipfile

    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        return
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    unpacked = sum(m.file_size for m in members)
    if len(members) > MAX_MODEL_MEMBERS or unpacked > MAX_MODEL_BYTES:
        raise ModelError(f"model {path} would unpack to {unpacked / 1e6:,.0f} MB in {len(members)} files (limits: "
                         f"{MAX_MODEL_BYTES / 1e6:,.0f} MB, {MAX_MODEL_MEMBERS} files), so it was not loaded: a damaged "
                         f"or hostile file; use a model you trained or the shipped one")


def load_inference_model(path: str | os.PathLike, fast: bool = True):
    """The model to run for inference: the converted TFLite model next to `path` when it was made
    from the same weights (about 2x faster per face than Keras on a CPU, and no TensorFlow import),
    else the Keras model, with one warning that says why and how to fix it. `fast=False` always gives Keras."""
    path = Path(path)
    if fast:
        problem = fast_model_problem(path) if path.is_file() else None
        if problem:
            problem += f"; rebuild it with `python -m fer_utils export --model {path}`"
        elif path.is_file():
            try:
                return TFLiteModel(path.with_suffix(FAST_SUFFIX))
            except ImportError:
                problem = (f"the LiteRT runtime is not installed (it has no wheel for this platform, e.g. Intel macOS; "
                           f"elsewhere: pip install {LITERT_PIN})")
        if problem:
            warnings.warn(f"using the slower Keras model: {problem}.", stacklevel=2)
    if path.is_file():
        check_keras_archive(path)  # a zip bomb is refused before TensorFlow loads (seconds, and 700 MB)
    try:
        from .models import load_model
    except ImportError as e:
        raise ModelError(f"{path} needs Keras and TensorFlow to run ({e}), and they are not installed here (no wheel "
                         f"for Python 3.14 or Intel Macs yet); use the model's matching {FAST_SUFFIX} file with "
                         f"{LITERT_PIN}, or Python 3.11-3.13 (README, Set-up)") from e
    return load_model(path)


def model_callable(model):
    """`model` as a fast function of a float32 batch: a `TFLiteModel` as it is; a Keras model as its
    traced `tf.function` (`models.inference_fn`, which imports TensorFlow)."""
    if isinstance(model, TFLiteModel):
        return model
    from .models import inference_fn

    return inference_fn(model)


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


def ten_crop_views(x, crop: int = 44):
    """The classic ten crops of a batch (N, H, W, 1), for a model that sees only its input's central
    `crop` x `crop` window (`models.build_vgg_bn(crop=...)`): the face shifted so that the window shows its
    top-left, top-right, bottom-left, bottom-right and central crop, and the mirror image of each. The
    pixels a shift wraps round land outside the window, so the model never sees them."""
    h, w = x.shape[1:3]
    dy, dx = (h - crop) // 2, (w - crop) // 2
    if crop > min(h, w) or (h - crop) % 2 or (w - crop) % 2:
        raise ValueError(f"a {crop}-pixel window must fit {h}x{w} faces with an even margin")
    shifted = [np.roll(x, shift, axis=(1, 2)) for shift in ((dy, dx), (dy, -dx), (-dy, dx), (-dy, -dx), (0, 0))]
    return shifted + [v[:, :, ::-1] for v in shifted]


def predict_proba(model, faces, tta: bool = True, batch_size: int = 256, views=tta_views):
    """Class probabilities (N, 7) for grey faces (N, H, W) or (N, H, W, 1), pixel values 0-255.

    Faces are resized to the model's input size. With `tta` (test-time augmentation) the prediction
    is the mean over `views(batch)`, by default `tta_views`: the face, its mirror image, and both zoomed
    by 10%. The evaluation and the live pipeline both use this one function, so their figures agree.
    """

    x = np.asarray(faces, dtype="float32")
    if x.ndim == 3:
        x = x[..., None]
    h, w = model.input_shape[1:3]
    if x.shape[1:3] != (h, w):
        import cv2
        x = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in x])[..., None]
    run = model_callable(model)
    out = []
    for i in range(0, len(x), batch_size):
        batch = views(x[i:i + batch_size]) if tta else [x[i:i + batch_size]]
        p = np.asarray(run(np.concatenate(batch)))
        out.append(p.reshape(len(batch), -1, p.shape[-1]).mean(axis=0))
    return np.concatenate(out) if out else np.zeros((0, len(EMOTIONS)), "float32")
