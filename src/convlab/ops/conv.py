"""Differentiable convolution ops: convolution, transposed convolution, unfold and fold.

Each forward calls the engine on ndarrays with a checked
:class:`~convlab.engine.geometry.ConvGeometry`; each backward is the adjoint on the same engine:
conv ↔ transposed conv for the input, a correlation of input and output gradient for the
weight, a sum for the bias, im2col ↔ col2im for unfold and fold. An unbatched input
``(C, *S)`` runs as a batch of one.
"""

from __future__ import annotations

import numpy as np

from ..autograd.graph import ArrayFunction
from ..engine import conv as engine
from ..engine.geometry import ConvGeometry

__all__ = ["Conv", "ConvTranspose", "Unfold", "Fold"]


def _batched(x: np.ndarray, batched: bool) -> np.ndarray:
    return x if batched else x[None]  # (C, *S) -> (1, C, *S)


def _unbatched(y: np.ndarray, batched: bool) -> np.ndarray:
    return y if batched else y[0]  # (1, C, *S) -> (C, *S)


class Conv(ArrayFunction):
    """``y = x ⋆ w + b``, cross-correlation as in PyTorch.

    Shape: ``x (N, C_in, *S)`` or ``(C_in, *S)``, ``w (C_out, C_in/groups, *K)``, ``b (C_out,)``
    or None, ``y (N, C_out, *O)`` (``O`` from the geometry's formula).

    Backward: ``gx`` is the transposed convolution of ``gy`` with ``w``, ``gw`` the correlation
    of ``x`` with ``gy``, ``gb`` the sum of ``gy`` over batch and space.
    """

    @staticmethod
    def forward(ctx, x, w, b, G: ConvGeometry):
        ctx.G, ctx.batched = G, x.ndim == G.nd + 2
        x = _batched(x, ctx.batched)
        ctx.save_for_backward(x, w)
        return _unbatched(engine.conv_forward(x, w, G, b), ctx.batched)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        gy = _batched(gy, ctx.batched)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        # the small weight gradient first: its temporaries are gone before gx (as large as
        # the input) is made, which lowers a step's peak (ResNet-18, batch 32: by 2 MB)
        gw = engine.conv_weight_grad(x, gy, ctx.G) if need_w else None
        gx = _unbatched(engine.conv_input_grad(gy, w, ctx.G), ctx.batched) if need_x else None
        gb = engine.bias_grad(gy) if need_b else None
        return gx, gw, gb, None


class ConvTranspose(ArrayFunction):
    """The transposed convolution of the convolution with geometry ``G``, plus ``b``.

    Shape: ``x (N, C_in, *I)`` or unbatched, ``w (C_in, C_out/groups, *K)``, ``b (C_out,)`` or
    None, ``y (N, C_out, *O)`` with ``O = (I-1)*s - 2p + d*(k-1) + output_padding + 1``.

    Backward: ``gx`` is the convolution ``G`` of ``gy``, ``gw`` the correlation of ``gy`` with
    ``x``, ``gb`` the sum of ``gy`` over batch and space.
    """

    @staticmethod
    def forward(ctx, x, w, b, G: ConvGeometry):
        ctx.G, ctx.batched = G, x.ndim == G.nd + 2
        x = _batched(x, ctx.batched)
        ctx.save_for_backward(x, w)
        return _unbatched(engine.conv_transpose_forward(x, w, G, b), ctx.batched)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved
        gy = _batched(gy, ctx.batched)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gw = engine.conv_transpose_weight_grad(x, gy, ctx.G) if need_w else None  # first: see Conv
        gx = (_unbatched(engine.conv_transpose_input_grad(gy, w, ctx.G), ctx.batched)
              if need_x else None)
        gb = engine.bias_grad(gy) if need_b else None
        return gx, gw, gb, None


class Unfold(ArrayFunction):
    """im2col: ``(N, C, *S) -> (N, C*prod(K), L)`` (or unbatched); backward is col2im (fold)."""

    @staticmethod
    def forward(ctx, x, G: ConvGeometry):
        ctx.G, ctx.batched = G, x.ndim == G.nd + 2
        return _unbatched(engine.unfold(_batched(x, ctx.batched), G), ctx.batched)

    @staticmethod
    def backward(ctx, gy):
        return _unbatched(engine.fold(_batched(gy, ctx.batched), ctx.G), ctx.batched), None


class Fold(ArrayFunction):
    """col2im: ``(N, C*prod(K), L) -> (N, C, *S)`` (or unbatched), overlapping blocks summed;
    backward is im2col (unfold). ``G`` is the geometry of the unfold it inverts."""

    @staticmethod
    def forward(ctx, cols, G: ConvGeometry):
        ctx.G, ctx.batched = G, cols.ndim == 3
        return _unbatched(engine.fold(_batched(cols, ctx.batched), G), ctx.batched)

    @staticmethod
    def backward(ctx, gy):
        return _unbatched(engine.unfold(_batched(gy, ctx.batched), ctx.G), ctx.batched), None
