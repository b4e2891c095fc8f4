"""The spatial transformer's two functions, as ``torch.nn.functional``: ``affine_grid`` turns
a batch of affine matrices into sampling grids, ``grid_sample`` reads an image at a grid's
points. Both are differentiable, so the matrices can be learned (Jaderberg et al., 2015).

>>> import convlab
>>> import convlab.nn.functional as F
>>> identity = convlab.tensor([[[1., 0., 0.], [0., 1., 0.]]])
>>> image = convlab.arange(16.).reshape(1, 1, 4, 4)
>>> grid = F.affine_grid(identity, [1, 1, 4, 4], align_corners=False)
>>> convlab.equal(F.grid_sample(image, grid, align_corners=False), image)
True
"""

from __future__ import annotations

import warnings

import numpy as np

from ...ops.grid_sample import MODES, PADDING_MODES, GridSample
from ...tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def _align(align_corners) -> bool:
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _base_coordinates(steps: int, align_corners: bool, dtype) -> np.ndarray:
    """The normalized coordinates of ``steps`` pixel centres: from -1 to 1 (``align_corners``),
    or the centres of ``steps`` equal cells that tile [-1, 1]."""
    if steps <= 1:
        return np.zeros(steps, dtype)  # the single pixel sits at the centre
    values = np.linspace(-1, 1, steps, dtype=dtype)
    if not align_corners:
        values = values * (steps - 1) / steps
    return values.astype(dtype)


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of an affine map: the normalized coordinates ``(x, y, 1)`` of every
    output pixel, times ``theta``'s transpose.

    Shape: ``theta (N, 2, 3)`` and ``size = (N, C, H, W)`` give ``(N, H, W, 2)``; ``theta
    (N, 3, 4)`` and ``(N, C, D, H, W)`` give ``(N, D, H, W, 3)``. Gradients flow to ``theta``.
    """
    align_corners = _align(align_corners)
    if not isinstance(theta, Tensor) or not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"{getattr(theta, 'dtype', type(theta).__name__)}")
    size = [int(n) for n in size]
    d = len(size) - 2
    if d not in (2, 3):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if theta.dim() != 3 or tuple(theta.shape[1:]) != (d, d + 1) or theta.shape[0] != size[0]:
        raise ValueError(f"Expected a batch of {d}D affine matrices of shape Nx{d}x{d + 1} for "
                         f"size {size}. Got {list(theta.shape)}.")
    if min(size[2:]) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", UserWarning,
                      stacklevel=2)
    dtype = theta._data.dtype
    # one column per coordinate, x fastest: x runs along W (the last axis)
    axes = [_base_coordinates(n, align_corners, dtype) for n in reversed(size[2:])]
    mesh = np.meshgrid(*reversed(axes), indexing="ij")  # each (D?, H, W)
    columns = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(mesh[0].size, dtype)]
    base = Tensor._wrap(np.stack(columns, axis=1))  # (points, d + 1)
    grid = base.unsqueeze(0).matmul(theta.transpose(1, 2))  # (N, points, d)
    return grid.reshape(size[0], *size[2:], d)


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """``input`` read at the points of ``grid`` (normalized coordinates, -1 to 1, ``x`` first),
    by ``mode`` ``'bilinear'`` or ``'nearest'``; points outside read 0 (``padding_mode='zeros'``),
    the nearest edge pixel (``'border'``) or the image mirrored at its edges (``'reflection'``).
    See :mod:`convlab.ops.grid_sample` for the rules and the gradients (to both arguments).

    Shape: ``input (N, C, H_in, W_in)`` and ``grid (N, H_out, W_out, 2)`` give
    ``(N, C, H_out, W_out)``; in 3-D ``(N, C, D, H, W)`` and ``(N, D', H', W', 3)``.
    """
    align_corners = _align(align_corners)
    for name, value in (("input", input), ("grid", grid)):
        if not isinstance(value, Tensor):
            raise TypeError(f"grid_sample(): argument '{name}' must be a convlab.Tensor, not "
                            f"{type(value).__name__}")
    if mode not in MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'"
                         + (" (bicubic is not implemented in convlab)" if mode == "bicubic"
                            else ""))
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    sizes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.dim() not in (4, 5) or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got {sizes}")
    if grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got {sizes}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in "
                           f"last dimension, but got grid with sizes {list(grid.shape)}")
    if input.dtype != grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but "
                           f"input has {input.dtype} and grid has {grid.dtype}")
    return GridSample.apply(input, grid, mode, padding_mode, align_corners)
