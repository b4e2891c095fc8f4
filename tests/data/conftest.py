"""Writers of small files in the real formats (IDX, CIFAR-10 binary and pickled), for the tests."""

import gzip
import pickle
import struct

import numpy as np
import pytest

@pytest.fixture
def torch():
    """PyTorch, the oracle: tests that compare with it are skipped where it is not installed."""
    return pytest.importorskip("torch")


_IDX_TYPE = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` as an IDX file: 0x00 0x00, type byte, ndim, big-endian sizes, big-endian data."""
    kind = array.dtype.str[1:]
    header = bytes([0, 0, _IDX_TYPE[kind], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def write_idx():
    def write(path, array, gz=False):
        raw = idx_bytes(np.asarray(array))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(raw) if gz else raw)
        return path
    return write


@pytest.fixture
def mnist_arrays():
    """A tiny MNIST: 5 train and 3 test random 28x28 uint8 images with labels 0-9."""
    rng = np.random.default_rng(0)

    def split(n):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        return images, labels
    return {"train": split(5), "t10k": split(3)}


@pytest.fixture
def write_mnist(write_idx, mnist_arrays):
    def write(folder, gz=False):
        for prefix, (images, labels) in mnist_arrays.items():
            suffix = ".gz" if gz else ""
            write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
            write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        return folder
    return write


@pytest.fixture
def cifar_arrays():
    """A tiny CIFAR-10: batches of 4 (train, five of them) and 3 (test) images, rows of 3072."""
    rng = np.random.default_rng(1)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: (rng.integers(0, 256, size=(3 if name == "test_batch" else 4, 3072), dtype=np.uint8),
                   rng.integers(0, 10, size=3 if name == "test_batch" else 4))
            for name in names}


def py2_pickle(batch: dict) -> bytes:
    """Pickle a CIFAR batch the way Python 2 and NumPy 1 did (protocol 2): str keys as byte
    strings, the array rebuilt by ``numpy.core.multiarray._reconstruct`` from a byte string."""
    def binstring(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b

    def integer(i: int) -> bytes:
        return b"K" + bytes([i]) if 0 <= i < 256 else b"J" + struct.pack("<i", i)

    def value(v) -> bytes:
        if isinstance(v, str):
            return binstring(v.encode("latin1"))
        if isinstance(v, list):
            return b"](" + b"".join(value(x) for x in v) + b"e"
        if isinstance(v, np.ndarray):
            assert v.dtype == np.uint8
            shape = b"(" + b"".join(integer(s) for s in v.shape) + b"t"
            dtype = (b"cnumpy\ndtype\n" + binstring(b"u1") + integer(0) + integer(1) + b"\x87R"
                     + b"(" + integer(3) + binstring(b"|") + b"NNN" + integer(-1) + integer(-1)
                     + integer(0) + b"tb")
            return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + integer(0) + b"\x85"
                    + binstring(b"b") + b"\x87R" + b"(" + integer(1) + shape + dtype + b"\x89"
                    + binstring(v.tobytes()) + b"tb")
        return integer(int(v))

    items = b"".join(value(k) + value(v) for k, v in batch.items())
    return b"\x80\x02}(" + items + b"u."


@pytest.fixture
def write_cifar(cifar_arrays):
    def write(root, version="bin", py2=False):
        folder = root / f"cifar-10-batches-{version}"
        folder.mkdir(parents=True)
        for name, (data, labels) in cifar_arrays.items():
            if version == "bin":
                records = np.concatenate([labels[:, None].astype(np.uint8), data], axis=1)
                (folder / f"{name}.bin").write_bytes(records.tobytes())
            else:
                batch = {"batch_label": f"{name} of 6", "labels": labels.tolist(), "data": data,
                         "filenames": [f"img_{i}.png" for i in range(len(labels))]}
                if py2:
                    (folder / name).write_bytes(py2_pickle(batch))
                else:
                    (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        return root
    return write
