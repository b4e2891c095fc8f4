"""Convolution, transposed convolution, unfold and fold on Tensors, as ``torch.nn.functional``.

Each function checks its arguments once (:mod:`convlab.engine.geometry`), then runs one
differentiable op (:mod:`convlab.ops.conv`). Deep learning's "convolution" is cross-correlation:
the kernel is not flipped (:mod:`convlab.signal` has both).

The worked example: the input ``[1, 2, 3, 4, 5, 6]`` with kernels of 2s.

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([[[1., 2., 3., 4., 5., 6.]]])  # (N, C_in, L) = (1, 1, 6)
>>> def twos(k, c_in=1, c_out=1):
...     return convlab.full((c_out, c_in, k), 2.)  # (C_out, C_in/groups, k)
>>> F.conv1d(x, twos(1))
tensor([[[ 2.,  4.,  6.,  8., 10., 12.]]])
>>> F.conv1d(x, twos(2))
tensor([[[ 6., 10., 14., 18., 22.]]])
>>> F.conv1d(x, twos(3))
tensor([[[12., 18., 24., 30.]]])

Padding adds zeros on both sides, stride skips windows, dilation spreads the taps:

>>> F.conv1d(x, twos(2), padding=1)  # [0, 1, ..., 6, 0]
tensor([[[ 2.,  6., 10., 14., 18., 22., 12.]]])
>>> F.conv1d(x, twos(2), stride=2)  # windows start at 0, 2, 4
tensor([[[ 6., 14., 22.]]])
>>> F.conv1d(x, twos(2), dilation=2)  # 2*(x[i] + x[i+2])
tensor([[[ 8., 12., 16., 20.]]])
>>> F.conv1d(x, twos(2), padding="same")  # the odd padding element goes at the end
tensor([[[ 6., 10., 14., 18., 22., 12.]]])

With ``groups=2`` each half of the channels has its own kernels:

>>> x2 = convlab.tensor([[[1., 2., 3., 4., 5., 6.], [10., 20., 30., 40., 50., 60.]]])
>>> F.conv1d(x2, twos(2, c_out=2), groups=2)
tensor([[[  6.,  10.,  14.,  18.,  22.],
         [ 60., 100., 140., 180., 220.]]])
>>> F.conv1d(x2, twos(2, c_in=2))  # groups=1: one output channel sees both inputs
tensor([[[ 66., 110., 154., 198., 242.]]])
"""

from __future__ import annotations

import numpy as np

from ...engine import geometry
from ...ops.conv import Conv, ConvTranspose, Fold, Unfold
from ...tensor import Tensor
from ._memo import options_key, remembered

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold"]


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_tensors(name: str, input, weight=None, bias=None) -> None:
    """Every argument a Tensor of float32 or float64, all of one dtype (None skipped).

    It runs on every convolution, so it reads the ndarray's dtype, not ``Tensor.dtype``."""
    first = None
    for arg, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {arg} must be a convlab.Tensor, got {type(t).__name__}")
        if t._data.dtype not in _FLOATS:
            raise TypeError(f"{name}: {arg} must be float32 or float64, got {t.dtype} "
                            f"(convert with {arg}.float())")
        if first is None:
            first = (arg, t)
        elif t._data.dtype != first[1]._data.dtype:
            raise TypeError(f"{name}: {first[0]} is {first[1].dtype} but {arg} is {t.dtype}; "
                            f"use one dtype (e.g. {arg}.to({first[1].dtype}))")


_GEOMETRIES: dict = {}  # checked ConvGeometry by shapes and options (see _memo)


def _conv(name: str, nd: int, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    _check_tensors(name, input, weight, bias)
    bias_shape = None if bias is None else bias._data.shape
    key = (name, nd, input._data.shape, weight._data.shape, bias_shape,
           options_key(stride, padding, dilation, groups))
    G = remembered(_GEOMETRIES, key, geometry.conv_geometry, name, nd, input._data.shape,
                   weight._data.shape, bias_shape, stride, padding, dilation, groups)
    return Conv.apply(input, weight, bias, G)


def _conv_transpose(name: str, nd: int, input, weight, bias, stride, padding, output_padding,
                    groups, dilation) -> Tensor:
    _check_tensors(name, input, weight, bias)
    G = geometry.conv_transpose_geometry(name, nd, input.shape, weight.shape,
                                         None if bias is None else bias.shape,
                                         stride, padding, output_padding, groups, dilation)
    return ConvTranspose.apply(input, weight, bias, G)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution (cross-correlation) over ``input (N, C_in, L)`` or ``(C_in, L)``.

    Shape: ``weight (C_out, C_in/groups, k)``, ``bias (C_out,)``, output
    ``(N, C_out, floor((L + 2p - d*(k-1) - 1)/s) + 1)``. ``padding`` is an int, a tuple,
    ``'valid'``, ``'same'`` or per-side ``((lo, hi),)``. Extension: ``'same'`` also works with
    ``stride > 1`` (TensorFlow's rule, output ``ceil(L / s)``), where PyTorch raises.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) over ``input (N, C_in, H, W)`` or ``(C_in, H, W)``.

    Shape: ``weight (C_out, C_in/groups, kH, kW)``, ``bias (C_out,)``, output
    ``(N, C_out, H_out, W_out)`` with ``floor((i + 2p - d*(k-1) - 1)/s) + 1`` per axis.
    ``padding``: as :func:`conv1d`, per axis (``((top, bottom), (left, right))`` per side).

    >>> import convlab
    >>> x = convlab.ones(1, 3, 10, 10)
    >>> conv2d(x, convlab.ones(8, 3, 3, 3), stride=2, padding="same").shape
    convlab.Size([1, 8, 5, 5])
    >>> conv2d(x, convlab.ones(8, 3, 7, 7), dilation=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: conv2d: kernel 7 dilated to 13 does not fit the padded input 10 along dim 2: ...
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution (cross-correlation) over ``input (N, C_in, D, H, W)`` or unbatched.

    Shape: ``weight (C_out, C_in/groups, kD, kH, kW)``, ``bias (C_out,)``; arguments as
    :func:`conv2d`.
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """1-D transposed convolution: the input gradient of ``conv1d``, as a layer.

    Shape: ``input (N, C_in, L)`` or unbatched, ``weight (C_in, C_out/groups, k)``, ``bias
    (C_out,)``, output length ``(L-1)*s - 2p + d*(k-1) + output_padding + 1``.
    ``output_padding`` (< stride or < dilation) picks among the input lengths that a strided
    ``conv1d`` maps to ``L``. Note the argument order: ``dilation`` comes last, after ``groups``.
    ``padding`` is an int, a tuple or, as an extension, per-side pairs ``((lo, hi),)``; no
    strings, as PyTorch.

    >>> import convlab
    >>> conv_transpose1d(convlab.tensor([[[1., 2., 3.]]]), convlab.ones(1, 1, 2), stride=2)
    tensor([[[1., 1., 2., 2., 3., 3.]]])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution. Shape: ``input (N, C_in, H, W)`` or unbatched,
    ``weight (C_in, C_out/groups, kH, kW)``; arguments as :func:`conv_transpose1d`."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """3-D transposed convolution. Shape: ``input (N, C_in, D, H, W)`` or unbatched,
    ``weight (C_in, C_out/groups, kD, kH, kW)``; arguments as :func:`conv_transpose1d`."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks (im2col): ``(N, C, *S) -> (N, C*prod(K), L)``, L the number of
    blocks, rows ordered channel-major then kernel tap (C order), as PyTorch.

    ``input`` may also be unbatched ``(C, *S)``. Extension: any number of spatial dims, given by
    ``len(kernel_size)`` (an int kernel means 2-D, as PyTorch, or ``input.dim() - 2`` above 4-D).

    >>> import convlab
    >>> unfold(convlab.arange(1., 7.).reshape(1, 1, 2, 3), 2)
    tensor([[[1., 2.],
             [2., 3.],
             [4., 5.],
             [5., 6.]]])
    """
    _check_tensors("unfold", input)
    G = geometry.unfold_geometry("unfold", input.shape, kernel_size, dilation, padding, stride)
    return Unfold.apply(input, G)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks back into an array (col2im), the adjoint of :func:`unfold`:
    ``(N, C*prod(K), L) -> (N, C, *output_size)``; overlapping elements add up.

    >>> import convlab
    >>> fold(convlab.ones(1, 4, 4), (3, 3), 2)  # each position counts its windows
    tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]])
    """
    _check_tensors("fold", input)
    G = geometry.fold_geometry("fold", input.shape, output_size, kernel_size, dilation, padding,
                               stride)
    return Fold.apply(input, G)
