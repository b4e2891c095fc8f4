"""im2col and col2im as compiled loops (:mod:`.jit`): one pass, straight from the unpadded input.

NumPy builds the columns in two passes: a zero-padded copy of the input, then one strided slice
copy per kernel tap, each a separate trip through memory (and col2im the same in reverse: a
padded gradient, an addition per tap, then the crop). The loops here read the input where it
is and write every column entry once; a window position that falls into the padding is written
as a zero, and in col2im it is simply skipped. Every spatial case runs as 3-D: a 1-D or 2-D
array is viewed with leading axes of length 1 (:func:`as_3d`), whose loops run once.

Along the innermost output axis the positions that read the input form one run
``[lo, hi)`` (:func:`_inside`), so that loop has no test per element and compiles to a
vector copy (an addition for col2im); the positions before and after it are the padding.
Its indices are unsigned (``U``): numba wraps negative indices around as Python does, and
that test on every element of a signed index kept the loop from vectorizing (a copy of rows
of 1024: 0.84 ms signed, 0.09 ms unsigned).

Measured on one core (float32, 16 samples, whole batch): res-stride2's columns
(``x16x64x56x56``, 3x3, stride 2) 7.5 ms with NumPy, 3.9-4.4 ms compiled; its col2im 10.5 ms
against 3.7 ms. Rows of a stride-2 window are gathers, which run at about 2 values a
nanosecond; rows of stride 1 are copies near the speed of memory.

The chunk drivers (``forward_chunks`` and the others) are :mod:`.im2col`'s three passes on
the compiled path, whole: each chunk of the batch (chunk ``j`` is samples ``bounds[j]`` to
``bounds[j + 1]``) makes its columns in a buffer of its own, multiplies them per sample and
group with the one-thread BLAS (:func:`.blas.dot`), and writes its part of the result; the
chunks are shared between OpenMP's threads (``prange``, :mod:`.jit`). A weight gradient's
chunk adds into its own slot ``parts[j]``, which the caller sums. The drivers of small images
(``*_side_by_side``) put a chunk's samples innermost, so their gather, and the input
gradient's scatter-add, its adjoint, move runs of ``n`` values: first the chunk's input is
transposed to ``(C*prod(S), n)``, then each column entry copies one run of it (and the
scatter adds into such a transposed buffer, then transposes it back). Gathering straight
from ``(n, C*prod(S))``, a value at a time ``C*prod(S)`` apart, and scattering so, took
longer (one core, x32x128x8x8 w256x128x4x4 stride 2: forward 8.5 against 7.2 ms, input
gradient 13.5 against 6.9).

The gradient drivers of small images take their chunks one after the other, and the threads
share each chunk's input channels, in blocks (:func:`.im2col._channel_blocks`): a block's
columns are gathered, multiplied and, for the input gradient, added back by one thread. So
the weight gradient's threads add into their own columns of the gradient itself, where a slot
per chunk, summed and transposed after, held ResNet-18's 256 channels of 4x4 at batch 32 four
times (4 x 2.25 MB); and no thread holds more than a block's columns (512 KB) where a chunk's
took 1-2 MB. Peak memory of a training step at batch 32 on 2 threads: ResNet-18 78 -> 73 MiB,
VGG-11 32 -> 27, DCGAN's discriminator 13 -> 9.5. One core, batch 32, ms before -> after,
input and weight gradient: 256 channels of 4x4 7.4, 9.4 -> 7.5, 7.4; 128->256 4x4 stride 2
from 8x8 6.8, 8.0 -> 6.9, 6.6; 256 channels of 2x2 1.9, 3.3 -> 1.9, 1.9.
"""

from __future__ import annotations

import numpy as np

from . import blas, jit
from .geometry import ConvGeometry
from .jit import prange

U = np.uint64  # indices that numba need not test for being negative

__all__ = ["as_3d", "geometry_3d", "im2col", "col2im", "forward_chunks", "input_grad_chunks",
           "weight_grad_chunks", "forward_bands", "forward_side_by_side", "weight_grad_side_by_side",
           "input_grad_side_by_side"]


def as_3d(a: np.ndarray, nd: int) -> np.ndarray:
    """``(n, C, *S)`` with ``nd`` spatial axes viewed as ``(n, C, D, H, W)``: leading axes
    of length 1 added."""
    return a.reshape(a.shape[:2] + (1,) * (3 - nd) + a.shape[2:])


def geometry_3d(G: ConvGeometry) -> tuple[tuple[int, int, int], ...]:
    """``(kernel, stride, padding in front, dilation, output size)``, each as three numbers
    (the axes :func:`as_3d` adds have one tap, stride 1, no padding, one output)."""
    lead = 3 - G.nd
    return ((1,) * lead + G.kernel_size, (1,) * lead + G.stride, (0,) * lead + G.pad_lo,
            (1,) * lead + G.dilation, (1,) * lead + G.out_size)


@jit.kernel
def _inside(n_out, n_in, start, step):
    """The outputs ``o`` in ``[lo, hi)`` whose input position ``start + o*step`` lies in
    ``[0, n_in)``; the others read padding. The same as :func:`.pooling_kernels.inside`, kept
    here: numba's disk cache does not notice a change to a kernel in another file."""
    lo = 0
    if start < 0:
        lo = (-start + step - 1) // step  # first o with start + o*step >= 0
    hi = 0
    if n_in > start:
        hi = (n_in - start + step - 1) // step  # first o with start + o*step >= n_in
    hi = min(hi, n_out)
    return lo, max(lo, hi)


@jit.kernel
def im2col(x, cols, kernel, stride, pad, dilation):
    """``cols[n, c // C_g, (c % C_g)*taps + t, od, oh, ow] = x[n, c, od*s + kd*d - p, ...]``
    for tap ``t = (kd, kh, kw)``, zero where that position lies in the padding.
    ``x (n, C, D, H, W)``, ``cols (n, groups, R, OD, OH, OW)``: each group's rows of
    channels and taps, ``C_g*taps`` of them, then ``R - C_g*taps`` rows the caller fills (the
    product's bias row of ones)."""
    N, C, D, H, W = x.shape
    groups = cols.shape[1]
    OD, OH, OW = cols.shape[3:]
    C_g, taps = C // groups, kernel[0] * kernel[1] * kernel[2]
    for n in range(N):
        for c in range(C):
            for kd in range(kernel[0]):
                for kh in range(kernel[1]):
                    for kw in range(kernel[2]):
                        r = (c % C_g) * taps + (kd * kernel[1] + kh) * kernel[2] + kw
                        start_w = kw * dilation[2] - pad[2]
                        lo, hi = _inside(OW, W, start_w, stride[2])
                        for od in range(OD):
                            i_d = od * stride[0] + kd * dilation[0] - pad[0]
                            for oh in range(OH):
                                i_h = oh * stride[1] + kh * dilation[1] - pad[1]
                                row = cols[n, c // C_g, r, od, oh]
                                if i_d < 0 or i_d >= D or i_h < 0 or i_h >= H:
                                    row[:] = 0
                                    continue
                                src = x[n, c, i_d, i_h]
                                row[:lo] = 0
                                for ow in range(lo, hi):
                                    row[U(ow)] = src[U(start_w + ow * stride[2])]
                                row[hi:] = 0


@jit.kernel
def col2im(cols, gx, kernel, stride, pad, dilation):
    """The adjoint of :func:`im2col`: ``gx[n, c, od*s + kd*d - p, ...] += cols[n, c, kd, ...,
    od, ...]`` over every tap and output position, padding skipped. ``gx (n, C, D, H, W)``
    is overwritten."""
    N, C, D, H, W = gx.shape
    OD, OH, OW = cols.shape[5:]
    for n in range(N):
        for c in range(C):
            gx[n, c] = 0
            for kd in range(kernel[0]):
                for kh in range(kernel[1]):
                    for kw in range(kernel[2]):
                        start_w = kw * dilation[2] - pad[2]
                        lo, hi = _inside(OW, W, start_w, stride[2])
                        for od in range(OD):
                            i_d = od * stride[0] + kd * dilation[0] - pad[0]
                            if i_d < 0 or i_d >= D:
                                continue
                            for oh in range(OH):
                                i_h = oh * stride[1] + kh * dilation[1] - pad[1]
                                if i_h < 0 or i_h >= H:
                                    continue
                                row = cols[n, c, kd, kh, kw, od, oh]
                                dst = gx[n, c, i_d, i_h]
                                for ow in range(lo, hi):
                                    dst[U(start_w + ow * stride[2])] += row[U(ow)]


@jit.kernel
def _chunk_columns(x, n0, n1, g, R, kernel, stride, pad, dilation, out):
    """:func:`im2col` of samples ``n0..n1`` into a new buffer ``(n, g, R, prod(O))``: ``R``
    rows a group, of which the caller fills any past the columns' own."""
    cols = np.empty((n1 - n0, g, R, out[0] * out[1] * out[2]), x.dtype)
    im2col(x[n0:n1], cols.reshape((n1 - n0, g, R, out[0], out[1], out[2])), kernel, stride,
           pad, dilation)
    return cols


# Inside a threaded kernel, numba turns a whole-array expression (``a += b``, ``a[:, 0] = 1``)
# into a parallel loop of its own, nested in the kernel's: seconds more to compile each time, for
# no gain (the kernel's own loop has the threads already). These two are plain loops instead
# (add_into serves pointwise's and Winograd's kernels too).


@jit.kernel
def _set_last_row(cols):
    """``cols[:, :, -1] = 1`` for ``cols (n, g, R, P)``."""
    n, g, R, P = cols.shape
    for i in range(n):
        for k in range(g):
            for p in range(P):
                cols[i, k, R - 1, p] = 1


@jit.kernel
def add_into(total, part):
    """``total += part`` for two 2-D arrays of one shape."""
    for r in range(total.shape[0]):
        for c in range(total.shape[1]):
            total[r, c] += part[r, c]


@jit.kernel(threaded=True, bounds="bounds")
def forward_chunks(x, w, y, bounds, kernel, stride, pad, dilation, out, ones):
    """``y[n, k] = w[k] @ cols[n, k]`` for every sample ``n`` and group ``k``, chunk by chunk:
    ``x (N, C, D, H, W)``, ``w (g, M, R)``, ``y (N, g, M, prod(O))``. With ``ones``, each
    group's last row of columns is ones, for the bias in ``w``'s last column."""
    g, R = w.shape[0], w.shape[2]
    for j in prange(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        cols = _chunk_columns(x, n0, n1, g, R, kernel, stride, pad, dilation, out)
        if ones:
            _set_last_row(cols)
        for i in range(n1 - n0):
            for k in range(g):
                blas.dot(w[k], cols[i, k], y[n0 + i, k])


@jit.kernel(threaded=True)
def forward_bands(x, w, y, bands, kernel, stride, pad, dilation, out, ones):
    """:func:`forward_chunks` for large images, band by band: ``bands (B, 3)`` holds a sample
    and a range ``[o0, o1)`` of output rows per row (of output positions where there is one
    row: a 1-D convolution), and each band's columns are made and multiplied on their own,
    into the band's slice of ``y``'s positions, ``y (N, g, M, OH*OW)``. One output depth
    (``out[0] == 1``). A band is the convolution of the whole sample with its padding in front
    less ``o0`` strides (negative: the windows start inside the input), ``o1 - o0`` outputs
    long: the sample is read where it lies, as a contiguous array, which the copies' loops
    need to run as vector code."""
    g, R = w.shape[0], w.shape[2]
    for j in prange(bands.shape[0]):
        n, o0, o1 = bands[j, 0], bands[j, 1], bands[j, 2]
        if out[1] > 1:  # bands of rows
            band_pad, band_out, per = ((pad[0], pad[1] - o0 * stride[1], pad[2]),
                                       (1, o1 - o0, out[2]), out[2])
        else:  # one row: bands of its positions
            band_pad, band_out, per = ((pad[0], pad[1], pad[2] - o0 * stride[2]),
                                       (1, 1, o1 - o0), 1)
        cols = _chunk_columns(x, n, n + 1, g, R, kernel, stride, band_pad, dilation, band_out)
        if ones:
            _set_last_row(cols)
        for k in range(g):
            blas.dot(w[k], cols[0, k], y[n, k, :, o0 * per:o1 * per])


@jit.kernel(threaded=True, bounds="bounds")
def input_grad_chunks(gy, w_t, gx, bounds, kernel, stride, pad, dilation, out):
    """``gx``, the :func:`col2im` of the columns ``w_t[k] @ gy[n, k]``, chunk by chunk:
    ``gy (N, g, M, prod(O))``, ``w_t (g, R, M)`` (each group's weight transposed),
    ``gx (N, C, D, H, W)``."""
    g, positions = gy.shape[1], gy.shape[3]
    R, C = w_t.shape[1], gx.shape[1]
    for j in prange(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        cols = np.empty((n1 - n0, g, R, positions), gy.dtype)
        for i in range(n1 - n0):
            for k in range(g):
                blas.dot(w_t[k], gy[n0 + i, k], cols[i, k])
        col2im(cols.reshape((n1 - n0, C, kernel[0], kernel[1], kernel[2], out[0], out[1],
                             out[2])), gx[n0:n1], kernel, stride, pad, dilation)


@jit.kernel(threaded=True, bounds="bounds")
def weight_grad_chunks(x, gy, parts, bounds, kernel, stride, pad, dilation, out):
    """``parts[j, k] = Σ_n cols[n, k] @ gy[n, k]ᵀ`` over the samples of chunk ``j``, for every
    group ``k``: ``x (N, C, D, H, W)``, ``gy (N, g, M, prod(O))``, ``parts (chunks, g, R, M)``
    (zeros to start with)."""
    g, R, M = parts.shape[1], parts.shape[2], parts.shape[3]
    for j in prange(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        cols = _chunk_columns(x, n0, n1, g, R, kernel, stride, pad, dilation, out)
        product = np.empty((R, M), x.dtype)
        for i in range(n1 - n0):
            for k in range(g):
                blas.dot(cols[i, k], gy[n0 + i, k].T, product)
                add_into(parts[j, k], product)


@jit.kernel
def _block_columns(x, n0, n1, source, C, c0, c1, positions):
    """The columns of input channels ``c0..c1`` of small images ``n0..n1``, the samples
    innermost, ``((c1 - c0)*taps, positions*n)``: entry ``e`` of the block (in the order ``(c,
    t, o)``) of sample ``i`` is ``x[n0 + i, source[e]]``, or zero where ``source[e]`` is -1
    (padding). ``x (N, C*prod(S))``; ``source`` holds the entries of all ``C`` channels
    (:func:`.im2col._source_index`); ``positions = prod(O)``. The block's input is first
    moved to ``(its channels' positions, n)``, so that each entry copies a run of ``n``
    values."""
    n, S = n1 - n0, x.shape[1] // C
    per_channel = len(source) // C  # taps*positions entries
    x_last = np.empty(((c1 - c0) * S, n), x.dtype)
    for i in range(n):
        row = x[n0 + i, c0 * S:c1 * S]  # a view: its indices below are never negative
        for at in range((c1 - c0) * S):
            x_last[at, i] = row[at]
    entries = source[c0 * per_channel:c1 * per_channel]
    count, first = len(entries), c0 * S
    cols = np.empty(count * n, x.dtype)
    for e in range(count):
        at = entries[e]
        if at >= 0:
            for i in range(n):
                cols[e * n + i] = x_last[at - first, i]
        else:
            for i in range(n):
                cols[e * n + i] = 0
    return cols.reshape((count // positions, positions * n))


@jit.kernel(threaded=True, bounds="bounds")
def forward_side_by_side(x, w, b, y, bounds, source, C):
    """Small images: ``y[n, k*M + m, o] = (w[k] @ cols[k])[m, o*n + i] + b[k*M + m]`` for the
    samples ``n = n0 + i`` of each chunk, the columns of a chunk's samples side by side
    (:func:`_block_columns` of all ``C`` channels): ``x (N, C*prod(S))``, ``w (g, M, R)``,
    ``b (g*M,)`` or ``(0,)`` for no bias, ``y (N, g*M, prod(O))``. The product goes to ``y``
    sample by sample, each sample's rows written whole (one core, x32x128x8x8 w256x128x4x4
    stride 2: 7.1 -> 6.5 ms, against a sample innermost, ``C_out*prod(O)`` apart in ``y``)."""
    g, M, R = w.shape
    positions = y.shape[2]
    for j in prange(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        n = n1 - n0
        cols = _block_columns(x, n0, n1, source, C, 0, C, positions)
        product = np.empty((M, positions * n), x.dtype)
        for k in range(g):
            blas.dot(w[k], cols[k * R:(k + 1) * R], product)
            for i in range(n):
                for m in range(M):
                    bias = b[k * M + m] if len(b) else 0
                    for o in range(positions):
                        y[n0 + i, k * M + m, o] = product[m, o * n + i] + bias


@jit.kernel
def _samples_innermost(gy, n0, n1, g):
    """``gy`` of samples ``n0..n1`` with the samples innermost, per group: ``gy (N, g*M, P)
    -> (g, M, P*n)``, entry ``[k, m, o*n + i] = gy[n0 + i, k*M + m, o]``."""
    n, M, P = n1 - n0, gy.shape[1] // g, gy.shape[2]
    g_last = np.empty((g, M, P * n), gy.dtype)
    for k in range(g):
        for m in range(M):
            for o in range(P):
                for i in range(n):
                    g_last[k, m, o * n + i] = gy[n0 + i, k * M + m, o]
    return g_last


@jit.kernel(threaded=True, bounds="blocks")
def weight_grad_side_by_side(x, gy, gw, bounds, blocks, source):
    """Small images: ``gw[k] = Σ_j gy_j[k] @ cols_j[k]ᵀ`` over the chunks ``j`` of samples
    (``bounds``), the columns and ``gy`` of a chunk's samples side by side (the product sums
    over them): ``x (N, C*prod(S))``, ``gy (N, g*M, prod(O))``, ``gw (g, M, R)`` the weight
    gradient, ``R = C_g*taps`` columns a group. A chunk's ``gy`` is moved to ``(g, M,
    prod(O)*n)`` once; then the blocks of input channels ``blocks[b]..blocks[b + 1]`` (none
    across a group; ``blocks[-1] = C``) share the threads, each gathering its own columns
    (:func:`_block_columns`) and adding its product into its own columns of ``gw``. The
    threads write apart, with no slot each to sum, and hold a block's columns at a time."""
    g, M, R = gw.shape
    positions = gy.shape[2]
    C = blocks[len(blocks) - 1]
    C_g = C // g
    taps = R // C_g
    for j in range(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        g_last = _samples_innermost(gy, n0, n1, g)
        for b in prange(len(blocks) - 1):
            c0, c1 = blocks[b], blocks[b + 1]
            k = c0 // C_g
            r0, r1 = (c0 - k * C_g) * taps, (c1 - k * C_g) * taps
            cols = _block_columns(x, n0, n1, source, C, c0, c1, positions)
            if j == 0:
                blas.dot(g_last[k], cols.T, gw[k, :, r0:r1])
            else:
                blas.dot_add(g_last[k], cols.T, gw[k, :, r0:r1])


@jit.kernel
def _add_block(cols, gx, n0, n1, source, C, c0, c1):
    """The adjoint of :func:`_block_columns`, into input channels ``c0..c1`` of samples
    ``n0..n1`` of ``gx (N, C*prod(S))`` (overwritten there): entry ``e`` of the block of
    sample ``i``, ``cols[e*n + i]``, adds into ``gx[n0 + i, source[e]]``, or nowhere where
    ``source[e]`` is -1 (padding). The entries go in the order ``(c, t, o)``, as in
    :func:`.im2col._add_side_by_side`, the NumPy twin."""
    n, S = n1 - n0, gx.shape[1] // C
    per_channel = len(source) // C
    entries = source[c0 * per_channel:c1 * per_channel]
    count, first = len(entries), c0 * S
    flat = cols.reshape(count * n)
    sums = np.zeros(((c1 - c0) * S, n), gx.dtype)  # the block of gx, samples innermost
    for e in range(count):
        at = entries[e]
        if at >= 0:
            for i in range(n):
                sums[at - first, i] += flat[e * n + i]
    for i in range(n):
        row = gx[n0 + i, c0 * S:c1 * S]
        for at in range((c1 - c0) * S):
            row[at] = sums[at, i]


@jit.kernel(threaded=True, bounds="blocks")
def input_grad_side_by_side(gy, w_t, gx, bounds, blocks, source):
    """Small images: ``gx``, the scatter-add (:func:`_add_block`) of the columns ``w_t[k] @
    gy_k``, ``gy`` of each chunk's samples side by side (one product per block, where one
    per sample would have ``prod(O)`` columns): ``gy (N, g*M, prod(O))``, ``w_t (g, R, M)``
    (each group's weight transposed), ``gx (N, C*prod(S))``. As in
    :func:`weight_grad_side_by_side`, a chunk's ``gy`` is moved once, then the blocks of
    input channels share the threads, each making its rows of columns and adding them into
    its own channels of ``gx``."""
    g, R = w_t.shape[0], w_t.shape[1]
    C = blocks[len(blocks) - 1]
    C_g = C // g
    taps = R // C_g
    for j in range(len(bounds) - 1):
        n0, n1 = bounds[j], bounds[j + 1]
        g_last = _samples_innermost(gy, n0, n1, g)
        for b in prange(len(blocks) - 1):
            c0, c1 = blocks[b], blocks[b + 1]
            k = c0 // C_g
            r0, r1 = (c0 - k * C_g) * taps, (c1 - k * C_g) * taps
            cols = np.empty((r1 - r0, g_last.shape[2]), gy.dtype)
            blas.dot(w_t[k, r0:r1], g_last[k], cols)
            _add_block(cols, gx, n0, n1, source, C, c0, c1)
