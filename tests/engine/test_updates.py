"""engine/updates.py: the compiled updates give the bits of their NumPy twins (optim/sgd.py,
optim/adam.py)."""

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


def _steps(options, dtype, compiled: bool, steps: int = 3, optimizer=convlab.optim.SGD):
    rng = np.random.default_rng(0)
    w = convlab.tensor(rng.standard_normal((64, 300)).astype(dtype), requires_grad=True)
    opt = optimizer([w], lr=0.05, **options)
    for k in range(steps):
        w.grad = convlab.tensor(rng.standard_normal(w.shape).astype(dtype) * (k + 1))
        if compiled:
            opt.step()
        else:
            with jit.disabled():
                opt.step()
    state = {k: v.numpy() for k, v in opt.state.get(w, {}).items() if k != "step"}
    return w.detach().numpy(), state


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_kernel_gives_the_numpy_bits(options, dtype, workers, monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    w_kernel, state_kernel = _steps(options, dtype, compiled=True)
    w_numpy, state_numpy = _steps(options, dtype, compiled=False)
    np.testing.assert_array_equal(w_kernel, w_numpy)
    assert state_kernel.keys() == state_numpy.keys() == ({"momentum_buffer"} if options.get(
        "momentum") else set())
    for name in state_numpy:
        np.testing.assert_array_equal(state_kernel[name], state_numpy[name])


ADAM = [
    (convlab.optim.Adam, {}),
    (convlab.optim.Adam, dict(weight_decay=1e-2, betas=(0.8, 0.99))),
    (convlab.optim.Adam, dict(amsgrad=True, eps=1e-6)),
    (convlab.optim.Adam, dict(maximize=True, amsgrad=True, weight_decay=1e-3)),
    (convlab.optim.AdamW, {}),
    (convlab.optim.AdamW, dict(weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer,options", ADAM,
                         ids=lambda o: getattr(o, "__name__", None) or ",".join(map(str, o.items())))
def test_adam_kernel_gives_the_numpy_bits(optimizer, options, dtype, workers, monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    monkeypatch.setattr(updates, "adam_applies", updates.applies)  # on one thread too
    w_kernel, state_kernel = _steps(options, dtype, True, steps=4, optimizer=optimizer)
    w_numpy, state_numpy = _steps(options, dtype, False, steps=4, optimizer=optimizer)
    np.testing.assert_array_equal(w_kernel, w_numpy)
    assert state_kernel.keys() == state_numpy.keys()
    for name in state_numpy:
        np.testing.assert_array_equal(state_kernel[name], state_numpy[name])


@pytest.mark.skipif(not jit.ENABLED, reason="the compiled kernels are off (CONVLAB_JIT=0)")
def test_applies_to_contiguous_arrays_of_one_dtype():
    big = np.zeros((128, 256), np.float32)
    assert updates.applies(big, big)
    assert updates.applies(big[:1, :3], big[:1, :3])  # a bias of 3: the kernel still wins
    assert not updates.applies(big[:, ::2], big[:, ::2])
    assert not updates.applies(big, big.astype(np.float64))
