"""The two paths of the engine's algorithms, for tests that run each: the compiled loops
(skipped without numba) and the NumPy code (``jit.disabled()``)."""

import contextlib

import pytest

from convlab.engine import jit

PATHS = ["compiled", "numpy"]


def engine_path(name: str):
    """A context that runs the engine on path ``name`` of :data:`PATHS`."""
    if name == "compiled":
        pytest.importorskip("numba")
        if not jit.ENABLED:
            pytest.skip("compiled kernels turned off (CONVLAB_JIT=0)")
        return contextlib.nullcontext()
    return jit.disabled()
