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
- ``kernel(threaded=True)`` marks a kernel whose ``prange`` loops share their iterations between
  the engine's threads (numba's ``parallel=True``, which runs them on OpenMP's threads). It is
  compiled twice, threaded and serial (``prange`` is then ``range``), and each call takes the
  threaded one when :func:`.parallel.threads` is above 1. A threaded kernel is an entry point:
  compiled code calls only serial kernels (one level of threads, never nested).

Why OpenMP's threads and not Python's: a thread that waits for work has to be woken, and on a
virtual machine a sleeping core takes 70-130 us to wake (measured here: a ``ThreadPoolExecutor``
hand-over costs 165-240 us, numba's own sleeping ``workqueue`` threads 70-130 us). OpenMP's
threads keep spinning a moment after each loop, so the next loop starts on them in about 2 us
(a 1000-element ``prange`` loop: 2 us). A network's step runs a few hundred parallel loops, many
of them a fraction of a millisecond long: with hand-overs of 200 us a second thread gained
little, and on small BatchNorm passes it lost (0.24 -> 0.91 ms). The worker threads must not
need Python's GIL either: Python's own threads, however they wait, queue for the GIL, and every
queueing is another wake-up. So each unit of parallel work is compiled code from end to end,
BLAS products included (:func:`.blas.dot` inside a kernel calls the BLAS without the GIL).
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import threading
import time
import types
from contextlib import contextmanager

import numpy as np

from . import blas, parallel

__all__ = ["ENABLED", "FLOAT_TYPES", "kernel", "prange", "active", "disabled", "compiles"]

# Without numba the NumPy paths run instead.
ENABLED = (importlib.util.find_spec("numba") is not None
           and os.environ.get("CONVLAB_JIT", "1") != "0")

# The float dtypes the kernels compute in, and the BLAS they call multiplies (numba has no
# float16 arithmetic).
FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Reassociation lets sums vectorize and contract fuses multiply-adds; "nnan"/"ninf" are left
# out, so NaN and infinity propagate as they do in NumPy.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

class _ThreadSwitch(threading.local):
    """Whether :func:`disabled` holds the kernels off in this thread. Per-thread values read
    through class defaults, here and below: ``getattr(local, name, default)`` on a thread that
    never set the name raises and catches an AttributeError, 1.3 us a call."""

    value = False


_off = _ThreadSwitch()

# A threaded kernel's parallel loop, written ``for i in prange(n)``: ``range`` when the kernel
# runs as plain Python, numba's ``prange`` in the module once the kernels are compiled.
prange = range


_kernels: list[_Kernel] = []
_compile_lock = threading.Lock()


class _Kernel:
    """A function to be compiled by numba when a kernel is first called. At that point every
    kernel made so far is compiled, and each serial one becomes a numba dispatcher in its
    module's namespace too, so that kernels can call each other inside compiled code. A
    threaded kernel keeps this wrapper there: it alone chooses, at each call, between its
    threaded and its serial machine code."""

    def __init__(self, fn, threaded: bool, exact: bool = False, serial_below: int = 0,
                 bounds: str | None = None):
        functools.update_wrapper(self, fn)
        self.python = fn
        self.compiled = None  # the serial machine code
        self.threaded = None  # the threaded one, for a threaded kernel
        self.is_threaded = threaded
        self.serial_below = serial_below
        # the position of the argument whose runs the parallel loop shares out
        self.bounds = None if bounds is None else list(inspect.signature(fn).parameters).index(
            bounds)
        self.fastmath = set() if exact else FASTMATH
        _kernels.append(self)

    def __call__(self, *args):
        if self.compiled is None:
            _compile_all()
        if self.is_threaded:
            n = parallel.threads()
            if n > 1 and self._shares_work(args):
                _use_threads(n)
                return self.threaded(*args)
        return self.compiled(*args)

    def _shares_work(self, args) -> bool:
        """Whether this call's loop has work for more than one thread: elements enough (with
        ``serial_below``), more than one run (with ``bounds``). A loop of one run still wakes
        the other threads and waits for them: 3-6 us where it runs alone in 1, milliseconds
        when another process holds the other core."""
        if self.serial_below and args[0].size < self.serial_below:
            return False
        return self.bounds is None or len(args[self.bounds]) > 2


def _compile_all() -> None:
    import numba

    parallel.start()  # the BLAS that compiled products call, held to one thread first
    blas.register()  # blas.dot, for the kernels that call NumPy's BLAS
    with _compile_lock:
        for k in _kernels:
            if k.compiled is not None:
                continue
            options = dict(cache=True, nogil=True, fastmath=k.fastmath)
            k.compiled = numba.njit(**options)(k.python)
            if k.is_threaded:
                k.python.__globals__["prange"] = numba.prange
                k.threaded = numba.njit(parallel=True, **options)(_renamed(k.python, "threaded"))
            else:
                k.python.__globals__[k.python.__name__] = k.compiled


def _renamed(fn, suffix: str):
    """A copy of ``fn`` under another name: numba's disk cache files a function's machine code
    by its name and signature, not by its compile options, so the threaded and the serial code
    of one function would overwrite each other there."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    copy.__qualname__ = f"{fn.__qualname__}_{suffix}"
    return copy


class _ThreadCount(threading.local):
    """The thread count last given to numba in this thread (None: not yet)."""

    n = None


_threads_set = _ThreadCount()

# How long OpenMP's threads spin, waiting for the next loop, before they sleep: GNU OpenMP's
# GOMP_SPINCOUNT, in iterations of a pause instruction (about 25 ns each on the AMD EPYC here, 45
# on recent Intel cores). Its default, 300,000 (several milliseconds), suits a machine whose
# cores are all ours; where other processes want the cores too (DataLoader workers, a second
# job), a thread that spins through their time slices stalls everyone: the digits CNN's step on
# 2 threads beside two busy processes took 208 ms with the default, 8 ms with 1,000 spins, and
# 6.3 ms on one thread. SPIN_COUNT keeps the threads awake across the short gaps between a
# step's kernels and gives the cores up soon after.
SPIN_COUNT = 10_000

# Elementwise passes on fewer elements than this run on the calling thread alone: a second
# thread does not pay for its loop's start there (a ReLU's pass, one thread against two, 16K
# elements 3.3 / 6.1 us, 32K 5.1 / 6.8, 64K 10.7 / 9.1, 256K 31 / 27), and where another process
# holds a core, every parallel loop waits for the worker's turn on it: the digits CNN's
# inference, whose four parallel loops had 16-32K elements each, took 12.7 ms on 2 threads
# beside the helpers' work, 0.58 on one. PyTorch's grain is 32K elements a thread.
SERIAL_BELOW = 1 << 16


def _use_threads(n: int) -> None:
    """Run threaded kernels on ``n`` threads. numba keeps the count per calling thread (and has
    at most the ``NUMBA_NUM_THREADS`` it started with); asking numba costs 2 us a call, so the
    count last set in this thread is remembered here. The first call starts OpenMP's threads
    (:func:`_start_threads`)."""
    if _threads_set.n != n:
        import numba

        _start_threads()
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        _threads_set.n = n


@functools.cache
def _start_threads() -> None:
    """Start numba's threads, with GNU OpenMP reading ``GOMP_SPINCOUNT = SPIN_COUNT`` as it
    loads, unless the environment sets it already (the user's choice wins). The variable is
    removed again at once, so that another library's OpenMP (PyTorch brings its own copy) keeps
    its own default."""
    from numba.np.ufunc import parallel as numba_parallel

    ours = "GOMP_SPINCOUNT" not in os.environ
    if ours:
        os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    try:
        numba_parallel._launch_threads()
    finally:
        if ours:
            del os.environ["GOMP_SPINCOUNT"]


def kernel(fn=None, *, threaded: bool = False, exact: bool = False, serial_below: int = 0,
           bounds: str | None = None):
    """``fn`` to be compiled by numba on its first call (for the argument types of that call;
    cached on disk; run without the GIL). Call it only when :func:`active` is true.

    ``@kernel(threaded=True)``: its ``prange`` loops run on the engine's threads (see the
    module's docstring). ``serial_below``: a threaded kernel whose work follows its first
    argument's size (an elementwise pass) runs serial below that many elements (see
    :data:`SERIAL_BELOW`). ``bounds``: the name of the argument that holds the bounds of the
    runs its ``prange(len(bounds) - 1)`` loop shares out; a call with one run runs serial.
    ``exact=True``: IEEE arithmetic, without :data:`FASTMATH`'s licences, so that each
    operation rounds as NumPy's does (no fused multiply-adds)."""
    if fn is None:
        return lambda f: _Kernel(f, threaded, exact, serial_below, bounds)
    return _Kernel(fn, threaded, exact, serial_below, bounds)


def active() -> bool:
    """Whether the compiled kernels run now: numba is there, not turned off by
    ``CONVLAB_JIT=0``, and not inside :func:`disabled` in this thread."""
    return ENABLED and not _off.value


@contextmanager
def disabled():
    """Run the NumPy paths inside the block, in this thread (the engine's chunk threads follow
    the thread that called the engine: the algorithms decide before they hand out chunks)."""
    previous = _off.value
    _off.value = True
    try:
        yield
    finally:
        _off.value = previous


class CompileClock:
    """What :func:`compiles` saw: ``seconds`` spent compiling so far, and ``on_start``, called
    (with no arguments) as each compile begins, for a display that says why nothing moves."""

    def __init__(self):
        self.seconds = 0.0
        self.on_start = None
        self._depth = 0  # compiles under way: a kernel's compile compiles the functions it calls
        self._started = 0.0


@contextmanager
def compiles():
    """Yield a :class:`CompileClock` of numba's compiles inside the block.

    A kernel compiles on its first call for each argument types, unless numba's disk cache has
    it: the first run after an install compiles everything a training step calls, which takes
    half a minute or more (the digits CNN: 26 s on a quiet machine), once. Loads from the cache
    do not count. Only compiles that no other compile encloses are timed, so nothing counts
    twice. Without numba (or with ``CONVLAB_JIT=0``) nothing compiles and the clock stays 0."""
    clock = CompileClock()
    if not ENABLED:
        yield clock
        return
    from numba.core import event

    class Listener(event.Listener):
        def on_start(self, ev):
            if clock._depth == 0:
                clock._started = time.perf_counter()
                if clock.on_start is not None:
                    clock.on_start()
            clock._depth += 1

        def on_end(self, ev):
            clock._depth -= 1
            if clock._depth == 0:
                clock.seconds += time.perf_counter() - clock._started

    with event.install_listener("numba:compile", Listener()):
        yield clock
