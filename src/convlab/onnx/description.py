"""What ``explain`` shows about an ONNX node: the node as a :class:`convlab.explain.layers.Layer`.

``explain.summary`` and ``convlab explain`` read a convlab or PyTorch layer's arguments from its
attribute names (``kernel_size``, ``stride``...); an ONNX node has its operator's attributes
instead (``kernel_shape``, ``strides``, ``pads``, ``auto_pad``...) and finds its channels in the
shape of its weight input. :func:`describe_node` translates, for one input shape, with the rules
that the node runs by (:mod:`.ops`): Conv and ConvTranspose become convolutions with their
per-side padding, MaxPool / AveragePool / LpPool pooling windows (ONNX's asymmetric pads and
ceil_mode included), the global pools adaptive pooling to size 1, Gemm (and MatMul by a stored
matrix) a Linear layer. Every node counts as its parameters the elements of its inputs that are
trainable Parameters (weights and biases; BatchNormalization's running statistics are buffers).

:func:`equivalent_layer` writes a Conv, ConvTranspose or pooling node as the convlab layer that
computes the same (``"Conv2d(3, 64, (7, 7), stride=(2, 2), padding=(3, 3), ..."``, per-side
pairs where the two sides differ), so that ``convlab explain model.onnx --node NAME`` shows,
traces and animates it as it does a layer given as text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..engine import geometry
from ..explain.layers import (
    ADAPTIVE_POOL,
    CONV,
    CONV_TRANSPOSE,
    LINEAR,
    OTHER,
    POOL,
    Axis,
    Layer,
)
from .ops import pool_geometry, spatial_pads, torch_pool_padding, transposed_pads

__all__ = ["describe_node", "equivalent_layer"]


@dataclass
class _OnnxPool(Layer):
    """A pooling node: its windows follow ONNX's rules (per-side pads, which PyTorch's pooling
    layers lack), so they are worked out once, for the node's input shape."""

    windows: list[Axis] = field(default_factory=list)

    def axes(self, input_shape) -> list[Axis]:
        return self.windows


def _conv(node, input_shape, weight_shape, trainable: int, has_bias: bool) -> Layer:
    """A Conv or ConvTranspose node: kernel and channels from the weight's shape (ONNX's layout
    is PyTorch's: (C_out, C_in/group, *K), transposed (C_in, C_out/group, *K)), the pads as
    the node applies them to ``input_shape``."""
    kernel = list(weight_shape[2:])
    n = len(kernel)
    strides = node.attr("strides", [1] * n)
    dilations = node.attr("dilations", [1] * n)
    groups = node.attr("group", 1)
    if node.op_type == "Conv":
        begin, end = spatial_pads(node, input_shape, kernel, strides, dilations)
        in_channels, out_channels, output_padding = weight_shape[1] * groups, weight_shape[0], ()
    else:
        output_padding = tuple(node.attr("output_padding", [0] * n))
        begin, end = transposed_pads(node, input_shape, kernel, strides, dilations,
                                     output_padding)
        in_channels, out_channels = weight_shape[0], weight_shape[1] * groups
    return Layer(node.op_type, CONV if node.op_type == "Conv" else CONV_TRANSPOSE, n,
                 in_channels=in_channels, out_channels=out_channels, kernel_size=tuple(kernel),
                 stride=tuple(strides), padding=tuple(zip(begin, end)), dilation=tuple(dilations),
                 groups=groups, output_padding=output_padding, has_bias=has_bias,
                 own_params=trainable)


def _pool(node, input_shape, trainable: int) -> Layer:
    kernel, strides, dilations, begin, end, _ = pool_geometry(node, input_shape)
    ceil_mode = bool(node.attr("ceil_mode", 0))
    windows = [Axis(i, geometry.output_length(i, k, s, lo, hi, d, ceil_mode), k, s, lo, hi, d,
                    ceil_mode=ceil_mode)
               for i, k, s, lo, hi, d in zip(input_shape[2:], kernel, strides, begin, end,
                                             dilations)]
    return _OnnxPool(node.op_type, POOL, len(kernel), kernel_size=tuple(kernel),
                     stride=tuple(strides), padding=tuple(zip(begin, end)),
                     dilation=tuple(dilations), ceil_mode=ceil_mode, own_params=trainable,
                     windows=windows)


def _given(node, position: int) -> bool:
    """Whether the node has its optional input at ``position`` (ONNX omits one by name "")."""
    return len(node.inputs) > position and node.inputs[position] != ""


def describe_node(node, input_shape) -> Layer:
    """The :class:`~convlab.explain.layers.Layer` of ``node`` (an
    :class:`~convlab.onnx.OnnxNode`) applied to an input of ``input_shape``."""
    input_shape = tuple(int(n) for n in input_shape)
    stored = node.stored_inputs  # position -> (shape, whether a trainable Parameter)
    trainable = sum(math.prod(shape) for shape, is_parameter in stored.values() if is_parameter)
    op = node.op_type
    if op in ("Conv", "ConvTranspose") and 1 in stored:
        return _conv(node, input_shape, stored[1][0], trainable, _given(node, 2))
    if op in ("MaxPool", "AveragePool", "LpPool"):
        return _pool(node, input_shape, trainable)
    if op in ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"):
        nd = len(input_shape) - 2
        return Layer(op, ADAPTIVE_POOL, nd, output_size=(1,) * nd, own_params=trainable)
    if op in ("Gemm", "MatMul") and 1 in stored and len(stored[1][0]) == 2:
        rows, columns = stored[1][0]
        transposed = op == "Gemm" and node.attr("transB", 0)
        return Layer(op, LINEAR, in_features=columns if transposed else rows,
                     out_features=rows if transposed else columns,
                     has_bias=op == "Gemm" and _given(node, 2),
                     own_params=trainable)
    return Layer(op, OTHER, own_params=trainable)


def _padding(pads) -> tuple:
    """Per-axis ``(before, after)`` pads as a convolution's argument: one int per axis when the
    two sides agree, else the pairs."""
    if all(lo == hi for lo, hi in pads):
        return tuple(lo for lo, _ in pads)
    return tuple(pads)


def equivalent_layer(node, input_shape) -> str:
    """The convlab layer, as text, that computes what ``node`` (Conv, ConvTranspose, MaxPool or
    AveragePool) computes on an input of ``input_shape``; a ValueError names the nodes and the
    geometries that have none."""
    layer = describe_node(node, input_shape)
    nd = layer.nd
    if layer.kind == CONV:
        return (f"Conv{nd}d({layer.in_channels}, {layer.out_channels}, {layer.kernel_size}, "
                f"stride={layer.stride}, padding={_padding(layer.padding)}, "
                f"dilation={layer.dilation}, groups={layer.groups}, bias={layer.has_bias})")
    if layer.kind == CONV_TRANSPOSE:
        return (f"ConvTranspose{nd}d({layer.in_channels}, {layer.out_channels}, "
                f"{layer.kernel_size}, stride={layer.stride}, "
                f"padding={_padding(layer.padding)}, output_padding={layer.output_padding}, "
                f"groups={layer.groups}, bias={layer.has_bias}, dilation={layer.dilation})")
    if node.op_type in ("MaxPool", "AveragePool"):
        padding = torch_pool_padding(node, pool_geometry(node, input_shape))
        if padding is not None and node.op_type == "MaxPool":
            return (f"MaxPool{nd}d({layer.kernel_size}, stride={layer.stride}, "
                    f"padding={tuple(padding)}, dilation={layer.dilation}, "
                    f"ceil_mode={layer.ceil_mode})")
        if padding is not None:
            include = bool(node.attr("count_include_pad", 0))
            return (f"AvgPool{nd}d({layer.kernel_size}, stride={layer.stride}, "
                    f"padding={tuple(padding)}, ceil_mode={layer.ceil_mode}, "
                    f"count_include_pad={include})")
        raise ValueError(f"node {node.name!r} ({node.op_type}): its window (pads "
                         f"{list(layer.padding)}, dilations {list(layer.dilation)}) has no "
                         "convlab pooling layer; `convlab summary` shows its shapes")
    raise ValueError(f"node {node.name!r} is a {node.op_type}: explain shows Conv, ConvTranspose, "
                     "MaxPool and AveragePool nodes")
