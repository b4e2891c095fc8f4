"""BatchNorm (running statistics, momentum, eval mode), InstanceNorm, GroupNorm and LayerNorm
against PyTorch: outputs, every gradient, and the buffers after each step."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from twin import check_twin, copy_state, torch_repr


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def randn(*shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2 + 1).astype(dtype)


@pytest.mark.parametrize("cls,shape,kwargs", [
    ("BatchNorm1d", (6, 3), {}), ("BatchNorm1d", (4, 3, 5), {"momentum": None}),
    ("BatchNorm2d", (4, 3, 5, 6), {}), ("BatchNorm2d", (4, 3, 2, 3), {"affine": False}),
    ("BatchNorm2d", (4, 3, 2, 3), {"track_running_stats": False}),
    ("BatchNorm3d", (2, 3, 2, 3, 4), {"bias": False}),
    ("BatchNorm3d", (2, 3, 2, 1, 2), {"momentum": 0.3, "eps": 1e-3})])
def test_batch_norm_train_then_eval(torch, cls, shape, kwargs):
    ours, theirs = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    copy_state(torch, ours, theirs)
    if ours.weight is not None:  # non-trivial affine parameters
        ours.weight.data.copy_(convlab.tensor([0.5, 2.0, -1.0]))
        theirs.weight.data.copy_(torch.tensor([0.5, 2.0, -1.0]))
    for step in range(3):  # training steps update the running statistics the same way
        check_twin(torch, ours, theirs, randn(*shape, seed=step), copy=False, rtol=1e-4,
                   atol=1e-5)
    ours.eval(), theirs.eval()
    check_twin(torch, ours, theirs, randn(*shape, seed=9), copy=False, rtol=1e-4, atol=1e-5)


def test_batch_norm_float64_matches_tightly(torch):
    ours = nn.BatchNorm2d(3, dtype=convlab.float64)
    theirs = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    check_twin(torch, ours, theirs, randn(4, 3, 2, 2, dtype=np.float64), rtol=1e-10,
               atol=1e-12)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(convlab.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(convlab.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when "
                                         r"training, got input size convlab.Size\(\[1, 3\]\)"):
        nn.BatchNorm1d(3)(convlab.zeros(1, 3))
    with pytest.raises(ValueError, match=r"expected running_mean of shape \[4\], got \[3\]"):
        F.batch_norm(convlab.zeros(2, 4), convlab.zeros(3), convlab.ones(3))
    bn = nn.BatchNorm1d(3).eval()
    assert bn(convlab.zeros(1, 3)).shape == (1, 3)  # eval mode: one sample is fine


@pytest.mark.parametrize("cls,shape,kwargs", [
    ("InstanceNorm1d", (2, 3, 7), {}), ("InstanceNorm2d", (4, 3, 5, 6), {"affine": True}),
    ("InstanceNorm2d", (3, 5, 6), {"track_running_stats": True}),  # unbatched
    ("InstanceNorm3d", (2, 3, 2, 3, 4), {"affine": True, "track_running_stats": True,
                                          "momentum": 0.3}),
    ("InstanceNorm2d", (2, 3, 4, 4), {"track_running_stats": True, "momentum": None})])
def test_instance_norm_train_then_eval(torch, cls, shape, kwargs):
    ours, theirs = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    if ours.weight is not None:
        ours.weight.data.copy_(convlab.tensor([0.5, 2.0, -1.0]))
    copy_state(torch, ours, theirs)
    for step in range(2):
        y, t = check_twin(torch, ours, theirs, randn(*shape, seed=step), copy=False,
                          rtol=1e-4, atol=1e-5)
    assert y.grad_fn.name() == t.grad_fn.name()
    ours.eval(), theirs.eval()
    check_twin(torch, ours, theirs, randn(*shape, seed=9), copy=False, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(convlab.zeros(2, 3, 1, 1))


@pytest.mark.parametrize("groups,channels,shape,kwargs", [
    (2, 4, (3, 4, 5), {}), (1, 6, (2, 6, 3, 3), {}), (6, 6, (2, 6, 4), {"eps": 1e-3}),
    (3, 6, (2, 6, 2, 2, 2), {"affine": False}), (2, 4, (2, 4), {"bias": False})])
def test_group_norm(torch, groups, channels, shape, kwargs):
    ours = nn.GroupNorm(groups, channels, **kwargs)
    theirs = torch.nn.GroupNorm(groups, channels, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    if ours.weight is not None:
        ours.weight.data.copy_(convlab.arange(1.0, channels + 1.0) / 2)
    check_twin(torch, ours, theirs, randn(*shape), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(4, 6)


@pytest.mark.parametrize("normalized_shape,shape,kwargs", [
    (5, (3, 5), {}), ((4, 5), (2, 3, 4, 5), {}), ([5], (2, 5), {"elementwise_affine": False}),
    (5, (4, 5), {"bias": False, "eps": 1e-2})])
def test_layer_norm(torch, normalized_shape, shape, kwargs):
    ours = nn.LayerNorm(normalized_shape, **kwargs)
    theirs = torch.nn.LayerNorm(normalized_shape, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    if ours.weight is not None:
        ours.weight.data.copy_(convlab.tensor(randn(*ours.weight.shape, seed=5)))
    check_twin(torch, ours, theirs, randn(*shape), rtol=1e-4, atol=1e-5)


def test_layer_norm_shape_error():
    with pytest.raises(ValueError, match=r"Given normalized_shape=\[5\], expected input with "
                                         r"shape \[\*, 5\], but got input of size \[2, 4\]"):
        nn.LayerNorm(5)(convlab.zeros(2, 4))
