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
``z`` is near 1 (relative differences up to 1e-4 in float32), so it stays with NumPy. Hardswish
(``x * clip(x + 3, 0, 6) / 6``, four NumPy passes: 244 us on 8x200x2x96 float32, where one pass
of ``x + 3`` takes 46) is compiled ``exact`` (:func:`.jit.kernel`), without fused multiply-adds
or a division turned into a product, so its operations round as NumPy's do.

The in-place activations (``leaky_relu_``, ``hardtanh_`` and ``relu6_``: the ``inplace=True``
of DCGAN's LeakyReLU and MobileNet's ReLU6) have kernels of their own that read and write one
array. The out-of-place kernels, handed the same array as input and output, run their scalar
loop: the vectorized one is guarded by a check that the two do not overlap. And LeakyReLU's
slope is applied as a product with 1 or the slope: ``x[i] = v if v > 0 else v * slope`` stores
back the value it read where ``v > 0``, which the compiler turns into masked stores, slow on
AMD's cores. One core, 32x64x32x32 float32, in place: LeakyReLU 0.89 (out of place, then
copied back) -> 0.22 ms (its masked-store loop: 0.99), Hardtanh 1.16 -> 0.25 (``np.clip`` with
``out``: 0.41); PyTorch 0.38 and 0.24. A ReLU has no such form that keeps PyTorch's signed
zeros (``relu_`` copies zeros in with NumPy).

The ops in :mod:`convlab.ops` call the activations' kernels where :func:`applies` (the compiled
kernels on, float32 or float64, contiguous arrays of one shape), at any size: a kernel's call
costs about 1.5 us, and the activations' NumPy code takes more from the first element on (one
core, 16 float32 values, NumPy / kernel in us: ReLU 3.1 / 1.7, its gradient 4.3 / 2.0,
LeakyReLU 6.7 / 4.6, Hardswish 13.8 / 3.4; 4096 values: ReLU 8.0 / 2.1, LeakyReLU 16.1 / 5.3).
A sum is one NumPy pass already, which no kernel of one thread beats at any size (one core,
``x + y`` / ``x += y`` in us, NumPy against the kernel: 4K values 2.1 / 4.9 and 1.8 / 3.2, 256K
47.6 / 51.3 and 35.7 / 37.0, 1M 205 / 208 and 135 / 135): the ops and autograd's sum of
gradients take :func:`add` and :func:`add_into` where :func:`sums_apply`, on more than one
thread and from SERIAL_BELOW elements on (2 threads: 256K 44.5 / 38.1 and 33.9 / 25.4, 1M 189 /
119 and 128 / 70). Their own NumPy code is the twin that ``tests/engine/test_elementwise.py``
holds these equal to.
"""

from __future__ import annotations

import numpy as np

from . import jit, parallel
from .jit import SERIAL_BELOW, kernel, prange

__all__ = [
    "add",
    "applies",
    "hardswish",
    "hardswish_backward",
    "hardtanh",
    "hardtanh_backward",
    "hardtanh_in_place",
    "leaky_relu",
    "leaky_relu_backward",
    "leaky_relu_in_place",
    "relu",
    "relu_backward",
    "sums_apply",
]


def applies(*arrays: np.ndarray) -> bool:
    """Whether the kernels take these arrays: compiled kernels on, one float dtype, one shape,
    C-contiguous."""
    first = arrays[0]
    return (jit.active() and first.dtype in jit.FLOAT_TYPES
            and all(a.dtype == first.dtype and a.shape == first.shape and a.flags.c_contiguous
                    for a in arrays))


def sums_apply(*arrays: np.ndarray) -> bool:
    """Whether :func:`add` and :func:`add_into` take these arrays: as :func:`applies`, where
    their loop runs on more than one thread (more than one thread, SERIAL_BELOW elements or
    more); NumPy's sum is as fast on one (see the module's docstring)."""
    return (parallel.threads() > 1 and arrays[0].size >= SERIAL_BELOW and applies(*arrays))


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _add(x, y, z):
    for i in prange(x.size):
        z[i] = x[i] + y[i]


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _add_into(x, y):
    for i in prange(x.size):
        x[i] += y[i]


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _relu(x, z):
    for i in prange(x.size):
        v = x[i]
        z[i] = type(v)(0) if v < 0 else v


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _relu_backward(z, gz, gx):
    for i in prange(z.size):
        gx[i] = type(gz[i])(0) if z[i] <= 0 else gz[i]


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _leaky_relu(x, slope, z):
    for i in prange(x.size):
        v = x[i]
        z[i] = v if v > 0 else v * slope


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _leaky_relu_backward(x, gz, slope, gx):
    for i in prange(x.size):
        gx[i] = gz[i] if x[i] > 0 else gz[i] * slope


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _leaky_relu_in_place(x, slope):
    one = type(slope)(1)
    for i in prange(x.size):
        v = x[i]
        x[i] = v * (one if v > 0 else slope)  # (not a select of v: see the module's docstring)


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _hardtanh(x, lo, hi, z):
    for i in prange(x.size):
        v = x[i]
        z[i] = lo if v < lo else (min(v, hi))


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _hardtanh_in_place(x, lo, hi):
    for i in prange(x.size):
        v = x[i]
        x[i] = lo if v < lo else (min(v, hi))


@kernel(threaded=True, serial_below=SERIAL_BELOW)
def _hardtanh_backward(x, gz, lo, hi, gx):
    for i in prange(x.size):
        v = x[i]
        gx[i] = type(gz[i])(0) if v <= lo or v >= hi else gz[i]


@kernel(threaded=True, exact=True, serial_below=SERIAL_BELOW)
def _hardswish(x, z):
    for i in prange(x.size):
        v = x[i]
        real = type(v)  # constants of x's dtype: float32 with an int would compute in float64
        t = v + real(3)
        if t < 0:  # a NaN fails both tests and stays
            t = real(0)
        elif t > 6:
            t = real(6)
        z[i] = v * t / real(6)


@kernel(threaded=True, exact=True, serial_below=SERIAL_BELOW)
def _hardswish_backward(x, gz, gx):
    for i in prange(x.size):
        v = x[i]
        real = type(v)
        if v <= -3:
            gx[i] = type(gz[i])(0)
        elif v < 3:
            gx[i] = gz[i] * (v / real(3) + real(0.5))
        else:  # x >= 3, or NaN
            gx[i] = gz[i]


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1)


def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x + y`` (a residual connection, or two gradients meeting at one node)."""
    z = np.empty_like(x)
    _add(_flat(x), _flat(y), _flat(z))
    return z


def add_into(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x += y``, returning ``x``: a gradient that arrives where another waits, added into the
    one the backward walk alone holds. A kernel of its own: :func:`_add` given ``x`` as its
    output too falls back to its scalar loop (numba's test that the output does not overlap
    an input fails)."""
    _add_into(_flat(x), _flat(y))
    return x


def relu(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """PyTorch's ``clamp_min(x, 0)``: 0 where ``x < 0``, else ``x`` (NaN and -0.0 kept); into
    ``out`` where given (another C-contiguous array of ``x``'s shape and dtype: a slice of a
    larger output)."""
    z = np.empty_like(x) if out is None else out
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


def leaky_relu_in_place(x: np.ndarray, slope: float) -> None:
    """:func:`leaky_relu` written over ``x``."""
    _leaky_relu_in_place(_flat(x), x.dtype.type(slope))


def leaky_relu_backward(x: np.ndarray, gz: np.ndarray, slope: float) -> np.ndarray:
    """``gz`` where ``x > 0``, else ``slope * gz``."""
    gx = np.empty_like(gz)
    _leaky_relu_backward(_flat(x), _flat(gz), gz.dtype.type(slope), _flat(gx))
    return gx


def hardswish(x: np.ndarray) -> np.ndarray:
    """``x * clip(x + 3, 0, 6) / 6``, NaN kept."""
    z = np.empty_like(x)
    _hardswish(_flat(x), _flat(z))
    return z


def hardswish_backward(x: np.ndarray, gz: np.ndarray) -> np.ndarray:
    """``gz`` times 0 (x <= -3), ``x/3 + 1/2`` (-3 < x < 3) or 1 (x >= 3, or NaN)."""
    gx = np.empty_like(gz)
    _hardswish_backward(_flat(x), _flat(gz), _flat(gx))
    return gx


def hardtanh(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``x`` clipped to ``[lo, hi]``, NaN kept (``lo <= hi``)."""
    z = np.empty_like(x)
    _hardtanh(_flat(x), x.dtype.type(lo), x.dtype.type(hi), _flat(z))
    return z


def hardtanh_in_place(x: np.ndarray, lo: float, hi: float) -> None:
    """:func:`hardtanh` written over ``x``."""
    _hardtanh_in_place(_flat(x), x.dtype.type(lo), x.dtype.type(hi))


def hardtanh_backward(x: np.ndarray, gz: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``gz`` strictly between the bounds (or where ``x`` is NaN), else 0."""
    gx = np.empty_like(gz)
    _hardtanh_backward(_flat(x), _flat(gz), x.dtype.type(lo), x.dtype.type(hi), _flat(gx))
    return gx
