"""convlab.onnx.load: ONNX files become convlab Modules that compute what PyTorch computes,
train, and say what they cannot run."""

import io
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import helper  # noqa: E402

import convlab  # noqa: E402
import convlab.onnx  # noqa: E402
from convlab.explain.summary import summary  # noqa: E402


class _Block(torch.nn.Module):
    """The operators of a CNN, with the attributes PyTorch and ONNX disagree about."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = torch.nn.BatchNorm2d(8, momentum=0.3)
        self.branch = torch.nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.up = torch.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
        self.pool = torch.nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.avg = torch.nn.AvgPool2d(2, padding=1, count_include_pad=False)
        self.fc = torch.nn.Linear(4 * 9 * 9, 6)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.nn.functional.hardswish(y + self.branch(y))  # a residual add
        y = torch.nn.functional.interpolate(self.up(y), scale_factor=2, mode="bilinear")
        y = self.avg(self.pool(torch.nn.functional.leaky_relu(y, 0.2)))
        return torch.log_softmax(self.fc(y.flatten(1)), dim=1)


def _exported(model, x, dynamo=False) -> bytes:
    model.eval()
    if dynamo:
        return torch.onnx.export(model, (x,), dynamo=True, verbose=False).model_proto.SerializeToString()
    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer, dynamo=False)
    return buffer.getvalue()


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_pytorch_export_runs_in_convlab_with_pytorchs_values_and_gradients(dynamo):
    torch.manual_seed(0)
    model = _Block()
    with torch.no_grad():  # running statistics that are not the identity
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 16, 16)
    imported = convlab.onnx.load(_exported(model, x, dynamo))
    ours = convlab.from_numpy(x.numpy().copy()).requires_grad_()
    y = imported(ours)
    theirs = x.clone().requires_grad_()
    expected = model(theirs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-3, atol=1e-5)


def test_weights_are_parameters_and_fine_tune():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 6 * 6, 3))
    imported = convlab.onnx.load(_exported(model, torch.randn(1, 1, 8, 8)))
    shapes = sorted(tuple(p.shape) for p in imported.parameters())
    assert shapes == sorted(tuple(p.shape) for p in model.parameters())
    x, target = convlab.randn(5, 1, 8, 8), convlab.tensor([0, 1, 2, 0, 1])
    optimizer = convlab.optim.SGD(imported.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        loss = convlab.nn.functional.cross_entropy(imported(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_running_statistics_are_buffers_not_parameters():
    model = convlab.nn.Sequential(convlab.nn.Conv2d(1, 4, 3, bias=False), convlab.nn.BatchNorm2d(4))
    imported = convlab.onnx.load(convlab.onnx.export(model, convlab.randn(1, 1, 8, 8)))
    assert sorted(tuple(p.shape) for p in imported.parameters()) == [(4,), (4,), (4, 1, 3, 3)]
    assert sorted(tuple(b.shape) for b in imported.buffers()) == [(4,), (4,)]


def test_repr_lists_the_layers_and_summary_runs():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2))
    imported = convlab.onnx.load(_exported(model, torch.randn(1, 3, 8, 8)))
    text = repr(imported)
    assert "Conv(" in text and "kernel_shape=[3, 3]" in text and "Relu()" in text
    assert "MaxPool(" in text
    assert "Conv" in str(summary(imported, (1, 3, 8, 8)))


def _one_node_model(op_type, opset=13, **attributes):
    node = helper.make_node(op_type, ["x"], ["y"], name="mystery", **attributes)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, [1, 2])],
                              [helper.make_tensor_value_info("y", 1, [1, 2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_an_unsupported_operator_is_named_with_its_node_and_opset():
    with pytest.raises(NotImplementedError, match=r"opset 17.*operator Unique \(node 'mystery'"):
        convlab.onnx.load(_one_node_model("Unique", opset=17))


def test_an_attribute_convlab_lacks_is_named():
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="r", mode="linear", antialias=1)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", 1, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", 1, None)],
        [onnx.numpy_helper.from_array(np.array([1, 1, 0.5, 0.5], np.float32), "s")])
    model = convlab.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    with pytest.raises(NotImplementedError, match="antialias"):
        model(convlab.ones(1, 1, 4, 4))


def test_bad_sources_are_refused_by_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ONNX file"):
        convlab.onnx.load(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="expected a path, bytes"):
        convlab.onnx.load(3)
    model = convlab.onnx.load(_one_node_model("Relu"))
    with pytest.raises(TypeError, match=r"takes 1 input\(s\) \['x'\], got 2"):
        model(convlab.ones(1, 2), convlab.ones(1, 2))


def test_load_reads_a_path_and_keeps_onnx_out_of_import_convlab(tmp_path):
    path = tmp_path / "relu.onnx"
    path.write_bytes(_one_node_model("Relu").SerializeToString())
    y = convlab.onnx.load(path)(convlab.tensor([[-1.0, 2.0]]))
    assert y.tolist() == [[0.0, 2.0]]
    script = ("import sys, convlab; assert 'onnx' not in sys.modules; "
              "sys.modules['onnx'] = None; import convlab.onnx\n"
              "try:\n    convlab.onnx.load(b'')\nexcept ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "pip install 'convlab[onnx]'" in out.stdout
