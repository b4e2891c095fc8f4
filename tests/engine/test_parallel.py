"""engine/parallel.py: batch chunks, shared evenly between the threads, results in order."""

import numpy as np
import pytest

from convlab.engine import parallel


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("N, per_sample, chunk_bytes, min_samples", [
    (16, 1 << 20, 7 << 20, 1), (14, 1 << 20, 7 << 20, 1), (10, 1 << 10, 2 << 20, 1),
    (64, 1 << 16, 1 << 20, 1), (5, 1 << 20, 1 << 20, 1), (9, 1 << 20, 1 << 20, 4),
    (16, 1 << 20, 5 << 20, 6), (10, 1 << 20, 5 << 20, 6),
])
def test_split_covers_the_batch_in_a_multiple_of_the_workers(monkeypatch, workers, N,
                                                             per_sample, chunk_bytes,
                                                             min_samples):
    monkeypatch.setattr(parallel, "WORKERS", workers)
    chunks = parallel.split(N, per_sample, chunk_bytes, min_samples)
    assert [i for c in chunks for i in range(c.start, c.stop)] == list(range(N))
    sizes = [c.stop - c.start for c in chunks]
    assert min(sizes[:-1] or sizes) >= min(min_samples, N)
    if len(chunks) > 1 and max(sizes) > 1:
        assert len(chunks) % workers == 0 or len(chunks) == -(-N // max(sizes))


def test_two_workers_get_the_same_share(monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", 2)
    assert [c.stop - c.start for c in parallel.split(16, 1 << 20, 7 << 20)] == [4, 4, 4, 4]
    # at least 6 samples a chunk: two chunks of 8, not 6, 6 and 4 (12 samples against 4)
    assert [c.stop - c.start for c in parallel.split(16, 1 << 20, 5 << 20, 6)] == [8, 8]
    # steps of 7 would cut 8 samples into 7 and 1: one thread idle after its sample
    assert [c.stop - c.start for c in parallel.split(8, 150 << 10, 1 << 20, 4)] == [4, 4]
    # 32 samples in 6 chunks: 16 a thread, not 6, 6, 6 against 6, 6, 2
    assert ([c.stop - c.start for c in parallel.split(32, 150 << 10, 1 << 20, 4)]
            == [5, 5, 6, 5, 5, 6])


def test_map_chunks_keeps_the_order_and_matmul_splits_rows(monkeypatch):
    monkeypatch.setattr(parallel, "WORKERS", 2)
    assert parallel.map_chunks(lambda c: c * c, range(7)) == [c * c for c in range(7)]
    monkeypatch.setattr(parallel, "MIN_PRODUCT", 0)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 9, 5)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(parallel.matmul(a, b), a @ b, rtol=1e-12)


def _conv_in_child(queue):
    import convlab
    import convlab.nn.functional as F

    queue.put(tuple(F.conv2d(convlab.randn(16, 64, 28, 28), convlab.randn(64, 64, 3, 3),
                             padding=1).shape))


def test_a_forked_child_makes_its_own_thread_pool():
    """The parent's pool threads do not exist in a forked child: it must not wait on them."""
    import multiprocessing

    import convlab
    import convlab.nn.functional as F

    F.conv2d(convlab.randn(16, 64, 28, 28), convlab.randn(64, 64, 3, 3), padding=1)  # pool up
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_conv_in_child, args=(queue,))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert queue.get(timeout=1) == (16, 64, 28, 28)
