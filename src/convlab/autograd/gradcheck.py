"""``gradcheck``: the gradients backward computes, against central differences.

For each input that requires grad, and each of its elements j, the numerical column of the
Jacobian is ``(f(x + eps e_j) - f(x - eps e_j)) / (2 eps)``; the analytical row for each output
element i is what backward gives from a one-hot gradient ``e_i``. The two Jacobians must agree
within ``atol + rtol * |numerical|``. Use float64 inputs: in float32 the differences are mostly
rounding.
"""

from __future__ import annotations

import numpy as np

from . import graph
from .graph import grad as _grad
from .graph import no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when the analytical and numerical Jacobians differ."""


def _as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _outputs(func, inputs) -> list:
    return [o for o in _as_tuple(func(*inputs)) if isinstance(o, graph._Tensor)]


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, fast_mode: bool = False, **kwargs) -> bool:
    """True when ``func``'s backward agrees with central differences at ``inputs`` (a Tensor or
    a tuple of them and other arguments); otherwise raises ``GradcheckError`` naming the output,
    the input and both Jacobians (or returns False with ``raise_exception=False``).

    >>> import convlab
    >>> x = convlab.tensor([0.5, -1.0, 2.0], dtype=convlab.float64, requires_grad=True)
    >>> convlab.autograd.gradcheck(lambda t: (t * t).sin(), x)
    True
    """
    Tensor = graph._Tensor
    inputs = _as_tuple(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    outputs = _outputs(func, inputs)
    for k in wrt:
        x = inputs[k]
        for o, out in enumerate(outputs):
            numerical = np.zeros((out.numel(), x.numel()))
            with no_grad():
                for j, at in enumerate(np.ndindex(*x._data.shape)):
                    keep = x._data[at]
                    x._data[at] = keep + eps
                    plus = _outputs(func, inputs)[o]._data.astype(np.float64).reshape(-1)
                    x._data[at] = keep - eps
                    minus = _outputs(func, inputs)[o]._data.astype(np.float64).reshape(-1)
                    x._data[at] = keep
                    numerical[:, j] = (plus - minus) / (2 * eps)
            analytical = np.zeros_like(numerical)
            if out.requires_grad:
                for i in range(out.numel()):
                    fresh = _outputs(func, inputs)[o]
                    seed = np.zeros(out.numel(), dtype=fresh._data.dtype)
                    seed[i] = 1
                    (g,) = _grad(fresh, x, Tensor._wrap(seed.reshape(fresh._data.shape)),
                                 allow_unused=True)
                    if g is not None:
                        analytical[i] = g._data.reshape(-1)
            if not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {o} with respect to input {k},\n"
                    f"numerical:{numerical}\nanalytical:{analytical}\n")
    return True
