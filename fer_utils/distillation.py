"""Distillation targets: what a student network learns from the teachers' stored predictions
(`models/teachers/`, see `fer_utils.teachers`) and the true labels.

    targets = distillation_targets([p1, p2, p3], labels, temperature=2.0, weight=0.7)
    model = train(build_fn, data["Training"], data["PublicTest"], run_dir, epochs, targets=targets)

The teachers' probabilities are averaged (the ensemble), softened by a temperature (T > 1 spreads the
probability over the runner-up classes, which carry what the teachers know about similar expressions),
and mixed with the one-hot true label. Temperature and weight are chosen on PublicTest.
"""
from __future__ import annotations

import numpy as np

from .data import EMOTIONS


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (N, C) at a temperature: softmax(log p / T), the same as dividing the logits by T."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def distillation_targets(teacher_probabilities: list[np.ndarray], labels: np.ndarray, temperature: float = 2.0,
                         weight: float = 0.7) -> np.ndarray:
    """Training targets (N, 7): `weight` x the teachers' mean softened by `temperature`, plus
    (1 - `weight`) x the one-hot true label. Each row sums to 1."""
    if not teacher_probabilities:
        raise ValueError("distillation needs at least one teacher's predictions")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    shapes = {np.shape(p) for p in teacher_probabilities}
    if shapes != {(len(labels), len(EMOTIONS))}:
        raise ValueError(f"teacher predictions must all be ({len(labels)}, {len(EMOTIONS)}), got {sorted(shapes)}")
    soft = soften(np.mean(np.stack(teacher_probabilities), axis=0), temperature)
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[np.asarray(labels)]
    return (weight * soft + (1.0 - weight) * one_hot).astype(np.float32)
