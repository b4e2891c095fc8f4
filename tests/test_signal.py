"""convlab.signal.correlate / convolve equal SciPy's for N-d arrays in every mode."""

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab import signal


@st.composite
def operands(draw):
    nd = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["full", "same", "valid"]))
    a_shape = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    k_shape = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    if mode == "valid":  # one must contain the other in every dim; either may be the larger
        smaller = tuple(min(p, q) for p, q in zip(a_shape, k_shape))
        larger = tuple(max(p, q) for p, q in zip(a_shape, k_shape))
        a_shape, k_shape = (smaller, larger) if draw(st.booleans()) else (larger, smaller)
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = (rng.standard_normal(a_shape) * 10).astype(dtype)
    k = (rng.standard_normal(k_shape) * 10).astype(dtype)
    return a, k, mode


@pytest.mark.parametrize("name", ["correlate", "convolve"])
@settings(max_examples=150, deadline=None)
@given(drawn=operands())
def test_equals_scipy(name, drawn):
    a, k, mode = drawn
    ours = getattr(signal, name)(a, k, mode)
    theirs = getattr(scipy.signal, name)(a, k, mode, method="direct")
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    rtol = 1e-5 if a.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())


def test_reference_examples():
    # REFERENCE.md section 2
    a, k = [1, 2, 3, 4, 5], [1, 0, -1]
    assert signal.convolve(a, k).tolist() == [1, 2, 2, 2, 2, -4, -5]
    assert signal.convolve(a, k, "valid").tolist() == [2, 2, 2]
    assert signal.correlate(a, k, "valid").tolist() == [-2, -2, -2]
    assert signal.convolve(a, k, "same").tolist() == [2, 2, 2, 2, -4]


def test_correlate_is_conv1d_and_convolve_flips():
    import convlab
    import convlab.nn.functional as F
    a = np.array([1., 2., 3., 4., 5., 6.])
    k = np.array([1., -2., 4.])
    y = F.conv1d(convlab.tensor(a[None, None]), convlab.tensor(k[None, None])).numpy()[0, 0]
    np.testing.assert_allclose(signal.correlate(a, k, "valid"), y)
    np.testing.assert_allclose(signal.convolve(a, k[::-1], "valid"), y)


def test_even_kernel_same_puts_the_extra_sample_at_the_end():
    a = np.arange(1., 6.)
    k = np.array([1., 0., -1., 2.])
    np.testing.assert_allclose(signal.correlate(a, k, "same"), scipy.signal.correlate(a, k, "same"))
    np.testing.assert_allclose(signal.convolve(a, k, "same"), scipy.signal.convolve(a, k, "same"))


def test_scalars():
    assert signal.correlate(np.array(2.), np.array(3.)) == 6.0


@pytest.mark.parametrize("a, k, mode, error, message", [
    (np.ones((3, 2)), np.ones((2, 3)), "valid", ValueError,
     r"correlate: for 'valid' mode, one must be at least as large as the other in every "
     r"dimension, got a of shape \(3, 2\) and k of shape \(2, 3\)"),
    (np.ones((3, 2)), np.ones(2), "full", ValueError,
     r"a and k should have the same dimensionality, got a of shape \(3, 2\) \(2-D\)"),
    (np.ones(3), np.ones(2), "bogus", ValueError, r"mode must be one of \('full', 'same', "
                                                  r"'valid'\), got 'bogus'"),
    (np.ones(3, complex), np.ones(2), "full", TypeError, r"a must hold real numbers"),
    (np.ones(0), np.ones(2), "full", ValueError, r"a is empty \(shape \(0,\)\)"),
])
def test_bad_input(a, k, mode, error, message):
    with pytest.raises(error, match=message):
        signal.correlate(a, k, mode)
