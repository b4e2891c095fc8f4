"""The padding engine equals the plain loops of ``reference_pooling.pad`` (float64, exact), and
``pad_backward`` is the adjoint of ``pad`` (dot-product test), in every mode."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convlab.engine import padding as engine
from convlab.engine import reference_pooling as reference


@st.composite
def pad_cases(draw):
    """A mode, an input shape and per-axis (lo, hi) widths within the mode's limits."""
    mode = draw(st.sampled_from(engine.MODES))
    nd = draw(st.integers(1, 3))
    I = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    widths = []
    for i in I:
        top = {"constant": i + 2, "reflect": i - 1, "replicate": i + 2, "circular": i}[mode]
        lo = draw(st.integers(-(i - 1), top))
        hi = draw(st.integers(-(i - 1), top))
        kept = i - max(-lo, 0) - max(-hi, 0)  # what cropping leaves
        if mode == "circular":
            assume(kept >= 1 and lo <= kept and hi <= kept)
        else:
            assume(lo + i + hi >= (0 if mode == "constant" else 1))
        widths.append((lo, hi))
    return mode, I, tuple(widths)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(pad_cases(), st.integers(0, 2**16))
def test_pad_matches_reference_and_its_adjoint(case, seed):
    mode, I, widths = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2,) + I)
    y = engine.pad(x, widths, mode, value=1.5)
    y_ref = reference.pad(x, widths, mode, value=1.5)
    assert y.shape == engine.padded_shape(x.shape, widths) == y_ref.shape
    np.testing.assert_array_equal(y, y_ref)
    gy = rng.standard_normal(y.shape)
    gx = engine.pad_backward(gy, x.shape, widths, mode)
    assert gx.shape == x.shape
    zero_fill = engine.pad(x, widths, mode, value=0)  # the linear part of constant padding
    np.testing.assert_allclose(np.vdot(zero_fill, gy), np.vdot(x, gx), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode, expected", [
    ("constant", [0, 0, 1, 2, 3, 4, 0]),
    ("reflect", [3, 2, 1, 2, 3, 4, 3]),
    ("replicate", [1, 1, 1, 2, 3, 4, 4]),
    ("circular", [3, 4, 1, 2, 3, 4, 1]),
])
def test_the_four_modes_on_a_row(mode, expected):
    x = np.array([1, 2, 3, 4])
    assert engine.pad(x, ((2, 1),), mode).tolist() == expected


def test_negative_widths_crop():
    x = np.array([1, 2, 3, 4, 5])
    assert engine.pad(x, ((-2, 1),), "constant").tolist() == [3, 4, 5, 0]
    assert engine.pad(x, ((-2, 1),), "reflect").tolist() == [3, 4, 5, 4]
    assert engine.pad(x, ((-2, -1),), "replicate").tolist() == [3, 4]
    # circular wraps what is left after cropping (as PyTorch)
    assert engine.pad(x, ((-2, 3),), "circular").tolist() == [3, 4, 5, 3, 4, 5]


def test_reflect_gradient_folds_back_onto_the_mirrored_elements():
    gy = np.arange(8.0)  # the output of reflect (2, 1) on 5 elements reads [2,1,0,1,2,3,4,3]
    assert engine.pad_backward(gy, (5,), ((2, 1),), "reflect").tolist() == [2, 4, 4, 12, 6]


def test_pad_never_returns_its_input():
    x = np.ones((2, 3))
    for mode in engine.MODES:
        y = engine.pad(x, ((0, 0),), mode)
        assert y is not x and not np.shares_memory(x, y)


def test_dtype_is_kept():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    for mode in engine.MODES:
        assert engine.pad(x, ((1, 1),), mode).dtype == np.int32
