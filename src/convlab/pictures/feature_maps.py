"""A model's feature maps: what each convolution layer makes of one image.

:func:`feature_maps` runs the model once with a forward hook on its convolution layers and keeps
their outputs; :func:`draw_feature_maps` lays them out, one row per layer, each channel scaled
to its own range (mid-grey is 0 when a map has both signs).
"""

from __future__ import annotations

import re

import numpy as np

from .image import as_array, tile, to_image

__all__ = ["feature_maps", "draw_feature_maps"]

# convlab's 2-D convolutions, and the Conv nodes of an imported ONNX graph (their ``op_type``)
_CONV = re.compile(r"Conv(Transpose)?(2d)?")


def feature_maps(model, x, kinds=_CONV) -> list[tuple[str, str, np.ndarray]]:
    """``(name, type, maps (C, H, W))`` for each layer whose type matches ``kinds`` (default:
    2-D convolutions), in call order, for the first sample of ``x``."""
    import convlab

    found = []
    handles = []
    for name, module in model.named_modules():
        kind = getattr(module, "op_type", type(module).__name__)
        if name and kinds.fullmatch(kind):
            def hook(m, args, output, name=name, kind=kind):
                maps = as_array(output)
                if maps.ndim == 4:  # (N, C, H, W): pictures of 2-D maps only
                    found.append((name, kind, np.array(maps[0])))
            handles.append(module.register_forward_hook(hook))
    if not handles:
        raise ValueError(f"{type(model).__name__} has no layer matching {kinds.pattern}")
    was_training = model.training
    model.eval()
    try:
        with convlab.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return found


def draw_feature_maps(image, maps, max_maps: int = 16, title: str = ""):
    """A Pillow image: the input (HWC uint8, or the model's ``(C, H, W)`` float input), then one
    row per layer with up to ``max_maps`` channels."""
    if isinstance(max_maps, bool) or not isinstance(max_maps, int) or max_maps < 1:
        raise ValueError(f"max_maps (--max-maps) must be a positive number of maps per layer, "
                         f"got {max_maps!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = len(maps) + 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.6 * rows), dpi=100, squeeze=False)
    axes = axes[:, 0]
    shown = to_image(image) if np.asarray(image).dtype != np.uint8 else np.asarray(image)
    axes[0].imshow(shown, cmap="gray" if shown.ndim == 2 else None, interpolation="nearest")
    axes[0].set_title(title or "input", fontsize=10)
    for ax, (name, kind, m) in zip(axes[1:], maps):
        count = min(len(m), max_maps)
        ax.imshow(tile(m[:count], columns=min(count, 8)), cmap="gray", vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_title(f"{name}: {kind}, {m.shape[0]} maps of {m.shape[1]}x{m.shape[2]}"
                     + (f" (first {count})" if count < len(m) else ""), fontsize=10)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.canvas.draw()
    picture = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return picture
