"""The "Training a Classifier" tutorial's CIFAR-10 net, trained with SGD + momentum."""

import numpy as np
import pytest

import convlab
from same_numbers import assert_same, assert_same_grads, assert_same_state, copy_weights

torch = pytest.importorskip("torch")


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)  # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


def train(torch, net, images, labels, steps=4):
    """The tutorial's loop, on fixed batches; returns the loss of every step."""
    dtype = next(net.parameters()).dtype
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001 * 10, momentum=0.9)
    losses = []
    for step in range(steps):
        inputs = torch.from_numpy(images[step]).to(dtype)
        targets = torch.from_numpy(labels[step])
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_tutorial_net_trains_to_the_same_weights():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, 8, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, (4, 8))
    torch.manual_seed(0)
    theirs, ours = build(torch), build(convlab)
    copy_weights(theirs, ours)
    assert repr(ours) == repr(theirs)

    assert_same(train(convlab, ours, images, labels), train(torch, theirs, images, labels),
                "loss per step")
    assert_same_grads(ours, theirs)
    assert_same_state(ours, theirs)
    assert_same(ours(convlab.from_numpy(images[0])), theirs(torch.from_numpy(images[0])),
                "outputs after training")


def test_tutorial_net_in_float64_agrees_to_rounding():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, 8, 3, 32, 32))
    labels = rng.integers(0, 10, (4, 8))
    torch.manual_seed(1)
    theirs, ours = build(torch).to(torch.float64), build(convlab)
    copy_weights(theirs, ours)
    ours.to(convlab.float64)
    assert_same(train(convlab, ours, images, labels), train(torch, theirs, images, labels),
                "loss per step", rtol=1e-12, atol=1e-12)
    assert_same_state(ours, theirs, rtol=1e-10, atol=1e-12)
