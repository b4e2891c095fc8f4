"""Adagrad: each coordinate's step divided by the root of its summed squared gradients."""

from __future__ import annotations

import numpy as np

from ._steps import count_step, effective_gradient
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter :math:`x` with gradient :math:`g`, step :math:`t` (counting from 1) is::

        g = g + weight_decay * x                        (if weight_decay != 0)
        S = S + g * g                                   sum of every g**2 so far
        x = x - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(S) + eps)

    Coordinates that saw large gradients take small steps. ``S`` starts at
    ``initial_accumulator_value``; as in PyTorch the state (``'step'``, ``'sum'``) exists from
    construction on. ``maximize=True`` climbs; ``foreach``, ``differentiable`` and ``fused`` are
    accepted for PyTorch code and change nothing.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        self._check_options(defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._initial_state(p._data, group)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate", lr_decay="lr_decay value",
                           weight_decay="weight_decay value", eps="epsilon value",
                           initial_accumulator_value="initial_accumulator_value")

    def _initial_state(self, x: np.ndarray, group: dict) -> dict:
        total = self._zeros_like(x)
        total._data += float(group["initial_accumulator_value"])
        return {"step": self._step_counter(), "sum": total}

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if not state:  # a group added after construction
            state.update(self._initial_state(x, group))
        lr, eps = float(group["lr"]), float(group["eps"])
        lr_decay = float(group["lr_decay"])
        step = count_step(state)
        g = effective_gradient(x, g, group)
        clr = lr / (1 + (step - 1) * lr_decay)
        total = state["sum"]._data
        total += g * g
        std = np.sqrt(total)
        std += eps
        x -= clr * g / std
