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

Where numba is there (:mod:`.jit`), compiled loops do the same sums in one pass over each
channel instead of one pass over the chunk per tap (see "The compiled path" below), in one of two
layouts: vectors along an image's rows for stride 1 along rows of 10 and more, vectors across
the channels (the sample moved to channels-last) for strided and short rows. One core,
float32, batch 32, forward+backward, MobileNetV2's depthwise layers before -> after the
channels-last loops (PyTorch): 288x8x8 stride 2 13.9 -> 1.5 ms (1.9-2.4), 480x4x4 5.7 -> 1.4
(1.6), 96x32x32 stride 2 31.8 -> 11.8 (8.8-9.6), 192x8x8 3.4 -> 2.5 (1.6-1.8). Measured
on one core, float32, case ``depthwise`` (x16x128x28x28, 3x3, padding 1): forward 9.2 ms with
NumPy, 1.9 ms compiled; input gradient 12 ms and 1.9 ms; weight gradient 3.3 ms and 1.7 ms
(PyTorch: about 2-3 ms forward, 8-12 ms forward+backward on the same shared machine).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import jit, parallel
from .geometry import ConvGeometry
from .im2col import add_bias, chunk_bounds
from .im2col_kernels import U
from .jit import prange
from .parallel import map_chunks, runs, split

__all__ = ["supports", "forward_plan", "conv_forward", "conv_input_grad", "conv_weight_grad"]

CHUNK_BYTES = 1 << 20
# Output rows shorter than this take the channels-last loops. One core, 32x160xSxS, 3x3,
# padding 1, forward / input gradient / weight gradient ms, channels-last against runs (with
# their nine taps a pass): S = 8: 0.61 / 0.78 / 0.82 against 0.72 / 0.90 / 0.64; S = 12:
# 1.38 / 1.98 / 2.16 against 1.23 / 1.38 / 1.12; S = 14: 1.86 / 2.60 / 2.50 against
# 1.39 / 1.66 / 1.34.
CHANNELS_LAST_BELOW = 10


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
    if jit.active():
        return forward_plan(G, x.shape, x.dtype)(x, w, b)
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
    if jit.active():
        return _compiled_input_grad(gy, w, G)
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
    if jit.active():
        return _compiled_weight_grad(x, gy, G)
    N, C = x.shape[:2]
    mult = G.out_channels // C
    taps = math.prod(G.kernel_size)
    P, L, offsets = _grid(G)
    gy_split = gy.reshape(N, C, mult, math.prod(G.out_size))  # (N, C, mult, prod(O))

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


# --- The compiled path (numba, :mod:`.jit`) -------------------------------------------------
#
# Every layout is handled as 3-D, ``(D, H, W)``, with unit axes in front of 1-D and 2-D sizes.
# One channel of one sample is copied into a zeroed, padded buffer ``(Dp, Hp, Wp)`` (a few KB:
# it stays in the L1 cache), which is then read flat. The outputs go in *runs*: a run is a set
# of outputs whose inputs, for every tap, lie ``step`` apart in the flat buffer, from the run's
# start plus the tap's offset. So one run and one tap make one multiply-add loop over memory
# read in order, which the compiler turns into vector instructions:
#
# - stride 1 on every axis: one run covers the whole output on the padded grid
#   ``(OD, Hp, Wp)``, as in the NumPy path above; the junk columns past each row's end (and
#   junk rows past each plane's end) are dropped when the result is copied out;
# - otherwise: one run per output row ``(od, oh)``, ``OW`` long, ``stride_w`` apart.
#
# With stride 1 the forward adds three taps in one pass over the run (loading and storing the
# run once for three multiply-adds: 2.1 -> 1.9 ms), nine (a 3x3 kernel) or five (a row of a 5x5
# kernel: :func:`_taps5`), the weight gradient dots three taps' runs
# with one pass over ``gy`` (1.9 -> 1.7 ms), and the input gradient is gathered the same way
# rather than scattered tap by tap (:func:`_input_grad_gather_kernel`).
#
# Measured on one core, depthwise forward (x16x128x28x28, 3x3): one flat run 2.5 ms, a run per
# row 4.7 ms (28 outputs a loop are too few to keep the vector units busy). The items (one
# channel of one sample) go in memory order, in all three passes: the weight gradient, first
# written channel by channel over the batch (no partial sums to add), took 3.4 ms, not 2.4.
#
# The forward has a third layout, one run per output row written in place (:func:`_rows`,
# :func:`_forward_rows_kernel`), that reads only the kernel rows inside the input. On a short
# image most taps read padding: over an image of 2 rows (padding 2), 30 of the 50 taps of a
# 5x5 kernel's two output rows read only zeros; rapidocr's MobileNetV3 has such layers (200
# channels of 2x96).
# Two kernel rows of five taps are one pass over the output row (:func:`_taps10`: one core,
# rapidocr's 5x5 layers 8-13% faster than a pass per row, 200x2x96 78 -> 68 us under load),
# a last row of five or a row of three another; a 3x3 kernel with every row inside is nine
# taps a pass. Tried and no faster (one core, alternated with the code here): three rows of
# five in one pass where three are inside (88x3x96 37.2 -> 39.3 us: its 15 weights and the sum
# fill the 16 vector registers), and the taps read by unsigned indices rather than views
# (200x2x96 41.1 -> 40.3, within noise). It is taken where it skips a third of the taps or more, or
# where a stride across the rows makes the runs output rows anyway (:func:`_by_rows`). One
# core, float32, forward, runs -> rows, the same process alternated (p10 of 300): 200x2x96
# 5x5 94 -> 48 us, 88x3x96 5x5 58 -> 42, 104x3x96 5x5 stride (2, 1) 71 -> 36 (onnxruntime's
# channel-blocked kernel alone: 19, 18, 26), batch 8 of 200x2x96 632 -> 342.
#
# The items are cut into one run per thread (:func:`_items`), and a threaded driver
# (``_forward_runs`` and the others, :mod:`.jit`) shares the runs between OpenMP's threads; the
# weight gradient's runs each add into their own slot of ``parts``, summed afterwards.
#
# The loops index views from ``range`` counters only: numba checks ``a[i + offset]`` for a
# negative index (Python's wrap-around) at every step, which stops vectorization (measured
# 1.1 against 15 billion multiply-adds a second).


@functools.lru_cache(maxsize=64)
def _runs(G: ConvGeometry):
    """The 3-D layout: padded sizes ``P (Dp, Hp, Wp)``, the flat buffer's length (the grid
    plus what the last run reads past it), the run starts, the run length and step, the shape
    ``box`` of the runs side by side (``(OD, Hp, Wp)`` or ``(OD, OH, OW)``), and each tap's flat
    offset (taps in C order). Kept per geometry: worked out at every call, it took 17-32 us,
    as long as the kernel on a small image (one core, 200x2x96 5x5: 31 us beside the kernel's
    85)."""
    lift = 3 - G.nd
    P = (1,) * lift + tuple(i + lo + hi for i, (lo, hi) in zip(G.in_size, G.padding))
    O = (1,) * lift + G.out_size
    s = (1,) * lift + G.stride
    d = (1,) * lift + G.dilation
    st = (P[1] * P[2], P[2], 1)  # flat strides of the padded buffer
    offsets = np.array([sum(k_a * d_a * st_a for k_a, d_a, st_a in zip((0,) * lift + k, d, st))
                        for k in np.ndindex(*G.kernel_size)], dtype=np.int64)
    if all(s_a == 1 for s_a in s) and O[0] == 1:  # 1-D and 2-D: the run ends at the last
        # output row (the padded rows below it would be junk: 8x200x2x96 with a 5x5 kernel
        # computed 6 rows for 2)
        starts, length, step, box = np.zeros(1, dtype=np.int64), O[1] * st[1], 1, (1, O[1], P[2])
    elif all(s_a == 1 for s_a in s):
        starts, length, step, box = np.zeros(1, dtype=np.int64), O[0] * st[0], 1, (O[0],) + P[1:]
    else:
        starts = np.array([od * s[0] * st[0] + oh * s[1] * st[1]
                           for od in range(O[0]) for oh in range(O[1])], dtype=np.int64)
        length, step, box = O[2], s[2], O
    size = max(math.prod(P), int(starts[-1] + offsets[-1]) + (length - 1) * step + 1)
    lo = (0,) * lift + G.pad_lo
    return lo, P, size, starts, length, step, box, offsets


@functools.lru_cache(maxsize=64)
def _rows(G: ConvGeometry):
    """The forward's layout of one run per output row (``length = OW``, step 1 along the
    row), each reading only the kernel rows that fall inside the input: ``lo``, ``P`` and
    ``size`` as :func:`_runs` has them, the run starts, the kernel's row length ``KW``, per
    run the kernel rows it reads (``krows[r, :nk[r]]``, row ``kd * KH + kh`` covering taps
    ``KW * row ..``) and each tap's flat offset. Kept per geometry."""
    lift = 3 - G.nd
    P = (1,) * lift + tuple(i + lo + hi for i, (lo, hi) in zip(G.in_size, G.padding))
    S = (1,) * lift + G.in_size
    O = (1,) * lift + G.out_size
    K = (1,) * lift + G.kernel_size
    s = (1,) * lift + G.stride
    d = (1,) * lift + G.dilation
    lo = (0,) * lift + G.pad_lo
    st = (P[1] * P[2], P[2], 1)
    offsets = np.array([sum(k_a * d_a * st_a for k_a, d_a, st_a in zip((0,) * lift + k, d, st))
                        for k in np.ndindex(*G.kernel_size)], dtype=np.int64)
    starts, krows, nk = [], np.zeros((O[0] * O[1], K[0] * K[1]), np.int64), []
    for od in range(O[0]):
        for oh in range(O[1]):
            starts.append(od * s[0] * st[0] + oh * s[1] * st[1])
            inside = [kd * K[1] + kh for kd in range(K[0]) for kh in range(K[1])
                      if 0 <= od * s[0] + kd * d[0] - lo[0] < S[0]
                      and 0 <= oh * s[1] + kh * d[1] - lo[1] < S[1]]
            krows[len(nk), :len(inside)] = inside
            nk.append(len(inside))
    starts = np.array(starts, dtype=np.int64)
    size = max(math.prod(P), int(starts[-1] + offsets[-1]) + O[2])
    return lo, P, size, starts, K[2], krows, np.array(nk, dtype=np.int64), offsets


def _as_3d(a: np.ndarray, nd: int, dtype) -> np.ndarray:
    """``(n, C, *S) -> (n, C, D, H, W)``: unit axes in front of 1-D and 2-D sizes."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(a.shape[:2] + (1,) * (3 - nd) + a.shape[2:])


def _items(count: int, per_item_bytes: int) -> np.ndarray:
    """``range(count)`` in one run per thread (:func:`.parallel.runs`), as the bounds of the
    runs: run ``j`` is ``bounds[j]..bounds[j + 1]``. A kernel's working set is one item, so the
    runs need no cache size; chunks of CHUNK_BYTES (7 for the depthwise case) went 4 to one
    thread, 3 to the other. Kept per count, size and thread count (worked out at every call:
    4.8 us, a twentieth of a small image's forward)."""
    return _bounds(count, per_item_bytes, parallel.threads(), parallel.MIN_RUN_BYTES)


@functools.lru_cache(maxsize=256)
def _bounds(count: int, per_item_bytes: int, threads: int, min_run_bytes: int) -> np.ndarray:
    """:func:`_items`'s bounds, for ``threads`` threads and that MIN_RUN_BYTES (the key: the
    runs depend on both)."""
    return chunk_bounds(runs(count, per_item_bytes))


@jit.kernel
def _copy(dst, dst_lo, dst_box, src, src_lo, src_box, size):
    """A box of ``size`` ``(D, H, W)`` copied between two flat buffers, row by row: ``src``
    holds a ``src_box`` array flat and the box starts at ``src_lo`` in it; ``dst`` likewise.
    Each row is a 1-D slice of a flat buffer, which the compiler knows to be contiguous and
    copies with vector instructions; rows of 3-D views (which may have any strides, so are
    copied a value at a time) took 2.6-7.5 times as long (one core: a 2x96 channel out of a
    2x100 grid 87 -> 33 ns, 24x96 out of 24x98 977 -> 130 ns). numba's own copy of a 3-D
    slice, which handles any layout, took 2.3 ms of the depthwise forward's 3.5, the 3-D rows
    0.7."""
    for a in range(size[0]):
        for b in range(size[1]):
            d = ((dst_lo[0] + a) * dst_box[1] + dst_lo[1] + b) * dst_box[2] + dst_lo[2]
            s = ((src_lo[0] + a) * src_box[1] + src_lo[1] + b) * src_box[2] + src_lo[2]
            to, row = dst[d:d + size[2]], src[s:s + size[2]]
            for i in range(size[2]):
                to[i] = row[i]


@jit.kernel
def _flat_of(a):
    """A C-contiguous array's values as a 1-D view."""
    return a.reshape(a.size)


@jit.kernel
def _add_scaled(out, a, src):
    """``out += a * src`` on 1-D arrays."""
    for i in range(len(out)):
        out[i] += a * src[i]


@jit.kernel
def _add_scaled3(out, a, src_a, b, src_b, c, src_c):
    """``out += a * src_a + b * src_b + c * src_c``: one pass over ``out`` for three taps."""
    for i in range(len(out)):
        out[i] += a * src_a[i] + b * src_b[i] + c * src_c[i]


@jit.kernel
def _taps9(out, base, add, w, xp, start, offsets, t):
    """Taps ``t..t+8`` of a run in one pass: ``out (+)= Σ_k w[t+k] * xp[start + offsets[t+k]:]``
    over ``len(out)`` values; ``add`` False starts from ``base`` (the bias) instead of ``out``.
    A 3x3 kernel in one pass, where three passes of three taps read and wrote the run three
    times: one core, forward, x16x128x28x28 2.2 -> 1.7 ms, x32x96x32x32 5.9 -> 3.5."""
    n = len(out)
    x0, x1, x2 = (xp[start + offsets[t]:start + offsets[t] + n],
                  xp[start + offsets[t + 1]:start + offsets[t + 1] + n],
                  xp[start + offsets[t + 2]:start + offsets[t + 2] + n])
    x3, x4, x5 = (xp[start + offsets[t + 3]:start + offsets[t + 3] + n],
                  xp[start + offsets[t + 4]:start + offsets[t + 4] + n],
                  xp[start + offsets[t + 5]:start + offsets[t + 5] + n])
    x6, x7, x8 = (xp[start + offsets[t + 6]:start + offsets[t + 6] + n],
                  xp[start + offsets[t + 7]:start + offsets[t + 7] + n],
                  xp[start + offsets[t + 8]:start + offsets[t + 8] + n])
    w0, w1, w2, w3, w4, w5, w6, w7, w8 = (w[t], w[t + 1], w[t + 2], w[t + 3], w[t + 4],
                                          w[t + 5], w[t + 6], w[t + 7], w[t + 8])
    if add:
        for i in range(n):
            out[i] += (w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i] + w4 * x4[i]
                       + w5 * x5[i] + w6 * x6[i] + w7 * x7[i] + w8 * x8[i])
    else:
        for i in range(n):
            out[i] = (base + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i] + w4 * x4[i]
                      + w5 * x5[i] + w6 * x6[i] + w7 * x7[i] + w8 * x8[i])


@jit.kernel
def _taps5(out, base, add, w, xp, start, offsets, t):
    """Taps ``t..t+4`` of a run in one pass, as :func:`_taps9`: a row of a 5x5 kernel, whose 25
    taps go as five passes of five rather than nine, nine, three, three and one (a 200-value
    run, one core: the five rows 242 ns, the two passes of nine alone 213). Forward, one core,
    rapidocr's 5x5 layers (min of 7 x100, two processes each, ABAB): 200 channels of 2x96
    88.8/89.5 -> 85.0/87.2 us, 88 of 3x96 55.2 -> 52.1/52.9, 104 of 3x96 stride (2, 1)
    60.5/64.8 -> 57.3/59.0; batch 8 of 200x2x96 level (620-670 us)."""
    n = len(out)
    x0, x1, x2 = (xp[start + offsets[t]:start + offsets[t] + n],
                  xp[start + offsets[t + 1]:start + offsets[t + 1] + n],
                  xp[start + offsets[t + 2]:start + offsets[t + 2] + n])
    x3, x4 = (xp[start + offsets[t + 3]:start + offsets[t + 3] + n],
              xp[start + offsets[t + 4]:start + offsets[t + 4] + n])
    w0, w1, w2, w3, w4 = w[t], w[t + 1], w[t + 2], w[t + 3], w[t + 4]
    if add:
        for i in range(n):
            out[i] += w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i] + w4 * x4[i]
    else:
        for i in range(n):
            out[i] = base + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i] + w4 * x4[i]


@jit.kernel
def _taps10(out, base, add, w, xp, start, offsets, ta, tb):
    """Taps ``ta..ta+4`` and ``tb..tb+4`` of a run in one pass, as :func:`_taps5`: two rows of a
    5x5 kernel (the rows inside the input, which need not be adjacent ones)."""
    n = len(out)
    x0, x1, x2 = (xp[start + offsets[ta]:start + offsets[ta] + n],
                  xp[start + offsets[ta + 1]:start + offsets[ta + 1] + n],
                  xp[start + offsets[ta + 2]:start + offsets[ta + 2] + n])
    x3, x4 = (xp[start + offsets[ta + 3]:start + offsets[ta + 3] + n],
              xp[start + offsets[ta + 4]:start + offsets[ta + 4] + n])
    x5, x6, x7 = (xp[start + offsets[tb]:start + offsets[tb] + n],
                  xp[start + offsets[tb + 1]:start + offsets[tb + 1] + n],
                  xp[start + offsets[tb + 2]:start + offsets[tb + 2] + n])
    x8, x9 = (xp[start + offsets[tb + 3]:start + offsets[tb + 3] + n],
              xp[start + offsets[tb + 4]:start + offsets[tb + 4] + n])
    w0, w1, w2, w3, w4 = w[ta], w[ta + 1], w[ta + 2], w[ta + 3], w[ta + 4]
    w5, w6, w7, w8, w9 = w[tb], w[tb + 1], w[tb + 2], w[tb + 3], w[tb + 4]
    if add:
        for i in range(n):
            out[i] += (w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i] + w4 * x4[i]
                       + w5 * x5[i] + w6 * x6[i] + w7 * x7[i] + w8 * x8[i] + w9 * x9[i])
    else:
        for i in range(n):
            out[i] = (base + w0 * x0[i] + w1 * x1[i] + w2 * x2[i] + w3 * x3[i] + w4 * x4[i]
                      + w5 * x5[i] + w6 * x6[i] + w7 * x7[i] + w8 * x8[i] + w9 * x9[i])


@jit.kernel
def _taps3(out, base, add, w, xp, start, offsets, t):
    """Taps ``t..t+2`` of a run in one pass, as :func:`_taps5`: a row of a 3x3 kernel."""
    n = len(out)
    x0, x1, x2 = (xp[start + offsets[t]:start + offsets[t] + n],
                  xp[start + offsets[t + 1]:start + offsets[t + 1] + n],
                  xp[start + offsets[t + 2]:start + offsets[t + 2] + n])
    w0, w1, w2 = w[t], w[t + 1], w[t + 2]
    if add:
        for i in range(n):
            out[i] += w0 * x0[i] + w1 * x1[i] + w2 * x2[i]
    else:
        for i in range(n):
            out[i] = base + w0 * x0[i] + w1 * x1[i] + w2 * x2[i]


@jit.kernel
def _add_dot(sums, q, a, b):
    """``sums[q] += Σ a * b`` on 1-D arrays. The sum starts from ``sums[q]``: started from
    ``a[0] * 0`` (a zero of the arrays' type) the loop was not vectorized (12 against 24
    billion multiply-adds a second)."""
    total = sums[q]
    for i in range(len(a)):
        total += a[i] * b[i]
    sums[q] = total


@jit.kernel
def _add_dots3(sums, g, src_a, src_b, src_c):
    """``sums += (Σ g * src_a, Σ g * src_b, Σ g * src_c)``: one pass over ``g`` for three taps."""
    s0, s1, s2 = sums[0], sums[1], sums[2]
    for i in range(len(g)):
        v = g[i]
        s0 += v * src_a[i]
        s1 += v * src_b[i]
        s2 += v * src_c[i]
    sums[0], sums[1], sums[2] = s0, s1, s2


@jit.kernel
def _add_dots9(sums, t, g, xp, start, offsets):
    """``sums[t + k] += Σ g * xp[start + offsets[t + k]:]`` for ``k < 9``: one pass over ``g``
    for nine taps (a 3x3 kernel's weight gradient). Its nine views repeat :func:`_taps9`'s: a
    kernel returning the nine as a tuple made both loops 25% slower (one core, 32x160x12x12:
    1.13 -> 1.43 ms)."""
    n = len(g)
    x0, x1, x2 = (xp[start + offsets[t]:start + offsets[t] + n],
                  xp[start + offsets[t + 1]:start + offsets[t + 1] + n],
                  xp[start + offsets[t + 2]:start + offsets[t + 2] + n])
    x3, x4, x5 = (xp[start + offsets[t + 3]:start + offsets[t + 3] + n],
                  xp[start + offsets[t + 4]:start + offsets[t + 4] + n],
                  xp[start + offsets[t + 5]:start + offsets[t + 5] + n])
    x6, x7, x8 = (xp[start + offsets[t + 6]:start + offsets[t + 6] + n],
                  xp[start + offsets[t + 7]:start + offsets[t + 7] + n],
                  xp[start + offsets[t + 8]:start + offsets[t + 8] + n])
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = (sums[t], sums[t + 1], sums[t + 2], sums[t + 3],
                                          sums[t + 4], sums[t + 5], sums[t + 6], sums[t + 7],
                                          sums[t + 8])
    for i in range(n):
        v = g[i]
        s0 += v * x0[i]
        s1 += v * x1[i]
        s2 += v * x2[i]
        s3 += v * x3[i]
        s4 += v * x4[i]
        s5 += v * x5[i]
        s6 += v * x6[i]
        s7 += v * x7[i]
        s8 += v * x8[i]
    sums[t], sums[t + 1], sums[t + 2], sums[t + 3], sums[t + 4] = s0, s1, s2, s3, s4
    sums[t + 5], sums[t + 6], sums[t + 7], sums[t + 8] = s5, s6, s7, s8


@jit.kernel
def _forward_kernel(x, w, b, y, lo, P, size, starts, length, step, box, offsets, first, stop):
    """Items ``first..stop`` (item = sample * C + channel) of ``y (N, C, mult, OD, OH, OW)``
    from ``x (N, C, D, H, W)``, ``w (C, mult, taps)`` and ``b (C, mult)``."""
    C, mult = x.shape[1], w.shape[1]
    # one padded channel, flat (its border stays zero), and the runs as (runs, length)
    xp, acc = np.zeros(size, x.dtype), np.zeros(len(starts) * length, x.dtype)
    runs = acc.reshape((len(starts), length))
    S, O, zero = x.shape[2:], y.shape[3:], (0, 0, 0)
    for item in range(first, stop):
        n, c = item // C, item % C
        _copy(xp, lo, P, _flat_of(x[n, c]), zero, S, S)
        for j in range(mult):
            for r in range(len(starts)):
                run = runs[r]
                t = 0
                if step == 1 and len(offsets) % 5 == 0 and len(offsets) % 9:  # rows of five
                    _taps5(run, b[c, j], False, w[c, j], xp, starts[r], offsets, 0)
                    for t in range(5, len(offsets), 5):
                        _taps5(run, b[c, j], True, w[c, j], xp, starts[r], offsets, t)
                    t = len(offsets)
                elif step == 1 and len(offsets) >= 9:  # nine taps a pass over the run
                    _taps9(run, b[c, j], False, w[c, j], xp, starts[r], offsets, 0)
                    t = 9
                    while t + 9 <= len(offsets):
                        _taps9(run, b[c, j], True, w[c, j], xp, starts[r], offsets, t)
                        t += 9
                else:
                    run[:] = b[c, j]
                while step == 1 and t + 3 <= len(offsets):  # then three
                    a0, a1, a2 = (starts[r] + offsets[t], starts[r] + offsets[t + 1],
                                  starts[r] + offsets[t + 2])
                    _add_scaled3(run, w[c, j, t], xp[a0:a0 + length], w[c, j, t + 1],
                                 xp[a1:a1 + length], w[c, j, t + 2], xp[a2:a2 + length])
                    t += 3
                for t in range(t, len(offsets)):
                    at = starts[r] + offsets[t]
                    if step == 1:
                        _add_scaled(run, w[c, j, t], xp[at:at + length])
                    else:
                        _add_scaled(run, w[c, j, t], xp[at:at + (length - 1) * step + 1:step])
            _copy(_flat_of(y[n, c, j]), zero, O, acc, zero, box, O)


@jit.kernel
def _forward_rows_kernel(x, w, b, y, lo, P, size, starts, kw, krows, nk, offsets, first, stop):
    """Items ``first..stop`` of ``y (N, C, mult, runs, OW)`` (the output rows) from ``x (N, C,
    D, H, W)``, ``w (C, mult, taps)`` and ``b (C, mult)``, the layout of :func:`_rows`: each
    output row written in place, from the kernel rows that read inside the input, a kernel
    row (``kw`` taps) a pass."""
    C, mult = x.shape[1], w.shape[1]
    xp = np.zeros(size, x.dtype)  # one padded channel, flat (its border stays zero)
    S, zero = x.shape[2:], (0, 0, 0)
    for item in range(first, stop):
        n, c = item // C, item % C
        _copy(xp, lo, P, _flat_of(x[n, c]), zero, S, S)
        for j in range(mult):
            wj, bj = w[c, j], b[c, j]
            for r in range(len(starts)):
                run, start = y[n, c, j, r], starts[r]
                if nk[r] == 0:  # every kernel row in the padding
                    run[:] = bj
                elif nk[r] == krows.shape[1] and kw == 3 and len(offsets) % 9 == 0:
                    for t in range(0, len(offsets), 9):  # every row inside: nine taps a pass
                        _taps9(run, bj, t > 0, wj, xp, start, offsets, t)
                    continue
                q0 = 0
                while kw == 5 and q0 + 2 <= nk[r]:  # two kernel rows a pass
                    _taps10(run, bj, q0 > 0, wj, xp, start, offsets, krows[r, q0] * 5,
                            krows[r, q0 + 1] * 5)
                    q0 += 2
                for q in range(q0, nk[r]):
                    t = krows[r, q] * kw
                    if kw == 5:
                        _taps5(run, bj, q > 0, wj, xp, start, offsets, t)
                    elif kw == 3:
                        _taps3(run, bj, q > 0, wj, xp, start, offsets, t)
                    else:
                        if q == 0:
                            run[:] = bj
                        for k in range(t, t + kw):
                            at = start + offsets[k]
                            _add_scaled(run, wj[k], xp[at:at + len(run)])


@jit.kernel
def _input_grad_kernel(gy, w, gx, lo, P, size, starts, length, step, box, offsets, first, stop):
    """Items ``first..stop`` of ``gx (N, C, D, H, W)`` from ``gy (N, C, mult, OD, OH, OW)``:
    each run of ``gy`` times each tap's weight added into the tap's run of the padded input."""
    C, mult = gx.shape[1], w.shape[1]
    # the runs' junk positions stay zero
    gxp, acc = np.zeros(size, gy.dtype), np.zeros(len(starts) * length, gy.dtype)
    runs = acc.reshape((len(starts), length))
    S, O, zero = gx.shape[2:], gy.shape[3:], (0, 0, 0)
    for item in range(first, stop):
        n, c = item // C, item % C
        gxp[:] = 0
        for j in range(mult):
            _copy(acc, zero, box, _flat_of(gy[n, c, j]), zero, O, O)
            for r in range(len(starts)):
                for t in range(len(offsets)):
                    at = starts[r] + offsets[t]
                    if step == 1:
                        _add_scaled(gxp[at:at + length], w[c, j, t], runs[r])
                    else:
                        _add_scaled(gxp[at:at + (length - 1) * step + 1:step], w[c, j, t], runs[r])
        _copy(_flat_of(gx[n, c]), zero, S, gxp, lo, P, S)


@jit.kernel
def _input_grad_gather_kernel(gy, w, gx, lo, P, size, starts, length, step, box, offsets,
                              first, stop):
    """Stride 1 only: the same as :func:`_input_grad_kernel`, gathered instead of scattered.
    Output position ``p`` reaches padded-input position ``p + offset_t`` through tap ``t``, so
    ``gx_grid[q] = Σ_j Σ_t w[c, j, t] · g[q - offset_t]``, with ``g`` the gradient on the output
    grid stored behind ``offsets[-1]`` zeros: one run per tap, read nine (then three) taps a
    pass, as in the forward (depthwise case, one core: 2.3 ms scattered, 1.9 gathered three
    taps a pass)."""
    C, mult = gx.shape[1], w.shape[1]
    taps = len(offsets)
    cells = P[0] * P[1] * P[2]
    front = offsets[-1]
    g_flat = np.zeros(front + max(length, cells), gy.dtype)  # the front and junk stay zero
    acc = np.empty(cells, gy.dtype)
    g = g_flat[front:front + length]
    S, O, zero = gx.shape[2:], gy.shape[3:], (0, 0, 0)
    back = -offsets  # tap t reads g_flat[front - offsets[t]:]
    for item in range(first, stop):
        n, c = item // C, item % C
        for j in range(mult):
            _copy(g, zero, box, _flat_of(gy[n, c, j]), zero, O, O)
            t = 0
            while t + 9 <= taps:  # nine taps a pass, the first pass setting acc
                _taps9(acc, type(w[c, j, t])(0), j > 0 or t > 0, w[c, j], g_flat, front, back, t)
                t += 9
            if j == 0 and t == 0:
                acc[:] = 0
            while t + 3 <= taps:
                a0, a1, a2 = front - offsets[t], front - offsets[t + 1], front - offsets[t + 2]
                _add_scaled3(acc, w[c, j, t], g_flat[a0:a0 + cells], w[c, j, t + 1],
                             g_flat[a1:a1 + cells], w[c, j, t + 2], g_flat[a2:a2 + cells])
                t += 3
            for t in range(t, taps):
                at = front - offsets[t]
                _add_scaled(acc, w[c, j, t], g_flat[at:at + cells])
        _copy(_flat_of(gx[n, c]), zero, S, acc, lo, P, S)


@jit.kernel
def _weight_grad_kernel(x, gy, gw, lo, P, size, starts, length, step, box, offsets, first, stop):
    """Items ``first..stop`` (item = sample * C + channel) added into ``gw (C, mult, taps)``:
    per tap, the runs of ``gy`` dotted with the tap's runs of the padded input."""
    C, mult = x.shape[1], gw.shape[1]
    # the runs' junk positions stay zero
    xp, acc = np.zeros(size, x.dtype), np.zeros(len(starts) * length, x.dtype)
    runs = acc.reshape((len(starts), length))
    S, O, zero = x.shape[2:], gy.shape[3:], (0, 0, 0)
    for item in range(first, stop):
        n, c = item // C, item % C
        _copy(xp, lo, P, _flat_of(x[n, c]), zero, S, S)
        for j in range(mult):
            _copy(acc, zero, box, _flat_of(gy[n, c, j]), zero, O, O)
            for r in range(len(starts)):
                t = 0
                while step == 1 and t + 9 <= len(offsets):  # nine taps a pass over the run
                    _add_dots9(gw[c, j], t, runs[r], xp, starts[r], offsets)
                    t += 9
                while step == 1 and t + 3 <= len(offsets):  # then three
                    a0, a1, a2 = (starts[r] + offsets[t], starts[r] + offsets[t + 1],
                                  starts[r] + offsets[t + 2])
                    _add_dots3(gw[c, j, t:t + 3], runs[r], xp[a0:a0 + length],
                               xp[a1:a1 + length], xp[a2:a2 + length])
                    t += 3
                for t in range(t, len(offsets)):
                    at = starts[r] + offsets[t]
                    if step == 1:
                        _add_dot(gw[c, j], t, runs[r], xp[at:at + length])
                    else:
                        _add_dot(gw[c, j], t, runs[r], xp[at:at + (length - 1) * step + 1:step])


# Small images, and every stride above 1, take another layout (the *channels-last* loops): a
# sample's channels are moved innermost, ``(D, H, W, C)``, so that one output position and one
# tap make a multiply-add over all channels at once, a loop over memory in order that compiles to
# vector instructions however short the image's rows are. The runs above are vectors along a row
# only; on an 8x8 image with stride 2 a run is 4 outputs long, and each run and tap costs a
# view, a slice and a loop start for 4 multiply-adds (MobileNetV2 at batch 32, 2 threads: 288
# channels of 8x8, stride 2, forward 4.6 ms against PyTorch's 0.24). PyTorch's oneDNN does the
# same: its depthwise layers run on channel blocks. The moves in and out cost two copies of the
# sample, small against the multiply-adds of 9 taps.


@jit.kernel
def _add_product(out, a, b):
    """``out += a * b`` on 1-D arrays of one length (the channels)."""
    for c in range(len(out)):
        out[c] += a[c] * b[c]


# The channels-last loops see a sample's padded buffer as ``(cells, C)``, one row per padded
# position in C order, and find their rows by precomputed flat positions (:func:`_last_layout`):
# ``inside[q]``, the row of input position ``q``; ``reads[o]``, the row tap 0 reads for output
# ``o``; ``offsets[t]``, how far tap ``t`` is from tap 0; ``out_rows[j*O + o]``, the row
# ``o*mult + j`` of output ``o``'s multiplier ``j``. The moves between planes and rows go in
# tiles of 8 channels by 8 positions (8 rows of 8 values, read from 8 planes), with unsigned
# indices (``U``: numba tests every signed index for being negative). One core, 32 samples
# moved in: 288x8x8 0.51 ms indexed by row and column, 0.27 flat and unsigned, 0.21 in tiles;
# 96x32x32 3.75 flat, 1.41 in tiles (a plane's 1024 positions are 1024 rows, one cache line
# each, gone from the cache before the next channel writes next to them).


@jit.kernel
def _move(planes, flat, rows, to_rows):
    """Between ``planes (C, Q)`` and the rows of a buffer ``(cells, C)``, seen flat:
    ``flat[rows[q]*C + c] = planes[c, q]`` (``to_rows``; the buffer's other rows stay as they
    are), or the inverse, ``planes[c, q] = flat[rows[q]*C + c]``."""
    C, Q = planes.shape
    C8, width = C - C % 8, U(C)
    for c0 in range(0, C8, 8):
        for q0 in range(0, Q + 7, 8):  # tiles of 8 positions (a constant count: 10-20% faster)
            for k in range(8):
                q = q0 + k
                if q >= Q:  # the last few positions
                    break
                at = U(rows[q]) * width + U(c0)
                for i in range(8):
                    if to_rows:
                        flat[at + U(i)] = planes[U(c0 + i), U(q)]
                    else:
                        planes[U(c0 + i), U(q)] = flat[at + U(i)]
    for c in range(C8, C):
        for q in range(Q):
            if to_rows:
                flat[U(rows[q]) * width + U(c)] = planes[U(c), U(q)]
            else:
                planes[U(c), U(q)] = flat[U(rows[q]) * width + U(c)]


@jit.kernel
def _last_forward_kernel(x, w, b, y, inside, reads, offsets, out_rows, cells, first, stop):
    """Samples ``first..stop`` of ``y (N, C, mult*O)`` from ``x (N, C, Q)``, ``w (taps, mult,
    C)`` and ``b (mult, C)``: at each output ``o``, ``acc[o, j] = b[j] + Σ_t w[t, j] *
    xp[reads[o] + offsets[t]]``, all channels at once, then moved back to planes."""
    C, mult = x.shape[1], w.shape[1]
    O = y.shape[2] // mult
    xp = np.zeros((cells, C), x.dtype)
    acc = np.empty((O, mult, C), x.dtype)
    for n in range(first, stop):
        _move(x[n], xp.reshape(xp.size), inside, True)
        for o in range(O):
            for j in range(mult):
                for c in range(C):
                    acc[U(o), U(j), U(c)] = b[U(j), U(c)]
            for t in range(len(offsets)):  # indexed loops: through _add_product's views and a
                # slice assignment for the bias, 32x192x8x8 took 0.98 ms, not 0.66
                r = U(reads[o] + offsets[t])
                for j in range(mult):
                    for c in range(C):
                        acc[U(o), U(j), U(c)] += w[U(t), U(j), U(c)] * xp[r, U(c)]
        _move(y[n], acc.reshape(acc.size), out_rows, False)


@jit.kernel
def _last_input_grad_kernel(gy, w, gx, inside, reads, offsets, out_rows, cells, first, stop):
    """Samples ``first..stop`` of ``gx (N, C, Q)`` from ``gy (N, C, mult*O)``: each output's
    ``w[t] * gy`` added into the row tap ``t`` read, in a padded buffer, then the input's rows
    moved back to planes."""
    C, mult = gx.shape[1], w.shape[1]
    O = gy.shape[2] // mult
    gxp = np.empty((cells, C), gy.dtype)
    g = np.empty((O, mult, C), gy.dtype)
    for n in range(first, stop):
        gxp[:] = 0
        _move(gy[n], g.reshape(g.size), out_rows, True)
        for o in range(O):
            for t in range(len(offsets)):
                dst = gxp[U(reads[o] + offsets[t])]
                for j in range(mult):
                    _add_product(dst, w[t, j], g[o, j])
        _move(gx[n], gxp.reshape(gxp.size), inside, False)


@jit.kernel
def _last_weight_grad_kernel(x, gy, gw, inside, reads, offsets, out_rows, cells, first, stop):
    """Samples ``first..stop`` added into ``gw (taps, mult, C)``: per tap, ``gy`` times the
    rows the tap read, summed over the outputs, all channels at once."""
    C, mult = x.shape[1], gw.shape[1]
    O = gy.shape[2] // mult
    xp = np.zeros((cells, C), x.dtype)
    g = np.empty((O, mult, C), x.dtype)
    for n in range(first, stop):
        _move(x[n], xp.reshape(xp.size), inside, True)
        _move(gy[n], g.reshape(g.size), out_rows, True)
        for o in range(O):
            for t in range(len(offsets)):
                src = xp[U(reads[o] + offsets[t])]
                for j in range(mult):
                    _add_product(gw[t, j], g[o, j], src)


@jit.kernel(threaded=True, bounds="bounds")
def _last_forward_runs(x, w, b, y, inside, reads, offsets, out_rows, cells, bounds):
    """:func:`_last_forward_kernel` on each run of samples, the runs shared between the threads."""
    for j in prange(len(bounds) - 1):
        _last_forward_kernel(x, w, b, y, inside, reads, offsets, out_rows, cells, bounds[j],
                             bounds[j + 1])


@jit.kernel(threaded=True, bounds="bounds")
def _last_input_grad_runs(gy, w, gx, inside, reads, offsets, out_rows, cells, bounds):
    """:func:`_last_input_grad_kernel` on each run of samples, shared between the threads."""
    for j in prange(len(bounds) - 1):
        _last_input_grad_kernel(gy, w, gx, inside, reads, offsets, out_rows, cells, bounds[j],
                                bounds[j + 1])


@jit.kernel(threaded=True, bounds="bounds")
def _last_weight_grad_runs(x, gy, parts, inside, reads, offsets, out_rows, cells, bounds):
    """:func:`_last_weight_grad_kernel` on each run of samples, run ``j`` adding into its own
    ``parts[j] (taps, mult, C)`` (zeros to start with)."""
    for j in prange(len(bounds) - 1):
        _last_weight_grad_kernel(x, gy, parts[j], inside, reads, offsets, out_rows, cells,
                                 bounds[j], bounds[j + 1])


def _channels_last(G: ConvGeometry) -> bool:
    """Whether the channels-last loops compute ``G``: a stride above 1 along the rows (a run
    is then one strided output row), or output rows too short for the runs to pay. A stride
    on the other axes only picks the rows: 8 channels of 24x96 with stride (2, 1), one core,
    forward: runs 0.18 ms, channels-last 0.60 (PyTorch 0.15)."""
    return G.stride[-1] > 1 or G.out_size[-1] < CHANNELS_LAST_BELOW


def _by_rows(G: ConvGeometry) -> bool:
    """Whether the forward takes a run per output row (:func:`_rows`), which skips the kernel
    rows in the padding: stride 1 along the rows, and a stride across them (the runs are
    output rows then anyway) or a third of the taps or more in padding rows. One core, 200
    channels of 2xW, 5x5 (60% skipped), runs -> rows: W = 12 49 -> 32 us, 32 58 -> 35, 96
    94 -> 48; 200 of 3x16, 5x5 (40%) 59 -> 57; 100 of 2x48, 3x3 (33%) 36 -> 35; 200 of 4x24,
    3x3 (17%) 69 -> 96 and 24 of 6x96 (11%) 15 -> 17: a pass per row costs more than the
    taps it skips there."""
    if G.stride[-1] != 1:
        return False
    if any(s > 1 for s in G.stride[:-1]):
        return True
    _, _, _, _, _, krows, nk, _ = _rows(G)
    return 3 * nk.sum() <= 2 * krows.size


@functools.lru_cache(maxsize=64)
def _last_layout(G: ConvGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The channels-last loops' rows (see above): ``inside``, ``reads``, ``offsets``,
    ``out_rows`` and the number of padded positions, ``cells``."""
    P = tuple(i + lo + hi for i, (lo, hi) in zip(G.in_size, G.padding))
    cells = np.arange(math.prod(P)).reshape(P)
    inside = cells[tuple(slice(lo, lo + i) for i, lo in zip(G.in_size, G.pad_lo))]
    reads = cells[tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(G.out_size, G.stride))]
    offsets = [cells[tuple(k_a * d for k_a, d in zip(k, G.dilation))]
               for k in np.ndindex(*G.kernel_size)]
    mult = G.out_channels // G.in_channels
    out_rows = np.arange(reads.size * mult).reshape(reads.size, mult).T  # [j, o] = o*mult + j
    return (inside.ravel(), reads.ravel(), np.array(offsets, dtype=np.int64), out_rows.ravel(),
            cells.size)


@jit.kernel(threaded=True, bounds="bounds")
def _forward_runs(x, w, b, y, lo, P, size, starts, length, step, box, offsets, bounds):
    """:func:`_forward_kernel` on each run of items ``bounds[j]..bounds[j + 1]``, the runs
    shared between the threads."""
    for j in prange(len(bounds) - 1):
        _forward_kernel(x, w, b, y, lo, P, size, starts, length, step, box, offsets,
                        bounds[j], bounds[j + 1])


@jit.kernel(threaded=True, bounds="bounds")
def _forward_rows_runs(x, w, b, y, lo, P, size, starts, kw, krows, nk, offsets, bounds):
    """:func:`_forward_rows_kernel` on each run of items, shared between the threads."""
    for j in prange(len(bounds) - 1):
        _forward_rows_kernel(x, w, b, y, lo, P, size, starts, kw, krows, nk, offsets,
                             bounds[j], bounds[j + 1])


@jit.kernel(threaded=True, bounds="bounds")
def _input_grad_runs(gy, w, gx, lo, P, size, starts, length, step, box, offsets, bounds,
                     gather):
    """:func:`_input_grad_gather_kernel` (``gather``: stride 1) or :func:`_input_grad_kernel`
    on each run of items, the runs shared between the threads."""
    for j in prange(len(bounds) - 1):
        if gather:
            _input_grad_gather_kernel(gy, w, gx, lo, P, size, starts, length, step, box, offsets,
                                      bounds[j], bounds[j + 1])
        else:
            _input_grad_kernel(gy, w, gx, lo, P, size, starts, length, step, box, offsets,
                               bounds[j], bounds[j + 1])


@jit.kernel(threaded=True, bounds="bounds")
def _weight_grad_runs(x, gy, parts, lo, P, size, starts, length, step, box, offsets, bounds):
    """:func:`_weight_grad_kernel` on each run of items, the runs shared between the threads,
    run ``j`` adding into its own ``parts[j] (C, mult, taps)`` (zeros to start with)."""
    for j in prange(len(bounds) - 1):
        _weight_grad_kernel(x, gy, parts[j], lo, P, size, starts, length, step, box, offsets,
                            bounds[j], bounds[j + 1])


def forward_plan(G: ConvGeometry, x_shape: tuple[int, ...], dtype):
    """The compiled forward for an input of ``x_shape`` and ``dtype``, as a function
    ``run(x, w, b) -> y`` whose decisions (the layout, its rows or runs, the runs of items
    between the threads) are taken once and kept per geometry, shape, dtype and thread count;
    None where the compiled kernels are off. :func:`conv_forward` runs through it, and callers
    that convolve the same shapes over and over (``convlab.onnx``'s inference steps) keep it."""
    if not jit.active():
        return None
    last = _channels_last(G)
    return _plan(G, tuple(x_shape), np.dtype(dtype), last, not last and _by_rows(G),
                 parallel.threads(), parallel.MIN_RUN_BYTES)


@functools.lru_cache(maxsize=256)
def _plan(G: ConvGeometry, x_shape: tuple[int, ...], dtype: np.dtype, last: bool, rows: bool,
          threads: int, min_run_bytes: int):
    """:func:`forward_plan`'s function, in the channels-last layout (``last``), a run per output
    row (``rows``, :func:`_rows`) or the runs of :func:`_runs`, for
    ``threads`` threads and that ``parallel.MIN_RUN_BYTES`` (the key: the runs of items follow
    both)."""
    N, C = x_shape[:2]
    mult = G.out_channels // C
    per_channel = mult * math.prod(G.out_size) * dtype.itemsize
    no_bias = np.zeros((C, mult), dtype)
    if last:
        layout, bounds = _last_layout(G), _items(N, C * per_channel)
        y_shape = (N, C, mult * math.prod(G.out_size))
    elif rows:
        layout, bounds = _rows(G), _items(N * C, per_channel)
        y_shape = (N, C, mult, math.prod(G.out_size[:-1]), G.out_size[-1])
    else:
        layout, bounds = _runs(G), _items(N * C, per_channel)
        y_shape = (N, C, mult) + (1,) * (3 - G.nd) + G.out_size
    # the shapes worked out here, not at each call: with _as_3d working out the input's, the
    # Python around a small layer's kernel took 1 us more (6.5 against 5.7 us a call for 8
    # channels of 2x96, 5x5, one thread, p10 of 3000 alternated)
    x_shape3 = (N, C) + (1,) * (3 - G.nd) + G.in_size
    w_shape = (C, mult, math.prod(G.kernel_size))
    out_shape = (N, G.out_channels) + G.out_size
    forward = _forward_rows_runs if rows else _forward_runs

    def run(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        w3 = np.ascontiguousarray(w, dtype=dtype).reshape(w_shape)  # (C, mult, taps)
        b3 = no_bias if b is None else b.astype(dtype, copy=False).reshape(C, mult)
        y = np.empty(y_shape, dtype=dtype)
        if last:
            _last_forward_runs(_flat(x), _last(w3), _last(b3), y, *layout, bounds)
        else:
            forward(np.ascontiguousarray(x, dtype=dtype).reshape(x_shape3), w3, b3, y, *layout,
                    bounds)
        return y.reshape(out_shape)

    return run


def _compiled_input_grad(gy, w, G):
    N, C = gy.shape[0], G.in_channels
    mult = G.out_channels // C
    w3 = np.ascontiguousarray(w, dtype=gy.dtype).reshape(C, mult, -1)
    per_channel = math.prod(G.in_size) * gy.itemsize
    if _channels_last(G):
        gx = np.empty((N, C, math.prod(G.in_size)), dtype=gy.dtype)
        gy3 = _flat(gy).reshape(N, C, mult * math.prod(G.out_size))
        _last_input_grad_runs(gy3, _last(w3), gx, *_last_layout(G), _items(N, C * per_channel))
    else:
        gy3 = _as_3d(gy, G.nd, gy.dtype).reshape(N, C, mult, *(1,) * (3 - G.nd), *G.out_size)
        gx = np.empty((N, C) + (1,) * (3 - G.nd) + G.in_size, dtype=gy.dtype)
        _input_grad_runs(gy3, w3, gx, *_runs(G), _items(N * C, per_channel),
                         all(s == 1 for s in G.stride))
    return gx.reshape(N, C, *G.in_size)


def _compiled_weight_grad(x, gy, G):
    N, C = x.shape[:2]
    mult = G.out_channels // C
    per_channel = mult * math.prod(G.out_size) * x.itemsize
    taps = math.prod(G.kernel_size)
    if _channels_last(G):
        bounds = _items(N, C * per_channel)
        parts = np.zeros((max(1, len(bounds) - 1), taps, mult, C), dtype=x.dtype)
        gy3 = _flat(gy.astype(x.dtype, copy=False)).reshape(N, C, mult * math.prod(G.out_size))
        _last_weight_grad_runs(_flat(x), gy3, parts, *_last_layout(G), bounds)
        gw = parts.sum(axis=0).T  # (taps, mult, C) -> (C, mult, taps)
    else:
        x3 = _as_3d(x, G.nd, x.dtype)
        gy3 = _as_3d(gy, G.nd, x.dtype).reshape(N, C, mult, *(1,) * (3 - G.nd), *G.out_size)
        bounds = _items(N * C, per_channel)
        parts = np.zeros((max(1, len(bounds) - 1), C, mult, taps), dtype=x.dtype)
        _weight_grad_runs(x3, gy3, parts, *_runs(G), bounds)
        gw = parts.sum(axis=0)
    return np.ascontiguousarray(gw).reshape(G.out_channels, 1, *G.kernel_size)


def _flat(a: np.ndarray) -> np.ndarray:
    """``(n, C, *S) -> (n, C, prod(S))``, contiguous."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], math.prod(a.shape[2:]))


def _last(a: np.ndarray) -> np.ndarray:
    """A weight ``(C, mult, taps)`` or bias ``(C, mult)`` with its channels last, as the
    channels-last loops read it: ``(taps, mult, C)`` or ``(mult, C)``."""
    return np.ascontiguousarray(a.T)
