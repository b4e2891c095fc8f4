"""Convolution as plain loops that read like the formula: the executable specification.

For any number of spatial dimensions, with ``G`` a :class:`~convlab.engine.geometry.ConvGeometry`
(cross-correlation, as PyTorch)::

    y[n, co, o] = sum over c < C_in/groups, k < K of
                  w[co, c, k] * x[n, group(co)*C_in/groups + c, o*stride - pad_lo + k*dilation]

where an input position outside ``x`` reads zero (padding), and ``o*stride - pad_lo +
k*dilation`` is taken per axis. The two gradients are the same sum read the other way round: the
input gradient scatters ``gy[n, co, o] * w[co, c, k]`` back to that input position (a transposed
convolution), the weight gradient accumulates ``gy[n, co, o] * x[n, c, position]``.

Slow on purpose: the loops run over output channels, output positions and kernel taps, with
only the batch and the channels of a group vectorized. The fast algorithms are tested against
these functions; ``explain`` traces them.
"""

from __future__ import annotations

import numpy as np

from .geometry import ConvGeometry

__all__ = ["conv_forward", "conv_input_grad", "conv_weight_grad", "taps"]


def taps(G: ConvGeometry, o: tuple[int, ...]):
    """The kernel taps ``k`` of output position ``o`` that land inside the input, with the
    input position each reads: ``pos = o*stride - pad_lo + k*dilation`` per axis."""
    for k in np.ndindex(*G.kernel_size):
        pos = tuple(o_a * s - lo + k_a * d for o_a, s, lo, k_a, d
                    in zip(o, G.stride, G.pad_lo, k, G.dilation))
        if all(0 <= p < i for p, i in zip(pos, G.in_size)):
            yield k, pos


def _group_channels(G: ConvGeometry, co: int) -> slice:
    """The input channels that output channel ``co`` reads."""
    C_g = G.in_channels // G.groups
    g = co // (G.out_channels // G.groups)
    return slice(g * C_g, (g + 1) * C_g)


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O)`` from ``x (N, C_in, *S)`` and ``w (C_out, C_in/groups, *K)``, plus
    ``b (C_out,)`` where given."""
    N = x.shape[0]
    y = np.zeros((N, G.out_channels, *G.out_size), dtype=x.dtype)
    for co in range(G.out_channels):
        cs = _group_channels(G, co)
        for o in np.ndindex(*G.out_size):
            for k, pos in taps(G, o):
                y[(slice(None), co, *o)] += x[(slice(None), cs, *pos)] @ w[(co, slice(None), *k)]
        if b is not None:
            y[:, co] += b[co]
    return y


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)`` from ``gy (N, C_out, *O)``: the transposed convolution."""
    N = gy.shape[0]
    gx = np.zeros((N, G.in_channels, *G.in_size), dtype=gy.dtype)
    for co in range(G.out_channels):
        cs = _group_channels(G, co)
        for o in np.ndindex(*G.out_size):
            for k, pos in taps(G, o):
                gx[(slice(None), cs, *pos)] += np.multiply.outer(gy[(slice(None), co, *o)],
                                                                 w[(co, slice(None), *k)])
    return gx


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, C_in/groups, *K)``: ``x`` correlated with ``gy`` over batch and space."""
    gw = np.zeros((G.out_channels, G.in_channels // G.groups, *G.kernel_size), dtype=x.dtype)
    for co in range(G.out_channels):
        cs = _group_channels(G, co)
        for o in np.ndindex(*G.out_size):
            for k, pos in taps(G, o):
                gw[(co, slice(None), *k)] += gy[(slice(None), co, *o)] @ x[(slice(None), cs, *pos)]
    return gw
