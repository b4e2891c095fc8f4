"""The ImageNet networks of ``python -m benchmarks onnx``, written once against a ``torch``-like
namespace (as benchmarks/networks.py's are): ResNet-50 and SqueezeNet 1.1, with torchvision's
layers and shapes, 3x224x224 in, 1000 logits out.

PyTorch builds them and ``torch.onnx.export`` writes them as ONNX; convlab and onnxruntime run the
file (benchmarks/onnx_bench.py). No weights are downloaded: PyTorch's initialization fills them.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["ONNX_NETWORKS", "INPUT_SHAPE"]

INPUT_SHAPE = (3, 224, 224)


def _bottleneck(torch: ModuleType, cin: int, width: int, stride: int):
    """ResNet-50's block: relu(1x1 reduce -> 3x3 (stride) -> 1x1 expand to 4 * width, plus the
    input, projected by a strided 1x1 conv where the shape changes); BatchNorm after every conv."""
    nn = torch.nn
    cout = 4 * width

    class Bottleneck(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(), nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.shortcut = (nn.Identity() if stride == 1 and cin == cout else
                             nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                           nn.BatchNorm2d(cout)))

        def forward(self, x):
            return torch.relu(self.body(x) + self.shortcut(x))

    return Bottleneck()


def resnet50(torch: ModuleType):
    """ResNet-50: a 7x7 stride-2 stem and 3x3 stride-2 max pool, four stages of 3, 4, 6 and 3
    bottlenecks (widths 64 to 512, stride 2 from the second stage), global average pooling and
    a 1000-way Linear."""
    nn = torch.nn
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        for k in range(blocks):
            layers.append(_bottleneck(torch, cin, width, 2 if stage > 0 and k == 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


def _fire(torch: ModuleType, cin: int, squeeze: int, expand: int):
    """SqueezeNet's Fire module: a 1x1 squeeze conv, then 1x1 and 3x3 expand convs side by side,
    their outputs concatenated along the channels; ReLU after each conv."""
    nn = torch.nn

    class Fire(nn.Module):
        def __init__(self):
            super().__init__()
            self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU())
            self.expand1x1 = nn.Sequential(nn.Conv2d(squeeze, expand, 1), nn.ReLU())
            self.expand3x3 = nn.Sequential(nn.Conv2d(squeeze, expand, 3, padding=1), nn.ReLU())

        def forward(self, x):
            s = self.squeeze(x)
            return torch.cat([self.expand1x1(s), self.expand3x3(s)], 1)

    return Fire()


def squeezenet1_1(torch: ModuleType):
    """SqueezeNet 1.1: a 3x3 stride-2 stem, eight Fire modules between three 3x3 stride-2 max
    pools (ceil mode), then dropout, a 1x1 conv to the 1000 classes, ReLU and global average
    pooling."""
    nn = torch.nn

    def pool():
        return nn.MaxPool2d(3, 2, ceil_mode=True)

    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(),
        _fire(torch, 64, 16, 64), _fire(torch, 128, 16, 64), pool(),
        _fire(torch, 128, 32, 128), _fire(torch, 256, 32, 128), pool(),
        _fire(torch, 256, 48, 192), _fire(torch, 384, 48, 192), _fire(torch, 384, 64, 256),
        _fire(torch, 512, 64, 256),
        nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten())


ONNX_NETWORKS = {"resnet50": resnet50, "squeezenet1_1": squeezenet1_1}
