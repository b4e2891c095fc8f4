"""Datasets as ``torch.utils.data`` has them: anything with ``__getitem__`` and ``__len__``.

- :class:`Dataset`: the base class; ``a + b`` concatenates.
- :class:`IterableDataset`: a stream of samples (``__iter__``) instead of an indexable
  collection; ``a + b`` chains two streams (:class:`ChainDataset`).
- :class:`TensorDataset`: sample ``i`` is ``(t[i] for t in tensors)``.
- :class:`Subset`: a dataset seen through a list of indices.
- :class:`ConcatDataset`: datasets one after another.
- :func:`random_split`: non-overlapping random subsets of given lengths (or fractions).

Fast batches: a dataset may define ``_get_batch(indices)``, returning the whole batch already
collated (what ``default_collate`` would make of ``[dataset[i] for i in indices]``), or ``None``
when it can't (a per-item transform is set). :class:`~convlab.data.DataLoader` uses it with the
default ``collate_fn``: one fancy-indexing of whole arrays instead of a Python loop over items.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Sequence

import numpy as np

from .. import _random
from .._creation import from_numpy
from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split"]


class Dataset:
    """An indexable collection of samples. Subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (and may define ``__len__``).

    A :class:`~convlab.data.DataLoader` with ``num_workers > 0`` gives each worker process its
    own copy of the dataset and calls ``iter`` on each copy, so every worker would hand out the
    whole stream. To split the stream instead, ``__iter__`` asks
    :func:`~convlab.data.get_worker_info` which worker it runs in::

        class Numbers(IterableDataset):
            def __iter__(self):
                info = get_worker_info()           # None in the main process
                first, step = (0, 1) if info is None else (info.id, info.num_workers)
                return iter(range(first, 100, step))
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are slices along the first dimension: ``dataset[i] = (t[i] for t in tensors)``.

    All tensors must have the same size in their first dimension; NumPy arrays are taken as
    Tensors sharing their memory (``convlab.from_numpy``).

    >>> import convlab
    >>> x = convlab.tensor([[0., 1.], [2., 3.], [4., 5.]])
    >>> ds = TensorDataset(x, convlab.tensor([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (tensor([2., 3.]), tensor(1)))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for position, t in enumerate(tensors):
            if not isinstance(t, (Tensor, np.ndarray)) or t.ndim == 0:
                what = (f"a 0-d {type(t).__name__}" if isinstance(t, (Tensor, np.ndarray))
                        else type(t).__name__)
                raise TypeError(f"TensorDataset: argument {position} must be a Tensor or NumPy "
                                f"array with at least one dimension, but got {what}")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError("TensorDataset: all tensors must have the same size in their first "
                             f"dimension, but got sizes {', '.join(map(str, sizes))}")
        self.tensors = tuple(from_numpy(t) if isinstance(t, np.ndarray) else t for t in tensors)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _get_batch(self, indices: np.ndarray) -> list:
        return [t[indices] for t in self.tensors]


class Subset(Dataset):
    """``dataset`` seen through ``indices``: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def _get_batch(self, indices: np.ndarray):
        get_batch = getattr(self.dataset, "_get_batch", None)
        if get_batch is None:
            return None
        return get_batch(np.asarray(self.indices)[indices])


class ConcatDataset(Dataset):
    """Several datasets one after another; ``cumulative_sizes`` holds the running lengths."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for length {n}")
        index %= n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Several iterable datasets one after another, as one stream."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, but got "
                                f"{type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    ``lengths`` are counts that sum to ``len(dataset)``, or fractions that sum to 1: each part
    gets ``floor(n * fraction)`` items, and the remainder is handed out one by one from the first
    part on, as PyTorch does. The permutation is drawn from ``generator`` (default: the global
    one, so ``convlab.manual_seed`` makes it repeatable).

    >>> parts = random_split(range(10), [0.7, 0.3])
    >>> [len(p) for p in parts]
    [7, 3]
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is {fraction}, not "
                                 "between 0 and 1")
        counts = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; "
                              "this might result in an empty dataset", stacklevel=2)
        lengths = counts
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                             f"summing to 1, but lengths[{i}] = {length!r}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({' + '.join(map(str, lengths))} = "
                         f"{sum(lengths)}) does not equal the length of the input dataset ({n})")
    order = _random.rng(generator).permutation(n)
    offsets = np.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, order[start:stop].tolist())
            for start, stop in zip(offsets[:-1], offsets[1:])]
