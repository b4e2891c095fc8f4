"""Pooling and padding as plain loops that read like their definitions: the executable specification.

Nothing here is fast. Every function visits one output element at a time and one window tap at
a time, so that each line can be checked against PyTorch's documentation and ATen's CPU loops.
The fast paths in ``pooling.py`` and ``padding.py`` are tested against these.

Inputs are ``(*B, *I)`` arrays; the leading axes ``B`` are looped over as independent planes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .geometry import output_length

__all__ = [
    "max_pool", "avg_pool", "lp_pool", "adaptive_avg_pool", "adaptive_max_pool", "max_unpool",
    "max_pool_backward", "pad",
]


def _planes(x, nd):
    """Every leading index ``b`` of ``x``, so that ``x[b]`` is one ``(*I)`` plane."""
    return itertools.product(*map(range, x.shape[: x.ndim - nd]))


def _grid(sizes):
    return itertools.product(*map(range, sizes))


def _flat(coord, shape):
    """Row-major flat index of ``coord`` in an array of ``shape``."""
    index = 0
    for c, n in zip(coord, shape):
        index = index * n + c
    return index


def _output_size(I, K, S, P, D, ceil_mode):
    return tuple(output_length(i, k, s, p, p, d, ceil_mode) for i, k, s, p, d in zip(I, K, S, P, D))


def max_pool(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Max over each window's taps that fall inside the input, and the flat index of the winner.

    ATen's loop: start from ``best = -inf`` (the lowest integer for integer dtypes) and the
    index of the window's first tap inside the input; replace them whenever ``v > best`` or
    ``v`` is NaN.
    """
    nd = len(kernel_size)
    I = x.shape[x.ndim - nd:]
    O = _output_size(I, kernel_size, stride, padding, dilation, ceil_mode)
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    y = np.empty(x.shape[: x.ndim - nd] + O, dtype=x.dtype)
    indices = np.empty(y.shape, dtype=np.int64)
    for b in _planes(x, nd):
        for j in _grid(O):
            start = [jj * s - p for jj, s, p in zip(j, stride, padding)]
            # the first tap at or after 0 along each axis: start + m*d with the least such m
            first = [st + max(-(st // d), 0) * d for st, d in zip(start, dilation)]
            best, best_index = lowest, _flat(first, I)
            for m in _grid(kernel_size):
                t = [st + mm * d for st, mm, d in zip(start, m, dilation)]
                if not all(0 <= tt < i for tt, i in zip(t, I)):
                    continue
                v = x[b + tuple(t)]
                if v > best or np.isnan(v):
                    best, best_index = v, _flat(t, I)
            y[b + j] = best
            indices[b + j] = best_index
    return y, indices


def max_pool_backward(gy, indices, input_shape, nd):
    """``gx[b].flat[indices[b, j]] += gy[b, j]`` for every output element, one at a time.

    An index past the plane (a window wholly in the padding) sends its gradient nowhere.
    """
    gx = np.zeros(input_shape, dtype=gy.dtype)
    I = tuple(input_shape[len(input_shape) - nd:])
    for b in _planes(gy, nd):
        for j in _grid(gy.shape[gy.ndim - nd:]):
            if indices[b + j] < math.prod(I):
                gx[b + np.unravel_index(indices[b + j], I)] += gy[b + j]
    return gx


def avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """Sum of each window's taps inside the input, divided as ATen's ``avg_pool2d`` does.

    Per axis, ``start = j*s - p`` and ``end = min(start + k, i + p)`` (clipped to the padded
    input); ``pool_size = ∏(end - start)``. Then ``start, end`` are clipped to the input, and the
    divisor is ``divisor_override``, else ``pool_size`` with ``count_include_pad``, else the
    number of real elements ``∏(end - start)``.
    """
    nd = len(kernel_size)
    I = x.shape[x.ndim - nd:]
    O = _output_size(I, kernel_size, stride, padding, (1,) * nd, ceil_mode)
    y = np.empty(x.shape[: x.ndim - nd] + O, dtype=x.dtype)
    for b in _planes(x, nd):
        for j in _grid(O):
            lo, hi, pool_size = [], [], 1
            for jj, i, k, s, p in zip(j, I, kernel_size, stride, padding):
                start = jj * s - p
                end = min(start + k, i + p)
                pool_size *= end - start
                lo.append(max(start, 0))
                hi.append(min(end, i))
            total = 0.0
            for t in itertools.product(*(range(a, z) for a, z in zip(lo, hi))):
                total += x[b + t]
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = pool_size
            else:
                divisor = math.prod(z - a for a, z in zip(lo, hi))
            y[b + j] = total / divisor
    return y


def lp_pool(x, norm_type, kernel_size, stride, ceil_mode):
    """PyTorch's power-average pool: ``(∏k · avg_pool(x**p))**(1/p)``, no padding.

    With ceil_mode, a last window that is cut short is averaged over its real elements and then
    scaled by the full ``∏k``, exactly as ``F.lp_pool2d`` composes it.
    """
    nd = len(kernel_size)
    avg = avg_pool(x ** norm_type, kernel_size, stride, (0,) * nd, ceil_mode, True, None)
    return (avg * math.prod(kernel_size)) ** (1.0 / norm_type)


def adaptive_avg_pool(x, output_size):
    """Mean over window ``[floor(j*i/o), ceil((j+1)*i/o))`` along each axis."""
    nd = len(output_size)
    I = x.shape[x.ndim - nd:]
    y = np.empty(x.shape[: x.ndim - nd] + tuple(output_size), dtype=x.dtype)
    for b in _planes(x, nd):
        for j in _grid(output_size):
            ranges = [range(jj * i // o, -(-(jj + 1) * i // o)) for jj, i, o in zip(j, I, output_size)]
            total, count = 0.0, 0
            for t in itertools.product(*ranges):
                total += x[b + t]
                count += 1
            y[b + j] = total / count
    return y


def adaptive_max_pool(x, output_size):
    """Max over each adaptive window, and the flat index of the winner (PyTorch's update rule)."""
    nd = len(output_size)
    I = x.shape[x.ndim - nd:]
    y = np.empty(x.shape[: x.ndim - nd] + tuple(output_size), dtype=x.dtype)
    indices = np.empty(y.shape, dtype=np.int64)
    for b in _planes(x, nd):
        for j in _grid(output_size):
            ranges = [range(jj * i // o, -(-(jj + 1) * i // o)) for jj, i, o in zip(j, I, output_size)]
            best, best_index = -np.inf, _flat([r.start for r in ranges], I)
            for t in itertools.product(*ranges):
                v = x[b + t]
                if v > best or np.isnan(v):
                    best, best_index = v, _flat(t, I)
            y[b + j] = best
            indices[b + j] = best_index
    return y, indices


def max_unpool(x, indices, output_size):
    """Zeros of ``output_size``, then ``y[b].flat[indices[b, j]] = x[b, j]`` in order."""
    nd = len(output_size)
    y = np.zeros(x.shape[: x.ndim - nd] + tuple(output_size), dtype=x.dtype)
    for b in _planes(x, nd):
        for j in _grid(x.shape[x.ndim - nd:]):
            y[b + np.unravel_index(indices[b + j], tuple(output_size))] = x[b + j]
    return y


def pad(x, widths, mode="constant", value=0):
    """Each output element read from the input position it sits over, by the mode's rule.

    Along an axis of size ``i`` padded by ``(lo, hi)``, output ``j`` sits over ``t = j - lo``;
    outside ``[0, i)``: constant reads ``value``, reflect ``-t`` or ``2(i-1) - t``, replicate the
    nearest edge, circular wraps around the ``c`` elements left after cropping: the input
    ``[a, a + c)`` sits at output ``L = max(lo, 0)``, and ``j`` reads ``a + (j - L) mod c``.
    """
    nd = len(widths)
    I = x.shape[x.ndim - nd:]
    O = tuple(lo + i + hi for i, (lo, hi) in zip(I, widths))
    y = np.empty(x.shape[: x.ndim - nd] + O, dtype=x.dtype)
    for b in _planes(x, nd):
        for j in _grid(O):
            t = [jj - lo for jj, (lo, _) in zip(j, widths)]
            if mode == "constant":
                inside = all(0 <= tt < i for tt, i in zip(t, I))
                y[b + j] = x[b + tuple(t)] if inside else value
                continue
            source = []
            for tt, jj, i, (lo, hi) in zip(t, j, I, widths):
                if mode == "reflect":
                    tt = -tt if tt < 0 else (2 * (i - 1) - tt if tt >= i else tt)
                elif mode == "replicate":
                    tt = min(max(tt, 0), i - 1)
                else:
                    a = max(-lo, 0)
                    c = i - a - max(-hi, 0)
                    tt = a + (jj - max(lo, 0)) % c
                source.append(tt)
            y[b + j] = x[b + tuple(source)]
    return y
