"""Activation functions that ``elementwise`` does not already hold: ELU, GELU, SiLU, Hardtanh
(ReLU6), Softplus, Hardsigmoid, Hardswish, Mish and PReLU.

(ReLU, LeakyReLU, Sigmoid and Tanh live in ``elementwise``; Softmax and LogSoftmax in
``reduction``.) Each backward is the derivative written out, evaluated on saved arrays.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from ..autograd.graph import ArrayFunction, unbroadcast
from ..engine import elementwise as compiled
from .elementwise import sigmoid, zero_where

__all__ = ["Elu", "Gelu", "Silu", "Hardtanh", "Softplus", "Hardsigmoid", "Hardswish", "Mish",
           "Prelu"]


class Elu(ArrayFunction):
    """z = x for x > 0, else alpha * (e^x - 1). dz/dx = 1 for x > 0, else z + alpha (1 where
    x is NaN, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, alpha):
        a = x.dtype.type(alpha)
        z = np.where(x > 0, x, a * np.expm1(np.minimum(x, 0)))
        ctx.save_for_backward(x, z)
        ctx.alpha = a
        return z

    @staticmethod
    def backward(ctx, gz):
        x, z = ctx.saved
        return np.where(x <= 0, gz * (z + ctx.alpha), gz), None


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Gelu(ArrayFunction):
    """z = x * Phi(x), Phi the standard normal CDF (``approximate='none'``), or its tanh form
    ``0.5 x (1 + tanh(u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)`` (``approximate='tanh'``).

    dz/dx = Phi(x) + x phi(x) (exact), or
    0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u) (tanh form).
    """

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            return (0.5 * x * (1 + t)).astype(x.dtype, copy=False)
        return (0.5 * x * (1 + erf(x * _INV_SQRT_2))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        if ctx.approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
            dt = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            dz = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dt
        else:
            dz = 0.5 * (1 + erf(x * _INV_SQRT_2)) + x * _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return (gz * dz).astype(gz.dtype, copy=False), None


class Silu(ArrayFunction):
    """z = x * sigmoid(x) (the swish). dz/dx = s (1 + x (1 - s)), s = sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        s = sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, gz):
        x, s = ctx.saved
        return (gz * s * (1 + x * (1 - s)),)


class Hardtanh(ArrayFunction):
    """z = clamp(x, min_val, max_val) (ReLU6 is min 0, max 6). dz/dx = 1 strictly between the
    bounds, else 0 (0 at the bounds themselves, 1 where x is NaN, as PyTorch).

    ``out`` (``x``'s own memory, from ``hardtanh_`` and ``relu6`` in place): z is written
    there and saved in place of x, as PyTorch's ``hardtanh_`` saves its result; z lies
    strictly between the bounds (or is NaN) exactly where x does, so backward is the same."""

    @staticmethod
    def forward(ctx, x, min_val, max_val, out=None):
        ctx.bounds = (min_val, max_val)
        if out is None:
            ctx.save_for_backward(x)
            if min_val <= max_val and compiled.applies(x):
                return compiled.hardtanh(x, min_val, max_val)
            return np.clip(x, x.dtype.type(min_val), x.dtype.type(max_val))
        if out is not x:
            np.copyto(out, x)
        if min_val <= max_val and compiled.applies(out):
            compiled.hardtanh_in_place(out, min_val, max_val)
        else:
            np.clip(out, out.dtype.type(min_val), out.dtype.type(max_val), out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, gz):
        (s,) = ctx.saved  # x, or z in place: either is strictly inside where the other is
        low, high = ctx.bounds
        if compiled.applies(s, gz):
            return compiled.hardtanh_backward(s, gz, low, high), None, None
        return zero_where((s <= low) | (s >= high), gz), None, None


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class Softplus(ArrayFunction):
    """z = log(1 + e^(beta x)) / beta, a smooth ReLU; z = x where beta x > threshold (the two
    agree there to float precision). dz/dx = sigmoid(beta x), or 1 past the threshold."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        bx = x * x.dtype.type(beta)
        ctx.save_for_backward(bx)
        ctx.threshold = threshold
        return np.where(bx > threshold, x, _softplus(bx) / x.dtype.type(beta))

    @staticmethod
    def backward(ctx, gz):
        (bx,) = ctx.saved
        return np.where(bx > ctx.threshold, gz, gz * sigmoid(bx)), None, None


class Hardsigmoid(ArrayFunction):
    """z = relu6(x + 3) / 6, a piecewise-linear sigmoid. dz/dx = 1/6 for -3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.clip(x + 3, 0, 6) / x.dtype.type(6)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        return zero_where(~((x > -3) & (x < 3)), gz / gz.dtype.type(6))  # NaN: 0, as PyTorch


class Hardswish(ArrayFunction):
    """z = x * relu6(x + 3) / 6 (MobileNetV3's cheap swish).
    dz/dx = 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3 (PyTorch's choice at the
    kinks; 1 where x is NaN)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        if compiled.applies(x):
            return compiled.hardswish(x)
        return x * np.clip(x + 3, 0, 6) / x.dtype.type(6)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        if compiled.applies(x, gz):
            return compiled.hardswish_backward(x, gz)
        slope = np.where(x < 3, gz * (x / x.dtype.type(3) + x.dtype.type(0.5)), gz)
        return zero_where(x <= -3, slope.astype(gz.dtype, copy=False))


class Mish(ArrayFunction):
    """z = x tanh(softplus(x)). dz/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(_softplus(x))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx, gz):
        x, t = ctx.saved
        return gz * (t + x * sigmoid(x) * (1 - t * t))


class Prelu(ArrayFunction):
    """z = x for x > 0, else w x, with a learned slope ``w`` per channel (or one for all).

    dz/dx = 1 for x > 0, else w;  dz/dw = x for x <= 0, else 0, summed over all but the channel.
    Shape: ``x (N, C, *)`` (or ``(C,)``) and ``w`` already shaped to broadcast against it:
    ``(C, 1, ...)`` or ``(1,)``-like.
    """

    grad_fn_name = "PreluKernelBackward0"

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return np.where(x > 0, x, w * x)

    @staticmethod
    def backward(ctx, gz):
        x, w = ctx.saved
        positive = x > 0
        gx = np.where(positive, gz, gz * w) if ctx.needs_input_grad[0] else None
        gw = unbroadcast(np.where(positive, 0, gz * x), w.shape) \
            if ctx.needs_input_grad[1] else None
        return gx, gw
