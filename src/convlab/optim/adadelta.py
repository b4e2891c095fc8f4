"""Adadelta: steps whose size is the ratio of two running root-mean-squares."""

from __future__ import annotations

import numpy as np

from ._steps import count_step, effective_gradient
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    For each parameter :math:`x` with gradient :math:`g`, one step is::

        g = g + weight_decay * x                        (if weight_decay != 0)
        s = rho * s + (1 - rho) * g * g                 running mean of g**2
        d = sqrt(u + eps) / sqrt(s + eps) * g           the step, in the units of x
        u = rho * u + (1 - rho) * d * d                 running mean of d**2
        x = x - lr * d

    The ratio gives the step the units of the parameter, so ``lr`` (default 1.0) is only a
    scale. ``state[p]`` holds ``'step'``, ``'square_avg'`` (s) and ``'acc_delta'`` (u).
    ``maximize=True`` climbs; ``foreach``, ``capturable`` and ``differentiable`` are accepted
    for PyTorch code and change nothing.
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate", eps="epsilon value",
                           weight_decay="weight_decay value")
        if not 0.0 <= float(options["rho"]) <= 1.0:
            raise ValueError(f"Invalid rho value: {options['rho']} (rho must be in [0, 1])")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        if not state:
            state["step"] = self._step_counter()
            state["square_avg"] = self._zeros_like(x)
            state["acc_delta"] = self._zeros_like(x)
        count_step(state)
        g = effective_gradient(x, g, group)
        s, u = state["square_avg"]._data, state["acc_delta"]._data
        s *= rho
        s += (1 - rho) * g * g
        delta = np.sqrt(u + eps)
        delta /= np.sqrt(s + eps)
        delta *= g
        u *= rho
        u += (1 - rho) * delta * delta
        x -= lr * delta
