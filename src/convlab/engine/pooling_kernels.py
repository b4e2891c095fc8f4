"""Max pooling and its backward as compiled loops (:mod:`.jit`): one pass over the input.

The NumPy code in :mod:`.pooling` pools with one strided view per kernel tap: a padded copy
of the input, a running maximum over the views, a second walk over them to find the winner's
position, then a table lookup for its flat index; and its backward is ``np.add.at``, which
adds one element at a time through a slow generic path. The loops here do the plain
definition's work, reading the input where it is:

- **max pooling** visits the window taps in row-major order and keeps, per output, the best
  value and its flat index, replacing them by PyTorch's rule ``v > best or v != v`` (ties keep
  the first maximum; a NaN wins, the last NaN). Taps in the padding are skipped, which is
  what a padding of -inf would give. An output starts from ``lowest`` and the index of its
  window's first tap at or after 0, so a window that finds nothing above ``lowest`` reports
  that tap, as PyTorch does.
- **its backward** is the scatter-add ``gx[b].flat[indices[b, j]] += gy[b, j]``: a plain loop,
  one plane at a time (the plane is zeroed just before, while it is in cache).

Every case runs as 3-D: the caller views a 1-D or 2-D plane with leading axes of length 1,
whose loops run once. The outputs of one row ``(od, oh)`` are the innermost loop, tap by tap
(:func:`_row_max`): along it the positions that read the input form one run ``[lo, hi)``
(:func:`inside`), so that loop has no bounds test and no branch, and compiles to vector code.
Two details decide whether it does:

- the row is a slice that starts at the run's first input (index ``i*step``, never negative):
  with an index that might be negative numba adds a wrap-around test per element, and the
  loop stays scalar;
- the step along the row is a constant the compiler sees (1 and 2 get their own call): with
  a step known only at run time the loop stays scalar too.

Measured on one core, float32, ``x16x64x112x112``, 3x3 stride 2 padding 1 (values and indices):
123 ms for the same loop with branches and the step unknown, 47 ms as written here, 58 ms for
the NumPy path, about 60 ms for PyTorch; the backward's scatter 6 ms against about 70 ms
with ``np.add.at``. Each row costs a fixed setup, though, so short rows lose: with 16 outputs a
row the loop took 1.85x the NumPy path's time, with 32 outputs 0.55x.

Max pooling's values alone (inference: no indices) take :func:`max_pool_values`, which keeps
no positions and so can reorder the work into two passes per output row, each vector code:

- the input rows that the row's windows read are combined elementwise into one row, three at
  a time (``max(a, b, c)`` in one pass; a pass per row that reads and writes its output stays
  scalar, 3x slower);
- that row, held in a buffer padded with ``lowest`` on both sides, is pooled along its length,
  three taps a pass, with no bounds test.

A maximum does not change when an element is read twice, so short windows repeat a row or a
tap instead of taking other code. The value is PyTorch's (a NaN anywhere in the window wins);
the order of the taps differs from the row-major one, which can show only in a tie between 0.0
and -0.0 (equal values) or in which NaN's bits come out. SqueezeNet's first pool,
``1x64x111x111`` 3x3 stride 2: 2.9 ms with indices by :func:`max_pool`, 0.19 ms here.

Every entry point shares the planes between the engine's threads (``prange``, :mod:`.jit`).

Windows that tile the input (kernel = stride, no padding) get a loop of their own,
:func:`max_pool_tiles`, one output at a time with the window's taps innermost; given the
window's size as constants, the compiler unrolls the taps and vectorizes over the outputs of a
row. For the digits CNN's 2x2 pooling of ``64x16x8x8`` it takes 118 µs, against 265 µs for the
NumPy path and 500 µs for the row loop; ``16x64x56x56`` 1.3 ms against 7.3 ms with NumPy. With
the size unknown to the compiler the same loop is slower than NumPy (4x4: 10 ms against 9 ms),
so only the sizes in :data:`TILES` take it.

Average pooling takes the same tiling loop, forward (:func:`avg_pool_tiles`) and backward
(:func:`avg_pool_tiles_backward`, which writes each input element once, no zeroing first):
``x16x64x56x56`` 2x2 forward 1.0 ms against 4.1 ms with NumPy, backward 1.1 ms against 7.8 ms.
Other average windows stay with NumPy: its separable strided sums (2.4 ms for the same 2x2
case) beat a row loop like the one for max pooling (7.4 ms), whose stride-2 reads compile to
gathers.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .jit import prange

__all__ = ["inside", "first_tap", "max_pool", "max_pool_values", "TILES", "max_pool_tiles",
           "avg_pool_tiles", "avg_pool_tiles_backward", "scatter_add"]


@jit.kernel
def inside(n_out, n_in, start, step):
    """The outputs ``o`` in ``[lo, hi)`` whose input position ``start + o*step`` lies in
    ``[0, n_in)``; the others read padding. Step 1 (a window's taps, undilated) needs no
    division, which costs as much as the rest of a short row's setup."""
    if step == 1:
        lo = max(-start, 0)
        return lo, max(lo, min(n_in - start, n_out))
    lo = 0
    if start < 0:
        lo = (-start + step - 1) // step  # the first o with start + o*step >= 0
    hi = 0
    if n_in > start:
        hi = (n_in - start + step - 1) // step  # the first o with start + o*step >= n_in
    hi = min(hi, n_out)
    return lo, max(lo, hi)


@jit.kernel
def first_tap(start, dilation):
    """The first tap position ``start + m*dilation`` (m >= 0) at or after 0."""
    if start >= 0:
        return start
    return start + (-start + dilation - 1) // dilation * dilation


@jit.kernel
def _row_max(src, best, arg, first, step):
    """``best[i]`` against ``src[i*step]`` by PyTorch's rule, for every ``i``; a winner's flat
    index is ``first + i*step``. A loop without branches, which compiles to vector code."""
    for i in range(best.shape[0]):
        v = src[i * step]
        b = best[i]
        better = (v > b) | (v != v)  # v != v: v is NaN
        best[i] = v if better else b
        arg[i] = first + i * step if better else arg[i]


@jit.kernel(threaded=True)
def max_pool(x, y, indices, kernel, stride, pad, dilation, lowest):
    """``y[b, o] = max over the window's taps of x[b, ...]`` and ``indices[b, o]`` = the flat
    position of the winner in its ``(D, H, W)`` plane. ``x (B, D, H, W)``; ``y, indices
    (B, OD, OH, OW)`` are overwritten."""
    B, D, H, W = x.shape
    OD, OH, OW = y.shape[1:]
    step = stride[2]
    for b in prange(B):
        for od in range(OD):
            start_d = od * stride[0] - pad[0]
            for oh in range(OH):
                start_h = oh * stride[1] - pad[1]
                best = y[b, od, oh]
                arg = indices[b, od, oh]
                first = (first_tap(start_d, dilation[0]) * H
                         + first_tap(start_h, dilation[1])) * W
                for ow in range(OW):
                    best[ow] = lowest
                    arg[ow] = first + first_tap(ow * step - pad[2], dilation[2])
                for kd in range(kernel[0]):
                    i_d = start_d + kd * dilation[0]
                    if i_d < 0 or i_d >= D:
                        continue
                    for kh in range(kernel[1]):
                        i_h = start_h + kh * dilation[1]
                        if i_h < 0 or i_h >= H:
                            continue
                        row = (i_d * H + i_h) * W
                        for kw in range(kernel[2]):
                            lo, hi = inside(OW, W, kw * dilation[2] - pad[2], step)
                            i_w = kw * dilation[2] - pad[2] + lo * step  # tap of output lo
                            src = x[b, i_d, i_h, i_w:]
                            # a step known to the compiler turns the row into vector code
                            if step == 1:
                                _row_max(src, best[lo:hi], arg[lo:hi], row + i_w, 1)
                            elif step == 2:
                                _row_max(src, best[lo:hi], arg[lo:hi], row + i_w, 2)
                            else:
                                _row_max(src, best[lo:hi], arg[lo:hi], row + i_w, step)


@jit.kernel
def _wins(v, best):
    """PyTorch's rule for the maximum, ``v`` against the best so far: ``v > best`` or v is NaN.
    For values alone it is a maximum that keeps NaN, whichever side it is on."""
    return v if (v > best) | (v != v) else best


@jit.kernel
def _window_rows(n_out, n_in, k, stride, pad, dilation):
    """Per output position along one axis, the first input position its window reads inside
    the input and how many it reads (0: the window lies in the padding)."""
    first, count = np.empty(n_out, np.int64), np.empty(n_out, np.int64)
    for o in range(n_out):
        start = o * stride - pad
        lo, hi = inside(k, n_in, start, dilation)
        first[o], count[o] = start + lo * dilation, hi - lo
    return first, count


@jit.kernel
def _rows_read(OD, OH, D, H, kernel, stride, pad, dilation):
    """Which input rows each output row's windows read: ``count[q]`` of them for output row
    ``q = od * OH + oh``, their numbers ``d * H + h`` in ``rows[q, :count[q]]`` in (depth,
    height) order, the last repeated to fill at least 3 columns (a row read twice does not
    change a maximum). The same in every plane, so worked out once a call."""
    first_d, n_d = _window_rows(OD, D, kernel[0], stride[0], pad[0], dilation[0])
    first_h, n_h = _window_rows(OH, H, kernel[1], stride[1], pad[1], dilation[1])
    rows = np.zeros((OD * OH, max(kernel[0] * kernel[1], 3)), np.int64)
    count = np.empty(OD * OH, np.int64)
    for od in range(OD):
        for oh in range(OH):
            q = od * OH + oh
            count[q] = n_d[od] * n_h[oh]
            for k in range(rows.shape[1] if count[q] else 0):
                m = min(k, count[q] - 1)
                d = first_d[od] + m // n_h[oh] * dilation[0]
                rows[q, k] = d * H + first_h[oh] + m % n_h[oh] * dilation[1]
    return rows, count


@jit.kernel(threaded=True)
def max_pool_values(x, y, kernel, stride, pad, dilation, lowest):
    """:func:`max_pool`'s values alone, in two passes per output row: the input rows its windows
    read, combined elementwise into one row (contiguous, so vector code), then the windows
    along that row. The combined row sits in a buffer padded with ``lowest`` on both sides, so
    that neither pass tests bounds. ``x (B, D, H, W)``; ``y (B, OD, OH, OW)`` is overwritten.

    Both passes are loops of this function itself, over rows it indexes: as calls of small
    kernels that took the rows as arrays, each call cost as much as its loop (one core,
    SqueezeNet's 3x3 stride-2 pools of ``1x64x111x111``, ``1x128x55x55`` and
    ``1x256x27x27``: 271, 192, 168 us as calls, 148, 79, 64 us as a plain loop of the same
    work). The windows' step and offsets are constants in the common cases (3 taps with step 2
    or 1, 2 taps with step 2): with a step known only at run time the loop stays scalar. Each
    output row's input rows come from a table made once a call (:func:`_rows_read`), and the
    common cases' windows along the row are their own loops, the taps past the third only in
    the general one: both are per-row costs, which rows of 13 outputs feel (the same pools,
    p10 of 400 interleaved, one core: 188, 115, 98 us -> 176, 101, 87 us)."""
    B, D, H, W = x.shape
    OD, OH, OW = y.shape[1:]
    x2 = x.reshape(B, D * H, W)
    y2 = y.reshape(B, OD * OH, OW)
    width = max(pad[2] + W, (OW - 1) * stride[2] + (kernel[2] - 1) * dilation[2] + 1)
    step, dil, taps = stride[2], dilation[2], kernel[2]
    second, third = min(1, taps - 1) * dil, min(2, taps - 1) * dil
    rows_read, count = _rows_read(OD, OH, D, H, kernel, stride, pad, dilation)
    # a padded row per plane, made before the loop: one allocation, not one a plane (which
    # costs more than pooling a plane of a row or two)
    rows = np.empty((B, width), x.dtype)
    for b in prange(B):
        t = rows[b]
        for i in range(pad[2]):  # the padding on both sides; each output row writes the rest
            t[i] = lowest
        for i in range(pad[2] + W, width):
            t[i] = lowest
        row = t[pad[2]:pad[2] + W]
        for q in range(OD * OH):
            n = count[q]
            if n == 0:  # the windows lie in the padding: lowest throughout
                for i in range(W):
                    row[i] = lowest
            else:  # three rows a pass, then two more a pass
                r0, r1 = x2[b, rows_read[q, 0]], x2[b, rows_read[q, 1]]
                r2 = x2[b, rows_read[q, 2]]
                for i in range(W):
                    row[i] = _wins(r2[i], _wins(r1[i], r0[i]))
                for k in range(3, n, 2):
                    r1 = x2[b, rows_read[q, k]]
                    r2 = x2[b, rows_read[q, min(k + 1, n - 1)]]
                    for i in range(W):
                        row[i] = _wins(r2[i], _wins(r1[i], row[i]))
            # the windows along the row: three taps a pass (a tap repeated for windows of
            # fewer), then two more a pass
            out = y2[b, q]
            if dil == 1 and taps == 3 and step == 2:
                for o in range(OW):
                    out[o] = _wins(t[2 * o + 2], _wins(t[2 * o + 1], t[2 * o]))
            elif dil == 1 and taps == 3 and step == 1:
                for o in range(OW):
                    out[o] = _wins(t[o + 2], _wins(t[o + 1], t[o]))
            elif dil == 1 and taps == 2 and step == 2:
                for o in range(OW):
                    out[o] = _wins(t[2 * o + 1], t[2 * o])
            else:
                for o in range(OW):
                    j = o * step
                    out[o] = _wins(t[j + third], _wins(t[j + second], t[j]))
                for m in range(3, taps, 2):
                    first, last = m * dil, min(m + 1, taps - 1) * dil
                    for o in range(OW):
                        j = o * step
                        out[o] = _wins(t[j + last], _wins(t[j + first], out[o]))


@jit.kernel
def _max_pool_tiles(x, y, indices, KD, KH, KW, lowest):
    """:func:`max_pool` where the windows tile the input: kernel ``(KD, KH, KW)`` equal to the
    stride, no padding, no dilation, every window inside the input. Called with the window's
    size as constants, the compiler unrolls the window and turns the loop over ``ow`` into
    vector code."""
    B, D, H, W = x.shape
    OD, OH, OW = y.shape[1:]
    for b in range(B):
        for od in range(OD):
            for oh in range(OH):
                for ow in range(OW):
                    best = lowest
                    arg = (od * KD * H + oh * KH) * W + ow * KW
                    for kd in range(KD):
                        for kh in range(KH):
                            i_d = od * KD + kd
                            i_h = oh * KH + kh
                            for kw in range(KW):
                                i_w = ow * KW + kw
                                v = x[b, i_d, i_h, i_w]
                                better = (v > best) | (v != v)
                                best = v if better else best
                                arg = (i_d * H + i_h) * W + i_w if better else arg
                    y[b, od, oh, ow] = best
                    indices[b, od, oh, ow] = arg


TILES = ((1, 2, 2), (1, 3, 3))  # the windows that max_pool_tiles takes
# Each tiling loop has a dispatcher of its own that spells these windows out as constants: one
# shared dispatcher taking the loop as an argument would not be cached on disk by numba
# ("uses dynamic globals"), so every process would compile it again.


@jit.kernel(threaded=True)
def max_pool_tiles(x, y, indices, kernel, lowest):
    """:func:`_max_pool_tiles` for a window in :data:`TILES`, its size made a constant, the
    planes shared between the threads."""
    for b in prange(x.shape[0]):
        p = slice(b, b + 1)
        if kernel == (1, 2, 2):
            _max_pool_tiles(x[p], y[p], indices[p], 1, 2, 2, lowest)
        elif kernel == (1, 3, 3):
            _max_pool_tiles(x[p], y[p], indices[p], 1, 3, 3, lowest)


@jit.kernel
def _avg_pool_tiles(x, y, KD, KH, KW, divisor):
    """Average pooling where the windows tile the input (as :func:`_max_pool_tiles`):
    ``y[b, o] = (sum of window o) / divisor``."""
    B, D, H, W = x.shape
    OD, OH, OW = y.shape[1:]
    for b in range(B):
        for od in range(OD):
            for oh in range(OH):
                for ow in range(OW):
                    total = x.dtype.type(0)
                    for kd in range(KD):
                        for kh in range(KH):
                            for kw in range(KW):
                                total += x[b, od * KD + kd, oh * KH + kh, ow * KW + kw]
                    y[b, od, oh, ow] = total / divisor


@jit.kernel
def _avg_pool_tiles_backward(gy, gx, KD, KH, KW, divisor):
    """The adjoint of :func:`_avg_pool_tiles`: every element of window ``o`` receives
    ``gy[b, o] / divisor``; the input's unread tail receives zero."""
    B, D, H, W = gx.shape
    OD, OH, OW = gy.shape[1:]
    for b in range(B):
        if OD * KD < D or OH * KH < H or OW * KW < W:
            gx[b] = 0
        for od in range(OD):
            for oh in range(OH):
                for ow in range(OW):
                    share = gy[b, od, oh, ow] / divisor
                    for kd in range(KD):
                        for kh in range(KH):
                            for kw in range(KW):
                                gx[b, od * KD + kd, oh * KH + kh, ow * KW + kw] = share


@jit.kernel(threaded=True)
def avg_pool_tiles(x, y, kernel, divisor):
    """:func:`_avg_pool_tiles` for a window in :data:`TILES`, its size made a constant, the
    planes shared between the threads."""
    for b in prange(x.shape[0]):
        p = slice(b, b + 1)
        if kernel == (1, 2, 2):
            _avg_pool_tiles(x[p], y[p], 1, 2, 2, divisor)
        elif kernel == (1, 3, 3):
            _avg_pool_tiles(x[p], y[p], 1, 3, 3, divisor)


@jit.kernel(threaded=True)
def avg_pool_tiles_backward(gy, gx, kernel, divisor):
    """:func:`_avg_pool_tiles_backward` for a window in :data:`TILES`, its size a constant,
    the planes shared between the threads."""
    for b in prange(gy.shape[0]):
        p = slice(b, b + 1)
        if kernel == (1, 2, 2):
            _avg_pool_tiles_backward(gy[p], gx[p], 1, 2, 2, divisor)
        elif kernel == (1, 3, 3):
            _avg_pool_tiles_backward(gy[p], gx[p], 1, 3, 3, divisor)


@jit.kernel(threaded=True)
def scatter_add(g, indices, gx):
    """``gx[b, indices[b, j]] += g[b, j]``; an index past the plane sends nothing.
    ``g, indices (B, M)``; ``gx (B, P)`` is overwritten. The planes are shared between the
    threads (a plane's indices stay inside it, so no two threads add to one element)."""
    B, M = g.shape
    P = gx.shape[1]
    for b in prange(B):
        dst = gx[b]
        for i in range(P):  # a loop, not dst[:] = 0: see im2col_kernels.add_into
            dst[i] = 0
        for j in range(M):
            i = indices[b, j]
            if i < P:
                dst[i] += g[b, j]

