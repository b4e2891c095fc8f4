"""engine/jit.py: kernels compile on first call, call each other, and turn off on request."""

import os
import subprocess
import sys

import numpy as np
import pytest

from convlab.engine import jit


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
