"""convlab.vision: images in and out, named kernels, filters, feature maps, and their commands."""

import numpy as np
import pytest
from PIL import Image

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from convlab.cli import main
from convlab.vision import (KERNELS, feature_maps, filter_image, kernel, load_image,
                            random_filter, sample_photo, save_image, tile, to_image, to_tensor)


def test_sample_photo_ships_with_its_license():
    photo = load_image()
    assert photo.shape == (427, 640, 3) and photo.dtype == np.uint8
    assert "CC BY 2.0" in (sample_photo().parent / "PHOTO_LICENSE.txt").read_text()
    assert load_image(size=64).shape == (43, 64, 3)
    assert load_image(gray=True, size=(10, 20)).shape == (10, 20)


def test_uint8_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    x = to_tensor(image)
    assert x.shape == (1, 3, 5, 7) and x.dtype == convlab.float32
    np.testing.assert_array_equal(to_image(x, (0.0, 1.0)), image)
    path = save_image(image, tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(path), image)


def test_display_scaling():
    signed = np.array([[-2.0, 0.0, 1.0]])
    np.testing.assert_array_equal(to_image(signed), [[0, 128, 191]])  # 0 is mid-grey
    np.testing.assert_array_equal(to_image(np.array([[0.0, 1.0]])), [[0, 255]])
    assert tile(np.zeros((5, 4, 3))).shape == (2 * 4 + 2, 3 * 3 + 4)


def test_named_kernels_are_correlation_kernels():
    ramp = np.tile(np.arange(6, dtype=float), (6, 1))  # brighter to the right
    for name, sign in [("sobel-right", 1), ("sobel-left", -1), ("prewitt-x", 1),
                       ("sobel-bottom", 0), ("sobel-top", 0)]:
        y = F.conv2d(convlab.tensor(ramp)[None, None], convlab.tensor(kernel(name))[None, None])
        assert np.all(np.sign(y.numpy()) == sign), name
    for name in ("identity", "blur", "sharpen", "emboss"):
        assert kernel(name).sum() == pytest.approx(1.0)
    for name in ("outline", "laplacian", "sobel-x", "prewitt-top"):
        assert kernel(name).sum() == pytest.approx(0.0)
    assert {f"{f}-{d}" for f in ("sobel", "prewitt")
            for d in ("left", "right", "top", "bottom")} <= set(KERNELS)
    g = kernel("gaussian(7, 2)")
    assert g.shape == (7, 7) and g.sum() == pytest.approx(1.0) and g.argmax() == 24
    np.testing.assert_array_equal(kernel("box(2)"), np.full((2, 2), 0.25))
    np.testing.assert_array_equal(kernel("1, 0, -1; 2 0 -2"), [[1, 0, -1], [2, 0, -2]])
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel("sobelx")
    with pytest.raises(ValueError, match="odd"):
        kernel("gaussian(4)")
    with pytest.raises(ValueError, match="same number"):
        kernel("1 2; 3")


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, "same"), (3, 1)])
def test_filtered_photo_equals_conv2d(stride, padding):
    photo = load_image(size=40)
    k = kernel("sobel-x")
    y = filter_image(photo, "sobel-x", stride, padding)
    x = to_tensor(photo)
    w = convlab.tensor(np.repeat(k[None, None], 3, axis=0), dtype=convlab.float32)
    expected = F.conv2d(x, w, stride=stride, padding=padding, groups=3)
    np.testing.assert_array_equal(y.numpy(), expected.numpy())
    torch = pytest.importorskip("torch")
    if padding != "same" or stride == 1:  # PyTorch refuses 'same' with stride > 1
        t = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()),
                                       stride=stride, padding=padding, groups=3)
        np.testing.assert_allclose(y.numpy(), t.numpy(), atol=1e-5)


def test_random_filter_is_a_seeded_conv_layer():
    photo = load_image(size=24)
    y = random_filter(photo, out_channels=5, kernel_size=3, seed=7)
    convlab.manual_seed(7)
    layer = nn.Conv2d(3, 5, 3)
    np.testing.assert_allclose(y.numpy(), layer(to_tensor(photo)).detach().numpy())


def test_feature_maps_are_the_conv_outputs():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3, padding=1))
    x = convlab.randn(1, 1, 8, 8)
    maps = feature_maps(model, x)
    assert [(name, kind, m.shape) for name, kind, m in maps] == [
        ("0", "Conv2d", (3, 6, 6)), ("2", "Conv2d", (2, 6, 6))]
    np.testing.assert_allclose(maps[0][2], model[0](x).detach().numpy()[0])


def test_filter_command(capsys, tmp_path):
    out = tmp_path / "edges.png"
    assert main(["filter", "--kernel", "sobel-x", "--gray", "--size", "64", "--padding", "same",
                 "--out", str(out)]) == 0
    assert Image.open(out).size == (64, 43)
    out = tmp_path / "random.png"
    assert main(["filter", "--kernel", "random", "--channels", "4", "--size", "32",
                 "--out", str(out)]) == 0
    assert Image.open(out).size == (2 * 30 + 2, 2 * 19 + 2)  # a 2x2 grid of 30x19 maps
    capsys.readouterr()
    assert main(["filter", "missing.jpg", "--kernel", "blur", "--out", str(out)]) == 2
    assert "no such image file" in capsys.readouterr().err


def test_features_command(capsys, tmp_path):
    from convlab.models import build_model
    from convlab.serialization import save

    model = build_model("digits-cnn", 1, 10)
    save({"format": "convlab-train-checkpoint", "config": {"model": "digits-cnn", "data": "digits"},
          "model": model.state_dict()}, tmp_path / "best.npz")
    digit = tmp_path / "digit.png"
    Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(digit)
    out = tmp_path / "features.png"
    assert main(["features", str(tmp_path / "best.npz"), str(digit), "--out", str(out)]) == 0
    assert "convolution layers" in capsys.readouterr().out and out.exists()
