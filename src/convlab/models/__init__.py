"""Small CNNs to read and train: ordinary ``nn.Module`` classes, written as PyTorch code is.

``MODELS`` maps the names ``convlab train --model NAME`` accepts to their classes.
"""

from .digits_cnn import DigitsCNN
from .lenet import LeNet5
from .resnet import ResNetSmall
from .registry import MODELS, build_model, default_model_for

__all__ = ["DigitsCNN", "LeNet5", "ResNetSmall", "MODELS", "build_model", "default_model_for"]
