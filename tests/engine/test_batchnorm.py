"""BatchNorm's compiled loops (engine/batchnorm.py) equal its NumPy path (ops/normalization.py's
Normalize), forward and backward, training and evaluation; both equal PyTorch in float64."""

import numpy as np
import pytest

import convlab
from convlab.engine import parallel
from convlab.nn import functional as F

from jit_paths import PATHS, engine_path

SHAPES = [(4, 3), (2, 5, 7), (3, 4, 5, 6), (2, 3, 2, 3, 4), (1, 2, 1, 2)]


def _run(lib, x, w, b, rm, rv, gy, training):
    """Output, running statistics and gradients of x, w, b of one batch_norm in ``lib``."""
    def t(a, grad=False):
        return None if a is None else lib.tensor(a.copy(), requires_grad=grad)

    xt, wt, bt, rmt, rvt = t(x, True), t(w, True), t(b, True), t(rm), t(rv)
    y = lib.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training=training, momentum=0.3,
                                     eps=1e-3)
    y.backward(lib.tensor(gy))
    grads = [None if a is None else a.grad.numpy() for a in (xt, wt, bt)]
    return [y.detach().numpy(), rmt.numpy(), rvt.numpy(), *grads]


def _case(shape, dtype, affine, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    rm = rng.standard_normal(C).astype(dtype)
    rv = rng.random(C).astype(dtype) + 0.5
    gy = rng.standard_normal(shape).astype(dtype)
    return x, w, b, rm, rv, gy


def _same(a, b, rtol, atol):
    assert len(a) == len(b)
    for i, (u, v) in enumerate(zip(a, b)):
        assert (u is None) == (v is None), i
        if u is not None:
            assert u.dtype == v.dtype, (i, u.dtype, v.dtype)
            np.testing.assert_allclose(u, v, rtol=rtol, atol=atol, err_msg=f"result {i}")


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_compiled_equals_numpy_path(shape, dtype, affine, training):
    case = _case(shape, dtype, affine)
    with engine_path("compiled"):
        compiled = _run(convlab, *case, training)
    with engine_path("numpy"):
        numpy_path = _run(convlab, *case, training)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    _same(compiled, numpy_path, rtol=tol, atol=tol)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES[1:4], ids=str)
def test_equals_torch_float64(shape, training, path):
    torch = pytest.importorskip("torch")
    case = _case(shape, np.float64, True, seed=1)
    with engine_path(path):
        ours = _run(convlab, *case, training)
    _same(ours, _run(torch, *case, training), rtol=1e-10, atol=1e-12)


def test_channels_split_between_threads_give_the_same_numbers(monkeypatch):
    """With two threads each takes its own channels. The threaded machine code is compiled
    apart from the serial one, and may fuse multiply-adds elsewhere: equal to rounding."""
    case = _case((8, 7, 40, 40), np.float32, True, seed=2)
    with engine_path("compiled"):
        monkeypatch.setattr(parallel, "WORKERS", 1)
        serial = _run(convlab, *case, True)
        monkeypatch.setattr(parallel, "WORKERS", 2)
        split = _run(convlab, *case, True)
    _same(split, serial, rtol=1e-6, atol=1e-7)


def test_non_contiguous_input():
    """A transposed input is copied to a contiguous one first, on both paths."""
    x = convlab.tensor(np.random.default_rng(3).standard_normal((5, 6, 4, 3)).astype(np.float32))
    x = x.permute(3, 1, 2, 0)
    with engine_path("compiled"):
        a = F.batch_norm(x, None, None, training=True).numpy()
    with engine_path("numpy"):
        b = F.batch_norm(x, None, None, training=True).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_without_a_graph_the_output_is_the_same(training):
    """Under no_grad only y is written (normalize_only): the same numbers as with a graph."""
    x, w, b, rm, rv, _ = _case((3, 4, 5, 6), np.float32, True, seed=4)
    with engine_path("compiled"):
        graph = F.batch_norm(convlab.tensor(x), convlab.tensor(rm.copy()),
                             convlab.tensor(rv.copy()), convlab.tensor(w, requires_grad=True),
                             convlab.tensor(b), training=training)
        with convlab.no_grad():
            plain = F.batch_norm(convlab.tensor(x), convlab.tensor(rm.copy()),
                                 convlab.tensor(rv.copy()),
                                 convlab.tensor(w, requires_grad=True), convlab.tensor(b),
                                 training=training)
    assert graph.grad_fn is not None and plain.grad_fn is None
    np.testing.assert_array_equal(plain.numpy(), graph.detach().numpy())
