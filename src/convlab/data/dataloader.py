"""``DataLoader``: iterate a dataset in batches, as ``torch.utils.data.DataLoader`` does.

Single-process: batches are made in the loop that asks for them. Each pass over the loader is one
epoch: with ``shuffle=True`` it visits the samples in a fresh random order drawn from
``generator`` (default: the global generator, so ``convlab.manual_seed`` makes the order
repeatable).

A batch is ``collate_fn([dataset[i] for i in indices])``; :func:`default_collate` stacks the
samples into Tensors field by field. When the collate function is the default and the dataset can
hand out a whole batch at once (``TensorDataset``, ``Subset`` of one, the built-in datasets
without a per-item transform), the loader takes it in one fancy-indexing step instead.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..tensor import Tensor, stack
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert"]

_COLLATE_TYPES = "tensors, numpy arrays, numbers, dicts or lists"


def default_collate(batch: Sequence):
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate`` does.

    - Tensors and NumPy arrays of one shape are stacked into a Tensor with a new first dimension.
    - Python ``int`` -> int64 Tensor, ``float`` -> float64 Tensor, ``bool`` -> bool Tensor;
      NumPy scalars keep their dtype.
    - Strings are left as they are: the list (or, inside a sample, the tuple) of them.
    - Dicts are collated key by key; tuples and lists field by field (a tuple gives a list, as in
      PyTorch; a namedtuple stays that namedtuple).

    >>> default_collate([(1, 0.5), (2, 1.5)])
    [tensor([1, 2]), tensor([0.5000, 1.5000], dtype=convlab.float64)]
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, (Tensor, np.ndarray, np.generic)):
        arrays = [b._data if isinstance(b, Tensor) else np.asarray(b) for b in batch]
        if arrays[0].dtype.kind not in "biuf":
            raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; "
                            f"found an array of dtype {arrays[0].dtype}")
        for i, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise ValueError(f"default_collate: cannot stack samples of different shapes: "
                                 f"sample 0 has shape {tuple(arrays[0].shape)}, sample {i} has "
                                 f"shape {tuple(a.shape)}")
        if isinstance(elem, Tensor):
            return stack(list(batch))  # keeps the graph of samples that require grad
        return Tensor._wrap(np.stack(arrays))  # B x (sample shape)
    if isinstance(elem, (bool, int, float)):
        dtype = (np.bool_ if isinstance(elem, bool) else np.int64 if isinstance(elem, int)
                 else np.float64)
        return Tensor._wrap(np.asarray(batch, dtype=dtype))
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(sample) for sample in batch]
        if len(set(sizes)) > 1:
            raise ValueError(f"default_collate: each sample in the batch should have the same "
                             f"number of fields, but got {sizes}")
        return [default_collate(field) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; found {type(elem)}")


def default_convert(data):
    """What the loader does to each sample when ``batch_size=None``: NumPy arrays become
    Tensors (inside dicts, tuples and lists too); everything else is left as it is."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return Tensor._wrap(data)
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """Batches of ``dataset``, one pass per epoch.

    Args:
        dataset: anything with ``__getitem__`` and ``__len__``.
        batch_size: samples per batch (default 1); ``None`` yields single samples, unbatched.
        shuffle: visit the samples in a new random order each epoch.
        sampler: an iterable of indices to use instead of ``shuffle``.
        batch_sampler: an iterable of lists of indices; excludes ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``.
        num_workers: must be 0: convlab loads in the main process.
        collate_fn: merges a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted for PyTorch compatibility; there is no GPU memory to pin.
        drop_last: leave out the last batch when it is shorter than ``batch_size``.
        generator: the :class:`convlab.Generator` that ``shuffle`` draws from (default: global).

    >>> import convlab
    >>> from convlab.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(convlab.tensor([[1.], [2.], [3.]])), batch_size=2)
    >>> len(loader), [x.shape for (x,) in loader]
    (2, [convlab.Size([2, 1]), convlab.Size([1, 1])])
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, *, generator=None):
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers={num_workers!r}, but convlab loads data in "
                             "the main process only; use num_workers=0")
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
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.generator = generator
        self.collate_fn = default_collate if collate_fn is None else collate_fn

    def __iter__(self) -> Iterator:
        if self.batch_sampler is None:
            for index in self.sampler:
                yield default_convert(self.dataset[index])
            return
        get_batch = getattr(self.dataset, "_get_batch", None)
        if self.collate_fn is not default_collate:
            get_batch = None
        for indices in self.batch_sampler:
            batch = get_batch(np.asarray(indices, dtype=np.int64)) if get_batch else None
            if batch is None:
                batch = self.collate_fn([self.dataset[i] for i in indices])
            yield batch

    def __len__(self) -> int:
        if self.batch_sampler is None:
            return len(self.sampler)
        return len(self.batch_sampler)
