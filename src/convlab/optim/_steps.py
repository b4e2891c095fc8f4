"""The pieces of one update step that several optimizers share, on a parameter's arrays:
counting the step, the gradient's direction and weight decay, and Adam's two running moments."""

from __future__ import annotations

import numpy as np

__all__ = ["count_step", "effective_gradient", "update_moments"]


def count_step(state: dict) -> float:
    """Add one to ``state['step']`` (a 0-d tensor, as PyTorch keeps it); return the new count."""
    state["step"]._data += 1
    return float(state["step"]._data)


def effective_gradient(x: np.ndarray, g: np.ndarray, group: dict) -> np.ndarray:
    """The gradient the rule follows: negated with ``maximize``, plus ``weight_decay * x``
    (L2 decay); with ``decoupled_weight_decay`` the decay shrinks ``x`` in place instead,
    ``x *= 1 - lr * weight_decay``, and the gradient is left alone."""
    if group["maximize"]:
        g = -g
    weight_decay = float(group["weight_decay"])
    if weight_decay != 0:
        if group.get("decoupled_weight_decay", False):
            x *= 1 - float(group["lr"]) * weight_decay
        else:
            g = g + weight_decay * x
    return g


def update_moments(m: np.ndarray, v: np.ndarray, g: np.ndarray, beta1: float,
                   beta2: float) -> None:
    """Adam's running means, in place: ``m`` of g (weight 1 - beta1 on the newest) and ``v`` of
    g**2 (weight 1 - beta2)."""
    m += (1 - beta1) * (g - m)
    v *= beta2
    v += (1 - beta2) * g * g
