"""Pooling layers: max, average, LP and adaptive pooling, and max unpooling, 1-d to 3-d.

Thin Modules over :mod:`convlab.nn.functional.pooling`, which holds the formulas. As in
PyTorch, most keep their arguments as given (``MaxPool2d(2)`` stores ``kernel_size=2``) and
``stride=None`` means ``stride = kernel_size``; ``AvgPool1d`` and ``MaxUnpool`` store tuples.
"""

from __future__ import annotations

from .. import functional as F
from .module import Module
from .utils import _ntuple, _single

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


class _MaxPoolNd(Module):
    """The maximum of each window: ``kernel_size`` taps ``dilation`` apart, windows ``stride``
    apart, the input padded with ``padding`` values of -inf on each side.

    Shape: ``(N, C, *S)`` or ``(C, *S)``; per axis
    ``O = floor((S + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1`` (``ceil`` with
    ``ceil_mode``). ``return_indices=True`` also returns where each maximum came from (flat
    indices into each ``S`` plane), for ``MaxUnpool``.
    """

    _nd: int

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self._nd - 1]
        return pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                    ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    __doc__ = _MaxPoolNd.__doc__
    _nd = 1


class MaxPool2d(_MaxPoolNd):
    __doc__ = _MaxPoolNd.__doc__
    _nd = 2


class MaxPool3d(_MaxPoolNd):
    __doc__ = _MaxPoolNd.__doc__
    _nd = 3


class AvgPool1d(Module):
    """The mean of each window of ``(N, C, L)`` or ``(C, L)``; output length as MaxPool1d's
    (without dilation). ``count_include_pad`` counts the zero padding in the divisor."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    """The mean of each window. ``count_include_pad`` counts the zero padding in the divisor;
    ``divisor_override`` replaces the divisor. Shape: as MaxPool (without dilation)."""

    _nd: int

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        pool = (F.avg_pool2d, F.avg_pool3d)[self._nd - 2]
        return pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                    self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    __doc__ = _AvgPoolNd.__doc__
    _nd = 2


class AvgPool3d(_AvgPoolNd):
    __doc__ = _AvgPoolNd.__doc__
    _nd = 3


class _LPPoolNd(Module):
    """``(sum of x^p over each window)^(1/p)``, ``p = norm_type``: p = 1 is sum pooling, and
    large p approaches max pooling."""

    _nd: int

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        pool = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[self._nd - 1]
        return pool(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    __doc__ = _LPPoolNd.__doc__
    _nd = 1


class LPPool2d(_LPPoolNd):
    __doc__ = _LPPoolNd.__doc__
    _nd = 2


class LPPool3d(_LPPoolNd):
    __doc__ = _LPPoolNd.__doc__
    _nd = 3


class _AdaptiveAvgPoolNd(Module):
    """Average pooling to a fixed ``output_size`` (``None`` keeps that dim): output ``j``
    averages input ``[floor(j*i/o), ceil((j+1)*i/o))``."""

    _nd: int

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        pool = (F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d)[self._nd - 1]
        return pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    __doc__ = _AdaptiveAvgPoolNd.__doc__
    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    __doc__ = _AdaptiveAvgPoolNd.__doc__
    _nd = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    __doc__ = _AdaptiveAvgPoolNd.__doc__
    _nd = 3


class _AdaptiveMaxPoolNd(Module):
    """Max pooling to a fixed ``output_size``, windows as AdaptiveAvgPool's."""

    _nd: int

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        pool = (F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d)[self._nd - 1]
        return pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    __doc__ = _AdaptiveMaxPoolNd.__doc__
    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    __doc__ = _AdaptiveMaxPoolNd.__doc__
    _nd = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    __doc__ = _AdaptiveMaxPoolNd.__doc__
    _nd = 3


class _MaxUnpoolNd(Module):
    """The partial inverse of MaxPool: each value goes back to the position its ``indices``
    name, zeros elsewhere. Output per axis ``(S - 1)*stride - 2*padding + kernel_size``, or
    ``forward(input, indices, output_size)``."""

    _nd: int

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        expand = _ntuple(self._nd)
        self.kernel_size = expand(kernel_size)
        self.stride = expand(stride if stride is not None else kernel_size)
        self.padding = expand(padding)

    def forward(self, input, indices, output_size=None):
        unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self._nd - 1]
        return unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    __doc__ = _MaxUnpoolNd.__doc__
    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    __doc__ = _MaxUnpoolNd.__doc__
    _nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    __doc__ = _MaxUnpoolNd.__doc__
    _nd = 3
