"""DataLoader with worker processes (num_workers > 0): the same batches in the same order as
num_workers=0, worker info and seeding, worker exceptions, persistent workers, prefetching,
timeouts, and no process left behind however the loop ends."""

import gc
import multiprocessing
import os
import random
import signal
import threading
import time
from collections import namedtuple

import numpy as np
import pytest

import convlab
from convlab.data import DataLoader, TensorDataset
from convlab.utils.data import ChainDataset, IterableDataset, WorkerInfo, get_worker_info

# Three workers on a two-core machine are fine for these small tests.
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")

Pair = namedtuple("Pair", "x y")


class Records:
    """Samples of every kind default_collate handles: Tensors, arrays, numbers, strings, dicts,
    namedtuples."""

    def __len__(self):
        return 23

    def __getitem__(self, i):
        return {"image": convlab.full((2, 3), float(i)), "raw": np.arange(3, dtype=np.int16) + i,
                "label": i, "name": f"item{i}", "pair": Pair(float(i), np.float32(i / 2))}


def assert_same(a, b):
    """Equal batches: the same containers, Tensors of the same dtype and values."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, convlab.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


def batches(**kwargs):
    return list(DataLoader(**kwargs))


def workers_alive():
    return [p for p in multiprocessing.active_children()
            if p.name.startswith("convlab-dataloader")]


def no_children_left(pids=()):
    """No worker is still a child of ours, and no worker pid is still a process."""
    assert workers_alive() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    return True


@pytest.mark.parametrize("options", [
    dict(batch_size=4, shuffle=True),
    dict(batch_size=5, shuffle=True, drop_last=True),
    dict(batch_size=None),
    dict(batch_sampler=[[3, 1], [0], [22, 5, 7]]),
])
def test_batches_and_order_equal_to_single_process(options):
    ours = [batches(dataset=Records(), num_workers=workers, prefetch_factor=prefetch,
                    generator=convlab.Generator().manual_seed(7), **options)
            for workers, prefetch in ((0, None), (2, 1), (3, 2))]
    assert_same(ours[1], ours[0])
    assert_same(ours[2], ours[0])
    assert isinstance(ours[2][0]["image"], convlab.Tensor)


def test_global_generator_order_and_fast_batches_equal():
    """With the global generator and a dataset that hands out whole batches (_get_batch)."""
    data = TensorDataset(convlab.arange(40).reshape(20, 2), convlab.arange(20) % 3)
    runs = []
    for workers in (0, 2):
        convlab.manual_seed(3)
        runs.append(batches(dataset=data, batch_size=6, shuffle=True, num_workers=workers))
    assert_same(runs[1], runs[0])


def test_out_of_order_delivery_has_every_batch():
    data = TensorDataset(convlab.arange(30))
    got = batches(dataset=data, batch_size=4, num_workers=2, in_order=False)
    assert sorted(x for (b,) in got for x in b.tolist()) == list(range(30))


def as_made(i):
    return (convlab.ones(2, requires_grad=True), np.eye(2)[::-1], convlab.arange(6)[::2],
            convlab.tensor(float(i)), np.zeros((0, 3)), convlab.zeros(2, dtype=convlab.float16),
            {"name": f"s{i}", "ids": [i, np.int16(i)]}, Pair(None, b"raw"))


def test_a_collate_fn_result_crosses_as_it_is():
    """Tensors come back as Tensors (one that required grad as a leaf that does), arrays as
    arrays, everything else as it was."""
    got, = batches(dataset=[5], batch_size=None, num_workers=1, collate_fn=as_made)
    assert got[0].requires_grad and got[0].is_leaf and got[0].grad_fn is None
    assert_same(got[0].detach(), convlab.ones(2))
    assert_same(got[1:], as_made(5)[1:])


class Info:
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "initial_seed": convlab.initial_seed(), "pid": os.getpid(),
                "dataset_is_copy_type": type(info.dataset) is Info,
                "threads": convlab.get_num_threads(), "init": getattr(info.dataset, "init", -1),
                "convlab": convlab.rand(1).item(), "numpy": np.random.rand(),
                "random": random.random()}


def set_init(worker_id):
    get_worker_info().dataset.init = worker_id * 10 + convlab.initial_seed() % 7


def info_rows(seed, **kwargs):
    loader = DataLoader(Info(), batch_size=None, num_workers=2, worker_init_fn=set_init,
                        generator=convlab.Generator().manual_seed(seed), **kwargs)
    return list(loader)


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    rows = info_rows(0)
    assert [r["id"] for r in rows] == [0, 1] * 4  # task k goes to worker k % 2
    by_worker = {r["id"]: r for r in rows}
    base = by_worker[0]["seed"]
    for worker_id, r in by_worker.items():
        assert r["num_workers"] == 2 and r["dataset_is_copy_type"] and r["threads"] == 1
        assert r["seed"] == r["initial_seed"] == base + worker_id
        assert r["init"] == worker_id * 10 + r["seed"] % 7  # ran after seeding
    assert by_worker[0]["pid"] != by_worker[1]["pid"] != os.getpid()
    for source in ("convlab", "numpy", "random"):  # each worker draws its own numbers
        assert by_worker[0][source] != by_worker[1][source]
    # The same generator seed gives the same numbers; another seed other numbers.
    again, other = info_rows(0), info_rows(1)
    for a, b, c in zip(rows, again, other):
        for source in ("seed", "convlab", "numpy", "random"):
            assert a[source] == b[source] != c[source]


def test_worker_info_is_read_only():
    info = WorkerInfo(id=0, num_workers=1, seed=5, dataset=None)
    assert repr(info) == "WorkerInfo(id=0, num_workers=1, seed=5, dataset=None)"
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo"):
        info.id = 1


class Stream(IterableDataset):
    """0 .. stop-1, split between the workers when ``split``, else whole in each worker."""

    def __init__(self, stop, split=True):
        self.stop, self.split = stop, split

    def __iter__(self):
        info = get_worker_info()
        first, step = (0, 1) if info is None or not self.split else (info.id, info.num_workers)
        return iter(range(first, self.stop, step))

    def __len__(self):
        return self.stop


def test_iterable_dataset_with_workers():
    def values(loader):
        return [b if isinstance(b, int) else b.tolist() for b in loader]
    assert values(DataLoader(Stream(11), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8],
                                                            [9, 10]]
    # Each worker its own share, batches round-robin, then the workers' short last batches.
    assert values(DataLoader(Stream(11), batch_size=3, num_workers=3)) == [
        [0, 3, 6], [1, 4, 7], [2, 5, 8], [9], [10]]
    assert values(DataLoader(Stream(11), batch_size=3, num_workers=3, drop_last=True)) == [
        [0, 3, 6], [1, 4, 7], [2, 5, 8]]
    # Unsplit, each worker hands out the whole stream, as in PyTorch.
    assert sorted(values(DataLoader(Stream(4, split=False), batch_size=None, num_workers=2))) == [
        0, 0, 1, 1, 2, 2, 3, 3]
    chained = DataLoader(Stream(3, split=False) + Stream(2, split=False), batch_size=2)
    assert isinstance(chained.dataset, ChainDataset) and values(chained) == [[0, 1], [2, 0], [1]]
    assert len(DataLoader(Stream(11), batch_size=3)) == 4
    assert len(DataLoader(Stream(11), batch_size=3, drop_last=True)) == 3


def test_iterable_order_matches_torch(torch):
    from torch.utils import data as tdata

    class TorchStream(tdata.IterableDataset):
        def __iter__(self):
            info = tdata.get_worker_info()
            return iter(range(info.id, 13, info.num_workers))

    theirs = [b.tolist() for b in tdata.DataLoader(TorchStream(), batch_size=2, num_workers=3)]
    ours = [b.tolist() for b in DataLoader(Stream(13), batch_size=2, num_workers=3)]
    assert ours == theirs


class Fails:
    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise self.error
        return i


class NeedsTwoArguments(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


def failing_init(worker_id):
    raise OSError(f"no camera for worker {worker_id}")


def test_worker_exception_is_reraised_with_its_traceback():
    loader = DataLoader(Fails(ValueError("pixel 3 is broken")), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError) as caught:
        next(it)
    text = str(caught.value)
    assert text.startswith("Caught ValueError in DataLoader worker process 1.\n"
                           "Original Traceback (most recent call last):")
    assert "in __getitem__" in text and "raise self.error" in text
    assert text.rstrip().endswith("ValueError: pixel 3 is broken")
    assert next(it).tolist() == [4, 5]  # the iterator goes on, as PyTorch's does

    with pytest.raises(KeyError) as caught:
        list(DataLoader(Fails(KeyError("missing")), num_workers=1))
    assert "Caught KeyError" in str(caught.value) and "\n" in str(caught.value)
    with pytest.raises(RuntimeError, match="Caught NeedsTwoArguments"):
        list(DataLoader(Fails(NeedsTwoArguments(1, 2)), num_workers=1))
    with pytest.raises(OSError, match="(?s)Caught OSError.*no camera for worker 0"):
        list(DataLoader(Fails(None), num_workers=1, worker_init_fn=failing_init))
    del it, caught  # the traceback held the last iterator
    gc.collect()
    assert no_children_left()


def test_persistent_workers_last_across_epochs():
    loader = DataLoader(Info(), batch_size=None, num_workers=2, persistent_workers=True)
    first = {r["pid"] for r in loader}
    it = iter(loader)
    next(it)  # an epoch left unfinished: its batches in flight are dropped
    second = [r["pid"] for r in loader]
    assert set(second) == first and len(second) == 8
    assert len(workers_alive()) == 2
    del loader, it
    gc.collect()
    assert no_children_left(first)

    plain = DataLoader(Info(), batch_size=None, num_workers=2)
    assert {r["pid"] for r in plain}.isdisjoint({r["pid"] for r in plain})


class Slow:
    """Sample i takes ``delays[i]`` seconds (default none); counts fetches in ``counter``."""

    def __init__(self, n, delays=None, counter=None):
        self.n, self.delays, self.counter = n, delays or {}, counter

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.counter is not None:
            with self.counter.get_lock():
                self.counter.value += 1
        time.sleep(self.delays.get(i, 0))
        return i


def test_prefetch_factor_bounds_the_work_ahead():
    fetched = multiprocessing.get_context("fork").Value("i", 0)
    it = iter(DataLoader(Slow(40, counter=fetched), num_workers=2, prefetch_factor=1))
    assert next(it).tolist() == [0]
    time.sleep(0.3)
    assert fetched.value <= 3  # 2 workers x 1 ahead, and 1 more sent for the batch handed out
    del it


def test_timeout():
    loader = DataLoader(Slow(4, delays={1: 10}), num_workers=1, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0\.2 seconds"):
        list(loader)
    assert time.monotonic() - started < 5  # the stuck worker is terminated, not waited for
    assert no_children_left()


def worker_pids(loader):
    it = iter(loader)
    next(it)
    return it, [p.pid for p in workers_alive()]


def test_no_process_left_after_break_gc_exception_and_ctrl_c():
    loader = DataLoader(Slow(20), num_workers=2)
    for i, _ in enumerate(loader):
        pids = [p.pid for p in workers_alive()]
        if i == 1:
            break
    assert len(pids) == 2 and no_children_left(pids)

    it, pids = worker_pids(loader)
    del it
    gc.collect()
    assert no_children_left(pids)

    with pytest.raises(ValueError):
        for _ in DataLoader(Fails(ValueError("bad")), num_workers=2):
            pass
    gc.collect()
    assert no_children_left()

    it, pids = worker_pids(DataLoader(Slow(6, delays={2: 10, 3: 10}), num_workers=2))
    # Ctrl-C as in a terminal: a process started in the background (as CI may start the tests)
    # inherits SIGINT ignored, and Python then raises no KeyboardInterrupt
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))  # Ctrl-C, this process
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            next(it)
            next(it)
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    assert no_children_left(pids)  # at once, without waiting for the stuck workers


def die(i):
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker 0 \(pid \d+\) exited "
                                           r"unexpectedly \(killed by signal SIGKILL\)"):
        list(DataLoader([0, 1], num_workers=1, collate_fn=die))
    assert no_children_left()


class SplitsWork:
    """Each sample is made by the engine's chunk map, as a convolution's batch is."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        from convlab.engine import parallel

        return np.array(parallel.map_chunks(lambda c: c * i, range(4)))


def test_workers_use_convlab_ops_after_the_parent_used_its_threads():
    """A forked worker inherits the memory of the engine's thread pool but not its threads;
    workers run one thread, so they never hand work to that pool (it would wait forever)."""
    from convlab.engine import parallel

    # Every thread of the pool started and now idle: a forked child that handed the pool a
    # task would wait forever (measured: hung with WORKERS unchanged).
    parallel.map_chunks(lambda c: time.sleep(0.05), range(parallel.WORKERS))
    got = batches(dataset=SplitsWork(), batch_size=2, num_workers=2, timeout=30)
    assert [b.tolist() for b in got] == [[[0, 0, 0, 0], [0, 1, 2, 3]], [[0, 2, 4, 6], [0, 3, 6, 9]]]


def test_spawn_start_method_pickles_the_dataset():
    data = TensorDataset(convlab.arange(10.0), convlab.arange(10))
    ours = batches(dataset=data, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert_same(ours, batches(dataset=data, batch_size=4))
    assert no_children_left()


def test_pin_memory_is_accepted_and_changes_nothing():
    data = TensorDataset(convlab.arange(6))
    with pytest.warns(UserWarning, match="pin_memory=True has no effect"):
        got = batches(dataset=data, batch_size=4, num_workers=1, pin_memory=True)
    assert [b.tolist() for (b,) in got] == [[0, 1, 2, 3], [4, 5]]


@pytest.mark.parametrize("options", [
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(persistent_workers=True),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="threads"),
    dict(num_workers=1, multiprocessing_context=3),
])
def test_bad_options_raise_as_in_torch(options, torch):
    from torch.utils.data import DataLoader as TorchLoader

    with pytest.raises((ValueError, TypeError)) as theirs:
        TorchLoader(list(range(4)), **options)
    with pytest.raises(type(theirs.value)) as ours:
        DataLoader(list(range(4)), **options)
    first_word = next(w for w in str(theirs.value).split() if w.isidentifier())
    assert first_word in str(ours.value)


def test_iterable_dataset_refuses_shuffle_and_samplers():
    for options in (dict(shuffle=True), dict(sampler=[0, 1]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected "
                                             "unspecified"):
            DataLoader(Stream(3), **options)


def test_signature_is_torchs(torch):
    import inspect

    from torch.utils.data import DataLoader as TorchLoader

    def shape(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]
    assert shape(DataLoader.__init__) == shape(TorchLoader.__init__)


class ReadsManyAtOnce:
    """``__getitems__``: PyTorch's hook for reading a batch's samples in one call."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        raise AssertionError("the loader should call __getitems__")

    def __getitems__(self, indices):
        return [(i, get_worker_info() is not None) for i in indices]


@pytest.mark.parametrize("workers", [0, 1])
def test_getitems_reads_a_batch_in_one_call(workers, torch):
    from torch.utils.data import DataLoader as TorchLoader

    ours = [[b.tolist() for b in batch] for batch in
            DataLoader(ReadsManyAtOnce(), batch_size=2, num_workers=workers)]
    theirs = [[b.tolist() for b in batch] for batch in
              TorchLoader(ReadsManyAtOnce(), batch_size=2, num_workers=0)]
    assert [b[0] for b in ours] == [b[0] for b in theirs] == [[0, 1], [2, 3], [4]]
    assert all(b[1] == [bool(workers)] * len(b[0]) for b in ours)


def test_torch_utils_data_submodule_paths():
    from convlab.utils.data.dataloader import DataLoader as FromPath
    from convlab.utils.data.dataloader import default_collate
    from convlab.utils.data.dataset import IterableDataset as Iterable
    from convlab.utils.data.sampler import SubsetRandomSampler

    assert FromPath is DataLoader and Iterable is IterableDataset
    assert default_collate is convlab.data.default_collate
    assert SubsetRandomSampler is convlab.utils.data.sampler.SubsetRandomSampler
