"""summary's columns for ONNX nodes: kernel, stride, padding, dilation, groups, parameters and
mult-adds of Conv, ConvTranspose, the pools, Gemm and BatchNormalization, from each node's
attributes and the shapes of its weights (OnnxNode.layer_description)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convlab.onnx  # noqa: E402
from convlab.explain.summary import summary  # noqa: E402


def _weight(name, *shape):
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def _graph():
    """x (1, 4, 9, 9) -> Conv 3x3 SAME_LOWER stride 2, groups 2 -> BatchNormalization ->
    ConvTranspose 2x2 stride 2, pads (1, 0, 0, 1) -> MaxPool 3x3 ceil_mode, asymmetric pads ->
    AveragePool 2x2 -> GlobalAveragePool -> Flatten -> Gemm (transB) to 5."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2],
                         auto_pad="SAME_LOWER", group=2),
        helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"], ["n1"]),
        helper.make_node("ConvTranspose", ["n1", "w2"], ["c2"], strides=[2, 2], pads=[1, 0, 0, 1]),
        helper.make_node("MaxPool", ["c2"], ["p1"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[0, 1, 1, 0], ceil_mode=1),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    weights = [_weight("w1", 6, 2, 3, 3), _weight("b1", 6), _weight("scale", 6),
               _weight("shift", 6), _weight("mean", 6), _weight("var", 6),
               _weight("w2", 6, 3, 2, 2), _weight("w3", 5, 3), _weight("b3", 5)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [1, 4, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                              weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_summary_fills_the_columns_of_onnx_nodes():
    rows = {row.type: row for row in summary(convlab.onnx.load(_graph()), (1, 4, 9, 9)).rows}
    conv = rows["Conv"]  # SAME_LOWER: out = ceil(9 / 2) = 5, total pad 2 split (1, 1)
    assert (conv.output_shape, str(conv.kernel_size), str(conv.stride), str(conv.padding),
            conv.groups) == ((1, 6, 5, 5), "3", "2", "1", 2)
    assert conv.params == 6 * 2 * 9 + 6
    assert conv.mult_adds == 6 * 25 * (2 * 9) + 6 * 25
    assert rows["BatchNormalization"].params == 12  # scale and shift; mean and var are state
    transposed = rows["ConvTranspose"]  # (5 - 1)*2 + 2 = 10, less pads (1, 0) and (0, 1): 9
    assert transposed.output_shape == (1, 3, 9, 9)
    assert [str(transposed.padding), transposed.params] == ["(1, 0)x(0, 1)", 6 * 3 * 4]
    pool = rows["MaxPool"]  # ceil((9 + 1 - 3) / 2) + 1 = 5 along both axes
    assert (pool.output_shape, str(pool.kernel_size), str(pool.padding)) == \
        ((1, 3, 5, 5), "3", "(0, 1)x(1, 0)")
    assert [pool.formulas[0], pool.formulas[1]] == [
        "ceil((9 + 0 + 1 - 1*(3-1) - 1) / 2) + 1 = 5",
        "ceil((9 + 1 + 0 - 1*(3-1) - 1) / 2) + 1 = 5"]
    average = rows["AveragePool"]  # ONNX's strides default to 1, not to the kernel
    assert (average.output_shape, str(average.kernel_size), str(average.stride)) == \
        ((1, 3, 4, 4), "2", "1")
    assert str(rows["GlobalAveragePool"].kernel_size) == "4"  # the whole 4x4 map
    gemm = rows["Gemm"]
    assert (gemm.params, gemm.mult_adds, gemm.receptive_field) == (5 * 3 + 5, 5 * 3 + 5, "all")
    assert str(conv.receptive_field) == "3"


def test_the_equivalent_layer_of_a_node_computes_what_the_node_computes():
    import convlab
    from convlab.explain.layer_spec import parse_layer

    model = convlab.onnx.load(_graph())
    nodes = {node.op_type: node for node in model.nodes.values()}
    inputs = {}  # each node's input, from one run

    def keep(node, args, output):
        inputs[node.op_type] = args[0]

    for node in nodes.values():
        node.register_forward_hook(keep)
    x = convlab.from_numpy(np.random.default_rng(0).standard_normal((1, 4, 9, 9)).astype(np.float32))
    with convlab.no_grad():
        model(x)
        for op_type, weight, bias in (("Conv", model.w1, model.b1),
                                      ("ConvTranspose", model.w2, None)):
            node, node_input = nodes[op_type], inputs[op_type]
            text = node.equivalent_layer(tuple(node_input.shape))
            layer = parse_layer(text).build()
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)
            expected = node(node_input, weight, *([bias] if bias is not None else []))
            np.testing.assert_allclose(layer(node_input).numpy(), expected.numpy(), rtol=1e-5,
                                       atol=1e-5, err_msg=text)
    assert nodes["Conv"].equivalent_layer((1, 4, 9, 9)) == (
        "Conv2d(4, 6, (3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=2, "
        "bias=True)")
    assert nodes["AveragePool"].equivalent_layer((1, 3, 5, 5)) == (
        "AvgPool2d((2, 2), stride=(1, 1), padding=(0, 0), ceil_mode=False, "
        "count_include_pad=False)")
    with pytest.raises(ValueError, match=r"\(MaxPool\): its window \(pads \[\(0, 1\), \(1, 0\)\]"):
        nodes["MaxPool"].equivalent_layer((1, 3, 9, 9))
    with pytest.raises(ValueError, match="is a BatchNormalization: explain shows Conv"):
        nodes["BatchNormalization"].equivalent_layer((1, 6, 5, 5))
