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
    shape, w_shape = input._data.shape, weight._data.shape  # read once: .shape builds a Size
    if len(w_shape) not in (1, 2) or not shape:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features) and input at "
                         f"least 1-D, got input {list(shape)} and weight {list(w_shape)}")
    w = weight if len(w_shape) == 2 else weight.reshape(1, -1)
    out_features, in_features = w._data.shape
    if shape[-1] != in_features:
        rows = math.prod(shape[:-1])
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{shape[-1]} and "
            f"{in_features}x{out_features}): the input has {shape[-1]} features in its last "
            f"dim, the weight expects in_features={in_features}")
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got "
                           f"{input.dtype} (input) and {weight.dtype} (weight)")
    if bias is not None and bias._data.shape != (out_features,):
        raise RuntimeError(f"linear: bias must have shape ({out_features},) to match "
                           f"out_features={out_features}, got {list(bias.shape)}")
    y = Linear.apply(input, w, bias)
    return y.reshape(shape[:-1]) if len(w_shape) == 1 else y
