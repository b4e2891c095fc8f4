"""Checkpoints without pickle: ``convlab.save`` / ``convlab.load``, and safetensors files.

``save(obj, f)`` writes a zip archive (readable by ``numpy.load`` too) with two kinds of member:

- ``arrays/<i>.npy``: each tensor or ndarray in NumPy's ``.npy`` format;
- ``convlab.json``: the structure around them. Dicts, lists, tuples, strings, numbers, bools and
  None are written as JSON, with tags where JSON alone would lose the type: ``{"tensor": 3}`` is
  the tensor stored in ``arrays/3.npy``, ``{"tuple": [...]}`` a tuple, ``{"dict": [[key, value],
  ...]}`` a dict (its keys may be strings or ints), ``{"float": "nan"}`` a non-finite float.

Nothing is ever unpickled, so loading a file from a stranger cannot run code. Writing to a path
is atomic: the archive goes to a temporary file beside the target, which is flushed to disk and
then renamed over it, so a crash or an error mid-write leaves the previous checkpoint intact.

``save_safetensors`` / ``load_safetensors`` read and write the safetensors format (a flat
``{name: tensor}`` dict), which PyTorch writes with the ``safetensors`` package: that is the way
to move a state_dict between PyTorch and convlab.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import struct
import zipfile
from collections import OrderedDict

import numpy as np

from ._atomic import atomic_path
from .tensor import Tensor, device

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

_FORMAT = "convlab-checkpoint"
_VERSION = 1
_STRUCTURE = "convlab.json"
_TAGS = ("tensor", "ndarray", "scalar", "dict", "ordered_dict", "tuple", "float")
_SUPPORTED = ("dicts (with str or int keys), lists, tuples, Tensors, numeric ndarrays and NumPy "
              "scalars, str, int, float, bool and None")


# ---------------------------------------------------------------------------------------------
# convlab.save / convlab.load


def save(obj, f) -> None:
    """Write ``obj`` (e.g. a state_dict) to the path or binary file object ``f``.

    ``obj`` may nest dicts with str or int keys (OrderedDicts stay ordered), lists, tuples,
    Tensors (dtype and ``requires_grad`` kept), ndarrays, NumPy scalars, strings, numbers, bools
    and None. A tensor that appears twice is stored once and loads back as one object.

    >>> import convlab, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.npz")
    >>> save({"w": convlab.ones(2), "epoch": 3}, path)
    >>> load(path)
    {'w': tensor([1., 1.]), 'epoch': 3}
    """
    arrays: list[np.ndarray] = []
    structure = _encode(obj, arrays, {}, "obj")
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "root": structure},
                        allow_nan=False)
    if isinstance(f, (str, os.PathLike)):
        with atomic_path(f) as tmp:
            with open(tmp, "wb") as out:
                _write_archive(out, header, arrays)
    elif hasattr(f, "write"):
        _write_archive(f, header, arrays)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")


def load(f, map_location=None, weights_only: bool = True):
    """Read what :func:`save` wrote, from a path or a binary file object.

    ``map_location`` may be None, ``'cpu'`` or ``convlab.device('cpu')``: convlab computes on the
    CPU only. ``weights_only`` is accepted for PyTorch code; convlab never unpickles, so loading
    is always as safe as PyTorch's ``weights_only=True``.

    A file that is not a convlab checkpoint (truncated, corrupt, a PyTorch ``.pt`` file, a plain
    ``.npz``) raises ValueError naming the file and what was expected.
    """
    if map_location is not None:
        if callable(map_location) or isinstance(map_location, dict):
            raise TypeError("load: map_location may be None, 'cpu' or convlab.device('cpu'); "
                            "convlab has no other devices to map to")
        device(map_location)
    name = _describe(f)
    try:
        archive = zipfile.ZipFile(f if hasattr(f, "read") else os.fspath(f))
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"load: {name} is not a convlab checkpoint: {_sniff(f, e)}") from None
    with archive:
        header = _read_header(archive, name)
        members = set(archive.namelist())
        loaded: dict[int, object] = {}

        def array(i) -> np.ndarray:
            member = f"arrays/{i}.npy"
            if member not in members:
                raise ValueError(f"load: {name} is corrupt: {_STRUCTURE} refers to {member}, "
                                 "which the archive does not hold")
            raw = _read_member(archive, member, name)
            try:
                return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
            except ValueError as e:
                raise ValueError(f"load: {name} is corrupt: {member} is not a .npy array ({e})"
                                 ) from None

        try:
            return _decode(header["root"], array, loaded)
        except (KeyError, TypeError, IndexError, AttributeError) as e:
            raise ValueError(f"load: {name} is corrupt: its {_STRUCTURE} does not describe a "
                             f"valid structure ({type(e).__name__}: {e})") from None


def _encode(obj, arrays: list, memo: dict, where: str):
    """The JSON form of ``obj``; tensors and arrays are appended to ``arrays`` (once each)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):  # before float: np.float64 is a float
        key = id(obj)
        if key not in memo:
            arr = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"save: {where} is an array of dtype {arr.dtype}; only bool and "
                                "numeric arrays can be stored without pickle")
            memo[key] = (len(arrays), obj)  # obj kept alive so its id stays unique
            arrays.append(arr)
        index = memo[key][0]
        if isinstance(obj, Tensor):
            return {"tensor": index, "requires_grad": obj.requires_grad}
        return {"ndarray" if isinstance(obj, np.ndarray) else "scalar": index}
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, numbers.Integral)):
                raise TypeError(f"save: {where} has a key {k!r} of type {type(k).__name__}; "
                                "dict keys must be str or int")
            k = k if isinstance(k, str) else int(k)
            items.append([k, _encode(v, arrays, memo, f"{where}[{k!r}]")])
        return {"ordered_dict" if isinstance(obj, OrderedDict) else "dict": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, memo, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"tuple": items}
    hint = ""
    if hasattr(obj, "state_dict"):  # a whole model, optimizer or scheduler, as torch.save(model)
        hint = (f". Save its state_dict() instead, and load_state_dict() it into a new "
                f"{type(obj).__name__} to restore it")
    raise TypeError(f"save: {where} is a {type(obj).__name__}, which convlab cannot store without "
                    f"pickle; supported: {_SUPPORTED}{hint}")


def _decode(node, array, loaded: dict):
    """The object that ``node`` (from :func:`_encode`) describes; ``array(i)`` reads array i."""
    if node is None or isinstance(node, (bool, str, int, float)):
        return node
    if isinstance(node, list):
        return [_decode(v, array, loaded) for v in node]
    tag = next((t for t in _TAGS if t in node), None) if isinstance(node, dict) else None
    if tag == "tuple":
        return tuple(_decode(v, array, loaded) for v in node["tuple"])
    if tag in ("dict", "ordered_dict"):
        pairs = ((k, _decode(v, array, loaded)) for k, v in node[tag])
        return OrderedDict(pairs) if tag == "ordered_dict" else dict(pairs)
    if tag == "float":
        return float(node["float"])
    if tag in ("tensor", "ndarray", "scalar"):
        index = node[tag]
        if index not in loaded:  # shared objects load back as one object
            arr = array(index)
            if not arr.dtype.isnative:
                arr = arr.astype(arr.dtype.newbyteorder("="))
            if tag == "tensor":
                obj = Tensor._wrap(arr)
                if node.get("requires_grad"):
                    obj.requires_grad = True
            else:
                obj = arr if tag == "ndarray" else arr[()]
            loaded[index] = obj
        return loaded[index]
    raise TypeError(f"unexpected node {node!r}")


def _write_archive(out, header: str, arrays: list) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i, arr in enumerate(arrays):
            with archive.open(f"arrays/{i}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
        archive.writestr(_STRUCTURE, header)


def _read_header(archive: zipfile.ZipFile, name: str) -> dict:
    names = archive.namelist()
    if _STRUCTURE not in names:
        if any(n.endswith("data.pkl") for n in names):
            what = ("a PyTorch checkpoint (torch.save), which holds pickled Python objects that "
                    "convlab never loads. In PyTorch, save the state_dict with "
                    "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') and "
                    "read it with convlab.load_safetensors")
        elif names and all(n.endswith(".npy") for n in names):
            what = "a plain NumPy .npz archive: read it with numpy.load"
        else:
            what = f"a zip archive without {_STRUCTURE}"
        raise ValueError(f"load: {name} is not a convlab checkpoint (written by convlab.save): it "
                         f"is {what}")
    text = _read_member(archive, _STRUCTURE, name)
    try:
        header = json.loads(text)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"load: {name} is corrupt: {_STRUCTURE} is not JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT or "root" not in header:
        raise ValueError(f"load: {name} is not a convlab checkpoint: {_STRUCTURE} does not "
                         f"describe a {_FORMAT}")
    if header.get("version") != _VERSION:
        raise ValueError(f"load: {name} is a {_FORMAT} of version {header.get('version')!r}; this"
                         f" convlab reads version {_VERSION}")
    return header


def _read_member(archive: zipfile.ZipFile, member: str, name: str) -> bytes:
    """The bytes of one member, checked against the archive's CRC."""
    try:
        return archive.read(member)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        # a damaged header can point outside the file, or claim encryption or compression
        raise ValueError(f"load: {name} is corrupt: cannot read {member} ({e})") from None


def _describe(f) -> str:
    if isinstance(f, (str, os.PathLike)):
        return repr(os.fspath(f))
    return repr(getattr(f, "name", None) or f"<{type(f).__name__}>")


def _sniff(f, error: Exception) -> str:
    """Why a file that should be a zip archive is not one, in words."""
    try:
        if hasattr(f, "read"):
            f.seek(0)
            start, size = f.read(16), None
        else:
            size = os.path.getsize(f)
            with open(f, "rb") as fh:
                start = fh.read(16)
    except OSError:
        return f"it cannot be read as a zip archive ({error})"
    if not start:
        return "the file is empty"
    if start[:1] == b"\x80":
        return ("it is a pickle (an old-style PyTorch checkpoint?), which convlab never loads; "
                "save the state_dict as safetensors in PyTorch and use convlab.load_safetensors")
    if len(start) >= 9 and start[8:9] == b"{":
        return "it looks like a safetensors file: read it with convlab.load_safetensors"
    if start[:4] == b"PK\x03\x04":
        return f"it is a damaged or truncated zip archive ({error})"
    sized = f" of {size} bytes" if size is not None else ""
    return f"expected a zip archive written by convlab.save, found a file{sized} starting {start!r}"


# ---------------------------------------------------------------------------------------------
# safetensors: an 8-byte little-endian header length N, N bytes of JSON header, then the raw
# little-endian bytes of each tensor, at the offsets the header gives (relative to the data).

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}
_SAFETENSORS_CODES = {np.dtype(v): k for k, v in _SAFETENSORS_DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the limit the reference implementation sets


def save_safetensors(tensors: dict, filename, metadata: dict | None = None) -> None:
    """Write a flat ``{name: tensor}`` dict (e.g. ``model.state_dict()``) as a safetensors file.

    ``metadata``, if given, is a ``{str: str}`` dict stored in the header. The file is written
    atomically and reads back in PyTorch with ``safetensors.torch.load_file(filename)``.
    """
    if not isinstance(tensors, dict):
        raise TypeError(f"save_safetensors: expected a dict of name -> tensor, got "
                        f"{type(tensors).__name__}")
    header: dict = {}
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in metadata.items()):
            raise TypeError("save_safetensors: metadata must be a dict of str -> str")
        header["__metadata__"] = metadata
    buffers, offset = [], 0
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise TypeError(f"save_safetensors: tensor names must be str other than "
                            f"'__metadata__', got {name!r}")
        if not isinstance(t, (Tensor, np.ndarray)):
            raise TypeError(f"save_safetensors: {name!r} is a {type(t).__name__}, not a tensor")
        arr = t._data if isinstance(t, Tensor) else t
        code = _SAFETENSORS_CODES.get(arr.dtype.newbyteorder("="))
        if code is None:
            raise TypeError(f"save_safetensors: {name!r} has dtype {arr.dtype}, which safetensors "
                            f"files from convlab cannot hold; supported: "
                            f"{', '.join(map(str, _SAFETENSORS_CODES))}")
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        buffers.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad with spaces so the data starts 8-byte aligned
    with atomic_path(filename) as tmp:
        with open(tmp, "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            for data in buffers:
                out.write(data)


def load_safetensors(filename) -> dict:
    """Read a safetensors file into a ``{name: tensor}`` dict, in the order the file stores them.

    BF16 tensors (a common PyTorch choice) are widened exactly to float32, since NumPy has no
    bfloat16. A truncated or malformed file raises ValueError naming the file and the problem.
    """
    name = repr(os.fspath(filename))
    with open(filename, "rb") as f:
        size = os.fstat(f.fileno()).st_size

        def bad(problem: str) -> ValueError:
            return ValueError(f"load_safetensors: {name} is not a valid safetensors file: "
                              f"{problem}")

        if size < 8:
            raise bad(f"it has {size} bytes, fewer than the 8-byte header length that starts one")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > min(size - 8, _MAX_HEADER):
            f.seek(0)
            start = f.read(16)
            start = ("; it is a zip archive: a convlab checkpoint? read it with convlab.load"
                     if start[:2] == b"PK" else f"; it starts with {start!r}")
            raise bad(f"the header length {n} is larger than the {size - 8} bytes that follow "
                      f"(truncated, or another kind of file{start})")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise bad(f"its header is not JSON ({e})") from None
        if not isinstance(header, dict):
            raise bad("its header is not a JSON object")
        header.pop("__metadata__", None)
        entries = sorted(((_check_entry(key, value, bad), key) for key, value in header.items()),
                         key=lambda entry: entry[0][2])
        expected = 0
        for (_, _, begin, end), key in entries:
            if begin != expected:
                raise bad(f"tensor {key!r} starts at byte {begin} of the data, expected "
                          f"{expected} (tensors must be stored back to back)")
            expected = end
        data_size = size - 8 - n
        if expected != data_size:
            problem = "truncated" if expected > data_size else "has trailing bytes"
            raise bad(f"the header describes {expected} bytes of tensor data, the file holds "
                      f"{data_size} ({problem})")

        tensors = {}
        for (dtype, shape, begin, end), key in entries:
            f.seek(8 + n + begin)
            raw = np.empty(end - begin, dtype=np.uint8)
            f.readinto(memoryview(raw))
            if dtype == "BF16":  # the upper half of a float32
                arr = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                arr = raw.view(np.dtype(_SAFETENSORS_DTYPES[dtype]).newbyteorder("<"))
                arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)
            tensors[key] = Tensor._wrap(arr.reshape(shape))
    return tensors


def _check_entry(key: str, entry, bad) -> tuple:
    """(dtype, shape, begin, end) of one header entry, checked against itself."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise bad(f"header entry {key!r} needs dtype, shape and data_offsets, got {entry!r}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype != "BF16" and dtype not in _SAFETENSORS_DTYPES:
        raise bad(f"tensor {key!r} has dtype {dtype!r}; convlab reads "
                  f"{', '.join([*_SAFETENSORS_DTYPES, 'BF16'])}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise bad(f"tensor {key!r} has shape {shape!r}, expected a list of sizes")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise bad(f"tensor {key!r} has data_offsets {offsets!r}, expected [begin, end]")
    itemsize = 2 if dtype == "BF16" else np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
    nbytes = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise bad(f"tensor {key!r} of dtype {dtype} and shape {shape} needs {nbytes} bytes, its "
                  f"data_offsets {offsets} span {offsets[1] - offsets[0]}")
    return dtype, tuple(shape), offsets[0], offsets[1]
