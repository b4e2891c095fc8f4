"""Pooling on Tensors, as ``torch.nn.functional``: max, average, LP, adaptive, and max unpooling.

Each function checks its arguments once, then runs the engine (:mod:`convlab.engine.pooling`)
through a differentiable op (:mod:`convlab.ops.pooling`). Inputs are ``(N, C, *I)`` or
unbatched ``(C, *I)``; every window has PyTorch's geometry: per spatial axis, output ``j`` reads
``j*s - p + m*d`` for ``m < k``, and there are ``floor((i + 2p - d(k-1) - 1)/s) + 1`` windows
(``ceil`` with ``ceil_mode``, dropping a last window that would start in the right padding).

The worked example: one row ``[1, 3, 2, 5, 4]``.

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([[[1., 3., 2., 5., 4.]]])  # (N, C, L) = (1, 1, 5)
>>> F.max_pool1d(x, 2)  # windows [1, 3], [2, 5]; the 4 is left over
tensor([[[3., 5.]]])
>>> F.max_pool1d(x, 2, ceil_mode=True)  # ceil keeps a last, partial window [4]
tensor([[[3., 5., 4.]]])
>>> F.max_pool1d(x, 2, padding=1, return_indices=True)  # -inf pads; indices point into x
(tensor([[[1., 3., 5.]]]), tensor([[[0, 1, 3]]]))
>>> F.avg_pool1d(x, 3, stride=2, padding=1)  # zero padding counts in the divisor ...
tensor([[[1.3333, 3.3333, 3.0000]]])
>>> F.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False)  # ... unless told not to
tensor([[[2.0000, 3.3333, 4.5000]]])
>>> F.adaptive_max_pool1d(x, 2)  # windows [0, 3) and [2, 5): they overlap when 5 % 2 != 0
tensor([[[3., 5.]]])
>>> y, i = F.max_pool1d(x, 2, return_indices=True)
>>> F.max_unpool1d(y, i, 2, output_size=[5])  # each maximum back in its place
tensor([[[0., 3., 0., 5., 0.]]])
"""

from __future__ import annotations

import math
import numbers

from ...autograd import is_grad_enabled
from ...engine import pooling as engine
from ...engine.geometry import expand_param, output_length_formula
from ...ops.pooling import AdaptiveAvgPool, AvgPool, GatherPlanes, LPPool, MaxUnpool
from ...tensor import Tensor
from ._memo import options_key, remembered

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
]


# ---------------------------------------------------------------------------------------------
# argument checks


def _shape(shape) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _shown(values: tuple):
    """A tuple as the user would have written it: ``2`` for ``(2, 2)``."""
    return values[0] if len(set(values)) == 1 else values


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_input(name: str, input, nd: int, floating: bool) -> None:
    """A Tensor of rank ``nd + 1`` or ``nd + 2``, every non-batch dim non-empty, a usable dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a convlab.Tensor, got {type(input).__name__}")
    shape = input._data.shape
    if len(shape) not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
                         f"but got input of size: {_shape(shape)}")
    first = len(shape) - nd - 1  # the channel dim: only a batch dim may be empty
    for dim in range(first, len(shape)):
        if shape[dim] == 0:
            raise ValueError(f"{name}: Expected input to have non-zero size for non-batch "
                             f"dimensions, but input has sizes {_shape(shape)} with dimension "
                             f"{dim} being empty")
    kind = input._data.dtype.kind
    if kind == "b" or (floating and kind != "f"):
        allowed = "a floating point dtype" if floating else "a floating point or integer dtype"
        raise TypeError(f"{name}: input must have {allowed}, got {input.dtype} "
                        f"(convert with input.float())")


def _positive(name: str, arg: str, values: tuple) -> None:
    if any(v < 1 for v in values):
        raise ValueError(f"{name}: {arg} must be greater than zero, but got {arg}={_shown(values)}")


_WINDOWS: dict = {}  # checked windows by input shape and options (see _memo)


def _window(name: str, nd: int, shape: tuple[int, ...], kernel_size, stride, padding, dilation,
            ceil_mode: bool) -> tuple:
    """Normalized ``(kernel_size, stride, padding, dilation)`` for an input of ``shape``, once
    the windows are known to fit.

    PyTorch's rules: ``stride=None`` (or empty) means ``kernel_size``; ``padding <= k/2``; and at
    least one window along each axis. Remembered per input shape and options.
    """
    key = (name, nd, shape, options_key(kernel_size, stride, padding, dilation, ceil_mode))
    return remembered(_WINDOWS, key, _checked_window, name, nd, shape, kernel_size, stride,
                      padding, dilation, ceil_mode)


def _checked_window(name: str, nd: int, shape: tuple[int, ...], kernel_size, stride, padding,
                    dilation, ceil_mode: bool) -> tuple:
    K = expand_param(name, "kernel_size", kernel_size, nd)
    _positive(name, "kernel_size", K)
    if stride is None or (isinstance(stride, (tuple, list)) and not stride):
        S = K
    else:
        S = expand_param(name, "stride", stride, nd)
        _positive(name, "stride", S)
    P = expand_param(name, "padding", padding, nd)
    if any(p < 0 for p in P):
        raise ValueError(f"{name}: padding must be non-negative, but got padding={_shown(P)}")
    D = expand_param(name, "dilation", dilation, nd)
    _positive(name, "dilation", D)
    first = len(shape) - nd
    for axis, (k, p) in enumerate(zip(K, P)):
        if 2 * p > k:
            raise ValueError(f"{name}: pad should be smaller than or equal to half of kernel "
                             f"size, but got "
                             f"padding={_shown(P)} and kernel_size={_shown(K)} "
                             f"(dim {first + axis}: {p} > {k}/2)")
    I = tuple(shape[first:])
    O = engine.pool_output_size(I, K, S, P, D, ceil_mode)
    for axis, (i, k, s, p, d, o) in enumerate(zip(I, K, S, P, D, O)):
        if o < 1:
            C = shape[first - 1]
            raise ValueError(f"{name}: Given input size: ({'x'.join(map(str, (C,) + I))}). "
                             f"Calculated output size: ({'x'.join(map(str, (C,) + O))}). "
                             f"Output size is too small along dim {first + axis}: "
                             f"{output_length_formula(i, k, s, p, p, d, ceil_mode)}")
    return K, S, P, D


def _recording(input: Tensor) -> bool:
    return is_grad_enabled() and input.requires_grad


def _with_indices(input: Tensor, nd: int, values, indices, return_indices: bool):
    """The pooled Tensor (a gather of ``input`` at ``indices`` when grad is recorded)."""
    out = Tensor._wrap(values) if indices is None else GatherPlanes.apply(
        input, indices, nd, values=values)
    return (out, Tensor._wrap(indices)) if return_indices else out


# ---------------------------------------------------------------------------------------------
# max pooling


def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    _check_input(name, input, nd, floating=False)
    K, S, P, D = _window(name, nd, input._data.shape, kernel_size, stride, padding, dilation,
                         ceil_mode)
    need = bool(return_indices) or _recording(input)
    values, indices = engine.max_pool(input._data, K, S, P, D, bool(ceil_mode), need)
    return _with_indices(input, nd, values, indices, return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows along the last axis: ``y[j] = max_m x[j*s - p + m*d]`` (−∞ padding).

    With ``return_indices``, also the flat index of each maximum in its input row (ties: the
    first; NaN wins), for :func:`max_unpool1d`.

    Shape: ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)`` or ``(C, L_out)``.
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling; indices are flat in each ``(H, W)`` plane: ``h * W + w``.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling; indices are flat in each ``(D, H, W)`` volume.

    Shape: ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)`` or unbatched.
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# ---------------------------------------------------------------------------------------------
# average and LP pooling


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    _check_input(name, input, nd, floating=True)
    K, S, P, _ = _window(name, nd, input._data.shape, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if not _is_int(divisor_override):
            raise TypeError(f"{name}: divisor_override must be an int or None, got "
                            f"{divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"{name}: divisor must be not zero, got divisor_override=0")
    return AvgPool.apply(input, K, S, P, bool(ceil_mode), bool(count_include_pad),
                         divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows along the last axis, with zero padding.

    The divisor is the window clipped to the padded input (``count_include_pad=True``) or only
    its real elements (``False``).

    Shape: ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)`` or ``(C, L_out)``.
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling; ``divisor_override`` replaces every window's divisor.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling.

    Shape: ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)`` or unbatched.
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _lp_pool(name, nd, input, norm_type, kernel_size, stride, ceil_mode):
    _check_input(name, input, nd, floating=True)
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool):
        raise TypeError(f"{name}: norm_type must be a number, got {norm_type!r}")
    if norm_type == 0:
        raise ValueError(f"{name}: norm_type must be non-zero (the output is a 1/norm_type "
                         f"power), got norm_type={norm_type}")
    K, S, P, D = _window(name, nd, input._data.shape, kernel_size, stride, 0, 1, ceil_mode)
    if math.isinf(norm_type):  # the limit p -> ±inf: the max (min) of |x|
        sign = 1 if norm_type > 0 else -1
        out = _max_pool(name, nd, input.abs() * sign, K, S, P, D, ceil_mode, False)
        return out * sign
    return LPPool.apply(input, norm_type, K, S, bool(ceil_mode))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: ``y = (Σ_window x**p) ** (1/p)``, PyTorch's composition.

    ``p = inf`` gives the max of ``|x|``; a window cut short by ``ceil_mode`` is averaged over
    its real elements and scaled by the kernel size (see :class:`convlab.ops.pooling.LPPool`).

    Shape: ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)`` or ``(C, L_out)``.
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-D power-average pooling (see :func:`lp_pool1d`).

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-D power-average pooling (see :func:`lp_pool1d`).

    Shape: ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)`` or unbatched.
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------------------------------------
# adaptive pooling


def _adaptive_size(name: str, nd: int, input: Tensor, output_size) -> tuple:
    """``output_size`` as ``nd`` ints; ``None`` keeps the input's size along that axis."""
    I = tuple(input.shape[input.ndim - nd:])
    if output_size is None or _is_int(output_size):
        items = (output_size,) * nd
    else:
        try:
            items = tuple(output_size)
        except TypeError:
            raise TypeError(f"{name}: output_size must be an int or a tuple of {nd} ints "
                            f"(or None), got {type(output_size).__name__}") from None
        if len(items) != nd:
            raise ValueError(f"{name}: output_size must be an int or a tuple of {nd} ints, "
                             f"got {output_size!r}")
    if not all(o is None or _is_int(o) for o in items):
        raise TypeError(f"{name}: output_size must hold ints (or None), got {output_size!r}")
    O = tuple(i if o is None else int(o) for i, o in zip(I, items))
    if any(o < 0 for o in O):
        raise ValueError(f"{name}: elements of output_size must be greater than or equal to 0, "
                         f"but got output_size={output_size!r}")
    return O


def _adaptive_avg_pool(name, nd, input, output_size):
    _check_input(name, input, nd, floating=True)
    return AdaptiveAvgPool.apply(input, _adaptive_size(name, nd, input, output_size))


def adaptive_avg_pool1d(input, output_size):
    """Mean over ``output_size`` windows ``[floor(j*L/o), ceil((j+1)*L/o))`` covering the row.

    Shape: ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, output_size)`` or ``(C, output_size)``.
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """2-D adaptive average pooling; ``None`` in ``output_size`` keeps that dim.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, *output_size)`` or ``(C, *output_size)``.
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """3-D adaptive average pooling; ``None`` in ``output_size`` keeps that dim.

    Shape: ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, *output_size)`` or unbatched.
    """
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max_pool(name, nd, input, output_size, return_indices):
    _check_input(name, input, nd, floating=True)
    O = _adaptive_size(name, nd, input, output_size)
    need = bool(return_indices) or _recording(input)
    values, indices = engine.adaptive_max_pool(input._data, O, need)
    return _with_indices(input, nd, values, indices, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over ``output_size`` windows ``[floor(j*L/o), ceil((j+1)*L/o))``, and their indices.

    Shape: ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, output_size)`` or ``(C, output_size)``.
    """
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-D adaptive max pooling; indices are flat in each ``(H, W)`` plane.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, *output_size)`` or ``(C, *output_size)``.
    """
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-D adaptive max pooling; indices are flat in each ``(D, H, W)`` volume.

    Shape: ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, *output_size)`` or unbatched.
    """
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)


# ---------------------------------------------------------------------------------------------
# max unpooling


def _unpool_size(name: str, nd: int, input: Tensor, K, S, P, output_size) -> tuple:
    """PyTorch's ``_unpool_output_size``: ``(i - 1)*s + k - 2p`` per axis, or ``output_size``
    (which may also list the leading dims), within ``stride`` of that default."""
    I = tuple(input.shape[input.ndim - nd:])
    default = tuple((i - 1) * s + k - 2 * p for i, k, s, p in zip(I, K, S, P))
    if output_size is None:
        O = default
    else:
        try:
            O = tuple(output_size)
        except TypeError:
            raise TypeError(f"{name}: output_size must be a sequence of ints, got "
                            f"{type(output_size).__name__}") from None
        if len(O) in (input.ndim, nd + 2) and len(O) != nd:
            O = O[len(O) - nd:]
        if len(O) != nd:
            raise ValueError(f"{name}: output_size should be a sequence containing {nd} or "
                             f"{nd + 2} elements, but it has a length of {len(output_size)}")
        if not all(_is_int(o) for o in O):
            raise TypeError(f"{name}: output_size must hold ints, got {output_size!r}")
        for d, (o, lo, s, i, k, p) in enumerate(zip(O, default, S, I, K, P)):
            if not lo - s < o < lo + s:
                raise ValueError(
                    f"{name}: invalid output_size {tuple(O)} (dim {d} must be between "
                    f"{lo - s} and {lo + s}, exclusive: the default ({i} - 1)*{s} + {k} - 2*{p} "
                    f"= {lo}, give or take less than the stride {s})")
    for d, o in enumerate(O):
        if o < 0:
            raise ValueError(f"{name}: output_size must contain non-negative spatial "
                             f"dimensions, but got output_size[{d}]={o} (from "
                             f"({I[d]} - 1)*{S[d]} + {K[d]} - 2*{P[d]})")
    return tuple(int(o) for o in O)


def _max_unpool(name, nd, input, indices, kernel_size, stride, padding, output_size):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a convlab.Tensor, got {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input, "
                         f"but got input of size: {_shape(input.shape)}")
    if input.dtype.numpy.kind == "b":
        raise TypeError(f"{name}: input must have a floating point or integer dtype, got "
                        f"{input.dtype}")
    if not isinstance(indices, Tensor):
        raise TypeError(f"{name}: indices must be a convlab.Tensor, got {type(indices).__name__}")
    if indices.dtype.numpy != "int64":
        raise TypeError(f"{name}: elements in indices should be type int64 but got: "
                        f"{indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ValueError(f"{name}: Expected shape of indices to be same as that of the input "
                         f"tensor ({_shape(input.shape)}) but got indices tensor with shape: "
                         f"{_shape(indices.shape)}")
    K = expand_param(name, "kernel_size", kernel_size, nd)
    _positive(name, "kernel_size", K)
    S = K if stride is None else expand_param(name, "stride", stride, nd)
    _positive(name, "stride", S)
    P = expand_param(name, "padding", padding, nd)
    if any(p < 0 for p in P):
        raise ValueError(f"{name}: padding must be non-negative, but got padding={_shown(P)}")
    O = _unpool_size(name, nd, input, K, S, P, output_size)
    idx = indices._data
    plane = math.prod(O)
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise ValueError(f"{name}: Found an invalid max index: {bad} (output volumes are of "
                         f"size {'x'.join(map(str, O))}, so indices must lie in [0, {plane}))")
    return MaxUnpool.apply(input, idx, O)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of :func:`max_pool1d`: each value put back at its index, zeros elsewhere.

    The output length is ``(L - 1)*s + k - 2p``, or ``output_size`` (within ``stride`` of it).

    Shape: ``(N, C, L)`` or ``(C, L)`` -> ``(N, C, L_out)`` or ``(C, L_out)``.
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of :func:`max_pool2d`.

    Shape: ``(N, C, H, W)`` or ``(C, H, W)`` -> ``(N, C, H_out, W_out)`` or ``(C, H_out, W_out)``.
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of :func:`max_pool3d`.

    Shape: ``(N, C, D, H, W)`` or ``(C, D, H, W)`` -> ``(N, C, D_out, H_out, W_out)`` or unbatched.
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)
