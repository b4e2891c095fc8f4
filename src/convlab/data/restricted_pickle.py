"""Load a pickle that may hold only NumPy arrays, lists, dicts, tuples, numbers and strings.

Why: ``pickle.load`` runs whatever the file tells it to. A pickle names a global ("module.name",
e.g. ``os.system``) and the arguments to call it with, so a file that claims to be a CIFAR-10
batch can delete files or start a shell the moment it is loaded. Dicts, lists, tuples, numbers and
strings are built by pickle's own opcodes; only globals go through ``Unpickler.find_class``. So
:class:`RestrictedUnpickler` overrides ``find_class`` and hands out just the few globals a NumPy
array needs to rebuild itself; any other global stops the load before anything runs.

The allowed globals:

- ``numpy.core.multiarray._reconstruct`` (NumPy 1 and Python 2 pickles, such as CIFAR-10's) and
  ``numpy._core.multiarray._reconstruct`` (NumPy 2): makes an empty array of a given type;
- ``numpy.ndarray`` and ``numpy.dtype``: the array type and its element type;
- ``_codecs.encode``: how Python 3 writes ``bytes`` (the array's raw data) in a protocol-2 pickle.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle

import numpy as np

__all__ = ["RestrictedUnpickler", "UnsafePickleError", "restricted_load", "ALLOWED_GLOBALS"]

# The function NumPy itself pickles arrays with; asking an array for it avoids importing
# numpy.core, which NumPy 2 deprecates.
_reconstruct = np.ndarray((0,)).__reduce__()[0]

ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something outside :data:`ALLOWED_GLOBALS`; nothing of it was run."""


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` whose ``find_class`` allows only :data:`ALLOWED_GLOBALS`.

    ``name`` is the file's name, used in error messages.
    """

    def __init__(self, file, *, name: str = "<pickle>", encoding: str = "latin1"):
        super().__init__(file, encoding=encoding)
        self.name = name

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise UnsafePickleError(
                f"{self.name}: refusing to load the global '{module}.{name}': this pickle may hold "
                f"only NumPy arrays, lists, dicts, numbers and strings (allowed globals: "
                f"{allowed}). Unpickling can run arbitrary code, so a file that asks for "
                "anything else is not loaded.") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.name}: refusing a persistent id ({pid!r}) in a pickle")


def restricted_load(path: str | os.PathLike, *, encoding: str = "latin1"):
    """Load the pickle at ``path`` with :class:`RestrictedUnpickler`.

    ``encoding='latin1'`` reads Python 2 pickles (CIFAR-10's) with ``str`` keys, as torchvision
    does; NumPy arrays come back intact. A forbidden global raises :class:`UnsafePickleError`; a
    damaged file raises ``ValueError``; both name the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return RestrictedUnpickler(io.BytesIO(raw), name=path, encoding=encoding).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # truncated or garbled data: EOFError, UnpicklingError, ValueError, ...
        raise ValueError(f"{path}: not a readable pickle ({type(e).__name__}: {e}); the file may "
                         "be damaged or incomplete") from None
