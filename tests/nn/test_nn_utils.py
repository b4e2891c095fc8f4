"""``nn.utils`` (gradient clipping, parameters as a vector), ``F.one_hot``, and the names PyTorch
scripts reach for first: ``convlab.cuda`` and ``convlab.utils.data``."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
import convlab.nn.functional as F


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _model_with_grads(lib, seed=0):
    """Two layers with known weights and the gradients of one loss; the same in both libraries."""
    rng = np.random.default_rng(seed)
    model = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.Linear(3, 2))
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    x = lib.from_numpy(rng.standard_normal((5, 4)).astype(np.float32))
    (model(x) ** 2).sum().backward()
    return model


@pytest.mark.parametrize("max_norm,norm_type", [(1.0, 2.0), (1e3, 2), (0.5, 1.0),
                                                (0.1, float("inf")), (2.0, 3.5)])
def test_clip_grad_norm_matches_torch(torch, max_norm, norm_type):
    ours, theirs = _model_with_grads(convlab), _model_with_grads(torch)
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    assert total.dtype == convlab.float32 and total.shape == ()
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=1e-5)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_skips_missing_grads_and_can_refuse_non_finite():
    w, unused = convlab.ones(2, requires_grad=True), convlab.ones(3, requires_grad=True)
    (w * 3).sum().backward()
    grad = w.grad
    assert nn.utils.clip_grad_norm_([w, unused], 1.0).item() == pytest.approx(3 * 2 ** 0.5)
    assert w.grad is grad and unused.grad is None  # scaled in place
    assert nn.utils.clip_grad_norm_(w, 1.0).item() == pytest.approx(1.0, rel=1e-5)
    assert nn.utils.clip_grad_norm_([unused], 1.0).item() == 0.0
    w.grad = convlab.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_clamps_every_element():
    w = convlab.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()  # grad 2w
    nn.utils.clip_grad_value_([w], clip_value=2.5)
    assert w.grad.tolist() == [2.0, -2.5, 2.5]


def test_parameters_to_vector_and_back():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 3))
    params = list(model.parameters())
    vec = nn.utils.parameters_to_vector(params)
    assert vec.shape == (sum(p.numel() for p in params),)
    vec.sum().backward()  # the vector is in the graph
    assert all(convlab.equal(p.grad, convlab.ones_like(p)) for p in params)
    nn.utils.vector_to_parameters(convlab.arange(vec.numel()).float(), params)
    assert model[0].bias.tolist() == [18.0, 19.0] and model[1].weight[0, 0].item() == 20.0
    with pytest.raises(TypeError, match="expected convlab.Tensor"):
        nn.utils.vector_to_parameters(np.zeros(vec.numel()), params)
    with pytest.raises(ValueError, match="vec has 3 elements, but the parameters hold 35"):
        nn.utils.vector_to_parameters(convlab.zeros(3), params)


def test_one_hot_matches_torch(torch):
    labels = np.array([[0, 3], [2, 1]])
    for num_classes in (-1, 5):
        ours = F.one_hot(convlab.from_numpy(labels), num_classes)
        theirs = torch.nn.functional.one_hot(torch.from_numpy(labels), num_classes)
        assert ours.dtype == convlab.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert F.one_hot(convlab.zeros(0, dtype=convlab.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("labels,num_classes,error,match", [
    (convlab.tensor([1, 2], dtype=convlab.int32), 3, TypeError, "int64"),
    (convlab.tensor([0, -1]), 3, ValueError, "non-negative, got -1"),
    (convlab.tensor([0, 3]), 3, ValueError, "smaller than num_classes=3, got 3"),
    (convlab.zeros(0, dtype=convlab.int64), -1, ValueError, "empty tensor; pass num_classes"),
])
def test_one_hot_errors(labels, num_classes, error, match):
    with pytest.raises(error, match=match):
        F.one_hot(labels, num_classes)


def test_device_selection_and_data_imports_work_as_in_torch_scripts():
    import convlab.cuda
    from convlab.utils.data import DataLoader, TensorDataset

    assert convlab.cuda.is_available() is False and convlab.cuda.device_count() == 0
    convlab.cuda.manual_seed_all(0)
    device = convlab.device("cuda" if convlab.cuda.is_available() else "cpu")
    assert str(device) == "cpu"
    assert DataLoader is convlab.data.DataLoader and TensorDataset is convlab.data.TensorDataset
