"""Losses against PyTorch: values and gradients for every option (class weights, ignore_index,
label smoothing, probability targets, pos_weight, every reduction), reprs, and errors."""

import warnings

import numpy as np
import pytest

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from twin import check_twin, to_torch, torch_repr


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def randn(*shape, seed=0, dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * 2).astype(dtype)


def classes(*shape, C, seed=1, ignore=None):
    t = np.random.default_rng(seed).integers(0, C, shape)
    if ignore is not None:
        t.flat[::3] = ignore
    return t.astype(np.int64)


def twin_loss(torch, name, kwargs, weights=()):
    """The convlab and torch loss modules, the named tensor options (buffers) given to both."""
    ours_kw = dict(kwargs, **{k: convlab.tensor(v) for k, v in weights})
    theirs_kw = dict(kwargs, **{k: to_torch(torch, v) for k, v in weights})
    return getattr(nn, name)(**ours_kw), getattr(torch.nn, name)(**theirs_kw)


W4 = np.array([0.2, 1.0, 3.0, 0.7], np.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("input_shape,target,kwargs,weights", [
    ((6, 4), classes(6, C=4), {}, ()),
    ((6, 4), classes(6, C=4), {}, [("weight", W4)]),
    ((6, 4), classes(6, C=4, ignore=-100), {}, [("weight", W4)]),
    ((6, 4), classes(6, C=4, ignore=2), {"ignore_index": 2}, ()),
    ((6, 4), classes(6, C=4, ignore=-100), {"label_smoothing": 0.2}, [("weight", W4)]),
    ((6, 4), classes(6, C=4), {"label_smoothing": 0.1}, ()),
    ((2, 4, 3, 2), classes(2, 3, 2, C=4, ignore=-100), {"label_smoothing": 0.3}, ()),
    ((4,), np.array(2), {}, [("weight", W4)]),
    ((5, 4), None, {}, ()),  # probabilities
    ((5, 4), None, {"label_smoothing": 0.25}, [("weight", W4)]),
    ((2, 4, 3), None, {}, ()),
])
def test_cross_entropy(torch, reduction, input_shape, target, kwargs, weights):
    if target is None:  # class probabilities: a softmax of random scores
        scores = randn(*input_shape, seed=4)
        e = np.exp(scores - scores.max(1 if len(input_shape) > 1 else 0, keepdims=True))
        target = (e / e.sum(1 if len(input_shape) > 1 else 0, keepdims=True)).astype(np.float32)
    ours, theirs = twin_loss(torch, "CrossEntropyLoss", dict(kwargs, reduction=reduction),
                             weights)
    assert repr(ours) == torch_repr(theirs)
    check_twin(torch, ours, theirs, randn(*input_shape), target, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("input_shape,target,kwargs,weights", [
    ((6, 4), classes(6, C=4), {}, ()),
    ((6, 4), classes(6, C=4, ignore=-100), {}, [("weight", W4)]),
    ((2, 4, 3), classes(2, 3, C=4, ignore=1), {"ignore_index": 1}, ()),
])
def test_nll_loss(torch, reduction, input_shape, target, kwargs, weights):
    ours, theirs = twin_loss(torch, "NLLLoss", dict(kwargs, reduction=reduction), weights)
    check_twin(torch, ours, theirs, randn(*input_shape), target)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kwargs", [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {}),
                                         ("SmoothL1Loss", {"beta": 0.5}),
                                         ("SmoothL1Loss", {"beta": 0.0}), ("HuberLoss", {}),
                                         ("HuberLoss", {"delta": 0.3})])
def test_regression_losses(torch, name, kwargs, reduction):
    ours, theirs = twin_loss(torch, name, {"reduction": reduction, **kwargs})
    assert repr(ours) == torch_repr(theirs)
    target = randn(3, 5, seed=2)
    target[0, 0] = randn(3, 5)[0, 0]  # a zero difference: L1's gradient there is 0
    y, t = check_twin(torch, ours, theirs, randn(3, 5), target)
    assert y.grad_fn.name() == t.grad_fn.name()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_reduce_as_torch(torch, name, reduction):
    x, y, w = randn(3, 5), randn(3, 5, seed=2), np.random.default_rng(3).random((3, 5))
    ours = getattr(F, name)(convlab.tensor(x), convlab.tensor(y), reduction=reduction,
                            weight=convlab.tensor(w))
    theirs = getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(y),
                                                reduction=reduction, weight=torch.tensor(w))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)  # mean: / sum(w) or N
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        getattr(F, name)(convlab.tensor(x), convlab.tensor(y), weight=convlab.ones(5))


@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(torch, reduction, log_target):
    ours, theirs = twin_loss(torch, "KLDivLoss",
                             {"reduction": reduction, "log_target": log_target})
    assert repr(ours) == torch_repr(theirs)
    rng = np.random.default_rng(4)
    p, q = (rng.dirichlet(np.ones(4), 5).astype(np.float32) for _ in range(2))
    target = np.log(q) if log_target else q
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'mean' warns that it is not the KL divergence
        check_twin(torch, ours, theirs, np.log(p), target)
        q[0, 1] = 0.0  # a class the target rules out adds 0, not 0 * log 0 = nan
        if not log_target:
            np.testing.assert_allclose(ours(convlab.tensor(np.log(p)), convlab.tensor(q)).numpy(),
                                       theirs(torch.tensor(np.log(p)), torch.tensor(q)).numpy(),
                                       rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", [(), [("weight", np.array([0.5, 2.0, 1.0], np.float32))]])
def test_bce(torch, reduction, weights):
    ours, theirs = twin_loss(torch, "BCELoss", {"reduction": reduction}, weights)
    p = 1 / (1 + np.exp(-randn(4, 3)))
    p[0, 0], p[1, 1] = 0.0, 1.0  # the log clamp at -100
    y = (randn(4, 3, seed=3) > 0).astype(np.float32)
    y[0, 0], y[1, 1] = 0.5, 0.5
    check_twin(torch, ours, theirs, p.astype(np.float32), y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", [(), [("weight", np.array([0.5, 2.0, 1.0], np.float32))],
                                     [("pos_weight", np.array([3.0, 0.5, 1.0], np.float32))],
                                     [("weight", np.array([[2.0], [1.0], [0.0], [1.0]],
                                                          np.float32)),
                                      ("pos_weight", np.array([2.0, 2.0, 0.1], np.float32))]])
def test_bce_with_logits(torch, reduction, weights):
    ours, theirs = twin_loss(torch, "BCEWithLogitsLoss", {"reduction": reduction}, weights)
    assert repr(ours) == torch_repr(theirs)
    x = randn(4, 3) * 20  # large logits: no overflow
    y = np.random.default_rng(5).random((4, 3)).astype(np.float32)
    check_twin(torch, ours, theirs, x, y, rtol=1e-5, atol=1e-5)


def test_cross_entropy_is_stable_for_huge_logits():
    x = convlab.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    loss = F.cross_entropy(x, convlab.tensor([2]))
    loss.backward()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(2e4)
    assert np.all(np.isfinite(x.grad.numpy()))


def test_target_gradients_match_torch(torch):
    x, y = randn(3, 4), np.random.default_rng(0).random((3, 4)).astype(np.float32)
    for ours_fn, theirs_fn in [(F.mse_loss, torch.nn.functional.mse_loss),
                               (F.binary_cross_entropy_with_logits,
                                torch.nn.functional.binary_cross_entropy_with_logits)]:
        a, b = convlab.tensor(x), convlab.tensor(y, requires_grad=True)
        ta, tb = torch.from_numpy(x), torch.from_numpy(y).requires_grad_()
        ours_fn(a, b).backward()
        theirs_fn(ta, tb).backward()
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_loss_errors():
    x = convlab.zeros(3, 4)
    with pytest.raises(IndexError, match=r"Target 4 is out of bounds: the input has 4 classes"):
        F.cross_entropy(x, convlab.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match=r"Expected target size \[3\]"):
        F.cross_entropy(x, convlab.tensor([0, 1]))
    with pytest.raises(ValueError, match="class probabilities and must have the input's shape"):
        F.cross_entropy(x, convlab.zeros(3))
    with pytest.raises(ValueError, match="weight must hold one value per class"):
        F.cross_entropy(x, convlab.tensor([0, 1, 2]), weight=convlab.ones(3))
    with pytest.raises(ValueError, match="sideways is not a valid value for reduction"):
        nn.CrossEntropyLoss(reduction="sideways")
    with pytest.raises(ValueError, match="batchmean is not a valid value for reduction"):
        nn.MSELoss(reduction="batchmean")  # KLDivLoss's alone
    with pytest.raises(ValueError, match="delta must be non-negative"):
        F.huber_loss(x, x, delta=-1.0)
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, convlab.zeros(3))
    with pytest.raises(ValueError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x + 2, x)
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy_with_logits(x, convlab.zeros(4))
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(x, convlab.zeros(4))
    with pytest.warns(UserWarning, match="deprecated"):
        assert nn.MSELoss(reduce=False).reduction == "none"
    assert np.isnan(F.cross_entropy(x, convlab.tensor([-100] * 3)).item())  # all ignored: 0/0
