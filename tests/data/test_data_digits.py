"""Digits: the shipped file, the fixed stratified split, the tensors it hands out."""

import numpy as np
import pytest

import convlab
from convlab.data import DataLoader, Digits, default_collate
from convlab.data import transforms as T
from convlab.data.digits import DIGITS_FILE

CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_split_sizes_and_class_counts():
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1347, 450)
    train_counts = np.bincount(train.targets.numpy(), minlength=10)
    test_counts = np.bincount(test.targets.numpy(), minlength=10)
    assert (train_counts + test_counts).tolist() == CLASS_COUNTS
    assert test_counts.tolist() == [round(c / 4) for c in CLASS_COUNTS]  # stratified, 25 % each


def test_split_is_a_partition_of_the_shipped_images():
    table = np.loadtxt(DIGITS_FILE, delimiter=",")
    train, test = Digits(train=True, scale=False), Digits(train=False, scale=False)
    both = np.concatenate([train.data.numpy(), test.data.numpy()]).reshape(-1, 64)
    labels = np.concatenate([train.targets.numpy(), test.targets.numpy()])
    rows = np.concatenate([both, labels[:, None]], axis=1)
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, table.tolist()))


def test_split_does_not_depend_on_the_global_seed():
    convlab.manual_seed(0)
    a = Digits(train=False).data.numpy().copy()
    convlab.manual_seed(123)
    np.testing.assert_array_equal(Digits(train=False).data.numpy(), a)


def test_matches_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    images = np.concatenate([Digits(train=True, scale=False).data.numpy(),
                             Digits(train=False, scale=False).data.numpy()])
    assert sorted(map(bytes, images.astype(np.uint8).reshape(-1, 64))) == \
        sorted(map(bytes, digits.data.astype(np.uint8)))


def test_items_dtypes_and_scaling():
    ds = Digits()
    image, label = ds[0]
    assert isinstance(image, convlab.Tensor) and image.shape == convlab.Size([1, 8, 8])
    assert image.dtype == convlab.float32 and type(label) is int
    assert ds.data.shape == convlab.Size([1347, 1, 8, 8]) and ds.targets.dtype == convlab.int64
    assert 0.0 == ds.data.numpy().min() and ds.data.numpy().max() == 1.0
    raw = Digits(scale=False)
    np.testing.assert_array_equal(raw.data.numpy() / 16, ds.data.numpy())
    assert raw.data.numpy().max() == 16
    assert ds.classes == [str(d) for d in range(10)]


def test_loader_batches_and_fast_path_equal_item_by_item():
    ds = Digits(train=False)
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=convlab.Generator().manual_seed(0))
    slow = DataLoader(ds, batch_size=64, shuffle=True, generator=convlab.Generator().manual_seed(0),
                      collate_fn=lambda batch: default_collate(batch))
    assert len(loader) == 8
    for (x, y), (xs, ys) in zip(loader, slow):
        assert x.dtype == convlab.float32 and y.dtype == convlab.int64
        np.testing.assert_array_equal(x.numpy(), xs.numpy())
        np.testing.assert_array_equal(y.numpy(), ys.numpy())
    assert x.shape == convlab.Size([450 - 7 * 64, 1, 8, 8])


def test_transforms_apply_to_the_tensor_image():
    ds = Digits(transform=T.Normalize((0.5,), (0.5,)), target_transform=lambda y: -y)
    image, label = ds[3]
    np.testing.assert_allclose(image.numpy(), (Digits()[3][0].numpy() - 0.5) / 0.5)
    assert label == -int(Digits().targets[3].item())
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == convlab.Size([4, 1, 8, 8]) and y.tolist() == [-v for v in Digits().targets.tolist()[:4]]
    assert "transform: Normalize(mean=(0.5,), std=(0.5,))" in repr(ds)


def test_index_errors_and_class_to_idx():
    ds = Digits(train=False)
    assert ds[-1][1] == int(ds.targets[-1].item())
    with pytest.raises(IndexError, match="Digits: index 450 is out of range for 450 images"):
        ds[450]
    with pytest.raises(TypeError):
        ds[1.5]
    assert ds.class_to_idx["7"] == 7
