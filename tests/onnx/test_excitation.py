"""The squeeze-excitation block on arrays (convlab/onnx/excitation.py): the compiled kernel, on
one thread and on two, and the NumPy path equal the block's definition, written as loops."""

import contextlib

import numpy as np
import pytest

from convlab.engine import jit, parallel
from convlab.onnx.excitation import squeeze_excite


def _definition(x, w1, b1, w2, b2):
    """The block as its formula reads, a sample and a channel at a time."""
    N, C = x.shape[:2]
    y = np.empty_like(x)
    for n in range(N):
        pooled = np.array([x[n, c].mean() for c in range(C)])
        hidden = [max(sum(w1[r, c] * pooled[c] for c in range(C)) + b1[r], 0.0)
                  for r in range(len(w1))]
        for c in range(C):
            gate = sum(w2[c, r] * hidden[r] for r in range(len(w1))) + b2[c]
            y[n, c] = x[n, c] * min(max(gate, 0.0), 1.0)
    return y


SHAPES = [(2, 6, 3, 5), (1, 4, 7), (3, 5, 2, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=range(len(SHAPES)))
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_equals_the_definition(shape, compiled, monkeypatch):
    if compiled:
        pytest.importorskip("numba")
        if not jit.ENABLED:
            pytest.skip("the compiled kernels are off")
    rng = np.random.default_rng(0)
    C, R = shape[1], 3
    x = rng.standard_normal(shape)
    w1, b1 = rng.standard_normal((R, C)), rng.standard_normal(R)
    w2, b2 = rng.standard_normal((C, R)), rng.standard_normal(C)  # gates below 0, inside, above 1
    expected = _definition(x, w1, b1, w2, b2)
    for workers in (1, 2):  # two threads: the planes in two runs
        monkeypatch.setattr(parallel, "WORKERS", workers)
        monkeypatch.setattr(parallel, "MIN_RUN_BYTES", 0)
        with contextlib.nullcontext() if compiled else jit.disabled():
            got = squeeze_excite(x, w1, b1, w2, b2)
            got32 = squeeze_excite(*(a.astype(np.float32) for a in (x, w1, b1, w2, b2)))
        assert got.shape == x.shape and got.dtype == x.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        assert got32.dtype == np.float32
        np.testing.assert_allclose(got32, expected, rtol=1e-5, atol=1e-5)
