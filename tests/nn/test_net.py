"""The acceptance test: the network of the articles that introduced convolution layers, written
PyTorch's way with ``torch`` spelled ``convlab``, prints as PyTorch prints it, computes the
same numbers, and trains."""

import numpy as np
import pytest

import convlab
import convlab.nn as nn
import convlab.nn.functional as F
from twin import copy_state, to_torch, torch_repr


def make_net(nn, F):
    """The network of PyTorch's "Neural Networks" tutorial, for either library."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            # 1 input image channel, 6 output channels, 3x3 square convolution kernel
            self.conv1 = nn.Conv2d(1, 6, 3)
            self.conv2 = nn.Conv2d(6, 16, 3)
            # an affine operation: y = Wx + b
            self.fc1 = nn.Linear(16 * 6 * 6, 120)  # 6*6 from image dimension
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            # Max pooling over a (2, 2) window
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            # If the size is a square you can only specify a single number
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, self.num_flat_features(x))
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

        def num_flat_features(self, x):
            size = x.size()[1:]  # all dimensions except the batch dimension
            num_features = 1
            for s in size:
                num_features *= s
            return num_features

    return Net()


EXPECTED_REPR = """Net(
  (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))
  (conv2): Conv2d(6, 16, kernel_size=(3, 3), stride=(1, 1))
  (fc1): Linear(in_features=576, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)"""


def test_net_prints_as_pytorch_and_has_its_parameters():
    net = make_net(nn, F)
    assert repr(net) == EXPECTED_REPR
    params = list(net.parameters())
    assert len(params) == 10
    assert repr(params[0].size()) == "convlab.Size([6, 1, 3, 3])"
    assert sum(p.numel() for p in params) == 81194
    out = net(convlab.randn(1, 1, 32, 32))
    assert out.shape == (1, 10)
    net.zero_grad()
    out.backward(convlab.randn(1, 10))
    assert all(p.grad is not None and p.grad.shape == p.shape for p in params)


def test_net_matches_pytorch_step_by_step():
    torch = pytest.importorskip("torch")
    ours, theirs = make_net(nn, F), make_net(torch.nn, torch.nn.functional)
    assert repr(ours) == torch_repr(theirs)
    copy_state(torch, ours, theirs)
    opt = convlab.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    criterion, tcriterion = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        loss = criterion(ours(convlab.tensor(x)), convlab.tensor(y))
        tloss = tcriterion(theirs(to_torch(torch, x)), to_torch(torch, y))
        loss.backward()
        tloss.backward()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-4)
        for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-3, atol=1e-5,
                                       err_msg=name)
        opt.step()
        topt.step()


def test_net_trains():
    """A few Adam steps on ten classes of noisy 32x32 patterns: the loss falls by half."""
    convlab.manual_seed(0)
    net = make_net(nn, F)
    rng = np.random.default_rng(1)
    patterns = rng.standard_normal((10, 1, 32, 32))
    labels = rng.integers(0, 10, 32)
    x = convlab.tensor((patterns[labels] + 0.5 * rng.standard_normal((32, 1, 32, 32)))
                       .astype(np.float32))
    y = convlab.tensor(labels)
    criterion = nn.CrossEntropyLoss()
    optimizer = convlab.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert all(np.isfinite(losses))
