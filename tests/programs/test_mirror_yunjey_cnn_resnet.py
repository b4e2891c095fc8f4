"""Mirrors two programs of yunjey/pytorch-tutorial, a widely used teaching repository:
tutorials/02-intermediate/convolutional_neural_network/main.py (commit
78c6afe681c4ff5095ef13662c02a7e369b1bcbd): ConvNet of two Conv/BatchNorm/ReLU/MaxPool layers,
``out.reshape(out.size(0), -1)``, Adam, the test pass with ``model.eval()`` and
``torch.max(outputs.data, 1)``, the state_dict saved to 'model.ckpt'; and
tutorials/02-intermediate/deep_residual_network/main.py (commit
22219527c5453cc7897d763844d633aa2f2d963e): ``conv3x3``, ``ResidualBlock`` with a downsample
Sequential, ``ResNet(ResidualBlock, [2, 2, 2])`` with ``nn.AvgPool2d(8)``, and ``update_lr``
writing ``param_group['lr']`` as the learning rate decays.

Cut to 16 synthetic 28x28 digits (ConvNet) and 8 synthetic 32x32 colour images (ResNet).
"""

import os
import tempfile

import pytest

from harness import check, labelled_images


class ConvNetProgram:
    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 16, 1, 28)
        return {"images": images, "labels": labels}

    @staticmethod
    def build(torch):
        nn = torch.nn

        class ConvNet(nn.Module):
            def __init__(self, num_classes=10):
                super().__init__()
                self.layer1 = nn.Sequential(nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2),
                                            nn.BatchNorm2d(16), nn.ReLU(),
                                            nn.MaxPool2d(kernel_size=2, stride=2))
                self.layer2 = nn.Sequential(nn.Conv2d(16, 32, kernel_size=5, stride=1,
                                                      padding=2),
                                            nn.BatchNorm2d(32), nn.ReLU(),
                                            nn.MaxPool2d(kernel_size=2, stride=2))
                self.fc = nn.Linear(7 * 7 * 32, num_classes)

            def forward(self, x):
                out = self.layer1(x)
                out = self.layer2(out)
                out = out.reshape(out.size(0), -1)
                return self.fc(out)

        return ConvNet(10)

    @staticmethod
    def loader(torch, data):
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                                 torch.from_numpy(data["labels"]))
        return torch.utils.data.DataLoader(dataset=dataset, batch_size=8, shuffle=False)

    @classmethod
    def loss_of(cls, torch, model, data):
        images, labels = next(iter(cls.loader(torch, data)))
        outputs = model(images)
        return outputs, torch.nn.CrossEntropyLoss()(outputs, labels)

    @classmethod
    def train(cls, torch, model, data):
        criterion = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
        losses = []
        for epoch in range(3):
            for i, (images, labels) in enumerate(cls.loader(torch, data)):
                outputs = model(images)
                loss = criterion(outputs, labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            correct = total = 0
            for images, labels in cls.loader(torch, data):
                outputs = model(images)
                _, predicted = torch.max(outputs.data, 1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
        with tempfile.TemporaryDirectory() as folder:
            torch.save(model.state_dict(), os.path.join(folder, "model.ckpt"))
        return losses


class ResNetProgram:
    @staticmethod
    def make_data(rng):
        images, labels = labelled_images(rng, 8, 3, 32)
        return {"images": images, "labels": labels}

    @staticmethod
    def build(torch):
        nn = torch.nn

        def conv3x3(in_channels, out_channels, stride=1):
            return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1,
                             bias=False)

        class ResidualBlock(nn.Module):
            def __init__(self, in_channels, out_channels, stride=1, downsample=None):
                super().__init__()
                self.conv1 = conv3x3(in_channels, out_channels, stride)
                self.bn1 = nn.BatchNorm2d(out_channels)
                self.relu = nn.ReLU(inplace=True)
                self.conv2 = conv3x3(out_channels, out_channels)
                self.bn2 = nn.BatchNorm2d(out_channels)
                self.downsample = downsample

            def forward(self, x):
                residual = x
                out = self.conv1(x)
                out = self.bn1(out)
                out = self.relu(out)
                out = self.conv2(out)
                out = self.bn2(out)
                if self.downsample:
                    residual = self.downsample(x)
                out += residual
                return self.relu(out)

        class ResNet(nn.Module):
            def __init__(self, block, layers, num_classes=10):
                super().__init__()
                self.in_channels = 16
                self.conv = conv3x3(3, 16)
                self.bn = nn.BatchNorm2d(16)
                self.relu = nn.ReLU(inplace=True)
                self.layer1 = self.make_layer(block, 16, layers[0])
                self.layer2 = self.make_layer(block, 32, layers[1], 2)
                self.layer3 = self.make_layer(block, 64, layers[2], 2)
                self.avg_pool = nn.AvgPool2d(8)
                self.fc = nn.Linear(64, num_classes)

            def make_layer(self, block, out_channels, blocks, stride=1):
                downsample = None
                if (stride != 1) or (self.in_channels != out_channels):
                    downsample = nn.Sequential(conv3x3(self.in_channels, out_channels,
                                                       stride=stride),
                                               nn.BatchNorm2d(out_channels))
                layers = [block(self.in_channels, out_channels, stride, downsample)]
                self.in_channels = out_channels
                for i in range(1, blocks):
                    layers.append(block(out_channels, out_channels))
                return nn.Sequential(*layers)

            def forward(self, x):
                out = self.conv(x)
                out = self.bn(out)
                out = self.relu(out)
                out = self.layer1(out)
                out = self.layer2(out)
                out = self.layer3(out)
                out = self.avg_pool(out)
                out = out.view(out.size(0), -1)
                return self.fc(out)

        return ResNet(ResidualBlock, [2, 2, 2])

    loader = ConvNetProgram.loader

    @classmethod
    def loss_of(cls, torch, model, data):
        images, labels = next(iter(cls.loader(torch, data)))
        outputs = model(images)
        return outputs, torch.nn.CrossEntropyLoss()(outputs, labels)

    @classmethod
    def train(cls, torch, model, data):
        def update_lr(optimizer, lr):
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr

        criterion = torch.nn.CrossEntropyLoss()
        learning_rate = 0.001
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
        curr_lr, losses = learning_rate, []
        for epoch in range(4):
            for i, (images, labels) in enumerate(cls.loader(torch, data)):
                outputs = model(images)
                loss = criterion(outputs, labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            if (epoch + 1) % 2 == 0:
                curr_lr /= 3
                update_lr(optimizer, curr_lr)
        return losses


@pytest.mark.parametrize("program", [ConvNetProgram, ResNetProgram], ids=lambda p: p.__name__)
def test_program(program):
    check(program)
