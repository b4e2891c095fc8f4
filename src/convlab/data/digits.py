"""``Digits``: 1797 handwritten digits, 8x8 pixels, shipped inside convlab (no download).

The data are scikit-learn's ``digits.csv.gz`` (UCI "Optical Recognition of Handwritten Digits",
see ``DIGITS_LICENSE.txt``): one image a line, 64 pixels 0-16 then the label 0-9.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from .vision_dataset import VisionDataset

__all__ = ["Digits"]

DIGITS_FILE = Path(__file__).with_name("digits.csv.gz")
_N_IMAGES = 1797
# The split is drawn once from this seed with NumPy's legacy RandomState, whose stream NumPy keeps
# frozen, so train and test hold the same images on every machine and NumPy version, whatever the
# global seed.
_SPLIT_SEED = 0
_TEST_FRACTION = 0.25


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    """All images ``(1797, 8, 8)`` uint8 (0-16) and labels ``(1797,)`` int64, read once."""
    try:
        with gzip.open(DIGITS_FILE, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as e:
        raise OSError(f"{DIGITS_FILE}: cannot read the digits shipped with convlab ({e}); the "
                      "installation is damaged, reinstall convlab") from None
    if table.shape != (_N_IMAGES, 65) or table[:, :64].min() < 0 or table[:, :64].max() > 16:
        raise OSError(f"{DIGITS_FILE}: expected {_N_IMAGES} lines of 64 pixels 0-16 and a label, "
                      f"but found a table of shape {table.shape}; the installation is damaged, "
                      "reinstall convlab")
    images = table[:, :64].astype(np.uint8).reshape(-1, 8, 8)  # (1797, 64) -> (1797, 8, 8)
    return images, table[:, 64]


@functools.lru_cache(maxsize=1)
def _test_mask() -> np.ndarray:
    """True for the images of the test part: round(count / 4) of each class, drawn at random."""
    _, labels = _load()
    order = np.random.RandomState(_SPLIT_SEED).permutation(len(labels))
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = order[labels[order] == c]
        test[members[:round(len(members) * _TEST_FRACTION)]] = True
    return test


class Digits(VisionDataset):
    """The 8x8 handwritten digits of scikit-learn (UCI), with a fixed stratified train/test split.

    Args:
        train: the training part (1347 images) if True, else the test part (450 images). Each
            class is split 75/25 (the test part takes ``round(count / 4)`` of each class), and the
            split is the same on every run, whatever ``convlab.manual_seed`` says.
        transform: applied to each image, a ``(1, 8, 8)`` float32 Tensor.
        target_transform: applied to each label, an ``int`` 0-9.
        scale: divide the pixels (counts 0-16) by 16 so that they lie in [0, 1] (the default);
            ``scale=False`` keeps the counts, as float32.

    ``dataset[i]`` is ``(image, label)``; ``data`` holds all images, ``(N, 1, 8, 8)`` float32,
    and ``targets`` all labels, ``(N,)`` int64, both Tensors; ``classes`` names the labels.

    >>> train, test = Digits(train=True), Digits(train=False)
    >>> len(train), len(test), train.data.shape, train.classes[3]
    (1347, 450, convlab.Size([1347, 1, 8, 8]), '3')
    """

    classes = [str(d) for d in range(10)]
    images_are_tensors = True

    def __init__(self, train: bool = True, transform=None, target_transform=None,
                 scale: bool = True):
        super().__init__(None, transform, target_transform)
        self.train = train
        self.scale = scale
        images, labels = _load()
        keep = ~_test_mask() if train else _test_mask()
        pixels = images[keep, None].astype(np.float32)  # (N, 8, 8) -> (N, 1, 8, 8)
        if scale:
            pixels /= 16
        self._set_samples(pixels, labels[keep])

    def extra_repr(self) -> str:
        return super().extra_repr() + f"\nScale: pixels {'/ 16' if self.scale else '0-16'}"
