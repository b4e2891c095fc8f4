"""Functions that make tensors: from data, filled, ranges, and random draws.

dtype rules follow PyTorch: Python floats give the default float dtype (float32), Python ints
give int64, bools give bool, and a NumPy array keeps its dtype.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _dtype
from ._random import rng
from .tensor import Tensor, _shape_args, device

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange", "linspace",
    "eye", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "randint",
    "randperm", "rand_like", "randn_like", "randint_like", "is_tensor", "numel", "FloatTensor",
    "DoubleTensor", "LongTensor", "IntTensor", "ByteTensor", "BoolTensor",
]


def _infer_dtype(array: np.ndarray, from_python: bool) -> np.dtype:
    """PyTorch's dtype for data that came as Python objects or as an ndarray."""
    kind = array.dtype.kind
    if kind == "b":
        return np.dtype(np.bool_)
    if kind in "iu":
        return np.dtype(np.int64) if from_python else array.dtype
    if kind == "f":
        return _dtype.get_default_dtype().numpy if from_python else array.dtype
    raise TypeError(f"can't convert data of NumPy dtype {array.dtype} to a tensor; supported "
                    "types are bool, integers and floats")


def _cpu_only(device_arg) -> None:
    """Refuse a device other than the CPU: ``'cuda'`` with the AssertionError a CPU-only
    PyTorch raises (as ``Tensor.cuda()`` does), other names as ``convlab.device`` does;
    ``None`` and ``'cpu'`` pass."""
    if device_arg is None:
        return
    if str(device_arg).split(":")[0] == "cuda":
        raise AssertionError(f"convlab runs on the CPU only (it has no CUDA), got device="
                             f"{device_arg!r}; choose the device as PyTorch code does: 'cuda' if "
                             "convlab.cuda.is_available() else 'cpu'")
    device(device_arg)


def _finish(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, an ndarray, a Tensor).

    >>> tensor([1.0, 2.0]).dtype, tensor([1, 2]).dtype, tensor(True).dtype
    (convlab.float32, convlab.int64, convlab.bool)
    """
    _cpu_only(device)
    if isinstance(data, Tensor):
        array = np.array(data._data)
        from_python = False
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)
        from_python = False
    else:
        try:
            array = np.array(data)
        except ValueError:
            raise ValueError("tensor(): the nested sequences are ragged: the sequences at each "
                             "depth must all have the same length") from None
        from_python = True
    if array.dtype == object:
        raise TypeError(f"tensor(): could not build a tensor from {type(data).__name__}: "
                        "its items must be numbers")
    target = _dtype.to_numpy_dtype(dtype) if dtype is not None else _infer_dtype(array,
                                                                               from_python)
    return _finish(array.astype(target, copy=False), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, but shares memory with a Tensor or ndarray when the dtype allows."""
    _cpu_only(device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or _dtype.to_numpy_dtype(dtype) ==
                                         data.dtype):
        _dtype.from_numpy_dtype(data.dtype)
        return Tensor._wrap(data)
    return tensor(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``, keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    return t.numel()


def _float(dtype) -> np.dtype:
    return _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.get_default_dtype().numpy


def _sizes(sizes: tuple, size) -> tuple:
    """The shape from ``f(2, 3)``, ``f((2, 3))`` or the keyword form ``f(size=(2, 3))``."""
    if size is None:
        return _shape_args(sizes)
    if sizes:
        raise TypeError(f"got the shape twice: {sizes} and size={size}")
    return _shape_args((size,))


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _cpu_only(device)
    return _finish(np.zeros(_sizes(sizes, size), _float(dtype)), requires_grad)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _cpu_only(device)
    return _finish(np.ones(_sizes(sizes, size), _float(dtype)), requires_grad)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uninitialized in PyTorch; zero-filled here, so programs stay repeatable."""
    _cpu_only(device)
    return zeros(*_sizes(sizes, size), dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    _cpu_only(device)
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _dtype.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = _dtype.int64
        else:
            dtype = _dtype.get_default_dtype()
    return _finish(np.full(_shape_args((size,)), fill_value, _dtype.to_numpy_dtype(dtype)),
                   requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.zeros(t.shape, _dtype.to_numpy_dtype(dtype or t.dtype)), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.ones(t.shape, _dtype.to_numpy_dtype(dtype or t.dtype)), requires_grad)


def empty_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return zeros_like(t, dtype, requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.full(t.shape, fill_value, _dtype.to_numpy_dtype(dtype or t.dtype)),
                   requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``.

    >>> arange(3), arange(0, 1, 0.25)
    (tensor([0, 1, 2]), tensor([0.0000, 0.2500, 0.5000, 0.7500]))
    """
    _cpu_only(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = _dtype.int64 if ints else _dtype.get_default_dtype()
    return _finish(np.arange(start, end, step).astype(_dtype.to_numpy_dtype(dtype)),
                   requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    _cpu_only(device)
    return _finish(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    _cpu_only(device)
    return _finish(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*sizes, size=None, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1), drawn from the seeded generator."""
    _cpu_only(device)
    shape = _sizes(sizes, size)
    return _finish(rng(generator).random(shape).astype(_float(dtype)), requires_grad)


def randn(*sizes, size=None, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples, drawn from the seeded generator."""
    _cpu_only(device)
    shape = _sizes(sizes, size)
    return _finish(rng(generator).standard_normal(shape).astype(_float(dtype)), requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None) -> Tensor:
    """Integers from ``low`` (inclusive) to ``high`` (exclusive): ``randint(10, (3,))`` or
    ``randint(2, 10, (3,))``."""
    _cpu_only(device)
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    values = rng(generator).integers(low, high, _shape_args((size,)))
    return Tensor._wrap(values.astype(_dtype.to_numpy_dtype(dtype or _dtype.int64)))


def randperm(n: int, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of 0..n-1."""
    _cpu_only(device)
    return Tensor._wrap(rng(generator).permutation(n).astype(
        _dtype.to_numpy_dtype(dtype or _dtype.int64)))


def rand_like(t: Tensor, dtype=None, generator=None) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, generator=generator)


def randn_like(t: Tensor, dtype=None, generator=None) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, generator=generator)


def randint_like(t: Tensor, low, high=None, dtype=None, generator=None) -> Tensor:
    return randint(low, high, t.shape, dtype=dtype or t.dtype, generator=generator)


def _legacy_constructor(name: str, dtype: _dtype.dtype):
    def construct(*args) -> Tensor:
        if len(args) == 1 and isinstance(args[0], Tensor) and args[0].dtype != dtype:
            raise TypeError(f"{name}(): expected a {dtype} tensor, got {args[0].dtype}; use "
                            f".to({dtype})")
        return Tensor(*args, dtype=dtype)

    construct.__name__ = construct.__qualname__ = name
    construct.__doc__ = (f"PyTorch's legacy constructor: ``{name}(data)`` is a {dtype} tensor "
                         f"of ``data``, ``{name}(2, 3)`` {dtype} zeros of that shape.")
    construct.dtype = dtype  # what ``x.type(convlab.FloatTensor)`` converts to
    return construct


FloatTensor = _legacy_constructor("FloatTensor", _dtype.float32)
DoubleTensor = _legacy_constructor("DoubleTensor", _dtype.float64)
LongTensor = _legacy_constructor("LongTensor", _dtype.int64)
IntTensor = _legacy_constructor("IntTensor", _dtype.int32)
ByteTensor = _legacy_constructor("ByteTensor", _dtype.uint8)
BoolTensor = _legacy_constructor("BoolTensor", _dtype.bool_)
