"""convlab.nn.functional's conv, conv_transpose, unfold and fold: values and every gradient
against PyTorch (float32, rtol 1e-4) over hypothesis-drawn configurations, central differences
in float64 without PyTorch, and the errors for bad input."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import convlab
import convlab.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def _torch():
    return pytest.importorskip("torch")


def _close(ours, theirs):
    """rtol 1e-4 in float32, with an absolute floor at the scale of the values for entries
    that cancel to near zero."""
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * max(1.0, np.abs(theirs).max()))


def compare_with_torch(name, x, *arrays, batched=True, **kwargs):
    """Run ``F.<name>`` in convlab and PyTorch on the same arrays (input first, then weight and
    bias where the op has them); compare the output and the gradient of every array for one
    random output gradient."""
    torch = _torch()
    tF = torch.nn.functional
    arrays = (x if batched else x[0], *arrays)
    ours = [convlab.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    y = getattr(F, name)(*ours, **kwargs)
    yt = getattr(tF, name)(*theirs, **kwargs)
    _close(y.detach().numpy(), yt)
    gy = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(convlab.tensor(gy))
    yt.backward(torch.tensor(gy))
    for a, at in zip(ours, theirs):
        if a is not None:
            _close(a.grad.numpy(), at.grad)


@st.composite
def conv_args(draw, transposed=False):
    """Arguments of a random conv{1,2,3}d or conv_transpose{1,2,3}d call PyTorch accepts."""
    nd = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    C_g = draw(st.sampled_from([1, 1, 2, 3]))  # input channels per group; 1 is depthwise
    mult = draw(st.integers(1, 3))  # output channels per group: the channel multiplier
    K = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    N = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kwargs = dict(stride=stride, dilation=dilation, groups=groups)
    if transposed:
        size = tuple(draw(st.integers(1, 4)) for _ in range(nd))
        op = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        assume(all((i - 1) * s - 2 * p + d * (k - 1) + a + 1 >= 1
                   for i, s, p, d, k, a in zip(size, stride, padding, dilation, K, op)))
        x_shape, w_shape, C_out = (N, groups * mult, *size), (groups * mult, C_g, *K), groups * C_g
        kwargs.update(padding=padding, output_padding=op)
    else:
        if draw(st.integers(0, 4)) == 0:
            padding = draw(st.sampled_from(["valid", "same"]))
            if padding == "same":
                kwargs["stride"] = 1  # PyTorch refuses 'same' with a stride
            padded = (0,) * nd
        else:
            padded = padding
        size = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
                     for k, d, p in zip(K, dilation, padded))
        x_shape, w_shape, C_out = (N, groups * C_g, *size), (groups * mult, C_g, *K), groups * mult
        kwargs["padding"] = padding
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(C_out).astype(np.float32) if draw(st.booleans()) else None
    batched = draw(st.integers(0, 4)) > 0
    return nd, x, w, b, batched, kwargs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=conv_args())
def test_conv_matches_pytorch(args):
    nd, x, w, b, batched, kwargs = args
    compare_with_torch(f"conv{nd}d", x, w, b, batched=batched, **kwargs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=conv_args(transposed=True))
def test_conv_transpose_matches_pytorch(args):
    nd, x, w, b, batched, kwargs = args
    compare_with_torch(f"conv_transpose{nd}d", x, w, b, batched=batched, **kwargs)


WORKED = [  # the input [1..6] with kernels of 2s, and what each argument changes
    (1, {}), (2, {}), (3, {}),
    (2, dict(padding=1)), (2, dict(stride=2)), (2, dict(dilation=2)), (2, dict(padding="same")),
    (3, dict(padding=2, stride=3, dilation=2)),
]


@pytest.mark.parametrize("k, kwargs", WORKED)
def test_worked_examples_match_pytorch(k, kwargs):
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 6)
    compare_with_torch("conv1d", x, np.full((1, 1, k), 2, np.float32), None, **kwargs)


def test_worked_example_values():
    x = convlab.tensor([[[1., 2., 3., 4., 5., 6.]]])
    for k, expected in [(1, [2, 4, 6, 8, 10, 12]), (2, [6, 10, 14, 18, 22]), (3, [12, 18, 24, 30])]:
        assert F.conv1d(x, convlab.full((1, 1, k), 2.)).numpy().ravel().tolist() == expected


def test_worked_example_groups_match_pytorch():
    x = np.array([[[1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60]]], np.float32)
    compare_with_torch("conv1d", x, np.full((4, 1, 2), 2, np.float32), None, groups=2)


def _torch_pad_then_conv(x, w, b, pairs, **kwargs):
    """PyTorch's conv of ``x`` zero-padded by ``pairs`` ((lo, hi) per axis, first axis first)."""
    torch = _torch()
    nd = len(pairs)
    flat = [v for lo_hi in reversed(pairs) for v in lo_hi]  # F.pad starts from the last dim
    xt = torch.nn.functional.pad(torch.tensor(x), flat)
    conv = getattr(torch.nn.functional, f"conv{nd}d")
    return conv(xt, torch.tensor(w), None if b is None else torch.tensor(b), **kwargs)


@pytest.mark.parametrize("size, k, stride, dilation, pads", [
    ((224,), (7,), 2, 1, [(2, 3)]),  # TensorFlow's rule: the odd element at the end
    ((225,), (7,), 2, 1, [(3, 3)]),
    ((6, 7), (3, 2), (2, 3), 1, [(0, 1), (0, 1)]),
    ((9, 8, 5), (2, 3, 3), (3, 2, 1), (1, 2, 1), [(0, 0), (1, 2), (1, 1)]),
])
def test_same_padding_with_stride_is_tensorflows(size, k, stride, dilation, pads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, *size)).astype(np.float32)
    w = rng.standard_normal((4, 3, *k)).astype(np.float32)
    nd = len(size)
    conv = getattr(F, f"conv{nd}d")
    y = conv(convlab.tensor(x), convlab.tensor(w), stride=stride, dilation=dilation,
             padding="same")
    strides = (stride,) * nd if isinstance(stride, int) else stride
    assert tuple(y.shape[2:]) == tuple(-(-i // s) for i, s in zip(size, strides))
    _close(y.numpy(), _torch_pad_then_conv(x, w, None, pads, stride=stride, dilation=dilation))


def test_per_side_padding_matches_pad_then_conv():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    pairs = ((0, 2), (1, 0))
    y = F.conv2d(convlab.tensor(x), convlab.tensor(w), convlab.tensor(b), stride=(2, 1),
                 padding=pairs)
    _close(y.numpy(), _torch_pad_then_conv(x, w, b, pairs, stride=(2, 1)))


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 7, 6), dict(kernel_size=(3, 2), dilation=(1, 2), padding=1, stride=(2, 1))),
    ((3, 5, 5), dict(kernel_size=2)),  # unbatched
    ((1, 2, 4, 4), dict(kernel_size=3, padding=2, stride=3)),
])
def test_unfold_and_fold_match_pytorch(shape, kwargs):
    torch = _torch()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    compare_with_torch("unfold", x, **kwargs)
    cols = torch.nn.functional.unfold(torch.tensor(x), **kwargs).numpy()
    c = rng.standard_normal(cols.shape).astype(np.float32)
    compare_with_torch("fold", c, output_size=shape[-2:], **kwargs)


def test_unfold_beyond_4d():
    x = convlab.tensor(np.arange(2 * 3 * 4 * 3 * 5, dtype=np.float64).reshape(2, 3, 4, 3, 5))
    cols = F.unfold(x, (2, 2, 3), stride=(2, 1, 2))
    assert tuple(cols.shape) == (2, 3 * 12, 2 * 2 * 2)
    back = F.fold(cols, (4, 3, 5), (2, 2, 3), stride=(2, 1, 2))
    assert tuple(back.shape) == (2, 3, 4, 3, 5)


# -- gradients by central differences (float64, no PyTorch needed) -----------------------------


def numeric_grad(f, arrays, i, eps=1e-6):
    """d sum(f(*arrays) * u) / d arrays[i], by central differences, u fixed."""
    a = arrays[i]
    u = np.random.default_rng(7).standard_normal(f(*arrays).shape)
    g = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        old = a[idx]
        a[idx] = old + eps
        plus = np.vdot(f(*arrays), u)
        a[idx] = old - eps
        minus = np.vdot(f(*arrays), u)
        a[idx] = old
        g[idx] = (plus - minus) / (2 * eps)
    return g, u


@pytest.mark.parametrize("name, shapes, kwargs", [
    ("conv2d", [(2, 4, 5, 4), (6, 2, 3, 2), (6,)], dict(stride=(2, 1), padding=((1, 0), 1),
                                                        dilation=(1, 2), groups=2)),
    ("conv1d", [(3, 7), (2, 3, 3), None], dict(stride=2, padding="same")),
    ("conv_transpose2d", [(2, 4, 3, 2), (4, 3, 2, 3), (6,)], dict(stride=(2, 1), padding=1,
                                                                 output_padding=(1, 0), groups=2)),
    ("conv_transpose3d", [(1, 2, 2, 2, 2), (2, 1, 2, 1, 2), None],
     dict(stride=2, dilation=(1, 2, 1))),
])
def test_gradients_by_central_differences(name, shapes, kwargs):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) if s is not None else None for s in shapes]

    def f(*arrays):
        tensors = [convlab.tensor(a) if a is not None else None for a in arrays]
        return getattr(F, name)(*tensors, **kwargs).numpy()

    tensors = [convlab.tensor(a, requires_grad=True) if a is not None else None for a in arrays]
    for i, t in enumerate(tensors):
        if t is None:
            continue
        expected, u = numeric_grad(f, arrays, i)
        for other in tensors:
            if other is not None:
                other.grad = None
        getattr(F, name)(*tensors, **kwargs).backward(convlab.tensor(u))
        np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_unfold_fold_gradients_are_each_other():
    rng = np.random.default_rng(0)
    x = convlab.tensor(rng.standard_normal((2, 3, 5, 4)), requires_grad=True)
    cols = F.unfold(x, (2, 3), padding=1, stride=(2, 1))
    u = rng.standard_normal(tuple(cols.shape))
    cols.backward(convlab.tensor(u))
    expected = F.fold(convlab.tensor(u), (5, 4), (2, 3), padding=1, stride=(2, 1))
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy())

    c = convlab.tensor(u, requires_grad=True)
    out = F.fold(c, (5, 4), (2, 3), padding=1, stride=(2, 1))
    v = rng.standard_normal(tuple(out.shape))
    out.backward(convlab.tensor(v))
    expected = F.unfold(convlab.tensor(v), (2, 3), padding=1, stride=(2, 1))
    np.testing.assert_allclose(c.grad.numpy(), expected.numpy())


# -- dtypes and bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [convlab.float32, convlab.float64])
def test_dtype_is_kept(dtype):
    x = convlab.randn(1, 2, 5, 5, dtype=dtype, requires_grad=True)
    w = convlab.randn(3, 2, 3, 3, dtype=dtype, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype and w.grad.dtype == dtype
    t = F.conv_transpose2d(x, convlab.randn(2, 3, 3, 3, dtype=dtype), stride=2)
    assert t.dtype == dtype


def test_unbatched_input():
    x = convlab.randn(2, 6)
    w = convlab.randn(3, 2, 3)
    assert tuple(F.conv1d(x, w).shape) == (3, 4)
    np.testing.assert_allclose(F.conv1d(x, w).numpy(), F.conv1d(x[None], w).numpy()[0])
    assert tuple(F.conv_transpose1d(x, convlab.randn(2, 3, 3), stride=2).shape) == (3, 13)


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match=r"conv2d: input must be float32 or float64, got "
                                        r"convlab.int64 \(convert with input.float\(\)\)"):
        F.conv2d(convlab.ones(1, 1, 3, 3, dtype=convlab.int64), convlab.ones(1, 1, 2, 2))


def test_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match=r"conv2d: input is convlab.float64 but weight is "
                                        r"convlab.float32"):
        F.conv2d(convlab.ones(1, 1, 3, 3, dtype=convlab.float64), convlab.ones(1, 1, 2, 2))


def test_arrays_are_refused():
    with pytest.raises(TypeError, match=r"conv1d: weight must be a convlab.Tensor, got ndarray"):
        F.conv1d(convlab.ones(1, 1, 3), np.ones((1, 1, 2)))


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv2d(convlab.ones(1, 1, 28, 28), convlab.ones(6, 3, 3, 3)), ValueError,
     r"conv2d: Given groups=1, weight of size \[6, 3, 3, 3\], expected input\[1, 1, 28, 28\] to "
     r"have 3 channels"),
    (lambda: F.conv2d(convlab.ones(1, 1, 10, 10), convlab.ones(1, 1, 7, 7), dilation=2),
     ValueError, r"kernel 7 dilated to 13 does not fit the padded input 10 along dim 2: "
                 r"floor\(\(10 \+ 2\*0 - 2\*\(7-1\) - 1\) / 1\) \+ 1 = -2"),
    (lambda: F.conv2d(convlab.ones(1, 4, 5, 5), convlab.ones(4, 1, 3, 3), groups=3), ValueError,
     r"Given groups=3, expected weight to be divisible by 3 at dimension 0"),
    (lambda: F.conv1d(convlab.ones(1, 1, 5), convlab.ones(1, 1, 2), stride=0), ValueError,
     r"conv1d: non-positive stride is not supported, got stride=0"),
    (lambda: F.conv1d(convlab.ones(1, 1, 5), convlab.ones(1, 1, 2), stride=-1), ValueError,
     r"non-positive stride is not supported, got stride=-1"),
    (lambda: F.conv3d(convlab.ones(1, 1, 5, 5, 5), convlab.ones(1, 1, 2, 2, 2), dilation=0),
     ValueError, r"conv3d: dilation should be greater than zero, got dilation=0"),
    (lambda: F.conv2d(convlab.ones(28, 28), convlab.ones(6, 1, 3, 3)), ValueError,
     r"conv2d: Expected 3D \(unbatched\) or 4D \(batched\) input, but got input of size: "
     r"\[28, 28\]"),
    (lambda: F.conv_transpose2d(convlab.ones(1, 2, 3, 3), convlab.ones(2, 1, 3, 3), stride=2,
                                output_padding=2), ValueError,
     r"conv_transpose2d: output padding must be smaller than either stride or dilation, but got "
     r"output_padding=2 with stride=2 and dilation=1"),
    (lambda: F.conv2d(convlab.ones(1, 1, 5, 5), convlab.ones(1, 1, 3, 3), convlab.ones(2)),
     ValueError, r"expected bias to be 1-dimensional with 1 elements, but got bias of size \[2\]"),
    (lambda: F.unfold(convlab.ones(1, 1, 2, 2), 3), ValueError,
     r"unfold: kernel 3 does not fit the padded input 2 along dim 2"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
