"""engine/updates.py: SGD's compiled update gives the bits of its NumPy twin in optim/sgd.py."""

import numpy as np
import pytest

import convlab
from convlab.engine import jit, parallel, updates

pytest.importorskip("numba")

OPTIONS = [
    dict(momentum=0.0),
    dict(momentum=0.9),
    dict(momentum=0.9, dampening=0.1, weight_decay=5e-4),
    dict(momentum=0.8, nesterov=True, weight_decay=1e-2),
    dict(momentum=0.9, maximize=True),
    dict(weight_decay=1e-3, maximize=True),
]


def _steps(options, dtype, compiled: bool, steps: int = 3):
    rng = np.random.default_rng(0)
    w = convlab.tensor(rng.standard_normal((64, 300)).astype(dtype), requires_grad=True)
    assert updates.MIN_SIZE <= w.numel()
    opt = convlab.optim.SGD([w], lr=0.05, **options)
    for k in range(steps):
        w.grad = convlab.tensor(rng.standard_normal(w.shape).astype(dtype) * (k + 1))
        if compiled:
            opt.step()
        else:
            with jit.disabled():
                opt.step()
    buf = opt.state[w].get("momentum_buffer") if w in opt.state else None
    return w.detach().numpy(), None if buf is None else buf.numpy()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_kernel_gives_the_numpy_bits(options, dtype, workers, monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    w_kernel, b_kernel = _steps(options, dtype, compiled=True)
    w_numpy, b_numpy = _steps(options, dtype, compiled=False)
    np.testing.assert_array_equal(w_kernel, w_numpy)
    if options.get("momentum"):
        np.testing.assert_array_equal(b_kernel, b_numpy)


def test_applies_only_to_large_contiguous_arrays_of_one_dtype():
    big = np.zeros((128, 256), np.float32)
    assert updates.applies(big, big)
    assert not updates.applies(big[:, ::2], big[:, ::2])
    assert not updates.applies(big, big.astype(np.float64))
    assert not updates.applies(big[:2], big[:2])  # small: NumPy
