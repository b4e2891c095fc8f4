"""Elementwise differentiable ops: arithmetic with broadcasting, and pointwise functions.

Every binary op receives arrays of one dtype (the Tensor layer promotes them first, by PyTorch's
rules), and its backward sums the gradient back over the broadcast axes (``unbroadcast``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from ..autograd.graph import ArrayFunction, ScratchCtx, unbroadcast
from ..engine import elementwise as compiled

__all__ = [
    "Add", "Sub", "Mul", "Div", "Remainder", "Pow", "Neg", "Abs", "Exp", "Log", "Log1p", "Sqrt",
    "Rsqrt", "Reciprocal", "Sin", "Cos", "Tanh", "Erf", "Sigmoid", "Relu", "LeakyRelu",
    "LeakyReluInPlace", "Clamp", "Maximum", "Minimum", "Lerp", "Step", "Frac", "Where", "Cast",
    "Fill", "CopyFrom", "sigmoid",
    "zero_where",
]


class Add(ArrayFunction):
    """z = x + y. dz/dx = 1, dz/dy = 1 (summed back over broadcast axes).

    ``out``, here and in the other ops that take it: memory of z's shape and dtype to write z
    into, given by in-place ops (``x.add_(y)`` writes into ``x`` itself)."""

    @staticmethod
    def forward(ctx, x, y, out=None):
        ctx.shapes = (np.shape(x), np.shape(y))
        if (out is None and isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                and compiled.sums_apply(x, y)):
            return compiled.add(x, y)
        return np.add(x, y, out=out)

    @staticmethod
    def backward(ctx, gz):
        sx, sy = ctx.shapes
        gx = unbroadcast(gz, sx) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(gz, sy) if ctx.needs_input_grad[1] else None
        return gx, gy


class Sub(ArrayFunction):
    """z = x - y. dz/dx = 1, dz/dy = -1."""

    @staticmethod
    def forward(ctx, x, y, out=None):
        ctx.shapes = (np.shape(x), np.shape(y))
        return np.subtract(x, y, out=out)

    @staticmethod
    def backward(ctx, gz):
        sx, sy = ctx.shapes
        gx = unbroadcast(gz, sx) if ctx.needs_input_grad[0] else None
        gy = -unbroadcast(gz, sy) if ctx.needs_input_grad[1] else None
        return gx, gy


class Mul(ArrayFunction):
    """z = x * y. dz/dx = y, dz/dy = x."""

    @staticmethod
    def forward(ctx, x, y, out=None):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              y if ctx.needs_input_grad[0] else None)
        ctx.shapes = (np.shape(x), np.shape(y))
        return np.multiply(x, y, out=out)

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved
        sx, sy = ctx.shapes
        gx = unbroadcast(gz * y, sx) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(gz * x, sy) if ctx.needs_input_grad[1] else None
        return gx, gy


class Div(ArrayFunction):
    """z = x / y. dz/dx = 1/y, dz/dy = -x/y^2, computed as PyTorch does, ``-g * ((x / y) / y)``.

    It saves ``x``, as PyTorch, not ``z``: after ``y.div_(t)`` the output is the tensor's
    memory, and a later in-place change of it (``y.relu_()``) is legal in PyTorch."""

    @staticmethod
    def forward(ctx, x, y, out=None):
        ctx.save_for_backward(y, x if ctx.needs_input_grad[1] else None)
        ctx.shapes = (np.shape(x), np.shape(y))
        return np.true_divide(x, y, out=out)

    @staticmethod
    def backward(ctx, gz):
        y, x = ctx.saved
        sx, sy = ctx.shapes
        gx = unbroadcast(gz / y, sx) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-gz * ((x / y) / y), sy) if ctx.needs_input_grad[1] else None
        return gx, gy


class Remainder(ArrayFunction):
    """z = x mod y with the sign of y (Python's %): z = x - floor(x / y) y.
    dz/dx = 1, dz/dy = -floor(x / y)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              y if ctx.needs_input_grad[1] else None)
        ctx.shapes = (np.shape(x), np.shape(y))
        return np.remainder(x, y)

    @staticmethod
    def backward(ctx, gz):
        x, y = ctx.saved
        sx, sy = ctx.shapes
        gx = unbroadcast(gz, sx) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-gz * np.floor_divide(x, y), sy) if ctx.needs_input_grad[1] else None
        return gx, gy


class Pow(ArrayFunction):
    """z = x ** y. dz/dx = y * x^(y-1); dz/dy = z * log(x) (taken as 0 where x == 0 and y >= 0)."""

    @staticmethod
    def forward(ctx, x, y):
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, (-1) ** 0.5 = NaN
            z = np.power(x, y)
        ctx.save_for_backward(x, y, z)
        ctx.shapes = (np.shape(x), np.shape(y))
        return z

    @staticmethod
    def backward(ctx, gz):
        x, y, z = ctx.saved
        sx, sy = ctx.shapes
        gx = gy = None
        if ctx.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                dx = np.where(y == 0, 0.0, y * np.power(x, y - 1)).astype(gz.dtype, copy=False)
            gx = unbroadcast(gz * dx, sx)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                dy = np.where((x == 0) & (y >= 0), 0.0, z * np.log(x)).astype(gz.dtype, copy=False)
            gy = unbroadcast(gz * dy, sy)
        return gx, gy


class Neg(ArrayFunction):
    """z = -x."""

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, gz):
        return (-gz,)


class Abs(ArrayFunction):
    """z = |x|. dz/dx = sign(x): 0 at 0 and at NaN, as PyTorch's sgn."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        sign = np.sign(x)
        if np.isnan(sign).any():
            sign = np.nan_to_num(sign, nan=0.0)
        return (gz * sign,)


class Exp(ArrayFunction):
    """z = e^x. dz/dx = z."""

    @staticmethod
    def forward(ctx, x):
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return (gz * z,)


class Log(ArrayFunction):
    """z = ln x. dz/dx = 1/x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        with np.errstate(divide="ignore"):
            return (gz / x,)


class Log1p(ArrayFunction):
    """z = ln(1 + x). dz/dx = 1/(1 + x)."""

    grad_fn_name = "Log1PBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        return (gz / (1 + x),)


class Sqrt(ArrayFunction):
    """z = sqrt(x). dz/dx = 1 / (2 z)."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            z = np.sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        with np.errstate(divide="ignore"):
            return (gz / (2 * z),)


class Rsqrt(ArrayFunction):
    """z = 1 / sqrt(x). dz/dx = -z^3 / 2."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            z = 1 / np.sqrt(x)
        ctx.save_for_backward(z)
        return z.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return (gz * (-0.5 * z**3),)


class Reciprocal(ArrayFunction):
    """z = 1 / x. dz/dx = -1/x^2 = -z^2."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore"):
            z = np.reciprocal(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return (-gz * z * z,)


class Sin(ArrayFunction):
    """z = sin x. dz/dx = cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        return (gz * np.cos(x),)


class Cos(ArrayFunction):
    """z = cos x. dz/dx = -sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        return (-gz * np.sin(x),)


class Tanh(ArrayFunction):
    """z = tanh x. dz/dx = 1 - z^2."""

    @staticmethod
    def forward(ctx, x):
        z = np.tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return (gz * (1 - z * z),)


class Erf(ArrayFunction):
    """z = erf x = 2/sqrt(pi) * integral from 0 to x of e^(-t^2) dt. dz/dx = 2/sqrt(pi) e^(-x^2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf(x)

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        return (gz * (2 / np.sqrt(np.pi) * np.exp(-x * x)).astype(gz.dtype, copy=False),)


def zero_where(drop: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g`` with the entries where ``drop`` holds set to +0: ``np.where(drop, 0, g)``.

    Backward formulas of piecewise functions (relu, clamp, hardtanh, ...) SELECT the gradient
    as PyTorch's do: an inf or NaN arriving where the function is flat becomes 0, where
    multiplying by a 0/1 mask would give ``inf * 0 = NaN``. Done by clearing the bits of the
    dropped values (an integer mask of all ones or all zeros ANDed with g's bits), which takes
    about the time of that multiply; ``np.where`` takes 6x as long on a random mask (16x64x56x56
    float32: 2.6 against 15 ms). Shape: ``drop`` broadcasts to ``g``'s shape.
    """
    ints = np.dtype(f"i{g.dtype.itemsize}")
    kept = np.subtract(drop, 1, dtype=ints)  # 0 where dropped, -1 (every bit set) where kept
    if isinstance(kept, np.ndarray) and kept.shape == g.shape:
        return np.bitwise_and(kept, g.view(ints), out=kept).view(g.dtype)
    return np.asarray(np.bitwise_and(kept, g.view(ints))).view(g.dtype)  # 0-d: a scalar


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(ArrayFunction):
    """z = 1 / (1 + e^-x). dz/dx = z (1 - z)."""

    @staticmethod
    def forward(ctx, x):
        z = sigmoid(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        return (gz * z * (1 - z),)


class Relu(ArrayFunction):
    """z = max(x, 0), as PyTorch's ``clamp_min``: 0 where x < 0, else x (NaN and -0.0 kept).
    dz/dx = 1 where z > 0 (or NaN), else 0 (0 at x = 0, as PyTorch).

    ``out`` (``x`` itself, from ``relu_``): the negative entries are set to zero where they
    are. NumPy's masked copy does it in 0.39 ms on 32x64x32x32 float32, one core; a compiled
    loop that stores back into ``x`` becomes masked stores (LLVM sees that the other entries
    keep their values), which AMD's cores run slowly: 1.0 ms; out of place 0.38 ms, plus 0.3
    for the copy back."""

    @staticmethod
    def forward(ctx, x, out=None):
        if out is not None:
            np.copyto(out, 0, where=x < 0)
            z = out
        elif compiled.applies(x):
            z = compiled.relu(x)
        else:
            z = np.where(x < 0, x.dtype.type(0), x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        (z,) = ctx.saved
        if compiled.applies(z, gz):
            return (compiled.relu_backward(z, gz),)
        return (zero_where(z <= 0, gz),)  # a NaN output passes the gradient on, as PyTorch


def _leaky_relu_backward(s: np.ndarray, gz: np.ndarray, slope: float) -> np.ndarray:
    """``gz`` where ``s > 0``, else ``slope * gz``: ``s`` is LeakyReLU's input, or its output
    (which is above 0 exactly where the input is, for a slope of 0 or more)."""
    if compiled.applies(s, gz):
        return compiled.leaky_relu_backward(s, gz, slope)
    with np.errstate(invalid="ignore"):
        return np.where(s > 0, gz, gz * gz.dtype.type(slope))


class LeakyRelu(ArrayFunction):
    """z = x where x > 0, else slope * x."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        if compiled.applies(x):
            return compiled.leaky_relu(x, negative_slope)
        with np.errstate(invalid="ignore"):  # -inf * 0 is NaN, as PyTorch's, without a warning
            return np.where(x > 0, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, gz):
        (x,) = ctx.saved
        return _leaky_relu_backward(x, gz, ctx.negative_slope), None


class LeakyReluInPlace(ArrayFunction):
    """PyTorch's ``leaky_relu_``: z as :class:`LeakyRelu`, written into ``out`` (``x``'s own
    memory, from ``Tensor._inplace``), and z saved for backward in place of x: z > 0 where x >
    0 for a slope of 0 or more. With a negative slope the signs cross, and backward refuses, as
    PyTorch's does."""

    grad_fn_name = "LeakyReluBackward1"

    @staticmethod
    def forward(ctx, x, negative_slope, out=None):
        ctx.negative_slope = negative_slope
        if out is None:
            z = LeakyRelu.forward(ScratchCtx(()), x, negative_slope)
        else:
            if out is not x:
                np.copyto(out, x)
            if compiled.applies(out):
                compiled.leaky_relu_in_place(out, negative_slope)
            else:  # a product with 1 or the slope: x itself where x > 0, NaN kept
                slope = np.where(out > 0, out.dtype.type(1), out.dtype.type(negative_slope))
                with np.errstate(invalid="ignore"):
                    np.multiply(out, slope, out=out)
            z = out
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, gz):
        if ctx.negative_slope < 0:
            raise RuntimeError(
                "In-place leakyReLu backward calculation is triggered with a negative slope "
                "which is not supported. This is caused by calling in-place forward function "
                "with a negative slope, please call out-of-place version instead.")
        (z,) = ctx.saved
        return _leaky_relu_backward(z, gz, ctx.negative_slope), None


class Clamp(ArrayFunction):
    """z = min(max(x, lo), hi). dz/dx = 1 inside [lo, hi] (bounds included, as PyTorch), else 0
    (also where x is NaN, and everywhere when lo > hi). Tensor bounds get the gradient where
    they won: lo where x < lo (and lo <= hi), hi where x > hi or lo > hi (z is hi there)."""

    grad_fn_name = "ClampBackward1"  # PyTorch's name for number bounds (tensor bounds: ...0)

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        z = x
        if lo is not None:
            z = np.maximum(z, lo)
        if hi is not None:
            z = np.minimum(z, hi)
        return z.astype(x.dtype, copy=False) if z is not x else x.copy()

    @staticmethod
    def backward(ctx, gz):
        x, lo, hi = ctx.saved
        inside = np.ones(gz.shape, dtype=bool)  # the output's shape: bounds may broadcast x
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        gx = unbroadcast(zero_where(~inside, gz), x.shape)
        need_lo, need_hi = ctx.needs_input_grad[1:]
        if not (need_lo or need_hi):
            return gx, None, None
        crossed = (lo > hi) if lo is not None and hi is not None else np.False_
        g_lo = g_hi = None
        if need_lo:
            won = (x < lo) & ~crossed
            g_lo = unbroadcast(zero_where(~np.broadcast_to(won, gz.shape), gz), np.shape(lo))
        if need_hi:
            won = ((x > hi) | crossed) & ~np.isnan(x)
            g_hi = unbroadcast(zero_where(~np.broadcast_to(won, gz.shape), gz), np.shape(hi))
        return gx, g_lo, g_hi


def _extreme_grads(ctx, gz, largest: bool):
    """The gradients of max(x, y) (``largest``) or min(x, y), selected as PyTorch does: the
    side that lost gets 0, a tie gives each side half, and where either side is NaN (no loser,
    no tie) both get the whole gradient."""
    x, y = ctx.saved
    x_lost, y_lost = (x < y, x > y) if largest else (x > y, x < y)
    half = np.where(x == y, gz / gz.dtype.type(2), gz)
    gx = unbroadcast(zero_where(x_lost, half), x.shape) if ctx.needs_input_grad[0] else None
    gy = unbroadcast(zero_where(y_lost, half), y.shape) if ctx.needs_input_grad[1] else None
    return gx, gy


class Maximum(ArrayFunction):
    """z = max(x, y) elementwise. dz/dx = 1 where x > y, 1/2 where x == y, 0 where x < y (and
    1 to both where either is NaN), as PyTorch."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx, gz):
        return _extreme_grads(ctx, gz, largest=True)


class Minimum(ArrayFunction):
    """z = min(x, y) elementwise. dz/dx = 1 where x < y, 1/2 where x == y, 0 where x > y (and
    1 to both where either is NaN), as PyTorch."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx, gz):
        return _extreme_grads(ctx, gz, largest=False)


class Lerp(ArrayFunction):
    """z = x + w (y - x): from x (w = 0) to y (w = 1), w a number or an array.
    dz/dx = 1 - w, dz/dy = w, dz/dw = y - x.

    Computed as PyTorch does, from the nearer end: x + w (y - x) where |w| < 0.5, else
    y - (y - x)(1 - w), so that w = 1 gives y exactly.
    """

    @staticmethod
    def forward(ctx, x, y, w):
        ctx.save_for_backward(x if ctx.needs_input_grad[2] else None,
                              y if ctx.needs_input_grad[2] else None, w)
        ctx.shapes = (np.shape(x), np.shape(y), np.shape(w))
        diff = y - x
        z = np.where(np.abs(w) < 0.5, x + w * diff, y - diff * (1 - w))
        return z.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gz):
        x, y, w = ctx.saved
        sx, sy, sw = ctx.shapes
        gx = unbroadcast(gz * (1 - w), sx) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(gz * w, sy) if ctx.needs_input_grad[1] else None
        gw = unbroadcast(gz * (y - x), sw) if ctx.needs_input_grad[2] else None
        return gx, gy, gw


class Step(ArrayFunction):
    """z = f(x) for a step function f: round, floor, ceil, trunc, sign, or a Bernoulli draw
    (u < p for a fixed uniform u). f is flat between its jumps, so dz/dx = 0, which PyTorch also
    takes at the jumps: the adjoint sends back zeros. The Tensor methods name the node."""

    @staticmethod
    def forward(ctx, x, f):
        return f(x)

    @staticmethod
    def backward(ctx, gz):
        return np.zeros_like(gz), None


class Frac(ArrayFunction):
    """z = x - trunc(x), the fractional part with the sign of x. dz/dx = 1 (between the jumps,
    and at them as PyTorch takes it)."""

    @staticmethod
    def forward(ctx, x):
        return x - np.trunc(x)

    @staticmethod
    def backward(ctx, gz):
        return (gz,)


class Where(ArrayFunction):
    """z = x where cond else y. The gradient goes to whichever side was chosen."""

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        ctx.shapes = (np.shape(x), np.shape(y))
        return np.where(cond, x, y)

    @staticmethod
    def backward(ctx, gz):
        (cond,) = ctx.saved
        sx, sy = ctx.shapes
        zero = gz.dtype.type(0)
        gx = unbroadcast(np.where(cond, gz, zero), sx) if ctx.needs_input_grad[1] else None
        gy = unbroadcast(np.where(cond, zero, gz), sy) if ctx.needs_input_grad[2] else None
        return None, gx, gy


class Cast(ArrayFunction):
    """z = x converted to another dtype; the gradient is converted back."""

    grad_fn_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, gz):
        return gz.astype(ctx.dtype), None


class Fill(ArrayFunction):
    """z = x with every element replaced by ``value`` (a number, or an array that broadcasts to
    x's shape): ``fill_``, ``zero_``, ``uniform_``. x's old values are gone: its gradient is 0."""

    grad_fn_name = "FillBackward2"  # PyTorch's name for fill_ with a number

    @staticmethod
    def forward(ctx, x, value):
        return np.full(x.shape, value, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gz):
        return np.zeros_like(gz), None


class CopyFrom(ArrayFunction):
    """z = src broadcast to x's shape and cast to x's dtype (``x.copy_(src)``). x's old values
    are gone: its gradient is 0; src's is the gradient summed back over the broadcast axes."""

    grad_fn_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, x, src):
        ctx.src_shape, ctx.src_dtype = src.shape, src.dtype
        z = np.empty(x.shape, dtype=x.dtype)
        z[...] = src
        return z

    @staticmethod
    def backward(ctx, gz):
        gx = np.zeros_like(gz) if ctx.needs_input_grad[0] else None
        gsrc = (unbroadcast(gz, ctx.src_shape).astype(ctx.src_dtype, copy=False)
                if ctx.needs_input_grad[1] else None)
        return gx, gsrc
