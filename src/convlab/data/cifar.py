"""``CIFAR10`` from the files of https://www.cs.toronto.edu/~kriz/cifar.html, never downloaded.

Two versions exist and both extract into ``root``:

- binary (preferred: nothing is unpickled), ``cifar-10-batches-bin/``: ``data_batch_1.bin`` ...
  ``data_batch_5.bin`` and ``test_batch.bin``, each a run of 3073-byte records
  ``<1 byte label><3072 bytes pixels>``;
- python, ``cifar-10-batches-py/``: ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``,
  each a pickled dict with ``data`` (N x 3072 uint8) and ``labels`` (N ints), read through
  :mod:`convlab.data.restricted_pickle`, which refuses anything but arrays, lists, numbers and
  strings, and any array that the file's own bytes do not hold.

In both, a row of 3072 pixels is 1024 red, then 1024 green, then 1024 blue values, each plane
row-major: ``reshape(N, 3, 32, 32)`` is CHW.
"""

from __future__ import annotations

import os

import numpy as np

from .restricted_pickle import restricted_load
from .vision_dataset import VisionDataset

__all__ = ["CIFAR10"]

_RECORD = 1 + 3 * 32 * 32  # label byte + pixels
_WHERE = ("https://www.cs.toronto.edu/~kriz/cifar.html: cifar-10-binary.tar.gz (preferred: "
          "nothing is unpickled) or cifar-10-python.tar.gz, and extract it into {root} "
          "(tar xzf cifar-10-binary.tar.gz -C {root})")


class CIFAR10(VisionDataset):
    """CIFAR-10: 32x32 colour photos in 10 classes.

    Args:
        root: the folder holding ``cifar-10-batches-bin/`` or ``cifar-10-batches-py/`` (the
            binary version is read when both are there).
        train: the 50000 training images (data_batch_1-5) if True, else the 10000 test images.
        transform: applied to each image, a ``(32, 32, 3)`` HWC uint8 NumPy array (torchvision
            hands out a PIL image here); ``transforms.ToTensor()`` makes it ``(3, 32, 32)`` float.
        target_transform: applied to each label, an ``int``.
        download: accepted for torchvision compatibility; convlab never downloads, the files
            must already be there.

    As in torchvision, ``data`` is an ``(N, 32, 32, 3)`` uint8 NumPy array and ``targets`` a list
    of ints; ``classes`` names the labels. A missing file raises ``FileNotFoundError`` saying where
    to get it; a damaged one ``ValueError`` naming the file and the numbers.
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]

    def __init__(self, root: str | os.PathLike, train: bool = True, transform=None,
                 target_transform=None, download: bool = False):
        super().__init__(root, transform, target_transform)
        self.train = train
        names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        binary = os.path.join(root, "cifar-10-batches-bin")
        python = os.path.join(root, "cifar-10-batches-py")
        if os.path.isdir(binary):
            parts = [self._read_binary(self._file(binary, name + ".bin")) for name in names]
        elif os.path.isdir(python):
            parts = [self._read_python(self._file(python, name)) for name in names]
        else:
            raise FileNotFoundError(
                f"CIFAR10: found neither {binary} nor {python}. convlab does not download data "
                "sets: get CIFAR-10 from " + _WHERE.format(root=os.fspath(root)))
        images = np.concatenate([p[0] for p in parts])  # (N, 3072)
        labels = np.concatenate([p[1] for p in parts])
        images = images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 3, H, W) -> (N, H, W, 3)
        self._set_samples(np.ascontiguousarray(images), labels)

    def _file(self, folder: str, name: str) -> str:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CIFAR10: missing {path}; {folder} should hold "
                                    f"{'the six batches' if self.train else 'the test batch'} of "
                                    "the archive, get it again from "
                                    + _WHERE.format(root=os.fspath(self.root)))
        return path

    @staticmethod
    def _read_binary(path: str) -> tuple[np.ndarray, np.ndarray]:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % _RECORD:
            raise ValueError(f"{path}: {raw.size} bytes is not a whole number of {_RECORD}-byte "
                             f"records (1 label byte + 3072 pixel bytes; a full batch is 10000 "
                             f"records = {10000 * _RECORD} bytes): the file is truncated or "
                             "not CIFAR-10's binary version")
        records = raw.reshape(-1, _RECORD)  # (N, 1 + 3072)
        labels = records[:, 0]
        if labels.size and labels.max() > 9:
            bad = int(np.argmax(labels > 9))
            raise ValueError(f"{path}: record {bad} has label byte {labels[bad]}, but CIFAR-10 "
                             "labels are 0-9 (CIFAR-100's binary files, with 3074-byte records, "
                             "are a different data set)")
        return records[:, 1:], labels

    @staticmethod
    def _read_python(path: str) -> tuple[np.ndarray, np.ndarray]:
        batch = restricted_load(path)
        if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
            found = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(f"{path}: expected a CIFAR-10 batch, a dict with 'data' and 'labels', "
                             f"but found {found}")
        data, labels = batch["data"], batch["labels"]
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
                or data.shape[1] != 3072:
            what = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                    else type(data).__name__)
            raise ValueError(f"{path}: 'data' should be an N x 3072 uint8 array, but it is a "
                             f"{what}")
        labels = np.asarray(labels)
        if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
            raise ValueError(f"{path}: 'labels' should be {len(data)} integers, one per row of "
                             f"'data', but found {labels.size} values of type {labels.dtype}")
        if labels.size and not 0 <= labels.min() <= labels.max() <= 9:
            raise ValueError(f"{path}: CIFAR-10 labels are 0-9, but they range from "
                             f"{labels.min()} to {labels.max()}")
        return data, labels

    @property
    def data(self) -> np.ndarray:
        return self._images

    @property
    def targets(self) -> list[int]:
        return self._labels.tolist()
