"""``MNIST`` and ``FashionMNIST`` from their IDX files, in a folder the user names.

convlab never downloads. Each dataset reads four files, gzipped or not, named as the originals::

    train-images-idx3-ubyte   train-labels-idx1-ubyte   (60000 images)
    t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte    (10000 images)

found directly in ``root`` or in ``root/MNIST/raw`` (``root/FashionMNIST/raw``), where
torchvision keeps them, so a folder torchvision downloaded into works as it is.
"""

from __future__ import annotations

import os

import numpy as np

from .idx import read_idx
from .vision_dataset import VisionDataset

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 28x28 grayscale images, labels 0-9.

    Args:
        root: the folder holding the IDX files (or ``root/MNIST/raw`` holding them).
        train: the 60000 training images if True, else the 10000 test images.
        transform: applied to each image, an ``(H, W)`` uint8 NumPy array (torchvision hands out
            a PIL image here); ``transforms.ToTensor()`` makes it a ``(1, H, W)`` float Tensor.
        target_transform: applied to each label, an ``int``.
        download: accepted for torchvision compatibility; convlab never downloads, the files
            must already be there.

    ``dataset[i]`` is ``(image, label)``; ``data`` holds all images, an ``(N, H, W)`` uint8
    Tensor, and ``targets`` all labels, an ``(N,)`` int64 Tensor; ``classes`` names the labels.
    A missing file raises ``FileNotFoundError`` saying where to get it; a damaged one
    ``ValueError`` naming the file and the numbers. A gzipped file may inflate to at most the
    load limit, ``$CONVLAB_MAX_LOAD_BYTES`` or 1 GiB (MNIST's largest file inflates to 47 MB;
    see :func:`convlab.data.idx.read_idx`).
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    #: where the files can be downloaded
    sources = ("https://ossci-datasets.s3.amazonaws.com/mnist/ (the mirror torchvision uses), "
               "or http://yann.lecun.com/exdb/mnist/")

    def __init__(self, root: str | os.PathLike, train: bool = True, transform=None,
                 target_transform=None, download: bool = False):
        super().__init__(root, transform, target_transform)
        self.train = train
        prefix = "train" if train else "t10k"
        images_path = self._find(f"{prefix}-images-idx3-ubyte")
        labels_path = self._find(f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"{images_path}: expected {type(self).__name__} images, an IDX file "
                             f"of uint8 with 3 dimensions N x rows x cols (magic number 2051), "
                             f"but it holds {images.dtype} with shape "
                             f"{' x '.join(map(str, images.shape))}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(f"{labels_path}: expected {type(self).__name__} labels, an IDX file "
                             f"of uint8 with 1 dimension N (magic number 2049), but it holds "
                             f"{labels.dtype} with shape {' x '.join(map(str, labels.shape))}")
        if len(images) != len(labels):
            raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                             f"{len(labels)} labels; they should be the same number")
        if labels.size and labels.max() >= len(self.classes):
            raise ValueError(f"{labels_path}: labels must be 0-{len(self.classes) - 1}, but "
                             f"label {labels.max()} occurs")
        self._set_samples(images, labels)

    def _find(self, name: str) -> str:
        """The path of ``name`` or ``name.gz``, in ``root`` or ``root/<Dataset>/raw``."""
        folders = [os.fspath(self.root), os.path.join(self.root, type(self).__name__, "raw")]
        for folder in folders:
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        raise FileNotFoundError(
            f"{type(self).__name__}: cannot find {name} (or {name}.gz) in {' or '.join(folders)}. "
            f"convlab does not download data sets: get the four IDX files "
            f"(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            f"t10k-labels-idx1-ubyte, gzipped or not) from {self.sources} and put them in one "
            "of these folders")


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale photos of clothes in 10 classes, in MNIST's
    format and file names (see :class:`MNIST`; the files may sit in ``root/FashionMNIST/raw``)."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    sources = ("https://github.com/zalandoresearch/fashion-mnist (files at "
               "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/)")
