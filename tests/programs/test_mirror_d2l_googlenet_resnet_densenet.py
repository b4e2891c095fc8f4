"""Mirrors three sections of d2l-ai/d2l-en's chapter_convolutional-modern: googlenet.md
(commit 76c5e5a3dfabac64abefbffcc49f78d089581b62), resnet.md (commit
901c18149b861baf89f572d84f7713ae8bea75bb) and densenet.md (commit
03b29ddd0f20f958e09ce6141041270b93901301). The Inception block's four branches joined by
``torch.cat((b1, b2, b3, b4), dim=1)`` and GoogLeNet's ``b1`` to ``b5``; the ``Residual`` block
(``LazyConv2d``, ``LazyBatchNorm2d``, optional 1x1 shortcut, ``Y += X``) and ResNet-18 built
with ``add_module``; DenseNet's ``conv_block``, ``DenseBlock`` (concatenating along channels)
and ``transition_block``.

The channel counts are cut (by 8 for GoogLeNet, ResNet and DenseNet's first block, the growth
rate to 8) and the images to 8 synthetic 32x32 ones.
"""

import pytest

import d2l_mini
from harness import check, labelled_images


def make_data(rng):
    images, labels = labelled_images(rng, 8, 1, 32)
    return {"images": images, "labels": labels}


class GoogleNet:
    make_data = staticmethod(make_data)

    @staticmethod
    def build(torch):
        nn, F = torch.nn, torch.nn.functional

        class Inception(nn.Module):
            def __init__(self, c1, c2, c3, c4):
                super().__init__()
                self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
                self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
                self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
                self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
                self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
                self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
                self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

            def forward(self, x):
                b1 = F.relu(self.b1_1(x))
                b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
                b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
                b4 = F.relu(self.b4_2(self.b4_1(x)))
                return torch.cat((b1, b2, b3, b4), dim=1)

        class GoogleNet(nn.Module):
            def b1(self):
                return nn.Sequential(nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3),
                                     nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

            def b2(self):
                return nn.Sequential(nn.LazyConv2d(8, kernel_size=1), nn.ReLU(),
                                     nn.LazyConv2d(24, kernel_size=3, padding=1), nn.ReLU(),
                                     nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

            def b3(self):
                return nn.Sequential(Inception(8, (12, 16), (2, 4), 4),
                                     Inception(16, (16, 24), (4, 12), 8),
                                     nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

            def b5(self):
                return nn.Sequential(Inception(32, (20, 40), (4, 16), 16),
                                     nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())

            def __init__(self, num_classes=10):
                super().__init__()
                self.net = nn.Sequential(self.b1(), self.b2(), self.b3(), self.b5(),
                                         nn.LazyLinear(num_classes))

            def forward(self, X):
                return self.net(X)

        return GoogleNet()

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.1, max_epochs=5))


class ResNet:
    make_data = staticmethod(make_data)
    # lr 0.1 on a tiny batch: the last step amplifies float32 rounding. The same training in
    # float64 ends at 0.51961; PyTorch ends at 0.51955 on one thread and 0.52183 on two (0.43%
    # from float64), convlab at 0.51803 (0.30%), so the two float32 runs can be 0.73% apart
    curve_rtol = 1e-2

    @staticmethod
    def build(torch):
        nn, F = torch.nn, torch.nn.functional

        class Residual(nn.Module):
            def __init__(self, num_channels, use_1x1conv=False, strides=1):
                super().__init__()
                self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1,
                                           stride=strides)
                self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
                self.conv3 = (nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
                              if use_1x1conv else None)
                self.bn1 = nn.LazyBatchNorm2d()
                self.bn2 = nn.LazyBatchNorm2d()

            def forward(self, X):
                Y = F.relu(self.bn1(self.conv1(X)))
                Y = self.bn2(self.conv2(Y))
                if self.conv3:
                    X = self.conv3(X)
                Y += X
                return F.relu(Y)

        class ResNet18(nn.Module):
            def b1(self):
                return nn.Sequential(nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3),
                                     nn.LazyBatchNorm2d(), nn.ReLU(),
                                     nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

            def block(self, num_residuals, num_channels, first_block=False):
                blk = []
                for i in range(num_residuals):
                    if i == 0 and not first_block:
                        blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
                    else:
                        blk.append(Residual(num_channels))
                return nn.Sequential(*blk)

            def __init__(self, arch, num_classes=10):
                super().__init__()
                self.net = nn.Sequential(self.b1())
                for i, b in enumerate(arch):
                    self.net.add_module(f"b{i + 2}", self.block(*b, first_block=(i == 0)))
                self.net.add_module("last", nn.Sequential(
                    nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes)))

            def forward(self, X):
                return self.net(X)

        return ResNet18(((2, 8), (2, 16), (2, 32), (2, 64)))

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.05, max_epochs=4))


class DenseNet:
    make_data = staticmethod(make_data)

    @staticmethod
    def build(torch):
        nn = torch.nn

        def conv_block(num_channels):
            return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(),
                                 nn.LazyConv2d(num_channels, kernel_size=3, padding=1))

        class DenseBlock(nn.Module):
            def __init__(self, num_convs, num_channels):
                super().__init__()
                layer = []
                for i in range(num_convs):
                    layer.append(conv_block(num_channels))
                self.net = nn.Sequential(*layer)

            def forward(self, X):
                for blk in self.net:
                    Y = blk(X)
                    X = torch.cat((X, Y), dim=1)
                return X

        def transition_block(num_channels):
            return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(),
                                 nn.LazyConv2d(num_channels, kernel_size=1),
                                 nn.AvgPool2d(kernel_size=2, stride=2))

        class DenseNet(nn.Module):
            def b1(self):
                return nn.Sequential(nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3),
                                     nn.LazyBatchNorm2d(), nn.ReLU(),
                                     nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

            def __init__(self, num_channels=8, growth_rate=8, arch=(2, 2, 2), num_classes=10):
                super().__init__()
                self.net = nn.Sequential(self.b1())
                for i, num_convs in enumerate(arch):
                    self.net.add_module(f"dense_blk{i + 1}", DenseBlock(num_convs, growth_rate))
                    num_channels += num_convs * growth_rate
                    if i != len(arch) - 1:
                        num_channels //= 2
                        self.net.add_module(f"tran_blk{i + 1}", transition_block(num_channels))
                self.net.add_module("last", nn.Sequential(
                    nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                    nn.Flatten(), nn.LazyLinear(num_classes)))

            def forward(self, X):
                return self.net(X)

        return DenseNet()

    materialize, loss_of = d2l_mini.materialize, d2l_mini.loss_of
    train = staticmethod(d2l_mini.trainer(lr=0.1, max_epochs=4))


@pytest.mark.parametrize("program", [GoogleNet, ResNet, DenseNet], ids=lambda p: p.__name__)
def test_training(program):
    check(program)
