"""Activation functions that ``elementwise`` does not already hold: ELU, GELU and SiLU.

(ReLU, LeakyReLU, Sigmoid and Tanh live in ``elementwise``; Softmax and LogSoftmax in
``reduction``.) Each backward is the derivative written out, evaluated on saved arrays.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from ..autograd import Function
from .elementwise import sigmoid

__all__ = ["Elu", "Gelu", "Silu"]


class Elu(Function):
    """z = x for x > 0, else alpha * (e^x - 1). dz/dx = 1 for x > 0, else z + alpha."""

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
        return np.where(x > 0, gz, gz * (z + ctx.alpha)), None


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Gelu(Function):
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


class Silu(Function):
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
