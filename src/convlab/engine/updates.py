"""The optimizers' updates of a parameter as one compiled pass, on the engine's threads.

NumPy spells SGD with momentum as a run of whole-array steps, ``b *= m; b += (1 - d) * g;
x -= lr * b``: five passes over the parameter's memory and two temporaries the size of the
parameter, all on one thread; Adam takes a dozen passes and four temporaries. The kernels here
read each array once and write the parameter and its state once, element by element, on all
the engine's threads (``prange``, :mod:`.jit`).

Each computes every element with the same operations in the same order as the NumPy code in
:mod:`convlab.optim.sgd` and :mod:`convlab.optim.adam`, in the parameter's dtype (each Python
number rounded to it first, as NumPy does when it multiplies an array by one), and is compiled
``exact`` (no fused multiply-adds, no reassociation), so the two give the same bits
(``tests/engine/test_updates.py``). The optimizers call them where :func:`applies`; their own
NumPy code is the twin.

One training step of the DCGAN generator (1.07M parameters, float32, 2 threads): SGD's update
took 3.4 ms of a 38 ms step against PyTorch's 1.0 ms for zero_grad and step together. Warm,
best of 30: SGD 0.65 ms -> 0.31 (one thread), 0.21 (2 threads); Adam 3.85 -> 0.73 (2 threads;
on one thread NumPy's stays: :func:`adam_applies`).
"""

from __future__ import annotations

import numpy as np

from . import parallel
from .elementwise import applies  # the activations' test: one float dtype, C order
from .jit import SERIAL_BELOW, kernel, prange

__all__ = ["adam", "adam_applies", "applies", "sgd"]


@kernel(threaded=True, exact=True, serial_below=SERIAL_BELOW)
def _sgd(x, g, b, lr, momentum, keep, weight_decay, nesterov, maximize, first):
    for i in prange(x.size):
        step = -g[i] if maximize else g[i]
        if weight_decay != 0:
            step = step + weight_decay * x[i]
        if momentum != 0:
            if first:
                velocity = step
            else:
                velocity = momentum * b[i]
                velocity = velocity + keep * step
            b[i] = velocity
            step = step + momentum * velocity if nesterov else velocity
        x[i] = x[i] - lr * step


def sgd(x: np.ndarray, g: np.ndarray, b: np.ndarray, first: bool, *, lr: float, momentum: float,
        dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """One step of ``torch.optim.SGD`` on ``x`` in place, with gradient ``g`` and momentum
    buffer ``b``, written in place (on the ``first`` step it starts as the step itself and its
    contents are not read; without momentum it is not touched: pass ``x``). The numbers are
    Python floats, as the optimizer's options; each is rounded to ``x``'s dtype, as NumPy does
    when it multiplies an array by one."""
    real = x.dtype.type
    _sgd(x.reshape(-1), g.reshape(-1), b.reshape(-1), real(lr), real(momentum),
         real(1 - dampening), real(weight_decay), nesterov, maximize, first)


def adam_applies(*arrays: np.ndarray) -> bool:
    """Whether :func:`adam` takes these arrays: as :func:`applies`, and more than one thread.
    On one thread the kernel's serial machine code is not vectorized (LLVM does not vectorize a
    loop that stores to three arrays it cannot prove apart; the threaded code's arrays are
    marked so), and loses to NumPy's vectorized passes: DCGAN generator, warm, best of 30, one
    thread 4.3 ms against 3.6; on 2 threads 0.73 against 3.85. Below SERIAL_BELOW elements
    the kernel would run serial: NumPy takes those too."""
    return parallel.threads() > 1 and arrays[0].size >= SERIAL_BELOW and applies(*arrays)


@kernel(threaded=True, exact=True, serial_below=SERIAL_BELOW)
def _adam(x, g, m, v, v_max, lr_wd, weight_decay, decoupled, keep1, beta2, keep2, amsgrad,
          maximize, step_size, bias2_root, eps):
    for i in prange(x.size):
        gi = -g[i] if maximize else g[i]
        xi = x[i]
        if weight_decay != 0:
            if decoupled:
                xi = xi * lr_wd
            else:
                gi = gi + weight_decay * xi
        mi = m[i] + keep1 * (gi - m[i])
        m[i] = mi
        vi = v[i] * beta2
        square = keep2 * gi
        square = square * gi
        vi = vi + square
        v[i] = vi
        if amsgrad:  # np.maximum: a NaN on either side wins
            top = v_max[i]
            vi = top if (top > vi or top != top) else vi
            v_max[i] = vi
        denom = np.sqrt(vi)
        denom = denom / bias2_root
        denom = denom + eps
        delta = step_size * mi
        delta = delta / denom
        x[i] = xi - delta


def adam(x: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, v_max: np.ndarray, *,
         lr: float, weight_decay: float, decoupled: bool, beta1: float, beta2: float,
         amsgrad: bool, maximize: bool, step: float, eps: float) -> None:
    """One step ``step`` (counting from 1) of ``torch.optim.Adam`` (``decoupled``: AdamW) on
    ``x`` in place, with gradient ``g`` and running averages ``m``, ``v`` and, with
    ``amsgrad``, ``v_max`` (pass ``v`` without), all updated in place."""
    real = x.dtype.type
    flat = [a.reshape(-1) for a in (x, g, m, v, v_max)]
    _adam(*flat, real(1 - lr * weight_decay), real(weight_decay), decoupled, real(1 - beta1),
          real(beta2), real(1 - beta2), amsgrad, maximize, real(lr / (1 - beta1 ** step)),
          real((1 - beta2 ** step) ** 0.5), real(eps))
