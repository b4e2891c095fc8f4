"""The figures of a training run: learning curves, first-layer filters, feature maps.

Each is a PNG written atomically into the run directory.
"""

from __future__ import annotations

import os

import numpy as np

from .._atomic import atomic_path
from ..pictures import draw_feature_maps, feature_maps


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_curves(history: list[dict], path: str, label_smoothing: float = 0.0) -> str:
    """Loss and accuracy per epoch: training (the running mean over the epoch's batches, in
    training mode) beside validation (after the epoch, in eval mode). Both losses are the
    cross-entropy the run minimises, label smoothing included, so the two lines compare."""
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style, label in (("train", "-o", "training (mean over the epoch's batches)"),
                                ("validation", "-s", "validation (after the epoch)")):
        ax_loss.plot(epochs, [row[f"{split}_loss"] for row in history], style, label=label, ms=3)
        ax_acc.plot(epochs, [100 * row[f"{split}_accuracy"] for row in history], style,
                    label=label, ms=3)
    smoothing = f", label smoothing {label_smoothing:g}" if label_smoothing else ""
    ax_loss.set(xlabel="epoch", ylabel=f"cross-entropy{smoothing}", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def _conv_layers(model) -> list:
    """(name, module) of every convolution, found by the attributes convolutions have."""
    return [(name, m) for name, m in model.named_modules()
            if hasattr(m, "out_channels") and hasattr(m, "kernel_size")]


def plot_filters(model, path: str) -> str:
    """The first convolution's kernels as a grid of small images (one per output channel;
    colour kernels shown as RGB, others as their first input channel in a diverging map)."""
    plt = _pyplot()
    name, conv = _conv_layers(model)[0]
    w = conv.weight.detach().numpy()  # (C_out, C_in/groups, kH, kW)
    n = w.shape[0]
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.4), squeeze=False)
    limit = float(np.abs(w).max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        if w.shape[1] == 3:
            rgb = np.moveaxis(w[k], 0, -1)  # (3, kH, kW) -> (kH, kW, 3)
            ax.imshow((rgb - rgb.min()) / (np.ptp(rgb) or 1.0), interpolation="nearest")
        else:
            ax.imshow(w[k, 0], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(str(k), fontsize=7)
    fig.suptitle(f"{name}: {n} learned {w.shape[2]}x{w.shape[3]} filters "
                 "(red positive, blue negative)")
    return _save(fig, path)


def plot_feature_maps(model, image, path: str, title: str = "") -> str:
    """One image and what every 2-D convolution layer makes of it (``convlab.vision``'s
    drawing, written atomically)."""
    picture = draw_feature_maps(image.numpy(), feature_maps(model, image.unsqueeze(0)),
                                title=title)
    with atomic_path(path) as tmp:
        picture.save(tmp)
    return path


FIGURES = ("curves.png", "filters.png", "feature_maps.png")


def write_figures(model, history: list[dict], test_set, out: str,
                  label_smoothing: float = 0.0) -> list[str]:
    """The three figures of :data:`FIGURES`, written into the run directory ``out``."""
    image, label = test_set[0]
    return [
        plot_curves(history, os.path.join(out, "curves.png"), label_smoothing),
        plot_filters(model, os.path.join(out, "filters.png")),
        plot_feature_maps(model, image, os.path.join(out, "feature_maps.png"),
                          f"feature maps of test image 0 (label {int(label)})"),
    ]
