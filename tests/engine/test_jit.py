"""engine/jit.py: kernels compile on first call, call each other, and turn off on request."""

import os
import subprocess
import sys

import numpy as np
import pytest

from convlab.engine import jit

numba = pytest.importorskip("numba")  # a dependency; the kernels below use it directly


@jit.kernel
def _double(a, i):
    return 2.0 * a[i]


@jit.kernel
def _sum_doubled(a):
    total = 0.0
    for i in range(a.shape[0]):
        total += _double(a, i)  # one kernel calling another, inside compiled code
    return total


def test_kernels_compile_and_call_each_other():
    pytest.importorskip("numba")
    assert _sum_doubled(np.arange(5.0)) == 20.0


def test_nan_and_infinity_propagate():
    """The kernels' fastmath flags allow reordering, never assuming finite values."""
    pytest.importorskip("numba")
    assert np.isnan(_sum_doubled(np.array([1.0, np.nan])))
    assert _sum_doubled(np.array([1.0, np.inf])) == np.inf


def test_disabled_turns_the_kernels_off_in_this_thread():
    before = jit.active()
    with jit.disabled():
        assert not jit.active()
        with jit.disabled():
            assert not jit.active()
        assert not jit.active()
    assert jit.active() == before == jit.ENABLED


def test_convlab_jit_0_turns_them_off_and_convlab_does_not_import_numba():
    code = ("import sys, convlab; from convlab.engine import jit\n"
            "assert 'numba' not in sys.modules\n"
            "print(jit.ENABLED, jit.active())")
    env = dict(os.environ, CONVLAB_JIT="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


@jit.kernel(threaded=True)
def _which_thread(out):
    """out[i] = the id of the thread that ran iteration i (0 is the calling thread)."""
    for i in jit.prange(out.shape[0]):
        out[i] = _thread_id()


@jit.kernel
def _thread_id():
    return numba.get_thread_id()  # numba's id of the running thread


def test_a_threaded_kernel_shares_its_loop_between_the_threads(monkeypatch):
    from convlab.engine import parallel

    monkeypatch.setattr(parallel, "WORKERS", 2)
    ids = np.full(64, -1)
    _which_thread(ids)
    assert set(ids) == {0, 1}
    monkeypatch.setattr(parallel, "WORKERS", 1)
    _which_thread(ids)
    assert set(ids) == {0}


def _threaded_in_child(queue):
    ids = np.full(64, -1)
    _which_thread(ids)
    queue.put(sorted(set(ids.tolist())))


def test_a_forked_child_runs_threaded_kernels_on_one_thread(monkeypatch):
    """GNU OpenMP cannot start again in a child of a process that used it: the child's calls
    take the serial code (PyTorch's DataLoader workers also run on one thread)."""
    import multiprocessing

    from convlab.engine import parallel

    monkeypatch.setattr(parallel, "WORKERS", 2)
    _which_thread(np.zeros(64))  # OpenMP's threads started in the parent
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_threaded_in_child, args=(queue,))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert queue.get(timeout=1) == [0]


@jit.kernel(threaded=True, serial_below=100)
def _fill_elements(out):
    for i in jit.prange(out.shape[0]):
        out[i] = _thread_id()


@jit.kernel(threaded=True, bounds="bounds")
def _fill_runs(out, bounds):
    for j in jit.prange(len(bounds) - 1):
        for i in range(bounds[j], bounds[j + 1]):
            out[i] = _thread_id()


def test_small_loops_and_single_runs_stay_on_the_calling_thread(monkeypatch):
    """``serial_below`` and ``bounds``: the serial machine code where a second thread has no
    work worth waking it for; the threaded code otherwise."""
    from convlab.engine import parallel

    monkeypatch.setattr(parallel, "WORKERS", 2)
    calls = []
    threaded = jit._use_threads
    monkeypatch.setattr(jit, "_use_threads", lambda n: (calls.append(n), threaded(n)))
    small, large = np.full(99, -1), np.full(100, -1)
    _fill_elements(small)
    assert calls == [] and set(small) == {0}
    _fill_elements(large)
    assert calls == [2] and set(large) == {0, 1}
    one, two = np.full(8, -1), np.full(8, -1)
    _fill_runs(one, np.array([0, 8]))
    assert calls == [2] and set(one) == {0}
    _fill_runs(two, np.array([0, 4, 8]))
    assert calls == [2, 2] and set(two) == {0, 1}


@pytest.mark.skipif(not jit.ENABLED, reason="with CONVLAB_JIT=0 nothing compiles")
def test_compiles_times_a_compile_once_and_says_when_it_starts():
    def triple(x):
        return 3 * x

    def nine_times(x):
        return triple_compiled(triple_compiled(x))  # compiles triple inside its own compile

    triple_compiled = numba.njit(triple)
    starts = []
    with jit.compiles() as clock:
        clock.on_start = lambda: starts.append(clock.seconds)
        assert numba.njit(nine_times)(2) == 18
    assert starts == [0.0]  # the nested compile neither calls again nor counts twice
    assert clock.seconds > 0
    compiled = clock.seconds
    with jit.compiles() as again:
        assert triple_compiled(5) == 15  # compiled for integers already: nothing to time
    assert again.seconds == 0
    assert clock.seconds == compiled  # the first block's clock stopped with its block
