"""The standard set of convolution animations (after Dumoulin & Visin's ``conv_arithmetic``),
each direct convolution with its transposed twin, then the ideas beyond one channel: the sum
over input channels, groups, depthwise, 1×1 as channel mixing, the padding modes, max, average
and adaptive pooling; and two still pictures, im2col (a convolution as one matrix product) and
the backward pass.

A twin is the transposed convolution with the same ``(k, s, p, d)``: it maps the direct one's
output size back to its input size, with ``output_padding = (i + 2p - k_eff) mod s`` where the
stride leaves several input sizes possible.

>>> GALLERY["padding_strides_odd_transposed"]
('ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)', (3, 3), 0)
"""

from __future__ import annotations

from pathlib import Path

from ..engine.geometry import output_length
from .._atomic import atomic_path
from .animate import animate
from .ideas import backward_picture, im2col_picture

__all__ = ["GALLERY", "PICTURES", "gallery"]

# name: (k, s, p, d, input size) of a one-channel direct convolution
_DIRECT = {
    "no_padding_no_strides": (3, 1, 0, 1, 4),
    "arbitrary_padding_no_strides": (4, 1, 2, 1, 5),
    "same_padding_no_strides": (3, 1, 1, 1, 5),
    "full_padding_no_strides": (3, 1, 2, 1, 5),
    "no_padding_strides": (3, 2, 0, 1, 5),
    "padding_strides": (3, 2, 1, 1, 5),
    "padding_strides_odd": (3, 2, 1, 1, 6),
    "dilation": (3, 1, 0, 2, 7),
}


def _layer(k: int, s: int, p: int, d: int, output_padding: int = 0, transposed=False) -> str:
    args = [f"stride={s}"] * (s != 1) + [f"padding={p}"] * (p != 0)
    if transposed:
        args += [f"output_padding={output_padding}"] * (output_padding != 0)
    args += [f"dilation={d}"] * (d != 1)
    name = "ConvTranspose2d" if transposed else "Conv2d"
    return f"{name}(1, 1, {', '.join([str(k)] + args)})"


def _entries() -> dict[str, tuple]:
    entries = {}
    for name, (k, s, p, d, i) in _DIRECT.items():
        o = output_length(i, k, s, p, p, d)
        a = (i + 2 * p - d * (k - 1) - 1) % s
        entries[name] = (_layer(k, s, p, d), (i, i), 0)
        entries[f"{name}_transposed"] = (_layer(k, s, p, d, a, transposed=True), (o, o), 0)
    entries.update(_IDEAS)
    return entries


# name: (layer, input size, output channels animated) of the ideas beyond one channel
_IDEAS = {
    # three input channels' windows, their partial sums, the total plus the bias
    "channel_sum": ("Conv2d(3, 1, 3)", (1, 3, 4, 4), 0),
    # each output channel reads only its group's input channels
    "groups": ("Conv2d(4, 4, 3, padding=1, groups=2)", (1, 4, 3, 3), "all"),
    "depthwise": ("Conv2d(3, 3, 3, padding=1, groups=3)", (1, 3, 3, 3), "all"),
    # a 1x1 convolution mixes the channels at each position: a matrix product per pixel
    "pointwise_1x1": ("Conv2d(4, 2, 1)", (1, 4, 3, 3), "all"),
    "padding_reflect": ("Conv2d(1, 1, 3, padding=1, padding_mode='reflect')", (4, 4), 0),
    "padding_replicate": ("Conv2d(1, 1, 3, padding=1, padding_mode='replicate')", (4, 4), 0),
    "padding_circular": ("Conv2d(1, 1, 3, padding=1, padding_mode='circular')", (4, 4), 0),
    "max_pooling": ("MaxPool2d(3, stride=2, padding=1)", (5, 5), 0),
    "avg_pooling": ("AvgPool2d(3, stride=2, padding=1)", (5, 5), 0),
    "avg_pooling_no_pad_count": ("AvgPool2d(3, stride=2, padding=1, count_include_pad=False)",
                                 (5, 5), 0),
    "adaptive_pooling": ("AdaptiveAvgPool2d(3)", (5, 5), 0),
}

GALLERY: dict[str, tuple] = _entries()
"""name -> (layer, input size, output channels) of every animation :func:`gallery` renders."""


PICTURES = {"im2col": im2col_picture, "backward": backward_picture}
"""name -> function drawing a still picture (``out_dir/NAME.png``) of one idea."""


def gallery(out_dir, names=None, ms: int = 700) -> list[Path]:
    """Render ``names`` (default: all of :data:`GALLERY` and :data:`PICTURES`) as
    ``out_dir/NAME.gif`` (or ``.png`` for a picture)."""
    known = [*GALLERY, *PICTURES]
    names = known if names is None else list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown gallery entries {unknown}; known: {', '.join(known)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        if name in PICTURES:
            path = out_dir / f"{name}.png"
            with atomic_path(path) as tmp:
                PICTURES[name]()[0].save(tmp, format="PNG")
            written.append(path)
            continue
        layer, size, channels = GALLERY[name]
        anim = animate(layer, size, out_channels=channels)
        written.append(anim.save(out_dir / f"{name}.gif", ms=ms))
    return written
