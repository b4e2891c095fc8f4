"""Pooling, unpooling, padding and fold layers against PyTorch: reprs, outputs, gradients."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from twin import check_twin, torch_repr


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def spatial(nd, batched=True, C=2):
    return ((2,) if batched else ()) + (C,) + (7, 6, 5)[:nd]


LAYERS = [
    ("MaxPool1d", (2,), {}), ("MaxPool1d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}),
    ("MaxPool2d", (2,), {}), ("MaxPool2d", ((3, 2),), {"stride": 1, "padding": (1, 0)}),
    ("MaxPool3d", (2,), {"ceil_mode": True}),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1}),
    ("AvgPool1d", (2,), {"count_include_pad": False, "ceil_mode": True}),
    ("AvgPool2d", (3, 2, 1), {"count_include_pad": False}),
    ("AvgPool2d", (2,), {"divisor_override": 3}), ("AvgPool3d", ((2, 2, 1),), {}),
    ("LPPool1d", (2, 3), {}), ("LPPool2d", (1.5, 2), {"stride": 1}),
    ("LPPool3d", (2, 2), {"ceil_mode": True}),
    ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((None, 4),), {}),
    ("AdaptiveAvgPool3d", (2,), {}), ("AdaptiveMaxPool1d", (4,), {}),
    ("AdaptiveMaxPool2d", ((3, 2),), {}), ("AdaptiveMaxPool3d", ((1, 2, 3),), {}),
    ("ZeroPad1d", ((1, 2),), {}), ("ZeroPad2d", (2,), {}), ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), {}),
    ("ConstantPad1d", (2, 3.5), {}), ("ConstantPad2d", ((1, 2, 0, 1), -1.0), {}),
    ("ConstantPad3d", (1, 0.0), {}), ("ReflectionPad1d", (2,), {}),
    ("ReflectionPad2d", ((1, 2, 2, 0),), {}), ("ReflectionPad3d", (1,), {}),
    ("ReplicationPad1d", ((3, 1),), {}), ("ReplicationPad2d", (2,), {}),
    ("ReplicationPad3d", (1,), {}), ("CircularPad1d", (2,), {}),
    ("CircularPad2d", ((1, 2, 0, 3),), {}),
    ("CircularPad3d", (1,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", LAYERS)
@pytest.mark.parametrize("batched", [True, False])
def test_layer(torch, name, args, kwargs, batched):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    nd = int(name[-2])
    check_twin(torch, ours, theirs, randn(*spatial(nd, batched)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_indices_and_unpool(torch, nd):
    kwargs = {"stride": 2, "padding": 1}
    pool, tpool = (getattr(nn, f"MaxPool{nd}d")(3, return_indices=True, **kwargs),
                   getattr(torch.nn, f"MaxPool{nd}d")(3, return_indices=True, **kwargs))
    unpool, tunpool = (getattr(nn, f"MaxUnpool{nd}d")(3, **kwargs),
                       getattr(torch.nn, f"MaxUnpool{nd}d")(3, **kwargs))
    assert repr(unpool) == torch_repr(tunpool) and repr(pool) == torch_repr(tpool)
    x = randn(*spatial(nd))
    y, i = pool(convlab.tensor(x))
    ty, ti = tpool(torch.from_numpy(x))
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    size = x.shape[2:]
    check_twin(torch, unpool, tunpool, y.numpy(),
               call=lambda m, a: m(a, i if m is unpool else ti, output_size=size))
    ada, tada = (getattr(nn, f"AdaptiveMaxPool{nd}d")(2, return_indices=True),
                 getattr(torch.nn, f"AdaptiveMaxPool{nd}d")(2, return_indices=True))
    np.testing.assert_array_equal(ada(convlab.tensor(x))[1].numpy(), tada(torch.from_numpy(x))[1])


def test_unfold_fold(torch):
    for ours, theirs, shape in [
            (nn.Unfold(2), torch.nn.Unfold(2), (2, 3, 4, 5)),
            (nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
             torch.nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (1, 2, 5, 6)),
            (nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2), (2, 12, 12)),
            (nn.Fold(5, 3, padding=1, stride=2), torch.nn.Fold(5, 3, padding=1, stride=2),
             (1, 9, 9))]:
        assert repr(ours) == torch_repr(theirs)
        check_twin(torch, ours, theirs, randn(*shape))
