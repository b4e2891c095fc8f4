"""Every convolution algorithm equals the plain loops of ``reference.py`` (float64, 1e-10), and
the backward functions are the adjoints of the forward ones (dot-product test)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convlab.engine import conv as engine
from convlab.engine import reference, select
from convlab.engine.geometry import (
    conv_geometry,
    conv_transpose_geometry,
    fold_geometry,
    transposed_output_length,
    unfold_geometry,
)

FAST = [name for name in select.ALGORITHMS if name != "reference"]


@st.composite
def geometries(draw, max_size=6):
    """A random convolution (or transposed convolution) geometry in 1-3 spatial dims, with
    groups (depthwise with channel multipliers included), and its batch size."""
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    C_g = draw(st.integers(1, 2))  # input channels per group (1: depthwise)
    mult = draw(st.integers(1, 3))  # output channels per group
    K = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pairs = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    N = draw(st.integers(1, 2))
    if draw(st.booleans()):
        a = tuple(draw(st.integers(0, max(s_, d_) - 1)) for s_, d_ in zip(s, d))
        size = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        assume(all(transposed_output_length(i, k, s_, lo, hi, d_, a_) >= 1
                   for i, k, s_, (lo, hi), d_, a_ in zip(size, K, s, pairs, d, a)))
        G = conv_transpose_geometry("t", nd, (N, groups * mult, *size), (groups * mult, C_g, *K),
                                    stride=s, padding=pairs, output_padding=a, dilation=d,
                                    groups=groups)
    else:
        size = tuple(max(1, d_ * (k - 1) + 1 - lo - hi) + draw(st.integers(0, max_size - 3))
                     for k, d_, (lo, hi) in zip(K, d, pairs))
        G = conv_geometry("c", nd, (N, groups * C_g, *size), (groups * mult, C_g, *K),
                          stride=s, padding=pairs, dilation=d, groups=groups)
    return G, N


def arrays(G, N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    gy = rng.standard_normal((N, G.out_channels, *G.out_size))
    return x, w, gy


def assert_close(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def check_against_reference(algorithm, G, N):
    fast = select.ALGORITHMS[algorithm]
    if not select.supports(fast, G):  # the specialized ones: tests/engine/test_fast_paths.py
        return
    x, w, gy = arrays(G, N)
    assert_close(fast.conv_forward(x, w, G), reference.conv_forward(x, w, G))
    assert_close(fast.conv_input_grad(gy, w, G), reference.conv_input_grad(gy, w, G))
    assert_close(fast.conv_weight_grad(x, gy, G), reference.conv_weight_grad(x, gy, G))


@pytest.mark.parametrize("algorithm", FAST)
@settings(max_examples=80, deadline=None)
@given(drawn=geometries())
def test_fast_equals_reference_random(algorithm, drawn):
    check_against_reference(algorithm, *drawn)


GRID = [
    # stride that does not divide: the last input rows are never read, their gradient is zero
    conv_geometry("c", 2, (2, 3, 8, 7), (4, 3, 3, 2), stride=(3, 2)),
    # per-side padding and dilation
    conv_geometry("c", 2, (1, 2, 5, 6), (3, 2, 2, 3), padding=((0, 2), (1, 0)), dilation=(2, 1)),
    # kernel larger than the input, fitting the padded input
    conv_geometry("c", 1, (2, 1, 2), (2, 1, 5), padding=2),
    # 'same' with stride > 1 (TensorFlow's rule) and an even kernel
    conv_geometry("c", 2, (1, 2, 7, 6), (2, 2, 4, 4), stride=2, padding="same"),
    # depthwise with a channel multiplier, 3-D
    conv_geometry("c", 3, (1, 3, 4, 3, 5), (6, 1, 2, 1, 3), stride=(1, 2, 2), groups=3),
    # 1x1 kernel, strided
    conv_geometry("c", 2, (2, 4, 5, 5), (6, 2, 1, 1), stride=2, groups=2),
    # transposed: output_padding below the stride, and one at/above the stride (below dilation)
    conv_transpose_geometry("t", 2, (2, 4, 3, 3), (4, 2, 3, 3), stride=2, padding=1,
                            output_padding=1),
    conv_transpose_geometry("t", 1, (1, 2, 4), (2, 3, 3), stride=1, output_padding=1, dilation=2),
    conv_transpose_geometry("t", 1, (1, 2, 4), (2, 3, 2), stride=2, output_padding=2, dilation=3),
    # beyond PyTorch: four spatial dims
    conv_geometry("c", 4, (1, 2, 3, 4, 3, 3), (2, 2, 2, 2, 1, 2), stride=(1, 2, 1, 1), padding=1),
]


@pytest.mark.parametrize("algorithm", FAST)
@pytest.mark.parametrize("G", GRID, ids=range(len(GRID)))
def test_fast_equals_reference_grid(algorithm, G):
    check_against_reference(algorithm, G, 2)


def test_empty_batch():
    G = GRID[0]
    x, w, gy = arrays(G, 0)
    assert engine.conv_forward(x, w, G).shape == (0, 4, 2, 3)
    assert engine.conv_input_grad(gy, w, G).shape == x.shape
    assert np.all(engine.conv_weight_grad(x, gy, G) == 0)


@settings(max_examples=40, deadline=None)
@given(drawn=geometries(max_size=12))
def test_backward_is_the_adjoint(drawn):
    """<conv(x), u> = <x, input_grad(u)> and <conv(x; w), u> = <w, weight_grad(x, u)>."""
    G, N = drawn
    x, w, u = arrays(G, N, seed=1)
    y = engine.conv_forward(x, w, G)
    lhs = np.vdot(y, u)
    assert np.isclose(lhs, np.vdot(x, engine.conv_input_grad(u, w, G)), rtol=1e-10, atol=1e-10)
    assert np.isclose(lhs, np.vdot(w, engine.conv_weight_grad(x, u, G)), rtol=1e-10, atol=1e-10)


def test_transposed_entry_points_swap_roles():
    G = GRID[6]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, G.out_channels, *G.out_size))  # the transposed conv's input
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    b = rng.standard_normal(G.in_channels)
    y = engine.conv_transpose_forward(x, w, G, b)
    assert_close(y, reference.conv_input_grad(x, w, G) + b[:, None, None])
    gy = rng.standard_normal(y.shape)
    assert_close(engine.conv_transpose_input_grad(gy, w, G), reference.conv_forward(gy, w, G))
    assert_close(engine.conv_transpose_weight_grad(x, gy, G),
                 reference.conv_weight_grad(gy, x, G))


def test_float32_stays_float32():
    G = GRID[1]
    x, w, gy = (a.astype(np.float32) for a in arrays(G, 2))
    assert engine.conv_forward(x, w, G, np.zeros(3, np.float32)).dtype == np.float32
    assert engine.conv_input_grad(gy, w, G).dtype == np.float32
    assert engine.conv_weight_grad(x, gy, G).dtype == np.float32


def test_using_forces_the_algorithm():
    G = GRID[0]
    x, w, _ = arrays(G, 1)
    with select.using("reference"):
        assert select.choose(G, x.shape) is reference
        y = engine.conv_forward(x, w, G)
    assert select.choose(G, x.shape) is not reference
    assert_close(y, engine.conv_forward(x, w, G))
    with pytest.raises(ValueError, match="unknown convolution algorithm 'magic'"):
        with select.using("magic"):
            pass


@pytest.mark.parametrize("shape, kernel, kwargs", [
    ((2, 3, 6, 5), (2, 3), dict(dilation=(1, 2), padding=1, stride=(2, 1))),
    ((1, 2, 7), (3,), dict(stride=2)),
    ((1, 2, 4, 3, 5), (2, 2, 3), dict(padding=(1, 0, 1))),
])
def test_unfold_is_conv_with_identity_kernels(shape, kernel, kwargs):
    """unfold = a conv with groups=C whose kernels pick one tap each; fold is its adjoint."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    G = unfold_geometry("unfold", shape, kernel, **kwargs)
    C, taps = shape[1], math.prod(kernel)
    identity = np.tile(np.eye(taps).reshape(taps, 1, *kernel), (C, 1) + (1,) * len(kernel))
    cols = engine.unfold(x, G)
    assert_close(cols, reference.conv_forward(x, identity, G).reshape(cols.shape))
    u = rng.standard_normal(cols.shape)
    F = fold_geometry("fold", cols.shape, shape[2:], kernel, **kwargs)
    assert np.isclose(np.vdot(cols, u), np.vdot(x, engine.fold(u, F)), rtol=1e-12)
