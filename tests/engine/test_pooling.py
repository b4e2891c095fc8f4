"""The fast pooling engine equals the plain loops of ``reference_pooling.py`` (float64, 1e-10),
and each backward is the adjoint of its forward (dot-product test)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convlab.engine import pooling as engine
from convlab.engine import reference_pooling as reference


def assert_close(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@st.composite
def windows(draw, dilated=True):
    """A pooling window in 1-3 spatial dims that fits its input: (I, K, S, P, D, ceil_mode)."""
    nd = draw(st.integers(1, 3))
    K = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    S = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    P = tuple(draw(st.integers(0, k // 2)) for k in K)
    D = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilated else (1,) * nd
    I = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 3))
              for k, p, d in zip(K, P, D))
    ceil_mode = draw(st.booleans())
    assume(all(o >= 1 for o in engine.pool_output_size(I, K, S, P, D, ceil_mode)))
    return I, K, S, P, D, ceil_mode


def random_input(I, seed, lead=(2, 3), ties=False):
    x = np.random.default_rng(seed).standard_normal(lead + I)
    return np.round(x) if ties else x  # rounding makes ties inside windows common


@settings(max_examples=60, deadline=None, derandomize=True)
@given(windows(), st.integers(0, 2**16), st.booleans())
def test_max_pool_matches_reference(window, seed, ties):
    I, K, S, P, D, ceil_mode = window
    x = random_input(I, seed, ties=ties)
    y, indices = engine.max_pool(x, K, S, P, D, ceil_mode)
    y_ref, indices_ref = reference.max_pool(x, K, S, P, D, ceil_mode)
    assert_close(y, y_ref)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(indices, indices_ref)
    values_only, none = engine.max_pool(x, K, S, P, D, ceil_mode, return_indices=False)
    assert none is None
    assert_close(values_only, y_ref)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(windows(dilated=False), st.integers(0, 2**16), st.booleans(), st.sampled_from([None, 3]))
def test_avg_pool_matches_reference_and_its_adjoint(window, seed, count_include_pad, divisor):
    I, K, S, P, D, ceil_mode = window
    x = random_input(I, seed)
    args = (K, S, P, ceil_mode, count_include_pad, divisor)
    y = engine.avg_pool(x, *args)
    assert_close(y, reference.avg_pool(x, *args))
    gy = random_input(y.shape[2:], seed + 1)
    gx = engine.avg_pool_backward(gy, x.shape, *args)
    assert gx.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, gx), rtol=1e-10)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(windows(), st.integers(0, 2**16))
def test_max_pool_backward_scatters_like_the_reference(window, seed):
    I, K, S, P, D, ceil_mode = window
    x = random_input(I, seed, ties=True)
    y, indices = engine.max_pool(x, K, S, P, D, ceil_mode)
    gy = random_input(y.shape[2:], seed + 1)
    gx = engine.scatter_add_planes(gy, indices, I)
    assert_close(gx, reference.max_pool_backward(gy, indices, x.shape, len(I)))
    if indices.max() < math.prod(I):  # else a dilated window lies wholly in the padding
        # the gather and the scatter are adjoint
        np.testing.assert_allclose(np.vdot(engine.gather_planes(x, indices, len(I)), gy),
                                   np.vdot(x, gx), rtol=1e-10)


def test_a_window_wholly_in_the_padding_gives_minus_infinity_and_no_gradient():
    # taps at -1 and 1 on a length-1 input: PyTorch reports -inf and index 1 (past the input)
    x = np.zeros((1, 1))
    y, indices = engine.max_pool(x, (2,), (1,), (1,), (2,), False)
    assert np.isneginf(y).all() and indices.tolist() == [[1]]
    assert engine.scatter_add_planes(np.ones((1, 1)), indices, (1,)).tolist() == [[0.0]]


@st.composite
def adaptive_cases(draw):
    nd = draw(st.integers(1, 3))
    I = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    O = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    return I, O


@settings(max_examples=50, deadline=None, derandomize=True)
@given(adaptive_cases(), st.integers(0, 2**16))
def test_adaptive_pools_match_reference(case, seed):
    I, O = case
    x = random_input(I, seed, ties=seed % 2 == 0)
    y = engine.adaptive_avg_pool(x, O)
    assert_close(y, reference.adaptive_avg_pool(x, O))
    gy = random_input(O, seed + 1)
    gx = engine.adaptive_avg_pool_backward(gy, I)
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, gx), rtol=1e-10)
    y, indices = engine.adaptive_max_pool(x, O)
    y_ref, indices_ref = reference.adaptive_max_pool(x, O)
    assert_close(y, y_ref)
    np.testing.assert_array_equal(indices, indices_ref)


@pytest.mark.parametrize("I, O", [((4, 4), (1, 1)), ((6, 8), (3, 4)), ((12,), (1,)),
                                  ((4, 6, 8), (1, 3, 2)), ((4, 6, 8), (1, 1, 1))])
def test_adaptive_avg_pool_of_equal_blocks_matches_reference(I, O):
    """Equal blocks (output sizes that divide the input's) and global pooling take their own
    paths: one reduction, and a product with ones."""
    x = random_input(I, 7)
    y = engine.adaptive_avg_pool(x, O)
    assert_close(y, reference.adaptive_avg_pool(x, O))
    gy = random_input(O, 8)
    gx = engine.adaptive_avg_pool_backward(gy, I)
    np.testing.assert_allclose(np.vdot(y, gy), np.vdot(x, gx), rtol=1e-10)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(windows(dilated=False), st.integers(0, 2**16))
def test_max_unpool_puts_the_maxima_back(window, seed):
    I, K, S, P, D, ceil_mode = window
    x = random_input(I, seed)
    y, indices = engine.max_pool(x, K, S, P, D, ceil_mode)
    restored = engine.max_unpool(y, indices, I)
    assert_close(restored, reference.max_unpool(y, indices, I))
    # every element that won a window is back in place; the rest are zero
    won = engine.scatter_add_planes(np.ones_like(y), indices, I) > 0
    np.testing.assert_array_equal(restored[won], x[won])
    assert not restored[~won].any()


def test_worked_max_pool_example():
    x = np.array([[[[1., 2., 5., 0.],
                    [3., 4., 1., 1.],
                    [0., 0., 7., 7.],
                    [9., 0., 7., 8.]]]])  # (1, 1, 4, 4)
    y, indices = engine.max_pool(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert y.tolist() == [[[[4., 5.], [9., 8.]]]]
    assert indices.tolist() == [[[[5, 2], [12, 15]]]]  # flat h * 4 + w


def test_ties_pick_the_first_maximum_in_row_major_order():
    x = np.array([[[[1., 3.], [3., 3.]]]])
    _, indices = engine.max_pool(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert indices.item() == 1
    _, indices = engine.adaptive_max_pool(x, (1, 1))
    assert indices.item() == 1


def test_nan_wins_and_the_last_nan_is_reported():
    x = np.array([[np.nan, 1., np.nan, 2.]])
    y, indices = engine.max_pool(x, (4,), (4,), (0,), (1,), False)
    assert np.isnan(y).all() and indices.tolist() == [[2]]
    y, _ = engine.max_pool(x, (4,), (4,), (0,), (1,), False, return_indices=False)
    assert np.isnan(y).all()


def test_windows_of_minus_infinity_report_their_first_element_inside_the_input():
    x = np.full((1, 3), -np.inf)
    y, indices = engine.max_pool(x, (2,), (1,), (1,), (1,), False)
    assert np.isneginf(y).all()
    assert indices.tolist() == [[0, 0, 1, 2]]  # window 0 starts in the padding


def test_integer_input_pads_with_the_lowest_integer():
    x = np.array([[[-1, -2], [-3, -5]]], dtype=np.int64)
    y, indices = engine.max_pool(x, (2, 2), (1, 1), (1, 1), (1, 1), False)
    assert y.dtype == np.int64
    assert y[0, 1, 1] == -1 and indices[0, 1, 1] == 0
    assert (y == reference.max_pool(x, (2, 2), (1, 1), (1, 1), (1, 1), False)[0]).all()


def test_unbatched_and_extra_leading_axes_pool_the_same_planes():
    x = random_input((5, 6), 0, lead=(2, 3))
    y, indices = engine.max_pool(x, (2, 3), (2, 2), (1, 0), (1, 1), True)
    y1, indices1 = engine.max_pool(x[1], (2, 3), (2, 2), (1, 0), (1, 1), True)
    assert_close(y1, y[1])
    np.testing.assert_array_equal(indices1, indices[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtype_is_kept(dtype):
    x = random_input((4, 4), 0).astype(dtype)
    assert engine.max_pool(x, (2, 2), (2, 2), (0, 0), (1, 1), False)[0].dtype == dtype
    assert engine.avg_pool(x, (2, 2), (2, 2), (1, 1), True, False, None).dtype == dtype
    assert engine.adaptive_avg_pool(x, (3, 3)).dtype == dtype
    assert engine.adaptive_max_pool(x, (3, 3))[0].dtype == dtype


def test_adaptive_windows_cover_the_input_and_may_overlap():
    for i in range(1, 12):
        for o in range(1, 12):
            starts, ends = engine.adaptive_windows(i, o)
            assert starts[0] == 0 and ends[-1] == i
            assert (starts[1:] <= ends[:-1]).all()  # no gaps
            assert (ends - starts >= 1).all()
            assert (ends - starts).max() <= math.ceil(i / o) + 1


def test_output_size_follows_the_ceil_mode_rule():
    # MaxPool1d(2, 2, padding=1, ceil_mode=True) on length 3: 2, not 3 (REFERENCE.md §1.4)
    assert engine.pool_output_size((3,), (2,), (2,), (1,), (1,), True) == (2,)
    assert engine.pool_output_size((5,), (2,), (2,), (0,), (1,), True) == (3,)
    assert engine.pool_output_size((5,), (2,), (2,), (0,), (1,), False) == (2,)


def test_adaptive_pools_accept_an_empty_output():
    x = random_input((4, 4), 0)
    assert engine.adaptive_avg_pool(x, (0, 2)).shape == (2, 3, 0, 2)
    y, indices = engine.adaptive_max_pool(x, (0, 2))
    assert y.shape == indices.shape == (2, 3, 0, 2)
