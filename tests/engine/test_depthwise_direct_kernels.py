"""Depthwise convolution's compiled loops (engine/depthwise.py), in each of their layouts (runs
along the rows, a run per output row that skips the kernel rows in the padding, channels last),
and its NumPy path all equal the reference convolution, on any geometry with one input channel
per group."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlab.engine import depthwise, jit, parallel, reference
from convlab.engine.geometry import conv_geometry

from jit_paths import engine_path
from engine.test_fast_paths import _arrays, check, geometries

# The engine's paths, the compiled one in each of its layouts, which depthwise._channels_last
# and depthwise._by_rows (the forward only) pick between by geometry; a test forces one.
LAYOUTS = [("compiled", "runs"), ("compiled", "rows"), ("compiled", "channels-last"),
           ("numpy", None)]


def _force(monkeypatch, layout: str) -> None:
    monkeypatch.setattr(depthwise, "_channels_last", lambda G: layout == "channels-last")
    # a run per output row needs stride 1 along the rows; other geometries keep the runs
    monkeypatch.setattr(depthwise, "_by_rows", lambda G: layout == "rows" and G.stride[-1] == 1)


@pytest.fixture(params=LAYOUTS, ids=lambda p: p[1] or p[0])
def path(request, monkeypatch):
    name, layout = request.param
    if layout is not None:
        _force(monkeypatch, layout)
    return name


@pytest.fixture(params=["runs", "rows", "channels-last"])
def layout(request, monkeypatch):
    """The compiled path in one of its layouts."""
    pytest.importorskip("numba")
    _force(monkeypatch, request.param)
    return request.param


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_depthwise_equals_reference_random(path, data):
    """1-3 spatial dims, strides, dilations, uneven padding, channel multipliers 1-3."""
    with engine_path(path):
        check(depthwise, *data.draw(geometries(depthwise)))


DEPTHWISE = [
    conv_geometry("c", 2, (2, 6, 10, 10), (6, 1, 3, 3), padding=1, groups=6),  # one flat run
    conv_geometry("c", 2, (2, 4, 11, 11), (8, 1, 3, 3), stride=2, padding=1, groups=4),  # rows
    conv_geometry("c", 2, (2, 3, 9, 12), (6, 1, 3, 2), stride=(1, 3), padding=((2, 0), (1, 3)),
                  dilation=(2, 1), groups=3),
    conv_geometry("c", 1, (3, 4, 17), (8, 1, 5), padding=2, dilation=3, groups=4),
    conv_geometry("c", 3, (2, 3, 5, 6, 7), (6, 1, 2, 3, 2), stride=(2, 1, 1), padding=1,
                  groups=3),
    conv_geometry("c", 3, (2, 3, 5, 6, 7), (3, 1, 2, 3, 3), padding=(0, 1, 2), groups=3),
    conv_geometry("c", 2, (1, 2, 4, 4), (2, 1, 5, 5), padding=3, groups=2),  # reads mostly padding
    # 27 taps, three passes of nine, and two output channels per input channel
    conv_geometry("c", 3, (2, 2, 5, 5, 6), (4, 1, 3, 3, 3), padding=1, groups=2),
]


@pytest.mark.parametrize("G", DEPTHWISE, ids=range(len(DEPTHWISE)))
def test_depthwise_layers_equal_reference(G, path):
    with engine_path(path):
        check(depthwise, G, N=2)


@pytest.mark.parametrize("G", DEPTHWISE[:2], ids=range(2))
def test_depthwise_bias_is_added(G, path):
    x, w, _ = _arrays(G, 2, seed=1)
    b = np.random.default_rng(2).standard_normal(G.out_channels)
    expected = reference.conv_forward(x, w, G) + b.reshape(-1, *(1,) * G.nd)
    with engine_path(path):
        np.testing.assert_allclose(depthwise.conv_forward(x, w, G, b), expected, atol=1e-10)


def test_depthwise_compiled_equals_numpy_on_a_large_batch(layout):
    """Enough items for several chunks on the threads; float32 as the benchmarks run it."""
    G = conv_geometry("c", 2, (16, 32, 14, 14), (32, 1, 3, 3), padding=1, groups=32)
    x, w, gy = (a.astype(np.float32) for a in _arrays(G, 16, seed=3))
    passes = [(depthwise.conv_forward, (x, w, G)), (depthwise.conv_input_grad, (gy, w, G)),
              (depthwise.conv_weight_grad, (x, gy, G))]
    for fn, args in passes:
        with jit.disabled():
            expected = fn(*args)
        got = fn(*args)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_depthwise_propagates_nan_and_inf(layout):
    G = DEPTHWISE[0]
    x, w, gy = _arrays(G, 2, seed=4)
    x[0, 0, 3, 3] = np.nan
    x[1, 2, 5, 5] = np.inf
    y = depthwise.conv_forward(x, w, G)
    assert np.isnan(y[0, 0, 2:5, 2:5]).all() and np.isfinite(y[0, 1]).all()
    assert not np.isfinite(y[1, 2, 4:7, 4:7]).any()
    assert np.isnan(depthwise.conv_weight_grad(x, gy, G)[0]).all()


def test_depthwise_empty_batch(path):
    G = conv_geometry("c", 2, (0, 4, 8, 8), (8, 1, 3, 3), padding=1, groups=4)
    x, w, gy = _arrays(G, 0, seed=5)
    with engine_path(path):
        assert depthwise.conv_forward(x, w, G).shape == (0, 8, 8, 8)
        assert depthwise.conv_input_grad(gy, w, G).shape == (0, 4, 8, 8)
        gw = depthwise.conv_weight_grad(x, gy, G)
    assert gw.shape == w.shape and not gw.any()


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_threads_give_the_numbers_of_one_thread(stride, layout, monkeypatch):
    """Two threads, each with its run of items, give one thread's numbers (to rounding: the
    threaded machine code is compiled apart, and the weight gradient sums two runs' parts)."""
    monkeypatch.setattr(parallel, "MIN_CHUNK_BYTES", 0)  # two runs even for a small batch
    G = conv_geometry("c", 2, (4, 6, 9, 9), (12, 1, 3, 3), stride=stride, padding=1, groups=6)
    x, w, gy = (a.astype(np.float32) for a in _arrays(G, 4, seed=5))
    b = np.arange(12, dtype=np.float32)
    passes = [(depthwise.conv_forward, (x, w, G, b)), (depthwise.conv_input_grad, (gy, w, G)),
              (depthwise.conv_weight_grad, (x, gy, G))]
    for fn, args in passes:
        monkeypatch.setattr(parallel, "WORKERS", 1)
        serial = fn(*args)
        monkeypatch.setattr(parallel, "WORKERS", 2)
        # the weight gradient's sums of 4 samples x 81 positions, grouped by run
        np.testing.assert_allclose(fn(*args), serial, rtol=1e-6,
                                   atol=1e-6 * max(1.0, 10 * np.abs(serial).max()))


def test_forward_plan_is_kept_per_layout_and_threads(monkeypatch):
    """The compiled forward's decisions, kept per geometry, shape, dtype, layout, thread count
    and parallel.MIN_RUN_BYTES: a forced layout or another thread count gets its own function
    (the tests above force layouts on geometries seen before), with the same values."""
    pytest.importorskip("numba")
    if not jit.ENABLED:
        pytest.skip("compiled kernels turned off (CONVLAB_JIT=0)")
    G = DEPTHWISE[0]
    shape = (2, G.in_channels, *G.in_size)
    x, w, _ = _arrays(G, 2, seed=3)
    plan = depthwise.forward_plan(G, shape, x.dtype)
    assert depthwise.forward_plan(G, shape, x.dtype) is plan
    expected = reference.conv_forward(x, w, G)
    seen = {plan}
    for change in ("channels-last", "threads"):
        if change == "channels-last":
            _force(monkeypatch, change)
        else:
            monkeypatch.setattr(parallel, "WORKERS", 1 if parallel.threads() > 1 else 2)
        other = depthwise.forward_plan(G, shape, x.dtype)
        assert other not in seen
        seen.add(other)
        np.testing.assert_allclose(other(x, w, None), expected, atol=1e-10)
    with jit.disabled():
        assert depthwise.forward_plan(G, shape, x.dtype) is None
