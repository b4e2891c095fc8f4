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
of an image in one loop (26 -> 39 ns a tile for 56x56, better only for 14x14 images). Also
(one core, float32, the kernel alone, interleaved in one process, ns a tile and channel):
step 2 of :func:`input_tiles` over a whole image in one loop, its tile rows 4 (TW + 1) values
apart in a buffer of the image's step 1 (an extra, unused tile a row), written into ``V`` with
that extra tile (so the products would carry it) 28x28 22 -> 31, 56x56 20 -> 21-25; the same
with step 1's columns first copied apart (every 4th column a row of its own, so that step 2
reads and writes whole rows) 22 -> 36; written through a buffer and copied into ``V`` 22 ->
46; step 2 written out 4 tiles at a time 22 -> 40; each of a tile row's six rows of ``V``
taken as a slice of its own: level. :func:`output_tiles` a tile at a time (36 loads, 16
outputs into ``y``): 28x28 20 -> 30, 56x56 11.5 -> 28. The products of
:func:`correlate_chunks` by compiled loops in place of the BLAS (channels 4 or 8 at a time):
16x16 by 16x49, 0.62-0.90 -> 1.0-1.7 us. The weights' transform (:func:`transform_weights`) as
``G`` along each axis in a compiled loop: 128 -> 128 channels 0.31 -> 0.44 ms, 256 1.7 -> 2.2.
A chunk of :func:`correlate_chunks` a group at a time (its input tiles, products and outputs
before the next group's, in the cache together), 8 groups of 16 channels of 28x28, a sample a
chunk: 7.45-7.66 -> 7.55-8.1 ms for 16 samples; chunks of 2 samples (``CHUNK_BYTES`` 2 MiB):
level.

The last part of the file puts these transforms and the channel products together on the
engine's threads (:mod:`.jit`'s threaded kernels, which start a loop in microseconds):

- :func:`correlate_chunks` and :func:`weight_grad_chunks` take a batch cut into chunks of
  samples, one chunk per iteration of a parallel loop; each chunk goes from the image to its
  result in compiled code (transforms, then one product per transformed position in NumPy's
  one-thread BLAS, :func:`.blas.dot`), with its temporaries small enough to stay in the cache;
- a batch of one chunk has nothing to run beside it, so :func:`correlate_stages` and
  :func:`weight_grad_stages` take it stage by stage, each stage a parallel loop on all
  threads: the transforms share the channels, the products the positions ``ξ``;
- the gradients of such a batch in 2-D, :func:`correlate_rows` and :func:`weight_grad_rows`,
  go through the same stages a row of 6 positions ``ξ = 6 a + b`` at a time, with a sixth of
  the temporaries (:func:`input_tiles_row`, :func:`gy_tiles_row`, :func:`output_tiles_row`).

They hold the transformed tiles as :func:`tile_rows`, one row per position ``ξ``, and work in
2-D and 3-D alike (the number of axes of the image picks the kernel).
"""

from __future__ import annotations

import numpy as np

from . import blas
from .jit import kernel, prange

__all__ = ["input_tiles", "gy_tiles", "output_tiles", "output_tiles_small", "input_tiles_3d",
           "gy_tiles_3d", "output_tiles_3d", "input_tiles_row", "gy_tiles_row", "output_tiles_row",
           "TILE_ROW_PAD", "tile_rows", "correlate_chunks", "weight_grad_chunks",
           "correlate_stages", "weight_grad_stages", "correlate_rows", "weight_grad_rows",
           "transform_weights"]

# The arrays of transformed tiles put this many values between their rows (see tile_rows).
TILE_ROW_PAD = 16


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
def input_tiles(x, pad_h, pad_w, TH, TW, V, c0, c1):
    """``V (36, C, n*TH*TW)``: ``Bᵀ d B`` of every 6x6 input tile ``d`` of ``x (n, C, H, W)``,
    in the channels ``c0 .. c1`` (the others left as they are: threads share the channels).

    Tile ``(th, tw)`` starts at input row ``4 th - pad_h`` and column ``4 tw - pad_w``;
    outside the input it reads zeros.

    Step 1 reads and writes 1-D slices of the columns that lie in the input, its loop
    starting at 0: written as ``rows[a, w]`` for ``w`` in ``range(lo, hi)`` reading ``x0[w -
    pad_w]`` it compiled to scalar code (no vector instruction in its machine code). Measured
    on one core, float32, the kernel alone, before -> after (ns a tile and channel): 28x28
    images 29-30 -> 22, 56x56 28.5 -> 20, 3 channels of 32x32 29 -> 21; 14x14 and 8x8 level
    (their rows are short). Step 2 stays a loop over a tile row's tiles: written into
    contiguous slices of the tile rows it was slower (28x28 23, 8x8 54 against 38).
    """
    n, H, W = x.shape[0], x.shape[2], x.shape[3]
    span = 4 * TW + 2  # the columns the tiles of a row read, padding included
    rows = np.zeros((6, span), V.dtype)  # step 1's result; the padding columns stay zero
    lo, hi = max(0, pad_w), min(span, W + pad_w)  # the columns that lie in the input
    m, u0 = max(0, hi - lo), lo - pad_w
    zero = np.zeros(m, x.dtype)
    r0, r1, r2 = rows[0, lo:lo + m], rows[1, lo:lo + m], rows[2, lo:lo + m]
    r3, r4, r5 = rows[3, lo:lo + m], rows[4, lo:lo + m], rows[5, lo:lo + m]
    for s in range(n):
        for c in range(c0, c1):
            for th in range(TH):
                h = 4 * th - pad_h
                x0 = x[s, c, h, u0:u0 + m] if 0 <= h < H else zero
                x1 = x[s, c, h + 1, u0:u0 + m] if 0 <= h + 1 < H else zero
                x2 = x[s, c, h + 2, u0:u0 + m] if 0 <= h + 2 < H else zero
                x3 = x[s, c, h + 3, u0:u0 + m] if 0 <= h + 3 < H else zero
                x4 = x[s, c, h + 4, u0:u0 + m] if 0 <= h + 4 < H else zero
                x5 = x[s, c, h + 5, u0:u0 + m] if 0 <= h + 5 < H else zero
                for w in range(m):
                    r0[w], r1[w], r2[w], r3[w], r4[w], r5[w] = _bt(x0[w], x1[w], x2[w], x3[w],
                                                                   x4[w], x5[w])
                t0 = (s * TH + th) * TW
                for a in range(6):
                    r = rows[a]
                    for tw in range(TW):
                        w, t = 4 * tw, t0 + tw
                        (V[6 * a, c, t], V[6 * a + 1, c, t], V[6 * a + 2, c, t],
                         V[6 * a + 3, c, t], V[6 * a + 4, c, t], V[6 * a + 5, c, t]) = _bt(
                            r[w], r[w + 1], r[w + 2], r[w + 3], r[w + 4], r[w + 5])


@kernel
def gy_tiles(gy, TH, TW, Z, k0, k1):
    """``Z (36, K, n*TH*TW)``: ``G g Gᵀ`` (of F(3, 4)) of every 4x4 tile ``g`` of ``gy (n, K,
    OH, OW)``, in the channels ``k0 .. k1``; the tiles do not overlap, and past the end of ``gy``
    they read zeros."""
    n, OH, OW = gy.shape[0], gy.shape[2], gy.shape[3]
    span = 4 * TW
    rows = np.zeros((6, span), Z.dtype)
    zero = np.zeros(OW, gy.dtype)
    for s in range(n):
        for k in range(k0, k1):
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
def output_tiles(rows, b, TH, TW, y, k0, k1):
    """``y (n, K, OH, OW)`` from the channel products ``rows``, the :func:`tile_rows` of ``K``
    channels of ``P = n*TH*TW`` tiles (position ``ξ``, channel ``k`` and tile ``t`` at
    ``rows[ξ, k P + t]``): ``Aᵀ m A + b`` of every tile, its 4x4 outputs put in place and
    cropped at the bottom and right edges, in the channels ``k0 .. k1``.

    A sample and channel at a time, in two steps:

    1. ``Aᵀ`` along ``b`` of the 6 rows ``ξ = 6 a + b``, a loop over the sample's tiles:
       ``along[a, 4 f + q]``, output column ``q`` of row ``a`` of tile ``f = th TW + tw``, so
       that a tile row's 4 values a tile lie side by side, in the order of the image's columns;
    2. a tile row at a time, ``Aᵀ`` along ``a`` for each of the image's columns: the tile
       row's 4 output rows, then those that lie in ``y``, a contiguous run each.

    Step 1 reads ``rows`` itself, not the ``(ξ, K, P)`` view the other transforms take:
    numba knows a slice of a 2-D C-contiguous array to be contiguous. Measured on one core,
    float32, the forward pass's chunks (:func:`correlate_chunks`, :func:`correlate_stages`),
    the view -> ``rows``, interleaved in one process: 8 groups of 16 channels of 28x28 in 16
    samples 8.3-8.5 -> 7.95-8.0 ms, 64 channels of 56x56 in one sample 1.28-1.30 -> 1.22-1.24.
    Images whose tile rows are short (4 tiles and fewer: 16 columns) take
    :func:`output_tiles_small` instead, whose loops run over all the tiles of a channel
    (:func:`_output` picks)."""
    n, OH, OW = y.shape[0], y.shape[2], y.shape[3]
    T = TH * TW
    P = n * T
    along = np.empty((6, 4 * T), rows.dtype)  # step 1
    out = np.empty((4, 4 * TW), y.dtype)  # step 2: a tile row's 4 output rows, uncropped
    for s in range(n):
        for k in range(k0, k1):
            t0 = k * P + s * T
            for a in range(6):
                m0, m1 = rows[6 * a, t0:t0 + T], rows[6 * a + 1, t0:t0 + T]
                m2, m3 = rows[6 * a + 2, t0:t0 + T], rows[6 * a + 3, t0:t0 + T]
                m4, m5 = rows[6 * a + 4, t0:t0 + T], rows[6 * a + 5, t0:t0 + T]
                r = along[a]
                for f in range(T):
                    r[4 * f], r[4 * f + 1], r[4 * f + 2], r[4 * f + 3] = _at(
                        m0[f], m1[f], m2[f], m3[f], m4[f], m5[f])
            bias = b[k]
            for th in range(TH):
                w0 = th * 4 * TW
                for w in range(OW):
                    out[0, w], out[1, w], out[2, w], out[3, w] = _at(
                        along[0, w0 + w], along[1, w0 + w], along[2, w0 + w], along[3, w0 + w],
                        along[4, w0 + w], along[5, w0 + w])
                h = 4 * th
                for i in range(min(4, OH - h)):
                    yr = y[s, k, h + i]
                    for w in range(OW):
                        yr[w] = out[i, w] + bias


@kernel
def output_tiles_small(rows, b, TH, TW, y, k0, k1):
    """:func:`output_tiles` for images of short tile rows, with the tiles as the vector axis:
    for one channel, each step is a loop over all its ``P`` tiles (every sample's) that reads
    and writes whole rows, contiguous in memory:

    1. ``Aᵀ`` along ``b`` of the 6 rows ``ξ = 6 a + b``: ``along[4 a + q, t]``, output column
       ``q`` of tile ``t``'s row ``a``;
    2. ``Aᵀ`` along ``a``: ``out[4 p + q, t]``, the tile's output ``(p, q)``;
    3. each output row of ``y`` gathers 4 values a tile from 4 rows of ``out``.

    :func:`output_tiles`' loops run as long as a sample's tiles and an image row: 8-16 values
    on images of 8x8 to 16x16. Measured on one core, float32, the forward pass's chunks
    (:func:`correlate_chunks`, interleaved in one process), :func:`output_tiles` -> this
    kernel: 128 channels of 8x8 in 32 samples 4.0-4.1 -> 3.4-3.6 ms, 64 channels of 13x13 in
    8 samples 0.92-0.96 -> 0.82-0.83; but 8 groups of 16 channels of 28x28 in 16 samples (7
    tiles a row) 7.95-8.0 -> 8.7-8.8, the last step's writes into ``y`` a value at a time."""
    n, OH, OW = y.shape[0], y.shape[2], y.shape[3]
    T = TH * TW
    P = n * T
    along = np.empty((24, P), rows.dtype)  # step 1: [4 a + q, t]
    out = np.empty((16, P), rows.dtype)  # step 2: [4 p + q, t]
    whole = min(TW, OW // 4)  # the tiles of a tile row whose 4 columns all lie in y
    for k in range(k0, k1):
        c0, c1 = k * P, (k + 1) * P
        for a in range(6):
            m0, m1, m2 = rows[6 * a, c0:c1], rows[6 * a + 1, c0:c1], rows[6 * a + 2, c0:c1]
            m3, m4, m5 = rows[6 * a + 3, c0:c1], rows[6 * a + 4, c0:c1], rows[6 * a + 5, c0:c1]
            r0, r1, r2, r3 = along[4 * a], along[4 * a + 1], along[4 * a + 2], along[4 * a + 3]
            for t in range(P):
                r0[t], r1[t], r2[t], r3[t] = _at(m0[t], m1[t], m2[t], m3[t], m4[t], m5[t])
        for q in range(4):
            a0, a1, a2 = along[q], along[4 + q], along[8 + q]
            a3, a4, a5 = along[12 + q], along[16 + q], along[20 + q]
            o0, o1, o2, o3 = out[q], out[4 + q], out[8 + q], out[12 + q]
            for t in range(P):
                o0[t], o1[t], o2[t], o3[t] = _at(a0[t], a1[t], a2[t], a3[t], a4[t], a5[t])
        bias = b[k]
        for s in range(n):
            for th in range(TH):
                t0 = s * T + th * TW
                h = 4 * th
                for p in range(min(4, OH - h)):
                    yr = y[s, k, h + p]
                    q0, q1, q2, q3 = out[4 * p], out[4 * p + 1], out[4 * p + 2], out[4 * p + 3]
                    for tw in range(whole):
                        t, w = t0 + tw, 4 * tw
                        yr[w], yr[w + 1] = q0[t] + bias, q1[t] + bias
                        yr[w + 2], yr[w + 3] = q2[t] + bias, q3[t] + bias
                    for w in range(4 * whole, OW):  # the last tile, cropped
                        yr[w] = out[4 * p + w % 4, t0 + w // 4] + bias


@kernel
def input_tiles_row(x, pad_h, pad_w, TH, TW, a, V, c0, c1):
    """Row ``a`` of :func:`input_tiles`: ``V (6, C, n*TH*TW)``, ``V[b]`` the transformed
    position ``ξ = 6 a + b`` of every tile, in the channels ``c0 .. c1``.

    Step 1 makes only row ``a`` of ``Bᵀ d``: the sum of the tile's input rows weighted by row
    ``a`` of ``Bᵀ``, which weights at most 4 of the 6 (a tile row's list of them is made
    first, the rows outside the input left out; the unused places weigh row 0 by 0, so the
    loop has no branch); step 2 makes all six values of that row, as :func:`input_tiles`
    does. Six calls make what one call of :func:`input_tiles` makes, with a sixth of its
    memory. Measured on one core, 128 channels of 8x8 in 32 samples: 1.05 ms for the six
    against 0.62 for :func:`input_tiles` (each call reads the input again, and the tile rows
    of small images are short loops); all 6 rows in the sum, without the list: 1.35. Step 1
    reads 1-D slices of the columns in the input, as :func:`input_tiles` does (the six rows,
    ns a tile and channel, one core, before -> after: 8x8 69 -> 60, 16x16 67 -> 37, 28x28 65
    -> 31). Step 1 is
    written out here and in :func:`gy_tiles_row` alike: as a shared kernel taking a tile row's
    weights and rows it made both gradients 15-25% slower (one core, that layer: input
    gradient 4.8 -> 5.6 ms, weight gradient 4.6 -> 5.85)."""
    n, H = x.shape[0], x.shape[2]
    span = 4 * TW + 2
    row = np.zeros(span, V.dtype)  # step 1's row a; the padding columns stay zero
    t = type(row[0])
    z, o = t(0), t(1)
    e = _bt(o, z, z, z, z, z)[a], _bt(z, o, z, z, z, z)[a], _bt(z, z, o, z, z, z)[a], _bt(
        z, z, z, o, z, z)[a], _bt(z, z, z, z, o, z)[a], _bt(z, z, z, z, z, o)[a]
    weight = np.zeros((TH, 4), V.dtype)  # tile row th's weights of its input rows
    source = np.zeros((TH, 4), np.int64)  # and those rows
    for th in range(TH):
        m = 0
        for i in range(6):
            h = 4 * th - pad_h + i
            if 0 <= h < H and e[i] != z:
                weight[th, m], source[th, m] = e[i], h
                m += 1
    lo, hi = max(0, pad_w), min(span, x.shape[3] + pad_w)  # the columns that lie in the input
    cols, u0 = max(0, hi - lo), lo - pad_w
    inside = row[lo:lo + cols]
    T = TH * TW
    for s in range(n):
        for c in range(c0, c1):
            plane = x[s, c]
            for th in range(TH):
                e0, e1, e2, e3 = weight[th, 0], weight[th, 1], weight[th, 2], weight[th, 3]
                p0 = plane[source[th, 0], u0:u0 + cols]
                p1 = plane[source[th, 1], u0:u0 + cols]
                p2 = plane[source[th, 2], u0:u0 + cols]
                p3 = plane[source[th, 3], u0:u0 + cols]
                for w in range(cols):
                    inside[w] = e0 * p0[w] + e1 * p1[w] + e2 * p2[w] + e3 * p3[w]
                t0 = s * T + th * TW
                for tw in range(TW):
                    w, q = 4 * tw, t0 + tw
                    V[0, c, q], V[1, c, q], V[2, c, q], V[3, c, q], V[4, c, q], V[5, c, q] = _bt(
                        row[w], row[w + 1], row[w + 2], row[w + 3], row[w + 4], row[w + 5])


@kernel
def gy_tiles_row(gy, TH, TW, a, Z, k0, k1):
    """Row ``a`` of :func:`gy_tiles`: ``Z (6, K, n*TH*TW)``, ``Z[b]`` the transformed position
    ``ξ = 6 a + b`` of every 4x4 tile of ``gy``, in the channels ``k0 .. k1``: step 1 makes row
    ``a`` of ``G g`` alone (the tile's rows weighted by row ``a`` of ``G``, the rows past the
    end of ``gy`` weighted 0 and read at row 0), as :func:`input_tiles_row` does."""
    n, OH, OW = gy.shape[0], gy.shape[2], gy.shape[3]
    row = np.zeros(4 * TW, Z.dtype)  # past OW stays zero
    t = type(row[0])
    z, o = t(0), t(1)
    e = _gt(o, z, z, z)[a], _gt(z, o, z, z)[a], _gt(z, z, o, z)[a], _gt(z, z, z, o)[a]
    weight = np.zeros((TH, 4), Z.dtype)
    source = np.zeros((TH, 4), np.int64)
    for th in range(TH):
        for i in range(4):
            if 4 * th + i < OH:
                weight[th, i], source[th, i] = e[i], 4 * th + i
    T = TH * TW
    for s in range(n):
        for k in range(k0, k1):
            plane = gy[s, k]
            for th in range(TH):
                e0, e1, e2, e3 = weight[th, 0], weight[th, 1], weight[th, 2], weight[th, 3]
                h0, h1, h2, h3 = source[th, 0], source[th, 1], source[th, 2], source[th, 3]
                for w in range(OW):
                    row[w] = (e0 * plane[h0, w] + e1 * plane[h1, w] + e2 * plane[h2, w]
                              + e3 * plane[h3, w])
                t0 = s * T + th * TW
                for tw in range(TW):
                    w, q = 4 * tw, t0 + tw
                    Z[0, k, q], Z[1, k, q], Z[2, k, q], Z[3, k, q], Z[4, k, q], Z[5, k, q] = _gt(
                        row[w], row[w + 1], row[w + 2], row[w + 3])


@kernel
def output_tiles_row(Mt, b, TH, TW, a, y, k0, k1):
    """Row ``a``'s part of :func:`output_tiles`: ``Mt (6, K, n*TH*TW)`` holds the products of
    the positions ``ξ = 6 a + b``. ``Aᵀ`` along the columns makes 4 values of each tile's row
    ``a``, and column ``a`` of ``Aᵀ`` spreads them over the tile's 4 output rows: row 0 writes
    ``y (n, K, OH, OW)`` (cropped, bias added), the other rows add to it, in the channels
    ``k0 .. k1``. Measured on one core, 128 channels of 8x8 in 32 samples: 1.0 ms for the six
    rows against 0.57-0.70 for :func:`output_tiles`."""
    n, OH, OW = y.shape[0], y.shape[2], y.shape[3]
    T = TH * TW
    r = np.empty(4 * TW, Mt.dtype)  # Aᵀ along the columns: tile tw's 4 values at 4 tw
    t = type(Mt[0, 0, 0])
    one, nil = t(1), t(0)
    spread = _at(one if a == 0 else nil, one if a == 1 else nil, one if a == 2 else nil,
                 one if a == 3 else nil, one if a == 4 else nil, one if a == 5 else nil)
    for s in range(n):
        for k in range(k0, k1):
            bias = b[k]
            plane = y[s, k]
            for th in range(TH):
                t0 = s * T + th * TW
                for tw in range(TW):
                    q = t0 + tw
                    r[4 * tw], r[4 * tw + 1], r[4 * tw + 2], r[4 * tw + 3] = _at(
                        Mt[0, k, q], Mt[1, k, q], Mt[2, k, q], Mt[3, k, q], Mt[4, k, q],
                        Mt[5, k, q])
                h = 4 * th
                for i in range(min(4, OH - h)):
                    f = spread[i]
                    if a == 0:
                        for w in range(OW):
                            plane[h + i, w] = f * r[w] + bias
                    elif f != nil:
                        for w in range(OW):
                            plane[h + i, w] += f * r[w]


@kernel
def input_tiles_3d(x, pad_d, pad_h, pad_w, TD, TH, TW, V, c0, c1):
    """The 3-D :func:`input_tiles`: ``V (216, C, n*TD*TH*TW)``, ``ξ = 36 a + 6 b + e`` for
    the transformed positions along depth, rows and columns, from ``x (n, C, D, H, W)``.

    Per tile row: ``Bᵀ`` along the depth for the 6x6 input rows, then along the rows, both for
    every column at once; then along the columns, tile by tile.
    """
    n, D, H, W = x.shape[0], x.shape[2], x.shape[3], x.shape[4]
    span = 4 * TW + 2
    depth = np.zeros((6, 6, span), V.dtype)  # [a, row i, column]: step 1 (padding stays zero)
    rows = np.empty((6, 6, span), V.dtype)  # [a, b, column]: step 2
    zero = np.zeros(W, x.dtype)
    lo, hi = max(0, pad_w), min(span, W + pad_w)
    for s in range(n):
        for c in range(c0, c1):
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
def gy_tiles_3d(gy, TD, TH, TW, Z, k0, k1):
    """The 3-D :func:`gy_tiles`: ``Z (216, K, n*TD*TH*TW)`` from ``gy (n, K, OD, OH, OW)``, in
    the channels ``k0 .. k1``."""
    n, OD, OH, OW = gy.shape[0], gy.shape[2], gy.shape[3], gy.shape[4]
    span = 4 * TW
    depth = np.zeros((6, 4, span), Z.dtype)  # [a, row i, column]; past OW stays zero
    rows = np.empty((6, 6, span), Z.dtype)
    zero = np.zeros(OW, gy.dtype)
    for s in range(n):
        for k in range(k0, k1):
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
def output_tiles_3d(Mt, b, TD, TH, TW, y, k0, k1):
    """The 3-D :func:`output_tiles`: ``y (n, K, OD, OH, OW)`` from ``Mt (216, K, n*TD*TH*TW)``,
    cropped, bias added."""
    n, OD, OH, OW = y.shape[0], y.shape[2], y.shape[3], y.shape[4]
    cols = np.empty((6, 6, 4 * TW), Mt.dtype)  # [a, b, column]: Aᵀ along the columns
    rows = np.empty((6, 4, 4 * TW), Mt.dtype)  # [a, output row, column]: then along the rows
    out = np.empty((4, 4 * TW), y.dtype)  # [output depth, column]: then along the depth
    for s in range(n):
        for k in range(k0, k1):
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


@kernel
def tile_rows(like, positions, channels, P):
    """An empty ``(positions, channels * P + TILE_ROW_PAD)`` array of ``like``'s dtype: the
    transformed tiles, one row of ``(channels, P)`` values per position ``ξ`` (``P`` tiles per
    channel), the rows ``TILE_ROW_PAD`` values further apart than they would be without it.

    The transforms write (or read) the 36 rows ``ξ`` of a channel (in 2-D) at the same time.
    When a row takes a multiple of 4 KiB (256 channels of 48 tiles: 48 KiB) the 36 addresses
    fall in the same sets of the L1 cache, which holds 8 of them at once, and every access
    misses: measured on one core, 256 channels of 14x14, input transform 92 -> 36 ns a tile, 64
    channels of 16x16 78 -> 23 (56x56, whose rows are not a multiple, 26 -> 21). The products
    read each ``(channels, P)`` matrix where it lies, contiguous."""
    return np.empty((positions, channels * P + TILE_ROW_PAD), like.dtype)


@kernel
def _tiles(rows, channels, P):
    """The ``(ξ, channels, P)`` view of :func:`tile_rows`' ``rows``, as the transforms take it."""
    size = rows.itemsize
    return np.lib.stride_tricks.as_strided(rows, (rows.shape[0], channels, P),
                                           (rows.strides[0], P * size, size))


@kernel
def _matrix(rows, q, first, count, P):
    """Channels ``first .. first + count`` of position ``q`` of :func:`tile_rows`' ``rows``: a
    contiguous ``(count, P)`` matrix, as the BLAS takes it."""
    return rows[q, first * P:(first + count) * P].reshape(count, P)


@kernel
def _input(x, pad, grid, V, c0, c1):
    """:func:`input_tiles` or :func:`input_tiles_3d`, by the axes of ``x``: channels ``c0 ..
    c1`` into ``V (ξ, C, tiles)``; ``pad`` and ``grid`` hold one value per spatial axis."""
    if x.ndim == 4:
        input_tiles(x, pad[0], pad[1], grid[0], grid[1], V, c0, c1)
    else:
        input_tiles_3d(x, pad[0], pad[1], pad[2], grid[0], grid[1], grid[2], V, c0, c1)


@kernel
def _gy(gy, grid, Z, k0, k1):
    """:func:`gy_tiles` or :func:`gy_tiles_3d`, by the axes of ``gy``: channels ``k0 .. k1``
    into ``Z (ξ, K, tiles)``."""
    if gy.ndim == 4:
        gy_tiles(gy, grid[0], grid[1], Z, k0, k1)
    else:
        gy_tiles_3d(gy, grid[0], grid[1], grid[2], Z, k0, k1)


@kernel
def _output(Mt, K, P, b, grid, y, k0, k1):
    """:func:`output_tiles` (:func:`output_tiles_small` for tile rows of 4 tiles and fewer) or
    :func:`output_tiles_3d`, by the axes of ``y``: channels ``k0 .. k1`` from ``Mt``, the
    :func:`tile_rows` of ``K`` channels of ``P`` tiles."""
    if y.ndim == 4 and grid[1] <= 4:
        output_tiles_small(Mt, b, grid[0], grid[1], y, k0, k1)
    elif y.ndim == 4:
        output_tiles(Mt, b, grid[0], grid[1], y, k0, k1)
    else:
        output_tiles_3d(_tiles(Mt, K, P), b, grid[0], grid[1], grid[2], y, k0, k1)


@kernel
def _product(U, V, Mt, P, task):
    """``Mt[ξ, g] = U[ξ, g] @ V[ξ, g]`` for one ``task = ξ * groups + g``: ``U (ξ, groups, K/g,
    C/g)``, ``V`` and ``Mt`` :func:`tile_rows` of ``C`` and ``K`` channels."""
    groups, Kg, Cg = U.shape[1], U.shape[2], U.shape[3]
    q, g = task // groups, task % groups
    blas.dot(U[q, g], _matrix(V, q, g * Cg, Cg, P), _matrix(Mt, q, g * Kg, Kg, P))


@kernel
def _weight_product(Z, V, P, out, task, add):
    """``out[ξ, g] = Z[ξ, g] @ V[ξ, g]ᵀ`` (``+=`` with ``add``) for one ``task = ξ * groups +
    g``: ``out (ξ, groups, K/g, C/g)``, ``Z`` and ``V`` :func:`tile_rows` of ``K`` and ``C``
    channels."""
    groups, Kg, Cg = out.shape[1], out.shape[2], out.shape[3]
    q, g = task // groups, task % groups
    z, v = _matrix(Z, q, g * Kg, Kg, P), _matrix(V, q, g * Cg, Cg, P).T
    if add:
        blas.dot_add(z, v, out[q, g])
    else:
        blas.dot(z, v, out[q, g])


@kernel
def _tile_count(grid):
    """The tiles of one sample: the product of ``grid``."""
    count = 1
    for t in grid:
        count *= t
    return count


@kernel(threaded=True)
def transform_weights(G_taps, w_taps, U, shares):
    """``U = G_taps @ w_taps``, the weights' transform ``G w Gᵀ`` of every ``(k, c)`` as one
    product, its columns shared between the threads (``shares[j] .. shares[j + 1]`` on one):
    ``G_taps (ξ, taps)`` the Kronecker product of ``G`` over the axes, ``w_taps (taps,
    K*C/g)`` the taps of every ``(k, c)`` (the transposed view of the weight, read where it
    lies), ``U (ξ, K*C/g)``.

    Why threads: at batch 1 this transform is a large part of a layer (ResNet-50's 128
    channels of 28x28: 0.3-0.4 ms of 1.6 on 2 threads, 256 of 14x14: 1.2-1.7 of 4.3) and
    NumPy's product ran it on one thread."""
    for j in prange(len(shares) - 1):
        u0, u1 = shares[j], shares[j + 1]
        blas.dot(G_taps, w_taps[:, u0:u1], U[:, u0:u1])


@kernel(threaded=True, bounds="bounds")
def correlate_chunks(x, U, pad, grid, b, y, bounds):
    """``y = x ⋆ w + b`` in one phase, the samples ``bounds[j] .. bounds[j + 1]`` of each chunk
    ``j`` on one thread, from the input tiles through the products to the output tiles.

    ``x (N, C, *S)``, ``U (ξ, groups, K/g, C/g)`` the transformed weights, ``pad`` and ``grid``
    per spatial axis, ``b (K,)``, ``y (N, K, *O)``; ``bounds`` an int64 array."""
    xi, groups, Kg, Cg = U.shape
    C, K = groups * Cg, groups * Kg
    for j in prange(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        P = (n1 - n0) * _tile_count(grid)
        V = tile_rows(x, xi, C, P)
        _input(x[n0:n1], pad, grid, _tiles(V, C, P), 0, C)
        Mt = tile_rows(x, xi, K, P)
        for task in range(xi * groups):
            _product(U, V, Mt, P, task)
        _output(Mt, K, P, b, grid, y[n0:n1], 0, K)


@kernel(threaded=True, bounds="runs")
def weight_grad_chunks(x, gy, pad, grid, acc, bounds, runs, first):
    """``acc[r] = Σ Z Vᵀ`` over the chunks ``runs[r] .. runs[r + 1]`` (chunk ``j`` is the
    samples ``bounds[j] .. bounds[j + 1]``) in one phase, each run of chunks on one thread and
    in a slot of its own (summed after); added to ``acc[r]`` unless ``first``. A slot per run,
    not per chunk (ResNet-18's 64-channel layers at batch 32 made 5 chunks, 2.9 MB of slots),
    and the BLAS adds each product into it (no product buffer, no pass to add it).

    ``x (N, C, *S)``, ``gy (N, K, *O)``, ``pad`` and ``grid`` per spatial axis, ``acc (runs,
    ξ, groups, K/g, C/g)``; ``bounds`` and ``runs`` int64 arrays."""
    xi, groups, Kg, Cg = acc.shape[1:]
    C, K = groups * Cg, groups * Kg
    for r in prange(len(runs) - 1):
        for j in range(runs[r], runs[r + 1]):
            n0, n1 = bounds[j], bounds[j + 1]
            P = (n1 - n0) * _tile_count(grid)
            V = tile_rows(x, xi, C, P)
            _input(x[n0:n1], pad, grid, _tiles(V, C, P), 0, C)
            Z = tile_rows(x, xi, K, P)
            _gy(gy[n0:n1], grid, _tiles(Z, K, P), 0, K)
            add = not (first and j == runs[r])  # the BLAS adds into the slot
            for task in range(xi * groups):
                _weight_product(Z, V, P, acc[r], task, add)


@kernel(threaded=True)
def correlate_stages(x, U, pad, grid, b, y, c_shares, k_shares):
    """``y = x ⋆ w + b`` in one phase, the whole batch as one chunk, stage by stage, each stage
    on all threads: the input transform shares the channels of ``x`` (``c_shares[j] ..
    c_shares[j + 1]`` on one thread), the products the positions ``ξ``, the output transform
    the channels of ``y`` (``k_shares``). Arguments as in :func:`correlate_chunks`."""
    xi, groups, Kg, Cg = U.shape
    C, K = groups * Cg, groups * Kg
    P = x.shape[0] * _tile_count(grid)
    V = tile_rows(x, xi, C, P)
    V_tiles = _tiles(V, C, P)
    for j in prange(len(c_shares) - 1):
        _input(x, pad, grid, V_tiles, c_shares[j], c_shares[j + 1])
    Mt = tile_rows(x, xi, K, P)
    for task in prange(xi * groups):
        _product(U, V, Mt, P, task)
    for j in prange(len(k_shares) - 1):
        _output(Mt, K, P, b, grid, y, k_shares[j], k_shares[j + 1])


@kernel(threaded=True)
def weight_grad_stages(x, gy, pad, grid, out, c_shares, k_shares, add):
    """``out = Σ Z Vᵀ (ξ, groups, K/g, C/g)`` (``+=`` with ``add``) in one phase, the whole batch
    as one chunk, stage by stage, each stage on all threads: the transforms share the channels
    (``c_shares`` of ``x``, ``k_shares`` of ``gy``), the products the positions ``ξ``."""
    xi, groups, Kg, Cg = out.shape
    C, K = groups * Cg, groups * Kg
    P = x.shape[0] * _tile_count(grid)
    V = tile_rows(x, xi, C, P)
    V_tiles = _tiles(V, C, P)
    for j in prange(len(c_shares) - 1):
        _input(x, pad, grid, V_tiles, c_shares[j], c_shares[j + 1])
    Z = tile_rows(x, xi, K, P)
    Z_tiles = _tiles(Z, K, P)
    for j in prange(len(k_shares) - 1):
        _gy(gy, grid, Z_tiles, k_shares[j], k_shares[j + 1])
    for task in prange(xi * groups):
        _weight_product(Z, V, P, out, task, add)


@kernel(threaded=True)
def correlate_rows(x, w_taps, G_rows, U_rows, U, pad, grid, b, y, c_shares, k_shares,
                   u_shares):
    """:func:`correlate_stages` (2-D) a row of positions ``ξ = 6 a + b`` at a time, on all
    threads: the row's transformed weights (``U_rows[:, j] = G_rows[6 a: 6 a + 6] @ w_taps[:,
    j]``, the columns shared out by ``u_shares``) and input tiles (:func:`input_tiles_row`),
    then its products, then its part of the output tiles (:func:`output_tiles_row`: row 0
    writes ``y``, the others add to it). The temporaries are a sixth of the stages' (see
    :func:`.winograd._correlate_rows`). One parallel loop makes a row's output tiles and the
    next row's weights and input tiles (they touch different arrays), so a row takes two
    loops, not four: 12 starts of the threads in all.

    ``w_taps (9, K*C/g)``: the 3x3 taps of every ``(k, c)`` of the weight; ``G_rows (36, 9)``:
    the rows of ``G ⊗ G``; ``U_rows (6, K*C/g)`` the buffer of a row's transformed weights and
    ``U (6, groups, K/g, C/g)`` the view of it the products take (a transposed view for the
    input gradient); the rest as in :func:`correlate_stages`."""
    six, groups, Kg, Cg = U.shape
    C, K = groups * Cg, groups * Kg
    P = x.shape[0] * grid[0] * grid[1]
    V = tile_rows(x, six, C, P)
    V_tiles = _tiles(V, C, P)
    Mt = tile_rows(x, six, K, P)
    Mt_tiles = _tiles(Mt, K, P)
    runs = max(len(c_shares), len(k_shares), len(u_shares)) - 1
    for a in range(six + 1):
        for j in prange(runs):
            if a > 0 and j < len(k_shares) - 1:  # the output tiles of row a - 1
                output_tiles_row(Mt_tiles, b, grid[0], grid[1], a - 1, y, k_shares[j],
                                 k_shares[j + 1])
            if a < six and j < len(u_shares) - 1:
                u0, u1 = u_shares[j], u_shares[j + 1]
                blas.dot(G_rows[six * a:six * (a + 1)], w_taps[:, u0:u1], U_rows[:, u0:u1])
            if a < six and j < len(c_shares) - 1:
                input_tiles_row(x, pad[0], pad[1], grid[0], grid[1], a, V_tiles, c_shares[j],
                                c_shares[j + 1])
        if a < six:
            for task in prange(six * groups):
                _product(U, V, Mt, P, task)


@kernel(threaded=True)
def weight_grad_rows(x, gy, pad, grid, AT, gw, c_shares, k_shares):
    """``gw += `` the weight gradient of one phase (2-D), from :func:`weight_grad_stages`'
    ``Σ Z Vᵀ`` a row of positions ``ξ = 6 a + b`` at a time, on all threads: the row's input
    and ``gy`` tiles (:func:`input_tiles_row`, :func:`gy_tiles_row`), then its products into a
    row of sums ``(6, groups, K/g, C/g)``, which ``AT`` (``Aᵀ`` of F(3, 4), ``(3, 6)``) takes
    along ``b`` and column ``a`` of ``AT`` adds into the taps of ``gw (K, C/g, 3, 3)`` (the
    threads share ``k_shares`` of its rows), in the parallel loop that makes the next row's
    tiles."""
    K, Cg = gw.shape[0], gw.shape[1]
    C = x.shape[1]
    groups = C // Cg
    Kg = K // groups
    P = x.shape[0] * grid[0] * grid[1]
    V = tile_rows(x, 6, C, P)
    V_tiles = _tiles(V, C, P)
    Z = tile_rows(x, 6, K, P)
    Z_tiles = _tiles(Z, K, P)
    row = np.empty((6, groups, Kg, Cg), gw.dtype)
    runs = max(len(c_shares), len(k_shares)) - 1
    for a in range(7):
        for j in prange(runs):
            if a > 0 and j < len(k_shares) - 1:  # row a - 1 into the taps
                f0, f1, f2 = AT[0, a - 1], AT[1, a - 1], AT[2, a - 1]
                for k in range(k_shares[j], k_shares[j + 1]):
                    r = row[:, k // Kg, k % Kg]  # (6, C/g)
                    taps = gw[k]
                    for c in range(Cg):
                        r0, r1, r2 = r[0, c], r[1, c], r[2, c]
                        r3, r4, r5 = r[3, c], r[4, c], r[5, c]
                        for q in range(3):
                            along = (AT[q, 0] * r0 + AT[q, 1] * r1 + AT[q, 2] * r2
                                     + AT[q, 3] * r3 + AT[q, 4] * r4 + AT[q, 5] * r5)
                            taps[c, 0, q] += f0 * along
                            taps[c, 1, q] += f1 * along
                            taps[c, 2, q] += f2 * along
            if a < 6 and j < len(c_shares) - 1:
                input_tiles_row(x, pad[0], pad[1], grid[0], grid[1], a, V_tiles, c_shares[j],
                                c_shares[j + 1])
            if a < 6 and j < len(k_shares) - 1:
                gy_tiles_row(gy, grid[0], grid[1], a, Z_tiles, k_shares[j], k_shares[j + 1])
        if a < 6:
            for task in prange(6 * groups):
                _weight_product(Z, V, P, row, task, False)
