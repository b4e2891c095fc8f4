"""convlab's dtypes: thin named wrappers around NumPy dtypes that print as PyTorch's do."""

from __future__ import annotations

import numpy as np

__all__ = ["dtype", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "bool_", "to_numpy_dtype", "from_numpy_dtype", "get_default_dtype", "set_default_dtype",
           "finfo", "iinfo"]


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


def _info_dtype(d, who: str, kinds: str, other: str) -> np.dtype:
    np_dtype = to_numpy_dtype(_default_float[0] if d is None else d)
    if np_dtype.kind == "b":
        raise TypeError(f"convlab.bool is not supported by convlab.{who}")
    if np_dtype.kind not in kinds:
        kind = "a floating point" if who == "finfo" else "an integer"
        raise TypeError(f"convlab.{who}() requires {kind} input type. Use convlab.{other} to "
                        f"handle 'convlab.{who}'")
    return np_dtype


class finfo:
    """The limits of a floating point dtype (NumPy's ``finfo`` under PyTorch's names).

    ``eps``: the gap between 1 and the next larger number; ``max``/``min``: the largest and
    smallest finite numbers; ``tiny`` (= ``smallest_normal``): the smallest positive normal
    number; ``resolution``: 10**-precision, the decimal digits it keeps; ``bits``: its size.

    >>> finfo(float32).eps
    1.1920928955078125e-07
    """

    def __init__(self, type=None):
        info = np.finfo(_info_dtype(type, "finfo", "f", "iinfo"))
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # NumPy rounds it to the dtype
        self.dtype = info.dtype.name

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("finfo", self.dtype))

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype (NumPy's ``iinfo``): ``bits``, ``max``, ``min``.

    >>> iinfo(uint8)
    iinfo(min=0, max=255, dtype=uint8)
    """

    def __init__(self, type):
        info = np.iinfo(_info_dtype(type, "iinfo", "iu", "finfo"))
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = info.dtype.name

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("iinfo", self.dtype))

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
