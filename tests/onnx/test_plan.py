"""convlab.onnx.plan: under no_grad an imported graph runs as one prepared list of steps per
input shape. Its values are the steps' to the bit (the conftest checks every plan the tests
build), it follows every change of a weight, steps aside for hooks, keeps a plan per shape (a
bounded number), and hands out outputs that the next call does not overwrite."""

import copy
import importlib.util
import pathlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import convlab  # noqa: E402
import convlab.onnx  # noqa: E402
from convlab.onnx import plan  # noqa: E402


def _network():
    """x -> Conv + BatchNormalization + Relu -> Conv + residual Add + Relu -> MaxPool ->
    Reshape to (N, -1) worked out by Shape (kept per shape) -> Gemm (on Tensors) -> Softmax."""
    rng = np.random.default_rng(3)
    w = {"w1": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
         "b1": rng.standard_normal(4).astype(np.float32),
         "scale": rng.uniform(0.5, 2, 4).astype(np.float32),
         "shift": rng.standard_normal(4).astype(np.float32),
         "mean": rng.standard_normal(4).astype(np.float32),
         "var": rng.uniform(0.5, 2, 4).astype(np.float32),
         "w2": rng.standard_normal((4, 4, 3, 3)).astype(np.float32),
         "fc": rng.standard_normal((5, 36)).astype(np.float32),
         "zero": np.array([0], np.int64), "one": np.array([1], np.int64),
         "minus": np.array([-1], np.int64)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"],
                              ["n1"]),
             helper.make_node("Relu", ["n1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["a2"]),
             helper.make_node("Relu", ["a2"], ["r2"]),
             helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Shape", ["p"], ["s"]),
             helper.make_node("Slice", ["s", "zero", "one"], ["n"]),
             helper.make_node("Concat", ["n", "minus"], ["target"], axis=0),
             helper.make_node("Reshape", ["p", "target"], ["flat"]),
             helper.make_node("Gemm", ["flat", "fc"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["y"], axis=-1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in w.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _x(batch=2, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((batch, 3, 6, 6)).astype(dtype)


def _planned(model, x):
    """The model's output under no_grad (by its plan) and the steps' run one at a time."""
    steps, dropped = model._runs[False]
    t = convlab.from_numpy(x)
    with convlab.no_grad():
        return model(t).numpy(), model._run(steps, dropped, (t,))[0].numpy()


def _plans(model):
    return model._plans._plans


def test_a_plan_gives_the_steps_values_and_is_built_once():
    model = convlab.onnx.load(_network())
    x = _x()
    for _ in range(3):
        ours, steps = _planned(model, x)
        np.testing.assert_array_equal(ours, steps)
    (built,) = _plans(model).values()
    assert isinstance(built, plan.Plan) and built.outputs is None  # no call's values kept
    grad = model(convlab.from_numpy(x)).detach().numpy()  # node by node
    np.testing.assert_allclose(ours, grad, rtol=1e-5, atol=1e-6)


def test_each_input_shape_and_dtype_has_its_plan_and_their_number_is_bounded():
    model = convlab.onnx.load(_network())
    for batch in (1, 2, 3):
        ours, steps = _planned(model, _x(batch))
        np.testing.assert_array_equal(ours, steps)
        assert ours.shape == (batch, 5)
    model.double()
    ours, steps = _planned(model, _x(2, dtype=np.float64))
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(ours, steps)
    assert len(_plans(model)) == 4
    for batch in range(4, 4 + plan.MAX_PLANS):
        _planned(model, _x(batch, dtype=np.float64))
    assert len(_plans(model)) <= plan.MAX_PLANS


def test_a_weight_changed_in_place_or_replaced_is_seen():
    model = convlab.onnx.load(_network())
    x = _x()
    _planned(model, _x(3))
    before, _ = _planned(model, x)
    with convlab.no_grad():
        model.w1.add_(0.0)
    _planned(model, x)
    assert len(_plans(model)) == 1  # the other shape's plan, stale too, let go of
    for change in (lambda: model.w2.mul_(2.0), lambda: model.mean.add_(1.0),
                   lambda: model.fc.mul_(-1.0)):
        with convlab.no_grad():
            change()
        ours, steps = _planned(model, x)
        np.testing.assert_array_equal(ours, steps)
        assert not np.array_equal(ours, before)
        before = ours
    model.load_state_dict({k: v * 0.5 if v.dtype.is_floating_point else v
                           for k, v in model.state_dict().items()})
    ours, steps = _planned(model, x)
    np.testing.assert_array_equal(ours, steps)
    model.w1 = convlab.nn.Parameter(convlab.from_numpy(np.zeros((4, 3, 3, 3), np.float32)))
    ours, steps = _planned(model, x)
    np.testing.assert_array_equal(ours, steps)
    assert not np.array_equal(ours, before)


def test_hooks_see_every_node_while_registered():
    model = convlab.onnx.load(_network())
    x = _x()
    _planned(model, x)
    seen = []
    handles = [node.register_forward_hook(lambda module, args, output: seen.append(module.op_type))
               for node in model.nodes.values()]
    ours, steps = _planned(model, x)
    np.testing.assert_array_equal(ours, steps)
    nodes = [node.op_type for node in model.nodes.values()]
    assert seen == nodes + nodes
    for handle in handles:
        handle.remove()
    seen.clear()
    _planned(model, x)
    assert seen == []


def test_outputs_are_not_overwritten_by_the_next_call():
    model = convlab.onnx.load(_network())
    with convlab.no_grad():
        first = model(convlab.from_numpy(_x(seed=1)))
        kept = first.numpy().copy()
        second = model(convlab.from_numpy(_x(seed=2)))
    np.testing.assert_array_equal(first.numpy(), kept)
    assert not np.array_equal(second.numpy(), kept)


def test_a_copy_of_the_model_builds_its_own_plan():
    model = convlab.onnx.load(_network())
    x = _x()
    _planned(model, x)
    twin = copy.deepcopy(model)
    assert _plans(twin) == {}
    with convlab.no_grad():
        model.w2.mul_(3.0)
    ours, steps = _planned(twin, x)
    np.testing.assert_array_equal(ours, steps)
    assert not np.array_equal(ours, _planned(model, x)[0])


def test_a_shape_that_differs_inside_the_graph_runs_the_steps(monkeypatch):
    """A plan keeps what a Shape node gave; where that shape differs (not with the graphs convlab
    runs, made here by hand) the call runs the steps."""
    model = convlab.onnx.load(_network())
    x = _x()
    _planned(model, x)
    (built,) = _plans(model).values()
    (shape_check,) = [run for run, _ in built._runs if run.__name__ == "run"
                      and run.__qualname__.startswith("_same_shape")]
    monkeypatch.setattr(built, "_runs", [(lambda s: (_ for _ in ()).throw(plan._Stale), ())])
    ours, steps = _planned(model, x)
    np.testing.assert_array_equal(ours, steps)
    with pytest.raises(plan._Stale):
        shape_check([np.zeros((1, 1))] * 64)


def test_calls_do_not_hold_more_memory():
    import gc
    import tracemalloc

    model = convlab.onnx.load(_network())
    x = convlab.from_numpy(_x())
    with convlab.no_grad():
        for _ in range(3):
            model(x)
        tracemalloc.start()
        for _ in range(20):
            model(x)
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert current < 2_000


_RAPIDOCR = importlib.util.find_spec("rapidocr_onnxruntime")


@pytest.mark.skipif(_RAPIDOCR is None, reason="rapidocr-onnxruntime is not installed")
@pytest.mark.parametrize("threads", [1, 2])
def test_the_text_direction_classifier_by_its_plan_equals_its_steps(threads):
    path = (pathlib.Path(_RAPIDOCR.origin).parent / "models"
            / "ch_ppocr_mobile_v2.0_cls_infer.onnx")
    model = convlab.onnx.load(path)
    x = np.random.default_rng(0).standard_normal((2, 3, 48, 192)).astype(np.float32)
    previous = convlab.get_num_threads()
    convlab.set_num_threads(threads)
    try:
        for _ in range(2):
            ours, steps = _planned(model, x)
            np.testing.assert_array_equal(ours, steps)
    finally:
        convlab.set_num_threads(previous)


@pytest.mark.parametrize("stride, groups, bias", [(1, 1, True), (2, 2, False)])
def test_pointwise_with_fixed_weights_gives_forward_plans_values(stride, groups, bias):
    """The plans' 1x1 convolutions: pointwise.forward_fixed, the weights arranged once."""
    from convlab.engine import geometry, jit, pointwise

    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 9, 11)).astype(np.float32)
    w = rng.standard_normal((4, 6 // groups, 1, 1)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32) if bias else None
    G = geometry.conv_geometry("conv2d", 2, x.shape, w.shape, None if b is None else b.shape,
                               stride=stride, groups=groups)
    fixed = pointwise.forward_fixed(G, x.shape, x.dtype, w, b)
    if not jit.active():
        assert fixed is None and pointwise.forward_plan(G, x.shape, x.dtype) is None
        return
    np.testing.assert_array_equal(fixed(x), pointwise.forward_plan(G, x.shape, x.dtype)(x, w, b))
