"""Weight initialization, as ``torch.nn.init``: fill a tensor in place, without recording a graph.

Fans, for a weight of shape ``(out, in, *kernel)`` (a Linear weight is ``(out, in)``)::

    receptive = prod(kernel)           (1 for Linear)
    fan_in    = in  * receptive        (for a grouped conv, ``in`` is already C_in / groups)
    fan_out   = out * receptive

The schemes keep the variance of activations (fan_in) or of gradients (fan_out) near constant
from layer to layer:

- Xavier/Glorot: ``std = gain * sqrt(2 / (fan_in + fan_out))``
- Kaiming/He:    ``std = gain / sqrt(fan)``
- a uniform U(-b, b) has ``std = b / sqrt(3)``, so its bound is ``b = sqrt(3) * std``.

All random draws come from ``convlab.manual_seed``'s generator unless one is passed.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from scipy.special import erfinv, ndtr

from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_"]


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The gain that keeps activations' variance after ``nonlinearity``.

    ======================  ====================================
    linear, conv*, sigmoid  1
    tanh                    5/3
    relu                    sqrt(2)
    leaky_relu              sqrt(2 / (1 + negative_slope^2)), negative_slope = param or 0.01
    selu                    3/4
    ======================  ====================================

    >>> calculate_gain("relu")
    1.4142135623730951
    """
    linear = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid"}
    if nonlinearity in linear:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``; see the module docstring."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {list(tensor.shape)})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def _fill_with(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Write ``values`` (an array of the tensor's shape) into ``tensor``."""
    with no_grad():
        return tensor.copy_(Tensor._wrap(values.astype(tensor.dtype.numpy)))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with draws from N(mean, std^2) truncated to ``[a, b]`` (bounds in the tensor's
    units, not in stds: with ``std=0.02`` the default bounds cut nothing in practice).

    Inverse transform sampling: draw the normal CDF's value ``p`` uniformly between the CDF at
    ``a`` and at ``b``, then map it back, ``x = mean + std * sqrt(2) * erfinv(2p - 1)``.
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    low, high = ndtr((a - mean) / std), ndtr((b - mean) / std)  # the CDF at the bounds
    with no_grad():
        tensor.uniform_(2 * low - 1, 2 * high - 1, generator=generator)
    x = mean + std * math.sqrt(2.0) * erfinv(tensor.detach().numpy().astype(np.float64))
    return _fill_with(tensor, np.clip(x, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix: a Linear layer that passes its input on."""
    if tensor.dim() != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape "
                         f"{list(tensor.shape)}")
    return _fill_with(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a conv weight ``(out, in, *kernel)`` so the convolution copies its input: output
    channel ``d`` of each group is input channel ``d`` of it, read at the kernel's centre.
    Channels beyond ``min(out / groups, in)`` stay zero."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got "
                         f"shape {list(tensor.shape)}")
    out_channels, in_channels, *kernel = tensor.shape
    if out_channels % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({out_channels}) must be divisible by groups={groups}")
    per_group = out_channels // groups
    values = np.zeros(tuple(tensor.shape))
    centre = tuple(k // 2 for k in kernel)
    for g in range(groups):
        for d in range(min(per_group, in_channels)):
            values[(g * per_group + d, d) + centre] = 1
    return _fill_with(tensor, values)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _zero_elements(tensor: Tensor) -> bool:
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """U(-b, b) with ``b = sqrt(3) * gain / sqrt(fan)`` (He et al., 2015); ``a`` is the
    negative slope of the leaky ReLU that ``gain`` is computed for.

    Layers call it with ``a=sqrt(5)``: gain = sqrt(2 / (1 + 5)) = sqrt(1/3), so the bound is
    exactly ``1 / sqrt(fan_in)`` (pytorch/pytorch#15314 explains the history).
    """
    if _zero_elements(tensor):
        return tensor
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """N(0, std^2) with ``std = gain / sqrt(fan)``."""
    if _zero_elements(tensor):
        return tensor
    gain = calculate_gain(nonlinearity, a)
    return normal_(tensor, 0.0, gain / math.sqrt(_fan(tensor, mode)), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013): the tensor seen
    as ``(rows, numel / rows)`` has orthonormal rows or columns, whichever are fewer.

    It is the Q of the QR decomposition of a standard normal matrix, with each column's sign
    fixed by R's diagonal so that Q is uniformly distributed.
    """
    if tensor.dim() < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {list(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    with no_grad():
        tensor.normal_(0.0, 1.0, generator=generator)
    flat = tensor.detach().numpy().astype(np.float64).reshape(rows, cols)
    if rows < cols:
        flat = flat.T  # QR of the tall orientation: (max, min)
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill_with(tensor, gain * q.reshape(tuple(tensor.shape)))
