"""Mirrors pytorch/tutorials, beginner_source/blitz/neural_networks_tutorial.py (commit
7a017bba463ba73cfd9d48aabc7e05827a680906): "Neural Networks". LeNet on a 32x32 input with
``F.max_pool2d(..., (2, 2))``, the parameter list and sizes printed, ``out.backward`` with a
given gradient, an MSELoss against a target ``view(1, -1)``, the loss's ``grad_fn`` chain walked,
the weight update written by hand (``f.data.sub_(f.grad.data * learning_rate)``), then with
``optim.SGD``.
"""

import sys

import numpy as np
import pytest

import convlab
from harness import check


def make_data(rng):
    return {"input": rng.standard_normal((1, 1, 32, 32)).astype("float32"),
            "target": rng.standard_normal(10).astype("float32"),
            "out_grad": rng.standard_normal((1, 10)).astype("float32")}


def build(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, input):
            c1 = F.relu(self.conv1(input))
            s2 = F.max_pool2d(c1, (2, 2))
            c3 = F.relu(self.conv2(s2))
            s4 = F.max_pool2d(c3, 2)
            s4 = torch.flatten(s4, 1)
            f5 = F.relu(self.fc1(s4))
            f6 = F.relu(self.fc2(f5))
            return self.fc3(f6)

    return Net()


def loss_of(torch, net, data):
    params = list(net.parameters())
    assert len(params) == 10 and tuple(params[0].size()) == (6, 1, 5, 5)
    input = torch.from_numpy(data["input"])
    out = net(input)
    net.zero_grad()
    out.backward(torch.from_numpy(data["out_grad"]))
    net.zero_grad()
    output = net(input)
    target = torch.from_numpy(data["target"]).view(1, -1)
    loss = torch.nn.MSELoss()(output, target)
    assert loss.grad_fn.name() == "MseLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "AddmmBackward0"
    return output, loss


def train(torch, net, data):
    input = torch.from_numpy(data["input"])
    target = torch.from_numpy(data["target"]).view(1, -1)
    criterion = torch.nn.MSELoss()
    losses = []
    learning_rate = 0.01
    for _ in range(2):  # the update rule written out
        net.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        for f in net.parameters():
            f.data.sub_(f.grad.data * learning_rate)
        losses.append(loss.item())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_program():
    check(sys.modules[__name__])


def _chain(torch):
    """The tutorial's walk back from the loss: MSELoss, its Linear (addmm), and one step on."""
    net = build(torch)
    data = make_data(np.random.default_rng(0))
    loss = torch.nn.MSELoss()(net(torch.from_numpy(data["input"])),
                              torch.from_numpy(data["target"]).view(1, -1))
    first = loss.grad_fn.next_functions[0][0]

    def name(node):  # PyTorch's C++ nodes print with their namespace: torch::autograd::...
        return node and node.name().split("::")[-1]

    return ([name(n) for n, _ in loss.grad_fn.next_functions],
            [name(n) for n, _ in first.next_functions])


def test_grad_fn_chain_is_torchs():
    torch = pytest.importorskip("torch")
    assert _chain(convlab) == _chain(torch)
