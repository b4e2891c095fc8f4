"""RAdam: Adam whose adaptive step is switched on gradually, once its variance is bounded."""

from __future__ import annotations

import math

import numpy as np

from .adam import Adam
from ._steps import count_step, effective_gradient, update_moments
from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""Rectified Adam (Liu et al., 2020), as ``torch.optim.RAdam``.

    For each parameter :math:`x` with gradient :math:`g`, step :math:`t` (counting from 1) is::

        x = x * (1 - lr * weight_decay)                 (decoupled_weight_decay)
        g = g + weight_decay * x                        (otherwise, if weight_decay != 0)
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)     length of the average's memory
        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        x = x - lr * m / (1 - beta1**t) * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)   (rho_t > 5)
        x = x - lr * m / (1 - beta1**t)                                             (otherwise)

    In the first steps (rho_t <= 5) the estimate of v is too noisy to divide by, and the step is
    SGD with momentum. ``state[p]`` holds ``'step'``, ``'exp_avg'`` (m) and ``'exp_avg_sq'`` (v).
    ``maximize=True`` climbs; ``foreach``, ``capturable`` and ``differentiable`` are accepted
    and change nothing.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    _check_options = Adam._check_options

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = self._step_counter()
            state["exp_avg"] = self._zeros_like(x)
            state["exp_avg_sq"] = self._zeros_like(x)
        step = count_step(state)
        g = effective_gradient(x, g, group)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        update_moments(m, v, g, beta1, beta2)
        correction2 = 1 - beta2 ** step
        m_hat = m / (1 - beta1 ** step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = correction2 ** 0.5 / (np.sqrt(v) + eps)
            x -= m_hat * lr * adaptive * rect
        else:
            x -= m_hat * lr
