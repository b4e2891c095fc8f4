"""engine/elementwise.py: the activations' compiled passes equal their NumPy twins in ops/,
values and gradients, NaN, infinities and signed zeros included, on 1 and 2 threads."""

import numpy as np
import pytest
from jit_paths import engine_path

import convlab
from convlab.engine import elementwise, parallel

SHAPE = (4, 16, 32, 33)  # 67584 elements: from SERIAL_BELOW on, the sums' kernels run too


def _data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(SHAPE).astype(dtype) * 4
    flat = x.reshape(-1)
    flat[:11] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 6.0, -1.0, 1.0, -3.0, 3.0, -6.0]  # the edges
    # and the bounds
    return x


def _run(op, x, gz):
    """Value and input gradient of ``op`` through convlab's autograd."""
    t = convlab.tensor(x, requires_grad=True)
    y = op(t)
    y.backward(convlab.tensor(gz))
    return y.detach().numpy(), t.grad.numpy()


OPS = {
    "relu": lambda t: convlab.nn.functional.relu(t),
    "relu_": lambda t: convlab.nn.functional.relu(t * 1, inplace=True),
    "leaky_relu": lambda t: convlab.nn.functional.leaky_relu(t, 0.2),
    "leaky_relu_": lambda t: convlab.nn.functional.leaky_relu(t * 1, 0.2, inplace=True),
    "relu6": lambda t: convlab.nn.functional.relu6(t),
    "relu6_": lambda t: convlab.nn.functional.relu6(t * 1, inplace=True),
    "hardtanh": lambda t: convlab.nn.functional.hardtanh(t, -1.5, 2.0),
    "hardtanh_": lambda t: convlab.nn.functional.hardtanh(t * 1, -1.5, 2.0, inplace=True),
    "hardswish": lambda t: convlab.nn.functional.hardswish(t),
}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPS)
def test_compiled_equals_numpy(monkeypatch, name, dtype, workers):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    x = _data(dtype)
    gz = _data(dtype, seed=1)
    gz.reshape(-1)[11:15] = [np.nan, np.inf, -np.inf, 0.0]  # a NaN or inf gradient arriving
    with engine_path("compiled"):  # (skipped where the kernels are off)
        assert elementwise.applies(x)
        fast = _run(OPS[name], x, gz)
    with engine_path("numpy"):
        slow = _run(OPS[name], x, gz)
    value, grad = zip(fast, slow)
    np.testing.assert_array_equal(*value)
    np.testing.assert_array_equal(*np.signbit(value))
    np.testing.assert_array_equal(*grad)  # selections and products: exact, signs of zero too
    np.testing.assert_array_equal(*np.signbit(grad))


@pytest.mark.parametrize("workers", [1, 2])
def test_sums_equal_numpy(monkeypatch, workers):
    """x + y forward, and two gradients meeting at one node in backward (x used twice)."""
    monkeypatch.setattr(parallel, "WORKERS", workers)
    x, y, gz = _data(np.float32), _data(np.float32, seed=2), _data(np.float32, seed=3)
    results = []
    for path in ("compiled", "numpy"):
        with engine_path(path):
            results.append(_run(lambda t: t + convlab.tensor(y) + t * 2, x, gz))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_strided_arrays_take_numpy_and_sums_take_it_on_one_thread(monkeypatch):
    x = _data(np.float32)
    with engine_path("compiled"):  # (skipped where the kernels are off)
        assert elementwise.applies(x[:1, :1, :1, :3])  # any size: the call costs less than NumPy
        assert not elementwise.applies(x.transpose(0, 1, 3, 2))  # not contiguous
        assert not elementwise.applies(x.astype(np.float16))
        assert not elementwise.applies(x, x[..., :-1])  # shapes differ
        monkeypatch.setattr(parallel, "WORKERS", 2)
        assert elementwise.sums_apply(x, x)
        assert not elementwise.sums_apply(x[:1], x[:1])  # one thread's loop: NumPy's sum
        monkeypatch.setattr(parallel, "WORKERS", 1)
        assert not elementwise.sums_apply(x, x)


def test_matches_torch():
    """Values and gradients as PyTorch's. Not compared: the gradient of hardtanh and relu6 at
    a NaN input, where PyTorch itself differs between its vector loop (0: a bitwise mask) and
    its scalar one (the incoming gradient); convlab passes the gradient on."""
    torch = pytest.importorskip("torch")
    x, gz = _data(np.float64), _data(np.float64, seed=1)
    F = torch.nn.functional
    torch_ops = {"relu": torch.relu, "relu_": lambda t: torch.relu_(t * 1),
                 "leaky_relu": lambda t: F.leaky_relu(t, 0.2),
                 "leaky_relu_": lambda t: F.leaky_relu(t * 1, 0.2, inplace=True),
                 "relu6": F.relu6, "relu6_": lambda t: F.relu6(t * 1, inplace=True),
                 "hardtanh": lambda t: F.hardtanh(t, -1.5, 2.0),
                 "hardtanh_": lambda t: F.hardtanh(t * 1, -1.5, 2.0, inplace=True),
                 "hardswish": F.hardswish}
    for name, op in OPS.items():
        y, g = _run(op, x, gz)
        t = torch.tensor(x, requires_grad=True)
        ty = torch_ops[name](t)
        ty.backward(torch.tensor(gz))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, equal_nan=True)
        number = ~np.isnan(y)  # zeros' signs too (a NaN's sign means nothing)
        np.testing.assert_array_equal(np.signbit(y[number]),
                                      np.signbit(ty.detach().numpy()[number]))
        compared = ~np.isnan(x) if name.startswith(("relu6", "hardtanh")) else slice(None)
        np.testing.assert_allclose(g[compared], t.grad.numpy()[compared], rtol=1e-12,
                                   equal_nan=True)
