"""``Linear``, a fully connected layer, its lazy form ``LazyLinear``, and ``Identity``, a
placeholder that passes its input on."""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..parameter import is_lazy
from .module import Module
from .utils import LazyWeightMixin, new_parameter, reset_weight_and_bias

__all__ = ["Linear", "LazyLinear", "Identity"]


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments, so it can
    stand in for a layer (e.g. a removed classifier head)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(LazyWeightMixin, Module):
    """``y = x W^T + b``.

    Shape: input ``(*, in_features)``, output ``(*, out_features)``; ``weight (out_features,
    in_features)``, ``bias (out_features,)``.

    >>> import convlab
    >>> import convlab.nn as nn
    >>> fc = nn.Linear(20, 30)
    >>> fc(convlab.randn(128, 20)).shape
    convlab.Size([128, 30])

    ``in_features=None`` makes the layer lazy (as :class:`LazyLinear`): it reads
    ``in_features`` from its first input.
    """

    def __init__(self, in_features: int | None, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        lazy = in_features is None
        self.in_features = 0 if lazy else in_features  # 0 prints until the first call
        self.out_features = out_features
        self.weight = new_parameter(None if lazy else (out_features, in_features), device, dtype)
        if bias:
            self.bias = new_parameter(None if lazy else (out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if is_lazy(self.weight):
            return  # no shape yet: initialized at the first forward call
        # weight, bias ~ U(-1/sqrt(in_features), 1/sqrt(in_features))
        reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        if is_lazy(self.weight):
            self._infer_in_features(input)
        return F.linear(input, self.weight, self.bias)

    def _infer_in_features(self, input) -> None:
        """At a lazy layer's first call: ``in_features`` is the input's last dim; create and
        initialize the parameters, and become a plain ``Linear``."""
        if not isinstance(input, Tensor) or input.dim() == 0:
            raise RuntimeError(f"{type(self).__name__}: expected an input of shape "
                               f"(*, in_features), got {getattr(input, 'shape', input)!r}")
        self.in_features = input.shape[-1]
        self._materialize((self.out_features, self.in_features), (self.out_features,))

    def _in_size_from_weight(self) -> None:
        self.in_features = self.weight.shape[1]

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyLinear(Linear):
    """``Linear(in_features, out_features)`` without ``in_features``: the first call reads it
    from the input's last dim, initializes the weights and turns the layer into a ``Linear``.
    Handy after convolutions, whose flattened size is tedious to work out by hand.

    >>> import convlab
    >>> import convlab.nn as nn
    >>> fc = nn.LazyLinear(10)
    >>> fc
    LazyLinear(in_features=0, out_features=10, bias=True)
    >>> fc(convlab.randn(2, 84)).shape, fc
    (convlab.Size([2, 10]), Linear(in_features=84, out_features=10, bias=True))
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(None, out_features, bias, device, dtype)
