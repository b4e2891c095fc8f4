"""Padding layers: ``ConstantPad``, ``ZeroPad``, ``ReflectionPad``, ``ReplicationPad`` and
``CircularPad``, 1-d to 3-d, over :func:`convlab.nn.functional.pad`.

``padding`` is an int (the same on every side) or per-side amounts starting from the last dim:
``(left, right)`` for 1-d, ``(left, right, top, bottom)`` for 2-d, ``(..., front, back)`` for 3-d.

>>> import convlab
>>> import convlab.nn as nn
>>> nn.ReflectionPad1d(2)(convlab.tensor([[[1., 2., 3., 4.]]]))  # mirror, edge not repeated
tensor([[[3., 2., 1., 2., 3., 4., 3., 2.]]])
>>> nn.ReplicationPad1d((1, 2))(convlab.tensor([[[1., 2., 3., 4.]]]))  # repeat the edge
tensor([[[1., 1., 2., 3., 4., 4., 4.]]])
"""

from __future__ import annotations

from .. import functional as F
from .module import Module
from .utils import _ntuple

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """Pad the last ``_nd`` dims of the input with ``mode``."""

    _nd: int
    mode: str

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(2 * self._nd)(padding)

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    mode = "constant"

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``."""
    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with ``value``."""
    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with ``value``."""
    _nd = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros."""
    _nd = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last 2 dims with zeros."""
    _nd = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last 3 dims with zeros."""
    _nd = 3


class ReflectionPad1d(_PadNd):
    """Mirror the last dim at its edges, without repeating the edge (each amount < size)."""
    _nd, mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror the last 2 dims at their edges, without repeating the edge."""
    _nd, mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirror the last 3 dims at their edges, without repeating the edge."""
    _nd, mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dim."""
    _nd, mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last 2 dims."""
    _nd, mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last 3 dims."""
    _nd, mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dim around (each amount <= size)."""
    _nd, mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wrap the last 2 dims around."""
    _nd, mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Wrap the last 3 dims around."""
    _nd, mode = 3, "circular"
