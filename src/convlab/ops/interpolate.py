"""Resampling along the spatial axes (``F.interpolate``) as one matrix per axis.

Nearest and linear interpolation both make each output a weighted sum of inputs along an axis:
output ``j`` takes input ``i`` with weight ``M[j, i]``. So resampling an axis of length ``I`` to
``O`` is a product with an ``(O, I)`` matrix, one row per output (one 1 per row for nearest, two
weights that sum to 1 for linear), and resampling ``(N, C, H, W)`` applies ``M_H`` along H and
``M_W`` along W. Backward is the adjoint: the same products with the transposed matrices, which
send each output's gradient back to the inputs it was made from.
"""

from __future__ import annotations

import numpy as np

from ..autograd.graph import ArrayFunction

__all__ = ["Resample", "nearest_matrix", "linear_matrix"]


def nearest_matrix(in_size: int, out_size: int, scale: float | None, exact: bool) -> np.ndarray:
    """``(out_size, in_size)``: output ``j`` copies input ``floor(j * s)`` (``exact``:
    ``floor((j + 0.5) * s)``, the nearest centre), ``s = 1 / scale_factor`` if one was given,
    else ``in_size / out_size``; computed in float32, as PyTorch does."""
    s = np.float32(1 / scale) if scale else np.float32(in_size) / np.float32(out_size)
    j = np.arange(out_size, dtype=np.float32)
    source = np.floor((j + np.float32(0.5)) * s if exact else j * s).astype(np.int64)
    if out_size == 2 * in_size and not exact:
        source = np.arange(out_size) // 2  # PyTorch's shortcut for doubling, free of rounding
    M = np.zeros((out_size, in_size))
    M[np.arange(out_size), np.minimum(source, in_size - 1)] = 1
    return M


def linear_matrix(in_size: int, out_size: int, scale: float | None,
                  align_corners: bool) -> np.ndarray:
    """``(out_size, in_size)``: output ``j`` sits at input coordinate ``x``, between inputs
    ``floor(x)`` and the next, weighted by closeness.

    ``align_corners=True`` maps the first and last pixel centres onto each other:
    ``x = j * (in - 1) / (out - 1)``. Otherwise pixels are squares that cover the same extent:
    ``x = (j + 0.5) * s - 0.5`` with ``s = 1 / scale_factor`` (if given) or ``in / out``, and
    ``x < 0`` clamped to 0.
    """
    j = np.arange(out_size, dtype=np.float64)
    if align_corners:
        x = j * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        s = 1 / scale if scale else in_size / out_size
        x = np.maximum((j + 0.5) * s - 0.5, 0.0)
    left = np.minimum(np.floor(x).astype(np.int64), in_size - 1)
    right = np.minimum(left + 1, in_size - 1)
    w_right = x - left
    M = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(M, (rows, left), 1 - w_right)
    np.add.at(M, (rows, right), w_right)  # at the last input, both weights land on it
    return M


def _along(x: np.ndarray, M: np.ndarray, axis: int) -> np.ndarray:
    """``M`` applied along ``axis`` of ``x``: ``(..., I, ...) -> (..., O, ...)``."""
    y = np.tensordot(M, x, axes=(1, axis))  # (O, *rest)
    return np.moveaxis(y, 0, axis)


class Resample(ArrayFunction):
    """y = x resampled along the spatial axes ``2, 3, ...`` by one matrix each.

    Shape: ``x (N, C, *I)``, ``matrices[k] (O_k, I_k)``, ``y (N, C, *O)``.
    Backward: ``gx`` is ``gy`` with each axis multiplied by ``M_k^T``.
    """

    @staticmethod
    def forward(ctx, x, matrices, grad_fn_name):
        ctx.grad_fn_name = grad_fn_name
        ctx.matrices = [M.astype(x.dtype) for M in matrices]
        y = x
        for axis, M in enumerate(ctx.matrices, start=2):
            y = _along(y, M, axis)
        return np.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, gy):
        gx = gy
        for axis, M in enumerate(ctx.matrices, start=2):
            gx = _along(gx, M.T, axis)
        return np.ascontiguousarray(gx), None, None
