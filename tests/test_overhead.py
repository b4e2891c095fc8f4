"""The shortcuts that cut per-call Python overhead keep every check and result.

Convolution and pooling remember their checked geometry per shapes and options; the memo must
not let a bad call through because an equal-looking good one came first. Cross-entropy with
plain class targets takes a shorter path to its coefficients; it must agree with PyTorch,
ignored targets included.
"""

import numpy as np
import pytest

import convlab
import convlab.nn.functional as F
from convlab.nn.functional import conv as functional_conv


def test_conv_geometry_is_remembered_per_shapes_and_options():
    x, w = convlab.randn(2, 1, 8, 8), convlab.randn(4, 1, 3, 3)
    F.conv2d(x, w, padding=1)
    remembered = dict(functional_conv._GEOMETRIES)
    F.conv2d(x, w, padding=1)
    assert functional_conv._GEOMETRIES == remembered  # the second call added nothing
    F.conv2d(x, w, padding=(1, 1))  # other options, another entry
    assert len(functional_conv._GEOMETRIES) == len(remembered) + 1


@pytest.mark.parametrize("bad", [True, 1.0, [1, 1]])
def test_a_remembered_good_call_does_not_let_an_equal_bad_one_through(bad):
    x, w = convlab.randn(2, 1, 8, 8), convlab.randn(4, 1, 3, 3)
    F.conv2d(x, w, stride=1)
    F.max_pool2d(x, 2, stride=1)
    if isinstance(bad, list):  # a list is accepted as a tuple would be, and gives the same
        assert F.conv2d(x, w, stride=bad).shape == F.conv2d(x, w, stride=1).shape
        return
    with pytest.raises(TypeError):
        F.conv2d(x, w, stride=bad)
    with pytest.raises(TypeError):
        F.max_pool2d(x, 2, stride=bad)


def test_a_bad_call_raises_every_time():
    x, w = convlab.randn(2, 1, 4, 4), convlab.randn(4, 1, 7, 7)
    for _ in range(2):
        with pytest.raises(ValueError, match="does not fit"):
            F.conv2d(x, w)


def test_conv_dtype_checks_still_raise():
    x, w = convlab.randn(2, 1, 8, 8), convlab.randn(4, 1, 3, 3)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.conv2d(x.half(), w.half())
    with pytest.raises(TypeError, match="use one dtype"):
        F.conv2d(x, w.double())
    with pytest.raises(TypeError, match="bias must be a convlab.Tensor"):
        F.conv2d(x, w, np.zeros(4, np.float32))


@pytest.mark.parametrize("ignore_index", [-100, 0, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_class_targets_matches_torch(ignore_index, reduction):
    torch = pytest.importorskip("torch")  # the oracle; the other tests here run without it
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((16, 5)).astype(np.float32)
    target = rng.integers(0, 5, 16)
    target[:3] = ignore_index if ignore_index < 0 else target[:3]
    ours = convlab.tensor(logits, requires_grad=True)
    theirs = torch.tensor(logits, requires_grad=True)
    a = F.cross_entropy(ours, convlab.tensor(target), ignore_index=ignore_index,
                        reduction=reduction)
    b = torch.nn.functional.cross_entropy(theirs, torch.tensor(target),
                                          ignore_index=ignore_index, reduction=reduction)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_with_every_target_ignored_is_nan_without_a_warning():
    logits = convlab.randn(4, 3)
    with np.errstate(all="raise"):
        loss = F.cross_entropy(logits, convlab.tensor([-100] * 4))
    assert np.isnan(loss.item())
