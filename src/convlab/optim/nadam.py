"""NAdam: Adam with Nesterov momentum, looking one step ahead along the running mean."""

from __future__ import annotations

import numpy as np

from .adam import Adam
from ._steps import count_step, effective_gradient, update_moments
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), as ``torch.optim.NAdam``.

    For each parameter :math:`x` with gradient :math:`g`, step :math:`t` (counting from 1) is::

        x = x * (1 - lr * weight_decay)                 (decoupled_weight_decay)
        g = g + weight_decay * x                        (otherwise, if weight_decay != 0)
        mu_t = beta1 * (1 - 0.96**(t * momentum_decay) / 2)   the momentum warms up
        P = P * mu_t                                    product of mu_1 .. mu_t
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        x = x - lr * (1 - mu_t) / (1 - P) * g / d - lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d

    ``state[p]`` holds ``'step'``, ``'mu_product'`` (P, a 0-d tensor, as in PyTorch),
    ``'exp_avg'`` (m) and ``'exp_avg_sq'`` (v). ``maximize=True`` climbs; ``foreach``,
    ``capturable`` and ``differentiable`` are accepted and change nothing.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        Adam._check_options(self, options)
        _check_nonnegative(options, momentum_decay="momentum_decay value")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        momentum_decay = float(group["momentum_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = self._step_counter()
            state["mu_product"] = self._step_counter()
            state["mu_product"]._data += 1
            state["exp_avg"] = self._zeros_like(x)
            state["exp_avg_sq"] = self._zeros_like(x)
        step = count_step(state)
        g = effective_gradient(x, g, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        state["mu_product"]._data *= mu  # in the step counter's dtype, as PyTorch rounds it
        mu_product = float(state["mu_product"]._data)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        update_moments(m, v, g, beta1, beta2)
        denom = np.sqrt(v / (1 - beta2 ** step))
        denom += eps
        x -= lr * (1.0 - mu) / (1.0 - mu_product) * g / denom
        x -= lr * mu_next / (1.0 - mu_product * mu_next) * m / denom
