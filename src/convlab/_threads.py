"""``set_num_threads`` / ``get_num_threads``: how many threads a matrix product may use.

convlab runs its work in the engine's chunk threads (``engine/parallel.py``), each calling
NumPy's BLAS with one thread (the engine holds the BLAS there, through ``threadpoolctl``).
``set_num_threads(n)`` records ``n`` and gives the engine ``n`` chunk threads.
"""

from __future__ import annotations

from .engine import parallel

__all__ = ["set_num_threads", "get_num_threads"]


def set_num_threads(num: int) -> None:
    """Use at most ``num`` threads: the engine's chunk threads (the BLAS runs one thread in
    each)."""
    if isinstance(num, bool) or not isinstance(num, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num).__name__}")
    if num < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num}")
    parallel.WORKERS = num


def get_num_threads() -> int:
    """The engine's threads: the number last given to :func:`set_num_threads`; at first, the
    number of CPUs."""
    return parallel.WORKERS
