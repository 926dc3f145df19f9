"""Evaluation: accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix,
from label arrays (pure NumPy), plus a readable text report."""
from __future__ import annotations

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


def format_report(metrics: dict) -> str:
    """The metrics as a plain-text table, as `python -m fer_utils evaluate` prints them."""
    lines = [f"n = {metrics['n']}   accuracy = {metrics['accuracy']:.4f}   macro-F1 = {metrics['macro_f1']:.4f}", "",
             f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for e, m in metrics["per_class"].items():
        lines.append(f"{e:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>10d}")
    lines += ["", "confusion matrix (rows = true, columns = predicted):",
              " " * 10 + "".join(f"{e[:7]:>8}" for e in EMOTIONS)]
    for e, row in zip(EMOTIONS, metrics["confusion_matrix"]):
        lines.append(f"{e:<10}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)
