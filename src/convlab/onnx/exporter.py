"""A convlab Module as an ONNX model, by walking its modules.

How: the exporter walks the module tree. ``nn.Sequential`` chains its children; each layer convlab
has that ONNX can express (convolutions, pools, normalizations, Linear, activations, Flatten,
Dropout, padding, Upsample, PixelShuffle) becomes its ONNX node(s), its weights initializers; and
convlab's own models (LeNet5, DigitsCNN, ResNetSmall and its residual BasicBlock) carry a recipe,
below, that states their forward in the same steps. The example input runs through each step as it
is written, so every node knows its input's shape (adaptive pooling and Flatten need it).

Why a module walk and not op-level tracing: a walk reads the layers' own arguments (stride,
padding, ceil_mode...) rather than reverse-engineering them from recorded array ops, and leaves
convlab's autograd engine alone. Its limit is Python code in a custom ``forward`` (``x + y``,
``F.relu`` between layers), which a walk cannot see: such a module is refused by name, with the way
out (write it as nn.Sequential, or add a recipe here).

The model is exported in inference form (as ``model.eval()``: BatchNorm uses its running
statistics, Dropout is the identity), its batch size left free.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

import convlab
from convlab import nn
from convlab._atomic import atomic_path
from convlab.models.digits_cnn import DigitsCNN
from convlab.models.lenet import LeNet5
from convlab.models.resnet import BasicBlock, ResNetSmall

from ._require import require

_MIN_OPSET = 13  # Softmax along one axis, Split/Squeeze/ReduceSum with axes as inputs


class Value(NamedTuple):
    """A tensor of the graph being built: its ONNX name, and its value on the example input."""
    name: str
    tensor: convlab.Tensor


class _Builder:
    """Collects nodes and initializers, naming each uniquely."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes, self.initializers, self._used = [], [], set()

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self._used:
            name, k = f"{hint}_{k}", k + 1
        self._used.add(name)
        return name

    def constant(self, array, hint: str) -> str:
        """An initializer holding ``array`` (a Tensor or NumPy array)."""
        from onnx import numpy_helper

        if isinstance(array, convlab.Tensor):
            array = array.detach().numpy()
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: list[str], hint: str, **attributes) -> str:
        from onnx import helper

        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attributes))
        return out


class _Walker:
    """Emits the nodes of each module (or step) and runs it on the example value alongside."""

    def __init__(self, builder: _Builder):
        self.b = builder

    def module(self, module, x: Value, path: str) -> Value:
        for kind, recipe in _RECIPES.items():
            if type(module) is kind:
                return recipe(self, module, x, path)
        for kinds, layer in _LAYERS:
            if isinstance(module, kinds):
                name = layer(self.b, module, x, path or type(module).__name__)
                return Value(name, module(x.tensor))
        if isinstance(module, nn.Sequential):
            for key, child in module.named_children():
                x = self.module(child, x, f"{path}.{key}" if path else key)
            return x
        where = f"{type(module).__name__} ({path or 'the model'})"
        if next(module.children(), None) is None:
            raise NotImplementedError(f"convlab.onnx.export has no ONNX form for the layer {where}")
        raise NotImplementedError(
            f"convlab.onnx.export cannot express {where}: it has a forward of its own, which the "
            "exporter cannot read. Write it as nn.Sequential of convlab layers, or add a recipe "
            "in convlab/onnx/exporter.py")

    def op(self, op_type: str, x: Value, result, hint: str, **attributes) -> Value:
        """One node on one input whose example value is ``result``."""
        return Value(self.b.node(op_type, [x.name], hint, **attributes), result)

    def relu(self, x: Value, path: str) -> Value:
        return self.op("Relu", x, nn.functional.relu(x.tensor), f"{path}.relu")

    def add(self, x: Value, y: Value, path: str) -> Value:
        return Value(self.b.node("Add", [x.name, y.name], f"{path}.add"), x.tensor + y.tensor)

    def flatten(self, x: Value, path: str) -> Value:
        """x.flatten(1): (N, ...) -> (N, prod(...))."""
        return self.op("Flatten", x, x.tensor.flatten(1), f"{path}.flatten", axis=1)


# --- recipes: the forward of convlab's own models, in the walker's steps --------------------------

def _two_conv_classifier(w: _Walker, model, x: Value, path: str) -> Value:
    """LeNet5 and DigitsCNN: (conv, relu, pool) twice, flatten, then the linear layer(s)."""
    for conv in (model.conv1, model.conv2):
        x = w.module(model.pool, w.relu(w.module(conv, x, _join(path, _name(model, conv))), path),
                     _join(path, "pool"))
    x = w.flatten(x, path)
    if isinstance(model, DigitsCNN):
        return w.module(model.fc, x, _join(path, "fc"))
    x = w.relu(w.module(model.fc1, x, _join(path, "fc1")), path)
    x = w.relu(w.module(model.fc2, x, _join(path, "fc2")), path)
    return w.module(model.fc3, x, _join(path, "fc3"))


def _basic_block(w: _Walker, block, x: Value, path: str) -> Value:
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): the residual add."""
    y = w.relu(w.module(block.bn1, w.module(block.conv1, x, _join(path, "conv1")),
                        _join(path, "bn1")), path)
    y = w.module(block.bn2, w.module(block.conv2, y, _join(path, "conv2")), _join(path, "bn2"))
    return w.relu(w.add(y, w.module(block.shortcut, x, _join(path, "shortcut")), path), path)


def _resnet_small(w: _Walker, model, x: Value, path: str) -> Value:
    x = w.module(model.stages, w.module(model.stem, x, _join(path, "stem")), _join(path, "stages"))
    x = w.flatten(w.module(model.pool, x, _join(path, "pool")), path)
    return w.module(model.fc, x, _join(path, "fc"))


_RECIPES = {LeNet5: _two_conv_classifier, DigitsCNN: _two_conv_classifier,
            BasicBlock: _basic_block, ResNetSmall: _resnet_small}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _name(parent, child) -> str:
    return next(k for k, m in parent.named_children() if m is child)


# --- layers ------------------------------------------------------------------------------------

def _refuse(path: str, module, why: str):
    raise NotImplementedError(f"convlab.onnx.export: {path} ({module!r}) {why}")


def _conv_pads(module, path) -> list[int]:
    """ONNX pads (begins, then ends) of a convolution; 'same' puts the odd element at the end, as
    PyTorch does."""
    n = len(module.kernel_size)
    if module.padding == "valid":
        return [0] * (2 * n)
    if module.padding == "same":
        if any(s != 1 for s in module.stride):
            _refuse(path, module, "has padding='same' with stride > 1, which PyTorch lacks")
        total = [d * (k - 1) for d, k in zip(module.dilation, module.kernel_size)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    return list(module.padding) * 2


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _conv(b: _Builder, module, x: Value, path: str) -> str:
    pads = _conv_pads(module, path)
    name = x.name
    if module.padding_mode != "zeros":  # pad first in that mode, then convolve without padding
        rank = len(module.kernel_size) + 2
        widths = [0, 0] + pads[:rank - 2] + [0, 0] + pads[rank - 2:]
        name = b.node("Pad", [name, b.constant(np.array(widths, np.int64), f"{path}.pads")],
                      f"{path}.pad", mode=_PAD_MODES[module.padding_mode])
        pads = [0] * len(pads)
    inputs = [name, b.constant(module.weight, f"{path}.weight")]
    if module.bias is not None:
        inputs.append(b.constant(module.bias, f"{path}.bias"))
    if module.transposed:
        return b.node("ConvTranspose", inputs, path, strides=list(module.stride), pads=pads,
                      dilations=list(module.dilation), group=module.groups,
                      output_padding=list(module.output_padding),
                      kernel_shape=list(module.kernel_size))
    return b.node("Conv", inputs, path, strides=list(module.stride), pads=pads,
                  dilations=list(module.dilation), group=module.groups,
                  kernel_shape=list(module.kernel_size))


def _tuple(value, n: int) -> list[int]:
    return list(value) if isinstance(value, (tuple, list)) else [value] * n


def _pool(b: _Builder, module, x: Value, path: str) -> str:
    n = x.tensor.dim() - 2
    kernel = _tuple(module.kernel_size, n)
    stride = _tuple(module.stride if module.stride is not None else module.kernel_size, n)
    pads = _tuple(module.padding, n) * 2
    common = dict(kernel_shape=kernel, strides=stride, pads=pads, ceil_mode=int(module.ceil_mode))
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        if module.return_indices:
            _refuse(path, module, "returns indices, which are PyTorch's per-plane flat indices, "
                    "not ONNX's")
        return b.node("MaxPool", [x.name], path, dilations=_tuple(module.dilation, n), **common)
    if getattr(module, "divisor_override", None) is not None:  # (AvgPool1d has none)
        _refuse(path, module, "has divisor_override, which ONNX's AveragePool lacks")
    return b.node("AveragePool", [x.name], path, count_include_pad=int(module.count_include_pad),
                  **common)


def _adaptive_pool(b: _Builder, module, x: Value, path: str) -> str:
    """Output 1 is the global pool; an output dividing the input is a plain pool of
    kernel = stride = input / output; other sizes (overlapping uneven windows) ONNX lacks."""
    sizes = list(x.tensor.shape[2:])
    out = _tuple(module.output_size, len(sizes))
    out = [s if o is None else o for o, s in zip(out, sizes)]
    average = isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d))
    if all(o == 1 for o in out):
        return b.node("GlobalAveragePool" if average else "GlobalMaxPool", [x.name], path)
    if any(s % o for s, o in zip(sizes, out)):
        _refuse(path, module, f"pools input {sizes} to {out}: uneven adaptive windows have no "
                "ONNX operator")
    kernel = [s // o for s, o in zip(sizes, out)]
    return b.node("AveragePool" if average else "MaxPool", [x.name], path, kernel_shape=kernel,
                  strides=kernel)


def _batch_norm(b: _Builder, module, x: Value, path: str) -> str:
    """Inference form: running statistics. ONNX's momentum is 1 minus PyTorch's."""
    if not module.track_running_stats:
        _refuse(path, module, "keeps no running statistics, so it has no inference form")
    C = module.num_features
    scale = module.weight if module.affine else np.ones(C, np.float32)
    shift = module.bias if module.affine else np.zeros(C, np.float32)
    inputs = [x.name, b.constant(scale, f"{path}.weight"), b.constant(shift, f"{path}.bias"),
              b.constant(module.running_mean, f"{path}.running_mean"),
              b.constant(module.running_var, f"{path}.running_var")]
    return b.node("BatchNormalization", inputs, path, epsilon=module.eps,
                  momentum=1.0 - (module.momentum if module.momentum is not None else 0.1))


def _instance_norm(b: _Builder, module, x: Value, path: str) -> str:
    if module.track_running_stats:
        _refuse(path, module, "uses running statistics, which ONNX's InstanceNormalization lacks")
    C = module.num_features
    scale = module.weight if module.affine else np.ones(C, np.float32)
    shift = module.bias if module.affine else np.zeros(C, np.float32)
    return b.node("InstanceNormalization", [x.name, b.constant(scale, f"{path}.weight"),
                                            b.constant(shift, f"{path}.bias")], path,
                  epsilon=module.eps)


def _layer_norm(b: _Builder, module, x: Value, path: str) -> str:
    if b.opset < 17:
        _refuse(path, module, f"needs LayerNormalization, which ONNX has from opset 17 (asked {b.opset})")
    shape = tuple(module.normalized_shape)
    scale = module.weight if module.weight is not None else np.ones(shape, np.float32)
    inputs = [x.name, b.constant(scale, f"{path}.weight")]
    if getattr(module, "bias", None) is not None:
        inputs.append(b.constant(module.bias, f"{path}.bias"))
    return b.node("LayerNormalization", inputs, path, axis=-len(shape), epsilon=module.eps)


def _linear(b: _Builder, module, x: Value, path: str) -> str:
    """y = x W^T + b: Gemm for (N, in), MatMul then Add for more leading axes."""
    weight = b.constant(module.weight, f"{path}.weight")
    bias = [b.constant(module.bias, f"{path}.bias")] if module.bias is not None else []
    if x.tensor.dim() == 2:
        return b.node("Gemm", [x.name, weight] + bias, path, transB=1)
    y = b.node("MatMul", [x.name, b.constant(module.weight.detach().numpy().T, f"{path}.weight_t")],
               f"{path}.matmul")
    return b.node("Add", [y] + bias, path) if bias else y


def _flatten(b: _Builder, module, x: Value, path: str) -> str:
    """Reshape to (..., -1, ...): the batch axis copied (0), the flattened span -1."""
    rank = x.tensor.dim()
    start, end = module.start_dim % rank, module.end_dim % rank
    shape = [0] * start + [-1] + list(x.tensor.shape[end + 1:])
    return b.node("Reshape", [x.name, b.constant(np.array(shape, np.int64), f"{path}.shape")], path)


def _pad(b: _Builder, module, x: Value, path: str) -> str:
    """PyTorch's (last_begin, last_end, ...) -> ONNX's (begins..., ends...) over all axes."""
    rank = x.tensor.dim()
    widths = list(module.padding)
    begin, end = [0] * rank, [0] * rank
    for k in range(len(widths) // 2):
        begin[rank - 1 - k], end[rank - 1 - k] = widths[2 * k], widths[2 * k + 1]
    inputs = [x.name, b.constant(np.array(begin + end, np.int64), f"{path}.pads")]
    mode = "constant"
    for kinds, onnx_mode in ((_REFLECT, "reflect"), (_REPLICATE, "edge"), (_CIRCULAR, "wrap")):
        if isinstance(module, kinds):
            mode = onnx_mode
    if mode == "constant":
        inputs.append(b.constant(np.array(module.value, x.tensor.detach().numpy().dtype), f"{path}.value"))
    return b.node("Pad", inputs, path, mode=mode)


def _upsample(b: _Builder, module, x: Value, path: str) -> str:
    """Resize by the output's scale: nearest as PyTorch (floor of i / scale), linear with
    half-pixel centers or aligned corners."""
    out = list(module(x.tensor).shape)
    scales = [o / i for o, i in zip(out, x.tensor.shape)]
    if module.mode == "nearest":
        attributes = dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                          nearest_mode="floor")
    elif module.mode in ("linear", "bilinear", "trilinear"):
        attributes = dict(mode="linear", coordinate_transformation_mode=(
            "align_corners" if module.align_corners else "pytorch_half_pixel"))
    else:
        _refuse(path, module, f"uses mode {module.mode!r}; export has nearest and (bi/tri)linear")
    # scales (1 on the batch and channel axes) rather than sizes, so the batch stays free
    return b.node("Resize", [x.name, "", b.constant(np.array(scales, np.float32), f"{path}.scales")],
                  path, **attributes)


def _activation(b: _Builder, module, x: Value, path: str) -> str:
    """The elementwise layers, each one or a few ONNX nodes."""
    kind = type(module)
    if kind is nn.ReLU:
        return b.node("Relu", [x.name], path)
    if kind is nn.LeakyReLU:
        return b.node("LeakyRelu", [x.name], path, alpha=module.negative_slope)
    if kind is nn.ELU:
        return b.node("Elu", [x.name], path, alpha=module.alpha)
    if kind in (nn.Sigmoid, nn.Tanh):
        return b.node(kind.__name__, [x.name], path)
    if kind is nn.Softplus:
        if module.beta != 1:
            _refuse(path, module, "has beta != 1, which ONNX's Softplus lacks")
        return b.node("Softplus", [x.name], path)
    if kind is nn.Hardsigmoid:
        return b.node("HardSigmoid", [x.name], path, alpha=1 / 6, beta=0.5)
    if kind is nn.Hardswish:
        return b.node("HardSwish", [x.name], path)
    if kind in (nn.ReLU6, nn.Hardtanh):
        low, high = (0.0, 6.0) if kind is nn.ReLU6 else (module.min_val, module.max_val)
        bounds = [b.constant(np.array(v, np.float32), f"{path}.{k}") for k, v in
                  (("min", low), ("max", high))]
        return b.node("Clip", [x.name] + bounds, path)
    if kind is nn.SiLU:
        return b.node("Mul", [x.name, b.node("Sigmoid", [x.name], f"{path}.sigmoid")], path)
    if kind is nn.Mish:
        soft = b.node("Softplus", [x.name], f"{path}.softplus")
        return b.node("Mul", [x.name, b.node("Tanh", [soft], f"{path}.tanh")], path)
    if kind is nn.GELU:
        if b.opset >= 20:
            return b.node("Gelu", [x.name], path, approximate=module.approximate)
        if module.approximate != "none":
            _refuse(path, module, "uses the tanh approximation, ONNX's Gelu needs opset 20")
        # 0.5 * x * (1 + erf(x / sqrt(2)))
        scaled = b.node("Mul", [x.name, b.constant(np.array(1 / math.sqrt(2), np.float32),
                                                   f"{path}.rsqrt2")], f"{path}.scaled")
        one_plus = b.node("Add", [b.node("Erf", [scaled], f"{path}.erf"),
                                  b.constant(np.array(1.0, np.float32), f"{path}.one")], f"{path}.1p")
        half = b.node("Mul", [x.name, b.constant(np.array(0.5, np.float32), f"{path}.half")],
                      f"{path}.halfx")
        return b.node("Mul", [half, one_plus], path)
    if kind is nn.PReLU:
        slope = module.weight.detach().numpy()
        if slope.size > 1:  # one slope per channel (axis 1)
            slope = slope.reshape(-1, *([1] * (x.tensor.dim() - 2)))
        return b.node("PRelu", [x.name, b.constant(slope, f"{path}.weight")], path)
    if kind in (nn.Softmax, nn.LogSoftmax):
        axis = module.dim if module.dim is not None else 1
        return b.node(kind.__name__, [x.name], path, axis=axis)
    if kind is nn.PixelShuffle:
        return b.node("DepthToSpace", [x.name], path, blocksize=module.upscale_factor, mode="CRD")
    return b.node("Identity", [x.name], path)  # Identity and Dropout* at inference


_REFLECT = (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d)
_REPLICATE = (nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d)
_CIRCULAR = (nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d)

_LAYERS = [
    ((nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
      nn.ConvTranspose3d), _conv),
    ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), _pool),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool1d,
      nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), _adaptive_pool),
    ((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), _batch_norm),
    ((nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d), _instance_norm),
    ((nn.LayerNorm,), _layer_norm),
    ((nn.Linear,), _linear),
    ((nn.Flatten,), _flatten),
    ((nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d,
      nn.ConstantPad3d) + _REFLECT + _REPLICATE + _CIRCULAR, _pad),
    ((nn.Upsample,), _upsample),
    ((nn.ReLU, nn.LeakyReLU, nn.ELU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Hardsigmoid,
      nn.Hardswish, nn.ReLU6, nn.Hardtanh, nn.SiLU, nn.Mish, nn.GELU, nn.PReLU, nn.Softmax,
      nn.LogSoftmax, nn.PixelShuffle, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
      nn.Dropout3d), _activation),
]


def _tensor_info(name: str, tensor):
    """A graph input or output: its element type and shape, the batch axis named 'N' (free)."""
    from onnx import helper

    dims = ["N"] + list(tensor.shape[1:]) if tensor.dim() else []
    kind = helper.np_dtype_to_tensor_dtype(tensor.detach().numpy().dtype)
    return helper.make_tensor_value_info(name, kind, dims)


def export(model, example_input, path=None, opset: int = 17):
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the ModelProto.

    ``example_input``: a Tensor of the shape the model takes (any batch size: the batch axis stays
    free). ``opset``: 13 to the newest the installed onnx knows. The model is exported, and checked
    with ``onnx.checker``, in inference form; its own training flag is left as it was.
    """
    onnx = require()
    newest = onnx.defs.onnx_opset_version()
    if not _MIN_OPSET <= opset <= newest:
        raise ValueError(f"convlab.onnx.export: opset must be {_MIN_OPSET} to {newest} (the newest "
                         f"this onnx {onnx.__version__} knows), got {opset}")
    if not isinstance(example_input, convlab.Tensor):
        raise TypeError("convlab.onnx.export: example_input must be a convlab Tensor, got "
                        f"{type(example_input).__name__}")
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        builder = _Builder(opset)
        with convlab.no_grad():
            out = _Walker(builder).module(model, Value("input", example_input), "")
    finally:
        for m, training in modes.items():
            m.training = training
    output = builder.node("Identity", [out.name], "output")
    graph = onnx.helper.make_graph(builder.nodes, type(model).__name__,
                                   [_tensor_info("input", example_input)],
                                   [_tensor_info(output, out.tensor)], builder.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="convlab")
    onnx.checker.check_model(proto)
    if path is not None:
        with atomic_path(path) as tmp:
            onnx.save(proto, tmp)
    return proto
