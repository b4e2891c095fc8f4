"""``VisionDataset``: what the built-in image datasets (Digits, MNIST, CIFAR10) share.

Each holds all its images in one array and all its labels in another, so a batch without a
per-item transform is one fancy-indexing step (``_get_batch``), not a loop over samples.
"""

from __future__ import annotations

import operator

import numpy as np

from ..tensor import Tensor
from .dataset import Dataset

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """Base class: ``dataset[i]`` is ``(transform(image), target_transform(label))``.

    Subclasses set ``train`` (which split they hold) and call :meth:`_set_samples` with

    - ``images``: ``(N, ...)`` array; ``images[i]`` is the sample's image before ``transform``;
    - ``labels``: ``(N,)`` integer class indices.

    ``data`` and ``targets`` hold all images and labels as Tensors, as torchvision's MNIST has
    them (CIFAR10 overrides them with torchvision's NumPy array and list).

    Without a transform, an image is handed out as a NumPy array (HWC or HW ``uint8``, where
    torchvision hands out a PIL image; ``transforms.ToTensor`` turns it into a CHW float Tensor)
    or, when the subclass sets ``images_are_tensors``, as a Tensor. The label is a Python ``int``,
    so a DataLoader batch of labels is an int64 Tensor.
    """

    images_are_tensors = False

    def __init__(self, root, transform=None, target_transform=None):
        self.root = root
        self.transform = transform
        self.target_transform = target_transform

    def _set_samples(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._images = images
        self._labels = labels.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __getitem__(self, index: int):
        n = len(self)
        if not -n <= operator.index(index) < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {n} images")
        image = self._images[index]
        if self.images_are_tensors:
            image = Tensor._wrap(image)
        target = int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _get_batch(self, indices: np.ndarray):
        """``[images, labels]`` as Tensors, or ``None`` when a transform must see each sample."""
        if self.transform is not None or self.target_transform is not None:
            return None
        return [Tensor._wrap(self._images[indices]), Tensor._wrap(self._labels[indices])]

    @property
    def data(self) -> Tensor:
        return Tensor._wrap(self._images)

    @property
    def targets(self) -> Tensor:
        return Tensor._wrap(self._labels)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        for name in ("transform", "target_transform"):
            value = getattr(self, name)
            if value is not None:
                text = repr(value).replace("\n", "\n    ")
                lines.append(f"{name}: {text}")
        return "\n    ".join([f"Dataset {type(self).__name__}", *lines])
