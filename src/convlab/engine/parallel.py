"""The engine's threads: how many, the BLAS held to one thread, and the batch in chunks.

convlab runs its parallel work on threads of its own, ``WORKERS`` of them (set by
``convlab.set_num_threads``), and holds NumPy's BLAS (and SciPy's, which compiled kernels call)
to one thread from the engine's first call on (:func:`start`): two levels of threads would fight
over the cores, and a multithreaded OpenBLAS does worse still: after each product its threads
keep spinning for a while, waiting for the next one, and so take a core away from the threads
that come next (measured on 2 cores, Winograd res-3x3 forward: 55 ms when every call switched
the BLAS between 2 threads and 1, 31 ms with the BLAS held at 1 thread).

The compiled kernels (:mod:`.jit`) share their ``prange`` loops between OpenMP's threads, which
start a loop in microseconds (the reasons are in :mod:`.jit`'s docstring). The NumPy paths, which
run when the kernels are off, hand chunks to a pool of Python threads instead
(:func:`map_chunks`, :func:`matmul`): NumPy lets go of the GIL inside its loops and the BLAS, so
those threads run side by side too, at a cost of about 200 us a hand-over.

A forked child process (a DataLoader worker) runs on one thread (:func:`threads`): GNU OpenMP
cannot start its threads again in a child of a process that used them, and the parent's Python
pool threads do not exist there either. PyTorch's DataLoader workers also run on one thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import memory

__all__ = ["WORKERS", "threads", "start", "split", "runs", "map_chunks", "matmul"]

WORKERS = os.cpu_count() or 1
# Below this much work per chunk, handing chunks to threads costs more than it saves.
MIN_CHUNK_BYTES = 1 << 20
# Below this many multiply-adds a product runs on one thread.
MIN_PRODUCT = 1 << 22
# Below this much work a thread, a compiled kernel's loop stays on one thread (runs()).
MIN_RUN_BYTES = 64 << 10

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_forked = False


def _in_forked_child() -> None:
    """In a forked child: one thread from now on (see the module's docstring). The parent's
    pool threads do not exist here, so its copy of the pool is dropped too."""
    global _pool, _lock, _forked
    _pool, _lock, _forked = None, threading.Lock(), True


os.register_at_fork(after_in_child=_in_forked_child)


def threads() -> int:
    """How many threads the engine uses now: ``WORKERS``, or 1 in a forked child."""
    return 1 if _forked else WORKERS


def start() -> ThreadPoolExecutor | None:
    """The thread pool, made on first use, when the BLAS is also held to one thread
    (``threadpoolctl`` sees the BLAS libraries loaded at that time) and malloc is set for the
    engine's arrays (:func:`.memory.tune`). No pool without ``threadpoolctl``, which alone can
    hold the BLAS to one thread."""
    global _pool
    if _pool is not None:  # every engine call comes here: no lock once the pool is made
        return _pool
    with _lock:
        if _pool is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None
            import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS compiled kernels call)

            ThreadpoolController().limit(limits=1, user_api="blas")  # for good, not a block
            memory.tune()
            _pool = ThreadPoolExecutor(max(WORKERS, os.cpu_count() or 1),
                                       thread_name_prefix="convlab")
    return _pool


def _serial(n_chunks: int) -> bool:
    """Run here, one chunk after the other: one worker, one chunk, or already inside a worker
    (no nesting)."""
    return (threads() == 1 or n_chunks < 2
            or threading.current_thread().name.startswith("convlab"))


def split(N: int, per_sample: int, chunk_bytes: int, min_samples: int = 1) -> list[slice]:
    """The batch of ``N`` samples in chunks of about ``chunk_bytes`` (``per_sample`` bytes of
    work a sample; at least ``min_samples`` a chunk), and in one chunk per core when the
    chunks stay that small and each still holds MIN_CHUNK_BYTES. Several chunks come in a
    multiple of ``WORKERS``, so that each thread gets the same share (3 chunks of 7, 7 and 2
    samples would give one thread 14 samples and the other 2; 4 chunks of 4 give each 8),
    and in sizes that differ by one sample at most. Steps of 7 cut 8 samples into 7 and 1:
    SqueezeNet's Winograd layer (64->256 channels of 13x13, batch 8) took as long on 2 threads
    as on one (5.4 against 5.3 ms), one thread idle after its sample; now 3.1-3.5 ms. 32
    samples in steps of 6 gave one thread 18 and the other 14 (6, 6, 6 | 6, 6, 2; now 5, 5, 6
    | 5, 5, 6): ResNet-18's 64 channels of 16x16 at batch 32, forward+backward 12.4 -> 11.6
    ms (``chrt -f 10``, interleaved); its whole step and VGG-11's within noise (1.01, 0.98,
    steps alternated ABBA: a plain ABAB order made the second of each pair 5-17% slower).

    >>> split(10, 1 << 10, 2 << 20)  # 10 KB of work in all: one chunk, no threads
    [slice(0, 10, None)]
    """
    workers = threads()
    step = max(1, chunk_bytes // max(per_sample, 1), min_samples)
    even = -(-N // workers)
    if even * per_sample >= MIN_CHUNK_BYTES:
        step = min(step, max(even, min_samples))
    count = -(-N // step)
    if 1 < count and count % workers:
        count += workers - count % workers
        if -(-N // count) < min_samples:  # fewer, larger chunks, still a multiple
            count = N // min_samples // workers * workers
        step = -(-N // count) if count else min_samples
    count = -(-N // step)
    if count > 1 and N // count >= min_samples:  # sizes that differ by one sample at most
        return [slice(N * i // count, N * (i + 1) // count) for i in range(count)]
    return [slice(n0, min(N, n0 + step)) for n0 in range(0, N, step)]


def runs(count: int, per_item_bytes: int) -> list[slice]:
    """``range(count)`` in one run of items per thread, for a compiled kernel's parallel loop
    (:mod:`.jit`), or in one run when a thread's share would hold less than MIN_RUN_BYTES of
    work. OpenMP's threads start a loop in microseconds, so the bar is far below split()'s
    MIN_CHUNK_BYTES, which pays for a hand-over to Python's threads.

    >>> runs(32, 30 << 10), runs(32, 1 << 10)
    ([slice(0, 16, None), slice(16, 32, None)], [slice(0, 32, None)])
    """
    workers = threads()
    if count * per_item_bytes < workers * MIN_RUN_BYTES:
        workers = 1
    return [slice(count * i // workers, count * (i + 1) // workers) for i in range(workers)
            if count * i // workers < count * (i + 1) // workers] or [slice(0, 0)]


def map_chunks(fn: Callable, chunks: Iterable) -> list:
    """``[fn(c) for c in chunks]``, in order, the calls spread over :func:`threads` threads, each
    taking one run of consecutive chunks (one hand-over per thread: with a task per chunk, the
    threads would queue for Python's GIL at every hand-over; measured 1.0x against 1.4x on 2
    cores for Winograd). Run here where :func:`_serial` says so."""
    chunks = list(chunks)
    pool = start()  # also holds the BLAS to one thread, for the serial calls too
    if pool is None or _serial(len(chunks)):
        return [fn(c) for c in chunks]
    share = -(-len(chunks) // threads())  # each worker takes a run of chunks, in order
    runs = [chunks[i:i + share] for i in range(0, len(chunks), share)]
    return [r for run in pool.map(lambda run: [fn(c) for c in run], runs) for r in run]


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``, the rows of the result (``a``'s second-to-last axis)
    split between the threads when the product is large enough to pay for them."""
    if out is None:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]),
                       dtype=np.result_type(a, b))
    start()
    M = a.shape[-2]
    work = out.size * a.shape[-1]
    if work < MIN_PRODUCT or M < 2 * threads():
        return np.matmul(a, b, out=out)
    step = -(-M // threads())
    rows = [slice(i, min(M, i + step)) for i in range(0, M, step)]
    map_chunks(lambda r: np.matmul(a[..., r, :], b, out=out[..., r, :]), rows)
    return out
