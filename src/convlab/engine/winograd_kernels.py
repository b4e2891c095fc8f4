"""Compiled Winograd F(4, 3) tile transforms in 2-D and 3-D: from the image to the transformed
tiles and back in one pass each (:mod:`.winograd` explains the algorithm; :mod:`.jit` the
kernels).

The NumPy path of :mod:`.winograd` makes the tiles in several passes over memory: a padded
copy of the input, a copy of every overlapping 6x6 tile, a Kronecker-matrix product and a copy
back into the products' layout; the output takes the same steps backwards. These kernels read
each input row where it lies (the padding is read as zeros, never written) and write the
transformed tiles straight into the layout the channel products want, ``(ξ, channel, tile)``,
``ξ = 6 a + b`` the transformed position and ``tile = (sample, tile row, tile column)``
flattened; the output kernel writes the 4x4 outputs of each tile into ``y`` where they belong,
cropped at the edges, with the bias added.

A 2-D transform ``Bᵀ d B`` is the 1-D transform ``Bᵀ`` along each axis in turn, so every
kernel takes a tile row at a time in two steps:

1. along the image's columns: ``Bᵀ`` of the 6 input rows, for every column at once (the
   inner loop runs along a row, contiguous in memory, and vectorizes);
2. along the rows: ``Bᵀ`` of 6 consecutive values of each of those 6 rows, for every tile.

The 1-D transforms are written out as the few additions they are (``_bt``, ``_at``,
``_gt``), from the matrices of ``winograd.matrices`` (the tests check that they agree): a loop
over the 6x6 matrix would spend a multiplication on each of its zeros. Measured on one core,
64 channels of 56x56: about 22 ns a tile for the input transform and 9 ns for the output,
against 134 ns (tile copy and transform) and 36 ns plus the scatter into ``y`` for NumPy.

The 3-D kernels add a first step along the depth, for each of the 6 rows a tile reads; their
``ξ = 36 a + 6 b + e`` follows the axes (depth, rows, columns) as the weights' transform does.

Tried and dropped: taking step 1 along the rows instead, so that step 2 runs over all the tiles
of an image in one loop (26 -> 39 ns a tile for 56x56, better only for 14x14 images).
"""

from __future__ import annotations

import numpy as np

from .jit import kernel

__all__ = ["input_tiles", "gy_tiles", "output_tiles", "input_tiles_3d", "gy_tiles_3d",
           "output_tiles_3d"]


@kernel
def _bt(d0, d1, d2, d3, d4, d5):
    """``Bᵀ d`` of F(4, 3): 6 inputs to 6 transformed values. (The constants take the inputs'
    type: a bare ``4`` would make numba compute a float32 tile in float64.)"""
    t = type(d0)
    two, four, five = t(2), t(4), t(5)
    return (four * d0 - five * d2 + d4,
            four * (d1 + d2) - (d3 + d4),
            four * (d2 - d1) + (d3 - d4),
            two * (d3 - d1) + (d4 - d2),
            two * (d1 - d3) + (d4 - d2),
            four * d1 - five * d3 + d5)


@kernel
def _at(m0, m1, m2, m3, m4, m5):
    """``Aᵀ m`` of F(4, 3): 6 products back to 4 outputs."""
    t = type(m0)
    s12, d12 = m1 + m2, m1 - m2
    s34, d34 = m3 + m4, m3 - m4
    return m0 + s12 + s34, d12 + t(2) * d34, s12 + t(4) * s34, d12 + t(8) * d34 + m5


@kernel
def _gt(g0, g1, g2, g3):
    """``G g`` of F(3, 4) (4 output gradients of a tile to 6 transformed values): the weight
    gradient's transform of ``gy``."""
    t = type(g0)
    s02, s13 = g0 + g2, g1 + g3
    e, o = g0 / t(24) + g2 / t(6), g1 / t(12) + g3 / t(3)
    return g0 / t(4), (s02 + s13) / t(6), (s02 - s13) / t(6), e + o, e - o, g3


@kernel
def input_tiles(x, pad_h, pad_w, TH, TW, V):
    """``V (36, C, n*TH*TW)``: ``Bᵀ d B`` of every 6x6 input tile ``d`` of ``x (n, C, H, W)``.

    Tile ``(th, tw)`` starts at input row ``4 th - pad_h`` and column ``4 tw - pad_w``;
    outside the input it reads zeros.
    """
    n, C, H, W = x.shape
    span = 4 * TW + 2  # the columns the tiles of a row read, padding included
    rows = np.zeros((6, span), V.dtype)  # step 1's result; the padding columns stay zero
    zero = np.zeros(W, x.dtype)
    lo, hi = max(0, pad_w), min(span, W + pad_w)  # the columns that lie in the input
    for s in range(n):
        for c in range(C):
            for th in range(TH):
                h = 4 * th - pad_h
                x0 = x[s, c, h] if 0 <= h < H else zero
                x1 = x[s, c, h + 1] if 0 <= h + 1 < H else zero
                x2 = x[s, c, h + 2] if 0 <= h + 2 < H else zero
                x3 = x[s, c, h + 3] if 0 <= h + 3 < H else zero
                x4 = x[s, c, h + 4] if 0 <= h + 4 < H else zero
                x5 = x[s, c, h + 5] if 0 <= h + 5 < H else zero
                for w in range(lo, hi):
                    u = w - pad_w
                    (rows[0, w], rows[1, w], rows[2, w], rows[3, w], rows[4, w],
                     rows[5, w]) = _bt(x0[u], x1[u], x2[u], x3[u], x4[u], x5[u])
                t0 = (s * TH + th) * TW
                for a in range(6):
                    r = rows[a]
                    for tw in range(TW):
                        w, t = 4 * tw, t0 + tw
                        (V[6 * a, c, t], V[6 * a + 1, c, t], V[6 * a + 2, c, t],
                         V[6 * a + 3, c, t], V[6 * a + 4, c, t], V[6 * a + 5, c, t]) = _bt(
                            r[w], r[w + 1], r[w + 2], r[w + 3], r[w + 4], r[w + 5])


@kernel
def gy_tiles(gy, TH, TW, Z):
    """``Z (36, K, n*TH*TW)``: ``G g Gᵀ`` (of F(3, 4)) of every 4x4 tile ``g`` of ``gy (n, K,
    OH, OW)``; the tiles do not overlap, and past the end of ``gy`` they read zeros."""
    n, K, OH, OW = gy.shape
    span = 4 * TW
    rows = np.zeros((6, span), Z.dtype)
    zero = np.zeros(OW, gy.dtype)
    for s in range(n):
        for k in range(K):
            for th in range(TH):
                h = 4 * th
                g0 = gy[s, k, h]
                g1 = gy[s, k, h + 1] if h + 1 < OH else zero
                g2 = gy[s, k, h + 2] if h + 2 < OH else zero
                g3 = gy[s, k, h + 3] if h + 3 < OH else zero
                for w in range(OW):
                    (rows[0, w], rows[1, w], rows[2, w], rows[3, w], rows[4, w],
                     rows[5, w]) = _gt(g0[w], g1[w], g2[w], g3[w])
                t0 = (s * TH + th) * TW
                for a in range(6):
                    r = rows[a]
                    for tw in range(TW):
                        w, t = 4 * tw, t0 + tw
                        (Z[6 * a, k, t], Z[6 * a + 1, k, t], Z[6 * a + 2, k, t],
                         Z[6 * a + 3, k, t], Z[6 * a + 4, k, t], Z[6 * a + 5, k, t]) = _gt(
                            r[w], r[w + 1], r[w + 2], r[w + 3])


@kernel
def output_tiles(Mt, b, TH, TW, y):
    """``y (n, K, OH, OW)`` from the channel products ``Mt (36, K, n*TH*TW)``: ``Aᵀ m A + b``
    of every tile, its 4x4 outputs put in place and cropped at the bottom and right edges."""
    n, K, OH, OW = y.shape
    T = TH * TW
    # step 1, Aᵀ along the rows: rows[a, th, 4 tw + q] for tile (th, tw), row a of its
    # transformed values; tile f = th TW + tw puts its 4 values at 4 f, one loop over all tiles
    rows = np.empty((6, 4 * T), Mt.dtype)
    out = np.empty((4, 4 * TW), y.dtype)  # step 2: a tile row's 4 output rows, uncropped
    for s in range(n):
        for k in range(K):
            t0 = s * T
            for a in range(6):
                m0, m1, m2 = Mt[6 * a, k], Mt[6 * a + 1, k], Mt[6 * a + 2, k]
                m3, m4, m5 = Mt[6 * a + 3, k], Mt[6 * a + 4, k], Mt[6 * a + 5, k]
                r = rows[a]
                for f in range(T):
                    t = t0 + f
                    r[4 * f], r[4 * f + 1], r[4 * f + 2], r[4 * f + 3] = _at(
                        m0[t], m1[t], m2[t], m3[t], m4[t], m5[t])
            # step 2, Aᵀ along the columns, a tile row at a time: its 4 output rows, then those
            # that lie in y
            bias = b[k]
            for th in range(TH):
                w0 = th * 4 * TW
                for w in range(OW):
                    out[0, w], out[1, w], out[2, w], out[3, w] = _at(
                        rows[0, w0 + w], rows[1, w0 + w], rows[2, w0 + w], rows[3, w0 + w],
                        rows[4, w0 + w], rows[5, w0 + w])
                h = 4 * th
                for i in range(min(4, OH - h)):
                    yr = y[s, k, h + i]
                    for w in range(OW):
                        yr[w] = out[i, w] + bias


@kernel
def input_tiles_3d(x, pad_d, pad_h, pad_w, TD, TH, TW, V):
    """The 3-D :func:`input_tiles`: ``V (216, C, n*TD*TH*TW)``, ``ξ = 36 a + 6 b + e`` for
    the transformed positions along depth, rows and columns, from ``x (n, C, D, H, W)``.

    Per tile row: ``Bᵀ`` along the depth for the 6x6 input rows, then along the rows, both for
    every column at once; then along the columns, tile by tile.
    """
    n, C, D, H, W = x.shape
    span = 4 * TW + 2
    depth = np.zeros((6, 6, span), V.dtype)  # [a, row i, column]: step 1 (padding stays zero)
    rows = np.empty((6, 6, span), V.dtype)  # [a, b, column]: step 2
    zero = np.zeros(W, x.dtype)
    lo, hi = max(0, pad_w), min(span, W + pad_w)
    for s in range(n):
        for c in range(C):
            for td in range(TD):
                d = 4 * td - pad_d
                for th in range(TH):
                    for i in range(6):
                        h = 4 * th - pad_h + i
                        ok = 0 <= h < H
                        x0 = x[s, c, d, h] if ok and 0 <= d < D else zero
                        x1 = x[s, c, d + 1, h] if ok and 0 <= d + 1 < D else zero
                        x2 = x[s, c, d + 2, h] if ok and 0 <= d + 2 < D else zero
                        x3 = x[s, c, d + 3, h] if ok and 0 <= d + 3 < D else zero
                        x4 = x[s, c, d + 4, h] if ok and 0 <= d + 4 < D else zero
                        x5 = x[s, c, d + 5, h] if ok and 0 <= d + 5 < D else zero
                        for w in range(lo, hi):
                            u = w - pad_w
                            (depth[0, i, w], depth[1, i, w], depth[2, i, w], depth[3, i, w],
                             depth[4, i, w], depth[5, i, w]) = _bt(x0[u], x1[u], x2[u], x3[u],
                                                                   x4[u], x5[u])
                    for a in range(6):
                        p = depth[a]
                        for w in range(span):
                            (rows[a, 0, w], rows[a, 1, w], rows[a, 2, w], rows[a, 3, w],
                             rows[a, 4, w], rows[a, 5, w]) = _bt(p[0, w], p[1, w], p[2, w],
                                                                 p[3, w], p[4, w], p[5, w])
                    t0 = ((s * TD + td) * TH + th) * TW
                    for a in range(6):
                        for b in range(6):
                            r = rows[a, b]
                            k = 36 * a + 6 * b
                            for tw in range(TW):
                                w, t = 4 * tw, t0 + tw
                                (V[k, c, t], V[k + 1, c, t], V[k + 2, c, t], V[k + 3, c, t],
                                 V[k + 4, c, t], V[k + 5, c, t]) = _bt(
                                    r[w], r[w + 1], r[w + 2], r[w + 3], r[w + 4], r[w + 5])


@kernel
def gy_tiles_3d(gy, TD, TH, TW, Z):
    """The 3-D :func:`gy_tiles`: ``Z (216, K, n*TD*TH*TW)`` from ``gy (n, K, OD, OH, OW)``."""
    n, K, OD, OH, OW = gy.shape
    span = 4 * TW
    depth = np.zeros((6, 4, span), Z.dtype)  # [a, row i, column]; past OW stays zero
    rows = np.empty((6, 6, span), Z.dtype)
    zero = np.zeros(OW, gy.dtype)
    for s in range(n):
        for k in range(K):
            for td in range(TD):
                d = 4 * td
                for th in range(TH):
                    for i in range(4):
                        h = 4 * th + i
                        ok = h < OH
                        g0 = gy[s, k, d, h] if ok else zero
                        g1 = gy[s, k, d + 1, h] if ok and d + 1 < OD else zero
                        g2 = gy[s, k, d + 2, h] if ok and d + 2 < OD else zero
                        g3 = gy[s, k, d + 3, h] if ok and d + 3 < OD else zero
                        for w in range(OW):
                            (depth[0, i, w], depth[1, i, w], depth[2, i, w], depth[3, i, w],
                             depth[4, i, w], depth[5, i, w]) = _gt(g0[w], g1[w], g2[w], g3[w])
                    for a in range(6):
                        p = depth[a]
                        for w in range(span):
                            (rows[a, 0, w], rows[a, 1, w], rows[a, 2, w], rows[a, 3, w],
                             rows[a, 4, w], rows[a, 5, w]) = _gt(p[0, w], p[1, w], p[2, w],
                                                                 p[3, w])
                    t0 = ((s * TD + td) * TH + th) * TW
                    for a in range(6):
                        for b in range(6):
                            r = rows[a, b]
                            q = 36 * a + 6 * b
                            for tw in range(TW):
                                w, t = 4 * tw, t0 + tw
                                (Z[q, k, t], Z[q + 1, k, t], Z[q + 2, k, t], Z[q + 3, k, t],
                                 Z[q + 4, k, t], Z[q + 5, k, t]) = _gt(r[w], r[w + 1], r[w + 2],
                                                                       r[w + 3])


@kernel
def output_tiles_3d(Mt, b, TD, TH, TW, y):
    """The 3-D :func:`output_tiles`: ``y (n, K, OD, OH, OW)`` from ``Mt (216, K, n*TD*TH*TW)``,
    cropped, bias added."""
    n, K, OD, OH, OW = y.shape
    cols = np.empty((6, 6, 4 * TW), Mt.dtype)  # [a, b, column]: Aᵀ along the columns
    rows = np.empty((6, 4, 4 * TW), Mt.dtype)  # [a, output row, column]: then along the rows
    out = np.empty((4, 4 * TW), y.dtype)  # [output depth, column]: then along the depth
    for s in range(n):
        for k in range(K):
            bias = b[k]
            for td in range(TD):
                for th in range(TH):
                    t0 = ((s * TD + td) * TH + th) * TW
                    for a in range(6):
                        for bb in range(6):
                            q = 36 * a + 6 * bb
                            r = cols[a, bb]
                            for tw in range(TW):
                                t, w = t0 + tw, 4 * tw
                                r[w], r[w + 1], r[w + 2], r[w + 3] = _at(
                                    Mt[q, k, t], Mt[q + 1, k, t], Mt[q + 2, k, t],
                                    Mt[q + 3, k, t], Mt[q + 4, k, t], Mt[q + 5, k, t])
                        p = cols[a]
                        for w in range(OW):
                            rows[a, 0, w], rows[a, 1, w], rows[a, 2, w], rows[a, 3, w] = _at(
                                p[0, w], p[1, w], p[2, w], p[3, w], p[4, w], p[5, w])
                    for i in range(min(4, OH - 4 * th)):
                        for w in range(OW):
                            out[0, w], out[1, w], out[2, w], out[3, w] = _at(
                                rows[0, i, w], rows[1, i, w], rows[2, i, w], rows[3, i, w],
                                rows[4, i, w], rows[5, i, w])
                        for j in range(min(4, OD - 4 * td)):
                            yr = y[s, k, 4 * td + j, 4 * th + i]
                            for w in range(OW):
                                yr[w] = out[j, w] + bias
