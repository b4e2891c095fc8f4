"""Normalization, fused with its affine transform: the core of BatchNorm, GroupNorm, LayerNorm.

Over a set of axes (BatchNorm: batch and space; LayerNorm: the trailing dims; GroupNorm: each
group's channels and space), with mean ``mu`` and biased variance ``var`` of ``M`` elements::

    x_hat = (x - mu) / sqrt(var + eps)
    y     = x_hat * w + b          (w, b broadcast along the parameter axes)

When ``mu`` and ``var`` are the statistics of ``x`` itself (training), they depend on ``x`` and
the input gradient has two correction terms (Ioffe & Szegedy, 2015)::

    g_hat = g * w
    gx    = (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) / sqrt(var + eps)

When they are fixed numbers (BatchNorm's running statistics in eval mode), ``gx = g_hat /
sqrt(var + eps)``. In both cases ``gw = sum(g * x_hat)`` and ``gb = sum(g)`` over the axes that
``w`` is broadcast along.
"""

from __future__ import annotations

import numpy as np

from ..autograd.graph import ArrayFunction, unbroadcast
from ..engine import batchnorm

__all__ = ["Normalize", "BatchNorm", "LayerNorm", "GroupNorm", "moments"]


def moments(x: np.ndarray, axes: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance of ``x`` over ``axes``, both with the reduced axes kept as 1.
    Per channel of ``(N, C, ...)`` (BatchNorm's axes) a compiled loop does it where it can."""
    if axes == (0, *range(2, x.ndim)) and batchnorm.applies(x):
        kept = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        mean, var = batchnorm.moments(x)
        return mean.reshape(kept), var.reshape(kept)
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    d *= d  # in place: one temporary of x's size, not two
    return mean, d.mean(axis=axes, keepdims=True)


class Normalize(ArrayFunction):
    """``y = (x - mean) / sqrt(var + eps) * w + b``; see the module docstring.

    Shape: ``x (...)``, seen as ``view_shape`` (GroupNorm splits the channels into groups)
    while normalizing; ``mean``, ``var`` broadcast to ``view_shape`` (reduced axes kept as 1);
    ``w``, ``b`` of any shape with ``param_shape`` (the same number of elements, aligned to
    ``view_shape``) the shape they broadcast as, or None. ``stat_axes`` are the axes ``mean``
    and ``var`` were computed over when they are ``x``'s own statistics, or None when they are
    constants. The output has ``x``'s shape.
    """

    @staticmethod
    def forward(ctx, x, w, b, mean, var, eps, param_shape, stat_axes, view_shape):
        ctx.shape = x.shape
        x = x.reshape(view_shape)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat = x - mean
        x_hat *= invstd
        if w is None:
            y = x_hat if b is None else x_hat + b.reshape(param_shape)
        else:
            y = x_hat * w.reshape(param_shape)
            if b is not None:
                y += b.reshape(param_shape)
        ctx.save_for_backward(x_hat, invstd, w)
        ctx.param_shape, ctx.stat_axes = param_shape, stat_axes
        ctx.bias_shape = None if b is None else b.shape
        return y.reshape(ctx.shape)

    @staticmethod
    def backward(ctx, gy):
        x_hat, invstd, w = ctx.saved
        gy = gy.reshape(x_hat.shape)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gw = gb = gx = None
        if need_w:
            gw = unbroadcast(gy * x_hat, ctx.param_shape).reshape(w.shape)
        if need_b:
            gb = unbroadcast(gy, ctx.param_shape).reshape(ctx.bias_shape)
        if need_x:
            g_hat = gy if w is None else gy * w.reshape(ctx.param_shape)
            if ctx.stat_axes is None:
                gx = g_hat * invstd
            else:
                axes = ctx.stat_axes
                gx = g_hat - g_hat.mean(axis=axes, keepdims=True)
                gx -= x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)
                gx *= invstd
            gx = gx.reshape(ctx.shape)
        return gx, gw, gb, None, None, None, None, None, None


class BatchNorm(Normalize):
    """:class:`Normalize` over the batch and space, per channel: by the compiled loops of
    ``engine/batchnorm.py`` where they apply (one sweep each for the normalization and for the
    gradients), by :class:`Normalize`'s NumPy code otherwise."""

    grad_fn_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, w, b, mean, var, eps, param_shape, stat_axes, view_shape):
        ctx.compiled = batchnorm.applies(x)
        if not ctx.compiled:
            return Normalize.forward(ctx, x, w, b, mean, var, eps, param_shape, stat_axes,
                                     view_shape)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        x_hat, y = batchnorm.normalize(x, mean, invstd, w, b, keep_x_hat=ctx.recording)
        ctx.save_for_backward(x_hat, invstd, w)
        ctx.stat_axes = stat_axes
        ctx.bias_shape = None if b is None else b.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        if not ctx.compiled:
            return Normalize.backward(ctx, gy)
        x_hat, invstd, w = ctx.saved
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx, gw, gb = batchnorm.backward(gy, x_hat, invstd, w, ctx.stat_axes is not None, need_x)
        gw = gw.astype(w.dtype).reshape(w.shape) if need_w else None
        gb = gb.astype(gy.dtype).reshape(ctx.bias_shape) if need_b else None
        return gx, gw, gb, None, None, None, None, None, None


class LayerNorm(Normalize):
    """:class:`Normalize` over the trailing dims, per sample."""

    grad_fn_name = "NativeLayerNormBackward0"


class GroupNorm(Normalize):
    """:class:`Normalize` over each group of channels and space, per sample."""

    grad_fn_name = "NativeGroupNormBackward0"
