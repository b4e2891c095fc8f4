"""Matrix products on the engine's threads, for the compiled paths.

A batch of products ``out[i] = a[i] @ b[i]`` is cut into tasks of whole products, or, when the
batch holds fewer products than there are threads, of blocks of rows; each task is one call of
the one-thread BLAS (:func:`.blas.dot` inside a threaded kernel, :mod:`.jit`). Without the compiled
kernels, :func:`.parallel.matmul` shares the rows between Python's threads instead.
"""

from __future__ import annotations

import numpy as np

from . import blas, jit, parallel
from .jit import kernel, prange

__all__ = ["matmul"]

# Below this many multiply-adds a product is not split into row blocks.
MIN_SPLIT = 1 << 18


@kernel(threaded=True)
def _products(a, b, out, rows):
    """``out[i, r0:r1] = a[i, r0:r1] @ b[i or 0]`` for every product ``i`` and every block of
    ``rows`` rows, one task per block: ``a (B, M, K)``, ``b (B or 1, K, N)``, ``out (B, M, N)``."""
    B, M = out.shape[0], out.shape[1]
    blocks = (M + rows - 1) // rows
    for task in prange(B * blocks):
        i = task // blocks
        r0 = task % blocks * rows
        r1 = min(M, r0 + rows)
        blas.dot(a[i, r0:r1], b[i if b.shape[0] > 1 else 0], out[i, r0:r1])


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` for ``a (..., M, K)`` and ``b (..., K, N)`` of one float
    dtype, on all the engine's threads; ``b``'s leading axes broadcast against ``a``'s, or are
    absent.

    >>> a, b = np.arange(24.0).reshape(2, 3, 4), np.ones((4, 2))
    >>> bool((matmul(a, b) == a @ b).all())
    True
    """
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    if out is None:
        out = np.empty(lead + (M, N), dtype=np.result_type(a, b))
    if not jit.active() or out.dtype not in jit.FLOAT_TYPES or 0 in out.shape + (K,):
        return parallel.matmul(a, b, out=out)
    a3 = np.ascontiguousarray(np.broadcast_to(a, lead + (M, K))).reshape(-1, M, K)
    if b.ndim == 3 and len(b) == len(a3) and blas.reads_in_place(b):
        b3 = b  # row-major or transposed matrices: the BLAS reads them where they are
    else:
        b3 = (np.ascontiguousarray(b).reshape(1, K, N) if b.ndim == 2
              else np.ascontiguousarray(np.broadcast_to(b, lead + (K, N))).reshape(-1, K, N))
    direct = out.flags.c_contiguous  # else the products go to a new array, then into out
    o3 = out.reshape(-1, M, N) if direct else np.empty((len(a3), M, N), out.dtype)
    rows = M
    workers = parallel.threads()
    if len(a3) < workers and M * K * N >= MIN_SPLIT:
        rows = -(-M // (workers // len(a3) if len(a3) else workers))
    _products(a3.astype(out.dtype, copy=False), b3.astype(out.dtype, copy=False), o3, rows)
    if not direct:
        out[...] = o3.reshape(out.shape)
    return out
