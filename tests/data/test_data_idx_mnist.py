"""IDX files and MNIST / FashionMNIST read from them: values, layouts, and the error messages."""

import gzip
import struct

import numpy as np
import pytest

import convlab
from convlab.data import MNIST, DataLoader, FashionMNIST
from convlab.data import transforms as T
from convlab.data.idx import read_idx


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, write_idx, dtype, gz):
    array = (np.arange(24) - 7).astype(dtype).reshape(2, 3, 4)
    if dtype == "u1":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(write_idx(tmp_path / "x-idx3", array, gz))
    np.testing.assert_array_equal(got, array)
    assert got.dtype == array.dtype.newbyteorder("=") and got.dtype.isnative
    assert got.flags.writeable


def test_read_idx_known_bytes(tmp_path):
    # the header of MNIST's label files: magic 2049 = 0x00000801, then the count
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 4, 5, 0, 4, 1]))
    assert read_idx(path).tolist() == [5, 0, 4, 1]
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]))  # big-endian int16
    assert read_idx(path).tolist() == [258, -2]


def test_gzip_is_recognised_by_content_not_name(tmp_path, write_idx):
    path = write_idx(tmp_path / "plain-name-idx1-ubyte", np.array([3, 1], np.uint8), gz=True)
    assert read_idx(path).tolist() == [3, 1]


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x00", "holds 2 bytes, fewer than the 4-byte magic number"),
    (b"PK\x03\x04rest", "starts with bytes 0x50 0x4b, but an IDX file starts with 0x00 0x00"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX type byte 0x07; expected one of 0x08 (uint8)"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "3 dimensions need a 16-byte header, but the file holds 8 bytes"),
    (bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4]),
     "truncated IDX file: the header says 2 x 3 uint8 = 6 bytes of data after the 12-byte header, but 4 bytes follow"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 1, 9, 9]), "IDX file too long: the header says 1 uint8 = 1 bytes"),
])
def test_malformed_idx_messages_name_the_file_and_numbers(tmp_path, raw, message):
    path = tmp_path / "broken-idx"
    path.write_bytes(raw)
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_damaged_gzip_is_reported(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(200))[:-5])
    with pytest.raises(ValueError, match="the gzip data is damaged") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_inflation_is_bounded_by_the_load_limit(tmp_path, write_idx, monkeypatch):
    array = np.arange(24, dtype=">i4").reshape(2, 3, 4)  # 96 bytes of data after 16 of header
    gz = write_idx(tmp_path / "x-idx3.gz", array, gz=True)
    with pytest.raises(ValueError) as info:
        read_idx(gz, max_bytes=50)
    assert str(info.value) == (
        f"{gz}: the header says 2 x 3 x 4 int32 = 96 bytes of data after the 16-byte header: "
        "inflating it would take 96 bytes, more than the load limit of 50 bytes; if you trust "
        "the file, raise the limit with max_bytes= or the environment variable "
        "CONVLAB_MAX_LOAD_BYTES")
    np.testing.assert_array_equal(read_idx(gz, max_bytes=96), array)
    # a plain file's data is in the file: the limit, which bounds inflation, does not apply
    plain = write_idx(tmp_path / "x-idx3", array)
    np.testing.assert_array_equal(read_idx(plain, max_bytes=50), array)
    monkeypatch.setenv("CONVLAB_MAX_LOAD_BYTES", "50")
    with pytest.raises(ValueError, match="more than the load limit of 50 bytes"):
        read_idx(gz)


def test_gzip_data_past_the_declared_size_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]) + bytes(1 << 20)))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(info.value) == (
        f"{path}: IDX file too long: the header says 3 uint8 = 3 bytes of data after the 8-byte "
        "header, but more than 3 bytes follow; the file may be damaged or not what its name says")


def test_sizes_numpy_cannot_hold_are_refused(tmp_path):
    path = tmp_path / "x-idx"
    path.write_bytes(bytes([0, 0, 8, 65]) + struct.pack(">65L", *[1] * 65) + bytes(1))
    with pytest.raises(ValueError, match="IDX sizes NumPy cannot hold: .* with 65 dimensions, "
                                         r"more than NumPy's \d+"):
        read_idx(path)


def test_mnist_names_a_gzipped_file_over_the_limit(tmp_path, write_mnist, monkeypatch):
    write_mnist(tmp_path, gz=True)
    monkeypatch.setenv("CONVLAB_MAX_LOAD_BYTES", "1000")  # the images are 5 x 28 x 28 = 3920 bytes
    with pytest.raises(ValueError, match="more than the load limit of 1000 bytes") as info:
        MNIST(tmp_path)
    assert str(info.value).startswith(str(tmp_path / "train-images-idx3-ubyte.gz"))


@pytest.mark.parametrize("layout", ["root", "raw"])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_files_in_root_or_torchvision_layout(tmp_path, write_mnist, mnist_arrays, layout, gz):
    write_mnist(tmp_path if layout == "root" else tmp_path / "MNIST" / "raw", gz=gz)
    for train, prefix in [(True, "train"), (False, "t10k")]:
        images, labels = mnist_arrays[prefix]
        ds = MNIST(tmp_path, train=train)
        assert len(ds) == len(labels)
        assert ds.data.dtype == convlab.uint8 and ds.data.shape == convlab.Size(images.shape)
        assert ds.targets.dtype == convlab.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        image, target = ds[1]
        assert isinstance(image, np.ndarray) and image.shape == (28, 28) and image.dtype == np.uint8
        assert type(target) is int and target == labels[1]
    assert MNIST.classes[7] == "7 - seven" and len(MNIST.classes) == 10


def test_fashion_mnist_uses_its_own_raw_folder_and_classes(tmp_path, write_mnist, mnist_arrays):
    write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    ds = FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data.numpy(), mnist_arrays["t10k"][0])
    assert ds.classes[9] == "Ankle boot"
    with pytest.raises(FileNotFoundError):  # FashionMNIST's files are not MNIST's
        MNIST(tmp_path)


def test_mnist_with_transform_and_loader(tmp_path, write_mnist, mnist_arrays):
    write_mnist(tmp_path)
    images, labels = mnist_arrays["train"]
    ds = MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
               target_transform=lambda y: y + 100)
    x, y = ds[2]
    assert x.shape == convlab.Size([1, 28, 28]) and x.dtype == convlab.float32
    expected = (images[2][None].astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6)
    assert y == labels[2] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == convlab.Size([4, 1, 28, 28]) and yb.tolist() == (labels[:4] + 100).tolist()


def test_mnist_loader_without_transform_batches_whole_arrays(tmp_path, write_mnist, mnist_arrays):
    write_mnist(tmp_path)
    images, labels = mnist_arrays["train"]
    xb, yb = next(iter(DataLoader(MNIST(tmp_path), batch_size=3)))
    assert xb.dtype == convlab.uint8 and yb.dtype == convlab.int64
    np.testing.assert_array_equal(xb.numpy(), images[:3])
    np.testing.assert_array_equal(yb.numpy(), labels[:3])


def test_missing_mnist_file_says_where_to_get_it(tmp_path, write_mnist):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)" in message
    assert str(tmp_path) in message and str(tmp_path / "MNIST" / "raw") in message
    assert "does not download" in message and "https://" in message
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        MNIST(tmp_path, train=False)
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        FashionMNIST(tmp_path / "elsewhere")


def test_malformed_mnist_files(tmp_path, write_mnist, write_idx):
    write_mnist(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte"
    write_idx(labels, np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="holds 5 images but .* holds 4 labels"):
        MNIST(tmp_path)
    write_idx(labels, np.array([0, 1, 2, 3, 12], np.uint8))
    with pytest.raises(ValueError, match="labels must be 0-9, but label 12 occurs"):
        MNIST(tmp_path)
    write_idx(labels, np.zeros((5, 1), np.uint8))
    with pytest.raises(ValueError, match="expected MNIST labels, an IDX file of uint8 with 1 dimension"):
        MNIST(tmp_path)
    images = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(images, np.zeros((3, 28, 28), ">f4"))
    with pytest.raises(ValueError, match=r"expected MNIST images.*but it holds float32 with shape 3 x 28 x 28"):
        MNIST(tmp_path, train=False)
    images.write_bytes(images.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated IDX file") as info:
        MNIST(tmp_path, train=False)
    assert str(images) in str(info.value)


def test_repr(tmp_path, write_mnist):
    write_mnist(tmp_path)
    text = repr(MNIST(tmp_path, train=False, transform=T.ToTensor()))
    assert text.splitlines() == ["Dataset MNIST", "    Number of datapoints: 3",
                                 f"    Root location: {tmp_path}", "    Split: Test",
                                 "    transform: ToTensor()"]
