"""The ONNX side of the ``convlab`` command: export a trained run, and summarise and classify
with an ONNX file."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import convlab  # noqa: E402
from convlab.cli import main  # noqa: E402
from convlab.training import TrainConfig, train  # noqa: E402
from convlab.training.loop import load_checkpoint, model_from_checkpoint  # noqa: E402
from convlab.training.report import Reporter  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A one-epoch digits run and its ONNX export."""
    root = tmp_path_factory.mktemp("onnx_cli")
    run = root / "digits"
    train(TrainConfig(epochs=1, out=str(run)), reporter=Reporter(quiet=True))
    assert main(["export", str(run), "--onnx", str(root / "digits.onnx")]) == 0
    return run, root / "digits.onnx"


def test_export_writes_what_onnxruntime_runs_as_convlab(exported, capsys):
    run, path = exported
    onnx.checker.check_model(onnx.load(str(path)))
    model = model_from_checkpoint(load_checkpoint(run), run).eval()
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {session.get_inputs()[0].name: x})
    with convlab.no_grad():
        ours = model(convlab.tensor(x)).numpy()
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-4)


def test_summary_and_predict_take_an_onnx_file(exported, tmp_path, capsys):
    from PIL import Image

    _, path = exported
    capsys.readouterr()
    assert main(["summary", str(path), "--input", "1x1x8x8"]) == 0
    assert "[1, 10]" in capsys.readouterr().out
    picture = tmp_path / "seven.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(picture)
    assert main(["predict", str(path), str(picture), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{picture}: class ") and out.count("%") == 2


def test_a_missing_onnx_file_and_a_model_page_without_a_picture_are_one_line_errors(
        exported, capsys):
    _, path = exported
    assert main(["summary", "nope.onnx", "--input", "1x1x8x8"]) == 2
    assert "no such file: nope.onnx" in capsys.readouterr().err
    assert main(["explore", str(path), "--input", "1x1x8x8", "--out", "page.html"]) == 2
    assert "give one with --image" in capsys.readouterr().err


def test_explore_draws_an_onnx_models_feature_maps(exported, tmp_path, capsys):
    from PIL import Image

    _, path = exported
    picture = tmp_path / "blot.png"
    Image.fromarray(np.eye(40, dtype=np.uint8) * 255).save(picture)
    page = tmp_path / "model.html"
    assert main(["explore", str(path), "--input", "1x1x8x8", "--image", str(picture),
                 "--out", str(page)]) == 0
    html = page.read_text()
    assert "nodes.conv1: Conv, 16 maps of 8x8" in html and "nodes.conv2: Conv" in html


def test_explain_takes_a_conv_node_of_an_onnx_file(exported, capsys):
    _, path = exported
    capsys.readouterr()
    assert main(["explain", str(path), "--input", "1x1x8x8", "--node", "nodes.conv1",
                 "--trace", "0,0,1,1"]) == 0
    out = capsys.readouterr().out
    assert f"{path}, node nodes.conv1 (Conv)" in out
    assert "Conv2d(1, 16, (3, 3), stride=(1, 1), padding=(1, 1)" in out
    assert "H: floor((8 + 2*1 - 1*(3-1) - 1) / 1) + 1 = 8" in out
    assert "output shape  (1, 16, 8, 8)" in out and "parameters    160" in out
    assert "receptive field 3 of the model's input, effective stride 1" in out
    assert "output[0, 0, 1, 1]" in out  # the trace, as for a layer given as text
    # the second conv sits after a pooling layer: its input shape and field come from the model
    assert main(["explain", str(path), "--input", "1x1x8x8", "--node", "nodes.conv2"]) == 0
    out = capsys.readouterr().out
    assert "on input (1, 16, 4, 4)" in out and "receptive field 8 of the model's input" in out


def test_explain_on_an_onnx_file_names_the_nodes_it_can_show(exported, capsys):
    _, path = exported
    assert main(["explain", str(path), "--input", "1x1x8x8"]) == 2
    assert "say which node with --node, e.g. --node nodes.conv1" in capsys.readouterr().err
    assert main(["explain", str(path), "--input", "1x1x8x8", "--node", "nope"]) == 2
    assert f"{path} has no node 'nope'; its Conv, ConvTranspose and pooling nodes: " \
        "nodes.conv1, " in capsys.readouterr().err
