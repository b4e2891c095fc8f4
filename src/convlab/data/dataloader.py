"""``DataLoader``: iterate a dataset in batches, as ``torch.utils.data.DataLoader`` does.

Each pass over the loader is one epoch: with ``shuffle=True`` it visits the samples in a fresh
random order drawn from ``generator`` (default: the global generator, so ``convlab.manual_seed``
makes the order repeatable). A batch is ``collate_fn([dataset[i] for i in indices])``
(:mod:`.fetch`); :func:`default_collate` stacks the samples into Tensors field by field.

With ``num_workers=0`` the batches are made in the loop that asks for them. With
``num_workers > 0`` worker processes make them side by side (:mod:`.worker_pool` in the main
process, :mod:`.workers` in each worker) and the loop receives them in the same order: while it
trains on one batch, the workers prepare the next ones. That pays when making a batch costs
Python time per sample (a per-item augmentation: random crop, flip, normalize); a dataset that
hands out whole batches by fancy indexing is fast enough without workers.
"""

from __future__ import annotations

import multiprocessing
import numbers
import os
import warnings
from collections.abc import Callable, Iterator

from .. import _random
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .fetch import Exhausted, make_fetcher
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .worker_pool import WorkerPoolIterator

__all__ = ["DataLoader", "default_collate", "default_convert"]


class DataLoader:
    """Batches of ``dataset``, one pass per epoch.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``) or an
            :class:`~convlab.data.IterableDataset` (``__iter__``).
        batch_size: samples per batch (default 1); ``None`` yields single samples, unbatched.
        shuffle: visit the samples in a new random order each epoch.
        sampler: an iterable of indices to use instead of ``shuffle``.
        batch_sampler: an iterable of lists of indices; excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``.
        num_workers: how many worker processes make batches; 0 makes them in this process.
        collate_fn: merges a list of samples into a batch (default :func:`default_collate`);
            with ``batch_size=None`` it converts each sample (default :func:`default_convert`).
        pin_memory: accepted for PyTorch compatibility; there is no GPU memory to pin.
        drop_last: leave out the last batch when it is shorter than ``batch_size``.
        timeout: with workers, the longest wait in seconds for a batch before ``RuntimeError``
            (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker, after seeding.
        multiprocessing_context: how workers start: a start method's name (``"fork"``,
            ``"spawn"``, ``"forkserver"``) or a ``multiprocessing`` context; default: Python's
            default (on Linux, fork up to Python 3.13: the workers inherit the dataset; spawn and
            forkserver pickle it, and everything passed here, to each worker).
        generator: the :class:`convlab.Generator` that ``shuffle`` and the workers' seeds draw
            from (default: the global one).
        prefetch_factor: batches each worker prepares ahead (default 2 with workers).
        persistent_workers: keep the workers (and their dataset copies) from one epoch to the
            next instead of starting new ones.
        pin_memory_device: accepted for PyTorch compatibility, like ``pin_memory``.
        in_order: hand out batches in the sampler's order (default); ``False``: as they come.

    Each epoch draws one ``base_seed`` from ``generator``, with or without workers (so the
    shuffled order is the same in both); worker ``i`` seeds its random generators with
    ``base_seed + i`` (see :mod:`.workers`).

    >>> import convlab
    >>> from convlab.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(convlab.tensor([[1.], [2.], [3.]])), batch_size=2)
    >>> len(loader), [x.shape for (x,) in loader]
    (2, [convlab.Size([2, 1]), convlab.Size([1, 1])])
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int):
            raise TypeError(f"DataLoader: num_workers should be an int, but got "
                            f"num_workers={num_workers!r}")
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, but got "
                             f"num_workers={num_workers}; use num_workers=0 to disable "
                             "multiprocessing")
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, but got "
                             f"timeout={timeout!r}")
        if timeout and num_workers == 0:
            raise ValueError(f"DataLoader: timeout={timeout} bounds the wait for a worker's "
                             "batch and needs num_workers > 0")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                             "multiprocessing; let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (isinstance(prefetch_factor, bool)
                                            or not isinstance(prefetch_factor, int)
                                            or prefetch_factor < 1):
            raise ValueError(f"DataLoader: prefetch_factor should be a positive integer (the "
                             f"batches each worker prepares ahead), but got "
                             f"prefetch_factor={prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        # Batching: lists of indices from the batch sampler (or, for an iterable dataset,
        # batch_size samples at a time) merged by collate_fn; else one sample at a time.
        self._auto_collation = batch_sampler is not None or (iterable and batch_size is not None)
        self._index_sampler = batch_sampler if batch_sampler is not None else sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterator: WorkerPoolIterator | None = None  # the persistent workers

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"DataLoader: multiprocessing_context can only be used with "
                                 f"multi-process loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"DataLoader: multiprocessing_context option should specify "
                                     f"a valid start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"DataLoader: multiprocessing_context option should be a valid "
                                f"context object or a string specifying the start method, but "
                                f"got multiprocessing_context={context!r}")
        self._multiprocessing_context = context

    def __iter__(self) -> Iterator:
        # Every epoch draws the workers' base seed, with workers or without, so that the
        # generator is in the same state when the sampler draws its order: the same batches in
        # the same order for any num_workers.
        base_seed = int(_random.rng(self.generator).integers(2**63))
        if self.pin_memory:
            warnings.warn("DataLoader: pin_memory=True has no effect: convlab has no "
                          "accelerator, so there is no device memory to pin for", stacklevel=2)
        if self.num_workers == 0:
            return self._single_process()
        _warn_many_workers(self.num_workers)
        if not self.persistent_workers:
            return WorkerPoolIterator(self, base_seed)
        if self._iterator is not None and self._iterator.alive:
            self._iterator.start_epoch()  # the workers keep their seeds, as PyTorch's do
        else:
            self._iterator = WorkerPoolIterator(self, base_seed)
        return self._iterator

    def _single_process(self) -> Iterator:
        fetch = make_fetcher(self.dataset, self._auto_collation, self.batch_size,
                             self.drop_last, self.collate_fn)
        if self._index_sampler is None:  # an iterable dataset
            while True:
                try:
                    batch = fetch(None)
                except Exhausted:
                    return
                yield batch
        for indices in self._index_sampler:
            yield fetch(indices)

    def __len__(self) -> int:
        if self._index_sampler is not None:
            return len(self._index_sampler)
        length = len(self.dataset)  # an iterable dataset: TypeError where it has no length
        if self.batch_size is None:
            return length
        return length // self.batch_size if self.drop_last else -(-length // self.batch_size)


def _warn_many_workers(num_workers: int) -> None:
    """Warn, as PyTorch does, when there are more workers than CPUs to run them."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    if num_workers > cpus:
        warnings.warn(f"This DataLoader will create {num_workers} worker processes in total, "
                      f"more than the {cpus} CPUs this process may use: they will take turns "
                      "and may slow loading down. Consider num_workers <= "
                      f"{cpus}.", stacklevel=3)
