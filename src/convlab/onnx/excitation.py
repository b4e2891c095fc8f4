"""MobileNetV3's squeeze-excitation block on arrays, as :class:`.inference.SqueezeExcitation`
runs it: ``y = x * gate``, with, per sample and channel,

    pooled = mean of x[n, c] over its positions
    hidden = relu(w1 @ pooled[n] + b1)                     (w1: the squeeze 1x1 convolution)
    gate   = clamp(w2 @ hidden + b2, 0, 1)                 (w2: the excitation, HardSigmoid's
                                                            alpha and beta folded in)

Shape: ``x (N, C, *S)``, ``w1 (R, C)``, ``b1 (R,)``, ``w2 (C, R)``, ``b2 (C,)`` -> ``(N, C, *S)``.

NumPy computes it in ten calls, each a pass or a small product with a call's cost (about 45-60
us a block on rapidocr's images). The compiled kernel (:func:`_excite`) does it in one call:
a pass that sums each plane, the two small products, a pass that scales each plane. Its two
passes share the planes between the threads in the same runs (:func:`.parallel.runs`), so that
each thread scales the planes it summed, still in its core's cache, as the convolution and
activation before the block left them there (the elementwise kernels cut their arrays the same
way, first half to the first thread).
"""

from __future__ import annotations

import functools

import numpy as np

from ..engine import jit, parallel, pooling
from ..engine.im2col import chunk_bounds
from ..engine.jit import prange
from ..engine.parallel import runs

__all__ = ["squeeze_excite"]


def squeeze_excite(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
                   b2: np.ndarray) -> np.ndarray:
    """``x * clamp(w2 @ relu(w1 @ mean(x) + b1) + b2, 0, 1)``, per sample, the gate broadcast over
    each channel's positions (see the module's docstring); the arrays of one float dtype."""
    if jit.active() and x.dtype in jit.FLOAT_TYPES:
        N, C = x.shape[:2]
        planes = np.ascontiguousarray(x).reshape(N, C, -1)
        y = np.empty_like(planes)
        bounds = _bounds(N * C, planes.shape[-1] * planes.itemsize, parallel.threads(),
                         parallel.MIN_RUN_BYTES)
        _excite(planes, np.ascontiguousarray(w1), b1, np.ascontiguousarray(w2), b2, y, bounds)
        return y.reshape(x.shape)
    N, C = x.shape[:2]
    pooled = pooling.adaptive_avg_pool(x, (1,) * (x.ndim - 2)).reshape(N, C)
    hidden = pooled @ w1.T
    hidden += b1
    np.maximum(hidden, 0, out=hidden)
    gate = hidden @ w2.T
    gate += b2
    np.maximum(gate, 0, out=gate)
    np.minimum(gate, 1, out=gate)
    return x * gate.reshape(gate.shape + (1,) * (x.ndim - 2))


@functools.lru_cache(maxsize=256)
def _bounds(planes: int, plane_bytes: int, threads: int, min_run_bytes: int) -> np.ndarray:
    """The runs of planes between the threads (:func:`.parallel.runs`) as bounds, kept per
    count, size, thread count and MIN_RUN_BYTES (the key: the runs follow all four): worked out
    at every call 1.8 us, kept 0.2, of a 15-20 us block (rapidocr's 200 planes, one core)."""
    return chunk_bounds(runs(planes, plane_bytes))


@jit.kernel(threaded=True, bounds="bounds")
def _excite(x, w1, b1, w2, b2, y, bounds):
    """:func:`squeeze_excite` on ``x, y (N, C, P)``: planes ``bounds[j]..bounds[j + 1]`` (plane
    = sample * C + channel) summed, then every sample's gate, then the planes scaled, in the
    same runs."""
    N, C, P = x.shape
    R = w1.shape[0]
    means = np.zeros(N * C, x.dtype)
    for j in prange(len(bounds) - 1):
        for plane in range(bounds[j], bounds[j + 1]):
            row = x[plane // C, plane % C]
            total = means[plane]  # started from the array's zero: see depthwise._add_dot
            for i in range(P):
                total += row[i]
            means[plane] = total / P
    gate = np.empty(N * C, x.dtype)
    hidden = np.empty(R, x.dtype)
    for n in range(N):
        pooled = means[n * C:(n + 1) * C]
        for r in range(R):
            h = b1[r]
            for c in range(C):
                h += w1[r, c] * pooled[c]
            hidden[r] = max(h, 0)
        for c in range(C):
            g = b2[c]
            for r in range(R):
                g += w2[c, r] * hidden[r]
            gate[n * C + c] = min(max(g, 0), 1)
    for j in prange(len(bounds) - 1):
        for plane in range(bounds[j], bounds[j + 1]):
            n, c = plane // C, plane % C
            scale, row, out = gate[plane], x[n, c], y[n, c]
            for i in range(P):
                out[i] = row[i] * scale
