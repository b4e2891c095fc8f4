"""Helpers that layer constructors share: int-or-tuple expansion, new parameters, and the default
initialization of Linear and convolution layers."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

from ... import _dtype
from ..._creation import empty
from ...tensor import device as _device
from .. import init
from ..parameter import Parameter, UninitializedParameter, is_lazy

__all__ = ["_ntuple", "_single", "_pair", "_triple", "_reverse_repeat_tuple", "new_parameter",
           "reset_weight_and_bias", "LazyWeightMixin"]


def _ntuple(n: int, name: str = "parse"):
    """A function that turns an int into an ``n``-tuple and leaves a sequence as a tuple:
    ``_pair(3) == (3, 3)``, ``_pair((1, 2)) == (1, 2)``."""

    def parse(x):
        if isinstance(x, Iterable) and not isinstance(x, str):
            return tuple(x)
        return (x,) * n

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def _reverse_repeat_tuple(t: tuple, n: int) -> tuple:
    """Each element of ``t`` repeated ``n`` times, last element first: per-axis padding
    ``(pH, pW)`` becomes ``F.pad``'s ``(pW, pW, pH, pH)``."""
    return tuple(x for x in reversed(t) for _ in range(n))


def new_parameter(shape, device=None, dtype=None) -> Parameter:
    """A zero-filled Parameter of ``shape`` for a constructor to fill in ``reset_parameters()``;
    ``shape=None`` gives a lazy module's UninitializedParameter."""
    if device is not None:
        _device(device)  # convlab computes on the CPU only: anything else raises
    if dtype is not None and not _dtype.from_numpy_dtype(
            _dtype.to_numpy_dtype(dtype)).is_floating_point:
        raise TypeError(f"parameters must be floating point, got dtype={dtype}")
    if shape is None:
        return UninitializedParameter(dtype=dtype)
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(f"parameter shape must be non-negative ints, got {tuple(shape)}")
    return Parameter(empty(*shape, dtype=dtype))


def reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default initialization of Linear and convolution layers: the weight, then the
    bias, each ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with ``fan_in = weight.size(1) *
    prod(kernel_size)``: ``in_features``, ``(C_in / groups) * prod(k)`` for a convolution,
    ``(C_out / groups) * prod(k)`` for a transposed one.

    The weight goes through ``kaiming_uniform_`` with ``a = sqrt(5)``: gain sqrt(2 / (1 + 5)) =
    sqrt(1/3), bound sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in) (pytorch/pytorch#15314
    tells how this came about).
    """
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
    if bias is not None and fan_in > 0:
        bound = 1 / math.sqrt(fan_in)
        init.uniform_(bias, -bound, bound)


class LazyWeightMixin:
    """What the lazy Linear and convolution layers share: ``weight`` (and ``bias``) start
    without a shape; the first input (``_materialize``) or a checkpoint gives it, and the layer
    then becomes ``cls_to_become`` (None: stays as it is). A class defines
    ``_in_size_from_weight``, which reads its input size back from a loaded weight."""

    cls_to_become: type | None = None  # what a lazy class turns into once it knows its input

    def _materialize(self, weight_shape: tuple, bias_shape: tuple) -> None:
        """Give the parameters their shapes, initialize them, and become ``cls_to_become``."""
        self.weight.materialize(weight_shape)
        if is_lazy(self.bias):
            self.bias.materialize(bias_shape)
        self.reset_parameters()
        self._become_eager()

    def _become_eager(self) -> None:
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def _load_from_state_dict(self, state_dict, prefix, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        was_lazy = is_lazy(self.weight)
        super()._load_from_state_dict(state_dict, prefix, missing_keys, unexpected_keys,
                                      error_msgs)
        if was_lazy and not is_lazy(self.weight):  # the checkpoint gave the weight its shape
            self._in_size_from_weight()
            self._become_eager()
