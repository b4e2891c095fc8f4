"""Adamax: Adam with the running mean of g**2 replaced by a decaying maximum of |g|."""

from __future__ import annotations

import numpy as np

from .adam import Adam
from ._steps import count_step, effective_gradient
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7), as ``torch.optim.Adamax``.

    For each parameter :math:`x` with gradient :math:`g`, step :math:`t` (counting from 1) is::

        g = g + weight_decay * x                        (if weight_decay != 0)
        m = m + (1 - beta1) * (g - m)                   running mean of g
        u = max(beta2 * u, |g| + eps)                   decaying maximum of |g| (infinity norm)
        x = x - lr / (1 - beta1**t) * m / u

    ``state[p]`` holds ``'step'``, ``'exp_avg'`` (m) and ``'exp_inf'`` (u). ``maximize=True``
    climbs; ``foreach``, ``capturable`` and ``differentiable`` are accepted for PyTorch code and
    change nothing.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    _check_options = Adam._check_options

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = self._step_counter()
            state["exp_avg"] = self._zeros_like(x)
            state["exp_inf"] = self._zeros_like(x)
        step = count_step(state)
        g = effective_gradient(x, g, group)
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        m += (1 - beta1) * (g - m)
        u *= beta2
        np.maximum(u, np.abs(g) + eps, out=u)
        x -= lr / (1 - beta1 ** step) * m / u
