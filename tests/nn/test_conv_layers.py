"""Convolution layers against PyTorch: Conv1d/2d/3d (every padding form and padding mode,
dilation, groups, bias), ConvTranspose1d/2d/3d (output_padding, output_size), the lazy forms;
outputs, every gradient, reprs and constructor errors."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from twin import check_twin, to_torch, torch_repr


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def randn(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


CONV = [
    (1, (4, 6, 3), {}),
    (1, (4, 6, 3), {"stride": 2, "padding": 1, "bias": False}),
    (1, (4, 4, 3), {"padding": "same", "dilation": 2, "groups": 2, "padding_mode": "reflect"}),
    (1, (2, 4, 4), {"padding": 2, "padding_mode": "circular"}),
    (2, (3, 6, 3), {}),
    (2, (3, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)}),
    (2, (4, 4, 3), {"padding": "same", "groups": 4, "bias": False, "padding_mode": "reflect"}),
    (2, (2, 4, 4), {"padding": "same", "padding_mode": "replicate"}),  # even kernel
    (2, (2, 4, 3), {"padding": 1, "padding_mode": "circular", "stride": 2}),
    (2, (2, 3, 3), {"padding": "valid"}),
    (3, (2, 4, 2), {"padding": 1, "groups": 2}),
    (3, (2, 3, (1, 2, 3)), {"padding": "same", "padding_mode": "replicate"}),
]


@pytest.mark.parametrize("nd,args,kwargs", CONV)
@pytest.mark.parametrize("batched", [True, False])
def test_conv(torch, nd, args, kwargs, batched):
    name = f"Conv{nd}d"
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    shape = ((2,) if batched else ()) + (args[0],) + (7, 6, 5)[:nd]
    check_twin(torch, ours, theirs, randn(*shape), rtol=1e-4, atol=1e-5)


TRANSPOSED = [
    (1, (4, 6, 3), {}),
    (1, (4, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1, "bias": False}),
    (2, (4, 6, 3), {"stride": 2, "groups": 2, "dilation": 2, "output_padding": 1}),
    (2, (2, 3, (2, 3)), {"stride": (2, 3), "padding": (0, 1), "output_padding": (1, 2)}),
    (3, (2, 4, 2), {"stride": 2, "groups": 2}),
]


@pytest.mark.parametrize("nd,args,kwargs", TRANSPOSED)
@pytest.mark.parametrize("batched", [True, False])
def test_conv_transpose(torch, nd, args, kwargs, batched):
    name = f"ConvTranspose{nd}d"
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    shape = ((2,) if batched else ()) + (args[0],) + (5, 4, 3)[:nd]
    check_twin(torch, ours, theirs, randn(*shape), rtol=1e-4, atol=1e-5)


def test_conv_transpose_output_size(torch):
    ours, theirs = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), \
        torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = randn(1, 3, 5, 5)
    for size in [(10, 9), [1, 2, 9, 10], (9, 9)]:
        y, t = check_twin(torch, ours, theirs, x, call=lambda m, a: m(a, output_size=size))
        assert tuple(y.shape[-2:]) == tuple(size[-2:])
    with pytest.raises(ValueError, match=r"requested an output size of \(12, 9\), but valid sizes "
                                         r"range from \(9, 9\) to \(10, 10\)"):
        ours(convlab.zeros(1, 3, 5, 5), output_size=(12, 9))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        ours(convlab.zeros(1, 3, 5, 5), output_size=(1, 10, 9))


def _torch_error(fn):
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("args,kwargs", [
    ((4, 4, 3), {"groups": 0}),
    ((3, 4, 3), {"groups": 2}),
    ((4, 3, 3), {"groups": 2}),
    ((4, 4, 3), {"padding": "full"}),
    ((4, 4, 3), {"padding_mode": "mirror"}),
])
def test_conv_constructor_errors_read_as_torch_s(torch, args, kwargs):
    with pytest.raises(ValueError) as ours:
        nn.Conv2d(*args, **kwargs)
    theirs = _torch_error(lambda: torch.nn.Conv2d(*args, **kwargs))
    assert str(ours.value).startswith(theirs.split("{")[0].split(", got")[0])


def test_conv_transpose_refuses_other_padding_modes(torch):
    message = _torch_error(lambda: torch.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"))
    with pytest.raises(ValueError, match=message):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


def test_strided_same_padding_extension():
    conv = nn.Conv2d(1, 1, 3, stride=2, padding="same")  # PyTorch refuses; convlab follows TF
    assert conv(convlab.zeros(1, 1, 7, 6)).shape == (1, 1, 4, 3)
    with pytest.raises(ValueError, match="works with padding_mode='zeros' only"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same", padding_mode="reflect")


@pytest.mark.parametrize("make_ours,make_theirs,shape", [
    (lambda: nn.LazyConv2d(4, 3, padding=1), lambda T: T.LazyConv2d(4, 3, padding=1),
     (2, 3, 5, 5)),
    (lambda: nn.Conv2d(None, 4, 3, groups=2), lambda T: T.LazyConv2d(4, 3, groups=2),
     (2, 6, 5, 5)),
    (lambda: nn.LazyConv1d(3, 2, bias=False), lambda T: T.LazyConv1d(3, 2, bias=False), (2, 5)),
    (lambda: nn.LazyConv3d(2, 2), lambda T: T.LazyConv3d(2, 2), (1, 2, 3, 3, 3)),
    (lambda: nn.LazyConvTranspose2d(4, 3, stride=2),
     lambda T: T.LazyConvTranspose2d(4, 3, stride=2),
     (2, 3, 4, 4)),
    (lambda: nn.LazyConvTranspose1d(2, 3), lambda T: T.LazyConvTranspose1d(2, 3), (3, 5)),
    (lambda: nn.LazyConvTranspose3d(2, 2), lambda T: T.LazyConvTranspose3d(2, 2), (1, 2, 2, 2, 2)),
])
def test_lazy_conv(torch, make_ours, make_theirs, shape):
    ours, theirs = make_ours(), make_theirs(torch.nn)
    if type(ours).__name__.startswith("Lazy"):
        assert repr(ours) == torch_repr(theirs)
    else:
        assert repr(ours) == torch_repr(theirs).replace("LazyConv2d", "Conv2d")
    assert repr(ours.weight) == "<UninitializedParameter>"
    x = randn(*shape)
    theirs(to_torch(torch, x))  # materialize the twin
    convlab.manual_seed(0)
    ours(convlab.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__  # e.g. Conv2d
    assert ours.in_channels == theirs.in_channels
    assert repr(ours) == torch_repr(theirs)
    # the initialization used the inferred fan_in
    fan_in = ours.weight.shape[1] * int(np.prod(ours.kernel_size))
    assert np.abs(ours.weight.detach().numpy()).max() <= 1 / np.sqrt(fan_in)
    check_twin(torch, ours, theirs, x, rtol=1e-4, atol=1e-5)


def test_lazy_conv_errors_and_state_dict():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to "
                                           r"LazyConv2d, but got input of size: "
                                           r"convlab.Size\(\[5, 5\]\)"):
        nn.LazyConv2d(2, 3)(convlab.zeros(5, 5))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(2, 3, groups=2)(convlab.zeros(1, 3, 5, 5))
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        nn.LazyConv2d(2, 3).weight.shape
    trained = nn.Conv2d(3, 2, 3)
    lazy = nn.LazyConv2d(2, 3)
    assert list(lazy.state_dict()) == ["weight", "bias"]
    lazy.load_state_dict(trained.state_dict())  # a checkpoint gives the shapes
    assert type(lazy) is nn.Conv2d and lazy.in_channels == 3
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), trained.weight.detach().numpy())
    assert lazy.to(convlab.float64) is lazy
    late = nn.LazyConv2d(2, 3).double()
    late(convlab.zeros(1, 3, 4, 4, dtype=convlab.float64))
    assert late.weight.dtype == convlab.float64


def test_conv_float64_and_weights_from_torch(torch):
    theirs = torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64)
    ours = nn.Conv2d(2, 3, 3, padding=1, dtype=convlab.float64)
    ours.load_state_dict({k: convlab.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    check_twin(torch, ours, theirs, randn(2, 2, 5, 5, dtype=np.float64), rtol=1e-10,
               atol=1e-12, copy=False)
