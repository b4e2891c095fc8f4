"""Memory, views and versions: PyTorch's storage model, over NumPy arrays.

A Tensor's values are a NumPy array, ``tensor._data``. A tensor made by a view op (``view``,
slicing, ``transpose``, ``expand``, ...) holds a NumPy view of its base's array, so a write
through any of them is seen by all: they share memory, as PyTorch's views share a storage.
This module holds the bookkeeping that makes sharing safe, and nothing else:

- :class:`VersionCounter`: one per piece of memory, shared by a base and all its views (and by
  ``detach()``). Every in-place write bumps it. Autograd notes the version of each tensor an op
  saves for backward, and backward refuses to use a saved tensor whose version moved.
- :class:`Geometry`: where a view's elements lie in its base's memory (shape, strides and
  offset, counted in elements), with :func:`strided` to lay a geometry over a buffer. Autograd
  routes gradients between a base and its views with it (PyTorch's ``as_strided``).
- :class:`UntypedStorage`: what ``Tensor.untyped_storage()`` returns: the memory itself.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["VersionCounter", "Geometry", "Layout", "UntypedStorage", "root_array", "layout_of",
           "strided", "overlaps_itself", "shares_root", "writable", "address"]


class VersionCounter:
    """How many in-place changes a piece of memory has seen; shared by a base and its views."""

    value = 0  # the class default: a new counter costs no assignment

    def bump(self) -> None:
        self.value += 1


def root_array(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory: NumPy keeps a view's ``base`` pointing at it, or at
    a stand-in object whose own ``base`` does (``as_strided``)."""
    base = a.base
    if base is None:  # the common cases first: an array that owns its memory, or a view of one
        return a
    if type(base) is np.ndarray and base.base is None:
        return base
    while True:
        base = a.base
        if not isinstance(base, np.ndarray):
            base = getattr(base, "base", None)
            if not isinstance(base, np.ndarray):
                return a
        a = base


def shares_root(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` and ``b`` are windows on one allocation (not necessarily overlapping)."""
    return a is b or root_array(a) is root_array(b)


def address(a: np.ndarray) -> int:
    """The byte address of ``a``'s first element (``ctypes.data``: 3x as fast as reading
    ``__array_interface__``)."""
    return a.ctypes.data


def writable(a: np.ndarray) -> np.ndarray | None:
    """``a`` as a writable window on the same memory, or None when that memory is read-only.

    NumPy marks views that repeat elements (``broadcast_to``, overlapping ``as_strided``) and
    ``diagonal`` read-only whatever their memory; a fill of such a view is well defined, so
    convlab writes it through this window over the array that owns the memory.
    """
    if a.flags.writeable:
        return a
    root = root_array(a)
    if not root.flags.writeable or not root.flags.c_contiguous:
        return None
    start = (address(a) - address(root)) // a.itemsize
    return np.lib.stride_tricks.as_strided(root.reshape(-1)[start:], a.shape, a.strides)


class Geometry(NamedTuple):
    """Where an array's elements lie in a buffer: ``element[i] = buffer[offset + i . strides]``."""

    shape: tuple
    strides: tuple  # in elements, not bytes
    offset: int  # in elements from the buffer's first element


class Layout(NamedTuple):
    """A view and its base laid over one zero-based buffer of ``extent`` elements: enough to move
    values (and gradients) between the base's shape and the view's."""

    base: Geometry
    view: Geometry
    extent: int


def _span(a: np.ndarray, start: int) -> tuple[int, int]:
    """The lowest and one-past-highest byte addresses ``a``'s elements occupy (``start``: the
    address of its first element)."""
    lo = hi = start
    if a.size == 0:
        return lo, lo
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.itemsize


def _geometry(a: np.ndarray, start: int, origin: int) -> Geometry:
    item = a.itemsize
    return Geometry(a.shape, tuple(s // item for s in a.strides), (start - origin) // item)


def layout_of(view: np.ndarray, base: np.ndarray) -> Layout:
    """The layout of ``view`` inside ``base``'s memory, over a buffer that spans both."""
    at_base, at_view = address(base), address(view)
    lo_b, hi_b = _span(base, at_base)
    lo_v, hi_v = _span(view, at_view)
    lo, hi = min(lo_b, lo_v), max(hi_b, hi_v)
    return Layout(_geometry(base, at_base, lo), _geometry(view, at_view, lo),
                  (hi - lo) // base.itemsize)


def strided(buffer: np.ndarray, geometry: Geometry) -> np.ndarray:
    """``geometry`` laid over the 1-D contiguous ``buffer``: a view of it (no copy)."""
    item = buffer.itemsize
    return np.lib.stride_tricks.as_strided(
        buffer[geometry.offset:], geometry.shape, tuple(s * item for s in geometry.strides))


def overlaps_itself(shape: tuple, strides: tuple) -> bool:
    """True when two positions of the layout may share an element (an expanded or unfolded
    tensor): sorted by stride, each dim must step past everything the smaller ones reach."""
    reach = 1  # elements spanned by the dims taken so far, plus one
    for stride, n in sorted((abs(s), n) for s, n in zip(strides, shape) if n > 1):
        if stride < reach:
            return True
        reach += (n - 1) * stride
    return False


class UntypedStorage:
    """The memory under a tensor and all its views, as ``Tensor.untyped_storage()`` gives it.

    Two tensors share a storage when they are windows on the same allocation:
    ``a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()``.
    """

    def __init__(self, array: np.ndarray):
        self._root = root_array(array)

    def data_ptr(self) -> int:
        return _span(self._root, address(self._root))[0]

    def nbytes(self) -> int:
        lo, hi = _span(self._root, address(self._root))
        return hi - lo

    size = nbytes

    def __len__(self) -> int:
        return self.nbytes()

    def __repr__(self) -> str:
        return f"convlab.UntypedStorage(data_ptr={self.data_ptr():#x}, nbytes={self.nbytes()})"
