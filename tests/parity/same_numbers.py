"""Run one program twice, with ``torch`` and with ``convlab``, and compare every number.

The programs in ``tests/parity`` take the library as an argument named ``torch``, so their text
is exactly what a PyTorch user writes. The model is built by both libraries; torch's initial
weights are copied into convlab's through NumPy, as a user porting a checkpoint would.
"""

import importlib.util

import numpy as np

import convlab

RTOL, ATOL = 1e-4, 1e-5  # float32 after a few training steps

if importlib.util.find_spec("torch") is not None:
    import torch

    # One thread for the oracle: on a small shared machine its spinning worker threads fight
    # the NumPy code under test for the cores, and the tests take five times longer.
    torch.set_num_threads(1)


def numbers(value) -> np.ndarray:
    """The values of a convlab or torch tensor, an ndarray or a Python number."""
    if hasattr(value, "detach"):
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)


def assert_same(ours, theirs, what="", rtol=RTOL, atol=ATOL) -> None:
    """Equal within tolerance: tensors, numbers, or lists and tuples of them (item by item)."""
    if isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs), f"{what}: {len(ours)} items, torch has {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{what}[{i}]", rtol, atol)
        return
    a, b = numbers(ours), numbers(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch's {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def copy_weights(theirs, ours) -> None:
    """Give the convlab model ``ours`` the torch model's parameters and buffers."""
    ours.load_state_dict({name: convlab.from_numpy(value.detach().numpy().copy())
                          for name, value in theirs.state_dict().items()})


def assert_same_state(ours, theirs, rtol=RTOL, atol=ATOL) -> None:
    """The two models hold the same names, with the same values, in the same order."""
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for name in a:
        assert_same(a[name], b[name], name, rtol, atol)


def assert_same_grads(ours, theirs, rtol=RTOL, atol=ATOL) -> None:
    """Each parameter has a gradient in both models or in neither, with the same values."""
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        q = theirs_params[name]
        assert (p.grad is None) == (q.grad is None), f"grad of {name}: None on one side only"
        if p.grad is not None:
            assert_same(p.grad, q.grad, f"grad of {name}", rtol, atol)
