"""Max pooling and its backward, compiled (``pooling_kernels.py``) and NumPy (``jit.disabled``),
equal to the plain loops of ``reference_pooling.py``: values and indices exactly, NaN, -inf and
ties included, in 1-3 dims, float64, float32 and integers, on one thread and split in chunks."""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convlab.engine import jit, parallel
from convlab.engine import pooling as engine
from convlab.engine import reference_pooling as reference


def needs_kernels():
    pytest.importorskip("numba")
    if not jit.active():
        pytest.skip("compiled kernels turned off (CONVLAB_JIT=0)")


@contextmanager
def every_row_compiled():
    """The compiled kernels for rows of any length (the engine keeps short rows for NumPy)."""
    saved = engine.ROWS_FROM, engine.VALUES_ROWS_FROM
    engine.ROWS_FROM = engine.VALUES_ROWS_FROM = 1
    try:
        yield
    finally:
        engine.ROWS_FROM, engine.VALUES_ROWS_FROM = saved


@pytest.fixture(params=["compiled", "numpy"], scope="module")
def path(request):
    """Run the test body on one path: the numba kernels, or NumPy with the kernels off."""
    if request.param == "compiled":
        needs_kernels()
        return every_row_compiled
    return jit.disabled


@st.composite
def windows(draw):
    """A pooling window in 1-3 spatial dims that fits its input: (I, K, S, P, D, ceil_mode)."""
    nd = draw(st.integers(1, 3))
    K = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    S = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    P = tuple(draw(st.integers(0, k // 2)) for k in K)
    D = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    I = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
              for k, p, d in zip(K, P, D))
    ceil_mode = draw(st.booleans())
    assume(all(o >= 1 for o in engine.pool_output_size(I, K, S, P, D, ceil_mode)))
    return I, K, S, P, D, ceil_mode


def special_input(shape, seed, dtype):
    """Rounded normals (ties in most windows), with some NaN, -inf and +inf for floats."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal(shape) * 2)
    if np.dtype(dtype).kind == "f":
        for value in (np.nan, -np.inf, np.inf):
            x[rng.random(shape) < 0.05] = value
    return x.astype(dtype)


def check_max_pool(x, K, S, P, D, ceil_mode):
    y, indices = engine.max_pool(x, K, S, P, D, ceil_mode)
    y_ref, indices_ref = reference.max_pool(x, K, S, P, D, ceil_mode)
    assert y.dtype == x.dtype and indices.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref)  # NaN equals NaN here
    np.testing.assert_array_equal(indices, indices_ref)
    values_only, none = engine.max_pool(x, K, S, P, D, ceil_mode, return_indices=False)
    assert none is None
    np.testing.assert_array_equal(values_only, y_ref)
    return indices


@settings(max_examples=50, deadline=None, derandomize=True)
@given(window=windows(), seed=st.integers(0, 2**16),
       dtype=st.sampled_from(["float64", "float32", "int32"]))
def test_max_pool_and_backward_equal_the_reference(path, window, seed, dtype):
    I, K, S, P, D, ceil_mode = window
    x = special_input((2, 3) + I, seed, dtype)
    with path():
        indices = check_max_pool(x, K, S, P, D, ceil_mode)
        gy = np.random.default_rng(seed + 1).standard_normal(indices.shape)
        gx = engine.scatter_add_planes(gy, indices, I)
    np.testing.assert_allclose(gx, reference.max_pool_backward(gy, indices, x.shape, len(I)),
                               rtol=1e-12, atol=1e-12)


def test_nan_wins_ties_keep_the_first_and_minus_inf_windows(path):
    """PyTorch's rule ``v > best or isnan(v)`` on hand-made rows: the last NaN of a window wins,
    a tie keeps the first maximum, an all -inf window reports its first tap inside the input."""
    x = np.array([[1.0, np.nan, 3.0, np.nan, 2.0, 2.0, -np.inf, -np.inf, 5.0]])
    with path():
        y, indices = engine.max_pool(x, (3,), (1,), (1,), (1,), False)
    y_ref, indices_ref = reference.max_pool(x, (3,), (1,), (1,), (1,), False)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)
    assert indices.tolist() == [[1, 1, 3, 3, 3, 4, 5, 8, 8]]


def test_a_window_wholly_in_the_padding(path):
    """With dilation a window can miss the input: -inf, an index past the plane, no gradient."""
    x = np.array([[0.0, 1.0]])
    args = ((2,), (1,), (1,), (3,), False)  # the taps -1 and 2 miss the input
    with path():
        y, indices = engine.max_pool(x, *args)
        gx = engine.scatter_add_planes(np.ones_like(y), indices, (2,))
    assert y.tolist() == [[-np.inf]] and indices.tolist() == [[2]]  # as the reference says
    np.testing.assert_array_equal(gx, reference.max_pool_backward(np.ones_like(y), indices,
                                                                  x.shape, 1))


@pytest.mark.parametrize("shape, k", [((64, 16, 8, 8), 2), ((64, 32, 4, 4), 2),
                                      ((2, 3, 10, 11), 3), ((2, 3, 9, 9), 3)])
def test_windows_that_tile_the_input(path, shape, k):
    """kernel = stride, no padding: the digits CNN's 2x2 pooling (float32), at every training
    step; 3x3 with an unread tail. They run by max_pool_tiles."""
    x = special_input(shape, 3, "float32")
    assert engine._tiles(shape[2:], (shape[2] // k, shape[3] // k), (k, k), (k, k), (0, 0),
                         (1, 1))
    with path():
        indices = check_max_pool(x, (k, k), (k, k), (0, 0), (1, 1), False)
        gy = np.ones(indices.shape, dtype=np.float32)
        gx = engine.scatter_add_planes(gy, indices, shape[2:])
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(gx, reference.max_pool_backward(gy, indices, shape, 2))


def test_long_rows_run_compiled_short_ones_by_numpy():
    """Without the tests' override, rows of ROWS_FROM outputs or more take the row loop."""
    needs_kernels()
    for width in (2 * engine.ROWS_FROM - 2, 2 * engine.ROWS_FROM):
        x = special_input((1, 2, 3, width), 8, "float64")
        check_max_pool(x, (3, 3), (2, 2), (1, 1), (1, 1), False)


@pytest.mark.parametrize("workers", [1, 2])
def test_planes_on_threads_and_a_strided_input_match_numpy(monkeypatch, workers):
    """The planes shared between the threads (or not), the input not contiguous: the compiled
    path gives the NumPy path's values, indices and gradient (float32)."""
    needs_kernels()
    monkeypatch.setattr(parallel, "WORKERS", workers)
    x = special_input((4, 8, 256, 130), 5, "float32")[:, :, :, 1:-1]  # 4 MB, strided rows
    args = ((3, 3), (2, 2), (1, 1), (1, 1), False)
    y, indices = engine.max_pool(x, *args)
    gy = np.random.default_rng(6).standard_normal(y.shape).astype(np.float32)
    gx = engine.scatter_add_planes(gy, indices, x.shape[2:])
    with jit.disabled():
        y_np, indices_np = engine.max_pool(x, *args)
        gx_np = engine.scatter_add_planes(gy, indices_np, x.shape[2:])
    np.testing.assert_array_equal(y, y_np)
    np.testing.assert_array_equal(indices, indices_np)
    np.testing.assert_array_equal(gx, gx_np)


@pytest.mark.parametrize("K, S, P, D", [((5, 7), (1, 2), (2, 3), (1, 1)),
                                        ((6, 4), (3, 1), (1, 2), (2, 1)),
                                        ((2, 5, 4), (1, 2, 3), (1, 0, 2), (1, 2, 1))])
def test_values_alone_of_wide_windows(path, K, S, P, D):
    """Windows of more than three rows and taps (the values-only kernel combines them three,
    then two at a time), with padding, strides and dilations, against the reference's values."""
    I = tuple(d * (k - 1) + 4 for k, d in zip(K, D))
    x = special_input((2, 3) + I, 11, "float32")
    with path():
        y, none = engine.max_pool(x, K, S, P, D, True, return_indices=False)
    assert none is None and y.dtype == x.dtype
    np.testing.assert_array_equal(y, reference.max_pool(x, K, S, P, D, True)[0])


@pytest.mark.parametrize("workers", [1, 2])
def test_values_alone_on_threads_and_of_a_strided_input(monkeypatch, workers):
    """The values-only kernel with the planes shared between the threads (or not), the input
    not contiguous, int8 and float64: the NumPy path's values."""
    needs_kernels()
    monkeypatch.setattr(parallel, "WORKERS", workers)
    for dtype in ("float64", "int8"):
        x = special_input((4, 8, 40, 34), 12, dtype)[:, :, :, 1:-1]
        args = ((3, 3), (2, 2), (1, 1), (1, 1), True)
        y, _ = engine.max_pool(x, *args, return_indices=False)
        with jit.disabled():
            y_np, _ = engine.max_pool(x, *args, return_indices=False)
        assert y.dtype == x.dtype
        np.testing.assert_array_equal(y, y_np)


def test_float16_and_unbatched_inputs_take_the_numpy_path_or_the_kernel_alike(path):
    x16 = special_input((3, 7, 6), 7, "float16")
    x = special_input((3, 7, 6), 7, "float64")
    with path():
        for a in (x16, x):
            check_max_pool(a, (2, 3), (1, 2), (1, 1), (1, 1), True)


@pytest.mark.parametrize("shape, k", [((4, 8, 12, 12), 2), ((2, 3, 9, 11), 3), ((2, 5, 7), 2),
                                      ((2, 3, 4, 6, 6), 2)])
@pytest.mark.parametrize("divisor", [None, 5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_average_pooling_of_windows_that_tile_the_input(path, shape, k, divisor, dtype):
    """The tiling loop of average pooling (2-D 2x2, 3x3 with an unread tail; 1-D and 3-D go
    by NumPy), forward against the reference, backward its adjoint, in the input's dtype."""
    nd = len(shape) - 2
    x = special_input(shape, 9, dtype)
    x[~np.isfinite(x)] = 0.5
    args = ((k,) * nd, (k,) * nd, (0,) * nd, False, True, divisor)
    with path():
        y = engine.avg_pool(x, *args)
        gy = np.random.default_rng(10).standard_normal(y.shape).astype(dtype)
        gx = engine.avg_pool_backward(gy, x.shape, *args)
    assert y.dtype == gx.dtype == np.dtype(dtype) and gx.shape == x.shape
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(y, reference.avg_pool(x, *args), rtol=tol, atol=tol)
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, gx), rtol=tol)


@pytest.mark.parametrize("shape", [(0, 3, 64, 70), (2, 0, 64, 70)])
def test_empty_batches(path, shape):
    x = np.zeros(shape, dtype=np.float32)
    with path():
        for k, s, p in ((2, 2, 0), (3, 2, 1)):
            y, indices = engine.max_pool(x, (k, k), (s, s), (p, p), (1, 1), False)
            gx = engine.scatter_add_planes(y, indices, shape[2:])
            assert y.shape == indices.shape == shape[:2] + (64 // s, 70 // s)
            assert gx.shape == shape
        y = engine.avg_pool(x, (2, 2), (2, 2), (0, 0), False, True, None)
        assert engine.avg_pool_backward(y, shape, (2, 2), (2, 2), (0, 0), False, True,
                                        None).shape == shape


@pytest.mark.parametrize("shape, K, S, P, ceil_mode", [
    ((1, 6, 11, 11), (3, 3), (2, 2), (0, 0), True),  # SqueezeNet's pools
    ((2, 5, 2, 40), (2, 2), (2, 2), (0, 0), False),  # rapidocr's: windows that tile the input
    ((2, 3, 4, 8), (2, 2), (2, 2), (0, 0), False),  # the same with short rows: NumPy's path
    ((3, 17), (3,), (1,), (1,), False),  # unbatched, 1-D
])
def test_max_pool_plan_gives_max_pools_values(shape, K, S, P, ceil_mode):
    """The plan that inference keeps per shape: max_pool's values (the reference's), the same
    function for the same shape, none with the kernels off."""
    needs_kernels()
    x = special_input(shape, 13, "float32")
    D = (1,) * len(K)
    run = engine.max_pool_plan(x.shape, x.dtype, K, S, P, D, ceil_mode)
    assert engine.max_pool_plan(x.shape, x.dtype, K, S, P, D, ceil_mode) is run
    np.testing.assert_array_equal(run(x), reference.max_pool(x, K, S, P, D, ceil_mode)[0])
    with jit.disabled():
        assert engine.max_pool_plan(x.shape, x.dtype, K, S, P, D, ceil_mode) is None
