"""Upsample / F.interpolate (nearest, nearest-exact, linear modes, area) and PixelShuffle against
PyTorch: sizes, values, gradients, reprs and grad_fn names."""

import numpy as np
import pytest
from twin import check_twin, torch_repr

import convlab
import convlab.nn as nn
import convlab.nn.functional as F


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}
SHAPES = [(2, 3, 7), (2, 2, 5, 6), (1, 2, 3, 4, 5)]
SIZES = [dict(scale_factor=2), dict(scale_factor=1.7), dict(scale_factor=0.6),
         dict(scale_factor=1.3, recompute_scale_factor=True), dict(size=4), dict(size=11)]


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "linear-corners"])
def test_interpolate_matches_torch(torch, shape, mode):
    align_corners = None
    if mode.startswith("linear"):
        align_corners, mode = mode == "linear-corners", LINEAR[len(shape)]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    for kwargs in SIZES:
        t, c = torch.tensor(x, requires_grad=True), convlab.tensor(x, requires_grad=True)
        theirs = torch.nn.functional.interpolate(t, mode=mode, align_corners=align_corners,
                                                 **kwargs)
        ours = F.interpolate(c, mode=mode, align_corners=align_corners, **kwargs)
        assert ours.shape == theirs.shape and ours.grad_fn.name() == theirs.grad_fn.name()
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=str(kwargs))
        g = rng.standard_normal(tuple(theirs.shape))
        ours.backward(convlab.tensor(g))
        theirs.backward(torch.tensor(g))
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=(6, 7), mode="bilinear", align_corners=False), (2, 3, 4, 5)),
    (lambda m: m.Upsample(scale_factor=(2, 1.5, 1), mode="trilinear"), (1, 2, 3, 4, 5)),
    (lambda m: m.Upsample(size=3, mode="area"), (2, 3, 7)),
    (lambda m: m.UpsamplingNearest2d(scale_factor=3), (1, 2, 3, 3)),
    (lambda m: m.UpsamplingBilinear2d(size=(5, 8)), (1, 2, 3, 4)),
    (lambda m: m.PixelShuffle(2), (2, 8, 3, 4)),
    (lambda m: m.PixelUnshuffle(3), (3, 6, 3)),
])
def test_upsampling_layers_match_torch(torch, make, shape):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == torch_repr(theirs)
    check_twin(torch, ours, theirs, np.random.default_rng(1).standard_normal(shape))


def test_pixel_unshuffle_undoes_pixel_shuffle():
    x = convlab.randn(2, 3, 12, 8, 6)
    assert convlab.equal(F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2), x)


@pytest.mark.parametrize("call,error,match", [
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor"),
    (lambda x: F.interpolate(x, size=3, scale_factor=2), ValueError, "only one of size"),
    (lambda x: F.interpolate(x, size=3, align_corners=True), ValueError, "align_corners option"),
    (lambda x: F.interpolate(x, size=3, mode="bilinear"), ValueError, "Got 3D input, but "
     "bilinear mode needs 4D input"),
    (lambda x: F.interpolate(x, size=(3, 3)), ValueError, "same number of spatial dimensions"),
    (lambda x: F.interpolate(x, scale_factor=0.1), ValueError, "must be positive"),
    (lambda x: F.interpolate(x, size=3, mode="cubic"), ValueError, "unknown mode 'cubic'"),
    (lambda x: F.interpolate(x[0], size=3), ValueError, "got 2D input"),
    (lambda x: F.pixel_shuffle(x, 2), ValueError, "divisible by the square of upscale_factor"),
    (lambda x: F.pixel_unshuffle(x, 2), ValueError, "input.size\\(-1\\)=5 is not divisible"),
])
def test_upsampling_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(convlab.zeros(1, 2, 5))
