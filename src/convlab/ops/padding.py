"""The differentiable pad: constant, reflect, replicate and circular, any number of trailing axes."""

from __future__ import annotations

from ..autograd.graph import ArrayFunction
from ..engine import padding as engine

__all__ = ["Pad"]


class Pad(ArrayFunction):
    """``y = pad(x)`` along the last ``len(widths)`` axes (see :mod:`convlab.engine.padding`).

    ``widths`` holds one ``(lo, hi)`` pair per padded axis, in axis order; negative widths crop.

    Backward, the adjoint of each mode: ``constant`` slices the gradient over the copied block
    (pad ↔ slice); the others sum every output gradient back into the input element it was read
    from, so mirrored, replicated or wrapped copies add onto their source.

    Shape: ``x (*B, *I)`` -> ``y (*B, *(lo + I + hi))``.
    """

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        ctx.input_shape, ctx.widths, ctx.mode = x.shape, widths, mode
        return engine.pad(x, widths, mode, value)

    @staticmethod
    def backward(ctx, gy):
        return engine.pad_backward(gy, ctx.input_shape, ctx.widths, ctx.mode), None, None, None
