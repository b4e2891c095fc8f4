"""Dropout, as ``torch.nn.functional``: zero each element (or each whole channel) with
probability ``p`` during training and scale the survivors by ``1 / (1 - p)``, so the expected
value of every output equals its input and evaluation needs no rescaling.

The masks come from ``convlab.manual_seed``'s generator. With ``training=False`` the input is
returned unchanged.
"""

from __future__ import annotations

import warnings

from ..._random import rng
from ...tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


def _dropout(name: str, input: Tensor, p: float, training: bool, inplace: bool,
             mask_shape: tuple | None = None) -> Tensor:
    """``input * mask``: the mask keeps each of its units with probability ``1 - p``, scaled
    by ``1 / (1 - p)``; ``mask_shape`` (default: the input's) broadcasts against the input."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a convlab.Tensor, not "
                        f"{type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    dtype = input._data.dtype
    keep = rng().random(mask_shape or tuple(input.shape)) >= p  # kept with probability 1 - p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = Tensor._wrap((keep * scale).astype(dtype))  # broadcasts over the non-mask dims
    return input.mul_(mask) if inplace else input * mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p``; scale the rest by ``1 / (1 - p)``."""
    return _dropout("dropout", input, p, training, inplace)


def _channel_mask_shape(input: Tensor, nd: int) -> tuple:
    """``(N, C, 1, ...)`` for a batched input ``(N, C, *S)``, ``(C, 1, ...)`` for ``(C, *S)``."""
    spatial = input.dim() - nd  # 2 when batched, 1 when not
    return tuple(input.shape[:spatial]) + (1,) * nd


def _feature_dropout(name: str, nd: int, input: Tensor, p: float, training: bool,
                     inplace: bool) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a convlab.Tensor, not "
                        f"{type(input).__name__}")
    if input.dim() not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
                         f"but got input of size: {list(input.shape)}")
    return _dropout(name, input, p, training, inplace, _channel_mask_shape(input, nd))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` (or ``(C, L)``) with probability ``p``."""
    return _feature_dropout("dropout1d", 1, input, p, training, inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` with probability ``p``.

    A 3-D input is taken as ``(N, C, L)``, as PyTorch 2.x still does (with a warning): for an
    unbatched ``(C, H, W)`` image, add the batch dim first.
    """
    if isinstance(input, Tensor) and input.dim() == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
        return _feature_dropout("dropout2d", 1, input, p, training, inplace)
    return _feature_dropout("dropout2d", 2, input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``) with probability ``p``."""
    return _feature_dropout("dropout3d", 3, input, p, training, inplace)
