"""Normalization layers: ``BatchNorm1d/2d/3d`` (with running statistics), ``InstanceNorm1d/2d/3d``,
``GroupNorm``, ``LayerNorm``, and the lazy BatchNorm and InstanceNorm layers. The formulas are
in :mod:`convlab.nn.functional.normalization`."""

from __future__ import annotations

import numbers
import warnings

from ... import _creation
from ...tensor import Tensor
from .. import functional as F
from .. import init
from .module import Module
from ..parameter import UninitializedParameter, is_lazy
from .utils import new_parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "GroupNorm", "LayerNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _add_affine(module: Module, shape: tuple, affine: bool, bias: bool, device, dtype) -> None:
    """Register the learned scale ``weight`` and shift ``bias`` of ``shape`` that follow the
    normalization, or None for each that is switched off."""
    module.register_parameter("weight", new_parameter(shape, device, dtype) if affine else None)
    module.register_parameter("bias", new_parameter(shape, device, dtype)
                              if affine and bias else None)


def _reset_affine(module: Module) -> None:
    # weight = 1, bias = 0: the layer starts as a pure normalization
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Normalize each channel over the batch and space, then scale and shift it.

    Training mode uses the batch's statistics and updates the running ones (``momentum``: the
    weight of the newest batch; ``None`` gives the cumulative average over all batches seen).
    Eval mode uses the running statistics, so the output of one sample no longer depends on the
    rest of its batch.
    """

    _nd: int  # spatial dims of a batched input (BatchNorm1d also takes (N, C))

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _add_affine(self, (num_features,), affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", _creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", _creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", _creation.tensor(0))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() != self._nd + 2:
            raise ValueError(f"expected {self._nd + 2}D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            # momentum=None: a cumulative average, the k-th batch weighted 1/k
            factor = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        # batch statistics in training, and in eval when there are no running ones
        use_batch_stats = self.training or self.running_mean is None
        update_running = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if update_running else None,
                            self.running_var if update_running else None, self.weight,
                            self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of ``(N, C)`` or ``(N, C, L)``; statistics per channel ``C``."""

    _nd = 1

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch norm of ``(N, C, H, W)``; statistics per channel over ``N, H, W``."""

    _nd = 2


class BatchNorm3d(_BatchNorm):
    """Batch norm of ``(N, C, D, H, W)``; statistics per channel over ``N, D, H, W``."""

    _nd = 3


class _InstanceNorm(_BatchNorm):
    """Normalize each channel of each sample over its spatial positions, then (``affine``)
    scale and shift per channel. By default it keeps no running statistics, so training and
    eval both normalize with the input's own; ``track_running_stats=True`` keeps them, and eval
    then uses them, as BatchNorm does.

    Shape: ``(N, C, *S)`` or unbatched ``(C, *S)``, output alike.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (self._nd + 1, self._nd + 2):
            raise ValueError(f"expected {self._nd + 1}D or {self._nd + 2}D input (got "
                             f"{input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        unbatched = input.dim() == self._nd + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features:
            warnings.warn(f"input's size at dim={1 - unbatched} does not match num_features "
                          f"({x.shape[1]} vs {self.num_features}).", stacklevel=2)
        use_input_stats = self.training or not self.track_running_stats
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum if self.momentum is not None else 0.0,
                            self.eps)  # momentum=None freezes the running stats, as in PyTorch
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of ``(N, C, L)`` or ``(C, L)``."""

    _nd = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of ``(N, C, H, W)`` or ``(C, H, W)``."""

    _nd = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""

    _nd = 3


class GroupNorm(Module):
    """Normalize each sample's channels in ``num_groups`` groups, then scale and shift per
    channel. Independent of the batch size, so training and eval behave the same.

    Shape: ``(N, C, *S)``, output alike; ``weight``, ``bias (C,)``.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels must be divisible by num_groups, got num_channels="
                             f"{num_channels} and num_groups={num_groups}")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _add_affine(self, (num_channels,), affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(Module):
    """Normalize each sample over its trailing ``normalized_shape`` dims, then scale and shift
    elementwise.

    Shape: ``(*, *normalized_shape)``, output alike; ``weight``, ``bias`` ``normalized_shape``.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _add_affine(self, self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class _LazyNorm:
    """What the lazy BatchNorm and InstanceNorm layers share: built without ``num_features``
    (printed as 0), with the weight, bias and running statistics still without a shape. The
    first input's channel count (or a checkpoint) gives them one; they are initialized, and the
    layer becomes ``cls_to_become``, as in PyTorch. Put before the eager class in the bases.
    """

    cls_to_become: type

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype)
        if affine:
            self.weight = new_parameter(None, device, dtype)
            self.bias = new_parameter(None, device, dtype)
        if track_running_stats:
            for name in ("running_mean", "running_var"):
                self._buffers[name] = UninitializedParameter(requires_grad=False, dtype=dtype)

    def reset_parameters(self) -> None:
        if not is_lazy(self.weight) and not is_lazy(self.running_mean):
            super().reset_parameters()

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        unbatched = isinstance(self, _InstanceNorm) and input.dim() == self._nd + 1
        channel_axis = 0 if unbatched else 1
        self._materialize(input.shape[channel_axis])
        return self.forward(input)  # the eager class's forward, now that the layer is one

    def _materialize(self, num_features: int) -> None:
        """Give every placeholder ``(num_features,)``, initialize, and become eager. A layer
        with no placeholders (no affine, no running statistics) keeps 0, as in PyTorch."""
        if any(is_lazy(t) for t in (self.weight, self.running_mean)):
            self.num_features = num_features
        for p in (self.weight, self.bias):
            if is_lazy(p):
                p.materialize((num_features,))
        self._settle_buffers()
        self.reset_parameters()
        self.__class__ = self.cls_to_become

    def _settle_buffers(self) -> None:
        """The running statistics as plain tensors of ``num_features`` (a checkpoint may have
        filled the placeholders already: their values are kept)."""
        for name in ("running_mean", "running_var"):
            buffer = self._buffers.get(name)
            if buffer is None:
                continue
            if is_lazy(buffer):
                buffer.materialize((self.num_features,))
            self._buffers[name] = Tensor._wrap(buffer._data)

    def _load_from_state_dict(self, state_dict, prefix, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        super()._load_from_state_dict(state_dict, prefix, missing_keys, unexpected_keys,
                                      error_msgs)
        shaped = [t for t in (self.weight, self.running_mean) if t is not None and not is_lazy(t)]
        if shaped:  # the checkpoint gave the layer its size
            self.num_features = shaped[0]._data.shape[0]
            self._settle_buffers()
            for p in (self.weight, self.bias):
                if is_lazy(p):
                    p.materialize((self.num_features,))
            self.__class__ = self.cls_to_become


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    """``BatchNorm1d`` that reads ``num_features`` from its first input's dim 1."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    """``BatchNorm2d`` that reads ``num_features`` from its first input's channels."""

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    """``BatchNorm3d`` that reads ``num_features`` from its first input's channels."""

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyNorm, InstanceNorm1d):
    """``InstanceNorm1d`` that reads ``num_features`` from its first input (PyTorch's lazy
    defaults: ``affine=True, track_running_stats=True``)."""

    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyNorm, InstanceNorm2d):
    """``InstanceNorm2d`` that reads ``num_features`` from its first input (PyTorch's lazy
    defaults: ``affine=True, track_running_stats=True``)."""

    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyNorm, InstanceNorm3d):
    """``InstanceNorm3d`` that reads ``num_features`` from its first input (PyTorch's lazy
    defaults: ``affine=True, track_running_stats=True``)."""

    cls_to_become = InstanceNorm3d
