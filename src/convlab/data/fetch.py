"""Making one batch: the step a :class:`~convlab.data.DataLoader` repeats, the same in the main
process (``num_workers=0``) and in each worker process.

A map-style dataset is asked for the samples at the indices the sampler chose; an iterable one
for its next samples. ``collate_fn`` then merges them (with ``batch_size=None`` it converts the
single sample). A dataset may read the samples of a batch in one call, ``__getitems__(indices)``,
as in PyTorch. With the default collate function and a dataset that can hand out a whole batch
at once (``_get_batch``: ``TensorDataset``, a ``Subset`` of one, the built-in datasets without a
per-item transform), the batch is one fancy-indexing step instead of a loop over samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .collate import default_collate
from .dataset import IterableDataset

__all__ = ["Exhausted", "make_fetcher"]


class Exhausted(Exception):
    """An iterable dataset has no more batches for this epoch (a ``StopIteration`` raised by the
    dataset's own code is kept apart from it: it is the dataset's error)."""


def make_fetcher(dataset, auto_collation: bool, batch_size: int | None, drop_last: bool,
                 collate_fn: Callable) -> Callable:
    """``fetch(indices)`` -> one batch, for one epoch.

    With ``auto_collation`` (a batch sampler or ``batch_size`` is set), ``indices`` is a list of
    dataset indices and ``collate_fn`` merges their samples; without, it is one index and
    ``collate_fn`` converts that one sample. For an iterable dataset ``indices`` is ignored, and
    ``fetch`` raises :class:`Exhausted` once the stream has no more full batches (or, without
    ``drop_last``, no more samples at all). Call ``make_fetcher`` again for a new epoch: an
    iterable dataset's iterator starts at the first ``fetch``.
    """
    if isinstance(dataset, IterableDataset):
        return _iterable_fetcher(dataset, batch_size if auto_collation else None, drop_last,
                                 collate_fn)
    if not auto_collation:
        return lambda index: collate_fn(dataset[index])
    get_batch = getattr(dataset, "_get_batch", None) if collate_fn is default_collate else None
    # PyTorch's way for a dataset to read many samples at once: __getitems__(indices) -> samples.
    get_items = getattr(dataset, "__getitems__", None)

    def fetch(indices):
        batch = get_batch(np.asarray(indices, dtype=np.int64)) if get_batch else None
        if batch is None:
            samples = get_items(indices) if get_items else [dataset[i] for i in indices]
            batch = collate_fn(samples)
        return batch
    return fetch


def _iterable_fetcher(dataset, batch_size, drop_last, collate_fn) -> Callable:
    stream = None

    def next_sample():
        nonlocal stream
        if stream is None:
            stream = iter(dataset)
        try:
            return next(stream)
        except StopIteration:
            raise Exhausted from None

    def fetch(_indices):
        if batch_size is None:
            return collate_fn(next_sample())
        samples = []
        try:
            while len(samples) < batch_size:
                samples.append(next_sample())
        except Exhausted:
            if not samples or drop_last:
                raise
        return collate_fn(samples)
    return fetch
