"""CIFAR10 from the binary and the python version; the restricted unpickler refuses code."""

import codecs
import os
import pickle

import numpy as np
import pytest

import convlab
from convlab.data import CIFAR10, DataLoader
from convlab.data import transforms as T
from convlab.data.restricted_pickle import UnsafePickleError, restricted_load

TRAIN = [f"data_batch_{i}" for i in range(1, 6)]


def expected(cifar_arrays, names):
    data = np.concatenate([cifar_arrays[n][0] for n in names])
    labels = np.concatenate([cifar_arrays[n][1] for n in names])
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


@pytest.mark.parametrize("version, py2", [("bin", False), ("py", False), ("py", True)])
def test_cifar10_reads_each_version(tmp_path, write_cifar, cifar_arrays, version, py2):
    write_cifar(tmp_path, version, py2=py2)
    for train, names in [(True, TRAIN), (False, ["test_batch"])]:
        images, labels = expected(cifar_arrays, names)
        ds = CIFAR10(tmp_path, train=train)
        assert len(ds) == len(labels) == (20 if train else 3)
        assert isinstance(ds.data, np.ndarray) and ds.data.shape == (len(labels), 32, 32, 3)
        np.testing.assert_array_equal(ds.data, images)
        assert ds.targets == labels.tolist()
        image, target = ds[2]
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and type(target) is int


def test_pixel_layout_is_planes_of_red_green_blue(tmp_path, write_cifar, cifar_arrays):
    write_cifar(tmp_path, "bin")
    row = cifar_arrays["test_batch"][0][0]
    image, _ = CIFAR10(tmp_path, train=False)[0]
    # pixel (row 1, column 2): red at 1*32+2, green 1024 later, blue 2048 later
    assert image[1, 2].tolist() == [row[34], row[1024 + 34], row[2048 + 34]]
    chw = T.ToTensor()(image)
    np.testing.assert_allclose(chw.numpy(), row.reshape(3, 32, 32) / np.float32(255))


def test_binary_version_is_preferred(tmp_path, write_cifar):
    write_cifar(tmp_path, "bin")
    write_cifar(tmp_path, "py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not read")
    assert len(CIFAR10(tmp_path, train=False)) == 3


def test_loader_batches_and_transforms(tmp_path, write_cifar, cifar_arrays):
    write_cifar(tmp_path, "bin")
    images, labels = expected(cifar_arrays, TRAIN)
    xb, yb = next(iter(DataLoader(CIFAR10(tmp_path), batch_size=8)))
    assert xb.dtype == convlab.uint8 and xb.shape == convlab.Size([8, 32, 32, 3])
    np.testing.assert_array_equal(xb.numpy(), images[:8])
    assert yb.dtype == convlab.int64 and yb.tolist() == labels[:8].tolist()
    ds = CIFAR10(tmp_path, transform=T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                                                T.ToTensor()]))
    xb, _ = next(iter(DataLoader(ds, batch_size=8, shuffle=True)))
    assert xb.dtype == convlab.float32 and xb.shape == convlab.Size([8, 3, 32, 32])


def test_missing_cifar_says_where_to_get_it(tmp_path, write_cifar):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-bin") in message and "cifar-10-batches-py" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in message and "does not download" in message
    write_cifar(tmp_path, "bin")
    os.remove(tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin")
    with pytest.raises(FileNotFoundError, match="missing .*data_batch_3.bin"):
        CIFAR10(tmp_path)


def test_malformed_binary_batch(tmp_path, write_cifar):
    write_cifar(tmp_path, "bin")
    path = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"9209 bytes is not a whole number of 3073-byte records") as info:
        CIFAR10(tmp_path, train=False)
    assert str(path) in str(info.value)
    path.write_bytes(bytes([3]) + bytes(3072) + bytes([42]) + bytes(3072))
    with pytest.raises(ValueError, match="record 1 has label byte 42, but CIFAR-10 labels are 0-9"):
        CIFAR10(tmp_path, train=False)


def test_malformed_python_batch(tmp_path, write_cifar):
    write_cifar(tmp_path, "py")
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}, protocol=2))
    with pytest.raises(ValueError, match="expected a CIFAR-10 batch, a dict with 'data' and 'labels'"):
        CIFAR10(tmp_path, train=False)
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 1024), np.uint8), "labels": [0, 1]}, protocol=2))
    with pytest.raises(ValueError, match=r"'data' should be an N x 3072 uint8 array, but it is a uint8 "
                                         r"array of shape \(2, 1024\)"):
        CIFAR10(tmp_path, train=False)
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, protocol=2))
    with pytest.raises(ValueError, match="'labels' should be 2 integers"):
        CIFAR10(tmp_path, train=False)
    good = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}, protocol=2)
    path.write_bytes(good[:len(good) // 2])
    with pytest.raises(ValueError, match="not a readable pickle") as info:
        CIFAR10(tmp_path, train=False)
    assert str(path) in str(info.value)


class _RunsAShellCommand:
    """Unpickling this calls os.system(command): what a malicious 'dataset' file does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_malicious_pickle_is_refused_before_anything_runs(tmp_path, write_cifar, protocol):
    write_cifar(tmp_path, "py")
    marker = tmp_path / "pwned"
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    path.write_bytes(pickle.dumps({"payload": _RunsAShellCommand(f"touch {marker}"),
                                   "data": np.zeros((1, 3072), np.uint8), "labels": [0]},
                                  protocol=protocol))
    with pytest.raises(UnsafePickleError) as info:
        CIFAR10(tmp_path, train=False)
    message = str(info.value)
    assert str(path) in message and "refusing to load the global" in message
    assert "system" in message and "arbitrary code" in message
    assert not marker.exists()
    assert isinstance(info.value, pickle.UnpicklingError)


@pytest.mark.parametrize("obj", [
    {"key": eval},
    pickle.loads,
    np.random.default_rng,
])
def test_restricted_load_refuses_any_other_global(tmp_path, obj):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(UnsafePickleError, match="refusing to load the global"):
        restricted_load(path)


def test_restricted_load_accepts_arrays_lists_numbers_strings(tmp_path):
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [1, 2.5, "x", b"y", None],
             "c": (True, np.array([[1, 2]], np.int64))}
    path = tmp_path / "ok.pkl"
    for protocol in (2, pickle.HIGHEST_PROTOCOL - 1):
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        got = restricted_load(path)
        np.testing.assert_array_equal(got["a"], value["a"])
        assert got["b"] == value["b"] and got["c"][0] is True
        np.testing.assert_array_equal(got["c"][1], value["c"][1])


class _Call:
    """Pickles as the call ``function(*args)``, whatever the function: a hostile file's way."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


_U1 = np.dtype(np.uint8)
_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]


@pytest.mark.parametrize("call, message", [
    (_Call(np.ndarray, (4,), _U1), "calls numpy.ndarray((4,), dtype('uint8')) without a buffer, "
                                   "which hands out uninitialised memory"),
    (_Call(np.ndarray, (100_000, 3072), _U1, b"\0", 0, (0, 0)),
     "for shape (100000, 3072) of uint8 = 307200000 bytes from offset 0 of a 1-byte buffer"),
    (_Call(np.ndarray, (4,), _U1, bytes(8), 6), "= 4 bytes from offset 6 of a 8-byte buffer"),
    (_Call(np.ndarray, (4,), _U1, bytes(8), -1), "from offset -1 of a 8-byte buffer"),
    (_Call(np.ndarray, (4,), _U1, bytes(4), 0, (0,)),
     "with strides (0,) for shape (4,) of uint8 (contiguous: (1,))"),
    (_Call(np.ndarray, (2, 2), _U1, bytes(8), 0, (2, 2)), "with strides (2, 2) for shape (2, 2)"),
    (_Call(np.ndarray, (2 ** 40,) * 2, _U1, b"\0"), "with sizes whose product"),
    (_Call(_RECONSTRUCT, np.ndarray, (10 ** 12,), b"b"),
     "reconstructs an array of shape (1000000000000,) before filling it, not an empty one"),
    (_Call(_RECONSTRUCT, np.dtype, (0,), b"b"),
     "reconstructs an array of dtype, not numpy.ndarray"),
    (_Call(codecs.encode, "text", "rot13"), "encodes a str with 'rot13'"),
])
def test_arrays_their_data_does_not_back_are_refused(tmp_path, call, message):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"data": call}, protocol=2))
    with pytest.raises(UnsafePickleError) as info:
        restricted_load(path)
    text = str(info.value)
    assert text.startswith(f"{path}: refusing a pickle that ") and "damaged or hostile" in text
    assert message in text, text
    assert isinstance(info.value, ValueError)  # what every other bad file raises


def test_contiguous_arrays_over_a_buffer_load(tmp_path):
    path = tmp_path / "x.pkl"
    values = bytes(range(6))
    path.write_bytes(pickle.dumps([_Call(np.ndarray, (2, 3), _U1, values),
                                   _Call(np.ndarray, (2, 3), _U1, values, 0, (1, 2), "F"),
                                   _Call(np.ndarray, (2,), _U1, values, 4, (1,))], protocol=3))
    c, f, tail = restricted_load(path)
    np.testing.assert_array_equal(c, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(f, np.arange(6).reshape(3, 2).T)
    assert tail.tolist() == [4, 5]


def test_a_declared_length_past_the_end_is_refused_before_it_is_allocated(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(b"\x80\x04\x8e" + (2 << 30).to_bytes(8, "little") + b"abc")  # BINBYTES8
    with pytest.raises(ValueError, match="expected 2147483648 bytes in a bytes8, but only 3 "
                                         "remain"):
        restricted_load(path)
