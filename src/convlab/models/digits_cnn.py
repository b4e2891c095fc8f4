"""The small CNN for scikit-learn's 8x8 digits: two 3x3 convolutions, each followed by 2x2
max pooling, then one linear layer.

Shape, for a batch of N images::

    (N, 1, 8, 8) -conv 3x3 pad 1-> (N, 16, 8, 8) -pool 2-> (N, 16, 4, 4)
                 -conv 3x3 pad 1-> (N, 32, 4, 4) -pool 2-> (N, 32, 2, 2)
                 -flatten-> (N, 128) -linear-> (N, 10)
"""

from __future__ import annotations

from .. import nn
from ..nn import functional as F


class DigitsCNN(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.pool = nn.MaxPool2d(2)  # a module, so summaries and receptive fields see it
        self.fc = nn.Linear(2 * width * 2 * 2, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc(x.flatten(1))
