"""Pooling on ndarrays, N-dimensional, forward and backward: max, average, adaptive, unpooling.

Every function pools the last ``nd = len(kernel_size)`` axes of ``x`` and keeps the leading ones,
so ``(N, C, *I)`` and unbatched ``(C, *I)`` inputs take the same path. Per spatial axis, output
position ``j`` reads the window of taps ``j*s - p + m*d`` for ``m = 0 .. k-1``; the number of
windows ``o`` comes from :func:`convlab.engine.geometry.output_length`, ceil_mode included.

How each one is computed, without a Python loop over pixels:

- **max**: one strided view of the (padded) input per kernel tap, ``∏k`` of them in row-major
  tap order, reduced with a running maximum. The running argmax follows PyTorch's rule,
  ``val > best or isnan(val)``: ties keep the first maximum, and a NaN wins (the last NaN).
- **average**: the box sum is separable, so it runs one axis at a time (``Σk`` strided adds instead
  of ``∏k``); the divisor is a product of per-axis counts, so it is separable too.
- **adaptive average**: linear and separable; along each axis it is a product with an averaging
  matrix ``A`` of shape ``(o, i)``, and its backward is the product with ``Aᵀ``.
- **adaptive max**: each axis gathers its (unequal) windows into a ``(o, k_max)`` block, padding
  short windows by repeating their last element (harmless for a max whose ties keep the first),
  then the same running maximum as max pooling runs over the ``k_max`` taps.

Max pooling's indices are PyTorch's: the flat position of the chosen element in its
``(*I)`` plane (``ih * W + iw`` in 2-D). Its backward needs nothing else: the gradient is
scattered to those positions (:func:`scatter_add_planes`), and max unpooling is the
scatter without the sum (:func:`max_unpool`).

Max pooling (1-3 dims) and the scatter have compiled loops too (:mod:`.pooling_kernels`), used
when :func:`jit.active` and the dtype is one numba computes with (:data:`COMPILED_TYPES`); the
planes are then split between the threads. Windows that tile the input (2x2 or 3x3, kernel =
stride, no padding) take a loop of their own, for average pooling too; other max pooling
windows take the row loop when the output rows are long enough to pay for it
(:data:`ROWS_FROM`), else the NumPy path below, as do other average pooling windows. The
scatter is always compiled. Measured on one core against PyTorch (``python -m benchmarks conv
--one-core``): max pooling ``x16x64x112x112``, 3x3 stride 2 padding 1, forward 0.48x, forward
and backward 0.56x, where the NumPy path gives 0.57x and 1.00x; average pooling
``x16x64x56x56``, 2x2, forward 0.13x and forward and backward 0.25x (NumPy: 0.43x, 0.78x); the
digits CNN's 2x2 max pooling of ``64x16x8x8``, forward and backward, 200-280 µs against
400-490 µs with NumPy and 390-610 µs for PyTorch (a loaded machine).

Max pooling's values alone (no gradient to route, no indices asked for: inference) take a
compiled loop of their own, :func:`pooling_kernels.max_pool_values`, which finds no positions
and so makes vector code of every row, short ones included. Measured on one core (float32,
values and indices -> values alone): SqueezeNet's 3x3 stride-2 ceil-mode pools of
``1x64x111x111``, ``1x128x55x55`` and ``1x256x27x27`` 2.9, 1.4, 0.85 ms -> 0.19, 0.11,
0.10 ms (the NumPy path's values: 0.9, 0.55, 0.3 ms); ``8x64x8x8`` to ``8x64x56x56``,
3x3 stride 2 padding 1 and stride 1, 0.18-0.82x the NumPy path's time. Windows that tile the
input with short rows keep the NumPy path for their values (:data:`VALUES_ROWS_FROM`).
:func:`max_pool_plan` keeps that path's decisions per shape, for inference that pools the same
shapes at every call.

Arguments arrive validated (tuples of ints of length ``nd``); the checks and their messages live
in ``convlab.nn.functional.pooling``.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from . import jit, pooling_kernels
from .geometry import output_length

__all__ = [
    "pool_output_size",
    "max_pool",
    "max_pool_plan",
    "avg_pool",
    "avg_pool_backward",
    "adaptive_windows",
    "adaptive_avg_pool",
    "adaptive_avg_pool_backward",
    "adaptive_max_pool",
    "gather_planes",
    "scatter_add_planes",
    "max_unpool",
]


def pool_output_size(input_size, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """``(o_1, ..., o_nd)`` for a pooling window, one :func:`output_length` per axis.

    >>> pool_output_size((3,), (2,), (2,), (1,), (1,), True)
    (2,)
    """
    return tuple(
        output_length(i, k, s, p, p, d, ceil_mode)
        for i, k, s, p, d in zip(input_size, kernel_size, stride, padding, dilation)
    )


def _lowest(dtype: np.dtype):
    """The value that never wins a max: -inf for floats, the minimum for integers."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _pad_for_windows(x, nd, I, O, K_eff, S, P, fill):
    """``x`` padded by ``P`` before and just enough after for the last window, filled with ``fill``.

    With ceil_mode the last window may reach past ``P`` elements of right padding; with floor
    mode the input's tail may go unread. Pads nothing (and copies nothing) when no window leaves
    the input.

    Shape: ``(*B, *I) -> (*B, *Ip)`` with ``Ip = P + I + hi``, ``hi = max((O-1)*S + K_eff - I - P, 0)``.
    """
    hi = [max((o - 1) * s + k - i - p, 0) for i, o, k, s, p in zip(I, O, K_eff, S, P)]
    if not any(P) and not any(hi):
        return x
    lead = x.ndim - nd
    xp = np.full(x.shape[:lead] + tuple(p + i + h for p, i, h in zip(P, I, hi)), fill, x.dtype)
    xp[(Ellipsis,) + tuple(slice(p, p + i) for p, i in zip(P, I))] = x
    return xp


def _tap_view(xp, taps, O, S, D):
    """The elements that window tap ``taps = (m_1, ..., m_nd)`` reads for every output position.

    Shape: ``(*B, *Ip) -> (*B, *O)``, a strided view (no copy).
    """
    return xp[(Ellipsis,) + tuple(
        slice(m * d, m * d + (o - 1) * s + 1, s) for m, o, s, d in zip(taps, O, S, D)
    )]


PHASES_FROM = 1 << 20  # bytes of padded input; smaller ones stay in cache, strided views are fine


def _tap_views(xp, K, O, S, D):
    """The views of every window tap, in row-major tap order (see :func:`_tap_view`).

    With a stride, those views step over elements, which NumPy walks several times slower than
    adjacent ones once the input is out of cache. A large padded input is then first split
    into its phases, one contiguous copy
    per residue of the position modulo the stride: tap ``m`` reads positions ``m*d + j*s``, that
    is element ``j + (m*d)//s`` of phase ``(m*d) % s``, a view with unit steps.
    """
    taps = list(itertools.product(*map(range, K)))
    if all(s == 1 for s in S) or xp.nbytes < PHASES_FROM:
        return [_tap_view(xp, m, O, S, D) for m in taps]
    phases = {}
    views = []
    for m in taps:
        r = tuple(mi * d % s for mi, d, s in zip(m, D, S))
        if r not in phases:
            phases[r] = np.ascontiguousarray(
                xp[(Ellipsis,) + tuple(slice(ri, None, s) for ri, s in zip(r, S))])
        q = tuple(mi * d // s for mi, d, s in zip(m, D, S))
        views.append(phases[r][(Ellipsis,) + tuple(slice(qi, qi + o) for qi, o in zip(q, O))])
    return views


def _running_max(views, out_shape, dtype, with_arg):
    """Maximum over a sequence of equally shaped arrays, and the position of the winner.

    PyTorch's update rule ``v > best or isnan(v)``, starting from ``best = lowest``: ties keep
    the earliest view, a NaN replaces anything, and a view that never beats ``lowest`` leaves
    ``arg = -1`` (the caller then reports the window's first valid element, as PyTorch does).

    The maximum comes first, by ``np.maximum`` alone; the winner is then the first view equal
    to it, found by going through the views backwards. That is two passes per view on small
    integers, against five (and 8-byte positions) for tracking the winner along the way, which
    only NaNs still need (a NaN equals nothing).
    """
    views = list(views)
    best = np.full(out_shape, _lowest(dtype), dtype=dtype)
    for v in views:
        np.maximum(best, v, out=best)  # np.maximum propagates NaN, as PyTorch's max does
    if not with_arg:
        return best, None
    if dtype.kind == "f" and np.isnan(best).any():
        return best, _tracked_arg(views, out_shape, dtype)
    arg = np.full(out_shape, -1, dtype=np.min_scalar_type(-len(views)))
    step = np.empty_like(arg)
    for t in range(len(views) - 1, -1, -1):  # arg = t where view t equals the max, as arithmetic:
        np.subtract(t, arg, out=step)  # NumPy's masked assignment is several times slower
        step *= views[t] == best
        arg += step
    arg[best == _lowest(dtype)] = -1  # nothing beat `lowest`: PyTorch's rule never fired
    return best, arg


def _tracked_arg(views, out_shape, dtype):
    """The winner of PyTorch's rule ``v > best or isnan(v)``, tracked view by view."""
    best = np.full(out_shape, _lowest(dtype), dtype=dtype)
    arg = np.full(out_shape, -1, dtype=np.intp)
    for t, v in enumerate(views):
        wins = (v > best) | np.isnan(v)
        np.copyto(best, v, where=wins)
        np.copyto(arg, t, where=wins)
    return arg


def _flat_indices(arg, lead, K, tables, fallbacks, plane_shape):
    """Turn window-tap numbers into flat indices of the input plane.

    ``tables[a][j, m]`` is the input coordinate along axis ``a`` of tap ``m`` of window ``j``;
    ``fallbacks[a][j]`` is the coordinate used where ``arg == -1``. The flat index is
    ``Σ_a coord_a * ∏ plane_shape[a+1:]`` (row-major), as PyTorch reports it. It is looked up
    in one small table of every window's every tap, ``(∏O, ∏K)``, at ``j * ∏K + arg``.

    Shape: ``arg`` ``(*B, *O)`` -> int64 ``(*B, *O)``.
    """
    nd = len(K)
    O = arg.shape[lead:]
    strides = [math.prod(plane_shape[a + 1:]) for a in range(nd)]

    def per_axis(a, values, shape):  # axis a's values broadcast into `shape`'s axis a
        view = [1] * len(shape)
        view[a] = values.shape[0]
        if values.ndim == 2:
            view[nd + a] = values.shape[1]
        return values.reshape(view) * strides[a]

    table = sum(per_axis(a, tables[a], O + tuple(K)) for a in range(nd))  # (*O, *K)
    taps = math.prod(K)
    window = np.arange(math.prod(O)).reshape(O) * taps  # (*O,)
    flat = table.reshape(-1)[window + np.maximum(arg, 0)]
    unset = arg < 0
    if unset.any():
        fallback = sum(per_axis(a, fallbacks[a], O) for a in range(nd))  # (*O,)
        flat = np.where(unset, fallback, flat)
    return flat


def max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True):
    """``y[..., j] = max over m of x[..., j*s - p + m*d]`` (−∞ outside the input), per axis.

    Returns ``(y, indices)``; ``indices`` (int64, flat in each ``(*I)`` plane) is None unless
    ``return_indices``. Ties pick the first maximum in row-major window order; NaN propagates.

    Shape:
        x: ``(*B, *I)``; y and indices: ``(*B, *O)``, ``O`` from :func:`pool_output_size`.

    >>> y, i = max_pool(np.array([[1., 3., 2., 5., 4.]]), (2,), (2,), (1,), (1,), False)
    >>> y.tolist(), i.tolist()
    ([[1.0, 3.0, 5.0]], [[0, 1, 3]])
    """
    nd = len(kernel_size)
    lead = x.ndim - nd
    I = x.shape[lead:]
    K, S, P, D = kernel_size, stride, padding, dilation
    O = pool_output_size(I, K, S, P, D, ceil_mode)
    compiled = jit.active() and nd <= 3 and x.dtype in COMPILED_TYPES
    tiles = compiled and _tiles(I, O, K, S, P, D)
    if compiled and not return_indices and not (tiles and O[-1] < VALUES_ROWS_FROM):
        return _values_plan(x.shape, x.dtype, K, S, P, D, ceil_mode, VALUES_ROWS_FROM)(x), None
    if return_indices and (tiles or (compiled and O[-1] >= ROWS_FROM)):
        return _max_pool_compiled(x, nd, O, K, S, P, D, tiles)
    K_eff = tuple(d * (k - 1) + 1 for k, d in zip(K, D))
    xp = _pad_for_windows(x, nd, I, O, K_eff, S, P, _lowest(x.dtype))
    views = _tap_views(xp, K, O, S, D)
    y, arg = _running_max(views, x.shape[:lead] + O, x.dtype, return_indices)
    if not return_indices:
        return y, None
    # tap m of window j reads j*s - p + m*d; the first tap at or after 0 is m0 = ceil((p - j*s)/d)
    tables, fallbacks = [], []
    for o, k, s, p, d in zip(O, K, S, P, D):
        start = np.arange(o) * s - p
        tables.append(start[:, None] + np.arange(k) * d)  # (o, k)
        fallbacks.append(start + np.maximum(-(start // d), 0) * d)  # (o,)
    return y, _flat_indices(arg, lead, K, tables, fallbacks, I)


# The dtypes the compiled kernels take (numba has no float16 arithmetic).
COMPILED_TYPES = frozenset(map(np.dtype, (
    "float32", "float64", "int8", "int16", "int32", "int64", "uint8")))


# Windows that tile the input take the values-only loop from rows of this many outputs on;
# shorter rows go faster by NumPy's views, which then read each element once (one core, 2x2:
# 8x64x16x16 0.13 ms against 0.2, 1x200x2x96 0.08 against 0.04, 8x64x56x56 1.2 against 0.8).
VALUES_ROWS_FROM = 16

# The row loop pays from this many outputs a row on (measured, one core, 3x3 windows: 1.85x the
# NumPy path's time with 16 outputs a row and stride 2, 0.55x with 32).
ROWS_FROM = 32


def _tiles(I, O, K, S, P, D) -> bool:
    """Whether the windows tile the input with a size that :func:`pooling_kernels.max_pool_tiles`
    takes: kernel = stride, no padding, no dilation, every window inside the input."""
    return (_padded_3d(K, len(K), 1) in pooling_kernels.TILES and K == S
            and not any(P) and all(d == 1 for d in D)
            and all(o * k <= i for i, o, k in zip(I, O, K)))


def _as_3d(shape, nd):
    """``(*B, *I)`` as ``(∏B, 1.., *I)``: the planes in one axis, the window axes made 3."""
    lead = len(shape) - nd
    return (math.prod(shape[:lead]),) + (1,) * (3 - nd) + tuple(shape[lead:])


def _padded_3d(t, nd, fill):
    """A per-axis tuple lengthened to 3 axes, the added ones in front set to ``fill``."""
    return (fill,) * (3 - nd) + tuple(t)


def _max_pool_compiled(x, nd, O, K, S, P, D, tiles):
    """:func:`max_pool` by the compiled loop (:func:`pooling_kernels.max_pool`, or
    :func:`pooling_kernels.max_pool_tiles` where ``tiles``, see :func:`_tiles`), the planes
    split between the threads. Returns ``(y, indices)``."""
    lead = x.ndim - nd
    x3 = np.ascontiguousarray(x).reshape(_as_3d(x.shape, nd))
    y = np.empty(_as_3d(x.shape[:lead] + O, nd), dtype=x.dtype)
    indices = np.empty(y.shape, dtype=np.int64)
    K3, S3, D3 = (_padded_3d(t, nd, 1) for t in (K, S, D))
    P3 = _padded_3d(P, nd, 0)
    lowest = x.dtype.type(_lowest(x.dtype))

    if tiles:
        pooling_kernels.max_pool_tiles(x3, y, indices, K3, lowest)
    else:
        pooling_kernels.max_pool(x3, y, indices, K3, S3, P3, D3, lowest)
    shape = x.shape[:lead] + O
    return y.reshape(shape), indices.reshape(shape)


def max_pool_plan(x_shape, dtype, kernel_size, stride, padding, dilation, ceil_mode):
    """:func:`max_pool`'s values alone (inference: no indices) for inputs of ``x_shape`` and
    ``dtype``, as a function ``run(x) -> y`` whose decisions (the path, the shapes, the
    window as the kernel takes it) are taken once and kept per shape, dtype and window; None
    where the compiled kernels are off. Callers that pool the same shapes over and over
    (``convlab.onnx``'s inference steps) keep it: :func:`max_pool` works all of that out at
    every call, 10 of a 200x2x96 2x2 pool's 22 us (one core), and takes it too.

    >>> run = max_pool_plan((1, 5), np.dtype("float64"), (2,), (2,), (1,), (1,), False)
    >>> run is None or run(np.array([[1., 3., 2., 5., 4.]])).tolist() == [[1.0, 3.0, 5.0]]
    True
    """
    if not jit.active():
        return None
    return _values_plan(tuple(x_shape), np.dtype(dtype), tuple(kernel_size), tuple(stride),
                        tuple(padding), tuple(dilation), bool(ceil_mode), VALUES_ROWS_FROM)


@functools.lru_cache(maxsize=128)
def _values_plan(x_shape, dtype, K, S, P, D, ceil_mode, values_rows_from):
    """:func:`max_pool_plan`'s function: :func:`pooling_kernels.max_pool_values`, the planes
    split between the threads, where it takes the window (:func:`max_pool` otherwise), for
    that VALUES_ROWS_FROM (the key: the path follows it)."""
    nd = len(K)
    lead = len(x_shape) - nd
    I = x_shape[lead:]
    O = pool_output_size(I, K, S, P, D, ceil_mode)
    if nd > 3 or dtype not in COMPILED_TYPES or (
            _tiles(I, O, K, S, P, D) and O[-1] < values_rows_from):
        return lambda x: max_pool(x, K, S, P, D, ceil_mode, return_indices=False)[0]
    x_shape3, y_shape3 = _as_3d(x_shape, nd), _as_3d(x_shape[:lead] + O, nd)
    y_shape = x_shape[:lead] + O
    window = tuple(_padded_3d(t, nd, 1) for t in (K, S)) + (_padded_3d(P, nd, 0),
                                                              _padded_3d(D, nd, 1))
    lowest = dtype.type(_lowest(dtype))

    def run(x):
        y = np.empty(y_shape3, dtype=dtype)
        pooling_kernels.max_pool_values(np.ascontiguousarray(x).reshape(x_shape3), y, *window,
                                        lowest)
        return y.reshape(y_shape)

    return run


def _avg_pool_tiles(a, out_shape, nd, K, divisor_override, backward=False):
    """Average pooling (``a`` the input) or its backward (``a`` the output's gradient) by the
    compiled tiling loop, for windows that tile the input (:func:`_tiles`): each window's
    divisor is ``divisor_override`` or its size. Returns an array of ``out_shape``."""
    a3 = np.ascontiguousarray(a).reshape(_as_3d(a.shape, nd))
    out = np.empty(_as_3d(out_shape, nd), dtype=a.dtype)
    K3 = _padded_3d(K, nd, 1)
    divisor = a.dtype.type(math.prod(K) if divisor_override is None else divisor_override)
    kernel = pooling_kernels.avg_pool_tiles_backward if backward else pooling_kernels.avg_pool_tiles
    kernel(a3, out, K3, divisor)
    return out.reshape(out_shape)


def _window_sum(x, axis, k, s, o):
    """``out[j] = Σ_{m<k} x[j*s + m]`` along ``axis``: ``k`` strided adds. ``(.., i, ..) -> (.., o, ..)``."""
    before = (slice(None),) * axis
    out = x[before + (slice(0, (o - 1) * s + 1, s),)].copy()
    for m in range(1, k):
        out += x[before + (slice(m, m + (o - 1) * s + 1, s),)]
    return out


def _window_sum_backward(g, axis, k, s, size):
    """Adjoint of :func:`_window_sum`: each ``g[j]`` added to the ``k`` positions it summed."""
    before = (slice(None),) * axis
    o = g.shape[axis]
    shape = list(g.shape)
    shape[axis] = size
    gx = np.zeros(shape, dtype=g.dtype)
    for m in range(k):
        gx[before + (slice(m, m + (o - 1) * s + 1, s),)] += g
    return gx


def _avg_divisor(I, O, K, S, P, count_include_pad, divisor_override, lead, dtype):
    """What each window's sum is divided by, broadcastable to ``(*B, *O)``.

    PyTorch's rule, per axis with ``start = j*s - p``: the window is first clipped to the padded
    extent, ``end = min(start + k, i + p)``; with ``count_include_pad`` the divisor counts
    ``end - start``, otherwise only the real elements ``min(end, i) - max(start, 0)``. Both are
    products over the axes. ``divisor_override`` replaces the whole product.
    """
    if divisor_override is not None:
        return dtype.type(divisor_override)
    divisor = np.ones((1,) * (lead + len(I)), dtype=dtype)
    for a, (i, o, k, s, p) in enumerate(zip(I, O, K, S, P)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, i + p)
        count = end - start if count_include_pad else np.minimum(end, i) - np.maximum(start, 0)
        divisor = divisor * count.reshape((-1,) + (1,) * (len(I) - a - 1)).astype(dtype)
    return divisor


def avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """``y[..., j] = (Σ_m x[..., j*s - p + m]) / divisor[j]`` with zeros outside the input.

    The divisor follows PyTorch (see :func:`_avg_divisor`). ``x`` must be floating point.

    Shape:
        x: ``(*B, *I)``; y: ``(*B, *O)``, ``O`` from :func:`pool_output_size` with dilation 1.

    >>> avg_pool(np.array([[1., 2., 3., 4., 5.]]), (3,), (2,), (1,), True, False, None).tolist()
    [[1.5, 3.0, 4.5]]
    """
    nd = len(kernel_size)
    lead = x.ndim - nd
    I = x.shape[lead:]
    K, S, P = kernel_size, stride, padding
    O = pool_output_size(I, K, S, P, (1,) * nd, ceil_mode)
    if jit.active() and x.dtype in COMPILED_TYPES and _tiles(I, O, K, S, P, (1,) * nd):
        return _avg_pool_tiles(x, x.shape[:lead] + O, nd, K, divisor_override)
    y = _pad_for_windows(x, nd, I, O, K, S, P, 0)
    for a in range(nd):
        y = _window_sum(y, lead + a, K[a], S[a], O[a])
    return y / _avg_divisor(I, O, K, S, P, count_include_pad, divisor_override, lead, x.dtype)


def avg_pool_backward(gy, input_shape, kernel_size, stride, padding, ceil_mode,
                      count_include_pad, divisor_override):
    """Gradient of :func:`avg_pool`: ``gy / divisor`` spread evenly over each window.

    Adjoint of each step in reverse: divide, window sums axis by axis (add back to every tap),
    then padding (crop it off).

    Shape: gy ``(*B, *O)`` -> ``input_shape`` = ``(*B, *I)``.
    """
    nd = len(kernel_size)
    lead = len(input_shape) - nd
    I = tuple(input_shape[lead:])
    K, S, P = kernel_size, stride, padding
    O = gy.shape[lead:]
    if jit.active() and gy.dtype in COMPILED_TYPES and _tiles(I, O, K, S, P, (1,) * nd):
        return _avg_pool_tiles(gy, tuple(input_shape), nd, K, divisor_override, backward=True)
    g = gy / _avg_divisor(I, O, K, S, P, count_include_pad, divisor_override, lead, gy.dtype)
    for a in reversed(range(nd)):
        i, o, k, s, p = I[a], O[a], K[a], S[a], P[a]
        size = max(p + i, (o - 1) * s + k)  # the padded length that the forward read
        g = _window_sum_backward(g, lead + a, k, s, size)
        g = g[(slice(None),) * (lead + a) + (slice(p, p + i),)]
    return np.ascontiguousarray(g)


def adaptive_windows(i: int, o: int) -> tuple[np.ndarray, np.ndarray]:
    """Window ``j`` of adaptive pooling covers ``[floor(j*i/o), ceil((j+1)*i/o))``.

    >>> [w.tolist() for w in adaptive_windows(5, 3)]
    [[0, 1, 3], [2, 4, 5]]
    """
    j = np.arange(o)
    return (j * i) // o, -((-(j + 1) * i) // o)


def _averaging_matrix(i, o, dtype):
    """``A`` of shape ``(o, i)`` with ``A[j, t] = 1/len_j`` on window ``j``: ``y = A @ x``."""
    starts, ends = adaptive_windows(i, o)
    t = np.arange(i)
    inside = (t >= starts[:, None]) & (t < ends[:, None])
    return (inside / (ends - starts)[:, None]).astype(dtype)


def _apply_along(x, matrix, axis):
    """``matrix`` (rows, n) applied along ``axis`` of ``x``: ``(.., n, ..) -> (.., rows, ..)``."""
    y = np.matmul(np.moveaxis(x, axis, -1), matrix.T)  # (.., n) @ (n, rows)
    return np.moveaxis(y, -1, axis)


def _even_blocks(shape, output_size):
    """Where every output size divides its input size, the windows are equal blocks that tile
    the input (global pooling, ``o = 1``, is the common case): the shape that splits each
    spatial axis ``i`` into ``(o, i / o)``, and the block axes. None otherwise."""
    nd = len(output_size)
    lead, I = shape[:-nd], shape[-nd:]
    if any(o == 0 or i % o for i, o in zip(I, output_size)):
        return None
    split = tuple(lead) + tuple(v for i, o in zip(I, output_size) for v in (o, i // o))
    return split, tuple(range(len(lead) + 1, len(split), 2))


def adaptive_avg_pool(x, output_size):
    """``y[..., j] = mean of x over window j`` (see :func:`adaptive_windows`), per axis.

    Equal blocks (:func:`_even_blocks`) are summed in place, one reduction, and global pooling
    (every output size 1) as one matrix-vector product with ones: NumPy's reduction over a short
    last axis costs about 70 ns a row (32x256x4x4: 0.54 ms, the product 0.07 ms, PyTorch 0.26
    ms, one core, loaded machine). Other windows are one averaging matrix applied along each
    axis (a product over a strided view: 1.7 ms for the same case).

    Shape: x ``(*B, *I)`` -> ``(*B, *output_size)``.
    """
    blocks = _even_blocks(x.shape, output_size)
    if blocks is not None:
        split, block_axes = blocks
        x = np.ascontiguousarray(x)
        if all(o == 1 for o in output_size):  # global: each plane's sum, a product with ones
            planes = x.reshape(x.shape[:x.ndim - len(output_size)] + (-1,))
            sums = planes @ np.ones(planes.shape[-1], x.dtype)
            return (sums / x.dtype.type(planes.shape[-1])).reshape(
                planes.shape[:-1] + (1,) * len(output_size))
        return x.reshape(split).mean(axis=block_axes)
    lead = x.ndim - len(output_size)
    for a, o in enumerate(output_size):
        x = _apply_along(x, _averaging_matrix(x.shape[lead + a], o, x.dtype), lead + a)
    return np.ascontiguousarray(x)


def adaptive_avg_pool_backward(gy, input_size):
    """Gradient of :func:`adaptive_avg_pool`: ``Aᵀ`` applied along each axis; for equal blocks,
    each output's gradient spread evenly over its block.

    Shape: gy ``(*B, *O)`` -> ``(*B, *input_size)``.
    """
    output_size = gy.shape[gy.ndim - len(input_size):]
    blocks = _even_blocks(gy.shape[:gy.ndim - len(input_size)] + tuple(input_size), output_size)
    if blocks is not None:
        split, block_axes = blocks
        size = math.prod(split[a] for a in block_axes)
        share = gy / gy.dtype.type(size)
        shape = gy.shape[:gy.ndim - len(input_size)] + tuple(input_size)
        if all(o == 1 for o in output_size):  # global: each plane filled with its share
            return np.repeat(share.reshape(-1), size).reshape(shape)
        spread = np.expand_dims(share, block_axes)  # a size-1 axis after each output axis
        return np.ascontiguousarray(np.broadcast_to(spread, split)).reshape(shape)
    lead = gy.ndim - len(input_size)
    for a, i in enumerate(input_size):
        A = _averaging_matrix(i, gy.shape[lead + a], gy.dtype)  # (o, i)
        gy = _apply_along(gy, A.T, lead + a)
    return np.ascontiguousarray(gy)


def adaptive_max_pool(x, output_size, return_indices=True):
    """``y[..., j] = max of x over window j`` (see :func:`adaptive_windows`), per axis.

    Returns ``(y, indices)`` as :func:`max_pool` does (indices None unless ``return_indices``).

    Shape: x ``(*B, *I)`` -> y, indices ``(*B, *output_size)``.
    """
    nd = len(output_size)
    lead = x.ndim - nd
    I = x.shape[lead:]
    tables, fallbacks, K = [], [], []
    blocks = x
    for a, (i, o) in enumerate(zip(I, output_size)):
        starts, ends = adaptive_windows(i, o)
        k = int((ends - starts).max(initial=1))  # initial: an empty output (o = 0) still works
        # short windows repeat their last element; the repeat never beats the original
        table = np.minimum(starts[:, None] + np.arange(k), ends[:, None] - 1)  # (o, k)
        axis = lead + 2 * a
        blocks = np.take(blocks, table.ravel(), axis=axis)
        blocks = blocks.reshape(blocks.shape[:axis] + (o, k) + blocks.shape[axis + 1:])
        tables.append(table)
        fallbacks.append(starts)
        K.append(k)
    # blocks: (*B, o_1, k_1, ..., o_nd, k_nd)
    views = (
        blocks[(Ellipsis,) + tuple(itertools.chain.from_iterable((slice(None), m) for m in taps))]
        for taps in itertools.product(*map(range, K))
    )
    y, arg = _running_max(views, x.shape[:lead] + tuple(output_size), x.dtype, return_indices)
    if not return_indices:
        return y, None
    return y, _flat_indices(arg, lead, tuple(K), tables, fallbacks, I)


def gather_planes(x, indices, nd):
    """``y[b, j] = x[b].flat[indices[b, j]]`` for every leading index ``b``: read by flat index.

    Shape: x ``(*B, *I)``, indices ``(*B, *O)`` -> ``(*B, *O)`` with ``nd = len(I) = len(O)``.
    """
    lead = x.ndim - nd
    # (*B, ∏I) and (*B, ∏O); the sizes spelled out, as -1 is ambiguous for an empty batch
    flat_x = x.reshape(x.shape[:lead] + (math.prod(x.shape[lead:]),))
    flat_i = indices.reshape(indices.shape[:lead] + (math.prod(indices.shape[lead:]),))
    return np.take_along_axis(flat_x, flat_i, axis=-1).reshape(indices.shape)


def _plane_offsets(indices, nd, plane):
    """Indices into the whole flattened array: plane ``b`` starts at ``b * plane``."""
    lead = indices.ndim - nd
    B = math.prod(indices.shape[:lead])
    per_plane = indices.reshape(B, math.prod(indices.shape[lead:]))  # (∏B, ∏O)
    return (per_plane + np.arange(B)[:, None] * plane).ravel()


def scatter_add_planes(g, indices, plane_shape):
    """Adjoint of :func:`gather_planes`: ``gx[b].flat[indices[b, j]] += g[b, j]``.

    Repeated indices (overlapping windows choosing the same element) accumulate, in the
    gradient's dtype: by the compiled loop :func:`pooling_kernels.scatter_add`, the planes split
    between the threads, or else by ``np.add.at`` (which adds one element at a time, through a
    generic path about ten times slower). An index past the end of the plane receives nothing:
    max pooling reports one for a window that lies wholly in the padding (its output is −∞, and
    PyTorch names the window's first tap at or after 0, which is then beyond the input).

    Shape: g, indices ``(*B, *O)`` -> ``(*B, *plane_shape)``.
    """
    nd = len(plane_shape)
    lead = g.ndim - nd
    plane = math.prod(plane_shape)
    B = math.prod(g.shape[:lead])
    if jit.active() and g.dtype in COMPILED_TYPES:
        M = math.prod(g.shape[lead:])
        g2 = np.ascontiguousarray(g).reshape(B, M)
        indices2 = np.ascontiguousarray(indices).reshape(B, M)
        gx = np.empty((B, plane), dtype=g.dtype)
        pooling_kernels.scatter_add(g2, indices2, gx)
        return gx.reshape(g.shape[:lead] + tuple(plane_shape))
    offsets, weights = _plane_offsets(indices, nd, plane), g.ravel()
    if indices.size and indices.max() >= plane:
        inside = indices.ravel() < plane
        offsets, weights = offsets[inside], weights[inside]
    flat = np.zeros(B * plane, dtype=g.dtype)
    np.add.at(flat, offsets, weights)
    return flat.reshape(g.shape[:lead] + tuple(plane_shape))


def max_unpool(x, indices, output_size):
    """``y[b].flat[indices[b, j]] = x[b, j]``, zeros elsewhere: the partial inverse of max pooling.

    Where indices repeat, the last write wins (as PyTorch's CPU loop). The gradient with respect
    to ``x`` is :func:`gather_planes` of the output gradient.

    Shape: x, indices ``(*B, *I)`` -> ``(*B, *output_size)``.
    """
    nd = len(output_size)
    lead = x.ndim - nd
    plane = math.prod(output_size)
    y = np.zeros(math.prod(x.shape[:lead]) * plane, dtype=x.dtype)
    y[_plane_offsets(indices, nd, plane)] = x.ravel()
    return y.reshape(x.shape[:lead] + tuple(output_size))
