"""F.affine_grid and F.grid_sample against PyTorch: values and gradients to the image, the grid
and theta, for each mode, padding rule and corner convention, in 2-D and 3-D."""

import itertools
import warnings

import numpy as np
import pytest

import convlab
import convlab.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

rng = np.random.default_rng(0)


def _pair(array, grad=True):
    return (convlab.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad))


@pytest.mark.parametrize("mode, padding_mode, align_corners",
                         list(itertools.product(["bilinear", "nearest"],
                                                ["zeros", "border", "reflection"],
                                                [False, True])))
@pytest.mark.parametrize("d", [2, 3])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, d):
    spatial_in, spatial_out = ((5, 6), (4, 7)) if d == 2 else ((3, 4, 5), (2, 3, 4))
    image = rng.standard_normal((2, 3, *spatial_in))
    # points well outside [-1, 1] too, so that every padding rule is exercised
    points = rng.uniform(-1.8, 1.8, (2, *spatial_out, d))
    ours_x, theirs_x = _pair(image)
    ours_g, theirs_g = _pair(points)
    a = F.grid_sample(ours_x, ours_g, mode, padding_mode, align_corners)
    b = TF.grid_sample(theirs_x, theirs_g, mode, padding_mode, align_corners)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(tuple(b.shape))
    a.backward(convlab.tensor(upstream))
    b.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(ours_g.grad.numpy(), theirs_g.grad.numpy(), rtol=1e-8,
                               atol=1e-10)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 5, 4), (2, 1, 3, 4, 2), (1, 1, 1, 3)])
def test_affine_grid_matches_torch_with_gradients(size, align_corners):
    d = len(size) - 2
    theta = rng.standard_normal((size[0], d, d + 1)).astype(np.float32)
    ours, theirs = _pair(theta)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = F.affine_grid(ours, size, align_corners)
        b = TF.affine_grid(theirs, torch.Size(size), align_corners)
    assert len(caught) in (0, 2)  # unit-size grids with align_corners: both warn
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = rng.standard_normal(tuple(b.shape)).astype(np.float32)
    a.backward(convlab.tensor(upstream))
    b.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_a_spatial_transformer_step_matches_torch():
    """The tutorial's pattern: theta from a layer, affine_grid, grid_sample, a loss, backward."""
    image = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    w = (rng.standard_normal((6, 64)) * 0.01).astype(np.float32)
    b0 = np.array([1, 0, 0, 0, 1, 0], dtype=np.float32)
    results = []
    for lib in (convlab, torch):
        weight = lib.tensor(w, requires_grad=True)
        bias = lib.tensor(b0, requires_grad=True)
        x = lib.tensor(image)
        theta = (x.reshape(4, 64) @ weight.t() + bias).reshape(-1, 2, 3)
        grid = lib.nn.functional.affine_grid(theta, x.size(), align_corners=False)
        out = lib.nn.functional.grid_sample(x, grid, align_corners=False)
        loss = (out * out).mean()
        loss.backward()
        results.append((loss.item(), weight.grad.numpy(), bias.grad.numpy()))
    (la, wa, ba), (lb, wb, bb) = results
    assert la == pytest.approx(lb, rel=1e-5)
    np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ba, bb, rtol=1e-4, atol=1e-6)


def test_align_corners_none_warns_as_torch():
    x, grid = convlab.zeros(1, 1, 2, 2), convlab.zeros(1, 1, 1, 2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(convlab.zeros(1, 2, 3), [1, 1, 2, 2])


@pytest.mark.parametrize("call, error, message", [
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2), lib.zeros(1, 1, 1, 2),
                                               mode="cubic", align_corners=False),
     ValueError, "expected mode to be 'bilinear', 'nearest' or 'bicubic'"),
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2), lib.zeros(1, 1, 1, 2),
                                               padding_mode="wrap", align_corners=False),
     ValueError, "expected padding_mode to be 'zeros', 'border', or 'reflection'"),
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2), lib.zeros(2, 1, 1, 2),
                                               align_corners=False),
     RuntimeError, "expected grid and input to have same batch size"),
    (lambda lib: lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2), lib.zeros(1, 1, 1, 3),
                                               align_corners=False),
     RuntimeError, "expected grid to have size 2 in last dimension"),
    (lambda lib: lib.nn.functional.affine_grid(lib.zeros(1, 2, 2), [1, 1, 2, 2],
                                               align_corners=False),
     ValueError, "Expected a batch of 2D affine matrices"),
    (lambda lib: lib.nn.functional.affine_grid(lib.zeros(1, 2, 3), [1, 2, 2],
                                               align_corners=False),
     NotImplementedError, "affine_grid only supports 4D and 5D sizes"),
])
def test_bad_arguments_raise_as_torch(call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lib in (convlab, torch):
            with pytest.raises(error, match=message):
                call(lib)
