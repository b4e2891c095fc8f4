"""First tries of a new user outside training: a digit drawn in a paint program, transparent
PNGs, MNIST- and CIFAR-style pictures, ``--version``, ``python -m convlab``, devices, and an
image too large to decode. Each must work, or fail with one line that says why."""

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import convlab
from convlab.cli import main
from convlab.data import Digits
from convlab.training import TrainConfig, train
from convlab.training.datasets import prepare_image
from convlab.training.report import Reporter
from convlab.pictures.image import prepare_drawing, prepare_photo, text_picture

N_DRAWN = 40


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    train(TrainConfig(epochs=20, out=str(out)), reporter=Reporter(quiet=True))
    return out


def drawn_digits(folder, transparent: bool):
    """Test digits as a user draws them: an 8x8 digit enlarged to 120x120 with soft edges, on a
    400x300 canvas with wide margins, dark on white (or dark on transparent)."""
    test = Digits(train=False)
    paths, labels = [], []
    for i in range(N_DRAWN):
        image, label = test[i]
        ink = Image.fromarray((255 * image.numpy()[0]).astype(np.uint8))
        ink = np.asarray(ink.resize((120, 120), Image.Resampling.BILINEAR))
        canvas = np.zeros((400, 300), np.uint8)
        canvas[60:180, 100:220] = ink
        path = folder / f"{'t' if transparent else 'd'}{i}.png"
        if transparent:
            rgba = np.zeros((400, 300, 4), np.uint8)  # black ink whose opacity is the stroke
            rgba[..., 3] = canvas
            Image.fromarray(rgba, "RGBA").save(path)
        else:
            Image.fromarray(255 - canvas).save(path)
        paths.append(str(path))
        labels.append(int(label))
    return paths, labels


def predicted(run, paths, capsys):
    assert main(["predict", str(run / "best.npz"), *paths, "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    return [int(line.split(": ")[1].split()[0]) for line in lines]


@pytest.mark.parametrize("transparent", [False, True])
def test_drawn_digits_with_margins_are_recognised(digits_run, tmp_path, capsys, transparent):
    """Shrinking the whole canvas to 8x8 got about 15% of these right; prepared as the digits
    were made (cropped to the ink, fitted, centred, inverted, alpha composited) most are."""
    paths, labels = drawn_digits(tmp_path, transparent)
    right = np.mean(np.array(predicted(digits_run, paths, capsys)) == labels)
    assert right >= 0.8, right


def test_a_prepared_drawing_matches_the_digit_it_was_drawn_from(tmp_path):
    paths, _ = drawn_digits(tmp_path, transparent=False)
    prepared = prepare_image(paths[0], "digits", normalize=False)
    original = Digits(train=False)[0][0].numpy()
    assert prepared.shape == (1, 8, 8) and prepared.max() == pytest.approx(1.0)
    assert np.corrcoef(prepared.ravel(), original.ravel())[0, 1] > 0.85


def test_light_strokes_on_black_and_dark_strokes_on_white_prepare_alike(tmp_path):
    canvas = np.zeros((200, 100), np.uint8)
    canvas[40:160, 40:70] = 255  # a "1": a bar, bright on black, 4 times taller than wide
    Image.fromarray(canvas).save(tmp_path / "light.png")
    Image.fromarray(255 - canvas).save(tmp_path / "dark.png")
    light = prepare_drawing(tmp_path / "light.png", 8, 8)
    dark = prepare_drawing(tmp_path / "dark.png", 8, 8)
    np.testing.assert_allclose(light, dark, atol=1e-6)
    # fitted to the full height, 8x2, and centred
    assert light[:, 3:5].min() > 0.5 and light[:, :3].max() == 0 and light[:, 5:].max() == 0


def test_mnist_pictures_fit_a_20_box_centred_by_mass(tmp_path):
    canvas = np.full((300, 500), 255, np.uint8)
    canvas[50:250, 100:140] = 0  # a tall dark bar far off centre
    Image.fromarray(canvas).save(tmp_path / "bar.png")
    prepared = prepare_drawing(tmp_path / "bar.png", 28, 20, centre_of_mass=True)
    rows, cols = np.nonzero(prepared > 0.1)
    assert rows.max() - rows.min() + 1 == 20
    ys, xs = np.indices(prepared.shape)
    assert abs((ys * prepared).sum() / prepared.sum() - 13.5) <= 0.5
    assert abs((xs * prepared).sum() / prepared.sum() - 13.5) <= 0.5


def test_cifar_photos_keep_their_aspect_and_transparency_becomes_white(tmp_path):
    rgba = np.zeros((64, 128, 4), np.uint8)
    rgba[:, 32:96] = (255, 0, 0, 255)  # an opaque red square between transparent sides
    Image.fromarray(rgba, "RGBA").save(tmp_path / "wide.png")
    photo = prepare_photo(tmp_path / "wide.png", 32)
    assert photo.shape == (3, 32, 32)
    # the middle 32x32 of the 64-wide resized photo is the red square, not a squeezed picture
    np.testing.assert_allclose(photo[:, 4:28, 4:28].reshape(3, -1).mean(1), [1, 0, 0], atol=0.02)
    assert prepare_image(str(tmp_path / "wide.png"), "cifar10").shape == (3, 32, 32)


def test_predict_show_prints_the_prepared_input(digits_run, tmp_path, capsys):
    paths, _ = drawn_digits(tmp_path, transparent=False)
    assert main(["predict", str(digits_run), paths[0], "--show"]) == 0
    out = capsys.readouterr().out
    assert "as the model sees it (8x8)" in out
    assert text_picture(prepare_image(paths[0], "digits", normalize=False)) in out


def test_a_blank_picture_is_refused_in_one_line(digits_run, tmp_path, capsys):
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(tmp_path / "blank.png")
    assert main(["predict", str(digits_run), str(tmp_path / "blank.png")]) == 2
    assert "found no drawing" in capsys.readouterr().err


def huge_png(path, side: int = 20000) -> None:
    """A PNG whose header says side x side pixels, with no pixel data: a few dozen bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grey
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def test_predict_on_a_huge_png_is_one_line(digits_run, tmp_path, capsys):
    path = tmp_path / "huge.png"
    huge_png(path)
    assert main(["predict", str(digits_run), str(path)]) == 2
    err = capsys.readouterr().err
    assert "too large to decode" in err and str(path) in err
    assert len(err.strip().splitlines()) == 1


def test_version_and_python_dash_m(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"convlab {convlab.__version__}"
    run = subprocess.run([sys.executable, "-m", "convlab", "--version"], capture_output=True,
                         text=True, check=True)
    assert run.stdout.strip() == f"convlab {convlab.__version__}"


@pytest.mark.parametrize("make", [
    lambda device: convlab.ones(2, device=device),
    lambda device: convlab.zeros(2, 3, device=device),
    lambda device: convlab.tensor([1.0], device=device),
    lambda device: convlab.randn(2, device=device),
    lambda device: convlab.arange(3, device=device),
    lambda device: convlab.full((2,), 1.0, device=device),
])
def test_creating_on_cuda_is_refused_as_pytorch_without_cuda_refuses(make):
    with pytest.raises(AssertionError, match="CPU only"):
        make("cuda")
    with pytest.raises(AssertionError, match="CPU only"):
        make("cuda:0")
    with pytest.raises(RuntimeError, match="CPU only"):
        make("mps")
    assert make("cpu").device == convlab.device("cpu")
    assert make(convlab.device("cpu")).device == convlab.device("cpu")


def test_pytorch_without_cuda_refuses_with_the_same_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this PyTorch has a GPU")
    with pytest.raises(AssertionError):
        torch.ones(2, device="cuda")


def test_submodules_load_on_first_use_and_not_before():
    """``import convlab; convlab.explain.summary(...)`` works as the README presents it, and a
    plain ``import convlab`` still loads none of those submodules."""
    script = """
import sys
import convlab
lazy = ("data", "explain", "models", "training", "vision")
assert not [m for m in lazy if "convlab." + m in sys.modules], "loaded too early"
print(convlab.explain.summary(convlab.models.DigitsCNN(), (1, 1, 8, 8)).__class__.__name__)
print(len(convlab.data.Digits(train=False)), convlab.vision.to_tensor.__name__)
print(convlab.utils.data.DataLoader.__name__, "explain" in dir(convlab))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["Summary", "450", "to_tensor", "DataLoader", "True"]
    with pytest.raises(AttributeError, match="has no attribute 'nonexistent'"):
        convlab.nonexistent
