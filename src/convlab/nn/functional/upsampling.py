"""Making feature maps bigger (or smaller): ``interpolate`` and pixel shuffling, as
``torch.nn.functional``.

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([[[1., 2., 4.]]])                              # (N, C, L) = (1, 1, 3)
>>> F.interpolate(x, scale_factor=2)                                   # each sample twice
tensor([[[1., 1., 2., 2., 4., 4.]]])
>>> F.interpolate(x, size=5, mode="linear", align_corners=True)       # ends stay, lines between
tensor([[[1.0000, 1.5000, 2.0000, 3.0000, 4.0000]]])
>>> F.pixel_shuffle(convlab.arange(4.).reshape(1, 4, 1, 1), 2)       # 4 channels -> one 2x2
tensor([[[[0., 1.],
          [2., 3.]]]])
"""

from __future__ import annotations

import math
import numbers

from ...ops.interpolate import Resample, linear_matrix, nearest_matrix
from ...tensor import Tensor
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle"]

# mode -> the input rank it needs (None: any of 3, 4, 5)
_LINEAR_MODES = {"linear": 3, "bilinear": 4, "trilinear": 5}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")
_NAMES = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
          "bilinear": "Bilinear", "trilinear": "Trilinear"}


def _per_axis(name: str, value, n: int) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with {n} spatial dimensions and {name} {tuple(value)}. Please provide "
                f"input tensor in (N, C, d1, d2, ...,dK) format and {name} in (o1, o2, ...,oK) "
                "format.")
        return list(value)
    return [value] * n


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample the spatial dims of ``(N, C, *S)`` to ``size``, or to ``floor(S *
    scale_factor)``.

    Modes: ``'nearest'`` copies input ``floor(j * in / out)`` (PyTorch's classic, slightly
    off-centre choice), ``'nearest-exact'`` the input whose centre is nearest, ``'linear'`` /
    ``'bilinear'`` / ``'trilinear'`` (3-, 4-, 5-D input) blend the two nearest inputs along each
    axis, ``'area'`` averages (adaptive average pooling). ``align_corners`` (linear modes only)
    pins the corner pixels' centres together instead of the image's edges. With
    ``scale_factor`` the sample positions use ``1 / scale_factor`` unless
    ``recompute_scale_factor=True`` (then ``in / out``, as with ``size``).

    Shape: ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``; output ``(N, C, *size)``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): argument 'input' must be a convlab.Tensor, not "
                        f"{type(input).__name__}")
    if mode in ("bicubic", "lanczos"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented in convlab; "
                                  f"the modes are {', '.join(_MODES)}")
    if mode not in _MODES:
        raise ValueError(f"interpolate: unknown mode {mode!r}; the modes are {', '.join(_MODES)}")
    if align_corners is not None and mode not in _LINEAR_MODES:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented in convlab")
    if input.dim() not in (3, 4, 5):
        raise ValueError(f"interpolate: input must be (N, C, L), (N, C, H, W) or (N, C, D, H, W)"
                         f", got {input.dim()}D input of shape {list(input.shape)}")
    needed = _LINEAR_MODES.get(mode)
    if needed is not None and input.dim() != needed:
        raise ValueError(f"Got {input.dim()}D input, but {mode} mode needs {needed}D input")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")

    in_sizes = list(input.shape[2:])
    n = len(in_sizes)
    if size is not None:
        out_sizes = [int(s) for s in _per_axis("output size", size, n)]
        scales = [None] * n
    else:
        scales = [float(s) for s in _per_axis("scale_factor", scale_factor, n)]
        out_sizes = [math.floor(i * s) for i, s in zip(in_sizes, scales)]
        if recompute_scale_factor:
            scales = [None] * n
    if not all(isinstance(o, numbers.Integral) and o > 0 for o in out_sizes):
        raise ValueError(f"interpolate: the output size {out_sizes} (from input size {in_sizes}) "
                         "must be positive")

    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1]
        return pool(input, out_sizes)
    if mode in _LINEAR_MODES:
        matrices = [linear_matrix(i, o, s, bool(align_corners))
                    for i, o, s in zip(in_sizes, out_sizes, scales)]
    else:
        matrices = [nearest_matrix(i, o, s, mode == "nearest-exact")
                    for i, o, s in zip(in_sizes, out_sizes, scales)]
    return Resample.apply(input, matrices, f"Upsample{_NAMES[mode]}{n}DBackward0")


def _check_factor(name: str, input: Tensor, factor: int) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a convlab.Tensor, not "
                        f"{type(input).__name__}")
    if not isinstance(factor, numbers.Integral) or factor <= 0:
        raise ValueError(f"{name}: the factor must be a positive int, got {factor!r}")
    if input.dim() < 3:
        raise ValueError(f"{name} expects input to have at least 3 dimensions, but got input "
                         f"with {input.dim()} dimension(s)")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)``: each group of ``r^2`` channels
    becomes one ``r x r`` block of pixels (sub-pixel convolution, Shi et al. 2016).

    Output ``[c, h*r + i, w*r + j]`` is input ``[c*r*r + i*r + j, h, w]``.
    """
    _check_factor("pixel_shuffle", input, upscale_factor)
    r = upscale_factor
    *lead, C, H, W = input.shape
    if C % (r * r):
        raise ValueError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible "
                         f"by the square of upscale_factor, but input.size(-3)={C} is not "
                         f"divisible by {r * r}")
    x = input.reshape(*lead, C // (r * r), r, r, H, W)  # (*, C, i, j, H, W)
    k = len(lead)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)  # (*, C, H, i, W, j)
    return x.reshape(*lead, C // (r * r), H * r, W * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of :func:`pixel_shuffle`: ``(*, C, H r, W r)`` -> ``(*, C r^2, H, W)``."""
    _check_factor("pixel_unshuffle", input, downscale_factor)
    r = downscale_factor
    *lead, C, Hr, Wr = input.shape
    for axis, size in (("height", Hr), ("width", Wr)):
        if size % r:
            raise ValueError(f"pixel_unshuffle expects {axis} to be divisible by "
                             f"downscale_factor, but input.size({-2 if axis == 'height' else -1})"
                             f"={size} is not divisible by {r}")
    x = input.reshape(*lead, C, Hr // r, r, Wr // r, r)  # (*, C, H, i, W, j)
    k = len(lead)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)  # (*, C, i, j, H, W)
    return x.reshape(*lead, C * r * r, Hr // r, Wr // r)
