"""Run a convlab layer and its PyTorch twin on the same weights and inputs, and compare.

PyTorch is imported by the caller (``pytest.importorskip``) and passed in, so this helper module
imports without it.
"""

import numpy as np

import convlab


def to_torch(torch, value):
    """A torch tensor with the values of a convlab tensor or ndarray (its dtype kept)."""
    array = value.detach().numpy() if isinstance(value, convlab.Tensor) else np.asarray(value)
    return torch.from_numpy(np.array(array))


def copy_state(torch, ours, theirs) -> None:
    """Give ``theirs`` (a torch module) the parameters and buffers of ``ours``."""
    theirs.load_state_dict({k: to_torch(torch, v) for k, v in ours.state_dict().items()})


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6, what="") -> None:
    ours = ours.detach().numpy() if isinstance(ours, convlab.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch's {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def check_twin(torch, ours, theirs, *inputs, call=None, rtol=1e-5, atol=1e-6, seed=0,
               copy=True):
    """``ours`` and ``theirs`` (same weights, copied from ours unless ``copy=False``) give the
    same output on ``inputs`` (ndarrays; floating ones get gradients), then the same gradients
    for every floating input and every parameter after backward of a random weighting of the
    output, and the same buffers. ``call(module, *inputs)`` defaults to ``module(*inputs)``.
    Returns (our output, torch's output)."""
    if copy:
        copy_state(torch, ours, theirs)
    call = call or (lambda m, *xs: m(*xs))
    xs_ours = [convlab.tensor(x, requires_grad=x.dtype.kind == "f") if isinstance(x, np.ndarray)
               else x for x in inputs]
    xs_theirs = [to_torch(torch, x).requires_grad_(x.dtype.kind == "f")
                 if isinstance(x, np.ndarray) else x for x in inputs]
    y, t = call(ours, *xs_ours), call(theirs, *xs_theirs)
    assert_close(y, t, rtol, atol, "output")
    gy = np.random.default_rng(seed).standard_normal(tuple(y.shape))
    gy = gy.astype(y.detach().numpy().dtype)
    if y.requires_grad:
        y.backward(convlab.tensor(gy))
        t.backward(to_torch(torch, gy))
        for i, (a, b) in enumerate(zip(xs_ours, xs_theirs)):
            if isinstance(a, convlab.Tensor) and a.requires_grad:
                assert_close(a.grad, b.grad, rtol, atol, f"grad of input {i}")
        theirs_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            assert_close(p.grad, theirs_params[name].grad, rtol, atol, f"grad of {name}")
    theirs_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        assert_close(b, theirs_buffers[name], rtol, atol, f"buffer {name}")
    return y, t


def torch_repr(module) -> str:
    """torch's repr of a module, spelled as convlab prints it."""
    return repr(module).replace("torch.", "convlab.")
