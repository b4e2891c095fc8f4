"""ToTensor, Normalize, RandomCrop, RandomHorizontalFlip and Compose (torchvision's semantics;
torch computes the expected numbers the way torchvision.transforms.functional does)."""

import numpy as np
import pytest

import convlab
from convlab.data import transforms as T


def hwc_image(h=5, w=7, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


def test_to_tensor_uint8_hwc_matches_torchvision_formula(torch):
    pic = hwc_image()
    x = T.ToTensor()(pic)
    want = torch.from_numpy(pic.transpose(2, 0, 1)).contiguous().to(torch.float32).div(255)
    assert x.dtype == convlab.float32 and x.shape == convlab.Size([3, 5, 7])
    np.testing.assert_array_equal(x.numpy(), want.numpy())
    assert x.numpy().flags.c_contiguous


def test_to_tensor_2d_and_other_dtypes():
    x = T.ToTensor()(np.array([[0, 51], [102, 255]], dtype=np.uint8))
    assert x.shape == convlab.Size([1, 2, 2])
    np.testing.assert_allclose(x.numpy()[0], [[0, 0.2], [0.4, 1]], rtol=1e-6)
    f = T.ToTensor()(np.full((2, 3, 1), 7.5))  # not uint8: values and dtype kept, as torchvision
    assert f.dtype == convlab.float64 and f.shape == convlab.Size([1, 2, 3]) and f.numpy().max() == 7.5


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="pic should be a NumPy array .* it is a Tensor already"):
        T.ToTensor()(convlab.zeros(3, 4))
    with pytest.raises(ValueError, match=r"pic should be 2/3 dimensional .* Got 4 dimensions"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(TypeError, match="ToTensor: convlab has no dtype for NumPy.s uint16"):
        T.ToTensor()(np.zeros((2, 2), np.uint16))


@pytest.mark.parametrize("mean, std", [((0.5, 0.4, 0.3), (0.2, 0.25, 0.5)), ([0.1307], [0.3081]),
                                       ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
@pytest.mark.parametrize("batched", [False, True])
def test_normalize_matches_torch(mean, std, batched, torch):
    shape = (2, 3, 4, 5) if batched else (3, 4, 5)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    got = T.Normalize(mean, std)(convlab.from_numpy(x.copy()))
    # torchvision.transforms.functional.normalize: sub_ then div_, in the tensor's dtype
    m = torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1)
    want = torch.from_numpy(x.copy()).sub_(m).div_(s)
    assert got.dtype == convlab.float32
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_normalize_inplace_and_repr():
    x = convlab.ones(3, 2, 2)
    out = T.Normalize((0.5,), (0.5,), inplace=True)(x)
    assert out is x and x.numpy().tolist() == np.ones((3, 2, 2)).tolist()
    y = convlab.ones(3, 2, 2)
    T.Normalize((0.5,), (0.25,))(y)
    assert y.numpy().max() == 1.0  # not changed without inplace
    assert repr(T.Normalize((0.5,), (0.5,))) == "Normalize(mean=(0.5,), std=(0.5,))"


@pytest.mark.parametrize("image, mean, std, error, message", [
    (convlab.zeros(3, 2, 2, dtype=convlab.int64), (0,), (1,), TypeError, "should be a float tensor. Got convlab.int64"),
    (convlab.zeros(2, 2), (0,), (1,), ValueError, r"size \(..., C, H, W\). Got tensor.size\(\) = \[2, 2\]"),
    (convlab.zeros(1, 2, 2), (0, 0, 0), (1, 1, 1), ValueError, "mean has 3 values, but the image has 1 channels"),
    (convlab.zeros(3, 2, 2), (0, 0, 0), (1, 0, 1), ValueError, "std evaluated to zero"),
    (np.zeros((3, 2, 2), np.float32), (0,), (1,), TypeError, "apply ToTensor"),
])
def test_normalize_errors(image, mean, std, error, message):
    with pytest.raises(error, match=message):
        T.Normalize(mean, std)(image)


def test_random_crop_with_padding_covers_every_offset_and_pads_with_fill():
    convlab.manual_seed(0)
    image = np.arange(16, dtype=np.uint8).reshape(4, 4) + 1
    padded = np.pad(image, 1)
    crop = T.RandomCrop(4, padding=1)
    seen = set()
    for _ in range(200):
        out = crop(image)
        assert out.shape == (4, 4) and out.dtype == np.uint8
        hits = [(i, j) for i in range(3) for j in range(3) if (padded[i:i + 4, j:j + 4] == out).all()]
        assert len(hits) == 1
        seen.add(hits[0])
    assert seen == {(i, j) for i in range(3) for j in range(3)}


def test_random_crop_tensor_hwc_and_modes():
    convlab.manual_seed(1)
    x = convlab.rand(2, 3, 6, 6)
    out = T.RandomCrop((4, 5))(x)
    assert isinstance(out, convlab.Tensor) and out.shape == convlab.Size([2, 3, 4, 5])
    hwc = hwc_image(6, 6)
    assert T.RandomCrop(6, padding=(1, 2))(hwc).shape == (6, 6, 3)
    full = T.RandomCrop((8, 10), padding=(2, 1, 2, 1), padding_mode="reflect")(hwc)  # l, t, r, b
    np.testing.assert_array_equal(full, np.pad(hwc, ((1, 1), (2, 2), (0, 0)), mode="reflect"))
    edge = T.RandomCrop(8, padding=1, fill=9, padding_mode="edge")(hwc)
    np.testing.assert_array_equal(edge, np.pad(hwc, ((1, 1), (1, 1), (0, 0)), mode="edge"))
    grown = T.RandomCrop(8, pad_if_needed=True, fill=7)(np.zeros((6, 6), np.uint8))
    assert grown.shape == (8, 8) and (grown == 7).any()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(size=0), ValueError, "size should be positive"),
    (dict(size=(1, 2, 3)), ValueError, "size should be an int or a sequence of 1 or 2 ints"),
    (dict(size=3, padding=(1, 2, 3)), ValueError, "padding should be an int or a sequence of 1, 2 or 4"),
    (dict(size=3, padding=-1), ValueError, "padding should be non-negative"),
    (dict(size=3, padding_mode="wrap"), ValueError, "padding_mode should be 'constant', 'edge'"),
    (dict(size=3, fill=(1, 2)), TypeError, "fill should be a number"),
])
def test_random_crop_argument_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        T.RandomCrop(**kwargs)


def test_random_crop_too_large():
    with pytest.raises(ValueError, match=r"required crop size \(5, 5\) is larger than input image size \(4, 4\)"):
        T.RandomCrop(5)(np.zeros((4, 4), np.uint8))
    with pytest.raises(TypeError, match="img should be a NumPy array"):
        T.RandomCrop(2)([[1, 2], [3, 4]])


def test_random_horizontal_flip():
    convlab.manual_seed(0)
    image = hwc_image()
    flipped = [not np.array_equal(T.RandomHorizontalFlip()(image), image) for _ in range(400)]
    assert 150 < sum(flipped) < 250
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(image), image[:, ::-1])
    assert T.RandomHorizontalFlip(p=0)(image) is image
    x = convlab.rand(1, 2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x).numpy(), x.numpy()[..., ::-1])
    with pytest.raises(ValueError, match="p should be a probability"):
        T.RandomHorizontalFlip(1.5)


def test_compose_pipeline_is_repeatable_under_manual_seed():
    pipeline = T.Compose([T.RandomCrop(5, padding=2), T.RandomHorizontalFlip(), T.ToTensor(),
                          T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    image = hwc_image(5, 5)

    def run():
        return [pipeline(image).numpy() for _ in range(5)]

    convlab.manual_seed(42)
    first = run()
    convlab.manual_seed(42)
    second = run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape == (3, 5, 5) and first[0].dtype == np.float32
    assert repr(pipeline).splitlines()[1:3] == ["    RandomCrop(size=(5, 5), padding=2)",
                                                "    RandomHorizontalFlip(p=0.5)"]
