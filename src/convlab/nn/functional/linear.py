"""The fully connected layer's function, as ``torch.nn.functional.linear``.

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([[1., 2., 3.]])                  # (N, in) = (1, 3)
>>> w = convlab.tensor([[1., 0., 0.], [1., 1., 1.]])    # (out, in) = (2, 3)
>>> F.linear(x, w, convlab.tensor([0.5, -6.]))          # x W^T + b
tensor([[1.5000, 0.0000]])
"""

from __future__ import annotations

import math

from ...ops.linear import Linear
from ...tensor import Tensor

__all__ = ["linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x W^T + b``.

    Shape: ``input (*, in_features)``, ``weight (out_features, in_features)``, ``bias
    (out_features,)``, output ``(*, out_features)``.
    """
    for arg, value in (("input", input), ("weight", weight), ("bias", bias)):
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"linear(): argument '{arg}' must be a convlab.Tensor, not "
                            f"{type(value).__name__}")
    if weight.dim() not in (1, 2) or input.dim() == 0:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features) and input at "
                         f"least 1-D, got input {list(input.shape)} and weight "
                         f"{list(weight.shape)}")
    w = weight if weight.dim() == 2 else weight.reshape(1, -1)
    rows = math.prod(input.shape[:-1])
    if input.shape[-1] != w.shape[1]:
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{w.shape[1]}x{w.shape[0]}): the input has {input.shape[-1]} features in its last "
            f"dim, the weight expects in_features={w.shape[1]}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got "
                           f"{input.dtype} (input) and {weight.dtype} (weight)")
    if bias is not None and tuple(bias.shape) != (w.shape[0],):
        raise RuntimeError(f"linear: bias must have shape ({w.shape[0]},) to match "
                           f"out_features={w.shape[0]}, got {list(bias.shape)}")
    y = Linear.apply(input, w, bias)
    return y.reshape(input.shape[:-1]) if weight.dim() == 1 else y
