"""``convlab.nn.functional`` pooling: values, indices and every gradient agree with PyTorch for
random configurations (hypothesis), gradients agree with finite differences in float64, and bad
input raises an error that names the argument and shows the numbers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convlab
import convlab.nn.functional as F
from convlab.engine.pooling import pool_output_size

RTOL = 1e-4  # float32 against PyTorch


def numerical_grad(f, x: np.ndarray, gy: np.ndarray, eps=1e-6) -> np.ndarray:
    """Central differences of ``<f(x), gy>`` with respect to every element of ``x`` (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = np.vdot(f(x), gy)
        x[i] = old - eps
        down = np.vdot(f(x), gy)
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def check_grad(fn, x: np.ndarray, seed=0):
    """convlab's backward of ``fn`` equals central differences (float64)."""
    t = convlab.tensor(x, requires_grad=True)
    y = fn(t)
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(convlab.tensor(gy))
    expected = numerical_grad(lambda a: fn(convlab.tensor(a)).numpy(), x.copy(), gy)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# against PyTorch, configurations drawn by hypothesis


@st.composite
def configurations(draw):
    """An op, its arguments (every pooling option) and an input shape, batched or not."""
    nd = draw(st.integers(1, 3))
    op = draw(st.sampled_from(["max", "avg", "lp", "adaptive_max", "adaptive_avg", "unpool"]))
    C = draw(st.integers(1, 3))
    lead = (draw(st.integers(1, 2)), C) if draw(st.booleans()) else (C,)
    K = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = draw(st.none() | st.just(tuple(draw(st.integers(1, 3)) for _ in range(nd))))
    S = K if stride is None else stride
    P = tuple(draw(st.integers(0, k // 2)) for k in K) if op in ("max", "avg", "unpool") else (0,) * nd
    D = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if op == "max" else (1,) * nd
    ceil_mode = draw(st.booleans()) and op != "unpool"
    I = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 3)) for k, p, d in zip(K, P, D))
    if op == "avg" and nd == 3:  # PyTorch's avg_pool3d (only) wants the input >= the kernel
        I = tuple(max(i, k) for i, k in zip(I, K))
    if op.startswith("adaptive"):
        I = tuple(draw(st.integers(1, 6)) for _ in range(nd))
    if op not in ("adaptive_max", "adaptive_avg") and min(pool_output_size(I, K, S, P, D, ceil_mode)) < 1:
        I = tuple(i + d * (k - 1) + 1 for i, k, d in zip(I, K, D))
    kwargs = {}
    if op == "max":
        kwargs = dict(kernel_size=K, stride=stride, padding=P, dilation=D, ceil_mode=ceil_mode,
                      return_indices=draw(st.booleans()))
    elif op == "avg":
        kwargs = dict(kernel_size=K, stride=stride, padding=P, ceil_mode=ceil_mode,
                      count_include_pad=draw(st.booleans()))
        if nd > 1:
            kwargs["divisor_override"] = draw(st.sampled_from([None, 2, 5]))
    elif op == "lp":
        kwargs = dict(norm_type=draw(st.sampled_from([1, 2, 3, 1.5, float("inf")])),
                      kernel_size=K[0] if nd == 1 else K,  # torch's lp_pool1d takes an int
                      stride=stride, ceil_mode=ceil_mode)
    elif op.startswith("adaptive"):
        out = tuple(draw(st.integers(1, 5)) for _ in range(nd))
        if nd > 1 and draw(st.booleans()):
            out = (None,) + out[1:]
        kwargs = dict(output_size=out)
        if op == "adaptive_max":
            kwargs["return_indices"] = draw(st.booleans())
    else:
        kwargs = dict(kernel_size=K, stride=stride, padding=P)
    return nd, op, lead + I, kwargs


def _call(module, nd, op, x, kwargs, indices=None):
    """The same call on ``module`` (convlab's F or torch's)."""
    name = {"max": "max_pool", "avg": "avg_pool", "lp": "lp_pool", "adaptive_max":
            "adaptive_max_pool", "adaptive_avg": "adaptive_avg_pool", "unpool": "max_unpool"}[op]
    fn = getattr(module, f"{name}{nd}d")
    if op == "lp":
        kwargs = dict(kwargs)
        return fn(x, kwargs.pop("norm_type"), **kwargs)
    if op == "unpool":
        return fn(x, indices, **kwargs)
    return fn(x, **kwargs)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(configurations(), st.integers(0, 2**16))
def test_values_indices_and_gradients_match_pytorch(configuration, seed):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    nd, op, shape, kwargs = configuration
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    if op == "lp" and kwargs["norm_type"] == 1.5:
        x = np.abs(x) + 0.1  # a fractional power of a negative number is NaN in both
    ours, theirs = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if op == "unpool":
        pool = dict(kernel_size=kwargs["kernel_size"], stride=kwargs["stride"],
                    padding=kwargs["padding"], return_indices=True)
        y_in, i_in = _call(tF, nd, "max", torch.tensor(x), pool)
        unpool_size = [(o - 1) * s + k - 2 * p for o, s, k, p in zip(
            y_in.shape[-nd:], kwargs["stride"] or kwargs["kernel_size"], kwargs["kernel_size"],
            kwargs["padding"])]
        if i_in.numel() and i_in.max() >= np.prod(unpool_size):  # PyTorch refuses it too
            with pytest.raises(ValueError, match="invalid max index"):
                _call(F, nd, op, convlab.from_numpy(y_in.numpy()), kwargs,
                      convlab.from_numpy(i_in.numpy()))
            return
        ours = convlab.tensor(y_in.numpy(), requires_grad=True)
        theirs = y_in.clone().requires_grad_(True)
        indices = (convlab.from_numpy(i_in.numpy()), i_in)
    else:
        indices = (None, None)
    y = _call(F, nd, op, ours, kwargs, indices[0])
    y_t = _call(tF, nd, op, theirs, kwargs, indices[1])
    if kwargs.get("return_indices"):
        (y, i), (y_t, i_t) = y, y_t
        assert i.dtype == convlab.int64
        np.testing.assert_array_equal(i.numpy(), i_t.numpy())
    assert tuple(y.shape) == tuple(y_t.shape)
    assert y.dtype == convlab.float32
    np.testing.assert_allclose(y.detach().numpy(), y_t.detach().numpy(), rtol=RTOL, atol=1e-5)
    gy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(convlab.tensor(gy))
    y_t.backward(torch.tensor(gy))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=RTOL, atol=1e-5)


def test_ties_nan_and_minus_infinity_follow_pytorch():
    torch = pytest.importorskip("torch")
    rows = [[3., 3., 1., 3.], [np.nan, 1., np.nan, 2.], [-np.inf] * 4, [1., 1., 1., 1.]]
    x = np.array([rows], dtype=np.float32)  # (1, 4, 4): each row a channel
    for kwargs in [dict(kernel_size=4), dict(kernel_size=2, stride=1, padding=1),
                   dict(kernel_size=2, dilation=2, ceil_mode=True)]:
        y, i = F.max_pool1d(convlab.tensor(x), **kwargs, return_indices=True)
        y_t, i_t = torch.nn.functional.max_pool1d(torch.tensor(x), **kwargs, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), y_t.numpy())
        np.testing.assert_array_equal(i.numpy(), i_t.numpy())
    y, i = F.adaptive_max_pool1d(convlab.tensor(x), 3, return_indices=True)
    y_t, i_t = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), 3, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), y_t.numpy())
    np.testing.assert_array_equal(i.numpy(), i_t.numpy())


def test_lp_pool_gradient_is_zero_where_the_window_is_zero():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 4, 4))
    x[0, :2, :2] = [[1., -2.], [0.5, 3.]]
    ours, theirs = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.lp_pool2d(ours, 2, 2).sum().backward()
    torch.nn.functional.lp_pool2d(theirs, 2, 2).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    assert (ours.grad.numpy()[0, 2:, 2:] == 0).all()


# ---------------------------------------------------------------------------------------------
# gradients against finite differences (float64), no PyTorch needed


@pytest.mark.parametrize("fn, shape", [
    (lambda t: F.max_pool2d(t, 3, stride=2, padding=1, ceil_mode=True), (2, 5, 5)),
    (lambda t: F.max_pool1d(t, 2, stride=1, dilation=2), (1, 2, 7)),
    (lambda t: F.max_pool3d(t, (1, 2, 2), stride=(1, 1, 2)), (1, 2, 3, 4, 4)),
    (lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     (2, 5, 6)),
    (lambda t: F.avg_pool3d(t, 2, padding=1, divisor_override=3), (1, 3, 3, 4)),
    (lambda t: F.avg_pool1d(t, 3, stride=2, padding=1), (2, 2, 6)),
    (lambda t: F.lp_pool2d(t, 2, 2, ceil_mode=True), (1, 5, 5)),
    (lambda t: F.lp_pool1d(t, 3, 2, stride=1), (2, 6)),
    (lambda t: F.lp_pool3d(t, 1.5, 2), (1, 2, 4, 4)),
    (lambda t: F.adaptive_avg_pool2d(t, (3, 2)), (2, 5, 5)),
    (lambda t: F.adaptive_max_pool2d(t, (3, None)), (2, 5, 4)),
    (lambda t: F.adaptive_max_pool1d(t, 4), (2, 7)),
    (lambda t: F.adaptive_avg_pool3d(t, 2), (1, 3, 3, 5)),
], ids=["max2d", "max1d-dilated", "max3d", "avg2d-ceil", "avg3d-divisor", "avg1d", "lp2d",
        "lp1d", "lp3d", "adaptive-avg2d", "adaptive-max2d", "adaptive-max1d", "adaptive-avg3d"])
def test_gradients_match_finite_differences(fn, shape):
    x = np.random.default_rng(1).standard_normal(shape) + 3.0  # positive, for lp_pool's powers
    check_grad(fn, x)


def test_max_unpool_gradient_matches_finite_differences():
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 6))
    _, indices = F.max_pool2d(convlab.tensor(x), 2, return_indices=True)
    y = np.random.default_rng(3).standard_normal(tuple(indices.shape))
    check_grad(lambda t: F.max_unpool2d(t, indices, 2), y)


def test_overlapping_windows_accumulate_the_gradient_of_a_shared_maximum():
    x = convlab.tensor([[[0., 5., 0., 0.]]], requires_grad=True)
    F.max_pool1d(x, 3, stride=1).sum().backward()  # both windows pick x[1]
    assert x.grad.tolist() == [[[0., 2., 0., 0.]]]


# ---------------------------------------------------------------------------------------------
# shapes, dtypes, graph


def test_unbatched_input_gives_the_batched_result_without_the_batch_dim():
    x = np.random.default_rng(0).standard_normal((3, 7, 6)).astype(np.float32)
    for fn in [lambda t: F.max_pool2d(t, 2, ceil_mode=True), lambda t: F.avg_pool2d(t, 3, 2, 1),
               lambda t: F.adaptive_max_pool2d(t, 4), lambda t: F.lp_pool2d(t, 2, 3)]:
        batched = fn(convlab.tensor(x[None])).numpy()
        np.testing.assert_array_equal(fn(convlab.tensor(x)).numpy(), batched[0])


def test_return_indices_feed_max_unpool():
    x = convlab.tensor([[[[1., 2., 5., 0.], [3., 4., 1., 1.]]]])
    y, i = F.max_pool2d(x, 2, return_indices=True)
    assert i.dtype == convlab.int64 and i.tolist() == [[[[5, 2]]]]
    assert not i.requires_grad
    restored = F.max_unpool2d(y, i, 2)
    assert restored.tolist() == [[[[0., 0., 5., 0.], [0., 4., 0., 0.]]]]
    assert F.max_unpool2d(y, i, 2, output_size=(1, 1, 3, 5)).shape == (1, 1, 3, 5)


def test_lp_pool_with_infinite_norm_is_the_max_of_magnitudes():
    x = convlab.tensor([[[1., -4., 2., 3.]]])
    assert F.lp_pool1d(x, float("inf"), 2).tolist() == [[[4., 3.]]]
    assert F.lp_pool1d(x, float("-inf"), 2).tolist() == [[[1., 2.]]]


def test_dtypes_are_kept_and_integers_only_go_to_max_pool():
    x64 = convlab.tensor(np.ones((1, 4, 4)))
    for fn in [lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 2),
               lambda t: F.adaptive_avg_pool2d(t, 3), lambda t: F.lp_pool2d(t, 2, 2)]:
        assert fn(x64).dtype == convlab.float64
    xi = convlab.tensor([[[-1, -2], [-3, -5]]])
    assert F.max_pool2d(xi, 2, padding=1).tolist() == [[[-1, -2], [-3, -5]]]
    with pytest.raises(TypeError, match=r"avg_pool2d: input must have a floating point dtype, "
                                        r"got convlab.int64"):
        F.avg_pool2d(xi, 2)


def test_no_graph_without_grad():
    x = convlab.randn(1, 2, 4, 4, requires_grad=True)
    with convlab.no_grad():
        y = F.max_pool2d(x, 2)
    assert not y.requires_grad and y.grad_fn is None
    assert F.max_pool2d(x, 2).requires_grad


# ---------------------------------------------------------------------------------------------
# errors: each names the argument and shows the numbers


x4 = convlab.zeros(1, 1, 4, 4)


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.max_pool2d(np.zeros((1, 4, 4)), 2), TypeError, r"max_pool2d: input must be a convlab.Tensor, got ndarray"),
    (lambda: F.max_pool2d(convlab.zeros(4, 4), 2), ValueError, r"Expected 3D \(unbatched\) or 4D \(batched\) input, but got input of size: \[4, 4\]"),
    (lambda: F.max_pool2d(convlab.zeros(1, 0, 4, 4), 2), ValueError, r"dimension 1 being empty"),
    (lambda: F.max_pool2d(x4.bool(), 2), TypeError, r"max_pool2d: input must have a floating point or integer dtype, got convlab.bool"),
    (lambda: F.max_pool2d(x4, 2.5), TypeError, r"max_pool2d: kernel_size must be an int or a tuple of 2 ints"),
    (lambda: F.max_pool2d(x4, (2, 2, 2)), ValueError, r"max_pool2d: kernel_size must be an int or a tuple of 2 ints, got \(2, 2, 2\)"),
    (lambda: F.max_pool2d(x4, (3, -1)), ValueError, r"max_pool2d: kernel_size must be greater than zero, but got kernel_size=\(3, -1\)"),
    (lambda: F.max_pool2d(x4, 2, stride=0), ValueError, r"max_pool2d: stride must be greater than zero, but got stride=0"),
    (lambda: F.max_pool2d(x4, 2, padding=-1), ValueError, r"max_pool2d: padding must be non-negative, but got padding=-1"),
    (lambda: F.max_pool2d(x4, 2, dilation=(1, 0)), ValueError, r"max_pool2d: dilation must be greater than zero, but got dilation=\(1, 0\)"),
    (lambda: F.max_pool2d(x4, 3, padding=2), ValueError, r"max_pool2d: pad should be smaller than or equal to half of kernel size, but got padding=2 and kernel_size=3 \(dim 2: 2 > 3/2\)"),
    (lambda: F.max_pool2d(convlab.zeros(1, 1, 1, 1), 3), ValueError, r"max_pool2d: Given input size: \(1x1x1\). Calculated output size: \(1x0x0\). Output size is too small along dim 2: floor\(\(1 \+ 2\*0 - 1\*\(3-1\) - 1\) / 3\) \+ 1 = 0"),
    (lambda: F.max_pool1d(convlab.zeros(1, 1, 3), 2, dilation=3), ValueError, r"max_pool1d: Given input size: \(1x3\). Calculated output size: \(1x0\). Output size is too small along dim 2: floor\(\(3 \+ 2\*0 - 3\*\(2-1\) - 1\) / 2\) \+ 1 = 0"),
    (lambda: F.avg_pool2d(x4, 2, divisor_override=0), ValueError, r"avg_pool2d: divisor must be not zero, got divisor_override=0"),
    (lambda: F.avg_pool2d(x4, 2, divisor_override=1.5), TypeError, r"avg_pool2d: divisor_override must be an int or None, got 1.5"),
    (lambda: F.avg_pool3d(convlab.zeros(1, 4, 4, 4), 3, padding=2), ValueError, r"avg_pool3d: pad should be smaller than or equal to half of kernel size, but got padding=2 and kernel_size=3"),
    (lambda: F.lp_pool2d(x4, 0, 2), ValueError, r"lp_pool2d: norm_type must be non-zero .* got norm_type=0"),
    (lambda: F.lp_pool2d(x4, "2", 2), TypeError, r"lp_pool2d: norm_type must be a number, got '2'"),
    (lambda: F.adaptive_avg_pool2d(x4, (-1, 2)), ValueError, r"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0, but got output_size=\(-1, 2\)"),
    (lambda: F.adaptive_max_pool2d(x4, (1, 2, 3)), ValueError, r"adaptive_max_pool2d: output_size must be an int or a tuple of 2 ints, got \(1, 2, 3\)"),
    (lambda: F.adaptive_max_pool2d(x4, 1.5), TypeError, r"adaptive_max_pool2d: output_size must be an int or a tuple of 2 ints \(or None\), got float"),
    (lambda: F.adaptive_avg_pool1d(convlab.zeros(1, 4, 0), 2), ValueError, r"adaptive_avg_pool1d: .*input has sizes \[1, 4, 0\] with dimension 2 being empty"),
    (lambda: F.max_unpool2d(x4, convlab.zeros(1, 1, 4, 4), 2), TypeError, r"max_unpool2d: elements in indices should be type int64 but got: convlab.float32"),
    (lambda: F.max_unpool2d(x4, convlab.zeros(1, 1, 2, 2, dtype=convlab.int64), 2), ValueError, r"max_unpool2d: Expected shape of indices to be same as that of the input tensor \(\[1, 1, 4, 4\]\) but got indices tensor with shape: \[1, 1, 2, 2\]"),
    (lambda: F.max_unpool2d(x4, convlab.full((1, 1, 4, 4), 64, dtype=convlab.int64), 2), ValueError, r"max_unpool2d: Found an invalid max index: 64 \(output volumes are of size 8x8"),
    (lambda: F.max_unpool2d(x4, convlab.zeros(1, 1, 4, 4, dtype=convlab.int64), 2, output_size=(11, 8)), ValueError, r"max_unpool2d: invalid output_size \(11, 8\) \(dim 0 must be between 6 and 10, exclusive: the default \(4 - 1\)\*2 \+ 2 - 2\*0 = 8"),
    (lambda: F.max_unpool2d(x4, convlab.zeros(1, 1, 4, 4, dtype=convlab.int64), 2, output_size=(8, 8, 8)), ValueError, r"max_unpool2d: output_size should be a sequence containing 2 or 4 elements, but it has a length of 3"),
    (lambda: F.max_unpool1d(convlab.zeros(1, 1, 1), convlab.zeros(1, 1, 1, dtype=convlab.int64), 1, padding=1), ValueError, r"max_unpool1d: output_size must contain non-negative spatial dimensions, but got output_size\[0\]=-1 \(from \(1 - 1\)\*1 \+ 1 - 2\*1\)"),
])
def test_bad_input_raises_a_message_with_the_numbers(call, error, match):
    with pytest.raises(error, match=match):
        call()
