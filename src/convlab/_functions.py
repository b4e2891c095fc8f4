"""Top-level function forms of Tensor methods: ``convlab.exp(x)`` is ``x.exp()``, as in PyTorch."""

from __future__ import annotations

from .tensor import Tensor

_METHODS = [
    "abs", "add", "sub", "mul", "div", "remainder", "pow", "neg", "exp", "log", "log1p", "sqrt",
    "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "clamp", "clip", "square", "sign", "sum",
    "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp",
    "norm", "softmax", "log_softmax", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
    "transpose", "t", "permute", "flip", "chunk", "split", "unbind", "gather", "masked_fill",
    "topk", "sort", "argsort", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
    "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "all", "any", "allclose", "equal",
    "mm", "swapaxes", "broadcast_to", "clone", "detach",
]

__all__ = list(_METHODS)


def _function_of(name: str):
    def fn(input: Tensor, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not "
                            f"{type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``convlab.{name}(input, ...)`` is ``input.{name}(...)``."
    return fn


for _name in _METHODS:
    globals()[_name] = _function_of(_name)
del _name
