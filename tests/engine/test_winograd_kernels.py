"""The compiled Winograd transforms (engine/winograd_kernels.py) equal the NumPy path, and
Winograd equals ``reference.py`` both with the kernels and without them."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab.engine import jit, reference, winograd
from convlab.engine.geometry import conv_geometry
from engine.test_fast_paths import check, geometries

numba = pytest.importorskip("numba")

from convlab.engine import winograd_kernels as wk  # noqa: E402  (after the skip)

needs_jit = pytest.mark.skipif(not jit.ENABLED, reason="compiled kernels turned off")


@needs_jit
def test_one_dimensional_transforms_equal_the_matrices():
    """``_bt``, ``_at`` and ``_gt`` are Bᵀ, Aᵀ of F(4, 3) and G of F(3, 4), written out."""
    rng = np.random.default_rng(0)
    AT, _, BT = winograd.matrices(4, 3)
    G34 = winograd.matrices(3, 4)[1]
    for fn, matrix in [(wk._bt, BT), (wk._at, AT), (wk._gt, G34)]:
        v = rng.standard_normal(matrix.shape[1])
        np.testing.assert_allclose(fn(*v), matrix @ v, atol=1e-13)


def _numpy_tiles(x, pad, grid, alpha, which, m, r):
    """NumPy's tiles (``alpha`` wide, 4 apart) under transform ``which`` of F(m, r)."""
    D = winograd._tiles(x, pad, grid, 4, alpha)
    return winograd._transform_in(which, m, r, D, 2).reshape(36, x.shape[1], -1)


# (shape, padding): padding on one side, cropping (negative), images smaller than a tile
SHAPES = [((2, 3, 9, 7), (1, 2)), ((1, 2, 5, 6), (-1, 0)), ((2, 2, 12, 11), (3, -2)),
          ((1, 1, 2, 3), (2, 2))]


@needs_jit
@pytest.mark.parametrize("shape, pad", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_input_tiles_equal_numpy(shape, pad, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    grid = tuple(max(1, -(-(i + 2 * p - 2) // 4)) for i, p in zip(shape[2:], pad))
    V = np.full((36, shape[1], shape[0] * grid[0] * grid[1]), np.nan, dtype)
    wk.input_tiles(x, *pad, *grid, V, 0, shape[1])
    expected = _numpy_tiles(x.astype(np.float64), pad, grid, 6, "BT", 4, 3)
    np.testing.assert_allclose(V, expected, atol=1e-12 if dtype == np.float64 else 1e-4)
    # a strided view (a dilated convolution's phase) is read where it lies
    xs = x[:, :, ::2, 1::2]
    wk.input_tiles(xs, *pad, *grid, V, 0, shape[1])
    expected = _numpy_tiles(np.ascontiguousarray(xs, np.float64), pad, grid, 6, "BT", 4, 3)
    np.testing.assert_allclose(V, expected, atol=1e-12 if dtype == np.float64 else 1e-4)


@needs_jit
@pytest.mark.parametrize("shape", [(2, 3, 9, 7), (1, 2, 4, 8), (1, 1, 1, 2)])
def test_gy_tiles_equal_numpy(shape):
    gy = np.random.default_rng(2).standard_normal(shape)
    grid = tuple(-(-o // 4) for o in shape[2:])
    Z = np.full((36, shape[1], shape[0] * grid[0] * grid[1]), np.nan)
    wk.gy_tiles(gy, *grid, Z, 0, shape[1])
    np.testing.assert_allclose(Z, _numpy_tiles(gy, (0, 0), grid, 4, "G", 3, 4), atol=1e-12)


@needs_jit
@pytest.mark.parametrize("kernel", ["output_tiles", "output_tiles_small"])
def test_output_tiles_crop_and_add_the_bias(kernel):
    rng = np.random.default_rng(3)
    n, K, OH, OW = 2, 3, 6, 9
    grid = (2, 3)
    Mt = rng.standard_normal((36, K, n * 6))
    b = rng.standard_normal(K)
    y = np.full((n, K, OH, OW), np.nan)
    rows = wk.tile_rows(Mt, 36, K, n * 6)  # the kernel reads the rows as the products leave them
    rows[:, :K * n * 6] = Mt.reshape(36, -1)
    getattr(wk, kernel)(rows, b, *grid, y, 0, K)
    # (6, 6, K, n, TH, TW) -> (4, 4, K, n, TH, TW) -> (n, K, TH, 4, TW, 4)
    tiles = winograd._transform("AT", 4, 3, Mt.reshape(6, 6, K, n, *grid), 2)
    full = tiles.transpose(3, 2, 4, 0, 5, 1).reshape(n, K, 8, 12)
    expected = full[:, :, :OH, :OW] + b.reshape(-1, 1, 1)
    np.testing.assert_allclose(y, expected, atol=1e-12)
    y = np.full((n, K, OH, OW), np.nan)  # the channels in two shares, as two threads take them
    getattr(wk, kernel)(rows, b, *grid, y, 0, 1)
    assert np.isnan(y[:, 1:]).all()
    getattr(wk, kernel)(rows, b, *grid, y, 1, K)
    np.testing.assert_allclose(y, expected, atol=1e-12)


@needs_jit
@pytest.mark.parametrize("shape, pad", SHAPES)
def test_row_kernels_equal_the_whole_transforms(shape, pad):
    """Row ``a`` of :func:`input_tiles_row` and :func:`gy_tiles_row` is rows ``6 a .. 6 a + 5``
    of the whole transforms (padding, cropping, a strided view), and the six rows of
    :func:`output_tiles_row` (row 0 writes, the others add) make :func:`output_tiles`."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape)[:, :, ::2, 1::2] if shape[2] > 6 else rng.standard_normal(shape)
    n, C = x.shape[:2]
    grid = tuple(max(1, -(-(i + 2 * p - 2) // 4)) for i, p in zip(x.shape[2:], pad))
    P = n * grid[0] * grid[1]
    V = np.full((36, C, P), np.nan)
    wk.input_tiles(x, *pad, *grid, V, 0, C)
    gy_grid = tuple(-(-o // 4) for o in x.shape[2:])
    Z = np.full((36, C, n * gy_grid[0] * gy_grid[1]), np.nan)
    wk.gy_tiles(x, *gy_grid, Z, 0, C)
    b = rng.standard_normal(C)
    y, y_rows = (np.full((n, C, 7, 5), np.nan) for _ in range(2))
    wk.output_tiles(V.reshape(36, -1), b, *grid, y[:, :, :4 * grid[0], :4 * grid[1]], 0, C)
    for a in range(6):
        row = np.full((6, C, P), np.nan)
        wk.input_tiles_row(x, *pad, *grid, a, row, 0, C)
        np.testing.assert_allclose(row, V[6 * a:6 * a + 6], atol=1e-12)
        row = np.full((6, C, Z.shape[2]), np.nan)
        wk.gy_tiles_row(x, *gy_grid, a, row, 0, C)
        np.testing.assert_allclose(row, Z[6 * a:6 * a + 6], atol=1e-12)
        wk.output_tiles_row(np.ascontiguousarray(V[6 * a:6 * a + 6]), b, *grid, a,
                            y_rows[:, :, :4 * grid[0], :4 * grid[1]], 0, C)
    np.testing.assert_allclose(y_rows, y, atol=1e-11)  # the NaN past the crop left alone


LAYERS = [
    conv_geometry("c", 2, (2, 8, 14, 14), (8, 8, 3, 3), padding=1),
    conv_geometry("c", 2, (3, 16, 7, 9), (16, 4, 3, 3), padding=1, groups=4),
    conv_geometry("c", 2, (1, 4, 9, 9), (5, 4, 3, 3), padding=((0, 2), (3, 1))),
    conv_geometry("c", 2, (2, 4, 12, 11), (4, 4, 3, 3), padding=2, dilation=2),
    conv_geometry("c", 2, (2, 3, 13, 10), (2, 3, 3, 3), padding=((4, 0), (1, 3)),
                  dilation=(3, 2)),
    conv_geometry("c", 2, (1, 2, 3, 3), (2, 2, 3, 3)),  # a single output
    # the one output row reads only padding: the input gradient has no phase to compute
    conv_geometry("c", 2, (1, 2, 1, 5), (2, 2, 3, 3), padding=((4, 2), (1, 1)), dilation=(3, 1)),
    conv_geometry("c", 3, (2, 4, 6, 9, 7), (4, 4, 3, 3, 3), padding=1),
    conv_geometry("c", 3, (1, 4, 5, 6, 9), (6, 2, 3, 3, 3), padding=((0, 2), (2, 1), (1, 0)),
                  groups=2),
    conv_geometry("c", 3, (2, 2, 7, 6, 8), (2, 2, 3, 3, 3), padding=2, dilation=(2, 1, 3)),
]


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("G", LAYERS, ids=range(len(LAYERS)))
def test_winograd_equals_reference_both_paths(G, compiled):
    if compiled and not jit.ENABLED:
        pytest.skip("compiled kernels turned off")
    if compiled:
        check(winograd, G, N=2)
    else:
        with jit.disabled():
            check(winograd, G, N=2)


@needs_jit
def test_bias_both_paths():
    G = LAYERS[3]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, 3, 3))
    b = rng.standard_normal(G.out_channels)
    compiled = winograd.conv_forward(x, w, G, b)
    with jit.disabled():
        plain = winograd.conv_forward(x, w, G, b)
    np.testing.assert_allclose(compiled, plain, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_numpy_path_equals_reference_random(data):
    """The random geometries of test_fast_paths (which run the compiled path in 2-D), here
    through the NumPy path."""
    G, N = data.draw(geometries(winograd))
    with jit.disabled():
        check(winograd, G, N)


def _all_three(G, N, seed=5, bias=True):
    """Forward (with a bias), input gradient and weight gradient of Winograd on random data."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    b = rng.standard_normal(G.out_channels) if bias else None
    gy = rng.standard_normal((N, G.out_channels, *G.out_size))
    return (winograd.conv_forward(x, w, G, b), winograd.conv_input_grad(gy, w, G),
            winograd.conv_weight_grad(x, gy, G))


@needs_jit
@pytest.mark.parametrize("N", [1, 9], ids=["one-chunk", "chunks"])
@pytest.mark.parametrize("G", LAYERS, ids=range(len(LAYERS)))
def test_threaded_equals_serial(G, N, monkeypatch):
    """On 2 threads (OpenMP's, through the threaded kernels) the compiled path gives what it
    gives on one, to rounding: a batch of one chunk (stage by stage) and a batch in several
    chunks (CHUNK_BYTES made small), every phase, group and bias of LAYERS."""
    from convlab.engine import parallel

    if N > 1:
        monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)
    results = {}
    for workers in (1, 2):
        monkeypatch.setattr(parallel, "WORKERS", workers)
        results[workers] = _all_three(G, N)
    for serial, threaded in zip(results[1], results[2]):
        np.testing.assert_allclose(threaded, serial, rtol=1e-12, atol=1e-12)


@needs_jit
@pytest.mark.parametrize("G", [LAYERS[1], LAYERS[3], LAYERS[9]], ids=["groups", "dilated", "3d"])
def test_chunks_equal_the_stages(G, monkeypatch):
    """A batch cut into chunks (each on a thread of its own) and the same batch in one chunk
    (stage by stage) give the same numbers."""
    one = _all_three(G, 9)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)
    for stages, chunks in zip(one, _all_three(G, 9)):
        np.testing.assert_allclose(chunks, stages, rtol=1e-12, atol=1e-12)


@needs_jit
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("G", LAYERS[:7], ids=range(7))
def test_input_gradient_rows_equal_the_stages(G, workers, monkeypatch):
    """The input gradient of a batch of one chunk in 2-D goes a row of positions at a time
    (``_correlate_rows``) where the stages' temporaries pass ``ROWS_ABOVE``, stage by stage
    below: both give the same numbers, on one thread and on two (every phase, group and crop
    of the 2-D LAYERS, small enough to take the stages unless ROWS_ABOVE is lowered)."""
    from convlab.engine import parallel

    monkeypatch.setattr(parallel, "WORKERS", workers)
    stages = _all_three(G, 2)[1]
    monkeypatch.setattr(winograd, "ROWS_ABOVE", -1)
    np.testing.assert_allclose(_all_three(G, 2)[1], stages, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("G", [LAYERS[0], LAYERS[6],
                               conv_geometry("c", 2, (2, 3, 12, 8), (3, 3, 3, 3), dilation=(5, 1))],
                         ids=["every-phase", "no-phase", "phases-missing"])
def test_input_gradient_zero_where_no_output_reads(G, compiled):
    """``gx`` starts empty where every input phase is written, zeroed where an output shorter
    than the dilation leaves phases unread (12 rows, dilation 5: 2 output rows read input rows
    0, 1, 5, 6, 10, 11). The memory it takes was filled with NaN just before (freed memory is
    handed out again as it was)."""
    if compiled and not jit.ENABLED:
        pytest.skip("compiled kernels turned off")
    rng = np.random.default_rng(7)
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, 3, 3))
    gy = rng.standard_normal((2, G.out_channels, *G.out_size))
    expected = reference.conv_input_grad(gy, w, G)
    for _ in range(3):
        dirty = np.full((2, G.in_channels, *G.in_size), np.nan)
        del dirty
        if compiled:
            gx = winograd.conv_input_grad(gy, w, G)
        else:
            with jit.disabled():
                gx = winograd.conv_input_grad(gy, w, G)
        np.testing.assert_allclose(gx, expected, atol=1e-10)


@needs_jit
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("G", LAYERS, ids=range(len(LAYERS)))
def test_forward_plan_equals_conv_forward(G, workers, monkeypatch):
    """``forward_plan``'s run gives conv_forward's numbers to the bit (every phase, group, crop
    and axis count of LAYERS, with a bias and without, one thread and two), and keeps the
    transformed weights while the weights hold the same values: the same array again, or
    another with the same bits; an array changed in place, or NaN in it (im2col then, as
    conv_forward), makes them again."""
    from convlab.engine import parallel

    monkeypatch.setattr(parallel, "WORKERS", workers)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    b = rng.standard_normal(G.out_channels)
    made = []
    transform = winograd._weights_compiled
    monkeypatch.setattr(winograd, "_weights_compiled", lambda *a: made.append(1) or transform(*a))
    run = winograd.forward_plan(G, x.shape, x.dtype)
    for bias in (b, None, b):
        assert np.array_equal(run(x, w, bias), winograd.conv_forward(x, w, G, bias))
    expected = winograd.conv_forward(x, w, G, b)
    made.clear()
    assert np.array_equal(run(x, w.copy(), b), expected)
    assert not made  # the same values: U kept
    w[0] += 1  # in place
    assert np.array_equal(run(x, w, b), winograd.conv_forward(x, w, G, b))
    w[0, 0].flat[0] = np.nan
    np.testing.assert_array_equal(run(x, w, b), winograd.conv_forward(x, w, G, b))


@pytest.mark.parametrize("G, dtype, jit_on", [
    (LAYERS[0], np.float16, True),
    (conv_geometry("c", 1, (1, 2, 9), (2, 2, 3), padding=1), np.float32, True),
    (LAYERS[0], np.float32, False)], ids=["float16", "1-D", "jit-off"])
def test_forward_plan_none_where_the_kernels_do_not_run(G, dtype, jit_on):
    if jit_on and not jit.ENABLED:
        pytest.skip("compiled kernels turned off")
    if jit_on:
        assert winograd.forward_plan(G, (1, G.in_channels, *G.in_size), dtype) is None
    else:
        with jit.disabled():
            assert winograd.forward_plan(G, (1, G.in_channels, *G.in_size), dtype) is None
