"""RMSprop: steps divided by a running root-mean-square of the gradient."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, _check_nonnegative

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``.

    For each parameter :math:`x` with gradient :math:`g`, one step is::

        g = g + weight_decay * x                    (if weight_decay != 0)
        s = alpha * s + (1 - alpha) * g * g         running mean of g**2
        a = a + (1 - alpha) * (g - a)               running mean of g     (centered)
        d = sqrt(s - a * a) + eps   (centered)   or   d = sqrt(s) + eps
        b = momentum * b + g / d;  x = x - lr * b   (momentum > 0)
        x = x - lr * g / d                          (otherwise)

    ``state[p]`` holds ``'step'``, ``'square_avg'`` (s), and ``'momentum_buffer'`` (b) and
    ``'grad_avg'`` (a) when used. ``maximize=True`` climbs. ``capturable``, ``foreach`` and
    ``differentiable`` are accepted for PyTorch code and change nothing.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate", eps="epsilon value",
                           momentum="momentum value", weight_decay="weight_decay value",
                           alpha="alpha value")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum, weight_decay = float(group["momentum"]), float(group["weight_decay"])
        if not state:
            state["step"] = self._step_counter()
            state["square_avg"] = self._zeros_like(x)
        # made when first needed, so a group may turn momentum or centering on later
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = self._zeros_like(x)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = self._zeros_like(x)
        count = state["step"]._data
        count += 1
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * x

        s = state["square_avg"]._data
        s *= alpha
        g2 = (1 - alpha) * g
        g2 *= g
        s += g2
        if group["centered"]:
            a = state["grad_avg"]._data
            a += (1 - alpha) * (g - a)
            denom = np.sqrt(s - a * a)
        else:
            denom = np.sqrt(s)
        denom += eps

        if momentum > 0:
            b = state["momentum_buffer"]._data
            b *= momentum
            b += g / denom
            x -= lr * b
        else:
            delta = lr * g
            delta /= denom
            x -= delta
