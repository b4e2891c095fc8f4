"""Read IDX files, the format MNIST and Fashion-MNIST come in (gzipped or not).

An IDX file is a small header and then the numbers, C-order, big-endian::

    bytes 0-1   0x00 0x00
    byte  2     type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     N, the number of dimensions
    4*N bytes   the N sizes, each a big-endian uint32
    the rest    prod(sizes) numbers of that type

so MNIST's ``train-images-idx3-ubyte`` starts ``00 00 08 03`` (magic number 2051), then
``60000 28 28``, then 47,040,000 pixel bytes.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib

import numpy as np

from .._limits import max_load_bytes, over_limit, read_into, shape_problem

__all__ = ["read_idx", "IDX_TYPES"]

#: type byte -> NumPy dtype (big-endian, as stored)
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
# what a damaged gzip stream raises while it is read
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


def read_idx(path: str | os.PathLike, *, max_bytes: int | None = None) -> np.ndarray:
    """Read one IDX file, gzipped or not, into an array in native byte order.

    Gzip is recognised by its first two bytes, not by the file name. A file that is not IDX, or
    whose length disagrees with its header (a truncated download, say), raises ``ValueError``
    naming the file and the numbers. The header is checked before the data is read: the data
    of a plain file must be in the file, and a gzipped file may inflate to at most ``max_bytes``
    (default: ``$CONVLAB_MAX_LOAD_BYTES``, else 1 GiB; see :mod:`convlab._limits`), so a small
    file that claims gigabytes is refused without reading them.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    limit = max_load_bytes(max_bytes)
    with open(path, "rb") as f:
        if f.read(2) != _GZIP_MAGIC:
            f.seek(0)
            return _read(f, path, os.fstat(f.fileno()).st_size, None)
        f.seek(0)
        try:
            with gzip.GzipFile(fileobj=f) as stream:
                return _read(stream, path, None, limit)
        except _GZIP_ERRORS as e:
            raise ValueError(f"{path}: the gzip data is damaged ({e}); the download may be "
                             "incomplete, fetch the file again") from None


def _read(stream, path: str, size: int | None, limit: int | None) -> np.ndarray:
    """The array in ``stream``: a plain file of ``size`` bytes, or (``size`` None) a gzip
    stream that may inflate to ``limit`` bytes."""
    start = stream.read(4)
    if len(start) < 4:
        raise ValueError(f"{path}: not an IDX file: it holds {len(start)} bytes, fewer than the "
                         "4-byte magic number (0x00 0x00, type byte, number of dimensions)")
    if start[0] != 0 or start[1] != 0:
        raise ValueError(f"{path}: not an IDX file: it starts with bytes 0x{start[0]:02x} "
                         f"0x{start[1]:02x}, but an IDX file starts with 0x00 0x00")
    type_byte, ndim = start[2], start[3]
    if type_byte not in IDX_TYPES:
        known = ", ".join(f"0x{t:02X} ({d.name})" for t, d in IDX_TYPES.items())
        raise ValueError(f"{path}: unknown IDX type byte 0x{type_byte:02X}; expected one of "
                         f"{known}")
    header = 4 + 4 * ndim
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need a {header}-byte "
                         f"header, but the file holds {4 + len(sizes)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(sizes, dtype=">u4"))
    dtype = IDX_TYPES[type_byte]
    expected = math.prod(shape) * dtype.itemsize
    described = (f"the header says {' x '.join(map(str, shape)) or 'scalar'} {dtype.name} = "
                 f"{expected} bytes of data after the {header}-byte header")
    problem = shape_problem(shape, dtype.itemsize)
    if problem:
        raise ValueError(f"{path}: IDX sizes NumPy cannot hold: {described}, with {problem}")
    if size is not None and size - header != expected:
        raise _mismatch(path, described, size - header, expected)
    if limit is not None and expected > limit:
        raise ValueError(f"{path}: {described}: " + over_limit("inflating it", expected, limit))
    data = np.empty(expected, np.uint8)
    found = read_into(stream, data)
    if found < expected:
        raise _mismatch(path, described, found, expected)
    if stream.read(1):  # one byte more than declared is enough to refuse; read no further
        raise ValueError(f"{path}: IDX file too long: {described}, but more than {expected} "
                         "bytes follow; the file may be damaged or not what its name says")
    array = data.view(dtype).reshape(shape)  # (prod(shape) * itemsize,) bytes -> shape
    if not dtype.isnative:  # swap in place: no second copy
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _mismatch(path: str, described: str, found: int, expected: int) -> ValueError:
    problem = "truncated IDX file" if found < expected else "IDX file too long"
    return ValueError(f"{path}: {problem}: {described}, but {found} bytes follow; the download "
                     "may be incomplete, fetch the file again")
