"""ONNX operators as convlab computations: one function per operator, built from differentiable ops.

Each function takes the node (for its attributes, opset and output count) and the node's inputs as
Tensors (``None`` for an omitted optional input) and returns a Tensor or a tuple of Tensors, one per
output. Because every function is written with ``convlab.nn.functional`` and Tensor methods, the
gradient of an imported graph comes from convlab's autograd with nothing written here.

Inputs that ONNX uses as *data about shapes* (``Reshape``'s shape, ``Slice``'s starts, the axes of
the reductions since opset 13/18) are read as plain integers with :func:`ints`; their gradient is
zero by definition. Where an operator moved an attribute to an input across opsets (Squeeze, Split,
Slice, Pad, Clip, the reductions), the input is used when given and the attribute otherwise, which
reads every opset from 7 on.
"""

from __future__ import annotations

import math

import numpy as np

import convlab
import convlab.nn.functional as F
from convlab._dtype import from_numpy_dtype

OPS = {}


def op(*names):
    """Register the decorated function as the implementation of the ONNX operators ``names``."""
    def register(fn):
        for name in names:
            OPS[name] = fn
        return fn
    return register


def ints(t) -> list[int]:
    """The integer values of a shape-like input (a Tensor, array or list) as a Python list."""
    if t is None:
        return None
    values = t.detach().numpy() if isinstance(t, convlab.Tensor) else np.asarray(t)
    return [int(v) for v in values.reshape(-1)]


def const(array, like=None):
    """A constant Tensor (no gradient) from a NumPy array, in ``like``'s dtype when given."""
    array = np.asarray(array)
    if like is not None:
        array = array.astype(like.detach().numpy().dtype)
    return convlab.from_numpy(np.array(array, order="C"))  # ascontiguousarray would make 0-d 1-d


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def spatial_pads(node, x_shape, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    """(begin, end) padding of each spatial axis from ``pads`` or ``auto_pad``.

    SAME_* pads so that output = ceil(input / stride): total = max((O - 1)*S + (K - 1)*D + 1 - I, 0),
    split in half with the odd element at the end (SAME_UPPER) or at the beginning (SAME_LOWER).
    """
    n = len(kernel)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i, k, s, d in zip(x_shape[2:], kernel, strides, dilations):
            total = max((math.ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0)
            small = total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else total - small)
            end.append(total - small if auto_pad == "SAME_UPPER" else small)
        return begin, end
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    pads = node.attr("pads", [0] * (2 * n))
    return list(pads[:n]), list(pads[n:])


def _torch_pad_list(begin, end) -> list[int]:
    """ONNX's (begin..., end...) per axis in order -> F.pad's (last_begin, last_end, ...) list."""
    widths = []
    for b, e in zip(reversed(begin), reversed(end)):
        widths += [b, e]
    return widths


def _by_rank(name: str, n: int):
    if n not in (1, 2, 3):
        raise NotImplementedError(f"{name} on {n} spatial dimensions: convlab has 1d, 2d and 3d")
    return getattr(F, f"{name}{n}d")


# --- convolution -------------------------------------------------------------------------------

def _in_float32(fn):
    """Run ``fn(node, *tensors)`` in float32 when its inputs are float16 (convlab's convolution
    computes in float32 and float64), and give the result back in float16, as ONNX's kernels do."""
    def wrapped(node, *tensors):
        if tensors[0].dtype is not convlab.float16:  # ONNX gives x, w and b one type
            return fn(node, *tensors)
        widened = [t.to(convlab.float32) if t is not None and t.dtype == convlab.float16 else t
                   for t in tensors]
        return fn(node, *widened).to(convlab.float16)
    wrapped.__doc__ = fn.__doc__
    return wrapped


@op("Conv")
@_in_float32
def conv(node, x, w, b=None):
    """y = conv(x, w) + b. x: (N, C_in, *I), w: (C_out, C_in/group, *K) -> (N, C_out, *O).

    F.conv*d's arguments depend only on the node's attributes and the two shapes: they are worked
    out once per pair of shapes and kept in ``node.memo``."""
    key = ("Conv", x.shape, w.shape)
    arguments = node.memo.get(key)
    if arguments is None:
        if len(node.memo) >= 64:  # a program that keeps feeding new shapes starts it over
            node.memo.clear()
        arguments = node.memo[key] = conv_arguments(node, x.shape, w.shape)
    convolve, options = arguments
    return convolve(x, w, b, **options)


def conv_arguments(node, x_shape, w_shape):
    """(F.conv*d, its keyword arguments) for Conv ``node`` on these shapes; pads that differ
    between the two sides of an axis as F.conv*d's per-side padding ((begin, end) per axis)."""
    kernel = list(w_shape[2:])
    n = len(kernel)
    strides = node.attr("strides", [1] * n)
    dilations = node.attr("dilations", [1] * n)
    begin, end = spatial_pads(node, x_shape, kernel, strides, dilations)
    padding = begin if begin == end else tuple(zip(begin, end))
    return _by_rank("conv", n), dict(stride=strides, padding=padding, dilation=dilations,
                                     groups=node.attr("group", 1))


@op("ConvTranspose")
@_in_float32
def conv_transpose(node, x, w, b=None):
    """y = conv_transpose(x, w) + b, then cropped by pads (or grown by output_padding).

    The full output along an axis has (I - 1)*S + (K - 1)*D + 1 elements; ONNX's output is that
    minus pads_begin and pads_end plus output_padding at the end. With ``output_shape`` (or SAME_*)
    the pads are derived: total = full + output_padding - output_shape.
    """
    kernel = list(w.shape[2:])
    n = len(kernel)
    strides = node.attr("strides", [1] * n)
    dilations = node.attr("dilations", [1] * n)
    out_pad = node.attr("output_padding", [0] * n)
    begin, end = transposed_pads(node, x.shape, kernel, strides, dilations, out_pad)
    y = _by_rank("conv_transpose", n)(x, w, None, stride=strides, groups=node.attr("group", 1),
                                      dilation=dilations)
    # negative widths crop: remove pads at both ends, add output_padding zeros at the end
    y = F.pad(y, _torch_pad_list([-p for p in begin], [p - e for p, e in zip(out_pad, end)]))
    if b is not None:
        y = y + b.reshape(1, -1, *([1] * n))
    return y


def transposed_pads(node, x_shape, kernel, strides, dilations, out_pad):
    """ConvTranspose's (begin, end) crop of each spatial axis: ``pads``, or derived from
    ``output_shape`` (or SAME_*) as total = full + output_padding - output_shape, where the full
    output has (I - 1)*S + (K - 1)*D + 1 elements."""
    n = len(kernel)
    full = [(i - 1) * s + (k - 1) * d + 1 for i, s, k, d in zip(x_shape[2:], strides, kernel, dilations)]
    auto_pad = node.attr("auto_pad", "NOTSET")
    output_shape = node.attr("output_shape", None)
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [i * s for i, s in zip(x_shape[2:], strides)]
    if output_shape is None:
        pads = node.attr("pads", [0] * (2 * n))
        return list(pads[:n]), list(pads[n:])
    begin, end = [], []
    for f, p, o in zip(full, out_pad, list(output_shape)[-n:]):
        total = f + p - o
        if auto_pad == "SAME_UPPER":
            begin.append(total // 2)
            end.append(total - total // 2)
        else:
            begin.append(total - total // 2)
            end.append(total // 2)
    return begin, end


# --- pooling -------------------------------------------------------------------------------------

def pool_geometry(node, x_shape):
    """Window, strides, dilations, pads (begin, end) and, per axis, the zeros to add past the end
    so that the last window fits.

    out = floor_or_ceil((I + pad_begin + pad_end - ((K - 1)*D + 1)) / S) + 1, and in ceil_mode a
    last window that would start past the input and its leading padding is dropped (ONNX's rule,
    and PyTorch's).
    """
    kernel = list(node.attr("kernel_shape"))
    n = len(kernel)
    strides = node.attr("strides", [1] * n)
    dilations = node.attr("dilations", [1] * n)
    begin, end = spatial_pads(node, x_shape, kernel, strides, dilations)
    ceil_mode = node.attr("ceil_mode", 0)
    extra = []
    for i, k, s, d, b, e in zip(x_shape[2:], kernel, strides, dilations, begin, end):
        span = (k - 1) * d + 1
        room = i + b + e - span
        out = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (out - 1) * s >= i + b:
            out -= 1
        extra.append(max((out - 1) * s + span - (i + b + e), 0))
    return kernel, strides, dilations, begin, end, extra


def _window_sum(x, kernel, strides, dilations):
    """Sum over each (dilated) window of an already padded x: a depthwise convolution with ones.

    x: (N, C, *I) -> (N, C, *O); a learner can read pooling as the convolution it is.
    """
    C = x.shape[1]
    ones = convlab.ones(C, 1, *kernel, dtype=x.dtype)
    return _by_rank("conv", len(kernel))(x, ones, None, stride=strides, dilation=dilations, groups=C)


def torch_pool_padding(node, geometry) -> list[int] | None:
    """The ``padding`` of PyTorch's pooling (max_pool*d, avg_pool*d) for the window geometry of a
    MaxPool or AveragePool node, or None where PyTorch has no such geometry: pads that differ
    between the two ends of an axis or exceed half the kernel, or a dilated average (avg_pool*d
    has no dilation). ceil_mode's last window follows the same rule in both (see
    pool_geometry)."""
    kernel, _, dilations, begin, end, _ = geometry
    if begin != end or any(2 * p > k for p, k in zip(begin, kernel)):
        return None
    if node.op_type == "AveragePool" and any(d != 1 for d in dilations):
        return None
    return begin


def _flat_indices(node, where: np.ndarray, plane_shape, begin, x_shape) -> np.ndarray:
    """ONNX's indices of MaxPool's maxima from ``where``, their flat positions in each (padded)
    plane of ``plane_shape``: row-major over the whole of x (or column-major over H, W when
    storage_order = 1), the ``begin`` padding taken off."""
    coords = np.unravel_index(where, plane_shape)
    coords = [c - b for c, b in zip(coords, begin)]
    if node.attr("storage_order", 0) == 1:
        flat = np.ravel_multi_index(tuple(reversed(coords)), tuple(reversed(x_shape[2:])))
    else:
        flat = np.ravel_multi_index(tuple(coords), tuple(x_shape[2:]))
    N, C = x_shape[:2]
    plane = int(np.prod(x_shape[2:]))
    base = (np.arange(N)[:, None] * C + np.arange(C)[None, :]) * plane
    return (flat + base.reshape(N, C, *([1] * (len(x_shape) - 2)))).astype(np.int64)


@op("MaxPool")
def max_pool(node, x):
    """Max over each window; the optional second output holds the flat index of each maximum in x
    (row-major over the whole tensor, or column-major over H, W when storage_order = 1).

    Where PyTorch has the same window geometry, F.max_pool*d pools directly (asking for indices
    only when the node has the second output); otherwise x is padded with -inf (pads, then what
    the last ceil_mode window needs), and the pooling runs without padding."""
    geometry = kernel, strides, dilations, begin, end, extra = pool_geometry(node, x.shape)
    n = len(kernel)
    indices = node.n_outputs > 1
    padding = torch_pool_padding(node, geometry)
    if padding is not None:
        pooled = _by_rank("max_pool", n)(x, kernel, strides, padding, dilations,
                                         ceil_mode=bool(node.attr("ceil_mode", 0)),
                                         return_indices=indices)
        if not indices:
            return pooled
        y, where = pooled
        plane_shape, begin = x.shape[2:], [0] * n
    else:
        tail = [e + x_ for e, x_ in zip(end, extra)]
        padded = F.pad(x, _torch_pad_list(begin, tail), value=-math.inf)
        pooled = _by_rank("max_pool", n)(padded, kernel, strides, 0, dilations,
                                         return_indices=indices)
        if not indices:
            return pooled
        y, where = pooled
        plane_shape = padded.shape[2:]
    return y, const(_flat_indices(node, where.detach().numpy(), plane_shape, begin, x.shape))


def _window_count(x, geometry, include_pad: bool):
    """How many entries each window averages: real ones, or real and padding (not the zeros added
    for ceil_mode's last window)."""
    kernel, strides, dilations, begin, end, extra = geometry
    mask = convlab.ones(1, 1, *x.shape[2:], dtype=x.dtype)
    if include_pad:
        mask = F.pad(mask, _torch_pad_list(begin, end), value=1.0)
        mask = F.pad(mask, _torch_pad_list([0] * len(kernel), extra))
    else:
        mask = F.pad(mask, _torch_pad_list(begin, [e + x_ for e, x_ in zip(end, extra)]))
    return _window_sum(mask, kernel, strides, dilations)


@op("AveragePool")
def average_pool(node, x):
    """Mean over each window: the window sum divided by the count of entries. ONNX counts only real
    entries by default (count_include_pad = 0); PyTorch's default counts the padding too.

    Where PyTorch has the same geometry (see torch_pool_padding) F.avg_pool*d computes it;
    otherwise the sum is a convolution with ones over the padded x."""
    geometry = kernel, strides, dilations, begin, end, extra = pool_geometry(node, x.shape)
    padding = torch_pool_padding(node, geometry)
    if padding is not None:
        return _by_rank("avg_pool", len(kernel))(
            x, kernel, strides, padding, ceil_mode=bool(node.attr("ceil_mode", 0)),
            count_include_pad=bool(node.attr("count_include_pad", 0)))
    padded = F.pad(x, _torch_pad_list(begin, [e + x_ for e, x_ in zip(end, extra)]))
    total = _window_sum(padded, kernel, strides, dilations)
    return total / _window_count(x, geometry, bool(node.attr("count_include_pad", 0)))


@op("LpPool")
def lp_pool(node, x):
    """(sum over the window of |x|^p)^(1/p)."""
    kernel, strides, dilations, begin, end, extra = pool_geometry(node, x.shape)
    p = node.attr("p", 2)
    padded = F.pad(x.abs() ** p, _torch_pad_list(begin, [e + x_ for e, x_ in zip(end, extra)]))
    return _window_sum(padded, kernel, strides, dilations) ** (1.0 / p)


@op("GlobalAveragePool")
def global_average_pool(node, x):
    """The mean of each channel's plane: adaptive average pooling to size 1 on 1 to 3 spatial
    axes, which takes a third to two thirds of the time of a mean over those axes (one core:
    1x104x3x96 34 -> 23 us, 8x200x2x96 117 -> 46 us, 8x2048x7x7 558 -> 99 us)."""
    if 1 <= x.dim() - 2 <= 3:
        return _by_rank("adaptive_avg_pool", x.dim() - 2)(x, 1)
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


@op("GlobalMaxPool")
def global_max_pool(node, x):
    return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)


@op("GlobalLpPool")
def global_lp_pool(node, x):
    p = node.attr("p", 2)
    return (x.abs() ** p).sum(dim=tuple(range(2, x.dim())), keepdim=True) ** (1.0 / p)


# --- normalization -------------------------------------------------------------------------------

@op("BatchNormalization")
def batch_norm(node, x, scale, bias, mean, var):
    """y = scale * (x - mean) / sqrt(var + eps) + bias, per channel (axis 1).

    In training mode (opset 14+) the batch statistics normalize, and the running ones come back as
    mean * momentum + batch_mean * (1 - momentum): ONNX's momentum is 1 minus PyTorch's.
    """
    eps = node.attr("epsilon", 1e-5)
    if not node.attr("training_mode", 0):
        return F.batch_norm(x, mean, var, scale, bias, training=False, eps=eps)
    dims = (0,) + tuple(range(2, x.dim()))
    per_channel = (1, -1) + (1,) * (x.dim() - 2)  # (C,) -> (1, C, 1, ...)
    batch_mean = x.mean(dim=dims)
    centered = x - batch_mean.reshape(per_channel)
    batch_var = (centered ** 2).mean(dim=dims)
    # written out rather than F.batch_norm, which takes its statistics as constants
    y = centered / (batch_var.reshape(per_channel) + eps).sqrt() * scale.reshape(per_channel)
    y = y + bias.reshape(per_channel)
    momentum = node.attr("momentum", 0.9)
    return (y, mean * momentum + batch_mean * (1 - momentum),
            var * momentum + batch_var * (1 - momentum))[:node.n_outputs]


@op("InstanceNormalization")
def instance_norm(node, x, scale, bias):
    return F.instance_norm(x, weight=scale, bias=bias, eps=node.attr("epsilon", 1e-5))


@op("LayerNormalization")
def layer_norm(node, x, scale, bias=None):
    """Normalize over the axes from ``axis`` to the last; the extra outputs are the mean and
    1/std, kept with size 1 along the normalized axes."""
    axis = _axis(node.attr("axis", -1), x.dim())
    dims = tuple(range(axis, x.dim()))
    eps = node.attr("epsilon", 1e-5)
    mean = x.mean(dim=dims, keepdim=True)
    inv_std = 1.0 / (((x - mean) ** 2).mean(dim=dims, keepdim=True) + eps).sqrt()
    y = (x - mean) * inv_std * scale
    if bias is not None:
        y = y + bias
    return (y, mean, inv_std)[:node.n_outputs]


@op("GroupNormalization")
def group_norm(node, x, scale, bias):
    """Normalize each group of channels; scale and bias are per channel (opset 21) or, in opset
    18, per group (then repeated over the group's channels)."""
    groups = node.attr("num_groups")
    if scale.numel() == groups and x.shape[1] != groups:
        scale = scale.repeat_interleave(x.shape[1] // groups)
        bias = bias.repeat_interleave(x.shape[1] // groups)
    return F.group_norm(x, groups, scale, bias, eps=node.attr("epsilon", 1e-5))


@op("RMSNormalization")
def rms_norm(node, x, scale):
    """x / sqrt(mean of x^2 over the axes from ``axis`` on + epsilon) * scale."""
    axis = _axis(node.attr("axis", -1), x.dim())
    dims = tuple(range(axis, x.dim()))
    return x / ((x * x).mean(dim=dims, keepdim=True) + node.attr("epsilon", 1e-5)).sqrt() * scale


@op("LRN")
def lrn(node, x):
    """y = x / (bias + alpha/size * sum of x^2 over the size channels around c)^beta."""
    size = node.attr("size")
    square = F.pad(x * x, [0, 0] * (x.dim() - 2) + [(size - 1) // 2, size // 2])
    window = sum(square[:, i:i + x.shape[1]] for i in range(size))
    return x / (node.attr("bias", 1.0) + node.attr("alpha", 1e-4) / size * window) ** node.attr("beta", 0.75)


# --- dense ---------------------------------------------------------------------------------------

@op("Gemm")
def gemm(node, a, b, c=None):
    """Y = alpha * A' @ B' + beta * C, where A' is A or its transpose (transA), B' likewise."""
    a = a.t() if node.attr("transA", 0) else a
    b = b.t() if node.attr("transB", 0) else b
    y = node.attr("alpha", 1.0) * (a @ b)
    if c is not None:
        y = y + node.attr("beta", 1.0) * c
    return y


@op("MatMul")
def matmul(node, a, b):
    return convlab.matmul(a, b)


# --- activations ---------------------------------------------------------------------------------

@op("LeakyRelu")
def leaky_relu(node, x):
    return F.leaky_relu(x, node.attr("alpha", 0.01))


@op("PRelu")
def prelu(node, x, slope):
    """x where x >= 0, else slope * x. Before opset 7 a 1-D slope is per channel (axis 1)."""
    if node.opset < 7 and slope.dim() == 1 and x.dim() > 2:
        slope = slope.reshape(-1, *([1] * (x.dim() - 2)))
    return convlab.where(x >= 0, x, x * slope)


@op("Elu")
def elu(node, x):
    return F.elu(x, node.attr("alpha", 1.0))


@op("Selu")
def selu(node, x):
    """gamma * elu(x, alpha), ONNX's defaults being SELU's fixed constants."""
    alpha = node.attr("alpha", 1.67326319217681884765625)
    return node.attr("gamma", 1.05070102214813232421875) * F.elu(x, alpha)


@op("HardSigmoid")
def hard_sigmoid(node, x):
    """max(0, min(1, alpha * x + beta)): ONNX's alpha 0.2 differs from PyTorch's 1/6."""
    return (node.attr("alpha", 0.2) * x + node.attr("beta", 0.5)).clamp(0.0, 1.0)


@op("Gelu")
def gelu(node, x):
    return F.gelu(x, approximate=node.attr("approximate", "none"))


@op("Clip")
def clip(node, x, low=None, high=None):
    """Clamp to [min, max]: attributes until opset 11, inputs since."""
    low = low if low is not None else node.attr("min", None)
    high = high if high is not None else node.attr("max", None)
    if isinstance(low, convlab.Tensor):
        low = low.item()
    if isinstance(high, convlab.Tensor):
        high = high.item()
    if low is None and high is None:
        return x
    return x.clamp(low, high)


@op("Celu")
def celu(node, x):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    alpha = node.attr("alpha", 1.0)
    return F.elu(x / alpha) * alpha


@op("ThresholdedRelu")
def thresholded_relu(node, x):
    return convlab.where(x > node.attr("alpha", 1.0), x, convlab.zeros_like(x))


@op("Swish")
def swish(node, x):
    return x * convlab.sigmoid(node.attr("alpha", 1.0) * x)


@op("Shrink")
def shrink(node, x):
    """x + bias below -lambd, x - bias above lambd, 0 between."""
    lambd, bias = node.attr("lambd", 0.5), node.attr("bias", 0.0)
    zero = convlab.zeros_like(x)
    return convlab.where(x < -lambd, x + bias, convlab.where(x > lambd, x - bias, zero))


@op("Hardmax")
def hardmax(node, x):
    """1 at the first maximum along axis, 0 elsewhere (before opset 13: of the 2-D coercion)."""
    values = x.detach().numpy()
    if node.opset < 13:
        axis = _axis(node.attr("axis", 1), x.dim())
        rows = values.reshape(int(np.prod(values.shape[:axis])), -1)
        out = np.zeros_like(rows)
        out[np.arange(rows.shape[0]), rows.argmax(axis=1)] = 1
        return const(out.reshape(values.shape))
    axis = _axis(node.attr("axis", -1), x.dim())
    out = np.zeros_like(values)
    np.put_along_axis(out, np.expand_dims(values.argmax(axis=axis), axis), 1, axis=axis)
    return const(out)


@op("Softmax", "LogSoftmax")
def softmax(node, x):
    """Before opset 13 ONNX flattens x to 2-D at ``axis`` (default 1) and normalizes each row;
    since 13 it normalizes along ``axis`` (default -1) as PyTorch does."""
    fn = F.softmax if node.op_type == "Softmax" else F.log_softmax
    if node.opset >= 13:
        return fn(x, dim=node.attr("axis", -1))
    axis = _axis(node.attr("axis", 1), x.dim())
    if axis == x.dim() - 1:  # the rows are already the last axis (a classifier's (N, classes))
        return fn(x, dim=axis)
    rows = int(np.prod(x.shape[:axis]))
    return fn(x.reshape(rows, -1), dim=1).reshape(x.shape)


# --- elementwise -----------------------------------------------------------------------------------

_BINARY = {"Add": lambda a, b: a + b, "Sub": lambda a, b: a - b, "Mul": lambda a, b: a * b,
           "Pow": lambda a, b: a ** b, "Equal": lambda a, b: a == b, "Less": lambda a, b: a < b,
           "Greater": lambda a, b: a > b, "LessOrEqual": lambda a, b: a <= b,
           "GreaterOrEqual": lambda a, b: a >= b, "And": lambda a, b: a & b,
           "Or": lambda a, b: a | b, "Xor": lambda a, b: a ^ b}


@op(*_BINARY)
def binary(node, a, b):
    """Elementwise with NumPy broadcasting (ONNX's since opset 7); Pow keeps the base's dtype."""
    y = _BINARY[node.op_type](a, b)
    if node.op_type == "Pow" and y.dtype != a.dtype:
        y = y.to(a.dtype)
    return y


@op("Div")
def div(node, a, b):
    """a / b; integer division truncates toward zero, as ONNX (C) does."""
    if a.dtype.is_floating_point:
        return a / b
    p, q = a.detach().numpy(), b.detach().numpy()
    return const((np.abs(p) // np.abs(q) * np.sign(p) * np.sign(q)).astype(p.dtype))


_UNARY = {"Neg": lambda x: -x, "Abs": lambda x: x.abs(), "Exp": lambda x: x.exp(),
          "Log": lambda x: x.log(), "Sqrt": lambda x: x.sqrt(), "Reciprocal": lambda x: 1 / x,
          "Floor": lambda x: x.floor(), "Ceil": lambda x: x.ceil(), "Erf": lambda x: convlab.erf(x),
          "Sin": lambda x: x.sin(), "Cos": lambda x: x.cos(), "Sign": lambda x: x.sign(),
          "Not": lambda x: ~x, "Round": lambda x: x.round(), "Identity": lambda x: x,
          "IsNaN": lambda x: x.isnan(), "Sinh": lambda x: x.sinh(), "Cosh": lambda x: x.cosh(),
          "Relu": F.relu, "Sigmoid": convlab.sigmoid, "Tanh": convlab.tanh, "Softplus": F.softplus,
          "Softsign": lambda x: x / (1 + x.abs()), "HardSwish": F.hardswish}


@op(*_UNARY)
def unary(node, x):
    return _UNARY[node.op_type](x)


@op("IsInf")
def is_inf(node, x):
    infinite = x.isinf()
    if not node.attr("detect_positive", 1):
        infinite = infinite & (x < 0)
    if not node.attr("detect_negative", 1):
        infinite = infinite & (x > 0)
    return infinite


@op("LpNormalization")
def lp_normalization(node, x):
    """x / ||x||_p along axis (p = 1 or 2)."""
    axis, p = node.attr("axis", -1), node.attr("p", 2)
    norm = x.abs().sum(dim=axis, keepdim=True) if p == 1 else (x * x).sum(dim=axis, keepdim=True).sqrt()
    return x / (norm + (norm == 0).to(norm.dtype))  # a zero vector stays zero


@op("Sum", "Mean", "Max", "Min")
def variadic(node, *xs):
    """Elementwise over any number of broadcast inputs."""
    y = xs[0]
    for x in xs[1:]:
        if node.op_type in ("Sum", "Mean"):
            y = y + x
        else:
            y = convlab.maximum(y, x) if node.op_type == "Max" else convlab.minimum(y, x)
    return y / len(xs) if node.op_type == "Mean" else y


@op("Mod")
def mod(node, a, b):
    """Remainder with the divisor's sign (fmod = 0, Python's %) or the dividend's (fmod = 1, C's);
    with a gradient to carry, a - q * b keeps it (q = floor or trunc of a / b, constant almost
    everywhere)."""
    truncate = bool(node.attr("fmod", 0))
    if a.requires_grad or b.requires_grad:
        q = (a / b).trunc() if truncate else (a / b).floor()
        return a - q.detach() * b
    p, d = a.detach().numpy(), b.detach().numpy()
    return const(np.fmod(p, d) if truncate else np.mod(p, d))


@op("Where")
def where(node, condition, a, b):
    return convlab.where(condition, a, b)


# --- shapes --------------------------------------------------------------------------------------

@op("DepthToSpace", "SpaceToDepth")
def depth_space(node, x):
    """Move (block x block) groups of channels into space or back: (N, C*b*b, H, W) <-> (N, C, H*b,
    W*b). DCR mode orders the channels as (b, b, C), CRD mode (PyTorch's pixel_shuffle) as
    (C, b, b)."""
    b = node.attr("blocksize")
    N, C, H, W = x.shape
    if node.op_type == "SpaceToDepth":
        y = x.reshape(N, C, H // b, b, W // b, b)
        crd = node.attr("mode", "DCR") == "CRD"
        y = y.permute(0, 1, 3, 5, 2, 4) if crd else y.permute(0, 3, 5, 1, 2, 4)
        return y.reshape(N, C * b * b, H // b, W // b)
    if node.attr("mode", "DCR") == "CRD":
        y = x.reshape(N, C // (b * b), b, b, H, W).permute(0, 1, 4, 2, 5, 3)
    else:
        y = x.reshape(N, b, b, C // (b * b), H, W).permute(0, 3, 4, 1, 5, 2)
    return y.reshape(N, C // (b * b), H * b, W * b)


@op("Flatten")
def flatten(node, x):
    """(d0, ..., d_{axis-1}, d_axis, ...) -> (d0*...*d_{axis-1}, d_axis*...)."""
    axis = _axis(node.attr("axis", 1), x.dim())
    return x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))


@op("Reshape")
def reshape(node, x, shape=None):
    """A 0 in the target copies the input's size at that position unless allowzero = 1."""
    target = ints(shape) if shape is not None else list(node.attr("shape"))
    if not node.attr("allowzero", 0):
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return x.reshape(*target)


@op("Transpose")
def transpose(node, x):
    return x.permute(*node.attr("perm", list(reversed(range(x.dim())))))


@op("Squeeze")
def squeeze(node, x, axes=None):
    axes = ints(axes) if axes is not None else node.attr("axes", None)
    if axes is None:
        axes = [i for i, s in enumerate(x.shape) if s == 1]
    axes = {_axis(a, x.dim()) for a in axes}
    return x.reshape(*[s for i, s in enumerate(x.shape) if i not in axes])


@op("Unsqueeze")
def unsqueeze(node, x, axes=None):
    axes = ints(axes) if axes is not None else node.attr("axes")
    rank = x.dim() + len(axes)
    axes = {_axis(a, rank) for a in axes}
    sizes = iter(x.shape)
    return x.reshape(*[1 if i in axes else next(sizes) for i in range(rank)])


@op("Concat")
def concat(node, *xs):
    return convlab.cat(list(xs), dim=node.attr("axis"))


@op("Split")
def split(node, x, sizes=None):
    """Into given sizes (attribute, or input since opset 13), else into equal parts: one per output,
    or num_outputs (opset 18) with a smaller last part."""
    axis = _axis(node.attr("axis", 0), x.dim())
    sizes = ints(sizes) if sizes is not None else node.attr("split", None)
    if sizes is None:
        parts = node.attr("num_outputs", node.n_outputs)
        step = -(-x.shape[axis] // parts)
        sizes = [min(step, x.shape[axis] - i * step) for i in range(parts)]
    return tuple(convlab.split(x, list(sizes), dim=axis))


def _take(x, axis: int, index):
    """x's entries at the integer positions ``index`` (a NumPy array) along ``axis``; differentiable."""
    index = np.asarray(index, dtype=np.int64)
    picked = x.index_select(axis, const(index.reshape(-1)))
    return picked.reshape(*x.shape[:axis], *index.shape, *x.shape[axis + 1:])


@op("Slice")
def slice_(node, x, starts=None, ends=None, axes=None, steps=None):
    """x[starts:ends:steps] along axes, with ends clamped to the size (INT_MAX means 'to the end')
    and negative steps walking backward."""
    if starts is None:
        starts, ends, axes = node.attr("starts"), node.attr("ends"), node.attr("axes", None)
    starts, ends, axes, steps = ints(starts), ints(ends), ints(axes), ints(steps)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = _axis(axis, x.dim())
        positions = range(x.shape[axis])[slice(start, end, step)]
        if step == 1:
            x = x.narrow(axis, positions.start, len(positions))
        else:
            x = _take(x, axis, list(positions))
    return x


@op("Gather")
def gather(node, x, indices):
    """out[i..., j..., k...] = x[i..., indices[j...], k...] along ``axis``; negatives count back."""
    axis = _axis(node.attr("axis", 0), x.dim())
    index = indices.detach().numpy().astype(np.int64)
    return _take(x, axis, np.where(index < 0, index + x.shape[axis], index))


@op("GatherElements")
def gather_elements(node, x, indices):
    """out[i][j][k] = x[indices[i][j][k]][j][k] along ``axis`` (PyTorch's gather)."""
    axis = _axis(node.attr("axis", 0), x.dim())
    index = indices.detach().numpy().astype(np.int64)
    return convlab.gather(x, axis, const(np.where(index < 0, index + x.shape[axis], index)))


@op("Shape")
def shape(node, x):
    start, end = node.attr("start", 0), node.attr("end", None)
    return const(np.array(list(x.shape)[slice(start, end)], dtype=np.int64))


@op("Size")
def size(node, x):
    return const(np.array(x.numel(), dtype=np.int64))


@op("Cast")
def cast(node, x):
    from onnx.helper import tensor_dtype_to_np_dtype

    return x.to(from_numpy_dtype(tensor_dtype_to_np_dtype(node.attr("to"))))


@op("CastLike")
def cast_like(node, x, target):
    return x.to(target.dtype)


@op("Constant")
def constant(node):
    """The value held by whichever value* attribute the node has."""
    for name in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        value = node.attr(name, None)
        if value is not None:
            if isinstance(value, convlab.Tensor):
                return value
            kind = np.float32 if "float" in name else np.int64
            return const(np.array(value, dtype=kind))
    raise NotImplementedError(f"Constant node {node.name!r}: only numeric value attributes")


@op("ConstantOfShape")
def constant_of_shape(node, shape):
    value = node.attr("value", None)
    fill = value.detach().numpy().reshape(-1) if value is not None else np.zeros(1, np.float32)
    return const(np.full(ints(shape), fill[0], dtype=fill.dtype))


@op("Expand")
def expand(node, x, shape):
    target = np.broadcast_shapes(tuple(x.shape), tuple(ints(shape)))
    return x.expand(*target)


@op("Tile")
def tile(node, x, repeats):
    return x.repeat(*ints(repeats))


@op("Trilu")
def trilu(node, x, k=None):
    """Keep the upper (upper = 1) or lower triangle of the last two axes, shifted by diagonal k."""
    k = ints(k)[0] if k is not None else 0
    return x.triu(k) if node.attr("upper", 1) else x.tril(k)


@op("CumSum")
def cumsum(node, x, axis):
    """Running sum along axis; exclusive drops each entry's own term, reverse runs from the end."""
    axis = _axis(ints(axis)[0], x.dim())
    if node.attr("reverse", 0):
        x = x.flip(axis)
    y = x.cumsum(axis).to(x.dtype)
    if node.attr("exclusive", 0):
        y = y - x
    return y.flip(axis) if node.attr("reverse", 0) else y


@op("Einsum")
def einsum(node, *xs):
    return convlab.einsum(node.attr("equation"), *xs)


@op("Range")
def range_(node, start, limit, delta):
    return const(np.arange(start.item(), limit.item(), delta.item()).astype(start.detach().numpy().dtype))


def _pad_index(mode: str, n: int, begin: int, end: int) -> np.ndarray:
    """Source positions for an axis of size n padded by (begin, end) in a non-constant mode."""
    where = np.arange(-begin, n + end)
    if mode == "edge":
        return np.clip(where, 0, n - 1)
    if mode == "wrap":
        return where % n
    period = 2 * (n - 1)  # reflect: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
    where = np.abs(where) % period if period else np.zeros_like(where)
    return np.where(where >= n, period - where, where)


@op("Pad")
def pad(node, x, pads=None, value=None, axes=None):
    """Pad each axis by (begin, end): with a constant, or from the input itself (edge, reflect,
    wrap), the latter gathered by index so that the gradient sums back to the source entries."""
    pads = ints(pads) if pads is not None else list(node.attr("pads", node.attr("paddings", None)))
    axes = [_axis(a, x.dim()) for a in ints(axes)] if axes is not None else list(range(x.dim()))
    k = len(axes)
    begin, end = [0] * x.dim(), [0] * x.dim()
    for a, b, e in zip(axes, pads[:k], pads[k:]):
        begin[a], end[a] = b, e
    mode = node.attr("mode", "constant")
    if mode == "constant":
        fill = value.item() if value is not None and value.numel() else node.attr("value", 0.0)
        return F.pad(x, _torch_pad_list(begin, end), value=fill)
    for axis in range(x.dim()):
        if begin[axis] or end[axis]:
            x = _take(x, axis, _pad_index(mode, x.shape[axis], begin[axis], end[axis]))
    return x


# --- resampling ----------------------------------------------------------------------------------

def _source_coordinates(mode: str, out: int, n: int, scale: float, roi) -> np.ndarray:
    """Where output position i samples the input, for ONNX's coordinate_transformation_mode."""
    i = np.arange(out, dtype=np.float64)
    if mode == "asymmetric":
        return i / scale
    if mode == "align_corners":  # ONNX divides by the unrounded resized length n * scale
        return i * (n - 1) / (n * scale - 1) if n * scale > 1 else np.zeros_like(i)
    if mode == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if out > 1 else np.zeros_like(i)
    if mode == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adjustment = out / (n * scale)
        center = n / 2 * (1 - adjustment)
        return center + (i + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        start, end = roi
        if out > 1:
            return start * (n - 1) + i * (end - start) * (n - 1) / (out - 1)
        return np.full_like(i, 0.5 * (start + end) * (n - 1))
    raise NotImplementedError(f"Resize coordinate_transformation_mode {mode!r}")


def _nearest(source: np.ndarray, rule: str) -> np.ndarray:
    if rule == "floor":
        return np.floor(source)
    if rule == "ceil":
        return np.ceil(source)
    if rule == "round_prefer_ceil":
        return np.floor(source + 0.5)
    return np.ceil(source - 0.5)  # round_prefer_floor, the default


def _cubic_weights(t: np.ndarray, A: float) -> list[np.ndarray]:
    """Keys' cubic convolution weights of the taps at floor - 1, floor, floor + 1, floor + 2 for
    fractional offsets t in [0, 1) (A = -0.75 as in ONNX's default, -0.5 in some libraries)."""
    def near(d):  # |d| <= 1
        return ((A + 2) * d - (A + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _taps(node, source: np.ndarray, n: int, mode: str, rounding: str):
    """(index, weight) pairs whose weighted sum is each output entry; weight None means 1.
    ``rounding`` is nearest's rule (floor, ceil, round_prefer_floor, round_prefer_ceil)."""
    if mode == "nearest":
        index = _nearest(source, rounding)
        return [(np.clip(index, 0, n - 1), None)]
    if mode == "linear":
        source = np.clip(source, 0, n - 1)
        low = np.floor(source)
        return [(low, 1 - (source - low)), (np.minimum(low + 1, n - 1), source - low)]
    if mode == "cubic":
        low = np.floor(source)
        weights = _cubic_weights(source - low, node.attr("cubic_coeff_a", -0.75))
        index = [low + k for k in (-1, 0, 1, 2)]
        if node.attr("exclude_outside", 0):  # taps outside the input weigh 0, the rest renormalized
            weights = [np.where((i >= 0) & (i < n), w, 0.0) for i, w in zip(index, weights)]
            total = sum(weights)
            weights = [w / total for w in weights]
        return [(np.clip(i, 0, n - 1), w) for i, w in zip(index, weights)]
    raise NotImplementedError(f"Resize mode {mode!r} (node {node.name!r})")


def _resize_axis(node, x, axis, out, scale, mode, transform, rounding, roi):
    """Resample one axis as a weighted sum of gathered input entries (nearest: one tap, linear:
    two, cubic: four); with tf_crop_and_resize, positions outside the input take
    extrapolation_value."""
    n = x.shape[axis]
    source = _source_coordinates(transform, out, n, scale, roi)
    shape = [-1 if a == axis else 1 for a in range(x.dim())]
    y = None
    for index, weight in _taps(node, source, n, mode, rounding):
        term = _take(x, axis, index.astype(np.int64))
        if weight is not None:
            term = term * const(weight.reshape(shape), like=x)
        y = term if y is None else y + term
    if transform == "tf_crop_and_resize":
        outside = ((source < 0) | (source > n - 1)).reshape(shape)
        fill = node.attr("extrapolation_value", 0.0)
        y = y * const(~outside, like=x) + const(outside * fill, like=x)
    return y


@op("Resize", "Upsample")
def resize(node, x, roi=None, scales=None, sizes=None):
    """Resample each axis to out = floor(size * scale) (or the given sizes), coordinate by
    coordinate: separable, so nearest, (bi/tri)linear and cubic are one axis after another.
    Upsample (opsets 7-9) is Resize with asymmetric coordinates and nearest rounding down."""
    mode = node.attr("mode", "nearest")
    if node.op_type == "Upsample":
        scales, roi = (roi if roi is not None else node.attr("scales")), None
        transform, rounding = "asymmetric", "floor"
    else:
        transform = node.attr("coordinate_transformation_mode", "half_pixel")
        rounding = node.attr("nearest_mode", "round_prefer_floor")
    if node.attr("antialias", 0):
        raise NotImplementedError(f"Resize (node {node.name!r}) with antialias = 1: convlab "
                                  "resamples without the antialiasing filter")
    rank = x.dim()
    axes = node.attr("axes", None)
    axes = list(range(rank)) if axes is None else [_axis(a, rank) for a in axes]
    scale_values = (scales.detach().numpy().reshape(-1).tolist()
                    if isinstance(scales, convlab.Tensor) else scales) or None
    size_values = ints(sizes) if sizes is not None and sizes.numel() else None
    roi_values = roi.detach().numpy().reshape(-1).tolist() if roi is not None and roi.numel() else None
    if size_values is not None:
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        ratios = [s / x.shape[a] for a, s in zip(axes, size_values)]
        if policy != "stretch":
            ratio = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [ratio] * len(axes)
            size_values = [int(round(ratio * x.shape[a])) for a in axes]
        scale_values = ratios
    else:
        size_values = [int(math.floor(x.shape[a] * s)) for a, s in zip(axes, scale_values)]
    for k, (axis, out, scale) in enumerate(zip(axes, size_values, scale_values)):
        if out == x.shape[axis] and scale == 1 and transform != "tf_crop_and_resize":
            continue
        roi_axis = (roi_values[k], roi_values[k + len(axes)]) if roi_values else (0.0, 1.0)
        x = _resize_axis(node, x, axis, out, scale, mode, transform, rounding, roi_axis)
    return x


@op("GridSample")
def grid_sample(node, x, grid):
    """Sample x at the normalized (x, y) positions of grid, as PyTorch's grid_sample; opset 16
    spells the modes bilinear/bicubic, opset 20 linear/cubic."""
    mode = {"linear": "bilinear", "cubic": "bicubic"}.get(node.attr("mode", "linear"),
                                                          node.attr("mode", "linear"))
    if mode == "bicubic":
        raise NotImplementedError(f"GridSample (node {node.name!r}) in cubic mode: convlab's "
                                  "grid_sample has bilinear and nearest")
    return F.grid_sample(x, grid, mode=mode, padding_mode=node.attr("padding_mode", "zeros"),
                         align_corners=bool(node.attr("align_corners", 0)))


# --- reductions ----------------------------------------------------------------------------------

_REDUCE = {
    "ReduceMean": lambda x, d, k: x.mean(dim=d, keepdim=k),
    "ReduceSum": lambda x, d, k: x.sum(dim=d, keepdim=k),
    "ReduceMax": lambda x, d, k: x.amax(dim=d, keepdim=k),
    "ReduceMin": lambda x, d, k: x.amin(dim=d, keepdim=k),
    "ReduceProd": lambda x, d, k: _prod(x, d, k),
    "ReduceL1": lambda x, d, k: x.abs().sum(dim=d, keepdim=k),
    "ReduceL2": lambda x, d, k: (x * x).sum(dim=d, keepdim=k).sqrt(),
    "ReduceSumSquare": lambda x, d, k: (x * x).sum(dim=d, keepdim=k),
    "ReduceLogSum": lambda x, d, k: x.sum(dim=d, keepdim=k).log(),
    "ReduceLogSumExp": lambda x, d, k: convlab.logsumexp(x, dim=d, keepdim=k),
}


def _prod(x, dims, keepdim):
    for d in sorted(dims, reverse=True):
        x = x.prod(dim=d, keepdim=keepdim)
    return x


@op(*_REDUCE)
def reduce(node, x, axes=None):
    """Reduce over ``axes`` (attribute, or input since opset 13/18); no axes means all of them,
    unless noop_with_empty_axes = 1, which returns x unchanged."""
    axes = ints(axes) if axes is not None else node.attr("axes", None)
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return x
        axes = list(range(x.dim()))
    dims = tuple(sorted(_axis(a, x.dim()) for a in axes))
    if node.op_type in ("ReduceMax", "ReduceMin") and any(x.shape[d] == 0 for d in dims):
        # ONNX defines the max (min) of nothing as the dtype's lowest (highest) value
        kept = [1 if d in dims else s for d, s in enumerate(x.shape)]
        if not node.attr("keepdims", 1):
            kept = [s for d, s in enumerate(x.shape) if d not in dims]
        kind, high = x.detach().numpy().dtype, node.op_type == "ReduceMin"
        if kind.kind == "f":
            fill = np.inf if high else -np.inf
        elif kind.kind == "b":
            fill = high
        else:
            fill = np.iinfo(kind).max if high else np.iinfo(kind).min
        return const(np.full(kept, fill, dtype=kind))
    return _REDUCE[node.op_type](x, dims, bool(node.attr("keepdims", 1)))


@op("ArgMax", "ArgMin")
def arg_extreme(node, x):
    """Index of the max (min) along ``axis``; the first one, or the last with select_last_index."""
    axis = _axis(node.attr("axis", 0), x.dim())
    keep = bool(node.attr("keepdims", 1))
    values = x.detach().numpy()
    if node.attr("select_last_index", 0):
        values = np.flip(values, axis)
    index = (np.argmax if node.op_type == "ArgMax" else np.argmin)(values, axis=axis)
    if node.attr("select_last_index", 0):
        index = x.shape[axis] - 1 - index
    return const(np.expand_dims(index, axis) if keep else index)


@op("TopK")
def top_k(node, x, k):
    """The k largest (or smallest) along axis, sorted, and their indices; ties keep the lower
    index first."""
    axis = _axis(node.attr("axis", -1), x.dim())
    largest = bool(node.attr("largest", 1))
    values = x.detach().numpy()
    order = np.argsort(-values if largest else values, axis=axis, kind="stable")
    index = np.take(order, np.arange(ints(k)[0]), axis=axis)
    return convlab.gather(x, axis, const(index)), const(index.astype(np.int64))


@op("OneHot")
def one_hot(node, indices, depth, values):
    """values[1] where the new axis equals the index (negative ones count back), values[0] else."""
    n = ints(depth)[0]  # any numeric type, truncated
    index = indices.detach().numpy().astype(np.int64)
    index = np.where(index < 0, index + n, index)
    axis = node.attr("axis", -1)
    axis = axis + index.ndim + 1 if axis < 0 else axis
    hot = np.expand_dims(index, axis) == np.arange(n).reshape([-1 if a == axis else 1
                                                                for a in range(index.ndim + 1)])
    off, on = values.detach().numpy()
    return const(np.where(hot, on, off))


# --- losses --------------------------------------------------------------------------------------

@op("NegativeLogLikelihoodLoss")
def nll_loss(node, scores, target, weight=None):
    """-scores[n, target[n], ...] (times the class weight), reduced by mean (over the weights),
    sum or none; ignore_index entries count for nothing."""
    return F.nll_loss(scores, target.to(convlab.int64), weight,
                      ignore_index=node.attr("ignore_index", -100),
                      reduction=node.attr("reduction", "mean"))


@op("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy(node, scores, labels, weight=None):
    """nll_loss(log_softmax(scores, axis 1)); the second output is the log-probabilities."""
    log_probabilities = F.log_softmax(scores, dim=1)
    loss = F.nll_loss(log_probabilities, labels.to(convlab.int64), weight,
                      ignore_index=node.attr("ignore_index", -100),
                      reduction=node.attr("reduction", "mean"))
    return (loss, log_probabilities)[:node.n_outputs]


# --- training-only -------------------------------------------------------------------------------

@op("Dropout")
def dropout(node, x, ratio=None, training=None):
    """Identity at inference (the mask output is all true); in training mode (opset 12+) random."""
    if training is not None and bool(training.item()):
        p = ratio.item() if ratio is not None else node.attr("ratio", 0.5)
        y = F.dropout(x, p, training=True)
        mask = y != 0
    else:
        y, mask = x, const(np.ones(tuple(x.shape), dtype=bool))
    return (y, mask)[:node.n_outputs]
