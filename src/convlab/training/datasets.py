"""The data sets ``convlab train --data NAME`` knows, with the transforms each one wants."""

from __future__ import annotations

from dataclasses import dataclass

from ..data import CIFAR10, MNIST, Digits, FashionMNIST, transforms


@dataclass(frozen=True)
class DataInfo:
    in_channels: int
    image_size: int
    classes: tuple
    mean: tuple  # per channel, of the training images scaled to [0, 1]
    std: tuple
    needs_root: bool


DATASETS = {
    "digits": DataInfo(1, 8, tuple(str(i) for i in range(10)), (0.0,), (1.0,), False),
    "mnist": DataInfo(1, 28, tuple(str(i) for i in range(10)), (0.1307,), (0.3081,), True),
    "fashion-mnist": DataInfo(1, 28, ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
                              (0.2860,), (0.3530,), True),
    "cifar10": DataInfo(3, 32, ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                "horse", "ship", "truck"),
                        (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), True),
}


def load_datasets(name: str, root: str | None):
    """(train set, test set) for a data set name; the images come out normalized, CHW float32."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    info = DATASETS[name]
    if info.needs_root and root is None:
        raise ValueError(f"--data {name} reads files you have: pass --root DIR, the directory "
                         "that holds them")
    if name == "digits":
        return Digits(train=True), Digits(train=False)
    normalize = [transforms.ToTensor(), transforms.Normalize(info.mean, info.std)]
    if name == "cifar10":
        augment = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
        return (CIFAR10(root, train=True, transform=transforms.Compose(augment + normalize)),
                CIFAR10(root, train=False, transform=transforms.Compose(normalize)))
    cls = MNIST if name == "mnist" else FashionMNIST
    return (cls(root, train=True, transform=transforms.Compose(normalize)),
            cls(root, train=False, transform=transforms.Compose(normalize)))
