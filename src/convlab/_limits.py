"""How much memory a file may make convlab allocate, checked before anything is read.

Every file convlab reads says in a header how big its contents are: an IDX header gives the
array's sizes, a zip archive each member's size, a ``.npy`` header a shape and a dtype, a
safetensors header each tensor's shape. A damaged or hostile file can claim far more than it
holds (a 2 MB zip whose member inflates to 2 GiB, a 139-byte pickle that describes 100,000
images), so the readers compare each declared size with two bounds first:

- bytes that are stored as they are must be in the file: a header that promises more than the
  file holds is refused before anything is allocated;
- bytes that are decompressed (gzipped IDX files, deflated zip members) or parsed (JSON) may grow
  to at most the *load limit*: ``max_bytes`` where a reader takes it, else the environment
  variable ``CONVLAB_MAX_LOAD_BYTES``, else 1 GiB. Raise it for a file you trust that is bigger::

      CONVLAB_MAX_LOAD_BYTES=4294967296 convlab train ...    # 4 GiB
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

__all__ = ["ENV_VAR", "DEFAULT_MAX_BYTES", "max_load_bytes", "over_limit", "shape_problem",
           "read_into", "count_bytes"]

ENV_VAR = "CONVLAB_MAX_LOAD_BYTES"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: 20 times MNIST's training images, 6 times all of CIFAR-10

# NumPy's most dimensions (NPY_MAXDIMS) and biggest array in bytes (the largest np.intp)
_MAX_DIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32
_MAX_NBYTES = int(np.iinfo(np.intp).max)

_CHUNK = 1 << 20  # read 1 MiB at a time, so a stream is never held twice in memory


def max_load_bytes(max_bytes=None) -> int:
    """The load limit in bytes: ``max_bytes`` if given, else ``$CONVLAB_MAX_LOAD_BYTES``, else
    1 GiB.

    >>> max_load_bytes(2048)
    2048
    """
    where = "max_bytes"
    if max_bytes is None:
        text = os.environ.get(ENV_VAR)
        if text is None:
            return DEFAULT_MAX_BYTES
        where = f"the environment variable {ENV_VAR}"
        try:
            max_bytes = int(text)
        except ValueError:
            raise ValueError(f"{where} is {text!r}, not a whole number of bytes (e.g. "
                             f"{4 << 30} for 4 GiB)") from None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral):
        raise TypeError(f"{where} must be an int (a number of bytes), got "
                        f"{type(max_bytes).__name__}")
    if max_bytes <= 0:
        raise ValueError(f"{where} must be a positive number of bytes, got {max_bytes}")
    return int(max_bytes)


def over_limit(what: str, nbytes: int, limit: int) -> str:
    """The sentence that refuses ``nbytes`` of ``what`` over the load limit, and says how to
    raise the limit."""
    return (f"{what} would take {count_bytes(nbytes)}, more than the load limit of "
            f"{count_bytes(limit)}; if you trust the file, raise the limit with max_bytes= or the "
            f"environment variable {ENV_VAR}")


def shape_problem(shape: tuple, itemsize: int) -> str | None:
    """Why NumPy cannot make an array of ``shape`` with ``itemsize``-byte items, or None.

    Sizes must be ints from 0 to 2**63 - 1, at most 64 of them (32 before NumPy 2), and the
    product of the non-zero sizes times the item size must fit in an ``np.intp``: NumPy refuses
    ``(0, 2**62)`` float32 although it holds no element.
    """
    if len(shape) > _MAX_DIMS:
        return f"{len(shape)} dimensions, more than NumPy's {_MAX_DIMS}"
    bad = next((s for s in shape if isinstance(s, bool) or not isinstance(s, int)
                or not 0 <= s <= _MAX_NBYTES), None)
    if bad is not None:
        return f"a size {bad!r}, not an int from 0 to 2**63 - 1"
    if math.prod(max(s, 1) for s in shape) * itemsize > _MAX_NBYTES:
        return (f"sizes whose product times the {itemsize}-byte item exceeds NumPy's largest "
                "array (2**63 - 1 bytes)")
    return None


def read_into(stream, out) -> int:
    """Fill the writable buffer ``out`` from ``stream``, a chunk at a time; return how many
    bytes came (fewer than ``len(out)`` only where the stream ended)."""
    view = memoryview(out).cast("B")
    filled = 0
    while filled < len(view):
        n = stream.readinto(view[filled:filled + _CHUNK])
        if not n:
            break
        filled += n
    return filled


def count_bytes(n: int) -> str:
    """``n`` bytes, and in the largest binary unit that keeps it at 1 or more where that is not
    bytes: ``'2147483648 bytes (2.0 GiB)'``, ``'96 bytes'``."""
    units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    value, i = float(n), 0
    while value >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{n} bytes" if i == 0 else f"{n} bytes ({value:.1f} {units[i]})"
