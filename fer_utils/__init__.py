"""Shared helpers for the facial emotion recognition notebook series.

One module per stage: `data` (FER-2013), `models` (builders, loading, inference), `training`,
`evaluation`, `viz` (figures). Importing the package is cheap: TensorFlow loads only with
`models` or `training`.
"""
import os

from .data import EMOTIONS, load_fer2013, load_for_notebook

QUICK_ENV_VAR = "FER_QUICK"


def quick_mode() -> bool:
    """True when FER_QUICK is set to 1/true/yes: notebooks then use the committed sample and short runs (CI)."""
    return os.environ.get(QUICK_ENV_VAR, "").strip().lower() in {"1", "true", "yes"}


__all__ = ["EMOTIONS", "load_fer2013", "load_for_notebook", "quick_mode"]
