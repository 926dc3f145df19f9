"""Imports Keras (and TensorFlow under it) once: oneDNN on (measured faster conv training on CPU)
and without TensorFlow's C++ start-up log lines, which no environment variable silences in 2.21."""
from __future__ import annotations

import os

from .inference import stderr_silenced

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


with stderr_silenced():
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.list_physical_devices()
        tf.constant(0.0) + 1  # first op: the second batch of start-up lines

__all__ = ["keras", "stderr_silenced"]
