"""Class indices as one-hot vectors, as ``torch.nn.functional.one_hot``.

>>> import convlab
>>> import convlab.nn.functional as F
>>> F.one_hot(convlab.tensor([0, 2, 1]), num_classes=4)
tensor([[1, 0, 0, 0],
        [0, 0, 1, 0],
        [0, 1, 0, 0]])
"""

from __future__ import annotations

import numpy as np

from ...tensor import Tensor

__all__ = ["one_hot"]


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``out[..., c] = 1`` where ``tensor[...] == c``, else 0 (int64, no gradient).

    ``num_classes=-1`` takes one more than the largest index.
    Shape: ``tensor (*)`` of int64 class indices, output ``(*, num_classes)``.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot(): argument 'tensor' must be a convlab.Tensor, not "
                        f"{type(tensor).__name__}")
    if tensor.dtype.numpy != np.int64:
        raise TypeError(f"one_hot is only applicable to index tensor of type int64 (long), got "
                        f"{tensor.dtype}; use tensor.long()")
    index = tensor.numpy()
    if num_classes == -1:
        if index.size == 0:
            raise ValueError("one_hot: can not infer the number of classes from an empty "
                             "tensor; pass num_classes")
        num_classes = int(index.max()) + 1
    if index.size and index.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {index.min()}")
    if index.size and index.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes="
                         f"{num_classes}, got {index.max()}")
    out = index[..., None] == np.arange(num_classes)  # (*, 1) vs (C,) -> (*, C)
    return Tensor._wrap(out.astype(np.int64))
