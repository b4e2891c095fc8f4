"""Top-level functions: the forms of Tensor methods (``convlab.exp(x)`` is ``x.exp()``, as in
PyTorch), and the functions of several tensors that have no method form (``einsum``,
``meshgrid``, ``hstack``, ``std_mean``, ...)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ._creation import randn
from .ops import einsum as _einsum
from .tensor import Tensor, _as_operand, _named, _promote, _shape_args, cat

_METHODS = [
    "abs", "add", "sub", "mul", "div", "remainder", "pow", "neg", "exp", "log", "log1p", "sqrt",
    "rsqrt", "reciprocal", "sin", "cos", "tanh", "erf", "sigmoid", "relu", "clamp", "clip",
    "clamp_min", "clamp_max", "square", "sign", "round", "floor", "ceil", "trunc", "fix", "frac",
    "lerp", "sum", "mean", "var", "std", "prod", "cumsum", "cumprod", "max", "min", "amax", "amin",
    "argmax", "argmin", "count_nonzero", "logsumexp", "norm", "softmax", "log_softmax", "reshape",
    "flatten", "unflatten", "squeeze", "unsqueeze", "transpose", "t", "permute", "movedim",
    "moveaxis", "flip", "roll", "narrow", "tril", "triu", "diag", "chunk", "split", "unbind",
    "gather", "scatter", "scatter_add", "index_select", "masked_fill", "nonzero", "unique",
    "topk", "sort", "argsort", "eq", "ne", "lt", "le", "gt", "ge", "isclose", "logical_and",
    "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "all", "any",
    "allclose", "equal", "mm", "bmm", "dot", "outer", "ger", "swapaxes", "broadcast_to", "clone",
    "detach", "is_floating_point", "bernoulli", "multinomial",
]

__all__ = list(_METHODS) + ["einsum", "meshgrid", "atleast_1d", "atleast_2d", "atleast_3d",
                            "hstack", "vstack", "dstack", "std_mean", "var_mean", "sinh", "cosh",
                            "normal"]

# The NumPy spellings PyTorch's argument parser also accepts, for every function:
# ``convlab.argmax(x, axis=1)``, ``convlab.sum(x, 0, keepdims=True)``.
_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def _function_of(name: str):
    def fn(input: Tensor, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not "
                            f"{type(input).__name__}")
        for numpy_name, torch_name in _NUMPY_NAMES.items():
            if numpy_name in kwargs:
                if torch_name in kwargs:
                    raise TypeError(f"{name}(): got both '{torch_name}' and its alias "
                                    f"'{numpy_name}'")
                kwargs[torch_name] = kwargs.pop(numpy_name)
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``convlab.{name}(input, ...)`` is ``input.{name}(...)``."
    return fn


for _name in _METHODS:
    globals()[_name] = _function_of(_name)
del _name


def _tensors(op: str, tensors: tuple) -> list:
    """``f(a, b)`` and ``f([a, b])`` alike: the Tensors, checked."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensors, got {type(t).__name__} at position {i}")
    return list(tensors)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation: multiply the operands' elements that share subscripts, and sum over
    the subscripts missing from the output.

    >>> import convlab
    >>> x, y = convlab.ones(2, 3), convlab.ones(3, 4)
    >>> einsum("ij,jk->ik", x, y).shape  # a matrix product
    convlab.Size([2, 4])
    >>> einsum("ii", convlab.eye(3))  # the trace (no '->': the letters that appear once)
    tensor(3.)

    ``...`` stands for the dims no letter names; an axis of size 1 broadcasts. The operands may
    also come as one list, ``einsum("ij,jk", [x, y])``.
    """
    operands = _tensors("einsum", operands)
    inputs, output, sizes = _einsum.parse(equation, [t._data.shape for t in operands])
    dtype = _promote(*operands) if operands else None
    return _einsum.Einsum.apply(inputs, output, sizes,
                                *(_as_operand(t, dtype) for t in operands))


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: output k holds ``tensors[k]`` repeated along the other
    dims. ``indexing="ij"``: output shape ``(len(t0), len(t1), ...)``; ``"xy"`` (as NumPy's
    default and image coordinates) swaps the first two dims. Without ``indexing``, "ij" and
    PyTorch's warning."""
    tensors = _tensors("meshgrid", tensors)
    if indexing is None:
        warnings.warn("convlab.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f'{indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"a {t.ndim}D tensor of shape {list(t.shape)}")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError(f"meshgrid expects all tensors to have the same dtype (got "
                               f"{tensors[0].dtype} and {t.dtype})")
    axes = list(range(len(tensors)))  # the output axis each input runs along
    if indexing == "xy" and len(axes) > 1:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for t, a in zip(tensors, axes):
        shape[a] = t.numel()
    return tuple(t.reshape([-1 if i == a else 1 for i in range(len(shape))]).expand(shape)
                 for t, a in zip(tensors, axes))


def _at_least(t: Tensor, ndim: int) -> Tensor:
    """``t`` with 1s added to its shape up to ``ndim`` dims, where NumPy's atleast_*d puts
    them: a vector (n,) becomes (1, n) in 2-D and (1, n, 1) in 3-D, a matrix (m, n) (m, n, 1)."""
    if t.ndim >= ndim:
        return t
    s = tuple(t.shape)
    if t.ndim == 0:
        return t.reshape((1,) * ndim)
    if t.ndim == 1:
        return t.reshape((1,) + s + (1,) * (ndim - 2))
    return t.reshape(s + (1,))  # a matrix to 3-D


def _at_least_all(ndim: int, tensors: tuple):
    out = [_at_least(t, ndim) for t in _tensors(f"atleast_{ndim}d", tensors)]
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else tuple(out)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d tensor becomes shape (1,))."""
    return _at_least_all(1, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: () -> (1, 1), (n,) -> (1, n)."""
    return _at_least_all(2, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: () -> (1, 1, 1), (n,) -> (1, n, 1),
    (m, n) -> (m, n, 1)."""
    return _at_least_all(3, tensors)


def hstack(tensors) -> Tensor:
    """Join side by side: 1-D tensors end to end, the others along dim 1."""
    tensors = [_at_least(t, 1) for t in _tensors("hstack", (tensors,))]
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Stack as rows: along dim 0, 1-D tensors taken as rows (1, n)."""
    return cat([_at_least(t, 2) for t in _tensors("vstack", (tensors,))], 0)


def dstack(tensors) -> Tensor:
    """Stack in depth: along dim 2, after ``atleast_3d``."""
    return cat([_at_least(t, 3) for t in _tensors("dstack", (tensors,))], 2)


def _spread_mean(op: str, input: Tensor, dim, unbiased, keepdim, correction) -> tuple:
    if isinstance(dim, bool):  # std_mean(x, False): the old positional ``unbiased``
        dim, unbiased = None, dim
    spread = getattr(input, op)(dim, unbiased, keepdim, correction=correction)
    mean = input.mean(dim, keepdim)
    name = "StdMeanBackward0" if op == "std" else "VarMeanBackward0"
    return _named(spread, name), _named(mean, name)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """``(input.std(...), input.mean(...))`` over the same dims, with ``std``'s arguments."""
    return _spread_mean("std", input, dim, unbiased, keepdim, correction)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """``(input.var(...), input.mean(...))`` over the same dims, with ``var``'s arguments."""
    return _spread_mean("var", input, dim, unbiased, keepdim, correction)


def sinh(input: Tensor) -> Tensor:
    """Hyperbolic sine, ``(exp(x) - exp(-x)) / 2``; differentiable (its derivative is cosh)."""
    return (_function_of("exp")(input) - (-input).exp()) / 2


def cosh(input: Tensor) -> Tensor:
    """Hyperbolic cosine, ``(exp(x) + exp(-x)) / 2``; differentiable (its derivative is sinh)."""
    return (_function_of("exp")(input) + (-input).exp()) / 2


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, requires_grad: bool = False):
    """Samples of N(mean, std**2): ``normal(mean_tensor, std_tensor)`` (broadcast together),
    ``normal(mean_tensor, 0.5)``, ``normal(0.0, std_tensor)``, or ``normal(0.0, 1.0, size)``.

    Drawn from ``generator`` or the seeded default generator (NumPy's stream, so the numbers
    differ from PyTorch's). The sample carries no gradient: PyTorch's is zero everywhere.
    """
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with a float mean and a float std, give the size: "
                            f"normal({mean}, {std}, size)")
        shape, float_dtype = _shape_args((size,)), dtype
    elif size is not None:
        raise TypeError("normal(): size is only taken with a float mean and a float std; the "
                        "tensors' shape gives the sample's")
    else:
        shape = np.broadcast_shapes(*(t._data.shape for t in tensors))
        float_dtype = _promote(*tensors)
    for name, value in (("mean", mean), ("std", std)):
        if not isinstance(value, (Tensor, numbers.Real)):
            raise TypeError(f"normal(): argument '{name}' must be a Tensor or a float, not "
                            f"{type(value).__name__}")
    spread = std._data if isinstance(std, Tensor) else np.asarray(std)
    if (spread < 0).any():
        raise RuntimeError(f"normal expects std >= 0.0, but found std {spread.min()}")
    z = randn(*shape, generator=generator, dtype=float_dtype)._data
    centre = mean._data if isinstance(mean, Tensor) else mean
    out = Tensor._wrap((centre + spread * z).astype(z.dtype, copy=False))
    return out.requires_grad_() if requires_grad else out
