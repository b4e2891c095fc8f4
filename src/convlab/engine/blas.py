"""The BLAS that NumPy calls, reached from compiled code: ``dot(a, b, out)`` inside a kernel.

numba compiles ``np.dot`` inside a kernel to a call of the BLAS through SciPy
(``scipy.linalg.cython_blas``), and SciPy's OpenBLAS may be another build than NumPy's own:
here SciPy's is 0.3.30 and NumPy's 0.3.31, and the products inside the engine's kernels ran
15-20% slower than the same products by ``np.matmul`` (one core, 16 products of (128, 577) @
(577, 256): 8.3-9.7 ms against 7.2-8.5 ms; (64, 147) @ (147, 12544): 3.75-3.9 against 3.0).

This module finds NumPy's OpenBLAS among the loaded BLAS libraries (``threadpoolctl`` lists
them), makes its C interface's ``gemm`` known to numba's compiler by name (so the machine code
still caches on disk), and gives kernels :func:`dot`: ``out = a @ b`` for 2-D float32 or float64
arrays, row-major or transposed views, and :func:`dot_add`: ``out += a @ b``, the BLAS's own
accumulation (a sum of products needs no buffer for each product, nor a pass to add it). Without such a library (NumPy built on another BLAS),
:func:`dot` is numba's ``np.dot``. Like every BLAS the engine calls, it runs one thread
(:func:`.parallel.start`).
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np

__all__ = ["dot", "dot_add", "numpy_gemm", "reads_in_place", "register"]

# The C interface's names in the OpenBLAS wheels NumPy ships (with 64-bit integers, "64_"), and
# in a plain OpenBLAS; with the integer width each takes.
_SYMBOLS = (("scipy_cblas_{}gemm64_", 64), ("cblas_{}gemm64_", 64), ("scipy_cblas_{}gemm", 32),
            ("cblas_{}gemm", 32))
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS_ORDER and CBLAS_TRANSPOSE


def numpy_gemm() -> tuple[str, str, int] | None:
    """``(library path, gemm name with {} for s/d, integer bits)`` of the OpenBLAS that NumPy
    loaded, or None when NumPy's BLAS is not an OpenBLAS with the C interface."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    for info in threadpool_info():
        path = info.get("filepath", "")
        if info.get("internal_api") != "openblas" or not path.startswith(numpy_dir) or (
                "numpy" not in os.path.relpath(path, numpy_dir).split(os.sep)[0]):
            continue
        library = ctypes.CDLL(path)
        for name, bits in _SYMBOLS:
            if hasattr(library, name.format("s")) and hasattr(library, name.format("d")):
                return path, name, bits
    return None


def dot(a, b, out):
    """``out[...] = a @ b`` (2-D arrays of one float dtype); in compiled code, NumPy's BLAS."""
    np.dot(a, b, out)


def dot_add(a, b, out):
    """``out += a @ b`` (2-D arrays of one float dtype); in compiled code, NumPy's BLAS."""
    out += a @ b


def reads_in_place(m: np.ndarray) -> bool:
    """Whether :func:`dot`'s BLAS call reads the matrices of ``m`` (its last two axes) where
    they lie, the test the compiled :func:`dot` makes: row-major, or column-major (a transposed
    view), rows or columns at least a row or column apart."""
    (rows, cols), (row_step, col_step), size = m.shape[-2:], m.strides[-2:], m.itemsize
    return ((col_step == size and row_step >= cols * size)
            or (row_step == size and col_step >= rows * size))


@functools.cache
def register() -> None:
    """Teach numba :func:`dot`: the gemm of NumPy's OpenBLAS where :func:`numpy_gemm` finds it,
    ``np.dot`` otherwise. :mod:`.jit` calls it before the kernels compile (or load from the disk
    cache, whose machine code calls the gemm by name)."""
    import llvmlite.binding as llvm
    from numba import njit, types
    from numba.extending import overload

    loops = njit(_loops)

    found = numpy_gemm()
    gemms = {}
    if found is not None:
        path, name, bits = found
        llvm.load_library_permanently(path)
        integer = types.int64 if bits == 64 else types.int32
        for letter, real in (("s", types.float32), ("d", types.float64)):
            pointer = types.CPointer(real)
            gemms[real] = types.ExternalFunction(name.format(letter), types.void(
                types.int32, types.int32, types.int32, integer, integer, integer, real, pointer,
                integer, pointer, integer, real, pointer, integer))

    def implementation(accumulate: bool):
        """The compiled :func:`dot` (``out = a @ b``) or :func:`dot_add` (``out += a @ b``)."""

        def typed(a, b, out):
            gemm = gemms.get(a.dtype)
            one = a.dtype(1)
            beta = one if accumulate else a.dtype(0)
            if gemm is None or not (a.dtype == b.dtype == out.dtype):
                if accumulate:
                    return lambda a, b, out: loops(a, b, out, one)
                return lambda a, b, out: np.dot(a, b, out)

            def call(a, b, out):
                M, K = a.shape
                N = b.shape[1]
                size = a.itemsize
                # The BLAS reads a matrix row-major (elements of a row side by side, rows at
                # least a row apart; a single row's stride is free) or, flagged "transposed",
                # column-major (a transposed view); it writes a row-major output.
                ta, lda, tb, ldb = _NO_TRANS, 0, _NO_TRANS, 0
                if a.strides[1] == size and (M == 1 or a.strides[0] >= K * size):
                    lda = max(a.strides[0] // size, K, 1)
                elif a.strides[0] == size and (K == 1 or a.strides[1] >= M * size):
                    ta, lda = _TRANS, max(a.strides[1] // size, M, 1)
                if b.strides[1] == size and (K == 1 or b.strides[0] >= N * size):
                    ldb = max(b.strides[0] // size, N, 1)
                elif b.strides[0] == size and (N == 1 or b.strides[1] >= K * size):
                    tb, ldb = _TRANS, max(b.strides[1] // size, K, 1)
                row_major_out = out.strides[1] == size and (M == 1 or out.strides[0] >= N * size)
                if lda and ldb and row_major_out and K > 0:
                    gemm(_ROW_MAJOR, ta, tb, M, N, K, one, a.ctypes, lda, b.ctypes, ldb, beta,
                         out.ctypes, max(out.strides[0] // size, N, 1))
                    return
                # Anything else (no caller here passes it): the plain loops. Copies into
                # contiguous arrays would do it faster, but they cost numba seconds of compiling
                # in every kernel that calls dot.
                loops(a, b, out, beta)

            return call

        return typed

    overload(dot)(implementation(accumulate=False))
    overload(dot_add)(implementation(accumulate=True))


def _loops(a, b, out, beta):
    """``out = a @ b + beta * out`` (beta 0 or 1; with 0, ``out`` is not read), plain loops."""
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            total = out[i, j] if beta else beta
            for k in range(a.shape[1]):
                total += a[i, k] * b[k, j]
            out[i, j] = total
