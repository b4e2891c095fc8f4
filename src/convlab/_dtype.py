"""convlab's dtypes: thin named wrappers around NumPy dtypes that print as PyTorch's do."""

from __future__ import annotations

import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "bool_", "to_numpy_dtype", "from_numpy_dtype", "get_default_dtype", "set_default_dtype"]


class dtype:
    """A tensor element type. ``convlab.float32`` prints as ``convlab.float32``."""

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.numpy = np.dtype(np_dtype)
        self.is_floating_point = self.numpy.kind == "f"
        self.is_signed = self.numpy.kind in "fi"
        self.itemsize = self.numpy.itemsize

    def __repr__(self) -> str:
        return f"convlab.{self.name}"

    def __reduce__(self):  # dtypes are singletons
        return (from_numpy_dtype, (self.numpy,))


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
uint8 = dtype("uint8", np.uint8)
bool_ = dtype("bool", np.bool_)

_BY_NUMPY = {d.numpy: d
             for d in (float16, float32, float64, int8, int16, int32, int64, uint8, bool_)}
_default_float = [float32]


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"convlab has no dtype for NumPy's {np.dtype(np_dtype)}; supported: "
                        + ", ".join(str(d) for d in _BY_NUMPY)) from None


def to_numpy_dtype(d) -> np.dtype:
    """Accept a convlab dtype, a NumPy dtype or a Python type; return the NumPy dtype."""
    if isinstance(d, dtype):
        return d.numpy
    if d is float:
        return _default_float[0].numpy
    if d is int:
        return np.dtype(np.int64)
    if d is bool:
        return np.dtype(np.bool_)
    return from_numpy_dtype(d).numpy


def get_default_dtype() -> dtype:
    return _default_float[0]


def set_default_dtype(d: dtype) -> None:
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"set_default_dtype: expected a floating point convlab dtype, got {d!r}")
    _default_float[0] = d
