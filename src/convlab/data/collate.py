"""``default_collate`` and ``default_convert``: how a :class:`~convlab.data.DataLoader` turns
samples into a batch, as ``torch.utils.data`` does.

Both run wherever the batch is made: in the main process, or in a worker process when
``num_workers > 0`` (the batch then travels to the main process as NumPy arrays).
"""

from __future__ import annotations

import collections.abc
from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor, stack

__all__ = ["default_collate", "default_convert"]

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
