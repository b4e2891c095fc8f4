"""The import's fast paths give what the general ones give: constant folding at load (outputs and
gradients unchanged) and pooling through convlab's own F.max_pool*d / F.avg_pool*d wherever
PyTorch has the ONNX window geometry (checked against onnxruntime)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convlab  # noqa: E402
import convlab.nn.functional as F  # noqa: E402
import convlab.onnx  # noqa: E402


def _model(nodes, inputs, outputs, initializers=(), opset=19):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _onnxruntime(proto, **inputs):
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def _folding_model():
    """y = x * w + ConstantOfShape([2, 3]) * 2: the second term is fixed, w is a weight."""
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["ones"],
                              value=numpy_helper.from_array(np.array([1.0], np.float32))),
             helper.make_node("Constant", [], ["two"], value_float=2.0),
             helper.make_node("Mul", ["ones", "two"], ["offset"]),
             helper.make_node("Mul", ["x", "w"], ["scaled"]),
             helper.make_node("Add", ["scaled", "offset"], ["y"])]
    initializers = [numpy_helper.from_array(np.array([2, 3], np.int64), "shape"),
                    numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], initializers)


def test_fixed_nodes_run_once_at_load_and_outputs_and_gradients_stay():
    proto = _folding_model()
    model = convlab.onnx.load(proto)
    # the two nodes of fixed values were folded; the two that read x or the weight w remain
    assert [node.op_type for node in model.nodes.values()] == ["Mul", "Add"]
    assert [name for name, _ in model.named_parameters()] == ["w"]
    assert "offset" in dict(model.named_buffers())
    assert "offset" not in model.state_dict()  # derived from the file, not state
    x_values = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    x = convlab.from_numpy(x_values.copy()).requires_grad_()
    y = model(x)
    expected = _onnxruntime(proto, x=x_values)[0]
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(model.w.grad.numpy(), x_values, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), model.w.detach().numpy(), rtol=1e-6)


def test_a_node_that_reads_a_weight_is_not_folded():
    """w * 2 has only stored inputs, but w trains: the node runs on every call."""
    nodes = [helper.make_node("Mul", ["w", "two"], ["w2"]), helper.make_node("Add", ["x", "w2"], ["y"])]
    initializers = [numpy_helper.from_array(np.ones(3, np.float32), "w"),
                    numpy_helper.from_array(np.array(2.0, np.float32), "two")]
    model = convlab.onnx.load(_model(
        nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])], initializers))
    assert [node.op_type for node in model.nodes.values()] == ["Mul", "Add"]
    model(convlab.zeros(3)).sum().backward()
    np.testing.assert_allclose(model.w.grad.numpy(), [2.0, 2.0, 2.0])


# (attributes, whether PyTorch has the geometry, so the fast path runs)
_POOLS = [
    ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, True),
    ({"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, True),
    ({"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 0], "ceil_mode": 1}, True),
    ({"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1]}, True),
    ({"kernel_shape": [3, 3], "pads": [0, 1, 2, 1]}, False),  # asymmetric
    ({"kernel_shape": [3, 3], "pads": [2, 2, 2, 2]}, False),  # more than half the kernel
    ({"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, True),
    ({"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_LOWER"}, False),
]


def _pool(op_type, attributes, x, outputs=("y",)):
    node = helper.make_node(op_type, ["x"], list(outputs), **attributes)
    out_types = [TensorProto.FLOAT, TensorProto.INT64][:len(outputs)]
    proto = _model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                   [helper.make_tensor_value_info(o, t, None) for o, t in zip(outputs, out_types)])
    expected = _onnxruntime(proto, x=x)
    with convlab.no_grad():
        got = convlab.onnx.load(proto)(convlab.from_numpy(x.copy()))
    return expected, got if isinstance(got, tuple) else (got,)


def _input_shapes(monkeypatch, name):
    """The shapes of the inputs that F.<name> is called with, recorded in a list."""
    shapes = []
    original = getattr(F, name)
    monkeypatch.setattr(F, name, lambda x, *a, **k: shapes.append(tuple(x.shape)) or original(x, *a, **k))
    return shapes


@pytest.mark.parametrize("attributes, fast", _POOLS)
@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_values_and_indices_equal_onnx_on_both_paths(monkeypatch, attributes, fast,
                                                             storage_order):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    shapes = _input_shapes(monkeypatch, "max_pool2d")
    expected, got = _pool("MaxPool", {**attributes, "storage_order": storage_order}, x,
                          outputs=("y", "indices"))
    np.testing.assert_array_equal(got[0].numpy(), expected[0])
    np.testing.assert_array_equal(got[1].numpy(), expected[1])
    # (the conftest runs each plan twice: every call with x's shape)
    assert (set(shapes) == {x.shape}) == fast  # the general path pools a copy padded with -inf


@pytest.mark.parametrize("attributes, fast", _POOLS)
def test_max_pool_without_its_indices_output(attributes, fast):
    x = np.random.default_rng(2).standard_normal((1, 2, 7, 7)).astype(np.float32)
    expected, got = _pool("MaxPool", attributes, x)
    np.testing.assert_array_equal(got[0].numpy(), expected[0])


@pytest.mark.parametrize("attributes, fast", _POOLS)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_equals_onnx_on_both_paths(monkeypatch, attributes, fast, count_include_pad):
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 7)).astype(np.float32)
    shapes = _input_shapes(monkeypatch, "avg_pool2d")
    expected, got = _pool("AveragePool", {**attributes, "count_include_pad": count_include_pad}, x)
    np.testing.assert_allclose(got[0].numpy(), expected[0], rtol=1e-5, atol=1e-6)
    # F.avg_pool2d has no dilation: a dilated window takes the general path
    assert bool(shapes) == (fast and "dilations" not in attributes)


def test_forward_lets_go_of_an_activation_after_its_last_read():
    """x -> Relu -> a -> Neg -> b -> Neg -> c (and the output y = c + x): a is dropped once the
    first Neg read it, so a deep network holds only the activations still to be read."""
    import gc
    import weakref

    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"]),
             helper.make_node("Neg", ["b"], ["c"]), helper.make_node("Add", ["c", "x"], ["y"])]
    model = convlab.onnx.load(_model(
        nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])]))
    relu, _, second_neg, _ = model.nodes.values()
    seen = {}

    def remember_a(module, args, output):
        seen["a"] = weakref.ref(output)

    def is_a_alive(module, args):
        gc.collect()
        seen["a alive at the second Neg"] = seen["a"]() is not None

    relu.register_forward_hook(remember_a)
    second_neg.register_forward_pre_hook(is_a_alive)
    with convlab.no_grad():
        y = model(convlab.tensor([-1.0, 0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(y.numpy(), [-1.0, 0.0, 2.0, 4.0])
    assert seen["a alive at the second Neg"] is False
