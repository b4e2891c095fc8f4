"""convlab.onnx.inference: under no_grad an imported graph runs some runs of nodes as one step
(Conv + BatchNormalization folded, HardSwish written as four nodes, nodes of weights alone kept);
the values are the graph's (against onnxruntime, and against the node-by-node run that grad mode
takes), follow every change of a weight, and hooks still see their nodes."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convlab  # noqa: E402
import convlab.onnx  # noqa: E402
from convlab.onnx import inference  # noqa: E402


def _model(nodes, initializers, outputs=("y",), opset=13, x_shape=(2, 3, 6, 6)):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in initializers.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _conv_bn_initializers(rng, bias=True):
    values = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
              "scale": rng.uniform(0.5, 2, 4).astype(np.float32),
              "shift": rng.standard_normal(4).astype(np.float32),
              "mean": rng.standard_normal(4).astype(np.float32),
              "var": rng.uniform(0.5, 2, 4).astype(np.float32)}
    if bias:
        values["b"] = rng.standard_normal(4).astype(np.float32)
    return values


def _conv_bn(bias=True, relu=True, training_mode=None, outputs=("y",)):
    """x -> Conv(w, b) -> BatchNormalization -> Relu -> y."""
    rng = np.random.default_rng(0)
    bn_attributes = {"epsilon": 1e-3}
    if training_mode is not None:
        bn_attributes["training_mode"] = training_mode
    nodes = [helper.make_node("Conv", ["x", "w", "b"] if bias else ["x", "w"], ["c"],
                              pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"],
                              ["n" if relu else "y"], **bn_attributes)]
    if relu:
        nodes.append(helper.make_node("Relu", ["n"], ["y"]))
    return _model(nodes, _conv_bn_initializers(rng, bias), outputs,
                  opset=15 if training_mode is not None else 13)


def _x(shape=(2, 3, 6, 6), seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _onnxruntime(proto, x):
    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _both(model, x):
    """(under no_grad: the inference steps, with gradients on: node by node)."""
    with convlab.no_grad():
        fast = model(convlab.from_numpy(x.copy())).numpy()
    return fast, model(convlab.from_numpy(x.copy())).detach().numpy()


def _step_types(model):
    return [type(step).__name__ for step in model._runs[False][0]]


@pytest.mark.parametrize("bias", [True, False])
def test_conv_then_batch_norm_runs_as_one_folded_convolution(bias):
    proto = _conv_bn(bias=bias)
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["ConvAffine"]  # the Relu after it too
    x = _x()
    fast, slow = _both(model, x)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-5)
    # the folding leaves the model's Parameters as they were
    assert sorted(name for name, _ in model.named_parameters()) == sorted(
        ["w", "scale", "shift"] + (["b"] if bias else []))


def test_a_conv_and_its_relu_run_on_arrays_with_the_same_values():
    """Conv -> Relu: the engine's convolution and the Relu's loop, called on the arrays; where
    the convolution's output is read twice, the Relu stays a node."""
    rng = np.random.default_rng(8)
    w = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
         "b": rng.standard_normal(4).astype(np.float32)}
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 1])
    proto = _model([conv, helper.make_node("Relu", ["c"], ["y"])], w, x_shape=(2, 3, 40, 30))
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Convolution"]
    x = _x((2, 3, 40, 30))  # the Relu's compiled loop takes arrays from 1,000 values on
    fast, slow = _both(model, x)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-5)
    twice = convlab.onnx.load(_model([conv, helper.make_node("Relu", ["c"], ["r"]),
                                      helper.make_node("Add", ["r", "c"], ["y"])], w))
    assert _step_types(twice) == ["Convolution", "OnnxNode", "OnArrays"]


def test_no_fusion_where_the_intermediate_is_needed_or_training_mode_normalizes():
    both = convlab.onnx.load(_conv_bn(outputs=("y", "c")))  # the conv's output is an output too
    assert "ConvAffine" not in _step_types(both)
    training = convlab.onnx.load(_conv_bn(training_mode=1))
    assert "ConvAffine" not in _step_types(training)
    x = _x()
    fast, slow = _both(training, x)
    np.testing.assert_allclose(fast, slow, rtol=1e-6)


def test_conv_then_per_channel_maps_run_as_one_convolution_then_a_clamp():
    """Conv -> Mul by a (1, C, 1, 1) weight -> Add of a bias reshaped at run time -> Sub and Div
    by scalars -> HardSigmoid: one convolution with folded weights, then HardSigmoid's clamp."""
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["gain", "c"], ["m"]),
             helper.make_node("Reshape", ["bias", "shape"], ["b"]),
             helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Sub", ["a", "offset"], ["s"]),
             helper.make_node("Div", ["s", "two"], ["d"]),
             helper.make_node("HardSigmoid", ["d"], ["y"], alpha=0.3, beta=0.4)]
    initializers = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                    "gain": rng.uniform(0.5, 2, (1, 4, 1, 1)).astype(np.float32),
                    "bias": rng.standard_normal(4).astype(np.float32),
                    "shape": np.array([4, 1, 1], np.int64),
                    "offset": np.array(0.25, np.float32), "two": np.array(2.0, np.float32)}
    proto = _model(nodes, initializers)
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Cached", "ConvAffine"]
    x = _x()
    fast, slow = _both(model, x)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-6)
    assert fast.min() == 0 and fast.max() == 1  # the clamp ran


@pytest.mark.parametrize("op_type", ["Sub", "Div"])
def test_a_weight_minus_or_over_the_conv_is_not_folded(op_type):
    rng = np.random.default_rng(4)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node(op_type, ["k", "c"], ["y"])]
    model = convlab.onnx.load(_model(nodes, {"w": rng.standard_normal((4, 3, 1, 1)).astype(np.float32),
                                             "k": np.full((4, 1, 1), 3.0, np.float32)}))
    assert _step_types(model) == ["Convolution", "OnArrays"]


def test_a_weight_that_is_not_per_channel_leaves_the_nodes_one_by_one():
    """Add of a (1, 1, 6, 6) weight varies over the plane: nothing folds, the values stay."""
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "plane"], ["y"])]
    proto = _model(nodes, {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                           "plane": rng.standard_normal((1, 1, 6, 6)).astype(np.float32)})
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["ConvAffine"]
    x = _x()
    fast, slow = _both(model, x)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-5)


def test_folded_weights_follow_every_change_of_a_weight():
    proto = _conv_bn()
    model = convlab.onnx.load(proto)
    x = _x()

    def check():
        fast, slow = _both(model, x)
        np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
        return fast

    before = check()
    with convlab.no_grad():  # in place: the version moves
        model.scale.mul_(2.0)
    assert not np.allclose(check(), before)
    # an optimizer's step
    optimizer = convlab.optim.SGD(model.parameters(), lr=0.1)
    model(convlab.from_numpy(x.copy())).sum().backward()
    optimizer.step()
    check()
    # load_state_dict, into the running statistics (buffers) too
    state = {k: v * 0.5 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    check()
    _doubled_equals_nodes(model, x)  # another dtype: new memory, a new version count


def _doubled_equals_nodes(model, x):
    """After ``model.double()`` the steps run in float64 (their weights derived again) and equal
    the node-by-node run."""
    model.double()
    with convlab.no_grad():
        fast = model(convlab.from_numpy(x.astype(np.float64))).numpy()
    assert fast.dtype == np.float64
    slow = model(convlab.from_numpy(x.astype(np.float64))).detach().numpy()
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_hooks_see_their_nodes_under_no_grad():
    model = convlab.onnx.load(_conv_bn())
    seen = []
    norm = [node for node in model.nodes.values() if node.op_type == "BatchNormalization"][0]
    norm.register_forward_hook(lambda module, args, output: seen.append(tuple(output.shape)))
    x = _x()
    fast, slow = _both(model, x)
    assert seen == [(2, 4, 6, 6), (2, 4, 6, 6)]
    np.testing.assert_array_equal(fast, slow)


def test_summary_lists_every_node_of_a_fused_run():
    from convlab import explain

    model = convlab.onnx.load(_conv_bn())
    text = str(explain.summary(model, (2, 3, 6, 6)))
    assert "Conv" in text and "BatchNormalization" in text


def _hard_swish_model(constants_stored_as="initializer", conv=True, x_shape=(2, 3, 6, 6)):
    """x -> Conv -> c (or c = x); y = c * Clip(c + 3, 0, 6) / 6, as paddle2onnx writes
    HardSwish."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])] if conv else []
    c = "c" if conv else "x"
    nodes += [helper.make_node("Add", [c, "three"], ["a"]),
              helper.make_node("Clip", ["a", "zero", "six"], ["clipped"]),
              helper.make_node("Mul", [c, "clipped"], ["m"]),
              helper.make_node("Div", ["m", "six"], ["y"])]
    scalars = {"three": 3.0, "zero": 0.0, "six": 6.0}
    initializers = {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32)} if conv else {}
    if constants_stored_as == "initializer":  # float initializers are Parameters: they may train
        initializers.update({k: np.array(v, np.float32) for k, v in scalars.items()})
    else:
        nodes = [helper.make_node("Constant", [], [k], value_float=v)
                 for k, v in scalars.items()] + nodes
    return _model(nodes, initializers, x_shape=x_shape)


@pytest.mark.parametrize("conv, steps", [(True, ["Convolution"]), (False, ["HardSwish"])])
def test_hard_swish_of_four_nodes_is_one_op_with_the_same_values(conv, steps):
    """After a Conv, in the convolution's step; else a step of its own. Either way the values
    of the four nodes, to the bit (large enough for the compiled loop, and small)."""
    for shape in ((2, 3, 6, 6), (2, 3, 30, 40)):
        proto = _hard_swish_model(constants_stored_as="constant", conv=conv, x_shape=shape)
        model = convlab.onnx.load(proto)
        assert _step_types(model) == steps
        x = _x(shape) * 3  # across the kinks at -3 and 3
        fast, slow = _both(model, x)
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-5)


def test_hard_swish_pattern_with_trainable_constants_runs_node_by_node():
    model = convlab.onnx.load(_hard_swish_model(constants_stored_as="initializer"))
    assert "HardSwish" not in _step_types(model)


def test_a_node_of_weights_runs_once_until_a_weight_changes(monkeypatch):
    """y = x + Reshape(bias, (1, 4, 1, 1)): the Reshape reads a Parameter and a shape."""
    nodes = [helper.make_node("Reshape", ["bias", "shape"], ["b"]),
             helper.make_node("Add", ["x", "b"], ["y"])]
    proto = _model(nodes, {"bias": np.arange(4, dtype=np.float32),
                           "shape": np.array([1, 4, 1, 1], np.int64)}, x_shape=(2, 4, 3, 3))
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Cached", "OnArrays"]
    calls = []
    reshape = inference.OPS["Reshape"]
    monkeypatch.setitem(inference.OPS, "Reshape", lambda *a: calls.append(1) or reshape(*a))
    x = _x((2, 4, 3, 3))
    for _ in range(3):
        fast, slow = _both(model, x)
        np.testing.assert_array_equal(fast, slow)
    assert len(calls) == 1 + 3  # once for the three no_grad calls, then each node-by-node run
    with convlab.no_grad():
        model.bias.add_(1.0)
    fast, slow = _both(model, x)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast, x + np.arange(1, 5, dtype=np.float32).reshape(1, 4, 1, 1))


def test_gradients_through_an_imported_conv_bn_stay_the_graphs():
    """With gradients on, nothing is folded: the BN's scale gets its own gradient."""
    model = convlab.onnx.load(_conv_bn(relu=False))
    x = convlab.from_numpy(_x())
    model(x).sum().backward()
    assert model.scale.grad is not None and model.w.grad is not None


def _squeeze_excitation(gate_first=False, relu_between=True):
    """MobileNetV3's block: y = x * HardSigmoid(Conv(Relu(Conv(GlobalAveragePool(x)) + b1))
    + Reshape(b2)), as paddle2onnx writes it (the second bias a separate Add)."""
    rng = np.random.default_rng(7)
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
             helper.make_node("Conv", ["p", "w1", "b1"], ["s"], kernel_shape=[1, 1]),
             helper.make_node("Relu" if relu_between else "Sigmoid", ["s"], ["r"]),
             helper.make_node("Conv", ["r", "w2"], ["e"], kernel_shape=[1, 1]),
             helper.make_node("Reshape", ["b2", "shape"], ["b2r"]),
             helper.make_node("Add", ["e", "b2r"], ["a"]),
             helper.make_node("HardSigmoid", ["a"], ["g"], alpha=1 / 6, beta=0.5),
             helper.make_node("Mul", ["g", "x"] if gate_first else ["x", "g"], ["y"])]
    initializers = {"w1": rng.standard_normal((2, 8, 1, 1)).astype(np.float32),
                    "b1": rng.standard_normal(2).astype(np.float32),
                    "w2": rng.standard_normal((8, 2, 1, 1)).astype(np.float32) * 10,
                    "b2": rng.standard_normal(8).astype(np.float32),
                    "shape": np.array([1, 8, 1, 1], np.int64)}
    return _model(nodes, initializers, x_shape=(2, 8, 5, 6))


@pytest.mark.parametrize("gate_first", [False, True])
def test_squeeze_excitation_runs_on_arrays_with_the_graphs_values(gate_first):
    proto = _squeeze_excitation(gate_first)
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Cached", "SqueezeExcitation"]
    x = _x((2, 8, 5, 6)) + np.linspace(-2, 2, 8, dtype=np.float32).reshape(8, 1, 1)
    fast, slow = _both(model, x)
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-6)
    assert (fast == 0).any() and (fast != 0).any()  # the clamp shut some channels, not all
    with convlab.no_grad():  # the folded weights follow a change of a weight
        model.w1.mul_(-1.0)
    fast, slow = _both(model, x)
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)
    _doubled_equals_nodes(model, x)


def test_squeeze_excitation_nodes_see_their_hooks_and_other_activations_stay_nodes():
    model = convlab.onnx.load(_squeeze_excitation())
    seen = []
    relu = [node for node in model.nodes.values() if node.op_type == "Relu"][0]
    relu.register_forward_hook(lambda module, args, output: seen.append(tuple(output.shape)))
    x = _x((2, 8, 5, 6))
    fast, slow = _both(model, x)
    assert seen == [(2, 2, 1, 1), (2, 2, 1, 1)]
    np.testing.assert_array_equal(fast, slow)
    sigmoid = convlab.onnx.load(_squeeze_excitation(relu_between=False))
    assert "SqueezeExcitation" not in _step_types(sigmoid)


def test_values_computed_from_a_shape_are_kept_per_shape(monkeypatch):
    """y = Reshape(x, Concat(Slice(Shape(x), 0, 1), [-1])), the head paddle2onnx writes: the
    shape's nodes run once per input shape, and the values follow a new shape."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Slice", ["s", "zero", "one"], ["n"]),
             helper.make_node("Concat", ["n", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    constants = {"zero": np.array([0], np.int64), "one": np.array([1], np.int64),
                 "minus_one": np.array([-1], np.int64)}
    model = convlab.onnx.load(_model(nodes, constants))
    assert _step_types(model) == ["ShapeOf", "Cached", "Cached", "OnnxNode"]
    calls = []
    concat = inference.OPS["Concat"]
    monkeypatch.setitem(inference.OPS, "Concat", lambda *a: calls.append(1) or concat(*a))
    for shape in ((2, 3, 6, 6), (2, 3, 6, 6), (5, 3, 6, 6)):
        x = _x(shape)
        fast, slow = _both(model, x)
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(fast, x.reshape(shape[0], -1))
    assert len(calls) == 2 + 3  # once per shape under no_grad, then each node-by-node run


@pytest.mark.parametrize("other_first", [False, True])
def test_a_residual_add_and_relu_run_in_the_convolutions_step(other_first):
    """y = Relu(Conv(x) + x), as ResNet's blocks, and Conv(x) + GlobalAveragePool(x), where
    the Add broadcasts: in the convolution's step, the same values as node by node."""
    rng = np.random.default_rng(9)
    w = {"w": rng.standard_normal((3, 3, 3, 3)).astype(np.float32)}
    conv = helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])
    add = helper.make_node("Add", ["x", "c"] if other_first else ["c", "x"], ["a"])
    proto = _model([conv, add, helper.make_node("Relu", ["a"], ["y"])], w, x_shape=(2, 3, 20, 30))
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Convolution"]
    x = _x((2, 3, 20, 30))
    fast, slow = _both(model, x)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-5)
    pooled = _model([helper.make_node("GlobalAveragePool", ["x"], ["p"]), conv,
                     helper.make_node("Add", ["c", "p"], ["y"])], w)
    model = convlab.onnx.load(pooled)
    assert _step_types(model) == ["OnArrays", "Convolution"]
    fast, slow = _both(model, _x())
    np.testing.assert_array_equal(fast, slow)


def test_an_add_of_two_convolutions_goes_with_the_first():
    """ResNet's projection: Relu(Conv_a(x) + Conv_b(x)); the first convolution's step takes the
    Add and the Relu, the second runs by itself, before it."""
    rng = np.random.default_rng(10)
    weights = {name: rng.standard_normal((4, 3, 1, 1)).astype(np.float32) for name in "ab"}
    nodes = [helper.make_node("Conv", ["x", "a"], ["ca"]),
             helper.make_node("Conv", ["x", "b"], ["cb"], strides=[1, 1]),
             helper.make_node("Add", ["ca", "cb"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    model = convlab.onnx.load(_model(nodes, weights))
    steps = model._runs[False][0]
    assert [[node.op_type for node in step.nodes] for step in steps] == [
        ["Conv"], ["Conv", "Add", "Relu"]]
    fast, slow = _both(model, _x())
    np.testing.assert_array_equal(fast, slow)


def _pool_head(opset):
    """x -> MaxPool (3x3 stride 2, ceil_mode) -> Relu -> Sub of x's pool by 2x2 stride 2 ->
    GlobalAveragePool -> Reshape to (N, C) -> MatMul -> Add -> Mul -> Softmax: every operator
    that OnArrays runs, with broadcasting."""
    rng = np.random.default_rng(11)
    weights = {"shape": np.array([0, -1], np.int64),
               "m": rng.standard_normal((3, 5)).astype(np.float32),
               "b": rng.standard_normal(5).astype(np.float32),
               "k": rng.standard_normal((1, 5)).astype(np.float32)}
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                              ceil_mode=1),
             helper.make_node("Relu", ["p"], ["r"]),
             helper.make_node("MaxPool", ["x"], ["q"], kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Sub", ["r", "q"], ["d"]),
             helper.make_node("GlobalAveragePool", ["d"], ["g"]),
             helper.make_node("Reshape", ["g", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "m"], ["l"]),
             helper.make_node("Add", ["l", "b"], ["a"]),
             helper.make_node("Mul", ["k", "a"], ["s"]),
             helper.make_node("Softmax", ["s"], ["y"], axis=1)]
    return _model(nodes, weights, opset=opset, x_shape=(2, 3, 8, 8))


@pytest.mark.parametrize("opset", [11, 13])
def test_pooling_products_sums_and_softmax_run_on_the_arrays_with_the_same_values(opset):
    proto = _pool_head(opset)
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["OnArrays", "OnnxNode", "OnArrays", "OnArrays", "OnArrays",
                                  "OnnxNode", "OnArrays", "OnArrays", "OnArrays", "OnArrays"]
    for batch in (2, 5, 2):  # the windows and axes worked out per shape, and kept
        x = _x((batch, 3, 8, 8), seed=batch)
        fast, slow = _both(model, x)
        np.testing.assert_array_equal(fast, slow)
        if batch == 2:  # the file's batch size
            np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-6)
    seen = []
    for node in model.nodes.values():
        node.register_forward_hook(lambda m, i, o: seen.append(m.op_type))
    with convlab.no_grad():
        model(convlab.from_numpy(_x((2, 3, 8, 8))))
    assert seen == [node.op_type for node in model.nodes.values()]  # hooks see every node


def test_what_the_arrays_cannot_take_goes_to_the_node():
    """Shapes that do not broadcast: the node's own error; float64 beside float32: the node's
    promotion; a MaxPool whose pads PyTorch's pooling lacks: the node pads it itself."""
    nodes = [helper.make_node("Add", ["x", "v"], ["y"])]
    bad = convlab.onnx.load(_model(nodes, {"v": np.ones(4, np.float32)}))
    with convlab.no_grad(), pytest.raises(Exception) as fast:
        bad(convlab.from_numpy(_x()))
    with pytest.raises(Exception) as slow:
        bad(convlab.from_numpy(_x()))
    assert type(fast.value) is type(slow.value) and str(fast.value) == str(slow.value)
    wide = convlab.onnx.load(_model(nodes, {"v": np.ones(6, np.float64)}))
    fast, slow = _both(wide, _x())
    assert fast.dtype == slow.dtype
    np.testing.assert_array_equal(fast, slow)
    scalars = _model([helper.make_node("Mul", ["s", "s"], ["p"]),
                      helper.make_node("Add", ["p", "s"], ["y"])], {}, x_shape=())
    scalars.graph.input[0].name = "s"
    model = convlab.onnx.load(scalars)  # 0-d values: NumPy gives scalars, made arrays again
    with convlab.no_grad():
        fast = model(convlab.tensor(3.0))
    assert fast.shape == () and fast.item() == 12.0
    uneven = _model([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3],
                                      pads=[2, 0, 0, 1])], {})
    model = convlab.onnx.load(uneven)
    x = _x()
    fast, slow = _both(model, x)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, _onnxruntime(uneven, x))


def _special(shape):
    """Values across the activations' kinks, NaN, infinities and -0.0."""
    x = _x(shape) * 4
    flat = x.reshape(-1)
    flat[:9] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -3.0, 3.0, -2.9999998, 2.9999998]
    return x


@pytest.mark.filterwarnings("ignore:invalid value")  # inf * 0 in the nodes' HardSwish
@pytest.mark.parametrize("activation", ["Relu", "HardSwish"])
def test_a_convolutions_activation_has_the_nodes_values_at_every_size(activation):
    """The steps run the activations' compiled loops on arrays of any size, where the ops take
    NumPy's below 16K values: the same values to the bit, NaN, infinities and signed zeros."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], group=3)]  # times one per channel
    if activation == "Relu":
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    else:  # its constants as Constant nodes (buffers: an initializer would be a Parameter)
        nodes = [helper.make_node("Constant", [], [k], value_float=v)
                 for k, v in (("three", 3.0), ("zero", 0.0), ("six", 6.0))] + nodes + [
            helper.make_node("Add", ["c", "three"], ["a"]),
            helper.make_node("Clip", ["a", "zero", "six"], ["clipped"]),
            helper.make_node("Mul", ["c", "clipped"], ["m"]),
            helper.make_node("Div", ["m", "six"], ["y"])]
    for shape in ((1, 3, 4, 5), (2, 3, 40, 90)):  # 60 values, and 21,600
        model = convlab.onnx.load(_model(nodes, {"w": np.ones((3, 1, 1, 1), np.float32)},
                                         x_shape=shape))
        assert _step_types(model) == ["Convolution"]
        fast, slow = _both(model, _special(shape))
        np.testing.assert_array_equal(fast, slow)
        np.testing.assert_array_equal(np.signbit(fast), np.signbit(slow))


def _fire(relu_on_both=True, expand_read_twice=False):
    """SqueezeNet's Fire module: Relu(Conv 1x1) -> [Relu(Conv 1x1), Relu(Conv 3x3)] -> Concat."""
    rng = np.random.default_rng(12)
    w = {"ws": rng.standard_normal((4, 3, 1, 1)).astype(np.float32),
         "bs": rng.standard_normal(4).astype(np.float32),
         "w1": rng.standard_normal((5, 4, 1, 1)).astype(np.float32),
         "b1": rng.standard_normal(5).astype(np.float32),
         "w3": rng.standard_normal((6, 4, 3, 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "ws", "bs"], ["sc"]),
             helper.make_node("Relu", ["sc"], ["s"]),
             helper.make_node("Conv", ["s", "w1", "b1"], ["e1c"]),
             helper.make_node("Relu", ["e1c"], ["e1"]),
             helper.make_node("Conv", ["s", "w3"], ["e3c"], pads=[1, 1, 1, 1])]
    if relu_on_both:
        nodes.append(helper.make_node("Relu", ["e3c"], ["e3"]))
    expand3 = "e3" if relu_on_both else "e3c"
    nodes.append(helper.make_node("Concat", ["e1", expand3], ["y" if not expand_read_twice
                                                             else "cat"], axis=1))
    if expand_read_twice:
        nodes.append(helper.make_node("Add", ["cat", "cat"], ["y"]))
        nodes.append(helper.make_node("Identity", ["e1"], ["e1_out"]))
    outputs = ("y", "e1_out") if expand_read_twice else ("y",)
    return _model(nodes, w, outputs, x_shape=(3, 3, 7, 9))


@pytest.mark.parametrize("relu_on_both", [True, False])
def test_convolutions_that_only_a_concat_reads_write_into_its_output(relu_on_both):
    """Fire modules: the two expand convolutions and their Relus write straight into the
    Concat's output (a sample's channels at a time), the same values as node by node."""
    proto = _fire(relu_on_both)
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Convolution", "ConcatOfConvolutions"]
    x = _x((3, 3, 7, 9))
    fast, slow = _both(model, x)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_allclose(fast, _onnxruntime(proto, x), rtol=1e-5, atol=1e-5)
    with convlab.no_grad():  # a second batch size
        again = model(convlab.from_numpy(_x((1, 3, 7, 9)))).numpy()
    slow = model(convlab.from_numpy(_x((1, 3, 7, 9)))).detach().numpy()
    np.testing.assert_array_equal(again, slow)


def test_a_convolution_read_by_more_than_the_concat_keeps_its_own_step():
    proto = _fire(expand_read_twice=True)
    model = convlab.onnx.load(proto)
    assert "ConcatOfConvolutions" not in _step_types(model)
    with convlab.no_grad():
        fast = [t.numpy() for t in model(convlab.from_numpy(_x((3, 3, 7, 9))))]
    slow = [t.detach().numpy() for t in model(convlab.from_numpy(_x((3, 3, 7, 9))))]
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_a_large_residual_add_on_two_threads_has_the_nodes_values(monkeypatch):
    """The residual Add of a convolution's step on the engine's threads (72K values, from
    SERIAL_BELOW on 2 threads): the same sums as the node's."""
    from convlab.engine import parallel

    monkeypatch.setattr(parallel, "WORKERS", 2)
    rng = np.random.default_rng(13)
    w = {"w": rng.standard_normal((3, 3, 3, 3)).astype(np.float32)}
    conv = helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1])
    proto = _model([conv, helper.make_node("Add", ["c", "x"], ["a"]),
                    helper.make_node("Relu", ["a"], ["y"])], w, x_shape=(2, 3, 120, 100))
    model = convlab.onnx.load(proto)
    assert _step_types(model) == ["Convolution"]
    fast, slow = _both(model, _x((2, 3, 120, 100)))
    np.testing.assert_array_equal(fast, slow)
