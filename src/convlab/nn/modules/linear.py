"""``Linear``, a fully connected layer, and ``Identity``, a placeholder that passes its input on."""

from __future__ import annotations

import math

from .. import functional as F
from .. import init
from .module import Module
from .utils import new_parameter

__all__ = ["Linear", "Identity"]


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments, so it can
    stand in for a layer (e.g. a removed classifier head)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """``y = x W^T + b``.

    Shape: input ``(*, in_features)``, output ``(*, out_features)``; ``weight (out_features,
    in_features)``, ``bias (out_features,)``.

    >>> import convlab
    >>> import convlab.nn as nn
    >>> fc = nn.Linear(20, 30)
    >>> fc(convlab.randn(128, 20)).shape
    convlab.Size([128, 30])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = new_parameter((out_features, in_features), device, dtype)
        if bias:
            self.bias = new_parameter((out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # weight ~ U(-1/sqrt(in_features), 1/sqrt(in_features)): kaiming_uniform_ with a=sqrt(5)
        # has gain sqrt(2/(1+5)) = sqrt(1/3) and bound sqrt(3)*gain/sqrt(fan_in) = 1/sqrt(fan_in)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            # bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the weight's fan_in
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
