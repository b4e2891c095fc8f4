"""Convolution as im2col + GEMM, and its adjoint col2im, for any number of spatial dimensions.

im2col copies every window of the (padded) input into a column buffer, so that the
convolution becomes one matrix product per sample and group::

    cols (N, C_in, prod(K), *O)  viewed as  (N, groups, C_in/groups * prod(K), prod(O))
    y    = w (groups, C_out/groups, C_in/groups * prod(K))  @  cols  ->  (N, C_out, *O)

The buffer keeps the output positions last, so the product lands directly in NCHW order: no
transposes of the output. Small images (up to 64 output positions, such as the 4x4 and 8x8
maps at the end of a small CNN) turn that around: copies of their short rows and one small
product per sample run far below speed, so their columns come from one gather by precomputed
positions, with the samples innermost, ``(C_in*prod(K), prod(O)*n)``, for one product per
chunk; the (small) output is then moved back to NCHW. A kernel that covers the input exactly
(DCGAN's last layer, 4x4 on 4x4) needs no columns at all: it is a fully connected layer.
Groups are the batch axis of ``np.matmul``. The batch goes through in chunks whose buffer
stays in the CPU's cache between the copy and the product (a large image's forward, in bands
of its output rows: :func:`_banded`), and the chunks run on all cores:
on the compiled path each pass runs whole in compiled code, a driver (:mod:`.im2col_kernels`)
sharing the chunks between OpenMP's threads; the NumPy path hands them to Python's threads
(:mod:`.parallel`). The backward passes use the same buffer layout: the input gradient is
``wᵀ @ gy`` scattered back by col2im (the adjoint of im2col: every tap's slice is added,
overlapping windows sum; for small images, the adjoint of their gather), and the weight
gradient is ``gy @ colsᵀ`` summed over the batch.

The copies themselves run as compiled loops (:mod:`.im2col_kernels`) that read the unpadded
input once and write zeros for the padding inline; without numba (or in ``jit.disabled()``)
NumPy makes them, as a padded copy of the input and then one strided slice copy per tap
(col2im: an addition per tap into a padded gradient, then the crop). One core, float32, the
whole call: res-stride2 forward 27.6 -> 22-26 ms (its columns 7.5 -> 3.9 ms), input gradient
35.0 -> 25.1 ms (col2im 10.5 -> 3.7 ms); conv_transpose2d's forward (an input gradient)
18.4 -> 13.9 ms. What remains is mostly the matrix product, which runs near the BLAS's peak.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import im2col_kernels as kernels
from . import gemm, jit, parallel
from .geometry import ConvGeometry
from .parallel import map_chunks, split

__all__ = ["im2col", "col2im", "add_bias", "flipped_transpose", "conv_forward", "conv_input_grad",
           "conv_weight_grad"]

CHUNK_BYTES = 2 << 20
# Small images, whose samples share one product: at most this many output positions and column
# entries a sample. Measured with the compiled gather and scatter on one core, batch 32,
# forward / input gradient / weight gradient in ms, per-sample columns -> side by side: 8x8
# outputs gain (64->128 4x4 stride 2 from 16x16: 9.1 -> 7.4, 9.3 -> 7.9, 10.3 -> 7.5; 64->64
# 3x3 from 14x14: 3.2 -> 2.0, 2.6 -> 2.1, 2.9 -> 2.2), and so do 4x4 outputs of many channels
# (1024 3x3: 202 -> 139, 280 -> 148, 482 -> 282); 10x10 and 11x11 outputs of 128 channels and
# more lose (128->128 3x3 stride 2 from 20x20: input gradient 14.9 -> 18.9), and 16x16 outputs
# lose (64->128 4x4 stride 2 from 32x32: 31.0 -> 35.4, 32.4 -> 35.2, 34.7 -> 39.7).
SMALL_POSITIONS = 64
SMALL = 1 << 18
# Their compiled gradient passes: chunks of the batch of about SIDE_COLUMNS columns (positions
# times samples) but SIDE_SAMPLES samples at least, each chunk's input channels in blocks of
# about BLOCK_BYTES of columns (:mod:`.im2col_kernels`). One core, batch 32, input gradient in
# ms: 64->128 4x4 stride 2 from 16x16 (64 positions) 7.3 with chunks of 8 samples, 8.0-9.9 of
# 4, 12.8 of 2; 256 channels of 4x4 7.4-7.6 with chunks of 16 or 32; blocks of 1 MB and more
# were no faster, and 2 threads hold two.
SIDE_COLUMNS, SIDE_SAMPLES = 256, 8
BLOCK_BYTES = 512 << 10
# Large images go in bands of output rows of about BAND_BYTES of columns, and BAND_POSITIONS
# output positions at least (:func:`_bands`).
BAND_BYTES, BAND_POSITIONS = 1 << 20, 256


def _copy_regions(G: ConvGeometry):
    """Per axis, the slice of the input and the slice of the padded window span that hold the
    same elements: padded position ``j`` is input position ``j - pad_lo``."""
    src, dst = [], []
    for i, lo, span in zip(G.in_size, G.pad_lo, G.window_span):
        start, stop = max(0, -lo), min(i, span - lo)
        src.append(slice(start, max(start, stop)))
        dst.append(slice(start + lo, max(start, stop) + lo))
    return (..., *src), (..., *dst)


def _needs_padding(G: ConvGeometry) -> bool:
    return any(lo != 0 or span > i for lo, span, i in zip(G.pad_lo, G.window_span, G.in_size))


def _pad(x: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``x (N, C, *S)`` as the padded window span ``(N, C, *span)``: zeros where the windows
    reach past the input, rows that no window reads left out. A view when no padding is needed."""
    if not _needs_padding(G):
        return x[(..., *(slice(0, span) for span in G.window_span))]
    xp = np.zeros(x.shape[:2] + G.window_span, dtype=x.dtype)
    src, dst = _copy_regions(G)
    xp[dst] = x[src]
    return xp


def _unpad(gxp: np.ndarray, G: ConvGeometry, gx: np.ndarray) -> None:
    """The adjoint of :func:`_pad`, into ``gx``: the span's gradient cut back to the input,
    zeros for the input rows no window read."""
    if G.window_span != G.in_size or _needs_padding(G):
        gx[...] = 0
    src, dst = _copy_regions(G)
    gx[src] = gxp[dst]


def _tap_slices(G: ConvGeometry):
    """For each kernel tap ``k`` (C order), the slices of the padded span it reads for all
    output positions: start ``k*d``, step ``s``, ``o`` elements per axis."""
    for k in np.ndindex(*G.kernel_size):
        yield (..., *(slice(k_a * d, k_a * d + (o - 1) * s + 1, s) for k_a, d, o, s
                      in zip(k, G.dilation, G.out_size, G.stride)))


def _compiled(G: ConvGeometry) -> bool:
    """Whether this call uses the compiled loops (:mod:`.im2col_kernels`, 1-3 spatial axes)."""
    return jit.active() and G.nd <= 3


def _whole_chunks(G: ConvGeometry, x: np.ndarray) -> bool:
    """Whether the passes run whole in compiled code, chunk drivers on OpenMP's threads
    (:mod:`.im2col_kernels`): the compiled loops, a float dtype the BLAS has, and more than
    one thread or small images. On one thread the other layers' chunks go one after the other
    from Python, with NumPy's products: the drivers gain nothing there (one core, forward and
    backward, with :func:`.blas.dot`: res-stride2 56.1 against 56.6 ms, the stem 14.2 against
    13.8, DCGAN's 4x4 stride-2 97.9 against 97.5), and they did lose while compiled code
    called SciPy's slower BLAS (res-stride2 forward 18.6 -> 22.4 ms). Small images gain: the
    drivers gather and scatter runs of samples where NumPy indexes rows (one core, x32x128x8x8
    w256x128x4x4 stride 2: forward 7.5 -> 7.2 ms, input gradient 10.5 -> 6.9, weight gradient
    9.0 -> 6.8)."""
    return (_compiled(G) and x.dtype in jit.FLOAT_TYPES
            and (parallel.threads() > 1 or _small(G)))


def im2col(x: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``cols (N, C, prod(K), *O)``: ``cols[n, c, t, o] = x_padded[n, c, o*s + k_t*d]``."""
    N, C = x.shape[:2]
    return _columns(x, G, _compiled(G)).reshape(N, C, math.prod(G.kernel_size), *G.out_size)


def _columns(x: np.ndarray, G: ConvGeometry, compiled: bool, extra: int = 0) -> np.ndarray:
    """:func:`im2col` per group, ``(n, g, C_g*prod(K) + extra, prod(O))``, by the compiled
    loop or by NumPy (a padded copy, then a slice per tap); the ``extra`` rows at the end of
    each group are left for the caller (:func:`conv_forward`'s row of ones)."""
    N, C, g = len(x), G.in_channels, G.groups
    taps, positions = math.prod(G.kernel_size), math.prod(G.out_size)
    cols = np.empty((N, g, C // g * taps + extra, positions), dtype=x.dtype)
    if compiled:
        kernel, stride, pad, dilation, out = kernels.geometry_3d(G)
        kernels.im2col(kernels.as_3d(x, G.nd), cols.reshape(N, g, -1, *out),
                       kernel, stride, pad, dilation)
        return cols
    taps_view = cols[:, :, :C // g * taps].reshape(N, g, C // g, taps, *G.out_size)  # splits axes only: a view
    xp = _pad(x, G).reshape(N, g, C // g, *G.window_span)
    for t, window in enumerate(_tap_slices(G)):
        taps_view[:, :, :, t] = xp[window]
    return cols


@functools.lru_cache(maxsize=64)
def _gather_index(G: ConvGeometry, C: int) -> np.ndarray:
    """For small images: the flat position in a padded sample ``(C, *span)`` of every column
    entry ``(c, t, o)``, i.e. the im2col of the positions themselves."""
    positions = np.arange(C * math.prod(G.window_span)).reshape(1, C, *G.window_span)
    cols = np.empty((1, C, math.prod(G.kernel_size), *G.out_size), dtype=np.intp)
    for t, window in enumerate(_tap_slices(G)):
        cols[:, :, t] = positions[window]
    return cols.ravel()


@functools.lru_cache(maxsize=64)
def _source_index(G: ConvGeometry, C: int) -> np.ndarray:
    """For small images on the compiled path: the flat position in an unpadded sample
    ``(C, *S)`` of every column entry ``(c, t, o)``, -1 where it reads padding (the padded
    positions of :func:`_gather_index` taken back to the input)."""
    unpadded = _pad(np.arange(1, C * math.prod(G.in_size) + 1).reshape(1, C, *G.in_size), G)
    return unpadded.ravel()[_gather_index(G, C)] - 1


def _small(G: ConvGeometry) -> bool:
    """Small images (few output positions, few column entries a sample): per-tap copies of
    short rows and one thin product per sample would run far below speed."""
    return (math.prod(G.out_size) <= SMALL_POSITIONS
            and G.in_channels * math.prod(G.kernel_size) * math.prod(G.out_size) <= SMALL)


def _dense(G: ConvGeometry) -> bool:
    """Whether the kernel covers the input exactly, once (a kernel the input's size, no
    padding in front, undilated, one output position): the columns are then the input as it
    lies, and the convolution is a fully connected layer (:func:`_dense_forward`)."""
    return (G.kernel_size == G.in_size == G.kernel_extent and not any(G.pad_lo)
            and math.prod(G.out_size) == 1)


def _dense_rows(a: np.ndarray, groups: int) -> np.ndarray:
    """``(n, C, *S) -> (g, n, C/g*prod(S))``: a sample's values per group as one row (a view
    for one group)."""
    return a.reshape(len(a), groups, -1).transpose(1, 0, 2)


def _from_dense_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`_dense_rows`: ``(g, n, C/g*prod(S)) -> shape (n, C, *S)``."""
    return np.ascontiguousarray(rows.transpose(1, 0, 2)).reshape(shape)


def _dense_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                   b: np.ndarray | None) -> np.ndarray:
    """A kernel that covers the input (:func:`_dense`): ``y = x @ wᵀ`` per group, the
    samples as rows, read where they lie. The small-image route copied the input twice, to
    put the samples innermost and to gather its (identical) columns. One core, DCGAN's last
    discriminator layer (x32x256x4x4, w1x256x4x4), ms: forward 0.40 -> 0.02, input gradient
    0.27 -> 0.07, weight gradient 0.40 -> 0.05 (PyTorch 0.31, 0.27, 0.27); the generator's
    first layer, ConvTranspose2d 100->256 from 1x1 (the input gradient of such a layer),
    5.8 -> 0.3-0.5 (PyTorch 2.0). ``np.matmul`` hands the weight's transposed view to the
    BLAS as it is, where :func:`.gemm.matmul` would copy it."""
    parallel.start()  # the BLAS held to one thread, as for every engine call
    wg = _grouped_weight(w, G).astype(x.dtype, copy=False)  # (g, C_out/g, C_g*prod(K))
    y = np.matmul(_dense_rows(x, G.groups), wg.transpose(0, 2, 1))  # (g, n, C_out/g)
    return add_bias(_from_dense_rows(y, (len(x), G.out_channels, *G.out_size)), b)


def _dense_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """The input gradient of :func:`_dense_forward`: ``gx = gy @ w`` per group, by
    :func:`.gemm.matmul`: with one output channel the product is an outer product, which
    ``np.matmul`` runs without the BLAS (one core, (32, 1) @ (1, 4096): 0.19 against 0.08 ms)."""
    wg = _grouped_weight(w, G).astype(gy.dtype, copy=False)  # (g, C_out/g, C_g*prod(K))
    gx = gemm.matmul(_dense_rows(gy, G.groups), wg)  # (g, n, C_g*prod(S))
    return _from_dense_rows(gx, (len(gy), G.in_channels, *G.in_size))


def _dense_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """The weight gradient of :func:`_dense_forward`: ``gw = gyᵀ @ x`` per group, the sum
    over the samples in the product."""
    gy = gy.astype(x.dtype, copy=False)
    gw = gemm.matmul(_dense_rows(gy, G.groups).transpose(0, 2, 1), _dense_rows(x, G.groups))
    return gw.reshape(G.out_channels, G.in_channels // G.groups, *G.kernel_size)  # (g, C_out/g, C_g*prod(K)) -> (C_out, C_in/g, *K)


def _samples_last(a: np.ndarray) -> np.ndarray:
    """``(n, ...) -> (..., n)``: the batch moved innermost (a copy), ``(prod(...), n)``."""
    return np.ascontiguousarray(a.reshape(len(a), -1).T)


def _flat_samples(x: np.ndarray) -> np.ndarray:
    """``(N, C, *S) -> (N, C*prod(S))``, contiguous: the samples as the compiled path of small
    images reads them."""
    return np.ascontiguousarray(x).reshape(len(x), math.prod(x.shape[1:]))


def _flat_positions(a: np.ndarray) -> np.ndarray:
    """``(N, C, *O) -> (N, C, prod(O))``, a view of a contiguous array."""
    return a.reshape(a.shape[:2] + (math.prod(a.shape[2:]),))


def _side_by_side(x: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """The columns of small images with the samples innermost: ``(n, C, *S) ->
    (g, C_g*prod(K), prod(O)*n)``. One gather of whole rows: with the batch innermost, each
    column entry is a run of ``n`` values."""
    n, C = x.shape[:2]
    cols = _samples_last(_pad(x, G))[_gather_index(G, C)]  # (C*prod(K)*prod(O), n)
    return cols.reshape(G.groups, -1, math.prod(G.out_size) * n)


def _add_side_by_side(cols: np.ndarray, G: ConvGeometry, gx: np.ndarray) -> None:
    """The adjoint of :func:`_side_by_side`, into ``gx (n, C, *S)`` (overwritten): ``cols (g,
    C_g*prod(K), prod(O)*n)``, each entry added to the padded position it was gathered from,
    then the padding cut off. Within one tap no two entries of a channel share a position,
    so each tap is one indexed addition; the taps go in order, as in the compiled scatter
    (:func:`.im2col_kernels._add_side_by_side`)."""
    n, C, taps = len(gx), G.in_channels, math.prod(G.kernel_size)
    index = _gather_index(G, C).reshape(C, taps, -1)  # (C, prod(K), prod(O))
    cols = cols.reshape(C, taps, -1, n)  # (C, prod(K), prod(O), n)
    gxp = np.zeros((C * math.prod(G.window_span), n), dtype=cols.dtype)  # padded, samples last
    for t in range(taps):
        gxp[index[:, t]] += cols[:, t]
    _unpad(gxp.T.reshape(n, C, *G.window_span), G, gx)


def col2im(cols: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """The adjoint of :func:`im2col`: ``(N, C, prod(K), *O) -> (N, C, *S)``, overlaps summed."""
    N, C = cols.shape[:2]
    gx = np.empty((N, C, *G.in_size), dtype=cols.dtype)
    _add_columns(cols, G, gx, _compiled(G))
    return gx


def _add_columns(cols: np.ndarray, G: ConvGeometry, gx: np.ndarray, compiled: bool) -> None:
    """:func:`col2im` into ``gx (n, C, *S)``, by the compiled loop or by NumPy: an addition
    per tap into a padded gradient, then the crop."""
    if compiled:
        kernel, stride, pad, dilation, out = kernels.geometry_3d(G)
        kernels.col2im(cols.reshape(*cols.shape[:2], *kernel, *out), kernels.as_3d(gx, G.nd),
                       kernel, stride, pad, dilation)
        return
    N, C = cols.shape[:2]
    gxp = np.zeros((N, C, *G.window_span), dtype=cols.dtype)
    for t, window in enumerate(_tap_slices(G)):
        gxp[window] += cols[:, :, t]
    _unpad(gxp, G, gx)


def _grouped(a: np.ndarray, rows: int, G: ConvGeometry) -> np.ndarray:
    """``a`` with ``rows`` rows of ``prod(O)`` per sample, viewed per group:
    ``(N, rows, *O)`` or ``(N, C, prod(K), *O)`` -> ``(N, g, rows/g, prod(O))``."""
    return a.reshape(len(a), G.groups, rows // G.groups, math.prod(G.out_size))


def _grouped_weight(w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``(C_out, C_g, *K) -> (g, C_out/g, C_g*prod(K))``."""
    return w.reshape(G.groups, G.out_channels // G.groups, -1)


def _chunks(N: int, G: ConvGeometry, itemsize: int) -> list[slice]:
    """Slices of the batch whose column buffer takes about CHUNK_BYTES: it is then still in
    the CPU's cache when the matrix product reads it, and never batch-sized in memory. The
    chunks run side by side (:mod:`.parallel`): as many as :func:`.parallel.split` makes,
    rounded up to a multiple of the threads (its equal steps can make fewer: 32 samples in
    12 chunks are steps of 3, so 11 slices, and one thread got 6 chunks, the other 5), but
    of sizes that differ by at most one sample, so that each thread's run of chunks holds the
    same number of samples (equal steps would not: 6 chunks of 3 for 16 samples give one
    thread 9 and the other 7; here they are 2, 3, 3 and 2, 3, 3).

    CHUNK_BYTES is 2 MiB from measurements on 2 Python threads, before the compiled chunk
    drivers (forward, ms, fastest to first
    quartile of 30, against 4 MiB and equal steps): conv1d
    (1.3 MB of columns a sample) 6.0-7.1 -> 5.5-5.8, res-stride2 (1.8 MB) 12.4-14.9 ->
    11.5-14.0, cifar-c1 (110 KB) 2.35-3.8 -> 2.25-3.4; lenet-c1 and the backward passes the
    same or faster; 1 MiB is no better, 512 KiB slower.
    """
    per_sample = G.in_channels * math.prod(G.kernel_size) * math.prod(G.out_size) * itemsize
    count = len(split(N, per_sample, CHUNK_BYTES))
    if count > 1:
        count = min(N, -(-count // parallel.threads()) * parallel.threads())
    return [slice(N * i // count, N * (i + 1) // count) for i in range(count)]


def _banded(G: ConvGeometry, x: np.ndarray) -> bool:
    """Whether the forward goes in bands of output rows (:func:`_bands`): the compiled loops
    and a float dtype the BLAS has, images that are not small, one output depth (1-D and 2-D),
    and a sample whose columns take more than CHUNK_BYTES, or fewer samples than threads.

    A chunk holds whole samples, so the columns of one large image (an ImageNet stem: 7.4 MB)
    left the cache before their product read them, and a batch of one ran its columns on one
    thread. In bands, each band's columns are made and multiplied by one thread while they are
    in its cache. Interleaved in one process, chunks -> bands, ms (first quartile of 25):
    2 threads (``chrt -f 10``), batch 1: ResNet-50's stem (3->64, 7x7 stride 2 on 224x224)
    2.86 -> 1.97 and 4.14 -> 2.54, SqueezeNet's stem (3x3 stride 2) 0.60 -> 0.46 and 0.79 ->
    0.56, 256 channels 3x3 stride 2 from 28x28 2.69 -> 2.27, conv1d's layer on 4096 and 1024
    positions (64 channels, 5 taps) 2.61 -> 1.97 and 0.64 -> 0.47; batch 8, the ResNet-50 stem
    20.8 -> 18.1. Timed again with the order of the two alternated (ABBA), 2 threads: the
    stem 3.93 -> 2.82, SqueezeNet's stem 0.87 -> 0.62, its 3x3 expand layers at batch 1 0.68
    -> 0.54 (27x27) and 0.63 -> 0.55 (13x13), 128 channels stride 2 from 56x56 3.69 -> 3.15.
    One core: the stem 5.62 -> 5.50 (0.79-0.91 in the first, ABAB, runs), at batch 8 34.4 ->
    30.2; 128 channels 3x3 stride 2 from 56x56 (3.6 MB of columns) 1.04-1.06x (its product, K
    = 1152, gains nothing from the cache and loses a little to shorter rows)."""
    if not (_compiled(G) and x.dtype in jit.FLOAT_TYPES) or _small(G):
        return False
    if G.nd == 3 and G.out_size[0] > 1:
        return False
    per_sample = G.in_channels * math.prod(G.kernel_size) * math.prod(G.out_size) * x.itemsize
    return per_sample > CHUNK_BYTES or len(x) < parallel.threads()


def _bands(N: int, G: ConvGeometry, itemsize: int) -> np.ndarray:
    """The forward's work in bands, ``(B, 3)`` int64 rows of a sample and its output rows
    ``[o0, o1)`` (its output positions where the output has one row: a 1-D convolution):
    each sample cut into bands of about BAND_BYTES of columns, of sizes that differ by at most
    one row, and at least as many bands in all as threads."""
    rows = G.out_size[-2] if G.nd >= 2 else 1
    along, per = (rows, G.out_size[-1]) if rows > 1 else (G.out_size[-1], 1)
    unit_bytes = G.in_channels * math.prod(G.kernel_size) * per * itemsize
    per_band = max(1, BAND_BYTES // max(1, unit_bytes), -(-BAND_POSITIONS // per))
    count = -(-along // per_band)
    count = min(along, max(count, -(-parallel.threads() // N)))
    return np.array([(n, along * i // count, along * (i + 1) // count)
                     for n in range(N) for i in range(count)], dtype=np.int64)


def _side_chunks(N: int, G: ConvGeometry) -> np.ndarray:
    """The batch in chunks for the compiled gradient passes of small images, as
    :func:`chunk_bounds`: of about SIDE_COLUMNS columns (output positions times samples), but
    at least SIDE_SAMPLES samples. The chunks go one after the other, each on all threads
    (:func:`_channel_blocks`), so one chunk's ``gy``, samples innermost, is in memory at a
    time."""
    per_chunk = max(SIDE_SAMPLES, -(-SIDE_COLUMNS // math.prod(G.out_size)))
    count = max(1, round(N / per_chunk))
    return chunk_bounds([slice(N * i // count, N * (i + 1) // count) for i in range(count)])


def _channel_blocks(G: ConvGeometry, bounds: np.ndarray, itemsize: int) -> np.ndarray:
    """The input channels in blocks, as int64 bounds (block ``b`` is channels ``blocks[b]``
    to ``blocks[b + 1]``), none across a group, of about BLOCK_BYTES of columns for the
    largest chunk of ``bounds``, their number a multiple of the threads, which share them."""
    C_g, n = G.in_channels // G.groups, int(np.diff(bounds).max())
    per_channel = max(1, math.prod(G.kernel_size) * math.prod(G.out_size) * n * itemsize)
    count = -(-C_g * G.groups // max(1, BLOCK_BYTES // per_channel))  # blocks in all
    threads = parallel.threads()
    count = -(-count // threads) * threads
    per_group = max(1, min(C_g, -(-count // G.groups)))
    return np.array([k * C_g + C_g * i // per_group for k in range(G.groups)
                     for i in range(per_group)] + [G.in_channels], dtype=np.int64)


def chunk_bounds(chunks: list[slice]) -> np.ndarray:
    """Consecutive chunks of a batch, from sample 0, as the bounds a compiled driver takes:
    chunk ``j`` is ``bounds[j]..bounds[j + 1]``.

    >>> chunk_bounds([slice(0, 3), slice(3, 5)])
    array([0, 3, 5])
    """
    return np.array([0] + [c.stop for c in chunks], dtype=np.int64)


def add_bias(y: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``y += b`` over the channel axis: ``(n, C, *O) + (C,)``; nothing for ``b = None``."""
    if b is not None:
        y += b.reshape(-1, *(1,) * (y.ndim - 2))  # (C,) -> (C, 1, ..., 1)
    return y


def conv_forward(x: np.ndarray, w: np.ndarray, G: ConvGeometry,
                 b: np.ndarray | None = None) -> np.ndarray:
    """``y (N, C_out, *O)`` from ``x (N, C_in, *S)`` and ``w (C_out, C_in/groups, *K)``, plus
    ``b (C_out,)`` where given.

    The bias rides in the product: each group's columns get a last row of ones and the
    weight a last column of ``b``, so ``y`` is written once, with no pass of ``y += b`` over
    an output that has left the cache. The product is no slower for the extra row (one core,
    a chunk's product: cifar-c1 0.39 ms either way, where the addition took 0.10 ms more;
    lenet-c1 0.065 against 0.10). The whole forward, first quartile of 40 interleaved, one
    core: cifar-c1 1.99 -> 1.64 ms, conv1d 9.99 -> 9.23, lenet-c1 0.56 -> 0.54; 2 Python
    threads, before the compiled chunk drivers (another process on one core): cifar-c1 2.31 ->
    2.02, res-stride2 23.8 -> 23.3. Small images add the bias afterwards.
    """
    if _dense(G):
        return _dense_forward(x, w, G, b)
    y = np.empty((len(x), G.out_channels, *G.out_size), dtype=x.dtype)
    small, compiled = _small(G), _compiled(G)
    wg = _grouped_weight(w, G)  # (g, C_out/g, C_g*prod(K))
    if b is not None and not small:
        wg = np.concatenate([wg, b.reshape(G.groups, -1, 1).astype(w.dtype)], axis=-1)
    if _banded(G, x):
        kernels.forward_bands(kernels.as_3d(x, G.nd), np.ascontiguousarray(wg, dtype=x.dtype),
                              _grouped(y, G.out_channels, G), _bands(len(x), G, x.itemsize),
                              *kernels.geometry_3d(G), b is not None)
        return y
    chunks = _chunks(len(x), G, x.itemsize)
    if _whole_chunks(G, x) and (small or len(chunks) > 1):
        wg = np.ascontiguousarray(wg, dtype=x.dtype)
        bounds = chunk_bounds(chunks)
        if not small:
            kernels.forward_chunks(kernels.as_3d(x, G.nd), wg, _grouped(y, G.out_channels, G),
                                   bounds, *kernels.geometry_3d(G), b is not None)
            return y
        # few channels make chunks of many samples: a step of the digits CNN at batch 128
        # took 1.15 MB of columns in one chunk, on one thread
        bounds = max(bounds, _side_chunks(len(x), G), key=len)
        if len(bounds) > 2 or parallel.threads() == 1:
            bias = np.empty(0, x.dtype) if b is None else b.astype(x.dtype)
            kernels.forward_side_by_side(_flat_samples(x), wg, bias, _flat_positions(y), bounds,
                                         _source_index(G, G.in_channels), G.in_channels)
            return y
        # One chunk on several threads (one image: ResNet-50's 512 channels of 7x7 at batch
        # 1) runs below, its product's rows shared between the threads: 2 threads, 3.74 ->
        # 2.18 ms, where the driver ran the chunk on one (one core: 3.51).

    def one(ns: slice) -> None:
        if small and compiled and ns.stop - ns.start == 1:
            # one sample side by side is im2col's own layout: the compiled copy, and the
            # product straight into y, with no gather by NumPy (0.36 ms, the copy 0.27) and no
            # move of the output. ResNet-50's 512 channels of 7x7 at batch 1, 2 threads (chrt
            # -f 10, min of 200 calls, four processes each, ABBA): 2.45-2.95 -> 2.00-2.69 ms
            product(wg, _columns(x[ns], G, True)[0], out=_grouped(y[ns], G.out_channels, G)[0])
            add_bias(y[ns], b)
            return
        if small:
            yb = product(wg, _side_by_side(x[ns], G))  # (g, C_out/g, prod(O)*n)
            y[ns] = np.moveaxis(yb.reshape(G.out_channels, *G.out_size, -1), -1, 0)  # -> (n, C_out, *O)
            add_bias(y[ns], b)
            return
        cols = _columns(x[ns], G, compiled, extra=int(b is not None))  # (n, g, C_g*prod(K) [+ 1], prod(O))
        if b is not None:
            cols[:, :, -1] = 1
        product(wg, cols, out=_grouped(y[ns], G.out_channels, G))  # (n, g, C_out/g, prod(O))

    # A batch in one chunk (the stem of an ImageNet network on one image: 1x3x224x224, 7x7,
    # stride 2) shares its product's rows between the threads instead.
    product = gemm.matmul if len(chunks) == 1 and parallel.threads() > 1 else np.matmul
    map_chunks(one, chunks)
    return y


def flipped_transpose(w: np.ndarray, groups: int) -> np.ndarray:
    """The kernel of the input gradient as a convolution: taps reversed, ``C_out`` and ``C_in``
    swapped within each group: ``(C_out, C_in/g, *K) -> (C_in, C_out/g, *K)``."""
    K, C_g = w.shape[:2]
    flipped = w[(slice(None), slice(None), *(slice(None, None, -1),) * (w.ndim - 2))]
    wg = flipped.reshape(groups, K // groups, C_g, *w.shape[2:])  # (g, K/g, C/g, *K)
    return np.ascontiguousarray(wg.swapaxes(1, 2)).reshape(groups * C_g, K // groups, *w.shape[2:])


def _gradient_geometry(G: ConvGeometry) -> ConvGeometry:
    """The input gradient of a stride-1 convolution as a convolution of ``gy`` with
    :func:`flipped_transpose`: input ``O``, output ``S``, padded by ``k_eff - 1 - p_lo`` in
    front (negative: cropped) and whatever makes the output ``S`` long at the back."""
    lo = tuple(ke - 1 - p for ke, p in zip(G.kernel_extent, G.pad_lo))
    hi = tuple(i - o - l + ke - 1
               for i, o, l, ke in zip(G.in_size, G.out_size, lo, G.kernel_extent))
    return ConvGeometry(G.name, G.out_size, G.in_size, G.kernel_size, G.stride,
                        tuple(zip(lo, hi)), G.dilation, G.out_channels, G.in_channels, G.groups)


def _flipped_is_cheaper(G: ConvGeometry) -> bool:
    """Whether the input gradient runs as the forward convolution of ``gy`` with the flipped
    kernel (:func:`_gradient_geometry`): stride 1, a small gradient geometry, and, where the
    columns route is small too, fewer multiply-adds than ``wᵀ @ gy`` (they are as ``prod(S)``
    to ``prod(O)``). One core, batch 32 (flipped against side by side, ms): with more padding
    than 'same' the flipped route wins (16 channels, 5x5 -> 7x7: 0.14 against 0.22); with
    'same' padding the same multiply-adds run faster side by side (64 channels of 8x8: 2.96
    against 2.80; 256 of 4x4: 9.6 against 9.0; 32->64 of 8x8: 4.4 against 3.6); without
    padding ``wᵀ @ gy`` takes fewer: DCGAN's ConvTranspose2d 100->256 from 1x1 (the gradient
    of a 4x4 kernel on 4x4) made 16 times its multiply-adds, on a 4x4 output padded by 3."""
    return (all(s == 1 for s in G.stride) and _small(_gradient_geometry(G))
            and (not _small(G) or math.prod(G.in_size) < math.prod(G.out_size)))


def conv_input_grad(gy: np.ndarray, w: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gx (N, C_in, *S)`` from ``gy (N, C_out, *O)``: col2im of ``wᵀ @ gy``.

    Small images run ``wᵀ @ gy`` with the samples side by side, one product per chunk, and
    add the columns back by the positions of their gather (:func:`_add_side_by_side`): one
    product per sample has ``prod(O)`` columns, which the BLAS runs well below its speed
    (one core, ``(2048, 256) @ (256, 16)``: 65 GFLOP/s, against 85-90 for 256 columns and
    more). Where it takes fewer multiply-adds (:func:`_flipped_is_cheaper`), the gradient is
    the forward convolution of ``gy`` with the flipped, transposed kernel instead; a kernel
    that covers the input is a fully connected layer (:func:`_dense_input_grad`).
    """
    if _dense(G):
        return _dense_input_grad(gy, w, G)
    if _flipped_is_cheaper(G):
        return conv_forward(gy, flipped_transpose(w, G.groups), _gradient_geometry(G))
    taps = math.prod(G.kernel_size)
    gx = np.empty((len(gy), G.in_channels, *G.in_size), dtype=gy.dtype)
    small, compiled = _small(G), _compiled(G)
    w_t = _grouped_weight(w, G).transpose(0, 2, 1)  # (g, C_g*prod(K), C_out/g)
    if _whole_chunks(G, gy):
        # a transposed view, which the BLAS reads as it is: without the transposed copy of
        # its weight, DCGAN's ConvTranspose2d 256->128 from 4x4 took 6.9 ms, not 8.7 (one core)
        w_t = np.ascontiguousarray(_grouped_weight(w, G), dtype=gy.dtype).transpose(0, 2, 1)
        if small:
            bounds = _side_chunks(len(gy), G)
            kernels.input_grad_side_by_side(_flat_positions(np.ascontiguousarray(gy)), w_t,
                                            _flat_samples(gx), bounds,
                                            _channel_blocks(G, bounds, gy.itemsize),
                                            _source_index(G, G.in_channels))
        else:
            bounds = chunk_bounds(_chunks(len(gy), G, gy.itemsize))
            kernels.input_grad_chunks(np.ascontiguousarray(_grouped(gy, G.out_channels, G)), w_t,
                                      kernels.as_3d(gx, G.nd), bounds, *kernels.geometry_3d(G))
        return gx

    def one(ns: slice) -> None:
        if small:
            g = _samples_last(gy[ns]).reshape(G.groups, G.out_channels // G.groups, -1)  # (g, C_out/g, prod(O)*n)
            _add_side_by_side(np.matmul(w_t, g), G, gx[ns])
            return
        g = _grouped(gy[ns], G.out_channels, G)  # (n, g, C_out/g, prod(O))
        gcols = np.matmul(w_t, g)  # (n, g, C_g*prod(K), prod(O))
        _add_columns(gcols.reshape(len(g), G.in_channels, taps, *G.out_size), G, gx[ns], compiled)

    map_chunks(one, _chunks(len(gy), G, gy.itemsize))
    return gx


def conv_weight_grad(x: np.ndarray, gy: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``gw (C_out, C_in/groups, *K)``: ``gy @ colsᵀ`` summed over the batch, computed as its
    transpose ``cols @ gyᵀ``, which the BLAS runs 10-20% faster (one core: 62-68 against
    74-77 GFLOP/s on the products of conv1d, res-stride2 and conv_transpose2d)."""
    if _dense(G):
        return _dense_weight_grad(x, gy, G)
    rows = G.in_channels * math.prod(G.kernel_size)
    small, compiled = _small(G), _compiled(G)
    if _whole_chunks(G, x):
        gy = np.ascontiguousarray(gy, dtype=x.dtype)
        if small:
            gw = np.empty((G.out_channels, rows // G.groups), dtype=x.dtype)
            bounds = _side_chunks(len(x), G)
            kernels.weight_grad_side_by_side(_flat_samples(x), _flat_positions(gy),
                                             _grouped_weight(gw, G), bounds,
                                             _channel_blocks(G, bounds, x.itemsize),
                                             _source_index(G, G.in_channels))
            return gw.reshape(G.out_channels, G.in_channels // G.groups, *G.kernel_size)
        bounds = chunk_bounds(_chunks(len(x), G, x.itemsize))
        parts = np.zeros((max(1, len(bounds) - 1), G.groups, rows // G.groups,
                          G.out_channels // G.groups), dtype=x.dtype)  # a slot per chunk
        kernels.weight_grad_chunks(kernels.as_3d(x, G.nd), _grouped(gy, G.out_channels, G),
                                   parts, bounds, *kernels.geometry_3d(G))
        return _weight_from_transposed(parts.sum(axis=0), G)

    def one(ns: slice) -> np.ndarray:
        if small:  # the samples side by side: the product sums over them
            g = _samples_last(gy[ns]).reshape(G.groups, G.out_channels // G.groups, -1)  # (g, C_out/g, prod(O)*n)
            return np.matmul(_side_by_side(x[ns], G), g.transpose(0, 2, 1))
        cols = _columns(x[ns], G, compiled)  # (n, g, C_g*prod(K), prod(O))
        g = _grouped(gy[ns], G.out_channels, G)  # (n, g, C_out/g, prod(O))
        return np.matmul(cols, g.transpose(0, 1, 3, 2)).sum(axis=0)  # (g, C_g*prod(K), C_out/g)

    gw_t = sum(map_chunks(one, _chunks(len(x), G, x.itemsize)),
               np.zeros((G.groups, rows // G.groups, G.out_channels // G.groups), dtype=x.dtype))
    return _weight_from_transposed(gw_t, G)


def _weight_from_transposed(gw_t: np.ndarray, G: ConvGeometry) -> np.ndarray:
    """``(g, C_g*prod(K), C_out/g) -> (C_out, C_in/groups, *K)``."""
    gw = gw_t.transpose(0, 2, 1)  # (g, C_out/g, C_g*prod(K))
    return np.ascontiguousarray(gw).reshape(G.out_channels, G.in_channels // G.groups, *G.kernel_size)
