"""Mirrors kuangliu/pytorch-cifar, a widely used CIFAR-10 training repository: main.py
(commit 7ad1b9c745bebd47a273a606bfea9a8749a3bee7) with models/mobilenetv2.py (commit
e010fe867f38075d3b8bb878b82f8a19774d5962). MobileNetV2's inverted-residual ``Block``
(1x1 expand, 3x3 depthwise ``groups=planes``, 1x1 project, a shortcut Sequential when the
shapes differ), ``_make_layers`` from a ``cfg`` list, ``F.avg_pool2d(out, 4)``; trained as
main.py does: SGD with momentum and ``weight_decay=5e-4``,
``CosineAnnealingLR(optimizer, T_max=200)``, ``outputs.max(1)``, ``predicted.eq(targets)
.sum().item()``, and a checkpoint dict ``{'net', 'acc', 'epoch'}`` saved when accuracy improves.

The ``cfg`` is cut to four stages of narrow blocks on 8 synthetic 32x32 colour images, in
float64 (``.double()``): with batches of 4, BatchNorm and lr 0.1 with momentum, float32 rounding
differences grow to 1% of the loss in three epochs, while float64 curves agree to 1e-14.
"""

import os
import sys
import tempfile

from harness import check, labelled_images


def make_data(rng):
    images, labels = labelled_images(rng, 8, 3, 32)
    return {"images": images.astype("float64"), "labels": labels}


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        """expand + depthwise + pointwise"""

        def __init__(self, in_planes, out_planes, expansion, stride):
            super().__init__()
            self.stride = stride
            planes = expansion * in_planes
            self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, stride=1, padding=0,
                                   bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1,
                                   groups=planes, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, out_planes, kernel_size=1, stride=1, padding=0,
                                   bias=False)
            self.bn3 = nn.BatchNorm2d(out_planes)
            self.shortcut = nn.Sequential()
            if stride == 1 and in_planes != out_planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=1, padding=0,
                              bias=False),
                    nn.BatchNorm2d(out_planes))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = F.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return out + self.shortcut(x) if self.stride == 1 else out

    class MobileNetV2(nn.Module):
        # (expansion, out_planes, num_blocks, stride)
        cfg = [(1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2), (6, 16, 1, 2)]

        def __init__(self, num_classes=10):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.layers = self._make_layers(in_planes=16)
            self.conv2 = nn.Conv2d(16, 64, kernel_size=1, stride=1, padding=0, bias=False)
            self.bn2 = nn.BatchNorm2d(64)
            self.linear = nn.Linear(64, num_classes)

        def _make_layers(self, in_planes):
            layers = []
            for expansion, out_planes, num_blocks, stride in self.cfg:
                strides = [stride] + [1] * (num_blocks - 1)
                for stride in strides:
                    layers.append(Block(in_planes, out_planes, expansion, stride))
                    in_planes = out_planes
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layers(out)
            out = F.relu(self.bn2(self.conv2(out)))
            out = F.avg_pool2d(out, 4)
            out = out.view(out.size(0), -1)
            return self.linear(out)

    return MobileNetV2().double()


def loader(torch, data):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data["images"]),
                                             torch.from_numpy(data["labels"]))
    return torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=False, num_workers=0)


def loss_of(torch, net, data):
    inputs, targets = next(iter(loader(torch, data)))
    outputs = net(inputs)
    return outputs, torch.nn.CrossEntropyLoss()(outputs, targets)


def train(torch, net, data):
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=200)
    best_acc, losses = 0, []
    with tempfile.TemporaryDirectory() as folder:
        for epoch in range(3):
            net.train()
            train_loss = correct = total = 0
            for batch_idx, (inputs, targets) in enumerate(loader(torch, data)):
                optimizer.zero_grad()
                outputs = net(inputs)
                loss = criterion(outputs, targets)
                loss.backward()
                optimizer.step()
                train_loss += loss.item()
                _, predicted = outputs.max(1)
                total += targets.size(0)
                correct += predicted.eq(targets).sum().item()
            losses.append(train_loss / (batch_idx + 1))
            acc = 100. * correct / total
            if acc > best_acc:
                state = {"net": net.state_dict(), "acc": acc, "epoch": epoch}
                torch.save(state, os.path.join(folder, "ckpt.pth"))
                best_acc = acc
            scheduler.step()
    return losses


def test_program():
    check(sys.modules[__name__])
