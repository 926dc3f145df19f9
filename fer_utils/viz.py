"""Figures shared by the notebooks: one helper saves every figure, others draw faces, class
counts, learning curves and confusion matrices."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .data import EMOTIONS, PROJECT_ROOT
from .files import atomic_write

FIGURES_DIR = PROJECT_ROOT / "figures"


def use_style(figure_format: str = "png") -> None:
    """Small, readable figures that keep committed notebooks light; "jpeg" for photo-heavy notebooks."""
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats(figure_format, **({"pil_kwargs": {"quality": 80}} if figure_format == "jpeg" else {}))
    except ImportError:  # not in a notebook
        pass
    plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 100, "font.size": 10, "axes.titlesize": 10,
                         "figure.figsize": (6, 3.5), "axes.spines.top": False, "axes.spines.right": False})


def save_fig(name: str, fig: plt.Figure | None = None, tight: bool = True) -> Path:
    """Save the current (or given) figure as figures/NAME.png and return the path."""
    FIGURES_DIR.mkdir(exist_ok=True)
    fig = fig or plt.gcf()
    if tight:
        fig.tight_layout()
    path = FIGURES_DIR / f"{name}.png"
    atomic_write(path, fig.savefig)
    return path


def show_faces(images: np.ndarray, titles: list[str] | None = None, ncols: int = 8, size: float = 1.1,
               cmap: str = "gray") -> plt.Figure:
    """A grid of grey faces with optional titles."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * (1.25 if titles else 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.ravel(), images)):
        ax.imshow(np.squeeze(img), cmap=cmap, vmin=0 if cmap == "gray" else None, vmax=255 if cmap == "gray" else None)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    return fig


def plot_class_counts(counts: dict[str, dict[str, int]]) -> plt.Figure:
    """Grouped bars: images per emotion for each split."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / len(counts)
    x = np.arange(len(EMOTIONS))
    for k, (split, c) in enumerate(counts.items()):
        ax.bar(x + k * width, [c[e] for e in EMOTIONS], width, label=split)
    ax.set_xticks(x + width * (len(counts) - 1) / 2, EMOTIONS)
    ax.set_ylabel("images")
    ax.legend()
    return fig


def plot_learning_curves(history: dict[str, list[float]], title: str = "") -> plt.Figure:
    """Loss and accuracy per epoch, training and validation (PublicTest)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[key], label=f"training {key} (augmented)")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"validation {key} (PublicTest)")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole epochs only
        ax.set_ylabel(key)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(cm: np.ndarray, normalize: bool = True) -> plt.Figure:
    """Confusion matrix heat map; normalized by row (so the diagonal is each class's recall)."""
    cm = np.asarray(cm, dtype=float)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    fig, ax = plt.subplots(figsize=(5, 4.3))
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(len(cm)):
        for j in range(len(cm)):
            ax.text(j, i, f"{shown[i, j]:.2f}" if normalize else int(shown[i, j]), ha="center", va="center",
                    fontsize=8, color="white" if shown[i, j] > (0.5 if normalize else shown.max() / 2) else "black")
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45)
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return fig


def show_source(obj) -> "IPython.display.Markdown":
    """The source code of a function or class from the package, to display in a notebook the first
    time it is used (as d2l does): what is taught is the code that runs."""
    import inspect

    from IPython.display import Markdown

    return Markdown(f"`{obj.__module__}.{obj.__qualname__}`:\n```python\n{inspect.getsource(obj).rstrip()}\n```")


def summary_text(model) -> str:
    """A plain-text `model.summary()`: one line per layer (name, type, output shape, weights) and the
    totals, without the terminal colour codes and box drawing that Keras 3 stores in notebooks."""
    count = lambda weights: int(sum(np.prod(w.shape) for w in weights))  # noqa: E731
    lines = [f'Model "{model.name}"', f"{'layer (type)':<36}{'output shape':<22}{'weights':>10}"]
    for layer in model.layers:
        lines.append(f"{f'{layer.name} ({type(layer).__name__})':<36}{str(tuple(layer.output.shape)):<22}"
                     f"{count(layer.weights):>10,}")
    total, trainable = count(model.weights), count(model.trainable_weights)
    lines.append(f"total {total:,} weights, {trainable:,} of them trainable")
    return "\n".join(lines)
