"""engine/blas.py: dot in compiled code equals NumPy's product, through NumPy's own BLAS."""

import numpy as np
import pytest

from convlab.engine import blas, jit

numba = pytest.importorskip("numba")


@jit.kernel
def _dot(a, b, out):
    blas.dot(a, b, out)


@jit.kernel
def _dot_add(a, b, out):
    blas.dot_add(a, b, out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "row slices", "one row", "empty", "no inner",
                                  "column stride", "broadcast rows", "a transposed",
                                  "b transposed", "both transposed", "out transposed"])
def test_dot_equals_numpy(dtype, case):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 5)).astype(dtype), rng.standard_normal((5, 6)).astype(dtype)
    if case == "row slices":
        a = rng.standard_normal((9, 8)).astype(dtype)[1:8, 2:7]  # rows 8 apart, 5 long
    elif case == "one row":
        a = a[2:3]
    elif case == "empty":
        a = a[:0]
    elif case == "no inner":
        a, b = a[:, :0], b[:0]
    elif case == "column stride":
        a = rng.standard_normal((7, 10)).astype(dtype)[:, ::2]
    elif case == "broadcast rows":
        a = np.broadcast_to(a[:1], (7, 5))
    elif case in ("a transposed", "both transposed"):
        a = np.ascontiguousarray(a.T).T
    if case in ("b transposed", "both transposed"):
        b = rng.standard_normal((9, 5)).astype(dtype)[2:8].T  # a column-major slice
    out = np.full((len(a), 6), np.nan, dtype)
    if case == "out transposed":
        out = np.full((6, len(a)), np.nan, dtype).T
    _dot(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12)
    start = rng.standard_normal(out.shape).astype(dtype)
    out[...] = start
    _dot_add(a, b, out)
    np.testing.assert_allclose(out, start + a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_numpys_openblas_is_found_here():
    """On a NumPy wheel (this project's CI), NumPy's OpenBLAS and its gemm are found."""
    found = blas.numpy_gemm()
    if found is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS with the C interface")
    path, name, bits = found
    assert "numpy" in path and "gemm" in name and bits in (32, 64)
