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
import os
import zlib

import numpy as np

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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, gzipped or not, into an array in native byte order.

    Gzip is recognised by its first two bytes, not by the file name. A file that is not IDX, or
    whose length disagrees with its header (a truncated download, say), raises ``ValueError``
    naming the file and the numbers.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: the gzip data is damaged ({e}); the download may be "
                             "incomplete, fetch the file again") from None
    return _parse(raw, path)


def _parse(raw: bytes, path: str) -> np.ndarray:
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file: it holds {len(raw)} bytes, fewer than the "
                         "4-byte magic number (0x00 0x00, type byte, number of dimensions)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file: it starts with bytes 0x{raw[0]:02x} "
                         f"0x{raw[1]:02x}, but an IDX file starts with 0x00 0x00")
    type_byte, ndim = raw[2], raw[3]
    if type_byte not in IDX_TYPES:
        known = ", ".join(f"0x{t:02X} ({d.name})" for t, d in IDX_TYPES.items())
        raise ValueError(f"{path}: unknown IDX type byte 0x{type_byte:02X}; expected one of "
                         f"{known}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need a {header}-byte "
                         f"header, but the file holds {len(raw)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[type_byte]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        sizes = " x ".join(map(str, shape)) or "scalar"
        problem = "truncated IDX file" if found < expected else "IDX file too long"
        raise ValueError(f"{path}: {problem}: the header says {sizes} {dtype.name} = {expected} "
                         f"bytes of data after the {header}-byte header, but {found} bytes follow; "
                         "the download may be incomplete, fetch the file again")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
