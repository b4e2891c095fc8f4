"""Adam and AdamW: steps scaled by running averages of the gradient and of its square."""

from __future__ import annotations

import numpy as np

from ..engine import updates
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``; AMSGrad and decoupled weight decay.

    For each parameter :math:`x` with gradient :math:`g`, step :math:`t` (counting from 1) is::

        x = x * (1 - lr * weight_decay)           (decoupled_weight_decay: AdamW)
        g = g + weight_decay * x                  (otherwise, if weight_decay != 0)
        m = m + (1 - beta1) * (g - m)             running mean of g
        v = beta2 * v + (1 - beta2) * g * g       running mean of g**2
        v_max = max(v_max, v);  v = v_max         (amsgrad)
        x = x - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    The two ``1 - beta**t`` factors correct the bias of averages that start at zero.
    ``state[p]`` holds ``'step'`` (a 0-d tensor, as in PyTorch), ``'exp_avg'`` (m),
    ``'exp_avg_sq'`` (v) and, with amsgrad, ``'max_exp_avg_sq'``. ``maximize=True`` climbs.
    ``foreach``, ``capturable``, ``differentiable`` and ``fused`` are accepted for PyTorch code
    and change nothing: a large parameter is updated in one compiled pass
    (:mod:`convlab.engine.updates`), the others by NumPy, to the same numbers.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_options(defaults)
        defaults["betas"] = tuple(float(b) for b in betas)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate", eps="epsilon value",
                           weight_decay="weight_decay value")
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= float(beta) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta} (betas must be in "
                                 "[0, 1))")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = self._step_counter()
            state["exp_avg"] = self._zeros_like(x)
            state["exp_avg_sq"] = self._zeros_like(x)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:  # amsgrad may be turned on later
            state["max_exp_avg_sq"] = self._zeros_like(x)
        count = state["step"]._data
        count += 1
        step = float(count)
        arrays = [state[k]._data for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if k in state]
        if updates.adam_applies(x, g, *arrays):
            # one compiled pass, the same numbers as the NumPy code below (engine/updates.py)
            m, v = arrays[:2]
            updates.adam(x, g, m, v, arrays[2] if group["amsgrad"] else v, lr=lr,
                         weight_decay=weight_decay, decoupled=group["decoupled_weight_decay"],
                         beta1=beta1, beta2=beta2, amsgrad=group["amsgrad"],
                         maximize=group["maximize"], step=step, eps=eps)
            return
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                x *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * x

        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m += (1 - beta1) * (g - m)
        v *= beta2
        g2 = (1 - beta2) * g
        g2 *= g
        v += g2
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"]._data, v, out=state["max_exp_avg_sq"]._data)

        step_size = lr / (1 - beta1 ** step)
        denom = np.sqrt(v)
        denom /= (1 - beta2 ** step) ** 0.5
        denom += eps
        delta = step_size * m
        delta /= denom
        x -= delta


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    The decay shrinks the parameter directly, ``x = x * (1 - lr * weight_decay)``, instead of
    being added to the gradient, so the running averages never see it. The default
    ``weight_decay`` is 1e-2. See :class:`Adam` for the rest of the step.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
