"""Load a pickle that may hold only NumPy arrays, lists, dicts, tuples, numbers and strings.

Why: ``pickle.load`` runs whatever the file tells it to. A pickle names a global ("module.name",
e.g. ``os.system``) and the arguments to call it with, so a file that claims to be a CIFAR-10
batch can delete files or start a shell the moment it is loaded. Dicts, lists, tuples, numbers and
strings are built by pickle's own opcodes; only globals go through ``Unpickler.find_class``. So
:class:`RestrictedUnpickler` overrides ``find_class`` and hands out just the few globals a NumPy
array needs to rebuild itself; any other global stops the load before anything runs.

The allowed globals, each handed out as a checked stand-in where the real one could be made to
allocate what the file only claims:

- ``numpy.core.multiarray._reconstruct`` (NumPy 1 and Python 2 pickles, such as CIFAR-10's) and
  ``numpy._core.multiarray._reconstruct`` (NumPy 2): makes an empty array of a given type, which
  the pickle then fills with its data (``ndarray.__setstate__`` checks the data's length against
  the shape); the stand-in makes only empty arrays, as NumPy's own pickles ask;
- ``numpy.ndarray``: the array type for ``_reconstruct``. Called directly it makes an array over
  a buffer with any offset and strides, so a 1-byte buffer with stride 0 can pose as 100,000
  images, and without a buffer it hands out uninitialised memory: the stand-in requires a buffer
  that holds every byte of the array, laid out contiguously;
- ``numpy.dtype``: the element type;
- ``_codecs.encode``: how Python 3 writes ``bytes`` (the array's raw data) in a protocol-2
  pickle, as ``encode(text, 'latin1')``; the stand-in allows that encoding only.

Before any of it runs, :func:`restricted_load` walks the file's opcodes (``pickletools``), which
checks every length the file declares (of a string, of bytes) against the bytes that follow: the
unpickler itself would allocate a declared 2 GiB before finding that 3 bytes follow.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import pickle
import pickletools

import numpy as np

from .._limits import shape_problem

__all__ = ["RestrictedUnpickler", "UnsafePickleError", "restricted_load", "ALLOWED_GLOBALS"]

# The function NumPy itself pickles arrays with; asking an array for it avoids importing
# numpy.core, which NumPy 2 deprecates.
_reconstruct = np.ndarray((0,)).__reduce__()[0]

#: the globals a pickle may name ("module", "name")
ALLOWED_GLOBALS = (
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
)


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle asked for something outside :data:`ALLOWED_GLOBALS`, or asked an allowed one for
    an array its data does not back; nothing of it was run.

    A ``ValueError`` too, as every other bad file is.
    """


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` whose ``find_class`` allows only :data:`ALLOWED_GLOBALS`.

    ``name`` is the file's name, used in error messages.
    """

    def __init__(self, file, *, name: str = "<pickle>", encoding: str = "latin1"):
        super().__init__(file, encoding=encoding)
        self.name = name
        self._array_type = self._ndarray  # one bound method, so _reconstruct can recognise it
        self._globals = {
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy", "ndarray"): self._array_type,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): self._encode,
        }

    def find_class(self, module: str, name: str):
        try:
            return self._globals[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise UnsafePickleError(
                f"{self.name}: refusing to load the global '{module}.{name}': this pickle may hold "
                f"only NumPy arrays, lists, dicts, numbers and strings (allowed globals: "
                f"{allowed}). Unpickling can run arbitrary code, so a file that asks for "
                "anything else is not loaded.") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.name}: refusing a persistent id ({pid!r}) in a pickle")

    def _refuse(self, problem: str) -> UnsafePickleError:
        return UnsafePickleError(f"{self.name}: refusing a pickle that {problem}; NumPy's own "
                                 "pickles never do this, so the file is damaged or hostile")

    def _reconstruct(self, subtype, shape, typecode):
        """NumPy's ``_reconstruct(ndarray, (0,), b'b')``: an empty array for the pickle to fill."""
        if subtype is not self._array_type:
            what = getattr(subtype, "__name__", type(subtype).__name__)
            raise self._refuse(f"reconstructs an array of {what}, not numpy.ndarray")
        if not isinstance(shape, tuple) or shape_problem(shape, 1) or math.prod(shape):
            raise self._refuse(f"reconstructs an array of shape {shape!r} before filling it, not "
                               "an empty one")
        return _reconstruct(np.ndarray, shape, typecode)

    def _ndarray(self, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
        """``numpy.ndarray(...)`` over a buffer that holds all of the array, contiguously."""
        if buffer is None:
            raise self._refuse(f"calls numpy.ndarray{(shape, dtype)!r} without a buffer, which "
                               "hands out uninitialised memory")
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        dtype = np.dtype(dtype)
        problem = shape_problem(shape, dtype.itemsize)
        if problem:
            raise self._refuse(f"calls numpy.ndarray with shape {shape!r}, with {problem}")
        nbytes = math.prod(shape) * dtype.itemsize
        size = memoryview(buffer).nbytes
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 \
                or offset + nbytes > size:
            raise self._refuse(f"calls numpy.ndarray for shape {shape} of {dtype} = {nbytes} "
                               f"bytes from offset {offset!r} of a {size}-byte buffer")
        array = np.ndarray(shape, dtype, buffer, offset, None, order)
        if strides is not None and tuple(strides) != array.strides:
            raise self._refuse(f"calls numpy.ndarray with strides {strides!r} for shape {shape} "
                               f"of {dtype} (contiguous: {array.strides}), which would read "
                               "bytes of the buffer more than once or not in order")
        return array

    def _encode(self, text, encoding="utf-8", errors="strict"):
        """``_codecs.encode(text, 'latin1')``: how a protocol-2 pickle writes ``bytes``."""
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise self._refuse(f"encodes a {type(text).__name__} with {encoding!r}, not a str "
                               "with 'latin1' as pickle writes bytes")
        return codecs.encode(text, encoding, errors)


def restricted_load(path: str | os.PathLike, *, encoding: str = "latin1"):
    """Load the pickle at ``path`` with :class:`RestrictedUnpickler`.

    ``encoding='latin1'`` reads Python 2 pickles (CIFAR-10's) with ``str`` keys, as torchvision
    does; NumPy arrays come back intact. A forbidden global, or an array that its data does not
    back, raises :class:`UnsafePickleError`; a damaged file raises ``ValueError``; both name the
    file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        for _ in pickletools.genops(raw):  # checks each declared length against what follows
            pass
        return RestrictedUnpickler(io.BytesIO(raw), name=path, encoding=encoding).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # truncated or garbled data: EOFError, UnpicklingError, ValueError, ...
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e}); the file may "
                         "be damaged or incomplete") from None
