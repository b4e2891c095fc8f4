"""``pad``: add (or, with negative amounts, crop) elements around a Tensor, as ``F.pad``.

``pad`` lists amounts in pairs starting from the **last** dim: ``(left, right)`` pads the last
dim, ``(left, right, top, bottom)`` the last two, and so on. The modes:

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([[[1., 2., 3., 4.]]])
>>> F.pad(x, (2, 1))  # constant, 0 by default
tensor([[[0., 0., 1., 2., 3., 4., 0.]]])
>>> F.pad(x, (2, 1), mode="reflect")  # mirror; the edge is not repeated
tensor([[[3., 2., 1., 2., 3., 4., 3.]]])
>>> F.pad(x, (2, 1), mode="replicate")  # the edge value, repeated
tensor([[[1., 1., 1., 2., 3., 4., 4.]]])
>>> F.pad(x, (2, 1), mode="circular")  # wrap around
tensor([[[3., 4., 1., 2., 3., 4., 1.]]])
>>> F.pad(x, (-1, 0))  # a negative amount crops
tensor([[[2., 3., 4.]]])

PyTorch restricts the non-constant modes to padding the last 1, 2 or 3 dims of an input with
one or two more dims than that; convlab pads any number of trailing dims in every mode.
"""

from __future__ import annotations

import numbers

from ...engine import padding as engine
from ...ops.padding import Pad
from ...tensor import Tensor

__all__ = ["pad"]


def _shape(shape) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _widths(input: Tensor, pad) -> tuple:
    """PyTorch's flat ``pad`` (last dim first) as ``((lo, hi), ...)`` in axis order."""
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: argument 'pad' must be a tuple of ints, not {type(pad).__name__}")
    for position, v in enumerate(pad):
        if not _is_int(v):
            raise TypeError(f"pad: argument 'pad' must be a tuple of ints, but found element of "
                            f"type {type(v).__name__} at pos {position}: pad={tuple(pad)}")
    if len(pad) % 2:
        raise ValueError(f"pad: Padding length must be divisible by 2, but got {len(pad)} "
                         f"values: pad={tuple(pad)}")
    if len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: Padding length should be less than or equal to two times the "
                         f"input dimension but got padding length {len(pad)} and input of "
                         f"dimension {input.ndim}")
    pairs = [(int(pad[2 * a]), int(pad[2 * a + 1])) for a in range(len(pad) // 2)]
    return tuple(reversed(pairs))  # pairs[0] is the last dim's


def _check_sizes(input: Tensor, widths: tuple, mode: str, pad) -> None:
    """Each mode's limits, per padded dim, with the numbers that break them."""
    shape = tuple(input.shape)
    first = len(shape) - len(widths)
    for dim, (i, (lo, hi)) in enumerate(zip(shape[first:], widths), start=first):
        o = lo + i + hi
        where = f"dim {dim} (size {i}) of input {_shape(shape)} with pad={tuple(pad)}"
        if mode == "constant":
            if o < 0:
                raise ValueError(f"pad: padding ({lo}, {hi}) crops more than all of {where}: "
                                 f"output size {lo} + {i} + {hi} = {o}")
            continue
        if i == 0:
            raise ValueError(f"pad: mode={mode!r} cannot pad an empty dim: {where}")
        if o < 1:
            raise ValueError(f"pad: padding ({lo}, {hi}) leaves nothing of {where}: output size "
                             f"{lo} + {i} + {hi} = {o}")
        if mode == "reflect" and (lo >= i or hi >= i):
            raise ValueError(f"pad: Padding size should be less than the corresponding input "
                             f"dimension for mode='reflect', but got padding ({lo}, {hi}) for "
                             f"{where}")
        if mode == "circular":
            kept = i - max(-lo, 0) - max(-hi, 0)
            if lo > kept or hi > kept:
                raise ValueError(f"pad: Padding value causes wrapping around more than once: "
                                 f"padding ({lo}, {hi}) for {where}, which keeps {kept} "
                                 f"elements to wrap around")


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims of ``input``; ``pad`` starts from the last dim.

    ``mode`` is ``'constant'`` (fill with ``value``, 0 by default), ``'reflect'`` (mirror
    without repeating the edge; each amount ``< size``), ``'replicate'`` (repeat the edge) or
    ``'circular'`` (wrap around; each amount ``<= size``). Negative amounts crop. Differentiable
    in every mode.

    Shape: ``(*, d_1, ..., d_k)`` -> ``(*, d_1 + lo_1 + hi_1, ..., d_k + lo_k + hi_k)`` with
    ``pad = (lo_k, hi_k, ..., lo_1, hi_1)``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a convlab.Tensor, got {type(input).__name__}")
    if mode not in engine.MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, engine.MODES))}, but "
                         f"got mode={mode!r}")
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f'pad: Padding mode "{mode}" doesn\'t take in value argument, got '
                         f"value={value!r}")
    if value is not None and not isinstance(value, numbers.Number):
        raise TypeError(f"pad: value must be a number, got {type(value).__name__}")
    widths = _widths(input, pad)
    _check_sizes(input, widths, mode, pad)
    return Pad.apply(input, widths, mode, 0 if value is None else value)
