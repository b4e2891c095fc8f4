"""The whole networks of ``python -m benchmarks nets``, each written once against a ``torch``-like
namespace, so that convlab and PyTorch run exactly the same code.

Every builder takes the library (``torch`` or ``convlab``) and returns a ``Net``: the model, the
shape of one input item, and the loss that closes a training step. All take CIFAR-sized
images (3x32x32) but the digits CNN (1x8x8) and the DCGAN generator (a 100-long noise vector,
shaped 100x1x1).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

__all__ = ["Net", "NETWORKS", "inputs"]


@dataclass
class Net:
    model: object
    input_shape: tuple[int, ...]
    loss: str  # "cross_entropy" (10 classes), "bce_logits" (one logit) or "bce_image" (Tanh image)


def _residual(torch: ModuleType, body, shortcut):
    """A module computing ``relu(body(x) + shortcut(x))`` (ResNet) or, with ``shortcut=None``
    and no ReLU, ``x + body(x)`` (MobileNetV2's inverted residual)."""
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x):
            if self.shortcut is None:
                return x + self.body(x)
            return torch.relu(self.body(x) + self.shortcut(x))

    return Residual()


def resnet18(torch: ModuleType) -> Net:
    """ResNet-18 for CIFAR at width 32: a 3x3 stem, four stages of two basic blocks (32, 64,
    128, 256 channels; stride 2 from the second stage), BatchNorm after every conv, global
    average pooling, a 10-way Linear."""
    nn = torch.nn

    def block(cin, cout, stride):
        body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        shortcut = (nn.Identity() if stride == 1 and cin == cout else
                    nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                  nn.BatchNorm2d(cout)))
        return _residual(torch, body, shortcut)

    layers = [nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    cin = 32
    for i, cout in enumerate((32, 64, 128, 256)):
        layers += [block(cin, cout, 1 if i == 0 else 2), block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)]
    return Net(nn.Sequential(*layers), (3, 32, 32), "cross_entropy")


def _divisible(channels: float, by: int = 8) -> int:
    """MobileNetV2's channel rounding: to the nearest multiple of 8, never down by over 10%."""
    rounded = max(by, int(channels + by / 2) // by * by)
    return rounded + by if rounded < 0.9 * channels else rounded


def mobilenet_v2(torch: ModuleType, width: float = 0.5) -> Net:
    """MobileNetV2 for CIFAR at width 0.5: stride 1 in the stem and the second stage (32x32
    input), inverted residual blocks (1x1 expand, ReLU6, 3x3 depthwise, ReLU6, 1x1 project),
    a 1x1 conv to 1280 channels, global average pooling, a 10-way Linear."""
    nn = torch.nn

    def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        return layers + [nn.ReLU6()] if act else layers

    # expansion t, output channels c, repeats n, first stride s
    settings = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    cin = _divisible(32 * width)
    layers = conv_bn(3, cin, 3)
    for t, c, n, s in settings:
        cout = _divisible(c * width)
        for i in range(n):
            stride, hidden = (s if i == 0 else 1), cin * t
            body = nn.Sequential(*(conv_bn(cin, hidden, 1) if t != 1 else []),
                                 *conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                 *conv_bn(hidden, cout, 1, act=False))
            layers.append(_residual(torch, body, None) if stride == 1 and cin == cout else body)
            cin = cout
    layers += conv_bn(cin, 1280, 1) + [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 10)]
    return Net(nn.Sequential(*layers), (3, 32, 32), "cross_entropy")


def vgg11_bn(torch: ModuleType) -> Net:
    """VGG-11 with BatchNorm at half width (32 to 256 channels), max pooling, a 10-way Linear."""
    nn = torch.nn
    layers, cin = [], 3
    for v in (32, "M", 64, "M", 128, 128, "M", 256, 256, "M", 256, 256, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            cin = v
    layers += [nn.Flatten(), nn.Linear(256, 10)]
    return Net(nn.Sequential(*layers), (3, 32, 32), "cross_entropy")


def dcgan_discriminator(torch: ModuleType, width: int = 64) -> Net:
    """DCGAN's discriminator for 32x32 images: 4x4 stride-2 convs (64, 128, 256 channels),
    LeakyReLU(0.2), BatchNorm but after the first, a 4x4 conv to one logit."""
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * width),
        nn.LeakyReLU(0.2),
        nn.Conv2d(4 * width, 1, 4, 1, 0, bias=False), nn.Flatten())
    return Net(model, (3, 32, 32), "bce_logits")


def dcgan_generator(torch: ModuleType, width: int = 64, noise: int = 100) -> Net:
    """DCGAN's generator to 32x32 images: ConvTranspose2d 100x1x1 -> 256x4x4, then 4x4 stride-2
    transposed convs to 128x8x8, 64x16x16 and 3x32x32; BatchNorm and ReLU between, Tanh last."""
    nn = torch.nn
    model = nn.Sequential(
        nn.ConvTranspose2d(noise, 4 * width, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * width),
        nn.ReLU(),
        nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False), nn.Tanh())
    return Net(model, (noise, 1, 1), "bce_image")


def digits_cnn(torch: ModuleType) -> Net:
    """convlab.models.DigitsCNN: conv 1->16 3x3, ReLU, max pool 2, conv 16->32, ReLU, max pool
    2, Linear 128->10, on 8x8 digits."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10))
    return Net(model, (1, 8, 8), "cross_entropy")


NETWORKS = {
    "resnet18": resnet18,
    "mobilenet_v2": mobilenet_v2,
    "vgg11_bn": vgg11_bn,
    "dcgan_d": dcgan_discriminator,
    "dcgan_g": dcgan_generator,
    "digits_cnn": digits_cnn,
}


def inputs(net: Net, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A batch of float32 inputs and its targets for ``net.loss``: class indices (int64) for
    cross-entropy, 0/1 labels (float32, batch x 1) for the discriminator, images in [0, 1]
    (batch x 3x32x32) for the generator."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *net.input_shape)).astype(np.float32)
    if net.loss == "cross_entropy":
        y = rng.integers(0, 10, size=batch).astype(np.int64)
    elif net.loss == "bce_logits":
        y = rng.integers(0, 2, size=(batch, 1)).astype(np.float32)
    else:
        y = rng.random((batch, 3, 32, 32)).astype(np.float32)
    return x, y
