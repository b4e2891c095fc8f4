"""Linear, Identity, Flatten/Unflatten, Dropout and the activations: each against its PyTorch
twin (same weights: output and every gradient), reprs, and the functional forms' errors."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from twin import check_twin, torch_repr


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def randn(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
def test_linear(torch, bias, shape):
    ours, theirs = nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias)
    assert repr(ours) == torch_repr(theirs)
    check_twin(torch, ours, theirs, randn(*shape))


def test_linear_float64_and_errors(torch):
    ours = nn.Linear(4, 2, dtype=convlab.float64)
    assert ours.weight.dtype == convlab.float64
    check_twin(torch, ours, torch.nn.Linear(4, 2, dtype=torch.float64),
               randn(3, 4, dtype=np.float64), rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                           r"\(4x400 and 256x120\)"):
        nn.Linear(256, 120)(convlab.zeros(4, 400))
    with pytest.raises(RuntimeError, match="same dtype"):
        ours(convlab.zeros(1, 4))
    with pytest.raises(TypeError, match="argument 'input' must be a convlab.Tensor"):
        ours(np.zeros((1, 4)))


@pytest.mark.parametrize("bias", [True, False])
def test_lazy_linear_reads_in_features_at_the_first_call(torch, bias):
    ours, theirs = nn.LazyLinear(3, bias=bias), torch.nn.LazyLinear(3, bias=bias)
    assert repr(ours) == torch_repr(theirs)
    x = randn(2, 7)
    theirs(torch.from_numpy(x))
    ours(convlab.tensor(x))
    assert type(ours) is nn.Linear and repr(ours) == torch_repr(theirs)
    bound = 1 / 7 ** 0.5  # initialized as a Linear(7, 3)
    assert np.abs(ours.weight.detach().numpy()).max() <= bound
    check_twin(torch, ours, theirs, x)
    loaded = nn.LazyLinear(3, bias=bias)
    loaded.load_state_dict(ours.state_dict())  # a checkpoint gives the shape too
    assert type(loaded) is nn.Linear and loaded.in_features == 7
    with pytest.raises(RuntimeError, match="expected an input of shape \\(\\*, in_features\\)"):
        nn.LazyLinear(3)(convlab.tensor(1.0))


def test_identity_flatten_unflatten(torch):
    x = randn(2, 3, 4, 5)
    for ours, theirs in [(nn.Identity(54, unused=1), torch.nn.Identity(54, unused=1)),
                         (nn.Flatten(), torch.nn.Flatten()),
                         (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                         (nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1))),
                         (nn.Unflatten(-1, [5, 1]), torch.nn.Unflatten(-1, [5, 1]))]:
        assert repr(ours) == torch_repr(theirs)
        check_twin(torch, ours, theirs, x)


ACTIVATIONS = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2, True), {}), ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}),
    ("SiLU", (True,), {}), ("Sigmoid", (), {}), ("Tanh", (), {}), ("Softmax", (1,), {}),
    ("Softmax", (), {"dim": -1}), ("LogSoftmax", (1,), {}), ("LogSoftmax", (0,), {}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2, 3.5, True), {}), ("ReLU6", (), {}),
    ("ReLU6", (True,), {}), ("Softplus", (), {}), ("Softplus", (2, 4), {}),
    ("Hardsigmoid", (), {}), ("Hardsigmoid", (True,), {}), ("Hardswish", (), {}),
    ("Mish", (), {}), ("Mish", (True,), {}), ("PReLU", (), {}), ("PReLU", (4, 0.1), {}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
def test_activation_layers(torch, name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == torch_repr(theirs)
    x = randn(3, 4, 5) * 3
    x[0, 0, :4] = [-3.0, 0.0, 3.0, 6.0]  # the kinks of hardsigmoid, hardswish, relu6
    if kwargs.get("inplace") or True in args:
        # in place on a non-leaf, as in a network: the twin runs after a differentiable op
        check_twin(torch, ours, theirs, x, call=lambda m, t: m(t * 1))
    else:
        check_twin(torch, ours, theirs, x)


def test_functional_activations_and_float64(torch):
    x = randn(4, 6, dtype=np.float64) * 4
    tx = torch.from_numpy(x)
    cx = convlab.tensor(x)
    for ours, theirs in [(F.relu(cx), torch.relu(tx)),
                         (F.elu(cx, 2.0), torch.nn.functional.elu(tx, 2.0)),
                         (F.gelu(cx), torch.nn.functional.gelu(tx)),
                         (F.silu(cx), torch.nn.functional.silu(tx)),
                         (F.sigmoid(cx), torch.sigmoid(tx)), (F.tanh(cx), torch.tanh(tx)),
                         (F.log_softmax(cx, 1), torch.log_softmax(tx, 1)),
                         (F.softmax(cx, 0, dtype=convlab.float32),
                          torch.softmax(tx, 0, dtype=torch.float32)),
                         (F.relu6(cx), torch.nn.functional.relu6(tx)),
                         (F.softplus(cx, 0.5, 3), torch.nn.functional.softplus(tx, 0.5, 3)),
                         (F.softplus(cx * 100), torch.nn.functional.softplus(tx * 100)),
                         (F.mish(cx * 100), torch.nn.functional.mish(tx * 100)),
                         (F.hardswish(cx), torch.nn.functional.hardswish(tx)),
                         (F.prelu(cx, convlab.tensor([0.1] * 6, dtype=convlab.float64)),
                          torch.nn.functional.prelu(tx, torch.full((6,), 0.1, dtype=torch.float64)))
                         ]:
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(cx)
    with pytest.raises(ValueError, match="approximate argument must be either none or tanh"):
        F.gelu(cx, approximate="fast")
    with pytest.raises(TypeError, match="floating point"):
        F.gelu(convlab.tensor([1, 2]))
    # in place on a leaf that requires grad is refused, as in PyTorch
    with pytest.raises(RuntimeError, match="leaf Variable"):
        F.relu(convlab.ones(2, requires_grad=True), inplace=True)
    y = convlab.tensor([-1.0, 2.0])
    assert F.relu_(y) is y and y.tolist() == [0.0, 2.0]
    with pytest.raises(ValueError, match="min_val \\(2\\) cannot be greater than max_val"):
        F.hardtanh(cx, 2, 1)
    with pytest.raises(ValueError, match="weight holds 3 slopes, but the input has 6 channels"):
        F.prelu(cx, convlab.ones(3, dtype=convlab.float64))


def test_dropout_statistics_scaling_and_eval():
    convlab.manual_seed(0)
    x = convlab.ones(200, 100, requires_grad=True)
    d = nn.Dropout(0.3)
    y = d(x)
    values = np.unique(y.detach().numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((y.detach().numpy() == 0).mean() - 0.3) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # the gradient is the mask
    d.eval()
    assert d(x) is x
    assert np.all(nn.Dropout(1.0)(x).detach().numpy() == 0)
    convlab.manual_seed(1)
    a = nn.Dropout()(x).detach().numpy()
    convlab.manual_seed(1)
    np.testing.assert_array_equal(a, nn.Dropout()(x).detach().numpy())  # seeded


@pytest.mark.parametrize("cls,shape", [("Dropout1d", (8, 50, 7)), ("Dropout2d", (8, 50, 3, 4)),
                                       ("Dropout3d", (8, 50, 2, 3, 2)),
                                       ("Dropout3d", (50, 2, 3, 2))])
def test_channel_dropout_zeroes_whole_channels(torch, cls, shape):
    convlab.manual_seed(0)
    layer = getattr(nn, cls)(p=0.4)
    assert repr(layer) == torch_repr(getattr(torch.nn, cls)(p=0.4))
    y = layer(convlab.ones(*shape)).numpy()
    spatial = tuple(range(y.ndim - int(cls[-2]), y.ndim))
    per_channel = y.reshape(y.shape[:y.ndim - len(spatial)] + (-1,))
    assert np.all((per_channel == 0).all(-1) | (per_channel == per_channel[..., :1]).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.4) < 0.1


def test_dropout_arguments():
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got "
                                         "1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(convlab.ones(2), -0.1)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        assert F.dropout2d(convlab.ones(2, 3, 4)).shape == (2, 3, 4)
    with pytest.raises(ValueError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input"):
        F.dropout3d(convlab.ones(2, 3))


def test_grad_fn_names_match_torch(torch):
    """The last node of each functional form prints as PyTorch's (``grad_fn=<...>``)."""
    T = torch.nn.functional
    x2, x3, x4 = randn(4, 5), randn(2, 4, 5), randn(2, 3, 4, 5)
    y = np.array([0, 1, 2, 3])
    p = np.random.default_rng(0).random((4, 5)).astype(np.float32)
    w, b = randn(3, 5), randn(3)
    calls = [
        lambda F, a, t: F.linear(a(x2), a(w), a(b)), lambda F, a, t: F.linear(a(x2), a(w)),
        lambda F, a, t: F.linear(a(x3), a(w), a(b)), lambda F, a, t: F.linear(a(x3), a(w)),
        lambda F, a, t: F.linear(a(randn(5)), a(w)),
        lambda F, a, t: F.cross_entropy(a(x2), t(y)), lambda F, a, t: F.cross_entropy(a(x4), t(
            np.zeros((2, 4, 5), np.int64))),
        lambda F, a, t: F.cross_entropy(a(x2), t(y), label_smoothing=0.1),
        lambda F, a, t: F.cross_entropy(a(x2), t(p)),
        lambda F, a, t: F.cross_entropy(a(x2), t(p), reduction="sum"),
        lambda F, a, t: F.nll_loss(a(x2), t(y)), lambda F, a, t: F.mse_loss(a(x2), t(p)),
        lambda F, a, t: F.l1_loss(a(x2), t(p)), lambda F, a, t: F.binary_cross_entropy(a(p), t(p)),
        lambda F, a, t: F.binary_cross_entropy_with_logits(a(x2), t(p)),
        lambda F, a, t: F.batch_norm(a(x4), None, None, training=True),
        lambda F, a, t: F.layer_norm(a(x3), [5]), lambda F, a, t: F.group_norm(a(x4), 3),
        lambda F, a, t: F.elu(a(x2)), lambda F, a, t: F.gelu(a(x2)), lambda F, a, t: F.silu(a(x2)),
        lambda F, a, t: F.dropout(a(x2)),
    ]

    def ours_arg(v):
        return convlab.tensor(v, requires_grad=True)

    def theirs_arg(v):
        return torch.from_numpy(v).requires_grad_()

    for call in calls:
        ours = call(F, ours_arg, convlab.tensor)
        theirs = call(T, theirs_arg, torch.from_numpy)
        assert ours.grad_fn.name() == type(theirs.grad_fn).__name__
