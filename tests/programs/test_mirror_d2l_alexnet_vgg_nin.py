"""Mirrors three sections of d2l-ai/d2l-en's chapter_convolutional-modern: alexnet.md (commit
2394cff52709aecbe4d63f17db367435869827e8), vgg.md (commit
cc1415d53126a39b0004f873c614b288e314e53b) and nin.md (commit
649b49a99e711cacddaa3fe1265162d520115aa9). AlexNet of lazy layers with dropout, VGG from
``vgg_block``s given an architecture tuple, and NiN from ``nin_block``s ending in
``AdaptiveAvgPool2d`` and ``Flatten``; each initialized by ``init_cnn`` after a first pass,
summarized by ``layer_summary`` and trained by d2l's Trainer.

The widths are cut (AlexNet by 8, VGG to its ``arch`` with ratio 16, NiN by 8) and the images
to 8 synthetic 96x96 (AlexNet), 64x64 (VGG) or 32x32 (NiN) ones, so that each runs in a second.
"""

import numpy as np
import pytest

import d2l_mini
from harness import check, compare_runs, labelled_images


class AlexNet:
    RANDOM = True  # dropout

    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 8, 1, 96)
        return {"images": images, "labels": labels}

    @staticmethod
    def build(torch):
        nn = torch.nn

        class AlexNet(nn.Module):
            def __init__(self, num_classes=10):
                super().__init__()
                self.net = nn.Sequential(
                    nn.LazyConv2d(12, kernel_size=11, stride=4, padding=1),
                    nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
                    nn.LazyConv2d(32, kernel_size=5, padding=2), nn.ReLU(),
                    nn.MaxPool2d(kernel_size=3, stride=2),
                    nn.LazyConv2d(48, kernel_size=3, padding=1), nn.ReLU(),
                    nn.LazyConv2d(48, kernel_size=3, padding=1), nn.ReLU(),
                    nn.LazyConv2d(32, kernel_size=3, padding=1), nn.ReLU(),
                    nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
                    nn.LazyLinear(512), nn.ReLU(), nn.Dropout(p=0.5),
                    nn.LazyLinear(512), nn.ReLU(), nn.Dropout(p=0.5),
                    nn.LazyLinear(num_classes))

            def forward(self, X):
                return self.net(X)

        return AlexNet()

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.05, max_epochs=4))


class VGG:
    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 8, 1, 64)
        return {"images": images, "labels": labels}

    @staticmethod
    def build(torch):
        nn = torch.nn

        def vgg_block(num_convs, out_channels):
            layers = []
            for _ in range(num_convs):
                layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
                layers.append(nn.ReLU())
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            return nn.Sequential(*layers)

        class VGG(nn.Module):
            def __init__(self, arch, num_classes=10):
                super().__init__()
                conv_blks = []
                for (num_convs, out_channels) in arch:
                    conv_blks.append(vgg_block(num_convs, out_channels))
                self.net = nn.Sequential(
                    *conv_blks, nn.Flatten(),
                    nn.LazyLinear(256), nn.ReLU(),
                    nn.LazyLinear(256), nn.ReLU(),
                    nn.LazyLinear(num_classes))

            def forward(self, X):
                return self.net(X)

        ratio = 16
        return VGG(arch=((1, 64 // ratio), (1, 128 // ratio), (2, 256 // ratio),
                         (2, 512 // ratio), (2, 512 // ratio)))

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.05, max_epochs=4))


class NiN:
    RANDOM = True  # dropout

    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 8, 1, 32)
        return {"images": images, "labels": labels}

    @staticmethod
    def build(torch):
        nn = torch.nn

        def nin_block(out_channels, kernel_size, strides, padding):
            return nn.Sequential(
                nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
                nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
                nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())

        class NiN(nn.Module):
            def __init__(self, num_classes=10):
                super().__init__()
                self.net = nn.Sequential(
                    nin_block(96 // 8, kernel_size=5, strides=2, padding=2),
                    nn.MaxPool2d(3, stride=2),
                    nin_block(256 // 8, kernel_size=5, strides=1, padding=2),
                    nn.MaxPool2d(3, stride=2),
                    nin_block(384 // 8, kernel_size=3, strides=1, padding=1),
                    nn.MaxPool2d(3, stride=2),
                    nn.Dropout(0.5),
                    nin_block(num_classes, kernel_size=3, strides=1, padding=1),
                    nn.AdaptiveAvgPool2d((1, 1)),
                    nn.Flatten())

            def forward(self, X):
                return self.net(X)

        return NiN()

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.1, max_epochs=8))


@pytest.mark.parametrize("program", [AlexNet, VGG, NiN], ids=lambda p: p.__name__)
def test_training(program):
    check(program)


@pytest.mark.parametrize("program", [AlexNet, VGG, NiN], ids=lambda p: p.__name__)
def test_layer_summary(program):
    class Summary:
        @staticmethod
        def run(torch):
            torch.manual_seed(0)
            model = program.build(torch)
            data = program.make_data(np.random.default_rng(0))
            program.materialize(torch, model, data)
            model.eval()
            X = torch.from_numpy(data["images"][:1])
            return {"layer_summary": "\n".join(d2l_mini.layer_summary(torch, model, X))}

    compare_runs(Summary)
