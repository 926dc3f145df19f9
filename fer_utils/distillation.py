"""Distillation targets: what a student network learns from the teachers' stored predictions
(`models/teachers/`, see `fer_utils.teachers`) and the true labels.

    temperature, nll = calibrated_temperature(mean_of_teachers_on_publictest, publictest_labels)
    targets = distillation_targets([p1, p2, p3], labels, temperature=temperature, weight=0.7)
    model = train(build_fn, data["Training"], data["PublicTest"], run_dir, epochs, targets=targets)

The teachers' probabilities are averaged (the ensemble), softened by a temperature (T > 1 spreads the
probability over the runner-up classes, which carry what the teachers know about similar expressions),
and mixed with the one-hot true label. The temperature is chosen on PublicTest: the one at which the
teachers' averaged probabilities on those unseen faces have the lowest negative log-likelihood, so that a
target says "70% sure" about as often as the teachers are right 70% of the time. (Teachers trained with label
smoothing and averaged over views and networks are under-confident, so it can be below 1: it sharpens.)
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


TEMPERATURES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0)  # the grid `calibrated_temperature` searches


def calibrated_temperature(probabilities: np.ndarray, labels: np.ndarray,
                           grid: tuple[float, ...] = TEMPERATURES) -> tuple[float, dict[float, float]]:
    """The temperature in `grid` at which `probabilities` (N, C) give the true `labels` the lowest mean negative
    log-likelihood, and that likelihood at every temperature of the grid."""
    rows = np.arange(len(labels))
    nll = {t: float(-np.log(np.clip(soften(probabilities, t)[rows, labels], 1e-12, 1.0)).mean()) for t in grid}
    return min(nll, key=nll.get), nll


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
