"""The activations' passes, and the sum of two arrays, as compiled loops on the engine's threads.

NumPy spells an activation and its gradient as whole-array operations, some of them slow or
several passes each: ReLU is ``np.maximum(x, 0)``, whose NaN handling makes it about 3x slower
than a plain loop (786K float32: 380 us against 115 us, one core); its gradient
:func:`~convlab.ops.elementwise.zero_where` takes two passes; LeakyReLU's ``np.where(x > 0, x,
x * slope)`` three passes and two temporaries, and its gradient as many. And NumPy runs each on
one thread, as it does a plain sum of two arrays (a residual connection; two gradients that
meet at one node in backward). The kernels here make one pass each, on all the engine's threads
(``prange``, :mod:`.jit`), with PyTorch's rules at the edges: a NaN input gives a NaN output,
and a NaN where the gradient is selected passes the incoming gradient on.

Only selections, sums and products are here: a formula such as tanh's gradient ``gz * (1 -
z*z)`` compiles with a fused multiply-add, which rounds differently from NumPy and PyTorch where
``z`` is near 1 (relative differences up to 1e-4 in float32), so it stays with NumPy.

The ops in :mod:`convlab.ops` and autograd's sum of gradients call these where :func:`applies`
(the compiled kernels on, float32 or float64, contiguous arrays of one shape, and enough
elements to pay for the call); their own NumPy code is the twin that
``tests/engine/test_elementwise.py`` holds these equal to.
"""

from __future__ import annotations

import numpy as np

from . import jit
from .jit import kernel, prange

__all__ = [
    "add",
    "applies",
    "hardtanh",
    "hardtanh_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "relu",
    "relu_backward",
]

# Below this many elements NumPy's single call costs less than a kernel's dispatch.
MIN_SIZE = 1 << 14


def applies(*arrays: np.ndarray) -> bool:
    """Whether the kernels take these arrays: compiled kernels on, one float dtype, one shape,
    C-contiguous, at least MIN_SIZE elements."""
    first = arrays[0]
    return (jit.active() and first.size >= MIN_SIZE and first.dtype in jit.FLOAT_TYPES
            and all(a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous
                    for a in arrays))


@kernel(threaded=True)
def _add(x, y, z):
    for i in prange(x.size):
        z[i] = x[i] + y[i]


@kernel(threaded=True)
def _relu(x, z):
    for i in prange(x.size):
        v = x[i]
        z[i] = v if v > 0 or v != v else type(v)(0)


@kernel(threaded=True)
def _relu_backward(z, gz, gx):
    for i in prange(z.size):
        gx[i] = type(gz[i])(0) if z[i] <= 0 else gz[i]


@kernel(threaded=True)
def _leaky_relu(x, slope, z):
    for i in prange(x.size):
        v = x[i]
        z[i] = v if v > 0 else v * slope


@kernel(threaded=True)
def _leaky_relu_backward(x, gz, slope, gx):
    for i in prange(x.size):
        gx[i] = gz[i] if x[i] > 0 else gz[i] * slope


@kernel(threaded=True)
def _hardtanh(x, lo, hi, z):
    for i in prange(x.size):
        v = x[i]
        z[i] = lo if v < lo else (min(v, hi))


@kernel(threaded=True)
def _hardtanh_backward(x, gz, lo, hi, gx):
    for i in prange(x.size):
        v = x[i]
        gx[i] = type(gz[i])(0) if v <= lo or v >= hi else gz[i]


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1)


def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x + y`` (a residual connection, or two gradients meeting at one node)."""
    z = np.empty_like(x)
    _add(_flat(x), _flat(y), _flat(z))
    return z


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``, NaN kept."""
    z = np.empty_like(x)
    _relu(_flat(x), _flat(z))
    return z


def relu_backward(z: np.ndarray, gz: np.ndarray) -> np.ndarray:
    """``gz`` where the output ``z > 0`` (or is NaN), else 0."""
    gx = np.empty_like(gz)
    _relu_backward(_flat(z), _flat(gz), _flat(gx))
    return gx


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    """``x`` where ``x > 0``, else ``slope * x``."""
    z = np.empty_like(x)
    _leaky_relu(_flat(x), x.dtype.type(slope), _flat(z))
    return z


def leaky_relu_backward(x: np.ndarray, gz: np.ndarray, slope: float) -> np.ndarray:
    """``gz`` where ``x > 0``, else ``slope * gz``."""
    gx = np.empty_like(gz)
    _leaky_relu_backward(_flat(x), _flat(gz), gz.dtype.type(slope), _flat(gx))
    return gx


def hardtanh(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``x`` clipped to ``[lo, hi]``, NaN kept (``lo <= hi``)."""
    z = np.empty_like(x)
    _hardtanh(_flat(x), x.dtype.type(lo), x.dtype.type(hi), _flat(z))
    return z


def hardtanh_backward(x: np.ndarray, gz: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``gz`` strictly between the bounds (or where ``x`` is NaN), else 0."""
    gx = np.empty_like(gz)
    _hardtanh_backward(_flat(x), _flat(gz), x.dtype.type(lo), x.dtype.type(hi), _flat(gx))
    return gx
