"""Normalization layers' functions, as ``torch.nn.functional``: batch, instance, group and
layer norm.

All four compute ``(x - mean) / sqrt(var + eps) * weight + bias``; they differ in which
elements share a mean and a (biased) variance:

- ``batch_norm``: per channel, over the batch and all spatial positions ``(N, *S)``;
- ``instance_norm``: per sample and channel, over the spatial positions ``S`` (batch norm of
  each sample on its own);
- ``group_norm``: per sample and group of ``C / num_groups`` channels, over those channels and
  space;
- ``layer_norm``: per sample, over the trailing ``normalized_shape`` dims.

>>> import convlab
>>> import convlab.nn.functional as F
>>> x = convlab.tensor([[1., 2.], [3., 6.]])            # (N, C) = (2, 2)
>>> F.batch_norm(x, None, None, training=True)         # each column: mean 0, variance 1
tensor([[-1.0000, -1.0000],
        [ 1.0000,  1.0000]])
>>> F.layer_norm(x, [2])                               # each row: mean 0, variance 1
tensor([[-1.0000,  1.0000],
        [-1.0000,  1.0000]])
"""

from __future__ import annotations

import numbers

from ...autograd import no_grad
from ...ops.normalization import BatchNorm, GroupNorm, LayerNorm, moments
from ...tensor import Tensor

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm"]


def _check_tensors(name: str, **tensors) -> None:
    for arg, value in tensors.items():
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be a convlab.Tensor, not "
                            f"{type(value).__name__}")


def _check_param(name: str, arg: str, value, shape: tuple) -> None:
    if value is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name}: expected {arg} of shape {list(shape)}, got "
                         f"{list(value.shape)}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of ``(N, C, *S)`` over the batch and space.

    With ``training=True`` the batch's own mean and biased variance are used, and the running
    statistics (when given) are updated in place::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    (``n = N * prod(S)``: the running variance is the unbiased one.) With ``training=False`` the
    running statistics are used instead and nothing is updated.
    """
    _check_tensors("batch_norm", input=input, running_mean=running_mean,
                   running_var=running_var, weight=weight, bias=bias)
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), got "
                         f"input of size {list(input.shape)}")
    C = input.shape[1]
    for arg, value in (("running_mean", running_mean), ("running_var", running_var),
                       ("weight", weight), ("bias", bias)):
        _check_param("batch_norm", arg, value, (C,))
    axes = (0,) + tuple(range(2, input.dim()))
    param_shape = (1, C) + (1,) * (input.dim() - 2)
    x = input._data
    if training:
        n = x.size // C
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        mean, var = moments(x, axes)
        if running_mean is not None:
            rm = running_mean._data
            rm[...] = (1 - momentum) * rm + momentum * mean.reshape(C)
        if running_var is not None:
            rv = running_var._data
            rv[...] = (1 - momentum) * rv + momentum * var.reshape(C) * (n / (n - 1))
        stat_axes = axes
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when "
                             "training=False (they are the statistics evaluation uses)")
        mean = running_mean._data.reshape(param_shape).astype(x.dtype, copy=False)
        var = running_var._data.reshape(param_shape).astype(x.dtype, copy=False)
        stat_axes = None
    return BatchNorm.apply(input, weight, bias, mean, var, eps, param_shape, stat_axes,
                           tuple(input.shape))


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample over its spatial positions (style transfer, GANs:
    the statistics of one image's feature map are its "style").

    It is :func:`batch_norm` of the input seen as one sample with ``N * C`` channels,
    ``(N, C, *S) -> (1, N*C, *S)``. The running statistics, when given, are updated with the
    mean over the batch of the per-instance statistics; ``use_input_stats=False`` normalizes
    with them instead.
    """
    _check_tensors("instance_norm", input=input, running_mean=running_mean,
                   running_var=running_var, weight=weight, bias=bias)
    if input.dim() < 3:
        raise ValueError(f"instance_norm: expected an input (N, C, *S) with spatial dims, got "
                         f"input of size {list(input.shape)}")
    N, C, *S = input.shape
    if use_input_stats and input.numel() // (N * C) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    repeated = [None if t is None else t.repeat(N) for t in (running_mean, running_var)]
    w, b = (None if t is None else t.repeat(N) for t in (weight, bias))  # (C,) -> (N*C,)
    y = batch_norm(input.reshape(1, N * C, *S), *repeated, w, b, use_input_stats, momentum,
                   eps)
    with no_grad():
        for stat, copies in zip((running_mean, running_var), repeated):
            if stat is not None and use_input_stats:
                stat.copy_(copies.view(N, C).mean(0))
    return y.view(input.shape)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each group of ``C / num_groups`` channels of each sample (over those channels
    and space); then scale and shift per channel.

    Shape: ``input (N, C, *S)``, ``weight`` and ``bias (C,)``, output like ``input``.
    """
    _check_tensors("group_norm", input=input, weight=weight, bias=bias)
    if input.dim() < 2:
        raise ValueError(f"group_norm: expected an input of at least 2 dims (N, C, ...), got "
                         f"input of size {list(input.shape)}")
    N, C, *S = input.shape
    if not isinstance(num_groups, numbers.Integral) or num_groups < 1 or C % num_groups:
        raise ValueError(f"Expected number of channels in input to be divisible by num_groups, "
                         f"but got input of shape {list(input.shape)} and num_groups="
                         f"{num_groups}")
    for arg, value in (("weight", weight), ("bias", bias)):
        _check_param("group_norm", arg, value, (C,))
    G = num_groups
    grouped = (N, G, C // G, *S)  # (N, C, *S) seen as (N, G, C/G, *S)
    axes = tuple(range(2, len(grouped)))
    mean, var = moments(input._data.reshape(grouped), axes)
    param_shape = (1, G, C // G) + (1,) * len(S)
    return GroupNorm.apply(input, weight, bias, mean, var, eps, param_shape, axes, grouped)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize each sample over its trailing ``normalized_shape`` dims; then scale and shift
    elementwise (``weight``, ``bias`` of shape ``normalized_shape``)."""
    _check_tensors("layer_norm", input=input, weight=weight, bias=bias)
    shape = ((int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral)
             else tuple(int(n) for n in normalized_shape))
    k = len(shape)
    if k == 0 or input.dim() < k or tuple(input.shape[input.dim() - k:]) != shape:
        raise ValueError(f"layer_norm: Given normalized_shape={list(shape)}, expected input with "
                         f"shape [*, {', '.join(map(str, shape))}], but got input of size "
                         f"{list(input.shape)}")
    for arg, value in (("weight", weight), ("bias", bias)):
        _check_param("layer_norm", arg, value, shape)
    axes = tuple(range(input.dim() - k, input.dim()))
    mean, var = moments(input._data, axes)
    param_shape = (1,) * (input.dim() - k) + shape
    return LayerNorm.apply(input, weight, bias, mean, var, eps, param_shape, axes,
                           tuple(input.shape))
