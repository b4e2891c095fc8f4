"""Model names for the command line, and which model suits which data set."""

from __future__ import annotations

from .digits_cnn import DigitsCNN
from .lenet import LeNet5
from .resnet import ResNetSmall

MODELS = {
    "digits-cnn": DigitsCNN,
    "lenet5": LeNet5,
    "resnet-small": ResNetSmall,
}

_DEFAULT_FOR_DATA = {
    "digits": "digits-cnn",
    "mnist": "lenet5",
    "fashion-mnist": "lenet5",
    "cifar10": "resnet-small",
}


def default_model_for(data: str) -> str:
    return _DEFAULT_FOR_DATA[data]


def build_model(name: str, in_channels: int, num_classes: int):
    """A fresh model by name, e.g. ``build_model("lenet5", 1, 10)``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](in_channels=in_channels, num_classes=num_classes)
