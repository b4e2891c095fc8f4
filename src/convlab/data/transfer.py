"""Messages between a :class:`~convlab.data.DataLoader` and its worker processes, over a socket.

A batch crosses the process boundary as NumPy arrays: each Tensor and each numeric array in it is
written to the socket as its raw bytes, straight from its memory, and read on the other side
straight into a new array (``recv_into``: no copy in between). What is left of the message, the
structure around the arrays (lists, tuples, dicts, strings, numbers, the task's number), is
pickled: these are objects going from one of our processes to another, never a file. The
receiver rebuilds a Tensor where a Tensor was sent (collate runs in the worker, so a batch of
Tensors comes back as a batch of convlab Tensors).

A message on the wire::

    8 bytes  length L of the header (little-endian)
    L bytes  header: pickle of (structure, [(dtype, shape) of each array])
    then     each array's bytes, in order
"""

from __future__ import annotations

import pickle
import socket
import struct
from typing import NamedTuple

import numpy as np

from ..tensor import Tensor

__all__ = ["send", "receive"]

_LENGTH = struct.Struct("<Q")
_RAW_KINDS = "biufc"  # bool, ints, floats, complex: plain bytes; anything else is pickled


class _Slot(NamedTuple):
    """Stands in the structure for ``arrays[index]``; ``kind`` is "array", "tensor" or
    "leaf" (a Tensor that requires grad: rebuilt as a leaf that does)."""
    index: int
    kind: str


def send(sock: socket.socket, message) -> None:
    """Write ``message`` (any picklable structure) to ``sock``. Pickling happens before the first
    byte is written, so an object that cannot be sent raises here and leaves the stream intact."""
    arrays: list[np.ndarray] = []
    structure = _pack(message, arrays)
    header = pickle.dumps((structure, [(a.dtype, a.shape) for a in arrays]),
                          protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(header)) + header)
    for a in arrays:
        if a.size:
            sock.sendall(_bytes_of(a))


def receive(sock: socket.socket):
    """Read one message from ``sock``; ``EOFError`` when the other side has closed it."""
    (length,) = _LENGTH.unpack(_read(sock, bytearray(_LENGTH.size)))
    structure, specs = pickle.loads(_read(sock, bytearray(length)))
    arrays = []
    for dtype, shape in specs:
        a = np.empty(shape, dtype)
        if a.size:
            _read(sock, _bytes_of(a))
        arrays.append(a)
    return _unpack(structure, arrays)


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` in C order, copied only if it is not (``np.ascontiguousarray`` would also turn a
    0-d array into a 1-d one)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def _bytes_of(a: np.ndarray) -> memoryview:
    """The memory of contiguous ``a`` as a flat byte buffer (a view, no copy)."""
    return memoryview(a.reshape(-1).view(np.uint8))


def _read(sock: socket.socket, buffer) -> bytearray | memoryview:
    """Fill ``buffer`` from ``sock`` (a message may arrive in many pieces)."""
    view = memoryview(buffer)
    done = 0
    while done < len(view):
        n = sock.recv_into(view[done:])
        if n == 0:
            raise EOFError("the other end of the DataLoader's worker socket closed")
        done += n
    return buffer


def _pack(obj, arrays: list):
    """``obj`` with each Tensor and numeric array replaced by a :class:`_Slot`, the arrays
    appended to ``arrays``. Lists, tuples, namedtuples and dicts are walked; anything else is
    left to pickle whole."""
    if isinstance(obj, Tensor):
        data = obj.detach().numpy()
        if data.dtype.kind not in _RAW_KINDS:
            return obj
        arrays.append(_contiguous(data))
        return _Slot(len(arrays) - 1, "leaf" if obj.requires_grad else "tensor")
    if isinstance(obj, np.ndarray) and obj.dtype.kind in _RAW_KINDS:
        arrays.append(_contiguous(obj))
        return _Slot(len(arrays) - 1, "array")
    if type(obj) is dict:
        return {key: _pack(value, arrays) for key, value in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_pack(item, arrays) for item in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a namedtuple
        return type(obj)(*(_pack(item, arrays) for item in obj))
    return obj


def _unpack(obj, arrays: list):
    """The inverse of :func:`_pack`: each slot replaced by its array, or a Tensor over it."""
    if isinstance(obj, _Slot):
        a = arrays[obj.index]
        if obj.kind == "array":
            return a
        t = Tensor._wrap(a)
        return t.requires_grad_() if obj.kind == "leaf" else t
    if type(obj) is dict:
        return {key: _unpack(value, arrays) for key, value in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_unpack(item, arrays) for item in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_unpack(item, arrays) for item in obj))
    return obj
