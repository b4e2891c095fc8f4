"""Gradient clipping, called between ``loss.backward()`` and ``optimizer.step()``::

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
"""

from __future__ import annotations

from collections.abc import Iterable

from ... import _creation
from ...autograd import no_grad
from ...tensor import Tensor, stack

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The gradients that exist: a parameter that took no part in the loss has none."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all the gradients together so that their joint norm is at most ``max_norm``.

    The joint norm is the ``norm_type``-norm of all the gradients' elements as one vector (the
    norm of the per-parameter norms). Every gradient is multiplied in place by::

        min(1, max_norm / (total_norm + 1e-6))

    so the direction of the step is kept and only its length shrinks. Returns ``total_norm``,
    measured before clipping (a 0-d tensor; worth logging: a spike means a bad batch).
    ``foreach`` is PyTorch's implementation choice, accepted and ignored.

    >>> import convlab
    >>> w = convlab.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()  # grad 2w = [6, 8], norm 10
    >>> clip_grad_norm_([w], max_norm=5.0)
    tensor(10.)
    >>> w.grad
    tensor([3.0000, 4.0000])
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return _creation.tensor(0.0)
    with no_grad():
        total_norm = stack([g.norm(norm_type) for g in grads]).norm(norm_type)
        if error_if_nonfinite and not total_norm.isfinite().item():
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        clip_coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(clip_coef.to(g.dtype))
    return total_norm


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place.

    Unlike :func:`clip_grad_norm_` this changes the direction of the step.
    """
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
