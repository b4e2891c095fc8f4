"""A real trained CNN from a pip package: PaddleOCR's MobileNetV3 text-direction classifier inside
rapidocr-onnxruntime (Apache-2.0), run by convlab on a rendered line of text."""

import importlib.util
import pathlib

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
Image = pytest.importorskip("PIL.Image")
if importlib.util.find_spec("rapidocr_onnxruntime") is None:  # its import needs OpenCV: find it only
    pytest.skip("rapidocr-onnxruntime is not installed", allow_module_level=True)

from PIL import ImageDraw, ImageFont  # noqa: E402

import convlab  # noqa: E402
import convlab.onnx  # noqa: E402
from convlab.explain.summary import summary  # noqa: E402

_MODELS = pathlib.Path(importlib.util.find_spec("rapidocr_onnxruntime").origin).parent / "models"
_CLASSIFIER = _MODELS / "ch_ppocr_mobile_v2.0_cls_infer.onnx"


def _text_line() -> np.ndarray:
    """'convlab 2026' in black on white, 48 x 192, scaled as PaddleOCR does: (x/255 - 0.5) / 0.5.
    Shape (1, 3, 48, 192)."""
    image = Image.new("RGB", (192, 48), "white")
    ImageDraw.Draw(image).text((4, 6), "convlab 2026", fill="black",
                               font=ImageFont.load_default(size=30))
    x = (np.asarray(image, np.float32) / 255 - 0.5) / 0.5
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])  # (H, W, C) -> (1, C, H, W)


def test_the_text_direction_classifier_reads_upright_and_upside_down_text_as_onnxruntime_does():
    upright = _text_line()
    batch = np.concatenate([upright, np.ascontiguousarray(upright[:, :, ::-1, ::-1])])
    model = convlab.onnx.load(_CLASSIFIER)
    with convlab.no_grad():
        ours = model(convlab.from_numpy(batch)).numpy()
    session = ort.InferenceSession(str(_CLASSIFIER), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"x": batch})
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert ours.argmax(axis=1).tolist() == [0, 1]  # class 0: upright, class 1: rotated 180 degrees


def test_its_summary_lists_the_mobilenet_layers():
    model = convlab.onnx.load(_CLASSIFIER)
    text = str(summary(model, (1, 3, 48, 192)))
    assert "Conv" in text and "HardSigmoid" in text
    assert sum(p.numel() for p in model.parameters()) > 100_000


@pytest.mark.parametrize("name, shape", [("ch_PP-OCRv4_det_infer.onnx", (1, 3, 64, 96)),
                                         ("ch_PP-OCRv4_rec_infer.onnx", (1, 3, 48, 160))],
                         ids=["detector", "recognizer"])
def test_the_ocr_detector_and_recognizer_equal_onnxruntime(name, shape):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    model = convlab.onnx.load(_MODELS / name)
    with convlab.no_grad():
        ours = model(convlab.from_numpy(x)).numpy()
    session = ort.InferenceSession(str(_MODELS / name), providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"x": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
