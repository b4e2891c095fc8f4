"""LeNet-5 (LeCun et al., 1998) for 28x28 grey images such as MNIST and Fashion-MNIST.

The original used 32x32 inputs; padding the first convolution by 2 keeps its geometry on 28x28.
Average pooling became max pooling and the squashing functions ReLU, as in modern retellings.

Shape::

    (N, 1, 28, 28) -conv 5x5 pad 2-> (N, 6, 28, 28) -pool 2-> (N, 6, 14, 14)
                   -conv 5x5-> (N, 16, 10, 10) -pool 2-> (N, 16, 5, 5)
                   -flatten-> (N, 400) -> 120 -> 84 -> num_classes
"""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class LeNet5(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)  # a module, so summaries and receptive fields see it
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
