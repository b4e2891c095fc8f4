"""LazyBatchNorm1d/2d/3d and LazyInstanceNorm1d/2d/3d as PyTorch's: reprs before and after the
first call, the class they become, outputs, running statistics, gradients, and checkpoints."""

import warnings

import numpy as np
import pytest

import convlab

torch = pytest.importorskip("torch")

CASES = [
    ("LazyBatchNorm1d", dict(), (4, 3)),
    ("LazyBatchNorm1d", dict(affine=False), (4, 3, 5)),
    ("LazyBatchNorm2d", dict(), (2, 3, 4, 4)),
    ("LazyBatchNorm2d", dict(momentum=None, track_running_stats=False), (2, 3, 4, 4)),
    ("LazyBatchNorm3d", dict(eps=1e-3), (2, 2, 3, 3, 3)),
    ("LazyInstanceNorm1d", dict(), (2, 3, 6)),
    ("LazyInstanceNorm2d", dict(affine=False, track_running_stats=False), (3, 4, 4)),
    ("LazyInstanceNorm3d", dict(), (2, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_lazy_norm_becomes_the_eager_layer_as_torch(name, kwargs, shape):
    ours, theirs = getattr(convlab.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    a, b = convlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():  # InstanceNorm with nothing to size keeps 0, and warns
        warnings.simplefilter("ignore")
        ya, yb = ours(a), theirs(b)
    assert repr(ours) == repr(theirs)
    assert type(ours).__name__ == type(theirs).__name__
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=1e-5)
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key in ours_state:
        np.testing.assert_allclose(ours_state[key].numpy(), theirs_state[key].numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=key)
    assert type(ours.running_mean) is convlab.Tensor or ours.running_mean is None


def test_a_checkpoint_gives_a_lazy_norm_its_size():
    trained = convlab.nn.BatchNorm2d(5)
    trained(convlab.randn(4, 5, 3, 3))
    lazy = convlab.nn.LazyBatchNorm2d()
    lazy.load_state_dict(trained.state_dict())
    assert type(lazy) is convlab.nn.BatchNorm2d and lazy.num_features == 5
    assert convlab.equal(lazy.running_var, trained.running_var)
    lazy.eval()
    trained.eval()
    x = convlab.randn(2, 5, 3, 3)
    assert convlab.allclose(lazy(x), trained(x))


def test_lazy_norm_in_a_model_trains():
    model = convlab.nn.Sequential(convlab.nn.LazyConv2d(4, 3), convlab.nn.LazyBatchNorm2d(),
                                  convlab.nn.ReLU(), convlab.nn.Flatten(),
                                  convlab.nn.LazyLinear(2))
    model(convlab.randn(2, 1, 6, 6))
    optimizer = convlab.optim.SGD(model.parameters(), lr=0.1)
    x, y = convlab.randn(8, 1, 6, 6), convlab.randint(0, 2, (8,))
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = convlab.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
