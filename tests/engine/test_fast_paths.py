"""The fast algorithms (Winograd, FFT, depthwise, 1x1) equal the plain loops of ``reference.py``.

float64: within 1e-10 of the reference (relative to the size of the sums). float32: within a
stated bound, relative to the same sum taken over absolute values (``max Σ|w||x|``, the scale
of the rounding errors): a direct sum stays within a few float32 steps of it; Winograd's
transforms multiply the error by about 10 (entries up to 8 and down to 1/24), the FFT's by
``log2`` of the transform length.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab.engine import depthwise, fft, im2col, pointwise, reference, winograd
from convlab.engine.geometry import conv_geometry

# float32 error bound per algorithm, relative to Σ|w||x|
FLOAT32_BOUND = {winograd: 2e-5, fft: 2e-6, depthwise: 1e-6, pointwise: 1e-6, im2col: 1e-6}
ALGORITHMS = [winograd, fft, depthwise, pointwise]


def _name(algorithm) -> str:
    return algorithm.__name__.rsplit(".", 1)[-1]


@st.composite
def geometries(draw, algorithm):
    """A convolution geometry in 1-3 spatial dims that ``algorithm`` supports, and a batch size."""
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    C_g = 1 if algorithm is depthwise else draw(st.integers(1, 3))
    K_g = draw(st.integers(1, 3))
    if algorithm is winograd:
        K = (3,) * nd
        s = (1,) * nd
        d = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    else:
        K = tuple(draw(st.integers(1, 4)) for _ in range(nd))
        s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    if algorithm is fft:
        s = (1,) * nd
    if algorithm is pointwise:
        K = (1,) * nd
        pairs = ((0, 0),) * nd
    else:
        pairs = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd))
    size = tuple(max(1, d_ * (k - 1) + 1 - lo - hi) + draw(st.integers(0, 7 - 2 * nd))
                 for k, d_, (lo, hi) in zip(K, d, pairs))
    N = draw(st.integers(1, 3))
    G = conv_geometry("c", nd, (N, groups * C_g, *size), (groups * K_g, C_g, *K), stride=s,
                      padding=pairs, dilation=d, groups=groups)
    assert algorithm.supports(G)
    return G, N


def _arrays(G, N, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    gy = rng.standard_normal((N, G.out_channels, *G.out_size))
    return x, w, gy


def _passes(x, w, gy, G):
    """(name, arguments, the arguments' absolute values) of the three passes."""
    return [("conv_forward", (x, w, G), (abs(x), abs(w), G)),
            ("conv_input_grad", (gy, w, G), (abs(gy), abs(w), G)),
            ("conv_weight_grad", (x, gy, G), (abs(x), abs(gy), G))]


def check(algorithm, G, N, seed=0):
    x, w, gy = _arrays(G, N, seed)
    for name, args, abs_args in _passes(x, w, gy, G):
        expected = getattr(reference, name)(*args)
        # at least one product's size, for outputs that read only padding (exactly zero)
        scale = max(getattr(reference, name)(*abs_args).max(initial=0.0),
                    abs_args[0].max() * abs_args[1].max())
        got = getattr(algorithm, name)(*args)
        assert got.shape == expected.shape and got.dtype == np.float64, name
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * scale, err_msg=name)
        args32 = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args)
        got32 = getattr(algorithm, name)(*args32)
        assert got32.dtype == np.float32, name
        err = np.abs(got32 - expected).max(initial=0.0) / scale
        assert err <= FLOAT32_BOUND[algorithm], f"{name}: float32 error {err:.2e}"


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=_name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_equals_reference_random(algorithm, data):
    check(algorithm, *data.draw(geometries(algorithm)))


# The layer shapes, batch and channels cut down so the reference loops stay quick.
LAYERS = [
    (winograd, conv_geometry("c", 2, (2, 8, 14, 14), (8, 8, 3, 3), padding=1)),
    (winograd, conv_geometry("c", 2, (2, 16, 7, 9), (16, 4, 3, 3), padding=1, groups=4)),
    (winograd, conv_geometry("c", 2, (1, 4, 9, 9), (5, 4, 3, 3), padding=((0, 2), (3, 1)))),
    (winograd, conv_geometry("c", 2, (2, 4, 12, 11), (4, 4, 3, 3), padding=2, dilation=2)),
    (winograd, conv_geometry("c", 1, (2, 3, 17), (2, 3, 3), padding=((1, 4),), dilation=3)),
    (fft, conv_geometry("c", 2, (2, 3, 20, 20), (4, 3, 9, 9), padding=4)),
    (fft, conv_geometry("c", 2, (1, 4, 12, 12), (4, 2, 3, 3), padding=2, dilation=2, groups=2)),
    (depthwise, conv_geometry("c", 2, (2, 6, 10, 10), (6, 1, 3, 3), padding=1, groups=6)),
    (depthwise, conv_geometry("c", 2, (2, 4, 11, 11), (8, 1, 3, 3), stride=2, padding=1,
                              groups=4)),
    (pointwise, conv_geometry("c", 2, (2, 8, 6, 6), (16, 8, 1, 1))),
    (pointwise, conv_geometry("c", 2, (2, 8, 7, 7), (4, 8, 1, 1), stride=2)),
]


@pytest.mark.parametrize("algorithm, G", LAYERS, ids=lambda v: _name(v) if hasattr(v, "supports") else "")
def test_equals_reference_layers(algorithm, G):
    check(algorithm, G, N=2)


@pytest.mark.parametrize("algorithm, G", LAYERS[::2], ids=lambda v: _name(v) if hasattr(v, "supports") else "")
def test_bias_is_added(algorithm, G):
    x, w, _ = _arrays(G, 2, seed=1)
    b = np.random.default_rng(2).standard_normal(G.out_channels)
    expected = reference.conv_forward(x, w, G) + b.reshape(-1, *(1,) * G.nd)
    np.testing.assert_allclose(algorithm.conv_forward(x, w, G, b), expected, atol=1e-10)


IM2COL = [
    conv_geometry("c", 2, (3, 4, 5, 5), (6, 2, 3, 3), padding=1, groups=2),
    conv_geometry("c", 2, (2, 3, 9, 7), (4, 3, 3, 2), stride=(2, 1), padding=((0, 2), (1, 0)),
                  dilation=(1, 2)),
    conv_geometry("c", 1, (2, 2, 11), (3, 2, 4), padding=3, dilation=2),
    conv_geometry("c", 3, (2, 2, 4, 3, 5), (2, 2, 2, 2, 3), padding=(1, 0, 1)),
]


@pytest.mark.parametrize("G", IM2COL, ids=range(len(IM2COL)))
@pytest.mark.parametrize("small_positions", [0, 10 ** 6], ids=["per-sample", "side-by-side"])
def test_im2col_layouts_equal_reference(G, small_positions, monkeypatch):
    """im2col's two layouts (one product per sample; small images side by side) and the input
    gradient as a flipped forward convolution, forced on the same geometries."""
    monkeypatch.setattr(im2col, "SMALL_POSITIONS", small_positions)
    monkeypatch.setattr(im2col, "SMALL", 10 ** 9 if small_positions else 0)
    check(im2col, G, N=3)


def test_winograd_matrices_compute_the_correlation():
    """F(m, r) for the sizes in use: Aᵀ[(G g) ⊙ (Bᵀ d)] is the correlation of d with g."""
    rng = np.random.default_rng(0)
    for m, r in [(2, 3), (4, 3), (3, 4)]:
        AT, Gm, BT = winograd.matrices(m, r)
        d, g = rng.standard_normal(m + r - 1), rng.standard_normal(r)
        expected = [d[i:i + r] @ g for i in range(m)]
        np.testing.assert_allclose(AT @ ((Gm @ g) * (BT @ d)), expected, atol=1e-12)


def test_supports():
    g3 = conv_geometry("c", 2, (1, 4, 8, 8), (4, 4, 3, 3), padding=1)
    strided = conv_geometry("c", 2, (1, 4, 8, 8), (4, 4, 3, 3), stride=2)
    assert winograd.supports(g3) and not winograd.supports(strided)
    assert winograd.supports(conv_geometry("c", 2, (1, 4, 8, 8), (4, 4, 3, 3), dilation=2))
    assert fft.supports(g3) and not fft.supports(strided)
    assert not depthwise.supports(g3)
    assert depthwise.supports(conv_geometry("c", 2, (1, 4, 8, 8), (8, 1, 3, 3), groups=4))
    assert not pointwise.supports(g3)
    assert not pointwise.supports(conv_geometry("c", 2, (1, 4, 8, 8), (4, 4, 1, 1), padding=1))


@pytest.mark.parametrize("K, S, P, D, ceil", [
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((2, 3), (2, 3), (0, 1), (2, 1), True),
    ((3,), (2,), (1,), (1,), True),
    ((2, 2, 2), (2, 1, 2), (1, 0, 0), (1, 1, 1), False),
])
def test_max_pool_phase_views_equal_strided_views(K, S, P, D, ceil, monkeypatch):
    """Max pooling reads a strided input through phase copies when it is large; forced on small
    inputs (NaN, -inf and ties included), both ways give the same maxima and indices."""
    from convlab.engine import pooling

    rng = np.random.default_rng(4)
    x = rng.integers(-3, 4, size=(2, 3) + (9, 8, 7)[:len(K)]).astype(np.float64)  # ties
    x[0, 0].flat[::5] = np.nan
    x[1, 1] = -np.inf
    results = []
    for phases_from in (0, 10 ** 12):
        monkeypatch.setattr(pooling, "PHASES_FROM", phases_from)
        results.append(pooling.max_pool(x, K, S, P, D, ceil))
    (y1, i1), (y2, i2) = results
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(i1, i2)
