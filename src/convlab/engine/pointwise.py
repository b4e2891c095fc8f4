"""The 1x1 convolution is a matrix product, with no copy of the input.

A kernel of one tap per axis mixes channels and nothing else. With NCHW arrays each sample is
already a ``(C_in, prod(S))`` matrix, so (per group)::

    y[n]  = w (C_out, C_in) @ x[n] (C_in, prod(O))          (a strided input: x[..., ::s] first)
    gx[n] = wᵀ @ gy[n]
    gw    = Σ_n gy[n] @ x[n]ᵀ

im2col would copy the input into a column buffer of the same size first; here the product
reads ``x`` where it is. Each thread adds the bias to a sample's output right after its
product, while it is in cache, rather than in one pass over the whole ``y`` on one thread
afterwards (NumPy path, 2 threads, x16x128x28x28 w256x128x1x1, first quartile of 40
interleaved: 10.6 -> 10.0 ms with another process on one core; one core the same). Padding
would only add outputs that equal the bias, so 1x1 kernels with padding go to the general
algorithms.

The compiled path (:mod:`.jit`) runs the forward's products as tasks of a threaded kernel
(:func:`_products`), one per sample and group, each a one-thread BLAS call (:func:`.blas.dot`)
added to its bias; when there are fewer such products than threads, each product's rows are
cut into blocks, one task a block. On more than one thread, the input gradient's products go
the same way, and the weight gradient's tasks each sum a run of samples (:func:`_weight_sums`)
into their own slot, the slots summed at the end. Otherwise (see :func:`_compiled`) NumPy makes
the products, the batch split between Python's threads (:mod:`.parallel`) where there are
several, or a single sample's products by rows.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import blas, gemm, jit, parallel
from .geometry import ConvGeometry
from .im2col import add_bias, chunk_bounds
from .im2col_kernels import as_3d
from .jit import prange
from .parallel import map_chunks, split

__all__ = ["supports", "forward_plan", "forward_fixed", "conv_forward", "conv_input_grad", "conv_weight_grad"]

SMALL_POSITIONS = 256  # at most this many output positions: the compiled weight sums on one thread too


def supports(G: ConvGeometry) -> bool:
    """One tap per axis, no padding (any stride; dilation does not matter for one tap)."""
    return all(k == 1 for k in G.kernel_size) and all(lo == hi == 0 for lo, hi in G.padding)


def _sampled(x: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """The input positions the outputs read: ``x[..., ::s][..., :O]``, ``(N, C, *O)``."""
    if x.shape[2:] == G.out_size:
        return x
    return x[(..., *(slice(0, (o - 1) * s + 1, s) for o, s in zip(G.out_size, G.stride)))]


def _matrices(a: np.ndarray, groups: int) -> np.ndarray:
    """``(N, C, *O) -> (N, g, C/g, prod(O))``, copying only when ``a`` is a strided view."""
    N, C = a.shape[:2]
    return a.reshape(N, groups, C // groups, math.prod(a.shape[2:]))


def _halves(x: np.ndarray, G: ConvGeometry) -> list[slice]:
    """The batch split between the cores (:mod:`.parallel`), unless it is small."""
    per_sample = (G.in_channels + G.out_channels) * math.prod(G.out_size) * x.itemsize
    return split(len(x), per_sample, len(x) * per_sample)


def _compiled(*arrays: np.ndarray, serial: bool = False) -> bool:
    """Whether the compiled kernels run this call: they are on, the arrays are of one float
    dtype the BLAS has (float32 or float64), and there is more than one thread, or ``serial``:
    the call takes them on one thread too.

    The forward takes them on one thread (``serial``): its kernel writes the bias into the
    output first and has the BLAS add the product to it (:func:`_products`), where NumPy's path
    adds the bias in a pass of its own, and its Python costs less. One core, forward, NumPy ->
    compiled (min of 200 interleaved): 32->200 on 2x96, batch 1 (rapidocr's) 56 -> 42 us, 8->24
    on 12x96 29 -> 19 us, batch 8 352 -> 271 us; 64->256 on 56x56, batch 1 (ResNet-50's)
    1.46 -> 1.23 ms; 32x96x16x16 -> 32 0.76 -> 0.68 ms; strided 32x64x32x32 -> 128 2.86 -> 2.52.
    The input gradient stays NumPy's there (on one core, forward and backward, the kernels took
    2.48 against 2.73 ms for 32x96x16x16 -> 32, but 12.0 against 9.5 for the strided
    32x64x32x32 -> 128, before the forward's kernel wrote the bias first).

    A weight gradient of small images (at most SMALL_POSITIONS output positions) takes the
    compiled sums on one thread too: NumPy's batched product made an ``(N, g, K/g, C/g)``
    buffer to sum over the samples, 26 MB for MobileNetV2's last 1x1 layer (32x160x4x4 ->
    1280) and its step's peak, where :func:`_weight_sums` lets the BLAS add each product into
    place. One core, batch 32, NumPy -> compiled: 160->1280 on 4x4 9.7 -> 5.5 ms, 80->480 on
    4x4 1.74 -> 1.11, 288->48 on 8x8 1.79 -> 1.54, 96->16 on 16x16 1.05 -> 1.16 (on 32x32
    images NumPy's stays faster: 64->128 11.2 against 13.4)."""
    return (jit.active() and (serial or parallel.threads() > 1)
            and arrays[0].dtype in jit.FLOAT_TYPES
            and all(a.dtype == arrays[0].dtype for a in arrays))


def _rows(products: int, M: int, work: int) -> int:
    """Rows per task for ``products`` products of ``M`` rows, ``work`` multiply-adds each:
    all ``M`` (a task per product), or, when there are fewer products than threads and a
    product is large enough to share (:data:`.gemm.MIN_SPLIT`), blocks that give each thread
    a part of one."""
    workers = parallel.threads()
    if 0 < products < workers and work >= gemm.MIN_SPLIT:
        return -(-M // (workers // products))
    return max(M, 1)


def _blocks(products: int, M: int, P: int, work: int) -> tuple[int, int]:
    """``(rows, columns)`` of the blocks of :func:`_products` for ``products`` products of
    ``M`` rows and ``P`` columns (positions), ``work`` multiply-adds each: whole products, or
    when there are fewer products than threads (a batch of one), blocks of rows
    (:func:`_rows`) or, where the output has more columns than rows, of columns (whole cache
    lines of 16 float32s): each thread then reads the weight, the smaller matrix, and its own
    columns of the input, where blocks of rows each read the whole input. One sample, 2
    threads (min of 200): SqueezeNet's 128->16 on 55x55 199 -> 136 us, 64->16 101 -> 77;
    ResNet-50's 256->64 on 56x56 916 -> 807, 64->256 904 -> 854; with fewer columns than rows
    the rows stay faster (2048->512 on 7x7: 873 against 1019)."""
    rows = _rows(products, M, work)
    if rows == max(M, 1) or P <= M:
        return rows, max(P, 1)
    parts = -(-M // rows)  # the blocks of rows there would be, one a thread
    cols = -(-P // parts)
    return max(M, 1), (cols + 15) // 16 * 16


@jit.kernel(threaded=True)
def _products(w, a, b, out, rows, cols):
    """``out[n, k, r0:r1, c0:c1] = w[k, r0:r1] @ a[n, k, :, c0:c1]``, plus ``b[k, r0:r1]`` per
    row, for every sample ``n``, group ``k`` and block of ``rows`` rows by ``cols`` columns, one
    task a block (:func:`_blocks`): ``w (g, M, K)``,
    ``a (N, g, K, P)``, ``b (g, M)``, or ``(g, 0)`` for no bias, ``out (N, g, M, P)``. The bias
    is written first and the BLAS adds the product to it (gemm's beta = 1), which costs the
    product nothing: adding it after, in a pass of its own, took 44 against 39 us for rapidocr's
    32->200 on 2x96 and 1.47 against 1.28 ms for ResNet-50's 64->256 on 56x56 (one core)."""
    N, g, M, P = out.shape
    row_blocks, col_blocks = (M + rows - 1) // rows, (P + cols - 1) // cols
    blocks = row_blocks * col_blocks
    for task in prange(N * g * blocks):
        n, k = task // (g * blocks), task // blocks % g
        r0, c0 = task // col_blocks % row_blocks * rows, task % col_blocks * cols
        r1, c1 = min(M, r0 + rows), min(P, c0 + cols)
        block = out[n, k, r0:r1, c0:c1]
        if b.shape[1]:  # plain loops: see im2col_kernels.add_into
            for r in range(r1 - r0):
                bias = b[k, r0 + r]
                for p in range(c1 - c0):
                    block[r, p] = bias
            blas.dot_add(w[k, r0:r1], a[n, k, :, c0:c1], block)
        else:
            blas.dot(w[k, r0:r1], a[n, k, :, c0:c1], block)


@jit.kernel(threaded=True)
def _weight_sums(gy, x, bounds, rows, parts):
    """``parts[j, k, r0:r1] = Σ_n gy[n, k, r0:r1] @ x[n, k]ᵀ`` over the samples
    ``bounds[j]..bounds[j + 1]``, for every run ``j``, group ``k`` and block of ``rows`` rows, one
    task a run and block: ``gy (N, g, M, P)``, ``x (N, g, K, P)``, ``parts (runs, g, M, K)``
    (zeros to start with; the BLAS adds each product into it)."""
    g, M = parts.shape[1], parts.shape[2]
    blocks = (M + rows - 1) // rows
    for task in prange((len(bounds) - 1) * blocks):
        j, r0 = task // blocks, task % blocks * rows
        r1 = min(M, r0 + rows)
        for n in range(bounds[j], bounds[j + 1]):
            for k in range(g):
                blas.dot_add(gy[n, k, r0:r1], x[n, k].T, parts[j, k, r0:r1])


@jit.kernel(threaded=True)
def _pick(x, stride, out):
    """``out[n, c, d, h, w] = x[n, c, d*s_d, h*s_h, w*s_w]``, the positions a strided 1x1
    kernel reads, a task per sample and channel: ``(N, C, D, H, W)`` arrays (:func:`.as_3d`)."""
    N, C, OD, OH, OW = out.shape
    for task in prange(N * C):
        n, c = task // C, task % C
        for d in range(OD):
            for h in range(OH):
                row, to = x[n, c, d * stride[0], h * stride[1]], out[n, c, d, h]
                for i in range(OW):
                    to[i] = row[i * stride[2]]


@jit.kernel(threaded=True)
def _spread(src, stride, gx):
    """The adjoint of :func:`_pick`: ``gx`` zero but at the positions read, which take ``src``."""
    N, C, OD, OH, OW = src.shape
    for task in prange(N * C):
        n, c = task // C, task % C
        gx[n, c] = 0
        for d in range(OD):
            for h in range(OH):
                row, to = src[n, c, d, h], gx[n, c, d * stride[0], h * stride[1]]
                for i in range(OW):
                    to[i * stride[2]] = row[i]


def _picked(x: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """:func:`_sampled`, contiguous, for the compiled path: a strided input's positions copied
    on the threads (:func:`_pick`)."""
    if x.shape[2:] == G.out_size:
        return np.ascontiguousarray(x)
    out = np.empty(x.shape[:2] + G.out_size, dtype=x.dtype)
    _pick(as_3d(x, G.nd), _stride_3d(G), as_3d(out, G.nd))
    return out


def _stride_3d(G: ConvGeometry) -> tuple[int, int, int]:
    return (1,) * (3 - G.nd) + G.stride


def _run(one, chunks: list[slice], by_rows):
    """``one`` over the batch's chunks, on the threads; a batch too small to split (one
    sample) runs ``by_rows`` instead: its products split by rows (:func:`parallel.matmul`)."""
    if len(chunks) > 1:
        return map_chunks(one, chunks)
    return by_rows()


def forward_plan(G: ConvGeometry, x_shape: tuple[int, ...], dtype):
    """:func:`conv_forward`'s compiled path for an input of ``x_shape`` and ``dtype`` (and
    weights of that dtype), as a function ``run(x, w, b) -> y`` whose decisions (the blocks,
    the shapes, whether the input is strided) are taken once and kept per geometry, shape,
    dtype and thread count; None where the compiled kernels do not take such a call (they are
    off, or the dtype is not one the BLAS has). ``conv_forward`` runs through it, and callers
    that convolve the same shapes over and over (``convlab.onnx``'s inference steps) keep it:
    deciding at every call took 5-6 us of a 13 us product (8->8 channels on 24x96, one
    core)."""
    plan = _planned(G, x_shape, dtype)
    return None if plan is None else plan[0]


def forward_fixed(G: ConvGeometry, x_shape: tuple[int, ...], dtype, w: np.ndarray,
                  b: np.ndarray | None):
    """:func:`forward_plan`'s function for the weights ``w`` and ``b`` (which the caller
    leaves unchanged), as a function ``run(x) -> y``: the weights arranged for the products
    once, not at every call (``convlab.onnx``'s whole-network plans). The same products, so
    the same values. None where :func:`forward_plan` is."""
    plan = _planned(G, x_shape, dtype)
    if plan is None:
        return None
    _, arranged, products = plan
    w, bias = arranged(w, b)
    return lambda x: products(x, w, bias)


def _planned(G: ConvGeometry, x_shape: tuple[int, ...], dtype):
    """:func:`_plan`'s functions for this call, or None where the compiled kernels do not take
    it."""
    dtype = np.dtype(dtype)
    if not (jit.active() and dtype in jit.FLOAT_TYPES):
        return None
    return _plan(G, tuple(x_shape), dtype, parallel.threads(), gemm.MIN_SPLIT)


@functools.lru_cache(maxsize=256)
def _plan(G: ConvGeometry, x_shape: tuple[int, ...], dtype: np.dtype, threads: int,
          min_split: int):
    """:func:`forward_plan`'s decisions, for ``threads`` threads and that ``gemm.MIN_SPLIT``
    (the key: the blocks follow both), as three functions: ``run(x, w, b)`` (forward_plan's),
    ``arranged(w, b)``, the weight and bias as the products take them, and ``products(x, w,
    bias)`` of those, the output."""
    N, g = x_shape[0], G.groups
    M, K, P = G.out_channels // g, G.in_channels // g, math.prod(G.out_size)
    blocks = _blocks(N * g, M, P, M * K * P)
    strided = tuple(x_shape[2:]) != G.out_size
    no_bias = np.empty((g, 0), dtype)

    def arranged(w: np.ndarray, b: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return (np.ascontiguousarray(w).reshape(g, M, K),
                no_bias if b is None else b.reshape(g, M).astype(dtype, copy=False))

    def products(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        y = np.empty((N, g, M, P), dtype=dtype)
        xs = _picked(x, G) if strided else np.ascontiguousarray(x)
        _products(w, xs.reshape(N, g, K, P), bias, y, *blocks)
        return y.reshape(N, G.out_channels, *G.out_size)

    def run(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        return products(x, *arranged(w, b))

    return run, arranged, products


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O) = w @ x + b`` per sample and group."""
    if _compiled(x, w, serial=True):
        return forward_plan(G, x.shape, x.dtype)(x, w, b)
    g = G.groups
    wg = w.reshape(g, G.out_channels // g, G.in_channels // g)  # (g, K/g, C/g)
    positions = math.prod(G.out_size)
    y = np.empty((len(x), g, G.out_channels // g, positions), dtype=x.dtype)
    xs = _matrices(_sampled(x, G), g)  # (N, g, C/g, prod(O))
    yc = y.reshape(len(x), G.out_channels, positions)  # the same memory, for add_bias

    def one(ns: slice) -> None:
        for n in range(ns.start, ns.stop):  # a sample at a time: its y is in cache for the bias
            np.matmul(wg, xs[n], out=y[n])  # (g, K/g, prod(O))
            add_bias(yc[n:n + 1], b)

    def by_rows() -> None:
        parallel.matmul(wg, xs, out=y)
        add_bias(yc, b)

    _run(one, _halves(x, G), by_rows)
    return y.reshape(len(x), G.out_channels, *G.out_size)


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)``: ``wᵀ @ gy`` at the positions read, zeros between strided ones."""
    g, N = G.groups, len(gy)
    wg = w.reshape(g, G.out_channels // g, G.in_channels // g)
    gys = _matrices(gy, g)  # (N, g, K/g, prod(O))
    gxs = np.empty((N, g, G.in_channels // g, gys.shape[-1]), dtype=gy.dtype)
    compiled = _compiled(gy, w)
    if compiled:
        blocks = _blocks(N * g, wg.shape[2], gys.shape[-1], wg[0].size * gys.shape[-1])
        _products(np.ascontiguousarray(wg.transpose(0, 2, 1)), np.ascontiguousarray(gys),
                  np.empty((g, 0), gy.dtype), gxs, *blocks)
    else:
        def one(ns: slice) -> None:
            np.matmul(wg.transpose(0, 2, 1), gys[ns], out=gxs[ns])  # (n, g, C/g, prod(O))

        _run(one, _halves(gy, G), lambda: parallel.matmul(wg.transpose(0, 2, 1), gys, out=gxs))
    gxs = gxs.reshape(N, G.in_channels, *G.out_size)
    if G.in_size == G.out_size:
        return gxs
    if compiled:
        gx = np.empty((N, G.in_channels, *G.in_size), dtype=gy.dtype)
        _spread(as_3d(gxs, G.nd), _stride_3d(G), as_3d(gx, G.nd))
        return gx
    gx = np.zeros((N, G.in_channels, *G.in_size), dtype=gy.dtype)
    _sampled(gx, G)[...] = gxs
    return gx


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, C_in/groups, 1, ...) = Σ_n gy[n] @ x[n]ᵀ``."""
    g = G.groups
    gys = _matrices(gy, g)  # (N, g, K/g, prod(O))
    if _compiled(x, gy, serial=math.prod(G.out_size) <= SMALL_POSITIONS):
        bounds = chunk_bounds(_halves(x, G))  # a run of samples per thread, each summed on its own
        runs = len(bounds) - 1
        parts = np.zeros((max(runs, 1), g, G.out_channels // g, G.in_channels // g), x.dtype)
        work = parts[0].size * gys.shape[-1] * len(x) // max(runs, 1)
        _weight_sums(np.ascontiguousarray(gys), _matrices(_picked(x, G), g), bounds,
                     _rows(runs, parts.shape[2], work), parts)
        return parts.sum(axis=0).reshape(G.out_channels, G.in_channels // g, *G.kernel_size)
    xs = _matrices(_sampled(x, G), g)  # (N, g, C/g, prod(O))

    def one(ns: slice) -> np.ndarray:
        return np.matmul(gys[ns], xs[ns].swapaxes(-1, -2)).sum(axis=0)  # (g, K/g, C/g)

    def by_rows() -> list[np.ndarray]:  # one product per sample, their rows on the threads
        return [parallel.matmul(gys, xs.swapaxes(-1, -2)).sum(axis=0)]

    gw = sum(_run(one, _halves(x, G), by_rows),
             np.zeros((g, G.out_channels // g, G.in_channels // g), dtype=x.dtype))
    return gw.reshape(G.out_channels, G.in_channels // g, *G.kernel_size)
