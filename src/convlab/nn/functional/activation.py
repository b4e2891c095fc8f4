"""Activation functions on Tensors, as ``torch.nn.functional``.

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([-2., -0.5, 0., 1.5])
>>> F.relu(x)
tensor([0.0000, 0.0000, 0.0000, 1.5000])
>>> F.leaky_relu(x, 0.1)
tensor([-0.2000, -0.0500,  0.0000,  1.5000])
>>> F.softmax(convlab.tensor([[1., 2., 3.]]), dim=1)
tensor([[0.0900, 0.2447, 0.6652]])

``inplace=True`` overwrites ``input`` with the result (and, inside a graph, makes ``input`` the
result's node), as PyTorch does.
"""

from __future__ import annotations

import warnings

from ...ops import activation as A
from ...ops import elementwise as E
from ...ops import reduction as R
from ...tensor import Tensor, _normalize_dim

__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "gelu", "silu", "sigmoid",
           "tanh", "softmax", "log_softmax", "hardtanh", "hardtanh_", "relu6", "softplus",
           "hardsigmoid", "hardswish", "mish", "prelu"]


def _check(name: str, input, floating: bool = True) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a convlab.Tensor, not "
                        f"{type(input).__name__}")
    if floating and not input.is_floating_point():
        raise TypeError(f"{name}(): expected a floating point input, got {input.dtype}")
    return input


def _result(name: str, input: Tensor, compute, inplace: bool) -> Tensor:
    """``compute()``, or with ``inplace`` its values written into ``input``: computed inside the
    in-place op, so what it saves of ``input`` keeps the values it saw (``Tensor._inplace``)."""
    return input._inplace(name + "_", compute) if inplace else compute()


def _written_in_place(name: str, input: Tensor, op, *args) -> Tensor:
    """``op`` written into ``input``'s own memory (its forward takes ``out``), saving its output
    for backward: nothing needs ``input``'s old values afterwards (``Tensor._inplace``'s
    ``takes_out``)."""
    return input._inplace(name + "_", lambda out: op.apply(input, *args, out=out),
                          takes_out=True, saves_self=False)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    _check("relu", input, floating=False)
    return input.relu_() if inplace else E.Relu.apply(input)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    _check("leaky_relu", input)
    if inplace:  # PyTorch's LeakyReluBackward1
        return _written_in_place("leaky_relu", input, E.LeakyReluInPlace, float(negative_slope))
    return E.LeakyRelu.apply(input, float(negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (e^x - 1)."""
    _check("elu", input)
    return _result("elu", input, lambda: A.Elu.apply(input, float(alpha)), inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate argument must be either none or tanh, got "
                         f"{approximate!r}")
    return A.Gelu.apply(_check("gelu", input), approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    _check("silu", input)
    return _result("silu", input, lambda: A.Silu.apply(input), inplace)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    _check("hardtanh", input)
    if inplace:
        return _written_in_place("hardtanh", input, A.Hardtanh, float(min_val), float(max_val))
    return A.Hardtanh.apply(input, float(min_val), float(max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): a ReLU that saturates (MobileNet)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, a smooth ReLU; x itself where beta x > threshold."""
    return A.Softplus.apply(_check("softplus", input), float(beta), float(threshold))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, a line between."""
    _check("hardsigmoid", input)
    return _result("hardsigmoid", input, lambda: A.Hardsigmoid.apply(input), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    _check("hardswish", input)
    return _result("hardswish", input, lambda: A.Hardswish.apply(input), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)) (YOLOv4)."""
    _check("mish", input)
    return _result("mish", input, lambda: A.Mish.apply(input), inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, else ``weight * x``, with one learned slope per channel (dim 1, or dim 0 of
    a 1-d input) or a single one for all.

    Shape: ``input (N, C, *)`` or ``(C,)``; ``weight (C,)`` or ``(1,)``.
    """
    _check("prelu", input)
    if not isinstance(weight, Tensor) or weight.dim() > 1:
        raise TypeError("prelu(): weight must be a 1-d convlab.Tensor of slopes")
    C = input.shape[1] if input.dim() >= 2 else input.shape[0] if input.dim() == 1 else 1
    if weight.numel() not in (1, C):
        raise ValueError(f"prelu: weight holds {weight.numel()} slopes, but the input has {C} "
                         f"channels: give one slope, or one per channel")
    if weight.numel() != 1 and input.dim() > 2:
        weight = weight.reshape(C, *[1] * (input.dim() - 2))  # (C,) -> (C, 1, ...) over (N, C, *)
    return A.Prelu.apply(input, weight)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e^-x)."""
    return E.Sigmoid.apply(_check("sigmoid", input))


def tanh(input: Tensor) -> Tensor:
    return E.Tanh.apply(_check("tanh", input))


def _softmax_dim(name: str, input: Tensor, dim) -> int:
    if dim is None:
        # PyTorch's legacy guess: dim 0 for 0-, 1- and 3-D inputs, else dim 1
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                      "to include dim=X as an argument.", stacklevel=3)
        dim = 0 if input.dim() in (0, 1, 3) else 1
    return _normalize_dim(dim, input.dim(), name)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """e^{x_i} / sum_j e^{x_j} along ``dim`` (shifted by the max first, so it never overflows)."""
    _check("softmax", input, floating=False)
    x = input if dtype is None else input.to(dtype)
    if not x.is_floating_point():
        x = x.float()
    return R.Softmax.apply(x, _softmax_dim("softmax", input, dim))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """x_i - log sum_j e^{x_j} along ``dim``: the log-probabilities, computed stably."""
    _check("log_softmax", input, floating=False)
    x = input if dtype is None else input.to(dtype)
    if not x.is_floating_point():
        x = x.float()
    return R.LogSoftmax.apply(x, _softmax_dim("log_softmax", input, dim))
