"""Checkpoints without pickle: ``convlab.save`` / ``convlab.load``, and safetensors files.

``save(obj, f)`` writes a zip archive (readable by ``numpy.load`` too) with two kinds of member:

- ``arrays/<i>.npy``: each tensor or ndarray in NumPy's ``.npy`` format;
- ``convlab.json``: the structure around them. Dicts, lists, tuples, strings, numbers, bools and
  None are written as JSON, with tags where JSON alone would lose the type: ``{"tensor": 3}`` is
  the tensor stored in ``arrays/3.npy``, ``{"tuple": [...]}`` a tuple, ``{"dict": [[key, value],
  ...]}`` a dict (its keys may be strings or ints), ``{"float": "nan"}`` a non-finite float.

Nothing is ever unpickled, so loading a file from a stranger cannot run code, and nothing it
declares is trusted: sizes, shapes and dtypes are checked against the file and the load limit
(:mod:`convlab._limits`) before anything is read or inflated, so a damaged or hostile file is
refused with a ValueError naming it, never by running out of memory. Writing to a path
is atomic: the archive goes to a temporary file beside the target, which is flushed to disk and
then renamed over it, so a crash or an error mid-write leaves the previous checkpoint intact.

``save_safetensors`` / ``load_safetensors`` read and write the safetensors format (a flat
``{name: tensor}`` dict), which PyTorch writes with the ``safetensors`` package: that is the way
to move a state_dict between PyTorch and convlab.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from ._atomic import atomic_path
from ._dtype import from_numpy_dtype
from ._limits import max_load_bytes, over_limit, read_into, shape_problem
from .tensor import Tensor, device

__all__ = ["save", "load", "save_safetensors", "load_safetensors"]

_FORMAT = "convlab-checkpoint"
_VERSION = 1
_STRUCTURE = "convlab.json"
_TAGS = ("tensor", "ndarray", "scalar", "dict", "ordered_dict", "tuple", "float")
_SUPPORTED = ("dicts (with str or int keys), lists, tuples, Tensors, ndarrays and NumPy scalars "
              "of convlab's dtypes, str, int, float, bool and None")
# Containers nest a few levels in a checkpoint (an optimizer's state: dict, dict, dict); the bound
# keeps the recursive encoder and decoder far from Python's recursion limit.
_MAX_DEPTH = 100
# Parsed JSON takes up to about 25 times its text in Python objects (the 3 bytes "[]," become a
# 56-byte list and an 8-byte slot), and decoding copies it once more: the structure's text may
# be 1/128 of the load limit, 8 MiB at the default 1 GiB (a ResNet-50 state_dict's is ~25 KB).
_JSON_SHARE = 128
_ENCRYPTED = 0x1  # bit 0 of a zip member's general purpose flags
# what reading a damaged member raises: a header that points outside the file, a bad CRC, a
# deflate stream that is not one
_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, zlib.error)


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


def load(f, map_location=None, weights_only: bool = True, *, max_bytes: int | None = None):
    """Read what :func:`save` wrote, from a path or a binary file object.

    ``map_location`` may be None, ``'cpu'`` or ``convlab.device('cpu')``: convlab computes on the
    CPU only. ``weights_only`` is accepted for PyTorch code; convlab never unpickles, so loading
    is always as safe as PyTorch's ``weights_only=True``.

    A file that is not a convlab checkpoint (truncated, corrupt, a PyTorch ``.pt`` file, a plain
    ``.npz``) raises ValueError naming the file and what was expected. So does a file that
    declares more than it holds, or whose compressed members would inflate past ``max_bytes``
    (default: ``$CONVLAB_MAX_LOAD_BYTES``, else 1 GiB; see :mod:`convlab._limits`): every size
    is checked before anything is read, so a hostile file cannot exhaust memory.
    """
    if map_location is not None:
        if callable(map_location) or isinstance(map_location, dict):
            raise TypeError("load: map_location may be None, 'cpu' or convlab.device('cpu'); "
                            "convlab has no other devices to map to")
        device(map_location)
    limit = max_load_bytes(max_bytes)
    name = _describe(f)
    try:
        archive = zipfile.ZipFile(f if hasattr(f, "read") else os.fspath(f))
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ValueError(f"load: {name} is not a convlab checkpoint: {_sniff(f, e)}") from None
    with archive:
        reader = _Reader(archive, name, _file_size(f), limit)
        return reader.decode(reader.header["root"], "obj", 0)


def _encode(obj, arrays: list, memo: dict, where: str, depth: int = 0):
    """The JSON form of ``obj``; tensors and arrays are appended to ``arrays`` (once each)."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):  # before float: np.float64 is a float
        key = id(obj)
        if key not in memo:
            arr = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
            problem = _dtype_problem(arr.dtype)
            if problem:
                raise TypeError(f"save: {where} is an array of dtype {arr.dtype}; {problem}")
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
    if isinstance(obj, (dict, list, tuple)) and depth >= _MAX_DEPTH:
        raise ValueError(f"save: {where} is nested in more than {_MAX_DEPTH} containers, more "
                         "than convlab.load reads back")
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, numbers.Integral)):
                raise TypeError(f"save: {where} has a key {k!r} of type {type(k).__name__}; "
                                "dict keys must be str or int")
            k = k if isinstance(k, str) else int(k)
            items.append([k, _encode(v, arrays, memo, f"{where}[{k!r}]", depth + 1)])
        return {"ordered_dict" if isinstance(obj, OrderedDict) else "dict": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays, memo, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"tuple": items}
    hint = ""
    if hasattr(obj, "state_dict"):  # a whole model, optimizer or scheduler, as torch.save(model)
        hint = (f". Save its state_dict() instead, and load_state_dict() it into a new "
                f"{type(obj).__name__} to restore it")
    raise TypeError(f"save: {where} is a {type(obj).__name__}, which convlab cannot store without "
                    f"pickle; supported: {_SUPPORTED}{hint}")


def _dtype_problem(dtype: np.dtype) -> str | None:
    """Why convlab cannot hold arrays of ``dtype`` (in either byte order), or None."""
    try:
        from_numpy_dtype(dtype.newbyteorder("="))
    except TypeError as e:
        return str(e)
    return None


def _write_archive(out, header: str, arrays: list) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i, arr in enumerate(arrays):
            with archive.open(f"arrays/{i}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)
        archive.writestr(_STRUCTURE, header)


class _Reader:
    """One checkpoint being loaded: its members checked, its structure parsed, and each array
    read once, when the structure first refers to it.

    Every problem raises ValueError naming the file (``name``) and the numbers.
    """

    def __init__(self, archive: zipfile.ZipFile, name: str, size: int, limit: int):
        self.archive, self.name, self.limit = archive, name, limit
        self.members = self._check_members(size)
        self.header = self._read_header()
        self.loaded: dict[int, tuple[str, object]] = {}  # index -> (tag, object)

    def corrupt(self, problem: str) -> ValueError:
        return ValueError(f"load: {self.name} is corrupt: {problem}")

    def _check_members(self, size: int) -> dict:
        """The members by name, once what their headers declare is checked against the file's
        ``size`` and the load limit, before any of them is read."""
        members: dict[str, zipfile.ZipInfo] = {}
        stored = inflated = 0
        for info in self.archive.infolist():
            member = info.filename
            if member in members:  # readers disagree on which of the two counts
                raise self.corrupt(f"it holds two members named {member!r}")
            if info.flag_bits & _ENCRYPTED:
                raise self.corrupt(f"member {member!r} is marked encrypted (flag bits "
                                   f"0x{info.flag_bits:04x}); convlab.save never encrypts")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.corrupt(f"member {member!r} uses zip compression method "
                                   f"{info.compress_type}; convlab reads stored (0) and deflated "
                                   "(8) members")
            if info.header_offset + info.compress_size > size:
                raise self.corrupt(f"member {member!r} claims {info.compress_size} bytes at offset "
                                   f"{info.header_offset}, past the end of the {size}-byte file")
            if info.compress_type == zipfile.ZIP_STORED:
                if info.file_size != info.compress_size:
                    raise self.corrupt(f"stored member {member!r} claims {info.file_size} bytes "
                                       f"but occupies {info.compress_size}")
                stored += info.file_size
            else:
                inflated += info.file_size
            members[member] = info
        if stored > size:  # members that overlap, to be read many times over
            raise self.corrupt(f"its stored members claim {stored} bytes in all, more than the "
                               f"{size} bytes of the file")
        if inflated > self.limit:
            raise ValueError(f"load: {self.name}: " + over_limit(
                "inflating its deflated members", inflated, self.limit))
        return members

    def _read_header(self) -> dict:
        """The parsed ``convlab.json``, checked to describe a checkpoint this convlab reads."""
        names = list(self.members)
        if _STRUCTURE not in self.members:
            if any(n.endswith("data.pkl") for n in names):
                what = ("a PyTorch checkpoint (torch.save), which holds pickled Python objects "
                        "that convlab never loads. In PyTorch, save the state_dict with "
                        "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') "
                        "and read it with convlab.load_safetensors")
            elif names and all(n.endswith(".npy") for n in names):
                what = "a plain NumPy .npz archive: read it with numpy.load"
            else:
                what = f"a zip archive without {_STRUCTURE}"
            raise ValueError(f"load: {self.name} is not a convlab checkpoint (written by "
                             f"convlab.save): it is {what}")
        size, most = self.members[_STRUCTURE].file_size, self.limit // _JSON_SHARE
        if size > most:
            raise ValueError(f"load: {self.name}: its {_STRUCTURE} has {size} bytes, more than "
                             f"the {most} a checkpoint's structure may have (1/{_JSON_SHARE} of "
                             "the load limit: parsed JSON takes many times its size in memory)")
        try:
            header = _parse_json(self._read_member(_STRUCTURE))
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise self.corrupt(f"{_STRUCTURE} is not JSON convlab can read ({e})") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT or "root" not in header:
            raise ValueError(f"load: {self.name} is not a convlab checkpoint: {_STRUCTURE} does "
                             f"not describe a {_FORMAT}")
        if header.get("version") != _VERSION:
            raise ValueError(f"load: {self.name} is a {_FORMAT} of version "
                             f"{header.get('version')!r}; this convlab reads version {_VERSION}")
        return header

    def _read_member(self, member: str) -> bytes:
        """The bytes of one member, checked against the archive's CRC."""
        try:
            return self.archive.read(self.members[member])
        except _ZIP_ERRORS as e:  # a damaged header can point outside the file
            raise self.corrupt(f"cannot read {member} ({e})") from None

    def decode(self, node, where: str, depth: int):
        """The object that ``node`` (from :func:`_encode`) describes; ``where`` names it, as
        ``obj['state']['w']``, for the errors."""
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if depth >= _MAX_DEPTH:
            raise self.corrupt(f"{_STRUCTURE} nests containers more than {_MAX_DEPTH} deep, at "
                               f"{where}")
        if isinstance(node, list):
            return [self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node)]
        tags = [t for t in _TAGS if t in node]
        allowed = {*tags, "requires_grad"} if tags == ["tensor"] else set(tags)
        if len(tags) != 1 or set(node) - allowed:
            raise self.corrupt(f"{_STRUCTURE} holds {_clip(node)} at {where}, which is none of "
                               f"the tagged forms convlab.save writes (one of {', '.join(_TAGS)})")
        tag, value = tags[0], node[tags[0]]
        if tag == "float":
            if value not in ("nan", "inf", "-inf"):
                raise self.corrupt(f"{_STRUCTURE} holds the float {_clip(value)} at {where}; "
                                   "tagged floats are 'nan', 'inf' or '-inf'")
            return float(value)
        if tag in ("tensor", "ndarray", "scalar"):
            return self._array_object(tag, node, where)
        if not isinstance(value, list):
            raise self.corrupt(f"{_STRUCTURE} holds a {tag} of {_clip(value)} at {where}, not a "
                               "list")
        if tag == "tuple":
            return tuple(self.decode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
        out = OrderedDict() if tag == "ordered_dict" else {}
        for pair in value:
            key = pair[0] if isinstance(pair, list) and len(pair) == 2 else None
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise self.corrupt(f"{_STRUCTURE} holds the entry {_clip(pair)} in the {tag} at "
                                   f"{where}; entries are [key, value] with a str or int key")
            if key in out:
                raise self.corrupt(f"{_STRUCTURE} holds the key {key!r} twice in the {tag} at "
                                   f"{where}")
            out[key] = self.decode(pair[1], f"{where}[{key!r}]", depth + 1)
        return out

    def _array_object(self, tag: str, node: dict, where: str):
        """The Tensor, ndarray or NumPy scalar that ``node`` refers to; an array referred to
        twice loads once, as one object."""
        index = node[tag]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise self.corrupt(f"{_STRUCTURE} refers to array {_clip(index)} at {where}; arrays "
                               "are numbered 0, 1, 2, ...")
        requires_grad = node.get("requires_grad", False)
        if not isinstance(requires_grad, bool):
            raise self.corrupt(f"{_STRUCTURE} gives requires_grad {_clip(requires_grad)} at "
                               f"{where}, not true or false")
        if index not in self.loaded:
            arr = self._read_array(f"arrays/{index}.npy", where)
            if tag == "scalar" and arr.ndim:
                raise self.corrupt(f"{where} is a NumPy scalar, but arrays/{index}.npy has shape "
                                   f"{arr.shape}")
            if requires_grad and arr.dtype.kind != "f":
                raise self.corrupt(f"{where} is a {arr.dtype} tensor marked requires_grad; only "
                                   "floating point tensors require gradients")
            if tag == "tensor":
                obj = Tensor._wrap(arr)
                if requires_grad:
                    obj.requires_grad = True
            else:
                obj = arr if tag == "ndarray" else arr[()]
            self.loaded[index] = (tag, obj)
        first, obj = self.loaded[index]
        if first != tag:
            raise self.corrupt(f"{_STRUCTURE} refers to arrays/{index}.npy as {first} and, at "
                               f"{where}, as {tag}")
        return obj

    def _read_array(self, member: str, where: str) -> np.ndarray:
        """Read one ``.npy`` member: its header first, checked against the member's size and
        convlab's dtypes, then exactly the bytes it declares, into a native-order array."""
        info = self.members.get(member)
        if info is None:
            raise self.corrupt(f"{_STRUCTURE} refers to {member} at {where}, which the archive "
                               "does not hold")
        try:
            stream = self.archive.open(info)
        except _ZIP_ERRORS as e:
            raise self.corrupt(f"cannot read {member} ({e})") from None
        with stream:
            try:
                shape, fortran, dtype = _read_npy_header(stream)
            except _ZIP_ERRORS as e:  # a small member is read, and its CRC checked, at once
                raise self.corrupt(f"cannot read {member} ({e})") from None
            except ValueError as e:
                raise self.corrupt(f"{member} is not a .npy array ({e})") from None
            problem = _dtype_problem(dtype)
            if problem:
                raise ValueError(f"load: {self.name}: {member} holds an array of dtype {dtype}; "
                                 f"{problem}")
            problem = shape_problem(shape, dtype.itemsize)
            if problem:
                raise self.corrupt(f"{member} has shape {shape}, with {problem}")
            header = stream.tell()
            nbytes = math.prod(shape) * dtype.itemsize
            if header + nbytes != info.file_size:
                raise self.corrupt(f"{member} declares shape {shape} of {dtype} = {nbytes} bytes, "
                                   f"but {info.file_size - header} bytes follow its {header}-byte "
                                   "header")
            raw = np.empty(nbytes, np.uint8)
            try:
                got = read_into(stream, raw)  # reaching the end checks the CRC
            except _ZIP_ERRORS as e:
                raise self.corrupt(f"cannot read {member} ({e})") from None
        if got != nbytes:
            raise self.corrupt(f"{member} ends after {got} of its {nbytes} bytes of data")
        arr = raw.view(dtype)
        if not dtype.isnative:  # swap in place: no second copy
            arr = arr.byteswap(inplace=True).view(dtype.newbyteorder("="))
        return arr.reshape(shape, order="F" if fortran else "C")


def _read_npy_header(stream) -> tuple:
    """(shape, fortran_order, dtype) from the start of a ``.npy`` file, version 1.0 or 2.0."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    raise ValueError(f"it is .npy version {version[0]}.{version[1]}; convlab reads 1.0 and 2.0")


def _parse_json(text: bytes | str):
    """``json.loads``, refusing an object that repeats a key (JSON readers disagree on which
    one counts) and nesting too deep for Python's parser, as ValueError."""
    def unique(pairs: list) -> dict:
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"an object holds the key {key!r} twice")
            seen.add(key)
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique)
    except RecursionError:
        raise ValueError("it nests arrays and objects deeper than Python's JSON parser "
                         "follows") from None


def _clip(value, most: int = 60) -> str:
    """``repr(value)``, cut to ``most`` characters: a hostile file's values can be huge."""
    text = repr(value)
    return text if len(text) <= most else text[:most - 3] + "..."


def _file_size(f) -> int:
    if hasattr(f, "read"):
        here = f.tell()
        size = f.seek(0, os.SEEK_END)
        f.seek(here)
        return size
    return os.path.getsize(f)


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


def load_safetensors(filename, *, max_bytes: int | None = None) -> dict:
    """Read a safetensors file into a ``{name: tensor}`` dict, in the order the file stores them.

    BF16 tensors (a common PyTorch choice) are widened exactly to float32, since NumPy has no
    bfloat16. A truncated or malformed file raises ValueError naming the file and the problem.
    The tensors' bytes must all be in the file; the JSON header may have at most 1/128 of
    ``max_bytes`` (default: ``$CONVLAB_MAX_LOAD_BYTES``, else 1 GiB; see
    :mod:`convlab._limits`) and 100 MB.
    """
    limit = max_load_bytes(max_bytes)
    name = repr(os.fspath(filename))
    with open(filename, "rb") as f:
        size = os.fstat(f.fileno()).st_size

        def bad(problem: str) -> ValueError:
            return ValueError(f"load_safetensors: {name} is not a valid safetensors file: "
                              f"{problem}")

        if size < 8:
            raise bad(f"it has {size} bytes, fewer than the 8-byte header length that starts one")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size - 8:
            f.seek(0)
            start = f.read(16)
            start = ("; it is a zip archive: a convlab checkpoint? read it with convlab.load"
                     if start[:2] == b"PK" else f"; it starts with {start!r}")
            raise bad(f"the header length {n} is larger than the {size - 8} bytes that follow "
                      f"(truncated, or another kind of file{start})")
        most = min(_MAX_HEADER, limit // _JSON_SHARE)
        if n > most:
            raise ValueError(f"load_safetensors: {name}: its header has {n} bytes, more than the "
                             f"{most} a header may have (the smaller of 100 MB and "
                             f"1/{_JSON_SHARE} of the load limit: parsed JSON takes many times "
                             "its size in memory)")
        try:
            header = _parse_json(f.read(n).decode("utf-8"))
        except ValueError as e:  # UnicodeDecodeError is a ValueError
            raise bad(f"its header is not JSON convlab can read ({e})") from None
        if not isinstance(header, dict):
            raise bad("its header is not a JSON object")
        metadata = header.pop("__metadata__", {})
        if not isinstance(metadata, dict) or not all(isinstance(v, str)
                                                     for v in metadata.values()):
            raise bad(f"its __metadata__ is {_clip(metadata)}, not an object of strings")
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
        raise bad(f"header entry {key!r} needs dtype, shape and data_offsets, got "
                  f"{_clip(entry)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype != "BF16" and dtype not in _SAFETENSORS_DTYPES:
        raise bad(f"tensor {key!r} has dtype {_clip(dtype)}; convlab reads "
                  f"{', '.join([*_SAFETENSORS_DTYPES, 'BF16'])}")
    if not isinstance(shape, list):
        raise bad(f"tensor {key!r} has shape {_clip(shape)}, expected a list of sizes")
    # BF16 loads as float32: NumPy must be able to make the widened array
    itemsize = 4 if dtype == "BF16" else np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
    problem = shape_problem(tuple(shape), itemsize)
    if problem:
        raise bad(f"tensor {key!r} has shape {_clip(shape)}, with {problem}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise bad(f"tensor {key!r} has data_offsets {_clip(offsets)}, expected [begin, end]")
    nbytes = math.prod(shape) * (2 if dtype == "BF16" else itemsize)
    if offsets[1] - offsets[0] != nbytes:
        raise bad(f"tensor {key!r} of dtype {dtype} and shape {shape} needs {nbytes} bytes, its "
                  f"data_offsets {offsets} span {offsets[1] - offsets[0]}")
    return dtype, tuple(shape), offsets[0], offsets[1]
