"""BatchNorm's stages on ``(N, C, *S)`` arrays by the compiled loops of :mod:`.batchnorm_kernels`.

``ops/normalization.py`` calls these where :func:`applies` (numba on, a float dtype it
compiles); otherwise it runs its NumPy code, the twin that ``tests/engine/test_batchnorm.py``
holds these equal to. Every array is seen as ``(N, C, L)`` with ``L`` the product of the
spatial sizes; the per-channel results are 1-D of length ``C``. The kernels share the channels
between the engine's threads.
"""

from __future__ import annotations

import numpy as np

from . import batchnorm_kernels, jit

__all__ = ["applies", "moments", "normalize", "backward"]



def applies(x: np.ndarray) -> bool:
    """Whether the compiled loops take ``x``: numba active, float32/64, ``(N, C, ...)``."""
    return jit.active() and x.dtype in jit.FLOAT_TYPES and x.ndim >= 2 and x.size > 0


def _view3(a: np.ndarray) -> np.ndarray:
    """``a`` as a contiguous ``(N, C, L)`` array (a copy only when ``a`` is not contiguous)."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance of each channel of ``x`` over the batch and space, ``(C,)``
    each, in ``x``'s dtype."""
    x3 = _view3(x)
    C = x3.shape[1]
    mean, var = np.empty(C), np.empty(C)
    batchnorm_kernels.moments(x3, mean, var)
    return mean.astype(x.dtype), var.astype(x.dtype)


def normalize(x: np.ndarray, mean: np.ndarray, invstd: np.ndarray, w: np.ndarray | None,
              b: np.ndarray | None, keep_x_hat: bool = True
              ) -> tuple[np.ndarray | None, np.ndarray]:
    """``x_hat = (x - mean) * invstd`` and ``y = x_hat * w + b`` (``w``, ``b``: 1 and 0 when
    None), both of ``x``'s shape; ``mean``, ``invstd``, ``w``, ``b`` hold ``C`` numbers each.
    Without ``keep_x_hat`` (no backward to come) only ``y`` is written, and ``x_hat`` is None."""
    x3 = _view3(x)
    C = x3.shape[1]
    w = np.ones(C, x.dtype) if w is None else w
    b = np.zeros(C, x.dtype) if b is None else b
    per_channel = _channel_arrays(x.dtype, mean, invstd, w, b)
    y = np.empty_like(x3)
    if not keep_x_hat:
        batchnorm_kernels.normalize_only(x3, *per_channel, y)
        return None, y.reshape(x.shape)
    x_hat = np.empty_like(x3)
    batchnorm_kernels.normalize(x3, *per_channel, x_hat, y)
    return x_hat.reshape(x.shape), y.reshape(x.shape)


def backward(gy: np.ndarray, x_hat: np.ndarray, invstd: np.ndarray, w: np.ndarray | None,
             train: bool, need_x: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(gx, gw, gb)`` of a BatchNorm with ``x_hat`` saved by :func:`normalize`: ``gx`` with
    the two correction terms of the batch's own statistics when ``train``, ``gx = gy * w *
    invstd`` otherwise (None unless ``need_x``); ``gw = sum(gy * x_hat)``, ``gb = sum(gy)``
    per channel, float64 of shape ``(C,)``."""
    gy3, xh3 = _view3(gy), _view3(x_hat)
    N, C, L = gy3.shape
    gb, gw = np.empty(C), np.empty(C)
    batchnorm_kernels.grad_sums(gy3, xh3, gb, gw)
    gx = None
    if need_x:
        scale = invstd.reshape(C) if w is None else w.reshape(C) * invstd.reshape(C)
        M = N * L
        mean_g, mean_gx = (gb / M, gw / M) if train else (np.zeros(C), np.zeros(C))
        gx = np.empty_like(gy3)
        batchnorm_kernels.grad_input(gy3, xh3, *_channel_arrays(gy.dtype, scale, mean_g, mean_gx),
                                     gx)
        gx = gx.reshape(gy.shape)
    return gx, gw, gb


def _channel_arrays(dtype: np.dtype, *arrays: np.ndarray) -> list[np.ndarray]:
    """Each per-channel array flat, contiguous, in the data's dtype: the kernels' inner loops
    then mix no types and vectorize."""
    return [np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in arrays]
