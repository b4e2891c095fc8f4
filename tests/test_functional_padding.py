"""``convlab.nn.functional.pad``: values and gradients agree with PyTorch in every mode
(negative pads included), and bad input raises an error that names the argument."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import convlab
import convlab.nn.functional as F


@st.composite
def pad_calls(draw):
    """A mode and a flat ``pad`` that PyTorch accepts: non-constant modes pad the last 1-3 dims
    of an input with 1 or 2 more dims; negative amounts crop."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, 3))
    extra = draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(0, 2))
    shape = tuple(draw(st.integers(1, 3)) for _ in range(extra)) + tuple(
        draw(st.integers(1, 5)) for _ in range(k))
    pad = []
    for i in reversed(shape[extra:]):  # the last dim first
        top = {"constant": i + 2, "reflect": i - 1, "replicate": i + 2, "circular": i}[mode]
        lo, hi = draw(st.integers(-(i - 1), top)), draw(st.integers(-(i - 1), top))
        kept = i - max(-lo, 0) - max(-hi, 0)
        if mode == "circular":
            assume(kept >= 1 and lo <= kept and hi <= kept)
        else:
            assume(lo + i + hi >= 1)
        pad += [lo, hi]
    value = draw(st.sampled_from([None, 0.0, -2.5])) if mode == "constant" else None
    return shape, tuple(pad), mode, value


@settings(max_examples=100, deadline=None, derandomize=True)
@given(pad_calls(), st.integers(0, 2**16))
def test_pad_matches_pytorch(call, seed):
    torch = pytest.importorskip("torch")
    shape, pad, mode, value = call
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.pad(ours, pad, mode=mode, value=value)
    y_t = torch.nn.functional.pad(theirs, pad, mode=mode, value=value)
    assert tuple(y.shape) == tuple(y_t.shape)
    np.testing.assert_array_equal(y.detach().numpy(), y_t.detach().numpy())
    gy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(convlab.tensor(gy))
    y_t.backward(torch.tensor(gy))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_gradient_matches_finite_differences(mode):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    t = convlab.tensor(x, requires_grad=True)
    y = F.pad(t, (2, -1, 1, 2), mode=mode)
    gy = np.random.default_rng(1).standard_normal(tuple(y.shape))
    y.backward(convlab.tensor(gy))
    eps, expected = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        up = F.pad(convlab.tensor(x + d), (2, -1, 1, 2), mode=mode).numpy()
        down = F.pad(convlab.tensor(x - d), (2, -1, 1, 2), mode=mode).numpy()
        expected[i] = np.vdot(up - down, gy) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_non_constant_modes_pad_any_number_of_trailing_dims():
    # beyond PyTorch, which allows only 1-3 dims on inputs with 1-2 more dims
    x = convlab.arange(4.).reshape(2, 2)
    assert F.pad(x, (1, 1, 1, 1), mode="replicate").shape == (4, 4)
    assert F.pad(convlab.arange(3.), (1, 1), mode="reflect").tolist() == [1., 0., 1., 2., 1.]


def test_constant_value_and_dtype():
    x = convlab.tensor([[1, 2]])
    y = F.pad(x, (1, 1), value=2.7)
    assert y.dtype == convlab.int64 and y.tolist() == [[2, 1, 2, 2]]  # truncated, as PyTorch
    assert F.pad(x, (0, 0)).tolist() == [[1, 2]]


@pytest.mark.parametrize("call, error, match", [
    (lambda x: F.pad(x.numpy(), (1, 1)), TypeError, r"pad: input must be a convlab.Tensor, got ndarray"),
    (lambda x: F.pad(x, 1), TypeError, r"pad: argument 'pad' must be a tuple of ints, not int"),
    (lambda x: F.pad(x, (1.5, 1)), TypeError, r"found element of type float at pos 0: pad=\(1.5, 1\)"),
    (lambda x: F.pad(x, (1, 1, 1)), ValueError, r"pad: Padding length must be divisible by 2, but got 3 values: pad=\(1, 1, 1\)"),
    (lambda x: F.pad(x, (1,) * 8), ValueError, r"pad: Padding length should be less than or equal to two times the input dimension but got padding length 8 and input of dimension 3"),
    (lambda x: F.pad(x, (1, 1), mode="mirror"), ValueError, r"pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', but got mode='mirror'"),
    (lambda x: F.pad(x, (1, 1), mode="reflect", value=3), ValueError, r"pad: Padding mode \"reflect\" doesn't take in value argument, got value=3"),
    (lambda x: F.pad(x, (1, 1), value="a"), TypeError, r"pad: value must be a number, got str"),
    (lambda x: F.pad(x, (-6, 0)), ValueError, r"pad: padding \(-6, 0\) crops more than all of dim 2 \(size 5\) of input \[1, 1, 5\] with pad=\(-6, 0\): output size -6 \+ 5 \+ 0 = -1"),
    (lambda x: F.pad(x, (5, 1), mode="reflect"), ValueError, r"pad: Padding size should be less than the corresponding input dimension for mode='reflect', but got padding \(5, 1\) for dim 2 \(size 5\) of input \[1, 1, 5\] with pad=\(5, 1\)"),
    (lambda x: F.pad(x, (-5, 0), mode="replicate"), ValueError, r"pad: padding \(-5, 0\) leaves nothing of dim 2 .*output size -5 \+ 5 \+ 0 = 0"),
    (lambda x: F.pad(x, (6, 0), mode="circular"), ValueError, r"pad: Padding value causes wrapping around more than once: padding \(6, 0\) for dim 2 \(size 5\) of input \[1, 1, 5\] with pad=\(6, 0\), which keeps 5 elements to wrap around"),
    (lambda x: F.pad(x, (-3, 3), mode="circular"), ValueError, r"wrapping around more than once: padding \(-3, 3\) .* which keeps 2 elements to wrap around"),
    (lambda x: F.pad(convlab.zeros(1, 1, 0), (1, 1), mode="reflect"), ValueError, r"pad: mode='reflect' cannot pad an empty dim: dim 2 \(size 0\) of input \[1, 1, 0\]"),
])
def test_bad_input_raises_a_message_with_the_numbers(call, error, match):
    x = convlab.arange(1., 6.).reshape(1, 1, 5)
    with pytest.raises(error, match=match):
        call(x)
