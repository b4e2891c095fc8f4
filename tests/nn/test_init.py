"""``nn.init`` (gains, fans, bounds and moments) and every layer's initialization: PyTorch's
bounds and moments, drawn from ``convlab.manual_seed``'s generator."""

import math

import numpy as np
import pytest

import convlab
import convlab.nn as nn
from convlab.nn import init


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_and_fan_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity softsign"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="negative_slope slope not a valid number"):
        init.calculate_gain("leaky_relu", "slope")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(convlab.zeros(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(convlab.zeros(3, 3), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(convlab.zeros(0, 3))


def _check_uniform(values: np.ndarray, bound: float) -> None:
    """U(-b, b): inside the bounds, reaching near them, mean 0 and std b/sqrt(3)."""
    n = values.size
    assert np.all(np.abs(values) <= bound * (1 + 1e-6))
    assert np.abs(values).max() > bound * (1 - 20 / n)
    assert abs(values.mean()) < 4 * bound / math.sqrt(3 * n)
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=5 / math.sqrt(n))


def _check_normal(values: np.ndarray, std: float) -> None:
    n = values.size
    assert abs(values.mean()) < 4 * std / math.sqrt(n)
    assert values.std() == pytest.approx(std, rel=5 / math.sqrt(2 * n))


def test_init_functions_bounds_and_moments():
    convlab.manual_seed(0)
    w = convlab.zeros(64, 32, 3, 3)  # fan_in = 288, fan_out = 576
    _check_uniform(init.uniform_(w, -0.5, 0.5).numpy(), 0.5)
    _check_normal(init.normal_(w, 0.0, 0.3).numpy(), 0.3)
    _check_uniform(init.xavier_uniform_(w, gain=2.0).numpy(), 2.0 * math.sqrt(6 / (288 + 576)))
    _check_normal(init.xavier_normal_(w).numpy(), math.sqrt(2 / (288 + 576)))
    _check_uniform(init.kaiming_uniform_(w, nonlinearity="relu").numpy(), math.sqrt(6 / 288))
    _check_uniform(init.kaiming_uniform_(w, a=math.sqrt(5)).numpy(), 1 / math.sqrt(288))
    _check_normal(init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu").numpy(),
                  math.sqrt(2 / 576))
    assert np.all(init.constant_(w, 0.25).numpy() == 0.25)
    assert np.all(init.ones_(w).numpy() == 1) and np.all(init.zeros_(w).numpy() == 0)


def test_trunc_normal_stays_in_bounds_with_the_truncated_moments():
    from scipy.stats import truncnorm

    convlab.manual_seed(0)
    values = init.trunc_normal_(convlab.zeros(100, 100), mean=0.5, std=1.0, a=0.0, b=1.5).numpy()
    assert values.min() >= 0.0 and values.max() <= 1.5
    dist = truncnorm(-0.5, 1.0, loc=0.5)  # bounds in stds from the mean
    assert values.mean() == pytest.approx(dist.mean(), abs=4 * dist.std() / 100)
    assert values.std() == pytest.approx(dist.std(), rel=0.02)
    _check_normal(init.trunc_normal_(convlab.zeros(64, 64), std=0.02).numpy(), 0.02)
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(convlab.zeros(3), mean=5.0)


@pytest.mark.parametrize("shape", [(6, 6), (4, 10), (10, 4), (8, 3, 3, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = init.orthogonal_(convlab.zeros(*shape), gain=2.0).numpy().reshape(shape[0], -1)
    small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-5)


def test_eye_and_dirac_match_torch_and_make_identity_layers(torch):
    np.testing.assert_array_equal(init.eye_(convlab.zeros(3, 5)).numpy(),
                                  torch.nn.init.eye_(torch.empty(3, 5)).numpy())
    for shape, groups in [((6, 4, 3, 3), 2), ((4, 6, 3), 1), ((2, 2, 3, 2, 3), 1)]:
        np.testing.assert_array_equal(
            init.dirac_(convlab.zeros(*shape), groups).numpy(),
            torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    x = convlab.randn(2, 3, 5, 5)
    assert convlab.equal(conv(x), x)
    with pytest.raises(ValueError, match="dim 0 \\(6\\) must be divisible by groups=4"):
        init.dirac_(convlab.zeros(6, 4, 3, 3), groups=4)
    with pytest.raises(ValueError, match="only tensors with 2 dimensions"):
        init.eye_(convlab.zeros(3, 3, 3))


def test_init_fills_parameters_in_place_without_a_graph():
    p = nn.Parameter(convlab.zeros(5, 5))
    data = p.detach().numpy()
    assert init.kaiming_uniform_(p) is p
    assert p.is_leaf and p.grad_fn is None and np.any(data != 0)


def test_init_is_governed_by_manual_seed_and_generator():
    convlab.manual_seed(3)
    a = nn.Conv2d(3, 4, 3).weight.detach().numpy().copy()
    convlab.manual_seed(3)
    np.testing.assert_array_equal(a, nn.Conv2d(3, 4, 3).weight.detach().numpy())
    g = convlab.Generator(7)
    x = init.uniform_(convlab.zeros(4), generator=g).numpy().copy()
    np.testing.assert_array_equal(x, init.uniform_(convlab.zeros(4),
                                                   generator=convlab.Generator(7)).numpy())


@pytest.mark.parametrize("make,fan_in", [
    (lambda: nn.Linear(300, 200), 300),
    (lambda: nn.Conv1d(16, 128, 5), 80),
    (lambda: nn.Conv2d(12, 96, 3, groups=3), 36),  # (C_in/groups) * 3 * 3
    (lambda: nn.Conv3d(4, 64, (2, 3, 3), groups=2), 36),
    (lambda: nn.ConvTranspose2d(96, 24, 3, groups=3), 72),  # (C_out/groups) * 3 * 3
    (lambda: nn.ConvTranspose1d(8, 64, 4), 256),
])
def test_layer_init_bounds_and_moments(torch, make, fan_in):
    convlab.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    w = layer.weight.detach().numpy()
    _check_uniform(w, bound)
    b = layer.bias.detach().numpy()
    assert np.all(np.abs(b) <= bound) and b.std() > 0
    fan_t, _ = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(w.shape))
    assert fan_t == fan_in
    assert init._calculate_fan_in_and_fan_out(layer.weight)[0] == fan_in


def test_reset_parameters_draws_again_and_norm_layers_start_at_identity():
    convlab.manual_seed(0)
    conv = nn.Conv2d(2, 2, 3)
    before = conv.weight.detach().numpy().copy()
    conv.reset_parameters()
    assert not np.array_equal(before, conv.weight.detach().numpy())
    for layer in (nn.BatchNorm2d(3), nn.GroupNorm(1, 3), nn.LayerNorm(3)):
        np.testing.assert_array_equal(layer.weight.detach().numpy(), 1)
        np.testing.assert_array_equal(layer.bias.detach().numpy(), 0)
    bn = nn.BatchNorm1d(3)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == convlab.int64
