"""im2col's compiled loops (engine/im2col_kernels.py) equal its NumPy path, and both equal the
reference convolution; the batch-chunked algorithms run with either."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab.engine import fft, gemm, im2col, jit, parallel, pointwise
from convlab.engine.geometry import conv_geometry

from jit_paths import PATHS, engine_path
from engine.test_fast_paths import IM2COL, _arrays, check


@st.composite
def any_geometry(draw):
    """Any im2col geometry in 1-3 dims (stride, dilation, uneven padding) and a batch size."""
    nd = draw(st.integers(1, 3))
    K = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pairs = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd))
    size = tuple(max(1, d_ * (k - 1) + 1 - lo - hi) + draw(st.integers(0, 7 - 2 * nd))
                 for k, d_, (lo, hi) in zip(K, d, pairs))
    C, N = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    G = conv_geometry("c", nd, (N, C, *size), (2, C, *K), stride=s, padding=pairs, dilation=d)
    return G, N


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_compiled_columns_equal_numpy(data):
    """im2col exactly, col2im to rounding (the two sum the overlaps in different orders)."""
    pytest.importorskip("numba")
    G, N = data.draw(any_geometry())
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((N, G.in_channels, *G.in_size)).astype(dtype)
        cols = im2col.im2col(x, G)
        gcols = rng.standard_normal(cols.shape).astype(dtype)
        with jit.disabled():
            np.testing.assert_array_equal(cols, im2col.im2col(x, G))
            expected = im2col.col2im(gcols, G)
        got = im2col.col2im(gcols, G)
        assert cols.dtype == got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("G", IM2COL, ids=range(len(IM2COL)))
def test_equals_reference(G, path):
    with engine_path(path):
        check(im2col, G, N=3)


@pytest.mark.parametrize("path", PATHS)
def test_col2im_is_the_adjoint_of_im2col(path):
    """<im2col(x), c> = <x, col2im(c)> for every x and c."""
    G = conv_geometry("c", 2, (2, 3, 9, 8), (4, 3, 3, 2), stride=(2, 3), padding=((2, 0), (1, 3)),
                      dilation=(2, 1))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8))
    with engine_path(path):
        c = rng.standard_normal(im2col.im2col(x, G).shape)
        np.testing.assert_allclose(np.vdot(im2col.im2col(x, G), c), np.vdot(x, im2col.col2im(c, G)))


@pytest.mark.parametrize("path", PATHS)
def test_strided_input_and_nonfinite_values(path):
    """A non-contiguous input is read where it lies; NaN and infinity propagate as in NumPy."""
    G = conv_geometry("c", 2, (2, 3, 6, 5), (2, 3, 3, 3), padding=1)
    x = np.random.default_rng(5).standard_normal((2, 6, 6, 5))[:, ::2]
    x[0, 1, 2, 3], x[1, 2, 0, 0] = np.nan, np.inf
    with engine_path(path):
        cols = im2col.im2col(x, G)
        back = im2col.col2im(cols, G)
    with jit.disabled():
        np.testing.assert_array_equal(cols, im2col.im2col(np.ascontiguousarray(x), G))
    assert np.isnan(back[0, 1, 2, 3]) and np.isinf(back[1, 2, 0, 0])


# The FFT places the kernel's taps at t*d - p_lo and reads the weight gradient at those lags
# by DFT matrices: odd and even transform lengths, padding past the kernel, uneven padding.
FFT = [
    conv_geometry("c", 2, (2, 3, 9, 10), (4, 3, 5, 4), padding=((6, 1), (0, 5))),
    conv_geometry("c", 1, (2, 4, 12), (6, 2, 3), padding=((7, 0),), dilation=3, groups=2),
    conv_geometry("c", 3, (1, 2, 5, 4, 6), (3, 2, 3, 2, 4), padding=(2, (0, 3), 1)),
    conv_geometry("c", 2, (2, 2, 13, 14), (2, 2, 7, 7), padding=3),
]


@pytest.mark.parametrize("G", FFT, ids=range(len(FFT)))
def test_fft_equals_reference(G):
    assert {L % 2 for G_ in FFT for L in fft.transform_length(G_)} == {0, 1}
    check(fft, G, N=2)


@pytest.mark.parametrize("N", [1, 4])
def test_pointwise_splits_one_sample_by_rows(N, monkeypatch):
    """A single sample's products split by rows between the threads, a batch by samples."""
    monkeypatch.setattr(parallel, "MIN_PRODUCT", 0)
    monkeypatch.setattr(parallel, "MIN_CHUNK_BYTES", 0)
    check(pointwise, conv_geometry("c", 2, (N, 6, 5, 4), (8, 3, 1, 1), stride=(2, 1), groups=2), N)



@pytest.mark.skipif(not jit.ENABLED, reason="compiled kernels turned off")
@settings(max_examples=60, deadline=None)
@given(data=st.data(), band_bytes=st.sampled_from([1, 200, 1 << 20]))
def test_bands_equal_numpy(data, band_bytes):
    """The forward in bands of output rows (padding above and below a band, stride,
    dilation, groups, 1-D to 3-D, bands of one row and more) gives the NumPy path's numbers."""
    G, N = data.draw(any_geometry())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    b = rng.standard_normal(G.out_channels)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(im2col, "SMALL_POSITIONS", 0)  # no image is small here
        patch.setattr(im2col, "CHUNK_BYTES", 0)  # every sample is banded
        patch.setattr(im2col, "BAND_BYTES", band_bytes)
        patch.setattr(im2col, "BAND_POSITIONS", 1)
        assert im2col._banded(G, x) == (G.nd < 3 or G.out_size[0] == 1)
        got = im2col.conv_forward(x, w, G, b)
        with jit.disabled():
            expected = im2col.conv_forward(x, w, G, b)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# Layers whose batch, or one sample's products, the compiled paths cut between the threads,
# with their batch sizes.
THREADED = [
    (pointwise, conv_geometry("c", 2, (4, 6, 5, 4), (8, 3, 1, 1), stride=(2, 1), groups=2), 4),
    (pointwise, conv_geometry("c", 2, (1, 8, 6, 6), (12, 8, 1, 1)), 1),  # one sample: split
    (im2col, conv_geometry("c", 2, (4, 4, 13, 11), (6, 2, 3, 3), padding=1, groups=2), 4),
    (im2col, conv_geometry("c", 1, (5, 3, 80), (4, 3, 4), stride=2, padding=((2, 1),)), 5),
    (im2col, conv_geometry("c", 2, (4, 4, 9, 9), (6, 2, 3, 3), stride=2, padding=1, groups=2), 4),
    (im2col, conv_geometry("c", 2, (4, 3, 5, 5), (4, 3, 3, 3), padding=1), 4),  # small, 'same'
    (im2col, conv_geometry("c", 2, (4, 3, 5, 5), (4, 3, 3, 3), padding=2), 4),  # flipped gradient
    (im2col, conv_geometry("c", 2, (4, 4, 6, 6), (6, 2, 4, 4), stride=2, padding=1, groups=2),
     4),  # small, stride 2: the input gradient scattered
    (im2col, conv_geometry("c", 2, (4, 6, 4, 4), (4, 3, 4, 4), groups=2), 4),  # dense
    (im2col, conv_geometry("c", 2, (1, 3, 20, 20), (6, 3, 7, 7), stride=2, padding=3), 1),  # one
    # sample: the forward in bands of rows, the gradients' products by rows
    (im2col, conv_geometry("c", 2, (1, 8, 5, 5), (6, 8, 3, 3), padding=1), 1),  # small, one chunk:
    # the product's rows split
]


@pytest.mark.parametrize("algorithm, G, N", THREADED, ids=range(len(THREADED)))
def test_threads_give_the_numbers_of_one_thread(algorithm, G, N, monkeypatch):
    """Two threads, each with its own part of the batch or of a product, give one thread's
    numbers (to rounding: the threaded machine code is compiled apart, and weight gradients
    sum the threads' parts)."""
    pytest.importorskip("numba")
    monkeypatch.setattr(parallel, "MIN_CHUNK_BYTES", 0)  # work this small is cut all the same
    monkeypatch.setattr(gemm, "MIN_SPLIT", 0)
    x, w, gy = (a.astype(np.float32) for a in _arrays(G, N, seed=6))
    b = np.arange(G.out_channels, dtype=np.float32)
    passes = [(algorithm.conv_forward, (x, w, G, b)), (algorithm.conv_input_grad, (gy, w, G)),
              (algorithm.conv_weight_grad, (x, gy, G))]
    for fn, args in passes:
        monkeypatch.setattr(parallel, "WORKERS", 1)
        serial = fn(*args)
        monkeypatch.setattr(parallel, "WORKERS", 2)
        np.testing.assert_allclose(fn(*args), serial, rtol=1e-5, atol=1e-5)


# The routes of the three passes, each on both paths: small images side by side (input
# gradient by scatter-add, stride 1 and 2), the flipped-kernel input gradient, a kernel that
# covers the input (a fully connected layer), and the per-sample columns.
ROUTES = [
    ("side by side", conv_geometry("c", 2, (3, 4, 6, 6), (6, 2, 4, 4), stride=2, padding=1,
                                   groups=2)),
    ("side by side", conv_geometry("c", 1, (3, 3, 9), (4, 3, 3), stride=3,
                                   padding=((2, 1),), dilation=2)),
    ("side by side", conv_geometry("c", 2, (3, 3, 5, 6), (4, 3, 3, 2))),  # stride 1, no padding
    ("side by side", conv_geometry("c", 2, (3, 3, 5, 5), (4, 3, 3, 3), padding=1)),  # 'same'
    ("flipped", conv_geometry("c", 2, (3, 3, 5, 4), (4, 3, 3, 2), padding=(2, 1))),
    ("dense", conv_geometry("c", 2, (3, 4, 3, 2), (6, 2, 3, 2), groups=2)),
    ("dense", conv_geometry("c", 3, (3, 2, 2, 1, 3), (5, 2, 2, 1, 3), stride=2,
                            padding=(0, (0, 1), 0))),
    ("per sample", conv_geometry("c", 2, (3, 2, 40, 38), (3, 2, 3, 3), stride=2, padding=1)),
]


def _route(G) -> str:
    if im2col._dense(G):
        return "dense"
    if im2col._flipped_is_cheaper(G):
        return "flipped"
    return "side by side" if im2col._small(G) else "per sample"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("route, G", ROUTES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(ROUTES)])
def test_routes_equal_reference(route, G, path):
    assert _route(G) == route
    with engine_path(path):
        check(im2col, G, N=3)


@pytest.mark.parametrize("route, G", ROUTES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(ROUTES)])
def test_compiled_passes_equal_numpy(route, G):
    """The compiled drivers and their NumPy twins give the same numbers (float64, to rounding:
    the products are the same BLAS calls, the sums go in the same order), with a bias."""
    pytest.importorskip("numba")
    x, w, gy = _arrays(G, 5, seed=7)
    b = np.linspace(-1, 1, G.out_channels)
    passes = [(im2col.conv_forward, (x, w, G, b)), (im2col.conv_input_grad, (gy, w, G)),
              (im2col.conv_weight_grad, (x, gy, G))]
    for fn, args in passes:
        with jit.disabled():
            expected = fn(*args)
        np.testing.assert_allclose(fn(*args), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_all_passes_equal_reference_random(path, data):
    """Whatever route a random geometry takes, its three passes equal the reference loops."""
    G, N = data.draw(any_geometry())
    with engine_path(path):
        check(im2col, G, N)
