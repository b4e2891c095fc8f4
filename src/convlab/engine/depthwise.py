"""Depthwise convolution (``groups == C_in``, one input channel per group) as a sum over taps.

Each output channel reads one input channel, so there is no channel sum to hand to a matrix
product: im2col would copy ``prod(K)`` values per output for one multiply-add each. Direct code
does the multiply-adds on strided views of the padded input, one kernel tap at a time::

    y[n, c, j, o] = Σ_t w[c, j, t] · x_padded[n, c, o*s + t*d]       (j < C_out / C_in)

The input gradient scatters the same products back (overlapping windows add up), and the
weight gradient is, per tap, the dot product of ``gy`` with that tap's view of the input. The
work goes in chunks of samples whose arrays stay in the CPU's cache across the taps.

With stride 1, a tap's view is one contiguous run of the flattened padded input: output ``o``
and tap ``k`` read flat position ``Σ_a (o_a + k_a d_a) · st_a`` (``st_a`` the flat stride of
axis ``a``), i.e. the output's flat position plus an offset per tap. So the output is computed
on the padded grid (a few junk columns past each row's end, cut at the end) with 1-D slices,
which NumPy walks much faster than N-d strided views.
"""

from __future__ import annotations

import math

import numpy as np

from .geometry import ConvGeometry
from .im2col import add_bias
from .parallel import map_chunks, split

__all__ = ["supports", "conv_forward", "conv_input_grad", "conv_weight_grad"]

CHUNK_BYTES = 1 << 20


def supports(G: ConvGeometry) -> bool:
    """One input channel per group: ``groups == C_in``."""
    return G.groups == G.in_channels


def _chunks(N: int, per_sample_bytes: int) -> list[slice]:
    """The batch in chunks of about CHUNK_BYTES, which run side by side (:mod:`.parallel`)."""
    return split(N, per_sample_bytes, CHUNK_BYTES)


def _padded(x: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``x (n, C, *S)`` inside zeros: ``(n, C, *(p_lo + S + p_hi))``; ``x`` itself if unpadded."""
    if all(lo == 0 and hi == 0 for lo, hi in G.padding):
        return x
    xp = np.zeros(x.shape[:2] + tuple(i + lo + hi for i, (lo, hi) in zip(G.in_size, G.padding)),
                  dtype=x.dtype)
    xp[(..., *(slice(lo, lo + i) for i, lo in zip(G.in_size, G.pad_lo)))] = x
    return xp


def _taps(G: ConvGeometry):
    """Per kernel tap: its flat index and the slices of the padded input it reads."""
    for t, k in enumerate(np.ndindex(*G.kernel_size)):
        yield t, (..., *(slice(k_a * d, k_a * d + (o - 1) * s + 1, s)
                         for k_a, d, o, s in zip(k, G.dilation, G.out_size, G.stride)))


def _split(w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``(C_out, 1, *K) -> (C_in, mult, prod(K), 1, ..., 1)``: broadcasts over ``(n, C, mult, *O)``."""
    mult = G.out_channels // G.in_channels
    return w.reshape(G.in_channels, mult, math.prod(G.kernel_size), *(1,) * G.nd)


def _grid(G: ConvGeometry):
    """Stride-1 flat layout: the padded sizes ``P``, the grid length ``L`` (the output's first
    axis times the padded other axes), and each tap's offset in the flattened padded input."""
    P = tuple(i + lo + hi for i, (lo, hi) in zip(G.in_size, G.padding))
    st = [math.prod(P[a + 1:]) for a in range(G.nd)]
    L = G.out_size[0] * st[0]
    offsets = [sum(k_a * d * s for k_a, d, s in zip(k, G.dilation, st))
               for k in np.ndindex(*G.kernel_size)]
    return P, L, offsets


def _flat_padded(x: np.ndarray, G: ConvGeometry, P, L: int, offsets) -> np.ndarray:
    """``x (n, C, *S)`` padded and flattened, ``(n, C, L + max offset)``, zeros past the end."""
    flat = np.zeros(x.shape[:2] + (max(L + offsets[-1], math.prod(P)),), dtype=x.dtype)
    grid = flat[:, :, :math.prod(P)].reshape(x.shape[:2] + P)
    grid[(..., *(slice(lo, lo + i) for i, lo in zip(G.in_size, G.pad_lo)))] = x
    return flat


def _on_grid(a: np.ndarray, G: ConvGeometry, P) -> np.ndarray:
    """``(n, C, *O) -> (n, C, L)``: ``a`` placed on the flat grid, zeros in the junk columns."""
    out = np.zeros(a.shape[:2] + G.out_size[:1] + P[1:], dtype=a.dtype)
    out[(..., *(slice(0, o) for o in G.out_size))] = a
    return out.reshape(a.shape[:2] + (-1,))


def _off_grid(a: np.ndarray, G: ConvGeometry, P) -> np.ndarray:
    """``(n, C, L) -> (n, C, *O)``: the junk columns dropped."""
    a = a.reshape(a.shape[:2] + G.out_size[:1] + P[1:])
    return a[(..., *(slice(0, o) for o in G.out_size))]


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O)`` from ``x (N, C_in, *S)`` and ``w (C_out, 1, *K)``, plus ``b (C_out,)``
    where given (chunk by chunk, while the chunk is in cache)."""
    N, C = x.shape[:2]
    mult = G.out_channels // C
    wt = _split(w, G)
    y = np.empty((N, C, mult, *G.out_size), dtype=x.dtype)
    P, L, offsets = _grid(G)

    def flat(ns: slice) -> None:
        xp = _flat_padded(x[ns], G, P, L, offsets)[:, :, None]  # (n, C, 1, L + max offset)
        yc = np.empty((len(xp), C, mult, L), dtype=x.dtype)
        tmp = np.empty_like(yc)
        for t, off in enumerate(offsets):
            np.multiply(xp[..., off:off + L], wt.reshape(C, mult, -1, 1)[:, :, t], out=yc if t == 0 else tmp)
            if t:
                yc += tmp
        y[ns] = _off_grid(yc.reshape(len(xp), C * mult, L), G, P).reshape(yc.shape[:3] + G.out_size)
        add_bias(y[ns].reshape(len(xp), C * mult, *G.out_size), b)

    def strided(ns: slice) -> None:
        xp = _padded(x[ns], G)[:, :, None]  # (n, C, 1, *P)
        yc, tmp = y[ns], np.empty_like(y[ns])
        for t, window in _taps(G):
            np.multiply(xp[window], wt[:, :, t], out=yc if t == 0 else tmp)
            if t:
                yc += tmp
        add_bias(yc.reshape(len(yc), C * mult, *G.out_size), b)

    if all(s == 1 for s in G.stride):
        map_chunks(flat, _chunks(N, C * mult * L * x.itemsize))
    else:
        map_chunks(strided, _chunks(N, C * mult * math.prod(G.out_size) * x.itemsize))
    return y.reshape(N, G.out_channels, *G.out_size)


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)``: every tap's ``w · gy`` added back into its window, padding cut."""
    N = gy.shape[0]
    C = G.in_channels
    mult = G.out_channels // C
    wt = _split(w, G)
    gx = np.empty((N, C, *G.in_size), dtype=gy.dtype)
    P, L, offsets = _grid(G)
    inner = (..., *(slice(lo, lo + i) for i, lo in zip(G.in_size, G.pad_lo)))
    gy_split = gy.reshape(N, C, mult, *G.out_size)

    def flat(ns: slice) -> None:
        g = _on_grid(gy[ns], G, P).reshape(-1, C, mult, L)  # (n, C, mult, L)
        gxp = np.zeros((len(g), C, max(L + offsets[-1], math.prod(P))), dtype=gy.dtype)
        tmp = np.empty_like(g)
        for t, off in enumerate(offsets):
            np.multiply(g, wt.reshape(C, mult, -1, 1)[:, :, t], out=tmp)
            gxp[..., off:off + L] += tmp.sum(axis=2) if mult > 1 else tmp[:, :, 0]
        gx[ns] = gxp[..., :math.prod(P)].reshape((len(g), C) + P)[inner]

    def strided(ns: slice) -> None:
        g = gy_split[ns]
        gxp = np.zeros((len(g), C, *P), dtype=gy.dtype)
        tmp = np.empty_like(g)
        for t, window in _taps(G):
            np.multiply(g, wt[:, :, t], out=tmp)
            gxp[window] += tmp.sum(axis=2) if mult > 1 else tmp[:, :, 0]
        gx[ns] = gxp[inner]

    chunks = _chunks(N, C * math.prod(P) * gy.itemsize)
    map_chunks(flat if all(s == 1 for s in G.stride) else strided, chunks)
    return gx


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, 1, *K)``: per tap, ``gy`` dotted with the tap's view of the input over the
    batch and every output position (``np.vecdot`` over the last axis)."""
    N, C = x.shape[:2]
    mult = G.out_channels // C
    taps = math.prod(G.kernel_size)
    P, L, offsets = _grid(G)
    gy_split = gy.reshape(N, C, mult, -1)  # (N, C, mult, prod(O))

    def flat(ns: slice) -> np.ndarray:
        xp = _flat_padded(x[ns], G, P, L, offsets)[:, :, None]  # (n, C, 1, L + max offset)
        g = _on_grid(gy[ns], G, P).reshape(-1, C, mult, L)
        return np.stack([np.vecdot(g, xp[..., off:off + L]).sum(axis=0) for off in offsets], -1)

    def strided(ns: slice) -> np.ndarray:
        xp = _padded(x[ns], G)
        views = (xp[window].reshape(len(xp), C, 1, -1) for _, window in _taps(G))  # copies if strided
        return np.stack([np.vecdot(gy_split[ns], v).sum(axis=0) for v in views], -1)

    if all(s == 1 for s in G.stride):
        parts = map_chunks(flat, _chunks(N, C * mult * L * x.itemsize))
    else:
        parts = map_chunks(strided, _chunks(N, C * mult * math.prod(G.out_size) * x.itemsize))
    gw = sum(parts, np.zeros((C, mult, taps), dtype=x.dtype))  # (C, mult, taps)
    return gw.reshape(G.out_channels, 1, *G.kernel_size)
