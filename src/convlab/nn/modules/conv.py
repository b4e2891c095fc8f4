"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and their lazy forms.

One N-d core (``_ConvNd``) holds the arguments, the weight and bias, their initialization, the
repr and the lazy machinery; ``_Conv`` and ``_ConvTransposeNd`` add the two forwards; the
public classes only say how many spatial dims they have.

Weight shapes (``groups`` splits the channels into independent groups)::

    Conv:           (out_channels, in_channels / groups, *kernel_size)
    ConvTranspose:  (in_channels, out_channels / groups, *kernel_size)

Lazy layers (``LazyConv2d(out_channels, kernel_size)``, or ``Conv2d(None, out_channels,
kernel_size)`` as in Chainer) learn ``in_channels`` from the first input they see: the weight
is created and initialized then, and the layer becomes an ordinary ``Conv2d``.
"""

from __future__ import annotations

import numbers

from ...engine import geometry
from ...tensor import Tensor
from .. import functional as F
from ..parameter import is_lazy
from .module import Module
from .utils import LazyWeightMixin, _ntuple, new_parameter, reset_weight_and_bias

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class _ConvNd(LazyWeightMixin, Module):
    """What every convolution layer shares; see the module docstring."""

    _nd: int  # number of spatial dims, set by the public classes

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size, stride, padding,
                 dilation, transposed: bool, output_padding, groups: int, bias: bool,
                 padding_mode: str, device=None, dtype=None):
        super().__init__()
        name, expand = type(self).__name__, _ntuple(self._nd)
        if not _is_int(groups) or groups <= 0:
            raise ValueError(f"groups must be a positive integer, got groups={groups!r}")
        lazy = in_channels is None
        if lazy:
            in_channels = 0  # as PyTorch's lazy layers print until the first call
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name}: {arg} must be a non-negative int, got {value!r}")
        if in_channels % groups != 0:
            raise ValueError(f"in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} and groups={groups}")
        if out_channels % groups != 0:
            raise ValueError(f"out_channels must be divisible by groups, got out_channels="
                             f"{out_channels} and groups={groups}")
        kernel_size = geometry.expand_param(name, "kernel_size", kernel_size, self._nd)
        stride = geometry.expand_param(name, "stride", stride, self._nd)
        dilation = geometry.expand_param(name, "dilation", dilation, self._nd)
        output_padding = geometry.expand_param(name, "output_padding", output_padding, self._nd)
        for arg, values in (("kernel_size", kernel_size), ("stride", stride),
                            ("dilation", dilation)):
            if any(v < 1 for v in values):
                raise ValueError(f"{name}: {arg} must be positive, got {arg}={values}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'same', 'valid'}")
            if transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple of ints, got "
                                 f"{padding!r} (string padding is for Conv layers)")
            if padding == "same" and padding_mode != "zeros" and any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' with stride {stride} works with "
                                 f"padding_mode='zeros' only, got padding_mode={padding_mode!r}")
        else:
            padding = expand(padding)
            if len(padding) != self._nd or not all(
                    (_is_int(p) and p >= 0) or (isinstance(p, tuple) and len(p) == 2
                                                and all(_is_int(v) and v >= 0 for v in p))
                    for p in padding):
                raise ValueError(f"{name}: padding must be a non-negative int or a tuple of "
                                 f"{self._nd} (ints or (lo, hi) pairs), got {padding!r}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError("padding_mode must be one of {'zeros', 'reflect', 'replicate', "
                             f"'circular'}}, but got padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        shape = None if lazy else self._weight_shape()
        self.weight = new_parameter(shape, device, dtype)
        if bias:
            self.bias = new_parameter(None if lazy else (out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _weight_shape(self) -> tuple:
        per_group = (self.out_channels if self.transposed else self.in_channels) // self.groups
        first = self.in_channels if self.transposed else self.out_channels
        return (first, per_group) + self.kernel_size

    def reset_parameters(self) -> None:
        if is_lazy(self.weight):
            return  # no shape yet: initialized at the first forward call
        # weight, bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = (in_channels/groups) *
        # prod(kernel_size), or (out_channels/groups) * prod(kernel_size) when transposed
        reset_weight_and_bias(self.weight, self.bias)

    # ---- lazy in_channels -------------------------------------------------------------------

    def _infer_in_channels(self, input: Tensor) -> None:
        """At a lazy layer's first call: read ``in_channels`` from ``input``, create and
        initialize the parameters, and become ``cls_to_become``."""
        if not is_lazy(self.weight):
            return
        n = self._nd
        if not isinstance(input, Tensor) or input.dim() not in (n + 1, n + 2):
            shape = input.shape if isinstance(input, Tensor) else type(input).__name__
            raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {shape}")
        in_channels = input.shape[input.dim() - n - 1]
        if in_channels % self.groups != 0:
            raise ValueError(f"in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} (from the input of size {list(input.shape)}) and "
                             f"groups={self.groups}")
        self.in_channels = in_channels
        self._materialize(self._weight_shape(), (self.out_channels,))

    def _in_size_from_weight(self) -> None:
        w = self.weight.shape
        self.in_channels = w[0] if self.transposed else w[1] * self.groups

    # ---- repr -------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):  # a string padding always prints
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class _Conv(_ConvNd):
    """A convolution layer: ``y = x ⋆ weight + bias`` (cross-correlation), per output channel

        y[n, co] = bias[co] + sum over c in co's group of  x[n, c] ⋆ weight[co, c]

    Shape: ``(N, C_in, *S)`` or ``(C_in, *S)`` to ``(N, C_out, *O)``, per axis
    ``O = floor((S + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``.

    ``padding``: an int or tuple, ``'valid'`` (0) or ``'same'`` (output size = input size;
    with ``stride > 1``, a convlab extension: ``ceil(S / stride)``). ``padding_mode``:
    ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
    """

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = _CONV[self._nd]
        if self.padding_mode == "zeros":
            return conv(input, weight, bias, self.stride, self.padding, self.dilation,
                        self.groups)
        # pad with the mode first, then convolve without padding
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a convlab.Tensor, got "
                            f"{type(input).__name__}")
        pairs = geometry.conv_geometry(type(self).__name__, self._nd, input.shape, weight.shape,
                                       None, self.stride, self.padding, self.dilation,
                                       self.groups).padding
        widths = tuple(v for lo, hi in reversed(pairs) for v in (lo, hi))  # last dim first
        return conv(F.pad(input, widths, mode=self.padding_mode), weight, bias, self.stride, 0,
                    self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        self._infer_in_channels(input)
        return self._conv_forward(input, self.weight, self.bias)


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution layer: the input gradient of a convolution, used to upsample.

    Shape: ``(N, C_in, *S)`` or ``(C_in, *S)`` to ``(N, C_out, *O)``, per axis
    ``O = (S-1)*stride - 2*padding + dilation*(kernel_size-1) + output_padding + 1``.
    ``forward(input, output_size)`` picks ``output_padding`` to reach ``output_size``.
    """

    def __init__(self, in_channels: int | None, out_channels: int, kernel_size, stride=1,
                 padding=0, output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._infer_in_channels(input)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = geometry.resolve_output_padding(
                type(self).__name__, self._nd, input.shape, output_size, self.stride,
                self.padding, self.kernel_size, self.dilation)
        return _CONV_TRANSPOSE[self._nd](input, self.weight, self.bias, self.stride,
                                         self.padding, output_padding, self.groups,
                                         self.dilation)


class Conv1d(_Conv):
    __doc__ = _Conv.__doc__
    _nd = 1


class Conv2d(_Conv):
    __doc__ = _Conv.__doc__
    _nd = 2


class Conv3d(_Conv):
    __doc__ = _Conv.__doc__
    _nd = 3


class ConvTranspose1d(_ConvTransposeNd):
    __doc__ = _ConvTransposeNd.__doc__
    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    __doc__ = _ConvTransposeNd.__doc__
    _nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    __doc__ = _ConvTransposeNd.__doc__
    _nd = 3


class _LazyConv:
    """``LazyConvNd(out_channels, kernel_size, ...)``: ``ConvNd`` without ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(None, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)


class _LazyConvTranspose:
    """``LazyConvTransposeNd(out_channels, kernel_size, ...)``: ``ConvTransposeNd`` without
    ``in_channels``."""

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__(None, out_channels, kernel_size, stride, padding, output_padding,
                         groups, bias, dilation, padding_mode, device, dtype)


class LazyConv1d(_LazyConv, Conv1d):
    __doc__ = _LazyConv.__doc__
    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    __doc__ = _LazyConv.__doc__
    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    __doc__ = _LazyConv.__doc__
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    __doc__ = _LazyConvTranspose.__doc__
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    __doc__ = _LazyConvTranspose.__doc__
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    __doc__ = _LazyConvTranspose.__doc__
    cls_to_become = ConvTranspose3d
