"""Padding an ndarray along its trailing axes: the four modes of ``torch.nn.functional.pad``.

Each padded axis of size ``i`` gets ``lo`` elements before and ``hi`` after, so the output has
``lo + i + hi`` along it. A negative ``lo`` or ``hi`` crops instead. Output position ``j`` of an
axis sits over input position ``t = j - lo``, and the modes differ only in what they read when
``t`` falls outside ``[0, i)``::

    constant   a fixed value                          v v | a b c d | v v
    reflect    mirror without repeating the edge      c b | a b c d | c b     t -> -t, 2(i-1) - t
    replicate  the edge value                         a a | a b c d | d d     t -> clip(t, 0, i-1)
    circular   wrap around                            c d | a b c d | a b     t -> t mod i

(With a negative width, ``circular`` wraps around what is left after cropping, as PyTorch does:
``(-1, 2)`` on ``a b c d`` gives ``b c d b c``.) So ``reflect``, ``replicate`` and ``circular``
are gathers along each axis with an index map
(:func:`source_index`), and their adjoint sums each output gradient back into the input position
it was read from. ``constant`` copies the input into a block of the output; its adjoint is the
slice of the gradient over that block.

``widths`` is one ``(lo, hi)`` pair per padded axis, for the **last** ``len(widths)`` axes, in axis
order (the first pair pads axis ``-len(widths)``). The public ``pad`` turns PyTorch's flat
``(left, right, top, bottom, ...)``, which starts from the last axis, into this form. The checks
(reflect needs ``lo, hi < i``, circular ``lo, hi <=`` the cropped size, and so on) also live there: this module
receives validated arguments.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODES", "pad", "pad_backward", "padded_shape", "source_index"]

MODES = ("constant", "reflect", "replicate", "circular")


def padded_shape(shape: tuple, widths: tuple) -> tuple:
    """The shape after padding: ``lo + i + hi`` on each of the last ``len(widths)`` axes."""
    lead = len(shape) - len(widths)
    return tuple(shape[:lead]) + tuple(
        lo + i + hi for i, (lo, hi) in zip(shape[lead:], widths)
    )


def source_index(i: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """For one axis, the input position that each output position reads (not for ``constant``).

    >>> source_index(4, 2, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> source_index(4, 2, 2, "replicate").tolist()
    [0, 0, 0, 1, 2, 3, 3, 3]
    >>> source_index(4, 2, -1, "circular").tolist()
    [1, 2, 0, 1, 2]
    """
    t = np.arange(-lo, i + hi)
    if mode == "reflect":
        t = np.abs(t)  # left side: -t
        return np.where(t > i - 1, 2 * (i - 1) - t, t)
    if mode == "replicate":
        return np.clip(t, 0, i - 1)
    if mode == "circular":
        # the period is what is left after cropping: input [a, a + c), placed at output L
        a, L = max(-lo, 0), max(lo, 0)
        c = i - a - max(-hi, 0)
        return a + (np.arange(lo + i + hi) - L) % c
    raise ValueError(f"source_index: mode must be one of {MODES[1:]}, but got mode={mode!r}")


def _block(shape: tuple, widths: tuple) -> tuple[tuple, tuple]:
    """Slices of the input and of the constant-padded output that hold the same elements."""
    lead = len(shape) - len(widths)
    src, dst = [slice(None)] * lead, [slice(None)] * lead
    for i, (lo, hi) in zip(shape[lead:], widths):
        # a negative lo drops -lo input elements at the start; a positive one shifts them right
        src.append(slice(max(-lo, 0), i - max(-hi, 0)))
        dst.append(slice(max(lo, 0), max(lo, 0) + max(i - max(-lo, 0) - max(-hi, 0), 0)))
    return tuple(src), tuple(dst)


def pad(x: np.ndarray, widths: tuple, mode: str = "constant", value=0) -> np.ndarray:
    """Pad (or crop, where a width is negative) the last ``len(widths)`` axes of ``x``.

    Shape:
        x: ``(*B, *I)``; output: ``(*B, *(lo + I + hi))``, same dtype as ``x``.

    >>> pad(np.array([1, 2, 3, 4]), ((2, 1),), "reflect").tolist()
    [3, 2, 1, 2, 3, 4, 3]
    >>> pad(np.array([[1, 2], [3, 4]]), ((1, 0), (0, -1)), value=9).tolist()
    [[9], [1], [3]]
    """
    if mode == "constant":
        out = np.full(padded_shape(x.shape, widths), value, dtype=x.dtype)
        src, dst = _block(x.shape, widths)
        out[dst] = x[src]
        return out
    lead = x.ndim - len(widths)
    out = x
    for axis, (lo, hi) in enumerate(widths, start=lead):
        if lo or hi:
            out = np.take(out, source_index(out.shape[axis], lo, hi, mode), axis=axis)
    return out if out is not x else x.copy()  # always a new array, as PyTorch's pad


def _take_backward(g: np.ndarray, index: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Adjoint of ``np.take(x, index, axis)`` for ``x`` of length ``size`` along ``axis``.

    ``gx[t] = sum of g[j] over the j with index[j] == t``: a segment sum. Sorting the positions
    by the index they read groups each segment together, and ``np.add.reduceat`` sums them.
    """
    order = np.argsort(index, kind="stable")
    present, starts = np.unique(index[order], return_index=True)
    sums = np.add.reduceat(np.take(g, order, axis=axis), starts, axis=axis)
    shape = list(g.shape)
    shape[axis] = size
    gx = np.zeros(shape, dtype=g.dtype)
    gx[(slice(None),) * axis + (present,)] = sums
    return gx


def pad_backward(gy: np.ndarray, input_shape: tuple, widths: tuple, mode: str) -> np.ndarray:
    """Gradient of :func:`pad` with respect to its input.

    ``constant``: the slice of ``gy`` over the copied block (zeros where the input was cropped).
    The others: each axis's gather undone in reverse order, summing the gradient of every output
    position into the input position it read (edges collect the replicated or mirrored copies).

    Shape:
        gy: ``(*B, *(lo + I + hi))``; output: ``input_shape`` = ``(*B, *I)``.
    """
    if mode == "constant":
        gx = np.zeros(input_shape, dtype=gy.dtype)
        src, dst = _block(tuple(input_shape), widths)
        gx[src] = gy[dst]
        return gx
    lead = len(input_shape) - len(widths)
    for axis in reversed(range(lead, len(input_shape))):
        lo, hi = widths[axis - lead]
        if lo or hi:
            i = input_shape[axis]
            gy = _take_backward(gy, source_index(i, lo, hi, mode), i, axis)
    return gy
