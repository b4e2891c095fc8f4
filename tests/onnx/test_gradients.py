"""Imported ONNX operators are differentiable: convlab's gradcheck (central differences, float64)
through the operators whose ONNX attributes PyTorch lacks or spells differently."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import helper, numpy_helper  # noqa: E402

import convlab  # noqa: E402
import convlab.onnx  # noqa: E402
from convlab.autograd import gradcheck  # noqa: E402

_DOUBLE = onnx.TensorProto.DOUBLE


def _node_model(op_type, inputs, constants=(), opset=18, **attributes):
    """A one-node float64 model: ``inputs`` are graph inputs, ``constants`` initializers."""
    node = helper.make_node(op_type, [n for n, _ in inputs] + [n for n, _ in constants], ["y"],
                            **attributes)
    graph = helper.make_graph(
        [node], op_type, [helper.make_tensor_value_info(n, _DOUBLE, shape) for n, shape in inputs],
        [helper.make_tensor_value_info("y", _DOUBLE, None)],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in constants])
    return convlab.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))


def _i64(*values):
    return np.array(values, np.int64)


_CASES = {
    "conv-same-lower-dilated": (
        "Conv", [("x", [1, 2, 6, 5]), ("w", [4, 1, 3, 2])], (),
        dict(auto_pad="SAME_LOWER", strides=[2, 1], dilations=[1, 2], group=2)),
    "conv-transpose-output-shape": (
        "ConvTranspose", [("x", [1, 2, 3, 3]), ("w", [2, 3, 3, 3])], (),
        dict(strides=[2, 2], output_shape=[6, 7], auto_pad="SAME_UPPER")),
    "maxpool-ceil-asymmetric-pads": (
        "MaxPool", [("x", [1, 2, 5, 6])], (),
        dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 0, 1], ceil_mode=1)),
    "averagepool-exclude-pad-dilated": (
        "AveragePool", [("x", [1, 1, 6, 6])], (),
        dict(kernel_shape=[2, 2], pads=[1, 0, 1, 1], dilations=[2, 1], count_include_pad=0)),
    "lppool": ("LpPool", [("x", [1, 2, 4, 4])], (), dict(kernel_shape=[2, 2], p=3)),
    "resize-linear-half-pixel": (
        "Resize", [("x", [1, 1, 3, 4])], [("roi", np.zeros(0)), ("scales", np.array([1, 1, 1.7, 0.6]))],
        dict(mode="linear")),
    "resize-cubic-exclude-outside": (
        "Resize", [("x", [1, 1, 4, 4])], [("roi", np.zeros(0)), ("scales", np.array([1, 1, 1.5, 1.5]))],
        dict(mode="cubic", exclude_outside=1)),
    "pad-reflect": ("Pad", [("x", [1, 2, 3, 4])], [("pads", _i64(0, 0, 2, 1, 0, 0, 1, 3))],
                    dict(mode="reflect")),
    "pad-wrap-negative": ("Pad", [("x", [2, 5])], [("pads", _i64(1, -1, 0, 4))], dict(mode="wrap")),
    "slice-negative-step": ("Slice", [("x", [4, 6])], [("starts", _i64(-1, 1)), ("ends", _i64(-5, 100)),
                                                        ("axes", _i64(1, 0)), ("steps", _i64(-2, 2))], {}),
    "gather-negative": ("Gather", [("x", [3, 4])], [("i", _i64(-1, 0, -1))], dict(axis=1)),
    "gemm-transposed": ("Gemm", [("a", [3, 2]), ("b", [4, 3]), ("c", [4])], (),
                        dict(transA=1, transB=1, alpha=0.5, beta=2.0)),
    "softmax-opset11-coerced": ("Softmax", [("x", [2, 3, 4])], (), dict(axis=1)),
    "layer-normalization": ("LayerNormalization", [("x", [2, 3, 4]), ("s", [3, 4]), ("b", [3, 4])],
                            (), dict(axis=-2)),
    "batchnorm-training": ("BatchNormalization", [("x", [4, 3, 2]), ("s", [3]), ("b", [3])],
                           [("m", np.zeros(3)), ("v", np.ones(3))], dict(training_mode=1)),
    "depth-to-space-dcr": ("DepthToSpace", [("x", [1, 8, 2, 3])], (), dict(blocksize=2)),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_gradcheck(case):
    op_type, inputs, constants, attributes = _CASES[case]
    opset = 11 if case == "softmax-opset11-coerced" else 18
    model = _node_model(op_type, inputs, constants, opset=opset, **attributes)
    generator = np.random.default_rng(0)
    tensors = [convlab.from_numpy(generator.standard_normal(shape)).requires_grad_()
               for _, shape in inputs]
    assert gradcheck(lambda *xs: model(*xs), tensors)
