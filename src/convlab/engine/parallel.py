"""The chunks of a batch on all cores at once.

The algorithms cut the batch into chunks that fit in cache; the chunks are independent, so they
can run side by side. NumPy lets go of Python's GIL inside its loops and inside the BLAS, so
plain threads run them in parallel, copies and transforms included, which on their own use one
core.

Each chunk then calls a single-threaded BLAS: two levels of threads would fight over the cores.
This is a bet on a busy machine, measured on 2 shared cores (Winograd res-3x3 forward): a
multithreaded BLAS splits every small matrix product between its threads, which wait for each
other at its end, so when another process holds a core every product waits for it (130-380 ms
with a 2-thread BLAS at load 2-3, against 42-84 ms with two chunk threads and PyTorch at
35-73 ms); on a quiet machine the 2-thread BLAS alone is faster (41 ms, against 54 ms with two
chunk threads, which share memory bandwidth and Python's GIL). ``WORKERS = 1`` turns the
threads off.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["WORKERS", "split", "map_chunks"]

WORKERS = os.cpu_count() or 1
# Below this much work per chunk, handing chunks to threads costs more than it saves.
MIN_CHUNK_BYTES = 1 << 20

_pool: ThreadPoolExecutor | None = None
_blas = None
_lock = threading.Lock()


def _setup():
    """The thread pool and the BLAS controller, made on first use (``threadpoolctl`` inspects
    the libraries loaded at that time); no pool without ``threadpoolctl``, which alone can
    hold the BLAS to one thread."""
    global _pool, _blas
    with _lock:
        if _pool is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                return None, None
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="convlab")
            _blas = ThreadpoolController()
    return _pool, _blas


def split(N: int, per_sample: int, chunk_bytes: int, min_samples: int = 1) -> list[slice]:
    """The batch of ``N`` samples in chunks of about ``chunk_bytes`` (``per_sample`` bytes of
    work a sample; at least ``min_samples`` a chunk), and in one chunk per core when the
    chunks stay that small and each still holds MIN_CHUNK_BYTES.

    >>> split(10, 1 << 10, 2 << 20)  # 10 KB of work in all: one chunk, no threads
    [slice(0, 10, None)]
    """
    step = max(1, chunk_bytes // max(per_sample, 1), min_samples)
    even = -(-N // WORKERS)
    if even * per_sample >= MIN_CHUNK_BYTES:
        step = min(step, even)
    return [slice(n0, min(N, n0 + step)) for n0 in range(0, N, step)]


def map_chunks(fn: Callable, chunks: Iterable, threads: bool = True) -> list:
    """``[fn(c) for c in chunks]``, the calls spread over ``WORKERS`` threads, each with a
    one-thread BLAS and one run of consecutive chunks (one hand-over per thread: with a task
    per chunk, the threads would queue for Python's GIL at every hand-over; measured 1.0x
    against 1.4x on 2 cores for Winograd). ``threads=False`` runs them here, one after the
    other, each with the BLAS's own threads: for chunks that are mostly one large product. In order; serial when there is one core or one chunk, inside a worker (no
    nesting), or without ``threadpoolctl``."""
    chunks = list(chunks)
    if (not threads or WORKERS == 1 or len(chunks) < 2
            or threading.current_thread().name.startswith("convlab")):
        return [fn(c) for c in chunks]
    pool, blas = _setup()
    if pool is None:
        return [fn(c) for c in chunks]
    share = -(-len(chunks) // WORKERS)  # each worker takes a run of chunks, in order
    runs = [chunks[i:i + share] for i in range(0, len(chunks), share)]
    with blas.limit(limits=1, user_api="blas"):
        return [r for run in pool.map(lambda run: [fn(c) for c in run], runs) for r in run]
