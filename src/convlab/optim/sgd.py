"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..engine import updates
from ..tensor import Tensor
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD``.

    For each parameter :math:`x` with gradient :math:`g`, one step is::

        g = g + weight_decay * x                            (if weight_decay != 0)
        b = g                      on the first step        (if momentum != 0)
        b = momentum * b + (1 - dampening) * g   after it
        g = g + momentum * b   (nesterov)   or   g = b
        x = x - lr * g

    With ``maximize=True`` the step climbs: ``g`` starts as ``-grad``. ``state[p]`` holds
    ``'momentum_buffer'`` (``b``) when ``momentum != 0``.

    ``foreach``, ``fused`` and ``differentiable`` are PyTorch's implementation choices; convlab
    accepts them so PyTorch code runs unchanged, and updates each large parameter in one
    compiled pass (:mod:`convlab.engine.updates`), the others with NumPy, to the same numbers.

    >>> import convlab
    >>> w = convlab.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([0.8000, 1.6000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate", momentum="momentum value",
                           weight_decay="weight_decay value")
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"Nesterov momentum requires a momentum and zero dampening (got "
                             f"momentum={options['momentum']}, dampening={options['dampening']})")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        weight_decay = float(group["weight_decay"])
        buf = state.get("momentum_buffer") if momentum != 0 else None
        if updates.applies(x, g, *(() if buf is None else (buf._data,))):
            # one compiled pass, the same numbers as the NumPy code below (engine/updates.py)
            first = momentum != 0 and buf is None
            if first:
                buf = state["momentum_buffer"] = Tensor._wrap(np.empty_like(x))
            updates.sgd(x, g, x if buf is None else buf._data, first, lr=lr, momentum=momentum,
                        dampening=float(group["dampening"]), weight_decay=weight_decay,
                        nesterov=group["nesterov"], maximize=group["maximize"])
            return
        if group["maximize"]:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * x
        if momentum != 0:
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._wrap(np.array(g, copy=True))
            else:
                b = buf._data
                b *= momentum
                b += (1 - float(group["dampening"])) * g
            g = g + momentum * buf._data if group["nesterov"] else buf._data
        x -= lr * g
