"""The data sets ``convlab train --data NAME`` knows, with the transforms each one wants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import CIFAR10, MNIST, Digits, FashionMNIST, Subset, transforms


@dataclass(frozen=True)
class DataInfo:
    in_channels: int
    image_size: int
    classes: tuple
    mean: tuple  # per channel, of the training images scaled to [0, 1]
    std: tuple
    needs_root: bool
    # how the set's images were made from a picture (see prepare_image): the longer side of the
    # drawing's box in pixels, and whether it is centred by its centre of mass; None for photos
    box: int | None
    centre_of_mass: bool = False


DATASETS = {
    # UCI: each digit scaled to fill a 32x32 box, ink counted in 4x4 blocks -> 8x8
    "digits": DataInfo(1, 8, tuple(str(i) for i in range(10)), (0.0,), (1.0,), False, box=8),
    # MNIST: each digit scaled into a 20x20 box, centred by its centre of mass in 28x28
    "mnist": DataInfo(1, 28, tuple(str(i) for i in range(10)), (0.1307,), (0.3081,), True,
                      box=20, centre_of_mass=True),
    # Fashion-MNIST: the product photo trimmed, its longer side scaled to 28, negated
    "fashion-mnist": DataInfo(1, 28, ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
                              (0.2860,), (0.3530,), True, box=28),
    "cifar10": DataInfo(3, 32, ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                "horse", "ship", "truck"),
                        (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), True, box=None),
}


def prepare_image(path: str, data: str, normalize: bool = True) -> np.ndarray:
    """An image file as the model's input ``(C, H, W)`` float32, made the way the data set's own
    images were: a drawing cropped to its ink, fitted, centred and made bright on black
    (:func:`convlab.vision.prepare_drawing`), or a photo resized and cut to the middle
    (:func:`convlab.vision.prepare_photo`). ``normalize`` then applies the training images'
    mean and standard deviation; without it the values are in [0, 1], ready to show."""
    from ..pictures.image import prepare_drawing, prepare_photo

    info = DATASETS[data]
    if info.box is None:
        pixels = prepare_photo(path, info.image_size)
    else:
        pixels = prepare_drawing(path, info.image_size, info.box, info.centre_of_mass)[None]
    return normalized(pixels, data) if normalize else pixels


def normalized(pixels: np.ndarray, data: str) -> np.ndarray:
    """``(C, H, W)`` values in [0, 1] -> ``(x - mean) / std`` per channel, with the training
    images' mean and standard deviation, as the data set's transforms do."""
    info = DATASETS[data]
    mean = np.asarray(info.mean, np.float32)[:, None, None]
    std = np.asarray(info.std, np.float32)[:, None, None]
    return (pixels - mean) / std


def _sets(name: str, root: str | None, augment: bool):
    """(training images, test images) of a data set; ``augment`` adds CIFAR-10's random crops
    and flips to the training images."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    info = DATASETS[name]
    if info.needs_root and root is None:
        raise ValueError(f"--data {name} reads files you have: pass --root DIR, the directory "
                         "that holds them")
    if name == "digits":
        return Digits(train=True), Digits(train=False)
    normalize = [transforms.ToTensor(), transforms.Normalize(info.mean, info.std)]
    cls = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "cifar10": CIFAR10}[name]
    extra = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] \
        if augment and name == "cifar10" else []
    return (cls(root, train=True, transform=transforms.Compose(extra + normalize)),
            cls(root, train=False, transform=transforms.Compose(normalize)))


def load_test_set(name: str, root: str | None):
    """The test images of a data set, normalized, CHW float32."""
    return _sets(name, root, augment=False)[1]


def load_datasets(name: str, root: str | None, validation: float = 0.1, seed: int = 0):
    """(train, validation, test) sets of a data set; the images come out normalized, CHW float32.

    The validation set is a ``validation`` fraction of the training images, drawn with ``seed``
    and held out of training: the run chooses its best epoch on it, so the test images are
    looked at only once, at the end. It sees the images without augmentation.
    """
    if not 0 < validation < 1:
        raise ValueError(f"--validation must be a fraction between 0 and 1, got {validation}")
    train_set, test_set = _sets(name, root, augment=True)
    plain_train = _sets(name, root, augment=False)[0] if name == "cifar10" else train_set
    order = np.random.RandomState(seed).permutation(len(train_set))
    n_validation = max(1, round(validation * len(train_set)))
    return (Subset(train_set, np.sort(order[n_validation:]).tolist()),
            Subset(plain_train, np.sort(order[:n_validation]).tolist()), test_set)
