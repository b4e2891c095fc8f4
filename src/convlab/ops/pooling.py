"""Differentiable pooling ops: max (as a gather), max unpooling, average, adaptive average, LP.

Max pooling is split in two, because an ArrayFunction returns one array and ``return_indices`` needs
two: choosing *where* the maxima are (the engine's argmax, not differentiable, run by the public
function) and *reading* them, :class:`GatherPlanes`, which is linear. The gradient of the read is
a scatter into the chosen positions, where overlapping windows that picked the same element
add up. :class:`MaxUnpool` is the same pair the other way round: a scatter whose gradient is a
gather. Adaptive max pooling uses the same two ops.

Every op takes ``(N, C, *I)`` or unbatched ``(C, *I)`` arrays: the engine pools the trailing
axes and keeps the leading ones.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import ArrayFunction
from ..engine import pooling as engine

__all__ = ["GatherPlanes", "MaxUnpool", "AvgPool", "AdaptiveAvgPool", "LPPool"]


class GatherPlanes(ArrayFunction):
    """``y[b, j] = x[b].flat[indices[b, j]]``: read each plane at given flat positions.

    ``indices`` is an int64 array (not differentiable), ``nd`` the number of trailing axes that
    make a plane. ``values``, when the caller already has them (the engine's max pass computes
    the maxima together with their positions), is returned as the output instead of gathering
    again: the same numbers.

    Backward: ``gx[b].flat[indices[b, j]] += gy[b, j]``, a scatter-add (the gather's adjoint).

    Shape: ``x (*B, *I)``, ``indices (*B, *O)`` -> ``y (*B, *O)``.
    """

    @staticmethod
    def forward(ctx, x, indices, nd, values=None):
        ctx.indices, ctx.plane_shape = indices, x.shape[x.ndim - nd:]
        return engine.gather_planes(x, indices, nd) if values is None else values

    @staticmethod
    def backward(ctx, gy):
        return engine.scatter_add_planes(gy, ctx.indices, ctx.plane_shape), None, None


class MaxUnpool(ArrayFunction):
    """``y[b].flat[indices[b, j]] = x[b, j]``, zeros elsewhere (the last write wins on repeats).

    Backward: ``gx[b, j] = gy[b].flat[indices[b, j]]``, a gather.

    Shape: ``x, indices (*B, *I)`` -> ``y (*B, *output_size)``.
    """

    @staticmethod
    def forward(ctx, x, indices, output_size):
        ctx.indices, ctx.nd = indices, len(output_size)
        return engine.max_unpool(x, indices, output_size)

    @staticmethod
    def backward(ctx, gy):
        return engine.gather_planes(gy, ctx.indices, ctx.nd), None, None


class AvgPool(ArrayFunction):
    """``y[j] = (Σ over window j of x) / divisor[j]``, zero padding (see ``engine.avg_pool``).

    Backward: ``gy / divisor`` added back to every element of each window; the padding is
    cropped off.

    Shape: ``x (*B, *I)`` -> ``y (*B, *O)``.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        ctx.args = (kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        ctx.input_shape = x.shape
        return engine.avg_pool(x, *ctx.args)

    @staticmethod
    def backward(ctx, gy):
        return (engine.avg_pool_backward(gy, ctx.input_shape, *ctx.args),) + (None,) * 6


class AdaptiveAvgPool(ArrayFunction):
    """``y[j] = mean of x over [floor(j*i/o), ceil((j+1)*i/o))`` per axis: ``y = A x`` per axis.

    Backward: ``Aᵀ gy`` per axis.

    Shape: ``x (*B, *I)`` -> ``y (*B, *output_size)``.
    """

    @staticmethod
    def forward(ctx, x, output_size):
        ctx.input_size = x.shape[x.ndim - len(output_size):]
        return engine.adaptive_avg_pool(x, output_size)

    @staticmethod
    def backward(ctx, gy):
        return engine.adaptive_avg_pool_backward(gy, ctx.input_size), None


class LPPool(ArrayFunction):
    """Power-average pooling, composed exactly as ``F.lp_pool2d`` composes it::

        a = avg_pool(x ** p)              (no padding, ceil_mode as given)
        y = (sign(a) * relu(|a|) * ∏k) ** (1/p)  =  (∏k · a) ** (1/p)

    so a full window gives ``(Σ x**p) ** (1/p)``, and a window cut short by ceil_mode is averaged
    over its real elements, then scaled by ``∏k``.

    Backward, the chain rule through the same steps (PyTorch's, NaN and zero cases included):
    ``g_a = gy * (1/p) * (∏k·a)**(1/p - 1) * ∏k``, set to zero where ``|a| <= 0`` (relu's
    gradient: if the sum of the powers is zero, so is the gradient), then the average pool's
    backward, then ``* p * x**(p-1)``.

    Shape: ``x (*B, *I)`` -> ``y (*B, *O)``.
    """

    @staticmethod
    def forward(ctx, x, norm_type, kernel_size, stride, ceil_mode):
        nd = len(kernel_size)
        ctx.args = (kernel_size, stride, (0,) * nd, ceil_mode, True, None)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            a = engine.avg_pool(x ** norm_type, *ctx.args)
            scaled = a * x.dtype.type(math.prod(kernel_size))
            y = scaled ** (1.0 / norm_type)
        ctx.save_for_backward(x, a, scaled)
        ctx.norm_type = norm_type
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, a, scaled = ctx.saved
        p = ctx.norm_type
        K = math.prod(ctx.args[0])
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            g_scaled = gy * (1.0 / p) * scaled ** (1.0 / p - 1.0)  # pow's backward
            g_relu = g_scaled * K * np.sign(a)  # mul by ∏k, then by sign(a)
            g_a = np.where(np.abs(a) <= 0, 0, g_relu) * np.sign(a)  # relu's, then abs's
            g_pow = engine.avg_pool_backward(g_a.astype(x.dtype, copy=False), x.shape, *ctx.args)
            gx = g_pow * p * x ** (p - 1.0)
        return gx.astype(x.dtype, copy=False), None, None, None, None
