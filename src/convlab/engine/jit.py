"""Compiled loops: numba, where it measurably beats NumPy, with the NumPy path kept.

Some of the engine's work is a plain loop that NumPy can only express as many passes over
memory (a Winograd tile transform is a dozen additions per value; a depthwise convolution is
nine multiply-adds per output). numba compiles such a loop, written as the plain Python it is,
to machine code that makes one pass. The kernels live beside the NumPy code they replace, and
each algorithm module calls them only when :data:`ENABLED` is true, so every algorithm keeps a
pure NumPy path, and the tests hold both to ``reference.py``.

- ``ENABLED`` is false when numba is not installed, or when the environment sets
  ``CONVLAB_JIT=0``; :func:`disabled` turns the kernels off inside a block (tests, benchmarks).
- :func:`kernel` compiles a function on its first call, for the argument types of that call,
  and caches the machine code on disk (``__pycache__``), so a later process starts at once.
  numba itself is imported then too (it takes about half a second), not with convlab.
- The kernels release Python's GIL (``nogil``): the engine's chunk threads
  (:mod:`.parallel`) run them on all cores at once, as they run NumPy's own loops.
- Floating-point: the compiler may reorder sums and fuse multiply-adds (so loops vectorize),
  but keeps NaN and infinity semantics: no ``fastmath`` flags that assume finite values.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from contextlib import contextmanager

__all__ = ["ENABLED", "kernel", "active", "disabled"]

# Without numba the NumPy paths run instead.
ENABLED = (importlib.util.find_spec("numba") is not None
           and os.environ.get("CONVLAB_JIT", "1") != "0")

# Reassociation lets sums vectorize and contract fuses multiply-adds; "nnan"/"ninf" are left
# out, so NaN and infinity propagate as they do in NumPy.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

_off = threading.local()


_kernels: list[_Kernel] = []
_compile_lock = threading.Lock()


class _Kernel:
    """A function to be compiled by numba when a kernel is first called. At that point every
    kernel made so far becomes a numba dispatcher, also in its module's namespace, so that
    kernels can call each other inside compiled code."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.python = fn
        self.compiled = None
        _kernels.append(self)

    def __call__(self, *args):
        if self.compiled is None:
            _compile_all()
        return self.compiled(*args)


def _compile_all() -> None:
    import numba

    with _compile_lock:
        for k in _kernels:
            if k.compiled is None:
                k.compiled = numba.njit(cache=True, nogil=True, fastmath=FASTMATH)(k.python)
                k.python.__globals__[k.python.__name__] = k.compiled


def kernel(fn) -> _Kernel:
    """``fn`` to be compiled by numba on its first call (for the argument types of that call;
    cached on disk; run without the GIL). Call it only when :func:`active` is true."""
    return _Kernel(fn)


def active() -> bool:
    """Whether the compiled kernels run now: numba is there, not turned off by
    ``CONVLAB_JIT=0``, and not inside :func:`disabled` in this thread."""
    return ENABLED and not getattr(_off, "value", False)


@contextmanager
def disabled():
    """Run the NumPy paths inside the block, in this thread (the engine's chunk threads follow
    the thread that called the engine: the algorithms decide before they hand out chunks)."""
    previous = getattr(_off, "value", False)
    _off.value = True
    try:
        yield
    finally:
        _off.value = previous
