"""Reductions, the normalizing functions built on them (softmax, log-softmax, logsumexp), and
the running reductions (cumulative sum and product).

``axes`` is always a normalized tuple of non-negative axes (the Tensor layer checks ``dim``).
Backward re-inserts the reduced axes (``keepdims`` shape) and broadcasts the gradient back.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import ArrayFunction

__all__ = ["Sum", "Mean", "Var", "Std", "Prod", "MaxMin", "LogSumExp", "Norm", "Softmax",
           "LogSoftmax", "Cumsum", "Cumprod", "keepdims_shape"]


def keepdims_shape(shape: tuple, axes: tuple) -> tuple:
    """``shape`` with the reduced ``axes`` set to 1: where a reduced gradient broadcasts back."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back to ``shape``: the adjoint of summing over ``axes``."""
    if not keepdim:
        g = g.reshape(keepdims_shape(shape, axes))
    return np.broadcast_to(g, shape)


class Sum(ArrayFunction):
    """z = sum of x over axes. dz/dx = 1 everywhere."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim, ctx.dtype = x.shape, axes, keepdim, x.dtype
        return np.sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, gz):
        return _expand(gz, ctx.shape, ctx.axes, ctx.keepdim).astype(ctx.dtype), None, None, None


class Mean(ArrayFunction):
    """z = mean of x over axes. dz/dx = 1/n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.count = int(np.prod([x.shape[a] for a in axes]))
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty mean is nan, as PyTorch
            return np.sum(x, axis=axes, keepdims=keepdim) / x.dtype.type(ctx.count)

    @staticmethod
    def backward(ctx, gz):
        g = _expand(gz / gz.dtype.type(max(ctx.count, 1)), ctx.shape, ctx.axes, ctx.keepdim)
        return g, None, None


def _centered(ctx, x, axes, correction):
    """x minus its mean over axes, and the divisor n - correction (kept on ctx for backward)."""
    ctx.shape, ctx.axes = x.shape, axes
    n = int(np.prod([x.shape[a] for a in axes]))
    ctx.denominator = max(n - correction, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x - np.sum(x, axis=axes, keepdims=True) / x.dtype.type(n)


class Var(ArrayFunction):
    """z = sum((x - mean)^2) / (n - correction). dz/dx = 2 (x - mean) / (n - correction)."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        centered = _centered(ctx, x, axes, correction)
        ctx.save_for_backward(centered)
        ctx.keepdim = keepdim
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.sum(centered * centered, axis=axes, keepdims=keepdim) / x.dtype.type(
                ctx.denominator)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gz):
        (centered,) = ctx.saved
        g = _expand(gz, ctx.shape, ctx.axes, ctx.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = centered.dtype.type(2) / centered.dtype.type(ctx.denominator)
            return g * centered * scale, None, None, None


class Std(ArrayFunction):
    """z = sqrt(var(x)). dz/dx = (x - mean) / ((n - correction) z), taken as 0 where z == 0
    (constant input), as PyTorch does."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        centered = _centered(ctx, x, axes, correction)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.sqrt(np.sum(centered * centered, axis=axes, keepdims=True)
                        / x.dtype.type(ctx.denominator)).astype(x.dtype, copy=False)
        ctx.save_for_backward(centered, z)
        ctx.keepdim = keepdim
        return z if keepdim else np.squeeze(z, axis=axes)

    @staticmethod
    def backward(ctx, gz):
        centered, z = ctx.saved
        g = _expand(gz, ctx.shape, ctx.axes, ctx.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):  # selected after the product:
            gx = np.where(z == 0, 0, g * centered / (z * z.dtype.type(ctx.denominator)))
        return gx.astype(z.dtype, copy=False), None, None, None  # an inf g gives 0, not NaN


class Prod(ArrayFunction):
    """z = product of x over an axis. dz/dx_i = product of the others (exact with zeros)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdim = axes, keepdim
        return np.prod(x, axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        axes = ctx.axes
        # Move the reduced axes last and flatten them, so "product of the others" is a 1-D question.
        moved = np.moveaxis(x, axes, range(x.ndim - len(axes), x.ndim))
        n = math.prod(x.shape[a] for a in axes)  # spelled out: -1 is ambiguous when x is empty
        flat = moved.reshape(moved.shape[: x.ndim - len(axes)] + (n,))  # (..., n)
        ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        # exclusive running products: before[i] = x_0 ... x_{i-1}, after[i] = x_{i+1} ... x_{n-1}
        before = np.cumprod(np.concatenate([ones, flat], axis=-1), axis=-1)[..., :-1]
        after = np.cumprod(np.concatenate([ones, flat[..., ::-1]], axis=-1), axis=-1)[..., -2::-1]
        others = (before * after).reshape(moved.shape)
        others = np.moveaxis(others, range(x.ndim - len(axes), x.ndim), axes)
        return _expand(gz, x.shape, axes, ctx.keepdim) * others, None, None


class MaxMin(ArrayFunction):
    """z = max (or min) of x over axes. The gradient is split evenly among the tied extremes,
    as PyTorch's ``amax``/``amin`` and full ``max()`` do. ``amax`` multiplies by the 0/1 mask
    of the extremes (an inf gradient makes NaN elsewhere); full ``max()`` (``select``) picks
    the gradient for the extremes, a NaN counting as the extreme, and 0 elsewhere."""

    grad_fn_name = "AmaxBackward0"  # the Tensor methods rename it for amin, max() and min()

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest, select=False):
        z = (np.max if largest else np.min)(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdim, ctx.select = axes, keepdim, select
        return z if keepdim else np.squeeze(z, axis=axes)

    @staticmethod
    def backward(ctx, gz):
        x, z = ctx.saved
        hit = x == z
        if ctx.select:
            hit |= np.isnan(x) & np.isnan(z)
        count = hit.sum(axis=ctx.axes, keepdims=True)
        g = _expand(gz, x.shape, ctx.axes, ctx.keepdim)
        with np.errstate(invalid="ignore"):  # an inf g times a 0 is NaN, as in PyTorch's amax
            if ctx.select:
                gx = np.where(hit, g / count.astype(gz.dtype), 0).astype(gz.dtype)
            else:
                gx = g * hit / count.astype(gz.dtype)
        return (gx,) + (None,) * (len(ctx.next_nodes) - 1)  # select is passed by max() only


class LogSumExp(ArrayFunction):
    """z = log(sum(exp(x))) over axes, computed as m + log(sum(exp(x - m))). dz/dx = softmax(x)."""

    grad_fn_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)  # -inf over an empty dim
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):
            z = m + np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True))
        ctx.save_for_backward(x, z)
        ctx.axes, ctx.keepdim = axes, keepdim
        return (z if keepdim else np.squeeze(z, axis=axes)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gz):
        x, z = ctx.saved
        g = _expand(gz, x.shape, ctx.axes, ctx.keepdim)
        return g * np.exp(x - z), None, None


class Norm(ArrayFunction):
    """z = (sum |x|^p)^(1/p) over axes; p = inf gives max |x|, p = 0 the count of nonzeros.
    dz/dx = sign(x) |x|^(p-1) / z^(p-1) (zero where z == 0, and everywhere for p = 0)."""

    grad_fn_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        a = np.abs(x)
        if p == np.inf:
            z = np.max(a, axis=axes, keepdims=True, initial=0)
        elif p == 0:
            z = np.sum(a != 0, axis=axes, keepdims=True)
        elif p == 2:
            z = np.sqrt(np.sum(a * a, axis=axes, keepdims=True))
        else:
            z = np.sum(a**p, axis=axes, keepdims=True) ** (1.0 / p)
        z = z.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, z)
        ctx.p, ctx.axes, ctx.keepdim = p, axes, keepdim
        return z if keepdim else np.squeeze(z, axis=axes)

    @staticmethod
    def backward(ctx, gz):
        x, z = ctx.saved
        p = ctx.p
        g = _expand(gz, x.shape, ctx.axes, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == np.inf:
                hit = np.abs(x) == z
                dx = np.sign(x) * hit / hit.sum(axis=ctx.axes, keepdims=True)
            elif p == 0:
                dx = np.zeros_like(x)
            else:
                dx = np.sign(x) * np.abs(x) ** (p - 1) / z ** (p - 1)
            dx = np.where(z == 0, 0, dx).astype(x.dtype, copy=False)
            return g * dx, None, None, None  # an inf g times a 0 is NaN, as in PyTorch


def _softmax(x, axis):
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, as in PyTorch
        e = np.exp(x - np.max(x, axis=axis, keepdims=True, initial=-np.inf))
        return e / np.sum(e, axis=axis, keepdims=True)


class Softmax(ArrayFunction):
    """z_i = e^{x_i} / sum_j e^{x_j} along one axis. dx = z * (g - sum(g * z))."""

    @staticmethod
    def forward(ctx, x, axis):
        z = _softmax(x, axis)
        ctx.save_for_backward(z)
        ctx.axis = axis
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return z * (gz - np.sum(gz * z, axis=ctx.axis, keepdims=True)), None


class LogSoftmax(ArrayFunction):
    """z_i = x_i - logsumexp(x) along one axis. dx = g - softmax(x) * sum(g)."""

    @staticmethod
    def forward(ctx, x, axis):
        with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf: NaN, as in PyTorch
            shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
            z = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(z)
        ctx.axis = axis
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return gz - np.exp(z) * np.sum(gz, axis=ctx.axis, keepdims=True), None


class Cumsum(ArrayFunction):
    """z_j = x_0 + ... + x_j along an axis. dz_j/dx_i = 1 for i <= j, so the adjoint sums the
    gradient from the other end: gx_i = g_i + ... + g_{n-1}, a reversed cumulative sum."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, gz):
        reverse = (slice(None),) * ctx.axis + (slice(None, None, -1),)
        return np.cumsum(gz[reverse], axis=ctx.axis)[reverse], None


class Cumprod(ArrayFunction):
    """z_j = x_0 x_1 ... x_j along an axis. dz_j/dx_k = prod_{i <= j, i != k} x_i for k <= j.

    The adjoint gx_k = sum_{j >= k} g_j dz_j/dx_k factors as P_k S_k with P_k = x_0 ... x_{k-1}
    (the product before k) and S_k = sum_{j >= k} g_j x_{k+1} ... x_j, which runs backwards:
    S_{n-1} = g_{n-1}, S_k = g_k + x_{k+1} S_{k+1}. No division, so zeros in x are exact.
    """

    @staticmethod
    def forward(ctx, x, axis):
        ctx.save_for_backward(x)
        ctx.axis = axis
        return np.cumprod(x, axis=axis)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        x = np.moveaxis(x, ctx.axis, 0)  # the scanned axis first: (n, ...)
        g = np.moveaxis(gz, ctx.axis, 0)
        before = np.cumprod(np.concatenate([np.ones_like(x[:1]), x[:-1]]), axis=0)  # P_k
        s = np.empty_like(g)
        if len(g):
            s[-1] = g[-1]
        for k in range(len(g) - 2, -1, -1):
            s[k] = g[k] + x[k + 1] * s[k + 1]
        return np.moveaxis(before * s, 0, ctx.axis), None
