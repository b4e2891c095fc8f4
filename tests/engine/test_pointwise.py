"""The 1x1 convolution's compiled products (engine/pointwise.py): one sample's product cut into
blocks of rows or of columns between two threads gives one thread's numbers, the bias
included, and both equal the reference loops."""

import numpy as np
import pytest

from convlab.engine import gemm, parallel, pointwise, reference
from convlab.engine.geometry import conv_geometry

# One sample each: more rows than positions (blocks of rows), more positions than rows (blocks
# of columns, the last one short), strided and grouped.
ONE_SAMPLE = [
    conv_geometry("c", 2, (1, 8, 3, 3), (20, 8, 1, 1)),
    conv_geometry("c", 2, (1, 8, 7, 9), (6, 8, 1, 1)),
    conv_geometry("c", 2, (1, 6, 9, 11), (4, 3, 1, 1), stride=2, groups=2),
    conv_geometry("c", 1, (1, 5, 50), (3, 5, 1)),
]


def test_blocks_cut_the_longer_side(monkeypatch):
    """On two threads: rows where the output has fewer positions than rows, columns (in whole
    cache lines) where it has more; a batch of several samples is not cut."""
    monkeypatch.setattr(parallel, "WORKERS", 2)
    assert pointwise._blocks(1, 1000, 169, 1 << 30)[1] == 169  # rows
    rows, cols = pointwise._blocks(1, 16, 3025, 1 << 30)
    assert (rows, cols) == (16, 1520)
    assert pointwise._blocks(8, 16, 3025, 1 << 30) == (16, 3025)
    assert pointwise._blocks(1, 16, 3025, 0) == (16, 3025)  # too small to share


@pytest.mark.parametrize("G", ONE_SAMPLE, ids=range(len(ONE_SAMPLE)))
def test_blocks_give_one_threads_numbers(G, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(gemm, "MIN_SPLIT", 0)  # products this small are cut all the same
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, G.in_channels, *G.in_size))
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, *G.kernel_size))
    b = rng.standard_normal(G.out_channels)
    gy = rng.standard_normal((1, G.out_channels, *G.out_size))
    expected = reference.conv_forward(x, w, G) + b.reshape(-1, *(1,) * G.nd)
    expected_gx = reference.conv_input_grad(gy, w, G)
    for workers in (1, 2):
        monkeypatch.setattr(parallel, "WORKERS", workers)
        for dtype, tolerance in ((np.float64, 1e-12), (np.float32, 1e-5)):
            got = pointwise.conv_forward(x.astype(dtype), w.astype(dtype), G, b.astype(dtype))
            assert got.dtype == dtype
            np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
            gx = pointwise.conv_input_grad(gy.astype(dtype), w.astype(dtype), G)
            np.testing.assert_allclose(gx, expected_gx, rtol=tolerance, atol=tolerance)


def test_forward_plan_is_kept_and_follows_what_it_decides_from(monkeypatch):
    """conv_forward's decisions, kept per geometry, shape, dtype, thread count and
    gemm.MIN_SPLIT: the same function for the same call, another where one of them changes;
    None with the compiled kernels off. A strided input is picked first."""
    pytest.importorskip("numba")
    from convlab.engine import jit

    if not jit.ENABLED:
        pytest.skip("compiled kernels turned off (CONVLAB_JIT=0)")
    G = ONE_SAMPLE[2]  # strided and grouped
    shape = (1, G.in_channels, *G.in_size)
    plan = pointwise.forward_plan(G, shape, np.float32)
    assert pointwise.forward_plan(G, shape, np.float32) is plan
    assert pointwise.forward_plan(G, shape, np.float64) is not plan
    monkeypatch.setattr(parallel, "WORKERS", 1 if parallel.threads() > 1 else 2)
    assert pointwise.forward_plan(G, shape, np.float32) is not plan
    monkeypatch.setattr(gemm, "MIN_SPLIT", 0)
    cut = pointwise.forward_plan(G, shape, np.float32)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((G.out_channels, G.in_channels // G.groups, 1, 1)).astype(np.float32)
    expected = reference.conv_forward(x.astype(np.float64), w.astype(np.float64), G)
    np.testing.assert_allclose(cut(x, w, None), expected, rtol=1e-5, atol=1e-5)
    with jit.disabled():
        assert pointwise.forward_plan(G, shape, np.float32) is None
