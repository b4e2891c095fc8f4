"""ASGD: SGD with a decaying step, keeping a running average of the parameters visited."""

from __future__ import annotations

import numpy as np

from ._steps import count_step, effective_gradient
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``.

    For each parameter :math:`x` with gradient :math:`g`, step :math:`t` (counting from 1) is::

        g = g + weight_decay * x                        (if weight_decay != 0)
        x = x * (1 - lambd * eta) - eta * g             eta starts at lr
        ax = x  (mu == 1)   or   ax = ax + mu * (x - ax)     the average, from step t0 on
        eta = lr / (1 + lambd * lr * t)**alpha;  mu = 1 / max(1, t - t0)

    The optimizer steps ``x``; the average is in ``state[p]['ax']`` for the user to copy in at
    the end. ``state[p]`` also holds ``'step'``, ``'eta'`` and ``'mu'`` (0-d tensors).
    ``maximize=True`` climbs; ``foreach``, ``capturable`` and ``differentiable`` are accepted
    and change nothing.
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate", weight_decay="weight_decay value")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, lambd = float(group["lr"]), float(group["lambd"])
        alpha, t0 = float(group["alpha"]), float(group["t0"])
        if not state:
            state["step"] = self._step_counter()
            state["eta"] = self._step_counter()
            state["eta"]._data += lr
            state["mu"] = self._step_counter()
            state["mu"]._data += 1
            state["ax"] = self._zeros_like(x)
        step = count_step(state)
        g = effective_gradient(x, g, group)
        eta, mu = float(state["eta"]._data), float(state["mu"]._data)
        x *= 1 - lambd * eta
        x -= eta * g
        ax = state["ax"]._data
        if mu != 1:
            ax += (x - ax) * mu
        else:
            ax[...] = x
        state["eta"]._data[...] = lr / (1 + lambd * lr * step) ** alpha
        state["mu"]._data[...] = 1 / max(1, step - t0)
