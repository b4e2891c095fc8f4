"""BatchNorm's passes as compiled loops (:mod:`.jit`), per channel of ``x`` seen as ``(N, C, L)``.

NumPy computes a BatchNorm as a chain of whole-array operations, each one pass over memory and
most with a full-size temporary: the moments (a mean, ``x - mean``, its square, a second
mean), the normalization (``x - mean``, times ``invstd``, times ``w``, plus ``b``), and in the
backward ``gy * x_hat``, two reductions, ``gy * w``, two subtractions and a product. The loops
here do each stage in one kernel, channel by channel (a channel's ``N x L`` values are read
while they are in cache):

- :func:`moments`: mean, then the mean of squared deviations (two sweeps of the channel, not
  one: the one-sweep ``E[x^2] - E[x]^2`` loses digits when the mean is large against the spread);
- :func:`normalize`: ``x_hat = (x - mean) * invstd`` and ``y = x_hat * w + b`` in one sweep,
  writing both (``x_hat`` is kept for the backward); :func:`normalize_only` writes ``y`` alone,
  for inference;
- :func:`grad_sums`: ``gb = sum(gy)`` and ``gw = sum(gy * x_hat)``;
- :func:`grad_input`: ``gx = scale * (gy - mean_g - x_hat * mean_gx)``, which is the training
  gradient with ``scale = w * invstd``, ``mean_g = gb / M``, ``mean_gx = gw / M``, and the
  evaluation one (fixed statistics) with ``mean_g = mean_gx = 0``.

Sums are accumulated in float64 (as exact as NumPy's pairwise float32 sums, or better). The
engine's threads (``prange``, :mod:`.jit`) share the channels in the two reductions, each thread
summing its channels' rows where they lie, and the samples in the two elementwise passes, which
then stream through memory in order: with the channels outermost there, a row of a small image
(4x4: 64 bytes) is all a thread reads before jumping a whole sample ahead, and on one core
normalize took 30% longer over MobileNetV2's shapes (2.65 against 2.02 ms).
"""

from __future__ import annotations

from . import jit
from .jit import prange

__all__ = ["moments", "normalize", "normalize_only", "grad_sums", "grad_input"]


@jit.kernel(threaded=True)
def moments(x, mean, var):
    """``mean[c]``, ``var[c]`` (biased) of ``x[:, c, :]`` for every channel ``c``."""
    N, C, L = x.shape
    M = N * L
    for c in prange(C):
        s = 0.0
        for n in range(N):
            for i in range(L):
                s += x[n, c, i]
        m = s / M
        q = 0.0
        for n in range(N):
            for i in range(L):
                d = x[n, c, i] - m
                q += d * d
        mean[c] = m
        var[c] = q / M


@jit.kernel(threaded=True)
def normalize(x, mean, invstd, w, b, x_hat, y):
    """``x_hat = (x - mean[c]) * invstd[c]``, ``y = x_hat * w[c] + b[c]`` on every channel."""
    N, C, L = x.shape
    for n in prange(N):
        for c in range(C):
            m, s, wc, bc = mean[c], invstd[c], w[c], b[c]
            for i in range(L):
                h = (x[n, c, i] - m) * s
                x_hat[n, c, i] = h
                y[n, c, i] = h * wc + bc


@jit.kernel(threaded=True)
def normalize_only(x, mean, invstd, w, b, y):
    """``y`` of :func:`normalize` alone, by the same arithmetic, for a forward with no backward
    to come (inference): one array written, not two."""
    N, C, L = x.shape
    for n in prange(N):
        for c in range(C):
            m, s, wc, bc = mean[c], invstd[c], w[c], b[c]
            for i in range(L):
                y[n, c, i] = (x[n, c, i] - m) * s * wc + bc


@jit.kernel(threaded=True)
def grad_sums(gy, x_hat, gb, gw):
    """``gb[c] = sum(gy[:, c])``, ``gw[c] = sum(gy[:, c] * x_hat[:, c])`` on every channel."""
    N, C, L = gy.shape
    for c in prange(C):
        sb = 0.0
        sw = 0.0
        for n in range(N):
            for i in range(L):
                g = gy[n, c, i]
                sb += g
                sw += g * x_hat[n, c, i]
        gb[c] = sb
        gw[c] = sw


@jit.kernel(threaded=True)
def grad_input(gy, x_hat, scale, mean_g, mean_gx, gx):
    """``gx = scale[c] * (gy - mean_g[c] - x_hat * mean_gx[c])`` on every channel."""
    N, C, L = gy.shape
    for n in prange(N):
        for c in range(C):
            s, mg, mgx = scale[c], mean_g[c], mean_gx[c]
            for i in range(L):
                gx[n, c, i] = s * (gy[n, c, i] - mg - x_hat[n, c, i] * mgx)
