"""convlab.onnx.export: convlab models as ONNX files that onnx.checker accepts, that onnxruntime
runs with convlab's outputs, and that convlab.onnx.load reads back to the same function."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import convlab  # noqa: E402
import convlab.onnx  # noqa: E402
from convlab import nn  # noqa: E402
from convlab.models.digits_cnn import DigitsCNN  # noqa: E402
from convlab.models.lenet import LeNet5  # noqa: E402
from convlab.models.resnet import ResNetSmall  # noqa: E402


def _randomize_statistics(model):
    """Running statistics and affine parameters away from the identity, so BatchNorm counts."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            m.running_mean.copy_(convlab.rand(m.num_features) - 0.5)
            m.running_var.copy_(convlab.rand(m.num_features) + 0.5)
            with convlab.no_grad():
                m.weight.copy_(convlab.rand(m.num_features) + 0.5)
                m.bias.copy_(convlab.rand(m.num_features) - 0.5)
    return model


def _round_trip(model, x, tmp_path, opset=17, other_batch=3):
    """Export, then check onnxruntime and convlab.onnx.load against the model, at the example's
    batch size and at another one (the batch axis is left free)."""
    path = tmp_path / "model.onnx"
    proto = convlab.onnx.export(model, x, path, opset=opset)
    onnx.checker.check_model(onnx.load(path))
    assert proto.opset_import[0].version == opset
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reloaded = convlab.onnx.load(path)
    model.eval()
    for batch in (x, convlab.randn(other_batch, *x.shape[1:])):
        with convlab.no_grad():
            expected = model(batch).numpy()
            again = reloaded(batch).numpy()
        (ours,) = session.run(None, {"input": batch.numpy()})
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(again, expected, rtol=1e-5, atol=1e-6)


def test_a_sequential_of_every_exportable_layer_round_trips(tmp_path):
    convlab.manual_seed(0)
    model = _randomize_statistics(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect"),
        nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, stride=2, padding=(1, 2), dilation=(1, 2), groups=4, bias=False),
        nn.LeakyReLU(0.1), nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1),
        nn.ELU(), nn.ZeroPad2d((1, 0, 2, 1)), nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.Hardswish(), nn.Upsample(scale_factor=2), nn.ReflectionPad2d(1),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), nn.SiLU(),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.Hardsigmoid(), nn.GELU(), nn.Mish(),
        nn.Conv2d(6, 8, 1), nn.PReLU(8), nn.InstanceNorm2d(8, affine=True), nn.Softplus(),
        nn.AdaptiveAvgPool2d(2), nn.Dropout(0.3), nn.Flatten(), nn.Linear(32, 10), nn.Tanh(),
        nn.Linear(10, 5), nn.LogSoftmax(dim=1)))
    _round_trip(model, convlab.randn(2, 3, 12, 12), tmp_path)


def test_one_and_three_dimensional_layers_round_trip(tmp_path):
    convlab.manual_seed(1)
    model = _randomize_statistics(nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4), nn.Sigmoid(), nn.MaxPool3d(2),
        nn.ConvTranspose3d(4, 2, 2, stride=2), nn.AdaptiveMaxPool3d(1), nn.Flatten(),
        nn.Linear(2, 3), nn.Softmax(dim=-1)))
    _round_trip(model, convlab.randn(2, 2, 4, 6, 6), tmp_path)
    model = nn.Sequential(nn.Conv1d(3, 4, 5, stride=2, padding=2, padding_mode="circular"),
                          nn.AvgPool1d(2), nn.LayerNorm(4), nn.Linear(4, 2))
    _round_trip(model, convlab.randn(2, 3, 16), tmp_path)


@pytest.mark.parametrize("build, shape", [
    (lambda: LeNet5(), (2, 1, 28, 28)),
    (lambda: DigitsCNN(), (2, 1, 8, 8)),
    (lambda: ResNetSmall(in_channels=3, num_classes=10, width=8), (2, 3, 16, 16)),
], ids=["LeNet5", "DigitsCNN", "ResNetSmall"])
def test_convlabs_models_round_trip_residual_adds_included(build, shape, tmp_path):
    convlab.manual_seed(2)
    model = _randomize_statistics(build())
    model.train()
    convlab.onnx.export(model, convlab.randn(*shape), tmp_path / "trained.onnx")
    assert model.training  # exported in inference form, the model's own mode left as it was
    _round_trip(model, convlab.randn(*shape), tmp_path, opset=13)


class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        return self.conv(x) * 2


@pytest.mark.parametrize("model, match", [
    (_Custom(), r"cannot express _Custom \(the model\): it has a forward of its own"),
    (nn.Sequential(nn.Conv2d(1, 1, 3), _Custom()), r"_Custom \(1\)"),
    (nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), r"0 .*divisor_override"),
    (nn.Sequential(nn.AdaptiveAvgPool2d(3)), r"pools input \[8, 8\] to \[3, 3\]"),
    (nn.Sequential(nn.Softplus(beta=2)), "beta != 1"),
    (nn.Sequential(nn.GroupNorm(1, 1)), r"no ONNX form for the layer GroupNorm \(0\)"),
], ids=["custom-forward", "custom-child", "divisor_override", "uneven-adaptive", "softplus-beta",
        "group-norm"])
def test_what_onnx_cannot_express_is_refused_by_name(model, match, tmp_path):
    with pytest.raises(NotImplementedError, match=match):
        convlab.onnx.export(model, convlab.randn(1, 1, 8, 8), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_bad_arguments_are_refused_by_name(tmp_path):
    model = nn.Sequential(nn.ReLU())
    with pytest.raises(ValueError, match=r"opset must be 13 to \d+.*got 9"):
        convlab.onnx.export(model, convlab.randn(1, 2), tmp_path / "m.onnx", opset=9)
    with pytest.raises(TypeError, match="example_input must be a convlab Tensor, got ndarray"):
        convlab.onnx.export(model, np.zeros((1, 2), np.float32), tmp_path / "m.onnx")
