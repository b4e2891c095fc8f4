"""``set_num_threads`` / ``get_num_threads``: how many threads a matrix product may use.

convlab's products run in NumPy's BLAS. ``set_num_threads(n)`` records ``n`` and limits that BLAS
to ``n`` threads through ``threadpoolctl``; where ``threadpoolctl`` is not installed it only
records ``n`` (NumPy offers no other way to change its BLAS threads once loaded).
"""

from __future__ import annotations

import os

__all__ = ["set_num_threads", "get_num_threads"]

_num_threads = [os.cpu_count() or 1]


def set_num_threads(num: int) -> None:
    """Use at most ``num`` threads in NumPy's BLAS (via ``threadpoolctl``, when installed)."""
    if isinstance(num, bool) or not isinstance(num, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num).__name__}")
    if num < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num}")
    _num_threads[0] = num
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=num, user_api="blas")


def get_num_threads() -> int:
    """The number last given to :func:`set_num_threads`; at first, the number of CPUs."""
    return _num_threads[0]
