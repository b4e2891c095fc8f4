"""engine/gemm.py: products on the engine's threads equal NumPy's, on both paths."""

import numpy as np
import pytest

from convlab.engine import gemm, parallel

from jit_paths import PATHS, engine_path


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("a_shape, b_shape", [
    ((3, 64, 70), (70, 50)),           # b shared by every product
    ((3, 64, 70), (3, 70, 50)),        # a batch of pairs
    ((2, 3, 8, 5), (3, 5, 4)),         # b broadcast over the leading axis
    ((1, 300, 600), (600, 500)),       # one product, large: its rows split
    ((200, 300), (300, 100)),          # plain matrices
    ((4, 1, 1), (1, 1)),
])
def test_equals_numpy(monkeypatch, path, workers, a_shape, b_shape):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    with engine_path(path):
        np.testing.assert_allclose(gemm.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
        f32 = gemm.matmul(a.astype(np.float32), b.astype(np.float32))
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, a @ b, rtol=1e-4, atol=1e-4)


def test_into_a_non_contiguous_out():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 6, 5)), rng.standard_normal((3, 5, 4))
    out = np.zeros((3, 4, 6)).transpose(0, 2, 1)
    assert gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_empty_products():
    a, b = np.ones((2, 0, 3)), np.ones((3, 4))
    assert gemm.matmul(a, b).shape == (2, 0, 4)
    np.testing.assert_array_equal(gemm.matmul(np.ones((2, 3, 0)), np.ones((0, 4))), 0)


@pytest.mark.parametrize("layout", ["transposed", "row slices", "column steps"])
def test_b_read_where_it_lies(layout):
    """A batch of transposed or row-sliced matrices goes to the BLAS uncopied; one it cannot
    read (a step between columns) is copied first; all equal NumPy's product."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 6, 5)).astype(np.float32)
    if layout == "transposed":
        b = rng.standard_normal((3, 4, 5)).astype(np.float32).transpose(0, 2, 1)
    elif layout == "row slices":
        b = rng.standard_normal((3, 5, 9)).astype(np.float32)[:, :, 2:6]
    else:
        b = rng.standard_normal((3, 5, 8)).astype(np.float32)[:, :, ::2]
    np.testing.assert_allclose(gemm.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
