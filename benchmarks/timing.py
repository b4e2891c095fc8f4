"""Interleaved timing of two callables, and the peak memory of one call in a fresh process.

The machine is shared and its load changes from second to second, so the two libraries are
never timed one after the other: each repeat times convlab, then PyTorch (the order alternates
from repeat to repeat), and the reported time is the median over repeats. A slow second hits
both libraries, and the median drops it.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

__all__ = ["calls_per_sample", "interleaved", "peak_memory", "use_cpu_time"]

# A pause before each sample. After a call, OpenBLAS's worker threads spin for about 0.1 s
# (2^28 cycles) before they sleep, and OpenMP's a little while: meanwhile they hold a core,
# and the other library, timed next, would run on one core of two (measured: PyTorch's
# lenet-c1 forward 0.27 ms, 2.1 ms right after a NumPy matrix product).
SETTLE = 0.25

# Wall time by default. On one core, CPU time is the better clock on a shared machine: it does
# not count the time the process waits for a core, so other processes' load drops out.
_clock = time.perf_counter


def use_cpu_time() -> None:
    """Time with the process's CPU time (for one-thread runs) instead of the wall clock."""
    global _clock
    _clock = time.process_time


def _seconds(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``calls`` back-to-back calls, with the garbage collector paused."""
    gc.collect()
    gc.disable()
    try:
        start = _clock()
        for _ in range(calls):
            fn()
        return (_clock() - start) / calls
    finally:
        gc.enable()


def calls_per_sample(fn: Callable[[], object], min_time: float) -> int:
    """How many calls make one sample last ``min_time`` seconds (one call warms up first)."""
    fn()
    time.sleep(SETTLE)
    once = _seconds(fn, 1)
    return max(1, round(min_time / max(once, 1e-9)))


def interleaved(fns: dict[str, Callable[[], object]], repeats: int,
                min_time: float) -> dict[str, float]:
    """Median seconds per call of each callable, timed in turn within every repeat.

    Each callable runs as many calls per sample as make ``min_time`` seconds, so that short
    calls are not all timer overhead; the order of the callables is reversed on every other
    repeat so that neither always runs in the other's wake, and each sample starts after a
    pause (SETTLE) in which the other's threads go to sleep.
    """
    calls = {name: calls_per_sample(fn, min_time) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    order = list(fns)
    for r in range(repeats):
        for name in (order if r % 2 == 0 else order[::-1]):
            time.sleep(SETTLE)
            samples[name].append(_seconds(fns[name], calls[name]))
    return {name: statistics.median(times) for name, times in samples.items()}


def memory_child_env() -> dict[str, str]:
    """The environment of a process that measures peak memory.

    glibc keeps small freed blocks for reuse and, by default, raises its mmap threshold as large
    blocks are freed, so freed arrays would stay resident and hide the next call's peak; a
    fixed threshold makes every large array an mmap of its own, returned on free (and keeps
    convlab's own malloc setting, ``convlab/engine/memory.py``, out of the measurement)."""
    return dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")


def resident_bytes(field: str) -> int:
    """``VmRSS`` (the resident set now) or ``VmHWM`` (its peak) of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def print_peak_growth(run: Callable[[], object]) -> None:
    """In a memory child: reset the kernel's peak-RSS mark, ``run()``, and print as JSON the
    bytes the resident set grew at its peak (``{"peak_bytes": None}`` where the mark cannot be
    reset, off Linux)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set, to the current one
    except OSError:
        print(json.dumps({"peak_bytes": None}), flush=True)
        return
    before = resident_bytes("VmRSS")
    run()
    print(json.dumps({"peak_bytes": resident_bytes("VmHWM") - before}), flush=True)


def peak_memory(case_name: str, library: str, algorithm: str | None = None) -> int | None:
    """Bytes that one forward+backward of ``case_name`` in ``library`` adds at its peak to the
    resident memory of a fresh process (``python -m benchmarks _memory``, with
    :func:`memory_child_env`), or None where the kernel cannot reset the peak (non-Linux)."""
    env = memory_child_env()
    command = [sys.executable, "-m", "benchmarks", "_memory", case_name, library]
    done = subprocess.run(command + (["--algorithm", algorithm] if algorithm else []),
                          env=env, capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_bytes"]
