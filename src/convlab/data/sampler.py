"""Samplers: the order in which a :class:`~convlab.data.DataLoader` visits a dataset.

A sampler is an iterable of dataset indices; :class:`BatchSampler` groups them into lists. Random
samplers draw from ``generator`` (default: the global one), a fresh permutation on every pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .. import _random

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _check_positive_int(name: str, value, owner: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}{name} should be a positive integer value, but got "
                         f"{name}={value!r}")


def _check_bool(name: str, value, error: type = ValueError, owner: str = "") -> None:
    if not isinstance(value, bool):
        raise error(f"{owner}{name} should be a boolean value, but got {name}={value!r}")


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices, new on each pass; with ``replacement=True``,
    ``num_samples`` independent draws instead."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        _check_bool("replacement", replacement, TypeError, "RandomSampler: ")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_positive_int("num_samples", self.num_samples, "RandomSampler: ")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _random.rng(self.generator)
        if n == 0:
            return iter(())
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        # Without replacement, num_samples > n walks several whole permutations.
        passes = [rng.permutation(n) for _ in range(-(-self.num_samples // n))]
        return iter(np.concatenate(passes)[:self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new on each pass."""

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        order = _random.rng(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` (one weight
    per sample, need not sum to 1), with or without replacement.

    The usual cure for an imbalanced data set: give each sample ``1 / count(its class)`` and
    every class comes up equally often in the batches::

        counts = np.bincount(labels)
        sampler = WeightedRandomSampler(1.0 / counts[labels], num_samples=len(labels))
        loader = DataLoader(dataset, batch_size=64, sampler=sampler)
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        _check_positive_int("num_samples", num_samples)
        _check_bool("replacement", replacement)
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights.shape)}")
        if (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(f"cannot draw {num_samples} samples without replacement from "
                             f"{np.count_nonzero(weights)} samples of non-zero weight")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = _random.rng(self.generator)
        drawn = rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                           p=self.weights / self.weights.sum())
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; with ``drop_last`` the last,
    shorter list is left out.

    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        _check_positive_int("batch_size", batch_size)
        _check_bool("drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
