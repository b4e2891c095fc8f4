"""Rprop: each coordinate keeps its own step size, grown or shrunk by the gradient's sign."""

from __future__ import annotations

import numpy as np

from ._steps import count_step
from .optimizer import Optimizer, _check_nonnegative

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun, 1993), as ``torch.optim.Rprop``.

    Only the sign of the gradient is used. For each coordinate, with the previous step's
    gradient :math:`g'`::

        s = clamp(s * eta_plus,  min_step, max_step)    if g * g' > 0   (same direction: speed up)
        s = clamp(s * eta_minus, min_step, max_step)    if g * g' < 0   (overshot: slow down,
            and g = 0, so this coordinate does not move and the next step starts afresh)
        x = x - sign(g) * s;  g' = g

    ``s`` starts at ``lr``. ``etas = (eta_minus, eta_plus)``, ``step_sizes = (min_step,
    max_step)``. ``state[p]`` holds ``'step'``, ``'prev'`` (g') and ``'step_size'`` (s).
    ``maximize=True`` climbs; ``foreach``, ``capturable`` and ``differentiable`` are accepted
    and change nothing.
    """

    def __init__(self, params, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        self._check_options(defaults)
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        _check_nonnegative(options, lr="learning rate")
        eta_minus, eta_plus = options["etas"]
        if not 0.0 < eta_minus < 1.0 < eta_plus:
            raise ValueError(f"Invalid eta values: {eta_minus}, {eta_plus} (need 0 < eta_minus "
                             "< 1 < eta_plus)")

    def _update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        eta_minus, eta_plus = (float(e) for e in group["etas"])
        step_min, step_max = (float(s) for s in group["step_sizes"])
        if not state:
            state["step"] = self._step_counter()
            state["prev"] = self._zeros_like(x)
            state["step_size"] = self._zeros_like(x)
            state["step_size"]._data += float(group["lr"])
        count_step(state)
        if group["maximize"]:
            g = -g
        prev, size = state["prev"]._data, state["step_size"]._data
        agreement = np.sign(g * prev)
        factor = np.where(agreement > 0, eta_plus, np.where(agreement < 0, eta_minus, 1.0))
        size *= factor.astype(size.dtype)
        np.clip(size, step_min, step_max, out=size)
        g = np.where(agreement < 0, 0, g).astype(x.dtype)
        x -= np.sign(g) * size
        prev[...] = g
