"""In-place arithmetic that writes straight into the tensor's memory (``Tensor._inplace``'s
``takes_out``), against PyTorch: the values, dtypes, refusals and gradients are those of the
path that computes out of place and copies back, and no second array is made."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from jit_paths import engine_path

import convlab

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
BIAS = RNG.normal(size=(3, 1, 1)).astype(np.float32)
SAME = RNG.normal(size=X.shape).astype(np.float32)

OTHERS = {
    "number": lambda lib: 0.75,
    "int": lambda lib: 3,
    "same shape": lambda lib: lib.tensor(SAME),
    "broadcast": lambda lib: lib.tensor(BIAS),
    "float64 0-d": lambda lib: lib.tensor(1.0 / 3, dtype=lib.float64),
    "float64 same shape": lambda lib: lib.tensor(SAME.astype(np.float64)),
    "bigger": lambda lib: lib.tensor(np.ones((4,) + X.shape, np.float32)),
}
OPS = ["add_", "sub_", "mul_", "div_"]


def _run(lib, op, other, dtype=None):
    x = lib.tensor(X if dtype is None else X.astype(dtype))
    before = x.data_ptr()
    version = x._version
    try:
        result = getattr(x, op)(other(lib))
    except RuntimeError:
        return "raises"
    assert result is x and x.data_ptr() == before and x._version == version + 1
    return x.numpy().copy(), str(x.dtype)


@pytest.mark.parametrize("other", OTHERS)
@pytest.mark.parametrize("op", OPS)
def test_values_and_refusals_match_pytorch(op, other):
    ours, theirs = _run(convlab, op, OTHERS[other]), _run(torch, op, OTHERS[other])
    if theirs == "raises":
        assert ours == "raises"
        return
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[1].split(".")[-1] == theirs[1].split(".")[-1]


@pytest.mark.parametrize("op", OPS)
def test_integer_tensors(op):
    ours, theirs = (_run(lib, op, OTHERS["number"], np.int64) for lib in (convlab, torch))
    if theirs == "raises":
        assert ours == "raises"
    else:
        np.testing.assert_array_equal(ours[0], theirs[0])


def test_an_alias_of_itself_and_a_view_reach_the_base():
    for lib in (convlab, torch):
        x = lib.tensor(X.copy())
        x.add_(x)
        x[0, 1:].mul_(0.5)
        x.transpose(1, 3).sub_(1)
        if lib is convlab:
            ours = x.numpy().copy()
    np.testing.assert_array_equal(ours, x.numpy())


def test_no_second_array_is_made():
    x = convlab.tensor(np.zeros((256, 1024), np.float32))  # 1 MiB
    y = convlab.tensor(np.ones((256, 1024), np.float32))
    x.add_(y)
    tracemalloc.start()
    x.add_(y)
    x.mul_(2.0)
    x.sub_(y, alpha=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 << 10, peak
    np.testing.assert_array_equal(x.numpy(), np.ones((256, 1024), np.float32) * 3)


def test_recorded_in_place_ops_keep_their_gradients():
    """Inside a graph, add_ and sub_ write into the tensor (they save nothing of it); mul_
    and div_ save their input and compute out of place: the gradients are PyTorch's. (A ReLU
    in place after div_ is legal: Div saves its input, as PyTorch's, not its output.)"""
    grads = []
    for lib in (convlab, torch):
        w = lib.tensor(X.astype(np.float64), requires_grad=True)
        b = lib.tensor(BIAS.astype(np.float64), requires_grad=True)
        y = w * 2
        y += b
        y.sub_(w, alpha=0.5)
        y.mul_(w)
        y.div_(b + 3)
        y.relu_()
        (y * y).sum().backward()
        grads.append((y.detach().numpy().copy(), w.grad.numpy().copy(), b.grad.numpy().copy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_a_residual_add_in_place_then_backward_refuses_a_stale_save():
    """``out += identity`` after an op that saved ``out``: the version check still catches
    it, as in PyTorch."""
    for lib in (convlab, torch):
        w = lib.tensor(X.astype(np.float64), requires_grad=True)
        y = w * 1
        z = y.sigmoid()  # saves its output z
        z += 1
        with pytest.raises(RuntimeError):
            z.sum().backward()


ACTIVATIONS = {  # the inplace=True of real programs: DCGAN's LeakyReLU, MobileNet's ReLU6
    "leaky_relu 0.2": lambda F, y: F.leaky_relu(y, 0.2, inplace=True),
    "leaky_relu 0": lambda F, y: F.leaky_relu(y, 0.0, inplace=True),
    "leaky_relu -0.2": lambda F, y: F.leaky_relu(y, -0.2, inplace=True),
    "relu6": lambda F, y: F.relu6(y, inplace=True),
    "hardtanh_": lambda F, y: F.hardtanh_(y, -0.5, 0.7),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_in_place_activations_save_their_output_as_pytorch(name):
    """Written into the tensor itself, their output saved for backward (PyTorch's
    LeakyReluBackward1 and HardtanhBackward0 in place): values, gradients, node names, the
    version, and LeakyReLU's refusal of a negative slope at backward."""
    results = []
    for lib in (convlab, torch):
        w = lib.tensor(np.where(np.isnan(X), 0.5, X).astype(np.float64), requires_grad=True)
        y = w * 1
        before = y.data_ptr()
        z = ACTIVATIONS[name](lib.nn.functional, y)
        assert z is y and y.data_ptr() == before and y._version == 1
        node = type(z.grad_fn).__name__ if lib is torch else z.grad_fn.name()
        try:
            (z * z).sum().backward()
            grad = w.grad.numpy().copy()
        except RuntimeError:
            grad = "raises"
        results.append((node, z.detach().numpy().copy(), grad))
    (node, value, grad), (their_node, their_value, their_grad) = results
    assert node == their_node
    np.testing.assert_array_equal(value, their_value)
    if isinstance(their_grad, str):
        assert grad == their_grad
    else:
        np.testing.assert_array_equal(grad, their_grad)


def test_in_place_activations_make_no_second_array():
    """The compiled kernels write over the tensor (the NumPy twins make a temporary)."""
    values = np.linspace(-8, 8, 256 * 1024, dtype=np.float32).reshape(256, 1024)  # 1 MiB
    F = convlab.nn.functional
    with engine_path("compiled"):
        F.relu6(F.leaky_relu(convlab.tensor(values), 0.5, inplace=True), inplace=True)  # compiled
        x = convlab.tensor(values)
        tracemalloc.start()
        F.leaky_relu(x, 0.5, inplace=True)
        F.relu6(x, inplace=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 64 << 10, peak
    np.testing.assert_array_equal(x.numpy(), np.clip(values, 0, 6))
